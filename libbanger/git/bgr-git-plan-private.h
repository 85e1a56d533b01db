/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Inside a BgrGitPlan (bgr-git-plan.c, bgr-git-repo.c, bgr-git-tar.c). */
#pragma once

#include <git2.h>

#include "git/bgr-git-pack-private.h"
#include "git/bgr-git-private.h"

G_BEGIN_DECLS

typedef enum { BGR_GIT_ENT_DIR, BGR_GIT_ENT_FILE, BGR_GIT_ENT_LINK } BgrGitEntKind;

/* What a streamed entry's content is made of (bgr-git-pack.c), or the
 * staged pack not written yet (bgr-git-staged.c). */
typedef enum {
  BGR_GIT_GEN_NONE,
  BGR_GIT_GEN_PACK,
  BGR_GIT_GEN_IDX,
  BGR_GIT_GEN_STAGED_PACK,
  BGR_GIT_GEN_STAGED_IDX
} BgrGitGen;

typedef struct _BgrGitStaged BgrGitStaged;

/* One tar entry: @rel is its path under the tar's top ("/src/main.c"),
 * its content the host file @host, the blob @oid (from_blob) or the
 * plan's streamed pack (@gen). */
typedef struct {
  char *rel;
  char *host;
  BgrGitEntKind kind;
  guint mode;
  guint64 size;
  gboolean from_blob;
  git_oid oid;
  BgrGitGen gen;
  /* A working file at the path of HEAD's blob @oid: a recipe may have
   * the guest make that blob from it, if what was sent hashes to @oid
   * (sent_matches, set by the tar writer). */
  gboolean candidate;
  gboolean sent_matches;
} BgrGitEnt;

struct _BgrGitPlan {
  git_repository *repo;
  git_commit *commit;
  char commit_hex[GIT_OID_HEXSZ + 1];
  char *workdir;
  char *branch;
  gboolean from_tree; /* --from: the files are the commit's tree */
  GPtrArray *ents;    /* BgrGitEnt, in tar order */
  char *tmpdir;       /* made-up git files, removed with the plan */
  guint64 bytes;
  BgrGitPack *pack;   /* metadata mode, streamed: written as the tar is */
  char *pack_name;
  guint64 pack_size, idx_size;
  BgrGitStaged *staged; /* metadata mode, staged: written while the files go */
};

BgrGitPlan *bgr_git_plan_alloc (void);
/* The working files (or the tree of --from), in order. */
gboolean bgr_git_plan_add_working_files (BgrGitPlan *plan, GCancellable *cancellable,
                                         GError **error);
/* Every file of @host_git_dir as "/.git/...", but lock files and @skip
 * (paths relative to it). */
gboolean bgr_git_plan_add_git_dir (BgrGitPlan *plan, const char *host_git_dir,
                                   const char *const *skip, GError **error);
/* What host directory @host holds, as "/..." (vm cp); checks that a
 * non-directory is a file or symlink. */
gboolean bgr_git_plan_add_host_path (BgrGitPlan *plan, const char *host, GError **error);
/* One host file as @rel. */
void bgr_git_plan_add_file (BgrGitPlan *plan, const char *rel, const char *host);

/* The pack recipe (bgr-git-recipe.c). The working files at the paths of
 * HEAD's blobs, by blob id (one file per blob), each marked as a
 * candidate. */
#define BGR_GIT_RECIPE_CHUNK (256 * 1024)
GHashTable *bgr_git_recipe_candidates (BgrGitPlan *plan, GError **error);
/* @pack as a recipe and its .idx, in @dir; @used gets the candidates
 * whose files make a blob. */
gboolean bgr_git_recipe_write (BgrGitPack *pack, GHashTable *candidates, const char *dir,
                               GPtrArray *used, GCancellable *cancellable, GError **error);
/* A recipe in @dir with no file record, as the pack it is
 * (pack-@pack_name.pack), the recipe removed. */
gboolean bgr_git_recipe_to_pack (const char *dir, const char *pack_name, GError **error);

/* The staged pack (bgr-git-staged.c). A repository handle of its own for
 * the pack; the pack and that handle handed to the plan (which owns both
 * from then on, even on failure); the thread that writes it, started once
 * the working files are in the plan, as a recipe (@recipe) or the whole
 * pack, its two tar entries counted as @estimate bytes until written; and
 * the wait for it, which fills those entries in (the tar writer calls it
 * when it gets to them). */
gboolean bgr_git_plan_open_pack_repo (BgrGitPlan *plan, git_repository **repo, GError **error);
gboolean bgr_git_plan_stage_pack (BgrGitPlan *plan, git_repository *repo, BgrGitPack *pack,
                                  GError **error);
gboolean bgr_git_plan_start_staged (BgrGitPlan *plan, gboolean recipe, guint64 estimate,
                                    GError **error);
gboolean bgr_git_plan_finish_pack (BgrGitPlan *plan, GCancellable *cancellable, GError **error);
/* Whether the thread already failed (its error then comes from
 * bgr_git_plan_finish_pack() at once, not after the rest of the files). */
gboolean bgr_git_plan_staged_failed (BgrGitPlan *plan);
void bgr_git_staged_free (BgrGitStaged *st);

G_END_DECLS
