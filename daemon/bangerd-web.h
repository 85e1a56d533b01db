/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bangerd's local web UI: an HTTP server (libsoup) on web_listen_addr that
 * serves the pages (a GResource) and a JSON API over the daemon's engine.
 *
 * Every request must come to the address the UI is served on (its Host
 * header: no DNS rebinding) and carry the token (a cookie that a one-time
 * login URL sets, or Authorization: Bearer); state changes also need POST
 * or DELETE, a same-origin Origin and, with the cookie, the CSRF header. */
#pragma once

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "bangerd-private.h"

G_BEGIN_DECLS

/* Starts serving when web_listen_addr is not empty; NULL when it is empty
 * or when listening failed (logged: bangerd carries on without the UI). */
BgrdWeb *bgrd_web_start (Daemon *d, gboolean system);
/* Cancels the long actions in flight (bangerd is stopping). */
void bgrd_web_cancel_all (BgrdWeb *web);
/* Stops listening, ends the event streams and removes the token file. */
void bgrd_web_free (BgrdWeb *web);
/* "http://HOST:PORT/". */
const char *bgrd_web_get_url (BgrdWeb *web);
/* A URL that logs a browser in once, within a minute. Any thread. */
char *bgrd_web_new_login_url (BgrdWeb *web);

/* ---- shared by bangerd-web*.c ---- */

#define BGRD_WEB_MAX_BODY (64 * 1024)

typedef struct _BgrdWebOps BgrdWebOps;
typedef struct _BgrdWebEvents BgrdWebEvents;

struct _BgrdWeb {
  Daemon *d;
  SoupServer *server;
  char *url;
  char *hosts[2];  /* the Host values accepted: the listen address, localhost:PORT */
  char *token;     /* the secret: cookie value and Bearer token */
  char *csrf;      /* what the page echoes in X-Banger-CSRF */
  char *token_path;
  GMutex lock;     /* guards codes */
  GHashTable *codes; /* one-time login code -> expiry (monotonic µs, gint64 *) */
  BgrdWebEvents *events;
  BgrdWebOps *ops;
};

/* Replies { "error": { "code": CODE, "message": MESSAGE } } with @status. */
void bgrd_web_error (SoupServerMessage *msg, guint status, const char *code,
                     const char *message);
void bgrd_web_gerror (SoupServerMessage *msg, const GError *error);
/* Replies @json (an object or array text) with 200 or @status. */
void bgrd_web_json (SoupServerMessage *msg, guint status, const char *json);
/* Replies the page @path from the GResource, or 404 (bangerd-web-reply.c). */
void bgrd_web_serve_resource (SoupServerMessage *msg, const char *path);

/* The API (bangerd-web-api.c): @path starts after /api/v1. */
void bgrd_web_api_handle (BgrdWeb *web, SoupServerMessage *msg, const char *method,
                          const char *path);

/* Request bodies (bangerd-web-body.c): NULL and an InvalidArgument error
 * naming what is wrong, for bad JSON, unknown members or wrong types.
 * POST /vms: {"name", "image"?, "vcpus"?, "memory_mib"?, "disk_size"?}. */
BgrVmSpec *bgrd_web_vm_spec_from_body (SoupServerMessage *msg, GError **error);
/* POST /images/pull: {"reference", "name"?, "kernel"?}. */
BgrPullOptions *bgrd_web_pull_from_body (SoupServerMessage *msg, char **out_reference,
                                         GError **error);

/* Long actions with progress (bangerd-web-ops.c). */
BgrdWebOps *bgrd_web_ops_new (BgrdWeb *web);
void bgrd_web_ops_free (BgrdWebOps *ops);
/* Starts a VM create (@spec) or start (@name) and replies 202 with its id. */
void bgrd_web_ops_create_vm (BgrdWeb *web, SoupServerMessage *msg, BgrVmSpec *spec);
void bgrd_web_ops_start_vm (BgrdWeb *web, SoupServerMessage *msg, const char *name);
/* Starts an image pull and replies 202 with its id. */
void bgrd_web_ops_pull_image (BgrdWeb *web, SoupServerMessage *msg, const char *reference,
                              BgrPullOptions *options);
/* GET /operations/ID and POST /operations/ID/cancel. */
void bgrd_web_ops_get (BgrdWeb *web, SoupServerMessage *msg, const char *id);
void bgrd_web_ops_cancel (BgrdWeb *web, SoupServerMessage *msg, const char *id);
void bgrd_web_ops_cancel_all (BgrdWebOps *ops);

/* Server-sent events (bangerd-web-events.c). */
BgrdWebEvents *bgrd_web_events_new (BgrdWeb *web);
void bgrd_web_events_free (BgrdWebEvents *events);
/* GET /events: keeps @msg open and streams to it. */
void bgrd_web_events_serve (BgrdWebEvents *events, SoupServerMessage *msg);
/* Sends event @type with @json (main thread). */
void bgrd_web_events_send (BgrdWebEvents *events, const char *type, const char *json);
/* One stream: answers @msg as text/event-stream (kept open), and sends an
 * event on it. */
void bgrd_web_sse_begin (SoupServerMessage *msg);
void bgrd_web_sse_send (SoupServerMessage *msg, const char *type, const char *json);

/* GET /vms/NAME/console: the console log's tail, then what the VM writes
 * to it, as "console" events (bangerd-web-console.c). */
void bgrd_web_console_serve (BgrdWeb *web, SoupServerMessage *msg, const char *name);
/* Ends the console streams (bangerd is stopping). */
void bgrd_web_console_close_all (void);

/* Counts a call in flight; when bangerd is shutting down, replies 503 and
 * returns FALSE instead. The worker ends it with bgrd_call_done(). */
gboolean bgrd_web_call_begin (BgrdWeb *web, SoupServerMessage *msg);

/* Runs @func in a worker thread, counted as a call in flight, then calls
 * @done in the main thread. Replies 503 (and returns FALSE) when bangerd
 * is shutting down. @msg is paused until @done replied. */
typedef void (*BgrdWebWork) (BgrdWeb *web, gpointer data, GCancellable *cancellable);
typedef void (*BgrdWebDone) (BgrdWeb *web, SoupServerMessage *msg, gpointer data);
gboolean bgrd_web_run (BgrdWeb *web, SoupServerMessage *msg, BgrdWebWork func, BgrdWebDone done,
                       gpointer data, GDestroyNotify free_data);

G_END_DECLS
