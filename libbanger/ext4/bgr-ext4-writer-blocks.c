/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A file's blocks: allocated (contiguous where the free space allows) and
 * written in runs (through bgr_ext4_write_data()), holes left for blocks
 * of zeros. */
#include "config.h"

#include <string.h>

#include "ext4/bgr-ext4-writer-internal.h"

#include <ext2fs/ext3_extents.h> /* after ext2fs.h, for its __le types */

/* Allocates blocks @lblk to @lblk + @n - 1 of file @ino (contiguous where
 * the free space allows) and writes @buf there, one write per physically
 * contiguous piece: much less work than ext2_file_t, which maps and writes
 * one block at a time. */
static errcode_t
write_run (ext2_filsys fs, ext2_ino_t ino, const char *buf, blk64_t lblk, blk64_t n)
{
  ext2_extent_handle_t h = NULL;
  errcode_t rc;

  if ((rc = ext2fs_fallocate (fs, EXT2_FALLOCATE_FORCE_INIT, ino, NULL, ~0ULL, lblk, n)) != 0
      || (rc = ext2fs_extent_open (fs, ino, &h)) != 0)
    return rc;
  while (n > 0)
    {
      struct ext2fs_extent ex;
      blk64_t len;

      if ((rc = ext2fs_extent_goto (h, lblk)) != 0
          || (rc = ext2fs_extent_get (h, EXT2_EXTENT_CURRENT, &ex)) != 0)
        break;
      if (lblk < ex.e_lblk || lblk >= ex.e_lblk + ex.e_len)
        {
          rc = EXT2_ET_EXTENT_NOT_FOUND;
          break;
        }
      len = MIN (n, ex.e_lblk + ex.e_len - lblk);
      rc = bgr_ext4_write_data (fs, ex.e_pblk + (lblk - ex.e_lblk), len, buf);
      if (rc != 0)
        break;
      buf += len * fs->blocksize;
      lblk += len;
      n -= len;
    }
  ext2fs_extent_free (h);
  return rc;
}

static gboolean
block_is_zero (const char *p, gsize len)
{
  static const char zeros[BLOCK_SIZE];

  return len <= sizeof zeros && memcmp (p, zeros, len) == 0;
}

/* ---- new files, their extents kept in the inode ---------------------- */

/* A new file's extents, while they fit in its inode (4 of them, no tree
 * blocks), are set here on the inode kept in memory, and the inode is
 * written once at the end: ext2fs_fallocate() reads and writes the inode
 * and opens an extent handle for each run. Beyond 4 extents (holes,
 * fragmented free space) the inode is written and the file goes on through
 * write_run(). */

static struct ext3_extent_header *
extent_header (BgrExt4FileBlocks *fb)
{
  return (struct ext3_extent_header *) fb->inode.i_block;
}

static struct ext3_extent *
extent_at (BgrExt4FileBlocks *fb, guint i)
{
  return (struct ext3_extent *) (extent_header (fb) + 1) + i;
}

static blk64_t
extent_start (const struct ext3_extent *ex)
{
  return ((blk64_t) ext2fs_le16_to_cpu (ex->ee_start_hi) << 32) + ext2fs_le32_to_cpu (ex->ee_start);
}

errcode_t
bgr_ext4_file_blocks_open (ext2_filsys fs, ext2_ino_t ino, BgrExt4FileBlocks *fb)
{
  struct ext3_extent_header *eh;
  errcode_t rc;

  memset (fb, 0, sizeof *fb);
  fb->fs = fs;
  fb->ino = ino;
  if ((rc = bgr_ext4_read_inode (fs, ino, &fb->inode)) != 0)
    return rc;
  eh = extent_header (fb);
  fb->in_memory = (fb->inode.i_flags & EXT4_EXTENTS_FL) != 0
                  && !ext2fs_has_feature_bigalloc (fs->super)
                  && ext2fs_le16_to_cpu (eh->eh_magic) == EXT3_EXT_MAGIC
                  && eh->eh_depth == 0 && eh->eh_entries == 0
                  && ext2fs_le16_to_cpu (eh->eh_max) <= 4 && eh->eh_max != 0;
  return 0;
}

/* Puts up to @n blocks at @lblk in the inode's extents, allocated from the
 * writer's goal; *done: how many (fewer once the extents are full). */
static errcode_t
in_memory_run (BgrExt4FileBlocks *fb, const char *buf, blk64_t lblk, blk64_t n, blk64_t *done)
{
  ext2_filsys fs = fb->fs;
  struct ext3_extent_header *eh = extent_header (fb);
  blk64_t *goal = bgr_ext4_data_goal_of (fs);
  errcode_t rc;

  *done = 0;
  while (*done < n)
    {
      guint entries = ext2fs_le16_to_cpu (eh->eh_entries);
      struct ext3_extent *last = entries > 0 ? extent_at (fb, entries - 1) : NULL;
      guint last_len = last != NULL ? ext2fs_le16_to_cpu (last->ee_len) : 0;
      gboolean follows = last != NULL && ext2fs_le32_to_cpu (last->ee_block) + last_len == lblk;
      blk64_t start, pblk, plen, want = MIN (n - *done, (blk64_t) EXT_INIT_MAX_LEN);
      gboolean grow;

      /* A run that goes on from the last extent fills it up first. */
      if (follows && last_len < EXT_INIT_MAX_LEN)
        want = MIN (want, EXT_INIT_MAX_LEN - last_len);

      if (last != NULL)
        start = extent_start (last) + last_len;
      else if (*goal != 0)
        start = *goal;
      else
        start = ext2fs_find_inode_goal (fs, fb->ino, (struct ext2_inode *) &fb->inode, lblk);
      if ((rc = ext2fs_new_range (fs, 0, start, want, NULL, &pblk, &plen)) != 0)
        return rc;
      plen = MIN (plen, want);
      grow = follows && extent_start (last) + last_len == pblk && last_len + plen <= EXT_INIT_MAX_LEN;
      if (!grow && entries >= ext2fs_le16_to_cpu (eh->eh_max))
        return 0;
      ext2fs_block_alloc_stats_range (fs, pblk, plen, +1);
      if (grow)
        last->ee_len = ext2fs_cpu_to_le16 ((guint16) (last_len + plen));
      else
        {
          struct ext3_extent *ex = extent_at (fb, entries);

          ex->ee_block = ext2fs_cpu_to_le32 ((guint32) lblk);
          ex->ee_len = ext2fs_cpu_to_le16 ((guint16) plen);
          ex->ee_start = ext2fs_cpu_to_le32 ((guint32) pblk);
          ex->ee_start_hi = ext2fs_cpu_to_le16 ((guint16) (pblk >> 32));
          eh->eh_entries = ext2fs_cpu_to_le16 ((guint16) (entries + 1));
        }
      if ((rc = ext2fs_iblk_add_blocks (fs, (struct ext2_inode *) &fb->inode, plen)) != 0
          || (rc = bgr_ext4_write_data (fs, pblk, plen, buf)) != 0)
        return rc;
      *goal = pblk + plen;
      buf += plen * fs->blocksize;
      lblk += plen;
      *done += plen;
    }
  return 0;
}

static errcode_t
file_run (BgrExt4FileBlocks *fb, const char *buf, blk64_t lblk, blk64_t n)
{
  blk64_t done = 0;
  errcode_t rc;

  /* Extents in the inode hold logical blocks of 32 bits. */
  if (fb->in_memory && lblk + n <= G_MAXUINT32)
    {
      if ((rc = in_memory_run (fb, buf, lblk, n, &done)) != 0 || done == n)
        return rc;
    }
  if (fb->in_memory)
    {
      /* From now on libext2fs keeps the extents, on the inode in the image. */
      fb->in_memory = FALSE;
      if ((rc = bgr_ext4_write_inode (fb->fs, fb->ino, &fb->inode)) != 0)
        return rc;
    }
  return write_run (fb->fs, fb->ino, buf + done * fb->fs->blocksize, lblk + done, n - done);
}

/* Writes @len bytes of @buf (a whole number of blocks) as blocks from
 * @lblk: all-zero blocks are left as holes, like a sparse copy would. */
errcode_t
bgr_ext4_file_blocks_write (BgrExt4FileBlocks *fb, const char *buf, gsize len, blk64_t lblk)
{
  guint bs = fb->fs->blocksize;

  for (gsize pos = 0; pos < len;)
    {
      gsize run = 0;
      errcode_t rc;

      if (block_is_zero (buf + pos, bs))
        {
          pos += bs;
          continue;
        }
      while (pos + run < len && !block_is_zero (buf + pos + run, bs))
        run += bs;
      if ((rc = file_run (fb, buf + pos, lblk + pos / bs, run / bs)) != 0)
        return rc;
      pos += run;
    }
  return 0;
}

errcode_t
bgr_ext4_file_blocks_close (BgrExt4FileBlocks *fb, guint64 size)
{
  errcode_t rc;

  if (!fb->in_memory && (rc = bgr_ext4_read_inode (fb->fs, fb->ino, &fb->inode)) != 0)
    return rc;
  if ((rc = ext2fs_inode_size_set (fb->fs, (struct ext2_inode *) &fb->inode, size)) != 0)
    return rc;
  return bgr_ext4_write_inode (fb->fs, fb->ino, &fb->inode);
}

errcode_t
bgr_ext4_write_blocks (ext2_filsys fs, ext2_ino_t ino, const char *buf, gsize len, blk64_t lblk)
{
  /* Through libext2fs's extent tree, the inode in the image. */
  BgrExt4FileBlocks fb = { .fs = fs, .ino = ino, .in_memory = FALSE };

  return bgr_ext4_file_blocks_write (&fb, buf, len, lblk);
}
