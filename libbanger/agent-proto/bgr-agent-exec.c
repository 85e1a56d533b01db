/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* EXEC over the agent connection: a command in the guest with its stdin,
 * stdout and stderr bridged to host fds. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "agent-proto/bgr-agent-conn-private.h"
#include "bgr-error-private.h"

/* Writes @data to @fd. When the reader went away (EPIPE) the rest of the
 * output is dropped, as a pipe to `head` wants; any other failure also sets
 * *write_errno, and the exec fails once the command ended: its output was
 * lost. */
void
bgr_agent_write_out (int fd, gboolean *dead, int *write_errno, GBytes *data)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);

  while (fd >= 0 && !*dead && len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          /* A non-blocking descriptor (shared through fd passing): wait. */
          struct pollfd pfd = { .fd = fd, .events = POLLOUT };
          if (poll (&pfd, 1, 30000) > 0)
            continue;
        }
      if (n <= 0)
        {
          *dead = TRUE; /* keep draining, drop output */
          if (n < 0 && errno != EPIPE && *write_errno == 0)
            *write_errno = errno;
          break;
        }
      p += n;
      len -= (gsize) n;
    }
}

gboolean
bgr_agent_conn_exec (BgrAgentConn *c, const char *const *argv, const char *const *env,
                     const char *cwd, guint timeout_ms, int stdin_fd, int stdout_fd,
                     int stderr_fd, gint *out_status, GCancellable *cancellable, GError **error)
{
  return bgr_agent_conn_exec_terminal (c, argv, env, cwd, timeout_ms, NULL, stdin_fd, stdout_fd,
                                       stderr_fd, out_status, cancellable, error);
}

gboolean
bgr_agent_conn_exec_terminal (BgrAgentConn *c, const char *const *argv, const char *const *env,
                              const char *cwd, guint timeout_ms, const BgrAgentTerminal *term,
                              int stdin_fd, int stdout_fd, int stderr_fd, gint *out_status,
                              GCancellable *cancellable, GError **error)
{
  BgrAgentResizer *resizer = NULL;
  guint32 ch;
  GAsyncQueue *q;
  BgrAgentBuf b;
  BgrAgentStreamPump *pump = NULL;
  gboolean done = FALSE, ok = FALSE, killed = FALSE, out_dead = FALSE, err_dead = FALSE;
  int out_errno = 0, err_errno = 0;
  gint64 kill_deadline = 0;
  g_autofree char *what = NULL;

  if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "no command given");
      return FALSE;
    }
  what = NULL;
  bgr_agent_buf_init (&b);
  for (const char *const *a = argv; *a != NULL; a++)
    bgr_agent_buf_put_str (&b, BGR_AGENT_F_ARG, *a);
  for (const char *const *e = env; e != NULL && *e != NULL; e++)
    bgr_agent_buf_put_str (&b, BGR_AGENT_F_ENV, *e);
  if (cwd != NULL)
    bgr_agent_buf_put_str (&b, BGR_AGENT_F_CWD, cwd);
  if (timeout_ms > 0)
    bgr_agent_buf_put_int (&b, BGR_AGENT_F_TIMEOUT_MS, timeout_ms);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_STDIN, stdin_fd >= 0 ? 1 : 0);
  if (term != NULL && term->pty)
    {
      bgr_agent_buf_put_int (&b, BGR_AGENT_F_PTY, 1);
      bgr_agent_buf_put_int (&b, BGR_AGENT_F_ROWS, term->rows);
      bgr_agent_buf_put_int (&b, BGR_AGENT_F_COLS, term->cols);
    }

  q = bgr_agent_conn_open_channel (c, &ch);
  if (!bgr_agent_conn_send_buf (c, BGR_AGENT_MSG_EXEC, ch, &b, error))
    {
      bgr_agent_buf_clear (&b);
      bgr_agent_conn_close_channel (c, ch, q);
      return FALSE;
    }
  bgr_agent_buf_clear (&b);
  if (stdin_fd >= 0)
    {
      pump = bgr_agent_stream_pump_start (c, ch, BGR_AGENT_MSG_STDIN, stdin_fd);
    }
  if (term != NULL && term->pty && term->resize_fd >= 0)
    resizer = bgr_agent_resizer_start (c, ch, BGR_AGENT_MSG_RESIZE, term->resize_fd);

  while (!done)
    {
      BgrAgentFrame *f;

      /* Checked on every pass: a command with steady output never lets the
       * pop below time out. */
      if (!killed && g_cancellable_is_cancelled (cancellable))
        {
          BgrAgentBuf s;
          bgr_agent_buf_init (&s);
          bgr_agent_buf_put_int (&s, BGR_AGENT_F_SIGNAL, SIGKILL);
          bgr_agent_conn_send_buf (c, BGR_AGENT_MSG_SIGNAL, ch, &s, NULL);
          bgr_agent_buf_clear (&s);
          killed = TRUE;
          out_dead = err_dead = TRUE; /* the caller is gone: drop what still comes */
          kill_deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
        }
      if (killed && g_get_monotonic_time () > kill_deadline)
        {
          g_cancellable_set_error_if_cancelled (cancellable, error);
          break;
        }
      f = g_async_queue_timeout_pop (q, 100000);
      if (f == NULL)
        continue;
      switch (f->type)
        {
        case 0:
          bgr_agent_conn_closed_error (c, error);
          done = TRUE;
          break;
        case BGR_AGENT_MSG_STDOUT:
          bgr_agent_write_out (stdout_fd, &out_dead, &out_errno, f->payload);
          break;
        case BGR_AGENT_MSG_STDERR:
          bgr_agent_write_out (stderr_fd, &err_dead, &err_errno, f->payload);
          break;
        case BGR_AGENT_MSG_ERROR:
          bgr_agent_frame_error (f, what, error);
          done = TRUE;
          break;
        case BGR_AGENT_MSG_EXIT:
          {
            BgrAgentFieldIter it;
            guint16 tag;
            const guint8 *val;
            guint32 len;
            gint64 code = -1, sig = 0, timed_out = 0;

            bgr_agent_fields_init (&it, g_bytes_get_data (f->payload, NULL),
                                   g_bytes_get_size (f->payload));
            while (bgr_agent_fields_next (&it, &tag, &val, &len) == 1)
              if (tag == BGR_AGENT_F_EXIT_CODE)
                bgr_agent_field_int (val, len, &code);
              else if (tag == BGR_AGENT_F_SIGNAL)
                bgr_agent_field_int (val, len, &sig);
              else if (tag == BGR_AGENT_F_TIMED_OUT)
                bgr_agent_field_int (val, len, &timed_out);
            done = TRUE;
            if (killed)
              g_cancellable_set_error_if_cancelled (cancellable, error);
            else if (timed_out)
              g_set_error (error, BGR_ERROR, BGR_ERROR_TIMED_OUT,
                           "'%s' timed out after %u ms and was killed", argv[0], timeout_ms);
            else if (out_errno != 0 || err_errno != 0)
              g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED,
                           "'%s' ran, but its %s was lost: cannot write it: %s", argv[0],
                           out_errno != 0 ? "output" : "error output",
                           g_strerror (out_errno != 0 ? out_errno : err_errno));
            else
              {
                /* A status, whatever the guest says: 0..255. */
                if (out_status != NULL)
                  *out_status = code >= 0 ? (gint) MIN (code, 255) : 128 + (gint) CLAMP (sig, 0, 127);
                ok = TRUE;
              }
          }
          break;
        default:
          break;
        }
      bgr_agent_frame_free (f);
    }

  bgr_agent_resizer_stop (resizer);
  bgr_agent_stream_pump_stop (pump);
  bgr_agent_conn_close_channel (c, ch, q);
  return ok;
}
