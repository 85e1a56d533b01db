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
 * bgr-ext4-grow.c, sizing one for layers in bgr-ext4-measure.c. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <ext2fs/ext2_err.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "ext4/bgr-ext4-private.h"
#include "ext4/bgr-ext4-paths-private.h"
#include "ext4/bgr-layer-stream-private.h"
#include "ext4/bgr-ext4-writer-private.h"

/* Data is read and written in chunks of this size (a multiple of 4 KiB). */
#define CHUNK_SIZE (1024 * 1024)

struct _BgrExt4Writer
{
  ext2_filsys fs;
  char *path;
  guint64 fs_bytes;
};

/* One layer being applied. */
typedef struct
{
  BgrExt4Writer *w;
  ext2_filsys fs;
  const char *layer;
  char *entry; /* the entry's path as the tar has it, escaped, for messages */
  /* Folded paths this layer created or replaced, and all their ancestors:
   * what an opaque marker of the same layer must keep. */
  GHashTable *touched;
  char *buf;
} Apply;

/* ---- errors ---------------------------------------------------------- */

static gboolean refuse (Apply *a, GError **error, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
refuse (Apply *a, GError **error, const char *fmt, ...)
{
  g_autofree char *why = NULL;
  va_list ap;

  va_start (ap, fmt);
  why = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "layer %s: entry \"%s\": %s", a->layer,
               a->entry, why);
  return FALSE;
}

static gboolean
fail_ext2 (Apply *a, errcode_t rc, GError **error, const char *what)
{
  bgr_set_error_from_ext2fs (error, rc, "layer %s: entry \"%s\": %s", a->layer, a->entry, what);
  return FALSE;
}

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

static errcode_t
read_inode (ext2_filsys fs, ext2_ino_t ino, struct ext2_inode_large *inode)
{
  memset (inode, 0, sizeof *inode);
  return ext2fs_read_inode_full (fs, ino, (struct ext2_inode *) inode, sizeof *inode);
}

static errcode_t
write_inode (ext2_filsys fs, ext2_ino_t ino, struct ext2_inode_large *inode)
{
  return ext2fs_write_inode_full (fs, ino, (struct ext2_inode *) inode, sizeof *inode);
}

/* ---- directory entries, cached ---------------------------------------- */

/* ext2fs_lookup() reads a whole directory for every name it looks up (each
 * block with a pread: the unix I/O manager caches only 8 blocks), which
 * makes layers with big directories quadratic. So each directory is read
 * once into a table (name -> inode), kept in fs->priv_data (inode -> table)
 * and kept up to date by link_entry(), remove_entry(), make_dir() and
 * release_inode(), the only functions here that change entries. */

static GHashTable *
dir_tables (ext2_filsys fs)
{
  if (fs->priv_data == NULL)
    fs->priv_data = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                           (GDestroyNotify) g_hash_table_unref);
  return fs->priv_data;
}

static void
dir_tables_free (ext2_filsys fs)
{
  g_clear_pointer ((GHashTable **) &fs->priv_data, g_hash_table_unref);
}

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
  GHashTable *names = g_hash_table_lookup (dir_tables (fs), GUINT_TO_POINTER (dir));
  errcode_t rc;

  if (names == NULL)
    {
      names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      if ((rc = ext2fs_dir_iterate2 (fs, dir, 0, NULL, collect_name, names)) != 0)
        {
          g_hash_table_unref (names);
          return rc;
        }
      g_hash_table_insert (dir_tables (fs), GUINT_TO_POINTER (dir), names);
    }
  *out = names;
  return 0;
}

static errcode_t
lookup (ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t *ino)
{
  GHashTable *names;
  gpointer found;
  errcode_t rc;

  if (g_str_equal (name, ".") || g_str_equal (name, ".."))
    return ext2fs_lookup (fs, dir, name, (int) strlen (name), NULL, ino);
  if ((rc = dir_table (fs, dir, &names)) != 0)
    return rc;
  found = g_hash_table_lookup (names, name);
  if (found == NULL)
    return EXT2_ET_FILE_NOT_FOUND;
  *ino = GPOINTER_TO_UINT (found);
  return 0;
}

/* Only directories have tables: those are known without reading them. */
static gboolean
is_known_dir (ext2_filsys fs, ext2_ino_t ino)
{
  return g_hash_table_contains (dir_tables (fs), GUINT_TO_POINTER (ino));
}

/* @name now names @ino in @dir (0: nothing). */
static void
dir_table_note (ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t ino)
{
  GHashTable *names = g_hash_table_lookup (dir_tables (fs), GUINT_TO_POINTER (dir));

  if (names == NULL)
    return; /* read whole when first needed */
  if (ino == 0)
    g_hash_table_remove (names, name);
  else
    g_hash_table_replace (names, g_strdup (name), GUINT_TO_POINTER (ino));
}

/* libext2fs does not grow a full directory by itself. */
static errcode_t
link_entry (ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t ino, guint16 mode)
{
  errcode_t rc = ext2fs_link (fs, dir, name, ino, dirent_type (mode));

  if (rc == EXT2_ET_DIR_NO_SPACE)
    {
      rc = ext2fs_expand_dir (fs, dir);
      if (rc == 0)
        rc = ext2fs_link (fs, dir, name, ino, dirent_type (mode));
    }
  if (rc == 0)
    dir_table_note (fs, dir, name, ino);
  return rc;
}

typedef struct
{
  char *name;
  ext2_ino_t ino;
} Child;

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
static errcode_t
list_children (ext2_filsys fs, ext2_ino_t dir, GPtrArray **out)
{
  g_autoptr (GPtrArray) children = g_ptr_array_new_with_free_func (child_free);
  errcode_t rc = ext2fs_dir_iterate2 (fs, dir, 0, NULL, collect_child, children);

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
static errcode_t
release_inode (ext2_filsys fs, ext2_ino_t ino)
{
  struct ext2_inode_large inode;
  gboolean is_dir;
  errcode_t rc;

  if ((rc = read_inode (fs, ino, &inode)) != 0)
    return rc;
  is_dir = LINUX_S_ISDIR (inode.i_mode);
  if (ext2fs_file_acl_block (fs, (struct ext2_inode *) &inode) != 0)
    {
      if ((rc = ext2fs_free_ext_attr (fs, ino, &inode)) != 0)
        return rc;
      if ((rc = read_inode (fs, ino, &inode)) != 0)
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
      if ((rc = read_inode (fs, ino, &inode)) != 0)
        return rc;
      memset (inode.i_block, 0, sizeof inode.i_block);
      inode.i_flags &= ~(__u32) EXT4_EXTENTS_FL;
      ext2fs_iblk_set (fs, (struct ext2_inode *) &inode, 0);
    }
  /* Its number may come back as another directory. */
  if (is_dir)
    g_hash_table_remove (dir_tables (fs), GUINT_TO_POINTER (ino));
  inode.i_links_count = 0;
  inode.i_size = 0;
  inode.i_size_high = 0;
  inode.i_dtime = fs->now != 0 ? (__u32) fs->now : (__u32) time (NULL);
  if ((rc = write_inode (fs, ino, &inode)) != 0)
    return rc;
  ext2fs_inode_alloc_stats2 (fs, ino, -1, is_dir ? 1 : 0);
  return 0;
}

/* Removes @name (inode @ino) from @dir, a directory with all it holds. */
static errcode_t
remove_entry (ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t ino)
{
  struct ext2_inode_large inode, parent;
  errcode_t rc;

  if ((rc = read_inode (fs, ino, &inode)) != 0)
    return rc;
  if (LINUX_S_ISDIR (inode.i_mode))
    {
      g_autoptr (GPtrArray) children = NULL;

      /* Recursion depth is bounded: directories only come to exist at
       * paths of at most MAX_DEPTH components. */
      if ((rc = list_children (fs, ino, &children)) != 0)
        return rc;
      for (guint i = 0; i < children->len; i++)
        {
          Child *c = g_ptr_array_index (children, i);
          if ((rc = remove_entry (fs, ino, c->name, c->ino)) != 0)
            return rc;
        }
    }
  if ((rc = ext2fs_unlink (fs, dir, name, ino, 0)) != 0)
    return rc;
  dir_table_note (fs, dir, name, 0);
  if (LINUX_S_ISDIR (inode.i_mode))
    {
      /* The child's ".." was a link to the parent. */
      if ((rc = read_inode (fs, dir, &parent)) != 0)
        return rc;
      if (parent.i_links_count > 2)
        parent.i_links_count--;
      if ((rc = write_inode (fs, dir, &parent)) != 0)
        return rc;
      return release_inode (fs, ino);
    }
  if (inode.i_links_count > 1)
    {
      inode.i_links_count--;
      return write_inode (fs, ino, &inode);
    }
  return release_inode (fs, ino);
}

static void
set_time (__u32 *field, __u32 *extra, gint64 sec, long nsec)
{
  /* ext4's encoding: low 32 bits signed, two epoch bits and the
   * nanoseconds in the extra field. Unsigned arithmetic: a layer may carry
   * any time, and the difference must not overflow. */
  *field = (__u32) (gint32) sec;
  if (extra != NULL)
    *extra = (__u32) ((((guint64) sec - (guint64) (gint64) (gint32) sec) >> 32) & EXT4_EPOCH_MASK)
             | (__u32) (((guint32) nsec) << EXT4_EPOCH_BITS);
}

static gboolean
has_extra (struct ext2_inode_large *inode, size_t field_end)
{
  return (size_t) EXT2_GOOD_OLD_INODE_SIZE + inode->i_extra_isize >= field_end;
}

/* Mode bits, owner and times from the tar entry; the file type stays. */
static errcode_t
set_metadata (ext2_filsys fs, ext2_ino_t ino, struct archive_entry *e)
{
  struct ext2_inode_large inode;
  guint32 uid = (guint32) archive_entry_uid (e);
  guint32 gid = (guint32) archive_entry_gid (e);
  gint64 mtime = archive_entry_mtime (e);
  long mtime_ns = archive_entry_mtime_nsec (e);
  gboolean large;
  errcode_t rc;

  if ((rc = read_inode (fs, ino, &inode)) != 0)
    return rc;
  large = EXT2_INODE_SIZE (fs->super) > EXT2_GOOD_OLD_INODE_SIZE;
  inode.i_mode = (__u16) ((inode.i_mode & LINUX_S_IFMT) | (archive_entry_perm (e) & 07777));
  inode.i_uid = (__u16) (uid & 0xffff);
  ext2fs_set_i_uid_high (inode, uid >> 16);
  inode.i_gid = (__u16) (gid & 0xffff);
  ext2fs_set_i_gid_high (inode, gid >> 16);
  set_time (&inode.i_mtime,
            large && has_extra (&inode, offsetof (struct ext2_inode_large, i_mtime_extra) + 4)
              ? &inode.i_mtime_extra
              : NULL,
            mtime, mtime_ns);
  set_time (&inode.i_atime,
            large && has_extra (&inode, offsetof (struct ext2_inode_large, i_atime_extra) + 4)
              ? &inode.i_atime_extra
              : NULL,
            archive_entry_atime_is_set (e) ? archive_entry_atime (e) : mtime,
            archive_entry_atime_is_set (e) ? archive_entry_atime_nsec (e) : mtime_ns);
  set_time (&inode.i_ctime,
            large && has_extra (&inode, offsetof (struct ext2_inode_large, i_ctime_extra) + 4)
              ? &inode.i_ctime_extra
              : NULL,
            archive_entry_ctime_is_set (e) ? archive_entry_ctime (e) : mtime,
            archive_entry_ctime_is_set (e) ? archive_entry_ctime_nsec (e) : mtime_ns);
  /* The creation time would otherwise be the build's wall clock: keep
   * images reproducible. */
  if (large && has_extra (&inode, offsetof (struct ext2_inode_large, i_crtime_extra) + 4))
    set_time (&inode.i_crtime, &inode.i_crtime_extra, mtime, mtime_ns);
  return write_inode (fs, ino, &inode);
}

static int
collect_xattr_name (char *name, char *value, size_t value_len, void *data)
{
  g_ptr_array_add (data, g_strdup (name));
  return 0;
}

/* The namespaces a Linux ext4 stores for files; anything else in a layer
 * would be written under a name the kernel cannot read back. */
static gboolean
xattr_name_ok (const char *name)
{
  return (g_str_has_prefix (name, "user.") && name[5] != '\0')
         || (g_str_has_prefix (name, "trusted.") && name[8] != '\0')
         || (g_str_has_prefix (name, "security.") && name[9] != '\0')
         || g_str_equal (name, "system.posix_acl_access")
         || g_str_equal (name, "system.posix_acl_default");
}

/* Writes the entry's xattrs; with @replace (a directory merged over an
 * existing one) the old ones go first, since the new entry's metadata wins. */
static gboolean
set_xattrs (Apply *a, ext2_ino_t ino, struct archive_entry *e, gboolean replace, GError **error)
{
  struct ext2_xattr_handle *h = NULL;
  const char *name;
  const void *value;
  size_t size;
  errcode_t rc;

  if (archive_entry_xattr_reset (e) == 0 && !replace)
    return TRUE;
  if ((rc = ext2fs_xattrs_open (a->fs, ino, &h)) != 0)
    return fail_ext2 (a, rc, error, "cannot open xattrs");
  if ((rc = ext2fs_xattrs_read (h)) != 0)
    goto fail;
  if (replace)
    {
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

      if ((rc = ext2fs_xattrs_iterate (h, collect_xattr_name, names)) != 0)
        goto fail;
      for (guint i = 0; i < names->len; i++)
        if ((rc = ext2fs_xattr_remove (h, g_ptr_array_index (names, i))) != 0)
          goto fail;
    }
  archive_entry_xattr_reset (e);
  while (archive_entry_xattr_next (e, &name, &value, &size) == ARCHIVE_OK)
    {
      if (!xattr_name_ok (name))
        {
          g_autofree char *shown = bgr_ext4_escape_path (name);
          ext2fs_xattrs_close (&h);
          return refuse (a, error, "xattr \"%s\" is not in the user, trusted, security or "
                         "POSIX ACL namespace", shown);
        }
      if ((rc = ext2fs_xattr_set (h, name, value, size)) != 0)
        goto fail;
    }
  if ((rc = ext2fs_xattrs_close (&h)) != 0)
    return fail_ext2 (a, rc, error, "cannot write xattrs");
  return TRUE;

fail:
  ext2fs_xattrs_close (&h);
  return fail_ext2 (a, rc, error, "cannot write xattrs");
}

/* A new inode of @mode, not linked anywhere yet, counted as in use. */
static errcode_t
new_plain_inode (ext2_filsys fs, ext2_ino_t parent, guint16 mode, gboolean extents,
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

static errcode_t
make_dir (ext2_filsys fs, ext2_ino_t parent, const char *name, ext2_ino_t *out)
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
  g_hash_table_replace (dir_tables (fs), GUINT_TO_POINTER (ino),
                        g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL));
  if ((rc = link_entry (fs, parent, name, ino, LINUX_S_IFDIR)) != 0)
    return rc;
  *out = ino;
  return 0;
}

#define MAX_SYMLINKS 40

/* The target of symlink @ino, wherever ext4 keeps it. */
static errcode_t
read_symlink (ext2_filsys fs, ext2_ino_t ino, struct ext2_inode_large *inode, char **out)
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

/* Pushes the names of @path onto @todo, last first, so that they pop in
 * order; empty and "." names vanish. */
static void
push_names (GPtrArray *todo, const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);

  for (guint i = g_strv_length (parts); i > 0; i--)
    if (parts[i - 1][0] != '\0' && !g_str_equal (parts[i - 1], "."))
      g_ptr_array_add (todo, g_strdup (parts[i - 1]));
}

/* A new parent directory a layer implies: 0755, root, the entry's mtime. */
static gboolean
make_implied_dir (Apply *a, ext2_ino_t dir, const char *name, time_t mtime, ext2_ino_t *out,
                  GError **error)
{
  struct ext2_inode_large inode;
  errcode_t rc;

  if ((rc = make_dir (a->fs, dir, name, out)) != 0)
    return fail_ext2 (a, rc, error, "cannot create a parent directory");
  if ((rc = read_inode (a->fs, *out, &inode)) != 0)
    return fail_ext2 (a, rc, error, "cannot read a new directory");
  inode.i_mode = LINUX_S_IFDIR | 0755;
  set_time (&inode.i_mtime, NULL, mtime, 0);
  set_time (&inode.i_atime, NULL, mtime, 0);
  set_time (&inode.i_ctime, NULL, mtime, 0);
  if ((rc = write_inode (a->fs, *out, &inode)) != 0)
    return fail_ext2 (a, rc, error, "cannot write a new directory");
  return TRUE;
}

/* Resolves the directory made of the first @n components of @comps inside
 * the image, as umoci (securejoin) and containerd do: symlinks met on the
 * way are followed within the image (an absolute target starts at the
 * image root, ".." stops there, at most 40 links), so that a layer writing
 * "lib/x/y" over an earlier "lib -> usr/lib" lands in "usr/lib/x/y".
 * Nothing is ever looked up outside the image. Missing directories are
 * created (0755, root) when @create; otherwise *out is 0. *real gets the
 * directory's own path from the root ("" for the root). */
static gboolean
resolve_dir (Apply *a, GPtrArray *comps, guint n, gboolean create, time_t mtime,
             ext2_ino_t *out, char **real, GError **error)
{
  g_autoptr (GPtrArray) todo = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) dirs = g_array_new (FALSE, FALSE, sizeof (ext2_ino_t));
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  ext2_ino_t root = EXT2_ROOT_INO;
  guint links = 0;

  g_array_append_val (dirs, root);
  for (guint i = n; i > 0; i--)
    g_ptr_array_add (todo, g_strdup (g_ptr_array_index (comps, i - 1)));
  while (todo->len > 0)
    {
      g_autofree char *name = g_ptr_array_steal_index (todo, todo->len - 1);
      ext2_ino_t dir = g_array_index (dirs, ext2_ino_t, dirs->len - 1), ino;
      struct ext2_inode_large inode;
      errcode_t rc;

      if (g_str_equal (name, ".."))
        {
          if (dirs->len > 1)
            {
              g_array_set_size (dirs, dirs->len - 1);
              g_ptr_array_set_size (names, (gint) names->len - 1);
            }
          continue;
        }
      if (strlen (name) > MAX_NAME_LEN)
        return refuse (a, error, "a symlink on the path leads to a name longer than 255 bytes");
      if (dirs->len > MAX_DEPTH)
        return refuse (a, error, "path deeper than 64 levels once symlinks are followed");
      rc = lookup (a->fs, dir, name, &ino);
      if (rc == EXT2_ET_FILE_NOT_FOUND)
        {
          if (!create)
            {
              *out = 0;
              *real = NULL;
              return TRUE;
            }
          if (!make_implied_dir (a, dir, name, mtime, &ino, error))
            return FALSE;
        }
      else if (rc != 0)
        return fail_ext2 (a, rc, error, "cannot look up a parent directory");
      else if (is_known_dir (a->fs, ino))
        {
          /* A directory: no need to read it. */
        }
      else if ((rc = read_inode (a->fs, ino, &inode)) != 0)
        return fail_ext2 (a, rc, error, "cannot read a parent directory");
      else if (LINUX_S_ISLNK (inode.i_mode))
        {
          g_autofree char *target = NULL;

          if (++links > MAX_SYMLINKS)
            return refuse (a, error, "too many levels of symbolic links");
          if ((rc = read_symlink (a->fs, ino, &inode, &target)) != 0)
            return fail_ext2 (a, rc, error, "cannot read a symlink on the path");
          if (target[0] == '/')
            {
              g_array_set_size (dirs, 1);
              g_ptr_array_set_size (names, 0);
            }
          push_names (todo, target);
          continue;
        }
      else if (!LINUX_S_ISDIR (inode.i_mode))
        {
          g_ptr_array_add (names, g_steal_pointer (&name));
          g_ptr_array_add (names, NULL);
          {
            g_autofree char *parent = g_strjoinv ("/", (char **) names->pdata);
            g_autofree char *shown = bgr_ext4_escape_path (parent);
            return refuse (a, error, "parent \"%s\" is not a directory", shown);
          }
        }
      g_array_append_val (dirs, ino);
      g_ptr_array_add (names, g_steal_pointer (&name));
    }
  *out = g_array_index (dirs, ext2_ino_t, dirs->len - 1);
  g_ptr_array_add (names, NULL);
  *real = g_strjoinv ("/", (char **) names->pdata);
  return TRUE;
}

/* "DIR/NAME", or NAME in the root. */
static char *
child_path (const char *dir, const char *name)
{
  return *dir == '\0' ? g_strdup (name) : g_strconcat (dir, "/", name, NULL);
}

/* Records @path (a real path from the root) and its ancestors as made by
 * this layer. */
static void
mark_touched (Apply *a, const char *path)
{
  char *p = g_strdup (path);

  while (g_hash_table_add (a->touched, p))
    {
      char *slash = strrchr (p, '/');
      if (slash == NULL)
        return;
      p = g_strndup (p, (gsize) (slash - p));
    }
  /* Its ancestors are in already. */
}

/* ---- entries --------------------------------------------------------- */

/* Empties what earlier layers put below @dir (folded path @dir_path),
 * keeping this layer's entries and the directories leading to them. */
static gboolean
clear_lower (Apply *a, ext2_ino_t dir, const char *dir_path, GError **error)
{
  g_autoptr (GPtrArray) children = NULL;
  errcode_t rc;

  if ((rc = list_children (a->fs, dir, &children)) != 0)
    return fail_ext2 (a, rc, error, "cannot list the opaque directory");
  for (guint i = 0; i < children->len; i++)
    {
      Child *c = g_ptr_array_index (children, i);
      g_autofree char *path =
        *dir_path == '\0' ? g_strdup (c->name) : g_strconcat (dir_path, "/", c->name, NULL);
      struct ext2_inode_large inode;

      if (dir == EXT2_ROOT_INO && g_str_equal (c->name, "lost+found"))
        continue; /* ext4's own, not layer content */
      if (!g_hash_table_contains (a->touched, path))
        {
          if ((rc = remove_entry (a->fs, dir, c->name, c->ino)) != 0)
            return fail_ext2 (a, rc, error, "cannot remove a lower entry");
          continue;
        }
      if ((rc = read_inode (a->fs, c->ino, &inode)) != 0)
        return fail_ext2 (a, rc, error, "cannot read an entry");
      if (LINUX_S_ISDIR (inode.i_mode) && !clear_lower (a, c->ino, path, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
apply_whiteout (Apply *a, GPtrArray *comps, const char *base, GError **error)
{
  g_autofree char *dir_path = NULL;
  ext2_ino_t dir, ino;
  errcode_t rc;

  if (!resolve_dir (a, comps, comps->len - 1, FALSE, 0, &dir, &dir_path, error))
    return FALSE;
  if (g_str_equal (base, OPAQUE_MARKER))
    return dir == 0 || clear_lower (a, dir, dir_path, error);
  base += strlen (WHITEOUT_PREFIX);
  if (g_str_has_prefix (base, WHITEOUT_PREFIX))
    return TRUE; /* other ".wh..wh." names are aufs bookkeeping, not content */
  if (*base == '\0' || g_str_equal (base, ".") || g_str_equal (base, ".."))
    return refuse (a, error, "whiteout names no entry");
  if (dir == 0)
    return TRUE;
  rc = lookup (a->fs, dir, base, &ino);
  if (rc == EXT2_ET_FILE_NOT_FOUND)
    return TRUE;
  if (rc == 0)
    rc = remove_entry (a->fs, dir, base, ino);
  if (rc != 0)
    return fail_ext2 (a, rc, error, "cannot apply the whiteout");
  return TRUE;
}

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
      rc = io_channel_write_blk64 (fs->io, ex.e_pblk + (lblk - ex.e_lblk), (int) len, buf);
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

/* Writes @len bytes of @buf (a whole number of blocks) as blocks from
 * @lblk of new file @ino: all-zero blocks are left as holes, like a
 * sparse copy would. */
static errcode_t
write_blocks (ext2_filsys fs, ext2_ino_t ino, const char *buf, gsize len, blk64_t lblk)
{
  guint bs = fs->blocksize;

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
      if ((rc = write_run (fs, ino, buf + pos, lblk + pos / bs, run / bs)) != 0)
        return rc;
      pos += run;
    }
  return 0;
}

static gboolean
write_file_data (Apply *a, struct archive *ar, ext2_ino_t ino, GCancellable *cancellable,
                 GError **error)
{
  struct ext2_inode_large inode;
  guint64 offset = 0;
  guint bs = a->fs->blocksize;
  errcode_t rc;

  for (;;)
    {
      gsize filled = 0, padded;
      la_ssize_t n = 0;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      /* Fill whole chunks so that the zero-block test sees aligned blocks. */
      while (filled < CHUNK_SIZE
             && (n = archive_read_data (ar, a->buf + filled, CHUNK_SIZE - filled)) > 0)
        filled += (gsize) n;
      if (n < 0)
        {
          bgr_set_error_from_archive (error, ar, "layer %s: entry \"%s\"", a->layer, a->entry);
          return FALSE;
        }
      /* The last block is written whole, zeros after the end. */
      padded = (filled + bs - 1) / bs * bs;
      memset (a->buf + filled, 0, padded - filled);
      if ((rc = write_blocks (a->fs, ino, a->buf, padded, offset / bs)) != 0)
        return fail_ext2 (a, rc, error, "cannot write the file");
      offset += filled;
      if (n == 0 && filled < CHUNK_SIZE)
        break;
    }
  if ((rc = read_inode (a->fs, ino, &inode)) != 0
      || (rc = ext2fs_inode_size_set (a->fs, (struct ext2_inode *) &inode, offset)) != 0
      || (rc = write_inode (a->fs, ino, &inode)) != 0)
    return fail_ext2 (a, rc, error, "cannot write the file");
  return TRUE;
}

/* Hardlinks name an entry already in the image; the target is resolved
 * with the same rules as any path (folded, inside the root, no symlinked
 * parents) and must be an existing non-directory. */
static gboolean
resolve_link_target (Apply *a, const char *target, ext2_ino_t *out, GError **error)
{
  g_autoptr (GPtrArray) comps = NULL;
  g_autofree char *shown = bgr_ext4_escape_path (target);
  struct ext2_inode_large inode;
  g_autofree char *real = NULL;
  const char *why = NULL;
  ext2_ino_t dir, ino;
  errcode_t rc;

  if ((comps = bgr_ext4_fold_path (target, &why)) == NULL)
    return refuse (a, error, "hardlink target \"%s\": %s", shown, why);
  if (comps->len == 0)
    return refuse (a, error, "hardlink target \"%s\" is the image root", shown);
  if (!resolve_dir (a, comps, comps->len - 1, FALSE, 0, &dir, &real, error))
    return FALSE;
  rc = dir == 0 ? EXT2_ET_FILE_NOT_FOUND : lookup (a->fs, dir, g_ptr_array_index (comps, comps->len - 1), &ino);
  if (rc == EXT2_ET_FILE_NOT_FOUND)
    return refuse (a, error, "hardlink target \"%s\" does not exist in the image", shown);
  if (rc != 0)
    return fail_ext2 (a, rc, error, "cannot look up the hardlink target");
  if ((rc = read_inode (a->fs, ino, &inode)) != 0)
    return fail_ext2 (a, rc, error, "cannot read the hardlink target");
  if (LINUX_S_ISDIR (inode.i_mode))
    return refuse (a, error, "hardlink target \"%s\" is a directory", shown);
  if (inode.i_links_count >= EXT2_LINK_MAX)
    return refuse (a, error, "hardlink target \"%s\" has too many links", shown);
  *out = ino;
  return TRUE;
}

static gboolean
apply_entry (Apply *a, struct archive *ar, struct archive_entry *e, GCancellable *cancellable,
             GError **error)
{
  const char *path = archive_entry_pathname (e);
  const char *hardlink = archive_entry_hardlink (e);
  const char *symlink = archive_entry_symlink (e);
  mode_t type = archive_entry_filetype (e);
  g_autoptr (GPtrArray) comps = NULL;
  g_autofree char *folded = NULL, *dir_path = NULL;
  struct ext2_inode_large inode;
  const char *why = NULL, *base;
  ext2_ino_t dir, old = 0, ino = 0;
  guint16 mode;
  errcode_t rc;

  if (path == NULL)
    return refuse (a, error, "entry has no path");
  if ((comps = bgr_ext4_fold_path (path, &why)) == NULL)
    return refuse (a, error, "%s", why);
  if (archive_entry_uid (e) < 0 || archive_entry_uid (e) > G_MAXUINT32
      || archive_entry_gid (e) < 0 || archive_entry_gid (e) > G_MAXUINT32)
    return refuse (a, error, "owner out of range");

  if (comps->len == 0)
    {
      /* "./" itself: the root directory's own metadata. */
      if (hardlink != NULL || type != AE_IFDIR)
        return refuse (a, error, "only a directory can replace the image root");
      if ((rc = set_metadata (a->fs, EXT2_ROOT_INO, e)) != 0)
        return fail_ext2 (a, rc, error, "cannot set metadata");
      return set_xattrs (a, EXT2_ROOT_INO, e, TRUE, error);
    }

  base = g_ptr_array_index (comps, comps->len - 1);
  if (g_str_has_prefix (base, WHITEOUT_PREFIX))
    return apply_whiteout (a, comps, base, error);

  /* Everything is checked before anything in the image changes. */
  if (hardlink == NULL)
    {
      switch (type)
        {
        case AE_IFREG:
          if (archive_entry_size (e) < 0 || (guint64) archive_entry_size (e) > a->w->fs_bytes)
            return refuse (a, error, "file of %" G_GINT64_FORMAT " bytes is larger than the "
                           "filesystem", (gint64) archive_entry_size (e));
          break;
        case AE_IFLNK:
          if (symlink == NULL || *symlink == '\0')
            return refuse (a, error, "symlink without a target");
          if (strlen (symlink) >= MIN (a->fs->blocksize, MAX_PATH_LEN))
            return refuse (a, error, "symlink target longer than 4095 bytes");
          break;
        case AE_IFDIR:
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO:
        case AE_IFSOCK:
          break;
        default:
          return refuse (a, error, "unknown entry type 0%o", (unsigned) type);
        }
    }
  else if (strlen (hardlink) > MAX_PATH_LEN)
    return refuse (a, error, "hardlink target longer than 4096 bytes");

  if (!resolve_dir (a, comps, comps->len - 1, TRUE, archive_entry_mtime (e), &dir, &dir_path,
                    error))
    return FALSE;
  folded = child_path (dir_path, base);
  mark_touched (a, folded);

  rc = lookup (a->fs, dir, base, &old);
  if (rc != 0 && rc != EXT2_ET_FILE_NOT_FOUND)
    return fail_ext2 (a, rc, error, "cannot look up the entry");
  if (rc == EXT2_ET_FILE_NOT_FOUND)
    old = 0;

  if (hardlink != NULL)
    {
      g_autoptr (GPtrArray) tcomps = bgr_ext4_fold_path (hardlink, &why);
      g_autofree char *tdir = NULL, *tfolded = NULL;
      ext2_ino_t tino = 0;

      if (tcomps != NULL && tcomps->len > 0
          && !resolve_dir (a, tcomps, tcomps->len - 1, FALSE, 0, &tino, &tdir, error))
        return FALSE;
      if (tdir != NULL)
        tfolded = child_path (tdir, g_ptr_array_index (tcomps, tcomps->len - 1));
      /* A link to itself keeps what is there. */
      if (old != 0 && tfolded != NULL && g_str_equal (tfolded, folded))
        {
          if (!resolve_link_target (a, hardlink, &ino, error))
            return FALSE;
          return TRUE;
        }
      /* The old entry goes first: the target is looked up afterwards so
       * that a target inside a replaced directory is seen as gone. */
      if (old != 0 && (rc = remove_entry (a->fs, dir, base, old)) != 0)
        return fail_ext2 (a, rc, error, "cannot replace the existing entry");
      if (!resolve_link_target (a, hardlink, &ino, error))
        return FALSE;
      if ((rc = read_inode (a->fs, ino, &inode)) != 0)
        return fail_ext2 (a, rc, error, "cannot read the hardlink target");
      if ((rc = link_entry (a->fs, dir, base, ino, inode.i_mode)) != 0)
        return fail_ext2 (a, rc, error, "cannot link");
      inode.i_links_count++;
      if ((rc = write_inode (a->fs, ino, &inode)) != 0)
        return fail_ext2 (a, rc, error, "cannot link");
      return TRUE;
    }

  if (old != 0)
    {
      if ((rc = read_inode (a->fs, old, &inode)) != 0)
        return fail_ext2 (a, rc, error, "cannot read the existing entry");
      if (type == AE_IFDIR && LINUX_S_ISDIR (inode.i_mode))
        {
          /* A directory over a directory merges; the new metadata wins. */
          if ((rc = set_metadata (a->fs, old, e)) != 0)
            return fail_ext2 (a, rc, error, "cannot set metadata");
          return set_xattrs (a, old, e, TRUE, error);
        }
      if ((rc = remove_entry (a->fs, dir, base, old)) != 0)
        return fail_ext2 (a, rc, error, "cannot replace the existing entry");
    }

  switch (type)
    {
    case AE_IFDIR:
      if ((rc = make_dir (a->fs, dir, base, &ino)) != 0)
        return fail_ext2 (a, rc, error, "cannot create the directory");
      break;
    case AE_IFREG:
      mode = LINUX_S_IFREG | 0600;
      if ((rc = new_plain_inode (a->fs, dir, mode, TRUE, NULL, &ino)) != 0
          || (rc = link_entry (a->fs, dir, base, ino, mode)) != 0)
        return fail_ext2 (a, rc, error, "cannot create the file");
      if (!write_file_data (a, ar, ino, cancellable, error))
        return FALSE;
      break;
    case AE_IFLNK:
      {
        g_autofree char *target = g_strdup (symlink);

        if ((rc = ext2fs_new_inode (a->fs, dir, LINUX_S_IFLNK | 0777, NULL, &ino)) != 0
            || (rc = ext2fs_symlink (a->fs, dir, ino, NULL, target)) != 0
            || (rc = link_entry (a->fs, dir, base, ino, LINUX_S_IFLNK)) != 0)
          return fail_ext2 (a, rc, error, "cannot create the symlink");
        break;
      }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
    case AE_IFSOCK:
      {
        __u32 blocks[2] = { 0, 0 };

        mode = (guint16) ((type == AE_IFCHR    ? LINUX_S_IFCHR
                           : type == AE_IFBLK  ? LINUX_S_IFBLK
                           : type == AE_IFIFO  ? LINUX_S_IFIFO
                                               : LINUX_S_IFSOCK)
                          | 0600);
        if (type == AE_IFCHR || type == AE_IFBLK)
          {
            /* The kernel's two device number encodings: old (8:8) when
             * both fit, new (12:20 split) otherwise. */
            guint32 major = (guint32) archive_entry_rdevmajor (e);
            guint32 minor = (guint32) archive_entry_rdevminor (e);
            if (major < 256 && minor < 256)
              blocks[0] = major * 256 + minor;
            else
              blocks[1] = (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12);
          }
        if ((rc = new_plain_inode (a->fs, dir, mode, FALSE, blocks, &ino)) != 0
            || (rc = link_entry (a->fs, dir, base, ino, mode)) != 0)
          return fail_ext2 (a, rc, error, "cannot create the node");
        break;
      }
    default:
      g_assert_not_reached ();
    }
  if ((rc = set_metadata (a->fs, ino, e)) != 0)
    return fail_ext2 (a, rc, error, "cannot set metadata");
  return set_xattrs (a, ino, e, FALSE, error);
}

/* The layer's uncompressed digest against the config's diff_id. */
static gboolean
check_diff_id (BgrLayerStream *stream, const char *what, const char *diff_id, GError **error)
{
  g_autofree char *actual = bgr_layer_stream_finish (stream, error);

  if (actual == NULL)
    {
      g_prefix_error (error, "%s: ", what);
      return FALSE;
    }
  if (g_ascii_strcasecmp (actual, diff_id) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s: the uncompressed layer has digest %s, but the image config's diff_id "
                   "for it is %s", what, actual, diff_id);
      return FALSE;
    }
  return TRUE;
}

gboolean
bgr_ext4_writer_apply_layer_file (BgrExt4Writer *w, const char *tar_path, const char *layer_name,
                                  const char *diff_id, GCancellable *cancellable, GError **error)
{
  g_autofree char *what = g_strdup_printf ("layer %s", layer_name);
  g_autoptr (GHashTable) touched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *buf = g_malloc (CHUNK_SIZE);
  Apply a = { .w = w, .fs = w->fs, .layer = layer_name, .touched = touched, .buf = buf };
  g_autoptr (BgrLayerStream) stream = NULL;
  struct archive_entry *e;
  struct archive *ar;
  gboolean ok = TRUE;
  int rc;

  gint64 started = g_get_monotonic_time ();

  g_return_val_if_fail (w != NULL && w->fs != NULL, FALSE);
  stream = bgr_layer_stream_open (tar_path, diff_id != NULL, error);
  if (stream == NULL)
    {
      g_prefix_error (error, "%s: ", what);
      return FALSE;
    }
  /* Inflating and hashing overlap with the tar parsing and ext4 writes. */
  bgr_layer_stream_read_ahead (stream);
  if ((ar = bgr_layer_stream_open_archive (stream, error)) == NULL)
    {
      g_prefix_error (error, "%s: ", what);
      return FALSE;
    }
  while ((rc = archive_read_next_header (ar, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          ok = FALSE;
          break;
        }
      g_free (a.entry);
      a.entry = bgr_ext4_escape_path (archive_entry_pathname (e) != NULL ? archive_entry_pathname (e) : "");
      if (!apply_entry (&a, ar, e, cancellable, error))
        {
          ok = FALSE;
          break;
        }
    }
  if (ok && rc != ARCHIVE_EOF)
    {
      bgr_set_error_from_archive (error, ar, "%s", what);
      ok = FALSE;
    }
  g_free (a.entry);
  archive_read_free (ar);
  if (ok && diff_id != NULL)
    ok = check_diff_id (stream, what, diff_id, error);
  if (ok)
    {
      double read_s, hash_s;
      bgr_layer_stream_get_times (stream, &read_s, &hash_s);
      g_debug ("%s: %" G_GUINT64_FORMAT " bytes uncompressed, replayed in %.3f s; the read-ahead "
               "thread spent %.3f s reading and inflating, %.3f s hashing", what,
               bgr_layer_stream_get_position (stream), (g_get_monotonic_time () - started) / 1e6,
               read_s, hash_s);
    }
  if (ok && g_cancellable_set_error_if_cancelled (cancellable, error))
    ok = FALSE;
  if (!ok)
    bgr_error_convert (error);
  return ok;
}

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
      dir_tables_free (w->fs);
      rc = ext2fs_close_free (&w->fs);
    }
  if (rc != 0)
    bgr_set_error_from_ext2fs (error, rc, "cannot write filesystem %s", w->path);
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
      dir_tables_free (w->fs);
      ext2fs_free (w->fs);
    }
  g_free (w->path);
  g_free (w);
}

/* ---- editing an existing image --------------------------------------- */

/* Paths given to the bgr_ext4_writer_add_*() calls come from banger, not
 * from a layer, but the image they land in may have been changed by its
 * guest: its symlinks are followed as a guest would see them, always
 * inside the image (see resolve_for_add()). */

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

/* One bgr_ext4_writer_add_*() call. */
typedef struct
{
  BgrExt4Writer *w;
  ext2_filsys fs;
  GCancellable *cancellable;
  gint64 now;
  long now_ns;
  char *buf;
} Edit;

static void
edit_init (Edit *e, BgrExt4Writer *w, GCancellable *cancellable)
{
  gint64 t = g_get_real_time ();

  e->w = w;
  e->fs = w->fs;
  e->cancellable = cancellable;
  e->now = t / G_USEC_PER_SEC;
  e->now_ns = (long) (t % G_USEC_PER_SEC) * 1000;
  e->buf = NULL;
}

static gboolean edit_refuse (Edit *e, GError **error, int code, const char *guest, const char *fmt,
                             ...) G_GNUC_PRINTF (5, 6);

/* "IMAGE: GUEST: why", the guest path escaped (parts of it may come from
 * the image's symlinks). */
static gboolean
edit_refuse (Edit *e, GError **error, int code, const char *guest, const char *fmt, ...)
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

static gboolean
edit_fail (Edit *e, errcode_t rc, GError **error, const char *guest, const char *what)
{
  g_autofree char *shown = bgr_ext4_escape_path (guest);

  if (rc == EXT2_ET_BLOCK_ALLOC_FAIL || rc == EXT2_ET_INODE_ALLOC_FAIL
      || rc == EXT2_ET_DIR_NO_SPACE)
    bgr_set_error_from_ext2fs (error, rc, "%s: no space left for %s", e->w->path, shown);
  else
    bgr_set_error_from_ext2fs (error, rc, "%s: %s: %s", e->w->path, shown, what);
  return FALSE;
}

#define TIME_EXTRA(inode, large, f)                                                        \
  ((large) && has_extra ((inode), offsetof (struct ext2_inode_large, f) + 4) ? &(inode)->f \
                                                                             : NULL)

/* Owner 0:0, permission bits @perm (the type stays), modification and
 * access time @mtime, change and creation time now. */
static errcode_t
set_added_metadata (Edit *e, ext2_ino_t ino, guint perm, gint64 mtime, long mtime_ns)
{
  struct ext2_inode_large inode;
  gboolean large = EXT2_INODE_SIZE (e->fs->super) > EXT2_GOOD_OLD_INODE_SIZE;
  errcode_t rc;

  if ((rc = read_inode (e->fs, ino, &inode)) != 0)
    return rc;
  inode.i_mode = (__u16) ((inode.i_mode & LINUX_S_IFMT) | (perm & 07777));
  inode.i_uid = 0;
  ext2fs_set_i_uid_high (inode, 0);
  inode.i_gid = 0;
  ext2fs_set_i_gid_high (inode, 0);
  set_time (&inode.i_mtime, TIME_EXTRA (&inode, large, i_mtime_extra), mtime, mtime_ns);
  set_time (&inode.i_atime, TIME_EXTRA (&inode, large, i_atime_extra), mtime, mtime_ns);
  set_time (&inode.i_ctime, TIME_EXTRA (&inode, large, i_ctime_extra), e->now, e->now_ns);
  if (TIME_EXTRA (&inode, large, i_crtime_extra) != NULL)
    set_time (&inode.i_crtime, &inode.i_crtime_extra, e->now, e->now_ns);
  return write_inode (e->fs, ino, &inode);
}

/* A new directory @name in @dir: 0755, 0:0, times now. */
static errcode_t
make_added_dir (Edit *e, ext2_ino_t dir, const char *name, ext2_ino_t *out)
{
  errcode_t rc = make_dir (e->fs, dir, name, out);

  if (rc == 0)
    rc = set_added_metadata (e, *out, 0755, e->now, e->now_ns);
  return rc;
}

/* Resolves @guest_path as a process chrooted into the image would, but
 * creating missing directories (0755, 0:0) on the way: symlinks are
 * followed, an absolute target from the image root, a relative one from
 * the link's directory, ".." never climbs above the root, and at most 40
 * symlinks are followed. The last name is followed too with @follow_last.
 * On success *out_dir is the directory that holds the last name and
 * *out_base that name (it may not exist yet), or NULL when the path ends
 * at a directory itself ("/", "..", a symlink to a directory). */
static gboolean
resolve_for_add (Edit *e, const char *guest_path, gboolean follow_last, ext2_ino_t *out_dir,
                 char **out_base, GError **error)
{
  g_autoptr (GPtrArray) todo = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) dirs = g_array_new (FALSE, FALSE, sizeof (ext2_ino_t));
  ext2_ino_t root = EXT2_ROOT_INO;
  guint links = 0;

  if (strlen (guest_path) > MAX_PATH_LEN)
    return edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest_path,
                        "path longer than 4096 bytes");
  g_array_append_val (dirs, root);
  push_names (todo, guest_path);
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
        return edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest_path,
                            "name longer than 255 bytes");
      rc = lookup (e->fs, dir, name, &ino);
      if (rc == EXT2_ET_FILE_NOT_FOUND && last)
        {
          *out_dir = dir;
          *out_base = g_steal_pointer (&name);
          return TRUE;
        }
      if (rc == EXT2_ET_FILE_NOT_FOUND)
        {
          if (dirs->len > MAX_DEPTH)
            return edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest_path,
                                "path deeper than 64 levels");
          if ((rc = make_added_dir (e, dir, name, &ino)) != 0)
            return edit_fail (e, rc, error, guest_path, "cannot create a parent directory");
          g_array_append_val (dirs, ino);
          continue;
        }
      if (rc != 0)
        return edit_fail (e, rc, error, guest_path, "cannot look up a parent directory");
      if ((rc = read_inode (e->fs, ino, &inode)) != 0)
        return edit_fail (e, rc, error, guest_path, "cannot read a parent directory");
      if (LINUX_S_ISLNK (inode.i_mode) && (!last || follow_last))
        {
          g_autofree char *target = NULL;

          if (++links > MAX_SYMLINKS)
            return edit_refuse (e, error, BGR_ERROR_INVALID_DATA, guest_path,
                                "too many levels of symbolic links in the image");
          if ((rc = read_symlink (e->fs, ino, &inode, &target)) != 0)
            return edit_fail (e, rc, error, guest_path, "cannot read a symlink");
          if (target[0] == '/')
            g_array_set_size (dirs, 1);
          push_names (todo, target);
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
          return edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest_path,
                              "\"%s\" is not a directory in the image", shown);
        }
      if (dirs->len > MAX_DEPTH)
        return edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest_path,
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
  errcode_t rc = lookup (e->fs, dir, name, old);

  if (rc == EXT2_ET_FILE_NOT_FOUND)
    {
      *old = 0;
      return TRUE;
    }
  if (rc == 0)
    rc = read_inode (e->fs, *old, &inode);
  if (rc != 0)
    return edit_fail (e, rc, error, guest, "cannot look up the existing entry");
  if (LINUX_S_ISDIR (inode.i_mode))
    return edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest,
                        "is a directory in the image");
  return TRUE;
}

/* Puts @ino, complete, at @name in @dir in place of @old. */
static errcode_t
swap_in (Edit *e, ext2_ino_t dir, const char *name, ext2_ino_t old, ext2_ino_t ino,
         guint16 mode)
{
  errcode_t rc;

  if (old != 0 && (rc = remove_entry (e->fs, dir, name, old)) != 0)
    return rc;
  return link_entry (e->fs, dir, name, ino, mode);
}

/* Writes a new regular file at @name in @dir from @fd (when >= 0) or
 * @data, then puts it in place of what was there. The new inode is
 * complete before the old entry goes, so a failure (a full filesystem)
 * leaves the old file and no trace of the new one. */
static gboolean
put_regular (Edit *e, ext2_ino_t dir, const char *name, const char *guest, int fd,
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
    return edit_fail (e, EXT2_ET_BLOCK_ALLOC_FAIL, error, guest, NULL);
  if (e->buf == NULL)
    e->buf = g_malloc (CHUNK_SIZE);
  if ((rc = new_plain_inode (e->fs, dir, LINUX_S_IFREG | 0600, TRUE, NULL, &ino)) != 0)
    return edit_fail (e, rc, error, guest, "cannot create the file");
  for (;;)
    {
      gsize filled = 0, padded;

      if (g_cancellable_set_error_if_cancelled (e->cancellable, error))
        goto fail_quiet;
      if (fd >= 0)
        {
          /* Whole chunks, so that write_blocks() sees aligned blocks. */
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
      if ((rc = write_blocks (e->fs, ino, e->buf, padded, offset / bs)) != 0)
        goto fail;
      offset += filled;
    }
  if ((rc = read_inode (e->fs, ino, &inode)) != 0
      || (rc = ext2fs_inode_size_set (e->fs, (struct ext2_inode *) &inode, offset)) != 0
      || (rc = write_inode (e->fs, ino, &inode)) != 0
      || (rc = set_added_metadata (e, ino, perm, mtime, mtime_ns)) != 0
      || (rc = swap_in (e, dir, name, old, ino, LINUX_S_IFREG)) != 0)
    goto fail;
  return TRUE;

fail:
  edit_fail (e, rc, error, guest, "cannot write the file");
fail_quiet:
  release_inode (e->fs, ino);
  return FALSE;
}

static gboolean
put_symlink (Edit *e, ext2_ino_t dir, const char *name, const char *guest, const char *target,
             gint64 mtime, long mtime_ns, GError **error)
{
  g_autofree char *copy = g_strdup (target);
  ext2_ino_t old, ino;
  errcode_t rc;

  if (*target == '\0' || strlen (target) >= MIN (e->fs->blocksize, MAX_PATH_LEN))
    return edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest,
                        "symlink target empty or too long for the image");
  if (!check_replaceable (e, dir, name, guest, &old, error))
    return FALSE;
  if ((rc = ext2fs_new_inode (e->fs, dir, LINUX_S_IFLNK | 0777, NULL, &ino)) != 0
      || (rc = ext2fs_symlink (e->fs, dir, ino, NULL, copy)) != 0)
    return edit_fail (e, rc, error, guest, "cannot create the symlink");
  if ((rc = set_added_metadata (e, ino, 0777, mtime, mtime_ns)) != 0
      || (rc = swap_in (e, dir, name, old, ino, LINUX_S_IFLNK)) != 0)
    {
      release_inode (e->fs, ino);
      return edit_fail (e, rc, error, guest, "cannot create the symlink");
    }
  return TRUE;
}

/* Resolves @guest_path for a new file: its directory and name. */
static gboolean
resolve_file_path (Edit *e, const char *guest_path, ext2_ino_t *dir, char **base,
                   GError **error)
{
  if (!resolve_for_add (e, guest_path, FALSE, dir, base, error))
    return FALSE;
  if (*base == NULL)
    return edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest_path,
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
  edit_init (&e, w, NULL);
  if (!resolve_file_path (&e, guest_path, &dir, &base, error))
    return FALSE;
  ok = put_regular (&e, dir, base, guest_path, -1, NULL, data, len, mode, e.now, e.now_ns,
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
  edit_init (&e, w, cancellable);
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
       && put_regular (&e, dir, base, guest_path, fd, host_path, NULL, (gsize) st.st_size,
                       mode != 0 ? mode : (guint) (st.st_mode & 07777), e.now, e.now_ns, error);
  close (fd);
  g_free (e.buf);
  if (!ok)
    bgr_error_convert (error);
  return ok;
}

/* The directory @name in @dir (@guest its full path), made when missing;
 * a symlink there is followed. *made says whether it was made. */
static gboolean
ensure_dir (Edit *e, ext2_ino_t dir, const char *name, const char *guest, ext2_ino_t *out,
            gboolean *made, GError **error)
{
  struct ext2_inode_large inode;
  g_autofree char *base = NULL;
  errcode_t rc;

  *made = FALSE;
  if (name != NULL)
    {
      rc = lookup (e->fs, dir, name, out);
      if (rc == 0)
        rc = read_inode (e->fs, *out, &inode);
      if (rc != 0 && rc != EXT2_ET_FILE_NOT_FOUND)
        return edit_fail (e, rc, error, guest, "cannot look up the directory");
      if (rc == 0 && LINUX_S_ISDIR (inode.i_mode))
        return TRUE;
      if (rc == 0 && !LINUX_S_ISLNK (inode.i_mode))
        return edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest,
                            "exists in the image and is not a directory");
      if (rc == 0)
        {
          /* A symlink: where it leads, from the root. */
          if (!resolve_for_add (e, guest, TRUE, &dir, &base, error))
            return FALSE;
          name = base;
        }
    }
  if (name == NULL)
    {
      *out = dir;
      return TRUE;
    }
  rc = lookup (e->fs, dir, name, out);
  if (rc == 0 && (rc = read_inode (e->fs, *out, &inode)) == 0)
    {
      if (LINUX_S_ISDIR (inode.i_mode))
        return TRUE;
      return edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest,
                          "exists in the image and is not a directory");
    }
  if (rc != EXT2_ET_FILE_NOT_FOUND)
    return edit_fail (e, rc, error, guest, "cannot look up the directory");
  if ((rc = make_added_dir (e, dir, name, out)) != 0)
    return edit_fail (e, rc, error, guest, "cannot create the directory");
  *made = TRUE;
  return TRUE;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Copies what host directory @host holds into image directory @dir
 * (@guest is its path, for messages; it is extended and put back). */
static gboolean
copy_tree (Edit *e, const char *host, GString *guest, ext2_ino_t dir, guint depth,
           GError **error)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) local = NULL;
  gsize guest_len = guest->len;
  const char *n;
  GDir *d;

  if ((d = g_dir_open (host, 0, &local)) == NULL)
    {
      bgr_propagate_error (error, g_steal_pointer (&local), "cannot list %s: ", host);
      return FALSE;
    }
  while ((n = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (n));
  g_dir_close (d);
  /* Sorted: the same tree gives the same image. */
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *path = g_build_filename (host, name, NULL);
      struct stat st;
      gboolean ok;

      if (g_cancellable_set_error_if_cancelled (e->cancellable, error))
        return FALSE;
      g_string_truncate (guest, guest_len);
      if (guest->len == 0 || guest->str[guest->len - 1] != '/')
        g_string_append_c (guest, '/');
      g_string_append (guest, name);
      if (strlen (name) > MAX_NAME_LEN)
        return edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest->str,
                            "name longer than 255 bytes");
      if (lstat (path, &st) != 0)
        {
          bgr_set_error_errno (error, errno, "cannot read %s", path);
          return FALSE;
        }
      if (S_ISDIR (st.st_mode))
        {
          ext2_ino_t child;
          gboolean made;
          errcode_t rc;

          if (depth >= MAX_DEPTH)
            return edit_refuse (e, error, BGR_ERROR_INVALID_ARGUMENT, guest->str,
                                "path deeper than 64 levels");
          if (!ensure_dir (e, dir, name, guest->str, &child, &made, error)
              || !copy_tree (e, path, guest, child, depth + 1, error))
            return FALSE;
          /* Last, once what the directory holds is in; a directory that
           * was there keeps its own (a host's 0700 lib/ must not close
           * the guest's /usr/lib). */
          if (made
              && (rc = set_added_metadata (e, child, st.st_mode & 07777, st.st_mtim.tv_sec,
                                           st.st_mtim.tv_nsec)) != 0)
            return edit_fail (e, rc, error, guest->str, "cannot set metadata");
          continue;
        }
      if (S_ISLNK (st.st_mode))
        {
          g_autofree char *target = g_file_read_link (path, &local);

          if (target == NULL)
            {
              bgr_propagate_error (error, g_steal_pointer (&local), "cannot read %s: ", path);
              return FALSE;
            }
          ok = put_symlink (e, dir, name, guest->str, target, st.st_mtim.tv_sec,
                            st.st_mtim.tv_nsec, error);
        }
      else if (S_ISREG (st.st_mode))
        {
          /* O_NOFOLLOW: what was checked is what is read; O_NONBLOCK: a
           * FIFO put there since does not block. */
          int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
          struct stat fst;

          if (fd < 0 || fstat (fd, &fst) != 0)
            {
              bgr_set_error_errno (error, errno, "cannot open %s", path);
              if (fd >= 0)
                close (fd);
              return FALSE;
            }
          if (!S_ISREG (fst.st_mode))
            {
              close (fd);
              g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                           "%s is not a regular file", path);
              return FALSE;
            }
          ok = put_regular (e, dir, name, guest->str, fd, path, NULL, (gsize) fst.st_size,
                            fst.st_mode & 07777, fst.st_mtim.tv_sec, fst.st_mtim.tv_nsec, error);
          close (fd);
        }
      else
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                       "%s is not a regular file, directory or symlink", path);
          return FALSE;
        }
      if (!ok)
        return FALSE;
    }
  g_string_truncate (guest, guest_len);
  return TRUE;
}

gboolean
bgr_ext4_writer_add_tree (BgrExt4Writer *w, const char *host_dir, const char *guest_dir,
                          GCancellable *cancellable, GError **error)
{
  g_autoptr (GString) guest = g_string_new (guest_dir);
  g_autofree char *base = NULL;
  ext2_ino_t dir, top;
  gboolean made = FALSE, ok;
  struct stat st;
  Edit e;

  g_return_val_if_fail (w != NULL && w->fs != NULL, FALSE);
  edit_init (&e, w, cancellable);
  if (stat (host_dir, &st) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot read %s", host_dir);
      return FALSE;
    }
  if (!S_ISDIR (st.st_mode))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "%s is not a directory",
                   host_dir);
      return FALSE;
    }
  if (!resolve_for_add (&e, guest_dir, TRUE, &dir, &base, error)
      || !ensure_dir (&e, dir, base, guest_dir, &top, &made, error))
    return FALSE;
  ok = copy_tree (&e, host_dir, guest, top, 0, error);
  g_free (e.buf);
  if (!ok)
    {
      bgr_error_convert (error); /* cancelled */
      return FALSE;
    }
  /* A directory that was there keeps its own metadata: "/" or "/usr/lib"
   * should not take a temporary directory's 0700. */
  if (made)
    {
      errcode_t rc = set_added_metadata (&e, top, st.st_mode & 07777, st.st_mtim.tv_sec,
                                         st.st_mtim.tv_nsec);
      if (rc != 0)
        return edit_fail (&e, rc, error, guest_dir, "cannot set metadata");
    }
  return TRUE;
}
