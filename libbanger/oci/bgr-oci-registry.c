/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A read-only client for one repository of a registry speaking the
 * distribution API v2 (Docker Hub, ghcr.io, quay.io, `docker-registry`).
 *
 * Authentication: requests go out anonymously; a 401 answers with a
 * challenge, and the request is repeated once with what it asks for: a
 * Bearer token from the challenge's realm (fetched with the user's basic
 * credentials when an auth file has some) or the basic credentials
 * themselves. The resulting Authorization value is kept for the following
 * requests, and is only ever sent to the registry's own origin: the
 * "starting" handler sets or strips it on every send, so a redirect of a
 * blob to a CDN or object store never carries it along.
 *
 * Redirects are followed (by libsoup) unless they downgrade the transport:
 * from https to plain http, or to plain http on a host that is not on
 * loopback (without BGR_OCI_INSECURE); see bgr_oci_redirect_allowed(). */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bgr-error-private.h"
#include "bgr-escape-private.h"
#include "bgr-sha256-private.h"
#include "oci/bgr-oci-private.h"

#define MANIFEST_MAX_SIZE (4 * 1024 * 1024) /* what containerd and distribution allow */
#define CONFIG_MAX_SIZE (8 * 1024 * 1024)
#define TOKEN_MAX_SIZE (1024 * 1024)
#define ERROR_BODY_MAX_SIZE (64 * 1024)
#define MAX_ATTEMPTS 4
/* Doubled after each failed attempt: 250 ms, 500 ms, 1 s. */
#define BACKOFF_MS 250
/* How often a pull waiting for another one's download of a blob looks. */
#define BUSY_POLL_MS 100

#define MANIFEST_ACCEPT                                                                   \
  BGR_OCI_MEDIA_TYPE_INDEX ", " BGR_OCI_MEDIA_TYPE_MANIFEST ", " BGR_DOCKER_MEDIA_TYPE_LIST \
  ", " BGR_DOCKER_MEDIA_TYPE_MANIFEST

struct _BgrOciRegistry {
  BgrOciRef ref;
  guint flags;
  char *base;    /* "http://127.0.0.1:5000" */
  GUri *origin;  /* the same, parsed */
  char *display; /* the reference, for messages */
  SoupSession *session;

  GMutex lock;
  /* Under lock: */
  char *authorization;   /* "Bearer …" / "Basic …" for the registry's origin */
  gboolean creds_loaded;
  char *user;
  char *password;
  char *cred_source;     /* the auth file they came from */

  char *cache_dir;       /* where verified blobs live, or NULL */
};

/* Set on a message that must carry other credentials than the registry's
 * (a token request to the realm): the value, and the origin it is for. */
typedef struct {
  GUri *origin;
  char *value;
} MsgAuth;

static void
msg_auth_free (MsgAuth *a)
{
  g_uri_unref (a->origin);
  g_free (a->value);
  g_free (a);
}

typedef struct {
  guint status;
  char *reason;
  char *content_type; /* without parameters */
  char *docker_digest;
  char *www_authenticate;
  GBytes *body;
} Response;

static void
response_clear (Response *resp)
{
  g_clear_pointer (&resp->reason, g_free);
  g_clear_pointer (&resp->content_type, g_free);
  g_clear_pointer (&resp->docker_digest, g_free);
  g_clear_pointer (&resp->www_authenticate, g_free);
  g_clear_pointer (&resp->body, g_bytes_unref);
  resp->status = 0;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Response, response_clear)

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
  MsgAuth *a = g_object_get_data (G_OBJECT (msg), "bgr-oci-auth");
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

BgrOciRegistry *
bgr_oci_registry_new (const BgrOciRef *ref, guint flags, GError **error)
{
  g_autoptr (BgrOciRegistry) r = g_new0 (BgrOciRegistry, 1);
  gboolean loopback;

  g_return_val_if_fail (ref != NULL && ref->registry != NULL && ref->repository != NULL, NULL);
  g_return_val_if_fail (ref->tag != NULL || ref->digest != NULL, NULL);

  g_mutex_init (&r->lock);
  r->flags = flags;
  r->ref.registry = g_strdup (ref->registry);
  r->ref.repository = g_strdup (ref->repository);
  r->ref.tag = g_strdup (ref->tag);
  r->ref.digest = g_strdup (ref->digest);
  r->display = bgr_oci_ref_to_string (ref);
  loopback = bgr_oci_registry_is_loopback (ref->registry);
  /* Plain http only where nobody can listen in (loopback), or when the
   * user asked for it: anything else would let a network attacker swap
   * images or read credentials. */
  r->base = g_strdup_printf ("%s://%s", loopback || (flags & BGR_OCI_INSECURE) ? "http" : "https",
                             ref->registry);
  r->origin = g_uri_parse (r->base, SOUP_HTTP_URI_FLAGS, NULL);
  if (r->origin == NULL || g_uri_get_host (r->origin) == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "invalid registry '%s'",
                   ref->registry);
      return NULL;
    }
  r->session = bgr_download_session_new ();
  /* 401s come back to us: we answer registry challenges ourselves. */
  soup_session_remove_feature_by_type (r->session, SOUP_TYPE_AUTH_MANAGER);
  g_signal_connect (r->session, "request-queued", G_CALLBACK (on_request_queued), r);
  return g_steal_pointer (&r);
}

void
bgr_oci_registry_free (BgrOciRegistry *r)
{
  if (r == NULL)
    return;
  if (r->session != NULL)
    {
      g_signal_handlers_disconnect_by_data (r->session, r);
      g_object_unref (r->session);
    }
  bgr_oci_ref_clear (&r->ref);
  g_free (r->cache_dir);
  g_free (r->base);
  g_clear_pointer (&r->origin, g_uri_unref);
  g_free (r->display);
  g_free (r->authorization);
  g_free (r->user);
  if (r->password != NULL)
    memset (r->password, 0, strlen (r->password));
  g_free (r->password);
  g_free (r->cred_source);
  g_mutex_clear (&r->lock);
  g_free (r);
}

const char *
bgr_oci_registry_get_base_url (BgrOciRegistry *r)
{
  return r->base;
}

void
bgr_oci_image_free (BgrOciImage *img)
{
  if (img == NULL)
    return;
  g_free (img->digest);
  g_free (img->media_type);
  g_free (img->ref_digest);
  g_clear_pointer (&img->layers, g_ptr_array_unref);
  g_clear_pointer (&img->config, json_object_unref);
  g_free (img->config_digest);
  g_free (img);
}

const char *
bgr_oci_image_get_diff_id (const BgrOciImage *img, guint i)
{
  JsonObject *rootfs = json_object_get_object_member (img->config, "rootfs");
  JsonArray *ids = json_object_get_array_member (rootfs, "diff_ids");

  g_return_val_if_fail (i < json_array_get_length (ids), NULL);
  return json_array_get_string_element (ids, i);
}

/* ---- HTTP with retries ---- */


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
static gboolean
http_send (BgrOciRegistry *r, const char *method, const char *url, const char *accept,
           MsgAuth *explicit_auth, gsize max_size, Response *resp, GCancellable *cancellable,
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
          MsgAuth *copy = g_new0 (MsgAuth, 1);
          copy->origin = g_uri_ref (explicit_auth->origin);
          copy->value = g_strdup (explicit_auth->value);
          g_object_set_data_full (G_OBJECT (msg), "bgr-oci-auth", copy, (GDestroyNotify) msg_auth_free);
        }
      response_clear (resp);
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

/* The first entry of a distribution error body, {"errors":[{"code":…,
 * "message":…}]}, as "CODE: message"; NULL when there is none. */
static char *
registry_error_text (GBytes *body)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root, *errors;
  JsonObject *first;
  gsize len;
  const char *data;

  if (body == NULL)
    return NULL;
  data = g_bytes_get_data (body, &len);
  if (len == 0 || !json_parser_load_from_data (parser, data, (gssize) len, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  errors = json_object_get_member (json_node_get_object (root), "errors");
  if (errors == NULL || !JSON_NODE_HOLDS_ARRAY (errors)
      || json_array_get_length (json_node_get_array (errors)) == 0)
    return NULL;
  root = json_array_get_element (json_node_get_array (errors), 0);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  first = json_node_get_object (root);
  return g_strdup_printf ("%s: %s", json_object_get_string_member_with_default (first, "code", "?"),
                          json_object_get_string_member_with_default (first, "message", ""));
}

static void
load_credentials (BgrOciRegistry *r, GError **error)
{
  g_autofree char *user = NULL;
  g_autofree char *password = NULL;
  g_autofree char *source = NULL;

  g_mutex_lock (&r->lock);
  if (r->creds_loaded || (r->flags & BGR_OCI_NO_CREDENTIALS))
    {
      g_mutex_unlock (&r->lock);
      return;
    }
  g_mutex_unlock (&r->lock);
  if (!bgr_oci_auth_lookup (r->ref.registry, r->ref.repository, &user, &password, &source, error))
    return;
  g_mutex_lock (&r->lock);
  if (!r->creds_loaded)
    {
      r->creds_loaded = TRUE;
      r->user = g_steal_pointer (&user);
      r->password = g_steal_pointer (&password);
      r->cred_source = g_steal_pointer (&source);
    }
  g_mutex_unlock (&r->lock);
}

static char *
basic_value (const char *user, const char *password)
{
  g_autofree char *pair = g_strdup_printf ("%s:%s", user, password);
  g_autofree char *b64 = g_base64_encode ((const guchar *) pair, strlen (pair));

  memset (pair, 0, strlen (pair));
  return g_strdup_printf ("Basic %s", b64);
}

static gboolean
fetch_token (BgrOciRegistry *r, GHashTable *params, const char *basic, GCancellable *cancellable,
             GError **error)
{
  const char *realm = g_hash_table_lookup (params, "realm");
  const char *service = g_hash_table_lookup (params, "service");
  const char *scope = g_hash_table_lookup (params, "scope");
  g_autofree char *default_scope = NULL;
  g_autoptr (GUri) realm_uri = NULL;
  g_autoptr (GString) url = NULL;
  g_auto (Response) resp = { 0 };
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  MsgAuth auth;
  JsonNode *root;
  const char *token = NULL;
  gsize len;
  const char *data;

  if (realm == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                   "%s: the Bearer challenge has no realm", r->display);
      return FALSE;
    }
  realm_uri = g_uri_parse (realm, SOUP_HTTP_URI_FLAGS, NULL);
  if (realm_uri == NULL || g_uri_get_host (realm_uri) == NULL
      || (g_ascii_strcasecmp (g_uri_get_scheme (realm_uri), "https") != 0
          && g_ascii_strcasecmp (g_uri_get_scheme (realm_uri), "http") != 0))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "%s: invalid token realm '%s'",
                   r->display, realm);
      return FALSE;
    }
  /* Credentials over plain http to a remote host: refuse, the same rule
   * as for the registry itself. */
  if (g_ascii_strcasecmp (g_uri_get_scheme (realm_uri), "http") == 0
      && !bgr_oci_registry_is_loopback (g_uri_get_host (realm_uri))
      && !(r->flags & BGR_OCI_INSECURE))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED,
                   "%s: the registry sends for tokens to %s over plain http; refusing (allow "
                   "insecure registries to accept this)", r->display, realm);
      return FALSE;
    }
  if (scope == NULL)
    scope = default_scope = g_strdup_printf ("repository:%s:pull", r->ref.repository);
  url = g_string_new (realm);
  g_string_append_c (url, strchr (realm, '?') != NULL ? '&' : '?');
  if (service != NULL)
    {
      g_string_append (url, "service=");
      g_string_append_uri_escaped (url, service, NULL, FALSE);
      g_string_append_c (url, '&');
    }
  g_string_append (url, "scope=");
  g_string_append_uri_escaped (url, scope, NULL, FALSE);

  auth.origin = realm_uri;
  auth.value = (char *) basic;
  if (!http_send (r, SOUP_METHOD_GET, url->str, "application/json", &auth, TOKEN_MAX_SIZE, &resp,
                  cancellable, error))
    return FALSE;
  if (resp.status == SOUP_STATUS_UNAUTHORIZED || resp.status == SOUP_STATUS_FORBIDDEN)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED,
                   "%s: the token service %s refused %s (HTTP %u)", r->display, realm,
                   basic != NULL ? "the credentials" : "anonymous access", resp.status);
      return FALSE;
    }
  if (!SOUP_STATUS_IS_SUCCESSFUL (resp.status))
    {
      bgr_set_error_from_http_status (error, resp.status, resp.reason, realm);
      return FALSE;
    }
  data = g_bytes_get_data (resp.body, &len);
  if (len > 0 && json_parser_load_from_data (parser, data, (gssize) len, NULL)
      && (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
    {
      JsonObject *obj = json_node_get_object (root);
      /* "token" is Docker's name, "access_token" OAuth2's; both are sent. */
      token = json_object_get_string_member_with_default (obj, "token", NULL);
      if (token == NULL || *token == '\0')
        token = json_object_get_string_member_with_default (obj, "access_token", NULL);
    }
  if (token == NULL || *token == '\0')
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "%s: the token service %s sent no token",
                   r->display, realm);
      return FALSE;
    }
  g_mutex_lock (&r->lock);
  g_free (r->authorization);
  r->authorization = g_strdup_printf ("Bearer %s", token);
  g_mutex_unlock (&r->lock);
  return TRUE;
}

/* Answers a 401's challenge; afterwards the request can be sent again. */
static gboolean
authenticate (BgrOciRegistry *r, const Response *resp, GCancellable *cancellable, GError **error)
{
  g_autoptr (GHashTable) params = NULL;
  g_autofree char *scheme = NULL;
  g_autofree char *basic = NULL;
  g_autofree char *source = NULL;
  g_autoptr (GError) cred_error = NULL;

  /* Credentials that cannot be had (a broken auth file, a failing
   * helper) are no failure yet: the image may well be public. Should the
   * registry insist, its error says why there were none. */
  load_credentials (r, &cred_error);
  if (cred_error != NULL)
    g_info ("%s", cred_error->message);
  g_mutex_lock (&r->lock);
  if (r->user != NULL)
    basic = basic_value (r->user, r->password);
  source = g_strdup (r->cred_source);
  g_mutex_unlock (&r->lock);

  if (resp->www_authenticate != NULL)
    scheme = bgr_oci_auth_parse_challenge (resp->www_authenticate, &params);
  if (g_strcmp0 (scheme, "bearer") == 0)
    {
      if (fetch_token (r, params, basic, cancellable, error))
        return TRUE;
      if (cred_error != NULL)
        g_prefix_error (error, "%s; ", cred_error->message);
      return FALSE;
    }
  if (g_strcmp0 (scheme, "basic") == 0)
    {
      if (basic == NULL)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED,
                       "%s: the registry requires a login, and no credentials for %s were found "
                       "(in $REGISTRY_AUTH_FILE or ~/.docker/config.json)%s%s", r->display,
                       r->ref.registry, cred_error != NULL ? ": " : "",
                       cred_error != NULL ? cred_error->message : "");
          return FALSE;
        }
      g_mutex_lock (&r->lock);
      g_free (r->authorization);
      r->authorization = g_steal_pointer (&basic);
      g_mutex_unlock (&r->lock);
      return TRUE;
    }
  g_set_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED,
               "%s: access denied (HTTP 401, authentication scheme %s is not supported)",
               r->display, resp->www_authenticate != NULL ? resp->www_authenticate : "(none)");
  return FALSE;
}

/* A request to the registry (@path starts with "/v2/"), authenticating
 * when challenged and mapping failures; @what names the object for
 * messages. Only 2xx returns TRUE. */
static gboolean
registry_request (BgrOciRegistry *r, const char *method, const char *path, const char *accept,
                  gsize max_size, const char *what, Response *resp, GCancellable *cancellable,
                  GError **error)
{
  g_autofree char *url = g_strconcat (r->base, path, NULL);
  g_autofree char *detail = NULL;
  gboolean answered = FALSE;

  for (;;)
    {
      if (!http_send (r, method, url, accept, NULL, max_size, resp, cancellable, error))
        return FALSE;
      if (resp->status != SOUP_STATUS_UNAUTHORIZED || answered)
        break;
      if (!authenticate (r, resp, cancellable, error))
        return FALSE;
      answered = TRUE;
    }
  if (SOUP_STATUS_IS_SUCCESSFUL (resp->status))
    return TRUE;

  detail = registry_error_text (resp->body);
  if (resp->status == SOUP_STATUS_UNAUTHORIZED || resp->status == SOUP_STATUS_FORBIDDEN)
    {
      g_autofree char *source = NULL;

      g_mutex_lock (&r->lock);
      source = g_strdup (r->cred_source);
      g_mutex_unlock (&r->lock);
      g_set_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED,
                   "%s: access denied (HTTP %u%s%s)%s%s", what, resp->status,
                   detail != NULL ? ", " : "", detail != NULL ? detail : "",
                   source != NULL ? "; credentials from " : "", source != NULL ? source : "");
      return FALSE;
    }
  if (resp->status == SOUP_STATUS_NOT_FOUND || resp->status == SOUP_STATUS_GONE)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "%s: not found%s%s%s", what,
                   detail != NULL ? " (" : "", detail != NULL ? detail : "",
                   detail != NULL ? ")" : "");
      return FALSE;
    }
  bgr_set_error_from_http_status (error, resp->status, resp->reason, url);
  if (detail != NULL)
    g_prefix_error (error, "%s: ", what);
  return FALSE;
}

/* ---- manifests and configs ---- */

static char *
sha256_digest (GBytes *data)
{
  gsize len = 0;
  const void *bytes = g_bytes_get_data (data, &len);
  g_autofree char *hex = bgr_sha256_hex (bytes, len);
  return g_strconcat ("sha256:", hex, NULL);
}

/* Verifies @body against what was asked for (@expected_digest may be
 * NULL when pulling by tag) and what the registry claims. */
static gboolean
verify_content (const char *what, GBytes *body, const char *expected_digest, gint64 expected_size,
                const char *claimed_digest, char **out_digest, GError **error)
{
  g_autofree char *actual = sha256_digest (body);

  if (expected_size >= 0 && g_bytes_get_size (body) != (gsize) expected_size)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s: size mismatch: expected %" G_GINT64_FORMAT " bytes, got %zu", what,
                   expected_size, g_bytes_get_size (body));
      return FALSE;
    }
  if (expected_digest != NULL && !g_str_has_prefix (expected_digest, "sha256:"))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "%s: cannot verify digest %s: only sha256 is supported", what, expected_digest);
      return FALSE;
    }
  if (expected_digest != NULL && strcmp (actual, expected_digest) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s: digest mismatch: expected %s, got %s", what, expected_digest, actual);
      return FALSE;
    }
  /* By tag nothing else vouches for the content; a registry that
   * announces one digest and sends other bytes is not trusted either. */
  if (claimed_digest != NULL && g_str_has_prefix (claimed_digest, "sha256:")
      && strcmp (actual, claimed_digest) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s: digest mismatch: the registry announced %s, the content is %s", what,
                   claimed_digest, actual);
      return FALSE;
    }
  if (out_digest != NULL)
    *out_digest = g_steal_pointer (&actual);
  return TRUE;
}

static BgrOciManifest *
fetch_manifest (BgrOciRegistry *r, const char *reference, const char *expected_digest,
                gint64 expected_size, const char *expected_type, const char *what,
                char **out_digest, GCancellable *cancellable, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/v2/%s/manifests/%s", r->ref.repository, reference);
  g_auto (Response) resp = { 0 };
  BgrOciManifest *m;

  if (!registry_request (r, SOUP_METHOD_GET, path, MANIFEST_ACCEPT, MANIFEST_MAX_SIZE, what, &resp,
                         cancellable, error))
    return NULL;
  if (!verify_content (what, resp.body, expected_digest, expected_size, resp.docker_digest,
                       out_digest, error))
    return NULL;
  /* The descriptor that led here decides what the document must be; a
   * registry's Content-Type only when nothing else does. */
  m = bgr_oci_manifest_parse (resp.body, expected_type != NULL ? expected_type : resp.content_type,
                              error);
  if (m == NULL)
    g_prefix_error (error, "%s: manifest: ", what);
  return m;
}

static gboolean
layer_type_is_supported (const char *t)
{
  static const char *const types[] = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    if (strcmp (t, types[i]) == 0)
      return TRUE;
  return FALSE;
}

static void
entry_free (BgrOciIndexEntry *e)
{
  g_free (e->os);
  g_free (e->architecture);
  g_free (e->variant);
  g_free (e);
}

/* The image's own platform must be the one asked for: a single-platform
 * tag says nothing about its architecture until the config is read. */
static gboolean
check_config_platform (BgrOciRegistry *r, JsonObject *config, const char *platform, GError **error)
{
  g_autoptr (BgrOciManifest) single = g_new0 (BgrOciManifest, 1);
  BgrOciIndexEntry *e = g_new0 (BgrOciIndexEntry, 1);

  /* A one-entry index, so the same matching rules (aliases, variants)
   * and the same "available: …" message apply. */
  single->is_index = TRUE;
  single->manifests = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  e->os = g_strdup (json_object_get_string_member_with_default (config, "os", ""));
  e->architecture = g_strdup (json_object_get_string_member_with_default (config, "architecture", ""));
  e->variant = g_strdup (json_object_get_string_member_with_default (config, "variant", NULL));
  g_ptr_array_add (single->manifests, e);
  if (bgr_oci_manifest_select (single, platform, error) == NULL)
    {
      g_prefix_error (error, "%s: ", r->display);
      return FALSE;
    }
  return TRUE;
}

BgrOciImage *
bgr_oci_registry_resolve (BgrOciRegistry *r, const char *platform, GCancellable *cancellable,
                          GError **error)
{
  g_autofree char *host_platform = NULL;
  g_autoptr (BgrOciManifest) top = NULL;
  g_autoptr (BgrOciManifest) image = NULL;
  g_autoptr (BgrOciImage) img = g_new0 (BgrOciImage, 1);
  g_auto (Response) resp = { 0 };
  g_autofree char *top_digest = NULL;
  g_autofree char *image_digest = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *config_what = NULL;
  JsonNode *diff_ids;
  const char *reference;
  gboolean from_index;

  g_return_val_if_fail (r != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (platform == NULL)
    platform = host_platform = bgr_oci_platform_host ();
  reference = r->ref.digest != NULL ? r->ref.digest : r->ref.tag;
  top = fetch_manifest (r, reference, r->ref.digest, -1, NULL, r->display, &top_digest, cancellable,
                        error);
  if (top == NULL)
    return NULL;

  from_index = top->is_index;
  if (from_index)
    {
      const BgrOciIndexEntry *e = bgr_oci_manifest_select (top, platform, error);
      g_autofree char *what = NULL;

      if (e == NULL)
        {
          g_prefix_error (error, "%s: ", r->display);
          return NULL;
        }
      what = g_strdup_printf ("%s (%s, %s)", r->display, platform, e->desc.digest);
      if (!g_str_has_prefix (e->desc.media_type, "application/vnd.oci.image.manifest")
          && !g_str_has_prefix (e->desc.media_type, "application/vnd.docker.distribution.manifest.v2"))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                       "%s: the index points to a %s, not an image manifest", what,
                       e->desc.media_type);
          return NULL;
        }
      image = fetch_manifest (r, e->desc.digest, e->desc.digest, e->desc.size, e->desc.media_type,
                              what, &image_digest, cancellable, error);
      if (image == NULL)
        return NULL;
      if (image->is_index)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                       "%s: an index entry for an image manifest points to an index", what);
          return NULL;
        }
    }
  else
    {
      image = g_steal_pointer (&top);
      image_digest = g_strdup (top_digest);
    }

  if (strcmp (image->config->media_type, BGR_OCI_MEDIA_TYPE_CONFIG) != 0
      && strcmp (image->config->media_type, BGR_DOCKER_MEDIA_TYPE_CONFIG) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "%s is not a container image (its config is %s)", r->display,
                   image->config->media_type);
      return NULL;
    }
  for (guint i = 0; i < image->layers->len; i++)
    {
      const BgrOciDescriptor *d = image->layers->pdata[i];
      if (!layer_type_is_supported (d->media_type))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                       "%s: layer %u (%s) has media type %s, which is not supported", r->display,
                       i, d->digest, d->media_type);
          return NULL;
        }
    }

  if (image->config->size > CONFIG_MAX_SIZE)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s: the image config is %" G_GINT64_FORMAT " bytes, more than the %d allowed",
                   r->display, image->config->size, CONFIG_MAX_SIZE);
      return NULL;
    }
  config_path = g_strdup_printf ("/v2/%s/blobs/%s", r->ref.repository, image->config->digest);
  config_what = g_strdup_printf ("%s: config %s", r->display, image->config->digest);
  {
    /* The config is a blob like the layers: cached by digest, so a pull
     * whose blobs are all cached fetches only the manifest. */
    g_autofree char *cached = r->cache_dir == NULL || strncmp (image->config->digest, "sha256:", 7) != 0
                                ? NULL
                                : g_build_filename (r->cache_dir, "oci", "blobs", "sha256",
                                                    image->config->digest + 7, NULL);
    g_autofree char *data = NULL;
    gsize len = 0;
    gboolean from_cache = FALSE;

    if (cached != NULL && g_file_get_contents (cached, &data, &len, NULL)
        && len == (gsize) image->config->size)
      {
        g_autoptr (GBytes) bytes = g_bytes_new_take (g_steal_pointer (&data), len);
        /* A cached copy is used only if it still verifies; else refetch. */
        if (verify_content (config_what, bytes, image->config->digest, image->config->size, NULL,
                            NULL, NULL))
          {
            resp.body = g_steal_pointer (&bytes);
            from_cache = TRUE;
          }
        else
          g_unlink (cached);
      }
    if (!from_cache
        && !registry_request (r, SOUP_METHOD_GET, config_path, NULL, (gsize) image->config->size,
                              config_what, &resp, cancellable, error))
      return NULL;
    if (!verify_content (config_what, resp.body, image->config->digest, image->config->size, NULL,
                         NULL, error))
      return NULL;
    if (cached != NULL && !from_cache)
      {
        g_autofree char *dir = g_path_get_dirname (cached);
        gsize blen = 0;
        const char *bdata = g_bytes_get_data (resp.body, &blen);
        /* Best effort: a cache that cannot be written only costs a download. */
        if (g_mkdir_with_parents (dir, 0700) == 0)
          g_file_set_contents (cached, bdata, (gssize) blen, NULL);
      }
  }
  img->config = bgr_oci_config_parse (resp.body, error);
  if (img->config == NULL)
    {
      g_prefix_error (error, "%s: ", r->display);
      return NULL;
    }
  diff_ids = json_object_get_member (json_object_get_object_member (img->config, "rootfs"), "diff_ids");
  if (json_array_get_length (json_node_get_array (diff_ids)) != image->layers->len)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s: the manifest has %u layers but the config lists %u", r->display,
                   image->layers->len, json_array_get_length (json_node_get_array (diff_ids)));
      return NULL;
    }
  for (guint i = 0; i < image->layers->len; i++)
    {
      const char *id = json_array_get_string_element (json_node_get_array (diff_ids), i);
      if (!g_str_has_prefix (id, "sha256:"))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                       "%s: the config's diff_ids[%u] is not a sha256 digest, which is all "
                       "banger can verify", r->display, i);
          return NULL;
        }
    }
  if (!from_index && !check_config_platform (r, img->config, platform, error))
    return NULL;

  img->digest = g_steal_pointer (&image_digest);
  img->ref_digest = g_steal_pointer (&top_digest);
  img->media_type = g_strdup (image->media_type);
  img->config_digest = g_strdup (image->config->digest);
  img->layers = g_ptr_array_ref (image->layers);
  return g_steal_pointer (&img);
}

/* ---- blobs ---- */

typedef struct {
  BgrOciBlobProgress progress;
  gpointer user_data;
  guint64 done; /* the most reported, so that it never goes backwards */
} BlobProgress;

static void
blob_progress_report (BlobProgress *bp, guint64 done, guint64 total, gboolean waiting)
{
  if (bp->progress == NULL)
    return;
  bp->done = MAX (bp->done, done);
  bp->progress (bp->done, total, waiting, bp->user_data);
}

static void
on_download_progress (guint64 done, guint64 total, gpointer data)
{
  blob_progress_report (data, done, total, FALSE);
}

char *
bgr_oci_registry_fetch_blob (BgrOciRegistry *r, const BgrOciDescriptor *d, const char *cache_dir,
                             BgrOciBlobProgress progress, gpointer user_data,
                             GCancellable *cancellable, GError **error)
{
  BlobProgress bp = { progress, user_data, 0 };
  g_autofree char *dir = NULL;
  g_autofree char *part = NULL;
  g_autofree char *dest = NULL;
  g_autofree char *url = NULL;
  g_autofree char *what = NULL;
  const char *hex;
  struct stat st;

  g_return_val_if_fail (r != NULL && d != NULL && cache_dir != NULL, NULL);

  if (!bgr_oci_digest_is_valid (d->digest) || d->size < 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "invalid blob descriptor %s",
                   d->digest != NULL ? d->digest : "(null)");
      return NULL;
    }
  if (!g_str_has_prefix (d->digest, "sha256:"))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "%s: blob %s: only sha256 digests are supported", r->display, d->digest);
      return NULL;
    }
  hex = d->digest + strlen ("sha256:");
  dir = g_build_filename (cache_dir, "oci", "blobs", "sha256", NULL);
  dest = g_build_filename (dir, hex, NULL);
  part = g_strconcat (dest, ".part", NULL);

  /* Blobs only get their name once verified, so one of the right size is
   * the blob; a wrong size means someone else wrote there: fetch again. */
again:
  if (stat (dest, &st) == 0)
    {
      if (S_ISREG (st.st_mode) && st.st_size == d->size)
        {
          blob_progress_report (&bp, (guint64) d->size, (guint64) d->size, FALSE);
          return g_steal_pointer (&dest);
        }
      g_debug ("%s has %" G_GINT64_FORMAT " bytes instead of %" G_GINT64_FORMAT "; fetching it again",
               dest, (gint64) st.st_size, d->size);
      if (g_unlink (dest) != 0)
        {
          bgr_set_error_errno (error, errno, "cannot remove %s", dest);
          return NULL;
        }
    }
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", dir);
      return NULL;
    }

  g_clear_pointer (&url, g_free);
  g_clear_pointer (&what, g_free);
  url = g_strdup_printf ("%s/v2/%s/blobs/%s", r->base, r->ref.repository, d->digest);
  what = g_strdup_printf ("%s: blob %s", r->display, d->digest);
  for (guint round = 0;; round++)
    {
      g_autoptr (GError) local = NULL;
      g_autofree char *path = NULL;
      g_auto (Response) resp = { 0 };

      if (bgr_download_file (r->session, url, dest, d->size, hex, on_download_progress, &bp,
                             cancellable, &local))
        return g_steal_pointer (&dest);
      /* Another pull (in this process or another) is downloading this
       * blob: wait for it to finish (or give up, leaving its part file to
       * resume), then look again. */
      if (g_error_matches (local, BGR_ERROR, BGR_ERROR_BUSY))
        {
          struct stat pst;

          /* What it has so far, so that this pull shows progress too. */
          blob_progress_report (&bp, stat (part, &pst) == 0 ? (guint64) pst.st_size : 0,
                                (guint64) d->size, TRUE);
          if (!bgr_sleep_cancellable (BUSY_POLL_MS, cancellable))
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_CANCELLED,
                           "%s: Operation was cancelled", what);
              return NULL;
            }
          goto again;
        }
      /* No token yet, or it expired mid-pull: a HEAD of the blob goes
       * through the challenge, then the download runs once more. */
      if (round > 0 || !g_error_matches (local, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED))
        {
          if (g_error_matches (local, BGR_ERROR, BGR_ERROR_NOT_FOUND))
            g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "%s: not found (%s)", what,
                         local->message);
          else
            g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
      path = g_strdup_printf ("/v2/%s/blobs/%s", r->ref.repository, d->digest);
      if (!registry_request (r, SOUP_METHOD_HEAD, path, NULL, 0, what, &resp, cancellable, error))
        return NULL;
    }
}

/* Blobs (the config too) are looked up in, and added to, CACHE/oci/blobs. */
void
bgr_oci_registry_set_cache_dir (BgrOciRegistry *r, const char *cache_dir)
{
  g_free (r->cache_dir);
  r->cache_dir = g_strdup (cache_dir);
}
