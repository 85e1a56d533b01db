/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-crash's operations: see crash-ops.h. */
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

/* ---- one point's directories and engine ------------------------------------------ */

BgrEngine *
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

void
engine_close (Fixture *f)
{
  g_clear_pointer (&f->engine, bgr_engine_free);
}

void
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

void
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

gsize
operations_count (void)
{
  return G_N_ELEMENTS (operations);
}

const Operation *
operation_for (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (operations); i++)
    if (g_str_equal (operations[i].operation, name))
      return &operations[i];
  return NULL;
}
