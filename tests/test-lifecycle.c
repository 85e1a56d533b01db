/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VM lifecycle through the engine, on the fake VMM driver
 * (hypervisor = "fake", libbanger/vmm/bgr-vmm-fake.c): every "VM" is the
 * real guest agent running on the host in its host mode, so create, exec,
 * stop, start, kill, delete, claims, adoption by a new engine and
 * reconciliation after a VMM died all run for real, without root, KVM or
 * QEMU, in seconds, and under ASan.
 *
 * The image is a tiny ext4 (mkfs.ext4) and a 64-byte ELF header as its
 * "kernel": the engine installs the agent into the rootfs as usual; the
 * fake driver runs that same embedded agent binary on the host.
 *
 * Nothing here sleeps and hopes: waits poll a condition against a
 * deadline. Each test has its own state directory and kills whatever
 * process it left behind. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include <banger/banger.h>

#include "agent-proto/bgr-agent-client-private.h"
#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "engine/bgr-engine-private.h"
#include "engine/bgr-engine-claims-private.h"
#include "vmm/bgr-vmm-private.h"
#include "bgr-test-ext4.h"

#define IMAGE "img"
#define WAIT_MS 20000

typedef struct {
  char *dir;   /* /tmp/bgr-lc-XXXXXX: short, for the agents' unix sockets */
  char *state;
  BgrConfig *config;
  BgrEngine *engine;
} Fixture;

/* Polls @cond every 5 ms until it holds; fails the test after @ms. */
#define WAIT_UNTIL(cond, ms)                                                                    \
  G_STMT_START                                                                                  \
  {                                                                                             \
    gint64 deadline__ = g_get_monotonic_time () + (gint64) (ms) * 1000;                         \
    while (!(cond))                                                                             \
      {                                                                                         \
        if (g_get_monotonic_time () > deadline__)                                               \
          g_error ("%s:%d: still not true after %d ms: %s", __FILE__, __LINE__, (int) (ms),     \
                   #cond);                                                                      \
        g_usleep (5000);                                                                        \
      }                                                                                         \
  }                                                                                             \
  G_STMT_END

/* ---- processes ---------------------------------------------------------------- */

/* Live processes whose command line mentions @needle (the agent's argv
 * holds its socket path, inside the state directory). Zombies have an
 * empty command line and do not count. */

/* A VM from the fake image: 1 vCPU, 128 MiB. */
static BgrVm *
spec_create (BgrEngine *engine, const char *name, BgrOperation *op, GError **error)
{
  g_autoptr (BgrVmSpec) spec = bgr_vm_spec_new (name);

  bgr_vm_spec_set_image (spec, IMAGE);
  bgr_vm_spec_set_vcpus (spec, 1);
  bgr_vm_spec_set_memory_mib (spec, 128);
  return bgr_engine_create_vm (engine, spec, op, NULL, error);
}

static guint
n_agents (Fixture *f)
{
  g_autoptr (GArray) pids = bgr_test_processes_mentioning (f->state);
  return pids->len;
}

static gboolean
pid_alive (gint pid, guint64 start_time)
{
  BgrVmmInstance probe = { .pid = pid, .start_time = start_time };
  return bgr_vmm_instance_is_alive (&probe);
}

/* ---- fixture ------------------------------------------------------------------- */

static BgrEngine *
new_engine (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  BgrEngine *engine = bgr_engine_new (f->config, &err);

  g_assert_no_error (err);
  g_assert_nonnull (engine);
  return engine;
}

static void
make_image (Fixture *f)
{
  /* An x86-64 ET_EXEC ELF header: enough for the engine's kernel checks. */
  static const guchar elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, [16] = 2, [18] = 62 };
  g_autofree char *kernel = g_build_filename (f->dir, "vmlinux", NULL);
  g_autofree char *rootfs = g_build_filename (f->dir, "rootfs.ext4", NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrImage) img = NULL;
  const char *mkfs[] = { bgr_test_tool ("mkfs.ext4"), "-q", "-F", rootfs, "16M", NULL };
  gint status = -1;

  g_file_set_contents (kernel, (const char *) elf, sizeof elf, &err);
  g_assert_no_error (err);
  /* Not bgr_run_env(): it sets environment variables, and the reaper
   * threads of earlier tests' agents are running. */
  g_spawn_sync (NULL, (char **) mkfs, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL,
                &status, &err);
  g_assert_no_error (err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  img = bgr_engine_register_image (f->engine, IMAGE, rootfs, NULL, kernel, NULL, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_nonnull (img);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *cache = NULL, *toml = NULL;

  (void) data;
  f->dir = g_dir_make_tmp ("bgr-lc-XXXXXX", &err);
  g_assert_no_error (err);
  f->state = g_build_filename (f->dir, "state", NULL);
  cache = g_build_filename (f->dir, "cache", NULL);
  toml = g_strdup_printf ("hypervisor = \"fake\"\n"
                          "web_listen_addr = \"\"\n"
                          "state_dir = \"%s\"\n"
                          "cache_dir = \"%s\"\n",
                          f->state, cache);
  f->config = bgr_config_load_from_data (toml, -1, "test-lifecycle.toml", &err);
  g_assert_no_error (err);
  f->engine = new_engine (f);
  make_image (f);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) left = bgr_test_processes_mentioning (f->state);

  (void) data;
  /* What a failed test left running. */
  for (guint i = 0; i < left->len; i++)
    kill (g_array_index (left, gint, i), SIGKILL);
  WAIT_UNTIL (n_agents (f) == 0, WAIT_MS);
  g_clear_pointer (&f->engine, bgr_engine_free);
  g_clear_object (&f->config);
  bgr_rm_rf (f->dir, NULL);
  g_free (f->state);
  g_free (f->dir);
}

/* ---- engine helpers ----------------------------------------------------------- */

static BgrVm *
create_vm (Fixture *f, const char *name)
{
  g_autoptr (GError) err = NULL;
  BgrVm *vm = spec_create (f->engine, name, NULL, &err);

  g_assert_no_error (err);
  g_assert_nonnull (vm);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
  return vm;
}

static BgrVm *
get_vm (Fixture *f, const char *name)
{
  g_autoptr (GError) err = NULL;
  BgrVm *vm = bgr_engine_get_vm (f->engine, name, &err);

  g_assert_no_error (err);
  return vm;
}

static gboolean
vm_state_is (Fixture *f, const char *name, const char *state)
{
  g_autoptr (BgrVm) vm = get_vm (f, name);
  return g_strcmp0 (bgr_vm_state_to_string (bgr_vm_get_state (vm)), state) == 0;
}

static char *
read_back (int fd)
{
  GString *s = g_string_new (NULL);
  char buf[4096];
  ssize_t n;

  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  while ((n = read (fd, buf, sizeof buf)) > 0)
    g_string_append_len (s, buf, n);
  close (fd);
  return g_string_free (s, FALSE);
}

/* Runs @argv in VM @name; returns its status, or -1 with @error set. */
static gint
exec_in (BgrEngine *engine, const char *name, const char *const *argv, char **out, char **err_out,
         GError **error)
{
  int out_fd = memfd_create ("stdout", MFD_CLOEXEC);
  int err_fd = memfd_create ("stderr", MFD_CLOEXEC);
  gint status = -1;
  gboolean ok;

  g_assert_cmpint (out_fd, >=, 0);
  g_assert_cmpint (err_fd, >=, 0);
  ok = bgr_engine_vm_exec (engine, name, argv, NULL, NULL, 10000, -1, out_fd, err_fd, &status,
                           NULL, error);
  {
    g_autofree char *o = read_back (out_fd), *e = read_back (err_fd);
    if (out != NULL)
      *out = g_steal_pointer (&o);
    if (err_out != NULL)
      *err_out = g_steal_pointer (&e);
  }
  return ok ? status : -1;
}

/* A command with real output and a real status, through the real agent. */
static void
assert_exec_works (BgrEngine *engine, const char *name)
{
  static const char *const argv[] = { "sh", "-c", "echo out-$((6*7)); echo err >&2; exit 3", NULL };
  g_autoptr (GError) err = NULL;
  g_autofree char *out = NULL, *err_text = NULL;
  gint status = exec_in (engine, name, argv, &out, &err_text, &err);

  g_assert_no_error (err);
  g_assert_cmpint (status, ==, 3);
  g_assert_cmpstr (out, ==, "out-42\n");
  g_assert_cmpstr (err_text, ==, "err\n");
}

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

/* ---- what the cache and the state directory hold --------------------------- */

static BgrCacheBlob *
cache_entry (GPtrArray *list, const char *name)
{
  for (guint i = 0; i < list->len; i++)
    if (g_str_equal (bgr_cache_blob_get_name (list->pdata[i]), name))
      return list->pdata[i];
  return NULL;
}

static GPtrArray *
cache_list (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  GPtrArray *list = bgr_engine_list_image_cache (f->engine, &err);

  g_assert_no_error (err);
  g_assert_nonnull (list);
  return list;
}

static char *
only_base (Fixture *f)
{
  g_autofree char *dir = g_build_filename (f->dir, "cache", "vm-bases", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name = d != NULL ? g_dir_read_name (d) : NULL;

  g_assert_nonnull (name);
  return g_strdup (name);
}

/* A killed pull's .part and a base no image leads to show in the cache
 * list and go with prune; a .part a live download holds (its flock) shows
 * as in use and stays; the base of an image goes with the image. */
static void
test_cache_garbage (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrVm) vm = create_vm (f, "base");
  g_autofree char *blobs = g_build_filename (f->dir, "cache", "oci", "blobs", "sha256", NULL);
  g_autofree char *hex_stale = g_strnfill (64, 'a'), *hex_held = g_strnfill (64, 'b');
  g_autofree char *stale_name = g_strconcat (hex_stale, ".part", NULL);
  g_autofree char *held_name = g_strconcat (hex_held, ".part", NULL);
  g_autofree char *stale = g_build_filename (blobs, stale_name, NULL);
  g_autofree char *held = g_build_filename (blobs, held_name, NULL);
  g_autofree char *old_base = g_build_filename (f->dir, "cache", "vm-bases",
                                                "0123456789abcdef0123456789abcdef.ext4", NULL);
  g_autofree char *base_name = only_base (f);
  g_autofree char *base = g_build_filename (f->dir, "cache", "vm-bases", base_name, NULL);
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GError) err = NULL;
  BgrCacheBlob *e;
  guint64 freed = 0;
  guint removed = 0;
  int fd;

  (void) data;
  g_assert_cmpint (g_mkdir_with_parents (blobs, 0700), ==, 0);
  g_file_set_contents (stale, "half a layer", -1, &err);
  g_assert_no_error (err);
  g_file_set_contents (held, "downloading", -1, &err);
  g_assert_no_error (err);
  g_file_set_contents (old_base, "an old base", -1, &err);
  g_assert_no_error (err);
  /* A live download, as net/bgr-download.c holds it. */
  fd = open (held, O_RDWR | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (flock (fd, LOCK_EX | LOCK_NB), ==, 0);

  list = cache_list (f);
  g_assert_cmpuint (list->len, ==, 4);
  e = cache_entry (list, stale_name);
  g_assert_nonnull (e);
  g_assert_cmpstr (bgr_cache_blob_get_category (e), ==, "partial");
  g_assert_false (bgr_cache_blob_get_in_use (e));
  g_assert_cmpint (bgr_cache_blob_get_size (e), ==, strlen ("half a layer"));
  g_assert_true (g_str_has_suffix (bgr_cache_blob_get_digest (e), hex_stale));
  e = cache_entry (list, held_name);
  g_assert_nonnull (e);
  g_assert_cmpstr (bgr_cache_blob_get_category (e), ==, "partial");
  g_assert_true (bgr_cache_blob_get_in_use (e));
  e = cache_entry (list, base_name);
  g_assert_nonnull (e);
  g_assert_cmpstr (bgr_cache_blob_get_category (e), ==, "vm-base");
  g_assert_null (bgr_cache_blob_get_digest (e));
  g_assert_cmpint (bgr_cache_blob_get_size (e), >, 0);
  {
    g_auto (GStrv) users = bgr_cache_blob_dup_images (e);
    g_assert_cmpstr (users[0], ==, IMAGE);
    g_assert_null (users[1]);
  }
  e = cache_entry (list, "0123456789abcdef0123456789abcdef.ext4");
  g_assert_nonnull (e);
  {
    g_auto (GStrv) users = bgr_cache_blob_dup_images (e);
    g_assert_null (users[0]);
  }
  {
    g_autofree char *json = bgr_cache_blob_to_json (e);
    bgr_assert_contains (json, "\"category\" : \"vm-base\"");
  }

  g_assert_true (bgr_engine_prune_image_cache (f->engine, &freed, &removed, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (removed, ==, 2);
  g_assert_cmpuint (freed, >, 0);
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (old_base, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (held, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (base, G_FILE_TEST_EXISTS));

  /* The download ended: its part file is stale now. */
  close (fd);
  g_assert_true (bgr_engine_prune_image_cache (f->engine, &freed, &removed, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (removed, ==, 1);
  g_assert_false (g_file_test (held, G_FILE_TEST_EXISTS));

  /* The image's base goes with the image (once no VM uses it). */
  g_assert_false (bgr_engine_delete_image (f->engine, IMAGE, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_clear_error (&err);
  g_assert_true (g_file_test (base, G_FILE_TEST_EXISTS));
  g_clear_object (&vm);
  vm = bgr_engine_kill_vm (f->engine, "base", &err);
  g_assert_no_error (err);
  g_assert_true (bgr_engine_delete_vm (f->engine, "base", FALSE, &err));
  g_assert_no_error (err);
  g_assert_true (bgr_engine_delete_image (f->engine, IMAGE, &err));
  g_assert_no_error (err);
  g_assert_false (g_file_test (base, G_FILE_TEST_EXISTS));
  g_clear_pointer (&list, g_ptr_array_unref);
  list = cache_list (f);
  g_assert_cmpuint (list->len, ==, 0);
}

/* An image directory with no record (a crash between the staging rename
 * and the record) goes when an engine starts; a directory that holds a
 * registered image's files stays. */
static void
test_orphan_image_dir (Fixture *f, gconstpointer data)
{
  g_autofree char *images = g_build_filename (f->state, "images", NULL);
  g_autofree char *ghost = g_build_filename (images, "ghost", NULL);
  g_autofree char *ghost_file = g_build_filename (ghost, "rootfs.ext4", NULL);
  g_autofree char *user = g_build_filename (images, "mine", NULL);
  g_autofree char *user_rootfs = g_build_filename (user, "rootfs.ext4", NULL);
  g_autofree char *kernel = g_build_filename (f->dir, "vmlinux", NULL);
  g_autofree char *rootfs = g_build_filename (f->dir, "rootfs.ext4", NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrImage) img = NULL;

  (void) data;
  g_assert_cmpint (g_mkdir_with_parents (ghost, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (user, 0700), ==, 0);
  g_file_set_contents (ghost_file, "a pulled rootfs", -1, &err);
  g_assert_no_error (err);
  g_assert_true (bgr_copy_file (rootfs, user_rootfs, NULL, &err));
  g_assert_no_error (err);
  /* Registered under another name, its files in images/mine. */
  img = bgr_engine_register_image (f->engine, "other", user_rootfs, NULL, kernel, NULL, NULL, NULL,
                                   &err);
  g_assert_no_error (err);
  g_assert_nonnull (img);

  g_clear_pointer (&f->engine, bgr_engine_free);
  f->engine = new_engine (f);
  g_assert_false (g_file_test (ghost, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (user_rootfs, G_FILE_TEST_EXISTS));
  g_clear_object (&img);
  img = bgr_engine_get_image (f->engine, "other", &err);
  g_assert_no_error (err);
  g_assert_nonnull (img);
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
  ADD ("/lifecycle/busy", test_busy);
  ADD ("/lifecycle/kill-during-stop", test_kill_during_stop);
  ADD ("/lifecycle/concurrent", test_concurrent);
  ADD ("/lifecycle/parallel", test_parallel);
  ADD ("/lifecycle/adopt", test_adopt);
  ADD ("/lifecycle/vmm-dies", test_vmm_dies);
  ADD ("/lifecycle/guest-poweroff", test_guest_poweroff);
  ADD ("/lifecycle/reconcile-at-start", test_reconcile_at_start);
  ADD ("/lifecycle/reconcile-interrupted-create", test_reconcile_interrupted_create);
  ADD ("/lifecycle/adopt-starting", test_adopt_starting);
  ADD ("/lifecycle/adopt-starting-vmm-dies", test_adopt_starting_vmm_dies);
  ADD ("/lifecycle/adopt-starting-twice", test_adopt_starting_twice);
  ADD ("/lifecycle/adopt-stopping", test_adopt_stopping);
  ADD ("/lifecycle/cache-garbage", test_cache_garbage);
  ADD ("/lifecycle/orphan-image-dir", test_orphan_image_dir);
#undef ADD
  return g_test_run ();
}
