/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-proto/bgr-agent-proto.h"
#include "bgr-crash-private.h"
#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-disks-private.h"
#include "ext4/bgr-ext4-writer-private.h"

#define MODULES_SLACK (16 * 1024 * 1024)

gboolean
bgr_disk_size_check (const char *key, guint64 size, GError **error)
{
  if (size == 0 || size > BGR_DISK_SIZE_MAX)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "option '%s': %" G_GUINT64_FORMAT " bytes is out of range (at most 16 TiB)", key, size);
      return FALSE;
    }
  return TRUE;
}

/* The agent binary, embedded (bgr-agent-blob.c). */
extern const char bgr_agent_blob_start[];
extern const char bgr_agent_blob_end[];

/* Every VM of an image gets the same agent and kernel modules: they are put
 * into a copy of the image once (a "base", kept in CACHE/vm-bases/), and
 * VMs are cloned from that. A base's name is a digest of what went into
 * it (the image's rootfs file identity, the modules tree, the agent), so a
 * changed image, kernel or banger gets a new one; image cache prune
 * removes the ones no image leads to any more. */

static char *
agent_digest (void)
{
  static char *digest;
  static gsize once;

  if (g_once_init_enter (&once))
    {
      digest = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) bgr_agent_blob_start,
                                            (gsize) (bgr_agent_blob_end - bgr_agent_blob_start));
      g_once_init_leave (&once, 1);
    }
  return digest;
}

static void
checksum_file_identity (GChecksum *c, const char *path)
{
  struct stat st;
  g_autofree char *id = NULL;

  if (path == NULL)
    {
      g_checksum_update (c, (const guchar *) "-\n", 2);
      return;
    }
  if (stat (path, &st) != 0)
    memset (&st, 0, sizeof st);
  id = g_strdup_printf ("%s\n%ju:%ju:%jd:%jd.%09ld\n", path, (uintmax_t) st.st_dev,
                        (uintmax_t) st.st_ino, (intmax_t) st.st_size, (intmax_t) st.st_mtim.tv_sec,
                        st.st_mtim.tv_nsec);
  g_checksum_update (c, (const guchar *) id, -1);
}

static char *
base_path_for (BgrEngine *engine, BgrImage *img)
{
  g_autoptr (GChecksum) c = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *name = NULL;

  g_checksum_update (c, (const guchar *) "banger vm base 1\n", -1);
  checksum_file_identity (c, bgr_image_get_rootfs_path (img));
  checksum_file_identity (c, bgr_image_get_modules_dir (img));
  g_checksum_update (c, (const guchar *) agent_digest (), -1);
  name = g_strndup (g_checksum_get_string (c), 32);
  return g_strdup_printf ("%s/vm-bases/%s.ext4",
                          bgr_config_get_string (bgr_engine_get_config (engine), "cache_dir"), name);
}

static gboolean
install_guest_files (const char *rootfs, const char *modules, GCancellable *cancellable,
                     GError **error)
{
  g_autoptr (BgrExt4Writer) w = bgr_ext4_writer_open (rootfs, error);

  if (w == NULL)
    return FALSE;
  if (!bgr_ext4_writer_add_data (w, BGR_AGENT_GUEST_PATH, bgr_agent_blob_start,
                                 (gsize) (bgr_agent_blob_end - bgr_agent_blob_start), 0755, error))
    return FALSE;
  if (modules != NULL)
    {
      g_autofree char *version = g_path_get_basename (modules);
      g_autofree char *guest = g_build_filename ("/lib/modules", version, NULL);
      if (!bgr_ext4_writer_add_tree (w, modules, guest, cancellable, error))
        return FALSE;
    }
  return bgr_ext4_writer_close (g_steal_pointer (&w), error);
}

G_LOCK_DEFINE_STATIC (bases);

char *
bgr_vm_disks_prepare_base (BgrEngine *engine, BgrImage *img, gboolean *out_made,
                           GCancellable *cancellable, GError **error)
{
  g_autofree char *base = base_path_for (engine, img);
  g_autofree char *dir = g_path_get_dirname (base);
  g_autofree char *tmp = NULL;
  const char *modules = bgr_image_get_modules_dir (img);
  guint64 size = bgr_path_size (bgr_image_get_rootfs_path (img));
  gboolean ok;

  *out_made = FALSE;
  G_LOCK (bases);
  if (g_file_test (base, G_FILE_TEST_IS_REGULAR))
    {
      G_UNLOCK (bases);
      return g_steal_pointer (&base);
    }
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", dir);
      G_UNLOCK (bases);
      return NULL;
    }
  tmp = g_strdup_printf ("%s.tmp-%d", base, (int) getpid ());
  unlink (tmp);
  /* The modules need room: grow by their size (the file stays sparse). */
  ok = bgr_copy_file (bgr_image_get_rootfs_path (img), tmp, cancellable, error)
       && (modules == NULL
           || bgr_ext4_grow (tmp, size + bgr_path_size (modules) + MODULES_SLACK, cancellable, error))
       && install_guest_files (tmp, modules, cancellable, error)
       && rename (tmp, base) == 0;
  if (!ok)
    {
      if (error != NULL && *error == NULL)
        bgr_set_error_errno (error, errno, "cannot rename %s", tmp);
      unlink (tmp);
      G_UNLOCK (bases);
      return NULL;
    }
  G_UNLOCK (bases);
  *out_made = TRUE;
  return g_steal_pointer (&base);
}

gboolean
bgr_vm_disks_clone (JsonObject *doc, BgrImage *img, const char *base, guint64 disk_size,
                    GCancellable *cancellable, GError **error)
{
  g_autofree char *rootfs = g_strdup (bgr_record_str (doc, "rootfs"));
  gint64 t0 = g_get_monotonic_time ();
  guint64 base_size = bgr_path_size (base);

  if (!bgr_copy_file (base, rootfs, cancellable, error))
    return FALSE;
  if (bgr_image_get_work_seed_path (img) != NULL)
    {
      g_autofree char *work = g_build_filename (bgr_record_str (doc, "dir"), "work.ext4", NULL);
      if (!bgr_copy_file (bgr_image_get_work_seed_path (img), work, cancellable, error))
        return FALSE;
      json_object_set_string_member (doc, "work_disk", work);
    }
  if (disk_size > base_size && !bgr_ext4_grow (rootfs, disk_size, cancellable, error))
    return FALSE;
  json_object_set_int_member (doc, "disk_size", (gint64) bgr_path_size (rootfs));
  json_object_set_int_member (doc, "boot_clone_ms", (g_get_monotonic_time () - t0) / 1000);
  return TRUE;
}

static char *
bases_dir (BgrEngine *engine)
{
  return g_build_filename (bgr_config_get_string (bgr_engine_get_config (engine), "cache_dir"),
                           "vm-bases", NULL);
}

/* Base file name -> names of the images that lead to it. NULL when the
 * image records cannot all be read: then any base might be wanted. */
static GHashTable *
base_users (BgrEngine *engine)
{
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), "image", errors);
  g_autoptr (GHashTable) users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                         (GDestroyNotify) g_ptr_array_unref);

  if (errors->len > 0)
    return NULL;
  for (guint i = 0; i < docs->len; i++)
    {
      g_autoptr (BgrImage) img = bgr_engine_image_view (engine, docs->pdata[i]);
      g_autofree char *path = base_path_for (engine, img);
      g_autofree char *base = g_path_get_basename (path);
      GPtrArray *names = g_hash_table_lookup (users, base);

      if (names == NULL)
        {
          names = g_ptr_array_new_with_free_func (g_free);
          g_hash_table_insert (users, g_strdup (base), names);
        }
      g_ptr_array_add (names, g_strdup (bgr_image_get_name (img)));
    }
  return g_steal_pointer (&users);
}

/* Removes the bases no image leads to any more (image cache prune). */
void
bgr_engine_prune_vm_bases (BgrEngine *engine, guint64 *freed, guint *removed)
{
  g_autoptr (GHashTable) wanted = NULL;
  g_autofree char *dir = bases_dir (engine);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *entry;

  bgr_engine_lock (engine);
  wanted = base_users (engine);
  bgr_engine_unlock (engine);
  if (wanted == NULL)
    return; /* an unreadable image record might lead to any base */
  G_LOCK (bases);
  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, entry, NULL);
      guint64 size;
      if (g_hash_table_contains (wanted, entry))
        continue;
      size = bgr_path_allocated (path);
      if (g_unlink (path) == 0)
        {
          *freed += size;
          (*removed)++;
        }
    }
  G_UNLOCK (bases);
}

void
bgr_engine_list_vm_bases (BgrEngine *engine, GPtrArray *out)
{
  g_autoptr (GHashTable) users = NULL;
  g_autofree char *dir = bases_dir (engine);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *entry;

  bgr_engine_lock (engine);
  users = base_users (engine);
  bgr_engine_unlock (engine);
  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, entry, NULL);
      g_autoptr (JsonObject) doc = json_object_new ();
      JsonArray *images = json_array_new ();
      GPtrArray *names = users != NULL ? g_hash_table_lookup (users, entry) : NULL;

      for (guint i = 0; names != NULL && i < names->len; i++)
        json_array_add_string_element (images, names->pdata[i]);
      json_object_set_string_member (doc, "name", entry);
      json_object_set_string_member (doc, "category", "vm-base");
      json_object_set_string_member (doc, "path", path);
      /* Bases are sparse: what they take on disk. */
      json_object_set_int_member (doc, "size", (gint64) bgr_path_allocated (path));
      json_object_set_array_member (doc, "images", images);
      json_object_set_boolean_member (doc, "in_use", FALSE);
      g_ptr_array_add (out, bgr_cache_blob_new_from_json (doc));
    }
}

/* Removes @base when no image leads to it any more. */
static gboolean
forget_base (BgrEngine *engine, const char *base)
{
  g_autoptr (GHashTable) users = NULL;
  g_autofree char *name = g_path_get_basename (base);
  gboolean gone = FALSE;

  bgr_engine_lock (engine);
  users = base_users (engine);
  bgr_engine_unlock (engine);
  if (users == NULL || g_hash_table_contains (users, name))
    return FALSE;
  G_LOCK (bases);
  gone = g_unlink (base) == 0;
  G_UNLOCK (bases);
  if (gone)
    g_info ("removed the VM base %s, which no image leads to", base);
  return gone;
}

gboolean
bgr_engine_delete_image (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (BgrImage) img = bgr_engine_get_image (engine, name, error);
  g_autofree char *base = NULL;

  if (img == NULL)
    return FALSE;
  /* Named after the image's files: found while they exist. */
  base = base_path_for (engine, img);
  if (!bgr_engine_delete_image_record (engine, name, error))
    return FALSE;
  bgr_crash_point ("image-delete.files-gone");
  /* No VM used the image (the delete checks), so none is being cloned
   * from its base: it goes unless another image leads to it. */
  forget_base (engine, base);
  return TRUE;
}
