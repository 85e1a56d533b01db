/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI layers replayed into an ext4 image through libext2fs.
 *
 * Every path of a layer is resolved inside the image, component by
 * component, by looking names up in directories of the image itself: the
 * host filesystem is never touched (except the image file), so no entry can
 * write outside it, whatever its path or the symlinks earlier entries
 * planted. The rules are documented in docs/oci-import.md.
 *
 * Existing images are edited here too: host files added (following the
 * image's symlinks, inside the image). Growing an image is in
 * bgr-ext4-grow.c, sizing one for layers in bgr-ext4-measure.c.
 *
 * This file creates, opens and closes images; bgr-ext4-writer-internal.h
 * says where the rest is. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "ext4/bgr-ext4-private.h"
#include "ext4/bgr-ext4-writer-internal.h"

/* ---- the writer ------------------------------------------------------ */

static gboolean
run_mkfs (const char *path, guint64 size_bytes, guint64 inodes, GError **error)
{
  g_autofree char *mkfs = bgr_ext4_find_tool ("mkfs.ext4");
  g_autofree char *n = g_strdup_printf ("%" G_GUINT64_FORMAT, inodes);
  g_autofree char *size = g_strdup_printf ("%" G_GUINT64_FORMAT "k", size_bytes / 1024);
  g_autofree char *err_text = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  GError *local = NULL;

  if (mkfs == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND,
                   "mkfs.ext4 not found (install e2fsprogs)");
      return FALSE;
    }
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                           &local, mkfs, "-q", "-F", "-t", "ext4", "-N", n, "-E", "root_owner=0:0",
                           "-b", "4096", path, size, NULL);
  if (proc == NULL || !g_subprocess_communicate_utf8 (proc, NULL, NULL, NULL, &err_text, &local))
    {
      bgr_propagate_error (error, local, "cannot run %s: ", mkfs);
      return FALSE;
    }
  if (!g_subprocess_get_if_exited (proc) || g_subprocess_get_exit_status (proc) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "mkfs.ext4 failed on %s: %s", path,
                   err_text != NULL ? g_strstrip (err_text) : "");
      return FALSE;
    }
  return TRUE;
}

BgrExt4Writer *
bgr_ext4_writer_create (const char *path, guint64 size_bytes, guint64 inodes, GError **error)
{
  g_autoptr (BgrExt4Writer) w = NULL;
  errcode_t rc;
  int fd;

  size_bytes -= size_bytes % BLOCK_SIZE;
  if (size_bytes < 64 * BLOCK_SIZE)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "image size %" G_GUINT64_FORMAT " bytes is too small", size_bytes);
      return NULL;
    }
  /* O_EXCL: never format over something that is already there. */
  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", path);
      return NULL;
    }
  close (fd);
  w = g_new0 (BgrExt4Writer, 1);
  w->sync_fd = -1;
  w->path = g_strdup (path);
  if (!run_mkfs (path, size_bytes, inodes + RESERVED_INODES, error))
    goto fail;
  rc = ext2fs_open (path, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &w->fs);
  if (rc != 0)
    {
      w->fs = NULL;
      bgr_set_error_from_ext2fs (error, rc, "cannot open new filesystem %s", path);
      goto fail;
    }
  /* Allocation needs the bitmaps in memory. */
  if ((rc = ext2fs_read_bitmaps (w->fs)) != 0)
    {
      bgr_set_error_from_ext2fs (error, rc, "cannot read the bitmaps of %s", path);
      goto fail;
    }
  w->fs_bytes = ext2fs_blocks_count (w->fs->super) * (guint64) w->fs->blocksize;
  /* This process made the filesystem and is its only writer: verifying the
   * checksum of every directory block and inode read back (crc32c, over
   * whole directories for each name looked up or linked) would only cost
   * time. Checksums are still written; close() turns checking back on. */
  w->fs->flags |= EXT2_FLAG_IGNORE_CSUM_ERRORS;
  return g_steal_pointer (&w);

fail:
  unlink (path);
  return NULL;
}

gboolean
bgr_ext4_writer_close (BgrExt4Writer *w, GError **error)
{
  errcode_t rc = 0;

  g_return_val_if_fail (w != NULL, FALSE);
  if (w->fs != NULL)
    {
      w->fs->flags &= ~EXT2_FLAG_IGNORE_CSUM_ERRORS;
      rc = bgr_ext4_caches_flush (w->fs);
      bgr_ext4_caches_drop (w->fs);
      if (rc == 0)
        rc = ext2fs_close_free (&w->fs);
      else
        ext2fs_free (w->fs);
    }
  if (rc != 0)
    bgr_set_error_from_ext2fs (error, rc, "cannot write filesystem %s", w->path);
  if (w->sync_fd >= 0)
    close (w->sync_fd);
  g_free (w->path);
  g_free (w);
  return rc == 0;
}

void
bgr_ext4_writer_abort (BgrExt4Writer *w)
{
  if (w == NULL)
    return;
  if (w->fs != NULL)
    {
      bgr_ext4_caches_drop (w->fs);
      ext2fs_free (w->fs);
    }
  if (w->sync_fd >= 0)
    close (w->sync_fd);
  g_free (w->path);
  g_free (w);
}

/* ---- editing an existing image --------------------------------------- */

/* Paths given to the bgr_ext4_writer_add_*() calls come from banger, not
 * from a layer, but the image they land in may have been changed by its
 * guest: its symlinks are followed as a guest would see them, always
 * inside the image (see bgr_ext4_resolve_for_add()). */

BgrExt4Writer *
bgr_ext4_writer_open (const char *path, GError **error)
{
  g_autoptr (BgrExt4Writer) w = NULL;
  struct stat st;
  errcode_t rc;

  if (stat (path, &st) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot open image %s", path);
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "image %s is not a regular file",
                   path);
      return NULL;
    }
  w = g_new0 (BgrExt4Writer, 1);
  w->sync_fd = -1;
  w->path = g_strdup (path);
  rc = ext2fs_open (path, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &w->fs);
  if (rc != 0)
    {
      w->fs = NULL;
      bgr_set_error_from_ext2fs (error, rc, "image %s is not an ext4 filesystem", path);
      return NULL;
    }
  if (!ext2fs_has_feature_extents (w->fs->super) && !ext2fs_has_feature_flex_bg (w->fs->super)
      && !ext2fs_has_feature_64bit (w->fs->super))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "image %s is an ext2/ext3 filesystem, not ext4", path);
      return NULL;
    }
  /* What the journal holds would be replayed over these changes at the
   * next mount: the guest is running, or crashed. */
  if (ext2fs_has_feature_journal_needs_recovery (w->fs->super))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY,
                   "image %s is in use or was not unmounted cleanly (stop its VM, or run "
                   "e2fsck -fp on it)", path);
      return NULL;
    }
  if ((w->fs->super->s_state & EXT2_ERROR_FS) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_CORRUPT,
                   "image %s has filesystem errors (run e2fsck -f on it)", path);
      return NULL;
    }
  if ((rc = ext2fs_read_bitmaps (w->fs)) != 0)
    {
      bgr_set_error_from_ext2fs (error, rc, "cannot read the bitmaps of %s", path);
      return NULL;
    }
  w->fs_bytes = ext2fs_blocks_count (w->fs->super) * (guint64) w->fs->blocksize;
  return g_steal_pointer (&w);
}
