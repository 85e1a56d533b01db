/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry client against a small registry written in this test (a
 * libsoup server on 127.0.0.1), for what Debian's docker-registry cannot
 * show: Bearer-token auth, a blob redirect to another host (which must not
 * receive the token), a 503 answered by a retry, and two processes pulling
 * the same blob at once (the storage host holds the first download half
 * way until the second pull is seen waiting for it). */
#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <stdio.h>

#include "oci/bgr-oci-private.h"
#include "bgr-test-util.h"

#define TOKEN "t0k3n-for-banger"

typedef struct {
  GMainContext *ctx;
  GMainLoop *loop;
  SoupServer *server;
  guint port;
  GThread *thread;
} Server;

static Server registry, storage;
static GMutex lock;
static GHashTable *blobs;        /* digest -> GBytes */
static char *manifest_json, *manifest_digest;
static guint token_requests, manifest_503_left, storage_saw_auth, storage_requests;
static char *token_scope;
static char *self_exe;
/* The big image, for the shared-download test. */
#define BIG_SIZE (1024 * 1024)
#define BIG_HALF (BIG_SIZE / 2)
static char *big_manifest_json, *big_layer_digest;
static GBytes *big_layer;
static GCond held_cond;
static gboolean hold_next;          /* hold the next download of the big layer */
static SoupServerMessage *held;     /* the one held, half sent */
static gint64 last_range_start;     /* of the last ranged request for it, or -1 */

static void
registry_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                  gpointer data)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  const char *auth = soup_message_headers_get_one (req, "Authorization");
  g_autofree char *challenge = NULL;

  g_mutex_lock (&lock);
  if (g_str_equal (path, "/token"))
    {
      const char *scope = query != NULL ? g_hash_table_lookup (query, "scope") : NULL;
      token_requests++;
      g_free (token_scope);
      token_scope = g_strdup (scope);
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                        "{\"token\": \"" TOKEN "\"}", strlen ("{\"token\": \"" TOKEN "\"}"));
      g_mutex_unlock (&lock);
      return;
    }
  if (auth == NULL || !g_str_equal (auth, "Bearer " TOKEN))
    {
      challenge = g_strdup_printf ("Bearer realm=\"http://127.0.0.1:%u/token\",service=\"fake\","
                                   "scope=\"repository:test/app:pull\"", registry.port);
      soup_message_headers_replace (resp, "WWW-Authenticate", challenge);
      soup_server_message_set_status (msg, 401, NULL);
      g_mutex_unlock (&lock);
      return;
    }
  if (g_str_equal (path, "/v2/") || g_str_equal (path, "/v2"))
    soup_server_message_set_status (msg, 200, NULL);
  else if (g_str_has_prefix (path, "/v2/test/app/manifests/"))
    {
      if (manifest_503_left > 0)
        {
          manifest_503_left--;
          soup_server_message_set_status (msg, 503, NULL);
        }
      else if (g_str_has_suffix (path, "/manifests/big"))
        {
          soup_server_message_set_status (msg, 200, NULL);
          soup_server_message_set_response (msg, "application/vnd.oci.image.manifest.v1+json",
                                            SOUP_MEMORY_COPY, big_manifest_json,
                                            strlen (big_manifest_json));
        }
      else
        {
          soup_message_headers_replace (resp, "Docker-Content-Digest", manifest_digest);
          soup_server_message_set_status (msg, 200, NULL);
          soup_server_message_set_response (msg, "application/vnd.oci.image.manifest.v1+json",
                                            SOUP_MEMORY_COPY, manifest_json, strlen (manifest_json));
        }
    }
  else if (g_str_has_prefix (path, "/v2/test/app/blobs/"))
    {
      /* Blobs live elsewhere: redirect to the storage host. */
      g_autofree char *to = g_strdup_printf ("http://127.0.0.1:%u/storage/%s", storage.port,
                                             path + strlen ("/v2/test/app/blobs/"));
      soup_message_headers_replace (resp, "Location", to);
      soup_server_message_set_status (msg, 307, NULL);
    }
  else if (g_str_has_prefix (path, "/v2/test/downgrade/blobs/"))
    {
      /* Plain http to a host that is not on loopback (.invalid: were it
       * followed, it would fail to resolve, not be refused). */
      soup_message_headers_replace (resp, "Location", "http://storage.invalid/blob");
      soup_server_message_set_status (msg, 302, NULL);
    }
  else
    soup_server_message_set_status (msg, 404, NULL);
  g_mutex_unlock (&lock);
}

static void
storage_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                 gpointer data)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  GBytes *body;

  g_mutex_lock (&lock);
  storage_requests++;
  if (soup_message_headers_get_one (req, "Authorization") != NULL)
    storage_saw_auth++;
  body = g_str_has_prefix (path, "/storage/") ? g_hash_table_lookup (blobs, path + strlen ("/storage/")) : NULL;
  if (body != NULL && body == big_layer)
    {
      SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
      SoupMessageBody *out = soup_server_message_get_response_body (msg);
      const char *range = soup_message_headers_get_one (req, "Range");
      gint64 start = 0;

      /* "bytes=N-", as a resumed download asks. */
      if (range != NULL && g_str_has_prefix (range, "bytes=") && g_str_has_suffix (range, "-"))
        start = g_ascii_strtoll (range + strlen ("bytes="), NULL, 10);
      if (range != NULL)
        last_range_start = start;
      if (start > 0 && start < BIG_SIZE)
        {
          g_autofree char *cr = g_strdup_printf ("bytes %" G_GINT64_FORMAT "-%d/%d", start,
                                                 BIG_SIZE - 1, BIG_SIZE);
          soup_message_headers_replace (resp, "Content-Range", cr);
          soup_server_message_set_status (msg, 206, NULL);
        }
      else
        {
          start = 0;
          soup_server_message_set_status (msg, 200, NULL);
        }
      soup_message_headers_set_content_length (resp, BIG_SIZE - start);
      if (hold_next && start == 0)
        {
          /* Half of it now, the rest when the test says so. */
          hold_next = FALSE;
          soup_message_body_append_bytes (out, g_bytes_new_from_bytes (big_layer, 0, BIG_HALF));
          held = g_object_ref (msg);
          g_cond_broadcast (&held_cond);
        }
      else
        {
          g_autoptr (GBytes) rest = g_bytes_new_from_bytes (big_layer, start, BIG_SIZE - start);
          soup_message_body_append_bytes (out, rest);
          soup_message_body_complete (out);
        }
    }
  else if (body == NULL)
    soup_server_message_set_status (msg, 404, NULL);
  else
    {
      soup_server_message_set_status (msg, 200, NULL);
      soup_message_body_append_bytes (soup_server_message_get_response_body (msg), body);
    }
  g_mutex_unlock (&lock);
}

static gpointer
run_server (gpointer data)
{
  Server *s = data;
  g_main_context_push_thread_default (s->ctx);
  g_main_loop_run (s->loop);
  g_main_context_pop_thread_default (s->ctx);
  return NULL;
}

static void
server_start (Server *s, SoupServerCallback handler)
{
  g_autoptr (GError) err = NULL;
  GSList *uris;

  s->ctx = g_main_context_new ();
  s->loop = g_main_loop_new (s->ctx, FALSE);
  g_main_context_push_thread_default (s->ctx);
  s->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (s->server, NULL, handler, NULL, NULL);
  g_assert_true (soup_server_listen_local (s->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &err));
  g_main_context_pop_thread_default (s->ctx);
  uris = soup_server_get_uris (s->server);
  s->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  s->thread = g_thread_new ("server", run_server, s);
}

static char *
add_blob (const char *text)
{
  GBytes *b = g_bytes_new (text, strlen (text));
  g_autofree char *hex = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, b);
  char *digest = g_strdup_printf ("sha256:%s", hex);
  g_hash_table_insert (blobs, g_strdup (digest), b);
  return digest;
}

static void
make_image (void)
{
  static const char layer[] = "not really a tarball, the client does not look inside";
  g_autofree char *config_digest = NULL, *layer_digest = NULL, *hex = NULL, *config = NULL;

  blobs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_bytes_unref);
  layer_digest = add_blob (layer);
  /* An uncompressed layer's diff_id is its digest. */
  config = g_strdup_printf ("{\"architecture\":\"amd64\",\"os\":\"linux\","
                            "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}", layer_digest);
  config_digest = add_blob (config);
  manifest_json = g_strdup_printf (
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu}]}",
    config_digest, strlen (config), layer_digest, strlen (layer));
  hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256, manifest_json, -1);
  manifest_digest = g_strdup_printf ("sha256:%s", hex);

  /* The big one: 1 MiB of noise, one layer. */
  {
    guint8 *data = g_malloc (BIG_SIZE);
    GRand *rand = g_rand_new_with_seed (42);
    g_autofree char *big_hex = NULL, *big_config = NULL, *big_config_digest = NULL;

    for (gsize i = 0; i < BIG_SIZE; i++)
      data[i] = (guint8) g_rand_int (rand);
    g_rand_free (rand);
    big_layer = g_bytes_new_take (data, BIG_SIZE);
    big_hex = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, big_layer);
    big_layer_digest = g_strdup_printf ("sha256:%s", big_hex);
    g_hash_table_insert (blobs, g_strdup (big_layer_digest), big_layer);
    big_config = g_strdup_printf ("{\"architecture\":\"amd64\",\"os\":\"linux\","
                                  "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                                  big_layer_digest);
    big_config_digest = add_blob (big_config);
    big_manifest_json = g_strdup_printf (
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
      "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
      "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%d}]}",
      big_config_digest, strlen (big_config), big_layer_digest, BIG_SIZE);
  }
}

static void
test_token_redirect_retry (void)
{
  g_autofree char *text = g_strdup_printf ("127.0.0.1:%u/test/app:latest", registry.port);
  g_autofree char *cache = g_build_filename (g_get_user_cache_dir (), "banger", NULL);
  BgrOciRef ref = { 0 };
  g_autoptr (GError) err = NULL;
  BgrOciRegistry *r;
  BgrOciImage *img;
  char *path;

  manifest_503_left = 1;
  g_assert_true (bgr_oci_ref_parse (text, &ref, &err));
  r = bgr_oci_registry_new (&ref, BGR_OCI_NO_CREDENTIALS, &err);
  g_assert_no_error (err);
  bgr_oci_registry_set_cache_dir (r, cache);
  img = bgr_oci_registry_resolve (r, "linux/amd64", NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (img->digest, ==, manifest_digest);
  g_assert_cmpuint (img->layers->len, ==, 1);
  /* Bearer auth happened, for the repository's pull scope; the 503 was retried. */
  g_assert_cmpuint (token_requests, >=, 1);
  g_assert_cmpstr (token_scope, ==, "repository:test/app:pull");
  g_assert_cmpuint (manifest_503_left, ==, 0);

  path = bgr_oci_registry_fetch_blob (r, img->layers->pdata[0], cache, NULL, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  /* The blobs came from the storage host, which never saw the token. */
  g_assert_cmpuint (storage_requests, >=, 1);
  g_assert_cmpuint (storage_saw_auth, ==, 0);
  g_free (path);
  bgr_oci_image_free (img);

  /* Again, with every blob cached: only the manifest goes over the wire. */
  {
    guint before = storage_requests;
    img = bgr_oci_registry_resolve (r, "linux/amd64", NULL, &err);
    g_assert_no_error (err);
    path = bgr_oci_registry_fetch_blob (r, img->layers->pdata[0], cache, NULL, NULL, NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpuint (storage_requests, ==, before);
    g_free (path);
    bgr_oci_image_free (img);
  }
  bgr_oci_registry_free (r);
  bgr_oci_ref_clear (&ref);
}

/* ---- two processes, one blob ---- */

static void
on_child_progress (guint64 done, guint64 total, gboolean waiting, gpointer data)
{
  printf ("progress %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %d\n", done, total, waiting ? 1 : 0);
  fflush (stdout);
}

/* `test-oci-fake --fetch-child PORT CACHE`: pulls the big image's layer
 * into CACHE, printing each progress report, then "done PATH". */
static int
fetch_child (const char *port, const char *cache)
{
  g_autofree char *text = g_strdup_printf ("127.0.0.1:%s/test/app:big", port);
  BgrOciRef ref = { 0 };
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrOciRegistry) r = NULL;
  g_autoptr (BgrOciImage) img = NULL;
  g_autofree char *path = NULL;

  if (!bgr_oci_ref_parse (text, &ref, &err)
      || (r = bgr_oci_registry_new (&ref, BGR_OCI_NO_CREDENTIALS, &err)) == NULL)
    goto fail;
  bgr_oci_registry_set_cache_dir (r, cache);
  if ((img = bgr_oci_registry_resolve (r, "linux/amd64", NULL, &err)) == NULL)
    goto fail;
  path = bgr_oci_registry_fetch_blob (r, img->layers->pdata[0], cache, on_child_progress, NULL,
                                      NULL, &err);
  if (path == NULL)
    goto fail;
  printf ("done %s\n", path);
  bgr_oci_ref_clear (&ref);
  return 0;
fail:
  printf ("error %s\n", err->message);
  bgr_oci_ref_clear (&ref);
  return 1;
}

static GSubprocess *
spawn_child (const char *cache, GSubprocessFlags flags)
{
  g_autofree char *port = g_strdup_printf ("%u", registry.port);
  g_autoptr (GError) err = NULL;
  GSubprocess *p = g_subprocess_new (flags, &err, self_exe,
                                     "--fetch-child", port, cache, NULL);
  g_assert_no_error (err);
  return p;
}

static gboolean
release_held (gpointer data)
{
  SoupServerMessage *msg = data;
  SoupMessageBody *out = soup_server_message_get_response_body (msg);

  soup_message_body_append_bytes (out, g_bytes_new_from_bytes (big_layer, BIG_HALF,
                                                               BIG_SIZE - BIG_HALF));
  soup_message_body_complete (out);
  soup_server_message_unpause (msg);
  g_object_unref (msg);
  return G_SOURCE_REMOVE;
}

/* Starts the first pull and waits until the storage host holds its
 * download half way. */
static GSubprocess *
start_first (const char *cache)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  GSubprocess *a;

  g_mutex_lock (&lock);
  hold_next = TRUE;
  held = NULL;
  g_mutex_unlock (&lock);
  a = spawn_child (cache, G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_mutex_lock (&lock);
  while (held == NULL)
    if (!g_cond_wait_until (&held_cond, &lock, deadline))
      g_error ("the first pull never asked for the layer");
  g_mutex_unlock (&lock);
  return a;
}

/* Reads the second pull's reports until it says it waits, with all that
 * the first one has (half the layer) in the part file. */
static GDataInputStream *
await_waiting (GSubprocess *b)
{
  GDataInputStream *in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (b));
  g_autofree char *want = g_strdup_printf ("progress %d %d 1", BIG_HALF, BIG_SIZE);

  for (;;)
    {
      g_autoptr (GError) err = NULL;
      g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, &err);

      g_assert_no_error (err);
      if (line == NULL)
        g_error ("the second pull ended without waiting for the first");
      g_test_message ("second pull: %s", line);
      /* Nothing of the layer comes to it from the registry while it waits. */
      g_assert_false (g_str_has_prefix (line, "done") || g_str_has_prefix (line, "error"));
      if (g_str_equal (line, want))
        return in;
    }
}

/* The rest of the second pull's output: progress, then "done PATH". */
static void
finish_second (GSubprocess *b, GDataInputStream *in, const char *cache, gboolean took_over)
{
  g_autofree char *dir = g_build_filename (cache, "oci", "blobs", "sha256", NULL);
  g_autofree char *expected = g_build_filename (dir, big_layer_digest + strlen ("sha256:"), NULL);
  g_autofree char *done_line = g_strdup_printf ("done %s", expected);
  g_autofree char *data = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (GDir) d = NULL;
  gboolean downloaded = FALSE, finished = FALSE;
  const char *name;
  gsize len;

  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, &err);
      guint64 done, total;
      int waiting;

      g_assert_no_error (err);
      if (line == NULL)
        break;
      if (sscanf (line, "progress %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %d", &done, &total,
                  &waiting) == 3)
        {
          g_assert_cmpuint (done, >=, BIG_HALF); /* never backwards */
          if (!waiting && done < (guint64) BIG_SIZE)
            downloaded = TRUE;
        }
      else
        {
          g_assert_cmpstr (line, ==, done_line);
          finished = TRUE;
        }
    }
  g_assert_true (g_subprocess_wait_check (b, NULL, &err));
  g_assert_no_error (err);
  g_assert_true (finished);
  /* It downloaded (the second half) only when it took over. */
  g_assert_cmpint (downloaded, ==, took_over);
  g_assert_true (g_file_get_contents (expected, &data, &len, &err));
  g_assert_no_error (err);
  g_assert_cmpmem (data, len, g_bytes_get_data (big_layer, NULL), BIG_SIZE);
  /* Nothing left behind: no part file. */
  d = g_dir_open (dir, 0, &err);
  g_assert_no_error (err);
  while ((name = g_dir_read_name (d)) != NULL)
    g_assert_false (g_str_has_suffix (name, ".part"));
}

static void
test_shared_download (void)
{
  g_autofree char *base = g_build_filename (g_get_user_cache_dir (), "shared", NULL);

  /* Three times in a row, from a cold cache each time: both pulls succeed,
   * the second without downloading anything. */
  for (guint round = 0; round < 3; round++)
    {
      g_autofree char *cache = g_strdup_printf ("%s-%u", base, round);
      g_autoptr (GSubprocess) a = start_first (cache);
      g_autoptr (GSubprocess) b = spawn_child (cache, G_SUBPROCESS_FLAGS_STDOUT_PIPE);
      g_autoptr (GDataInputStream) in = await_waiting (b);
      g_autoptr (GError) err = NULL;
      SoupServerMessage *msg;

      g_mutex_lock (&lock);
      msg = g_steal_pointer (&held);
      last_range_start = -1;
      g_mutex_unlock (&lock);
      g_main_context_invoke (storage.ctx, release_held, msg);
      g_assert_true (g_subprocess_wait_check (a, NULL, &err));
      g_assert_no_error (err);
      finish_second (b, in, cache, FALSE);
      g_mutex_lock (&lock);
      g_assert_cmpint (last_range_start, ==, -1);
      g_mutex_unlock (&lock);
    }
}

static void
test_shared_download_killed (void)
{
  g_autofree char *cache = g_build_filename (g_get_user_cache_dir (), "shared-killed", NULL);
  g_autoptr (GSubprocess) a = start_first (cache);
  g_autoptr (GSubprocess) b = spawn_child (cache, G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GDataInputStream) in = await_waiting (b);
  g_autoptr (GError) err = NULL;
  SoupServerMessage *msg;

  g_mutex_lock (&lock);
  last_range_start = -1;
  g_mutex_unlock (&lock);
  /* The first pull dies half way (SIGKILL: no cleanup of its own). */
  g_subprocess_force_exit (a);
  g_assert_true (g_subprocess_wait (a, NULL, &err));
  g_assert_no_error (err);
  g_assert_true (g_subprocess_get_if_signaled (a));
  g_assert_cmpint (g_subprocess_get_term_sig (a), ==, SIGKILL);
  /* The second takes the part over, resuming where the first stopped. */
  finish_second (b, in, cache, TRUE);
  g_mutex_lock (&lock);
  g_assert_cmpint (last_range_start, ==, BIG_HALF);
  msg = g_steal_pointer (&held);
  g_mutex_unlock (&lock);
  /* The held response goes to no one now; let the server finish with it. */
  g_main_context_invoke (storage.ctx, release_held, msg);
}

/* A blob redirect to plain http on a remote host is refused, not followed. */
static void
test_redirect_downgrade (void)
{
  g_autofree char *text = g_strdup_printf ("127.0.0.1:%u/test/downgrade:latest", registry.port);
  g_autofree char *cache = g_build_filename (g_get_user_cache_dir (), "banger", NULL);
  BgrOciDescriptor d = { (char *) BGR_OCI_MEDIA_TYPE_MANIFEST,
                         (char *) "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                         10 };
  BgrOciRef ref = { 0 };
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrOciRegistry) r = NULL;
  g_autofree char *path = NULL;

  g_assert_true (bgr_oci_ref_parse (text, &ref, &err));
  r = bgr_oci_registry_new (&ref, BGR_OCI_NO_CREDENTIALS, &err);
  g_assert_no_error (err);
  path = bgr_oci_registry_fetch_blob (r, &d, cache, NULL, NULL, NULL, &err);
  g_assert_null (path);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_PROTOCOL);
  g_test_message ("%s", err->message);
  g_assert_nonnull (strstr (err->message, "refusing the redirect to http://storage.invalid/blob"));
  g_assert_nonnull (strstr (err->message, "not on loopback"));
  bgr_oci_ref_clear (&ref);
}

int
main (int argc, char **argv)
{
  if (argc == 4 && g_str_equal (argv[1], "--fetch-child"))
    return fetch_child (argv[2], argv[3]);
  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  make_image ();
  server_start (&registry, registry_handler);
  server_start (&storage, storage_handler);
  g_test_add_func ("/oci/fake/token-redirect-retry", test_token_redirect_retry);
  g_test_add_func ("/oci/fake/redirect-downgrade", test_redirect_downgrade);
  g_test_add_func ("/oci/fake/shared-download", test_shared_download);
  g_test_add_func ("/oci/fake/shared-download-killed", test_shared_download_killed);
  return g_test_run ();
}
