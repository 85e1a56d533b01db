/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Layer files inflated with the fastest decoder at hand (see
 * bgr-layer-decode-private.h): the inflate is where a pull spends most of
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
#include "ext4/bgr-layer-decode-private.h"

#define IN_SIZE (256 * 1024)

typedef enum
{
  KIND_PLAIN,
  KIND_GZIP,
  KIND_ZSTD,
} Kind;

struct _BgrLayerDecoder
{
  int fd;
  BgrFeed *feed;             /* a file still being written, or NULL */
  GCancellable *feed_cancel; /* stops a wait for the feed */
  guint64 file_pos;          /* in the feed's file */
  gint64 wait_us;            /* waited for the feed while decoding */
  gint64 first_wait_us;      /* waited for its first bytes */
  gint64 decode_us;          /* in reads, waits included */
  Kind kind;
  guint8 *in;
  gsize in_len, in_pos;
  gboolean in_eof;
  guint8 *buf;          /* where the current read inflates to */
  gboolean member_done; /* gzip: the current member ended */
#ifdef HAVE_ISAL
  struct inflate_state *isal;
#else
  z_stream z;
  gboolean z_ready;
#endif
  ZSTD_DStream *zstd;
  size_t zstd_hint; /* 0 when the last frame ended */
};

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
fill (BgrLayerDecoder *s, GError **error)
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
no_more_input (BgrLayerDecoder *s)
{
  return s->in_eof && s->in_pos == s->in_len;
}

/* Starts the next gzip member if the input has one: 0 none, 1 started. */
static gboolean
gzip_next_member (BgrLayerDecoder *s)
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

/* One inflate step: returns the bytes made into s->buf, -1 on an error. */
static gssize
gzip_step (BgrLayerDecoder *s, GError **error)
{
  int ret;

  s->isal->next_in = s->in + s->in_pos;
  s->isal->avail_in = (guint32) (s->in_len - s->in_pos);
  s->isal->next_out = s->buf;
  s->isal->avail_out = BGR_LAYER_DECODE_OUT_SIZE;
  ret = isal_inflate (s->isal);
  s->in_pos = (gsize) (s->isal->next_in - s->in);
  if (ret < 0 || ret == ISAL_NEED_DICT)
    {
      bad_data (error, "gzip: %s", isal_why (ret));
      return -1;
    }
  if (s->isal->block_state == ISAL_BLOCK_FINISH)
    s->member_done = TRUE;
  return (gssize) (BGR_LAYER_DECODE_OUT_SIZE - s->isal->avail_out);
}
#else
static gssize
gzip_step (BgrLayerDecoder *s, GError **error)
{
  int ret;

  s->z.next_in = s->in + s->in_pos;
  s->z.avail_in = (uInt) (s->in_len - s->in_pos);
  s->z.next_out = s->buf;
  s->z.avail_out = BGR_LAYER_DECODE_OUT_SIZE;
  ret = inflate (&s->z, Z_NO_FLUSH);
  s->in_pos = (gsize) (s->z.next_in - s->in);
  if (ret == Z_STREAM_END)
    s->member_done = TRUE;
  else if (ret != Z_OK && ret != Z_BUF_ERROR)
    {
      bad_data (error, "gzip: %s", s->z.msg != NULL ? s->z.msg : "corrupt deflate data");
      return -1;
    }
  return (gssize) (BGR_LAYER_DECODE_OUT_SIZE - s->z.avail_out);
}
#endif

static gssize
read_gzip (BgrLayerDecoder *s, const void **out, GError **error)
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
          *out = s->buf;
          return n;
        }
    }
}

static gssize
read_zstd (BgrLayerDecoder *s, const void **out, GError **error)
{
  for (;;)
    {
      ZSTD_inBuffer in;
      ZSTD_outBuffer o = { s->buf, BGR_LAYER_DECODE_OUT_SIZE, 0 };
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
          *out = s->buf;
          return (gssize) o.pos;
        }
    }
}

static gssize
read_plain (BgrLayerDecoder *s, const void **out, GError **error)
{
  gsize n;

  if (!fill (s, error))
    return -1;
  n = s->in_len - s->in_pos;
  *out = s->in + s->in_pos;
  s->in_pos = s->in_len;
  return (gssize) n;
}

gssize
bgr_layer_decoder_read (BgrLayerDecoder *s, guint8 *buf, const void **out, GError **error)
{
  gint64 t0 = g_get_monotonic_time ();
  gssize n;

  s->buf = buf;
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
  s->decode_us += g_get_monotonic_time () - t0;
  return n;
}

/* Reads the first bytes and picks the decoder by their magic number. */
static gboolean
detect (BgrLayerDecoder *s, GError **error)
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

BgrLayerDecoder *
bgr_layer_decoder_new (int fd, BgrFeed *feed, GError **error)
{
  g_autoptr (BgrLayerDecoder) s = g_new0 (BgrLayerDecoder, 1);

  s->fd = fd;
  s->feed = feed != NULL ? bgr_feed_ref (feed) : NULL;
  s->feed_cancel = feed != NULL ? g_cancellable_new () : NULL;
  s->in = g_malloc (IN_SIZE);
  if (!detect (s, error))
    return NULL;
  s->first_wait_us = s->wait_us;
  s->wait_us = 0;
  return g_steal_pointer (&s);
}

void
bgr_layer_decoder_cancel (BgrLayerDecoder *s)
{
  if (s->feed_cancel != NULL)
    g_cancellable_cancel (s->feed_cancel);
}

void
bgr_layer_decoder_get_times (BgrLayerDecoder *s, double *decode_s, double *wait_s)
{
  *decode_s = (double) (s->decode_us - s->wait_us) / G_USEC_PER_SEC;
  *wait_s = (double) (s->wait_us + s->first_wait_us) / G_USEC_PER_SEC;
}

void
bgr_layer_decoder_free (BgrLayerDecoder *s)
{
  if (s == NULL)
    return;
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
  g_free (s->in);
  g_free (s);
}
