/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "bgr-error-private.h"
#include "kernel/bgr-initramfs-private.h"
#include "kernel/bgr-kernel-files-private.h"

static gboolean
add_entry (struct archive *a, const char *path, mode_t mode, const void *data, gsize len,
           dev_t rdev, const char *dest, GError **error)
{
  struct archive_entry *e = archive_entry_new ();
  gboolean ok = TRUE;

  archive_entry_set_pathname (e, path);
  archive_entry_set_mode (e, mode);
  archive_entry_set_uid (e, 0);
  archive_entry_set_gid (e, 0);
  archive_entry_set_nlink (e, S_ISDIR (mode) ? 2 : 1);
  archive_entry_set_mtime (e, 0, 0); /* reproducible */
  if (S_ISCHR (mode))
    archive_entry_set_rdev (e, rdev);
  archive_entry_set_size (e, S_ISREG (mode) ? (la_int64_t) len : 0);
  if (archive_write_header (a, e) != ARCHIVE_OK
      || (S_ISREG (mode) && len > 0 && archive_write_data (a, data, len) != (la_ssize_t) len))
    {
      bgr_set_error_from_archive (error, a, "cannot write %s into initramfs %s", path, dest);
      ok = FALSE;
    }
  archive_entry_free (e);
  return ok;
}

static gboolean
add_dirs_for (struct archive *a, GHashTable *made, const char *path, const char *dest,
              GError **error)
{
  g_autofree char *parent = g_path_get_dirname (path);

  if (g_str_equal (parent, ".") || g_hash_table_contains (made, parent))
    return TRUE;
  if (!add_dirs_for (a, made, parent, dest, error))
    return FALSE;
  g_hash_table_add (made, g_strdup (parent));
  return add_entry (a, parent, S_IFDIR | 0755, NULL, 0, 0, dest, error);
}

gboolean
bgr_initramfs_write (const char *dest, const char *tree, const char *version, GPtrArray *modules,
                     GError **error)
{
  static const char *const dirs[] = { "dev", "proc", "sys", "newroot", "etc", "lib", NULL };
  struct archive *a = archive_write_new ();
  g_autoptr (GHashTable) made = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GString) list = g_string_new ("# modules banger-init loads, in order\n");
  gboolean ok = FALSE;

  if (archive_write_set_format_cpio_newc (a) != ARCHIVE_OK
      || archive_write_add_filter_gzip (a) != ARCHIVE_OK
      || archive_write_open_filename (a, dest) != ARCHIVE_OK)
    {
      bgr_set_error_from_archive (error, a, "cannot create initramfs %s", dest);
      goto out;
    }
  for (const char *const *d = dirs; *d != NULL; d++)
    {
      g_hash_table_add (made, g_strdup (*d));
      if (!add_entry (a, *d, S_IFDIR | 0755, NULL, 0, 0, dest, error))
        goto out;
    }
  /* The kernel opens /dev/console before /init runs: it must exist here. */
  if (!add_entry (a, "dev/console", S_IFCHR | 0600, NULL, 0, makedev (5, 1), dest, error)
      || !add_entry (a, "init", S_IFREG | 0755, bgr_init_blob_start,
                     (gsize) (bgr_init_blob_end - bgr_init_blob_start), 0, dest, error))
    goto out;
  for (guint i = 0; i < modules->len; i++)
    {
      const char *rel = modules->pdata[i];
      g_autofree char *src = g_build_filename (tree, rel, NULL);
      g_autofree char *plain = g_strdup (rel);
      g_autofree char *inside = NULL;
      g_autoptr (GBytes) bytes = NULL;
      char *ko = g_strrstr (plain, ".ko");

      /* Stored decompressed: finit_module needs no decompressor in the kernel. */
      if (ko != NULL)
        ko[3] = '\0';
      inside = g_build_filename ("lib", "modules", version, plain, NULL);
      bytes = bgr_module_read (src, error);
      if (bytes == NULL || !add_dirs_for (a, made, inside, dest, error)
          || !add_entry (a, inside, S_IFREG | 0644, g_bytes_get_data (bytes, NULL),
                         g_bytes_get_size (bytes), 0, dest, error))
        goto out;
      g_string_append_printf (list, "%s\n", inside);
    }
  if (!add_entry (a, "etc/banger-modules", S_IFREG | 0644, list->str, list->len, 0, dest, error))
    goto out;
  if (archive_write_close (a) != ARCHIVE_OK)
    {
      bgr_set_error_from_archive (error, a, "cannot finish initramfs %s", dest);
      goto out;
    }
  ok = TRUE;
out:
  archive_write_free (a);
  return ok;
}
