/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Growing an ext4 image file and its filesystem (e2fsck, then resize2fs). */
#include "config.h"

#include <errno.h>
#include <ext2fs/ext2_err.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "ext4/bgr-ext4-paths-private.h"
#include "ext4/bgr-ext4-private.h"
#include "ext4/bgr-ext4-writer-private.h"

/* Runs @argv (an e2fsprogs program, full path first) to its end; its
 * output (stdout and stderr) in *out. */
static gboolean
run_tool (const char *const *argv, int *status, char **out, GError **error)
{
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GBytes) bytes = NULL;
  GError *local = NULL;

  proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE,
                            &local);
  /* No cancellable: a filesystem tool killed half-way may leave the
   * filesystem half-changed. */
  if (proc == NULL || !g_subprocess_communicate (proc, NULL, NULL, &bytes, NULL, &local))
    {
      bgr_propagate_error (error, local, "cannot run %s: ", argv[0]);
      return FALSE;
    }
  *status = g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1;
  {
    gsize len = 0;
    const char *data = bytes != NULL ? g_bytes_get_data (bytes, &len) : "";
    g_autofree char *text = g_utf8_make_valid (data, (gssize) len);
    *out = g_strdup (g_strstrip (text));
  }
  return TRUE;
}

/* The filesystem size in @path's superblock; 0 when unreadable. */
static guint64
fs_size_of (const char *path)
{
  ext2_filsys fs = NULL;
  guint64 size;

  if (ext2fs_open (path, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs) != 0)
    return 0;
  size = ext2fs_blocks_count (fs->super) * (guint64) fs->blocksize;
  ext2fs_close_free (&fs);
  return size;
}

gboolean
bgr_ext4_grow (const char *path, guint64 new_size, GCancellable *cancellable, GError **error)
{
  g_autofree char *e2fsck = bgr_ext4_find_tool ("e2fsck");
  g_autofree char *resize2fs = bgr_ext4_find_tool ("resize2fs");
  g_autofree char *size_arg = NULL, *out = NULL;
  guint64 old_size;
  struct stat st;
  int status = 0, fd;

  if (stat (path, &st) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot open image %s", path);
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "image %s is not a regular file",
                   path);
      return FALSE;
    }
  old_size = (guint64) st.st_size;
  if (new_size < old_size)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "cannot shrink image %s from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
                   " bytes", path, old_size, new_size);
      return FALSE;
    }
  new_size -= new_size % BLOCK_SIZE;
  if (new_size <= old_size)
    return TRUE;
  if (!bgr_ext4_check (path, "image", error))
    return FALSE;
  if (e2fsck == NULL || resize2fs == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "%s not found (install e2fsprogs)",
                   e2fsck == NULL ? "e2fsck" : "resize2fs");
      return FALSE;
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  /* resize2fs wants a filesystem checked since it was last mounted; -p
   * replays the journal and makes the safe repairs only. Exit status 1 is
   * "errors corrected". */
  if (!run_tool ((const char *const[]){ e2fsck, "-f", "-p", path, NULL }, &status, &out, error))
    return FALSE;
  if (status != 0 && status != 1)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_CORRUPT,
                   "e2fsck -f -p %s failed (exit status %d; run e2fsck -f on it): %s", path,
                   status, out);
      return FALSE;
    }
  g_clear_pointer (&out, g_free);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot open image %s", path);
      return FALSE;
    }
  if (ftruncate (fd, (off_t) new_size) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot extend image %s", path);
      close (fd);
      return FALSE;
    }
  size_arg = g_strdup_printf ("%" G_GUINT64_FORMAT "K", new_size / 1024);
  if (!run_tool ((const char *const[]){ resize2fs, path, size_arg, NULL }, &status, &out, error)
      || status != 0)
    {
      guint64 fs_size = fs_size_of (path);

      if (out != NULL)
        g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "resize2fs %s failed: %s", path, out);
      /* Cut the file back only if the filesystem did not grow. */
      if (fs_size != 0 && fs_size <= old_size)
        {
          if (ftruncate (fd, (off_t) old_size) != 0)
            g_warning ("cannot restore the size of %s: %s", path, g_strerror (errno));
        }
      close (fd);
      return FALSE;
    }
  if (fsync (fd) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot write image %s", path);
      close (fd);
      return FALSE;
    }
  close (fd);
  return TRUE;
}
