/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry client's insides, shared by its files: bgr-oci-http.c
 * (requests, retries, redirects, which credentials go where),
 * bgr-oci-registry.c (the client and its authentication),
 * bgr-oci-resolve.c (manifests and configs) and bgr-oci-blobs.c. */
#pragma once

#include "oci/bgr-oci-private.h"

G_BEGIN_DECLS

#define MANIFEST_MAX_SIZE (4 * 1024 * 1024) /* what containerd and distribution allow */
#define CONFIG_MAX_SIZE (8 * 1024 * 1024)
#define TOKEN_MAX_SIZE (1024 * 1024)

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
} BgrOciMsgAuth;

void bgr_oci_msg_auth_free (BgrOciMsgAuth *a);

typedef struct {
  guint status;
  char *reason;
  char *content_type; /* without parameters */
  char *docker_digest;
  char *www_authenticate;
  GBytes *body;
} BgrOciResponse;

void bgr_oci_response_clear (BgrOciResponse *resp);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (BgrOciResponse, bgr_oci_response_clear)

/* Hooks the handlers that set or strip the Authorization header on every
 * send and refuse downgrading redirects onto @r's session. */
void bgr_oci_http_watch_session (BgrOciRegistry *r);

/* One request, repeated on transient failures (connection lost, 5xx, 408,
 * 429), with backoff. A final HTTP error status is not an error here: it
 * comes back in @resp for the caller to map. @explicit_auth: other
 * credentials than the registry's, for its origin only (a token request).
 * Bodies over @max_size are an error (BGR_ERROR_INVALID_DATA). */
gboolean bgr_oci_http_send (BgrOciRegistry *r, const char *method, const char *url,
                            const char *accept, BgrOciMsgAuth *explicit_auth, gsize max_size,
                            BgrOciResponse *resp, GCancellable *cancellable, GError **error);

/* A request to the registry (@path starts with "/v2/"), authenticating
 * when challenged and mapping failures; @what names the object for
 * messages. Only 2xx returns TRUE. */
gboolean bgr_oci_registry_request (BgrOciRegistry *r, const char *method, const char *path,
                                   const char *accept, gsize max_size, const char *what,
                                   BgrOciResponse *resp, GCancellable *cancellable,
                                   GError **error);

G_END_DECLS
