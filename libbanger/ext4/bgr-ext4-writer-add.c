/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bgr_ext4_writer_add_data() and _add_file() calls: host content put at
 * a guest path, resolved as the guest would (symlinks followed inside the
 * image), the replaced file removed only once the new one is complete. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "ext4/bgr-ext4-writer-internal.h"

void
bgr_ext4_edit_init (Edit *e, BgrExt4Writer *w, GCancellable *cancellable)
{
  gint64 t = g_get_real_time ();

  e->w = w;
  e->fs = w->fs;
  e->cancellable = cancellable;
  e->now = t / G_USEC_PER_SEC;
  e->now_ns = (long) (t % G_USEC_PER_SEC) * 1000;
  e->buf = NULL;
}

/* "IMAGE: GUEST: why", the guest path escaped (parts of it may come from
 * the image's symlinks). */
gboolean
bgr_ext4_edit_refuse (Edit *e, GError **error, int code, const char *guest, const char *fmt, ...)
{
  g_autofree char *shown = bgr_ext4_escape_path (guest);
  g_autofree char *why = NULL;
  va_list ap;

  va_start (ap, fmt);
  why = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, BGR_ERROR, code, "%s: %s: %s", e->w->path, shown, why);
  return FALSE;
}

gboolean
bgr_ext4_edit_fail (Edit *e, errcode_t rc, GError **error, const char *guest, const char *what)
{
  g_autofree char *shown = bgr_ext4_escape_path (guest);

  if (rc == EXT2_ET_BLOCK_ALLOC_FAIL || rc == EXT2_ET_INODE_ALLOC_FAIL
      || rc == EXT2_ET_DIR_NO_SPACE)
    bgr_set_error_from_ext2fs (error, rc, "%s: no space left for %s", e->w->path, shown);
  else
    bgr_set_error_from_ext2fs (error, rc, "%s: %s: %s", e->w->path, shown, what);
  return FALSE;
}

/* Owner 0:0, permission bits @perm (the type stays), modification and
 * access time @mtime, change and creation time now. */
errcode_t
bgr_ext4_set_added_metadata (Edit *e, ext2_ino_t ino, guint perm, gint64 mtime, long mtime_ns)
{
  struct ext2_inode_large inode;
  gboolean large = EXT2_INODE_SIZE (e->fs->super) > EXT2_GOOD_OLD_INODE_SIZE;
  errcode_t rc;

  if ((rc = bgr_ext4_read_inode (e->fs, ino, &inode)) != 0)
    return rc;
  inode.i_mode = (__u16) ((inode.i_mode & LINUX_S_IFMT) | (perm & 07777));
  inode.i_uid = 0;
  ext2fs_set_i_uid_high (inode, 0);
  inode.i_gid = 0;
  ext2fs_set_i_gid_high (inode, 0);
  bgr_ext4_set_time (&inode.i_mtime, TIME_EXTRA (&inode, large, i_mtime_extra), mtime, mtime_ns);
  bgr_ext4_set_time (&inode.i_atime, TIME_EXTRA (&inode, large, i_atime_extra), mtime, mtime_ns);
  bgr_ext4_set_time (&inode.i_ctime, TIME_EXTRA (&inode, large, i_ctime_extra), e->now, e->now_ns);
  if (TIME_EXTRA (&inode, large, i_crtime_extra) != NULL)
    bgr_ext4_set_time (&inode.i_crtime, &inode.i_crtime_extra, e->now, e->now_ns);
  return bgr_ext4_write_inode (e->fs, ino, &inode);
}

/* A new directory @name in @dir: 0755, 0:0, times now. */
errcode_t
bgr_ext4_make_added_dir (Edit *e, ext2_ino_t dir, const char *name, ext2_ino_t *out)
{
  errcode_t rc = bgr_ext4_make_dir (e->fs, dir, name, out);

  if (rc == 0)
    rc = bgr_ext4_set_added_metadata (e, *out, 0755, e->now, e->now_ns);
  return rc;
}

/* Symlink @ino (the @links-th followed) met while resolving @guest_path:
 * its target's names go onto @todo; an absolute one starts at the root. */
static gboolean
follow_added_link (Edit *e, const char *guest_path, ext2_ino_t ino,
                   struct ext2_inode_large *inode, guint links, GPtrArray *todo, GArray *dirs,
                   GError **error)
{
  g_autofree char *target = NULL;
  errcode_t rc;

  if (links > MAX_SYMLINKS)
    return bgr_ext4_edit_refuse (e, error, BGR_ERROR_INVALID_DATA, guest_path,
                                 "too many levels of symbolic links in the image");
  if ((rc = bgr_ext4_read_symlink (e->fs, ino, inode, &target)) != 0)
    return bgr_ext4_edit_fail (e, rc, error, guest_path, "cannot read a symlink");
  if (target[0] == '/')
    g_array_set_size (dirs, 1);
  bgr_ext4_push_names (todo, target);
  return TRUE;
}

/* A missing parent @name in @dir, made and pushed onto @dirs. */
static gboolean
make_parent (Edit *e, const char *guest_path, ext2_ino_t dir, const char *name, GArray *dirs,
             GError **error)
{
  ext2_ino_t ino;
  errcode_t rc;

  if (dirs->len > MAX_DEPTH)
    return bgr_ext4_edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest_path,
                                 "path deeper than 64 levels");
  if ((rc = bgr_ext4_make_added_dir (e, dir, name, &ino)) != 0)
    return bgr_ext4_edit_fail (e, rc, error, guest_path, "cannot create a parent directory");
  g_array_append_val (dirs, ino);
  return TRUE;
}

/* Resolves @guest_path as a process chrooted into the image would, but
 * creating missing directories (0755, 0:0) on the way: symlinks are
 * followed, an absolute target from the image root, a relative one from
 * the link's directory, ".." never climbs above the root, and at most 40
 * symlinks are followed. The last name is followed too with @follow_last.
 * On success *out_dir is the directory that holds the last name and
 * *out_base that name (it may not exist yet), or NULL when the path ends
 * at a directory itself ("/", "..", a symlink to a directory). */
gboolean
bgr_ext4_resolve_for_add (Edit *e, const char *guest_path, gboolean follow_last,
                          ext2_ino_t *out_dir, char **out_base, GError **error)
{
  g_autoptr (GPtrArray) todo = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) dirs = g_array_new (FALSE, FALSE, sizeof (ext2_ino_t));
  ext2_ino_t root = EXT2_ROOT_INO;
  guint links = 0;

  if (strlen (guest_path) > MAX_PATH_LEN)
    return bgr_ext4_edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest_path,
                                 "path longer than 4096 bytes");
  g_array_append_val (dirs, root);
  bgr_ext4_push_names (todo, guest_path);
  while (todo->len > 0)
    {
      g_autofree char *name = g_ptr_array_steal_index (todo, todo->len - 1);
      ext2_ino_t dir = g_array_index (dirs, ext2_ino_t, dirs->len - 1), ino;
      gboolean last = todo->len == 0;
      struct ext2_inode_large inode;
      errcode_t rc;

      if (g_str_equal (name, ".."))
        {
          if (dirs->len > 1)
            g_array_set_size (dirs, dirs->len - 1);
          continue;
        }
      if (strlen (name) > MAX_NAME_LEN)
        return bgr_ext4_edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest_path,
                                     "name longer than 255 bytes");
      rc = bgr_ext4_lookup (e->fs, dir, name, &ino);
      if (rc == EXT2_ET_FILE_NOT_FOUND && last)
        {
          *out_dir = dir;
          *out_base = g_steal_pointer (&name);
          return TRUE;
        }
      if (rc == EXT2_ET_FILE_NOT_FOUND)
        {
          if (!make_parent (e, guest_path, dir, name, dirs, error))
            return FALSE;
          continue;
        }
      if (rc != 0)
        return bgr_ext4_edit_fail (e, rc, error, guest_path, "cannot look up a parent directory");
      if ((rc = bgr_ext4_read_inode (e->fs, ino, &inode)) != 0)
        return bgr_ext4_edit_fail (e, rc, error, guest_path, "cannot read a parent directory");
      if (LINUX_S_ISLNK (inode.i_mode) && (!last || follow_last))
        {
          if (!follow_added_link (e, guest_path, ino, &inode, ++links, todo, dirs, error))
            return FALSE;
          continue;
        }
      if (last)
        {
          *out_dir = dir;
          *out_base = g_steal_pointer (&name);
          return TRUE;
        }
      if (!LINUX_S_ISDIR (inode.i_mode))
        {
          g_autofree char *shown = bgr_ext4_escape_path (name);
          return bgr_ext4_edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest_path,
                                       "\"%s\" is not a directory in the image", shown);
        }
      if (dirs->len > MAX_DEPTH)
        return bgr_ext4_edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest_path,
                                     "path deeper than 64 levels");
      g_array_append_val (dirs, ino);
    }
  *out_dir = g_array_index (dirs, ext2_ino_t, dirs->len - 1);
  *out_base = NULL;
  return TRUE;
}

/* What is at @name in @dir: 0 when nothing; a directory is refused, since
 * only a file or a symlink is being put there. */
static gboolean
check_replaceable (Edit *e, ext2_ino_t dir, const char *name, const char *guest,
                   ext2_ino_t *old, GError **error)
{
  struct ext2_inode_large inode;
  errcode_t rc = bgr_ext4_lookup (e->fs, dir, name, old);

  if (rc == EXT2_ET_FILE_NOT_FOUND)
    {
      *old = 0;
      return TRUE;
    }
  if (rc == 0)
    rc = bgr_ext4_read_inode (e->fs, *old, &inode);
  if (rc != 0)
    return bgr_ext4_edit_fail (e, rc, error, guest, "cannot look up the existing entry");
  if (LINUX_S_ISDIR (inode.i_mode))
    return bgr_ext4_edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest,
                                 "is a directory in the image");
  return TRUE;
}

/* Puts @ino, complete, at @name in @dir in place of @old. */
static errcode_t
swap_in (Edit *e, ext2_ino_t dir, const char *name, ext2_ino_t old, ext2_ino_t ino,
         guint16 mode)
{
  errcode_t rc;

  if (old != 0 && (rc = bgr_ext4_remove_entry (e->fs, dir, name, old)) != 0)
    return rc;
  return bgr_ext4_link_entry (e->fs, dir, name, ino, mode);
}

/* Writes a new regular file at @name in @dir from @fd (when >= 0) or
 * @data, then puts it in place of what was there. The new inode is
 * complete before the old entry goes, so a failure (a full filesystem)
 * leaves the old file and no trace of the new one. */
gboolean
bgr_ext4_put_regular (Edit *e, ext2_ino_t dir, const char *name, const char *guest, int fd,
                      const char *host_path, const void *data, gsize len, guint perm, gint64 mtime,
                      long mtime_ns, GError **error)
{
  guint bs = e->fs->blocksize;
  struct ext2_inode_large inode;
  ext2_ino_t old, ino = 0;
  guint64 offset = 0;
  errcode_t rc = 0;

  if (!check_replaceable (e, dir, name, guest, &old, error))
    return FALSE;
  /* Known too big: say so before filling the image. */
  if ((len + bs - 1) / bs > ext2fs_free_blocks_count (e->fs->super))
    return bgr_ext4_edit_fail (e, EXT2_ET_BLOCK_ALLOC_FAIL, error, guest, NULL);
  if (e->buf == NULL)
    e->buf = g_malloc (CHUNK_SIZE);
  if ((rc = bgr_ext4_new_plain_inode (e->fs, dir, LINUX_S_IFREG | 0600, TRUE, NULL, &ino)) != 0)
    return bgr_ext4_edit_fail (e, rc, error, guest, "cannot create the file");
  for (;;)
    {
      gsize filled = 0, padded;

      if (g_cancellable_set_error_if_cancelled (e->cancellable, error))
        goto fail_quiet;
      if (fd >= 0)
        {
          /* Whole chunks, so that bgr_ext4_write_blocks() sees aligned blocks. */
          while (filled < CHUNK_SIZE)
            {
              ssize_t n = read (fd, e->buf + filled, CHUNK_SIZE - filled);
              if (n < 0 && errno == EINTR)
                continue;
              if (n < 0)
                {
                  bgr_set_error_errno (error, errno, "cannot read %s", host_path);
                  goto fail_quiet;
                }
              if (n == 0)
                break;
              filled += (gsize) n;
            }
        }
      else
        {
          filled = MIN ((gsize) CHUNK_SIZE, len - offset);
          if (filled > 0)
            memcpy (e->buf, (const char *) data + offset, filled);
        }
      if (filled == 0)
        break;
      /* The last block is written whole, zeros after the end. */
      padded = (filled + bs - 1) / bs * bs;
      memset (e->buf + filled, 0, padded - filled);
      if ((rc = bgr_ext4_write_blocks (e->fs, ino, e->buf, padded, offset / bs)) != 0)
        goto fail;
      offset += filled;
    }
  if ((rc = bgr_ext4_read_inode (e->fs, ino, &inode)) != 0
      || (rc = ext2fs_inode_size_set (e->fs, (struct ext2_inode *) &inode, offset)) != 0
      || (rc = bgr_ext4_write_inode (e->fs, ino, &inode)) != 0
      || (rc = bgr_ext4_set_added_metadata (e, ino, perm, mtime, mtime_ns)) != 0
      || (rc = swap_in (e, dir, name, old, ino, LINUX_S_IFREG)) != 0)
    goto fail;
  return TRUE;

fail:
  bgr_ext4_edit_fail (e, rc, error, guest, "cannot write the file");
fail_quiet:
  bgr_ext4_release_inode (e->fs, ino);
  return FALSE;
}

gboolean
bgr_ext4_put_symlink (Edit *e, ext2_ino_t dir, const char *name, const char *guest,
                      const char *target, gint64 mtime, long mtime_ns, GError **error)
{
  g_autofree char *copy = g_strdup (target);
  ext2_ino_t old, ino;
  errcode_t rc;

  if (*target == '\0' || strlen (target) >= MIN (e->fs->blocksize, MAX_PATH_LEN))
    return bgr_ext4_edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest,
                                 "symlink target empty or too long for the image");
  if (!check_replaceable (e, dir, name, guest, &old, error))
    return FALSE;
  if ((rc = ext2fs_new_inode (e->fs, dir, LINUX_S_IFLNK | 0777, NULL, &ino)) != 0
      || (rc = ext2fs_symlink (e->fs, dir, ino, NULL, copy)) != 0)
    return bgr_ext4_edit_fail (e, rc, error, guest, "cannot create the symlink");
  if ((rc = bgr_ext4_set_added_metadata (e, ino, 0777, mtime, mtime_ns)) != 0
      || (rc = swap_in (e, dir, name, old, ino, LINUX_S_IFLNK)) != 0)
    {
      bgr_ext4_release_inode (e->fs, ino);
      return bgr_ext4_edit_fail (e, rc, error, guest, "cannot create the symlink");
    }
  return TRUE;
}

/* Resolves @guest_path for a new file: its directory and name. */
static gboolean
resolve_file_path (Edit *e, const char *guest_path, ext2_ino_t *dir, char **base,
                   GError **error)
{
  if (!bgr_ext4_resolve_for_add (e, guest_path, FALSE, dir, base, error))
    return FALSE;
  if (*base == NULL)
    return bgr_ext4_edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest_path,
                                 "is a directory in the image");
  return TRUE;
}

gboolean
bgr_ext4_writer_add_data (BgrExt4Writer *w, const char *guest_path, const void *data, gsize len,
                          guint mode, GError **error)
{
  g_autofree char *base = NULL;
  gboolean ok;
  ext2_ino_t dir;
  Edit e;

  g_return_val_if_fail (w != NULL && w->fs != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  bgr_ext4_edit_init (&e, w, NULL);
  if (!resolve_file_path (&e, guest_path, &dir, &base, error))
    return FALSE;
  ok = bgr_ext4_put_regular (&e, dir, base, guest_path, -1, NULL, data, len, mode, e.now, e.now_ns,
                             error);
  g_free (e.buf);
  return ok;
}

gboolean
bgr_ext4_writer_add_file (BgrExt4Writer *w, const char *guest_path, const char *host_path,
                          guint mode, GCancellable *cancellable, GError **error)
{
  g_autofree char *base = NULL;
  struct stat st;
  gboolean ok;
  ext2_ino_t dir;
  Edit e;
  int fd;

  g_return_val_if_fail (w != NULL && w->fs != NULL, FALSE);
  bgr_ext4_edit_init (&e, w, cancellable);
  /* O_NONBLOCK: a FIFO is refused below instead of waited on. */
  fd = open (host_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot open %s", host_path);
      return FALSE;
    }
  if (fstat (fd, &st) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot read %s", host_path);
      close (fd);
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "%s is not a regular file",
                   host_path);
      close (fd);
      return FALSE;
    }
  ok = resolve_file_path (&e, guest_path, &dir, &base, error)
       && bgr_ext4_put_regular (&e, dir, base, guest_path, fd, host_path, NULL,
                                (gsize) st.st_size, mode != 0 ? mode : (guint) (st.st_mode & 07777),
                                e.now, e.now_ns, error);
  close (fd);
  g_free (e.buf);
  if (!ok)
    bgr_error_convert (error);
  return ok;
}
