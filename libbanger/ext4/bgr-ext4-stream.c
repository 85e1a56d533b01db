/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tar streams put into existing ext4 images (bgr-ext4-stream-private.h):
 * the stream comes through a pipe from a producer thread and is replayed
 * by the layer writer, so nothing is staged on the host. */
#include "config.h"

#include <errno.h>
#include <ext2fs/ext2_err.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <string.h>
#include <glib-unix.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "ext4/bgr-ext4-private.h"
#include "ext4/bgr-ext4-paths-private.h"
#include "ext4/bgr-ext4-stream-private.h"

static gboolean
walk_free (ext2_filsys fs, const char *path, GError **error)
{
  const char *why = NULL;
  g_autoptr (GPtrArray) comps = bgr_ext4_fold_path (path, &why);
  ext2_ino_t dir = EXT2_ROOT_INO;

  if (comps == NULL || comps->len == 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "%s: %s", path,
                   why != NULL ? why : "the image root itself");
      return FALSE;
    }
  for (guint i = 0; i < comps->len; i++)
    {
      const char *name = g_ptr_array_index (comps, i);
      struct ext2_inode inode;
      ext2_ino_t ino = 0;
      errcode_t rc = ext2fs_lookup (fs, dir, name, (int) strlen (name), NULL, &ino);

      if (rc == EXT2_ET_FILE_NOT_FOUND)
        return TRUE; /* the rest is made */
      if (rc == 0)
        rc = ext2fs_read_inode (fs, ino, &inode);
      if (rc != 0)
        {
          bgr_set_error_from_ext2fs (error, rc, "cannot look up %s in the image", name);
          return FALSE;
        }
      if (i + 1 == comps->len || !LINUX_S_ISDIR (inode.i_mode))
        {
          g_autofree char *shown = bgr_ext4_join_comps (comps, i + 1);
          g_autofree char *esc = bgr_ext4_escape_path (shown);
          g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS, "/%s already exists in the image", esc);
          return FALSE;
        }
      dir = ino;
    }
  return TRUE;
}

gboolean
bgr_ext4_path_is_free (const char *image, const char *path, GError **error)
{
  ext2_filsys fs = NULL;
  errcode_t rc;
  gboolean ok;

  if (!bgr_ext4_check (image, "image", error))
    return FALSE;
  rc = ext2fs_open (image, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
  if (rc != 0)
    {
      bgr_set_error_from_ext2fs (error, rc, "cannot open %s", image);
      return FALSE;
    }
  ok = walk_free (fs, path, error);
  ext2fs_close_free (&fs);
  return ok;
}

static int
count_entry (ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent, int offset,
             int blocksize, char *buf, void *data)
{
  int len = ext2fs_dirent_name_len (dirent);
  gboolean *empty = data;

  (void) dir, (void) entry, (void) offset, (void) blocksize, (void) buf;
  if ((len == 1 && dirent->name[0] == '.') || (len == 2 && strncmp (dirent->name, "..", 2) == 0)
      || (len == 10 && strncmp (dirent->name, "lost+found", 10) == 0))
    return 0;
  *empty = FALSE;
  return DIRENT_ABORT;
}

gboolean
bgr_ext4_root_is_empty (const char *image, gboolean *out_empty, GError **error)
{
  ext2_filsys fs = NULL;
  errcode_t rc;

  *out_empty = TRUE;
  rc = ext2fs_open (image, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
  if (rc == 0)
    rc = ext2fs_dir_iterate2 (fs, EXT2_ROOT_INO, 0, NULL, count_entry, out_empty);
  if (fs != NULL)
    ext2fs_close_free (&fs);
  if (rc != 0)
    {
      bgr_set_error_from_ext2fs (error, rc, "cannot read the top directory of %s", image);
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  BgrExt4StreamFunc produce;
  gpointer data;
  int fd;
  GCancellable *cancellable;
  GError *error;
} Producer;

static gpointer
produce_thread (gpointer p)
{
  Producer *pr = p;

  if (!pr->produce (pr->fd, pr->data, pr->cancellable, &pr->error) && pr->error == NULL)
    g_set_error (&pr->error, BGR_ERROR, BGR_ERROR_FAILED, "the tar stream could not be written");
  close (pr->fd);
  return NULL;
}

static void
forward_cancel (GCancellable *cancellable, gpointer stop)
{
  (void) cancellable;
  g_cancellable_cancel (stop);
}

/* Reads what is left, so that the producer never blocks on (or is killed
 * by) a pipe nobody reads. */
static void
drain (int fd)
{
  char buf[65536];
  ssize_t n;

  while ((n = read (fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    ;
}

gboolean
bgr_ext4_writer_apply_stream (BgrExt4Writer *w, const char *what, BgrExt4StreamFunc produce,
                              gpointer data, GCancellable *cancellable, GError **error)
{
  g_autoptr (GCancellable) stop = g_cancellable_new ();
  g_autofree char *fd_path = NULL;
  Producer pr = { produce, data, -1, stop, NULL };
  GError *local = NULL;
  gulong handler = 0;
  GThread *thread;
  gboolean ok;
  int fds[2];

  if (g_unix_open_pipe (fds, FD_CLOEXEC, error) == FALSE)
    return FALSE;
  pr.fd = fds[1];
  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (forward_cancel), stop, NULL);
  thread = g_thread_new ("bgr-ext4-stream", produce_thread, &pr);
  /* The layer reader opens a path: the pipe's read end, as this process
   * sees it. */
  fd_path = g_strdup_printf ("/proc/self/fd/%d", fds[0]);
  ok = bgr_ext4_writer_apply_layer_file (w, fd_path, what, NULL, cancellable, &local);
  if (!ok)
    g_cancellable_cancel (stop);
  drain (fds[0]);
  g_thread_join (thread);
  close (fds[0]);
  if (handler != 0)
    g_cancellable_disconnect (cancellable, handler);
  /* The producer's own error says more than the reader's "truncated". */
  if (pr.error != NULL && !g_error_matches (pr.error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_error (&local);
      g_propagate_prefixed_error (error, pr.error, "%s: ", what);
      return FALSE;
    }
  g_clear_error (&pr.error);
  if (!ok)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  return TRUE;
}
