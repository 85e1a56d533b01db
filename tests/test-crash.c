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
 * and fails when one was never reached. */
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

#define WAIT_MS 20000

static guint points_reached;

/* ---- one point's directories and engine ------------------------------------------ */

typedef struct {
  char *dir;   /* /tmp/bgr-cr-XXXXXX: short, for the agents' unix sockets */
  char *state, *cache, *config_path;
  BgrConfig *config;
  BgrEngine *engine;
} Fixture;

static BgrEngine *
engine_open (Fixture *f)
{
  g_autoptr (GError) err = NULL;

  if (f->engine == NULL)
    {
      f->engine = bgr_engine_new (f->config, &err);
      g_assert_no_error (err);
    }
  return f->engine;
}

static void
engine_close (Fixture *f)
{
  g_clear_pointer (&f->engine, bgr_engine_free);
}

static void
fixture_setup (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *toml = NULL;

  f->dir = g_dir_make_tmp ("bgr-cr-XXXXXX", &err);
  g_assert_no_error (err);
  f->state = g_build_filename (f->dir, "state", NULL);
  f->cache = g_build_filename (f->dir, "cache", NULL);
  f->config_path = g_build_filename (f->dir, "banger.toml", NULL);
  toml = g_strdup_printf ("hypervisor = \"fake\"\n"
                          "state_dir = \"%s\"\n"
                          "cache_dir = \"%s\"\n"
                          "kernel_catalog_url = \"http://127.0.0.1:%u/kernels.json\"\n",
                          f->state, f->cache, bgr_test_srv.port);
  g_file_set_contents (f->config_path, toml, -1, &err);
  g_assert_no_error (err);
  f->config = bgr_config_load (f->config_path, &err);
  g_assert_no_error (err);
}

static guint
processes_left (Fixture *f)
{
  g_autoptr (GArray) pids = bgr_test_processes_mentioning (f->state);
  return pids->len;
}

static void
fixture_teardown (Fixture *f)
{
  g_autoptr (GArray) left = NULL;
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;

  engine_close (f);
  left = bgr_test_processes_mentioning (f->state);
  for (guint i = 0; i < left->len; i++)
    kill (g_array_index (left, gint, i), SIGKILL);
  while (processes_left (f) > 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (5000);
    }
  g_clear_object (&f->config);
  bgr_rm_rf (f->dir, NULL);
  g_free (f->dir);
  g_free (f->state);
  g_free (f->cache);
  g_free (f->config_path);
}

/* ---- the operations, through the engine (prepare and redo) ----------------------- */

static void
do_register (Fixture *f, const char *name)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrImage) img = bgr_engine_register_image (engine_open (f), name, bgr_test_rootfs_file,
                                                        NULL, bgr_test_kernel_file, NULL, NULL, NULL,
                                                        &err);
  g_assert_no_error (err);
  g_assert_cmpstr (bgr_image_get_name (img), ==, name);
}

static void
do_promote (Fixture *f, const char *name)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrImage) img = bgr_engine_promote_image (engine_open (f), name, NULL, &err);
  g_assert_no_error (err);
  g_assert_true (bgr_image_get_managed (img));
}

static void
do_import (Fixture *f, const char *name)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrKernel) k = bgr_engine_import_kernel (engine_open (f), name, bgr_test_kernel_file,
                                                      NULL, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (bgr_kernel_get_name (k), ==, name);
}

static void
do_pull_image (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrPullOptions) opts = bgr_pull_options_new ();
  g_autofree char *ref = bgr_test_registry_ref ();
  g_autoptr (BgrImage) img = NULL;

  bgr_pull_options_set_name (opts, "pulled");
  img = bgr_engine_pull_image (engine_open (f), ref, opts, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_true (bgr_image_get_managed (img));
}

static void
do_pull_kernel (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrKernel) k = bgr_engine_pull_kernel (engine_open (f), "cat", NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (bgr_kernel_get_name (k), ==, "cat");
}

static gboolean
image_exists (Fixture *f, const char *name)
{
  g_autoptr (BgrImage) img = bgr_engine_get_image (engine_open (f), name, NULL);
  return img != NULL;
}

static gboolean
kernel_exists (Fixture *f, const char *name)
{
  g_autoptr (BgrKernel) k = bgr_engine_get_kernel (engine_open (f), name, NULL);
  return k != NULL;
}

static void
delete_image (Fixture *f, const char *name)
{
  g_autoptr (GError) err = NULL;
  g_assert_true (bgr_engine_delete_image (engine_open (f), name, &err));
  g_assert_no_error (err);
}

static void
delete_kernel (Fixture *f, const char *name)
{
  g_autoptr (GError) err = NULL;
  g_assert_true (bgr_engine_delete_kernel (engine_open (f), name, &err));
  g_assert_no_error (err);
}

/* The VM's state, BGR_VM_STATE_UNKNOWN when there is none. */
static BgrVmState
vm_state (Fixture *f, const char *name)
{
  g_autoptr (BgrVm) vm = bgr_engine_get_vm (engine_open (f), name, NULL);
  return vm != NULL ? bgr_vm_get_state (vm) : BGR_VM_STATE_UNKNOWN;
}

static void
vm_create (Fixture *f, const char *name)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrVmSpec) spec = bgr_vm_spec_new (name);
  g_autoptr (BgrVm) vm = NULL;

  bgr_vm_spec_set_image (spec, "img");
  bgr_vm_spec_set_memory_mib (spec, 128);
  vm = bgr_engine_create_vm (engine_open (f), spec, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
}

static void
vm_start (Fixture *f, const char *name)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrVm) vm = bgr_engine_start_vm (engine_open (f), name, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
}

static void
vm_stop (Fixture *f, const char *name)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrVm) vm = bgr_engine_stop_vm (engine_open (f), name, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_STOPPED);
}

static void
vm_kill (Fixture *f, const char *name)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrVm) vm = bgr_engine_kill_vm (engine_open (f), name, &err);
  g_assert_no_error (err);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_STOPPED);
}

static void
vm_delete (Fixture *f, const char *name)
{
  g_autoptr (GError) err = NULL;
  g_assert_true (bgr_engine_delete_vm (engine_open (f), name, TRUE, &err));
  g_assert_no_error (err);
  g_assert_cmpint (vm_state (f, name), ==, BGR_VM_STATE_UNKNOWN);
}

/* Back to "the operation not done": the inverse operation where it was. */
static void
vm_ensure_running (Fixture *f, const char *name)
{
  BgrVmState s = vm_state (f, name);
  if (s == BGR_VM_STATE_UNKNOWN)
    vm_create (f, name);
  else if (s != BGR_VM_STATE_RUNNING)
    vm_start (f, name);
}

static void
vm_ensure_stopped (Fixture *f, const char *name)
{
  vm_ensure_running (f, name);
  vm_stop (f, name);
}

/* ---- operations: what is there before, the CLI call, the redo ---------------------- */

typedef struct {
  const char *operation;
  void (*prepare) (Fixture *f);
  const char *argv[10]; /* after `banger --local --config FILE`; "@REF" is the registry's */
  void (*redo) (Fixture *f);
} Operation;

static void
prepare_nothing (Fixture *f)
{
  (void) f;
}

static void
prepare_registered (Fixture *f)
{
  do_register (f, "img");
}

static void
git_in (const char *dir, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) err = NULL;
  gint status = -1;

  g_ptr_array_add (argv, (gpointer) "git");
  g_ptr_array_add (argv, (gpointer) "-c");
  g_ptr_array_add (argv, (gpointer) "user.name=T");
  g_ptr_array_add (argv, (gpointer) "-c");
  g_ptr_array_add (argv, (gpointer) "user.email=t@example.com");
  for (; *args != NULL; args++)
    g_ptr_array_add (argv, (gpointer) *args);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (dir, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                NULL, NULL, NULL, NULL, &status, &err);
  g_assert_no_error (err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

/* A registered image and a one-commit repository at DIR/repo (vm run's). */
static void
prepare_registered_repo (Fixture *f)
{
  g_autofree char *repo = g_build_filename (f->dir, "repo", NULL);
  g_autofree char *file = g_build_filename (repo, "README", NULL);

  do_register (f, "img");
  g_assert_cmpint (g_mkdir_with_parents (repo, 0700), ==, 0);
  g_assert_true (g_file_set_contents (file, "hello\n", -1, NULL));
  git_in (repo, (const char *[]){ "init", "-q", NULL });
  git_in (repo, (const char *[]){ "add", "-A", NULL });
  git_in (repo, (const char *[]){ "commit", "-q", "-m", "one", NULL });
}

static void
prepare_kernel (Fixture *f)
{
  do_import (f, "k");
}

static void
prepare_managed_with_base (Fixture *f)
{
  do_register (f, "img");
  do_promote (f, "img");
  /* A VM made (and gone) gives the image a VM base, which a delete removes. */
  vm_create (f, "v");
  vm_delete (f, "v");
}

static void
prepare_vm_running (Fixture *f)
{
  do_register (f, "img");
  vm_create (f, "v");
}

static void
prepare_vm_stopped (Fixture *f)
{
  prepare_vm_running (f);
  vm_stop (f, "v");
}

static void
redo_register (Fixture *f)
{
  if (image_exists (f, "img"))
    delete_image (f, "img");
  do_register (f, "img");
}

static void
redo_promote (Fixture *f)
{
  g_autoptr (BgrImage) img = bgr_engine_get_image (engine_open (f), "img", NULL);

  g_assert_nonnull (img);
  if (bgr_image_get_managed (img))
    {
      /* Done before the crash: do it all again. */
      delete_image (f, "img");
      do_register (f, "img");
    }
  do_promote (f, "img");
}

static void
redo_pull_image (Fixture *f)
{
  if (image_exists (f, "pulled"))
    delete_image (f, "pulled");
  do_pull_image (f);
}

/* A build VM a crash left is an ordinary VM: deleted before the redo. */
static void
delete_build_vms (Fixture *f)
{
  g_autoptr (GPtrArray) vms = bgr_engine_list_vms (engine_open (f), NULL);

  for (guint i = 0; i < vms->len; i++)
    if (g_str_has_prefix (bgr_vm_get_name (vms->pdata[i]), "build-"))
      vm_delete (f, bgr_vm_get_name (vms->pdata[i]));
}

static void
redo_build (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrBuildOptions) opts = bgr_build_options_new ("img");
  const char *run[] = { "true", NULL };
  g_autoptr (BgrImage) img = NULL;

  delete_build_vms (f);
  if (image_exists (f, "built"))
    delete_image (f, "built");
  bgr_build_options_set_run (opts, run);
  bgr_build_options_set_memory_mib (opts, 128);
  img = bgr_engine_build_image (engine_open (f), "built", opts, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_true (bgr_image_get_managed (img));
}

static void
redo_delete_image (Fixture *f)
{
  if (!image_exists (f, "img"))
    prepare_managed_with_base (f);
  delete_image (f, "img");
}

static void
redo_import (Fixture *f)
{
  if (kernel_exists (f, "k"))
    delete_kernel (f, "k");
  do_import (f, "k");
}

static void
redo_pull_kernel (Fixture *f)
{
  if (kernel_exists (f, "cat"))
    delete_kernel (f, "cat");
  do_pull_kernel (f);
}

static void
redo_delete_kernel (Fixture *f)
{
  if (!kernel_exists (f, "k"))
    do_import (f, "k");
  delete_kernel (f, "k");
}

static void
redo_create (Fixture *f)
{
  if (vm_state (f, "v") != BGR_VM_STATE_UNKNOWN)
    vm_delete (f, "v");
  vm_create (f, "v");
}

/* vm run's VM made again; its workspace is not: this test's fake guest is
 * this host, whose /root it must not write. */
static void
redo_run (Fixture *f)
{
  redo_create (f);
}

static void
redo_start (Fixture *f)
{
  vm_ensure_stopped (f, "v");
  vm_start (f, "v");
}

static void
redo_stop (Fixture *f)
{
  vm_ensure_running (f, "v");
  vm_stop (f, "v");
}

static void
redo_kill (Fixture *f)
{
  vm_ensure_running (f, "v");
  vm_kill (f, "v");
}

static void
redo_delete_vm (Fixture *f)
{
  if (vm_state (f, "v") == BGR_VM_STATE_UNKNOWN)
    vm_create (f, "v");
  vm_delete (f, "v");
}

static const Operation operations[] = {
  { "image-register", prepare_nothing,
    { "image", "register", "--name", "img", "--rootfs", "@ROOTFS", "--kernel", "@KERNEL" }, redo_register },
  { "image-promote", prepare_registered, { "image", "promote", "img" }, redo_promote },
  { "image-pull", prepare_kernel, { "image", "pull", "--name", "pulled", "@REF" }, redo_pull_image },
  { "image-build", prepare_registered,
    { "image", "build", "--from", "img", "--run", "true", "--memory", "128M", "built" }, redo_build },
  { "image-delete", prepare_managed_with_base, { "image", "delete", "img" }, redo_delete_image },
  { "kernel-import", prepare_nothing, { "kernel", "import", "--vmlinux", "@KERNEL", "k" }, redo_import },
  { "kernel-pull", prepare_nothing, { "kernel", "pull", "cat" }, redo_pull_kernel },
  { "kernel-delete", prepare_kernel, { "kernel", "delete", "k" }, redo_delete_kernel },
  { "vm-create", prepare_registered,
    { "vm", "create", "--name", "v", "--image", "img", "--memory", "128" }, redo_create },
  { "vm-run", prepare_registered_repo, { "vm", "run", "--name", "v", "--image", "img", "@REPO" },
    redo_run },
  { "vm-start", prepare_vm_stopped, { "vm", "start", "v" }, redo_start },
  { "vm-stop", prepare_vm_running, { "vm", "stop", "v" }, redo_stop },
  { "vm-kill", prepare_vm_running, { "vm", "kill", "v" }, redo_kill },
  { "vm-delete", prepare_vm_stopped, { "vm", "delete", "v" }, redo_delete_vm },
};

static const Operation *
operation_for (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (operations); i++)
    if (g_str_equal (operations[i].operation, name))
      return &operations[i];
  return NULL;
}

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
  printf ("# %u crash points covered, in %zu operations\n", n, G_N_ELEMENTS (operations));
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
