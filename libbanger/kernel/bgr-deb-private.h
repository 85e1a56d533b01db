/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a Debian kernel package (linux-image-*.deb) with libarchive. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Extracts boot/vmlinuz-VERSION to DEST_DIR/vmlinuz, boot/config-VERSION
 * to DEST_DIR/config (when present) and the lib/modules/VERSION tree to
 * DEST_DIR/modules/VERSION, straight from the package: ar archive, then the
 * data.tar.* member as a stream. Nothing else is written. */
gboolean bgr_deb_extract_kernel (const char *deb, const char *dest_dir, char **out_version,
                                 GCancellable *cancellable, GError **error);

G_END_DECLS
