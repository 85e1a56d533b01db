/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* image pull: the layers fetched into the blob cache by up to
 * FETCH_THREADS threads, in layer order, each one's bytes handed to the
 * replay through a feed (bgr-feed-private.h) as they arrive, so that layer
 * N is replayed while it downloads and the next ones download meanwhile. */
#include "config.h"

#include <string.h>

#include "bgr-crash-private.h"
#include "bgr-error-private.h"
#include "bgr-feed-private.h"
#include "bgr-operation-private.h"
#include "engine/bgr-engine-oci-fetch-private.h"

#define FETCH_THREADS 3

struct _BgrPullFetch
{
  BgrOciRegistry *registry;
  const BgrOciImage *img;
  char *cache;
  BgrOperation *op;
  GCancellable *cancellable; /* ours: cancelled on the first failure, or with the pull's */
  GCancellable *outer;       /* the pull's */
  gulong outer_handler;
  GThread *threads[FETCH_THREADS];
  GMutex lock;
  guint next;       /* the next layer to fetch */
  guint64 *done;    /* bytes per layer */
  gboolean *waiting;
  gboolean *finished;
  guint64 total;
  GError *error;    /* the first failure */
  BgrFeed **feeds;
};

typedef struct
{
  BgrPullFetch *f;
  guint i;
  char *part;
} Job;

/* "layer I of N", I the first layer not fetched yet (lock held). */
static void
report (BgrPullFetch *f)
{
  guint first = 0;
  guint64 sum = 0;
  g_autofree char *msg = NULL;

  for (guint i = 0; i < f->img->layers->len; i++)
    sum += f->done[i];
  while (first + 1 < f->img->layers->len && f->finished[first])
    first++;
  msg = g_strdup_printf ("layer %u of %u%s", first + 1, f->img->layers->len,
                         f->waiting[first] && !f->finished[first]
                           ? ": waiting for another pull of this layer" : "");
  bgr_operation_update (f->op, "pulling", msg, sum, f->total);
}

static void
on_progress (guint64 done, guint64 total, gboolean waiting, gpointer data)
{
  Job *j = data;
  BgrPullFetch *f = j->f;

  if (!waiting && done > 0 && done < total)
    bgr_crash_point ("image-pull.layer-partial");
  /* Its bytes are in the part file (this pull's, or another's). */
  if (done > 0)
    bgr_feed_grow (f->feeds[j->i], j->part, done);
  g_mutex_lock (&f->lock);
  f->done[j->i] = MIN (done, (guint64) ((BgrOciDescriptor *) f->img->layers->pdata[j->i])->size);
  f->waiting[j->i] = waiting;
  report (f);
  g_mutex_unlock (&f->lock);
}

static void
fetch_one (BgrPullFetch *f, guint i)
{
  const BgrOciDescriptor *d = f->img->layers->pdata[i];
  g_autofree char *path = NULL;
  GError *error = NULL;
  Job j = { f, i, NULL };

  if (g_str_has_prefix (d->digest, "sha256:"))
    j.part = g_strdup_printf ("%s/oci/blobs/sha256/%s.part", f->cache,
                              d->digest + strlen ("sha256:"));
  if (!g_cancellable_set_error_if_cancelled (f->cancellable, &error))
    path = bgr_oci_registry_fetch_blob (f->registry, d, f->cache, on_progress, &j, f->cancellable,
                                        &error);
  g_free (j.part);
  g_mutex_lock (&f->lock);
  f->finished[i] = TRUE;
  if (path != NULL)
    f->done[i] = (guint64) d->size;
  else if (f->error == NULL)
    f->error = g_error_copy (error);
  report (f);
  g_mutex_unlock (&f->lock);
  if (path == NULL)
    g_cancellable_cancel (f->cancellable);
  bgr_feed_finish (f->feeds[i], path, error);
}

static gpointer
fetch_thread (gpointer data)
{
  BgrPullFetch *f = data;

  for (;;)
    {
      guint i;

      g_mutex_lock (&f->lock);
      i = f->next++;
      g_mutex_unlock (&f->lock);
      if (i >= f->img->layers->len)
        return NULL;
      fetch_one (f, i);
    }
}

static void
on_outer_cancelled (GCancellable *outer, gpointer data)
{
  g_cancellable_cancel (data);
}

BgrPullFetch *
bgr_pull_fetch_start (BgrOciRegistry *registry, const BgrOciImage *img, const char *cache,
                      BgrOperation *op, GCancellable *cancellable)
{
  BgrPullFetch *f = g_new0 (BgrPullFetch, 1);
  guint n = img->layers->len;

  f->registry = registry;
  f->img = img;
  f->cache = g_strdup (cache);
  f->op = op;
  f->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      f->outer = g_object_ref (cancellable);
      f->outer_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_outer_cancelled),
                                                f->cancellable, NULL);
    }
  g_mutex_init (&f->lock);
  f->done = g_new0 (guint64, n);
  f->waiting = g_new0 (gboolean, n);
  f->finished = g_new0 (gboolean, n);
  f->feeds = g_new0 (BgrFeed *, n);
  for (guint i = 0; i < n; i++)
    {
      f->feeds[i] = bgr_feed_new ();
      f->total += (guint64) ((BgrOciDescriptor *) img->layers->pdata[i])->size;
    }
  bgr_pull_fetch_report (f);
  for (guint t = 0; t < FETCH_THREADS && t < n; t++)
    f->threads[t] = g_thread_new ("bgr-fetch", fetch_thread, f);
  return f;
}

BgrFeed *
bgr_pull_fetch_get_feed (BgrPullFetch *f, guint i)
{
  return f->feeds[i];
}

void
bgr_pull_fetch_report (BgrPullFetch *f)
{
  g_mutex_lock (&f->lock);
  if (f->img->layers->len > 0)
    report (f);
  g_mutex_unlock (&f->lock);
}

void
bgr_pull_fetch_cancel (BgrPullFetch *f)
{
  g_cancellable_cancel (f->cancellable);
}

gboolean
bgr_pull_fetch_finish (BgrPullFetch *f, GError **error)
{
  gboolean ok;

  for (guint t = 0; t < FETCH_THREADS; t++)
    if (f->threads[t] != NULL)
      g_thread_join (f->threads[t]);
  ok = f->error == NULL;
  if (!ok)
    g_propagate_error (error, g_error_copy (f->error));
  for (guint i = 0; i < f->img->layers->len; i++)
    bgr_feed_unref (f->feeds[i]);
  g_free (f->feeds);
  g_free (f->done);
  g_free (f->waiting);
  g_free (f->finished);
  g_clear_error (&f->error);
  if (f->outer != NULL)
    {
      g_cancellable_disconnect (f->outer, f->outer_handler);
      g_object_unref (f->outer);
    }
  g_object_unref (f->cancellable);
  g_mutex_clear (&f->lock);
  g_free (f->cache);
  g_free (f);
  return ok;
}
