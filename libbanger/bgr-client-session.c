/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrClient's calls on sessions (bgr-session.h). */
#include "config.h"

#include "agent-proto/bgr-agent-proto.h"
#include "bgr-client-private.h"
#include "bgr-error-private.h"

static gboolean
check_session_name (const char *name, GError **error)
{
  if (!check_name ("session", name, error))
    return FALSE;
  if (!bgr_agent_session_name_valid (name))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid session name (1 to %d of A-Z a-z 0-9 _ . -, not starting with . or -)",
                   BGR_AGENT_SESSION_NAME_MAX);
      return FALSE;
    }
  return TRUE;
}

/**
 * bgr_client_vm_session_start:
 * @self: a #BgrClient
 * @vm: a running VM
 * @spec: the session; see #BgrSessionSpec
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Starts a session in the VM. The guest agent checks first that the
 * working directory exists and that argv[0] and every `require` command
 * are found in the guest's PATH; when one is not, the error names it and
 * nothing is started. A name already running is refused; an exited
 * session of that name is replaced (its output goes).
 *
 * Returns: (transfer full): the session as it started, or %NULL
 * Since: 0.2
 */
BgrVmSession *
bgr_client_vm_session_start (BgrClient *self, const char *vm, BgrSessionSpec *spec,
                             GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  g_return_val_if_fail (BGR_IS_SESSION_SPEC (spec), NULL);
  if (!check_name ("VM", vm, error) || !check_session_name (bgr_session_spec_get_name (spec), error))
    return NULL;
  return FINISH (VT (self)->vm_session_start (B (self), vm, spec, cancellable, error), error);
}

/**
 * bgr_client_vm_session_list:
 * @self: a #BgrClient
 * @vm: a running VM
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (element-type BgrVmSession): the VM's sessions,
 *   running and exited, or %NULL
 * Since: 0.2
 */
GPtrArray *
bgr_client_vm_session_list (BgrClient *self, const char *vm, GCancellable *cancellable,
                            GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", vm, error))
    return NULL;
  return FINISH (VT (self)->vm_session_list (B (self), vm, NULL, cancellable, error), error);
}

/**
 * bgr_client_vm_session_get:
 * @self: a #BgrClient
 * @vm: a running VM
 * @name: a session
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the session, or %NULL (%BGR_ERROR_NOT_FOUND
 *   when the VM has no session of that name)
 * Since: 0.2
 */
BgrVmSession *
bgr_client_vm_session_get (BgrClient *self, const char *vm, const char *name,
                           GCancellable *cancellable, GError **error)
{
  g_autoptr (GPtrArray) list = NULL;

  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", vm, error) || !check_session_name (name, error))
    return NULL;
  list = FINISH (VT (self)->vm_session_list (B (self), vm, name, cancellable, error), error);
  if (list == NULL)
    return NULL;
  if (list->len != 1)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "VM '%s' has no session '%s'", vm, name);
      return NULL;
    }
  return g_object_ref (list->pdata[0]);
}

/**
 * bgr_client_vm_session_logs:
 * @self: a #BgrClient
 * @vm: a running VM
 * @name: a session
 * @stream: which output
 * @tail_lines: only the last this many lines (0: everything kept)
 * @follow: then wait for more until the session exits or @cancellable
 * @fd: where to write it
 * @cancellable: (nullable): stops following (the call then succeeds)
 * @error: return location for a #GError
 *
 * Writes a session's output as the guest spooled it: everything since it
 * started, less the oldest bytes when it wrote more than the spool keeps
 * (bgr_vm_session_get_stdout_dropped() says how many).
 *
 * Returns: %TRUE when the output was written
 * Since: 0.2
 */
gboolean
bgr_client_vm_session_logs (BgrClient *self, const char *vm, const char *name,
                            BgrSessionStream stream, guint tail_lines, gboolean follow, int fd,
                            GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, FALSE);
  if (!check_name ("VM", vm, error) || !check_session_name (name, error))
    return FALSE;
  if (stream != BGR_SESSION_STREAM_STDOUT && stream != BGR_SESSION_STREAM_STDERR)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "unknown stream %d (1: stdout, 2: stderr)", (int) stream);
      return FALSE;
    }
  if (fd < 0)
    {
      g_set_error_literal (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                           "a descriptor to write the output to is required");
      return FALSE;
    }
  if (!VT (self)->vm_session_logs (B (self), vm, name, stream, tail_lines, follow, fd, cancellable,
                                   error))
    {
      FINISH (NULL, error);
      return FALSE;
    }
  return TRUE;
}

static gpointer
logs_call (BgrClient *self, Call *c, GCancellable *cancellable, GError **error)
{
  bgr_client_vm_session_logs (self, c->name, c->session, c->stream, c->tail, c->follow, c->fds[1],
                              cancellable, error);
  return NULL;
}

/**
 * bgr_client_vm_session_logs_async:
 * @self: a #BgrClient
 * @vm: a running VM
 * @name: a session
 * @stream: which output
 * @tail_lines: see bgr_client_vm_session_logs()
 * @follow: see bgr_client_vm_session_logs()
 * @fd: where to write it; it must stay open until the call finishes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Since: 0.2
 */
void
bgr_client_vm_session_logs_async (BgrClient *self, const char *vm, const char *name,
                                  BgrSessionStream stream, guint tail_lines, gboolean follow,
                                  int fd, GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  Call *c;

  g_return_if_fail (BGR_IS_CLIENT (self));
  c = call_new (logs_call, vm, NULL, NULL);
  c->session = g_strdup (name);
  c->stream = stream;
  c->tail = tail_lines;
  c->follow = follow;
  c->fds[1] = fd;
  c->returns_boolean = TRUE;
  call_start (self, c, bgr_client_vm_session_logs_async, cancellable, callback, user_data);
}

/**
 * bgr_client_vm_session_logs_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: %TRUE when the output was written
 * Since: 0.2
 */
gboolean
bgr_client_vm_session_logs_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * bgr_client_vm_session_attach:
 * @self: a #BgrClient
 * @vm: a running VM
 * @name: a session started with stdin mode `pipe`
 * @stdin_fd: read and forwarded to the session's stdin (-1: nothing);
 *   its end of file closes the session's stdin
 * @stdout_fd: the session's new output goes there (-1: dropped)
 * @stderr_fd: its new error output (-1: dropped)
 * @out_status: (out) (optional): the session's exit status (128+N: killed
 *   by signal N) when it ended while attached; -1 when detached
 * @cancellable: (nullable): detaches; the session runs on
 * @error: return location for a #GError
 *
 * Attaches to a session until it exits or the caller detaches. One client
 * at a time: a second attach is refused with %BGR_ERROR_BUSY naming the
 * holder (through bangerd).
 *
 * Returns: %TRUE when the attach ended by the session's exit or a detach
 * Since: 0.2
 */
gboolean
bgr_client_vm_session_attach (BgrClient *self, const char *vm, const char *name, int stdin_fd,
                              int stdout_fd, int stderr_fd, gint *out_status,
                              GCancellable *cancellable, GError **error)
{
  gint status = -1;

  CHECK_CLIENT (self, error, FALSE);
  if (!check_name ("VM", vm, error) || !check_session_name (name, error))
    return FALSE;
  if (!VT (self)->vm_session_attach (B (self), vm, name, stdin_fd, stdout_fd, stderr_fd, -1,
                                     &status, cancellable, error))
    {
      FINISH (NULL, error);
      return FALSE;
    }
  if (out_status != NULL)
    *out_status = status;
  return TRUE;
}

/**
 * bgr_client_vm_session_attach_terminal:
 * @self: a #BgrClient
 * @vm: a running VM
 * @name: a session started on a terminal (bgr_session_spec_set_pty()),
 *   stdin mode `pipe`
 * @stdin_fd: typed into the session's terminal (-1: nothing); its end of
 *   file closes the session's stdin
 * @stdout_fd: the terminal's new output goes there (-1: dropped)
 * @resize_fd: each line "ROWS COLS\n" read there while attached resizes
 *   the session's terminal (-1: none)
 * @out_status: (out) (optional): as for bgr_client_vm_session_attach()
 * @cancellable: (nullable): detaches; the session runs on
 * @error: return location for a #GError
 *
 * bgr_client_vm_session_attach() for a session on a terminal, whose window
 * size follows the caller's. The same one-client rule applies.
 *
 * Returns: %TRUE when the attach ended by the session's exit or a detach
 * Since: 0.2
 */
gboolean
bgr_client_vm_session_attach_terminal (BgrClient *self, const char *vm, const char *name,
                                       int stdin_fd, int stdout_fd, int resize_fd,
                                       gint *out_status, GCancellable *cancellable,
                                       GError **error)
{
  gint status = -1;

  CHECK_CLIENT (self, error, FALSE);
  if (!check_name ("VM", vm, error) || !check_session_name (name, error))
    return FALSE;
  if (!VT (self)->vm_session_attach (B (self), vm, name, stdin_fd, stdout_fd, -1, resize_fd,
                                     &status, cancellable, error))
    {
      FINISH (NULL, error);
      return FALSE;
    }
  if (out_status != NULL)
    *out_status = status;
  return TRUE;
}

static gpointer
attach_call (BgrClient *self, Call *c, GCancellable *cancellable, GError **error)
{
  if (c->terminal)
    bgr_client_vm_session_attach_terminal (self, c->name, c->session, c->fds[0], c->fds[1],
                                           c->resize_fd, &c->status, cancellable, error);
  else
    bgr_client_vm_session_attach (self, c->name, c->session, c->fds[0], c->fds[1], c->fds[2],
                                  &c->status, cancellable, error);
  return NULL;
}

/**
 * bgr_client_vm_session_attach_async:
 * @self: a #BgrClient
 * @vm: a running VM
 * @name: a session
 * @stdin_fd: see bgr_client_vm_session_attach()
 * @stdout_fd: see bgr_client_vm_session_attach()
 * @stderr_fd: see bgr_client_vm_session_attach()
 * @cancellable: (nullable): detaches
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * The descriptors must stay open until the call finishes.
 *
 * Since: 0.2
 */
void
bgr_client_vm_session_attach_async (BgrClient *self, const char *vm, const char *name,
                                    int stdin_fd, int stdout_fd, int stderr_fd,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  Call *c;

  g_return_if_fail (BGR_IS_CLIENT (self));
  c = call_new (attach_call, vm, NULL, NULL);
  c->session = g_strdup (name);
  c->fds[0] = stdin_fd;
  c->fds[1] = stdout_fd;
  c->fds[2] = stderr_fd;
  c->resize_fd = -1;
  c->status = -1;
  c->returns_boolean = TRUE;
  call_start (self, c, bgr_client_vm_session_attach_async, cancellable, callback, user_data);
}

/**
 * bgr_client_vm_session_attach_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @out_status: (out) (optional): see bgr_client_vm_session_attach()
 * @error: return location for a #GError
 *
 * Returns: %TRUE when the attach ended by the session's exit or a detach
 * Since: 0.2
 */
gboolean
bgr_client_vm_session_attach_finish (BgrClient *self, GAsyncResult *result, gint *out_status,
                                     GError **error)
{
  return bgr_client_vm_session_attach_terminal_finish (self, result, out_status, error);
}

/**
 * bgr_client_vm_session_attach_terminal_async:
 * @self: a #BgrClient
 * @vm: a running VM
 * @name: a session on a terminal
 * @stdin_fd: see bgr_client_vm_session_attach_terminal()
 * @stdout_fd: see bgr_client_vm_session_attach_terminal()
 * @resize_fd: see bgr_client_vm_session_attach_terminal()
 * @cancellable: (nullable): detaches
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * The descriptors must stay open until the call finishes.
 *
 * Since: 0.2
 */
void
bgr_client_vm_session_attach_terminal_async (BgrClient *self, const char *vm, const char *name,
                                             int stdin_fd, int stdout_fd, int resize_fd,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback, gpointer user_data)
{
  Call *c;

  g_return_if_fail (BGR_IS_CLIENT (self));
  c = call_new (attach_call, vm, NULL, NULL);
  c->session = g_strdup (name);
  c->fds[0] = stdin_fd;
  c->fds[1] = stdout_fd;
  c->fds[2] = -1;
  c->resize_fd = resize_fd;
  c->terminal = TRUE;
  c->status = -1;
  c->returns_boolean = TRUE;
  call_start (self, c, bgr_client_vm_session_attach_terminal_async, cancellable, callback,
              user_data);
}

/**
 * bgr_client_vm_session_attach_terminal_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @out_status: (out) (optional): see bgr_client_vm_session_attach()
 * @error: return location for a #GError
 *
 * Returns: %TRUE when the attach ended by the session's exit or a detach
 * Since: 0.2
 */
gboolean
bgr_client_vm_session_attach_terminal_finish (BgrClient *self, GAsyncResult *result,
                                              gint *out_status, GError **error)
{
  Call *c;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  c = g_task_get_task_data (G_TASK (result));
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  if (out_status != NULL)
    *out_status = c->status;
  return TRUE;
}

static BgrVmSession *
session_end (BgrClient *self, const char *vm, const char *name, gboolean kill,
             GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", vm, error) || !check_session_name (name, error))
    return NULL;
  return FINISH (VT (self)->vm_session_end (B (self), vm, name, kill, cancellable, error), error);
}

/**
 * bgr_client_vm_session_stop:
 * @self: a #BgrClient
 * @vm: a running VM
 * @name: a session
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends SIGTERM to the session's process group, and SIGKILL 10 s later if
 * it still runs; returns once it exited. A session that already exited is
 * returned as it is.
 *
 * Returns: (transfer full): the exited session, or %NULL
 * Since: 0.2
 */
BgrVmSession *
bgr_client_vm_session_stop (BgrClient *self, const char *vm, const char *name,
                            GCancellable *cancellable, GError **error)
{
  return session_end (self, vm, name, FALSE, cancellable, error);
}

/**
 * bgr_client_vm_session_kill:
 * @self: a #BgrClient
 * @vm: a running VM
 * @name: a session
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends SIGKILL to the session's process group; returns once it exited.
 *
 * Returns: (transfer full): the exited session, or %NULL
 * Since: 0.2
 */
BgrVmSession *
bgr_client_vm_session_kill (BgrClient *self, const char *vm, const char *name,
                            GCancellable *cancellable, GError **error)
{
  return session_end (self, vm, name, TRUE, cancellable, error);
}
