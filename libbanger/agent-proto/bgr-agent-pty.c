/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Terminals: the window size changes a caller writes to its resize
 * descriptor ("ROWS COLS\n" lines) become RESIZE frames of an exec or
 * WINSIZE frames of a session's attach. */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "agent-proto/bgr-agent-conn-private.h"

struct _BgrAgentResizer {
  BgrAgentConn *conn;
  guint32 channel;
  guint16 type;
  int fd;
  GCancellable *stop;
  GThread *thread;
};

gboolean
bgr_agent_parse_window_size (const char *line, guint *rows, guint *cols)
{
  g_auto (GStrv) f = g_strsplit (line, " ", 3);
  guint64 r, c;

  if (g_strv_length (f) != 2 || !g_ascii_string_to_unsigned (f[0], 10, 1, 65535, &r, NULL)
      || !g_ascii_string_to_unsigned (f[1], 10, 1, 65535, &c, NULL))
    return FALSE;
  *rows = (guint) r;
  *cols = (guint) c;
  return TRUE;
}

static void
send_resize (BgrAgentResizer *r, const char *line)
{
  guint rows, cols;
  BgrAgentBuf b;

  if (!bgr_agent_parse_window_size (line, &rows, &cols))
    {
      g_info ("window size '%s' is not \"ROWS COLS\"; ignored", line);
      return;
    }
  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_ROWS, rows);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_COLS, cols);
  bgr_agent_conn_send_buf (r->conn, r->type, r->channel, &b, NULL);
  bgr_agent_buf_clear (&b);
}

static gpointer
resize_thread (gpointer data)
{
  BgrAgentResizer *r = data;
  GPollFD fds[2] = { { .fd = r->fd, .events = G_IO_IN } };
  char line[64];
  gsize len = 0;

  g_cancellable_make_pollfd (r->stop, &fds[1]);
  for (;;)
    {
      gssize n;

      fds[0].revents = fds[1].revents = 0;
      if (g_poll (fds, 2, -1) < 0 && errno != EINTR)
        break;
      if (g_cancellable_is_cancelled (r->stop))
        break;
      if (fds[0].revents == 0)
        continue;
      n = read (r->fd, line + len, sizeof line - 1 - len);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n <= 0)
        break;
      len += (gsize) n;
      line[len] = '\0';
      for (char *nl; (nl = strchr (line, '\n')) != NULL;)
        {
          *nl = '\0';
          send_resize (r, line);
          len -= (gsize) (nl + 1 - line);
          memmove (line, nl + 1, len + 1);
        }
      if (len == sizeof line - 1) /* a line too long to be a size */
        len = 0;
    }
  g_cancellable_release_fd (r->stop);
  return NULL;
}

BgrAgentResizer *
bgr_agent_resizer_start (BgrAgentConn *conn, guint32 channel, guint16 type, int fd)
{
  BgrAgentResizer *r = g_new0 (BgrAgentResizer, 1);

  r->conn = conn;
  r->channel = channel;
  r->type = type;
  r->fd = fd;
  r->stop = g_cancellable_new ();
  r->thread = g_thread_new ("bgr-agent-resize", resize_thread, r);
  return r;
}

void
bgr_agent_resizer_stop (BgrAgentResizer *r)
{
  if (r == NULL)
    return;
  g_cancellable_cancel (r->stop);
  g_thread_join (r->thread);
  g_object_unref (r->stop);
  g_free (r);
}
