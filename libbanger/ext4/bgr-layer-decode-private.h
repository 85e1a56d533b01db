/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The decoder under a layer stream (bgr-layer-stream-private.h): reads a
 * layer file, or a feed still being written, and inflates it with the
 * fastest decoder at hand (ISA-L's igzip for gzip where banger was built
 * with it, zlib otherwise; libzstd for zstd; plain tar as it is), picked by
 * the file's magic number. Not thread-safe: one thread decodes at a time. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The most a read makes at once: callers' buffers are this big. */
#define BGR_LAYER_DECODE_OUT_SIZE (1024 * 1024)

typedef struct _BgrLayerDecoder BgrLayerDecoder;
typedef struct _BgrFeed BgrFeed;

/* Takes @fd; or reads @feed (@fd -1), opening its file as needed. Reads the
 * first bytes to pick the decoder. */
BgrLayerDecoder *bgr_layer_decoder_new (int fd, BgrFeed *feed, GError **error);

/* The next piece of uncompressed data, up to BGR_LAYER_DECODE_OUT_SIZE
 * bytes: inflated into @buf, or (plain layers) pointed at in the decoder's
 * own input buffer; *out says where, valid until the next call. Returns
 * its length, 0 at the end, -1 on an error (BGR_ERROR_INVALID_DATA for a
 * corrupt or truncated stream). */
gssize bgr_layer_decoder_read (BgrLayerDecoder *d, guint8 *buf, const void **out, GError **error);

/* Stops a wait for the feed's bytes, from any thread: that read fails. */
void bgr_layer_decoder_cancel (BgrLayerDecoder *d);

/* Seconds spent reading and inflating (not waiting for a feed), and
 * waiting for the feed's bytes (its first ones included). */
void bgr_layer_decoder_get_times (BgrLayerDecoder *d, double *decode_s, double *wait_s);

void bgr_layer_decoder_free (BgrLayerDecoder *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrLayerDecoder, bgr_layer_decoder_free)

G_END_DECLS
