/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A registry that stalls a layer: see dbus-objects-registry.h. */
#include "config.h"

#include "dbus-objects-registry.h"

#include "bgr-test-util.h"

static void
close_stolen (GIOStream *conn)
{
  g_io_stream_close (conn, NULL, NULL);
  g_object_unref (conn);
}

static void
registry_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                  gpointer data)
{
  Registry *reg = data;
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  g_autofree char *layer_path = g_strdup_printf ("/v2/test/app/blobs/%s", reg->layer_digest);
  g_autofree char *config_path = g_strdup_printf ("/v2/test/app/blobs/%s", reg->config_digest);

  if (g_str_equal (path, "/v2/") || g_str_equal (path, "/v2"))
    soup_server_message_set_status (msg, 200, NULL);
  else if (g_str_has_prefix (path, "/v2/test/app/manifests/"))
    {
      soup_message_headers_replace (resp, "Docker-Content-Digest", reg->manifest_digest);
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "application/vnd.oci.image.manifest.v1+json",
                                        SOUP_MEMORY_COPY, reg->manifest, strlen (reg->manifest));
    }
  else if (g_str_equal (path, config_path))
    {
      soup_server_message_set_status (msg, 200, NULL);
      soup_message_body_append_bytes (soup_server_message_get_response_body (msg), reg->config);
    }
  else if (g_str_equal (path, layer_path))
    {
      /* Taken from libsoup: the head and the first chunk, then silence
       * (libsoup itself would end a response whose body ran out). */
      GIOStream *conn = soup_server_message_steal_connection (msg);
      GOutputStream *out = g_io_stream_get_output_stream (conn);
      g_autofree char *head = g_strdup_printf ("HTTP/1.1 200 OK\r\n"
                                               "Content-Type: application/octet-stream\r\n"
                                               "Content-Length: %d\r\n\r\n",
                                               LAYER_SIZE);

      g_output_stream_write_all (out, head, strlen (head), NULL, NULL, NULL);
      g_output_stream_write_all (out, g_bytes_get_data (reg->layer, NULL), FIRST_CHUNK, NULL, NULL,
                                 NULL);
      g_output_stream_flush (out, NULL, NULL);
      g_ptr_array_add (reg->stalled, conn);
      g_mutex_lock (&reg->lock);
      reg->layer_requests++;
      g_mutex_unlock (&reg->lock);
    }
  else
    soup_server_message_set_status (msg, 404, NULL);
}

static gpointer
registry_thread (gpointer data)
{
  Registry *reg = data;
  g_main_context_push_thread_default (reg->ctx);
  g_main_loop_run (reg->loop);
  /* Torn down where it ran. */
  soup_server_disconnect (reg->server);
  g_clear_object (&reg->server);
  g_ptr_array_unref (reg->stalled);
  while (g_main_context_iteration (reg->ctx, FALSE))
    ;
  g_main_context_pop_thread_default (reg->ctx);
  return NULL;
}

static char *
sha256_digest (GBytes *b)
{
  g_autofree char *hex = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, b);
  return g_strdup_printf ("sha256:%s", hex);
}

Registry *
registry_start (void)
{
  Registry *reg = g_new0 (Registry, 1);
  g_autoptr (GError) err = NULL;
  g_autofree char *config = NULL, *hex = NULL;
  guchar *layer = g_malloc (LAYER_SIZE);
  GSList *uris;

  for (gsize i = 0; i < LAYER_SIZE; i++)
    layer[i] = (guchar) (i * 7 + (i >> 8));
  reg->layer = g_bytes_new_take (layer, LAYER_SIZE);
  reg->layer_digest = sha256_digest (reg->layer);
  config = g_strdup_printf ("{\"architecture\":\"amd64\",\"os\":\"linux\","
                            "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                            reg->layer_digest);
  reg->config = g_bytes_new (config, strlen (config));
  reg->config_digest = sha256_digest (reg->config);
  reg->manifest = g_strdup_printf (
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
    "\"size\":%zu},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
    "\"digest\":\"%s\",\"size\":%d}]}",
    reg->config_digest, strlen (config), reg->layer_digest, LAYER_SIZE);
  hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256, reg->manifest, -1);
  reg->manifest_digest = g_strdup_printf ("sha256:%s", hex);
  reg->stalled = g_ptr_array_new_with_free_func ((GDestroyNotify) close_stolen);
  g_mutex_init (&reg->lock);

  reg->ctx = g_main_context_new ();
  reg->loop = g_main_loop_new (reg->ctx, FALSE);
  g_main_context_push_thread_default (reg->ctx);
  reg->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (reg->server, NULL, registry_handler, reg, NULL);
  g_assert_true (soup_server_listen_local (reg->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &err));
  g_assert_no_error (err);
  g_main_context_pop_thread_default (reg->ctx);
  uris = soup_server_get_uris (reg->server);
  reg->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  reg->thread = g_thread_new ("registry", registry_thread, reg);
  return reg;
}

guint
registry_layer_requests (Registry *reg)
{
  guint n;
  g_mutex_lock (&reg->lock);
  n = reg->layer_requests;
  g_mutex_unlock (&reg->lock);
  return n;
}

void
registry_stop (Registry *reg)
{
  bgr_test_stop_loop (reg->ctx, reg->loop);
  g_thread_join (reg->thread);
  g_main_loop_unref (reg->loop);
  g_main_context_unref (reg->ctx);
  g_mutex_clear (&reg->lock);
  g_bytes_unref (reg->layer);
  g_bytes_unref (reg->config);
  g_free (reg->layer_digest);
  g_free (reg->config_digest);
  g_free (reg->manifest);
  g_free (reg->manifest_digest);
  g_free (reg);
}

char *
registry_ref (Registry *reg)
{
  return g_strdup_printf ("127.0.0.1:%u/test/app:latest", reg->port);
}
