/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sessions (bgr-session.h): the engine asks the VM's agent, which owns
 * them; banger keeps no state of its own about them, so they outlive any
 * client and bangerd itself (docs/agent-protocol.md, "Sessions"). */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "agent-proto/bgr-agent-proto.h"
#include "agent-proto/bgr-agent-sessions-private.h"
#include "bgr-error-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-agent-private.h"
#include "engine/bgr-engine-reconcile-private.h"
#include "engine/bgr-engine-vm-record-private.h"

/* Bounds on what a caller may ask to start: the guest would refuse more
 * anyway (one frame), but with a less useful message. */
#define ARGV_ENV_MAX_BYTES (256 * 1024)
#define ARGV_ENV_MAX_COUNT 4096
#define STOP_GRACE_MS 10000
#define END_WAIT_MS (STOP_GRACE_MS + 10000)

static BgrAgentConn *
conn_of (BgrEngine *engine, const char *vm, GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) doc = bgr_vm_load_running (engine, vm, error);

  if (doc == NULL)
    return NULL;
  return bgr_vm_agent_get (engine, doc, cancellable, error);
}

/* The guest's "no session 'x'" as the user asked it: with the VM. */
static gboolean
name_missing (GError **error, const char *vm, const char *name)
{
  if (error != NULL && *error != NULL && g_error_matches (*error, BGR_ERROR, BGR_ERROR_NOT_FOUND))
    {
      g_clear_error (error);
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "VM '%s' has no session '%s'", vm, name);
    }
  return FALSE;
}

static BgrVmSession *
session_view (const char *vm, JsonObject *s)
{
  g_autoptr (JsonObject) copy = json_object_ref (s);
  json_object_set_string_member (copy, "vm", vm);
  return bgr_vm_session_new_from_json (copy);
}

static gboolean
check_strings (const char *what, const char *const *v, gboolean is_env, gsize *bytes,
               guint *count, GError **error)
{
  for (; v != NULL && *v != NULL; v++)
    {
      if (is_env && (strchr (*v, '=') == NULL || **v == '='))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "environment entry '%s' is not KEY=VALUE", *v);
          return FALSE;
        }
      if (!is_env && **v == '\0')
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "an empty %s", what);
          return FALSE;
        }
      *bytes += strlen (*v) + 1;
      (*count)++;
    }
  return TRUE;
}

static gboolean
check_start (const char *const *argv, const char *const *env, const char *cwd,
             const char *const *require, GError **error)
{
  gsize bytes = 0;
  guint count = 0;

  if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
    {
      g_set_error_literal (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                           "a command to run is required");
      return FALSE;
    }
  if (cwd != NULL && cwd[0] != '/')
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "the working directory must be an absolute path, not '%s'", cwd);
      return FALSE;
    }
  if (!check_strings ("argument", argv + 1, FALSE, &bytes, &count, error)
      || !check_strings ("environment entry", env, TRUE, &bytes, &count, error)
      || !check_strings ("required command", require, FALSE, &bytes, &count, error))
    return FALSE;
  bytes += strlen (argv[0]);
  if (bytes > ARGV_ENV_MAX_BYTES || count >= ARGV_ENV_MAX_COUNT)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "the command, its environment and required commands are too large "
                   "(%" G_GSIZE_FORMAT " bytes in %u strings; at most %d bytes and %d strings)",
                   bytes, count + 1, ARGV_ENV_MAX_BYTES, ARGV_ENV_MAX_COUNT);
      return FALSE;
    }
  return TRUE;
}

BgrVmSession *
bgr_engine_vm_session_start (BgrEngine *engine, const char *vm, const char *name,
                             const char *const *argv, const char *const *env, const char *cwd,
                             const char *stdin_mode, gboolean pty, guint rows, guint cols,
                             const char *const *require, GCancellable *cancellable,
                             GError **error)
{
  g_autoptr (BgrAgentConn) conn = NULL;
  g_autoptr (JsonObject) s = NULL;
  gboolean pipe = FALSE;
  BgrAgentTerminal term = { .pty = pty, .rows = rows, .cols = cols, .resize_fd = -1 };

  if (stdin_mode != NULL && !g_str_equal (stdin_mode, "detached"))
    {
      if (!g_str_equal (stdin_mode, "pipe"))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "unknown stdin mode '%s' (known: detached, pipe)", stdin_mode);
          return NULL;
        }
      pipe = TRUE;
    }
  if (rows > 65535 || cols > 65535)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "window size %ux%u: rows and cols must be at most 65535", rows, cols);
      return NULL;
    }
  if (!check_start (argv, env, cwd, require, error)
      || (conn = conn_of (engine, vm, cancellable, error)) == NULL)
    return NULL;
  s = bgr_agent_conn_session_start (conn, name, argv, env, cwd, pipe, &term, require,
                                    cancellable, error);
  if (s == NULL)
    return NULL;
  bgr_vm_record_touch (engine, vm);
  return session_view (vm, s);
}

GPtrArray *
bgr_engine_vm_session_list (BgrEngine *engine, const char *vm, const char *name,
                            GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrAgentConn) conn = conn_of (engine, vm, cancellable, error);
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GError) local = NULL;
  GPtrArray *out;

  if (conn == NULL)
    return NULL;
  list = bgr_agent_conn_session_list (conn, name, cancellable, &local);
  if (list == NULL)
    {
      if (name != NULL && g_error_matches (local, BGR_ERROR, BGR_ERROR_NOT_FOUND))
        g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "VM '%s' has no session '%s'", vm, name);
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  out = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < list->len; i++)
    g_ptr_array_add (out, session_view (vm, list->pdata[i]));
  return out;
}

/* The offset where the last @lines lines of @data begin. */
static gsize
tail_start (const GByteArray *data, guint lines)
{
  gsize i = data->len;

  if (i > 0 && data->data[i - 1] == '\n')
    i--; /* the last line's own newline */
  while (i > 0)
    {
      if (data->data[i - 1] == '\n' && --lines == 0)
        return i;
      i--;
    }
  return 0;
}

static gboolean
write_all (int fd, const guint8 *p, gsize len, GError **error)
{
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          if (errno == EPIPE)
            return TRUE; /* the reader left: nothing more to do */
          g_set_error (error, BGR_ERROR, BGR_ERROR_IO, "cannot write the output: %s",
                       g_strerror (errno));
          return FALSE;
        }
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

gboolean
bgr_engine_vm_session_logs (BgrEngine *engine, const char *vm, const char *name, gint stream,
                            guint tail, gboolean follow, int fd, GCancellable *cancellable,
                            GError **error)
{
  g_autoptr (BgrAgentConn) conn = conn_of (engine, vm, cancellable, error);
  g_autoptr (GByteArray) all = NULL;
  guint64 start = 0, next = 0;
  gsize from;

  if (conn == NULL)
    return FALSE;
  if (tail == 0)
    return bgr_agent_conn_session_read (conn, name, stream, 0, follow, fd, NULL, NULL, NULL,
                                        cancellable, error)
           || name_missing (error, vm, name);
  /* The last lines: what is kept is bounded (the guest's spool), so read
   * it all and cut here, then follow from its end. */
  all = g_byte_array_new ();
  if (!bgr_agent_conn_session_read (conn, name, stream, 0, FALSE, -1, all, &start, &next,
                                    cancellable, error))
    return name_missing (error, vm, name);
  from = tail_start (all, tail);
  if (!write_all (fd, all->data + from, all->len - from, error))
    return FALSE;
  if (!follow)
    return TRUE;
  return bgr_agent_conn_session_read (conn, name, stream, next, TRUE, fd, NULL, NULL, NULL,
                                      cancellable, error);
}

gboolean
bgr_engine_vm_session_attach (BgrEngine *engine, const char *vm, const char *name, int stdin_fd,
                              int stdout_fd, int stderr_fd, int resize_fd, gint *out_status,
                              GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrAgentConn) conn = conn_of (engine, vm, cancellable, error);
  gboolean exited = FALSE, ok;

  if (conn == NULL)
    return FALSE;
  bgr_vm_record_touch (engine, vm);
  bgr_vm_agent_exec_begin (engine, vm); /* an attach is activity, like an exec */
  ok = bgr_agent_conn_session_attach (conn, name, stdin_fd, stdout_fd, stderr_fd, resize_fd,
                                      &exited, out_status, cancellable, error);
  bgr_vm_agent_exec_end (engine, vm);
  bgr_vm_record_touch (engine, vm);
  if (!ok)
    return name_missing (error, vm, name);
  if (!exited)
    *out_status = -1;
  return ok;
}

BgrVmSession *
bgr_engine_vm_session_end (BgrEngine *engine, const char *vm, const char *name, gboolean kill,
                           GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrAgentConn) conn = conn_of (engine, vm, cancellable, error);
  gint64 deadline = g_get_monotonic_time () + (gint64) END_WAIT_MS * 1000;
  gboolean sent;

  if (conn == NULL)
    return NULL;
  sent = kill ? bgr_agent_conn_session_signal (conn, name, SIGKILL, cancellable, error)
              : bgr_agent_conn_session_stop (conn, name, STOP_GRACE_MS, cancellable, error);
  if (!sent)
    {
      name_missing (error, vm, name);
      return NULL;
    }
  for (;;)
    {
      g_autoptr (GPtrArray) list = bgr_agent_conn_session_list (conn, name, cancellable, error);
      JsonObject *s;

      if (list == NULL)
        return NULL;
      s = list->len == 1 ? list->pdata[0] : NULL;
      if (s != NULL && g_strcmp0 (bgr_record_str (s, "state"), "running") != 0)
        return session_view (vm, s);
      if (g_get_monotonic_time () >= deadline)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_TIMED_OUT,
                       "session '%s' of VM '%s' still runs %d s after SIGKILL", name, vm,
                       (END_WAIT_MS - STOP_GRACE_MS) / 1000);
          return NULL;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      g_usleep (50 * 1000);
    }
}
