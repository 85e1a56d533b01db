/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a loose object without libgit2 (bgr-git-loose.c). */
#pragma once

#include <git2.h>
#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  BGR_GIT_LOOSE_READ,        /* *type, *data and *size are set */
  BGR_GIT_LOOSE_ASK_LIBGIT2, /* not there as a loose object, not readable as one, or no ISA-L */
  BGR_GIT_LOOSE_CORRUPT,     /* its header claims a size its file cannot hold */
} BgrGitLoose;

/* Inflates loose object @oid of @objects_dir (a repository's "objects"
 * directory) with ISA-L: its type, and its content in *data (g_free() it)
 * of *size bytes. The content is not checked against @oid: that is the
 * caller's. */
BgrGitLoose bgr_git_loose_read (const char *objects_dir, const git_oid *oid, git_object_t *type,
                                guint8 **data, gsize *size);

G_END_DECLS
