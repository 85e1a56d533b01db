/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The uncompressed bytes of a layer file (plain tar, gzip or zstd, told
 * apart by their magic numbers), inflated here rather than by libarchive:
 * gzip with ISA-L's igzip where banger was built with it (zlib otherwise),
 * zstd with libzstd. What comes out can be hashed on the way (the layer's
 * diff_id) and is handed to libarchive's tar reader. */
#pragma once

#include <archive.h>
#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _BgrLayerStream BgrLayerStream;

/* Opens the layer at @path. With @hash, the uncompressed bytes are hashed
 * as they are read. Errors here and below do not name the layer: callers
 * prefix them. */
BgrLayerStream *bgr_layer_stream_open (const char *path, gboolean hash, GError **error);

typedef struct _BgrFeed BgrFeed;
/* The same for a layer file still being written (a download): reads wait
 * for its bytes, and its end is where the feed finished (bgr-feed-private.h);
 * a feed that failed fails the read with its error. */
BgrLayerStream *bgr_layer_stream_open_feed (BgrFeed *feed, gboolean hash, GError **error);

/* From now on, a thread inflates ahead of the reader, and (for a stream
 * opened with @hash) another hashes what it made, so that the three
 * overlap; call it before the first read. Reads return the same bytes
 * either way. */
void bgr_layer_stream_read_ahead (BgrLayerStream *s);

/* The next piece of uncompressed data: *out points into the stream's own
 * buffer, valid until the next call. Returns its length, 0 at the end, -1
 * on an error (BGR_ERROR_INVALID_DATA for a corrupt or truncated stream). */
gssize bgr_layer_stream_read (BgrLayerStream *s, const void **out, GError **error);

/* A libarchive tar reader over the stream (no libarchive filter: the
 * inflating is done here); the stream must outlive it. Read errors of the
 * stream reach libarchive as its error string and errno (EINVAL for bad
 * data), for bgr_set_error_from_archive(). */
struct archive *bgr_layer_stream_open_archive (BgrLayerStream *s, GError **error);

/* Reads what is left (the tar reader stops at the end-of-archive blocks)
 * and returns the digest of all the uncompressed bytes, "sha256:<hex>".
 * Only for a stream opened with @hash. */
char *bgr_layer_stream_finish (BgrLayerStream *s, GError **error);

/* Uncompressed bytes produced so far. */
guint64 bgr_layer_stream_get_position (BgrLayerStream *s);
/* Seconds spent so far reading and inflating (not waiting for a feed), and hashing (for the
 * debug log of where a pull's time goes). This stops a read-ahead: call it
 * once done reading. */
void bgr_layer_stream_get_times (BgrLayerStream *s, double *read_s, double *hash_s);
/* Seconds spent waiting for a feed's bytes (also stops a read-ahead). */
double bgr_layer_stream_get_wait (BgrLayerStream *s);

void bgr_layer_stream_free (BgrLayerStream *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrLayerStream, bgr_layer_stream_free)

G_END_DECLS
