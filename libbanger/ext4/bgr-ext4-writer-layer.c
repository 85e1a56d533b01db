/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One layer replayed into the image: each tar entry checked, then created
 * over what is there (directories merged, hardlinks, devices, symlinks),
 * whiteouts and opaque directories applied, the diff_id checked. */
#include "config.h"

#include <string.h>

#include "bgr-error-private.h"
#include "ext4/bgr-layer-stream-private.h"
#include "ext4/bgr-ext4-writer-internal.h"

/* ---- entries --------------------------------------------------------- */

/* Empties what earlier layers put below @dir (folded path @dir_path),
 * keeping this layer's entries and the directories leading to them. */
static gboolean
clear_lower (Apply *a, ext2_ino_t dir, const char *dir_path, GError **error)
{
  g_autoptr (GPtrArray) children = NULL;
  errcode_t rc;

  if ((rc = bgr_ext4_list_children (a->fs, dir, &children)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot list the opaque directory");
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
          if ((rc = bgr_ext4_remove_entry (a->fs, dir, c->name, c->ino)) != 0)
            return bgr_ext4_apply_fail (a, rc, error, "cannot remove a lower entry");
          continue;
        }
      if ((rc = bgr_ext4_read_inode (a->fs, c->ino, &inode)) != 0)
        return bgr_ext4_apply_fail (a, rc, error, "cannot read an entry");
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

  if (!bgr_ext4_resolve_dir (a, comps, comps->len - 1, FALSE, 0, &dir, &dir_path, error))
    return FALSE;
  if (g_str_equal (base, OPAQUE_MARKER))
    return dir == 0 || clear_lower (a, dir, dir_path, error);
  base += strlen (WHITEOUT_PREFIX);
  if (g_str_has_prefix (base, WHITEOUT_PREFIX))
    return TRUE; /* other ".wh..wh." names are aufs bookkeeping, not content */
  if (*base == '\0' || g_str_equal (base, ".") || g_str_equal (base, ".."))
    return bgr_ext4_apply_refuse (a, error, "whiteout names no entry");
  if (dir == 0)
    return TRUE;
  rc = bgr_ext4_lookup (a->fs, dir, base, &ino);
  if (rc == EXT2_ET_FILE_NOT_FOUND)
    return TRUE;
  if (rc == 0)
    rc = bgr_ext4_remove_entry (a->fs, dir, base, ino);
  if (rc != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot apply the whiteout");
  return TRUE;
}

/* Refuses what cannot be replayed: checked before anything in the image
 * changes. */
static gboolean
check_entry (Apply *a, struct archive_entry *e, GError **error)
{
  const char *hardlink = archive_entry_hardlink (e);
  const char *symlink = archive_entry_symlink (e);
  mode_t type = archive_entry_filetype (e);

  if (hardlink != NULL)
    {
      if (strlen (hardlink) > MAX_PATH_LEN)
        return bgr_ext4_apply_refuse (a, error, "hardlink target longer than 4096 bytes");
      return TRUE;
    }
  switch (type)
    {
    case AE_IFREG:
      if (archive_entry_size (e) < 0 || (guint64) archive_entry_size (e) > a->w->fs_bytes)
        return bgr_ext4_apply_refuse (a, error,
                                      "file of %" G_GINT64_FORMAT " bytes is larger than the "
                                      "filesystem", (gint64) archive_entry_size (e));
      return TRUE;
    case AE_IFLNK:
      if (symlink == NULL || *symlink == '\0')
        return bgr_ext4_apply_refuse (a, error, "symlink without a target");
      if (strlen (symlink) >= MIN (a->fs->blocksize, MAX_PATH_LEN))
        return bgr_ext4_apply_refuse (a, error, "symlink target longer than 4095 bytes");
      return TRUE;
    case AE_IFDIR:
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
    case AE_IFSOCK:
      return TRUE;
    default:
      return bgr_ext4_apply_refuse (a, error, "unknown entry type 0%o", (unsigned) type);
    }
}

/* A hardlink at @base in @dir (folded path @folded), in place of @old. */
static gboolean
apply_hardlink (Apply *a, ext2_ino_t dir, const char *base, const char *folded, ext2_ino_t old,
                const char *hardlink, GError **error)
{
  const char *why = NULL;
  g_autoptr (GPtrArray) tcomps = bgr_ext4_fold_path (hardlink, &why);
  g_autofree char *tdir = NULL, *tfolded = NULL;
  struct ext2_inode_large inode;
  ext2_ino_t tino = 0, ino = 0;
  errcode_t rc;

  if (tcomps != NULL && tcomps->len > 0
      && !bgr_ext4_resolve_dir (a, tcomps, tcomps->len - 1, FALSE, 0, &tino, &tdir, error))
    return FALSE;
  if (tdir != NULL)
    tfolded = bgr_ext4_child_path (tdir, g_ptr_array_index (tcomps, tcomps->len - 1));
  /* A link to itself keeps what is there. */
  if (old != 0 && tfolded != NULL && g_str_equal (tfolded, folded))
    return bgr_ext4_resolve_link_target (a, hardlink, &ino, error);
  /* The old entry goes first: the target is looked up afterwards so
   * that a target inside a replaced directory is seen as gone. */
  if (old != 0 && (rc = bgr_ext4_remove_entry (a->fs, dir, base, old)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot replace the existing entry");
  if (!bgr_ext4_resolve_link_target (a, hardlink, &ino, error))
    return FALSE;
  if ((rc = bgr_ext4_read_inode (a->fs, ino, &inode)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot read the hardlink target");
  if ((rc = bgr_ext4_link_entry (a->fs, dir, base, ino, inode.i_mode)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot link");
  inode.i_links_count++;
  if ((rc = bgr_ext4_write_inode (a->fs, ino, &inode)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot link");
  return TRUE;
}

/* A device, FIFO or socket node @base in @dir. */
static errcode_t
make_node (Apply *a, struct archive_entry *e, ext2_ino_t dir, const char *base, ext2_ino_t *ino)
{
  mode_t type = archive_entry_filetype (e);
  __u32 blocks[2] = { 0, 0 };
  guint16 mode;
  errcode_t rc;

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
  if ((rc = bgr_ext4_new_plain_inode (a->fs, dir, mode, FALSE, blocks, ino)) != 0)
    return rc;
  return bgr_ext4_link_entry (a->fs, dir, base, *ino, mode);
}

/* Creates the entry's inode at @base in @dir (where nothing is now), its
 * data included; *ino gets it. */
static gboolean
create_entry (Apply *a, struct archive *ar, struct archive_entry *e, ext2_ino_t dir,
              const char *base, ext2_ino_t *ino, GCancellable *cancellable, GError **error)
{
  guint16 mode = LINUX_S_IFREG | 0600;
  g_autofree char *target = NULL;
  errcode_t rc;

  switch (archive_entry_filetype (e))
    {
    case AE_IFDIR:
      if ((rc = bgr_ext4_make_dir (a->fs, dir, base, ino)) != 0)
        return bgr_ext4_apply_fail (a, rc, error, "cannot create the directory");
      return TRUE;
    case AE_IFREG:
      if ((rc = bgr_ext4_new_plain_inode (a->fs, dir, mode, TRUE, NULL, ino)) != 0
          || (rc = bgr_ext4_link_entry (a->fs, dir, base, *ino, mode)) != 0)
        return bgr_ext4_apply_fail (a, rc, error, "cannot create the file");
      return bgr_ext4_write_file_data (a, ar, *ino, cancellable, error);
    case AE_IFLNK:
      target = g_strdup (archive_entry_symlink (e));
      if ((rc = ext2fs_new_inode (a->fs, dir, LINUX_S_IFLNK | 0777, NULL, ino)) != 0
          || (rc = ext2fs_symlink (a->fs, dir, *ino, NULL, target)) != 0
          || (rc = bgr_ext4_link_entry (a->fs, dir, base, *ino, LINUX_S_IFLNK)) != 0)
        return bgr_ext4_apply_fail (a, rc, error, "cannot create the symlink");
      return TRUE;
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
    case AE_IFSOCK:
      if ((rc = make_node (a, e, dir, base, ino)) != 0)
        return bgr_ext4_apply_fail (a, rc, error, "cannot create the node");
      return TRUE;
    default:
      g_assert_not_reached ();
    }
}

/* The image root's own metadata, from "./". */
static gboolean
apply_root (Apply *a, struct archive_entry *e, GError **error)
{
  errcode_t rc;

  if (archive_entry_hardlink (e) != NULL || archive_entry_filetype (e) != AE_IFDIR)
    return bgr_ext4_apply_refuse (a, error, "only a directory can replace the image root");
  if ((rc = bgr_ext4_set_metadata (a->fs, EXT2_ROOT_INO, e)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot set metadata");
  return bgr_ext4_set_xattrs (a, EXT2_ROOT_INO, e, TRUE, error);
}

/* What is at @base in @dir goes, unless the entry is a directory over a
 * directory: that merges, the new metadata wins (*merged). */
static gboolean
replace_old (Apply *a, struct archive_entry *e, ext2_ino_t dir, const char *base, ext2_ino_t old,
             gboolean *merged, GError **error)
{
  struct ext2_inode_large inode;
  errcode_t rc;

  *merged = FALSE;
  if (old == 0)
    return TRUE;
  if ((rc = bgr_ext4_read_inode (a->fs, old, &inode)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot read the existing entry");
  if (archive_entry_filetype (e) == AE_IFDIR && LINUX_S_ISDIR (inode.i_mode))
    {
      *merged = TRUE;
      if ((rc = bgr_ext4_set_metadata (a->fs, old, e)) != 0)
        return bgr_ext4_apply_fail (a, rc, error, "cannot set metadata");
      return bgr_ext4_set_xattrs (a, old, e, TRUE, error);
    }
  if ((rc = bgr_ext4_remove_entry (a->fs, dir, base, old)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot replace the existing entry");
  return TRUE;
}

static gboolean
apply_entry (Apply *a, struct archive *ar, struct archive_entry *e, GCancellable *cancellable,
             GError **error)
{
  const char *path = archive_entry_pathname (e);
  const char *hardlink = archive_entry_hardlink (e);
  g_autoptr (GPtrArray) comps = NULL;
  g_autofree char *folded = NULL, *dir_path = NULL;
  const char *why = NULL, *base;
  ext2_ino_t dir, old = 0, ino = 0;
  gboolean merged;
  errcode_t rc;

  if (path == NULL)
    return bgr_ext4_apply_refuse (a, error, "entry has no path");
  if ((comps = bgr_ext4_fold_path (path, &why)) == NULL)
    return bgr_ext4_apply_refuse (a, error, "%s", why);
  if (archive_entry_uid (e) < 0 || archive_entry_uid (e) > G_MAXUINT32
      || archive_entry_gid (e) < 0 || archive_entry_gid (e) > G_MAXUINT32)
    return bgr_ext4_apply_refuse (a, error, "owner out of range");
  if (comps->len == 0)
    return apply_root (a, e, error);

  base = g_ptr_array_index (comps, comps->len - 1);
  if (g_str_has_prefix (base, WHITEOUT_PREFIX))
    return apply_whiteout (a, comps, base, error);
  if (!check_entry (a, e, error)
      || !bgr_ext4_resolve_dir (a, comps, comps->len - 1, TRUE, archive_entry_mtime (e), &dir,
                                &dir_path, error))
    return FALSE;
  folded = bgr_ext4_child_path (dir_path, base);
  bgr_ext4_mark_touched (a, folded);

  rc = bgr_ext4_lookup (a->fs, dir, base, &old);
  if (rc != 0 && rc != EXT2_ET_FILE_NOT_FOUND)
    return bgr_ext4_apply_fail (a, rc, error, "cannot look up the entry");
  if (rc == EXT2_ET_FILE_NOT_FOUND)
    old = 0;

  if (hardlink != NULL)
    return apply_hardlink (a, dir, base, folded, old, hardlink, error);
  if (!replace_old (a, e, dir, base, old, &merged, error))
    return FALSE;
  if (merged)
    return TRUE;
  if (!create_entry (a, ar, e, dir, base, &ino, cancellable, error))
    return FALSE;
  if ((rc = bgr_ext4_set_metadata (a->fs, ino, e)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot set metadata");
  return bgr_ext4_set_xattrs (a, ino, e, FALSE, error);
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

/* Applies each entry of @ar in turn, until its end. */
static gboolean
replay_entries (Apply *a, struct archive *ar, const char *what, GCancellable *cancellable,
                GError **error)
{
  struct archive_entry *e;
  int rc;

  while ((rc = archive_read_next_header (ar, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN)
    {
      const char *path = archive_entry_pathname (e);

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      g_free (a->entry);
      a->entry = bgr_ext4_escape_path (path != NULL ? path : "");
      if (!bgr_ext4_writer_make_room (a->w, (guint64) MAX (archive_entry_size (e), 0), error))
        {
          g_prefix_error (error, "%s: ", what);
          return FALSE;
        }
      a->fs = a->w->fs;
      if (!apply_entry (a, ar, e, cancellable, error))
        return FALSE;
    }
  if (rc != ARCHIVE_EOF)
    {
      bgr_set_error_from_archive (error, ar, "%s", what);
      return FALSE;
    }
  return TRUE;
}

/* Replays @stream (taken), opened by the caller. */
static gboolean
apply_stream (BgrExt4Writer *w, BgrLayerStream *stream_in, const char *layer_name,
              const char *diff_id, GCancellable *cancellable, GError **error)
{
  g_autofree char *what = g_strdup_printf ("layer %s", layer_name);
  g_autoptr (GHashTable) touched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *buf = g_malloc (w->fs->blocksize);
  Apply a = { .w = w, .fs = w->fs, .layer = layer_name, .touched = touched, .buf = buf };
  g_autoptr (BgrLayerStream) stream = stream_in;
  gint64 started = g_get_monotonic_time ();
  struct archive *ar;
  gboolean ok;

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
  ok = replay_entries (&a, ar, what, cancellable, error);
  g_free (a.entry);
  archive_read_free (ar);
  if (ok && diff_id != NULL)
    ok = check_diff_id (stream, what, diff_id, error);
  if (ok)
    {
      double read_s, hash_s, wait_s = bgr_layer_stream_get_wait (stream);
      bgr_layer_stream_get_times (stream, &read_s, &hash_s);
      g_debug ("%s: %" G_GUINT64_FORMAT " bytes uncompressed, replayed in %.3f s; the read-ahead "
               "threads spent %.3f s reading and inflating, %.3f s hashing, %.3f s waiting for "
               "the download", what, bgr_layer_stream_get_position (stream),
               (g_get_monotonic_time () - started) / 1e6, read_s, hash_s, wait_s);
    }
  if (ok && g_cancellable_set_error_if_cancelled (cancellable, error))
    ok = FALSE;
  if (!ok)
    bgr_error_convert (error);
  return ok;
}

gboolean
bgr_ext4_writer_apply_layer_file (BgrExt4Writer *w, const char *tar_path, const char *layer_name,
                                  const char *diff_id, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (w != NULL && w->fs != NULL, FALSE);
  return apply_stream (w, bgr_layer_stream_open (tar_path, diff_id != NULL, error), layer_name,
                       diff_id, cancellable, error);
}

gboolean
bgr_ext4_writer_apply_layer_feed (BgrExt4Writer *w, BgrFeed *feed, const char *layer_name,
                                  const char *diff_id, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (w != NULL && w->fs != NULL, FALSE);
  return apply_stream (w, bgr_layer_stream_open_feed (feed, diff_id != NULL, error), layer_name,
                       diff_id, cancellable, error);
}
