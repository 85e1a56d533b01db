/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host side of the guest agent protocol (docs/agent-protocol.md): one
 * connection per VM, multiplexed into channels, so that several execs and
 * requests can run at once over one virtio-serial port or vsock stream. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _BgrAgentConn BgrAgentConn;

typedef struct {
  gint64 version;        /* protocol version the agent speaks */
  char *agent_version;
  char *kernel;          /* uname -r */
  char *uname;
  char *os_id, *os_version_id, *os_pretty;
  char *hostname;
  GStrv addrs;           /* "IFACE ADDR/PREFIX" */
  GStrv tools;           /* what `banger-vsock-agent --TOOL` does in the guest */
  gint64 uptime_ms;
} BgrAgentFacts;

void bgr_agent_facts_free (BgrAgentFacts *facts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrAgentFacts, bgr_agent_facts_free)

/* Takes a reference on @stream and starts reading it. */
BgrAgentConn *bgr_agent_conn_new (GIOStream *stream);
BgrAgentConn *bgr_agent_conn_ref (BgrAgentConn *conn);
/* The last unref closes the stream and frees. */
void bgr_agent_conn_unref (BgrAgentConn *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrAgentConn, bgr_agent_conn_unref)

/* TRUE once the stream hit EOF or an error. */
gboolean bgr_agent_conn_is_closed (BgrAgentConn *conn);

/* Sends HELLO (again every @resend_ms) until READY arrives or @timeout_ms
 * passes. @alive (may be NULL) is called between waits; returning FALSE
 * (with @error set) stops the wait, e.g. when the VMM died. */
typedef gboolean (*BgrAgentAliveFunc) (gpointer user_data, GError **error);
BgrAgentFacts *bgr_agent_conn_hello (BgrAgentConn *conn, gint timeout_ms, gint resend_ms,
                                     BgrAgentAliveFunc alive, gpointer alive_data,
                                     GCancellable *cancellable, GError **error);

/* Runs @argv in the guest. stdin_fd: -1 for /dev/null, else read until EOF
 * and forwarded. stdout_fd/stderr_fd: -1 to discard. *out_status: the exit
 * code, or 128 + signal number. A timeout is BGR_ERROR_TIMED_OUT; a command
 * the guest cannot run is BGR_ERROR_NOT_FOUND / BGR_ERROR_FAILED with the
 * guest's reason. Cancelling kills the guest process. */
gboolean bgr_agent_conn_exec (BgrAgentConn *conn, const char *const *argv,
                              const char *const *env, const char *cwd, guint timeout_ms,
                              int stdin_fd, int stdout_fd, int stderr_fd, gint *out_status,
                              GCancellable *cancellable, GError **error);

/* EXEC on a terminal (docs/agent-protocol.md, "Terminals"): @rows/@cols
 * its first size (0: 24x80); @resize_fd (-1: none) is read for "ROWS COLS\n"
 * lines, each a new size. stdout_fd gets the terminal's output; stderr_fd
 * is not used. */
typedef struct _BgrAgentTerminal {
  gboolean pty;
  guint rows, cols;
  int resize_fd;
} BgrAgentTerminal;

gboolean bgr_agent_conn_exec_terminal (BgrAgentConn *conn, const char *const *argv,
                                       const char *const *env, const char *cwd, guint timeout_ms,
                                       const BgrAgentTerminal *terminal, int stdin_fd,
                                       int stdout_fd, int stderr_fd, gint *out_status,
                                       GCancellable *cancellable, GError **error);
/* "ROWS COLS" with both 1-65535. */
gboolean bgr_agent_parse_window_size (const char *line, guint *rows, guint *cols);

/* Opens a TCP connection from the guest to @addr (NULL: 127.0.0.1) port
 * @port and bridges it: what @in_fd reads (until EOF) is sent, what comes
 * back is written to @out_fd (they may be the same socket). Returns when
 * both directions ended, the guest or the host side dropped it, or
 * @cancellable fired (the guest connection is then aborted). A refused
 * connection is an error with the guest's reason. */
gboolean bgr_agent_conn_tcp_bridge (BgrAgentConn *conn, const char *addr, guint port, int in_fd,
                                    int out_fd, GCancellable *cancellable, GError **error);

/* Asks the guest to power off ("poweroff") or reboot; returns when the
 * agent acknowledged, not when the guest is down. */
gboolean bgr_agent_conn_shutdown (BgrAgentConn *conn, const char *mode, gint timeout_ms,
                                  GCancellable *cancellable, GError **error);

/* Listening sockets: "PROTO ADDR PORT PID COMMAND" lines. */
GStrv bgr_agent_conn_ports (BgrAgentConn *conn, gint timeout_ms, GCancellable *cancellable,
                            GError **error);

/* Guest stats, keyed by field name without the STAT_ prefix, lowercase
 * ("cpu_user_ms", "mem_total", ...). */
GHashTable *bgr_agent_conn_stats (BgrAgentConn *conn, gint timeout_ms,
                                  GCancellable *cancellable, GError **error);

G_END_DECLS
