/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A growable writer: an image made smaller than a layer replay may need
 * grows while it is written, between entries, when the next entry might
 * not fit or the inodes run low. The filesystem is flushed and closed,
 * resize2fs grows it (new block groups: no inode or directory moves, so
 * the directory entry cache stays valid), and it is opened again. So a
 * pull needs no sizing pass over its layers before the replay. Every
 * writer also starts the image file's writeback as the replay goes. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "ext4/bgr-ext4-private.h"
#include "ext4/bgr-ext4-writer-internal.h"

/* Every this many blocks written, the image file's writeback is started
 * (not waited for), so that the sync when it is closed has little left. */
#define WRITEBACK_BLOCKS 4096 /* 16 MiB */

/* Free space kept beyond the next entry, and free inodes kept. */
#define MARGIN_BLOCKS 4096 /* 16 MiB */
#define MARGIN_INODES 256

void
bgr_ext4_writer_set_growable (BgrExt4Writer *w, gboolean growable)
{
  g_return_if_fail (w != NULL);
  w->growable = growable;
}

void
bgr_ext4_writer_set_tick (BgrExt4Writer *w, GSourceFunc tick, gpointer data)
{
  g_return_if_fail (w != NULL);
  w->tick = tick;
  w->tick_data = data;
}

guint64
bgr_ext4_writer_get_size (BgrExt4Writer *w)
{
  g_return_val_if_fail (w != NULL, 0);
  return w->fs_bytes;
}

static gboolean
resize (const char *path, guint64 new_size, GError **error)
{
  g_autofree char *resize2fs = bgr_ext4_find_tool ("resize2fs");
  g_autofree char *size_arg = g_strdup_printf ("%" G_GUINT64_FORMAT "K", new_size / 1024);
  g_autofree char *out = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  GError *local = NULL;

  if (resize2fs == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "resize2fs not found (install e2fsprogs)");
      return FALSE;
    }
  if (truncate (path, (off_t) new_size) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot extend %s", path);
      return FALSE;
    }
  /* -f: this process made the filesystem and just closed it cleanly; no
   * e2fsck first. */
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &local,
                           resize2fs, "-f", path, size_arg, NULL);
  if (proc == NULL || !g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &local))
    {
      bgr_propagate_error (error, local, "cannot run %s: ", resize2fs);
      return FALSE;
    }
  if (!g_subprocess_get_if_exited (proc) || g_subprocess_get_exit_status (proc) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "resize2fs %s failed: %s", path,
                   out != NULL ? g_strstrip (out) : "");
      return FALSE;
    }
  return TRUE;
}

static gboolean
reopen (BgrExt4Writer *w, BgrExt4Caches *caches, GError **error)
{
  errcode_t rc = ext2fs_open (w->path, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager,
                              &w->fs);

  if (rc != 0)
    {
      w->fs = NULL;
      bgr_ext4_caches_free (caches);
      bgr_set_error_from_ext2fs (error, rc, "cannot open %s again after growing it", w->path);
      return FALSE;
    }
  bgr_ext4_caches_put (w->fs, caches);
  if ((rc = ext2fs_read_bitmaps (w->fs)) != 0)
    {
      bgr_set_error_from_ext2fs (error, rc, "cannot read the bitmaps of %s", w->path);
      return FALSE;
    }
  w->fs->flags |= EXT2_FLAG_IGNORE_CSUM_ERRORS;
  w->fs_bytes = ext2fs_blocks_count (w->fs->super) * (guint64) w->fs->blocksize;
  return TRUE;
}

/* Starts writing back what was written since the last time, once that is
 * WRITEBACK_BLOCKS: the disk works while the layers are still replayed. */
static void
start_writeback (BgrExt4Writer *w)
{
  guint64 used = ext2fs_blocks_count (w->fs->super) - ext2fs_free_blocks_count (w->fs->super);

  if (used < w->written_back + WRITEBACK_BLOCKS)
    return;
  w->written_back = used;
  if (w->sync_fd < 0)
    w->sync_fd = open (w->path, O_RDONLY | O_CLOEXEC);
  /* Only a hint: a failure costs time at the end, nothing else. */
  if (w->sync_fd >= 0 && sync_file_range (w->sync_fd, 0, 0, SYNC_FILE_RANGE_WRITE) != 0)
    g_debug ("sync_file_range %s: %s", w->path, g_strerror (errno));
}

gboolean
bgr_ext4_writer_make_room (BgrExt4Writer *w, guint64 bytes, GError **error)
{
  guint64 need = bytes / BLOCK_SIZE + MARGIN_BLOCKS, new_size;
  BgrExt4Caches *caches = NULL;
  gint64 started, closed, resized;
  errcode_t rc;

  start_writeback (w);
  if (w->tick != NULL && g_get_monotonic_time () - w->last_tick > 100 * G_TIME_SPAN_MILLISECOND)
    {
      w->last_tick = g_get_monotonic_time ();
      w->tick (w->tick_data);
    }
  if (!w->growable || (ext2fs_free_blocks_count (w->fs->super) >= need
                       && w->fs->super->s_free_inodes_count >= MARGIN_INODES))
    return TRUE;
  started = g_get_monotonic_time ();
  /* Half as large again, at least enough. */
  new_size = MAX (w->fs_bytes + w->fs_bytes / 2, w->fs_bytes + 2 * need * BLOCK_SIZE);
  /* Inodes come with new block groups only: half as many groups again. */
  if (w->fs->super->s_free_inodes_count < MARGIN_INODES)
    {
      guint64 group = (guint64) w->fs->super->s_blocks_per_group * BLOCK_SIZE;
      guint64 groups = (w->fs_bytes + group - 1) / group;

      new_size = MAX (new_size, (groups + MAX (groups / 2, 1)) * group);
    }
  new_size -= new_size % BLOCK_SIZE;
  w->fs->flags &= ~EXT2_FLAG_IGNORE_CSUM_ERRORS;
  /* No sync: resize2fs syncs the file itself. */
  if ((rc = bgr_ext4_caches_steal (w->fs, &caches)) == 0)
    rc = ext2fs_close2 (w->fs, EXT2_FLAG_FLUSH_NO_SYNC);
  if (rc != 0)
    {
      bgr_ext4_caches_drop (w->fs); /* when the steal failed */
      ext2fs_free (w->fs);
    }
  w->fs = NULL;
  if (rc != 0)
    {
      bgr_ext4_caches_free (caches);
      bgr_set_error_from_ext2fs (error, rc, "cannot write %s", w->path);
      return FALSE;
    }
  closed = g_get_monotonic_time ();
  if (!resize (w->path, new_size, error))
    {
      bgr_ext4_caches_free (caches);
      return FALSE;
    }
  resized = g_get_monotonic_time ();
  if (!reopen (w, caches, error))
    return FALSE;
  g_debug ("grew %s to %" G_GUINT64_FORMAT " bytes in %.3f s (flush %.3f s, resize2fs %.3f s)",
           w->path, w->fs_bytes, (g_get_monotonic_time () - started) / 1e6,
           (closed - started) / 1e6, (resized - closed) / 1e6);
  return TRUE;
}
