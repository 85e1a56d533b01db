/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Generated initramfs for distribution kernels that build virtio as modules. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

extern const unsigned char bgr_init_blob_start[];
extern const unsigned char bgr_init_blob_end[];

/* Writes a gzip-compressed newc cpio to @dest holding /init (banger-init),
 * /dev/console, the mount points, the @modules (paths relative to @tree,
 * decompressed) under /lib/modules/@version/ and /etc/banger-modules
 * listing them in load order. */
gboolean bgr_initramfs_write (const char *dest, const char *tree, const char *version,
                              GPtrArray *modules, GError **error);

G_END_DECLS
