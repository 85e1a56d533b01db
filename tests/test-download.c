/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The downloader against a real SoupServer on 127.0.0.1. The server runs in
 * its own thread with its own GMainContext, so the downloader's blocking
 * calls on the test's thread never wait on a loop that nobody runs. */
#include "config.h"

#include "bgr-test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "net/bgr-download-private.h"

#define PAYLOAD_SIZE (1024 * 1024)
#define HALF (PAYLOAD_SIZE / 2)

static GBytes *payload;
static char *payload_sha256;

typedef struct {
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *server;
  char *base; /* http://127.0.0.1:PORT */

  GMutex lock;
  GCond cond;
  gboolean ready;
  /* Under lock, written by the server thread. */
  GPtrArray *ranges;  /* the Range header of each request, "" for none */
  GPtrArray *agents;  /* the User-Agent of each request */
  GHashTable *hits;   /* path -> number of requests */
  /* Only touched by the server thread. */
  GPtrArray *held;    /* stalled connections, closed at teardown */

  /* The client side. */
  char *dir;
  char *dest;
  char *part;
  GArray *progress; /* pairs of guint64: done, total */
} Fixture;

static const char *
payload_data (void)
{
  return g_bytes_get_data (payload, NULL);
}

/* Writes a raw response head and @send body bytes on a connection taken
 * from libsoup, to play servers that libsoup itself would never be. */
static GIOStream *
steal_and_write (SoupServerMessage *msg, gsize announced, gsize send)
{
  GIOStream *conn = soup_server_message_steal_connection (msg);
  GOutputStream *out = g_io_stream_get_output_stream (conn);
  g_autofree char *head = g_strdup_printf ("HTTP/1.1 200 OK\r\n"
                                           "Content-Type: application/octet-stream\r\n"
                                           "Content-Length: %" G_GSIZE_FORMAT "\r\n\r\n",
                                           announced);

  g_assert_true (g_output_stream_write_all (out, head, strlen (head), NULL, NULL, NULL));
  g_assert_true (g_output_stream_write_all (out, payload_data (), send, NULL, NULL, NULL));
  g_assert_true (g_output_stream_flush (out, NULL, NULL));
  return conn;
}

static void
close_stolen (GIOStream *conn)
{
  g_io_stream_close (conn, NULL, NULL);
  g_object_unref (conn);
}

/* A plain 200 with the whole payload: libsoup answers a satisfiable Range
 * request to it with 206 by itself, and an unsatisfiable one with 416. */
static void
serve_payload (SoupServerMessage *msg)
{
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/octet-stream", SOUP_MEMORY_STATIC,
                                    payload_data (), PAYLOAD_SIZE);
}

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
        gpointer user_data)
{
  Fixture *f = user_data;
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  const char *range = soup_message_headers_get_one (req, "Range");
  const char *agent = soup_message_headers_get_one (req, "User-Agent");
  guint hit;

  g_mutex_lock (&f->lock);
  g_ptr_array_add (f->ranges, g_strdup (range != NULL ? range : ""));
  g_ptr_array_add (f->agents, g_strdup (agent != NULL ? agent : ""));
  hit = GPOINTER_TO_UINT (g_hash_table_lookup (f->hits, path)) + 1;
  g_hash_table_insert (f->hits, g_strdup (path), GUINT_TO_POINTER (hit));
  g_mutex_unlock (&f->lock);

  if (g_str_equal (path, "/blob"))
    serve_payload (msg);
  else if (g_str_equal (path, "/norange"))
    {
      /* A server without range support: it answers 200 with everything. */
      soup_message_headers_remove (req, "Range");
      serve_payload (msg);
    }
  else if (g_str_equal (path, "/flaky"))
    {
      if (hit == 1)
        soup_server_message_set_status (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
      else
        serve_payload (msg);
    }
  else if (g_str_equal (path, "/down"))
    soup_server_message_set_status (msg, SOUP_STATUS_BAD_GATEWAY, NULL);
  else if (g_str_equal (path, "/forbidden"))
    soup_server_message_set_status (msg, SOUP_STATUS_FORBIDDEN, NULL);
  else if (g_str_equal (path, "/truncated"))
    close_stolen (steal_and_write (msg, PAYLOAD_SIZE, HALF));
  else if (g_str_equal (path, "/reset-once"))
    {
      if (hit == 1)
        close_stolen (steal_and_write (msg, PAYLOAD_SIZE, HALF));
      else
        serve_payload (msg);
    }
  else if (g_str_equal (path, "/stall"))
    g_ptr_array_add (f->held, steal_and_write (msg, PAYLOAD_SIZE, HALF));
  else if (g_str_equal (path, "/chunked"))
    {
      /* No Content-Length: only the bytes themselves tell the size. */
      soup_message_headers_set_encoding (soup_server_message_get_response_headers (msg),
                                         SOUP_ENCODING_CHUNKED);
      serve_payload (msg);
      soup_message_body_complete (soup_server_message_get_response_body (msg));
    }
  else
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
}

static gpointer
server_thread (gpointer data)
{
  Fixture *f = data;
  g_autoptr (GError) err = NULL;
  GSList *uris;

  g_main_context_push_thread_default (f->context);
  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, handle, f, NULL);
  if (!soup_server_listen_local (f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &err))
    g_error ("cannot listen: %s", err->message);
  uris = soup_server_get_uris (f->server);
  g_assert_nonnull (uris);

  g_mutex_lock (&f->lock);
  f->base = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  f->ready = TRUE;
  g_cond_signal (&f->cond);
  g_mutex_unlock (&f->lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_main_loop_run (f->loop);

  g_ptr_array_set_size (f->held, 0);
  soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  g_main_context_pop_thread_default (f->context);
  return NULL;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_mutex_init (&f->lock);
  g_cond_init (&f->cond);
  f->ranges = g_ptr_array_new_with_free_func (g_free);
  f->agents = g_ptr_array_new_with_free_func (g_free);
  f->hits = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  f->held = g_ptr_array_new_with_free_func ((GDestroyNotify) close_stolen);
  f->context = g_main_context_new ();
  f->loop = g_main_loop_new (f->context, FALSE);
  f->thread = g_thread_new ("test-server", server_thread, f);
  g_mutex_lock (&f->lock);
  while (!f->ready)
    g_cond_wait (&f->cond, &f->lock);
  g_mutex_unlock (&f->lock);

  f->dir = g_build_filename (g_get_user_cache_dir (), "downloads", NULL);
  g_assert_cmpint (g_mkdir_with_parents (f->dir, 0700), ==, 0);
  f->dest = g_build_filename (f->dir, "vmlinux", NULL);
  f->part = g_strconcat (f->dest, ".part", NULL);
  f->progress = g_array_new (FALSE, FALSE, sizeof (guint64));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  bgr_test_stop_loop (f->context, f->loop);
  g_thread_join (f->thread);
  g_main_loop_unref (f->loop);
  g_main_context_unref (f->context);
  g_ptr_array_unref (f->held);
  g_ptr_array_unref (f->ranges);
  g_ptr_array_unref (f->agents);
  g_hash_table_unref (f->hits);
  g_mutex_clear (&f->lock);
  g_cond_clear (&f->cond);
  g_free (f->base);
  g_unlink (f->dest);
  g_unlink (f->part);
  g_free (f->dest);
  g_free (f->part);
  g_free (f->dir);
  g_array_unref (f->progress);
}

static char *
url_for (Fixture *f, const char *path)
{
  return g_strconcat (f->base, path, NULL);
}

static guint
hits (Fixture *f, const char *path)
{
  guint n;

  g_mutex_lock (&f->lock);
  n = GPOINTER_TO_UINT (g_hash_table_lookup (f->hits, path));
  g_mutex_unlock (&f->lock);
  return n;
}

static char *
range_of (Fixture *f, guint request)
{
  char *r;

  g_mutex_lock (&f->lock);
  g_assert_cmpuint (request, <, f->ranges->len);
  r = g_strdup (g_ptr_array_index (f->ranges, request));
  g_mutex_unlock (&f->lock);
  return r;
}

static void
record_progress (guint64 done, guint64 total, gpointer user_data)
{
  Fixture *f = user_data;

  g_array_append_val (f->progress, done);
  g_array_append_val (f->progress, total);
}

/* Reports never go backwards and end at (total, total). */
static void
assert_progress (Fixture *f, guint64 total)
{
  guint64 *p = (guint64 *) (gpointer) f->progress->data;
  guint n = f->progress->len / 2;

  g_assert_cmpuint (n, >=, 1);
  for (guint i = 1; i < n; i++)
    g_assert_cmpuint (p[2 * i], >=, p[2 * (i - 1)]);
  g_assert_cmpuint (p[2 * (n - 1)], ==, total);
  g_assert_cmpuint (p[2 * (n - 1) + 1], ==, total);
}

static void
assert_dest_is_payload (Fixture *f)
{
  g_autofree char *contents = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (f->dest, &contents, &len, NULL));
  g_assert_cmpuint (len, ==, PAYLOAD_SIZE);
  g_assert_cmpmem (contents, len, payload_data (), PAYLOAD_SIZE);
  g_assert_false (g_file_test (f->part, G_FILE_TEST_EXISTS));
}

static void
assert_nothing_left (Fixture *f)
{
  g_assert_false (g_file_test (f->dest, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (f->part, G_FILE_TEST_EXISTS));
}

static void
write_part (Fixture *f, const void *data, gsize len)
{
  g_assert_true (g_file_set_contents (f->part, data, (gssize) len, NULL));
}

static gboolean
download (Fixture *f, SoupSession *session, const char *path, gint64 size, const char *sha,
          GCancellable *cancellable, GError **error)
{
  g_autofree char *url = url_for (f, path);

  return bgr_download_file (session, url, f->dest, size, sha, record_progress, f, cancellable,
                            error);
}

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

int
main (int argc, char **argv)
{
  g_autofree guint8 *data = g_malloc (PAYLOAD_SIZE);
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);
  int ret;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* The isolated XDG_DATA_DIRS hide the GSettings schemas that GNOME's
   * proxy resolver module reads; these tests only talk to 127.0.0.1. */
  g_setenv ("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
  for (gsize i = 0; i < PAYLOAD_SIZE; i++)
    data[i] = (guint8) g_rand_int (rand);
  payload = g_bytes_new_take (g_steal_pointer (&data), PAYLOAD_SIZE);
  payload_sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, payload);

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
  ADD ("/download/resume", test_resume);
  ADD ("/download/resume-ignored", test_resume_ignored);
  ADD ("/download/resume-bad-prefix", test_resume_bad_prefix);
  ADD ("/download/part-complete", test_part_complete);
  ADD ("/download/part-too-long", test_part_too_long);
  ADD ("/download/retry-5xx", test_retry_5xx);
  ADD ("/download/retry-gives-up", test_retry_gives_up);
  ADD ("/download/retry-resumes", test_retry_resumes);
  ADD ("/download/cancel", test_cancel);
  ADD ("/download/busy", test_busy);
  ADD ("/download/file-url", test_file_url);
  ADD ("/download/bad-arguments", test_bad_arguments);
  ADD ("/download/bytes", test_bytes);
#undef ADD

  ret = g_test_run ();
  g_bytes_unref (payload);
  g_free (payload_sha256);
  return ret;
}
