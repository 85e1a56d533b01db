/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A host descriptor read in a thread until its end and sent to the guest
 * agent on one channel: as frames of one type (STDIN of an exec or a
 * session attach, TCP_DATA of a tunnel), or, for a terminal, as one
 * window-size frame per "ROWS COLS" line (bgr-agent-pty.c). */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "agent-proto/bgr-agent-conn-private.h"

struct _BgrAgentStreamPump {
  BgrAgentConn *conn;
  guint32 channel;
  guint16 type;
  int fd;
  gboolean lines;       /* window sizes, a line each */
  char line[64];        /* with lines: the line so far */
  gsize len;
  gboolean overlong;    /* with lines: skipping a line too long to be a size */
  GCancellable *stop;
  GThread *thread;
};

/* With lines: each complete line of @buf becomes a window-size frame. */
static void
feed_lines (BgrAgentStreamPump *p, const guint8 *buf, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      if (buf[i] == '\n')
        {
          p->line[p->len] = '\0';
          if (!p->overlong)
            bgr_agent_send_window_size (p->conn, p->type, p->channel, p->line);
          p->len = 0;
          p->overlong = FALSE;
        }
      else if (p->len < sizeof p->line - 1)
        p->line[p->len++] = (char) buf[i];
      else
        p->overlong = TRUE;
    }
}

static gpointer
pump_thread (gpointer data)
{
  BgrAgentStreamPump *p = data;
  g_autofree guint8 *buf = g_malloc (64 * 1024);
  GPollFD fds[2] = { { .fd = p->fd, .events = G_IO_IN } };

  g_cancellable_make_pollfd (p->stop, &fds[1]);
  for (;;)
    {
      gssize n;

      fds[0].revents = fds[1].revents = 0;
      if (g_poll (fds, 2, -1) < 0 && errno != EINTR)
        break;
      if (g_cancellable_is_cancelled (p->stop))
        break;
      if (fds[0].revents == 0)
        continue;
      n = read (p->fd, buf, 64 * 1024);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n <= 0)
        {
          /* End of input (or a reset): an empty frame says so. */
          if (!p->lines)
            bgr_agent_conn_send_frame (p->conn, p->type, p->channel, NULL, 0, NULL);
          break;
        }
      if (p->lines)
        feed_lines (p, buf, (gsize) n);
      else if (!bgr_agent_conn_send_frame (p->conn, p->type, p->channel, buf, (gsize) n, NULL))
        break;
    }
  g_cancellable_release_fd (p->stop);
  return NULL;
}

static BgrAgentStreamPump *
start (BgrAgentConn *conn, guint32 channel, guint16 type, int fd, gboolean lines)
{
  BgrAgentStreamPump *p = g_new0 (BgrAgentStreamPump, 1);

  p->conn = conn;
  p->channel = channel;
  p->type = type;
  p->fd = fd;
  p->lines = lines;
  p->stop = g_cancellable_new ();
  p->thread = g_thread_new (lines ? "bgr-agent-resize" : "bgr-agent-pump", pump_thread, p);
  return p;
}

BgrAgentStreamPump *
bgr_agent_stream_pump_start (BgrAgentConn *conn, guint32 channel, guint16 type, int fd)
{
  return start (conn, channel, type, fd, FALSE);
}

BgrAgentStreamPump *
bgr_agent_resizer_start (BgrAgentConn *conn, guint32 channel, guint16 type, int fd)
{
  return start (conn, channel, type, fd, TRUE);
}

void
bgr_agent_stream_pump_stop (BgrAgentStreamPump *p)
{
  if (p == NULL)
    return;
  g_cancellable_cancel (p->stop);
  g_thread_join (p->thread);
  g_object_unref (p->stop);
  g_free (p);
}
