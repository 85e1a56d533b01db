/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VMs that outlive their VMM or their daemon, through D-Bus and the CLI:
 * vm kill, and `banger daemon stop` with a VM running, then adopted by the
 * next bangerd.
 *
 * VMs run on the fake VMM (hypervisor = "fake", see docs/testing.md): no
 * root, KVM or QEMU. Waits poll a condition against a deadline. */
#include "config.h"

#include "dbus-objects-fixture.h"

/* ---- 7. vm kill, daemon stop and adoption (CLI and D-Bus) -------------- */

/* A process that still runs: there, and not a zombie. */
static gboolean
process_runs (gint64 pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/stat", pid);
  g_autofree char *stat = NULL;
  const char *paren;

  if (pid <= 0 || !g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  paren = strrchr (stat, ')');
  return paren != NULL && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

static BgrVm *
create_running (BgrClient *c, const char *name)
{
  g_autoptr (BgrVmSpec) spec = bgr_vm_spec_new (name);
  g_autoptr (GError) err = NULL;
  BgrVm *vm;

  bgr_vm_spec_set_image (spec, "img");
  vm = bgr_client_vm_create (c, spec, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
  g_assert_true (process_runs (bgr_vm_get_pid (vm)));
  return vm;
}

/* `banger ARGS...` against this fixture's bangerd. */
#define CLI(f, r, ...)                                                                     \
  G_STMT_START {                                                                           \
    g_autofree char *bus_env_ = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", (f)->address); \
    run ((r), (const char *const[]){ bus_env_, NULL },                                     \
         (const char *const[]){ banger_cli, __VA_ARGS__, NULL });                          \
  } G_STMT_END

/* vm kill through D-Bus (BgrClient) and through the CLI: the VMM process
 * is gone, the VM shows stopped with reason "killed"; killing a stopped or
 * unknown VM is a clear error. */
static void
test_vm_kill (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrClient) c = NULL;
  g_autoptr (GError) err = NULL;
  gint64 pid;
  BgrRun r;

  start_daemon (f);
  c = new_client (f);
  add_kernel_and_image (f, c);

  /* D-Bus. */
  {
    g_autoptr (BgrVm) vm = create_running (c, "kv");
    g_autoptr (BgrVm) killed = NULL;
    g_autoptr (BgrVm) shown = NULL;

    pid = bgr_vm_get_pid (vm);
    killed = bgr_client_vm_kill (c, "kv", NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpint (bgr_vm_get_state (killed), ==, BGR_VM_STATE_STOPPED);
    g_assert_cmpstr (bgr_vm_get_reason (killed), ==, "killed");
    g_assert_cmpint (bgr_vm_get_pid (killed), ==, 0);
    g_assert_false (process_runs (pid));
    shown = bgr_client_vm_get (c, "kv", NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpint (bgr_vm_get_state (shown), ==, BGR_VM_STATE_STOPPED);
    g_assert_null (bgr_client_vm_kill (c, "kv", NULL, &err));
    g_assert_error (err, BGR_ERROR, BGR_ERROR_NOTHING_TO_DO);
    g_clear_error (&err);
    g_assert_null (bgr_client_vm_kill (c, "ghost", NULL, &err));
    g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
    g_clear_error (&err);
  }

  /* The CLI, on the same VM started again. */
  {
    g_autoptr (BgrVm) vm = bgr_client_vm_start (c, "kv", NULL, NULL, &err);
    g_autoptr (BgrVm) shown = NULL;

    g_assert_no_error (err);
    pid = bgr_vm_get_pid (vm);
    g_assert_true (process_runs (pid));
    CLI (f, &r, "vm", "kill", "kv");
    g_assert_cmpint (r.status, ==, 0);
    bgr_assert_contains (r.out, "VM 'kv' killed");
    bgr_run_clear (&r);
    g_assert_false (process_runs (pid));
    shown = bgr_client_vm_get (c, "kv", NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpint (bgr_vm_get_state (shown), ==, BGR_VM_STATE_STOPPED);
    g_assert_cmpstr (bgr_vm_get_reason (shown), ==, "killed");
    CLI (f, &r, "vm", "kill", "kv");
    g_assert_cmpint (r.status, ==, 16); /* NothingToDo */
    bgr_assert_contains (r.err, "not running");
    bgr_run_clear (&r);
    CLI (f, &r, "vm", "kill", "ghost");
    g_assert_cmpint (r.status, ==, 3); /* NotFound */
    bgr_assert_contains (r.err, "ghost");
    bgr_run_clear (&r);
  }
  g_assert_true (bgr_client_vm_delete (c, "kv", BGR_VM_DELETE_FLAGS_NONE, NULL, &err));
  g_assert_no_error (err);
}

/* `banger daemon stop` with a VM running: bangerd exits 0 and leaves the VM
 * running; the next bangerd adopts it (same pid, running) and can stop it. */
static void
test_daemon_stop_then_adopt (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrClient) c = NULL;
  g_autoptr (GError) err = NULL;
  gint64 pid;
  BgrRun r;

  start_daemon (f);
  c = new_client (f);
  add_kernel_and_image (f, c);
  {
    g_autoptr (BgrVm) vm = create_running (c, "kept");
    pid = bgr_vm_get_pid (vm);
  }
  g_clear_object (&c);

  CLI (f, &r, "daemon", "stop");
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  WAIT_UNTIL (exited (f->daemon), WAIT_MS);
  g_assert_true (g_subprocess_get_if_exited (f->daemon));
  g_assert_cmpint (g_subprocess_get_exit_status (f->daemon), ==, 0);
  g_clear_object (&f->daemon);
  g_assert_true (process_runs (pid));

  start_daemon (f);
  c = new_client (f);
  {
    g_autoptr (BgrVm) vm = bgr_client_vm_get (c, "kept", NULL, &err);
    g_autoptr (BgrVm) stopped = NULL;

    g_assert_no_error (err);
    g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
    g_assert_cmpint (bgr_vm_get_pid (vm), ==, pid);
    CLI (f, &r, "vm", "show", "kept", "--json");
    g_assert_cmpint (r.status, ==, 0);
    bgr_assert_contains (r.out, "\"running\"");
    bgr_run_clear (&r);
    /* Adopted, not just listed: this bangerd controls it. */
    stopped = bgr_client_vm_stop (c, "kept", NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpint (bgr_vm_get_state (stopped), ==, BGR_VM_STATE_STOPPED);
    g_assert_false (process_runs (pid));
  }
  g_assert_true (bgr_client_vm_delete (c, "kept", BGR_VM_DELETE_FLAGS_NONE, NULL, &err));
  g_assert_no_error (err);
}

int
main (int argc, char **argv)
{
  dbus_objects_init (&argc, &argv);
  g_test_add ("/dbus-objects/vm-kill", Fixture, NULL, fixture_setup, test_vm_kill,
              fixture_teardown);
  g_test_add ("/dbus-objects/daemon-stop-then-adopt", Fixture, NULL, fixture_setup,
              test_daemon_stop_then_adopt, fixture_teardown);
  return g_test_run ();
}
