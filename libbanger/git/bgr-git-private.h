/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libgit2 adapter: what of a host repository goes into a VM's
 * workspace (bgr-git-plan.c), written as one tar stream (bgr-git-tar.c),
 * and guest work brought back as a host branch (bgr-git-export.c). Nothing
 * here runs git(1): libgit2 reads and writes the repositories. The rules
 * are in docs/workspaces.md. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  BGR_GIT_MODE_METADATA,  /* a made-up shallow .git + the working files */
  BGR_GIT_MODE_FULL_COPY, /* the repository's own .git + the working files, submodules too */
} BgrGitMode;

typedef struct _BgrGitPlan BgrGitPlan;

/* libgit2's global state, set up once for the process. */
void bgr_git_init (void);

/* Opens the repository enclosing @path and works out what to send: checks
 * everything first (not a repository, bare, no commit, submodules in
 * metadata mode, @from that names no commit, a bad @branch), so that a
 * refused prepare changes nothing. @from (nullable): send that commit's
 * tree instead of the working files. @branch (nullable): the guest checks
 * out a new branch of that name. In metadata mode this already builds the
 * shallow git directory (in a temporary directory, removed by
 * bgr_git_plan_free()); its packfile goes as @pack says. */
typedef enum {
  /* Only measured, and written with its objects stored while the tar is
   * (nothing staged: for a local disk). */
  BGR_GIT_PACK_STREAMED,
  /* Written by a thread while the working files go, objects deflated
   * where they compress (fewer bytes for a slow guest), and sent last. */
  BGR_GIT_PACK_STAGED,
  /* The same, as a recipe: the guest agent makes the blobs of unchanged,
   * incompressible files from the files themselves (bgr-git-recipe.c). */
  BGR_GIT_PACK_RECIPE,
} BgrGitPackWay;

/* The pack recipe's name in the workspace's .git (bgr-git-recipe.c). */
#define BGR_GIT_RECIPE_NAME "banger-pack.recipe"

BgrGitPlan *bgr_git_plan_new (const char *path, BgrGitMode mode, const char *from,
                              const char *branch, BgrGitPackWay pack,
                              GCancellable *cancellable, GError **error);
void bgr_git_plan_free (BgrGitPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrGitPlan, bgr_git_plan_free)

/* The repository's working directory (absolute, no trailing slash). */
const char *bgr_git_plan_get_workdir (BgrGitPlan *plan);
/* The commit the guest's HEAD is (hex). */
const char *bgr_git_plan_get_commit (BgrGitPlan *plan);
/* The branch the guest has checked out, NULL when detached. */
const char *bgr_git_plan_get_branch (BgrGitPlan *plan);
/* What the tar will hold: bytes of file content and entries. */
guint64 bgr_git_plan_get_bytes (BgrGitPlan *plan);
guint bgr_git_plan_get_entries (BgrGitPlan *plan);
/* Whether a name in the tar (any component of a path) starts with
 * @prefix. */
gboolean bgr_git_plan_has_name_prefix (BgrGitPlan *plan, const char *prefix);

/* Progress of a tar being written: content bytes so far. */
typedef void (*BgrTarProgress) (guint64 done, gpointer data);

/* Writes the plan as a tar stream (GNU format: long names, big files) to
 * @fd, every path under @top/ ("ws/README.md"), owned by root, with the
 * host's modes, symlinks as symlinks, empty directories included. Checks
 * @cancellable between files. */
gboolean bgr_git_plan_write_tar (BgrGitPlan *plan, const char *top, int fd,
                                 BgrTarProgress progress, gpointer progress_data,
                                 GCancellable *cancellable, GError **error);

/* Writes a host file or directory tree (as `vm cp` sends it) to @fd as a
 * tar whose one top entry is @top. */
gboolean bgr_tar_write_path (const char *host_path, const char *top, int fd,
                             BgrTarProgress progress, gpointer progress_data,
                             GCancellable *cancellable, GError **error);
/* Bytes of content under @host_path (for progress). */
guint64 bgr_tar_measure_path (const char *host_path);
/* Reads a tar stream from @fd and extracts it under @dest_dir (which
 * exists), keeping modes and symlinks; refuses absolute paths and "..".
 * (vm cp from a VM.) */
gboolean bgr_tar_extract (int fd, const char *dest_dir, BgrTarProgress progress,
                          gpointer progress_data, GCancellable *cancellable, GError **error);

/* Export (bgr-git-export.c). Checks that @branch may be made in the
 * repository at @repo_path: a valid name, not checked out, and not there
 * yet unless @force. */
gboolean bgr_git_export_check (const char *repo_path, const char *branch, gboolean force,
                               GError **error);
/* Reads a packfile from @fd into the repository's object database. */
gboolean bgr_git_export_receive_pack (const char *repo_path, int fd, BgrTarProgress progress,
                                      gpointer progress_data, GCancellable *cancellable,
                                      GError **error);
/* Points @branch at commit @tip (hex), which must be in the repository. */
gboolean bgr_git_export_branch (const char *repo_path, const char *branch, const char *tip,
                                gboolean force, GError **error);

G_END_DECLS
