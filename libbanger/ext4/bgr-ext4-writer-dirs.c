/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ext4 primitives the writer builds on: inodes read and written, directory
 * entries looked up through a per-directory cache, linked and removed (with
 * the inodes they free), new directories and plain inodes, symlink targets,
 * inode times. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "ext4/bgr-ext4-writer-internal.h"

/* ---- inodes ---------------------------------------------------------- */

static int
dirent_type (guint16 mode)
{
  switch (mode & LINUX_S_IFMT)
    {
    case LINUX_S_IFREG: return EXT2_FT_REG_FILE;
    case LINUX_S_IFDIR: return EXT2_FT_DIR;
    case LINUX_S_IFCHR: return EXT2_FT_CHRDEV;
    case LINUX_S_IFBLK: return EXT2_FT_BLKDEV;
    case LINUX_S_IFIFO: return EXT2_FT_FIFO;
    case LINUX_S_IFSOCK: return EXT2_FT_SOCK;
    case LINUX_S_IFLNK: return EXT2_FT_SYMLINK;
    default: return EXT2_FT_UNKNOWN;
    }
}

errcode_t
bgr_ext4_read_inode (ext2_filsys fs, ext2_ino_t ino, struct ext2_inode_large *inode)
{
  memset (inode, 0, sizeof *inode);
  return ext2fs_read_inode_full (fs, ino, (struct ext2_inode *) inode, sizeof *inode);
}

errcode_t
bgr_ext4_write_inode (ext2_filsys fs, ext2_ino_t ino, struct ext2_inode_large *inode)
{
  return ext2fs_write_inode_full (fs, ino, (struct ext2_inode *) inode, sizeof *inode);
}

/* ---- directory entries, cached ---------------------------------------- */

/* ext2fs_lookup() reads a whole directory for every name it looks up (each
 * block with a pread: the unix I/O manager caches only 8 blocks), which
 * makes layers with big directories quadratic. So each directory is read
 * once into a table (name -> inode), kept with the writer's caches
 * (bgr-ext4-writer-caches.c) and kept up to date by bgr_ext4_link_entry(),
 * bgr_ext4_remove_entry(), bgr_ext4_make_dir() and bgr_ext4_release_inode(),
 * the only functions that change entries.
 *
 * The directory block that entries are being appended to
 * (bgr-ext4-writer-append.c) stays in memory: every function here that has
 * libext2fs read or change a directory closes it first. */

static int
collect_name (ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent, int offset,
              int blocksize, char *buf, void *priv)
{
  if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE || dirent->inode == 0)
    return 0;
  g_hash_table_replace (priv, g_strndup (dirent->name, (gsize) ext2fs_dirent_name_len (dirent)),
                        GUINT_TO_POINTER (dirent->inode));
  return 0;
}

/* The table of @dir, read from the image the first time. */
static errcode_t
dir_table (ext2_filsys fs, ext2_ino_t dir, GHashTable **out)
{
  GHashTable *names = g_hash_table_lookup (bgr_ext4_dir_tables (fs), GUINT_TO_POINTER (dir));
  errcode_t rc;

  if (names == NULL)
    {
      if ((rc = bgr_ext4_close_open_block (fs)) != 0)
        return rc;
      names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      if ((rc = ext2fs_dir_iterate2 (fs, dir, 0, NULL, collect_name, names)) != 0)
        {
          g_hash_table_unref (names);
          return rc;
        }
      g_hash_table_insert (bgr_ext4_dir_tables (fs), GUINT_TO_POINTER (dir), names);
    }
  *out = names;
  return 0;
}

errcode_t
bgr_ext4_lookup (ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t *ino)
{
  GHashTable *names;
  gpointer found;
  errcode_t rc;

  if (g_str_equal (name, ".") || g_str_equal (name, ".."))
    return (rc = bgr_ext4_close_open_block (fs)) != 0
             ? rc
             : ext2fs_lookup (fs, dir, name, (int) strlen (name), NULL, ino);
  if ((rc = dir_table (fs, dir, &names)) != 0)
    return rc;
  found = g_hash_table_lookup (names, name);
  if (found == NULL)
    return EXT2_ET_FILE_NOT_FOUND;
  *ino = GPOINTER_TO_UINT (found);
  return 0;
}

/* Only directories have tables: those are known without reading them. */
gboolean
bgr_ext4_is_known_dir (ext2_filsys fs, ext2_ino_t ino)
{
  return g_hash_table_contains (bgr_ext4_dir_tables (fs), GUINT_TO_POINTER (ino));
}

/* @name now names @ino in @dir (0: nothing). */
static void
dir_table_note (ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t ino)
{
  GHashTable *names = g_hash_table_lookup (bgr_ext4_dir_tables (fs), GUINT_TO_POINTER (dir));

  if (names == NULL)
    return; /* read whole when first needed */
  if (ino == 0)
    g_hash_table_remove (names, name);
  else
    g_hash_table_replace (names, g_strdup (name), GUINT_TO_POINTER (ino));
}

/* Appended to the open block if it has room, else linked by libext2fs. */
static errcode_t
link_once (ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t ino, int type)
{
  gboolean done = FALSE;
  errcode_t rc = bgr_ext4_open_block_append (fs, bgr_ext4_open_block_of (fs), dir, name, ino,
                                             type, &done);

  if (rc == 0 && !done && (rc = bgr_ext4_close_open_block (fs)) == 0)
    rc = ext2fs_link (fs, dir, name, ino, type);
  return rc;
}

/* libext2fs does not grow a full directory by itself. */
errcode_t
bgr_ext4_link_entry (ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t ino, guint16 mode)
{
  errcode_t rc = link_once (fs, dir, name, ino, dirent_type (mode));

  if (rc == EXT2_ET_DIR_NO_SPACE && (rc = ext2fs_expand_dir (fs, dir)) == 0)
    rc = link_once (fs, dir, name, ino, dirent_type (mode));
  if (rc == 0)
    dir_table_note (fs, dir, name, ino);
  return rc;
}

static void
child_free (gpointer p)
{
  Child *c = p;

  g_free (c->name);
  g_free (c);
}

static int
collect_child (ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent, int offset,
               int blocksize, char *buf, void *priv)
{
  GPtrArray *children = priv;
  Child *c;

  if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE || dirent->inode == 0)
    return 0;
  c = g_new0 (Child, 1);
  c->name = g_strndup (dirent->name, (gsize) ext2fs_dirent_name_len (dirent));
  c->ino = dirent->inode;
  g_ptr_array_add (children, c);
  return 0;
}

/* Listed first, changed after: libext2fs does not allow unlinking while
 * it iterates. */
errcode_t
bgr_ext4_list_children (ext2_filsys fs, ext2_ino_t dir, GPtrArray **out)
{
  g_autoptr (GPtrArray) children = g_ptr_array_new_with_free_func (child_free);
  errcode_t rc = bgr_ext4_close_open_block (fs);

  if (rc == 0)
    rc = ext2fs_dir_iterate2 (fs, dir, 0, NULL, collect_child, children);

  if (rc == 0)
    *out = g_steal_pointer (&children);
  return rc;
}

typedef struct
{
  blk64_t cluster;
  gboolean any;
} Freeing;

static int
free_block (ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt, blk64_t ref_block,
            int ref_offset, void *priv)
{
  Freeing *f = priv;
  blk64_t cluster = EXT2FS_B2C (fs, *blocknr);

  /* With bigalloc a cluster's blocks come in a row: freed once. */
  if (f->any && cluster == f->cluster)
    return 0;
  f->any = TRUE;
  f->cluster = cluster;
  ext2fs_block_alloc_stats2 (fs, *blocknr, -1);
  return 0;
}

/* Gives an inode whose last link went back to the free pool, with its
 * data blocks and xattr block. */
errcode_t
bgr_ext4_release_inode (ext2_filsys fs, ext2_ino_t ino)
{
  struct ext2_inode_large inode;
  gboolean is_dir;
  errcode_t rc;

  /* Its blocks may be a directory's, the open one's too, or data not
   * written yet. */
  if ((rc = bgr_ext4_caches_flush (fs)) != 0)
    return rc;
  if ((rc = bgr_ext4_read_inode (fs, ino, &inode)) != 0)
    return rc;
  is_dir = LINUX_S_ISDIR (inode.i_mode);
  if (ext2fs_file_acl_block (fs, (struct ext2_inode *) &inode) != 0)
    {
      if ((rc = ext2fs_free_ext_attr (fs, ino, &inode)) != 0)
        return rc;
      if ((rc = bgr_ext4_read_inode (fs, ino, &inode)) != 0)
        return rc;
    }
  /* Fast symlinks and device nodes keep text or numbers in i_block, not
   * block numbers: freeing them would free random blocks. Every block the
   * inode maps is freed, extent tree blocks included; not with
   * ext2fs_punch(), which in e2fsprogs 1.47.0 refuses an extent that ends
   * at the filesystem's last block. */
  if (ext2fs_inode_has_valid_blocks2 (fs, (struct ext2_inode *) &inode))
    {
      Freeing f = { 0, FALSE };

      if ((rc = ext2fs_block_iterate3 (fs, ino, BLOCK_FLAG_READ_ONLY, NULL, free_block, &f)) != 0)
        return rc;
      if ((rc = bgr_ext4_read_inode (fs, ino, &inode)) != 0)
        return rc;
      memset (inode.i_block, 0, sizeof inode.i_block);
      inode.i_flags &= ~(__u32) EXT4_EXTENTS_FL;
      ext2fs_iblk_set (fs, (struct ext2_inode *) &inode, 0);
    }
  /* Its number may come back as another directory. */
  if (is_dir)
    g_hash_table_remove (bgr_ext4_dir_tables (fs), GUINT_TO_POINTER (ino));
  inode.i_links_count = 0;
  inode.i_size = 0;
  inode.i_size_high = 0;
  inode.i_dtime = fs->now != 0 ? (__u32) fs->now : (__u32) time (NULL);
  if ((rc = bgr_ext4_write_inode (fs, ino, &inode)) != 0)
    return rc;
  ext2fs_inode_alloc_stats2 (fs, ino, -1, is_dir ? 1 : 0);
  return 0;
}

/* Removes @name (inode @ino) from @dir, a directory with all it holds. */
errcode_t
bgr_ext4_remove_entry (ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t ino)
{
  struct ext2_inode_large inode, parent;
  errcode_t rc;

  if ((rc = bgr_ext4_close_open_block (fs)) != 0)
    return rc;
  if ((rc = bgr_ext4_read_inode (fs, ino, &inode)) != 0)
    return rc;
  if (LINUX_S_ISDIR (inode.i_mode))
    {
      g_autoptr (GPtrArray) children = NULL;

      /* Recursion depth is bounded: directories only come to exist at
       * paths of at most MAX_DEPTH components. */
      if ((rc = bgr_ext4_list_children (fs, ino, &children)) != 0)
        return rc;
      for (guint i = 0; i < children->len; i++)
        {
          Child *c = g_ptr_array_index (children, i);
          if ((rc = bgr_ext4_remove_entry (fs, ino, c->name, c->ino)) != 0)
            return rc;
        }
    }
  if ((rc = ext2fs_unlink (fs, dir, name, ino, 0)) != 0)
    return rc;
  dir_table_note (fs, dir, name, 0);
  if (LINUX_S_ISDIR (inode.i_mode))
    {
      /* The child's ".." was a link to the parent. */
      if ((rc = bgr_ext4_read_inode (fs, dir, &parent)) != 0)
        return rc;
      if (parent.i_links_count > 2)
        parent.i_links_count--;
      if ((rc = bgr_ext4_write_inode (fs, dir, &parent)) != 0)
        return rc;
      return bgr_ext4_release_inode (fs, ino);
    }
  if (inode.i_links_count > 1)
    {
      inode.i_links_count--;
      return bgr_ext4_write_inode (fs, ino, &inode);
    }
  return bgr_ext4_release_inode (fs, ino);
}

gboolean
bgr_ext4_has_extra (struct ext2_inode_large *inode, size_t field_end)
{
  return (size_t) EXT2_GOOD_OLD_INODE_SIZE + inode->i_extra_isize >= field_end;
}

void
bgr_ext4_set_time (__u32 *field, __u32 *extra, gint64 sec, long nsec)
{
  /* ext4's encoding: low 32 bits signed, two epoch bits and the
   * nanoseconds in the extra field. Unsigned arithmetic: a layer may carry
   * any time, and the difference must not overflow. */
  *field = (__u32) (gint32) sec;
  if (extra != NULL)
    *extra = (__u32) ((((guint64) sec - (guint64) (gint64) (gint32) sec) >> 32) & EXT4_EPOCH_MASK)
             | (__u32) (((guint32) nsec) << EXT4_EPOCH_BITS);
}

/* A new inode of @mode, not linked anywhere yet, counted as in use. */
errcode_t
bgr_ext4_new_plain_inode (ext2_filsys fs, ext2_ino_t parent, guint16 mode, gboolean extents,
                          const __u32 *i_block2, ext2_ino_t *out)
{
  struct ext2_inode inode;
  ext2_ino_t ino;
  errcode_t rc;

  if ((rc = ext2fs_new_inode (fs, parent, mode, NULL, &ino)) != 0)
    return rc;
  memset (&inode, 0, sizeof inode);
  inode.i_mode = mode;
  inode.i_links_count = 1;
  if (i_block2 != NULL)
    {
      inode.i_block[0] = i_block2[0];
      inode.i_block[1] = i_block2[1];
    }
  if (extents && ext2fs_has_feature_extents (fs->super))
    {
      ext2_extent_handle_t handle;
      /* Opening an extent handle on an empty inode writes the extent
       * header into i_block. */
      if ((rc = ext2fs_extent_open2 (fs, ino, &inode, &handle)) != 0)
        return rc;
      ext2fs_extent_free (handle);
    }
  if ((rc = ext2fs_write_new_inode (fs, ino, &inode)) != 0)
    return rc;
  ext2fs_inode_alloc_stats2 (fs, ino, +1, 0);
  *out = ino;
  return 0;
}

errcode_t
bgr_ext4_make_dir (ext2_filsys fs, ext2_ino_t parent, const char *name, ext2_ino_t *out)
{
  ext2_ino_t ino;
  errcode_t rc;

  /* The inode number is chosen here so that it is known; ext2fs_mkdir
   * then builds the directory and counts it, and link_entry links it
   * (growing the parent if needed, which ext2fs_mkdir would not). */
  if ((rc = ext2fs_new_inode (fs, parent, LINUX_S_IFDIR | 0755, NULL, &ino)) != 0)
    return rc;
  if ((rc = ext2fs_mkdir (fs, parent, ino, NULL)) != 0)
    return rc;
  /* Empty, as far as names go. */
  g_hash_table_replace (bgr_ext4_dir_tables (fs), GUINT_TO_POINTER (ino),
                        g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL));
  if ((rc = bgr_ext4_link_entry (fs, parent, name, ino, LINUX_S_IFDIR)) != 0)
    return rc;
  *out = ino;
  return 0;
}

/* The target of symlink @ino, wherever ext4 keeps it. */
errcode_t
bgr_ext4_read_symlink (ext2_filsys fs, ext2_ino_t ino, struct ext2_inode_large *inode, char **out)
{
  guint64 size = EXT2_I_SIZE (inode);
  g_autofree char *buf = NULL;
  errcode_t rc;

  if (size == 0 || size >= fs->blocksize || size > MAX_PATH_LEN)
    return EXT2_ET_INODE_CORRUPTED;
  buf = g_malloc0 (size + 1);
  if ((inode->i_flags & EXT4_INLINE_DATA_FL) != 0)
    {
      size_t got = 0;
      g_autofree char *all = g_malloc0 (fs->blocksize);

      /* The inline area may hold more than i_size bytes. */
      if ((rc = ext2fs_inline_data_get (fs, ino, (struct ext2_inode *) inode, all, &got)) != 0)
        return rc;
      if (got < size)
        return EXT2_ET_INODE_CORRUPTED;
      memcpy (buf, all, size);
    }
  else if (!ext2fs_inode_has_valid_blocks2 (fs, (struct ext2_inode *) inode))
    {
      if (size >= sizeof inode->i_block)
        return EXT2_ET_INODE_CORRUPTED;
      memcpy (buf, inode->i_block, size);
    }
  else
    {
      ext2_file_t file = NULL;
      unsigned int got = 0;

      if ((rc = ext2fs_file_open2 (fs, ino, (struct ext2_inode *) inode, 0, &file)) != 0)
        return rc;
      rc = ext2fs_file_read (file, buf, (unsigned int) size, &got);
      ext2fs_file_close (file);
      if (rc != 0)
        return rc;
      if (got != size)
        return EXT2_ET_SHORT_READ;
    }
  /* A NUL inside ends the target, as it would for the kernel's string. */
  *out = g_steal_pointer (&buf);
  return **out == '\0' ? EXT2_ET_INODE_CORRUPTED : 0;
}
