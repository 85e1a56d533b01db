/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Layer files inflated by ext4/bgr-layer-stream.c (ISA-L or zlib for
 * gzip, libzstd) and hashed by bgr-sha256.c: the bytes and the digest that
 * come out are those of the plain file, made here and compressed with the
 * gzip and zstd tools; damaged streams are refused. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "bgr-error-private.h"
#include "bgr-sha256-private.h"
#include "ext4/bgr-layer-stream-private.h"

static char *dir;

static GBytes *
payload (void)
{
  GByteArray *b = g_byte_array_new ();
  GRand *r = g_rand_new_with_seed (7);

  /* Compressible text, then noise, then zeros: over several buffers. */
  for (guint i = 0; i < 40000; i++)
    {
      char line[64];
      int n = g_snprintf (line, sizeof line, "line %u of the layer\n", i);
      g_byte_array_append (b, (const guint8 *) line, (guint) n);
    }
  for (guint i = 0; i < 300000; i++)
    {
      guint8 c = (guint8) g_rand_int (r);
      g_byte_array_append (b, &c, 1);
    }
  g_byte_array_set_size (b, b->len + 200000);
  memset (b->data + b->len - 200000, 0, 200000);
  g_rand_free (r);
  return g_byte_array_free_to_bytes (b);
}

/* Runs "TOOL -c FILE" and returns its output. */
static GBytes *
compress_with (const char *tool, const char *file)
{
  const char *argv[] = { tool, "-c", "-q", file, NULL };
  g_autoptr (GError) err = NULL;
  char *out = NULL;
  gsize len = 0;
  int status = 0;
  g_autoptr (GSubprocess) p =
    g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &err);
  g_autoptr (GBytes) bytes = NULL;

  g_assert_no_error (err);
  g_assert_true (g_subprocess_communicate (p, NULL, NULL, &bytes, NULL, &err));
  g_assert_no_error (err);
  status = g_subprocess_get_exit_status (p);
  g_assert_cmpint (status, ==, 0);
  out = g_bytes_unref_to_data (g_steal_pointer (&bytes), &len);
  return g_bytes_new_take (out, len);
}

/* Files go to the per-test data directory GLib makes (and removes). */
static char *
write_file (const char *name, const void *data, gsize len)
{
  char *path;

  g_free (dir);
  dir = g_build_filename (g_get_user_data_dir (), "layers", NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) err = NULL;

  g_assert_true (g_file_set_contents (path, data, (gssize) len, &err));
  g_assert_no_error (err);
  return path;
}

/* Every check runs twice: reading in this thread, and with read-ahead. */
static gboolean ahead;

/* Reads @path through a stream; returns what came out and its digest. */
static GBytes *
read_all (const char *path, char **digest, GError **error)
{
  g_autoptr (BgrLayerStream) s = bgr_layer_stream_open (path, TRUE, error);
  GByteArray *all = g_byte_array_new ();
  const void *buf;
  gssize n;

  if (s == NULL)
    {
      g_byte_array_unref (all);
      return NULL;
    }
  if (ahead)
    bgr_layer_stream_read_ahead (s);
  while ((n = bgr_layer_stream_read (s, &buf, error)) > 0)
    g_byte_array_append (all, buf, (guint) n);
  if (n < 0 || (*digest = bgr_layer_stream_finish (s, error)) == NULL)
    {
      g_byte_array_unref (all);
      return NULL;
    }
  g_assert_cmpuint (bgr_layer_stream_get_position (s), ==, all->len);
  return g_byte_array_free_to_bytes (all);
}

static void
assert_reads_as (const char *path, GBytes *plain)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *hex = bgr_sha256_hex (g_bytes_get_data (plain, NULL), g_bytes_get_size (plain));
  g_autofree char *want = g_strconcat ("sha256:", hex, NULL);
  g_autoptr (GBytes) got = read_all (path, &digest, &err);

  g_assert_no_error (err);
  g_assert_true (g_bytes_equal (got, plain));
  g_assert_cmpstr (digest, ==, want);
}

static void
test_sha256 (void)
{
  g_autofree char *abc = bgr_sha256_hex ("abc", 3);
  g_autoptr (BgrSha256) h = bgr_sha256_new ();

  /* FIPS 180-2's example, and the same digest fed in pieces. */
  g_assert_cmpstr (abc, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  bgr_sha256_update (h, "a", 1);
  bgr_sha256_update (h, "bc", 2);
  g_assert_cmpstr (bgr_sha256_get_hex (h), ==, abc);
  bgr_sha256_reset (h);
  g_assert_cmpstr (bgr_sha256_get_hex (h), ==,
                   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
test_formats (void)
{
  g_autoptr (GBytes) plain = payload ();
  g_autofree char *tar = write_file ("layer.tar", g_bytes_get_data (plain, NULL),
                                     g_bytes_get_size (plain));
  g_autoptr (GBytes) gz = compress_with ("gzip", tar);
  g_autoptr (GBytes) zst = compress_with ("zstd", tar);
  g_autofree char *gz_path = write_file ("layer.tar.gz", g_bytes_get_data (gz, NULL),
                                         g_bytes_get_size (gz));
  g_autofree char *zst_path = write_file ("layer.tar.zst", g_bytes_get_data (zst, NULL),
                                          g_bytes_get_size (zst));
  gsize half = g_bytes_get_size (plain) / 2;
  g_autofree char *first = write_file ("a", g_bytes_get_data (plain, NULL), half);
  g_autofree char *second = write_file ("b", (const char *) g_bytes_get_data (plain, NULL) + half,
                                        g_bytes_get_size (plain) - half);
  g_autoptr (GBytes) gz1 = compress_with ("gzip", first);
  g_autoptr (GBytes) gz2 = compress_with ("gzip", second);
  g_autoptr (GByteArray) multi = g_byte_array_new ();
  g_autofree char *multi_path = NULL;

  assert_reads_as (tar, plain);
  /* gzip stores the file's name in its header: that is skipped. */
  assert_reads_as (gz_path, plain);
  assert_reads_as (zst_path, plain);
  /* Two gzip members are one stream (as gzip -d reads them), and zeros
   * after the last member are ignored. */
  g_byte_array_append (multi, g_bytes_get_data (gz1, NULL), (guint) g_bytes_get_size (gz1));
  g_byte_array_append (multi, g_bytes_get_data (gz2, NULL), (guint) g_bytes_get_size (gz2));
  g_byte_array_set_size (multi, multi->len + 1024);
  memset (multi->data + multi->len - 1024, 0, 1024);
  multi_path = write_file ("multi.tar.gz", multi->data, multi->len);
  assert_reads_as (multi_path, plain);
}

static void
assert_refused (const char *name, const guint8 *data, gsize len, const char *why)
{
  g_autofree char *path = write_file (name, data, len);
  g_autoptr (GError) err = NULL;
  g_autofree char *digest = NULL;
  g_autoptr (GBytes) got = read_all (path, &digest, &err);

  g_assert_null (got);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  if (strstr (err->message, why) == NULL)
    g_error ("%s: expected \"%s\" in \"%s\"", name, why, err->message);
}

static void
test_damaged (void)
{
  g_autoptr (GBytes) plain = payload ();
  g_autofree char *tar = write_file ("layer.tar", g_bytes_get_data (plain, NULL),
                                     g_bytes_get_size (plain));
  g_autoptr (GBytes) gz = compress_with ("gzip", tar);
  g_autoptr (GBytes) zst = compress_with ("zstd", tar);
  gsize gz_len = g_bytes_get_size (gz), zst_len = g_bytes_get_size (zst);
  g_autofree guint8 *bad = g_memdup2 (g_bytes_get_data (gz, NULL), gz_len);

  assert_refused ("cut.gz", g_bytes_get_data (gz, NULL), gz_len - 100, "truncated");
  assert_refused ("cut-trailer.gz", g_bytes_get_data (gz, NULL), gz_len - 4, "truncated");
  assert_refused ("cut.zst", g_bytes_get_data (zst, NULL), zst_len - 100, "truncated");
  /* The CRC-32 in the trailer. */
  bad[gz_len - 6] ^= 0xff;
  assert_refused ("crc.gz", bad, gz_len, "gzip");
  memcpy (bad, g_bytes_get_data (gz, NULL), gz_len);
  for (gsize i = gz_len / 3; i < gz_len / 3 + 64; i++)
    bad[i] ^= 0x5a;
  assert_refused ("corrupt.gz", bad, gz_len, "gzip");
}

static void
test_formats_ahead (void)
{
  ahead = TRUE;
  test_formats ();
  test_damaged ();
  ahead = FALSE;
}

/* A reader that stops early: closing stops the thread, whatever it was
 * doing. */
static void
test_ahead_stopped (void)
{
  g_autoptr (GBytes) plain = payload ();
  g_autofree char *tar = write_file ("layer.tar", g_bytes_get_data (plain, NULL),
                                     g_bytes_get_size (plain));
  g_autoptr (GBytes) gz = compress_with ("gzip", tar);
  g_autofree char *gz_path = write_file ("layer.tar.gz", g_bytes_get_data (gz, NULL),
                                         g_bytes_get_size (gz));

  for (guint reads = 0; reads < 3; reads++)
    {
      g_autoptr (GError) err = NULL;
      BgrLayerStream *s = bgr_layer_stream_open (gz_path, TRUE, &err);
      const void *buf;

      g_assert_no_error (err);
      bgr_layer_stream_read_ahead (s);
      for (guint i = 0; i < reads; i++)
        g_assert_cmpint (bgr_layer_stream_read (s, &buf, &err), >, 0);
      bgr_layer_stream_free (s);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/layer-stream/sha256", test_sha256);
  g_test_add_func ("/layer-stream/formats", test_formats);
  g_test_add_func ("/layer-stream/damaged", test_damaged);
  g_test_add_func ("/layer-stream/read-ahead", test_formats_ahead);
  g_test_add_func ("/layer-stream/read-ahead-stopped", test_ahead_stopped);
  return g_test_run ();
}
