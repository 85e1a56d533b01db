/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Managed kernels and images: records in the store, files under
 * STATE/kernels/NAME and STATE/images/NAME. Every change is built in a
 * temporary directory and renamed into place before its record is written,
 * so a failure or a crash leaves nothing registered. */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-private.h"
#include "ext4/bgr-ext4-private.h"
#include "kernel/bgr-deb-private.h"
#include "kernel/bgr-initramfs-private.h"
#include "kernel/bgr-kernel-files-private.h"

static gboolean
check_name (const char *what, const char *name, GError **error)
{
  if (!bgr_store_name_is_valid (name) || strlen (name) > 63)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid %s name '%s': use 1-63 letters, digits, '-', '_' or '.', starting "
                   "with a letter or digit", what, name != NULL ? name : "");
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_absolute (const char *option, const char *path, GError **error)
{
  if (path != NULL && !g_path_is_absolute (path))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "%s must be an absolute path (got \"%s\")", option, path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_regular (const char *what, const char *path, GError **error)
{
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "%s %s does not exist", what, path);
      return FALSE;
    }
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "%s %s is not a regular file",
                   what, path);
      return FALSE;
    }
  return TRUE;
}

static char *
artifacts_dir (BgrEngine *engine, const char *kind_dir, const char *name)
{
  return g_build_filename (bgr_store_get_dir (bgr_engine_get_store (engine)), kind_dir, name, NULL);
}

/* A fresh temporary directory beside the final one (same filesystem, so
 * the final rename is atomic). */
static char *
make_staging (BgrEngine *engine, const char *kind_dir, const char *name, GError **error)
{
  g_autofree char *parent = g_build_filename (bgr_store_get_dir (bgr_engine_get_store (engine)),
                                               kind_dir, NULL);
  g_autofree char *tmpl = NULL;

  if (g_mkdir_with_parents (parent, 0700) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", parent);
      return NULL;
    }
  tmpl = g_strdup_printf ("%s/.staging-%s-XXXXXX", parent, name);
  if (g_mkdtemp_full (tmpl, 0755) == NULL)
    {
      bgr_set_error_errno (error, errno, "cannot create a staging directory in %s", parent);
      return NULL;
    }
  return g_steal_pointer (&tmpl);
}

/* Names being created right now, so that two imports of one name race
 * cleanly (one wins, the other gets EXISTS). Keys carry the state
 * directory; the table is shared by every engine of the process, hence its
 * own lock (taken inside the engine lock). */
G_LOCK_DEFINE_STATIC (reservations);
static GHashTable *reservations_table;

static GHashTable *
reservations (void)
{
  if (reservations_table == NULL)
    reservations_table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return reservations_table;
}

static gboolean
reserve (BgrEngine *engine, const char *kind, const char *name, GError **error)
{
  g_autofree char *key = g_strdup_printf ("%s/%s/%s", bgr_store_get_dir (bgr_engine_get_store (engine)),
                                          kind, name);
  g_autoptr (JsonObject) existing = NULL;
  gboolean ok = TRUE;

  bgr_engine_lock (engine);
  G_LOCK (reservations);
  existing = bgr_store_load (bgr_engine_get_store (engine), kind, name, NULL);
  if (existing != NULL || g_hash_table_contains (reservations (), key))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS, "a %s named '%s' already exists", kind, name);
      ok = FALSE;
    }
  else
    g_hash_table_add (reservations (), g_steal_pointer (&key));
  G_UNLOCK (reservations);
  bgr_engine_unlock (engine);
  return ok;
}

static void
unreserve (BgrEngine *engine, const char *kind, const char *name)
{
  g_autofree char *key = g_strdup_printf ("%s/%s/%s", bgr_store_get_dir (bgr_engine_get_store (engine)),
                                          kind, name);
  bgr_engine_lock (engine);
  G_LOCK (reservations);
  g_hash_table_remove (reservations (), key);
  G_UNLOCK (reservations);
  bgr_engine_unlock (engine);
}

/* Renames @dir out of the way (called with the engine lock held), so that
 * its removal, done later without the lock, cannot hit a newer object of
 * the same name. Returns the new path, or NULL when @dir does not exist. */
static char *
move_aside (const char *dir, GError **error)
{
  g_autofree char *parent = g_path_get_dirname (dir);
  g_autofree char *base = g_path_get_basename (dir);
  g_autofree char *aside = g_strdup_printf ("%s/.deleting-%s-XXXXXX", parent, base);

  if (!g_file_test (dir, G_FILE_TEST_EXISTS))
    return NULL;
  /* mkdtemp gives a unique name; rename() replaces the empty directory. */
  if (g_mkdtemp (aside) == NULL || rename (dir, aside) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot move %s aside", dir);
      return NULL;
    }
  return g_steal_pointer (&aside);
}

/* Deletes the record KIND/NAME and, when @with_files, moves its directory
 * DIR/NAME aside; called with the engine lock held, which it releases.
 * The files go after the lock: a crash leaves only unreferenced files. */
static gboolean
delete_record_unlock (BgrEngine *engine, const char *kind, const char *kind_dir,
                      const char *name, gboolean with_files, GError **error)
{
  g_autofree char *aside = NULL;
  gboolean ok = bgr_store_delete (bgr_engine_get_store (engine), kind, name, error);

  if (ok && with_files)
    {
      g_autofree char *final = artifacts_dir (engine, kind_dir, name);
      aside = move_aside (final, NULL);
    }
  bgr_engine_unlock (engine);
  if (!ok)
    return FALSE;
  return aside == NULL || bgr_rm_rf (aside, error);
}

/* ---- kernels ------------------------------------------------------------ */

/* Fills STAGING/initrd.img when the kernel builds virtio as modules. */
static gboolean
maybe_generate_initrd (const char *staging, const char *tree, const char *version,
                       JsonObject *doc, GError **error)
{
  g_autoptr (GHashTable) index = bgr_modules_index (tree, error);
  g_autoptr (GPtrArray) order = NULL;
  g_autofree char *initrd = NULL;

  if (index == NULL)
    return FALSE;
  order = bgr_modules_resolve (tree, bgr_microvm_modules, error);
  if (order == NULL)
    return FALSE;
  /* Everything a microVM needs is built in: the kernel boots without help. */
  if (order->len == 0)
    return TRUE;
  initrd = g_build_filename (staging, "initrd.img", NULL);
  if (!bgr_initramfs_write (initrd, tree, version, order, error))
    return FALSE;
  json_object_set_boolean_member (doc, "initrd_generated", TRUE);
  json_object_set_int_member (doc, "initrd_modules", order->len);
  return TRUE;
}

/* Moves STAGING to its final place, fixes the paths in @doc and saves it. */
static gboolean
commit_kernel (BgrEngine *engine, const char *staging, const char *name, JsonObject *doc,
               GError **error)
{
  g_autofree char *final = artifacts_dir (engine, "kernels", name);
  static const char *const path_members[] = { "kernel", "initrd", "modules", "config", NULL };

  if (!bgr_rm_rf (final, error)) /* leftovers of a crash before a record existed */
    return FALSE;
  if (rename (staging, final) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot move %s to %s", staging, final);
      return FALSE;
    }
  for (const char *const *m = path_members; *m != NULL; m++)
    {
      const char *rel = json_object_get_string_member_with_default (doc, *m, NULL);
      if (rel != NULL && !g_path_is_absolute (rel))
        {
          g_autofree char *abs = g_build_filename (final, rel, NULL);
          json_object_set_string_member (doc, *m, abs);
        }
    }
  json_object_set_int_member (doc, "size", (gint64) bgr_path_size (final));
  json_object_set_int_member (doc, "created", g_get_real_time () / G_USEC_PER_SEC);
  if (!bgr_store_save (bgr_engine_get_store (engine), "kernel", name, doc, error))
    {
      bgr_rm_rf (final, NULL);
      return FALSE;
    }
  return TRUE;
}

BgrKernel *
bgr_engine_import_kernel (BgrEngine *engine, const char *name, const char *kernel,
                          const char *modules, const char *initrd, GCancellable *cancellable,
                          GError **error)
{
  g_autoptr (JsonObject) doc = json_object_new ();
  g_autofree char *staging = NULL;
  g_autofree char *version = NULL;
  g_autofree char *tree = NULL, *mod_version = NULL;
  g_autofree char *kernel_dest = NULL;
  g_autofree char *source = NULL;
  BgrKernelFormat format;
  gboolean ok = FALSE;

  if (!check_name ("kernel", name, error) || !check_absolute ("--kernel", kernel, error)
      || !check_absolute ("--modules", modules, error) || !check_absolute ("--initrd", initrd, error)
      || !check_regular ("kernel", kernel, error)
      || !bgr_kernel_detect_format (kernel, &format, &version, error)
      || (initrd != NULL && !check_regular ("initrd", initrd, error))
      || (modules != NULL && !bgr_modules_find_tree (modules, &tree, &mod_version, error)))
    return NULL;
  /* Modules of another kernel would refuse to load at boot. */
  if (version != NULL && mod_version != NULL && !g_str_equal (version, mod_version))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "kernel %s is version %s, but the modules in %s are for %s", kernel, version,
                   modules, mod_version);
      return NULL;
    }
  if (!reserve (engine, "kernel", name, error))
    return NULL;
  staging = make_staging (engine, "kernels", name, error);
  if (staging == NULL)
    goto out;
  kernel_dest = g_build_filename (staging, format == BGR_KERNEL_FORMAT_VMLINUX ? "vmlinux" : "vmlinuz",
                                  NULL);
  if (!bgr_copy_file (kernel, kernel_dest, cancellable, error))
    goto out;
  json_object_set_string_member (doc, "format", bgr_kernel_format_to_string (format));
  json_object_set_string_member (doc, "kernel",
                                 format == BGR_KERNEL_FORMAT_VMLINUX ? "vmlinux" : "vmlinuz");
  if (tree != NULL)
    {
      g_autofree char *mods = g_build_filename (staging, "modules", NULL);
      g_autofree char *mods_ver = g_build_filename (mods, mod_version, NULL);
      g_autofree char *rel = g_build_filename ("modules", mod_version, NULL);

      if (g_mkdir (mods, 0755) != 0 || !bgr_copy_tree (tree, mods_ver, cancellable, error))
        {
          if (error != NULL && *error == NULL)
            bgr_set_error_errno (error, errno, "cannot create %s", mods);
          goto out;
        }
      json_object_set_string_member (doc, "modules", rel);
      if (version == NULL)
        version = g_strdup (mod_version);
    }
  if (initrd != NULL)
    {
      g_autofree char *dest = g_build_filename (staging, "initrd.img", NULL);
      if (!bgr_copy_file (initrd, dest, cancellable, error))
        goto out;
      json_object_set_string_member (doc, "initrd", "initrd.img");
    }
  else if (tree != NULL)
    {
      g_autofree char *mods_ver = g_build_filename (staging, "modules", mod_version, NULL);
      if (!maybe_generate_initrd (staging, mods_ver, mod_version, doc, error))
        goto out;
      if (json_object_has_member (doc, "initrd_generated"))
        json_object_set_string_member (doc, "initrd", "initrd.img");
    }
  if (version != NULL)
    json_object_set_string_member (doc, "version", version);
  source = g_strdup_printf ("import:%s", kernel);
  json_object_set_string_member (doc, "source", source);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    goto out;
  ok = commit_kernel (engine, staging, name, doc, error);
out:
  if (!ok && staging != NULL)
    bgr_rm_rf (staging, NULL);
  unreserve (engine, "kernel", name);
  return ok ? bgr_kernel_new_from_json (doc) : NULL;
}

BgrKernel *
bgr_engine_import_kernel_deb (BgrEngine *engine, const char *name, const char *deb,
                              GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) doc = json_object_new ();
  g_autofree char *staging = NULL;
  g_autofree char *version = NULL;
  g_autofree char *kernel_version = NULL;
  g_autofree char *tmpname = NULL;
  g_autofree char *source = NULL;
  g_autofree char *kernel = NULL, *config = NULL, *tree = NULL;
  BgrKernelFormat format;
  gboolean ok = FALSE;
  const char *final_name = name;

  if ((name != NULL && !check_name ("kernel", name, error)) || !check_absolute ("--deb", deb, error)
      || !check_regular ("package", deb, error))
    return NULL;
  /* Unpack first (the name may come from the package's kernel version). */
  tmpname = g_strdup (name != NULL ? name : "deb");
  staging = make_staging (engine, "kernels", tmpname, error);
  if (staging == NULL)
    return NULL;
  if (!bgr_deb_extract_kernel (deb, staging, &version, cancellable, error))
    {
      bgr_rm_rf (staging, NULL);
      return NULL;
    }
  if (final_name == NULL)
    final_name = version;
  if (!check_name ("kernel", final_name, error) || !reserve (engine, "kernel", final_name, error))
    {
      bgr_rm_rf (staging, NULL);
      return NULL;
    }
  kernel = g_build_filename (staging, "vmlinuz", NULL);
  if (!bgr_kernel_detect_format (kernel, &format, &kernel_version, error))
    goto out;
  json_object_set_string_member (doc, "format", bgr_kernel_format_to_string (format));
  json_object_set_string_member (doc, "kernel", "vmlinuz");
  json_object_set_string_member (doc, "version", version);
  config = g_build_filename (staging, "config", NULL);
  if (g_file_test (config, G_FILE_TEST_EXISTS))
    json_object_set_string_member (doc, "config", "config");
  tree = g_build_filename (staging, "modules", version, NULL);
  if (g_file_test (tree, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *rel = g_build_filename ("modules", version, NULL);
      json_object_set_string_member (doc, "modules", rel);
      if (!maybe_generate_initrd (staging, tree, version, doc, error))
        goto out;
      if (json_object_has_member (doc, "initrd_generated"))
        json_object_set_string_member (doc, "initrd", "initrd.img");
    }
  source = g_strdup_printf ("deb:%s", deb);
  json_object_set_string_member (doc, "source", source);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    goto out;
  ok = commit_kernel (engine, staging, final_name, doc, error);
out:
  if (!ok)
    bgr_rm_rf (staging, NULL);
  unreserve (engine, "kernel", final_name);
  return ok ? bgr_kernel_new_from_json (doc) : NULL;
}

static void
log_load_errors (GPtrArray *errors)
{
  for (guint i = 0; i < errors->len; i++)
    g_warning ("%s", ((GError *) errors->pdata[i])->message);
}

GPtrArray *
bgr_engine_list_kernels (BgrEngine *engine, GError **error)
{
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), "kernel", errors);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_object_unref);

  log_load_errors (errors);
  for (guint i = 0; i < docs->len; i++)
    g_ptr_array_add (out, bgr_kernel_new_from_json (docs->pdata[i]));
  return out;
}

BgrKernel *
bgr_engine_get_kernel (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (GError) local_error = NULL;

  if (!check_name ("kernel", name, error))
    return NULL;
  doc = bgr_store_load (bgr_engine_get_store (engine), "kernel", name, &local_error);
  if (doc == NULL)
    {
      if (g_error_matches (local_error, BGR_ERROR, BGR_ERROR_NOT_FOUND))
        g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND,
                     "no kernel named '%s' (see `banger kernel list`)", name);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return bgr_kernel_new_from_json (doc);
}

/* Names of images whose kernel_ref is @kernel. Called with the lock held. */
static char *
images_using_kernel (BgrEngine *engine, const char *kernel)
{
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), "image", errors);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();

  /* An image record that cannot be read might refer to it: be safe. */
  if (errors->len > 0)
    return g_strdup_printf ("(unreadable: %s)", ((GError *) errors->pdata[0])->message);

  for (guint i = 0; i < docs->len; i++)
    if (g_strcmp0 (json_object_get_string_member_with_default (docs->pdata[i], "kernel_ref", NULL),
                   kernel) == 0)
      g_ptr_array_add (names, (gpointer) json_object_get_string_member (docs->pdata[i], "name"));
  if (names->len == 0)
    return NULL;
  g_ptr_array_add (names, NULL);
  return g_strjoinv (", ", (char **) names->pdata);
}

gboolean
bgr_engine_delete_kernel (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (BgrKernel) kernel = bgr_engine_get_kernel (engine, name, error);
  g_autofree char *users = NULL;

  if (kernel == NULL)
    return FALSE;
  bgr_engine_lock (engine);
  users = images_using_kernel (engine, name);
  if (users != NULL)
    {
      bgr_engine_unlock (engine);
      g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY,
                   "kernel '%s' is used by image(s) %s; delete them first", name, users);
      return FALSE;
    }
  return delete_record_unlock (engine, "kernel", "kernels", name, TRUE, error);
}

/* ---- images ------------------------------------------------------------- */

/* For a kernel_ref, show the managed kernel's files. */
BgrImage *
bgr_engine_image_view (BgrEngine *engine, JsonObject *doc)
{
  const char *ref = json_object_get_string_member_with_default (doc, "kernel_ref", NULL);
  g_autoptr (JsonObject) view = NULL;
  g_autoptr (JsonObject) kdoc = NULL;
  static const char *const inherited[] = { "initrd", "modules", NULL };
  GList *members;

  if (ref == NULL)
    return bgr_image_new_from_json (doc);
  kdoc = bgr_store_load (bgr_engine_get_store (engine), "kernel", ref, NULL);
  view = json_object_new ();
  members = json_object_get_members (doc);
  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (view, l->data, json_node_copy (json_object_get_member (doc, l->data)));
  g_list_free (members);
  if (kdoc != NULL)
    {
      json_object_set_string_member (view, "kernel",
                                     json_object_get_string_member_with_default (kdoc, "kernel", ""));
      for (const char *const *m = inherited; *m != NULL; m++)
        if (!json_object_has_member (view, *m) && json_object_has_member (kdoc, *m))
          json_object_set_string_member (view, *m, json_object_get_string_member (kdoc, *m));
    }
  return bgr_image_new_from_json (view);
}

BgrImage *
bgr_engine_register_image (BgrEngine *engine, const char *name, const char *rootfs,
                           const char *work_seed, const char *kernel, const char *kernel_ref,
                           const char *initrd, const char *modules, GError **error)
{
  g_autoptr (JsonObject) doc = json_object_new ();
  g_autofree char *tree = NULL, *mod_version = NULL;
  BgrKernelFormat format;
  guint64 size = 0;
  gboolean ok;

  if (!check_name ("image", name, error))
    return NULL;
  if (rootfs == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "an image needs a rootfs (--rootfs)");
      return NULL;
    }
  if ((kernel == NULL) == (kernel_ref == NULL))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "give exactly one of --kernel (a file) and --kernel-ref (a managed kernel)");
      return NULL;
    }
  if (!check_absolute ("--rootfs", rootfs, error) || !check_absolute ("--work-seed", work_seed, error)
      || !check_absolute ("--kernel", kernel, error) || !check_absolute ("--initrd", initrd, error)
      || !check_absolute ("--modules", modules, error)
      || !bgr_ext4_check (rootfs, "rootfs", error)
      || (work_seed != NULL && !bgr_ext4_check (work_seed, "work-seed", error))
      || (kernel != NULL && (!check_regular ("kernel", kernel, error)
                             || !bgr_kernel_detect_format (kernel, &format, NULL, error)))
      || (initrd != NULL && !check_regular ("initrd", initrd, error))
      || (modules != NULL && !bgr_modules_find_tree (modules, &tree, &mod_version, error)))
    return NULL;
  if (kernel_ref != NULL)
    {
      g_autoptr (BgrKernel) k = bgr_engine_get_kernel (engine, kernel_ref, error);
      if (k == NULL)
        return NULL;
    }
  json_object_set_boolean_member (doc, "managed", FALSE);
  json_object_set_string_member (doc, "source", "registered");
  json_object_set_string_member (doc, "rootfs", rootfs);
  size += bgr_path_size (rootfs);
  if (work_seed != NULL)
    {
      json_object_set_string_member (doc, "work_seed", work_seed);
      size += bgr_path_size (work_seed);
    }
  if (kernel != NULL)
    json_object_set_string_member (doc, "kernel", kernel);
  else
    json_object_set_string_member (doc, "kernel_ref", kernel_ref);
  if (initrd != NULL)
    json_object_set_string_member (doc, "initrd", initrd);
  if (tree != NULL)
    json_object_set_string_member (doc, "modules", tree);
  json_object_set_int_member (doc, "size", (gint64) size);
  json_object_set_int_member (doc, "created", g_get_real_time () / G_USEC_PER_SEC);

  bgr_engine_lock (engine);
  {
    g_autoptr (JsonObject) existing = bgr_store_load (bgr_engine_get_store (engine), "image", name, NULL);
    g_autoptr (JsonObject) kdoc = NULL;
    if (existing != NULL)
      {
        bgr_engine_unlock (engine);
        g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS, "an image named '%s' already exists", name);
        return NULL;
      }
    /* Check the kernel again under the lock: a delete may have raced us. */
    if (kernel_ref != NULL
        && (kdoc = bgr_store_load (bgr_engine_get_store (engine), "kernel", kernel_ref, NULL)) == NULL)
      {
        bgr_engine_unlock (engine);
        g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "no kernel named '%s'", kernel_ref);
        return NULL;
      }
  }
  ok = bgr_store_save (bgr_engine_get_store (engine), "image", name, doc, error);
  bgr_engine_unlock (engine);
  return ok ? bgr_engine_image_view (engine, doc) : NULL;
}

GPtrArray *
bgr_engine_list_images (BgrEngine *engine, GError **error)
{
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), "image", errors);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_object_unref);

  log_load_errors (errors);
  for (guint i = 0; i < docs->len; i++)
    g_ptr_array_add (out, bgr_engine_image_view (engine, docs->pdata[i]));
  return out;
}

static JsonObject *
load_image (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  JsonObject *doc;

  if (!check_name ("image", name, error))
    return NULL;
  doc = bgr_store_load (bgr_engine_get_store (engine), "image", name, &local_error);
  if (doc == NULL)
    {
      if (g_error_matches (local_error, BGR_ERROR, BGR_ERROR_NOT_FOUND))
        g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND,
                     "no image named '%s' (see `banger image list`)", name);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
    }
  return doc;
}

BgrImage *
bgr_engine_get_image (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (JsonObject) doc = load_image (engine, name, error);
  return doc != NULL ? bgr_engine_image_view (engine, doc) : NULL;
}

gboolean
bgr_engine_delete_image (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (JsonObject) doc = load_image (engine, name, error);
  gboolean managed;

  if (doc == NULL)
    return FALSE;
  {
    /* A VM keeps booting the image's kernel and initrd: refuse while one
     * was made from it. */
    g_autofree char *users = bgr_engine_vms_using_image (engine, name);
    if (users != NULL)
      {
        g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY,
                     "image '%s' is used by VM(s) %s: delete them first", name, users);
        return FALSE;
      }
  }
  bgr_engine_lock (engine);
  /* Look again under the lock: the record may have changed (promote). */
  g_clear_pointer (&doc, json_object_unref);
  doc = bgr_store_load (bgr_engine_get_store (engine), "image", name, error);
  if (doc == NULL)
    {
      bgr_engine_unlock (engine);
      return FALSE;
    }
  /* An unmanaged image's files belong to the user: only the record goes. */
  managed = json_object_get_boolean_member_with_default (doc, "managed", FALSE);
  return delete_record_unlock (engine, "image", "images", name, managed, error);
}

BgrImage *
bgr_engine_promote_image (BgrEngine *engine, const char *name, GCancellable *cancellable,
                          GError **error)
{
  g_autoptr (JsonObject) doc = load_image (engine, name, error);
  g_autoptr (JsonObject) promoted = NULL;
  g_autofree char *staging = NULL;
  g_autofree char *final = NULL;
  static const struct { const char *member, *file; gboolean tree; } parts[] = {
    { "rootfs", "rootfs.ext4", FALSE }, { "work_seed", "work-seed.ext4", FALSE },
    { "kernel", "kernel", FALSE }, { "initrd", "initrd.img", FALSE }, { "modules", "modules", TRUE },
  };
  GList *members;
  gboolean ok = FALSE;

  if (doc == NULL)
    return NULL;
  if (json_object_get_boolean_member_with_default (doc, "managed", FALSE))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOTHING_TO_DO, "image '%s' is already managed", name);
      return NULL;
    }
  staging = make_staging (engine, "images", name, error);
  if (staging == NULL)
    return NULL;
  promoted = json_object_new ();
  members = json_object_get_members (doc);
  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (promoted, l->data, json_node_copy (json_object_get_member (doc, l->data)));
  g_list_free (members);
  final = artifacts_dir (engine, "images", name);
  for (gsize i = 0; i < G_N_ELEMENTS (parts); i++)
    {
      const char *src = json_object_get_string_member_with_default (doc, parts[i].member, NULL);
      g_autofree char *dest = NULL;
      g_autofree char *final_path = NULL;
      g_autofree char *origin = NULL;

      if (src == NULL)
        continue;
      if (parts[i].tree)
        {
          g_autofree char *base = g_path_get_basename (src);
          g_autofree char *mods = g_build_filename (staging, parts[i].file, NULL);
          if (g_mkdir (mods, 0755) != 0)
            {
              bgr_set_error_errno (error, errno, "cannot create %s", mods);
              goto out;
            }
          dest = g_build_filename (mods, base, NULL);
          final_path = g_build_filename (final, parts[i].file, base, NULL);
          if (!bgr_copy_tree (src, dest, cancellable, error))
            goto out;
        }
      else
        {
          dest = g_build_filename (staging, parts[i].file, NULL);
          final_path = g_build_filename (final, parts[i].file, NULL);
          if (!bgr_copy_file (src, dest, cancellable, error))
            goto out;
        }
      origin = g_strdup_printf ("%s_origin", parts[i].member);
      json_object_set_string_member (promoted, origin, src);
      json_object_set_string_member (promoted, parts[i].member, final_path);
    }
  json_object_set_boolean_member (promoted, "managed", TRUE);
  json_object_set_string_member (promoted, "source", "promoted");
  json_object_set_int_member (promoted, "size", (gint64) bgr_path_size (staging));

  bgr_engine_lock (engine);
  {
    /* The copy took a while: the record must still be the one we copied. */
    g_autoptr (JsonObject) now = bgr_store_load (bgr_engine_get_store (engine), "image", name, NULL);
    if (now == NULL || json_object_get_boolean_member_with_default (now, "managed", FALSE)
        || g_strcmp0 (json_object_get_string_member_with_default (now, "rootfs", NULL),
                      json_object_get_string_member_with_default (doc, "rootfs", NULL)) != 0)
      {
        bgr_engine_unlock (engine);
        g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY,
                     "image '%s' changed while it was being promoted; nothing was changed", name);
        goto out;
      }
  }
  if (!bgr_rm_rf (final, error))
    {
      bgr_engine_unlock (engine);
      goto out;
    }
  if (rename (staging, final) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot move %s to %s", staging, final);
      bgr_engine_unlock (engine);
      goto out;
    }
  g_clear_pointer (&staging, g_free);
  ok = bgr_store_save (bgr_engine_get_store (engine), "image", name, promoted, error);
  if (!ok)
    bgr_rm_rf (final, NULL);
  bgr_engine_unlock (engine);
out:
  if (staging != NULL)
    bgr_rm_rf (staging, NULL);
  return ok ? bgr_engine_image_view (engine, promoted) : NULL;
}
