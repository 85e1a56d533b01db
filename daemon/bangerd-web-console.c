/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /api/v1/vms/NAME/console: a VM's console log followed live. The
 * stream starts with the log's tail and then carries what is appended, as
 *   event: console
 *   data: {"text": "...", "reset": true|false}
 * ("reset": the page replaces what it shows, e.g. when the log was cut).
 * The file is watched (GFileMonitor), not polled. */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include <stdio.h>
#include <sys/stat.h>

#include "bangerd-web.h"

#define TAIL_BYTES (64 * 1024)
#define CHUNK_BYTES (256 * 1024)

typedef struct {
  SoupServerMessage *msg;
  GFileMonitor *monitor;
  char *path;
  goffset offset; /* how much of the file was sent */
} Console;

static GList *consoles; /* the open streams (main thread) */

typedef struct {
  char *name;
  char *path;
  GError *error;
} Lookup;

static void
lookup_free (Lookup *l)
{
  g_free (l->name);
  g_free (l->path);
  g_clear_error (&l->error);
  g_free (l);
}

static void
console_free (Console *c)
{
  consoles = g_list_remove (consoles, c);
  g_signal_handlers_disconnect_by_data (c->msg, c);
  if (c->monitor != NULL)
    {
      g_signal_handlers_disconnect_by_data (c->monitor, c);
      g_file_monitor_cancel (c->monitor);
      g_object_unref (c->monitor);
    }
  g_object_unref (c->msg);
  g_free (c->path);
  g_free (c);
}

static void
send_text (Console *c, const char *data, gsize len, gboolean reset)
{
  g_autofree char *valid = g_utf8_make_valid (data, (gssize) len);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *json = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, valid);
  json_builder_set_member_name (b, "reset");
  json_builder_add_boolean_value (b, reset);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json = json_to_string (root, FALSE);
  bgrd_web_sse_send (c->msg, "console", json);
}

/* Sends what was appended since the last time (the tail when @reset). */
static void
send_new (Console *c, gboolean reset)
{
  struct stat st;
  FILE *f;

  if (stat (c->path, &st) != 0)
    return;
  if (st.st_size < c->offset)
    reset = TRUE; /* cut or replaced: start again */
  if (reset)
    c->offset = st.st_size > TAIL_BYTES ? st.st_size - TAIL_BYTES : 0;
  f = fopen (c->path, "rbe");
  if (f == NULL)
    return;
  while (fseeko (f, c->offset, SEEK_SET) == 0)
    {
      g_autofree char *buf = g_malloc (CHUNK_BYTES);
      size_t n = fread (buf, 1, CHUNK_BYTES, f);

      if (n == 0 && !reset)
        break;
      send_text (c, buf, n, reset);
      reset = FALSE;
      c->offset += (goffset) n;
      if (n < CHUNK_BYTES)
        break;
    }
  fclose (f);
}

static void
on_file_changed (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                 gpointer data)
{
  if (event == G_FILE_MONITOR_EVENT_CHANGED || event == G_FILE_MONITOR_EVENT_CREATED
      || event == G_FILE_MONITOR_EVENT_CHANGES_DONE_HINT)
    send_new (data, FALSE);
}

static void
on_gone (SoupServerMessage *msg, gpointer data)
{
  console_free (data);
}

static void
lookup_work (BgrdWeb *web, gpointer data, GCancellable *cancellable)
{
  Lookup *l = data;
  g_autoptr (BgrVm) vm = bgr_client_vm_get (web->d->client, l->name, cancellable, &l->error);

  if (vm != NULL)
    l->path = g_strdup (bgr_vm_get_console_log_path (vm));
}

static void
lookup_done (BgrdWeb *web, SoupServerMessage *msg, gpointer data)
{
  Lookup *l = data;
  g_autoptr (GFile) file = NULL;
  Console *c;

  if (l->error != NULL)
    {
      bgrd_web_gerror (msg, l->error);
      return;
    }
  if (l->path == NULL || *l->path == '\0')
    {
      bgrd_web_error (msg, SOUP_STATUS_NOT_FOUND, "NotFound", "this VM has no console log");
      return;
    }
  c = g_new0 (Console, 1);
  c->msg = g_object_ref (msg);
  c->path = g_strdup (l->path);
  consoles = g_list_prepend (consoles, c);
  file = g_file_new_for_path (c->path);
  c->monitor = g_file_monitor_file (file, G_FILE_MONITOR_NONE, NULL, NULL);
  if (c->monitor != NULL)
    g_signal_connect (c->monitor, "changed", G_CALLBACK (on_file_changed), c);
  g_signal_connect (msg, "finished", G_CALLBACK (on_gone), c);
  g_signal_connect (msg, "disconnected", G_CALLBACK (on_gone), c);
  bgrd_web_sse_begin (msg);
  send_new (c, TRUE);
}

void
bgrd_web_console_serve (BgrdWeb *web, SoupServerMessage *msg, const char *name)
{
  Lookup *l = g_new0 (Lookup, 1);

  l->name = g_strdup (name);
  bgrd_web_run (web, msg, lookup_work, lookup_done, l, (GDestroyNotify) lookup_free);
}

void
bgrd_web_console_close_all (void)
{
  while (consoles != NULL)
    {
      Console *c = consoles->data;
      soup_message_body_complete (soup_server_message_get_response_body (c->msg));
      soup_server_message_unpause (c->msg);
      console_free (c);
    }
}
