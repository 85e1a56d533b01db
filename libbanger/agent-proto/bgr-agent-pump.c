/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A host descriptor read until its end and sent to the guest agent as
 * frames of one type on one channel: STDIN of an exec or a session attach,
 * TCP_DATA of a tunnel. */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "agent-proto/bgr-agent-conn-private.h"

struct _BgrAgentStreamPump {
  BgrAgentConn *conn;
  guint32 channel;
  guint16 type;
  int fd;
  GCancellable *stop;
  GThread *thread;
};

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
          bgr_agent_conn_send_frame (p->conn, p->type, p->channel, NULL, 0, NULL);
          break;
        }
      if (!bgr_agent_conn_send_frame (p->conn, p->type, p->channel, buf, (gsize) n, NULL))
        break;
    }
  g_cancellable_release_fd (p->stop);
  return NULL;
}

BgrAgentStreamPump *
bgr_agent_stream_pump_start (BgrAgentConn *conn, guint32 channel, guint16 type, int fd)
{
  BgrAgentStreamPump *p = g_new0 (BgrAgentStreamPump, 1);

  p->conn = conn;
  p->channel = channel;
  p->type = type;
  p->fd = fd;
  p->stop = g_cancellable_new ();
  p->thread = g_thread_new ("bgr-agent-pump", pump_thread, p);
  return p;
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
