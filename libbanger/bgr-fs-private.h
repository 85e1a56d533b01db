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

/* Makes sure @path is a directory nobody else can plant files in: created
 * with @mode (and parents 0700) when missing; an existing one must be a
 * directory owned by the effective user, with no group or other write bit
 * (0755 is fine, 0775 or 0777 is not; world-writable parents such as /tmp
 * do not matter). Otherwise a %BGR_ERROR_INVALID_CONFIG error naming @what
 * (the config key, e.g. "state_dir") says why and what to do. */
gboolean bgr_ensure_private_dir (const char *path, int mode, const char *what, GError **error);

/* The last @max_bytes bytes of file @path as a string ("" when it cannot
 * be read). */
char *bgr_read_tail (const char *path, gsize max_bytes);
/* The last @lines lines of @text, trailing empty lines left out. */
char *bgr_last_lines (const char *text, guint lines);

G_END_DECLS
