/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry client's HTTP: requests with retries and backoff, bounded
 * bodies, the Authorization header set for the registry's own origin only
 * (every send decides afresh, redirects included), and redirects that
 * would downgrade the transport refused. */
#include "config.h"

#include <string.h>

#include "bgr-error-private.h"
#include "bgr-escape-private.h"
#include "oci/bgr-oci-client-private.h"

#define ERROR_BODY_MAX_SIZE (64 * 1024)
#define MAX_ATTEMPTS 4
/* Doubled after each failed attempt: 250 ms, 500 ms, 1 s. */
#define BACKOFF_MS 250

void
bgr_oci_msg_auth_free (BgrOciMsgAuth *a)
{
  g_uri_unref (a->origin);
  g_free (a->value);
  g_free (a);
}

void
bgr_oci_response_clear (BgrOciResponse *resp)
{
  g_clear_pointer (&resp->reason, g_free);
  g_clear_pointer (&resp->content_type, g_free);
  g_clear_pointer (&resp->docker_digest, g_free);
  g_clear_pointer (&resp->www_authenticate, g_free);
  g_clear_pointer (&resp->body, g_bytes_unref);
  resp->status = 0;
}

static int
effective_port (GUri *uri)
{
  int port = g_uri_get_port (uri);

  if (port > 0)
    return port;
  return g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0 ? 443 : 80;
}

static gboolean
same_origin (GUri *a, GUri *b)
{
  return g_ascii_strcasecmp (g_uri_get_scheme (a), g_uri_get_scheme (b)) == 0
         && g_ascii_strcasecmp (g_uri_get_host (a), g_uri_get_host (b)) == 0
         && effective_port (a) == effective_port (b);
}

static void
on_message_starting (SoupMessage *msg, gpointer user_data)
{
  BgrOciRegistry *r = user_data;
  BgrOciMsgAuth *a = g_object_get_data (G_OBJECT (msg), "bgr-oci-auth");
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);
  g_autofree char *value = NULL;
  GUri *origin;

  if (a != NULL)
    {
      origin = a->origin;
      value = g_strdup (a->value);
    }
  else
    {
      origin = r->origin;
      g_mutex_lock (&r->lock);
      value = g_strdup (r->authorization);
      g_mutex_unlock (&r->lock);
    }
  /* Every send, redirects included, decides afresh. */
  soup_message_headers_remove (headers, "Authorization");
  if (value != NULL && same_origin (soup_message_get_uri (msg), origin))
    soup_message_headers_replace (headers, "Authorization", value);
}

gboolean
bgr_oci_redirect_allowed (GUri *from, GUri *to, gboolean insecure, const char **why)
{
  const char *scheme = g_uri_get_scheme (to);
  const char *host = g_uri_get_host (to) != NULL ? g_uri_get_host (to) : "";
  /* GUri gives IPv6 hosts without their brackets. */
  g_autofree char *registry = strchr (host, ':') != NULL ? g_strdup_printf ("[%s]", host)
                                                         : g_strdup (host);

  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
    *why = "not http or https";
  else if (g_ascii_strcasecmp (scheme, "http") != 0)
    return TRUE;
  else if (g_ascii_strcasecmp (g_uri_get_scheme (from), "https") == 0)
    *why = "from https to plain http";
  else if (!insecure && !bgr_oci_registry_is_loopback (registry))
    *why = "plain http to a host that is not on loopback";
  else
    return TRUE;
  return FALSE;
}

/* Before libsoup follows a redirect: refuse the downgrades above. */
static void
on_got_headers (SoupMessage *msg, gpointer user_data)
{
  BgrOciRegistry *r = user_data;
  const char *location, *why = NULL;
  g_autoptr (GUri) to = NULL;
  g_autofree char *shown = NULL;

  if (!SOUP_STATUS_IS_REDIRECTION (soup_message_get_status (msg)))
    return;
  location = soup_message_headers_get_one (soup_message_get_response_headers (msg), "Location");
  if (location == NULL)
    return;
  to = g_uri_parse_relative (soup_message_get_uri (msg), location, SOUP_HTTP_URI_FLAGS, NULL);
  if (to == NULL
      || bgr_oci_redirect_allowed (soup_message_get_uri (msg), to, (r->flags & BGR_OCI_INSECURE) != 0,
                                   &why))
    return;
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  shown = bgr_escape (location, 300, BGR_ESCAPE_DEFAULT);
  g_object_set_data_full (G_OBJECT (msg), BGR_DOWNLOAD_REFUSED_REDIRECT,
                          g_strdup_printf ("refusing the redirect to %s (%s)", shown, why), g_free);
}

static void
on_request_queued (SoupSession *session, SoupMessage *msg, gpointer user_data)
{
  g_signal_connect (msg, "starting", G_CALLBACK (on_message_starting), user_data);
  g_signal_connect (msg, "got-headers", G_CALLBACK (on_got_headers), user_data);
}

void
bgr_oci_http_watch_session (BgrOciRegistry *r)
{
  g_signal_connect (r->session, "request-queued", G_CALLBACK (on_request_queued), r);
}


/* Worth another try: the peer went away or is restarting. A timeout is
 * not (the caller already waited the whole timeout). */
static gboolean
transport_error_is_transient (const GError *e)
{
  return g_error_matches (e, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)
         || g_error_matches (e, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE)
         || g_error_matches (e, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT)
         || g_error_matches (e, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

static gboolean
status_is_transient (guint status)
{
  return SOUP_STATUS_IS_SERVER_ERROR (status) || status == SOUP_STATUS_REQUEST_TIMEOUT
         || status == 429;
}

/* Reads at most @max bytes; more is an error when @strict, else cut off
 * (error bodies are only for messages). */
static GBytes *
read_body (GInputStream *in, gsize max, gboolean strict, const char *url,
           GCancellable *cancellable, GError **error)
{
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  guint8 chunk[16384];

  for (;;)
    {
      GError *local = NULL;
      gssize n = g_input_stream_read (in, chunk, sizeof chunk, cancellable, &local);

      if (n < 0)
        {
          /* Passed on as it is: the caller decides whether to retry. */
          g_propagate_error (error, local);
          return NULL;
        }
      if (n == 0)
        break;
      if (buf->len + (gsize) n > max)
        {
          if (!strict)
            {
              g_byte_array_append (buf, chunk, (guint) (max - buf->len));
              break;
            }
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                       "%s: the response is larger than the %zu bytes allowed", url, max);
          return NULL;
        }
      g_byte_array_append (buf, chunk, (guint) n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&buf));
}

/* One request, repeated on transient failures. A final HTTP error status
 * is not an error here: it comes back in @resp for the caller to map. */
gboolean
bgr_oci_http_send (BgrOciRegistry *r, const char *method, const char *url, const char *accept,
           BgrOciMsgAuth *explicit_auth, gsize max_size, BgrOciResponse *resp, GCancellable *cancellable,
           GError **error)
{
  for (guint attempt = 1;; attempt++)
    {
      g_autoptr (SoupMessage) msg = soup_message_new (method, url);
      g_autoptr (GInputStream) in = NULL;
      g_autoptr (GError) local = NULL;
      SoupMessageHeaders *headers;
      const char *ct;

      if (msg == NULL)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "invalid URL %s", url);
          return FALSE;
        }
      if (accept != NULL)
        soup_message_headers_replace (soup_message_get_request_headers (msg), "Accept", accept);
      if (explicit_auth != NULL)
        {
          BgrOciMsgAuth *copy = g_new0 (BgrOciMsgAuth, 1);
          copy->origin = g_uri_ref (explicit_auth->origin);
          copy->value = g_strdup (explicit_auth->value);
          g_object_set_data_full (G_OBJECT (msg), "bgr-oci-auth", copy, (GDestroyNotify) bgr_oci_msg_auth_free);
        }
      bgr_oci_response_clear (resp);
      in = soup_session_send (r->session, msg, cancellable, &local);
      if (in != NULL && g_object_get_data (G_OBJECT (msg), BGR_DOWNLOAD_REFUSED_REDIRECT) != NULL)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "%s: %s", url,
                       (const char *) g_object_get_data (G_OBJECT (msg), BGR_DOWNLOAD_REFUSED_REDIRECT));
          return FALSE;
        }
      if (in != NULL)
        {
          resp->status = soup_message_get_status (msg);
          headers = soup_message_get_response_headers (msg);
          if (SOUP_STATUS_IS_SUCCESSFUL (resp->status))
            resp->body = read_body (in, max_size, TRUE, url, cancellable, &local);
          else
            resp->body = read_body (in, ERROR_BODY_MAX_SIZE, FALSE, url, cancellable, &local);
          g_input_stream_close (in, NULL, NULL);
          resp->reason = g_strdup (soup_message_get_reason_phrase (msg));
          ct = soup_message_headers_get_content_type (headers, NULL);
          resp->content_type = g_strdup (ct);
          resp->docker_digest = g_strdup (soup_message_headers_get_one (headers, "Docker-Content-Digest"));
          resp->www_authenticate = g_strdup (soup_message_headers_get_one (headers, "WWW-Authenticate"));
          /* Too large: no retry will make it smaller. */
          if (resp->body == NULL && local->domain == BGR_ERROR)
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return FALSE;
            }
          if (resp->body != NULL && !(status_is_transient (resp->status) && attempt < MAX_ATTEMPTS))
            return TRUE;
        }
      if (local != NULL && (attempt == MAX_ATTEMPTS || !transport_error_is_transient (local)))
        {
          bgr_propagate_soup_error (error, g_steal_pointer (&local), url);
          return FALSE;
        }
      g_debug ("%s %s: %s (attempt %u of %d); retrying", method, url,
               local != NULL ? local->message : soup_status_get_phrase (resp->status), attempt,
               MAX_ATTEMPTS);
      if (!bgr_sleep_cancellable (BACKOFF_MS << (attempt - 1), cancellable))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_CANCELLED, "%s: Operation was cancelled", url);
          return FALSE;
        }
    }
}
