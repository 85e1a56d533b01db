/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Existing ext4 images at their limits: no space or inodes left for what is
 * added (the old file stays), images grown with bgr_ext4_grow(), and images
 * bgr_ext4_writer_open() refuses. Checked with debugfs and e2fsck. */
#include "config.h"

#include "ext4-edit-util.h"

/* ---- full filesystems ----------------------------------------------- */

/* A new image of 512 blocks at @img, refused a file known too big, then
 * filled with one-block files until one fails; returns how many went in. */
static guint
fill_until_full (const char *img, const char *block)
{
  g_autofree char *huge = NULL;
  g_autoptr (GError) err = NULL;
  BgrExt4Writer *w;
  guint n = 0;

  g_unlink (img);
  /* 512 blocks, no journal, more inodes than blocks */
  w = bgr_ext4_writer_create (img, 2 * MIB, 600, &err);
  g_assert_no_error (err);
  /* known too big before anything is written */
  huge = g_malloc0 (4 * MIB);
  memset (huge, 'h', 4 * MIB);
  g_assert_false (bgr_ext4_writer_add_data (w, "/huge", huge, 4 * MIB, 0644, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NO_SPACE);
  bgr_assert_contains (err->message, "/huge");
  g_clear_error (&err);
  /* filled block by block, until something fails: the file's data or
   * the directory growing */
  for (;; n++)
    {
      g_autofree char *name = g_strdup_printf ("/f/%04u", n);
      if (!bgr_ext4_writer_add_data (w, name, block, 4096, 0644, &err))
        {
          g_test_message ("%s", err->message);
          g_assert_error (err, BGR_ERROR, BGR_ERROR_NO_SPACE);
          bgr_assert_contains (err->message, name);
          g_clear_error (&err);
          break;
        }
      g_assert_cmpuint (n, <, 600);
    }
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  g_assert_cmpuint (n, >, 300);
  return n;
}

static void
test_no_space (void)
{
  g_autofree char *img = sandbox_path ("full.ext4");
  g_autofree char *block = g_strnfill (4096, 'x');
  g_autofree char *fill = NULL, *host = NULL;
  g_autoptr (GError) err = NULL;
  guint64 free_blocks;
  BgrExt4Writer *w;
  guint n;

  n = fill_until_full (img, block);

  /* Every other file emptied: the free blocks are single ones, and a
   * file of all of them needs an extent block more. It fails half-way
   * and leaves nothing behind. */
  w = open_ok (img);
  for (guint i = 0; i < n; i += 2)
    {
      g_autofree char *name = g_strdup_printf ("/f/%04u", i);
      add_data_ok (w, name, NULL, 0, 0644);
    }
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  free_blocks = stats_number (img, "Free blocks:");
  g_assert_cmpuint (free_blocks, >, 100);
  fill = g_malloc (free_blocks * 4096);
  memset (fill, 'f', free_blocks * 4096);
  w = open_ok (img);
  g_assert_false (bgr_ext4_writer_add_data (w, "/f/0001", fill, free_blocks * 4096, 0644, &err));
  g_test_message ("%s", err->message);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NO_SPACE);
  bgr_assert_contains (err->message, "/f/0001");
  g_clear_error (&err);
  /* streamed from a host file too */
  host = sandbox_path ("fill.bin");
  g_assert_true (g_file_set_contents (host, fill, (gssize) (free_blocks * 4096), NULL));
  g_assert_false (bgr_ext4_writer_add_file (w, "/filled", host, 0, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NO_SPACE);
  bgr_assert_contains (err->message, "/filled");
  g_clear_error (&err);
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  g_assert_cmpuint (stats_number (img, "Free blocks:"), ==, free_blocks);
  {
    /* the replaced file is still there as it was */
    g_autofree char *data = cat_of (img, "/f/0001");
    g_assert_cmpstr (data, ==, block);
  }
  bgr_test_assert_absent (img, "/filled");
  g_unlink (host);
  g_unlink (img);
}

/* Out of inodes in the middle of a tree. */
static void
test_no_inodes (void)
{
  g_autofree char *img = sandbox_path ("noinodes.ext4");
  g_autofree char *host = sandbox_path ("many");
  g_autoptr (GError) err = NULL;
  BgrExt4Writer *w;

  g_unlink (img);
  rm_rf (host);
  for (guint i = 0; i < 64; i++)
    {
      g_autofree char *p = g_strdup_printf ("%s/d/file%02u", host, i);
      write_host (p, "x", 0644, 0);
    }
  w = bgr_ext4_writer_create (img, 8 * MIB, 8, &err);
  g_assert_no_error (err);
  g_assert_false (bgr_ext4_writer_add_tree (w, host, "/many", NULL, &err));
  g_test_message ("%s", err->message);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NO_SPACE);
  bgr_assert_contains (err->message, "/many/d/file");
  g_clear_error (&err);
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  rm_rf (host);
  g_unlink (img);
}

/* ---- grow ----------------------------------------------------------- */

static void
test_grow (void)
{
  g_autofree char *img = sandbox_path ("grow.ext4");
  g_autoptr (GError) err = NULL;
  BgrExt4Writer *w;
  GStatBuf st;

  g_unlink (img);
  w = bgr_ext4_writer_create (img, 64 * MIB, 1024, &err);
  g_assert_no_error (err);
  add_data_ok (w, "/etc/kept", "still here\n", 11, 0644);
  close_ok (w);
  g_assert_cmpuint (stats_number (img, "Block count:"), ==, 16384);
  /* mounted since its last check, as a booted VM's image is: resize2fs
   * alone would ask for e2fsck -f */
  debugfs_write (img, "ssv mtime 20350101");

  g_assert_true (bgr_ext4_grow (img, 256 * MIB + 1000, NULL, &err));
  g_assert_no_error (err);
  g_assert_cmpint (g_stat (img, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 256 * MIB);
  g_assert_cmpuint (stats_number (img, "Block count:"), ==, 65536);
  bgr_test_assert_fsck_clean (img);
  assert_file (img, "/etc/kept", "still here\n", "0644");

  /* the same size: nothing to do */
  g_assert_true (bgr_ext4_grow (img, 256 * MIB, NULL, &err));
  g_assert_no_error (err);

  /* shrinking refused, the file untouched */
  g_assert_false (bgr_ext4_grow (img, 128 * MIB, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  bgr_assert_contains (err->message, "cannot shrink");
  g_clear_error (&err);
  g_assert_cmpint (g_stat (img, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 256 * MIB);
  g_assert_cmpuint (stats_number (img, "Block count:"), ==, 65536);
  bgr_test_assert_fsck_clean (img);

  /* it stays usable for edits */
  w = open_ok (img);
  add_data_ok (w, "/etc/after", "grown\n", 6, 0644);
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  assert_file (img, "/etc/after", "grown\n", "0644");

  /* a missing image */
  g_assert_false (bgr_ext4_grow ("/nonexistent.ext4", 256 * MIB, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_clear_error (&err);
  g_unlink (img);
}

/* A Debian-like image from mkfs.ext4 -d grows too, and a file that is not
 * ext4 is refused before anything changes. */
static void
test_grow_mkfs_image (void)
{
  g_autofree char *img = make_debian_image ("grow-d.ext4", 64);
  g_autofree char *junk = sandbox_path ("junk.img");
  g_autoptr (GError) err = NULL;
  GStatBuf st;

  g_assert_true (bgr_ext4_grow (img, 200 * MIB, NULL, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (stats_number (img, "Block count:"), ==, 200 * 256);
  bgr_test_assert_fsck_clean (img);
  {
    /* made by mkfs.ext4 -d: owned by whoever runs the test */
    g_autofree char *data = cat_of (img, "/etc/two-a");
    g_assert_cmpstr (data, ==, "shared\n");
  }

  {
    g_autofree char *zeros = g_malloc0 (MIB);
    g_assert_true (g_file_set_contents (junk, zeros, MIB, NULL));
  }
  g_assert_false (bgr_ext4_grow (junk, 8 * MIB, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  g_clear_error (&err);
  g_assert_cmpint (g_stat (junk, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, MIB);
  g_unlink (junk);
  g_unlink (img);
}

/* ---- opening -------------------------------------------------------- */

static void
test_open_errors (void)
{
  g_autofree char *junk = sandbox_path ("junk.ext4");
  g_autofree char *tiny = sandbox_path ("tiny.ext4");
  g_autofree char *ext2 = sandbox_path ("ext2.img");
  g_autofree char *busy = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree char *text = g_strnfill (MIB, 'j');
  BgrRun r;

  g_assert_null (bgr_ext4_writer_open ("/nonexistent.ext4", &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_clear_error (&err);

  g_assert_true (g_file_set_contents (junk, text, -1, NULL));
  g_assert_null (bgr_ext4_writer_open (junk, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  bgr_assert_contains (err->message, junk);
  g_clear_error (&err);

  g_assert_true (g_file_set_contents (tiny, "hello", -1, NULL));
  g_assert_null (bgr_ext4_writer_open (tiny, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  g_clear_error (&err);

  g_unlink (ext2);
  bgr_run_env (&r, NULL,
               (const char *const[]){ bgr_test_tool ("mkfs.ext2"), "-q", "-F", ext2, "8M", NULL });
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  g_assert_null (bgr_ext4_writer_open (ext2, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  g_clear_error (&err);

  g_assert_null (bgr_ext4_writer_open (g_get_tmp_dir (), &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);

  /* a journal to replay: in use by a guest, or crashed */
  busy = make_debian_image ("busy.ext4", 64);
  debugfs_write (busy, "feature needs_recovery");
  g_assert_null (bgr_ext4_writer_open (busy, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_clear_error (&err);

  g_unlink (junk);
  g_unlink (tiny);
  g_unlink (ext2);
  g_unlink (busy);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/ext4-edit/no-space", test_no_space);
  g_test_add_func ("/ext4-edit/no-inodes", test_no_inodes);
  g_test_add_func ("/ext4-edit/grow", test_grow);
  g_test_add_func ("/ext4-edit/grow-mkfs-image", test_grow_mkfs_image);
  g_test_add_func ("/ext4-edit/open-errors", test_open_errors);
  return g_test_run ();
}
