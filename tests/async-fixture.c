/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fixture of the `_async/_finish` tests (async-fixture.h): a local
 * client or bangerd on a private bus, with the fake VMM and the state and
 * cache in a temporary directory; waits on the main loop against a
 * deadline; progress checks; the catalog and registry of
 * bgr-test-registry.h. */
#include "config.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "async-fixture.h"
#include "bgr-fs-private.h"
#include "bgr-test-ext4.h"
#include "bgr-test-registry.h"

static const char *bangerd;
static char *top_dir;    /* /tmp/bgr-as-XXXXXX: short, for the agents' sockets */
char *os_release; /* $BANGER_AGENT_OS_RELEASE of every fake VM */


/* ---- waiting on the main loop --------------------------------------------- */

void
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
GAsyncResult *
wait_result (Fixture *f)
{
  guint timeout = g_timeout_add_seconds (WAIT_S, on_timeout, NULL);

  g_main_loop_run (f->loop);
  g_source_remove (timeout);
  g_assert_nonnull (f->result);
  return g_steal_pointer (&f->result);
}

/* ---- progress ------------------------------------------------------------- */


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

gulong
progress_watch (BgrOperation *op, Progress *p, gboolean steps)
{
  memset (p, 0, sizeof *p);
  p->steps = steps;
  return g_signal_connect (op, "changed", G_CALLBACK (on_changed), p);
}

void
progress_unwatch (BgrOperation *op, Progress *p, gulong id)
{
  g_signal_handler_disconnect (op, id);
  g_clear_pointer (&p->phase, g_free);
}


gboolean
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
char *
state_tree (Fixture *f)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  list_tree (f->state, "", paths);
  g_ptr_array_sort (paths, cmp_paths);
  g_ptr_array_add (paths, NULL);
  return g_strjoinv ("\n", (char **) paths->pdata);
}

guint
n_vm_processes (Fixture *f)
{
  g_autofree char *needle = g_strdup_printf ("%s/", f->state);
  g_autoptr (GArray) pids = bgr_test_processes_mentioning (needle);
  return pids->len;
}

void
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

BgrKernel *
import_kernel_async (Fixture *f, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrKernelSpec) spec = bgr_kernel_spec_new (name);
  g_autoptr (GAsyncResult) res = NULL;

  bgr_kernel_spec_set_kernel (spec, f->kernel);
  bgr_client_kernel_import_async (f->client, spec, NULL, cancellable, on_done, f);
  res = wait_result (f);
  return bgr_client_kernel_import_finish (f->client, res, error);
}

void
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
void
add_kernel_and_image (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrKernel) k = import_kernel_async (f, "k", NULL, &err);

  g_assert_no_error (err);
  g_assert_cmpstr (bgr_kernel_get_name (k), ==, "k");
  register_image (f, "img");
}

BgrVmSpec *
vm_spec (const char *name)
{
  BgrVmSpec *spec = bgr_vm_spec_new (name);

  bgr_vm_spec_set_image (spec, "img");
  bgr_vm_spec_set_vcpus (spec, 1);
  bgr_vm_spec_set_memory_mib (spec, 128);
  return spec;
}

/* The async result is the VM the sync getter shows. */
void
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
char *
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

int
async_test_main (int argc, char **argv, const AsyncTest *tests, guint n_tests)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *text = NULL;
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

  for (guint i = 0; i < n_tests; i++)
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
