/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"

gboolean
bgr_write_all (int fd, const void *data, gsize len)
{
  const char *p = data;

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return FALSE;
        }
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static gboolean
write_all (int fd, const char *buf, gsize len, off_t off)
{
  while (len > 0)
    {
      ssize_t w = pwrite (fd, buf, len, off);
      if (w < 0)
        {
          if (errno == EINTR)
            continue;
          return FALSE;
        }
      buf += w;
      len -= (gsize) w;
      off += w;
    }
  return TRUE;
}

/* Copies the data extents of @in to @out; holes stay holes. */
static gboolean
sparse_copy (int in, int out, off_t size, const char *src, const char *dest,
             GCancellable *cancellable, GError **error)
{
  g_autofree char *buf = g_malloc (1 << 20);
  off_t data = 0;

  while (data < size)
    {
      off_t hole;

      data = lseek (in, data, SEEK_DATA);
      if (data < 0)
        {
          if (errno == ENXIO)
            break; /* only a hole remains */
          bgr_set_error_errno (error, errno, "cannot read %s", src);
          return FALSE;
        }
      hole = lseek (in, data, SEEK_HOLE);
      if (hole < 0)
        {
          bgr_set_error_errno (error, errno, "cannot read %s", src);
          return FALSE;
        }
      while (data < hole)
        {
          size_t want = (size_t) MIN ((off_t) (1 << 20), hole - data);
          ssize_t n = pread (in, buf, want, data);
          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            {
              bgr_set_error_errno (error, n < 0 ? errno : EIO, "cannot read %s", src);
              return FALSE;
            }
          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            return FALSE;
          if (!write_all (out, buf, (gsize) n, data))
            {
              bgr_set_error_errno (error, errno, "cannot write %s", dest);
              return FALSE;
            }
          data += n;
        }
    }
  /* The file ends with a hole: set the size without writing it. */
  if (ftruncate (out, size) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot size %s", dest);
      return FALSE;
    }
  return TRUE;
}

gboolean
bgr_copy_file (const char *src, const char *dest, GCancellable *cancellable, GError **error)
{
  struct stat st;
  int in, out;
  gboolean ok;

  in = open (src, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    {
      bgr_set_error_errno (error, errno, "cannot open %s", src);
      return FALSE;
    }
  if (fstat (in, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "%s is not a regular file", src);
      close (in);
      return FALSE;
    }
  out = open (dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777);
  if (out < 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", dest);
      close (in);
      return FALSE;
    }
  /* A reflink shares the blocks: instant, and no space used until written. */
  if (ioctl (out, FICLONE, in) == 0)
    ok = TRUE;
  else
    ok = sparse_copy (in, out, st.st_size, src, dest, cancellable, error);
  if (ok && fsync (out) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot write %s", dest);
      ok = FALSE;
    }
  close (in);
  close (out);
  if (!ok)
    unlink (dest);
  return ok;
}

gboolean
bgr_copy_tree (const char *src, const char *dest, GCancellable *cancellable, GError **error)
{
  g_autoptr (GDir) d = NULL;
  g_autoptr (GError) local_error = NULL;
  const char *name;
  struct stat st;
  mode_t mode;

  if (stat (src, &st) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot read %s", src);
      return FALSE;
    }
  /* Writable while we fill it; the source's mode once full (a read-only
   * source tree must not stop us from creating its children). */
  if (mkdir (dest, 0700) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", dest);
      return FALSE;
    }
  mode = st.st_mode & 0777;
  d = g_dir_open (src, 0, &local_error);
  if (d == NULL)
    {
      bgr_propagate_error (error, g_steal_pointer (&local_error), "cannot read %s", src);
      return FALSE;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *s = g_build_filename (src, name, NULL);
      g_autofree char *t = g_build_filename (dest, name, NULL);

      if (lstat (s, &st) != 0)
        {
          bgr_set_error_errno (error, errno, "cannot read %s", s);
          return FALSE;
        }
      if (S_ISDIR (st.st_mode))
        {
          if (!bgr_copy_tree (s, t, cancellable, error))
            return FALSE;
        }
      else if (S_ISREG (st.st_mode))
        {
          if (!bgr_copy_file (s, t, cancellable, error))
            return FALSE;
        }
    }
  if (chmod (dest, mode) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot set the mode of %s", dest);
      return FALSE;
    }
  return TRUE;
}

static int
rm_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove (path) == 0 || errno == ENOENT ? 0 : -1;
}

gboolean
bgr_rm_rf (const char *path, GError **error)
{
  struct stat st;

  if (lstat (path, &st) != 0)
    return errno == ENOENT ? TRUE : (bgr_set_error_errno (error, errno, "cannot remove %s", path), FALSE);
  if (nftw (path, rm_one, 32, FTW_DEPTH | FTW_PHYS) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot remove %s", path);
      return FALSE;
    }
  return TRUE;
}

static guint64 size_total;
static gboolean size_allocated;
G_LOCK_DEFINE_STATIC (size_lock);

static int
size_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  if (flag == FTW_F)
    size_total += size_allocated ? (guint64) st->st_blocks * 512 : (guint64) st->st_size;
  return 0;
}

static guint64
measure (const char *path, gboolean allocated)
{
  guint64 total;

  G_LOCK (size_lock);
  size_total = 0;
  size_allocated = allocated;
  nftw (path, size_one, 32, FTW_PHYS);
  total = size_total;
  G_UNLOCK (size_lock);
  return total;
}

static char *
describe_uid (uid_t uid)
{
  struct passwd pw, *res = NULL;
  char buf[1024];

  if (getpwuid_r (uid, &pw, buf, sizeof buf, &res) == 0 && res != NULL)
    return g_strdup_printf ("%s (uid %u)", res->pw_name, (unsigned) uid);
  return g_strdup_printf ("uid %u", (unsigned) uid);
}

gboolean
bgr_ensure_private_dir (const char *path, int mode, const char *what, GError **error)
{
  struct stat st;
  uid_t me = geteuid ();

  if (stat (path, &st) != 0)
    {
      g_autofree char *parent = NULL;

      if (errno != ENOENT)
        {
          bgr_set_error_errno (error, errno, "cannot examine %s %s", what, path);
          return FALSE;
        }
      parent = g_path_get_dirname (path);
      if (g_mkdir_with_parents (parent, 0700) != 0
          || (mkdir (path, mode) != 0 && errno != EEXIST))
        {
          bgr_set_error_errno (error, errno, "cannot create %s %s", what, path);
          return FALSE;
        }
      if (stat (path, &st) != 0)
        {
          bgr_set_error_errno (error, errno, "cannot examine %s %s", what, path);
          return FALSE;
        }
    }
  if (!S_ISDIR (st.st_mode))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                   "%s %s is not a directory: remove it or choose another %s", what, path, what);
      return FALSE;
    }
  if (st.st_uid != me)
    {
      g_autofree char *owner = describe_uid (st.st_uid);
      g_autofree char *self = describe_uid (me);
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                   "%s %s is owned by %s, not by %s that runs banger: another user could "
                   "change what banger reads and writes there; use a directory of your own "
                   "(chown it) or another %s", what, path, owner, self, what);
      return FALSE;
    }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    {
      const char *who = (st.st_mode & S_IWGRP) && (st.st_mode & S_IWOTH) ? "group and others"
                        : (st.st_mode & S_IWOTH)                      ? "others"
                                                                      : "its group";
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                   "%s %s is writable by %s (mode %04o): use a private directory "
                   "(chmod 700 %s) or another %s", what, path, who,
                   (unsigned) (st.st_mode & 07777), path, what);
      return FALSE;
    }
  return TRUE;
}

guint64
bgr_path_size (const char *path)
{
  return measure (path, FALSE);
}

guint64
bgr_path_allocated (const char *path)
{
  return measure (path, TRUE);
}

char *
bgr_read_tail (const char *path, gsize max_bytes)
{
  int fd = path != NULL ? open (path, O_RDONLY | O_CLOEXEC) : -1;
  struct stat st;
  char *buf;
  off_t from;
  ssize_t n;

  if (fd < 0)
    return g_strdup ("");
  if (fstat (fd, &st) != 0)
    {
      close (fd);
      return g_strdup ("");
    }
  from = st.st_size > (off_t) max_bytes ? st.st_size - (off_t) max_bytes : 0;
  buf = g_malloc ((gsize) (st.st_size - from) + 1);
  n = pread (fd, buf, (gsize) (st.st_size - from), from);
  close (fd);
  buf[n > 0 ? n : 0] = '\0';
  return buf;
}

char *
bgr_last_lines (const char *text, guint lines)
{
  g_auto (GStrv) all = g_strsplit (text, "\n", -1);
  guint n = g_strv_length (all), from;

  while (n > 0 && all[n - 1][0] == '\0')
    {
      g_free (all[n - 1]);
      all[--n] = NULL;
    }
  from = n > lines ? n - lines : 0;
  return g_strjoinv ("\n", all + from);
}
