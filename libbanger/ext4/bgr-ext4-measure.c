/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Content-aware sizing of an image for a set of layers: an upper bound of
 * the blocks and inodes their final tree needs. Reading a layer means
 * inflating all of it, so the layers are measured side by side, one
 * thread each (up to the number of CPUs), and the results merged. */
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

/* What one layer needs, or why it could not be read. */
typedef struct
{
  const char *path;
  guint index;
  GHashTable *sizes; /* folded path -> bytes, its parents included */
  guint64 dirents;   /* bytes of directory entries */
  GError *error;
} Measure;

/* The bytes @e takes beyond its directory entry. */
static guint64
entry_size (struct archive_entry *e)
{
  guint64 size = 0, xattr_bytes = 0;
  const char *name;
  const void *v;
  size_t vlen;

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
  return size;
}

/* @size for @p, unless it has as much already. */
static void
note_size (GHashTable *sizes, const char *p, guint64 size)
{
  gpointer old;

  if (g_hash_table_lookup_extended (sizes, p, NULL, &old) && GPOINTER_TO_SIZE (old) >= size)
    return;
  g_hash_table_replace (sizes, g_strdup (p), GSIZE_TO_POINTER ((gsize) size));
}

static gboolean
measure_layer (Measure *m, GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrLayerStream) stream = bgr_layer_stream_open (m->path, FALSE, error);
  struct archive *ar = stream != NULL ? bgr_layer_stream_open_archive (stream, error) : NULL;
  struct archive_entry *e;
  int rc;

  if (ar == NULL)
    return FALSE;
  while ((rc = archive_read_next_header (ar, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN)
    {
      const char *path = archive_entry_pathname (e), *why = NULL;
      g_autoptr (GPtrArray) comps = NULL;
      const char *base;

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
      m->dirents += (8 + strlen (base) + 3) & ~(guint64) 3;
      if (archive_entry_hardlink (e) != NULL)
        continue; /* no inode, no data: only the name */
      for (guint n = comps->len; n > 0; n--)
        {
          g_autofree char *p = bgr_ext4_join_comps (comps, n);
          /* Parents are directories; once one is in, so are its own. */
          if (n < comps->len && g_hash_table_contains (m->sizes, p))
            break;
          note_size (m->sizes, p, n == comps->len ? entry_size (e) : BLOCK_SIZE);
        }
    }
  if (rc != ARCHIVE_EOF)
    {
      bgr_set_error_from_archive (error, ar, "cannot read the tar stream");
      archive_read_free (ar);
      return FALSE;
    }
  archive_read_free (ar);
  return TRUE;
}

typedef struct
{
  Measure *layers;
  guint n;
  gint next; /* the next layer to take, atomically */
  GCancellable *cancellable;
} Work;

static gpointer
measure_worker (gpointer data)
{
  Work *w = data;
  guint i;

  while ((i = (guint) g_atomic_int_add (&w->next, 1)) < w->n)
    {
      Measure *m = &w->layers[i];

      if (!measure_layer (m, w->cancellable, &m->error))
        g_prefix_error (&m->error, "layer %u (%s): ", m->index + 1, m->path);
    }
  return NULL;
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
  Work w = { NULL, g_strv_length ((char **) tar_paths), 0, cancellable };
  g_autoptr (GPtrArray) threads = g_ptr_array_new ();
  guint64 bytes = 0, dirents = 0;
  guint n_threads = MIN (w.n, (guint) MAX (g_get_num_processors (), 1));
  gboolean ok = TRUE;
  GHashTableIter iter;
  gpointer key, value;

  w.layers = g_new0 (Measure, MAX (w.n, 1));
  for (guint i = 0; i < w.n; i++)
    {
      w.layers[i].path = tar_paths[i];
      w.layers[i].index = i;
      w.layers[i].sizes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    }
  /* This thread measures too. */
  for (guint i = 1; i < n_threads; i++)
    g_ptr_array_add (threads, g_thread_new ("bgr-measure", measure_worker, &w));
  measure_worker (&w);
  for (guint i = 0; i < threads->len; i++)
    g_thread_join (threads->pdata[i]);

  for (guint i = 0; i < w.n; i++)
    {
      Measure *m = &w.layers[i];

      if (ok && m->error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&m->error));
          ok = FALSE;
        }
      g_clear_error (&m->error);
      g_hash_table_iter_init (&iter, m->sizes);
      while (ok && g_hash_table_iter_next (&iter, &key, &value))
        note_size (sizes, key, GPOINTER_TO_SIZE (value));
      dirents += m->dirents;
      g_hash_table_unref (m->sizes);
    }
  g_free (w.layers);
  if (!ok)
    return FALSE;
  g_hash_table_iter_init (&iter, sizes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    bytes += GPOINTER_TO_SIZE (value);
  /* Directories past their first block: all names, packed. */
  bytes += round_block (dirents);
  *out_bytes = bytes;
  *out_inodes = g_hash_table_size (sizes);
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
