/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The web UI's answers: JSON errors with the status an engine error maps
 * to, and the pages from the GResource (data/web). */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include <string.h>

#include "bangerd-web.h"

/* ---- replies ------------------------------------------------------------- */

void
bgrd_web_json (SoupServerMessage *msg, guint status, const char *json)
{
  /* libsoup has no phrase for 421. */
  soup_server_message_set_status (msg, status,
                                  status == SOUP_STATUS_MISDIRECTED_REQUEST ? "Misdirected Request"
                                                                            : NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, json,
                                    strlen (json));
}

void
bgrd_web_error (SoupServerMessage *msg, guint status, const char *code, const char *message)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, code);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  bgrd_web_json (msg, status, text);
}

void
bgrd_web_gerror (SoupServerMessage *msg, const GError *error)
{
  guint status = SOUP_STATUS_INTERNAL_SERVER_ERROR;

  if (error->domain == BGR_ERROR)
    switch (error->code)
      {
      case BGR_ERROR_INVALID_ARGUMENT:
      case BGR_ERROR_INVALID_DATA:
        status = SOUP_STATUS_BAD_REQUEST;
        break;
      case BGR_ERROR_NOT_FOUND:
        status = SOUP_STATUS_NOT_FOUND;
        break;
      case BGR_ERROR_EXISTS:
      case BGR_ERROR_BUSY:
      case BGR_ERROR_LOCKED:
      case BGR_ERROR_NOTHING_TO_DO:
        status = SOUP_STATUS_CONFLICT;
        break;
      case BGR_ERROR_PERMISSION_DENIED:
        status = SOUP_STATUS_FORBIDDEN;
        break;
      case BGR_ERROR_DAEMON_UNAVAILABLE:
        status = SOUP_STATUS_SERVICE_UNAVAILABLE;
        break;
      default:
        break;
      }
  bgrd_web_error (msg, status,
                  error->domain == BGR_ERROR ? bgr_error_code_to_name (error->code) : "Failed",
                  error->message);
}

void
bgrd_web_serve_resource (SoupServerMessage *msg, const char *path)
{
  static const struct {
    const char *suffix, *type;
  } types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".svg", "image/svg+xml" },
  };
  g_autofree char *rpath = NULL;
  g_autoptr (GBytes) bytes = NULL;
  const char *type = NULL;

  if (g_str_equal (path, "/"))
    path = "/index.html";
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    if (g_str_has_suffix (path, types[i].suffix))
      type = types[i].type;
  rpath = g_strconcat ("/org/banger/web", path, NULL);
  if (type != NULL && strstr (path, "..") == NULL)
    bytes = g_resources_lookup_data (rpath, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  if (bytes == NULL)
    {
      bgrd_web_error (msg, SOUP_STATUS_NOT_FOUND, "NotFound", "no such page");
      return;
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY, g_bytes_get_data (bytes, NULL),
                                    g_bytes_get_size (bytes));
}
