/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A feed: a file that one thread is still writing (a blob downloading
 * into the cache) read by another while it grows, so that the reader need
 * not wait for the whole file. The writer says how far the file is
 * written and, at the end, where the finished file is (it may have been
 * renamed, or be another file with the same content) or why it failed;
 * the reader reads up to what was written, waits for more, and sees the
 * end only once the writer finished it successfully. Thread-safe. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _BgrFeed BgrFeed;

BgrFeed *bgr_feed_new (void);
BgrFeed *bgr_feed_ref (BgrFeed *f);
void bgr_feed_unref (BgrFeed *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrFeed, bgr_feed_unref)

/* Writer: the first @size bytes of the file at @path are written. */
void bgr_feed_grow (BgrFeed *f, const char *path, guint64 size);
/* Writer: the file is complete at @path (@error NULL), or will never be
 * (@error, taken). The first call counts. */
void bgr_feed_finish (BgrFeed *f, const char *path, GError *error);

/* Reader: up to @len bytes at @offset into @buf; waits until there are
 * some, or the end. Returns how many, 0 at the end (the writer finished
 * successfully and the file has nothing at @offset), -1 with @error when
 * the writer failed or @cancellable was cancelled. *fd is the reader's
 * open file (-1 at first; the caller closes it). */
gssize bgr_feed_read (BgrFeed *f, int *fd, guint64 offset, void *buf, gsize len,
                      GCancellable *cancellable, GError **error);

/* Reader: waits until the writer finished; FALSE with its error. */
gboolean bgr_feed_wait (BgrFeed *f, GCancellable *cancellable, GError **error);

G_END_DECLS
