/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Content-aware sizing of an image for a set of layers: an upper bound of
 * the blocks and inodes their final tree needs. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <ext2fs/ext2fs.h>
#include <string.h>

#include "bgr-error-private.h"
#include "ext4/bgr-ext4-paths-private.h"
#include "ext4/bgr-ext4-writer-private.h"
#include "ext4/bgr-layer-stream-private.h"

static guint64
round_block (guint64 n)
{
  return (n + BLOCK_SIZE - 1) / BLOCK_SIZE * BLOCK_SIZE;
}

/* Every path any layer names (and every parent of one) may exist at the
 * end, each at most once and at most as big as its largest version: the
 * sum over paths bounds both the final tree and any moment while the
 * layers are applied, since an entry's old version is removed before the
 * new one is written. */
gboolean
bgr_ext4_measure_layers (const char *const *tar_paths, guint64 *out_bytes, guint64 *out_inodes,
                         GCancellable *cancellable, GError **error)
{
  g_autoptr (GHashTable) sizes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint64 bytes = 0, dirents = 0, inodes = 0;
  GHashTableIter iter;
  gpointer value;

  for (guint i = 0; tar_paths[i] != NULL; i++)
    {
      g_autofree char *what = g_strdup_printf ("layer %u (%s)", i + 1, tar_paths[i]);
      g_autoptr (BgrLayerStream) stream = bgr_layer_stream_open (tar_paths[i], FALSE, error);
      struct archive *ar = stream != NULL ? bgr_layer_stream_open_archive (stream, error) : NULL;
      struct archive_entry *e;
      int rc;

      if (ar == NULL)
        {
          g_prefix_error (error, "%s: ", what);
          return FALSE;
        }
      while ((rc = archive_read_next_header (ar, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN)
        {
          const char *path = archive_entry_pathname (e), *why = NULL;
          g_autoptr (GPtrArray) comps = NULL;
          const char *base;
          guint64 size = 0, xattr_bytes = 0;
          const char *name;
          const void *v;
          size_t vlen;

          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            {
              archive_read_free (ar);
              return FALSE;
            }
          /* What the writer refuses needs no room. */
          if (path == NULL || (comps = bgr_ext4_fold_path (path, &why)) == NULL || comps->len == 0)
            continue;
          base = g_ptr_array_index (comps, comps->len - 1);
          if (g_str_has_prefix (base, WHITEOUT_PREFIX))
            continue;
          dirents += (8 + strlen (base) + 3) & ~(guint64) 3;
          if (archive_entry_hardlink (e) != NULL)
            continue; /* no inode, no data: only the name */
          switch (archive_entry_filetype (e))
            {
            case AE_IFREG:
              size = round_block ((guint64) MAX (archive_entry_size (e), 0));
              /* Files of more than four extents need extent tree blocks. */
              size += size / (32 * 1024 * 1024) * BLOCK_SIZE;
              break;
            case AE_IFDIR:
              size = BLOCK_SIZE;
              break;
            case AE_IFLNK:
              if (archive_entry_symlink (e) != NULL && strlen (archive_entry_symlink (e)) >= 60)
                size = BLOCK_SIZE;
              break;
            default:
              break;
            }
          /* Xattrs beyond what fits in a 256-byte inode take a block. */
          archive_entry_xattr_reset (e);
          while (archive_entry_xattr_next (e, &name, &v, &vlen) == ARCHIVE_OK)
            xattr_bytes += strlen (name) + vlen + 20;
          if (xattr_bytes > 80)
            size += BLOCK_SIZE;
          for (guint n = comps->len; n > 0; n--)
            {
              char *p = bgr_ext4_join_comps (comps, n);
              guint64 old = GPOINTER_TO_SIZE (g_hash_table_lookup (sizes, p));
              guint64 now = n == comps->len ? size : BLOCK_SIZE; /* parents are directories */
              if (old >= now && g_hash_table_contains (sizes, p))
                {
                  g_free (p);
                  if (n < comps->len)
                    break; /* its parents are in already */
                  continue;
                }
              g_hash_table_replace (sizes, p, GSIZE_TO_POINTER ((gsize) now));
            }
        }
      if (rc != ARCHIVE_EOF)
        {
          bgr_set_error_from_archive (error, ar, "%s", what);
          archive_read_free (ar);
          return FALSE;
        }
      archive_read_free (ar);
    }
  g_hash_table_iter_init (&iter, sizes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      bytes += GPOINTER_TO_SIZE (value);
      inodes++;
    }
  /* Directories past their first block: all names, packed. */
  bytes += round_block (dirents);
  *out_bytes = bytes;
  *out_inodes = inodes;
  return TRUE;
}

guint64
bgr_ext4_image_size_for (guint64 content_bytes, guint64 inodes)
{
  guint64 blocks = round_block (content_bytes) / BLOCK_SIZE;
  guint64 groups, total;
  int journal;

  /* mkfs rounds the inode count up per block group and keeps 256 bytes
   * per inode; each group also has two bitmaps and a descriptor, and the
   * superblock, reserved descriptor blocks, root and lost+found come on
   * top. 2% slack covers directory and extent-tree fragmentation. */
  groups = blocks / 32768 + 1;
  blocks += (inodes + RESERVED_INODES + 16 * groups) * 256 / BLOCK_SIZE + 1;
  blocks += groups * 4 + 256;
  blocks += blocks / 50;
  /* The journal's size depends on the filesystem's, itself included. */
  journal = ext2fs_default_journal_size (blocks);
  total = blocks + (journal > 0 ? (guint64) journal : 0);
  journal = ext2fs_default_journal_size (total);
  total = blocks + (journal > 0 ? (guint64) journal : 0);
  return total * BLOCK_SIZE;
}
