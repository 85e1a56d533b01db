/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Opening the host repository for a workspace, checking the request, and
 * the git directory the guest gets: in metadata mode a made-up shallow one
 * (HEAD's commit with its tree and blobs in one packfile, a `shallow` file
 * so that git does not look for the parents, the index so that `git
 * status` tells the same as on the host), in full_copy mode the
 * repository's own. */
#include "config.h"

#include <errno.h>
#include <git2.h>
#include <glib/gstdio.h>
#include <string.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "git/bgr-git-pack-private.h"
#include "git/bgr-git-plan-private.h"

void
bgr_git_init (void)
{
  static gsize once;
  if (g_once_init_enter (&once))
    {
      git_libgit2_init ();
      /* libgit2 hashes every object it reads again (a collision-detecting
       * SHA-1, slow on large blobs); the workspace's pack writer checks
       * each object it sends itself (bgr-git-pack.c), and the indexer of
       * an export computes the ids of what it receives. */
      git_libgit2_opts (GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
      g_once_init_leave (&once, 1);
    }
}

static gboolean
open_repo (BgrGitPlan *plan, const char *path, GError **error)
{
  int rc = git_repository_open_ext (&plan->repo, path, 0, NULL);
  const char *wd;

  if (rc == GIT_ENOTFOUND)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "%s is not in a git repository", path);
      return FALSE;
    }
  if (rc < 0)
    {
      bgr_set_error_from_git (error, rc, "cannot open the git repository at %s", path);
      return FALSE;
    }
  if (git_repository_is_bare (plan->repo) || (wd = git_repository_workdir (plan->repo)) == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "%s is a bare repository: a workspace needs a checkout with a working tree",
                   git_repository_path (plan->repo));
      return FALSE;
    }
  plan->workdir = g_strdup (wd);
  if (strlen (plan->workdir) > 1 && g_str_has_suffix (plan->workdir, "/"))
    plan->workdir[strlen (plan->workdir) - 1] = '\0';
  return TRUE;
}

static gboolean
resolve_commit (BgrGitPlan *plan, const char *from, GError **error)
{
  git_object *obj = NULL, *peeled = NULL;
  int rc;

  if (from == NULL && git_repository_head_unborn (plan->repo) == 1)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "%s has no commit yet: commit once, then prepare the workspace", plan->workdir);
      return FALSE;
    }
  rc = git_revparse_single (&obj, plan->repo, from != NULL ? from : "HEAD");
  if (rc == 0)
    rc = git_object_peel (&peeled, obj, GIT_OBJECT_COMMIT);
  git_object_free (obj);
  if (rc < 0)
    {
      if (from != NULL)
        g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "--from '%s' does not name a commit in %s",
                     from, plan->workdir);
      else
        bgr_set_error_from_git (error, rc, "cannot read HEAD of %s", plan->workdir);
      return FALSE;
    }
  plan->commit = (git_commit *) peeled;
  git_oid_tostr (plan->commit_hex, sizeof plan->commit_hex, git_commit_id (plan->commit));
  plan->from_tree = from != NULL;
  return TRUE;
}

/* The guest's branch: --branch, else HEAD's branch when the files are the
 * working ones, else none (detached at --from). */
static gboolean
choose_branch (BgrGitPlan *plan, const char *branch, GError **error)
{
  git_reference *head = NULL;
  int valid = 0;

  if (branch != NULL)
    {
      if (git_branch_name_is_valid (&valid, branch) < 0 || !valid)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "--branch '%s' is not a valid branch name", branch);
          return FALSE;
        }
      plan->branch = g_strdup (branch);
      return TRUE;
    }
  if (!plan->from_tree && git_repository_head (&head, plan->repo) == 0 && git_reference_is_branch (head))
    plan->branch = g_strdup (git_reference_shorthand (head));
  git_reference_free (head);
  return TRUE;
}

/* Metadata mode carries no submodules: their commits are not in the pack. */
static gboolean
refuse_submodules (BgrGitPlan *plan, GError **error)
{
  git_index *index = NULL;
  const char *found = NULL;

  if (git_repository_index (&index, plan->repo) < 0)
    return TRUE; /* reported when the files are read */
  for (size_t i = 0; i < git_index_entrycount (index) && found == NULL; i++)
    if (git_index_get_byindex (index, i)->mode == GIT_FILEMODE_COMMIT)
      found = git_index_get_byindex (index, i)->path;
  if (found != NULL)
    g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                 "%s has submodules (%s): metadata mode does not carry them; use --mode full_copy",
                 plan->workdir, found);
  git_index_free (index);
  return found == NULL;
}

static gboolean
write_text (const char *dir, const char *name, const char *text, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  if (g_mkdir_with_parents (parent, 0755) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", parent);
      return FALSE;
    }
  return g_file_set_contents (path, text, -1, error);
}

/* The index the guest gets: the host's own entries (staged changes
 * included; their stat data differ in the guest, so git looks at the
 * content), or --from's tree. */
static gboolean
write_index (BgrGitPlan *plan, const char *path, BgrGitPack *pack, GError **error)
{
  git_index *out = NULL, *host = NULL;
  git_tree *tree = NULL;
  int rc = git_index_open (&out, path);

  if (rc == 0 && plan->from_tree)
    {
      rc = git_commit_tree (&tree, plan->commit);
      if (rc == 0)
        rc = git_index_read_tree (out, tree);
    }
  else if (rc == 0 && (rc = git_repository_index (&host, plan->repo)) == 0)
    {
      for (size_t i = 0; rc == 0 && i < git_index_entrycount (host); i++)
        {
          const git_index_entry *e = git_index_get_byindex (host, i);
          if (pack != NULL && e->mode != GIT_FILEMODE_COMMIT)
            bgr_git_pack_add_if_present (pack, &e->id);
          rc = git_index_add (out, e);
        }
    }
  if (rc == 0)
    rc = git_index_write (out);
  if (rc < 0)
    bgr_set_error_from_git (error, rc, "cannot write the workspace's index");
  git_tree_free (tree);
  git_index_free (host);
  git_index_free (out);
  return rc == 0;
}

static char *
head_text (BgrGitPlan *plan)
{
  return plan->branch != NULL ? g_strdup_printf ("ref: refs/heads/%s\n", plan->branch)
                              : g_strdup_printf ("%s\n", plan->commit_hex);
}

/* The shallow git directory of metadata mode, made in plan->tmpdir. */
static gboolean
make_shallow_git_dir (BgrGitPlan *plan, gboolean stream_pack, GError **error)
{
  g_autofree char *index = g_build_filename (plan->tmpdir, "index", NULL);
  g_autofree char *head = head_text (plan);
  g_autofree char *shallow = g_strdup_printf ("%s\n", plan->commit_hex);
  g_autofree char *ref = plan->branch != NULL ? g_strdup_printf ("refs/heads/%s", plan->branch) : NULL;
  git_repository *pack_repo = NULL;
  BgrGitPack *pack = NULL;

  static const char *const dirs[] = { "objects/pack", "objects/info", "refs/heads", "refs/tags" };

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *dir = g_build_filename (plan->tmpdir, dirs[i], NULL);
      if (g_mkdir_with_parents (dir, 0755) != 0)
        {
          bgr_set_error_errno (error, errno, "cannot create %s", dir);
          return FALSE;
        }
    }
  /* HEAD's commit with all its trees and blobs, and the blobs of staged
   * changes (the index names them), in one pack, the plan's: streamed, or
   * staged by a thread (started later) with a repository handle of its
   * own. */
  if (stream_pack)
    pack = plan->pack = bgr_git_pack_new (plan->repo);
  else if (!bgr_git_plan_open_pack_repo (plan, &pack_repo, error)
           || !bgr_git_plan_stage_pack (plan, pack_repo, pack = bgr_git_pack_new (pack_repo),
                                        error))
    return FALSE;
  if (!bgr_git_pack_add_commit (pack, plan->commit, error)
      || !write_index (plan, index, plan->from_tree ? NULL : pack, error)
      || (stream_pack
          && !bgr_git_pack_measure (pack, &plan->pack_size, &plan->idx_size, &plan->pack_name,
                                    error)))
    return FALSE;
  return write_text (plan->tmpdir, "HEAD", head, error)
         && write_text (plan->tmpdir, "shallow", shallow, error)
         && write_text (plan->tmpdir, "config",
                        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n"
                        "\tbare = false\n\tlogallrefupdates = true\n", error)
         && (ref == NULL || write_text (plan->tmpdir, ref, shallow, error));
}

/* full_copy: the repository's own git directory, with HEAD, the index and
 * the new branch made here when --branch or --from change them. */
static gboolean
add_full_git_dir (BgrGitPlan *plan, const char *host_branch, GError **error)
{
  const char *git_dir = git_repository_path (plan->repo);
  gboolean changed = plan->from_tree || host_branch == NULL
                     || g_strcmp0 (host_branch, plan->branch) != 0;
  g_autofree char *ref_rel = plan->branch != NULL ? g_strdup_printf ("refs/heads/%s", plan->branch) : NULL;
  const char *skip[] = { "HEAD", plan->from_tree ? "index" : NULL, NULL };

  if (git_repository_is_worktree (plan->repo))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "%s is a linked worktree (its git directory is shared with another checkout): "
                   "use --mode metadata", plan->workdir);
      return FALSE;
    }
  if (!changed)
    return bgr_git_plan_add_git_dir (plan, git_dir, NULL, error);
  if (plan->branch != NULL && g_strcmp0 (host_branch, plan->branch) != 0)
    {
      git_reference *existing = NULL;
      if (git_branch_lookup (&existing, plan->repo, plan->branch, GIT_BRANCH_LOCAL) == 0)
        {
          git_reference_free (existing);
          g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS,
                       "branch '%s' already exists in %s; pick another --branch", plan->branch,
                       plan->workdir);
          return FALSE;
        }
    }
  if (!bgr_git_plan_add_git_dir (plan, git_dir, skip, error))
    return FALSE;
  {
    g_autofree char *head = head_text (plan);
    g_autofree char *oid = g_strdup_printf ("%s\n", plan->commit_hex);
    g_autofree char *head_path = g_build_filename (plan->tmpdir, "HEAD", NULL);
    g_autofree char *index_path = g_build_filename (plan->tmpdir, "index", NULL);
    g_autofree char *ref_path = ref_rel != NULL ? g_build_filename (plan->tmpdir, ref_rel, NULL) : NULL;
    g_autofree char *ref_tar = ref_rel != NULL ? g_strconcat ("/.git/", ref_rel, NULL) : NULL;

    if (!write_text (plan->tmpdir, "HEAD", head, error)
        || (plan->from_tree && !write_index (plan, index_path, NULL, error))
        || (ref_rel != NULL && g_strcmp0 (host_branch, plan->branch) != 0
            && !write_text (plan->tmpdir, ref_rel, oid, error)))
      return FALSE;
    bgr_git_plan_add_file (plan, "/.git/HEAD", head_path);
    if (plan->from_tree)
      bgr_git_plan_add_file (plan, "/.git/index", index_path);
    if (ref_rel != NULL && g_strcmp0 (host_branch, plan->branch) != 0)
      bgr_git_plan_add_file (plan, ref_tar, ref_path);
  }
  return TRUE;
}

/* The streamed pack's entries, after the rest of the .git (read-only, as
 * git makes packs). */
static void
add_streamed_pack (BgrGitPlan *plan)
{
  static const char *const exts[] = { "pack", "idx" };
  const guint64 sizes[] = { plan->pack_size, plan->idx_size };

  if (plan->pack == NULL)
    return;
  for (guint i = 0; i < 2; i++)
    {
      BgrGitEnt *e = g_new0 (BgrGitEnt, 1);
      e->rel = g_strdup_printf ("/.git/objects/pack/pack-%s.%s", plan->pack_name, exts[i]);
      e->kind = BGR_GIT_ENT_FILE;
      e->mode = 0444;
      e->size = sizes[i];
      e->gen = i == 0 ? BGR_GIT_GEN_PACK : BGR_GIT_GEN_IDX;
      plan->bytes += e->size;
      g_ptr_array_add (plan->ents, e);
    }
}

BgrGitPlan *
bgr_git_plan_new (const char *path, BgrGitMode mode, const char *from, const char *branch,
                  BgrGitPackWay way, GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrGitPlan) plan = bgr_git_plan_alloc ();
  g_autofree char *host_branch = NULL;
  git_reference *head = NULL;
  guint64 before;

  bgr_git_init ();
  if (!open_repo (plan, path, error) || !resolve_commit (plan, from, error)
      || !choose_branch (plan, branch, error)
      || (mode == BGR_GIT_MODE_METADATA && !refuse_submodules (plan, error)))
    return NULL;
  if (git_repository_head (&head, plan->repo) == 0 && git_reference_is_branch (head))
    host_branch = g_strdup (git_reference_shorthand (head));
  git_reference_free (head);
  plan->tmpdir = g_dir_make_tmp ("banger-workspace-XXXXXX", NULL);
  if (plan->tmpdir == NULL)
    {
      bgr_set_error_errno (error, errno, "cannot create a temporary directory");
      return NULL;
    }
  if (mode == BGR_GIT_MODE_METADATA)
    {
      if (!make_shallow_git_dir (plan, way == BGR_GIT_PACK_STREAMED, error)
          || !bgr_git_plan_add_git_dir (plan, plan->tmpdir, NULL, error))
        return NULL;
      add_streamed_pack (plan);
    }
  else if (!add_full_git_dir (plan, host_branch, error))
    return NULL;
  before = plan->bytes;
  if (!bgr_git_plan_add_working_files (plan, cancellable, error))
    return NULL;
  /* Last: the staged pack, written meanwhile. */
  if (plan->staged != NULL
      && !bgr_git_plan_start_staged (plan, way == BGR_GIT_PACK_RECIPE && !plan->from_tree,
                                     plan->bytes - before, error))
    return NULL;
  return g_steal_pointer (&plan);
}
