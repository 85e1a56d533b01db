/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Opens @path with libext2fs and checks it is an ext4 filesystem (ext2/3
 * superblocks without ext4 features are refused). @what names the file in
 * errors, e.g. "rootfs". */
gboolean bgr_ext4_check (const char *path, const char *what, GError **error);

/* The path of e2fsprogs program @name (mkfs.ext4, e2fsck, resize2fs):
 * PATH, then /usr/sbin and /sbin; NULL when absent. */
char *bgr_ext4_find_tool (const char *name);

G_END_DECLS
