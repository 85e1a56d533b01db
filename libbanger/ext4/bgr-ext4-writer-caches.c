/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the writer keeps in memory for an image, in fs->priv_data (see
 * bgr-ext4-writer-internal.h): each directory's names (the tables of
 * bgr-ext4-writer-dirs.c), the directory block entries are being appended
 * to (bgr-ext4-writer-append.c), file data waiting to be written with the
 * data that follows it on disk, and where the next file's data goes. */
#include "config.h"

#include <string.h>

#include "ext4/bgr-ext4-writer-internal.h"

/* The most data gathered into one write, and the smallest write that goes
 * out by itself. */
#define PENDING_BYTES (1024 * 1024)
#define DIRECT_BYTES (256 * 1024)

struct _BgrExt4Caches
{
  GHashTable *tables; /* inode -> (name -> inode) */
  BgrExt4OpenBlock *open;
  /* File data not written yet: blocks from pending_start on. */
  blk64_t pending_start, pending_count;
  char *pending; /* PENDING_BYTES, or NULL */
  blk64_t data_goal;
};

static BgrExt4Caches *
caches (ext2_filsys fs)
{
  BgrExt4Caches *c = fs->priv_data;

  if (c == NULL)
    {
      c = g_new0 (BgrExt4Caches, 1);
      c->tables = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                         (GDestroyNotify) g_hash_table_unref);
      fs->priv_data = c;
    }
  return c;
}

GHashTable *
bgr_ext4_dir_tables (ext2_filsys fs)
{
  return caches (fs)->tables;
}

BgrExt4OpenBlock **
bgr_ext4_open_block_of (ext2_filsys fs)
{
  return &caches (fs)->open;
}

errcode_t
bgr_ext4_close_open_block (ext2_filsys fs)
{
  BgrExt4Caches *c = fs->priv_data;

  return c != NULL ? bgr_ext4_open_block_close (fs, &c->open) : 0;
}

blk64_t *
bgr_ext4_data_goal_of (ext2_filsys fs)
{
  return &caches (fs)->data_goal;
}

static errcode_t
flush_pending (ext2_filsys fs, BgrExt4Caches *c)
{
  errcode_t rc;

  if (c == NULL || c->pending_count == 0)
    return 0;
  rc = io_channel_write_blk64 (fs->io, c->pending_start, (int) c->pending_count, c->pending);
  c->pending_count = 0;
  return rc;
}

/* One write per call cost about as much again as the copy for small
 * files, so small runs that follow each other on disk are gathered. */
errcode_t
bgr_ext4_write_data (ext2_filsys fs, blk64_t pblk, blk64_t n, const char *buf)
{
  BgrExt4Caches *c = caches (fs);
  blk64_t max = PENDING_BYTES / fs->blocksize;
  errcode_t rc;

  if (c->pending_count > 0
      && (pblk != c->pending_start + c->pending_count || c->pending_count + n > max)
      && (rc = flush_pending (fs, c)) != 0)
    return rc;
  if (n * fs->blocksize >= DIRECT_BYTES)
    {
      if ((rc = flush_pending (fs, c)) != 0)
        return rc;
      return io_channel_write_blk64 (fs->io, pblk, (int) n, buf);
    }
  if (c->pending == NULL)
    c->pending = g_malloc (PENDING_BYTES);
  if (c->pending_count == 0)
    c->pending_start = pblk;
  memcpy (c->pending + c->pending_count * fs->blocksize, buf, n * fs->blocksize);
  c->pending_count += n;
  return 0;
}

errcode_t
bgr_ext4_caches_flush (ext2_filsys fs)
{
  errcode_t rc = bgr_ext4_close_open_block (fs);

  return rc != 0 ? rc : flush_pending (fs, fs->priv_data);
}

errcode_t
bgr_ext4_caches_steal (ext2_filsys fs, BgrExt4Caches **out)
{
  errcode_t rc = bgr_ext4_caches_flush (fs);

  if (rc != 0)
    return rc;
  *out = fs->priv_data;
  fs->priv_data = NULL;
  return 0;
}

void
bgr_ext4_caches_put (ext2_filsys fs, BgrExt4Caches *c)
{
  g_return_if_fail (fs->priv_data == NULL);
  fs->priv_data = c;
}

void
bgr_ext4_caches_free (BgrExt4Caches *c)
{
  if (c == NULL)
    return;
  g_hash_table_unref (c->tables);
  bgr_ext4_open_block_free (c->open);
  g_free (c->pending);
  g_free (c);
}

void
bgr_ext4_caches_drop (ext2_filsys fs)
{
  bgr_ext4_caches_free (fs->priv_data);
  fs->priv_data = NULL;
}
