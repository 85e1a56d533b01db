/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The packfile of a metadata workspace's shallow .git (bgr-git-pack.c):
 * written here, without libgit2's packbuilder, whose delta search and
 * compression were most of a large workspace's time. Every object goes in
 * whole (no deltas), with a version-2 .idx. Either staged (files in a
 * directory, objects deflated at the fastest level when they compress)
 * or streamed (into a tar as it is written, objects stored: the sizes are
 * known in advance, nothing is written twice). */
#pragma once

#include <gio/gio.h>
#include <git2.h>

#include "git/bgr-git-prefetch-private.h"
#include "git/bgr-git-zpack-private.h"

G_BEGIN_DECLS

typedef struct _BgrGitPack BgrGitPack;

/* git_oid * keys of a GHashTable. */
guint bgr_git_oid_hash (gconstpointer p);
gboolean bgr_git_oid_equal (gconstpointer a, gconstpointer b);

BgrGitPack *bgr_git_pack_new (git_repository *repo);
void bgr_git_pack_free (BgrGitPack *pack);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrGitPack, bgr_git_pack_free)

/* Adds @commit, its tree, every tree under it and every blob they name
 * (submodule commits left out). */
gboolean bgr_git_pack_add_commit (BgrGitPack *pack, git_commit *commit, GError **error);
/* Adds one object (a blob of the index) when the repository has it. */
void bgr_git_pack_add_if_present (BgrGitPack *pack, const git_oid *oid);
/* Objects added so far. */
guint bgr_git_pack_get_count (BgrGitPack *pack);

/* Writes pack-<sha>.pack and pack-<sha>.idx into @pack_dir (which
 * exists), each under a temporary name renamed into place once whole. */
gboolean bgr_git_pack_write (BgrGitPack *pack, const char *pack_dir, GCancellable *cancellable,
                             GError **error);
/* Writes an object's zlib stream itself (and sets *@handled), or leaves
 * it to the pack (deflated when it compresses, else stored). Called after
 * the object's header went through @o. */
typedef struct {
  gboolean (*body) (BgrPackOut *o, const git_oid *oid, const BgrGitObject *obj,
                    gboolean *handled, gpointer data, GError **error);
  gpointer data;
} BgrPackHook;

/* The pack through @sink, its objects' streams as @hook says; its .idx
 * as pack-NAME.idx in @idx_dir (which exists). */
gboolean bgr_git_pack_write_hooked (BgrGitPack *pack, BgrPackSink sink, gpointer sink_data,
                                    const BgrPackHook *hook, const char *idx_dir,
                                    GCancellable *cancellable, GError **error);
/* The NAME of pack-NAME.pack (its checksum), once written. */
char *bgr_git_pack_dup_name (BgrGitPack *pack);

/* Streamed: the sizes of the pack and of its .idx, and the name of both
 * (pack-NAME.pack), from the objects' headers. Call once, before
 * bgr_git_pack_stream(). */
gboolean bgr_git_pack_measure (BgrGitPack *pack, guint64 *pack_size, guint64 *idx_size,
                               char **name, GError **error);
/* The pack, exactly the size measured (an object whose content is not
 * what its header said fails it), then its .idx. */
gboolean bgr_git_pack_stream (BgrGitPack *pack, BgrPackSink sink, gpointer data,
                              GCancellable *cancellable, GError **error);
gboolean bgr_git_pack_stream_idx (BgrGitPack *pack, BgrPackSink sink, gpointer data,
                                  GError **error);

G_END_DECLS
