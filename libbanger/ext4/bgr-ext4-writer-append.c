/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Directory entries appended to a directory's last block, which stays in
 * memory while entries go on being appended to the same directory (see
 * bgr-ext4-writer-internal.h): layers fill a directory in order, and
 * ext2fs_link() would read and checksum every block before the one with
 * room, then write and checksum that one, for each name. */
#include "config.h"

#include <string.h>

#include "ext4/bgr-ext4-writer-internal.h"

struct _BgrExt4OpenBlock
{
  ext2_ino_t dir;
  blk64_t pblk;
  guint room; /* where entries may go, from dir_block_room() */
  gboolean dirty;
  char *buf;
};

/* The room at the end of directory block @buf: where entries may go (its
 * checksum tail excluded), or 0 when its layout is not one this writer
 * appends to. */
static guint
dir_block_room (ext2_filsys fs, char *buf)
{
  struct ext2_dir_entry_tail *t;

  if (!ext2fs_has_feature_metadata_csum (fs->super))
    return fs->blocksize;
  t = EXT2_DIRENT_TAIL (buf, fs->blocksize);
  if (t->det_reserved_zero1 != 0 || t->det_rec_len != sizeof *t
      || t->det_reserved_name_len != EXT2_DIR_NAME_LEN_CSUM)
    return 0;
  return fs->blocksize - sizeof *t;
}

/* Puts the entry in the first gap of block @buf that fits it (@end: the
 * room, from dir_block_room()). FALSE when none does, or the block does
 * not parse. */
static gboolean
put_entry (ext2_filsys fs, char *buf, guint end, const char *name, ext2_ino_t ino, int type)
{
  guint name_len = (guint) strlen (name), need = EXT2_DIR_REC_LEN (name_len);

  for (guint offset = 0; offset + 8 <= end;)
    {
      struct ext2_dir_entry *d = (struct ext2_dir_entry *) (buf + offset), *n;
      unsigned int rec_len, used;

      if (ext2fs_get_rec_len (fs, d, &rec_len) != 0 || rec_len < 8 || rec_len % 4 != 0
          || offset + rec_len > end)
        return FALSE;
      used = d->inode != 0 ? EXT2_DIR_REC_LEN (ext2fs_dirent_name_len (d)) : 0;
      if (used <= rec_len && rec_len - used >= need)
        {
          n = d;
          if (used > 0)
            {
              n = (struct ext2_dir_entry *) (buf + offset + used);
              ext2fs_set_rec_len (fs, used, d);
              ext2fs_set_rec_len (fs, rec_len - used, n);
            }
          n->inode = ino;
          ext2fs_dirent_set_name_len (n, (int) name_len);
          ext2fs_dirent_set_file_type (n, ext2fs_has_feature_filetype (fs->super) ? type : 0);
          memcpy (n->name, name, name_len);
          return TRUE;
        }
      offset += rec_len;
    }
  return FALSE;
}

/* Reads the last block of @dir, if it is one this appends to (NULL in *out
 * when not). */
static errcode_t
open_block (ext2_filsys fs, ext2_ino_t dir, BgrExt4OpenBlock **out)
{
  const __u32 other_forms = EXT2_INDEX_FL | EXT4_INLINE_DATA_FL | EXT4_ENCRYPT_FL | EXT4_CASEFOLD_FL;
  struct ext2_inode inode;
  g_autofree char *buf = NULL;
  blk64_t pblk = 0;
  guint room;
  errcode_t rc;

  *out = NULL;
  if ((rc = ext2fs_read_inode (fs, dir, &inode)) != 0)
    return rc;
  if ((inode.i_flags & other_forms) != 0 || EXT2_I_SIZE (&inode) < fs->blocksize)
    return 0;
  if ((rc = ext2fs_bmap2 (fs, dir, &inode, NULL, 0, EXT2_I_SIZE (&inode) / fs->blocksize - 1,
                          NULL, &pblk)) != 0 || pblk == 0)
    return rc;
  buf = g_malloc (fs->blocksize);
  if ((rc = ext2fs_read_dir_block4 (fs, pblk, buf, 0, dir)) != 0)
    return rc;
  if ((room = dir_block_room (fs, buf)) == 0)
    return 0;
  *out = g_new0 (BgrExt4OpenBlock, 1);
  (*out)->dir = dir;
  (*out)->pblk = pblk;
  (*out)->room = room;
  (*out)->buf = g_steal_pointer (&buf);
  return 0;
}

errcode_t
bgr_ext4_open_block_close (ext2_filsys fs, BgrExt4OpenBlock **ob)
{
  BgrExt4OpenBlock *b = *ob;
  errcode_t rc = 0;

  if (b == NULL)
    return 0;
  if (b->dirty)
    rc = ext2fs_write_dir_block4 (fs, b->pblk, b->buf, 0, b->dir);
  *ob = NULL;
  bgr_ext4_open_block_free (b);
  return rc;
}

void
bgr_ext4_open_block_free (BgrExt4OpenBlock *ob)
{
  if (ob == NULL)
    return;
  g_free (ob->buf);
  g_free (ob);
}

errcode_t
bgr_ext4_open_block_append (ext2_filsys fs, BgrExt4OpenBlock **ob, ext2_ino_t dir,
                            const char *name, ext2_ino_t ino, int type, gboolean *done)
{
  errcode_t rc;

  *done = FALSE;
  if (strlen (name) > EXT2_NAME_LEN)
    return 0; /* refused before (bgr_ext4_fold_path()); ext2fs_link() would cut it */
  if (*ob != NULL && (*ob)->dir != dir && (rc = bgr_ext4_open_block_close (fs, ob)) != 0)
    return rc;
  if (*ob == NULL && (rc = open_block (fs, dir, ob)) != 0)
    return rc;
  if (*ob == NULL)
    return 0;
  if (!put_entry (fs, (*ob)->buf, (*ob)->room, name, ino, type))
    /* Full: the caller grows the directory, which this block must not
     * miss. */
    return bgr_ext4_open_block_close (fs, ob);
  (*ob)->dirty = TRUE;
  *done = TRUE;
  return 0;
}
