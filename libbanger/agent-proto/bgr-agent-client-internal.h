/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the files of the host side of the agent protocol share: frames,
 * channels and the helpers around them (bgr-agent-client.c). Not for the
 * rest of libbanger, which uses bgr-agent-client-private.h. */
#pragma once

#include "agent-proto/bgr-agent-client-private.h"
#include "agent-proto/bgr-agent-proto.h"

G_BEGIN_DECLS

/* A received frame. type 0 is our own "connection closed" marker. */
typedef struct {
  guint16 type;
  guint32 channel;
  GBytes *payload;
} BgrAgentFrame;

void bgr_agent_frame_free (gpointer frame);

gboolean bgr_agent_conn_closed_error (BgrAgentConn *c, GError **error);
gboolean bgr_agent_conn_send_frame (BgrAgentConn *c, guint16 type, guint32 channel,
                                    const void *data, gsize len, GError **error);
gboolean bgr_agent_conn_send_buf (BgrAgentConn *c, guint16 type, guint32 channel, BgrAgentBuf *b,
                                  GError **error);
/* A queue of the frames of a fresh channel (*@out_channel), or of channel
 * 0 when @out_channel is NULL; closed with bgr_agent_conn_close_channel(). */
GAsyncQueue *bgr_agent_conn_open_channel (BgrAgentConn *c, guint32 *out_channel);
void bgr_agent_conn_close_channel (BgrAgentConn *c, guint32 channel, GAsyncQueue *q);
/* One request, one answer of @reply_type on a fresh channel (an ERROR
 * becomes @error, prefixed with @what). */
BgrAgentFrame *bgr_agent_conn_request (BgrAgentConn *c, guint16 type, BgrAgentBuf *b,
                                       guint16 reply_type, gint timeout_ms, const char *what,
                                       GCancellable *cancellable, GError **error);

/* A string field as valid UTF-8, cut to @max bytes (ending in "…", *@cut
 * set) when longer. */
char *bgr_agent_field_str_max (const guint8 *val, guint32 len, gsize max, gboolean *cut);
/* Reads an ERROR frame into @error; returns FALSE. */
gboolean bgr_agent_error_from_frame (BgrAgentFrame *f, const char *what, GError **error);

/* Forwards @fd to the guest as STDIN frames on @channel (an empty one at
 * EOF) until @stop is cancelled: run bgr_agent_pump_thread() in a thread. */
typedef struct {
  BgrAgentConn *conn;
  guint32 channel;
  int fd;
  GCancellable *stop;
} BgrAgentPump;
gpointer bgr_agent_pump_thread (gpointer pump);

/* Writes @data to @fd; on EPIPE sets *@dead (drop the rest), on another
 * failure also *@write_errno. */
void bgr_agent_write_out (int fd, gboolean *dead, int *write_errno, GBytes *data);

G_END_DECLS
