/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Builds an ext4 filesystem image straight from OCI layer tarballs through
 * libext2fs: no unpacked tree on the host, no root needed. The rules it
 * enforces are described in docs/oci-import.md. It also edits existing
 * images: host files put in, the filesystem grown. */
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

/* A growable writer grows its image while layers are replayed, before
 * an entry that might not fit (or when inodes run low), by half its size
 * or more (resize2fs): the size given to _create() is then only a start.
 * Images are not growable unless this says so. */
void bgr_ext4_writer_set_growable (BgrExt4Writer *w, gboolean growable);
/* Has @tick called with @data from the replaying thread, between layer
 * entries, at most every 100 ms (a pull reports its progress there). */
void bgr_ext4_writer_set_tick (BgrExt4Writer *w, GSourceFunc tick, gpointer data);
/* The filesystem's size now, in bytes. */
guint64 bgr_ext4_writer_get_size (BgrExt4Writer *w);

/* Applies one layer (a tar stream, plain, gzip or zstd) on top of what is
 * already in the image, with OCI changeset semantics (whiteouts, opaque
 * directories). @layer_name (a digest, "layer 2"...) names the layer in
 * errors. With @diff_id ("sha256:…", the image config's rootfs.diff_ids
 * entry) the uncompressed stream is hashed while it is replayed and must
 * match it. Refused input and a diff_id mismatch are
 * BGR_ERROR_INVALID_DATA; a full filesystem is BGR_ERROR_NO_SPACE. After a
 * failure the image is incomplete: abort the writer and delete the file. */
gboolean bgr_ext4_writer_apply_layer_file (BgrExt4Writer *w, const char *tar_path,
                                           const char *layer_name, const char *diff_id,
                                           GCancellable *cancellable, GError **error);

/* The same for a layer still downloading (bgr-feed-private.h): entries
 * are replayed as its bytes arrive, and the layer is done only once the
 * feed finished (a download that fails its digest check at the end fails
 * the layer with its error). */
typedef struct _BgrFeed BgrFeed;
gboolean bgr_ext4_writer_apply_layer_feed (BgrExt4Writer *w, BgrFeed *feed,
                                           const char *layer_name, const char *diff_id,
                                           GCancellable *cancellable, GError **error);

/* Opens the existing ext4 image at @path (a pulled image, a rootfs made by
 * mkfs.ext4 -d...) for the bgr_ext4_writer_add_*() calls. The image must
 * not be in use: no VM may run on it. A missing file is
 * BGR_ERROR_NOT_FOUND, something else than ext4 BGR_ERROR_INVALID_DATA,
 * an image whose journal needs recovery BGR_ERROR_BUSY and one marked
 * with errors BGR_ERROR_CORRUPT. */
BgrExt4Writer *bgr_ext4_writer_open (const char *path, GError **error);

/* The bgr_ext4_writer_add_*() calls put host content into the image, owned
 * by 0:0. Unlike layers, their paths follow symlinks inside the image the
 * way the guest would (in a Debian rootfs "/lib/modules/x" lands in
 * "/usr/lib/modules/x" through lib -> usr/lib), always within the image:
 * absolute targets start at the image root, ".." stops there, and at most
 * 40 symlinks are followed. A symlink as the last name is replaced, not
 * followed. Missing parent directories are created (0755, 0:0). A
 * directory where a file goes is BGR_ERROR_INVALID_ARGUMENT; a full
 * filesystem is BGR_ERROR_NO_SPACE, naming the file. A replaced file is
 * only removed once its new content is written, so a failure leaves it as
 * it was. */

/* Creates or replaces the regular file @guest_path with @len bytes of
 * @data, permission bits @mode, modified now. */
gboolean bgr_ext4_writer_add_data (BgrExt4Writer *w, const char *guest_path, const void *data,
                                   gsize len, guint mode, GError **error);

/* The same with the content of host file @host_path; @mode 0 takes its
 * permission bits. */
gboolean bgr_ext4_writer_add_file (BgrExt4Writer *w, const char *guest_path,
                                   const char *host_path, guint mode, GCancellable *cancellable,
                                   GError **error);

/* Copies what host directory @host_dir holds into @guest_dir (made when
 * missing; a symlink there is followed): regular files, directories and
 * symlinks (copied as they are), with their permission bits and
 * modification times; hardlinks become separate files and other types are
 * refused (BGR_ERROR_NOT_SUPPORTED). Existing files and symlinks are
 * replaced; existing directories are merged into and keep their own
 * metadata (only directories made here take the host's). A host
 * directory where the image has a symlink goes where the link leads. */
gboolean bgr_ext4_writer_add_tree (BgrExt4Writer *w, const char *host_dir, const char *guest_dir,
                                   GCancellable *cancellable, GError **error);

/* Flushes and closes the image; @w is freed either way. */
gboolean bgr_ext4_writer_close (BgrExt4Writer *w, GError **error);

/* Frees @w without flushing (for error paths; the image file stays and is
 * incomplete). NULL is allowed. */
void bgr_ext4_writer_abort (BgrExt4Writer *w);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrExt4Writer, bgr_ext4_writer_abort)

/* Grows the ext4 image file at @path, which must not be in use, to
 * @new_size bytes (rounded down to 4 KiB), the filesystem with it: e2fsck
 * -f -p checks it (replaying its journal; what needs more than safe
 * repairs fails, BGR_ERROR_CORRUPT), the file is extended (sparse), then
 * resize2fs grows the filesystem; if that fails the file is cut back.
 * Smaller than the file is BGR_ERROR_INVALID_ARGUMENT; the same size does
 * nothing. @cancellable is checked between the steps only. */
gboolean bgr_ext4_grow (const char *path, guint64 new_size, GCancellable *cancellable,
                        GError **error);

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
