/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "kernel/bgr-deb-private.h"

typedef struct {
  struct archive *outer;
  char buf[65536];
} Inner;

/* The data.tar member is read as a stream out of the ar archive. */
static la_ssize_t
inner_read (struct archive *a, void *data, const void **out)
{
  Inner *in = data;
  la_ssize_t n = archive_read_data (in->outer, in->buf, sizeof in->buf);

  *out = in->buf;
  if (n < 0)
    archive_set_error (a, archive_errno (in->outer), "%s", archive_error_string (in->outer));
  return n;
}

/* Strips "./" and "usr/" prefixes; rejects paths with ".." components. */
static const char *
normalise (const char *path)
{
  while (g_str_has_prefix (path, "./"))
    path += 2;
  if (g_str_has_prefix (path, "usr/lib/modules/"))
    path += 4;
  return path;
}

static gboolean
safe_relative (const char *rel)
{
  g_auto (GStrv) parts = NULL;

  if (rel[0] == '/' || rel[0] == '\0')
    return FALSE;
  parts = g_strsplit (rel, "/", -1);
  for (char **p = parts; *p != NULL; p++)
    if (g_str_equal (*p, ".."))
      return FALSE;
  return TRUE;
}

static gboolean
write_entry_data (struct archive *a, const char *dest, mode_t mode, const char *what,
                  GCancellable *cancellable, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (dest);
  char buf[65536];
  la_ssize_t n;
  int fd;

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", dir);
      return FALSE;
    }
  fd = open (dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0755);
  if (fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", dest);
      return FALSE;
    }
  while ((n = archive_read_data (a, buf, sizeof buf)) > 0)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          close (fd);
          return FALSE;
        }
      if (!bgr_write_all (fd, buf, (gsize) n))
        {
          bgr_set_error_errno (error, errno, "cannot write %s", dest);
          close (fd);
          return FALSE;
        }
    }
  close (fd);
  if (n < 0)
    {
      bgr_set_error_from_archive (error, a, "%s", what);
      return FALSE;
    }
  return TRUE;
}

static gboolean
extract_data_tar (struct archive *outer, const char *deb, const char *member, const char *dest_dir,
                  char **out_version, GCancellable *cancellable, GError **error)
{
  struct archive *a = archive_read_new ();
  struct archive_entry *entry;
  Inner in = { .outer = outer };
  g_autofree char *what = g_strdup_printf ("%s (%s)", deb, member);
  g_autofree char *version = NULL;
  gboolean have_kernel = FALSE, have_modules = FALSE;
  int rc;

  archive_read_support_filter_all (a);
  archive_read_support_format_tar (a);
  if (archive_read_open (a, &in, NULL, inner_read, NULL) != ARCHIVE_OK)
    {
      bgr_set_error_from_archive (error, a, "%s", what);
      archive_read_free (a);
      return FALSE;
    }
  while ((rc = archive_read_next_header (a, &entry)) == ARCHIVE_OK)
    {
      const char *path = normalise (archive_entry_pathname (entry));
      mode_t type = archive_entry_filetype (entry);
      g_autofree char *dest = NULL;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        goto fail;
      if (type != AE_IFREG)
        continue; /* directories are made as needed; links point outside */
      if (g_str_has_prefix (path, "boot/vmlinuz-") && strchr (path + 13, '/') == NULL)
        {
          const char *v = path + strlen ("boot/vmlinuz-");
          if (*v == '\0' || strstr (v, "..") != NULL || strchr (v, '/') != NULL)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                           "%s: refusing kernel file %s (bad version)", what, path);
              goto fail;
            }
          if (version != NULL && !g_str_equal (version, v))
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                           "%s holds several kernels (%s and %s)", deb, version, v);
              goto fail;
            }
          g_free (version);
          version = g_strdup (v);
          dest = g_build_filename (dest_dir, "vmlinuz", NULL);
          have_kernel = TRUE;
        }
      else if (g_str_has_prefix (path, "boot/config-") && strchr (path + 12, '/') == NULL)
        dest = g_build_filename (dest_dir, "config", NULL);
      else if (g_str_has_prefix (path, "lib/modules/"))
        {
          const char *rel = path + strlen ("lib/modules/");
          if (!safe_relative (rel))
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                           "%s: refusing entry %s (path leaves the modules tree)", what,
                           archive_entry_pathname (entry));
              goto fail;
            }
          dest = g_build_filename (dest_dir, "modules", rel, NULL);
          have_modules = TRUE;
        }
      else
        continue;
      if (!write_entry_data (a, dest, archive_entry_perm (entry), what, cancellable, error))
        goto fail;
    }
  if (rc != ARCHIVE_EOF)
    {
      bgr_set_error_from_archive (error, a, "%s", what);
      goto fail;
    }
  archive_read_free (a);
  if (!have_kernel)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s holds no boot/vmlinuz-*: is it a linux-image package?", deb);
      return FALSE;
    }
  if (!have_modules)
    g_debug ("%s has no modules", deb);
  *out_version = g_steal_pointer (&version);
  return TRUE;
fail:
  archive_read_free (a);
  return FALSE;
}

gboolean
bgr_deb_extract_kernel (const char *deb, const char *dest_dir, char **out_version,
                        GCancellable *cancellable, GError **error)
{
  struct archive *a = archive_read_new ();
  struct archive_entry *entry;
  gboolean ok = FALSE, found = FALSE;
  int rc;

  archive_read_support_format_ar (a);
  if (archive_read_open_filename (a, deb, 65536) != ARCHIVE_OK)
    {
      if (!g_file_test (deb, G_FILE_TEST_EXISTS))
        g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "%s does not exist", deb);
      else
        bgr_set_error_from_archive (error, a, "%s is not a Debian package", deb);
      archive_read_free (a);
      return FALSE;
    }
  while ((rc = archive_read_next_header (a, &entry)) == ARCHIVE_OK)
    {
      const char *name = archive_entry_pathname (entry);
      if (g_str_has_prefix (name, "data.tar"))
        {
          found = TRUE;
          ok = extract_data_tar (a, deb, name, dest_dir, out_version, cancellable, error);
          break;
        }
    }
  if (!found && (error == NULL || *error == NULL))
    {
      if (rc != ARCHIVE_EOF && rc != ARCHIVE_OK)
        bgr_set_error_from_archive (error, a, "%s is not a Debian package", deb);
      else
        g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                     "%s is not a Debian package (no data.tar member)", deb);
    }
  archive_read_free (a);
  return ok;
}
