/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The composition root: makes the engine's modules and wires them
 * together. It is the only file that knows all of them, and no module
 * calls it: they reach what they share through bgr-engine-core.c. */
#include "config.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

#include "bgr-fs-private.h"
#include "bgr-types-private.h"
#include "engine/bgr-engine-adopt-private.h"
#include "engine/bgr-engine-agent-private.h"
#include "engine/bgr-engine-claims-private.h"
#include "engine/bgr-engine-core-private.h"
#include "engine/bgr-engine-forward-private.h"
#include "engine/bgr-engine-guest-private.h"
#include "engine/bgr-engine-reconcile-private.h"
#include "engine/bgr-engine-usage-private.h"
#include "engine/bgr-engine-vm-record-private.h"

/* Work directories an engine that died mid-operation left behind. Only
 * the engine holding the state lock can be using them, and that is us. */
static void
sweep_leftovers (const char *dir, const char *const *prefixes)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    for (const char *const *p = prefixes; *p != NULL; p++)
      if (g_str_has_prefix (name, *p))
        {
          g_autofree char *path = g_build_filename (dir, name, NULL);
          g_info ("removing leftover %s", path);
          bgr_rm_rf (path, NULL);
          break;
        }
}

static void
sweep (BgrConfig *config)
{
  static const char *const staging[] = { ".staging-", ".deleting-", NULL };
  static const char *const modules[] = { ".modules-", NULL };
  static const char *const apt[] = { ".download-", NULL };
  const char *state = bgr_config_get_string (config, "state_dir");
  const char *cache = bgr_config_get_string (config, "cache_dir");
  g_autofree char *kernels = g_build_filename (state, "kernels", NULL);
  g_autofree char *images = g_build_filename (state, "images", NULL);
  g_autofree char *vms = g_build_filename (state, "vms", NULL);
  static const char *const deleting[] = { ".deleting-", NULL };
  g_autofree char *aptdir = g_build_filename (cache, "apt", NULL);

  sweep_leftovers (kernels, staging);
  sweep_leftovers (images, staging);
  sweep_leftovers (vms, deleting);
  sweep_leftovers (cache, modules);
  sweep_leftovers (aptdir, apt);
}

/* The string members of @kind's records that name files, added to @paths.
 * FALSE when a record cannot be read: it might name anything. */
static gboolean
record_paths (BgrStore *store, const char *kind, GPtrArray *paths)
{
  static const char *const members[] = { "rootfs", "work_seed", "kernel", "initrd", "modules",
                                          "rootfs_origin", "work_seed_origin", "kernel_origin",
                                          "initrd_origin", "modules_origin", NULL };
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr (GPtrArray) docs = bgr_store_load_all (store, kind, errors);

  for (guint i = 0; i < docs->len; i++)
    for (const char *const *m = members; *m != NULL; m++)
      {
        const char *v = json_object_get_string_member_with_default (docs->pdata[i], *m, NULL);
        if (v != NULL && *v != '\0')
          g_ptr_array_add (paths, g_strdup (v));
      }
  return errors->len == 0;
}

/* STATE/KIND_DIR/NAME directories with no KIND/NAME record: a pull,
 * import or promote renames its staging directory into place, then writes
 * the record; a crash between the two leaves a directory nothing shows.
 * Only what the engine makes goes: directories (not links) with a valid
 * name, and none that holds a file a record names (an image registered
 * with its files there belongs to its user). */
static void
sweep_orphans (BgrStore *store, const char *kind, const char *kind_dir, GPtrArray *paths)
{
  g_autofree char *dir = g_build_filename (bgr_store_get_dir (store), kind_dir, NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *prefix = g_strconcat (path, "/", NULL);
      g_autoptr (JsonObject) doc = NULL;
      gboolean named = FALSE;
      GStatBuf st;

      if (!bgr_store_name_is_valid (name) || g_lstat (path, &st) != 0 || !S_ISDIR (st.st_mode))
        continue;
      doc = bgr_store_load (store, kind, name, NULL);
      /* A registered image's record may be there while its files are not:
       * a promote that died between moving them in and saving. */
      if (doc != NULL && (!g_str_equal (kind, "image")
                          || json_object_get_boolean_member_with_default (doc, "managed", FALSE)))
        continue;
      for (guint i = 0; i < paths->len && !named; i++)
        named = g_str_equal (paths->pdata[i], path) || g_str_has_prefix (paths->pdata[i], prefix);
      if (named)
        continue;
      g_message ("removing %s: no managed %s record names it (left by an interrupted pull, "
                 "import or promote)", path, kind);
      bgr_rm_rf (path, NULL);
    }
}

/* STATE/run/ID directories no VM record names: a delete that died
 * between removing the record and the directory. A process still running
 * from one (a VMM nothing knows) goes with it. */
static void
sweep_run_dirs (BgrStore *store)
{
  g_autofree char *dir = g_build_filename (bgr_store_get_dir (store), "run", NULL);
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr (GPtrArray) docs = bgr_store_load_all (store, BGR_VM_KIND, errors);
  g_autoptr (GHashTable) named = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GDir) d = NULL;
  const char *name;

  if (errors->len > 0)
    return; /* an unreadable record might name any of them */
  for (guint i = 0; i < docs->len; i++)
    {
      const char *run_dir = json_object_get_string_member_with_default (docs->pdata[i], "run_dir", NULL);
      if (run_dir != NULL)
        g_hash_table_add (named, (gpointer) run_dir);
    }
  d = g_dir_open (dir, 0, NULL);
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      GStatBuf st;

      if (g_hash_table_contains (named, path) || g_lstat (path, &st) != 0 || !S_ISDIR (st.st_mode))
        continue;
      bgr_vmm_kill_strays (path);
      g_info ("removing %s: no VM record names it (left by an interrupted delete)", path);
      bgr_rm_rf (path, NULL);
    }
}

static void
sweep_records (BgrStore *store)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  sweep_run_dirs (store);

  /* An unreadable record might name files anywhere: remove nothing. */
  if (!record_paths (store, "image", paths) || !record_paths (store, "kernel", paths))
    return;
  sweep_orphans (store, "image", "images", paths);
  sweep_orphans (store, "kernel", "kernels", paths);
}

BgrEngine *
bgr_engine_new (BgrConfig *config, GError **error)
{
  g_autoptr (BgrStore) store = NULL;
  BgrEngineParts parts;
  BgrEngine *engine;

  bgr_types_ensure (); /* before the engine's threads start */
  /* The store checks state_dir; the cache holds blobs and kernels that
   * VMs boot from, so it must be as private. */
  store = bgr_store_open (bgr_config_get_string (config, "state_dir"), error);
  if (store == NULL)
    return NULL;
  if (!bgr_ensure_private_dir (bgr_config_get_string (config, "cache_dir"), 0700, "cache_dir",
                               error))
    return NULL;
  sweep (config);
  sweep_records (store);
  parts.usage = bgr_engine_usage_new ();
  parts.claims = bgr_vm_claims_new ();
  parts.agents = bgr_vm_agents_new ();
  parts.samples = bgr_vm_samples_new ();
  parts.adoptions = bgr_vm_adoptions_new ();
  parts.forwards = bgr_vm_forwards_new ();
  engine = bgr_engine_core_new (config, g_steal_pointer (&store), &parts);
  g_debug ("engine owns %s", bgr_store_get_dir (bgr_engine_get_store (engine)));
  bgr_engine_usage_load (engine);
  bgr_engine_adopt_vms (engine);
  /* What an engine that died left half done, finished in the background. */
  bgr_vm_adopt_in_flight (engine);
  return engine;
}

void
bgr_engine_free (BgrEngine *engine)
{
  BgrEngineParts parts;

  if (engine == NULL)
    return;
  bgr_vm_adoptions_stop (engine);
  bgr_vm_forwards_stop (engine);
  bgr_engine_core_free (engine, &parts);
  bgr_vm_forwards_free (parts.forwards);
  bgr_vm_adoptions_free (parts.adoptions);
  bgr_vm_samples_free (parts.samples);
  bgr_vm_agents_free (parts.agents);
  bgr_vm_claims_free (parts.claims);
  bgr_engine_usage_free (parts.usage);
}
