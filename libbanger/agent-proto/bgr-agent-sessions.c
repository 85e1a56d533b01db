/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sessions over the agent connection (docs/agent-protocol.md, "Sessions").
 * What the guest reports is bounded before use, as everywhere else. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "agent-proto/bgr-agent-conn-private.h"
#include "agent-proto/bgr-agent-sessions-private.h"
#include "bgr-error-private.h"

#define REQUEST_TIMEOUT_MS (10 * 1000)
#define STR_MAX 4096      /* one argv entry or cwd kept from the guest */
#define ARGS_MAX 256      /* argv entries kept */
#define SESSIONS_MAX 1024 /* sessions kept from one SESSIONS */
#define END_WAIT_US (5 * G_USEC_PER_SEC) /* for the agent's answer to DETACH */

static gint64
nonneg (gint64 v)
{
  return v < 0 || v >= (G_GINT64_CONSTANT (1) << 53) ? 0 : v;
}

static void
set_str (JsonObject *o, const char *member, const guint8 *val, guint32 len)
{
  g_autofree char *s = bgr_agent_field_str_max (val, len, STR_MAX, NULL);
  json_object_set_string_member (o, member, s);
}

static const char *
int_member (guint16 tag)
{
  switch (tag)
    {
    case BGR_AGENT_F_PID: return "pid";
    case BGR_AGENT_F_STARTED_MS: return "started_ms";
    case BGR_AGENT_F_ENDED_MS: return "ended_ms";
    case BGR_AGENT_F_OUT_END: return "stdout_bytes";
    case BGR_AGENT_F_OUT_DROPPED: return "stdout_dropped";
    case BGR_AGENT_F_ERR_END: return "stderr_bytes";
    case BGR_AGENT_F_ERR_DROPPED: return "stderr_dropped";
    default: return NULL;
    }
}

/* One SESSION field (a nested field list) as JSON; NULL when it has no
 * valid name or state. */
static JsonObject *
parse_session (const guint8 *data, guint32 size)
{
  g_autoptr (JsonObject) o = json_object_new ();
  JsonArray *argv = json_array_new ();
  BgrAgentFieldIter it;
  guint16 tag;
  const guint8 *val;
  guint32 len;
  gint64 v, code = 0, sig = 0;

  json_object_set_array_member (o, "argv", argv);
  bgr_agent_fields_init (&it, data, size);
  while (bgr_agent_fields_next (&it, &tag, &val, &len) == 1)
    {
      gboolean is_int = bgr_agent_field_int (val, len, &v) == 0;
      if (tag == BGR_AGENT_F_SESSION_NAME)
        {
          g_autofree char *name = g_strndup ((const char *) val, len);
          if (strlen (name) == len && bgr_agent_session_name_valid (name))
            json_object_set_string_member (o, "name", name);
        }
      else if (tag == BGR_AGENT_F_ARG && json_array_get_length (argv) < ARGS_MAX)
        {
          g_autofree char *s = bgr_agent_field_str_max (val, len, STR_MAX, NULL);
          json_array_add_string_element (argv, s);
        }
      else if (tag == BGR_AGENT_F_CWD)
        set_str (o, "cwd", val, len);
      else if (tag == BGR_AGENT_F_STATE && len == 7 && memcmp (val, "running", 7) == 0)
        json_object_set_string_member (o, "state", "running");
      else if (tag == BGR_AGENT_F_STATE && len == 6 && memcmp (val, "exited", 6) == 0)
        json_object_set_string_member (o, "state", "exited");
      else if (tag == BGR_AGENT_F_STDIN && is_int)
        json_object_set_string_member (o, "stdin_mode", v == BGR_AGENT_STDIN_PIPE ? "pipe" : "detached");
      else if (tag == BGR_AGENT_F_EXIT_CODE && is_int)
        code = CLAMP (v, -1, 255);
      else if (tag == BGR_AGENT_F_SIGNAL && is_int)
        sig = CLAMP (v, 0, 127);
      else if (tag == BGR_AGENT_F_ATTACHED && is_int)
        json_object_set_boolean_member (o, "attached", v != 0);
      else if (tag == BGR_AGENT_F_PTY && is_int)
        json_object_set_boolean_member (o, "pty", v != 0);
      else if (int_member (tag) != NULL && is_int)
        json_object_set_int_member (o, int_member (tag), nonneg (v));
    }
  if (!json_object_has_member (o, "name") || !json_object_has_member (o, "state"))
    return NULL;
  if (!json_object_has_member (o, "stdin_mode"))
    json_object_set_string_member (o, "stdin_mode", "detached");
  if (!json_object_has_member (o, "attached"))
    json_object_set_boolean_member (o, "attached", FALSE);
  if (!json_object_has_member (o, "pty"))
    json_object_set_boolean_member (o, "pty", FALSE);
  if (g_str_equal (json_object_get_string_member (o, "state"), "exited"))
    {
      json_object_set_int_member (o, "exit_code", code);
      json_object_set_int_member (o, "signal", sig);
    }
  return g_steal_pointer (&o);
}

/* The sessions of a SESSIONS frame. */
static GPtrArray *
parse_sessions (BgrAgentFrame *f)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  BgrAgentFieldIter it;
  guint16 tag;
  const guint8 *val;
  guint32 len;
  guint skipped = 0;

  bgr_agent_fields_init (&it, g_bytes_get_data (f->payload, NULL), g_bytes_get_size (f->payload));
  while (bgr_agent_fields_next (&it, &tag, &val, &len) == 1)
    if (tag == BGR_AGENT_F_SESSION)
      {
        JsonObject *s = out->len < SESSIONS_MAX ? parse_session (val, len) : NULL;
        if (s != NULL)
          g_ptr_array_add (out, s);
        else
          skipped++;
      }
  if (skipped > 0)
    g_info ("the guest agent reported %u sessions banger cannot use; skipped", skipped);
  return out;
}

JsonObject *
bgr_agent_conn_session_start (BgrAgentConn *c, const char *name, const char *const *argv,
                              const char *const *env, const char *cwd, gboolean pipe_stdin,
                              const BgrAgentTerminal *terminal, const char *const *require,
                              GCancellable *cancellable, GError **error)
{
  BgrAgentBuf b;
  BgrAgentFrame *f;
  g_autoptr (GPtrArray) list = NULL;
  g_autofree char *what = g_strdup_printf ("cannot start session '%s'", name);

  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_str (&b, BGR_AGENT_F_SESSION_NAME, name);
  for (const char *const *a = argv; a != NULL && *a != NULL; a++)
    bgr_agent_buf_put_str (&b, BGR_AGENT_F_ARG, *a);
  for (const char *const *e = env; e != NULL && *e != NULL; e++)
    bgr_agent_buf_put_str (&b, BGR_AGENT_F_ENV, *e);
  if (cwd != NULL)
    bgr_agent_buf_put_str (&b, BGR_AGENT_F_CWD, cwd);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_STDIN,
                         pipe_stdin ? BGR_AGENT_STDIN_PIPE : BGR_AGENT_STDIN_DETACHED);
  for (const char *const *r = require; r != NULL && *r != NULL; r++)
    bgr_agent_buf_put_str (&b, BGR_AGENT_F_REQUIRE, *r);
  if (terminal != NULL && terminal->pty)
    {
      bgr_agent_buf_put_int (&b, BGR_AGENT_F_PTY, 1);
      bgr_agent_buf_put_int (&b, BGR_AGENT_F_ROWS, terminal->rows);
      bgr_agent_buf_put_int (&b, BGR_AGENT_F_COLS, terminal->cols);
    }
  f = bgr_agent_conn_request (c, BGR_AGENT_MSG_SESSION_START, &b, BGR_AGENT_MSG_SESSIONS,
                              REQUEST_TIMEOUT_MS, what, cancellable, error);
  bgr_agent_buf_clear (&b);
  if (f == NULL)
    return NULL;
  list = parse_sessions (f);
  bgr_agent_frame_free (f);
  if (list->len != 1)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                   "%s: the guest agent answered with %u sessions instead of one", what, list->len);
      return NULL;
    }
  return json_object_ref (list->pdata[0]);
}

GPtrArray *
bgr_agent_conn_session_list (BgrAgentConn *c, const char *name, GCancellable *cancellable,
                             GError **error)
{
  BgrAgentBuf b;
  BgrAgentFrame *f;
  GPtrArray *list;

  bgr_agent_buf_init (&b);
  if (name != NULL)
    bgr_agent_buf_put_str (&b, BGR_AGENT_F_SESSION_NAME, name);
  f = bgr_agent_conn_request (c, BGR_AGENT_MSG_SESSION_LIST, &b, BGR_AGENT_MSG_SESSIONS,
                              REQUEST_TIMEOUT_MS, "cannot list the guest's sessions", cancellable,
                              error);
  bgr_agent_buf_clear (&b);
  if (f == NULL)
    return NULL;
  list = parse_sessions (f);
  bgr_agent_frame_free (f);
  return list;
}

static gboolean
simple_request (BgrAgentConn *c, guint16 type, BgrAgentBuf *b, const char *what,
                GCancellable *cancellable, GError **error)
{
  BgrAgentFrame *f = bgr_agent_conn_request (c, type, b, BGR_AGENT_MSG_OK, REQUEST_TIMEOUT_MS,
                                             what, cancellable, error);
  bgr_agent_buf_clear (b);
  bgr_agent_frame_free (f);
  return f != NULL;
}

gboolean
bgr_agent_conn_session_signal (BgrAgentConn *c, const char *name, int sig,
                               GCancellable *cancellable, GError **error)
{
  BgrAgentBuf b;
  g_autofree char *what = g_strdup_printf ("cannot signal session '%s'", name);

  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_str (&b, BGR_AGENT_F_SESSION_NAME, name);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_SIGNAL, sig);
  return simple_request (c, BGR_AGENT_MSG_SESSION_SIGNAL, &b, what, cancellable, error);
}

gboolean
bgr_agent_conn_session_stop (BgrAgentConn *c, const char *name, guint grace_ms,
                             GCancellable *cancellable, GError **error)
{
  BgrAgentBuf b;
  g_autofree char *what = g_strdup_printf ("cannot stop session '%s'", name);

  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_str (&b, BGR_AGENT_F_SESSION_NAME, name);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_GRACE_MS, grace_ms);
  return simple_request (c, BGR_AGENT_MSG_SESSION_STOP, &b, what, cancellable, error);
}

static gint64
frame_int (BgrAgentFrame *f, guint16 want, gint64 dflt)
{
  BgrAgentFieldIter it;
  guint16 tag;
  const guint8 *val;
  guint32 len;
  gint64 v = dflt;

  bgr_agent_fields_init (&it, g_bytes_get_data (f->payload, NULL), g_bytes_get_size (f->payload));
  while (bgr_agent_fields_next (&it, &tag, &val, &len) == 1)
    if (tag == want)
      bgr_agent_field_int (val, len, &v);
  return v;
}

/* The end of a streaming channel: a DETACH when the caller left, then
 * frames until one of @end_types (or the time is up). Returns that frame. */
typedef struct {
  BgrAgentConn *conn;
  guint32 channel;
  GAsyncQueue *q;
  gboolean detach_sent;
  gint64 detach_deadline;
} Stream;

/* Next frame of @s; NULL while none came. Sends DETACH once @cancellable
 * is cancelled; sets *@gave_up when the agent did not answer it. */
static BgrAgentFrame *
stream_next (Stream *s, GCancellable *cancellable, gboolean *gave_up)
{
  if (!s->detach_sent && g_cancellable_is_cancelled (cancellable))
    {
      bgr_agent_conn_send_frame (s->conn, BGR_AGENT_MSG_DETACH, s->channel, NULL, 0, NULL);
      s->detach_sent = TRUE;
      s->detach_deadline = g_get_monotonic_time () + END_WAIT_US;
    }
  if (s->detach_sent && g_get_monotonic_time () > s->detach_deadline)
    {
      *gave_up = TRUE;
      return NULL;
    }
  return g_async_queue_timeout_pop (s->q, 100000);
}

gboolean
bgr_agent_conn_session_read (BgrAgentConn *c, const char *name, int stream, guint64 offset,
                             gboolean follow, int fd, GByteArray *into, guint64 *out_start,
                             guint64 *out_next, GCancellable *cancellable, GError **error)
{
  Stream s = { .conn = c };
  BgrAgentBuf b;
  gboolean done = FALSE, ok = FALSE, dead = FALSE, gave_up = FALSE;
  int write_errno = 0;
  guint64 pos = offset;
  g_autofree char *what = g_strdup_printf ("cannot read the output of session '%s'", name);

  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_str (&b, BGR_AGENT_F_SESSION_NAME, name);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_STREAM, stream);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_OFFSET, (gint64) MIN (offset, (guint64) G_MAXINT64));
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_FOLLOW, follow ? 1 : 0);
  s.q = bgr_agent_conn_open_channel (c, &s.channel);
  if (!bgr_agent_conn_send_buf (c, BGR_AGENT_MSG_SESSION_READ, s.channel, &b, error))
    done = TRUE;
  bgr_agent_buf_clear (&b);
  if (out_start != NULL)
    *out_start = offset;
  while (!done)
    {
      BgrAgentFrame *f = stream_next (&s, cancellable, &gave_up);
      if (gave_up)
        {
          ok = TRUE; /* the caller left; what it got is what there was */
          break;
        }
      if (f == NULL)
        continue;
      switch (f->type)
        {
        case 0:
          bgr_agent_conn_closed_error (c, error);
          done = TRUE;
          break;
        case BGR_AGENT_MSG_ERROR:
          bgr_agent_frame_error (f, what, error);
          done = TRUE;
          break;
        case BGR_AGENT_MSG_SESSION_LOG:
          pos = (guint64) nonneg (frame_int (f, BGR_AGENT_F_OFFSET, (gint64) offset));
          if (out_start != NULL)
            *out_start = pos;
          break;
        case BGR_AGENT_MSG_STDOUT:
        case BGR_AGENT_MSG_STDERR:
          pos += g_bytes_get_size (f->payload);
          if (fd >= 0)
            bgr_agent_write_out (fd, &dead, &write_errno, f->payload);
          else if (into != NULL)
            g_byte_array_append (into, g_bytes_get_data (f->payload, NULL),
                                 g_bytes_get_size (f->payload));
          if (dead && !s.detach_sent)
            {
              /* Nobody reads what we write any more: stop following. */
              bgr_agent_conn_send_frame (c, BGR_AGENT_MSG_DETACH, s.channel, NULL, 0, NULL);
              s.detach_sent = TRUE;
              s.detach_deadline = g_get_monotonic_time () + END_WAIT_US;
            }
          break;
        case BGR_AGENT_MSG_SESSION_LOG_END:
          done = ok = TRUE;
          break;
        default:
          break;
        }
      bgr_agent_frame_free (f);
    }
  bgr_agent_conn_close_channel (c, s.channel, s.q);
  if (ok && write_errno != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "cannot write the output of session '%s': %s",
                   name, g_strerror (write_errno));
      return FALSE;
    }
  if (out_next != NULL)
    *out_next = pos;
  return ok;
}

static gint
exit_status (BgrAgentFrame *f)
{
  gint64 code = frame_int (f, BGR_AGENT_F_EXIT_CODE, -1);
  gint64 sig = frame_int (f, BGR_AGENT_F_SIGNAL, 0);
  return code >= 0 ? (gint) MIN (code, 255) : 128 + (gint) CLAMP (sig, 0, 127);
}

gboolean
bgr_agent_conn_session_attach (BgrAgentConn *c, const char *name, int stdin_fd, int stdout_fd,
                               int stderr_fd, int resize_fd, gboolean *out_exited,
                               gint *out_status, GCancellable *cancellable, GError **error)
{
  Stream s = { .conn = c };
  BgrAgentBuf b;
  BgrAgentStreamPump *pump = NULL;
  BgrAgentResizer *resizer = NULL;
  gboolean done = FALSE, ok = FALSE, out_dead = FALSE, err_dead = FALSE, gave_up = FALSE;
  int out_errno = 0, err_errno = 0;
  g_autofree char *what = g_strdup_printf ("cannot attach to session '%s'", name);

  *out_exited = FALSE;
  *out_status = -1;
  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_str (&b, BGR_AGENT_F_SESSION_NAME, name);
  s.q = bgr_agent_conn_open_channel (c, &s.channel);
  if (!bgr_agent_conn_send_buf (c, BGR_AGENT_MSG_SESSION_ATTACH, s.channel, &b, error))
    done = TRUE;
  bgr_agent_buf_clear (&b);
  while (!done)
    {
      BgrAgentFrame *f = stream_next (&s, cancellable, &gave_up);
      if (gave_up)
        {
          ok = TRUE;
          break;
        }
      if (f == NULL)
        continue;
      switch (f->type)
        {
        case 0:
          bgr_agent_conn_closed_error (c, error);
          done = TRUE;
          break;
        case BGR_AGENT_MSG_ERROR:
          bgr_agent_frame_error (f, what, error);
          done = TRUE;
          break;
        case BGR_AGENT_MSG_SESSION_ATTACHED:
          if (stdin_fd >= 0 && pump == NULL)
            pump = bgr_agent_stream_pump_start (c, s.channel, BGR_AGENT_MSG_STDIN, stdin_fd);
          if (resize_fd >= 0 && resizer == NULL)
            resizer = bgr_agent_resizer_start (c, s.channel, BGR_AGENT_MSG_WINSIZE, resize_fd);
          break;
        case BGR_AGENT_MSG_STDOUT:
          bgr_agent_write_out (stdout_fd, &out_dead, &out_errno, f->payload);
          break;
        case BGR_AGENT_MSG_STDERR:
          bgr_agent_write_out (stderr_fd, &err_dead, &err_errno, f->payload);
          break;
        case BGR_AGENT_MSG_EXIT:
          *out_exited = TRUE;
          *out_status = exit_status (f);
          done = ok = TRUE;
          break;
        case BGR_AGENT_MSG_OK: /* detached */
          done = ok = TRUE;
          break;
        default:
          break;
        }
      bgr_agent_frame_free (f);
    }
  bgr_agent_stream_pump_stop (pump);
  bgr_agent_resizer_stop (resizer);
  bgr_agent_conn_close_channel (c, s.channel, s.q);
  if (ok && (out_errno != 0 || err_errno != 0))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED,
                   "cannot write the output of session '%s': %s", name,
                   g_strerror (out_errno != 0 ? out_errno : err_errno));
      return FALSE;
    }
  return ok;
}
