/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-peer rate limit of repeated log messages (bangerd-loglimit.h). */
#include "bangerd-loglimit.h"

typedef struct {
  char *key; /* "PEER\nWHAT", the table's key */
  char *peer, *what;
  gint64 started;  /* the window's first message */
  guint seen;      /* in this window */
} Window;

struct _BgrdLogLimit {
  GMutex lock;
  guint burst;
  gint64 interval;
  GHashTable *windows; /* Window.key -> Window (which owns the key) */
  BgrdLogLimitReport report;
  gpointer data;
};

static void
window_free (Window *w)
{
  g_free (w->key);
  g_free (w->peer);
  g_free (w->what);
  g_free (w);
}

BgrdLogLimit *
bgrd_log_limit_new (guint burst, gint64 interval_us, BgrdLogLimitReport report, gpointer data)
{
  BgrdLogLimit *limit = g_new0 (BgrdLogLimit, 1);

  g_mutex_init (&limit->lock);
  limit->burst = burst;
  limit->interval = interval_us;
  limit->windows = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) window_free);
  limit->report = report;
  limit->data = data;
  return limit;
}

void
bgrd_log_limit_free (BgrdLogLimit *limit)
{
  if (limit == NULL)
    return;
  bgrd_log_limit_expire (limit, G_MAXINT64);
  g_hash_table_unref (limit->windows);
  g_mutex_clear (&limit->lock);
  g_free (limit);
}

/* The windows over at @now, taken out of the table (called locked). */
static GPtrArray *
take_expired (BgrdLogLimit *limit, gint64 now)
{
  GPtrArray *over = g_ptr_array_new_with_free_func ((GDestroyNotify) window_free);
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, limit->windows);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      Window *w = value;
      if (now == G_MAXINT64 || now - w->started >= limit->interval)
        {
          g_hash_table_iter_steal (&it);
          g_ptr_array_add (over, w);
        }
    }
  return over;
}

/* Reports, unlocked (the report logs, and the log writer may be slow). */
static void
report_expired (BgrdLogLimit *limit, GPtrArray *over)
{
  for (guint i = 0; i < over->len; i++)
    {
      Window *w = over->pdata[i];
      if (w->seen > limit->burst && limit->report != NULL)
        limit->report (w->peer, w->what, w->seen - limit->burst, limit->data);
    }
  g_ptr_array_unref (over);
}

void
bgrd_log_limit_expire (BgrdLogLimit *limit, gint64 now_us)
{
  GPtrArray *over;

  g_mutex_lock (&limit->lock);
  over = take_expired (limit, now_us);
  g_mutex_unlock (&limit->lock);
  report_expired (limit, over);
}

gboolean
bgrd_log_limit_allow (BgrdLogLimit *limit, const char *peer, const char *what, gint64 now_us)
{
  g_autofree char *key = g_strdup_printf ("%s\n%s", peer != NULL ? peer : "", what);
  GPtrArray *over;
  Window *w;
  gboolean allow;

  g_mutex_lock (&limit->lock);
  over = take_expired (limit, now_us);
  w = g_hash_table_lookup (limit->windows, key);
  if (w == NULL)
    {
      w = g_new0 (Window, 1);
      w->key = g_steal_pointer (&key);
      w->peer = g_strdup (peer != NULL ? peer : "");
      w->what = g_strdup (what);
      w->started = now_us;
      g_hash_table_insert (limit->windows, w->key, w);
    }
  w->seen++;
  allow = w->seen <= limit->burst;
  g_mutex_unlock (&limit->lock);
  report_expired (limit, over);
  return allow;
}
