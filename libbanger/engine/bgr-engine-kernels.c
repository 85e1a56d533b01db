/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Managed kernels: records in the store, files under STATE/kernels/NAME. */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "bgr-crash-private.h"
#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-artifacts-private.h"
#include "engine/bgr-engine-usage-private.h"
#include "kernel/bgr-deb-private.h"
#include "kernel/bgr-initramfs-private.h"
#include "kernel/bgr-kernel-files-private.h"

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
  g_autofree char *final = bgr_artifact_dir (engine, "kernels", name);
  static const char *const path_members[] = { "kernel", "initrd", "modules", "config", NULL };

  if (!bgr_rm_rf (final, error)) /* leftovers of a crash before a record existed */
    return FALSE;
  if (rename (staging, final) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot move %s to %s", staging, final);
      return FALSE;
    }
  bgr_crash_point ("kernel-import.moved");
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
  bgr_crash_point ("kernel-import.saved");
  return TRUE;
}

/* Copies the kernel, the modules tree @tree (of version @mod_version) and
 * the initrd (given, or generated when needed) into @staging, and
 * describes them in @doc with paths relative to it. */
static gboolean
stage_import (const char *staging, const char *kernel, BgrKernelFormat format, const char *tree,
              const char *mod_version, const char *initrd, JsonObject *doc,
              GCancellable *cancellable, GError **error)
{
  const char *file = format == BGR_KERNEL_FORMAT_VMLINUX ? "vmlinux" : "vmlinuz";
  g_autofree char *kernel_dest = g_build_filename (staging, file, NULL);

  if (!bgr_copy_file (kernel, kernel_dest, cancellable, error))
    return FALSE;
  json_object_set_string_member (doc, "format", bgr_kernel_format_to_string (format));
  json_object_set_string_member (doc, "kernel", file);
  if (tree != NULL)
    {
      g_autofree char *mods = g_build_filename (staging, "modules", NULL);
      g_autofree char *mods_ver = g_build_filename (mods, mod_version, NULL);
      g_autofree char *rel = g_build_filename ("modules", mod_version, NULL);

      if (g_mkdir (mods, 0755) != 0 || !bgr_copy_tree (tree, mods_ver, cancellable, error))
        {
          if (error != NULL && *error == NULL)
            bgr_set_error_errno (error, errno, "cannot create %s", mods);
          return FALSE;
        }
      json_object_set_string_member (doc, "modules", rel);
    }
  if (initrd != NULL)
    {
      g_autofree char *dest = g_build_filename (staging, "initrd.img", NULL);
      if (!bgr_copy_file (initrd, dest, cancellable, error))
        return FALSE;
      json_object_set_string_member (doc, "initrd", "initrd.img");
    }
  else if (tree != NULL)
    {
      g_autofree char *mods_ver = g_build_filename (staging, "modules", mod_version, NULL);
      if (!maybe_generate_initrd (staging, mods_ver, mod_version, doc, error))
        return FALSE;
      if (json_object_has_member (doc, "initrd_generated"))
        json_object_set_string_member (doc, "initrd", "initrd.img");
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
  g_autofree char *source = NULL;
  BgrKernelFormat format;
  gboolean ok = FALSE;

  if (kernel == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "a kernel import needs the kernel file (option 'kernel') or a package "
                   "(option 'deb')");
      return NULL;
    }
  if (!bgr_artifact_check_name ("kernel", name, error)
      || !bgr_artifact_check_absolute ("kernel", kernel, error)
      || !bgr_artifact_check_absolute ("modules", modules, error)
      || !bgr_artifact_check_absolute ("initrd", initrd, error)
      || !bgr_artifact_check_regular ("kernel", kernel, error)
      || !bgr_kernel_detect_format (kernel, &format, &version, error)
      || (initrd != NULL && !bgr_artifact_check_regular ("initrd", initrd, error))
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
  if (!bgr_artifact_reserve (engine, "kernel", name, error))
    return NULL;
  staging = bgr_artifact_make_staging (engine, "kernels", name, error);
  if (staging == NULL
      || !stage_import (staging, kernel, format, tree, mod_version, initrd, doc, cancellable, error))
    goto out;
  if (version == NULL && tree != NULL)
    version = g_strdup (mod_version);
  if (version != NULL)
    json_object_set_string_member (doc, "version", version);
  source = g_strdup_printf ("import:%s", kernel);
  json_object_set_string_member (doc, "source", source);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    goto out;
  bgr_crash_point ("kernel-import.copied");
  ok = commit_kernel (engine, staging, name, doc, error);
out:
  if (!ok && staging != NULL)
    bgr_rm_rf (staging, NULL);
  bgr_artifact_unreserve (engine, "kernel", name);
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

  if ((name != NULL && !bgr_artifact_check_name ("kernel", name, error))
      || !bgr_artifact_check_absolute ("deb", deb, error)
      || !bgr_artifact_check_regular ("package", deb, error))
    return NULL;
  /* Unpack first (the name may come from the package's kernel version). */
  tmpname = g_strdup (name != NULL ? name : "deb");
  staging = bgr_artifact_make_staging (engine, "kernels", tmpname, error);
  if (staging == NULL)
    return NULL;
  if (!bgr_deb_extract_kernel (deb, staging, &version, cancellable, error))
    {
      bgr_rm_rf (staging, NULL);
      return NULL;
    }
  if (final_name == NULL)
    final_name = version;
  if (!bgr_artifact_check_name ("kernel", final_name, error) || !bgr_artifact_reserve (engine, "kernel", final_name, error))
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
  bgr_artifact_unreserve (engine, "kernel", final_name);
  return ok ? bgr_kernel_new_from_json (doc) : NULL;
}

GPtrArray *
bgr_engine_list_kernels (BgrEngine *engine, GError **error)
{
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), "kernel", errors);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_object_unref);

  bgr_artifact_log_load_errors (errors);
  for (guint i = 0; i < docs->len; i++)
    g_ptr_array_add (out, bgr_kernel_new_from_json (docs->pdata[i]));
  return out;
}

BgrKernel *
bgr_engine_get_kernel (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (GError) local_error = NULL;

  if (!bgr_artifact_check_name ("kernel", name, error))
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

gboolean
bgr_engine_delete_kernel (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (BgrKernel) kernel = bgr_engine_get_kernel (engine, name, error);
  g_autofree char *aside = NULL;
  gboolean ok;

  if (kernel == NULL)
    return FALSE;
  /* Asked and deleted under the lock: no image can start using it between. */
  bgr_engine_lock (engine);
  ok = bgr_engine_usage_can_delete_kernel (engine, name, error)
       && bgr_artifact_delete_locked (engine, "kernel", "kernels", name, TRUE, &aside, error);
  bgr_engine_unlock (engine);
  if (ok)
    bgr_crash_point ("kernel-delete.record-gone");
  return ok && bgr_artifact_remove_aside (aside, error);
}
