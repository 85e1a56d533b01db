/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry client against a small registry written in this test (a
 * libsoup server on 127.0.0.1), for what Debian's docker-registry cannot
 * show: Bearer-token auth, a blob redirect to another host (which must not
 * receive the token), and a 503 answered by a retry. */
#include "config.h"

#include <libsoup/soup.h>

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
  if (body == NULL)
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  make_image ();
  server_start (&registry, registry_handler);
  server_start (&storage, storage_handler);
  g_test_add_func ("/oci/fake/token-redirect-retry", test_token_redirect_retry);
  return g_test_run ();
}
