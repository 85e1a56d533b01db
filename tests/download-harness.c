/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the download tests (test-download*.c) share: a 1 MiB random payload,
 * a libsoup server on 127.0.0.1 in its own thread that serves it whole,
 * cut short, stalled, by ranges or with errors (the path says which), and
 * checks of what bgr_download left behind. */
#include "config.h"

#include "download-harness.h"

GBytes *payload;

char *payload_sha256;

const char *
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

void
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

void
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

char *
url_for (Fixture *f, const char *path)
{
  return g_strconcat (f->base, path, NULL);
}

guint
hits (Fixture *f, const char *path)
{
  guint n;

  g_mutex_lock (&f->lock);
  n = GPOINTER_TO_UINT (g_hash_table_lookup (f->hits, path));
  g_mutex_unlock (&f->lock);
  return n;
}

char *
range_of (Fixture *f, guint request)
{
  char *r;

  g_mutex_lock (&f->lock);
  g_assert_cmpuint (request, <, f->ranges->len);
  r = g_strdup (g_ptr_array_index (f->ranges, request));
  g_mutex_unlock (&f->lock);
  return r;
}

void
record_progress (guint64 done, guint64 total, gpointer user_data)
{
  Fixture *f = user_data;

  g_array_append_val (f->progress, done);
  g_array_append_val (f->progress, total);
}

void
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

void
assert_dest_is_payload (Fixture *f)
{
  g_autofree char *contents = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (f->dest, &contents, &len, NULL));
  g_assert_cmpuint (len, ==, PAYLOAD_SIZE);
  g_assert_cmpmem (contents, len, payload_data (), PAYLOAD_SIZE);
  g_assert_false (g_file_test (f->part, G_FILE_TEST_EXISTS));
}

void
assert_nothing_left (Fixture *f)
{
  g_assert_false (g_file_test (f->dest, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (f->part, G_FILE_TEST_EXISTS));
}

void
write_part (Fixture *f, const void *data, gsize len)
{
  g_assert_true (g_file_set_contents (f->part, data, (gssize) len, NULL));
}

gboolean
download (Fixture *f, SoupSession *session, const char *path, gint64 size, const char *sha,
          GCancellable *cancellable, GError **error)
{
  g_autofree char *url = url_for (f, path);

  return bgr_download_file (session, url, f->dest, size, sha, record_progress, f, cancellable,
                            error);
}

void
download_test_init (int *argc, char ***argv)
{
  g_autofree guint8 *data = g_malloc (PAYLOAD_SIZE);
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);

  g_test_init (argc, argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* The isolated XDG_DATA_DIRS hide the GSettings schemas that GNOME's
   * proxy resolver module reads; these tests only talk to 127.0.0.1. */
  g_setenv ("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
  for (gsize i = 0; i < PAYLOAD_SIZE; i++)
    data[i] = (guint8) g_rand_int (rand);
  payload = g_bytes_new_take (g_steal_pointer (&data), PAYLOAD_SIZE);
  payload_sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, payload);
}

void
download_test_done (void)
{
  g_bytes_unref (payload);
  g_free (payload_sha256);
}
