/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Firecracker driver's metrics: the JSON lines Firecracker writes,
 * summed into running totals kept next to them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "bgr-error-private.h"
#include "vmm/bgr-vmm-firecracker-private.h"

#define MAX_METRICS_READ (256 * 1024 * 1024)

/* ---- metrics() ---- */

/* Sums kept across calls: every metrics line holds what happened since the
 * previous flush, not totals, so the driver adds them up as it reads. */
typedef struct {
  guint64 offset; /* bytes of the metrics file consumed (whole lines) */
  gboolean has_block, has_net;
  guint64 read_bytes, write_bytes, rx_bytes, tx_bytes;
} FcTotals;

static void
totals_load (const char *path, FcTotals *t)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) f = NULL;

  memset (t, 0, sizeof *t);
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return;
  f = g_strsplit (g_strstrip (text), " ", -1);
  if (g_strv_length (f) != 8 || !g_str_equal (f[0], "v1"))
    return;
  t->offset = g_ascii_strtoull (f[1], NULL, 10);
  t->has_block = f[2][0] == '1';
  t->read_bytes = g_ascii_strtoull (f[3], NULL, 10);
  t->write_bytes = g_ascii_strtoull (f[4], NULL, 10);
  t->has_net = f[5][0] == '1';
  t->rx_bytes = g_ascii_strtoull (f[6], NULL, 10);
  t->tx_bytes = g_ascii_strtoull (f[7], NULL, 10);
}

static void
totals_save (const char *path, const FcTotals *t)
{
  g_autofree char *text = g_strdup_printf (
    "v1 %" G_GUINT64_FORMAT " %d %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %d %" G_GUINT64_FORMAT
    " %" G_GUINT64_FORMAT "\n", t->offset, t->has_block ? 1 : 0, t->read_bytes, t->write_bytes,
    t->has_net ? 1 : 0, t->rx_bytes, t->tx_bytes);
  g_autoptr (GError) local = NULL;

  if (!g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &local))
    g_debug ("cannot save metrics sums: %s", local->message);
}

static guint64
counter (JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return 0;
  return (guint64) MAX (json_node_get_int (n), 0);
}

/* Adds one device class ("block", "net") of a metrics line: the aggregate
 * object named @prefix when there is one (Firecracker >= 1.5 writes it next
 * to the per-device "block_<id>" objects), else the per-device objects. */
static gboolean
add_device_counters (JsonObject *line, const char *prefix, const char *a, const char *b,
                     guint64 *sum_a, guint64 *sum_b)
{
  g_autofree char *per_device = g_strconcat (prefix, "_", NULL);
  JsonNode *agg = json_object_get_member (line, prefix);
  gboolean found = FALSE;
  JsonObjectIter it;
  const char *name;
  JsonNode *node;

  if (agg != NULL && JSON_NODE_HOLDS_OBJECT (agg))
    {
      *sum_a += counter (json_node_get_object (agg), a);
      *sum_b += counter (json_node_get_object (agg), b);
      return TRUE;
    }
  json_object_iter_init (&it, line);
  while (json_object_iter_next (&it, &name, &node))
    if (g_str_has_prefix (name, per_device) && JSON_NODE_HOLDS_OBJECT (node))
      {
        *sum_a += counter (json_node_get_object (node), a);
        *sum_b += counter (json_node_get_object (node), b);
        found = TRUE;
      }
  return found;
}

static void
add_metrics_line (FcTotals *t, const char *line, gsize len)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *o;

  if (!json_parser_load_from_data (parser, line, len, NULL)
      || (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  o = json_node_get_object (root);
  if (add_device_counters (o, "block", "read_bytes", "write_bytes", &t->read_bytes,
                           &t->write_bytes))
    t->has_block = TRUE;
  if (add_device_counters (o, "net", "rx_bytes_count", "tx_bytes_count", &t->rx_bytes,
                           &t->tx_bytes))
    t->has_net = TRUE;
}

/* Reads the complete lines written since the last call into the sums. */
static void
read_metrics_file (const char *path, FcTotals *t)
{
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  struct stat st;
  const char *p, *end;
  guint8 chunk[65536];
  gssize n;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  if (fstat (fd, &st) == 0 && (guint64) st.st_size < t->offset)
    memset (t, 0, sizeof *t); /* a new file: start over */
  if (lseek (fd, (off_t) t->offset, SEEK_SET) < 0)
    {
      close (fd);
      return;
    }
  while (buf->len < MAX_METRICS_READ && (n = read (fd, chunk, sizeof chunk)) > 0)
    g_byte_array_append (buf, chunk, n);
  close (fd);

  p = (const char *) buf->data;
  end = p + buf->len;
  while (p < end)
    {
      const char *nl = memchr (p, '\n', end - p);
      if (nl == NULL)
        break; /* a line still being written */
      if (nl > p)
        add_metrics_line (t, p, nl - p);
      t->offset += nl + 1 - p;
      p = nl + 1;
    }
}

void
bgr_vmm_firecracker_read_metrics (const char *metrics_path, BgrVmmMetrics *out)
{
  g_autofree char *totals_path = g_strconcat (metrics_path, BGR_FC_METRICS_TOTALS_SUFFIX, NULL);
  guint64 consumed;
  FcTotals t;

  totals_load (totals_path, &t);
  consumed = t.offset;
  read_metrics_file (metrics_path, &t);
  if (t.offset != consumed)
    totals_save (totals_path, &t);
  if (t.has_block)
    {
      out->disk_read_bytes = (gint64) t.read_bytes;
      out->disk_write_bytes = (gint64) t.write_bytes;
    }
  if (t.has_net)
    {
      out->net_rx_bytes = (gint64) t.rx_bytes;
      out->net_tx_bytes = (gint64) t.tx_bytes;
    }
}
