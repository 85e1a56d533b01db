/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a loose object without libgit2 (bgr-git-loose.c). */
#pragma once

#include <git2.h>
#include <glib.h>

G_BEGIN_DECLS

/* Inflates loose object @oid of @objects_dir (a repository's "objects"
 * directory) with ISA-L: its type, and its content in *data (g_free() it)
 * of *size bytes. FALSE when it is not there as a loose object, cannot be
 * read as one, or ISA-L is not built in: the caller asks libgit2. The
 * content is not checked against @oid: that is the caller's. */
gboolean bgr_git_loose_read (const char *objects_dir, const git_oid *oid, git_object_t *type,
                             guint8 **data, gsize *size);

G_END_DECLS
