/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Builds an ext4 filesystem image straight from OCI layer tarballs through
 * libext2fs: no unpacked tree on the host, no root needed. The rules it
 * enforces are described in docs/oci-import.md. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _BgrExt4Writer BgrExt4Writer;

/* Creates a new, empty ext4 filesystem (mkfs.ext4, 4 KiB blocks, root owned
 * by 0:0) in a sparse file at @path, which must not exist, of @size_bytes
 * (rounded down to 4 KiB) with at least @inodes inodes, and opens it for
 * writing. On failure nothing is left at @path. */
BgrExt4Writer *bgr_ext4_writer_create (const char *path, guint64 size_bytes, guint64 inodes,
                                       GError **error);

/* Applies one layer (a tar stream, plain, gzip or zstd) on top of what is
 * already in the image, with OCI changeset semantics (whiteouts, opaque
 * directories). @layer_name (a digest, "layer 2"...) names the layer in
 * errors. Refused input is BGR_ERROR_INVALID_DATA; a full filesystem is
 * BGR_ERROR_NO_SPACE. After a failure the image is incomplete: abort the
 * writer and delete the file. */
gboolean bgr_ext4_writer_apply_layer_file (BgrExt4Writer *w, const char *tar_path,
                                           const char *layer_name, GCancellable *cancellable,
                                           GError **error);

/* Flushes and closes the image; @w is freed either way. */
gboolean bgr_ext4_writer_close (BgrExt4Writer *w, GError **error);

/* Frees @w without flushing (for error paths; the image file stays and is
 * incomplete). NULL is allowed. */
void bgr_ext4_writer_abort (BgrExt4Writer *w);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrExt4Writer, bgr_ext4_writer_abort)

/* Content-aware sizing: reads the layers and returns an upper bound of the
 * data bytes (each file rounded up to 4 KiB blocks, plus directory, long
 * symlink and xattr blocks) and of the inodes the final tree needs
 * (whiteouts are not applied: deleted entries still count). */
gboolean bgr_ext4_measure_layers (const char *const *tar_paths, guint64 *out_bytes,
                                  guint64 *out_inodes, GCancellable *cancellable, GError **error);

/* The image size to pass to bgr_ext4_writer_create() for @content_bytes
 * and @inodes from bgr_ext4_measure_layers(): adds ext4's own overhead
 * (inode tables, journal, bitmaps, group descriptors) and some slack. */
guint64 bgr_ext4_image_size_for (guint64 content_bytes, guint64 inodes);

G_END_DECLS
