/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrClient's `_async/_finish` pairs, called from a GMainLoop, through a
 * local client and through bangerd on a private bus (each test runs once
 * per client kind, with the same configuration: the fake VMM, state and
 * cache in a temporary directory):
 *
 * - kernel import, kernel pull, image pull, image promote, VM
 *   create/exec/stop/start/delete and doctor give what the blocking calls
 *   give (the async result compared with the sync getter of the same
 *   object, or with the same sync call); the pulls from a catalog and a
 *   registry this test serves on 127.0.0.1 (tests/bgr-test-registry.h);
 * - the progress a BgrOperation's "changed" signal shows never goes back
 *   within a phase, and a create ends at done == total;
 * - a call cancelled through its BgrOperation (from an idle right after
 *   the call starts, or an image pull once part of its layer arrived, the
 *   registry holding the rest) or with a GCancellable cancelled beforehand
 *   fails with BGR_ERROR_CANCELLED and leaves the state directory as it
 *   was (and the layer cache with no pinned blob).
 *
 * A cancelled create must not finish first: the fake VM's agent reads
 * $BANGER_AGENT_OS_RELEASE when it greets the engine, and during that
 * test the file is a FIFO nobody writes, so the boot waits for the agent
 * until the cancel arrives. Waits run the main loop against a deadline. */
#include "config.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <banger/banger.h>

#include "bgr-fs-private.h"
#include "bgr-test-ext4.h"
#include "bgr-test-registry.h"

#define WAIT_S 30
#define OS_NAME "Async Test OS"

static const char *bangerd;
static char *top_dir;    /* /tmp/bgr-as-XXXXXX: short, for the agents' sockets */
static char *os_release; /* $BANGER_AGENT_OS_RELEASE of every fake VM */

typedef struct {
  gboolean dbus;
  char *dir, *state, *config_path, *kernel, *rootfs;
  GTestDBus *bus;
  GSubprocess *daemon;
  BgrClient *client;
  GMainLoop *loop;
  GAsyncResult *result;
} Fixture;

/* ---- waiting on the main loop --------------------------------------------- */

static void
on_done (GObject *source, GAsyncResult *res, gpointer data)
{
  Fixture *f = data;

  g_assert_null (f->result);
  f->result = g_object_ref (res);
  g_main_loop_quit (f->loop);
}

static gboolean
on_timeout (gpointer data)
{
  g_error ("no answer after %d s", WAIT_S);
  return G_SOURCE_REMOVE;
}

/* Runs the loop until on_done() has the call's result. */
static GAsyncResult *
wait_result (Fixture *f)
{
  guint timeout = g_timeout_add_seconds (WAIT_S, on_timeout, NULL);

  g_main_loop_run (f->loop);
  g_source_remove (timeout);
  g_assert_nonnull (f->result);
  return g_steal_pointer (&f->result);
}

/* ---- progress ------------------------------------------------------------- */

typedef struct {
  guint n;
  char *phase;
  guint64 done, total;
  gboolean steps; /* done counts steps over all phases (VM boots) */
} Progress;

static void
on_changed (BgrOperation *op, gpointer data)
{
  Progress *p = data;
  g_autofree char *phase = bgr_operation_dup_phase (op);
  guint64 done = bgr_operation_get_done (op), total = bgr_operation_get_total (op);

  g_test_message ("progress: %s %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT, phase, done, total);
  if (total != 0)
    g_assert_cmpuint (done, <=, total);
  if (p->n > 0 && (p->steps || g_strcmp0 (phase, p->phase) == 0))
    g_assert_cmpuint (done, >=, p->done);
  p->n++;
  g_free (p->phase);
  p->phase = g_steal_pointer (&phase);
  p->done = done;
  p->total = total;
}

static gulong
progress_watch (BgrOperation *op, Progress *p, gboolean steps)
{
  memset (p, 0, sizeof *p);
  p->steps = steps;
  return g_signal_connect (op, "changed", G_CALLBACK (on_changed), p);
}

static void
progress_unwatch (BgrOperation *op, Progress *p, gulong id)
{
  g_signal_handler_disconnect (op, id);
  g_clear_pointer (&p->phase, g_free);
}

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

static gboolean
cancel_idle (gpointer op)
{
  bgr_operation_cancel (op);
  return G_SOURCE_REMOVE;
}

/* ---- the state directory -------------------------------------------------- */

static void
list_tree (const char *root, const char *rel, GPtrArray *out)
{
  g_autofree char *path = g_build_filename (root, rel, NULL);
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *entry;

  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *sub = *rel ? g_build_filename (rel, entry, NULL) : g_strdup (entry);
      g_autofree char *full = g_build_filename (root, sub, NULL);

      gboolean is_dir = g_file_test (full, G_FILE_TEST_IS_DIR)
                        && !g_file_test (full, G_FILE_TEST_IS_SYMLINK);

      /* Not the top-level directories an engine makes when first needed
       * (vms, run...): what is in them is listed. */
      if (!is_dir || *rel)
        g_ptr_array_add (out, g_strdup (sub));
      if (is_dir)
        list_tree (root, sub, out);
    }
}

static int
cmp_paths (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Every path under the state directory, sorted, one a line. */
static char *
state_tree (Fixture *f)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  list_tree (f->state, "", paths);
  g_ptr_array_sort (paths, cmp_paths);
  g_ptr_array_add (paths, NULL);
  return g_strjoinv ("\n", (char **) paths->pdata);
}

static guint
n_vm_processes (Fixture *f)
{
  g_autofree char *needle = g_strdup_printf ("%s/", f->state);
  g_autoptr (GArray) pids = bgr_test_processes_mentioning (needle);
  return pids->len;
}

static void
assert_no_vms (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) vms = bgr_client_vm_list (f->client, NULL, &err);

  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;

  g_assert_no_error (err);
  g_assert_cmpuint (vms->len, ==, 0);
  /* A killed agent may take a moment to die. */
  while (n_vm_processes (f) > 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (5000);
    }
}

/* ---- fixture -------------------------------------------------------------- */

static gboolean
exited (GSubprocess *p)
{
  return g_subprocess_get_identifier (p) == NULL;
}

static void
start_daemon (Fixture *f)
{
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr (GError) err = NULL;
  g_autofree char *log = g_build_filename (f->dir, "bangerd.log", NULL);
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;

  f->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (f->bus);
  g_subprocess_launcher_set_stderr_file_path (l, log);
  f->daemon = g_subprocess_launcher_spawn (l, &err, bangerd, "--address",
                                           g_test_dbus_get_bus_address (f->bus), "--config",
                                           f->config_path, NULL);
  g_assert_no_error (err);
  /* Until bangerd owns its name (no auto-start: the bus has no services). */
  for (;;)
    {
      f->client = bgr_client_new_dbus_for_address (g_test_dbus_get_bus_address (f->bus),
                                                   BGR_CLIENT_FLAGS_NO_AUTO_START, NULL, &err);
      if (f->client != NULL)
        break;
      g_assert_error (err, BGR_ERROR, BGR_ERROR_DAEMON_UNAVAILABLE);
      g_clear_error (&err);
      g_assert_false (exited (f->daemon));
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10000);
    }
  g_assert_false (bgr_client_is_local (f->client));
}

static void
stop_daemon (Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;

  g_subprocess_send_signal (f->daemon, SIGTERM);
  while (!exited (f->daemon))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (5000);
    }
  g_assert_true (g_subprocess_get_if_exited (f->daemon));
  g_assert_cmpint (g_subprocess_get_exit_status (f->daemon), ==, 0);
  g_clear_object (&f->daemon);
  g_test_dbus_down (f->bus);
  g_clear_object (&f->bus);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  /* An x86-64 ET_EXEC ELF header: enough for the engine's kernel checks. */
  static const guchar elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, [16] = 2, [18] = 62 };
  static guint serial;
  g_autoptr (GError) err = NULL;
  g_autofree char *cache = NULL, *toml = NULL, *name = NULL;
  gint status = -1;

  f->dbus = GPOINTER_TO_INT (data);
  name = g_strdup_printf ("%s%u", f->dbus ? "d" : "l", serial++);
  f->dir = g_build_filename (top_dir, name, NULL);
  g_assert_cmpint (g_mkdir (f->dir, 0700), ==, 0);
  f->state = g_build_filename (f->dir, "state", NULL);
  cache = g_build_filename (f->dir, "cache", NULL);
  f->config_path = g_build_filename (f->dir, "banger.toml", NULL);
  f->kernel = g_build_filename (f->dir, "vmlinux", NULL);
  f->rootfs = g_build_filename (f->dir, "rootfs.ext4", NULL);
  f->loop = g_main_loop_new (NULL, FALSE);

  g_file_set_contents (f->kernel, (const char *) elf, sizeof elf, &err);
  g_assert_no_error (err);
  {
    const char *mkfs[] = { bgr_test_tool ("mkfs.ext4"), "-q", "-F", f->rootfs, "16M", NULL };
    g_spawn_sync (NULL, (char **) mkfs, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL,
                  &status, &err);
    g_assert_no_error (err);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
  }

  toml = g_strdup_printf ("hypervisor = \"fake\"\nweb_listen_addr = \"\"\nstate_dir = \"%s\"\ncache_dir = \"%s\"\n"
                          "kernel_catalog_url = \"http://127.0.0.1:%u/kernels.json\"\n",
                          f->state, cache, bgr_test_srv.port);
  g_file_set_contents (f->config_path, toml, -1, &err);
  g_assert_no_error (err);
  if (f->dbus)
    start_daemon (f);
  else
    {
      g_autoptr (BgrConfig) config = bgr_config_load_from_data (toml, -1, "test-async.toml", &err);
      g_assert_no_error (err);
      f->client = bgr_client_new_local (config, BGR_CLIENT_FLAGS_NONE, &err);
      g_assert_no_error (err);
      g_assert_true (bgr_client_is_local (f->client));
    }
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->client);
  if (f->daemon != NULL)
    stop_daemon (f);
  {
    /* What a failed test left running. */
    g_autoptr (GArray) left = bgr_test_processes_mentioning (f->state);
    for (guint i = 0; i < left->len; i++)
      kill (g_array_index (left, gint, i), SIGKILL);
  }
  g_main_loop_unref (f->loop);
  bgr_rm_rf (f->dir, NULL);
  g_free (f->dir);
  g_free (f->state);
  g_free (f->config_path);
  g_free (f->kernel);
  g_free (f->rootfs);
}

/* ---- helpers -------------------------------------------------------------- */

static BgrKernel *
import_kernel_async (Fixture *f, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrKernelSpec) spec = bgr_kernel_spec_new (name);
  g_autoptr (GAsyncResult) res = NULL;

  bgr_kernel_spec_set_kernel (spec, f->kernel);
  bgr_client_kernel_import_async (f->client, spec, NULL, cancellable, on_done, f);
  res = wait_result (f);
  return bgr_client_kernel_import_finish (f->client, res, error);
}

static void
register_image (Fixture *f, const char *name)
{
  g_autoptr (BgrImageSpec) spec = bgr_image_spec_new (name);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrImage) img = NULL;

  bgr_image_spec_set_rootfs (spec, f->rootfs);
  bgr_image_spec_set_kernel_ref (spec, "k");
  img = bgr_client_image_register (f->client, spec, NULL, &err);
  g_assert_no_error (err);
  g_assert_false (bgr_image_get_managed (img));
}

/* Kernel "k" (imported async) and image "img" that boots with it. */
static void
add_kernel_and_image (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrKernel) k = import_kernel_async (f, "k", NULL, &err);

  g_assert_no_error (err);
  g_assert_cmpstr (bgr_kernel_get_name (k), ==, "k");
  register_image (f, "img");
}

static BgrVmSpec *
vm_spec (const char *name)
{
  BgrVmSpec *spec = bgr_vm_spec_new (name);

  bgr_vm_spec_set_image (spec, "img");
  bgr_vm_spec_set_vcpus (spec, 1);
  bgr_vm_spec_set_memory_mib (spec, 128);
  return spec;
}

/* The async result is the VM the sync getter shows. */
static void
assert_same_vm (Fixture *f, BgrVm *got)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrVm) vm = bgr_client_vm_get (f->client, bgr_vm_get_name (got), NULL, &err);

  g_assert_no_error (err);
  g_assert_cmpstr (bgr_vm_get_name (got), ==, bgr_vm_get_name (vm));
  g_assert_cmpstr (bgr_vm_get_id (got), ==, bgr_vm_get_id (vm));
  g_assert_cmpstr (bgr_vm_get_image (got), ==, bgr_vm_get_image (vm));
  g_assert_cmpint (bgr_vm_get_state (got), ==, bgr_vm_get_state (vm));
  g_assert_cmpint (bgr_vm_get_pid (got), ==, bgr_vm_get_pid (vm));
  g_assert_cmpint (bgr_vm_get_started (got), ==, bgr_vm_get_started (vm));
  g_assert_cmpint (bgr_vm_get_vcpus (got), ==, bgr_vm_get_vcpus (vm));
  g_assert_cmpint (bgr_vm_get_memory_mib (got), ==, bgr_vm_get_memory_mib (vm));
  g_assert_cmpstr (bgr_vm_get_hypervisor (got), ==, bgr_vm_get_hypervisor (vm));
  g_assert_cmpstr (bgr_vm_get_guest_os (got), ==, bgr_vm_get_guest_os (vm));
}

/* Runs `sh -c SCRIPT` in @name, async or not, stdout to a pipe; returns
 * what it wrote, with its status in @status. */
static char *
exec_sh (Fixture *f, const char *name, const char *script, gboolean async, gint *status)
{
  const char *argv[] = { "/bin/sh", "-c", script, NULL };
  g_autoptr (BgrExecSpec) spec = bgr_exec_spec_new (argv);
  g_autoptr (GError) err = NULL;
  char buf[256];
  gssize n;
  int fds[2];

  g_assert_cmpint (g_unix_open_pipe (fds, FD_CLOEXEC, NULL) ? 0 : -1, ==, 0);
  bgr_exec_spec_set_stdio (spec, -1, fds[1], -1);
  *status = -1;
  if (async)
    {
      g_autoptr (GAsyncResult) res = NULL;
      bgr_client_vm_exec_async (f->client, name, spec, NULL, on_done, f);
      res = wait_result (f);
      g_assert_true (bgr_client_vm_exec_finish (f->client, res, status, &err));
    }
  else
    g_assert_true (bgr_client_vm_exec (f->client, name, spec, status, NULL, &err));
  g_assert_no_error (err);
  close (fds[1]);
  /* All of it is in the pipe once the call returned; bangerd may still
   * hold a copy of the write end, so do not wait for EOF. */
  g_assert_true (g_unix_set_fd_nonblocking (fds[0], TRUE, NULL));
  n = read (fds[0], buf, sizeof buf - 1);
  close (fds[0]);
  g_assert_cmpint (n, >=, 0);
  buf[n] = '\0';
  return g_strdup (buf);
}

/* ---- tests ---------------------------------------------------------------- */

/* A kernel imported async is the one kernel_get shows, and like one
 * imported by the sync call; a pre-cancelled import leaves nothing. */
static void
test_kernel_import (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrKernel) k = import_kernel_async (f, "k", NULL, &err);
  g_autoptr (BgrKernel) got = NULL;
  g_autoptr (BgrKernel) sync = NULL;
  g_autoptr (BgrKernel) cancelled = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (BgrKernelSpec) spec = bgr_kernel_spec_new ("k-sync");
  g_autofree char *json = NULL, *got_json = NULL, *before = NULL, *after = NULL;

  g_assert_no_error (err);
  g_assert_cmpstr (bgr_kernel_get_name (k), ==, "k");
  got = bgr_client_kernel_get (f->client, "k", NULL, &err);
  g_assert_no_error (err);
  json = bgr_kernel_to_json (k);
  got_json = bgr_kernel_to_json (got);
  g_assert_cmpstr (json, ==, got_json);

  bgr_kernel_spec_set_kernel (spec, f->kernel);
  sync = bgr_client_kernel_import (f->client, spec, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (bgr_kernel_get_format (sync), ==, bgr_kernel_get_format (k));
  g_assert_cmpstr (bgr_kernel_get_version (sync), ==, bgr_kernel_get_version (k));
  g_assert_cmpstr (bgr_kernel_get_source (sync), ==, bgr_kernel_get_source (k));
  g_assert_cmpint (bgr_kernel_get_size (sync), ==, bgr_kernel_get_size (k));

  before = state_tree (f);
  g_cancellable_cancel (cancellable);
  cancelled = import_kernel_async (f, "k-cancelled", cancellable, &err);
  g_assert_null (cancelled);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_CANCELLED);
  g_clear_error (&err);
  g_assert_null (bgr_client_kernel_get (f->client, "k-cancelled", NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  after = state_tree (f);
  g_assert_cmpstr (after, ==, before);
}

static BgrImage *
promote_async (Fixture *f, const char *name, BgrOperation *op, GError **error)
{
  g_autoptr (GAsyncResult) res = NULL;

  bgr_client_image_promote_async (f->client, name, op, NULL, on_done, f);
  res = wait_result (f);
  return bgr_client_image_promote_finish (f->client, res, error);
}

/* A promoted image is the one image_get shows, and like one promoted by
 * the sync call; a promote whose operation was cancelled leaves the image
 * unmanaged and nothing in the state directory. */
static void
test_image_promote (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrOperation) op = bgr_operation_new ();
  g_autoptr (BgrOperation) cancelled_op = bgr_operation_new ();
  g_autoptr (BgrImage) img = NULL;
  g_autoptr (BgrImage) got = NULL;
  g_autoptr (BgrImage) sync = NULL;
  g_autoptr (BgrImage) cancelled = NULL;
  g_autoptr (BgrImage) still = NULL;
  g_autofree char *json = NULL, *got_json = NULL, *before = NULL, *after = NULL;
  Progress p;
  gulong id;

  add_kernel_and_image (f);
  register_image (f, "img-sync");
  register_image (f, "img-cancelled");

  id = progress_watch (op, &p, FALSE);
  img = promote_async (f, "img", op, &err);
  g_assert_no_error (err);
  progress_unwatch (op, &p, id);
  g_assert_true (bgr_image_get_managed (img));
  g_assert_cmpstr (bgr_image_get_source (img), ==, "promoted");
  g_assert_false (g_str_equal (bgr_image_get_rootfs_path (img), f->rootfs));
  got = bgr_client_image_get (f->client, "img", NULL, &err);
  g_assert_no_error (err);
  json = bgr_image_to_json (img);
  got_json = bgr_image_to_json (got);
  g_assert_cmpstr (json, ==, got_json);

  sync = bgr_client_image_promote (f->client, "img-sync", NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_true (bgr_image_get_managed (sync));
  g_assert_cmpint (bgr_image_get_size (sync), ==, bgr_image_get_size (img));
  g_assert_cmpstr (bgr_image_get_source (sync), ==, bgr_image_get_source (img));
  g_assert_cmpstr (bgr_image_get_kernel_ref (sync), ==, bgr_image_get_kernel_ref (img));

  before = state_tree (f);
  bgr_operation_cancel (cancelled_op);
  cancelled = promote_async (f, "img-cancelled", cancelled_op, &err);
  g_assert_null (cancelled);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_CANCELLED);
  g_clear_error (&err);
  still = bgr_client_image_get (f->client, "img-cancelled", NULL, &err);
  g_assert_no_error (err);
  g_assert_false (bgr_image_get_managed (still));
  g_assert_cmpstr (bgr_image_get_rootfs_path (still), ==, f->rootfs);
  after = state_tree (f);
  g_assert_cmpstr (after, ==, before);
}

static BgrKernel *
pull_kernel_async (Fixture *f, BgrOperation *op, GCancellable *cancellable, GError **error)
{
  g_autoptr (GAsyncResult) res = NULL;

  bgr_client_kernel_pull_async (f->client, "cat", op, cancellable, on_done, f);
  res = wait_result (f);
  return bgr_client_kernel_pull_finish (f->client, res, error);
}

/* A kernel pulled async is the one kernel_get shows and like one the sync
 * call pulls; its download's progress never goes back and ends whole; a
 * pre-cancelled pull leaves nothing. */
static void
test_kernel_pull (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrOperation) op = bgr_operation_new ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (BgrKernel) k = NULL, got = NULL, sync = NULL, cancelled = NULL;
  g_autofree char *json = NULL, *got_json = NULL, *before = NULL, *after = NULL;
  Progress p;
  gulong id;

  id = progress_watch (op, &p, FALSE);
  k = pull_kernel_async (f, op, NULL, &err);
  g_assert_no_error (err);
  progress_unwatch (op, &p, id);
  g_assert_cmpuint (p.n, >, 0);
  g_assert_cmpuint (p.done, ==, BGR_TEST_KERNEL_SIZE);
  g_assert_cmpuint (p.total, ==, BGR_TEST_KERNEL_SIZE);
  g_assert_cmpstr (bgr_kernel_get_name (k), ==, "cat");
  got = bgr_client_kernel_get (f->client, "cat", NULL, &err);
  g_assert_no_error (err);
  json = bgr_kernel_to_json (k);
  got_json = bgr_kernel_to_json (got);
  g_assert_cmpstr (json, ==, got_json);

  g_assert_true (bgr_client_kernel_delete (f->client, "cat", NULL, &err));
  g_assert_no_error (err);
  sync = bgr_client_kernel_pull (f->client, "cat", NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (bgr_kernel_get_format (sync), ==, bgr_kernel_get_format (k));
  g_assert_cmpstr (bgr_kernel_get_source (sync), ==, bgr_kernel_get_source (k));
  g_assert_cmpint (bgr_kernel_get_size (sync), ==, bgr_kernel_get_size (k));
  g_assert_true (bgr_client_kernel_delete (f->client, "cat", NULL, &err));
  g_assert_no_error (err);

  before = state_tree (f);
  g_cancellable_cancel (cancellable);
  cancelled = pull_kernel_async (f, NULL, cancellable, &err);
  g_assert_null (cancelled);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_CANCELLED);
  g_clear_error (&err);
  g_assert_null (bgr_client_kernel_get (f->client, "cat", NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  after = state_tree (f);
  g_assert_cmpstr (after, ==, before);
}

static BgrImage *
pull_image_async (Fixture *f, const char *name, BgrOperation *op, GError **error)
{
  g_autoptr (BgrPullOptions) opts = bgr_pull_options_new ();
  g_autofree char *ref = bgr_test_registry_ref ();
  g_autoptr (GAsyncResult) res = NULL;

  bgr_pull_options_set_name (opts, name);
  bgr_client_image_pull_async (f->client, ref, opts, op, NULL, on_done, f);
  res = wait_result (f);
  return bgr_client_image_pull_finish (f->client, res, error);
}

/* Cancels the pull once part of its layer arrived. */
static void
cancel_mid_layer (BgrOperation *op, gpointer data)
{
  if (bgr_operation_get_done (op) > 0 && !bgr_operation_is_cancelled (op))
    {
      *(gboolean *) data = TRUE;
      bgr_operation_cancel (op);
    }
}

/* A pull cancelled half way through its layer (the registry holds the
 * rest) fails with BGR_ERROR_CANCELLED, leaves the state directory as it
 * was and pins no blob; then an image pulled async is the one image_get
 * shows and like one the sync call pulls, its progress never back. */
static void
test_image_pull (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrOperation) op = bgr_operation_new ();
  g_autoptr (BgrOperation) cancel_op = bgr_operation_new ();
  g_autoptr (BgrImage) img = NULL, got = NULL, sync = NULL, cancelled = NULL;
  g_autoptr (GPtrArray) cache = NULL;
  g_autofree char *json = NULL, *got_json = NULL, *before = NULL, *after = NULL;
  gboolean cancel_sent = FALSE;
  Progress p;
  gulong id;

  add_kernel_and_image (f);
  before = state_tree (f);
  bgr_test_registry_hold_layer (G_MAXUINT);
  id = g_signal_connect (cancel_op, "changed", G_CALLBACK (cancel_mid_layer), &cancel_sent);
  cancelled = pull_image_async (f, "app-cancelled", cancel_op, &err);
  g_signal_handler_disconnect (cancel_op, id);
  bgr_test_registry_release ();
  g_assert_null (cancelled);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_CANCELLED);
  g_assert_true (cancel_sent);
  g_clear_error (&err);
  g_assert_null (bgr_client_image_get (f->client, "app-cancelled", NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_clear_error (&err);
  after = state_tree (f);
  g_assert_cmpstr (after, ==, before);
  cache = bgr_client_image_cache_list (f->client, NULL, &err);
  g_assert_no_error (err);
  for (guint i = 0; i < cache->len; i++)
    g_assert_false (bgr_cache_blob_get_in_use (cache->pdata[i]));

  id = progress_watch (op, &p, FALSE);
  img = pull_image_async (f, "app", op, &err);
  g_assert_no_error (err);
  progress_unwatch (op, &p, id);
  g_assert_cmpuint (p.n, >, 0);
  g_assert_cmpuint (p.done, ==, p.total);
  g_assert_true (bgr_image_get_managed (img));
  g_assert_cmpstr (bgr_image_get_kernel_ref (img), ==, "k");
  got = bgr_client_image_get (f->client, "app", NULL, &err);
  g_assert_no_error (err);
  json = bgr_image_to_json (img);
  got_json = bgr_image_to_json (got);
  g_assert_cmpstr (json, ==, got_json);
  {
    g_autoptr (BgrPullOptions) opts = bgr_pull_options_new ();
    g_autofree char *ref = bgr_test_registry_ref ();
    bgr_pull_options_set_name (opts, "app-sync");
    sync = bgr_client_image_pull (f->client, ref, opts, NULL, NULL, &err);
    g_assert_no_error (err);
  }
  g_assert_cmpint (bgr_image_get_size (sync), ==, bgr_image_get_size (img));
  g_assert_cmpstr (bgr_image_get_source (sync), ==, bgr_image_get_source (img));
  g_assert_cmpstr (bgr_image_get_kernel_ref (sync), ==, bgr_image_get_kernel_ref (img));
}

/* create, exec, stop, start, delete: all async, each result what the sync
 * calls show, the boots' progress in order. */
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
  g_autoptr (GError) err = NULL;
  g_autofree char *text = NULL;
  static const struct {
    const char *name;
    void (*func) (Fixture *, gconstpointer);
  } tests[] = {
    { "kernel-import", test_kernel_import },
    { "image-promote", test_image_promote },
    { "kernel-pull", test_kernel_pull },
    { "image-pull", test_image_pull },
    { "vm-lifecycle", test_vm_lifecycle },
    { "vm-create-cancel", test_vm_create_cancel },
    { "doctor", test_doctor },
  };
  int ret;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* Once, before any thread: bangerd and the fake VMs' agents see them. */
  bgr_test_export_dirs ();
  bangerd = bgr_test_program ("BANGERD");
  top_dir = g_dir_make_tmp ("bgr-as-XXXXXX", &err);
  g_assert_no_error (err);
  os_release = g_build_filename (top_dir, "os-release", NULL);
  text = g_strdup_printf ("ID=asynctest\nPRETTY_NAME=\"%s\"\n", OS_NAME);
  g_file_set_contents (os_release, text, -1, &err);
  g_assert_no_error (err);
  g_setenv ("BANGER_AGENT_OS_RELEASE", os_release, TRUE);
  bgr_test_make_files (top_dir);
  bgr_test_server_start ();

  for (guint i = 0; i < G_N_ELEMENTS (tests); i++)
    for (int dbus = 0; dbus < 2; dbus++)
      {
        g_autofree char *path = g_strdup_printf ("/async/%s/%s", dbus ? "dbus" : "local",
                                                 tests[i].name);
        g_test_add (path, Fixture, GINT_TO_POINTER (dbus), fixture_setup, tests[i].func,
                    fixture_teardown);
      }
  ret = g_test_run ();
  bgr_rm_rf (top_dir, NULL);
  g_free (os_release);
  g_free (top_dir);
  return ret;
}
