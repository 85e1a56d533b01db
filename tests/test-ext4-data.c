/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File data replayed into ext4 images (ext4/bgr-ext4-writer-data.c), from
 * tar entries as GNU tar writes them: sparse files (GNU and PAX formats),
 * with data across block and buffer edges and holes at the end, come out
 * byte for byte, and their holes stay holes. Checked with debugfs and
 * e2fsck. */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include "bgr-test-layers.h"

#define SPARSE_SIZE (5 * 1024 * 1024 + 123)

/* A file of SPARSE_SIZE bytes, mostly holes: a few bytes at the start,
 * 8 KiB across block edges, a few bytes in the middle of a block, and a
 * hole at the end. */
static char *
make_sparse_file (const char *dir, GBytes **contents)
{
  char *path = g_build_filename (dir, "sparse", NULL);
  g_autofree char *all = g_malloc0 (SPARSE_SIZE);
  GRand *r = g_rand_new_with_seed (11);
  int fd;

  memcpy (all, "head", 4);
  for (gsize i = 0; i < 8192; i++)
    all[1024 * 1024 + 100 + i] = (char) (g_rand_int (r) | 1);
  memcpy (all + 3 * 1024 * 1024 + 5, "tail!", 5);
  g_rand_free (r);
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, all, 4, 0), ==, 4);
  g_assert_cmpint (pwrite (fd, all + 1024 * 1024 + 100, 8192, 1024 * 1024 + 100), ==, 8192);
  g_assert_cmpint (pwrite (fd, all + 3 * 1024 * 1024 + 5, 5, 3 * 1024 * 1024 + 5), ==, 5);
  g_assert_cmpint (ftruncate (fd, SPARSE_SIZE), ==, 0);
  g_assert_cmpint (close (fd), ==, 0);
  *contents = g_bytes_new_take (g_steal_pointer (&all), SPARSE_SIZE);
  return path;
}

static void
check_sparse (const char *format)
{
  g_autofree char *dir = sandbox ();
  g_autofree char *name = g_strdup_printf ("sparse-%s", format);
  g_autofree char *work = g_build_filename (dir, name, NULL);
  g_autofree char *tar = g_strconcat (work, ".tar", NULL);
  g_autofree char *img = g_strconcat (work, ".ext4", NULL);
  g_autofree char *format_arg = g_strdup_printf ("--format=%s", format);
  g_autofree char *file = NULL, *got = NULL, *st = NULL, *size = NULL, *blocks = NULL;
  g_autoptr (GBytes) want = NULL;
  gsize got_len = 0;
  BgrRun run;

  g_mkdir_with_parents (work, 0700);
  g_unlink (img);
  file = make_sparse_file (work, &want);
  bgr_run_env (&run, NULL,
               (const char *const[]){ "tar", "--sparse", format_arg, "-C", work, "-cf", tar,
                                      "sparse", NULL });
  if (run.status != 0)
    g_error ("tar: %s", run.err);
  bgr_run_clear (&run);

  build_image_ok (img, 32 * 1024 * 1024, (const char *const[]){ tar, NULL });

  got = dump (img, "/sparse", &got_len);
  g_assert_cmpmem (got, got_len, g_bytes_get_data (want, NULL), g_bytes_get_size (want));
  st = bgr_test_debugfs (img, "stat /sparse");
  size = bgr_test_field (st, "Size:");
  g_assert_cmpuint (g_ascii_strtoull (size, NULL, 10), ==, SPARSE_SIZE);
  /* Five blocks of data (512-byte units): the holes take no room. */
  blocks = bgr_test_field (st, "Blockcount:");
  g_assert_cmpuint (g_ascii_strtoull (blocks, NULL, 10), <=, 5 * 8 + 8);
}

static void
test_sparse_gnu (void)
{
  check_sparse ("gnu");
}

static void
test_sparse_pax (void)
{
  check_sparse ("posix");
}

/* Files of sizes around the block size and the read buffers' (256 KiB),
 * in a gzip layer: their bytes reach the writer in pieces that split
 * blocks anywhere, and come out whole. */
static void
test_piece_edges (void)
{
  static const gsize sizes[] = { 1, 4095, 4096, 4097, 262143, 262145, 1048576 + 7, 3 * 262144 };
  g_autofree char *img = new_image_path ("edges.ext4");
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  Ent e[G_N_ELEMENTS (sizes) + 1] = { 0 };
  g_autofree char *tar = NULL;
  GRand *r = g_rand_new_with_seed (5);

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      char *data = g_malloc (sizes[i]);

      for (gsize j = 0; j < sizes[i]; j++)
        data[j] = (char) (g_rand_int (r) | 1);
      g_ptr_array_add (keep, data);
      g_ptr_array_add (keep, g_strdup_printf ("f%u", i));
      e[i] = (Ent){ g_ptr_array_index (keep, keep->len - 1), AE_IFREG, 0644, data, sizes[i] };
    }
  g_rand_free (r);
  tar = write_layer ("edges.tar.gz", e, "gzip");
  build_image_ok (img, 32 * 1024 * 1024, (const char *const[]){ tar, NULL });
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree char *path = g_strdup_printf ("/f%u", i);
      gsize len = 0;
      g_autofree char *got = dump (img, path, &len);

      g_assert_cmpmem (got, len, e[i].data, sizes[i]);
    }
}

/* A file whose blocks of zeros leave 7 runs of data, more extents than an
 * inode holds: the first ones are kept in the inode as it is written, the
 * rest go into an extent tree, and the bytes come out whole. */
static void
test_many_extents (void)
{
  const gsize size = 7 * 256 * 1024 + 4096;
  g_autofree char *img = new_image_path ("extents.ext4");
  g_autofree char *data = g_malloc0 (size);
  g_autofree char *tar = NULL, *got = NULL, *ex = NULL;
  g_auto (GStrv) lines = NULL;
  guint extents = 0;
  gsize len = 0;

  for (guint i = 0; i <= 7; i++)
    memset (data + i * 256 * 1024, 'a' + (int) i, 4096);
  {
    const Ent e[] = { { "holes", AE_IFREG, 0644, data, size }, END };
    tar = write_layer ("extents.tar", e, NULL);
  }
  build_image_ok (img, 32 * 1024 * 1024, (const char *const[]){ tar, NULL });
  got = dump (img, "/holes", &len);
  g_assert_cmpmem (got, len, data, size);
  /* debugfs lists one line per extent (and per tree block). */
  ex = bgr_test_debugfs (img, "ex /holes");
  lines = g_strsplit (ex, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], " - ") != NULL && strstr (lines[i], "Level") == NULL)
      extents++;
  g_test_message ("%s", ex);
  g_assert_cmpuint (extents, >=, 8);
}

/* A small file's data may wait to be written with the next files'; when
 * the file goes first, its blocks may come back at once as a directory's:
 * the directory must not end up holding the old file's bytes. */
static void
test_freed_blocks_reused (void)
{
  g_autofree char *img = new_image_path ("reuse.ext4");
  g_autofree char *l1 = NULL, *l2 = NULL, *ls = NULL;
  gsize len = 0;

  {
    const Ent e1[] = { { "a", AE_IFREG, 0644, "the first file's bytes" }, END };
    l1 = write_layer ("reuse1.tar", e1, NULL);
  }
  {
    const Ent e2[] = {
      { ".wh.a", AE_IFREG },
      { "d/", AE_IFDIR, 0755 },
      { "d/x", AE_IFREG, 0644, "x" },
      { "e/", AE_IFDIR, 0755 },
      { "e/y", AE_IFREG, 0644, "y" },
      END,
    };
    l2 = write_layer ("reuse2.tar", e2, NULL);
  }
  build_image_ok (img, 16 * 1024 * 1024, (const char *const[]){ l1, l2, NULL });
  ls = bgr_test_debugfs (img, "ls /d");
  bgr_assert_contains (ls, "x");
  g_free (ls);
  ls = bgr_test_debugfs (img, "ls /e");
  bgr_assert_contains (ls, "y");
  g_free (dump (img, "/e/y", &len));
  g_assert_cmpuint (len, ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/ext4-data/sparse-gnu", test_sparse_gnu);
  g_test_add_func ("/ext4-data/sparse-pax", test_sparse_pax);
  g_test_add_func ("/ext4-data/piece-edges", test_piece_edges);
  g_test_add_func ("/ext4-data/many-extents", test_many_extents);
  g_test_add_func ("/ext4-data/freed-blocks-reused", test_freed_blocks_reused);
  return g_test_run ();
}
