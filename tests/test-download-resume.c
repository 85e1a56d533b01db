/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Downloads (net/bgr-download.c) resumed from a .part file left by an
 * earlier try, and retried after server errors and cut connections, against
 * a local HTTP server. */
#include "config.h"

#include "download-harness.h"

static void
test_resume (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *range = NULL;

  write_part (f, payload_data (), HALF);
  g_assert_true (download (f, NULL, "/blob", PAYLOAD_SIZE, payload_sha256, NULL, &err));
  g_assert_no_error (err);
  range = range_of (f, 0);
  g_assert_cmpstr (range, ==, "bytes=524288-");
  g_assert_cmpuint (hits (f, "/blob"), ==, 1);
  assert_dest_is_payload (f);
  /* The first report is the resumed offset. */
  g_assert_cmpuint (g_array_index (f->progress, guint64, 0), ==, HALF);
  assert_progress (f, PAYLOAD_SIZE);
}

static void
test_resume_ignored (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *range = NULL;

  write_part (f, payload_data (), HALF);
  g_assert_true (download (f, NULL, "/norange", PAYLOAD_SIZE, payload_sha256, NULL, &err));
  g_assert_no_error (err);
  range = range_of (f, 0);
  g_assert_cmpstr (range, ==, "bytes=524288-");
  g_assert_cmpuint (hits (f, "/norange"), ==, 1);
  assert_dest_is_payload (f);
  assert_progress (f, PAYLOAD_SIZE);
}

static void
test_resume_bad_prefix (Fixture *f, gconstpointer data)
{
  g_autofree guint8 *garbage = g_malloc0 (HALF);
  g_autoptr (GError) err = NULL;
  g_autofree char *first = NULL, *second = NULL;

  /* The left-over bytes are wrong: the hash fails, and the whole file is
   * fetched again before the server is blamed. */
  write_part (f, garbage, HALF);
  g_assert_true (download (f, NULL, "/blob", PAYLOAD_SIZE, payload_sha256, NULL, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (hits (f, "/blob"), ==, 2);
  first = range_of (f, 0);
  second = range_of (f, 1);
  g_assert_cmpstr (first, ==, "bytes=524288-");
  g_assert_cmpstr (second, ==, "");
  assert_dest_is_payload (f);
  assert_progress (f, PAYLOAD_SIZE);
}

static void
test_part_complete (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;

  /* A previous call got everything but never renamed it. */
  write_part (f, payload_data (), PAYLOAD_SIZE);
  g_assert_true (download (f, NULL, "/blob", PAYLOAD_SIZE, payload_sha256, NULL, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (hits (f, "/blob"), ==, 0);
  assert_dest_is_payload (f);
  assert_progress (f, PAYLOAD_SIZE);
}

static void
test_part_too_long (Fixture *f, gconstpointer data)
{
  g_autofree guint8 *longer = g_malloc0 (PAYLOAD_SIZE + 100);
  g_autoptr (GError) err = NULL;
  g_autofree char *first = NULL, *second = NULL;

  /* Size unknown, so the range goes out and the server answers 416: the
   * part file is dropped and the download starts over. */
  write_part (f, longer, PAYLOAD_SIZE + 100);
  g_assert_true (download (f, NULL, "/blob", -1, payload_sha256, NULL, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (hits (f, "/blob"), ==, 2);
  first = range_of (f, 0);
  second = range_of (f, 1);
  g_assert_cmpstr (first, ==, "bytes=1048676-");
  g_assert_cmpstr (second, ==, "");
  assert_dest_is_payload (f);
}

static void
test_retry_5xx (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;

  g_assert_true (download (f, NULL, "/flaky", PAYLOAD_SIZE, payload_sha256, NULL, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (hits (f, "/flaky"), ==, 2);
  assert_dest_is_payload (f);
}

static void
test_retry_gives_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;

  g_assert_false (download (f, NULL, "/down", PAYLOAD_SIZE, payload_sha256, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NETWORK);
  g_assert_nonnull (strstr (err->message, "502"));
  g_assert_cmpuint (hits (f, "/down"), ==, 3);
  assert_nothing_left (f);
}

static void
test_retry_resumes (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *first = NULL, *second = NULL;

  /* The first connection dies after half the body; the retry asks only
   * for the rest. */
  g_assert_true (download (f, NULL, "/reset-once", PAYLOAD_SIZE, payload_sha256, NULL, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (hits (f, "/reset-once"), ==, 2);
  first = range_of (f, 0);
  second = range_of (f, 1);
  g_assert_cmpstr (first, ==, "");
  g_assert_cmpstr (second, ==, "bytes=524288-");
  assert_dest_is_payload (f);
  assert_progress (f, PAYLOAD_SIZE);
}

int
main (int argc, char **argv)
{
  int ret;

  download_test_init (&argc, &argv);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/download/resume", test_resume);
  ADD ("/download/resume-ignored", test_resume_ignored);
  ADD ("/download/resume-bad-prefix", test_resume_bad_prefix);
  ADD ("/download/part-complete", test_part_complete);
  ADD ("/download/part-too-long", test_part_too_long);
  ADD ("/download/retry-5xx", test_retry_5xx);
  ADD ("/download/retry-gives-up", test_retry_gives_up);
  ADD ("/download/retry-resumes", test_retry_resumes);
#undef ADD

  ret = g_test_run ();
  download_test_done ();
  return ret;
}
