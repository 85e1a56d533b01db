/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sessions, the host side (docs/agent-protocol.md, "Sessions"): processes
 * the guest agent owns whether or not banger is connected, with their
 * output spooled in the guest. */
#pragma once

#include <json-glib/json-glib.h>

#include "agent-proto/bgr-agent-client-private.h"

G_BEGIN_DECLS

/* A session as JSON: name, argv, cwd, stdin_mode ("detached"|"pipe"), pty,
 * state ("running"|"exited"), pid, exit_code, signal, started_ms,
 * ended_ms, stdout_bytes, stdout_dropped, stderr_bytes, stderr_dropped,
 * attached. Strings come from the guest: bounded, valid UTF-8, not
 * escaped. */

/* Starts a session; the agent checks @cwd, argv[0] and @require against
 * the guest first and starts nothing when one fails. @terminal (NULL or
 * pty FALSE: pipes) puts it on a pseudo-terminal of rows x cols; its
 * resize_fd is not used here. */
JsonObject *bgr_agent_conn_session_start (BgrAgentConn *conn, const char *name,
                                          const char *const *argv, const char *const *env,
                                          const char *cwd, gboolean pipe_stdin,
                                          const BgrAgentTerminal *terminal,
                                          const char *const *require, GCancellable *cancellable,
                                          GError **error);
/* Every session (@name NULL) or the one named (BGR_ERROR_NOT_FOUND when
 * there is none). An array of JsonObject. */
GPtrArray *bgr_agent_conn_session_list (BgrAgentConn *conn, const char *name,
                                        GCancellable *cancellable, GError **error);
gboolean bgr_agent_conn_session_signal (BgrAgentConn *conn, const char *name, int sig,
                                        GCancellable *cancellable, GError **error);
/* SIGTERM now, SIGKILL after @grace_ms if it still runs; returns at once. */
gboolean bgr_agent_conn_session_stop (BgrAgentConn *conn, const char *name, guint grace_ms,
                                      GCancellable *cancellable, GError **error);

/* Stream 1 (stdout) or 2 (stderr) of session @name from byte @offset (0:
 * the oldest kept): to @fd when >= 0, else appended to @into. With
 * @follow, until the session ended and everything was sent, or
 * @cancellable (then TRUE: stopped by the caller). *@out_start: the
 * offset of the first byte delivered (above @offset when the spool
 * dropped bytes); *@out_next: the offset after the last. */
gboolean bgr_agent_conn_session_read (BgrAgentConn *conn, const char *name, int stream,
                                      guint64 offset, gboolean follow, int fd, GByteArray *into,
                                      guint64 *out_start, guint64 *out_next,
                                      GCancellable *cancellable, GError **error);

/* Attaches to a pipe-mode session: @stdin_fd (-1: none) is forwarded to
 * its stdin (EOF closes the session's stdin), its new output goes to
 * @stdout_fd and @stderr_fd, until it exits (*@out_exited, *@out_status:
 * exit code or 128 + signal) or @cancellable detaches (*@out_exited
 * FALSE; the session runs on). "ROWS COLS" lines read from @resize_fd
 * (-1: none) resize a session's terminal. */
gboolean bgr_agent_conn_session_attach (BgrAgentConn *conn, const char *name, int stdin_fd,
                                        int stdout_fd, int stderr_fd, int resize_fd,
                                        gboolean *out_exited,
                                        gint *out_status, GCancellable *cancellable,
                                        GError **error);

G_END_DECLS
