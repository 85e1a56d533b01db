/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test catalog and registry: see bgr-test-registry.h. */
#include "config.h"

#include "bgr-test-registry.h"

BgrTestServer bgr_test_srv;
gboolean (*bgr_test_hook) (SoupServerMessage *msg, const char *path);
char *bgr_test_kernel_file, *bgr_test_rootfs_file;

/* Sends the rest of the held layer (in the server thread). */
static void
bgr_test_release_held (void)
{
  SoupServerMessage *msg = bgr_test_srv.held;
  GBytes *body = g_hash_table_lookup (bgr_test_srv.served, bgr_test_srv.layer_path);
  gsize half = g_bytes_get_size (body) / 2;
  SoupMessageBody *out = soup_server_message_get_response_body (msg);

  bgr_test_srv.held = NULL;
  soup_message_body_append_bytes (out, g_bytes_new_from_bytes (body, half,
                                                               g_bytes_get_size (body) - half));
  soup_message_body_complete (out);
  soup_server_message_unpause (msg);
  g_object_unref (msg);
}

static void
bgr_test_handle (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                 gpointer data)
{
  GBytes *body = g_hash_table_lookup (bgr_test_srv.served, path);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  gboolean hold = FALSE, release = FALSE;

  if (bgr_test_hook != NULL && bgr_test_hook (msg, path))
    return;
  g_mutex_lock (&bgr_test_srv.lock);
  if (g_str_has_prefix (path, "/v2/test/app/manifests/"))
    {
      bgr_test_srv.manifest_requests++;
      release = bgr_test_srv.held != NULL
                && bgr_test_srv.manifest_requests >= bgr_test_srv.hold_until;
    }
  else if (g_strcmp0 (path, bgr_test_srv.layer_path) == 0)
    {
      bgr_test_srv.layer_requests++;
      hold = bgr_test_srv.hold_until > bgr_test_srv.manifest_requests;
      bgr_test_srv.hold_until = hold ? bgr_test_srv.hold_until : 0;
    }
  g_mutex_unlock (&bgr_test_srv.lock);

  if (g_str_equal (path, "/v2/") || g_str_equal (path, "/v2"))
    soup_server_message_set_status (msg, 200, NULL);
  else if (body == NULL)
    soup_server_message_set_status (msg, 404, NULL);
  else if (hold)
    {
      /* Half now, the rest once the manifest was asked for often enough. */
      soup_server_message_set_status (msg, 200, NULL);
      soup_message_headers_set_content_length (resp, g_bytes_get_size (body));
      soup_message_body_append_bytes (soup_server_message_get_response_body (msg),
                                      g_bytes_new_from_bytes (body, 0, g_bytes_get_size (body) / 2));
      bgr_test_srv.held = g_object_ref (msg);
    }
  else
    {
      if (g_str_has_prefix (path, "/v2/test/app/manifests/"))
        soup_message_headers_replace (resp, "Content-Type",
                                      "application/vnd.oci.image.manifest.v1+json");
      soup_server_message_set_status (msg, 200, NULL);
      soup_message_body_append_bytes (soup_server_message_get_response_body (msg), body);
    }
  if (release)
    bgr_test_release_held ();
}

static gpointer
bgr_test_run_server (gpointer data)
{
  g_main_context_push_thread_default (bgr_test_srv.ctx);
  g_main_loop_run (bgr_test_srv.loop);
  g_main_context_pop_thread_default (bgr_test_srv.ctx);
  return NULL;
}

void
bgr_test_server_start (void)
{
  g_autoptr (GError) err = NULL;
  GSList *uris;

  g_mutex_init (&bgr_test_srv.lock);
  bgr_test_srv.ctx = g_main_context_new ();
  bgr_test_srv.loop = g_main_loop_new (bgr_test_srv.ctx, FALSE);
  g_main_context_push_thread_default (bgr_test_srv.ctx);
  bgr_test_srv.server = soup_server_new (NULL, NULL);
  soup_server_add_handler (bgr_test_srv.server, NULL, bgr_test_handle, NULL, NULL);
  g_assert_true (soup_server_listen_local (bgr_test_srv.server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY,
                                           &err));
  g_assert_no_error (err);
  g_main_context_pop_thread_default (bgr_test_srv.ctx);
  uris = soup_server_get_uris (bgr_test_srv.server);
  bgr_test_srv.port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  bgr_test_srv.thread = g_thread_new ("server", bgr_test_run_server, NULL);
}

static gboolean
bgr_test_release_idle (gpointer data)
{
  if (bgr_test_srv.held != NULL)
    bgr_test_release_held ();
  return G_SOURCE_REMOVE;
}

/* Sends the rest of a held download (from any thread), and holds no more. */
void
bgr_test_registry_release (void)
{
  g_mutex_lock (&bgr_test_srv.lock);
  bgr_test_srv.hold_until = 0;
  g_mutex_unlock (&bgr_test_srv.lock);
  g_main_context_invoke (bgr_test_srv.ctx, bgr_test_release_idle, NULL);
}

/* Holds the next download of the layer half way until the manifest has
 * been asked for @manifest_requests times in all; resets the counters. */
void
bgr_test_registry_hold_layer (guint manifest_requests)
{
  g_mutex_lock (&bgr_test_srv.lock);
  bgr_test_srv.manifest_requests = bgr_test_srv.layer_requests = 0;
  bgr_test_srv.hold_until = manifest_requests;
  g_mutex_unlock (&bgr_test_srv.lock);
}

guint
bgr_test_registry_layer_requests (void)
{
  guint n;
  g_mutex_lock (&bgr_test_srv.lock);
  n = bgr_test_srv.layer_requests;
  g_mutex_unlock (&bgr_test_srv.lock);
  return n;
}

char *
bgr_test_registry_ref (void)
{
  return g_strdup_printf ("127.0.0.1:%u/test/app:latest", bgr_test_srv.port);
}

char *
bgr_test_digest_of (GBytes *b, const char *prefix)
{
  g_autofree char *hex = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, b);
  return g_strconcat (prefix, hex, NULL);
}

void
bgr_test_run_ok (const char *const *argv)
{
  g_autoptr (GError) err = NULL;
  gint status = -1;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                NULL, NULL, NULL, &status, &err);
  g_assert_no_error (err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

static GBytes *
bgr_test_make_layer (const char *work)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *dir = g_build_filename (work, "layer", NULL);
  g_autofree char *tar = g_build_filename (work, "layer.tar", NULL);
  g_autofree char *data = g_build_filename (dir, "data.bin", NULL);
  g_autofree char *hello = g_build_filename (dir, "hello", NULL);
  g_autofree guchar *noise = g_malloc (BGR_TEST_NOISE_SIZE);
  const char *argv[] = { "tar", "--format=ustar", "-C", dir, "-cf", tar, "hello", "data.bin", NULL };
  char *contents = NULL;
  gsize len = 0;

  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  for (gsize i = 0; i < BGR_TEST_NOISE_SIZE; i++)
    noise[i] = (guchar) (i * 31 + (i >> 9));
  g_file_set_contents (data, (const char *) noise, BGR_TEST_NOISE_SIZE, &err);
  g_assert_no_error (err);
  g_file_set_contents (hello, "hello from the layer\n", -1, &err);
  g_assert_no_error (err);
  bgr_test_run_ok (argv);
  g_file_get_contents (tar, &contents, &len, &err);
  g_assert_no_error (err);
  return g_bytes_new_take (contents, len);
}

void
bgr_test_serve (const char *path, GBytes *body)
{
  g_hash_table_insert (bgr_test_srv.served, g_strdup (path), g_bytes_ref (body));
}

/* The files under @work, and what the server serves. */
void
bgr_test_make_files (const char *work)
{
  static const guchar elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, [16] = 2, [18] = 62 };
  g_autoptr (GError) err = NULL;
  g_autofree guchar *kernel = g_malloc0 (BGR_TEST_KERNEL_SIZE);
  g_autoptr (GBytes) kbytes = NULL, layer = NULL, config = NULL, manifest = NULL, catalog = NULL;
  g_autofree char *ksha = NULL, *layer_digest = NULL, *config_digest = NULL;
  g_autofree char *config_text = NULL, *manifest_text = NULL, *catalog_text = NULL;
  g_autofree char *config_path = NULL;

  memcpy (kernel, elf, sizeof elf);
  bgr_test_kernel_file = g_build_filename (work, "vmlinux", NULL);
  g_file_set_contents (bgr_test_kernel_file, (const char *) kernel, BGR_TEST_KERNEL_SIZE, &err);
  g_assert_no_error (err);
  bgr_test_rootfs_file = g_build_filename (work, "rootfs.ext4", NULL);
  {
    const char *mkfs[] = { bgr_test_tool ("mkfs.ext4"), "-q", "-F", bgr_test_rootfs_file, "16M",
                           NULL };
    bgr_test_run_ok (mkfs);
  }
  layer = bgr_test_make_layer (work);

  bgr_test_srv.served = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify) g_bytes_unref);
  kbytes = g_bytes_new (kernel, BGR_TEST_KERNEL_SIZE);
  ksha = bgr_test_digest_of (kbytes, "");
  catalog_text = g_strdup_printf (
    "{ \"schema_version\": 1, \"kernels\": [\n"
    " { \"name\": \"cat\", \"version\": \"6.1\", \"arch\": \"x86_64\", \"source\": \"download\",\n"
    "   \"description\": \"test kernel\", \"artifacts\": { \"kernel\": { \"url\": \"vmlinux\",\n"
    "   \"size\": %d, \"sha256\": \"%s\", \"format\": \"elf\" } } } ] }\n",
    BGR_TEST_KERNEL_SIZE, ksha);
  catalog = g_bytes_new (catalog_text, strlen (catalog_text));
  bgr_test_serve ("/kernels.json", catalog);
  bgr_test_serve ("/vmlinux", kbytes);

  layer_digest = bgr_test_digest_of (layer, "sha256:");
  config_text = g_strdup_printf ("{\"architecture\":\"amd64\",\"os\":\"linux\","
                                 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                                 layer_digest);
  config = g_bytes_new (config_text, strlen (config_text));
  config_digest = bgr_test_digest_of (config, "sha256:");
  manifest_text = g_strdup_printf (
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
    "\"size\":%zu},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
    "\"digest\":\"%s\",\"size\":%zu}]}",
    config_digest, strlen (config_text), layer_digest, g_bytes_get_size (layer));
  manifest = g_bytes_new (manifest_text, strlen (manifest_text));
  bgr_test_serve ("/v2/test/app/manifests/latest", manifest);
  bgr_test_srv.layer_path = g_strconcat ("/v2/test/app/blobs/", layer_digest, NULL);
  bgr_test_serve (bgr_test_srv.layer_path, layer);
  config_path = g_strconcat ("/v2/test/app/blobs/", config_digest, NULL);
  bgr_test_serve (config_path, config);
}
