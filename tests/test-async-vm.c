/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrClient's `_async/_finish` pairs for VMs and doctor, called from a
 * GMainLoop, through a local client and through bangerd on a private bus
 * (async-fixture.c; kernels and images: test-async.c):
 *
 * - VM create/exec/stop/start/delete and doctor give what the blocking
 *   calls give;
 * - a create's progress never goes back and ends at done == total;
 * - a create cancelled through its BgrOperation (from an idle right after
 *   the call starts, or once the boot waits for the agent) fails with
 *   BGR_ERROR_CANCELLED and leaves no VM.
 *
 * A cancelled create must not finish first: the fake VM's agent reads
 * $BANGER_AGENT_OS_RELEASE when it greets the engine, and during that
 * test the file is a FIFO nobody writes, so the boot waits for the agent
 * until the cancel arrives. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "async-fixture.h"

/* Cancels once the boot waits for the agent's greeting (the fake VMM
 * reports no "waiting for the guest agent" before the agent answers). */
static void
cancel_at_agent (BgrOperation *op, gpointer data)
{
  g_autofree char *phase = bgr_operation_dup_phase (op);

  if (g_strcmp0 (phase, "booting") == 0 && !bgr_operation_is_cancelled (op))
    {
      *(gboolean *) data = TRUE;
      bgr_operation_cancel (op);
    }
}

static void
test_vm_lifecycle (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrOperation) op = bgr_operation_new ();
  g_autoptr (BgrOperation) start_op = bgr_operation_new ();
  g_autoptr (BgrVmSpec) spec = vm_spec ("a");
  g_autoptr (BgrVm) vm = NULL;
  g_autoptr (GAsyncResult) res = NULL;
  g_autofree char *out = NULL, *sync_out = NULL, *before = NULL, *after = NULL;
  gint status = -1, sync_status = -1;
  gint64 pid;
  Progress p;
  gulong id;

  add_kernel_and_image (f);
  before = state_tree (f);

  id = progress_watch (op, &p, TRUE);
  bgr_client_vm_create_async (f->client, spec, op, NULL, on_done, f);
  res = wait_result (f);
  vm = bgr_client_vm_create_finish (f->client, res, &err);
  g_assert_no_error (err);
  g_clear_object (&res);
  progress_unwatch (op, &p, id);
  g_assert_cmpuint (p.n, >, 0);
  g_assert_cmpuint (p.total, >, 0);
  g_assert_cmpuint (p.done, ==, p.total);
  g_assert_cmpstr (bgr_vm_get_name (vm), ==, "a");
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
  g_assert_cmpstr (bgr_vm_get_guest_os (vm), ==, OS_NAME);
  g_assert_cmpint (bgr_vm_get_pid (vm), >, 0);
  assert_same_vm (f, vm);

  out = exec_sh (f, "a", "echo hello; echo oops >&2; exit 3", TRUE, &status);
  sync_out = exec_sh (f, "a", "echo hello; echo oops >&2; exit 3", FALSE, &sync_status);
  g_assert_cmpstr (out, ==, "hello\n");
  g_assert_cmpint (status, ==, 3);
  g_assert_cmpstr (sync_out, ==, out);
  g_assert_cmpint (sync_status, ==, status);
  g_clear_pointer (&out, g_free);
  out = exec_sh (f, "a", "printf '%s' \"$((6 * 7))\"", TRUE, &status);
  g_assert_cmpstr (out, ==, "42");
  g_assert_cmpint (status, ==, 0);

  pid = bgr_vm_get_pid (vm);
  g_clear_object (&vm);
  bgr_client_vm_stop_async (f->client, "a", NULL, on_done, f);
  res = wait_result (f);
  vm = bgr_client_vm_stop_finish (f->client, res, &err);
  g_assert_no_error (err);
  g_clear_object (&res);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_STOPPED);
  g_assert_cmpuint (n_vm_processes (f), ==, 0);
  assert_same_vm (f, vm);

  g_clear_object (&vm);
  id = progress_watch (start_op, &p, TRUE);
  bgr_client_vm_start_async (f->client, "a", start_op, NULL, on_done, f);
  res = wait_result (f);
  vm = bgr_client_vm_start_finish (f->client, res, &err);
  g_assert_no_error (err);
  g_clear_object (&res);
  progress_unwatch (start_op, &p, id);
  g_assert_cmpuint (p.n, >, 0);
  g_assert_cmpuint (p.done, ==, p.total);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
  g_assert_cmpint (bgr_vm_get_pid (vm), !=, pid);
  assert_same_vm (f, vm);
  g_clear_pointer (&out, g_free);
  out = exec_sh (f, "a", "echo again", TRUE, &status);
  g_assert_cmpstr (out, ==, "again\n");
  g_assert_cmpint (status, ==, 0);

  /* A running VM is refused without FORCE, then deleted with it. */
  bgr_client_vm_delete_async (f->client, "a", BGR_VM_DELETE_FLAGS_NONE, NULL, on_done, f);
  res = wait_result (f);
  g_assert_false (bgr_client_vm_delete_finish (f->client, res, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_clear_error (&err);
  g_clear_object (&res);
  bgr_client_vm_delete_async (f->client, "a", BGR_VM_DELETE_FLAGS_FORCE, NULL, on_done, f);
  res = wait_result (f);
  g_assert_true (bgr_client_vm_delete_finish (f->client, res, &err));
  g_assert_no_error (err);
  g_clear_object (&res);
  assert_no_vms (f);
  after = state_tree (f);
  g_assert_cmpstr (after, ==, before);
}

static BgrVm *
create_async (Fixture *f, const char *name, BgrOperation *op, GCancellable *cancellable,
              gboolean cancel_at_once, GError **error)
{
  g_autoptr (BgrVmSpec) spec = vm_spec (name);
  g_autoptr (GAsyncResult) res = NULL;

  bgr_client_vm_create_async (f->client, spec, op, cancellable, on_done, f);
  if (cancel_at_once)
    g_idle_add (cancel_idle, op);
  res = wait_result (f);
  return bgr_client_vm_create_finish (f->client, res, error);
}

/* Creates cancelled through the operation right after the call started
 * (the boot held at the agent's greeting until then), and with a
 * cancellable cancelled beforehand: BGR_ERROR_CANCELLED, no VM, no agent,
 * the state directory as it was; the same when cancelled while the boot
 * waits for the agent; then a create that is not cancelled. */
static void
test_vm_create_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrOperation) op = bgr_operation_new ();
  g_autoptr (BgrOperation) op2 = bgr_operation_new ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (BgrVm) vm = NULL;
  g_autofree char *held = g_strdup_printf ("%s.fifo", os_release);
  g_autofree char *saved = g_strdup_printf ("%s.saved", os_release);
  g_autofree char *before = NULL, *after = NULL;
  Progress p;
  gulong id;

  add_kernel_and_image (f);
  before = state_tree (f);

  /* The agent's greeting blocks on opening the FIFO. */
  g_assert_cmpint (mkfifo (held, 0600), ==, 0);
  g_assert_cmpint (rename (os_release, saved), ==, 0);
  g_assert_cmpint (rename (held, os_release), ==, 0);
  id = progress_watch (op, &p, TRUE);
  vm = create_async (f, "c", op, NULL, TRUE, &err);
  progress_unwatch (op, &p, id);
  g_assert_null (vm);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_CANCELLED);
  g_clear_error (&err);
  assert_no_vms (f);
  after = state_tree (f);
  g_assert_cmpstr (after, ==, before);
  g_clear_pointer (&after, g_free);

  /* Again, cancelled while the boot waits for the (held) agent. */
  {
    g_autoptr (BgrOperation) op3 = bgr_operation_new ();
    gboolean at_agent = FALSE;

    g_signal_connect (op3, "changed", G_CALLBACK (cancel_at_agent), &at_agent);
    vm = create_async (f, "c", op3, NULL, FALSE, &err);
    g_assert_null (vm);
    g_assert_error (err, BGR_ERROR, BGR_ERROR_CANCELLED);
    g_clear_error (&err);
    g_assert_true (at_agent);
    g_signal_handlers_disconnect_by_func (op3, cancel_at_agent, &at_agent);
  }
  g_assert_cmpint (rename (saved, os_release), ==, 0);
  assert_no_vms (f);
  after = state_tree (f);
  g_assert_cmpstr (after, ==, before);
  g_clear_pointer (&after, g_free);

  g_cancellable_cancel (cancellable);
  vm = create_async (f, "c", op2, cancellable, FALSE, &err);
  g_assert_null (vm);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_CANCELLED);
  g_clear_error (&err);
  assert_no_vms (f);
  after = state_tree (f);
  g_assert_cmpstr (after, ==, before);

  /* The name is free again. */
  vm = create_async (f, "c", NULL, NULL, FALSE, &err);
  g_assert_no_error (err);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
  g_assert_true (bgr_client_vm_delete (f->client, "c", BGR_VM_DELETE_FLAGS_FORCE, NULL, &err));
  g_assert_no_error (err);
}

/* Doctor async and sync say the same. */
static void
test_doctor (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrDoctorReport) sync = bgr_client_doctor (f->client, NULL, &err);
  g_autoptr (BgrDoctorReport) report = NULL;
  g_autoptr (GAsyncResult) res = NULL;

  g_assert_no_error (err);
  bgr_client_doctor_async (f->client, NULL, on_done, f);
  res = wait_result (f);
  report = bgr_client_doctor_finish (f->client, res, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (bgr_doctor_report_get_n_checks (report), >, 0);
  g_assert_cmpuint (bgr_doctor_report_get_n_checks (report), ==,
                    bgr_doctor_report_get_n_checks (sync));
  g_assert_cmpstr (bgr_doctor_report_get_hypervisor (report), ==,
                   bgr_doctor_report_get_hypervisor (sync));
  for (guint i = 0; i < bgr_doctor_report_get_n_checks (report); i++)
    {
      g_assert_cmpstr (bgr_doctor_report_get_check_name (report, i), ==,
                       bgr_doctor_report_get_check_name (sync, i));
      g_assert_cmpint (bgr_doctor_report_get_check_status (report, i), ==,
                       bgr_doctor_report_get_check_status (sync, i));
    }
}

int
main (int argc, char **argv)
{
  static const AsyncTest tests[] = {
    { "vm-lifecycle", test_vm_lifecycle },
    { "vm-create-cancel", test_vm_create_cancel },
    { "doctor", test_doctor },
  };

  return async_test_main (argc, argv, tests, G_N_ELEMENTS (tests));
}
