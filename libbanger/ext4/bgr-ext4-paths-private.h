/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Path rules shared by the ext4 writer and the layer sizing: how a layer
 * entry's path is folded into components below the image root. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define BLOCK_SIZE 4096
#define MAX_PATH_LEN 4096
#define MAX_NAME_LEN 255
#define MAX_DEPTH 64
#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_MARKER ".wh..wh..opq"
/* Inodes ext4 keeps for itself (1-10) plus lost+found, rounded up. */
#define RESERVED_INODES 16

/* Tar paths are untrusted bytes: control characters would reach terminals
 * through error messages, so they are shown as \xNN. */
char *bgr_ext4_escape_path (const char *path);

/* Folds @path into its components below the image root: leading "/" and
 * "./" are dropped (layers are relative to the root whatever tar wrote),
 * empty and "." components vanish, ".." removes the previous component.
 * Returns NULL with *why set when the path is too long, has too long a
 * name, is too deep or climbs above the root. */
GPtrArray *bgr_ext4_fold_path (const char *path, const char **why);

/* The first @n components joined with "/". */
char *bgr_ext4_join_comps (GPtrArray *comps, guint n);

G_END_DECLS
