/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A layer's uncompressed bytes (see bgr-layer-stream-private.h), decoded by
 * bgr-layer-decode.c. With read-ahead, three threads share the work: one
 * inflates into a ring of buffers, one hashes each buffer (the diff_id),
 * and the reader parses the tar from them, so that a pull's three biggest
 * costs overlap. A buffer goes back to the inflating thread once both the
 * reader and the hasher are done with it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "bgr-sha256-private.h"
#include "ext4/bgr-layer-decode-private.h"
#include "ext4/bgr-layer-stream-private.h"

#define OUT_SIZE BGR_LAYER_DECODE_OUT_SIZE
/* Buffers the read-ahead thread fills in turn: enough that the reader and
 * the hasher can each fall a few behind without stopping the inflate. */
#define RING 8

struct _BgrLayerStream
{
  BgrLayerDecoder *dec;
  guint8 *out_buf; /* where reads without read-ahead inflate to, once needed */
  BgrSha256 *sum;
  guint64 position;
  gint64 hash_us;

  /* Read-ahead (bgr_layer_stream_read_ahead()). */
  GThread *thread;       /* inflates into the ring */
  GThread *hasher;       /* hashes the ring's buffers, in order */
  GAsyncQueue *filled;   /* Chunk*, in order, for the reader */
  GAsyncQueue *to_hash;  /* Chunk*, in order, for the hasher */
  GAsyncQueue *empty;    /* ring indexes + 1, free to fill */
  guint8 *ring[RING];
  gint users[RING];      /* atomic: of the reader and the hasher, those not done */
  gint held;             /* the ring buffer the reader has, or -1 */
  gint stop;             /* atomic: the reader is gone */
  GError *ahead_error;   /* the thread's, set before its last chunk */
  gboolean ahead_over;   /* the reader has seen the last chunk */
  gssize ahead_end;      /* what it said: 0 (the end) or -1 */
};

typedef struct
{
  gint index;
  gssize len; /* > 0: data in ring[index]; 0: the end; -1: ahead_error */
} Chunk;

static Chunk *
chunk_new (gint index, gssize len)
{
  Chunk *c = g_new (Chunk, 1);

  c->index = index;
  c->len = len;
  return c;
}

static void
hash (BgrLayerStream *s, const void *buf, gsize len)
{
  gint64 t0 = g_get_monotonic_time ();

  bgr_sha256_update (s->sum, buf, len);
  s->hash_us += g_get_monotonic_time () - t0;
}

/* The reader or the hasher is done with ring[index]. */
static void
release (BgrLayerStream *s, gint index)
{
  if (g_atomic_int_dec_and_test (&s->users[index]))
    g_async_queue_push (s->empty, GINT_TO_POINTER (index + 1));
}

static gpointer
read_ahead_thread (gpointer data)
{
  BgrLayerStream *s = data;

  for (;;)
    {
      gint index = GPOINTER_TO_INT (g_async_queue_pop (s->empty)) - 1;
      const void *p = NULL;
      gssize n;

      if (g_atomic_int_get (&s->stop))
        return NULL;
      n = bgr_layer_decoder_read (s->dec, s->ring[index], &p, &s->ahead_error);
      /* Plain layers come straight from the decoder's input buffer. */
      if (n > 0 && p != s->ring[index])
        memcpy (s->ring[index], p, (gsize) n);
      g_atomic_int_set (&s->users[index], s->hasher != NULL ? 2 : 1);
      if (s->hasher != NULL)
        g_async_queue_push (s->to_hash, chunk_new (index, n));
      g_async_queue_push (s->filled, chunk_new (index, n));
      if (n <= 0)
        return NULL;
    }
}

static gpointer
hash_thread (gpointer data)
{
  BgrLayerStream *s = data;

  for (;;)
    {
      g_autofree Chunk *c = g_async_queue_pop (s->to_hash);

      if (c->len <= 0)
        return NULL;
      hash (s, s->ring[c->index], (gsize) c->len);
      release (s, c->index);
    }
}

void
bgr_layer_stream_read_ahead (BgrLayerStream *s)
{
  g_return_if_fail (s->thread == NULL && s->position == 0);
  s->filled = g_async_queue_new_full (g_free);
  s->to_hash = g_async_queue_new_full (g_free);
  s->empty = g_async_queue_new ();
  s->held = -1;
  for (gint i = 0; i < RING; i++)
    {
      s->ring[i] = g_malloc (OUT_SIZE);
      g_async_queue_push (s->empty, GINT_TO_POINTER (i + 1));
    }
  if (s->sum != NULL)
    s->hasher = g_thread_new ("bgr-hash", hash_thread, s);
  s->thread = g_thread_new ("bgr-inflate", read_ahead_thread, s);
}

/* Waits for the hasher, which ends after the last chunk it was given, or
 * at once with @now. */
static void
join_hasher (BgrLayerStream *s, gboolean now)
{
  if (s->hasher == NULL)
    return;
  if (now)
    g_async_queue_push_front (s->to_hash, chunk_new (-1, 0));
  g_thread_join (s->hasher);
  s->hasher = NULL;
}

/* Ends the threads, wherever they are. */
static void
stop_read_ahead (BgrLayerStream *s)
{
  Chunk *c;

  if (s->thread == NULL)
    {
      join_hasher (s, FALSE);
      return;
    }
  g_atomic_int_set (&s->stop, 1);
  bgr_layer_decoder_cancel (s->dec);
  for (gint i = 0; i < RING; i++)
    g_async_queue_push (s->empty, GINT_TO_POINTER (i + 1));
  g_thread_join (s->thread);
  s->thread = NULL;
  join_hasher (s, TRUE);
  while ((c = g_async_queue_try_pop (s->filled)) != NULL)
    g_free (c);
  /* What was not read is lost: no later read may look like the end. */
  if (!s->ahead_over)
    {
      s->ahead_over = TRUE;
      s->ahead_end = -1;
      g_clear_error (&s->ahead_error);
      g_set_error (&s->ahead_error, BGR_ERROR, BGR_ERROR_FAILED, "the layer was read after it was closed");
    }
}

static gssize
read_from_thread (BgrLayerStream *s, const void **out, GError **error)
{
  g_autofree Chunk *c = NULL;

  /* The reader is done with the buffer it had. */
  if (s->held >= 0)
    {
      release (s, s->held);
      s->held = -1;
    }
  if (!s->ahead_over)
    {
      c = g_async_queue_pop (s->filled);
      if (c->len > 0)
        {
          s->held = c->index;
          *out = s->ring[c->index];
          return c->len;
        }
      /* The thread has returned (or is about to). */
      g_thread_join (s->thread);
      s->thread = NULL;
      s->ahead_over = TRUE;
      s->ahead_end = c->len;
    }
  if (s->ahead_end < 0)
    g_propagate_error (error, g_error_copy (s->ahead_error));
  return s->ahead_end;
}

gssize
bgr_layer_stream_read (BgrLayerStream *s, const void **out, GError **error)
{
  gssize n;

  if (s->filled != NULL)
    n = read_from_thread (s, out, error);
  else
    {
      if (s->out_buf == NULL)
        s->out_buf = g_malloc (OUT_SIZE);
      if ((n = bgr_layer_decoder_read (s->dec, s->out_buf, out, error)) > 0 && s->sum != NULL)
        hash (s, *out, (gsize) n);
    }
  if (n > 0)
    s->position += (guint64) n;
  return n;
}

/* Takes @fd, or reads @feed. */
static BgrLayerStream *
open_stream (int fd, BgrFeed *feed, gboolean hash, GError **error)
{
  g_autoptr (BgrLayerDecoder) dec = bgr_layer_decoder_new (fd, feed, error);
  BgrLayerStream *s;

  if (dec == NULL)
    return NULL;
  s = g_new0 (BgrLayerStream, 1);
  s->dec = g_steal_pointer (&dec);
  if (hash)
    s->sum = bgr_sha256_new ();
  return s;
}

BgrLayerStream *
bgr_layer_stream_open (const char *path, gboolean hash, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot open %s", path);
      return NULL;
    }
  return open_stream (fd, NULL, hash, error);
}

BgrLayerStream *
bgr_layer_stream_open_feed (BgrFeed *feed, gboolean hash, GError **error)
{
  return open_stream (-1, feed, hash, error);
}

double
bgr_layer_stream_get_wait (BgrLayerStream *s)
{
  double decode_s, wait_s;

  stop_read_ahead (s);
  bgr_layer_decoder_get_times (s->dec, &decode_s, &wait_s);
  return wait_s;
}

static la_ssize_t
archive_read_cb (struct archive *ar, void *data, const void **buf)
{
  BgrLayerStream *s = data;
  g_autoptr (GError) local = NULL;
  gssize n = bgr_layer_stream_read (s, buf, &local);

  if (n >= 0)
    return n;
  archive_set_error (ar, local->domain == BGR_ERROR && local->code != BGR_ERROR_INVALID_DATA
                           ? EIO : EINVAL, "%s", local->message);
  return ARCHIVE_FATAL;
}

struct archive *
bgr_layer_stream_open_archive (BgrLayerStream *s, GError **error)
{
  struct archive *ar = archive_read_new ();

  /* OCI layers are tar; the compression was handled above. */
  archive_read_support_format_tar (ar);
  if (archive_read_open (ar, s, NULL, archive_read_cb, NULL) != ARCHIVE_OK)
    {
      bgr_set_error_from_archive (error, ar, "cannot read the tar stream");
      archive_read_free (ar);
      return NULL;
    }
  return ar;
}

char *
bgr_layer_stream_finish (BgrLayerStream *s, GError **error)
{
  const void *buf;
  gssize n;

  g_return_val_if_fail (s->sum != NULL, NULL);
  while ((n = bgr_layer_stream_read (s, &buf, error)) > 0)
    ;
  if (n < 0)
    return NULL;
  /* The hasher had the last chunk before the reader did. */
  join_hasher (s, FALSE);
  return g_strconcat ("sha256:", bgr_sha256_get_hex (s->sum), NULL);
}

guint64
bgr_layer_stream_get_position (BgrLayerStream *s)
{
  return s->position;
}

void
bgr_layer_stream_get_times (BgrLayerStream *s, double *read_s, double *hash_s)
{
  double wait_s;

  stop_read_ahead (s);
  bgr_layer_decoder_get_times (s->dec, read_s, &wait_s);
  *hash_s = (double) s->hash_us / G_USEC_PER_SEC;
}

void
bgr_layer_stream_free (BgrLayerStream *s)
{
  if (s == NULL)
    return;
  stop_read_ahead (s);
  g_clear_pointer (&s->filled, g_async_queue_unref);
  g_clear_pointer (&s->to_hash, g_async_queue_unref);
  g_clear_pointer (&s->empty, g_async_queue_unref);
  for (gint i = 0; i < RING; i++)
    g_free (s->ring[i]);
  g_clear_error (&s->ahead_error);
  bgr_layer_decoder_free (s->dec);
  bgr_sha256_free (s->sum);
  g_free (s->out_buf);
  g_free (s);
}
