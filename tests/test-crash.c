/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Crash consistency at every named step. For each point of
 * bgr_crash_points[] (libbanger/bgr-crash.c; the list comes from the
 * code, not from here), the operation it belongs to runs as
 * `banger --local` with $BANGER_TEST_CRASH_AT naming the point, on a state
 * and cache directory of its own, VMs on the fake VMM, kernels from a
 * catalog and images from a registry both served by this test on
 * 127.0.0.1. The child must die there (status BGR_CRASH_EXIT_STATUS, the
 * point named on stderr). Then a fresh engine opens the same directories
 * and must converge: no VM left starting or stopping, no file without its
 * record and no record without its files, nothing in the layer cache or
 * among the VM bases that `image cache list` does not show, no process
 * left from the state directory but the VMMs of running VMs; and the
 * operation, redone, succeeds. The last case counts the points covered
 * and fails when one was never reached. The operations, and what is
 * there before each, are in crash-ops.c. */
#include "config.h"

#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "bgr-crash-private.h"
#include "bgr-fs-private.h"
#include "engine/bgr-engine-private.h"
#include "engine/bgr-engine-claims-private.h"
#include "bgr-test-ext4.h"
#include "bgr-test-registry.h"
#include "bgr-test-util.h"
#include "crash-ops.h"

static guint points_reached;

/* ---- convergence ------------------------------------------------------------------ */

static gboolean
vms_settled (Fixture *f)
{
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine_open (f)), "vm", NULL);

  for (guint i = 0; i < docs->len; i++)
    {
      const char *state = json_object_get_string_member_with_default (docs->pdata[i], "state", "");
      const char *name = json_object_get_string_member_with_default (docs->pdata[i], "name", "");
      if (g_str_equal (state, "starting") || g_str_equal (state, "stopping")
          || bgr_engine_vm_is_busy (f->engine, name))
        return FALSE;
    }
  return TRUE;
}

static void
assert_exists (const char *what, const char *path)
{
  if (path == NULL || !g_file_test (path, G_FILE_TEST_EXISTS))
    g_error ("%s: %s does not exist, yet its record names it", what, path != NULL ? path : "(none)");
}

/* Every entry of STATE/@sub is a directory a record of @kind names. */
static void
assert_dirs_have_records (Fixture *f, const char *sub, const char *kind, gboolean managed_only)
{
  g_autofree char *dir = g_build_filename (f->state, sub, NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *entry;

  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    {
      g_autoptr (JsonObject) doc = bgr_store_load (bgr_engine_get_store (f->engine), kind, entry, NULL);
      if (doc == NULL || (managed_only && !json_object_get_boolean_member_with_default (doc, "managed", FALSE)))
        g_error ("%s/%s has no %s record that owns it", dir, entry, kind);
    }
}

static void
assert_records_have_files (Fixture *f)
{
  BgrStore *store = bgr_engine_get_store (f->engine);
  g_autoptr (GPtrArray) images = bgr_store_load_all (store, "image", NULL);
  g_autoptr (GPtrArray) kernels = bgr_store_load_all (store, "kernel", NULL);
  g_autoptr (GPtrArray) vms = bgr_store_load_all (store, "vm", NULL);
  g_autoptr (GHashTable) run_dirs = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *run = g_build_filename (f->state, "run", NULL);
  g_autoptr (GDir) d = NULL;
  const char *entry;

  for (guint i = 0; i < images->len; i++)
    assert_exists ("image", json_object_get_string_member_with_default (images->pdata[i], "rootfs", NULL));
  for (guint i = 0; i < kernels->len; i++)
    assert_exists ("kernel", json_object_get_string_member_with_default (kernels->pdata[i], "kernel", NULL));
  for (guint i = 0; i < vms->len; i++)
    {
      JsonObject *doc = vms->pdata[i];
      g_assert_false (json_object_has_member (doc, "creating"));
      assert_exists ("VM", json_object_get_string_member_with_default (doc, "dir", NULL));
      assert_exists ("VM", json_object_get_string_member_with_default (doc, "rootfs", NULL));
      g_hash_table_add (run_dirs, (gpointer) json_object_get_string_member_with_default (doc, "run_dir", ""));
    }
  d = g_dir_open (run, 0, NULL);
  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (run, entry, NULL);
      if (!g_hash_table_contains (run_dirs, path))
        g_error ("%s: no VM record names it", path);
    }
}

/* Every file of CACHE/@sub is an entry of `image cache list`. */
static void
assert_cache_listed (Fixture *f, GPtrArray *listed, const char *sub)
{
  g_autofree char *dir = g_build_filename (f->cache, sub, NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *entry;

  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, entry, NULL);
      gboolean found = FALSE;
      for (guint i = 0; i < listed->len && !found; i++)
        found = g_str_equal (bgr_cache_blob_get_path (listed->pdata[i]), path);
      if (!found)
        g_error ("%s is in the cache, but `image cache list` does not show it", path);
    }
}

/* Only the VMMs of running VMs run from the state directory. */
static void
assert_processes_known (Fixture *f)
{
  g_autoptr (GArray) pids = bgr_test_processes_mentioning (f->state);
  g_autoptr (GPtrArray) vms = bgr_engine_list_vms (f->engine, NULL);

  for (guint i = 0; i < pids->len; i++)
    {
      gint pid = g_array_index (pids, gint, i);
      gboolean known = FALSE;
      for (guint j = 0; j < vms->len && !known; j++)
        known = bgr_vm_get_state (vms->pdata[j]) == BGR_VM_STATE_RUNNING
                && bgr_vm_get_pid (vms->pdata[j]) == pid;
      if (!known)
        g_error ("process %d runs from %s, but no running VM is it", pid, f->state);
    }
}

static void
assert_converged (Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) listed = NULL;

  engine_open (f);
  /* Adoption finishes a boot or a stop in the background. */
  while (!vms_settled (f))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("a VM is still starting or stopping after %d ms", WAIT_MS);
      g_usleep (5000);
    }
  assert_dirs_have_records (f, "images", "image", TRUE);
  assert_dirs_have_records (f, "kernels", "kernel", FALSE);
  assert_dirs_have_records (f, "vms", "vm", FALSE);
  assert_records_have_files (f);
  listed = bgr_engine_list_image_cache (f->engine, &err);
  g_assert_no_error (err);
  assert_cache_listed (f, listed, "oci/blobs/sha256");
  assert_cache_listed (f, listed, "vm-bases");
  assert_processes_known (f);
}

/* ---- one point ------------------------------------------------------------------------ */

static void
run_crashing (Fixture *f, const Operation *op, const char *point)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) err = NULL;
  g_auto (GStrv) env = g_get_environ ();
  g_autofree char *out = NULL, *errout = NULL, *want = NULL;
  gint status = -1;

  g_ptr_array_add (argv, g_strdup (bgr_test_program ("BANGER_CLI")));
  g_ptr_array_add (argv, g_strdup ("--local"));
  g_ptr_array_add (argv, g_strdup_printf ("--config=%s", f->config_path));
  for (gsize i = 0; i < G_N_ELEMENTS (op->argv) && op->argv[i] != NULL; i++)
    {
      const char *a = op->argv[i];
      if (g_str_equal (a, "@REF"))
        g_ptr_array_add (argv, bgr_test_registry_ref ());
      else if (g_str_equal (a, "@KERNEL"))
        g_ptr_array_add (argv, g_strdup (bgr_test_kernel_file));
      else if (g_str_equal (a, "@REPO"))
        g_ptr_array_add (argv, g_build_filename (f->dir, "repo", NULL));
      else if (g_str_equal (a, "@ROOTFS"))
        g_ptr_array_add (argv, g_strdup (bgr_test_rootfs_file));
      else
        g_ptr_array_add (argv, g_strdup (a));
    }
  g_ptr_array_add (argv, NULL);
  env = g_environ_setenv (env, BGR_CRASH_ENV, point, TRUE);
  g_spawn_sync (NULL, (char **) argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL, &out, &errout,
                &status, &err);
  g_assert_no_error (err);
  g_test_message ("%s: status %d\nstdout: %s\nstderr: %s", point, status, out, errout);
  /* It died at that point, and there only. */
  if (!WIFEXITED (status) || WEXITSTATUS (status) != BGR_CRASH_EXIT_STATUS)
    g_error ("%s: the operation did not stop at the point (wait status %d)\nstderr: %s", point,
             status, errout);
  want = g_strdup_printf ("banger: test crash at %s\n", point);
  bgr_assert_contains (errout, want);
}

static void
test_point (gconstpointer data)
{
  const BgrCrashPoint *p = data;
  const Operation *op = operation_for (p->operation);
  Fixture f = { 0 };

  if (op == NULL)
    g_error ("crash point %s: this test does not know operation %s", p->name, p->operation);
  fixture_setup (&f);
  op->prepare (&f);
  engine_close (&f);
  run_crashing (&f, op, p->name);
  points_reached++;
  assert_converged (&f);
  op->redo (&f);
  assert_converged (&f);
  fixture_teardown (&f);
}

static void
test_all_reached (void)
{
  guint n = 0;

  for (const BgrCrashPoint *p = bgr_crash_points; p->name != NULL; p++)
    n++;
  /* Run last: every point ran above, and each one was reached. */
  g_assert_cmpuint (n, >, 0);
  g_assert_cmpuint (points_reached, ==, n);
  printf ("# %u crash points covered, in %zu operations\n", n, operations_count ());
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *work = NULL;
  int rc;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* Exported once, before any thread: the programs run see them. */
  bgr_test_export_dirs ();
  work = g_dir_make_tmp ("bgr-crash-XXXXXX", &err);
  g_assert_no_error (err);
  bgr_test_make_files (work);
  bgr_test_server_start ();
  for (const BgrCrashPoint *p = bgr_crash_points; p->name != NULL; p++)
    {
      g_autofree char *path = g_strdup_printf ("/crash/%s", p->name);
      g_test_add_data_func (path, p, test_point);
    }
  g_test_add_func ("/crash/zz-all-points-reached", test_all_reached);
  rc = g_test_run ();
  bgr_rm_rf (work, NULL);
  return rc;
}
