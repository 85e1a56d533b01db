/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Claims on VMs through the engine, on the fake VMM driver: everything else
 * refused as BUSY while a create or start holds a VM, kill while a stop
 * waits on a frozen guest, threads throwing create/start/stop/kill/delete
 * at one VM, and different VMs created at once not holding each other up.
 *
 * VMs run on the fake VMM (hypervisor = "fake", see lifecycle-fixture.h
 * and docs/testing.md): every "VM" is the real guest agent running on the
 * host in its host mode, without root, KVM or QEMU, in seconds, and under
 * ASan. Nothing here sleeps and hopes: waits poll a condition against a
 * deadline. Each test has its own state directory and kills whatever
 * process it left behind. */
#include "config.h"

#include <signal.h>

#include "lifecycle-fixture.h"

/* ---- claims ------------------------------------------------------------------- */

typedef struct {
  Fixture *f;
  const char *name;
  guint calls;
} BusyProbe;

/* Runs while a create or start holds the VM: everything else is refused
 * as BUSY. (Not at step 1: create reports it before the VM's record
 * exists, when kill says there is no such VM.) */
static void
probe_busy (BgrOperation *op, gpointer data)
{
  BusyProbe *p = data;
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrVm) vm = NULL;

  if (bgr_operation_get_done (op) < 2)
    return;
  p->calls++;
  g_assert_true (bgr_engine_vm_is_busy (p->f->engine, p->name));
  vm = bgr_engine_start_vm (p->f->engine, p->name, NULL, NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_clear_error (&err);
  vm = bgr_engine_stop_vm (p->f->engine, p->name, NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_clear_error (&err);
  vm = bgr_engine_kill_vm (p->f->engine, p->name, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_clear_error (&err);
  g_assert_false (bgr_engine_delete_vm (p->f->engine, p->name, TRUE, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_clear_error (&err);
  vm = spec_create (p->f->engine, p->name, NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_EXISTS);
}

static void
test_busy (Fixture *f, gconstpointer data)
{
  BusyProbe probe = { f, "busy", 0 };
  g_autoptr (BgrVm) vm = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrOperation) op = bgr_operation_new ();

  (void) data;
  g_signal_connect (op, "changed", G_CALLBACK (probe_busy), &probe);
  vm = spec_create (f->engine, "busy", op, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (probe.calls, >=, 3);
  g_assert_false (bgr_engine_vm_is_busy (f->engine, "busy"));
  g_clear_object (&vm);
  vm = bgr_engine_stop_vm (f->engine, "busy", NULL, &err);
  g_assert_no_error (err);
  g_clear_object (&vm);

  probe.calls = 0;
  vm = bgr_engine_start_vm (f->engine, "busy", op, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (probe.calls, >=, 1);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
  assert_exec_works (f->engine, "busy");
}

typedef struct {
  BgrEngine *engine;
  const char *name;
  BgrVm *result;
  GError *error;
} StopCall;

static gpointer
stop_thread (gpointer data)
{
  StopCall *c = data;
  c->result = bgr_engine_stop_vm (c->engine, c->name, NULL, &c->error);
  return NULL;
}

/* A guest that does not power off (its agent frozen with SIGSTOP) keeps a
 * stop waiting: kill is what a user does then, and it wins. */
static void
test_kill_during_stop (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrVm) vm = create_vm (f, "frozen");
  g_autoptr (BgrVm) killed = NULL;
  g_autoptr (GError) err = NULL;
  StopCall call = { f->engine, "frozen", NULL, NULL };
  gint pid = (gint) bgr_vm_get_pid (vm);
  guint64 start_time = bgr_vmm_process_start_time (pid);
  GThread *t;

  (void) data;
  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  t = g_thread_new ("stop", stop_thread, &call);
  WAIT_UNTIL (vm_state_is (f, "frozen", "stopping"), WAIT_MS);
  g_assert_true (bgr_engine_vm_is_busy (f->engine, "frozen"));
  killed = bgr_engine_kill_vm (f->engine, "frozen", &err);
  g_assert_no_error (err);
  g_thread_join (t);
  g_assert_no_error (call.error);
  g_assert_nonnull (call.result);
  g_assert_cmpint (bgr_vm_get_state (call.result), ==, BGR_VM_STATE_STOPPED);
  g_assert_cmpstr (bgr_vm_get_reason (call.result), ==, "killed (while a stop was waiting)");
  g_assert_cmpint (bgr_vm_get_state (killed), ==, BGR_VM_STATE_STOPPED);
  g_assert_false (pid_alive (pid, start_time));
  g_assert_cmpuint (n_agents (f), ==, 0);
  g_object_unref (call.result);
}

/* Several threads throw start, stop, kill, delete and create at one VM.
 * Each call either works or fails with one of the errors a user can get
 * for it; none crashes, and at the end the record and the processes
 * agree. */
typedef struct {
  Fixture *f;
  guint32 seed;
  gint ok, busy, other;
} Hammer;

static gpointer
hammer_thread (gpointer data)
{
  Hammer *h = data;
  g_autoptr (GRand) rand = g_rand_new_with_seed (h->seed);

  for (guint i = 0; i < 16; i++)
    {
      g_autoptr (GError) err = NULL;
      g_autoptr (BgrVm) vm = NULL;
      gboolean ok = TRUE;

      switch (g_rand_int_range (rand, 0, 6))
        {
        case 0:
          vm = spec_create (h->f->engine, "hammer", NULL, &err);
          ok = vm != NULL;
          if (ok)
            g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
          break;
        case 1:
        case 2:
          vm = bgr_engine_start_vm (h->f->engine, "hammer", NULL, NULL, &err);
          ok = vm != NULL;
          if (ok)
            g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
          break;
        case 3:
          vm = bgr_engine_stop_vm (h->f->engine, "hammer", NULL, &err);
          ok = vm != NULL;
          if (ok)
            g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_STOPPED);
          break;
        case 4:
          /* Its result is whatever state the VM is in by then: a kill that
           * met a stop waits for it, and another start may follow. */
          vm = bgr_engine_kill_vm (h->f->engine, "hammer", &err);
          ok = vm != NULL;
          break;
        default:
          ok = bgr_engine_delete_vm (h->f->engine, "hammer", g_rand_boolean (rand), &err);
          break;
        }
      if (ok)
        {
          g_assert_no_error (err);
          g_atomic_int_inc (&h->ok);
          continue;
        }
      g_assert_nonnull (err);
      if (!g_error_matches (err, BGR_ERROR, BGR_ERROR_BUSY)
          && !g_error_matches (err, BGR_ERROR, BGR_ERROR_NOTHING_TO_DO)
          && !g_error_matches (err, BGR_ERROR, BGR_ERROR_NOT_FOUND)
          && !g_error_matches (err, BGR_ERROR, BGR_ERROR_EXISTS))
        g_error ("unexpected error %s %d: %s", g_quark_to_string (err->domain), err->code,
                 err->message);
      if (g_error_matches (err, BGR_ERROR, BGR_ERROR_BUSY))
        g_atomic_int_inc (&h->busy);
      else
        g_atomic_int_inc (&h->other);
    }
  return NULL;
}

static void
test_concurrent (Fixture *f, gconstpointer data)
{
  enum { N = 4 };
  Hammer h[N];
  GThread *threads[N];
  gint ok = 0, busy = 0, other = 0;
  g_autoptr (BgrVm) vm = create_vm (f, "hammer");
  g_autoptr (GError) err = NULL;

  (void) data;
  for (guint i = 0; i < N; i++)
    {
      h[i] = (Hammer){ .f = f, .seed = g_test_rand_int () };
      threads[i] = g_thread_new ("hammer", hammer_thread, &h[i]);
    }
  for (guint i = 0; i < N; i++)
    {
      g_thread_join (threads[i]);
      ok += h[i].ok;
      busy += h[i].busy;
      other += h[i].other;
    }
  g_test_message ("%d calls worked, %d were refused as busy, %d had nothing to do", ok, busy, other);
  g_assert_cmpint (ok, >, 0);

  /* Consistent: no operation left a transient state; a running VM has
   * exactly its one agent, which answers; anything else has none. */
  g_clear_object (&vm);
  vm = bgr_engine_get_vm (f->engine, "hammer", &err);
  if (vm == NULL)
    {
      g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
      g_clear_error (&err);
      g_assert_cmpuint (n_agents (f), ==, 0);
      vm = create_vm (f, "hammer");
    }
  g_assert_false (bgr_engine_vm_is_busy (f->engine, "hammer"));
  if (bgr_vm_get_state (vm) == BGR_VM_STATE_RUNNING)
    {
      g_autoptr (GArray) pids = bgr_test_processes_mentioning (f->state);
      g_assert_cmpuint (pids->len, ==, 1);
      g_assert_cmpint (g_array_index (pids, gint, 0), ==, bgr_vm_get_pid (vm));
      assert_exec_works (f->engine, "hammer");
    }
  else
    {
      g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_STOPPED);
      g_assert_cmpuint (n_agents (f), ==, 0);
    }
  g_assert_true (bgr_engine_delete_vm (f->engine, "hammer", TRUE, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (n_agents (f), ==, 0);
}

typedef struct {
  Fixture *f;
  char name[16];
} Parallel;

static gpointer
create_and_exec_thread (gpointer data)
{
  Parallel *p = data;
  g_autoptr (BgrVm) vm = create_vm (p->f, p->name);

  g_assert_nonnull (vm);
  assert_exec_works (p->f->engine, p->name);
  return NULL;
}

/* Different VMs do not hold each other up: four created at once (their
 * agents written and started side by side) all run and answer. */
static void
test_parallel (Fixture *f, gconstpointer data)
{
  enum { N = 4 };
  Parallel p[N];
  GThread *threads[N];
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (GError) err = NULL;

  (void) data;
  for (guint i = 0; i < N; i++)
    {
      p[i].f = f;
      g_snprintf (p[i].name, sizeof p[i].name, "par-%u", i);
      threads[i] = g_thread_new ("create", create_and_exec_thread, &p[i]);
    }
  for (guint i = 0; i < N; i++)
    g_thread_join (threads[i]);
  g_assert_cmpuint (n_agents (f), ==, N);
  all = bgr_engine_list_vms (f->engine, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (all->len, ==, N);
  for (guint i = 0; i < N; i++)
    {
      g_assert_cmpint (bgr_vm_get_state (all->pdata[i]), ==, BGR_VM_STATE_RUNNING);
      g_assert_true (bgr_engine_delete_vm (f->engine, bgr_vm_get_name (all->pdata[i]), TRUE, &err));
      g_assert_no_error (err);
    }
  g_assert_cmpuint (n_agents (f), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/lifecycle/busy", test_busy);
  ADD ("/lifecycle/kill-during-stop", test_kill_during_stop);
  ADD ("/lifecycle/concurrent", test_concurrent);
  ADD ("/lifecycle/parallel", test_parallel);
#undef ADD
  return g_test_run ();
}
