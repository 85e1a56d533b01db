/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A tar stream that banger writes itself (a workspace) put straight into
 * an existing ext4 image, the image's own directories checked first
 * (bgr-ext4-stream.c). */
#pragma once

#include <gio/gio.h>

#include "ext4/bgr-ext4-writer-private.h"

G_BEGIN_DECLS

/* Whether @path (absolute, as in the image) can be made in image @image:
 * nothing there yet, and what exists of its parents are directories (not
 * symlinks, not files). FALSE with @error saying why not: a missing file
 * is BGR_ERROR_NOT_FOUND, something else than ext4 BGR_ERROR_INVALID_DATA,
 * a path in the way BGR_ERROR_EXISTS. */
gboolean bgr_ext4_path_is_free (const char *image, const char *path, GError **error);

/* Whether the root directory of image @image holds nothing but
 * lost+found. */
gboolean bgr_ext4_root_is_empty (const char *image, gboolean *out_empty, GError **error);

/* Writes a tar stream to @fd (the write end of a pipe); run in a thread of
 * its own. */
typedef gboolean (*BgrExt4StreamFunc) (int fd, gpointer data, GCancellable *cancellable,
                                       GError **error);

/* Applies the tar that @produce writes, as bgr_ext4_writer_apply_layer_file()
 * applies a layer (paths from the image root, owners and modes as the tar
 * has them, missing parents made 0755), without a file in between: the
 * tar is read while it is written. @what names it in errors. The tar must
 * hold no name starting with ".wh." (they would be read as whiteouts).
 * After a failure the image is incomplete. */
gboolean bgr_ext4_writer_apply_stream (BgrExt4Writer *w, const char *what,
                                       BgrExt4StreamFunc produce, gpointer data,
                                       GCancellable *cancellable, GError **error);

G_END_DECLS
