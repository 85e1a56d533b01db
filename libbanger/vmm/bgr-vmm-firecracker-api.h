/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Firecracker driver's REST client (bgr-vmm-firecracker-api.c), for
 * the driver only. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *socket_path; /* for messages */
  GSocketConnection *conn;
  GDataInputStream *in;    /* buffered reader over the connection */
} FcApi;

/* Connects to the API socket, retrying for @timeout_ms while Firecracker
 * (pid @pid, 0: unknown) is still creating it. */
gboolean fc_api_open (FcApi *api, const char *socket_path, gint pid, gint timeout_ms,
                      GCancellable *cancellable, GError **error);
void fc_api_close (FcApi *api);
/* PUT/PATCH with a JSON object body; anything but 2xx is an error that
 * names the request and quotes Firecracker's fault_message. Takes @body. */
gboolean fc_api_send (FcApi *api, const char *method, const char *path, JsonObject *body,
                      GCancellable *cancellable, GError **error);

G_END_DECLS
