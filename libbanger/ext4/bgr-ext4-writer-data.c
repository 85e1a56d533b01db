/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a layer entry carries besides its name: mode, owner and times,
 * xattrs, and a regular file's data (its blocks: bgr-ext4-writer-blocks.c). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "bgr-error-private.h"
#include "ext4/bgr-ext4-writer-internal.h"

/* Mode bits, owner and times from the tar entry; the file type stays. */
errcode_t
bgr_ext4_set_metadata (ext2_filsys fs, ext2_ino_t ino, struct archive_entry *e)
{
  struct ext2_inode_large inode;
  guint32 uid = (guint32) archive_entry_uid (e);
  guint32 gid = (guint32) archive_entry_gid (e);
  gint64 mtime = archive_entry_mtime (e);
  long mtime_ns = archive_entry_mtime_nsec (e);
  gboolean large;
  errcode_t rc;

  if ((rc = bgr_ext4_read_inode (fs, ino, &inode)) != 0)
    return rc;
  large = EXT2_INODE_SIZE (fs->super) > EXT2_GOOD_OLD_INODE_SIZE;
  inode.i_mode = (__u16) ((inode.i_mode & LINUX_S_IFMT) | (archive_entry_perm (e) & 07777));
  inode.i_uid = (__u16) (uid & 0xffff);
  ext2fs_set_i_uid_high (inode, uid >> 16);
  inode.i_gid = (__u16) (gid & 0xffff);
  ext2fs_set_i_gid_high (inode, gid >> 16);
  bgr_ext4_set_time (&inode.i_mtime, TIME_EXTRA (&inode, large, i_mtime_extra),
                     mtime, mtime_ns);
  bgr_ext4_set_time (&inode.i_atime, TIME_EXTRA (&inode, large, i_atime_extra),
                     archive_entry_atime_is_set (e) ? archive_entry_atime (e) : mtime,
                     archive_entry_atime_is_set (e) ? archive_entry_atime_nsec (e) : mtime_ns);
  bgr_ext4_set_time (&inode.i_ctime, TIME_EXTRA (&inode, large, i_ctime_extra),
                     archive_entry_ctime_is_set (e) ? archive_entry_ctime (e) : mtime,
                     archive_entry_ctime_is_set (e) ? archive_entry_ctime_nsec (e) : mtime_ns);
  /* The creation time would otherwise be the build's wall clock: keep
   * images reproducible. */
  if (large && bgr_ext4_has_extra (&inode, offsetof (struct ext2_inode_large, i_crtime_extra) + 4))
    bgr_ext4_set_time (&inode.i_crtime, &inode.i_crtime_extra, mtime, mtime_ns);
  return bgr_ext4_write_inode (fs, ino, &inode);
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
gboolean
bgr_ext4_set_xattrs (Apply *a, ext2_ino_t ino, struct archive_entry *e, gboolean replace,
                     GError **error)
{
  struct ext2_xattr_handle *h = NULL;
  const char *name;
  const void *value;
  size_t size;
  errcode_t rc;

  if (archive_entry_xattr_reset (e) == 0 && !replace)
    return TRUE;
  if ((rc = ext2fs_xattrs_open (a->fs, ino, &h)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot open xattrs");
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
          return bgr_ext4_apply_refuse (a, error,
                                        "xattr \"%s\" is not in the user, trusted, security "
                                        "or POSIX ACL namespace", shown);
        }
      if ((rc = ext2fs_xattr_set (h, name, value, size)) != 0)
        goto fail;
    }
  if ((rc = ext2fs_xattrs_close (&h)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot write xattrs");
  return TRUE;

fail:
  ext2fs_xattrs_close (&h);
  return bgr_ext4_apply_fail (a, rc, error, "cannot write xattrs");
}

/* A file's data written as libarchive hands it over, mostly straight from
 * its buffer: whole blocks go from there, and only a block split between
 * two pieces is put together in @stage (one block). @pos: the bytes done,
 * data or holes; the first pos % block size of them are in @stage. */
typedef struct
{
  BgrExt4FileBlocks fb;
  char *stage;
  guint64 pos;
} FileOut;

/* Writes the staged block (zeros after what is staged) and starts the next
 * one. */
static errcode_t
out_flush_stage (FileOut *o)
{
  guint bs = o->fb.fs->blocksize, have = (guint) (o->pos % bs);

  memset (o->stage + have, 0, bs - have);
  o->pos += bs - have;
  return bgr_ext4_file_blocks_write (&o->fb, o->stage, bs, o->pos / bs - 1);
}

/* The file goes on at @offset: what is between is a hole. */
static errcode_t
out_skip_to (FileOut *o, guint64 offset)
{
  guint bs = o->fb.fs->blocksize;
  errcode_t rc;

  if (offset / bs > o->pos / bs)
    {
      /* A block started is finished with zeros; whole blocks stay holes. */
      if (o->pos % bs != 0 && (rc = out_flush_stage (o)) != 0)
        return rc;
      o->pos = offset - offset % bs;
    }
  memset (o->stage + o->pos % bs, 0, (gsize) (offset - o->pos));
  o->pos = offset;
  return 0;
}

static errcode_t
out_write (FileOut *o, const char *p, gsize n)
{
  guint bs = o->fb.fs->blocksize;
  gsize whole;
  errcode_t rc;

  if (n == 0)
    return 0; /* libarchive may say so with no buffer */
  if (o->pos % bs != 0)
    {
      gsize k = MIN (n, bs - o->pos % bs);

      memcpy (o->stage + o->pos % bs, p, k);
      o->pos += k;
      p += k;
      n -= k;
      if (o->pos % bs == 0
          && (rc = bgr_ext4_file_blocks_write (&o->fb, o->stage, bs, o->pos / bs - 1)) != 0)
        return rc;
    }
  whole = n - n % bs;
  if (whole > 0 && (rc = bgr_ext4_file_blocks_write (&o->fb, p, whole, o->pos / bs)) != 0)
    return rc;
  o->pos += whole;
  memcpy (o->stage, p + whole, n - whole);
  o->pos += n - whole;
  return 0;
}

gboolean
bgr_ext4_write_file_data (Apply *a, struct archive *ar, ext2_ino_t ino, GCancellable *cancellable,
                          GError **error)
{
  FileOut o = { .stage = a->buf };
  errcode_t rc;

  if ((rc = bgr_ext4_file_blocks_open (a->fs, ino, &o.fb)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot write the file");
  for (;;)
    {
      const void *p;
      size_t n;
      la_int64_t offset;
      int r;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      r = archive_read_data_block (ar, &p, &n, &offset);
      /* The end says the size: a sparse file may end with a hole. */
      if (r == ARCHIVE_EOF && offset > 0 && (guint64) offset > o.pos
          && (rc = out_skip_to (&o, (guint64) offset)) != 0)
        return bgr_ext4_apply_fail (a, rc, error, "cannot write the file");
      if (r == ARCHIVE_EOF)
        break;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        {
          bgr_set_error_from_archive (error, ar, "layer %s: entry \"%s\"", a->layer, a->entry);
          return FALSE;
        }
      /* Sparse files come in pieces at rising offsets, holes between. */
      if (offset < 0 || (guint64) offset < o.pos)
        return bgr_ext4_apply_refuse (a, error, "its data comes out of order");
      if ((rc = out_skip_to (&o, (guint64) offset)) != 0 || (rc = out_write (&o, p, n)) != 0)
        return bgr_ext4_apply_fail (a, rc, error, "cannot write the file");
    }
  /* The last block is written whole, zeros after the end. */
  if (o.pos % a->fs->blocksize != 0)
    {
      guint64 size = o.pos;

      if ((rc = out_flush_stage (&o)) != 0)
        return bgr_ext4_apply_fail (a, rc, error, "cannot write the file");
      o.pos = size;
    }
  if ((rc = bgr_ext4_file_blocks_close (&o.fb, o.pos)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot write the file");
  return TRUE;
}
