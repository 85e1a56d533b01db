/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Firecracker driver's REST client: HTTP/1.1 requests written by hand
 * on one keep-alive connection to the API unix socket. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "bgr-error-private.h"
#include "vmm/bgr-vmm-firecracker-api.h"
#include "vmm/bgr-vmm-private.h"

#define API_IO_TIMEOUT_S 10          /* per read/write on the API socket */
#define MAX_RESPONSE_BODY (1024 * 1024)
#define MAX_HEADER_LINES 100

/* ---- The API client ---- */

void
fc_api_close (FcApi *api)
{
  g_clear_object (&api->in);
  if (api->conn != NULL)
    g_io_stream_close (G_IO_STREAM (api->conn), NULL, NULL);
  g_clear_object (&api->conn);
}

gboolean
fc_api_open (FcApi *api, const char *socket_path, gint pid, gint timeout_ms,
             GCancellable *cancellable, GError **error)
{
  api->socket_path = socket_path;
  api->conn = bgr_vmm_connect_unix (socket_path, pid, timeout_ms, cancellable, error);
  if (api->conn == NULL)
    return FALSE;
  g_socket_set_timeout (g_socket_connection_get_socket (api->conn), API_IO_TIMEOUT_S);
  api->in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (api->conn)));
  g_data_input_stream_set_newline_type (api->in, G_DATA_STREAM_NEWLINE_TYPE_LF);
  return TRUE;
}

/* One line of the response head, without its CR LF. */
static char *
read_head_line (FcApi *api, GCancellable *cancellable, GError **error)
{
  GError *local = NULL;
  gsize len = 0;
  char *line = g_data_input_stream_read_line (api->in, &len, cancellable, &local);

  if (line == NULL)
    {
      if (local != NULL)
        bgr_propagate_error (error, local, "reading from firecracker's API socket %s",
                             api->socket_path);
      else
        g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                     "firecracker closed its API connection (%s) without an answer",
                     api->socket_path);
      return NULL;
    }
  if (len > 0 && line[len - 1] == '\r')
    line[len - 1] = '\0';
  return line;
}

/* Sends one request and reads its response. @body is JSON or NULL. */
static gboolean
fc_api_call (FcApi *api, const char *method, const char *path, const char *body, guint *status,
             char **response, GCancellable *cancellable, GError **error)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (api->conn));
  g_autoptr (GString) req = g_string_new (NULL);
  g_autofree char *status_line = NULL;
  g_autofree char *resp = NULL;
  gint64 content_length = -1;
  gboolean chunked = FALSE;
  GError *local = NULL;
  const char *p;
  char *end;
  guint64 code;

  g_string_append_printf (req, "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n",
                          method, path);
  if (body != NULL)
    g_string_append_printf (req, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                            strlen (body));
  g_string_append (req, "\r\n");
  if (body != NULL)
    g_string_append (req, body);
  if (!g_output_stream_write_all (out, req->str, req->len, NULL, cancellable, &local))
    {
      bgr_propagate_error (error, local, "sending %s %s to firecracker", method, path);
      return FALSE;
    }

  status_line = read_head_line (api, cancellable, error);
  if (status_line == NULL)
    return FALSE;
  /* "HTTP/1.1 204 No Content" (the reason may be empty). */
  p = status_line;
  if (!g_str_has_prefix (p, "HTTP/1.") || strlen (p) < 12 || p[8] != ' ')
    goto bad_head;
  code = g_ascii_strtoull (p + 9, &end, 10);
  if (end != p + 12 || code < 100 || code > 599 || (*end != ' ' && *end != '\0'))
    goto bad_head;

  for (guint i = 0;; i++)
    {
      g_autofree char *line = read_head_line (api, cancellable, error);
      char *colon;

      if (line == NULL)
        return FALSE;
      if (*line == '\0')
        break;
      if (i >= MAX_HEADER_LINES || (colon = strchr (line, ':')) == NULL)
        goto bad_head;
      *colon = '\0';
      g_strstrip (colon + 1);
      if (g_ascii_strcasecmp (line, "Content-Length") == 0)
        {
          if (!g_ascii_string_to_signed (colon + 1, 10, 0, MAX_RESPONSE_BODY, &content_length,
                                         NULL))
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                           "firecracker answered %s %s with a bad or too large Content-Length",
                           method, path);
              return FALSE;
            }
        }
      else if (g_ascii_strcasecmp (line, "Transfer-Encoding") == 0)
        chunked = TRUE;
    }

  if (code / 100 == 1 || code == 204 || code == 304)
    resp = g_strdup ("");
  else if (chunked)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                   "firecracker answered %s %s with a chunked body, which it never sends",
                   method, path);
      return FALSE;
    }
  else if (content_length >= 0)
    {
      gsize got = 0;
      resp = g_malloc (content_length + 1);
      if (!g_input_stream_read_all (G_INPUT_STREAM (api->in), resp, content_length, &got,
                                    cancellable, &local))
        {
          bgr_propagate_error (error, local, "reading firecracker's answer to %s %s", method,
                               path);
          return FALSE;
        }
      if (got != (gsize) content_length)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                       "firecracker's answer to %s %s ends after %zu of %" G_GINT64_FORMAT
                       " bytes", method, path, got, content_length);
          return FALSE;
        }
      resp[got] = '\0';
    }
  else
    {
      /* No length: the body runs to the end of the connection. */
      g_autoptr (GByteArray) all = g_byte_array_new ();
      guint8 buf[4096];
      gssize n;

      while ((n = g_input_stream_read (G_INPUT_STREAM (api->in), buf, sizeof buf, cancellable,
                                       &local)) > 0)
        {
          if (all->len + n > MAX_RESPONSE_BODY)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                           "firecracker's answer to %s %s is too large", method, path);
              return FALSE;
            }
          g_byte_array_append (all, buf, n);
        }
      if (n < 0)
        {
          bgr_propagate_error (error, local, "reading firecracker's answer to %s %s", method,
                               path);
          return FALSE;
        }
      g_byte_array_append (all, (const guint8 *) "", 1);
      resp = (char *) g_byte_array_free (g_steal_pointer (&all), FALSE);
    }
  *status = (guint) code;
  if (response != NULL)
    *response = g_steal_pointer (&resp);
  return TRUE;

bad_head:
  g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
               "firecracker answered %s %s with a malformed HTTP response (%s)", method, path,
               status_line);
  return FALSE;
}

/* Firecracker's errors are {"fault_message": "..."}. */
static char *
fault_message (const char *body)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (body != NULL && json_parser_load_from_data (parser, body, -1, NULL)
      && (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
    {
      const char *msg
        = json_object_get_string_member_with_default (json_node_get_object (root), "fault_message",
                                                      NULL);
      if (msg != NULL)
        return g_strdup (msg);
    }
  if (body == NULL || *body == '\0')
    return g_strdup ("no reason given");
  return g_utf8_make_valid (body, MIN (strlen (body), 512));
}

/* PUT/PATCH with a JSON object body; anything but 2xx is an error that
 * names the request and quotes Firecracker's fault_message. Takes @body. */
gboolean
fc_api_send (FcApi *api, const char *method, const char *path, JsonObject *body,
             GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), body);
  g_autofree char *json = NULL;
  g_autofree char *resp = NULL;
  guint status = 0;

  json_object_unref (body);
  json = json_to_string (node, FALSE);
  g_debug ("firecracker: %s %s %s", method, path, json);
  if (!fc_api_call (api, method, path, json, &status, &resp, cancellable, error))
    return FALSE;
  if (status / 100 != 2)
    {
      g_autofree char *fault = fault_message (resp);
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "firecracker refused %s %s (HTTP %u): %s",
                   method, path, status, fault);
      return FALSE;
    }
  return TRUE;
}
