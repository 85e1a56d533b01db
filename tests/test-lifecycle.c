/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VM lifecycle through the engine, on the fake VMM driver
 * (libbanger/vmm/bgr-vmm-fake.c): the driver alone; create, exec, stats,
 * logs, stop, start, kill, delete of one VM; what a spec asks of a VM and
 * what it may not ask; an exec whose output cannot be delivered.
 *
 * VMs run on the fake VMM (hypervisor = "fake", see lifecycle-fixture.h
 * and docs/testing.md): every "VM" is the real guest agent running on the
 * host in its host mode, without root, KVM or QEMU, in seconds, and under
 * ASan. Nothing here sleeps and hopes: waits poll a condition against a
 * deadline. Each test has its own state directory and kills whatever
 * process it left behind. */
#include "config.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lifecycle-fixture.h"

#include "agent-proto/bgr-agent-client-private.h"
#include "bgr-fs-private.h"

/* ---- the driver alone --------------------------------------------------------- */

static void
test_driver (void)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *dir = g_dir_make_tmp ("bgr-fk-XXXXXX", &err);
  g_autofree char *run_dir = g_build_filename (dir, "run", NULL);
  g_autofree char *console = g_build_filename (dir, "console.log", NULL);
  g_autofree char *text = NULL;
  const BgrVmmDriver *driver = bgr_vmm_driver_lookup ("fake");
  BgrVmmConfig c = { .id = "abcdef012345", .name = "fk", .run_dir = run_dir, .binary = "unused",
                     .kernel = "/nonexistent", .cmdline = "", .vcpus = 1, .memory_mib = 64,
                     .rootfs = "/nonexistent", .console_log = console };
  BgrVmmMetrics m = { -1, -1, -1, -1, -1, -1 };
  g_autoptr (BgrVmmInstance) inst = NULL, back = NULL;
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (BgrAgentConn) conn = NULL;
  g_autoptr (BgrAgentFacts) facts = NULL;
  g_autoptr (JsonObject) json = NULL;

  g_assert_no_error (err);
  g_assert_nonnull (driver);
  g_assert_cmpstr (driver->name, ==, "fake");
  g_assert_cmpint (g_mkdir (run_dir, 0700), ==, 0);

  inst = driver->start (&c, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (inst->driver, ==, "fake");
  g_assert_cmpint (inst->pid, >, 0);
  g_assert_cmpuint (inst->start_time, >, 0);
  g_assert_true (bgr_vmm_instance_is_alive (inst));

  /* What the engine stores in the record comes back as it was. */
  json = bgr_vmm_instance_to_json (inst);
  back = bgr_vmm_instance_from_json (json);
  g_assert_nonnull (back);
  g_assert_cmpstr (back->driver, ==, "fake");
  g_assert_cmpint (back->pid, ==, inst->pid);
  g_assert_cmpstr (back->agent_socket, ==, inst->agent_socket);

  stream = driver->connect_agent (inst, NULL, &err);
  g_assert_no_error (err);
  conn = bgr_agent_conn_new (stream);
  facts = bgr_agent_conn_hello (conn, 10000, 2000, NULL, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_nonnull (facts);

  g_assert_true (driver->metrics (inst, &m, &err));
  g_assert_no_error (err);
  g_assert_cmpint (m.rss_bytes, >, 0);
  g_assert_cmpint (m.cpu_time_ms, >=, 0);
  g_assert_cmpint (m.disk_read_bytes, ==, -1);

  /* The power button: the agent takes its processes down and exits, and
   * the console ends the way a Linux guest's does. */
  g_assert_true (driver->request_shutdown (inst, NULL, &err));
  g_assert_no_error (err);
  g_assert_true (bgr_vmm_instance_wait_exit (inst, WAIT_MS, NULL, &err));
  g_assert_no_error (err);
  g_assert_true (g_file_get_contents (console, &text, NULL, NULL));
  bgr_assert_contains (text, "ready on unix socket");
  bgr_assert_contains (text, "reboot: Power down");
  g_assert_false (g_file_test (inst->agent_socket, G_FILE_TEST_EXISTS));
  g_assert_false (driver->metrics (inst, &m, NULL));
  bgr_rm_rf (dir, NULL);
}

/* ---- create, exec, stop, start, kill, delete ---------------------------------- */

static void
test_basic (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrVm) vm = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree char *vm_dir = g_build_filename (f->state, "vms", "basic", NULL);
  g_autofree char *logs = NULL;
  gint pid, daemon_pid;
  guint64 start_time, daemon_start;

  (void) data;
  vm = create_vm (f, "basic");
  g_assert_cmpstr (bgr_vm_get_hypervisor (vm), ==, "fake");
  g_assert_cmpstr (bgr_vm_get_accel (vm), ==, "none");
  g_assert_null (bgr_vm_get_ip (vm));
  pid = (gint) bgr_vm_get_pid (vm);
  g_assert_cmpint (pid, >, 0);
  start_time = bgr_vmm_process_start_time (pid);
  g_assert_true (pid_alive (pid, start_time));
  g_assert_cmpuint (n_agents (f), ==, 1);
  g_assert_true (g_file_test (vm_dir, G_FILE_TEST_IS_DIR));

  assert_exec_works (f->engine, "basic");
  {
    /* A command that is not there: the agent's own error. */
    static const char *const argv[] = { "no-such-command-here", NULL };
    g_autoptr (GError) e = NULL;
    g_assert_cmpint (exec_in (f->engine, "basic", argv, NULL, NULL, &e), ==, -1);
    g_assert_nonnull (e);
    bgr_assert_contains (e->message, "no-such-command-here");
  }
  {
    g_autoptr (BgrVmStats) stats = bgr_engine_vm_stats (f->engine, "basic", NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpint (bgr_vm_stats_get (stats, "vmm_rss"), >, 0);
    g_assert_cmpint (bgr_vm_stats_get (stats, "mem_total"), >, 0);
  }
  {
    g_autoptr (GBytes) b = bgr_engine_vm_logs (f->engine, "basic", 0, &err);
    g_assert_no_error (err);
    logs = g_strndup (g_bytes_get_data (b, NULL), g_bytes_get_size (b));
    bgr_assert_contains (logs, "booting VM basic (fake");
    bgr_assert_contains (logs, "ready on unix socket");
  }

  /* A process that left its command's session behind, as daemons do. */
  {
    static const char *const argv[] = { "sh", "-c", "setsid sleep 1007 >/dev/null 2>&1 & echo $!", NULL };
    g_autofree char *out = NULL;
    g_autoptr (GError) e = NULL;
    g_assert_cmpint (exec_in (f->engine, "basic", argv, &out, NULL, &e), ==, 0);
    g_assert_no_error (e);
    daemon_pid = (gint) g_ascii_strtoll (out, NULL, 10);
    g_assert_cmpint (daemon_pid, >, 0);
    daemon_start = bgr_vmm_process_start_time (daemon_pid);
    g_assert_true (pid_alive (daemon_pid, daemon_start));
  }

  /* stop: through the agent; its process is gone, and so is everything
   * that ran in the "guest". */
  g_clear_object (&vm);
  vm = bgr_engine_stop_vm (f->engine, "basic", NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_STOPPED);
  bgr_assert_contains (bgr_vm_get_reason (vm), "the guest powered off");
  g_assert_cmpint (bgr_vm_get_pid (vm), ==, 0);
  g_assert_false (pid_alive (pid, start_time));
  g_assert_cmpuint (n_agents (f), ==, 0);
  g_assert_false (pid_alive (daemon_pid, daemon_start));
  {
    static const char *const argv[] = { "true", NULL };
    g_autoptr (GError) e = NULL;
    g_assert_cmpint (exec_in (f->engine, "basic", argv, NULL, NULL, &e), ==, -1);
    g_assert_error (e, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
    bgr_assert_contains (e->message, "not running");
  }
  g_clear_object (&vm);
  vm = bgr_engine_stop_vm (f->engine, "basic", NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOTHING_TO_DO);
  g_clear_error (&err);

  /* start again: a new agent process, exec works. */
  vm = bgr_engine_start_vm (f->engine, "basic", NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
  g_assert_cmpint (bgr_vm_get_pid (vm), >, 0);
  g_assert_false (bgr_vm_get_pid (vm) == pid && bgr_vmm_process_start_time (pid) == start_time);
  pid = (gint) bgr_vm_get_pid (vm);
  start_time = bgr_vmm_process_start_time (pid);
  assert_exec_works (f->engine, "basic");
  g_clear_object (&vm);
  vm = bgr_engine_start_vm (f->engine, "basic", NULL, NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOTHING_TO_DO);
  g_clear_error (&err);

  /* delete without --force refuses a running VM. */
  g_assert_false (bgr_engine_delete_vm (f->engine, "basic", FALSE, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_clear_error (&err);

  /* kill */
  vm = bgr_engine_kill_vm (f->engine, "basic", &err);
  g_assert_no_error (err);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_STOPPED);
  g_assert_cmpstr (bgr_vm_get_reason (vm), ==, "killed");
  g_assert_false (pid_alive (pid, start_time));
  g_assert_cmpuint (n_agents (f), ==, 0);
  g_clear_object (&vm);

  /* delete: the record and the VM's directory go. */
  g_assert_true (bgr_engine_delete_vm (f->engine, "basic", FALSE, &err));
  g_assert_no_error (err);
  g_assert_false (g_file_test (vm_dir, G_FILE_TEST_EXISTS));
  vm = bgr_engine_get_vm (f->engine, "basic", &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_assert_null (vm);
  g_clear_error (&err);
  {
    g_autoptr (GPtrArray) all = bgr_engine_list_vms (f->engine, &err);
    g_assert_no_error (err);
    g_assert_cmpuint (all->len, ==, 0);
  }

  /* The name is free again; a running VM is deleted with force. */
  vm = create_vm (f, "basic");
  g_assert_true (bgr_engine_delete_vm (f->engine, "basic", TRUE, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (n_agents (f), ==, 0);
  g_assert_false (g_file_test (vm_dir, G_FILE_TEST_EXISTS));
}

/* A VM option reaches the engine from the spec alone: the kernel command
 * line of every boot ends with --cmdline-append's arguments. */
static void
test_cmdline_append (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrVmSpec) spec = bgr_vm_spec_new ("extra");
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrVm) vm = NULL;
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autofree char *json = NULL;
  JsonObject *debug;

  (void) data;
  bgr_vm_spec_set_image (spec, IMAGE);
  bgr_vm_spec_set_memory_mib (spec, 128);
  bgr_vm_spec_set_cmdline_append (spec, "quiet banger.test=1");
  vm = bgr_engine_create_vm (f->engine, spec, NULL, NULL, &err);
  g_assert_no_error (err);
  json = bgr_vm_to_json (vm);
  g_assert_true (json_parser_load_from_data (p, json, -1, NULL));
  debug = json_object_get_object_member (json_node_get_object (json_parser_get_root (p)), "debug");
  g_assert_true (g_str_has_suffix (json_object_get_string_member (debug, "kernel_cmdline"),
                                   " quiet banger.test=1"));
  g_clear_object (&vm);
  vm = bgr_engine_stop_vm (f->engine, "extra", NULL, &err);
  g_assert_no_error (err);
}

/* An exec whose output cannot be delivered fails: a directory, a
 * descriptor open for reading only (refused before the command runs), a
 * write that fails while it runs (/dev/full). */
static void
test_exec_output_lost (Fixture *f, gconstpointer data)
{
  static const char *const argv[] = { "sh", "-c", "echo lost", NULL };
  g_autoptr (BgrVm) vm = create_vm (f, "lost");
  g_autoptr (GError) err = NULL;
  int dir_fd = open (f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int ro_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  int full_fd = open ("/dev/full", O_WRONLY | O_CLOEXEC);
  int err_fd = memfd_create ("stderr", MFD_CLOEXEC);
  gint status = -1;

  (void) data;
  g_assert_cmpint (dir_fd, >=, 0);
  g_assert_cmpint (ro_fd, >=, 0);
  g_assert_cmpint (err_fd, >=, 0);
  g_assert_false (bgr_engine_vm_exec (f->engine, "lost", argv, NULL, NULL, 10000, -1, dir_fd,
                                      err_fd, &status, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  bgr_assert_contains (err->message, "is a directory");
  g_clear_error (&err);
  g_assert_false (bgr_engine_vm_exec (f->engine, "lost", argv, NULL, NULL, 10000, -1, ro_fd,
                                      err_fd, &status, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  bgr_assert_contains (err->message, "open for reading only");
  g_clear_error (&err);
  if (full_fd >= 0)
    {
      g_assert_false (bgr_engine_vm_exec (f->engine, "lost", argv, NULL, NULL, 10000, -1, full_fd,
                                          err_fd, &status, NULL, &err));
      g_assert_error (err, BGR_ERROR, BGR_ERROR_FAILED);
      bgr_assert_contains (err->message, "its output was lost");
      g_clear_error (&err);
      close (full_fd);
    }
  close (dir_fd);
  close (ro_fd);
  close (err_fd);
  /* The VM is fine. */
  assert_exec_works (f->engine, "lost");
  g_clear_object (&vm);
  vm = bgr_engine_stop_vm (f->engine, "lost", NULL, &err);
  g_assert_no_error (err);
}

/* Strict VM specs: an empty image is not the default one, and numbers past
 * the limits are refused before any work, naming the option key. */
static void
test_strict_spec (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) vms = NULL;
  static const struct { const char *key; guint64 value; const char *msg; } cases[] = {
    { "image", 0, "option 'image' must not be empty" },
    { "vcpus", 65, "option 'vcpus': 65 is out of range (1-64)" },
    { "memory-mib", 1ull << 40, "option 'memory-mib': 1099511627776 MiB is more than this host has" },
    { "memory-mib", 8, "option 'memory-mib': 8 MiB is too small" },
    { "disk-size", (16ull << 40) + 1, "option 'disk-size': 17592186044417 bytes is out of range" },
  };

  (void) data;
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (BgrVmSpec) spec = bgr_vm_spec_new ("strict");
      g_autoptr (BgrVm) vm = NULL;

      bgr_vm_spec_set_image (spec, g_str_equal (cases[i].key, "image") ? "" : IMAGE);
      if (g_str_equal (cases[i].key, "vcpus"))
        bgr_vm_spec_set_vcpus (spec, (guint) cases[i].value);
      else if (g_str_equal (cases[i].key, "memory-mib"))
        bgr_vm_spec_set_memory_mib (spec, cases[i].value);
      else if (g_str_equal (cases[i].key, "disk-size"))
        bgr_vm_spec_set_disk_size (spec, cases[i].value);
      vm = bgr_engine_create_vm (f->engine, spec, NULL, NULL, &err);
      g_assert_null (vm);
      g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
      bgr_assert_contains (err->message, cases[i].msg);
      g_clear_error (&err);
    }
  vms = bgr_engine_list_vms (f->engine, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (vms->len, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/lifecycle/driver", test_driver);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/lifecycle/cmdline-append", test_cmdline_append);
  ADD ("/lifecycle/exec-output-lost", test_exec_output_lost);
  ADD ("/lifecycle/strict-spec", test_strict_spec);
  ADD ("/lifecycle/basic", test_basic);
#undef ADD
  return g_test_run ();
}
