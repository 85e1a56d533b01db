/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a pack's objects ahead on a thread (bgr-git-prefetch.c): each is
 * read (a loose one with ISA-L, else through libgit2) and hashed against
 * its id while the pack writer sends the ones before it. */
#pragma once

#include <git2.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct _BgrGitPrefetch BgrGitPrefetch;

typedef struct {
  git_object_t type;
  const guint8 *data;
  gsize size;
  gboolean sound; /* "<type> <size>\0<content>" hashes to its id */
  gboolean corrupt; /* a loose object that cannot be what its header says (then data is NULL) */
  int rc;         /* libgit2's error when it could not be read (then data is NULL) */
  guint8 *loose;  /* private: the bytes of a loose object */
  git_odb_object *obj; /* private: libgit2's object */
} BgrGitObject;

/* Starts reading the @n objects @oids (copied) in that order, holding at
 * most about @max_bytes of them read but not yet taken. */
BgrGitPrefetch *bgr_git_prefetch_start (git_odb *odb, const char *objects_dir, const git_oid *oids,
                                        guint n, gsize max_bytes);
/* The next object, in order (waits for it). Give it back with
 * bgr_git_prefetch_release(). */
BgrGitObject *bgr_git_prefetch_next (BgrGitPrefetch *p);
void bgr_git_prefetch_release (BgrGitPrefetch *p, BgrGitObject *o);
/* Stops the thread (wherever it is) and frees everything. */
void bgr_git_prefetch_stop (BgrGitPrefetch *p);

G_END_DECLS
