/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The web UI's server: listening, the token and its one-time login codes,
 * the checks every request passes (Host, token, method, Origin, CSRF,
 * body size) and security headers; pages and errors: bangerd-web-reply.c. */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "bangerd-web.h"
#include "bgr-escape-private.h"

#define COOKIE_NAME "banger_session"
#define LOGIN_CODE_LIFETIME (60 * G_USEC_PER_SEC)
#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " \
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

static char *
random_hex (void)
{
  guint8 bytes[32];
  gsize got = 0;

  while (got < sizeof bytes)
    {
      ssize_t n = getrandom (bytes + got, sizeof bytes - got, 0);
      if (n < 0 && errno != EINTR)
        g_error ("getrandom: %s", g_strerror (errno));
      if (n > 0)
        got += n;
    }
  {
    GString *s = g_string_sized_new (2 * sizeof bytes);
    for (gsize i = 0; i < sizeof bytes; i++)
      g_string_append_printf (s, "%02x", bytes[i]);
    return g_string_free (s, FALSE);
  }
}

/* Compares without leaking where the first difference is. */
static gboolean
secret_equal (const char *a, const char *b)
{
  gsize la, lb;
  guint8 diff = 0;

  if (a == NULL || b == NULL)
    return FALSE;
  la = strlen (a);
  lb = strlen (b);
  if (la != lb)
    return FALSE;
  for (gsize i = 0; i < la; i++)
    diff |= (guint8) (a[i] ^ b[i]);
  return diff == 0;
}

static void
add_security_headers (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (h, "Content-Security-Policy", CSP);
  soup_message_headers_replace (h, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (h, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (h, "X-Frame-Options", "DENY");
  soup_message_headers_replace (h, "Cross-Origin-Opener-Policy", "same-origin");
  soup_message_headers_replace (h, "Cross-Origin-Resource-Policy", "same-origin");
  soup_message_headers_replace (h, "Cache-Control", "no-store");
}

/* ---- checks ---------------------------------------------------------------- */

static gboolean
host_allowed (BgrdWeb *web, const char *host)
{
  if (host == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (web->hosts); i++)
    if (web->hosts[i] != NULL && g_ascii_strcasecmp (host, web->hosts[i]) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
origin_allowed (BgrdWeb *web, const char *origin)
{
  return origin != NULL && g_str_has_prefix (origin, "http://")
         && host_allowed (web, origin + strlen ("http://"));
}

static char *
cookie_value (SoupMessageHeaders *h)
{
  const char *header = soup_message_headers_get_list (h, "Cookie");
  g_autoptr (GHashTable) params = NULL;

  if (header == NULL)
    return NULL;
  params = soup_header_parse_semi_param_list (header);
  return g_strdup (g_hash_table_lookup (params, COOKIE_NAME));
}

typedef enum { AUTH_NONE, AUTH_COOKIE, AUTH_BEARER } Auth;

static Auth
authenticate (BgrdWeb *web, SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const char *authz = soup_message_headers_get_one (h, "Authorization");
  g_autofree char *cookie = cookie_value (h);

  if (authz != NULL && g_str_has_prefix (authz, "Bearer ")
      && secret_equal (authz + strlen ("Bearer "), web->token))
    return AUTH_BEARER;
  if (secret_equal (cookie, web->token))
    return AUTH_COOKIE;
  return AUTH_NONE;
}

static gboolean
is_change (const char *method)
{
  return !g_str_equal (method, "GET") && !g_str_equal (method, "HEAD");
}

/* Runs before the body is read: a request refused here (a status set)
 * never gets its body read, and handler() leaves it alone. */
static void
early_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
               gpointer data)
{
  BgrdWeb *web = data;
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const char *method = soup_server_message_get_method (msg);

  add_security_headers (msg);
  {
    /* The path and Host are the client's words: escaped and cut. */
    g_autofree char *p = bgr_log_str (path);
    g_autofree char *host = bgr_log_str (soup_message_headers_get_one (h, "Host"));
    g_autofree char *m = bgr_log_str (method);
    g_debug ("web: %s %s (Host %s) from %s", m, p, host,
             soup_server_message_get_remote_host (msg));
  }
  if (!host_allowed (web, soup_message_headers_get_one (h, "Host")))
    {
      bgrd_web_error (msg, SOUP_STATUS_MISDIRECTED_REQUEST, "MisdirectedRequest",
                      "this server answers only to the address it listens on (Host header)");
      return;
    }
  if (g_str_equal (path, "/login"))
    {
      /* Anyone may try a code, with GET and no body only. */
      if (!g_str_equal (method, "GET"))
        bgrd_web_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "MethodNotAllowed",
                        "log in with GET");
      return;
    }
  if (authenticate (web, msg) == AUTH_NONE)
    {
      bgrd_web_error (msg, SOUP_STATUS_UNAUTHORIZED, "Unauthorized",
                      "log in with the URL `banger web` gives, or send the token of "
                      "$XDG_RUNTIME_DIR/banger/web-token as Authorization: Bearer");
      return;
    }
  if (soup_message_headers_get_encoding (h) == SOUP_ENCODING_CHUNKED)
    bgrd_web_error (msg, SOUP_STATUS_LENGTH_REQUIRED, "LengthRequired",
                    "send the body with a Content-Length");
  else if (soup_message_headers_get_content_length (h) > BGRD_WEB_MAX_BODY)
    bgrd_web_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "TooLarge",
                    "the body is larger than 64 KiB");
}

/* Method, Origin and CSRF checks of a state change. */
static gboolean
change_allowed (BgrdWeb *web, SoupServerMessage *msg, Auth auth)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const char *method = soup_server_message_get_method (msg);
  const char *origin = soup_message_headers_get_one (h, "Origin");

  if (!g_str_equal (method, "POST") && !g_str_equal (method, "DELETE"))
    {
      bgrd_web_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "MethodNotAllowed",
                      "use GET to read, POST or DELETE to change");
      return FALSE;
    }
  /* A browser always sends Origin with POST and DELETE; another program
   * using the Bearer token may leave it out. */
  if ((origin != NULL || auth == AUTH_COOKIE) && !origin_allowed (web, origin))
    {
      bgrd_web_error (msg, SOUP_STATUS_FORBIDDEN, "CrossOrigin",
                      "cross-origin requests are refused (Origin header)");
      return FALSE;
    }
  if (auth == AUTH_COOKIE
      && !secret_equal (soup_message_headers_get_one (h, "X-Banger-CSRF"), web->csrf))
    {
      bgrd_web_error (msg, SOUP_STATUS_FORBIDDEN, "Csrf",
                      "missing or wrong X-Banger-CSRF header");
      return FALSE;
    }
  return TRUE;
}

/* ---- login ------------------------------------------------------------- */

/* Forgets the expired codes; web->lock held. */
static void
forget_expired (BgrdWeb *web)
{
  gint64 now = g_get_monotonic_time ();
  gpointer value = NULL;
  GHashTableIter it;

  g_hash_table_iter_init (&it, web->codes);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (*(gint64 *) value < now)
      g_hash_table_iter_remove (&it);
}

char *
bgrd_web_new_login_url (BgrdWeb *web)
{
  char *code = random_hex ();
  gint64 *expiry = g_new (gint64, 1);
  char *url;

  *expiry = g_get_monotonic_time () + LOGIN_CODE_LIFETIME;
  url = g_strdup_printf ("%slogin?code=%s", web->url, code);
  g_mutex_lock (&web->lock);
  forget_expired (web);
  g_hash_table_insert (web->codes, code, expiry);
  g_mutex_unlock (&web->lock);
  return url;
}

static gboolean
take_code (BgrdWeb *web, const char *code)
{
  gpointer key = NULL, value = NULL;
  gboolean ok = FALSE;
  GHashTableIter it;

  g_mutex_lock (&web->lock);
  forget_expired (web);
  /* Take this one (if it is there) for good. */
  g_hash_table_iter_init (&it, web->codes);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (code != NULL && secret_equal (key, code))
      {
        g_hash_table_iter_remove (&it);
        ok = TRUE;
        break;
      }
  g_mutex_unlock (&web->lock);
  return ok;
}

static void
handle_login (BgrdWeb *web, SoupServerMessage *msg, GHashTable *query)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  g_autofree char *cookie = NULL;

  if (!take_code (web, query != NULL ? g_hash_table_lookup (query, "code") : NULL))
    {
      bgrd_web_error (msg, SOUP_STATUS_UNAUTHORIZED, "Unauthorized",
                      "this login URL is unknown, used or expired: run `banger web` again");
      return;
    }
  cookie = g_strdup_printf (COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict", web->token);
  soup_message_headers_append (h, "Set-Cookie", cookie);
  soup_server_message_set_redirect (msg, SOUP_STATUS_SEE_OTHER, "/");
}

static void
handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
         gpointer data)
{
  BgrdWeb *web = data;
  const char *method = soup_server_message_get_method (msg);
  Auth auth;

  if (soup_server_message_get_status (msg) != 0)
    return; /* refused by early_handler */
  if (g_str_equal (path, "/login"))
    {
      handle_login (web, msg, query);
      return;
    }
  auth = authenticate (web, msg);
  if (auth == AUTH_NONE) /* early_handler refused it already; be sure */
    {
      bgrd_web_error (msg, SOUP_STATUS_UNAUTHORIZED, "Unauthorized", "no token");
      return;
    }
  if (is_change (method) && !change_allowed (web, msg, auth))
    return;
  if (g_str_has_prefix (path, "/api/v1/") || g_str_equal (path, "/api/v1"))
    {
      bgrd_web_api_handle (web, msg, method, path + strlen ("/api/v1"));
      return;
    }
  if (!g_str_equal (method, "GET") && !g_str_equal (method, "HEAD"))
    {
      bgrd_web_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "MethodNotAllowed",
                      "pages are read with GET");
      return;
    }
  bgrd_web_serve_resource (msg, path);
}

/* ---- start and stop ------------------------------------------------------ */

static char *
runtime_dir (gboolean system)
{
  if (system)
    {
      const char *v = g_getenv ("RUNTIME_DIRECTORY");
      if (v != NULL && *v == '/')
        {
          const char *colon = strchr (v, ':');
          return colon != NULL ? g_strndup (v, colon - v) : g_strdup (v);
        }
      return g_strdup ("/run/banger");
    }
  return g_build_filename (g_get_user_runtime_dir (), "banger", NULL);
}

static gboolean
write_token (BgrdWeb *web, gboolean system, GError **error)
{
  g_autofree char *dir = runtime_dir (system);
  int fd;

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_IO, "cannot create %s: %s", dir,
                   g_strerror (errno));
      return FALSE;
    }
  web->token_path = g_build_filename (dir, "web-token", NULL);
  (void) unlink (web->token_path);
  fd = open (web->token_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0)
    {
      g_autofree char *line = g_strconcat (web->token, "\n", NULL);
      gboolean ok = write (fd, line, strlen (line)) == (ssize_t) strlen (line);
      int saved = errno;

      if (close (fd) == 0 && ok)
        return TRUE;
      errno = ok ? errno : saved;
    }
  g_set_error (error, BGR_ERROR, BGR_ERROR_IO, "cannot write %s: %s", web->token_path,
               g_strerror (errno));
  return FALSE;
}

static gboolean
is_loopback (GInetAddress *address)
{
  return g_inet_address_get_is_loopback (address);
}

/* Parses HOST:PORT (HOST an IP address, [IPv6] or localhost). */
static GInetAddress *
parse_host (const char *listen, guint *port, char **host_out)
{
  const char *colon = strrchr (listen, ':');
  g_autofree char *host = NULL;

  if (colon == NULL)
    return NULL;
  host = g_strndup (listen, colon - listen);
  *port = (guint) g_ascii_strtoull (colon + 1, NULL, 10);
  if (host[0] == '[' && g_str_has_suffix (host, "]"))
    {
      char *inner = g_strndup (host + 1, strlen (host) - 2);
      g_free (host);
      host = inner;
    }
  if (g_str_equal (host, "localhost"))
    {
      g_free (host);
      host = g_strdup ("127.0.0.1");
    }
  *host_out = g_steal_pointer (&host);
  return g_inet_address_new_from_string (*host_out);
}

static gboolean
listen_on (BgrdWeb *web, const char *listen, GError **error)
{
  g_autofree char *host = NULL;
  g_autoptr (GInetAddress) address = NULL;
  g_autoptr (GSocketAddress) sa = NULL;
  GSList *uris;
  guint port = 0;
  gboolean v6;

  address = parse_host (listen, &port, &host);
  if (address == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                   "web_listen_addr \"%s\": the host is not an IP address or localhost", listen);
      return FALSE;
    }
  if (!is_loopback (address))
    g_warning ("the web UI listens on %s, which is not a loopback address: other machines can "
               "reach it (set web_listen_addr to 127.0.0.1:PORT to keep it local)", listen);
  sa = g_inet_socket_address_new (address, port);
  if (!soup_server_listen (web->server, sa, 0, error))
    return FALSE;
  uris = soup_server_get_uris (web->server);
  if (uris != NULL)
    port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  v6 = g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6;
  web->hosts[0] = g_strdup_printf (v6 ? "[%s]:%u" : "%s:%u", host, port);
  web->hosts[1] = g_strdup_printf ("localhost:%u", port);
  web->url = g_strdup_printf ("http://%s/", web->hosts[0]);
  return TRUE;
}

BgrdWeb *
bgrd_web_start (Daemon *d, gboolean system)
{
  const char *listen = bgr_config_get_string (d->config, "web_listen_addr");
  g_autoptr (GError) error = NULL;
  BgrdWeb *web;

  if (listen == NULL || *listen == '\0')
    {
      g_info ("web UI off (web_listen_addr is empty)");
      return NULL;
    }
  web = g_new0 (BgrdWeb, 1);
  web->d = d;
  g_mutex_init (&web->lock);
  web->codes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  web->token = random_hex ();
  web->csrf = random_hex ();
  web->server = soup_server_new ("server-header", NULL, NULL);
  soup_server_add_early_handler (web->server, NULL, early_handler, web, NULL);
  soup_server_add_handler (web->server, NULL, handler, web, NULL);
  if (!listen_on (web, listen, &error) || !write_token (web, system, &error))
    {
      g_autofree char *msg = bgr_log_msg (error->message);
      g_warning ("web UI not served on %s: %s", listen, msg);
      bgrd_web_free (web);
      return NULL;
    }
  web->events = bgrd_web_events_new (web);
  web->ops = bgrd_web_ops_new (web);
  g_message ("web UI on %s (token in %s)", web->url, web->token_path);
  return web;
}

void
bgrd_web_free (BgrdWeb *web)
{
  if (web == NULL)
    return;
  bgrd_web_console_close_all ();
  if (web->events != NULL)
    bgrd_web_events_free (web->events);
  if (web->ops != NULL)
    bgrd_web_ops_free (web->ops);
  soup_server_disconnect (web->server);
  g_object_unref (web->server);
  if (web->token_path != NULL && web->url != NULL)
    (void) unlink (web->token_path);
  g_free (web->token_path);
  g_free (web->url);
  for (guint i = 0; i < G_N_ELEMENTS (web->hosts); i++)
    g_free (web->hosts[i]);
  g_free (web->token);
  g_free (web->csrf);
  g_hash_table_unref (web->codes);
  g_mutex_clear (&web->lock);
  g_free (web);
}

void
bgrd_web_cancel_all (BgrdWeb *web)
{
  if (web != NULL)
    bgrd_web_ops_cancel_all (web->ops);
}

const char *
bgrd_web_get_url (BgrdWeb *web)
{
  return web->url;
}
