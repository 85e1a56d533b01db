/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the next engine finds, on the fake VMM driver: a running VM adopted
 * after the engine went away, a VMM killed behind the engine's back, a
 * guest that powered itself off, a dead VMM or an interrupted create
 * reconciled at start, and a boot or a stop that was in flight when the
 * engine was killed, finished by the next one.
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

/* ---- adoption and reconciliation ---------------------------------------------- */

/* The engine goes away (a daemon restart); the VM does not, and the next
 * engine adopts it. */
static void
test_adopt (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrVm) vm = create_vm (f, "keep");
  g_autoptr (BgrVm) again = NULL;
  g_autoptr (GError) err = NULL;
  gint pid = (gint) bgr_vm_get_pid (vm);
  guint64 start_time = bgr_vmm_process_start_time (pid);

  (void) data;
  assert_exec_works (f->engine, "keep");
  g_clear_pointer (&f->engine, bgr_engine_free);
  g_assert_true (pid_alive (pid, start_time));

  f->engine = new_engine (f);
  again = get_vm (f, "keep");
  g_assert_cmpint (bgr_vm_get_state (again), ==, BGR_VM_STATE_RUNNING);
  g_assert_cmpint (bgr_vm_get_pid (again), ==, pid);
  assert_exec_works (f->engine, "keep");

  /* And the new engine controls it fully. */
  g_clear_object (&again);
  again = bgr_engine_stop_vm (f->engine, "keep", NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpint (bgr_vm_get_state (again), ==, BGR_VM_STATE_STOPPED);
  g_assert_false (pid_alive (pid, start_time));
}

/* The VMM dies behind the engine's back: the VM is reported stopped, with
 * why, and can be started again. */
static void
test_vmm_dies (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrVm) vm = create_vm (f, "victim");
  g_autoptr (GError) err = NULL;
  gint pid = (gint) bgr_vm_get_pid (vm);
  guint64 start_time = bgr_vmm_process_start_time (pid);

  (void) data;
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  WAIT_UNTIL (!pid_alive (pid, start_time), WAIT_MS);
  g_clear_object (&vm);
  vm = get_vm (f, "victim");
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_STOPPED);
  g_assert_cmpstr (bgr_vm_get_reason (vm), ==, "the VMM process exited unexpectedly");
  g_assert_cmpint (bgr_vm_get_pid (vm), ==, 0);
  {
    static const char *const argv[] = { "true", NULL };
    g_autoptr (GError) e = NULL;
    g_assert_cmpint (exec_in (f->engine, "victim", argv, NULL, NULL, &e), ==, -1);
    g_assert_error (e, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  }

  g_clear_object (&vm);
  vm = bgr_engine_start_vm (f->engine, "victim", NULL, NULL, &err);
  g_assert_no_error (err);
  assert_exec_works (f->engine, "victim");
}

/* The guest powers itself off (here: a command signals its agent, the
 * host-mode power button): the console says so, and so does the record. */
static void
test_guest_poweroff (Fixture *f, gconstpointer data)
{
  static const char *const argv[] = { "sh", "-c", "kill -TERM $PPID; sleep 10", NULL };
  g_autoptr (BgrVm) vm = create_vm (f, "self");
  gint pid = (gint) bgr_vm_get_pid (vm);
  guint64 start_time = bgr_vmm_process_start_time (pid);
  g_autoptr (GError) err = NULL;

  (void) data;
  /* The connection goes down with the guest: the exec fails. */
  g_assert_cmpint (exec_in (f->engine, "self", argv, NULL, NULL, &err), ==, -1);
  g_assert_nonnull (err);
  WAIT_UNTIL (!pid_alive (pid, start_time), WAIT_MS);
  g_clear_object (&vm);
  vm = get_vm (f, "self");
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_STOPPED);
  g_assert_cmpstr (bgr_vm_get_reason (vm), ==, "the guest powered off");
  g_assert_cmpuint (n_agents (f), ==, 0);
}

/* The VMM died while no engine ran: the next engine's adoption pass
 * rewrites the record at once, before anybody asks. */
static void
test_reconcile_at_start (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrVm) vm = create_vm (f, "gone");
  g_autoptr (BgrVm) again = NULL;
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (GError) err = NULL;
  gint pid = (gint) bgr_vm_get_pid (vm);
  guint64 start_time = bgr_vmm_process_start_time (pid);

  (void) data;
  g_clear_pointer (&f->engine, bgr_engine_free);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  WAIT_UNTIL (!pid_alive (pid, start_time), WAIT_MS);

  f->engine = new_engine (f);
  doc = bgr_store_load (bgr_engine_get_store (f->engine), "vm", "gone", &err);
  g_assert_no_error (err);
  g_assert_cmpstr (json_object_get_string_member (doc, "state"), ==, "stopped");
  g_assert_cmpstr (json_object_get_string_member (doc, "reason"), ==,
                   "the VMM process exited unexpectedly");
  g_assert_false (json_object_has_member (doc, "vmm"));

  again = bgr_engine_start_vm (f->engine, "gone", NULL, NULL, &err);
  g_assert_no_error (err);
  assert_exec_works (f->engine, "gone");
}

/* A record left "starting" by an engine that died before its VMM started
 * is an error with a reason, not a VM forever starting. */
static void
test_reconcile_interrupted_create (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrVm) vm = create_vm (f, "half");
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (GError) err = NULL;

  (void) data;
  g_clear_object (&vm);
  vm = bgr_engine_kill_vm (f->engine, "half", &err);
  g_assert_no_error (err);
  g_clear_pointer (&f->engine, bgr_engine_free);

  /* What a create cut short between its record and its VMM leaves. */
  {
    g_autoptr (BgrStore) s = bgr_store_open (f->state, &err);
    g_assert_no_error (err);
    doc = bgr_store_load (s, "vm", "half", &err);
    g_assert_no_error (err);
    json_object_set_string_member (doc, "state", "starting");
    json_object_remove_member (doc, "vmm");
    json_object_remove_member (doc, "disk_size");
    g_assert_true (bgr_store_save (s, "vm", "half", doc, &err));
    g_assert_no_error (err);
    g_clear_pointer (&doc, json_object_unref);
  }

  f->engine = new_engine (f);
  doc = bgr_store_load (bgr_engine_get_store (f->engine), "vm", "half", &err);
  g_assert_no_error (err);
  g_assert_cmpstr (json_object_get_string_member (doc, "state"), ==, "error");
  bgr_assert_contains (json_object_get_string_member (doc, "reason"), "interrupted");
  /* The record knows no disk size; vm show still tells what its files
   * take (the cloned rootfs at least). */
  g_clear_object (&vm);
  vm = get_vm (f, "half");
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_ERROR);
  g_assert_cmpint (bgr_vm_get_disk_size (vm), ==, 0);
  g_assert_cmpint (bgr_vm_get_disk_used (vm), >, 0);
  {
    g_autofree char *json = bgr_vm_to_json (vm);
    bgr_assert_contains (json, "\"disk_used\"");
  }
  g_clear_object (&vm);
  vm = bgr_engine_start_vm (f->engine, "half", NULL, NULL, &err);
  g_assert_no_error (err);
  assert_exec_works (f->engine, "half");
}

/* ---- adoption of what was in flight -------------------------------------------- */

/* With no engine running: sets the record of VM @name to @state, as an
 * engine killed (-9) in the middle of a boot or a stop leaves it. A boot
 * cut short has no guest facts yet. */
static void
set_record_state (Fixture *f, const char *name, const char *state)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrStore) s = bgr_store_open (f->state, &err);
  g_autoptr (JsonObject) doc = NULL;

  g_assert_no_error (err);
  g_assert_nonnull (s);
  doc = bgr_store_load (s, "vm", name, &err);
  g_assert_no_error (err);
  json_object_set_string_member (doc, "state", state);
  if (g_str_equal (state, "starting"))
    {
      json_object_remove_member (doc, "guest_kernel");
      json_object_remove_member (doc, "guest_uname");
    }
  g_assert_true (bgr_store_save (s, "vm", name, doc, &err));
  g_assert_no_error (err);
}

static gboolean
vm_settled_in (Fixture *f, const char *name, const char *state)
{
  return !bgr_engine_vm_is_busy (f->engine, name) && vm_state_is (f, name, state);
}

/* What a user gets while an adopted boot or stop is under way: BUSY, from
 * every call that changes the VM and from exec, not a wrong answer. */
static void
assert_all_busy (Fixture *f, const char *name)
{
  static const char *const argv[] = { "true", NULL };
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrVm) vm = NULL;

  g_assert_true (bgr_engine_vm_is_busy (f->engine, name));
  vm = bgr_engine_start_vm (f->engine, name, NULL, NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_clear_error (&err);
  vm = bgr_engine_stop_vm (f->engine, name, NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_clear_error (&err);
  g_assert_false (bgr_engine_delete_vm (f->engine, name, FALSE, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_clear_error (&err);
  g_assert_cmpint (exec_in (f->engine, name, argv, NULL, NULL, &err), ==, -1);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_assert_null (vm);
}

/* After the VM settled running: start, delete and stop answer as they do
 * for any running VM. */
static void
assert_behaves_running (Fixture *f, const char *name)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrVm) vm = NULL;

  assert_exec_works (f->engine, name);
  vm = bgr_engine_start_vm (f->engine, name, NULL, NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOTHING_TO_DO);
  g_clear_error (&err);
  g_assert_false (bgr_engine_delete_vm (f->engine, name, FALSE, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  bgr_assert_contains (err->message, "is running");
  g_clear_error (&err);
  vm = bgr_engine_stop_vm (f->engine, name, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_STOPPED);
  g_assert_true (bgr_engine_delete_vm (f->engine, name, FALSE, &err));
  g_assert_no_error (err);
}

/* bangerd killed (-9) while a create waited for the agent: the VMM and
 * its agent live on. The next engine starts at once, holds the VM busy
 * while it waits for the agent again (here frozen with SIGSTOP, so the
 * wait is seen), and ends it running with the guest's facts. */
static void
test_adopt_starting (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrVm) vm = create_vm (f, "late");
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (GError) err = NULL;
  gint pid = (gint) bgr_vm_get_pid (vm);
  guint64 start_time = bgr_vmm_process_start_time (pid);

  (void) data;
  g_clear_pointer (&f->engine, bgr_engine_free);
  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  set_record_state (f, "late", "starting");

  f->engine = new_engine (f); /* returns without waiting for the agent */
  g_assert_true (vm_state_is (f, "late", "starting"));
  assert_all_busy (f, "late");

  g_assert_cmpint (kill (pid, SIGCONT), ==, 0);
  WAIT_UNTIL (vm_settled_in (f, "late", "running"), WAIT_MS);
  g_clear_object (&vm);
  vm = get_vm (f, "late");
  g_assert_cmpint (bgr_vm_get_pid (vm), ==, pid);
  g_assert_true (pid_alive (pid, start_time));
  doc = bgr_store_load (bgr_engine_get_store (f->engine), "vm", "late", &err);
  g_assert_no_error (err);
  g_assert_true (json_object_has_member (doc, "guest_uname"));
  assert_behaves_running (f, "late");
}

/* The same, but the VMM dies while the new engine waits for its agent:
 * the VM ends in error with the reason, and starts again. */
static void
test_adopt_starting_vmm_dies (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrVm) vm = create_vm (f, "doomed");
  g_autoptr (GError) err = NULL;
  gint pid = (gint) bgr_vm_get_pid (vm);

  (void) data;
  g_clear_pointer (&f->engine, bgr_engine_free);
  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  set_record_state (f, "doomed", "starting");

  f->engine = new_engine (f);
  g_assert_true (bgr_engine_vm_is_busy (f->engine, "doomed"));
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  WAIT_UNTIL (vm_settled_in (f, "doomed", "error"), WAIT_MS);
  g_clear_object (&vm);
  vm = get_vm (f, "doomed");
  bgr_assert_contains (bgr_vm_get_reason (vm), "the VMM exited during boot");
  g_assert_cmpint (bgr_vm_get_pid (vm), ==, 0);

  g_clear_object (&vm);
  vm = bgr_engine_start_vm (f->engine, "doomed", NULL, NULL, &err);
  g_assert_no_error (err);
  assert_exec_works (f->engine, "doomed");
}

/* An engine that goes away while it waits for an adopted boot leaves the
 * VM as it found it (starting, its VMM alive), and the next one finishes. */
static void
test_adopt_starting_twice (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrVm) vm = create_vm (f, "twice");
  gint pid = (gint) bgr_vm_get_pid (vm);
  guint64 start_time = bgr_vmm_process_start_time (pid);

  (void) data;
  g_clear_pointer (&f->engine, bgr_engine_free);
  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  set_record_state (f, "twice", "starting");

  f->engine = new_engine (f);
  g_assert_true (bgr_engine_vm_is_busy (f->engine, "twice"));
  g_clear_pointer (&f->engine, bgr_engine_free); /* does not wait for the agent */
  g_assert_true (pid_alive (pid, start_time));
  {
    g_autoptr (GError) err = NULL;
    g_autoptr (BgrStore) s = bgr_store_open (f->state, &err);
    g_autoptr (JsonObject) doc = NULL;
    g_assert_no_error (err);
    g_assert_nonnull (s);
    doc = bgr_store_load (s, "vm", "twice", &err);
    g_assert_no_error (err);
    g_assert_cmpstr (json_object_get_string_member (doc, "state"), ==, "starting");
  }

  g_assert_cmpint (kill (pid, SIGCONT), ==, 0);
  f->engine = new_engine (f);
  WAIT_UNTIL (vm_settled_in (f, "twice", "running"), WAIT_MS);
  assert_behaves_running (f, "twice");
}

/* bangerd killed (-9) while a stop waited for the guest: the next engine
 * finishes the stop (busy meanwhile), and the VM starts again. */
static void
test_adopt_stopping (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrVm) vm = create_vm (f, "halting");
  g_autoptr (GError) err = NULL;
  gint pid = (gint) bgr_vm_get_pid (vm);
  guint64 start_time = bgr_vmm_process_start_time (pid);

  (void) data;
  g_clear_pointer (&f->engine, bgr_engine_free);
  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  set_record_state (f, "halting", "stopping");

  f->engine = new_engine (f);
  g_assert_true (vm_state_is (f, "halting", "stopping"));
  assert_all_busy (f, "halting");

  g_assert_cmpint (kill (pid, SIGCONT), ==, 0);
  WAIT_UNTIL (vm_settled_in (f, "halting", "stopped"), WAIT_MS);
  g_assert_false (pid_alive (pid, start_time));
  g_clear_object (&vm);
  vm = get_vm (f, "halting");
  g_assert_true (g_str_has_prefix (bgr_vm_get_reason (vm), "stopped"));

  g_clear_object (&vm);
  vm = bgr_engine_start_vm (f->engine, "halting", NULL, NULL, &err);
  g_assert_no_error (err);
  assert_exec_works (f->engine, "halting");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/lifecycle/adopt", test_adopt);
  ADD ("/lifecycle/vmm-dies", test_vmm_dies);
  ADD ("/lifecycle/guest-poweroff", test_guest_poweroff);
  ADD ("/lifecycle/reconcile-at-start", test_reconcile_at_start);
  ADD ("/lifecycle/reconcile-interrupted-create", test_reconcile_interrupted_create);
  ADD ("/lifecycle/adopt-starting", test_adopt_starting);
  ADD ("/lifecycle/adopt-starting-vmm-dies", test_adopt_starting_vmm_dies);
  ADD ("/lifecycle/adopt-starting-twice", test_adopt_starting_twice);
  ADD ("/lifecycle/adopt-stopping", test_adopt_stopping);
#undef ADD
  return g_test_run ();
}
