/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TCP_CONNECT over the agent connection: a TCP connection the agent opens
 * in the guest, bridged to host descriptors (a socket bangerd accepted for
 * a forward, or the stdin/stdout of `banger vm proxy`). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-proto/bgr-agent-conn-private.h"
#include "bgr-error-private.h"

#define CONNECT_WAIT_MS 15000

/* ---- the bridge ---- */

/* Writes all of @data to @fd; FALSE with errno set when it cannot. */
static gboolean
write_all (int fd, GBytes *data)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          struct pollfd pfd = { .fd = fd, .events = POLLOUT };
          if (poll (&pfd, 1, 30000) > 0)
            continue;
          errno = ETIMEDOUT;
        }
      if (n <= 0)
        return FALSE;
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static void
send_abort (BgrAgentConn *c, guint32 ch)
{
  bgr_agent_conn_send_frame (c, BGR_AGENT_MSG_TCP_CLOSE, ch, NULL, 0, NULL);
}

/* Waits for TCP_CONNECTED. FALSE with @error: refused, timed out, lost. */
static gboolean
wait_connected (BgrAgentConn *c, GAsyncQueue *q, guint32 ch, const char *what,
                GCancellable *cancellable, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + CONNECT_WAIT_MS * 1000;

  for (;;)
    {
      BgrAgentFrame *f = g_async_queue_timeout_pop (q, 100000);
      gboolean done = FALSE, ok = FALSE;
      if (f != NULL)
        {
          if (f->type == 0)
            done = TRUE, bgr_agent_conn_closed_error (c, error);
          else if (f->type == BGR_AGENT_MSG_ERROR)
            done = TRUE, bgr_agent_frame_error (f, NULL, error);
          else if (f->type == BGR_AGENT_MSG_TCP_CONNECTED)
            done = ok = TRUE;
          bgr_agent_frame_free (f);
          if (done)
            return ok;
          continue;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          send_abort (c, ch);
          return FALSE;
        }
      if (g_get_monotonic_time () >= deadline)
        {
          send_abort (c, ch);
          g_set_error (error, BGR_ERROR, BGR_ERROR_TIMED_OUT,
                       "cannot connect to %s in the guest: the guest agent did not answer within %d s",
                       what, CONNECT_WAIT_MS / 1000);
          return FALSE;
        }
    }
}

/* TCP_CLOSE from the agent: fine, or the error that ended the connection. */
static gboolean
closed_by_guest (BgrAgentFrame *f, GError **error)
{
  BgrAgentFieldIter it;
  guint16 tag;
  const guint8 *val;
  guint32 len;

  bgr_agent_fields_init (&it, g_bytes_get_data (f->payload, NULL), g_bytes_get_size (f->payload));
  while (bgr_agent_fields_next (&it, &tag, &val, &len) == 1)
    if (tag == BGR_AGENT_F_MESSAGE)
      return bgr_agent_frame_error (f, NULL, error);
  return TRUE;
}

/* The guest ended its direction: so does @out_fd where it can (a socket
 * half-closes; a pipe or terminal stays open until the call returns). */
static void
end_output (int out_fd)
{
  struct stat st;

  if (out_fd >= 0 && fstat (out_fd, &st) == 0 && S_ISSOCK (st.st_mode))
    shutdown (out_fd, SHUT_WR);
}

gboolean
bgr_agent_conn_tcp_bridge (BgrAgentConn *c, const char *addr, guint port, int in_fd, int out_fd,
                           GCancellable *cancellable, GError **error)
{
  g_autofree char *what = NULL;
  BgrAgentStreamPump *pump = NULL;
  gboolean done = FALSE, ok = FALSE, out_dead = FALSE;
  GAsyncQueue *q;
  BgrAgentBuf b;
  guint32 ch;

  if (port < 1 || port > 65535)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "port %u is not 1-65535", port);
      return FALSE;
    }
  what = g_strdup_printf (addr != NULL && strchr (addr, ':') != NULL ? "[%s]:%u" : "%s:%u",
                          addr != NULL ? addr : "127.0.0.1", port);
  bgr_agent_buf_init (&b);
  if (addr != NULL)
    bgr_agent_buf_put_str (&b, BGR_AGENT_F_TCP_ADDR, addr);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_TCP_PORT, port);
  q = bgr_agent_conn_open_channel (c, &ch);
  ok = bgr_agent_conn_send_buf (c, BGR_AGENT_MSG_TCP_CONNECT, ch, &b, error);
  bgr_agent_buf_clear (&b);
  if (!ok || !wait_connected (c, q, ch, what, cancellable, error))
    {
      bgr_agent_conn_close_channel (c, ch, q);
      return FALSE;
    }
  ok = FALSE;
  pump = in_fd >= 0 ? bgr_agent_stream_pump_start (c, ch, BGR_AGENT_MSG_TCP_DATA, in_fd) : NULL;
  if (pump == NULL)
    bgr_agent_conn_send_frame (c, BGR_AGENT_MSG_TCP_DATA, ch, NULL, 0, NULL);

  while (!done)
    {
      BgrAgentFrame *f;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          send_abort (c, ch);
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
        case BGR_AGENT_MSG_TCP_DATA:
          if (g_bytes_get_size (f->payload) == 0)
            end_output (out_fd);
          else if (!out_dead && out_fd >= 0 && !write_all (out_fd, f->payload))
            {
              /* The host side went away: so does the guest connection. */
              out_dead = TRUE;
              send_abort (c, ch);
            }
          break;
        case BGR_AGENT_MSG_ERROR:
          bgr_agent_frame_error (f, NULL, error);
          done = TRUE;
          break;
        case BGR_AGENT_MSG_TCP_CLOSE:
          ok = closed_by_guest (f, error);
          done = TRUE;
          break;
        default:
          break;
        }
      bgr_agent_frame_free (f);
    }
  bgr_agent_stream_pump_stop (pump);
  bgr_agent_conn_close_channel (c, ch, q);
  return ok;
}
