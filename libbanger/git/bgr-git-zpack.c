/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bytes of a packfile as they are written (bgr-git-zpack-private.h). */
#include "config.h"

#include <string.h>

#ifdef HAVE_ISAL
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#else
#include <zlib.h>
#endif

#include "bgr-error-private.h"
#include "git/bgr-git-zpack-private.h"

#define OUT_BUF (1024 * 1024)
#define ZCHUNK (256 * 1024)
#define MAX_IN (1u << 30) /* per deflate call: the stream's counters are 32-bit */
#define SAMPLE 4096
#define STORED_MAX 0xffff /* bytes in a stored block */

/* ---- the sink ----------------------------------------------------------------- */

static guint32
crc_update (guint32 crc, const guint8 *data, gsize len)
{
  while (len > 0)
    {
      gsize n = MIN (len, (gsize) MAX_IN);
#ifdef HAVE_ISAL
      crc = crc32_gzip_refl (crc, data, n);
#else
      crc = (guint32) crc32 (crc, data, (uInt) n);
#endif
      data += n;
      len -= n;
    }
  return crc;
}

static guint32
adler_update (guint32 adler, const guint8 *data, gsize len)
{
#ifdef HAVE_ISAL
  return isal_adler32 (adler, data, len);
#else
  while (len > 0)
    {
      uInt n = (uInt) MIN (len, (gsize) MAX_IN);
      adler = (guint32) adler32 (adler, data, n);
      data += n;
      len -= n;
    }
  return adler;
#endif
}

void
bgr_pack_out_init (BgrPackOut *o, BgrPackSink sink, gpointer sink_data)
{
  memset (o, 0, sizeof *o);
  o->sink = sink;
  o->sink_data = sink_data;
  o->buf = g_malloc (OUT_BUF);
  o->sha = EVP_MD_CTX_new ();
  EVP_DigestInit_ex (o->sha, EVP_sha1 (), NULL);
}

void
bgr_pack_out_clear (BgrPackOut *o)
{
  g_clear_pointer (&o->buf, g_free);
  g_clear_pointer (&o->sha, EVP_MD_CTX_free);
}

static gboolean
out_flush (BgrPackOut *o, GError **error)
{
  gboolean ok = o->len == 0 || o->sink (o->buf, o->len, o->sink_data, error);
  o->len = 0;
  return ok;
}

gboolean
bgr_pack_out_put (BgrPackOut *o, const void *data, gsize len, GError **error)
{
  const guint8 *p = data;

  EVP_DigestUpdate (o->sha, p, len);
  o->crc = crc_update (o->crc, p, len);
  o->off += len;
  while (len > 0 && !o->discard)
    {
      gsize n = MIN (len, OUT_BUF - o->len);
      memcpy (o->buf + o->len, p, n);
      o->len += n;
      p += n;
      len -= n;
      if (o->len == OUT_BUF && !out_flush (o, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
bgr_pack_out_flush (BgrPackOut *o, GError **error)
{
  return out_flush (o, error);
}

gboolean
bgr_pack_out_put_be32 (BgrPackOut *o, guint32 v, GError **error)
{
  guint32 be = GUINT32_TO_BE (v);
  return bgr_pack_out_put (o, &be, 4, error);
}

gboolean
bgr_pack_out_finish (BgrPackOut *o, guint8 sha[20], GError **error)
{
  unsigned int n = 0;

  EVP_DigestFinal_ex (o->sha, sha, &n);
  return bgr_pack_out_put (o, sha, 20, error) && out_flush (o, error);
}

/* ---- zlib streams ---------------------------------------------------------- */

struct _BgrPackZ {
#ifdef HAVE_ISAL
  struct isal_zstream z;
  guint8 *level_buf;
#else
  z_stream z;
#endif
  guint8 *chunk;
};

BgrPackZ *
bgr_pack_z_new (void)
{
  BgrPackZ *d = g_new0 (BgrPackZ, 1);
  d->chunk = g_malloc (ZCHUNK);
#ifdef HAVE_ISAL
  d->level_buf = g_malloc (ISAL_DEF_LVL1_DEFAULT);
#else
  deflateInit (&d->z, 1);
#endif
  return d;
}

void
bgr_pack_z_free (BgrPackZ *d)
{
  if (d == NULL)
    return;
#ifdef HAVE_ISAL
  g_free (d->level_buf);
#else
  deflateEnd (&d->z);
#endif
  g_free (d->chunk);
  g_free (d);
}

gboolean
bgr_pack_z_compresses (BgrPackZ *d, const guint8 *data, gsize len)
{
  if (len <= SAMPLE)
    return TRUE;
#ifdef HAVE_ISAL
  struct isal_zstream z;
  isal_deflate_stateless_init (&z);
  z.level = 1;
  z.level_buf = d->level_buf;
  z.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
  z.next_in = (guint8 *) data;
  z.avail_in = SAMPLE;
  z.end_of_stream = 1;
  z.next_out = d->chunk;
  z.avail_out = SAMPLE * 9 / 10;
  return isal_deflate_stateless (&z) == COMP_OK;
#else
  uLongf out = SAMPLE * 9 / 10;
  return compress2 (d->chunk, &out, data, SAMPLE, 1) == Z_OK;
#endif
}

gboolean
bgr_pack_z_deflate (BgrPackZ *d, BgrPackOut *o, const guint8 *data, gsize len, GError **error)
{
  gboolean last;

#ifdef HAVE_ISAL
  isal_deflate_init (&d->z);
  d->z.level = 1;
  d->z.level_buf = d->level_buf;
  d->z.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
  d->z.gzip_flag = IGZIP_ZLIB;
  do
    {
      guint32 n = (guint32) MIN (len, (gsize) MAX_IN);
      last = n == len;
      d->z.next_in = (guint8 *) data;
      d->z.avail_in = n;
      d->z.end_of_stream = last;
      data += n;
      len -= n;
      do
        {
          d->z.next_out = d->chunk;
          d->z.avail_out = ZCHUNK;
          if (isal_deflate (&d->z) != COMP_OK)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "cannot compress an object for the packfile");
              return FALSE;
            }
          if (!bgr_pack_out_put (o, d->chunk, ZCHUNK - d->z.avail_out, error))
            return FALSE;
        }
      while (d->z.avail_out == 0 || d->z.avail_in > 0);
    }
  while (!last || d->z.internal_state.state != ZSTATE_END);
#else
  int rc = Z_OK;
  deflateReset (&d->z);
  do
    {
      uInt n = (uInt) MIN (len, (gsize) MAX_IN);
      last = n == len;
      d->z.next_in = (Bytef *) data;
      d->z.avail_in = n;
      data += n;
      len -= n;
      do
        {
          d->z.next_out = d->chunk;
          d->z.avail_out = ZCHUNK;
          rc = deflate (&d->z, last ? Z_FINISH : Z_NO_FLUSH);
          if (rc == Z_STREAM_ERROR)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "cannot compress an object for the packfile");
              return FALSE;
            }
          if (!bgr_pack_out_put (o, d->chunk, ZCHUNK - d->z.avail_out, error))
            return FALSE;
        }
      while (d->z.avail_out == 0 || d->z.avail_in > 0);
    }
  while (!last || rc != Z_STREAM_END);
#endif
  return TRUE;
}

guint64
bgr_pack_z_stored_size (guint64 len)
{
  guint64 blocks = len == 0 ? 1 : (len + STORED_MAX - 1) / STORED_MAX;
  return 2 + blocks * 5 + len + 4;
}

gboolean
bgr_pack_z_store (BgrPackOut *o, const guint8 *data, gsize len, guint32 *adler_out, GError **error)
{
  static const guint8 zhdr[2] = { 0x78, 0x01 };
  guint32 sum = adler_update (1, data, len);
  guint32 adler = GUINT32_TO_BE (sum);

  if (adler_out != NULL)
    *adler_out = sum;
  if (!bgr_pack_out_put (o, zhdr, 2, error))
    return FALSE;
  do
    {
      guint16 n = (guint16) MIN (len, (gsize) STORED_MAX);
      guint8 blk[5] = { n == len ? 1 : 0, n & 0xff, n >> 8, ~n & 0xff, (guint16) ~n >> 8 };
      if (!bgr_pack_out_put (o, blk, 5, error) || !bgr_pack_out_put (o, data, n, error))
        return FALSE;
      data += n;
      len -= n;
    }
  while (len > 0);
  return bgr_pack_out_put (o, &adler, 4, error);
}
