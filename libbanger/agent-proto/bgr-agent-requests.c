/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One-shot requests to the guest agent: shutdown, ports, stats. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "agent-proto/bgr-agent-conn-private.h"
#include "bgr-error-private.h"

gboolean
bgr_agent_conn_shutdown (BgrAgentConn *c, const char *mode, gint timeout_ms,
                         GCancellable *cancellable, GError **error)
{
  BgrAgentBuf b;
  BgrAgentFrame *f;

  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_str (&b, BGR_AGENT_F_MODE, mode != NULL ? mode : "poweroff");
  f = bgr_agent_conn_request (c, BGR_AGENT_MSG_SHUTDOWN, &b, BGR_AGENT_MSG_OK, timeout_ms,
               "cannot shut the guest down", cancellable, error);
  bgr_agent_buf_clear (&b);
  bgr_agent_frame_free (f);
  return f != NULL;
}

GStrv
bgr_agent_conn_ports (BgrAgentConn *c, gint timeout_ms, GCancellable *cancellable, GError **error)
{
  BgrAgentFrame *f = bgr_agent_conn_request (c, BGR_AGENT_MSG_PORTS_REQ, NULL, BGR_AGENT_MSG_PORTS, timeout_ms,
                      "cannot list the guest's ports", cancellable, error);
  g_autoptr (GPtrArray) lines = g_ptr_array_new ();
  BgrAgentFieldIter it;
  guint16 tag;
  const guint8 *val;
  guint32 len;
  gboolean cut = FALSE;
  guint n = 0;

  if (f == NULL)
    return NULL;
  bgr_agent_fields_init (&it, g_bytes_get_data (f->payload, NULL), g_bytes_get_size (f->payload));
  while (bgr_agent_fields_next (&it, &tag, &val, &len) == 1)
    if (tag == BGR_AGENT_F_PORT && ++n <= PORTS_MAX)
      g_ptr_array_add (lines, bgr_agent_field_str_max (val, len, PORT_LINE_MAX_BYTES, &cut));
  bgr_agent_frame_free (f);
  if (n > PORTS_MAX)
    g_info ("the guest agent reported %u listening sockets; keeping the first %d", n, PORTS_MAX);
  if (cut)
    g_info ("the guest agent reported port lines longer than %d bytes; they were cut",
            PORT_LINE_MAX_BYTES);
  g_ptr_array_add (lines, NULL);
  return (GStrv) g_ptr_array_steal (lines, NULL);
}

GHashTable *
bgr_agent_conn_stats (BgrAgentConn *c, gint timeout_ms, GCancellable *cancellable, GError **error)
{
  static const struct { guint16 tag; const char *name; } names[] = {
    { BGR_AGENT_F_STAT_CPU_USER_MS, "cpu_user_ms" },
    { BGR_AGENT_F_STAT_CPU_SYSTEM_MS, "cpu_system_ms" },
    { BGR_AGENT_F_STAT_CPU_IDLE_MS, "cpu_idle_ms" },
    { BGR_AGENT_F_STAT_MEM_TOTAL, "mem_total" },
    { BGR_AGENT_F_STAT_MEM_AVAILABLE, "mem_available" },
    { BGR_AGENT_F_STAT_LOAD1_MILLI, "load1_milli" },
    { BGR_AGENT_F_STAT_UPTIME_MS, "uptime_ms" },
    { BGR_AGENT_F_STAT_DISK_TOTAL, "disk_total" },
    { BGR_AGENT_F_STAT_DISK_FREE, "disk_free" },
  };
  BgrAgentFrame *f = bgr_agent_conn_request (c, BGR_AGENT_MSG_STATS_REQ, NULL, BGR_AGENT_MSG_STATS, timeout_ms,
                      "cannot read the guest's stats", cancellable, error);
  GHashTable *stats;
  BgrAgentFieldIter it;
  guint16 tag;
  const guint8 *val;
  guint32 len;

  if (f == NULL)
    return NULL;
  stats = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  bgr_agent_fields_init (&it, g_bytes_get_data (f->payload, NULL), g_bytes_get_size (f->payload));
  while (bgr_agent_fields_next (&it, &tag, &val, &len) == 1)
    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      if (names[i].tag == tag)
        {
          gint64 v;
          /* Out of range is no answer (and no overflow in later sums). */
          if (bgr_agent_field_int (val, len, &v) == 0 && v >= 0 && v < STAT_MAX)
            g_hash_table_insert (stats, (gpointer) names[i].name, g_memdup2 (&v, sizeof v));
          else
            g_info ("the guest agent reported an impossible %s; ignored", names[i].name);
        }
  bgr_agent_frame_free (f);
  return stats;
}
