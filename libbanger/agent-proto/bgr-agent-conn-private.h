/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the agent client's files share (bgr-agent-client.c,
 * bgr-agent-exec.c, bgr-agent-requests.c); not for the rest of libbanger. */
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

/* What a guest reports is bounded before use (docs/agent-protocol.md,
 * "Limits"): a hostile guest gets its answer cut, not more of the host's
 * memory, logs or terminal. */
#define FACT_MAX_BYTES 512       /* one READY string (uname -a is ~330) */
#define MESSAGE_MAX_BYTES 1024   /* an ERROR message */
#define PORT_LINE_MAX_BYTES 512  /* one PORT line */
#define ADDRS_MAX 64             /* ADDR fields kept from one READY */
#define TOOLS_MAX 16             /* TOOL fields kept from one READY */
#define PORTS_MAX 1024           /* PORT fields kept from one PORTS */
#define STAT_MAX (G_GINT64_CONSTANT (1) << 53) /* stats and uptimes: 0 <= v < this */

/* Sets @error to "lost the connection" with the reason; returns FALSE. */
gboolean bgr_agent_conn_closed_error (BgrAgentConn *c, GError **error);
gboolean bgr_agent_conn_send_frame (BgrAgentConn *c, guint16 type, guint32 channel,
                                    const void *data, gsize len, GError **error);
/* Sends a field list; one that outgrew the payload limit is refused. */
gboolean bgr_agent_conn_send_buf (BgrAgentConn *c, guint16 type, guint32 channel, BgrAgentBuf *b,
                                  GError **error);
/* A queue of BgrAgentFrame for a fresh channel (*out_channel), or for
 * channel 0 when out_channel is NULL. A type-0 frame says the connection
 * closed. */
GAsyncQueue *bgr_agent_conn_open_channel (BgrAgentConn *c, guint32 *out_channel);
void bgr_agent_conn_close_channel (BgrAgentConn *c, guint32 channel, GAsyncQueue *q);
/* A string field as valid UTF-8, cut to @max bytes (with "…", and *@cut
 * set) when longer. */
char *bgr_agent_field_str_max (const guint8 *val, guint32 len, gsize max, gboolean *cut);
/* Reads an ERROR frame into @error, prefixed with "@what: "; FALSE. */
gboolean bgr_agent_frame_error (BgrAgentFrame *f, const char *what, GError **error);
/* One request, one answer of @reply_type on a fresh channel. */
BgrAgentFrame *bgr_agent_conn_request (BgrAgentConn *c, guint16 type, BgrAgentBuf *b,
                                       guint16 reply_type, gint timeout_ms, const char *what,
                                       GCancellable *cancellable, GError **error);

/* Writes @data to @fd; on EPIPE sets *@dead (drop the rest), on another
 * failure also *@write_errno. */
void bgr_agent_write_out (int fd, gboolean *dead, int *write_errno, GBytes *data);

/* A host descriptor read until EOF and sent as frames of @type on @channel
 * (an empty one at EOF), in a thread (bgr-agent-pump.c): STDIN of an exec or
 * an attach, TCP_DATA of a tunnel. Stopping (NULL is fine) joins it. */
typedef struct _BgrAgentStreamPump BgrAgentStreamPump;
BgrAgentStreamPump *bgr_agent_stream_pump_start (BgrAgentConn *conn, guint32 channel, guint16 type, int fd);
void bgr_agent_stream_pump_stop (BgrAgentStreamPump *pump);

/* The same thread for "ROWS COLS" lines read from @fd, each sent as a
 * frame of @type (RESIZE for an exec, WINSIZE for a session's attach);
 * stopped with bgr_agent_stream_pump_stop(). */
typedef BgrAgentStreamPump BgrAgentResizer;
BgrAgentResizer *bgr_agent_resizer_start (BgrAgentConn *conn, guint32 channel, guint16 type, int fd);
#define bgr_agent_resizer_stop bgr_agent_stream_pump_stop
/* One window size (a "ROWS COLS" line) as a frame of @type (bgr-agent-pty.c). */
void bgr_agent_send_window_size (BgrAgentConn *conn, guint16 type, guint32 channel, const char *line);

G_END_DECLS
