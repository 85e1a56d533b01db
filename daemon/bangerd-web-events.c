/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The web API's server-sent events (GET /api/v1/events), fed by the
 * engine's change events (BgrClient::object-changed) and by the long
 * actions' progress. A change is read back in one worker thread, in event
 * order, and sent as
 *   event: change
 *   data: {"kind": "vm", "name": NAME, "object": {...the --json record...}}
 * ("object" is null once the object is gone). A stats sample of a running
 * VM (BgrClient::vm-stats-sampled, at most one per VM per
 * stats_poll_interval) is sent as it is, as
 *   event: stats
 *   data: {"name": NAME, ...the vm stats --json record...} */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include <string.h>

#include "bangerd-web.h"

#define PING_SECONDS 20

struct _BgrdWebEvents {
  BgrdWeb *web;
  GPtrArray *streams; /* SoupServerMessage, one per open stream */
  GThreadPool *reader;
  guint ping_id;
};

/* The main thread's events, for the idles the reader queues. */
static BgrdWebEvents *current;

typedef struct {
  char *kind, *name;
  char *json; /* the event's data, once read */
} Change;

static void
change_free (Change *c)
{
  g_free (c->kind);
  g_free (c->name);
  g_free (c->json);
  g_free (c);
}

static void
stream_gone (SoupServerMessage *msg, gpointer data)
{
  BgrdWebEvents *events = data;

  g_signal_handlers_disconnect_by_data (msg, events);
  if (g_ptr_array_remove (events->streams, msg))
    g_object_unref (msg);
}

static void
write_to (SoupServerMessage *msg, const char *text)
{
  soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_COPY, text,
                            strlen (text));
  soup_server_message_unpause (msg);
}

static char *
event_text (const char *type, const char *json)
{
  g_auto (GStrv) lines = g_strsplit (json, "\n", -1);
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "event: %s\n", type);
  for (char **l = lines; *l != NULL; l++)
    g_string_append_printf (s, "data: %s\n", *l);
  g_string_append_c (s, '\n');
  return g_string_free (s, FALSE);
}

void
bgrd_web_sse_begin (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (h, "text/event-stream", NULL);
  soup_message_headers_set_encoding (h, SOUP_ENCODING_CHUNKED);
  soup_message_body_set_accumulate (soup_server_message_get_response_body (msg), FALSE);
  /* Something to read at once: the page knows the stream is open. */
  write_to (msg, "retry: 2000\n: open\n\n");
}

void
bgrd_web_sse_send (SoupServerMessage *msg, const char *type, const char *json)
{
  g_autofree char *text = event_text (type, json);
  write_to (msg, text);
}

void
bgrd_web_events_send (BgrdWebEvents *events, const char *type, const char *json)
{
  g_autofree char *text = NULL;

  if (events == NULL)
    return;
  text = event_text (type, json);
  for (guint i = 0; i < events->streams->len; i++)
    write_to (events->streams->pdata[i], text);
}

static gboolean
send_change (gpointer data)
{
  Change *c = data;

  if (current != NULL)
    bgrd_web_events_send (current, "change", c->json);
  change_free (c);
  return G_SOURCE_REMOVE;
}

static char *
read_object (BgrClient *client, const char *kind, const char *name)
{
  g_autoptr (GError) error = NULL;

  if (g_str_equal (kind, "vm"))
    {
      g_autoptr (BgrVm) vm = bgr_client_vm_get (client, name, NULL, &error);
      return vm != NULL ? bgr_vm_to_json (vm) : NULL;
    }
  if (g_str_equal (kind, "image"))
    {
      g_autoptr (BgrImage) image = bgr_client_image_get (client, name, NULL, &error);
      return image != NULL ? bgr_image_to_json (image) : NULL;
    }
  if (g_str_equal (kind, "kernel"))
    {
      g_autoptr (BgrKernel) k = bgr_client_kernel_get (client, name, NULL, &error);
      return k != NULL ? bgr_kernel_to_json (k) : NULL;
    }
  return NULL;
}

static void
read_change (gpointer data, gpointer user_data)
{
  BgrdWebEvents *events = user_data;
  Change *c = data;
  g_autofree char *object = read_object (events->web->d->client, c->kind, c->name);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, c->kind);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, c->name);
  json_builder_set_member_name (b, "object");
  if (object != NULL)
    json_builder_add_value (b, json_from_string (object, NULL));
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  c->json = json_to_string (root, FALSE);
  g_idle_add (send_change, c);
}

static void
on_object_changed (BgrClient *client, const char *kind, const char *name, GVariant *record,
                   gpointer data)
{
  BgrdWebEvents *events = data;
  Change *c;

  if (events->streams->len == 0 || kind == NULL || name == NULL)
    return;
  c = g_new0 (Change, 1);
  c->kind = g_strdup (kind);
  c->name = g_strdup (name);
  g_thread_pool_push (events->reader, c, NULL);
}

static void
on_vm_stats_sampled (BgrClient *client, const char *name, BgrVmStats *stats, gpointer data)
{
  BgrdWebEvents *events = data;
  g_autofree char *json = NULL;

  if (events->streams->len == 0)
    return;
  json = bgr_vm_stats_to_json (stats);
  bgrd_web_events_send (events, "stats", json);
}

static gboolean
ping (gpointer data)
{
  BgrdWebEvents *events = data;

  /* A comment line: keeps proxies from timing out and finds dead peers. */
  for (guint i = 0; i < events->streams->len; i++)
    write_to (events->streams->pdata[i], ": ping\n\n");
  return G_SOURCE_CONTINUE;
}

BgrdWebEvents *
bgrd_web_events_new (BgrdWeb *web)
{
  BgrdWebEvents *events = g_new0 (BgrdWebEvents, 1);

  events->web = web;
  events->streams = g_ptr_array_new ();
  events->reader = g_thread_pool_new (read_change, events, 1, TRUE, NULL);
  g_signal_connect (web->d->client, "object-changed", G_CALLBACK (on_object_changed), events);
  g_signal_connect (web->d->client, "vm-stats-sampled", G_CALLBACK (on_vm_stats_sampled), events);
  events->ping_id = g_timeout_add_seconds (PING_SECONDS, ping, events);
  current = events;
  return events;
}

void
bgrd_web_events_free (BgrdWebEvents *events)
{
  g_signal_handlers_disconnect_by_data (events->web->d->client, events);
  g_thread_pool_free (events->reader, FALSE, TRUE);
  g_source_remove (events->ping_id);
  current = NULL;
  while (events->streams->len > 0)
    {
      SoupServerMessage *msg = events->streams->pdata[0];
      soup_message_body_complete (soup_server_message_get_response_body (msg));
      soup_server_message_unpause (msg);
      stream_gone (msg, events);
    }
  g_ptr_array_unref (events->streams);
  g_free (events);
}

void
bgrd_web_events_serve (BgrdWebEvents *events, SoupServerMessage *msg)
{
  g_ptr_array_add (events->streams, g_object_ref (msg));
  g_signal_connect (msg, "finished", G_CALLBACK (stream_gone), events);
  g_signal_connect (msg, "disconnected", G_CALLBACK (stream_gone), events);
  bgrd_web_sse_begin (msg);
}
