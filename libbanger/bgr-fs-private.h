/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File helpers: copies that never write zeros, recursive delete. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Copies @src to @dest (created, must not exist): a reflink where the
 * filesystem can, else a sparse copy that keeps holes (only data extents,
 * found with SEEK_DATA/SEEK_HOLE, are written). Mode bits are kept. */
gboolean bgr_copy_file (const char *src, const char *dest, GCancellable *cancellable,
                        GError **error);
/* Copies a directory tree of regular files and directories; symlinks are
 * skipped (they may point outside the tree). */
gboolean bgr_copy_tree (const char *src, const char *dest, GCancellable *cancellable,
                        GError **error);
/* Removes @path and everything below it, without following symlinks. A
 * missing path is not an error. */
gboolean bgr_rm_rf (const char *path, GError **error);
/* write() until all of @data is written (EINTR retried); FALSE with errno set. */
gboolean bgr_write_all (int fd, const void *data, gsize len);
/* Apparent size in bytes of a file or a whole tree. */
guint64 bgr_path_size (const char *path);
/* Bytes actually allocated on disk for a file (holes excluded). */
guint64 bgr_path_allocated (const char *path);

/* The last @max_bytes bytes of file @path as a string ("" when it cannot
 * be read). */
char *bgr_read_tail (const char *path, gsize max_bytes);
/* The last @lines lines of @text, trailing empty lines left out. */
char *bgr_last_lines (const char *text, guint lines);

G_END_DECLS
