/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bytes of a packfile as they are written (bgr-git-zpack.c): a
 * buffered sink that keeps the SHA-1 of everything and the CRC-32 of the
 * current object, and the zlib streams of the objects, deflated at the
 * fastest level (ISA-L's igzip where it is built in, else zlib) or
 * stored. Used by bgr-git-pack.c. */
#pragma once

#include <glib.h>
#include <openssl/evp.h>

G_BEGIN_DECLS

/* Where the bytes go: a file, a tar stream. */
typedef gboolean (*BgrPackSink) (const void *buf, gsize len, gpointer data, GError **error);

typedef struct {
  BgrPackSink sink;
  gpointer sink_data;
  guint8 *buf;
  gsize len;
  EVP_MD_CTX *sha; /* SHA-1 of everything written */
  guint64 off;     /* bytes written so far */
  guint32 crc;     /* CRC-32 since it was last set to 0 */
  gboolean discard; /* counted (SHA-1, CRC-32, offset) but not written */
} BgrPackOut;

void bgr_pack_out_init (BgrPackOut *o, BgrPackSink sink, gpointer sink_data);
void bgr_pack_out_clear (BgrPackOut *o);
gboolean bgr_pack_out_put (BgrPackOut *o, const void *data, gsize len, GError **error);
gboolean bgr_pack_out_put_be32 (BgrPackOut *o, guint32 v, GError **error);
/* Hands what is buffered to the sink. */
gboolean bgr_pack_out_flush (BgrPackOut *o, GError **error);
/* Appends the SHA-1 of all written so far (also into @sha) and flushes. */
gboolean bgr_pack_out_finish (BgrPackOut *o, guint8 sha[20], GError **error);

typedef struct _BgrPackZ BgrPackZ;

BgrPackZ *bgr_pack_z_new (void);
void bgr_pack_z_free (BgrPackZ *z);
/* Whether @data is worth deflating: its first 4 KiB shrink by a tenth at
 * least (random or already compressed content does not). */
gboolean bgr_pack_z_compresses (BgrPackZ *z, const guint8 *data, gsize len);
/* @data as one zlib stream, deflated. */
gboolean bgr_pack_z_deflate (BgrPackZ *z, BgrPackOut *o, const guint8 *data, gsize len,
                             GError **error);
/* @data as one zlib stream of stored blocks: the speed of a copy, and a
 * size known in advance (bgr_pack_z_stored_size()); its Adler-32 in
 * @adler_out (nullable). */
gboolean bgr_pack_z_store (BgrPackOut *o, const guint8 *data, gsize len, guint32 *adler_out,
                           GError **error);
guint64 bgr_pack_z_stored_size (guint64 len);

G_END_DECLS
