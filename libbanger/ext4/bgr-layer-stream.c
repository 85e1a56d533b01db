/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Layer files inflated with the fastest decoder at hand (see
 * bgr-layer-stream-private.h): the inflate is where a pull spends most of
 * its time, and libarchive's filters go through zlib. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>
#ifdef HAVE_ISAL
#include <isa-l/igzip_lib.h>
#else
#include <zlib.h>
#endif

#include "bgr-error-private.h"
#include "bgr-feed-private.h"
#include "bgr-sha256-private.h"
#include "ext4/bgr-layer-stream-private.h"

#define IN_SIZE (256 * 1024)
#define OUT_SIZE (256 * 1024)
/* Buffers the read-ahead thread fills in turn. */
#define RING 4

typedef enum
{
  KIND_PLAIN,
  KIND_GZIP,
  KIND_ZSTD,
} Kind;

struct _BgrLayerStream
{
  int fd;
  BgrFeed *feed;             /* a file still being written, or NULL */
  GCancellable *feed_cancel; /* stops a wait for the feed */
  guint64 file_pos;          /* in the feed's file */
  gint64 wait_us, first_wait_us; /* waited for the feed: decoding, its first bytes */
  Kind kind;
  guint8 *in;
  gsize in_len, in_pos;
  gboolean in_eof;
  guint8 *out;     /* where the decoders write: out_buf, or a ring buffer */
  guint8 *out_buf;
  BgrSha256 *sum;
  guint64 position;
  gboolean member_done; /* gzip: the current member ended */
  gint64 inflate_us, hash_us;
#ifdef HAVE_ISAL
  struct inflate_state *isal;
#else
  z_stream z;
  gboolean z_ready;
#endif
  ZSTD_DStream *zstd;
  size_t zstd_hint; /* 0 when the last frame ended */

  /* Read-ahead (bgr_layer_stream_read_ahead()): a thread inflates and
   * hashes into the ring while the reader uses what it made before. */
  GThread *thread;
  GAsyncQueue *filled;   /* Chunk*, in order */
  GAsyncQueue *empty;    /* ring indexes + 1, free to fill */
  guint8 *ring[RING];
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

static gboolean
bad_data (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static gboolean
bad_data (GError **error, const char *fmt, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, msg);
  return FALSE;
}

/* Refills the input buffer once it is used up. */
static gboolean
fill (BgrLayerStream *s, GError **error)
{
  ssize_t n;

  if (s->in_pos < s->in_len || s->in_eof)
    return TRUE;
  if (s->feed != NULL)
    {
      gint64 t0 = g_get_monotonic_time ();

      n = bgr_feed_read (s->feed, &s->fd, s->file_pos, s->in, IN_SIZE, s->feed_cancel, error);
      s->wait_us += g_get_monotonic_time () - t0;
      if (n < 0)
        return FALSE;
      s->file_pos += (guint64) n;
    }
  else
    do
      n = read (s->fd, s->in, IN_SIZE);
    while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      bgr_set_error_errno (error, errno, "cannot read the layer");
      return FALSE;
    }
  s->in_len = (gsize) n;
  s->in_pos = 0;
  s->in_eof = n == 0;
  return TRUE;
}

static gboolean
no_more_input (BgrLayerStream *s)
{
  return s->in_eof && s->in_pos == s->in_len;
}

/* Starts the next gzip member if the input has one: 0 none, 1 started. */
static gboolean
gzip_next_member (BgrLayerStream *s)
{
  /* What follows the last member is ignored, as gzip -d does (tar tools
   * pad with zeros). */
  if (no_more_input (s) || s->in[s->in_pos] != 0x1f)
    return FALSE;
#ifdef HAVE_ISAL
  isal_inflate_reset (s->isal);
  s->isal->crc_flag = ISAL_GZIP;
#else
  inflateReset (&s->z);
#endif
  s->member_done = FALSE;
  return TRUE;
}

#ifdef HAVE_ISAL
static const char *
isal_why (int ret)
{
  switch (ret)
    {
    case ISAL_INVALID_WRAPPER:
      return "bad gzip header";
    case ISAL_UNSUPPORTED_METHOD:
      return "unsupported gzip method";
    case ISAL_INCORRECT_CHECKSUM:
      return "gzip checksum mismatch";
    default:
      return "corrupt deflate data";
    }
}

/* One inflate step: returns the bytes made into s->out, -1 on an error. */
static gssize
gzip_step (BgrLayerStream *s, GError **error)
{
  int ret;

  s->isal->next_in = s->in + s->in_pos;
  s->isal->avail_in = (guint32) (s->in_len - s->in_pos);
  s->isal->next_out = s->out;
  s->isal->avail_out = OUT_SIZE;
  ret = isal_inflate (s->isal);
  s->in_pos = (gsize) (s->isal->next_in - s->in);
  if (ret < 0 || ret == ISAL_NEED_DICT)
    {
      bad_data (error, "gzip: %s", isal_why (ret));
      return -1;
    }
  if (s->isal->block_state == ISAL_BLOCK_FINISH)
    s->member_done = TRUE;
  return (gssize) (OUT_SIZE - s->isal->avail_out);
}
#else
static gssize
gzip_step (BgrLayerStream *s, GError **error)
{
  int ret;

  s->z.next_in = s->in + s->in_pos;
  s->z.avail_in = (uInt) (s->in_len - s->in_pos);
  s->z.next_out = s->out;
  s->z.avail_out = OUT_SIZE;
  ret = inflate (&s->z, Z_NO_FLUSH);
  s->in_pos = (gsize) (s->z.next_in - s->in);
  if (ret == Z_STREAM_END)
    s->member_done = TRUE;
  else if (ret != Z_OK && ret != Z_BUF_ERROR)
    {
      bad_data (error, "gzip: %s", s->z.msg != NULL ? s->z.msg : "corrupt deflate data");
      return -1;
    }
  return (gssize) (OUT_SIZE - s->z.avail_out);
}
#endif

static gssize
read_gzip (BgrLayerStream *s, const void **out, GError **error)
{
  for (;;)
    {
      gssize n;

      if (!fill (s, error))
        return -1;
      if (s->member_done && !gzip_next_member (s))
        return 0;
      if (no_more_input (s))
        {
          bad_data (error, "gzip: the stream is truncated");
          return -1;
        }
      if ((n = gzip_step (s, error)) < 0)
        return -1;
      if (n > 0)
        {
          *out = s->out;
          return n;
        }
    }
}

static gssize
read_zstd (BgrLayerStream *s, const void **out, GError **error)
{
  for (;;)
    {
      ZSTD_inBuffer in;
      ZSTD_outBuffer o = { s->out, OUT_SIZE, 0 };
      size_t r;

      if (!fill (s, error))
        return -1;
      if (no_more_input (s))
        {
          if (s->zstd_hint == 0)
            return 0;
          bad_data (error, "zstd: the stream is truncated");
          return -1;
        }
      in.src = s->in;
      in.size = s->in_len;
      in.pos = s->in_pos;
      r = ZSTD_decompressStream (s->zstd, &o, &in);
      s->in_pos = in.pos;
      if (ZSTD_isError (r))
        {
          bad_data (error, "zstd: %s", ZSTD_getErrorName (r));
          return -1;
        }
      s->zstd_hint = r;
      if (o.pos > 0)
        {
          *out = s->out;
          return (gssize) o.pos;
        }
    }
}

static gssize
read_plain (BgrLayerStream *s, const void **out, GError **error)
{
  gsize n;

  if (!fill (s, error))
    return -1;
  n = s->in_len - s->in_pos;
  *out = s->in + s->in_pos;
  s->in_pos = s->in_len;
  return (gssize) n;
}

/* The next piece, inflated and hashed; the position is left to callers. */
static gssize
decode (BgrLayerStream *s, const void **out, GError **error)
{
  gint64 t0 = g_get_monotonic_time (), t1;
  gssize n;

  switch (s->kind)
    {
    case KIND_GZIP:
      n = read_gzip (s, out, error);
      break;
    case KIND_ZSTD:
      n = read_zstd (s, out, error);
      break;
    default:
      n = read_plain (s, out, error);
      break;
    }
  t1 = g_get_monotonic_time ();
  s->inflate_us += t1 - t0;
  if (n > 0 && s->sum != NULL)
    {
      bgr_sha256_update (s->sum, *out, (gsize) n);
      s->hash_us += g_get_monotonic_time () - t1;
    }
  return n;
}

static gpointer
read_ahead_thread (gpointer data)
{
  BgrLayerStream *s = data;

  for (;;)
    {
      gint index = GPOINTER_TO_INT (g_async_queue_pop (s->empty)) - 1;
      Chunk *c;
      const void *p = NULL;
      gssize n;

      if (g_atomic_int_get (&s->stop))
        return NULL;
      s->out = s->ring[index];
      n = decode (s, &p, &s->ahead_error);
      /* Plain layers come straight from the input buffer. */
      if (n > 0 && p != s->ring[index])
        memcpy (s->ring[index], p, (gsize) n);
      c = g_new (Chunk, 1);
      c->index = index;
      c->len = n;
      g_async_queue_push (s->filled, c);
      if (n <= 0)
        return NULL;
    }
}

void
bgr_layer_stream_read_ahead (BgrLayerStream *s)
{
  g_return_if_fail (s->thread == NULL && s->position == 0);
  s->filled = g_async_queue_new_full (g_free);
  s->empty = g_async_queue_new ();
  s->held = -1;
  for (gint i = 0; i < RING; i++)
    {
      s->ring[i] = g_malloc (OUT_SIZE);
      g_async_queue_push (s->empty, GINT_TO_POINTER (i + 1));
    }
  s->thread = g_thread_new ("bgr-inflate", read_ahead_thread, s);
}

/* Ends the thread, wherever it is. */
static void
stop_read_ahead (BgrLayerStream *s)
{
  Chunk *c;

  if (s->thread == NULL)
    return;
  g_atomic_int_set (&s->stop, 1);
  if (s->feed_cancel != NULL)
    g_cancellable_cancel (s->feed_cancel);
  for (gint i = 0; i < RING; i++)
    g_async_queue_push (s->empty, GINT_TO_POINTER (i + 1));
  g_thread_join (s->thread);
  s->thread = NULL;
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

  /* The reader is done with the buffer it had: the thread may refill it. */
  if (s->held >= 0)
    {
      g_async_queue_push (s->empty, GINT_TO_POINTER (s->held + 1));
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
  gssize n = s->filled != NULL ? read_from_thread (s, out, error) : decode (s, out, error);

  if (n > 0)
    s->position += (guint64) n;
  return n;
}

/* Reads the first bytes and picks the decoder by their magic number. */
static gboolean
detect (BgrLayerStream *s, GError **error)
{
  static const guint8 gzip_magic[] = { 0x1f, 0x8b };
  static const guint8 zstd_magic[] = { 0x28, 0xb5, 0x2f, 0xfd };

  /* A short first read is fine: layers shorter than a magic are plain. */
  if (!fill (s, error))
    return FALSE;
  if (s->in_len >= sizeof gzip_magic && memcmp (s->in, gzip_magic, sizeof gzip_magic) == 0)
    {
      s->kind = KIND_GZIP;
#ifdef HAVE_ISAL
      s->isal = g_new0 (struct inflate_state, 1);
      isal_inflate_init (s->isal);
      s->isal->crc_flag = ISAL_GZIP;
#else
      if (inflateInit2 (&s->z, 15 + 16) != Z_OK)
        return bad_data (error, "gzip: cannot start zlib");
      s->z_ready = TRUE;
#endif
    }
  else if (s->in_len >= sizeof zstd_magic && memcmp (s->in, zstd_magic, sizeof zstd_magic) == 0)
    {
      s->kind = KIND_ZSTD;
      s->zstd = ZSTD_createDStream ();
      if (s->zstd == NULL)
        return bad_data (error, "zstd: cannot start the decoder");
      ZSTD_initDStream (s->zstd);
      s->zstd_hint = 1;
    }
  else
    s->kind = KIND_PLAIN;
  return TRUE;
}

/* Reads @fd, or @feed (its file opened as needed). */
static BgrLayerStream *
open_stream (int fd, BgrFeed *feed, gboolean hash, GError **error)
{
  g_autoptr (BgrLayerStream) s = g_new0 (BgrLayerStream, 1);

  s->fd = fd;
  s->feed = feed != NULL ? bgr_feed_ref (feed) : NULL;
  s->feed_cancel = feed != NULL ? g_cancellable_new () : NULL;
  s->in = g_malloc (IN_SIZE);
  s->out = s->out_buf = g_malloc (OUT_SIZE);
  if (hash)
    s->sum = bgr_sha256_new ();
  if (!detect (s, error))
    return NULL;
  /* Waiting for a feed's first bytes was before any inflating. */
  s->first_wait_us = s->wait_us;
  s->wait_us = 0;
  return g_steal_pointer (&s);
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
  stop_read_ahead (s);
  return (double) (s->wait_us + s->first_wait_us) / G_USEC_PER_SEC;
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
  stop_read_ahead (s);
  /* Waiting for a feed's bytes is not inflating. */
  *read_s = (double) (s->inflate_us - s->wait_us) / G_USEC_PER_SEC;
  *hash_s = (double) s->hash_us / G_USEC_PER_SEC;
}

void
bgr_layer_stream_free (BgrLayerStream *s)
{
  if (s == NULL)
    return;
  stop_read_ahead (s);
  g_clear_pointer (&s->filled, g_async_queue_unref);
  g_clear_pointer (&s->empty, g_async_queue_unref);
  for (gint i = 0; i < RING; i++)
    g_free (s->ring[i]);
  g_clear_error (&s->ahead_error);
  if (s->fd >= 0)
    close (s->fd);
  g_clear_pointer (&s->feed, bgr_feed_unref);
  g_clear_object (&s->feed_cancel);
#ifdef HAVE_ISAL
  g_free (s->isal);
#else
  if (s->z_ready)
    inflateEnd (&s->z);
#endif
  if (s->zstd != NULL)
    ZSTD_freeDStream (s->zstd);
  bgr_sha256_free (s->sum);
  g_free (s->in);
  g_free (s->out_buf);
  g_free (s);
}
