/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Terminals: a window size a caller wrote to its resize descriptor
 * ("ROWS COLS\n" lines, read by bgr-agent-pump.c) becomes a RESIZE frame
 * of an exec or a WINSIZE frame of a session's attach. */
#include "config.h"

#include "agent-proto/bgr-agent-conn-private.h"
#include "bgr-escape-private.h"

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

void
bgr_agent_send_window_size (BgrAgentConn *conn, guint16 type, guint32 channel, const char *line)
{
  guint rows, cols;
  BgrAgentBuf b;

  if (!bgr_agent_parse_window_size (line, &rows, &cols))
    {
      g_autofree char *shown = bgr_log_msg (line); /* a caller's words */
      g_info ("window size '%s' is not \"ROWS COLS\"; ignored", shown);
      return;
    }
  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_ROWS, rows);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_COLS, cols);
  bgr_agent_conn_send_buf (conn, type, channel, &b, NULL);
  bgr_agent_buf_clear (&b);
}
