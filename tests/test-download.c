/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Downloads (net/bgr-download.c) against a local HTTP server: checksums and
 * sizes checked, server errors, stalls, cancelling, a busy destination,
 * file:// URLs and bad arguments. test-download-resume.c has resuming
 * and retries. */
#include "config.h"

#include "download-harness.h"

static void
test_success (Fixture *f, gconstpointer data)
{
  g_autoptr (SoupSession) session = bgr_download_session_new ();
  g_autoptr (GError) err = NULL;
  g_autofree char *agent = NULL;

  g_assert_true (download (f, session, "/blob", PAYLOAD_SIZE, payload_sha256, NULL, &err));
  g_assert_no_error (err);
  assert_dest_is_payload (f);
  assert_progress (f, PAYLOAD_SIZE);
  g_assert_cmpuint (hits (f, "/blob"), ==, 1);
  g_mutex_lock (&f->lock);
  agent = g_strdup (g_ptr_array_index (f->agents, 0));
  g_mutex_unlock (&f->lock);
  g_assert_cmpstr (agent, ==, "banger/" BANGER_VERSION);
  g_assert_cmpuint (soup_session_get_timeout (session), >, 0);
}

static void
test_unknown_size (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;

  /* Neither size nor hash known, and no Content-Length: progress still
   * ends at (size, size). */
  g_assert_true (download (f, NULL, "/chunked", -1, NULL, NULL, &err));
  g_assert_no_error (err);
  assert_dest_is_payload (f);
  assert_progress (f, PAYLOAD_SIZE);
}

static void
test_wrong_sha256 (Fixture *f, gconstpointer data)
{
  static const char wrong[] = "0000000000000000000000000000000000000000000000000000000000000000";
  g_autoptr (GError) err = NULL;
  g_autofree char *expected = g_strdup_printf ("sha256 mismatch: expected %s, got %s", wrong,
                                               payload_sha256);
  g_autofree char *url = url_for (f, "/blob");

  g_assert_false (download (f, NULL, "/blob", PAYLOAD_SIZE, wrong, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  g_assert_true (g_str_has_prefix (err->message, url));
  g_assert_nonnull (strstr (err->message, expected));
  assert_nothing_left (f);
}

static void
test_wrong_size (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;

  /* The announced Content-Length already disagrees: no body is read. */
  g_assert_false (download (f, NULL, "/blob", PAYLOAD_SIZE + 1, NULL, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (err->message, "expected 1048577 bytes"));
  g_assert_nonnull (strstr (err->message, "1048576"));
  assert_nothing_left (f);
}

static void
test_too_large (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;

  /* Chunked, so only the stream itself shows the excess: refused once it
   * passes the expected size, well before the end. */
  g_assert_false (download (f, NULL, "/chunked", HALF, NULL, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (err->message, "expected 524288 bytes, got at least"));
  assert_nothing_left (f);
  if (f->progress->len > 0)
    g_assert_cmpuint (g_array_index (f->progress, guint64, f->progress->len - 2), <=, HALF);
}

static void
test_truncated (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;

  /* Content-Length promises the whole payload, the connection closes
   * after half, on every attempt. */
  g_assert_false (download (f, NULL, "/truncated", PAYLOAD_SIZE, payload_sha256, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (err->message, "truncated"));
  g_assert_nonnull (strstr (err->message, "expected 1048576 bytes, got 524288"));
  g_assert_false (g_file_test (f->dest, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (hits (f, "/truncated"), ==, 3);
}

static void
test_not_found (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;

  g_assert_false (download (f, NULL, "/missing", PAYLOAD_SIZE, payload_sha256, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (err->message, "404"));
  assert_nothing_left (f);
  /* Not transient: asked once. */
  g_assert_cmpuint (hits (f, "/missing"), ==, 1);
}

static void
test_forbidden (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;

  g_assert_false (download (f, NULL, "/forbidden", -1, NULL, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
  assert_nothing_left (f);
  g_assert_cmpuint (hits (f, "/forbidden"), ==, 1);
}

static void
test_stalled (Fixture *f, gconstpointer data)
{
  g_autoptr (SoupSession) session = bgr_download_session_new ();
  g_autoptr (GError) err = NULL;
  gint64 start;
  gint64 elapsed;

  soup_session_set_timeout (session, 1);
  start = g_get_monotonic_time ();
  g_assert_false (download (f, session, "/stall", PAYLOAD_SIZE, payload_sha256, NULL, &err));
  elapsed = g_get_monotonic_time () - start;
  g_assert_error (err, BGR_ERROR, BGR_ERROR_TIMED_OUT);
  g_assert_cmpint (elapsed, >=, G_USEC_PER_SEC / 2);
  g_assert_cmpint (elapsed, <, 4 * G_USEC_PER_SEC);
  /* Not retried, and what arrived stays for the next call. */
  g_assert_cmpuint (hits (f, "/stall"), ==, 1);
  g_assert_false (g_file_test (f->dest, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (f->part, G_FILE_TEST_EXISTS));
}

static void
test_busy (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  int fd = open (f->part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

  /* Another download holds the part file. */
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (flock (fd, LOCK_EX | LOCK_NB), ==, 0);
  g_assert_false (download (f, NULL, "/blob", PAYLOAD_SIZE, payload_sha256, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_assert_cmpuint (hits (f, "/blob"), ==, 0);
  /* Its file is not ours to delete. */
  g_assert_true (g_file_test (f->part, G_FILE_TEST_EXISTS));
  close (fd);
}

static void
test_file_url (Fixture *f, gconstpointer data)
{
  g_autofree char *src = g_build_filename (f->dir, "source.bin", NULL);
  g_autofree char *url = NULL;
  g_autofree char *missing = NULL;
  g_autoptr (GError) err = NULL;

  g_assert_true (g_file_set_contents (src, payload_data (), PAYLOAD_SIZE, NULL));
  url = g_filename_to_uri (src, NULL, NULL);
  g_assert_true (bgr_download_file (NULL, url, f->dest, PAYLOAD_SIZE, payload_sha256,
                                    record_progress, f, NULL, &err));
  g_assert_no_error (err);
  assert_dest_is_payload (f);
  assert_progress (f, PAYLOAD_SIZE);

  /* Resumed by seeking. */
  g_unlink (f->dest);
  g_array_set_size (f->progress, 0);
  write_part (f, payload_data (), HALF);
  g_assert_true (bgr_download_file (NULL, url, f->dest, PAYLOAD_SIZE, payload_sha256,
                                    record_progress, f, NULL, &err));
  g_assert_no_error (err);
  assert_dest_is_payload (f);
  g_assert_cmpuint (g_array_index (f->progress, guint64, 0), ==, HALF);

  g_unlink (f->dest);
  missing = g_strconcat (url, ".missing", NULL);
  g_assert_false (bgr_download_file (NULL, missing, f->dest, -1, NULL, NULL, NULL, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  assert_nothing_left (f);
  g_unlink (src);
}

static void
test_bad_arguments (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;

  g_assert_false (bgr_download_file (NULL, "ftp://example.org/x", f->dest, -1, NULL, NULL, NULL,
                                     NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  g_assert_false (bgr_download_file (NULL, "http:///x", f->dest, -1, NULL, NULL, NULL, NULL,
                                     &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  /* Upper-case hex is refused: the catalog format says lower-case. */
  g_assert_false (bgr_download_file (NULL, "http://127.0.0.1/x", f->dest, -1,
                                     "ABCDEF0000000000000000000000000000000000000000000000000000000000",
                                     NULL, NULL, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  assert_nothing_left (f);

  g_assert_true (bgr_download_sha256_is_valid (payload_sha256));
  g_assert_false (bgr_download_sha256_is_valid ("abc"));
  g_assert_false (bgr_download_sha256_is_valid (NULL));
}

static void
test_bytes (Fixture *f, gconstpointer data)
{
  g_autofree char *url = url_for (f, "/blob");
  g_autofree char *chunked = url_for (f, "/chunked");
  g_autofree char *missing = url_for (f, "/missing");
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) err = NULL;

  bytes = bgr_download_bytes (NULL, url, PAYLOAD_SIZE, NULL, &err);
  g_assert_no_error (err);
  g_assert_true (g_bytes_equal (bytes, payload));

  g_assert_null (bgr_download_bytes (NULL, url, 1000, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  g_clear_error (&err);
  g_assert_null (bgr_download_bytes (NULL, chunked, 1000, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  g_clear_error (&err);
  g_assert_null (bgr_download_bytes (NULL, missing, 1000, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
}

static void
cancel_on_progress (guint64 done, guint64 total, gpointer user_data)
{
  if (done > 0)
    g_cancellable_cancel (user_data);
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) err = NULL;
  g_autofree char *url = url_for (f, "/blob");
  GStatBuf st;

  g_assert_false (bgr_download_file (NULL, url, f->dest, PAYLOAD_SIZE, payload_sha256,
                                     cancel_on_progress, cancellable, cancellable, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_CANCELLED);
  g_assert_false (g_file_test (f->dest, G_FILE_TEST_EXISTS));
  /* Kept, with what arrived, for a later call to resume. */
  g_assert_cmpint (g_stat (f->part, &st), ==, 0);
  g_assert_cmpint (st.st_size, >, 0);
  g_assert_cmpint (st.st_size, <, PAYLOAD_SIZE);

  /* Cancelled before it starts: nothing happens at all. */
  g_clear_error (&err);
  g_assert_false (bgr_download_file (NULL, url, f->dest, PAYLOAD_SIZE, payload_sha256, NULL,
                                     NULL, cancellable, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_CANCELLED);
  g_assert_cmpuint (hits (f, "/blob"), ==, 1);

  /* And the next call resumes. */
  g_clear_error (&err);
  g_assert_true (download (f, NULL, "/blob", PAYLOAD_SIZE, payload_sha256, NULL, &err));
  g_assert_no_error (err);
  assert_dest_is_payload (f);
  {
    g_autofree char *range = range_of (f, 1);
    g_autofree char *expected = g_strdup_printf ("bytes=%" G_GINT64_FORMAT "-",
                                                 (gint64) st.st_size);
    g_assert_cmpstr (range, ==, expected);
  }
}

int
main (int argc, char **argv)
{
  int ret;

  download_test_init (&argc, &argv);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/download/success", test_success);
  ADD ("/download/unknown-size", test_unknown_size);
  ADD ("/download/wrong-sha256", test_wrong_sha256);
  ADD ("/download/wrong-size", test_wrong_size);
  ADD ("/download/too-large", test_too_large);
  ADD ("/download/truncated", test_truncated);
  ADD ("/download/not-found", test_not_found);
  ADD ("/download/forbidden", test_forbidden);
  ADD ("/download/stalled", test_stalled);
  ADD ("/download/cancel", test_cancel);
  ADD ("/download/busy", test_busy);
  ADD ("/download/file-url", test_file_url);
  ADD ("/download/bad-arguments", test_bad_arguments);
  ADD ("/download/bytes", test_bytes);
#undef ADD

  ret = g_test_run ();
  download_test_done ();
  return ret;
}
