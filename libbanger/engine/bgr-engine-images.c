/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Images: records in the store; a managed image's files under
 * STATE/images/NAME, a registered one's where the user keeps them. */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "bgr-crash-private.h"
#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-artifacts-private.h"
#include "engine/bgr-engine-usage-private.h"
#include "ext4/bgr-ext4-private.h"
#include "kernel/bgr-kernel-files-private.h"

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

/* The arguments of image register, checked; *out_tree is the modules
 * tree found in @modules. */
static gboolean
check_register (BgrEngine *engine, const char *name, const char *rootfs, const char *work_seed,
                const char *kernel, const char *kernel_ref, const char *initrd,
                const char *modules, char **out_tree, GError **error)
{
  g_autofree char *mod_version = NULL;
  BgrKernelFormat format;

  if (!bgr_artifact_check_name ("image", name, error))
    return FALSE;
  if (rootfs == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "an image needs a rootfs (option 'rootfs')");
      return FALSE;
    }
  if ((kernel == NULL) == (kernel_ref == NULL))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "give exactly one of the options 'kernel' (a file) and 'kernel-ref' (a managed kernel)");
      return FALSE;
    }
  if (!bgr_artifact_check_absolute ("rootfs", rootfs, error)
      || !bgr_artifact_check_absolute ("work-seed", work_seed, error)
      || !bgr_artifact_check_absolute ("kernel", kernel, error)
      || !bgr_artifact_check_absolute ("initrd", initrd, error)
      || !bgr_artifact_check_absolute ("modules", modules, error)
      || !bgr_ext4_check (rootfs, "rootfs", error)
      || (work_seed != NULL && !bgr_ext4_check (work_seed, "work-seed", error))
      || (kernel != NULL && (!bgr_artifact_check_regular ("kernel", kernel, error)
                             || !bgr_kernel_detect_format (kernel, &format, NULL, error)))
      || (initrd != NULL && !bgr_artifact_check_regular ("initrd", initrd, error))
      || (modules != NULL && !bgr_modules_find_tree (modules, out_tree, &mod_version, error)))
    return FALSE;
  if (kernel_ref != NULL)
    {
      g_autoptr (BgrKernel) k = bgr_engine_get_kernel (engine, kernel_ref, error);
      if (k == NULL)
        return FALSE;
    }
  return TRUE;
}

/* Saves the new image record @doc as @name, and tells the usage index
 * which kernel it boots. */
static gboolean
save_new_image (BgrEngine *engine, const char *name, const char *kernel_ref, JsonObject *doc,
                GError **error)
{
  g_autoptr (JsonObject) existing = NULL;
  g_autoptr (JsonObject) kdoc = NULL;
  gboolean ok;

  bgr_engine_lock (engine);
  existing = bgr_store_load (bgr_engine_get_store (engine), "image", name, NULL);
  if (existing != NULL)
    {
      bgr_engine_unlock (engine);
      g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS, "an image named '%s' already exists", name);
      return FALSE;
    }
  /* Check the kernel again under the lock: a delete may have raced us. */
  if (kernel_ref != NULL
      && (kdoc = bgr_store_load (bgr_engine_get_store (engine), "kernel", kernel_ref, NULL)) == NULL)
    {
      bgr_engine_unlock (engine);
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "no kernel named '%s'", kernel_ref);
      return FALSE;
    }
  ok = bgr_store_save (bgr_engine_get_store (engine), "image", name, doc, error);
  if (ok)
    bgr_engine_usage_add_image (engine, name, kernel_ref);
  bgr_engine_unlock (engine);
  return ok;
}

BgrImage *
bgr_engine_register_image (BgrEngine *engine, const char *name, const char *rootfs,
                           const char *work_seed, const char *kernel, const char *kernel_ref,
                           const char *initrd, const char *modules, GError **error)
{
  g_autoptr (JsonObject) doc = json_object_new ();
  g_autofree char *tree = NULL;
  guint64 size = 0;

  if (!check_register (engine, name, rootfs, work_seed, kernel, kernel_ref, initrd, modules, &tree,
                       error))
    return NULL;
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
  bgr_crash_point ("image-register.checked");
  if (!save_new_image (engine, name, kernel_ref, doc, error))
    return NULL;
  bgr_crash_point ("image-register.saved");
  return bgr_engine_image_view (engine, doc);
}

GPtrArray *
bgr_engine_list_images (BgrEngine *engine, GError **error)
{
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), "image", errors);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_object_unref);

  bgr_artifact_log_load_errors (errors);
  for (guint i = 0; i < docs->len; i++)
    g_ptr_array_add (out, bgr_engine_image_view (engine, docs->pdata[i]));
  return out;
}

static JsonObject *
load_image (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  JsonObject *doc;

  if (!bgr_artifact_check_name ("image", name, error))
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
bgr_engine_delete_image_record (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (JsonObject) doc = load_image (engine, name, error);
  g_autofree char *aside = NULL;
  gboolean ok;

  if (doc == NULL)
    return FALSE;
  /* The VMs made from it are counted under the lock, and the record goes
   * before the lock is let go: no create can start using it between. */
  bgr_engine_lock (engine);
  if (!bgr_engine_usage_can_delete_image (engine, name, error))
    {
      bgr_engine_unlock (engine);
      return FALSE;
    }
  /* Look again under the lock: the record may have changed (promote). */
  g_clear_pointer (&doc, json_object_unref);
  doc = bgr_store_load (bgr_engine_get_store (engine), "image", name, error);
  /* An unmanaged image's files belong to the user: only the record goes. */
  ok = doc != NULL
       && bgr_artifact_delete_locked (engine, "image", "images", name,
                                      json_object_get_boolean_member_with_default (doc, "managed", FALSE),
                                      &aside, error);
  if (ok)
    bgr_engine_usage_remove_image (engine, name);
  bgr_engine_unlock (engine);
  if (ok)
    bgr_crash_point ("image-delete.record-gone");
  return ok && bgr_artifact_remove_aside (aside, error);
}

/* Copies the files of image record @doc into @staging, and points
 * @promoted at where they will be once @staging is @final. */
static gboolean
copy_parts (JsonObject *doc, const char *staging, const char *final, JsonObject *promoted,
            GCancellable *cancellable, GError **error)
{
  static const struct { const char *member, *file; gboolean tree; } parts[] = {
    { "rootfs", "rootfs.ext4", FALSE }, { "work_seed", "work-seed.ext4", FALSE },
    { "kernel", "kernel", FALSE }, { "initrd", "initrd.img", FALSE }, { "modules", "modules", TRUE },
  };

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
              return FALSE;
            }
          dest = g_build_filename (mods, base, NULL);
          final_path = g_build_filename (final, parts[i].file, base, NULL);
          if (!bgr_copy_tree (src, dest, cancellable, error))
            return FALSE;
        }
      else
        {
          dest = g_build_filename (staging, parts[i].file, NULL);
          final_path = g_build_filename (final, parts[i].file, NULL);
          if (!bgr_copy_file (src, dest, cancellable, error))
            return FALSE;
        }
      origin = g_strdup_printf ("%s_origin", parts[i].member);
      json_object_set_string_member (promoted, origin, src);
      json_object_set_string_member (promoted, parts[i].member, final_path);
    }
  return TRUE;
}

/* Moves *staging to @final and saves @promoted over @doc, if the record is
 * still the one that was copied. *staging is cleared once moved. */
static gboolean
commit_promoted (BgrEngine *engine, const char *name, JsonObject *doc, char **staging,
                 const char *final, JsonObject *promoted, GError **error)
{
  g_autoptr (JsonObject) now = NULL;
  gboolean ok;

  bgr_engine_lock (engine);
  /* The copy took a while: the record must still be the one we copied. */
  now = bgr_store_load (bgr_engine_get_store (engine), "image", name, NULL);
  if (now == NULL || json_object_get_boolean_member_with_default (now, "managed", FALSE)
      || g_strcmp0 (json_object_get_string_member_with_default (now, "rootfs", NULL),
                    json_object_get_string_member_with_default (doc, "rootfs", NULL)) != 0)
    {
      bgr_engine_unlock (engine);
      g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY,
                   "image '%s' changed while it was being promoted; nothing was changed", name);
      return FALSE;
    }
  if (!bgr_rm_rf (final, error))
    {
      bgr_engine_unlock (engine);
      return FALSE;
    }
  if (rename (*staging, final) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot move %s to %s", *staging, final);
      bgr_engine_unlock (engine);
      return FALSE;
    }
  g_clear_pointer (staging, g_free);
  bgr_crash_point ("image-promote.moved");
  ok = bgr_store_save (bgr_engine_get_store (engine), "image", name, promoted, error);
  if (ok)
    bgr_engine_usage_add_image (engine, name, bgr_record_str (promoted, "kernel_ref"));
  else
    bgr_rm_rf (final, NULL);
  bgr_engine_unlock (engine);
  return ok;
}

BgrImage *
bgr_engine_promote_image (BgrEngine *engine, const char *name, GCancellable *cancellable,
                          GError **error)
{
  g_autoptr (JsonObject) doc = load_image (engine, name, error);
  g_autoptr (JsonObject) promoted = NULL;
  g_autofree char *staging = NULL;
  g_autofree char *final = NULL;
  GList *members;
  gboolean ok;

  if (doc == NULL)
    return NULL;
  if (json_object_get_boolean_member_with_default (doc, "managed", FALSE))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOTHING_TO_DO, "image '%s' is already managed", name);
      return NULL;
    }
  staging = bgr_artifact_make_staging (engine, "images", name, error);
  if (staging == NULL)
    return NULL;
  promoted = json_object_new ();
  members = json_object_get_members (doc);
  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (promoted, l->data, json_node_copy (json_object_get_member (doc, l->data)));
  g_list_free (members);
  final = bgr_artifact_dir (engine, "images", name);
  ok = copy_parts (doc, staging, final, promoted, cancellable, error);
  if (ok)
    {
      json_object_set_boolean_member (promoted, "managed", TRUE);
      json_object_set_string_member (promoted, "source", "promoted");
      json_object_set_int_member (promoted, "size", (gint64) bgr_path_size (staging));
      bgr_crash_point ("image-promote.copied");
      ok = commit_promoted (engine, name, doc, &staging, final, promoted, error);
      if (ok)
        bgr_crash_point ("image-promote.saved");
    }
  if (staging != NULL)
    bgr_rm_rf (staging, NULL);
  return ok ? bgr_engine_image_view (engine, promoted) : NULL;
}
