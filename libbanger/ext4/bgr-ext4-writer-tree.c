/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bgr_ext4_writer_add_tree(): a host directory copied into the image. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "ext4/bgr-ext4-writer-internal.h"

/* The directory @name in @dir (@guest its full path), made when missing;
 * a symlink there is followed. *made says whether it was made. */
static gboolean
ensure_dir (Edit *e, ext2_ino_t dir, const char *name, const char *guest, ext2_ino_t *out,
            gboolean *made, GError **error)
{
  struct ext2_inode_large inode;
  g_autofree char *base = NULL;
  errcode_t rc;

  *made = FALSE;
  if (name != NULL)
    {
      rc = bgr_ext4_lookup (e->fs, dir, name, out);
      if (rc == 0)
        rc = bgr_ext4_read_inode (e->fs, *out, &inode);
      if (rc != 0 && rc != EXT2_ET_FILE_NOT_FOUND)
        return bgr_ext4_edit_fail (e, rc, error, guest, "cannot look up the directory");
      if (rc == 0 && LINUX_S_ISDIR (inode.i_mode))
        return TRUE;
      if (rc == 0 && !LINUX_S_ISLNK (inode.i_mode))
        return bgr_ext4_edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest,
                                     "exists in the image and is not a directory");
      if (rc == 0)
        {
          /* A symlink: where it leads, from the root. */
          if (!bgr_ext4_resolve_for_add (e, guest, TRUE, &dir, &base, error))
            return FALSE;
          name = base;
        }
    }
  if (name == NULL)
    {
      *out = dir;
      return TRUE;
    }
  rc = bgr_ext4_lookup (e->fs, dir, name, out);
  if (rc == 0 && (rc = bgr_ext4_read_inode (e->fs, *out, &inode)) == 0)
    {
      if (LINUX_S_ISDIR (inode.i_mode))
        return TRUE;
      return bgr_ext4_edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest,
                                   "exists in the image and is not a directory");
    }
  if (rc != EXT2_ET_FILE_NOT_FOUND)
    return bgr_ext4_edit_fail (e, rc, error, guest, "cannot look up the directory");
  if ((rc = bgr_ext4_make_added_dir (e, dir, name, out)) != 0)
    return bgr_ext4_edit_fail (e, rc, error, guest, "cannot create the directory");
  *made = TRUE;
  return TRUE;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static gboolean copy_tree (Edit *e, const char *host, GString *guest, ext2_ino_t dir,
                           guint depth, GError **error);

/* Host directory @path (@st) into @name in @dir, @guest its path. */
static gboolean
copy_dir (Edit *e, const char *path, const struct stat *st, ext2_ino_t dir, const char *name,
          GString *guest, guint depth, GError **error)
{
  ext2_ino_t child;
  gboolean made;
  errcode_t rc;

  if (depth >= MAX_DEPTH)
    return bgr_ext4_edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest->str,
                                 "path deeper than 64 levels");
  if (!ensure_dir (e, dir, name, guest->str, &child, &made, error)
      || !copy_tree (e, path, guest, child, depth + 1, error))
    return FALSE;
  /* Last, once what the directory holds is in; a directory that
   * was there keeps its own (a host's 0700 lib/ must not close
   * the guest's /usr/lib). */
  if (made
      && (rc = bgr_ext4_set_added_metadata (e, child, st->st_mode & 07777, st->st_mtim.tv_sec,
                                            st->st_mtim.tv_nsec)) != 0)
    return bgr_ext4_edit_fail (e, rc, error, guest->str, "cannot set metadata");
  return TRUE;
}

/* Host symlink @path (@st), copied as it is. */
static gboolean
copy_symlink (Edit *e, const char *path, const struct stat *st, ext2_ino_t dir, const char *name,
              const char *guest, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *target = g_file_read_link (path, &local);

  if (target == NULL)
    {
      bgr_propagate_error (error, g_steal_pointer (&local), "cannot read %s: ", path);
      return FALSE;
    }
  return bgr_ext4_put_symlink (e, dir, name, guest, target, st->st_mtim.tv_sec,
                               st->st_mtim.tv_nsec, error);
}

/* Host regular file @path. */
static gboolean
copy_file (Edit *e, const char *path, ext2_ino_t dir, const char *name, const char *guest,
           GError **error)
{
  /* O_NOFOLLOW: what was checked is what is read; O_NONBLOCK: a
   * FIFO put there since does not block. */
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  struct stat fst;
  gboolean ok;

  if (fd < 0 || fstat (fd, &fst) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot open %s", path);
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  if (!S_ISREG (fst.st_mode))
    {
      close (fd);
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED, "%s is not a regular file", path);
      return FALSE;
    }
  ok = bgr_ext4_put_regular (e, dir, name, guest, fd, path, NULL, (gsize) fst.st_size,
                             fst.st_mode & 07777, fst.st_mtim.tv_sec, fst.st_mtim.tv_nsec, error);
  close (fd);
  return ok;
}

/* Host entry @name of @host into @dir; @guest is its path in the image. */
static gboolean
copy_entry (Edit *e, const char *host, const char *name, GString *guest, ext2_ino_t dir,
            guint depth, GError **error)
{
  g_autofree char *path = g_build_filename (host, name, NULL);
  struct stat st;

  if (strlen (name) > MAX_NAME_LEN)
    return bgr_ext4_edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest->str,
                                 "name longer than 255 bytes");
  if (lstat (path, &st) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot read %s", path);
      return FALSE;
    }
  if (S_ISDIR (st.st_mode))
    return copy_dir (e, path, &st, dir, name, guest, depth, error);
  if (S_ISLNK (st.st_mode))
    return copy_symlink (e, path, &st, dir, name, guest->str, error);
  if (S_ISREG (st.st_mode))
    return copy_file (e, path, dir, name, guest->str, error);
  g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
               "%s is not a regular file, directory or symlink", path);
  return FALSE;
}

/* Copies what host directory @host holds into image directory @dir
 * (@guest is its path, for messages; it is extended and put back). */
static gboolean
copy_tree (Edit *e, const char *host, GString *guest, ext2_ino_t dir, guint depth,
           GError **error)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) local = NULL;
  gsize guest_len = guest->len;
  const char *n;
  GDir *d;

  if ((d = g_dir_open (host, 0, &local)) == NULL)
    {
      bgr_propagate_error (error, g_steal_pointer (&local), "cannot list %s: ", host);
      return FALSE;
    }
  while ((n = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (n));
  g_dir_close (d);
  /* Sorted: the same tree gives the same image. */
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);

      if (g_cancellable_set_error_if_cancelled (e->cancellable, error))
        return FALSE;
      g_string_truncate (guest, guest_len);
      if (guest->len == 0 || guest->str[guest->len - 1] != '/')
        g_string_append_c (guest, '/');
      g_string_append (guest, name);
      if (!copy_entry (e, host, name, guest, dir, depth, error))
        return FALSE;
    }
  g_string_truncate (guest, guest_len);
  return TRUE;
}

gboolean
bgr_ext4_writer_add_tree (BgrExt4Writer *w, const char *host_dir, const char *guest_dir,
                          GCancellable *cancellable, GError **error)
{
  g_autoptr (GString) guest = g_string_new (guest_dir);
  g_autofree char *base = NULL;
  ext2_ino_t dir, top;
  gboolean made = FALSE, ok;
  struct stat st;
  Edit e;

  g_return_val_if_fail (w != NULL && w->fs != NULL, FALSE);
  bgr_ext4_edit_init (&e, w, cancellable);
  if (stat (host_dir, &st) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot read %s", host_dir);
      return FALSE;
    }
  if (!S_ISDIR (st.st_mode))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "%s is not a directory",
                   host_dir);
      return FALSE;
    }
  if (!bgr_ext4_resolve_for_add (&e, guest_dir, TRUE, &dir, &base, error)
      || !ensure_dir (&e, dir, base, guest_dir, &top, &made, error))
    return FALSE;
  ok = copy_tree (&e, host_dir, guest, top, 0, error);
  g_free (e.buf);
  if (!ok)
    {
      bgr_error_convert (error); /* cancelled */
      return FALSE;
    }
  /* A directory that was there keeps its own metadata: "/" or "/usr/lib"
   * should not take a temporary directory's 0700. */
  if (made)
    {
      errcode_t rc = bgr_ext4_set_added_metadata (&e, top, st.st_mode & 07777, st.st_mtim.tv_sec,
                                                  st.st_mtim.tv_nsec);
      if (rc != 0)
        return bgr_ext4_edit_fail (&e, rc, error, guest_dir, "cannot set metadata");
    }
  return TRUE;
}
