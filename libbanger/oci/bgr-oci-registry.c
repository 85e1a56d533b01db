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

#include <string.h>

#include "bgr-error-private.h"
#include "oci/bgr-oci-client-private.h"

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
  bgr_oci_http_watch_session (r);
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
  g_auto (BgrOciResponse) resp = { 0 };
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  BgrOciMsgAuth auth;
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
  if (!bgr_oci_http_send (r, SOUP_METHOD_GET, url->str, "application/json", &auth, TOKEN_MAX_SIZE, &resp,
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
authenticate (BgrOciRegistry *r, const BgrOciResponse *resp, GCancellable *cancellable, GError **error)
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
gboolean
bgr_oci_registry_request (BgrOciRegistry *r, const char *method, const char *path, const char *accept,
                  gsize max_size, const char *what, BgrOciResponse *resp, GCancellable *cancellable,
                  GError **error)
{
  g_autofree char *url = g_strconcat (r->base, path, NULL);
  g_autofree char *detail = NULL;
  gboolean answered = FALSE;

  for (;;)
    {
      if (!bgr_oci_http_send (r, method, url, accept, NULL, max_size, resp, cancellable, error))
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
