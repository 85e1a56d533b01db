/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What of a host repository goes into a VM's workspace (docs/workspaces.md):
 * the working files as they are on disk (tracked ones, changed or not, and
 * untracked ones that are not ignored; empty directories too), or the tree
 * of --from; and a git directory: in metadata mode a made-up shallow one
 * (a packfile with the commit, its tree and blobs, the `shallow` file, the
 * index), in full_copy mode the repository's own. */
#include "config.h"

#include <errno.h>
#include <git2.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "git/bgr-git-plan-private.h"

static void
ent_free (BgrGitEnt *e)
{
  g_free (e->rel);
  g_free (e->host);
  g_free (e);
}

static BgrGitEnt *
ent_add (BgrGitPlan *plan, const char *rel, const char *host, BgrGitEntKind kind, guint mode,
         guint64 size)
{
  BgrGitEnt *e = g_new0 (BgrGitEnt, 1);
  e->rel = g_strdup (rel);
  e->host = g_strdup (host);
  e->kind = kind;
  e->mode = mode;
  e->size = size;
  plan->bytes += size;
  g_ptr_array_add (plan->ents, e);
  return e;
}

void
bgr_git_plan_free (BgrGitPlan *plan)
{
  if (plan == NULL)
    return;
  if (plan->tmpdir != NULL)
    bgr_rm_rf (plan->tmpdir, NULL);
  g_free (plan->tmpdir);
  g_free (plan->workdir);
  g_free (plan->branch);
  g_free (plan->pack_name);
  bgr_git_pack_free (plan->pack);
  bgr_git_staged_free (plan->staged);
  g_ptr_array_unref (plan->ents);
  if (plan->commit != NULL)
    git_commit_free (plan->commit);
  if (plan->repo != NULL)
    git_repository_free (plan->repo);
  g_free (plan);
}

const char *
bgr_git_plan_get_workdir (BgrGitPlan *plan)
{
  return plan->workdir;
}

const char *
bgr_git_plan_get_commit (BgrGitPlan *plan)
{
  return plan->commit_hex;
}

const char *
bgr_git_plan_get_branch (BgrGitPlan *plan)
{
  return plan->branch;
}

guint64
bgr_git_plan_get_bytes (BgrGitPlan *plan)
{
  return plan->bytes;
}

guint
bgr_git_plan_get_entries (BgrGitPlan *plan)
{
  return plan->ents->len;
}

gboolean
bgr_git_plan_has_name_prefix (BgrGitPlan *plan, const char *prefix)
{
  g_autofree char *inner = g_strconcat ("/", prefix, NULL);

  for (guint i = 0; i < plan->ents->len; i++)
    {
      const BgrGitEnt *e = g_ptr_array_index (plan->ents, i);

      if (g_str_has_prefix (e->rel, prefix) || strstr (e->rel, inner) != NULL)
        return TRUE;
    }
  return FALSE;
}

/* ---- the working files ---------------------------------------------------- */

typedef struct {
  git_repository *repo;
  GHashTable *tracked; /* path -> mode (index entries) */
  GHashTable *dirs;    /* directories holding tracked paths */
} WalkRepo;

static void
walk_repo_clear (WalkRepo *w)
{
  g_clear_pointer (&w->tracked, g_hash_table_unref);
  g_clear_pointer (&w->dirs, g_hash_table_unref);
}

static gboolean
walk_repo_init (WalkRepo *w, git_repository *repo, GError **error)
{
  git_index *index = NULL;
  int rc;

  w->repo = repo;
  w->tracked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  w->dirs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if ((rc = git_repository_index (&index, repo)) < 0)
    {
      bgr_set_error_from_git (error, rc, "cannot read the index of %s", git_repository_workdir (repo));
      return FALSE;
    }
  for (size_t i = 0; i < git_index_entrycount (index); i++)
    {
      const git_index_entry *e = git_index_get_byindex (index, i);
      g_autofree char *dir = g_path_get_dirname (e->path);

      g_hash_table_insert (w->tracked, g_strdup (e->path), GUINT_TO_POINTER (e->mode));
      while (strcmp (dir, ".") != 0 && g_hash_table_add (w->dirs, g_strdup (dir)))
        {
          char *up = g_path_get_dirname (dir);
          g_free (dir);
          dir = up;
        }
    }
  git_index_free (index);
  return TRUE;
}

static gboolean walk_dir (BgrGitPlan *plan, WalkRepo *w, const char *host, const char *rel,
                          const char *tar_prefix, GCancellable *cancellable, GError **error);
static gboolean walk_all (BgrGitPlan *plan, const char *host, const char *rel,
                          const char *tar_prefix, const char *const *skip, gboolean git_dir,
                          GError **error);

static gboolean
is_ignored (WalkRepo *w, const char *rel)
{
  int ignored = 0;
  return git_ignore_path_is_ignored (&ignored, w->repo, rel) == 0 && ignored;
}

/* A submodule's checkout (full_copy): walked with its own index and
 * ignore rules. Not checked out: sent as the empty directory it is. */
static gboolean
walk_submodule (BgrGitPlan *plan, const char *host, const char *tar_rel,
                GCancellable *cancellable, GError **error)
{
  git_repository *sub = NULL;
  WalkRepo w = { 0 };
  gboolean ok;

  if (git_repository_open (&sub, host) < 0)
    return TRUE;
  ok = walk_repo_init (&w, sub, error)
       && walk_dir (plan, &w, host, "", tar_rel, cancellable, error);
  walk_repo_clear (&w);
  git_repository_free (sub);
  /* Its .git: a file pointing into the top repository's .git/modules, or
   * an embedded git directory. */
  if (ok)
    {
      g_autofree char *git = g_build_filename (host, ".git", NULL);
      g_autofree char *git_rel = g_strconcat (tar_rel, "/.git", NULL);
      struct stat st;
      if (lstat (git, &st) == 0 && S_ISREG (st.st_mode))
        ent_add (plan, git_rel, git, BGR_GIT_ENT_FILE, st.st_mode & 07777, (guint64) st.st_size);
      else if (lstat (git, &st) == 0 && S_ISDIR (st.st_mode))
        {
          ent_add (plan, git_rel, git, BGR_GIT_ENT_DIR, st.st_mode & 07777, 0);
          ok = walk_all (plan, git, "", git_rel, NULL, TRUE, error);
        }
    }
  return ok;
}

static gboolean
walk_entry (BgrGitPlan *plan, WalkRepo *w, const char *host, const char *rel,
            const char *tar_rel, GCancellable *cancellable, GError **error)
{
  struct stat st;
  gpointer mode;
  gboolean tracked = g_hash_table_lookup_extended (w->tracked, rel, NULL, &mode);

  if (lstat (host, &st) != 0)
    return TRUE; /* gone meanwhile: as if deleted */
  if (tracked && GPOINTER_TO_UINT (mode) == GIT_FILEMODE_COMMIT)
    {
      ent_add (plan, tar_rel, host, BGR_GIT_ENT_DIR, st.st_mode & 07777, 0);
      return walk_submodule (plan, host, tar_rel, cancellable, error);
    }
  if (S_ISDIR (st.st_mode))
    {
      g_autofree char *slash = g_strconcat (rel, "/", NULL);
      if (!g_hash_table_contains (w->dirs, rel) && is_ignored (w, slash))
        return TRUE;
      ent_add (plan, tar_rel, host, BGR_GIT_ENT_DIR, st.st_mode & 07777, 0);
      return walk_dir (plan, w, host, rel, tar_rel, cancellable, error);
    }
  if (!S_ISREG (st.st_mode) && !S_ISLNK (st.st_mode))
    return TRUE; /* sockets, fifos, devices: not workspace content */
  if (!tracked && is_ignored (w, rel))
    return TRUE;
  ent_add (plan, tar_rel, host, S_ISLNK (st.st_mode) ? BGR_GIT_ENT_LINK : BGR_GIT_ENT_FILE,
           st.st_mode & 07777, S_ISREG (st.st_mode) ? (guint64) st.st_size : 0);
  return TRUE;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static gboolean
walk_dir (BgrGitPlan *plan, WalkRepo *w, const char *host, const char *rel,
          const char *tar_prefix, GCancellable *cancellable, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GDir) d = g_dir_open (host, 0, &local);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (d == NULL)
    {
      bgr_propagate_error (error, g_steal_pointer (&local), "cannot read %s", host);
      return FALSE;
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      const char *n = names->pdata[i];
      g_autofree char *child = g_build_filename (host, n, NULL);
      g_autofree char *child_rel = *rel != '\0' ? g_strconcat (rel, "/", n, NULL) : g_strdup (n);
      g_autofree char *tar_rel = g_strconcat (tar_prefix, "/", n, NULL);

      if (*rel == '\0' && strcmp (n, ".git") == 0)
        continue; /* the git directory is sent on its own */
      if (!walk_entry (plan, w, child, child_rel, tar_rel, cancellable, error))
        return FALSE;
    }
  return TRUE;
}

/* Every file of a directory, nothing ignored (a git directory). @skip:
 * paths relative to @host left out (they are sent from elsewhere). */
static gboolean
walk_all (BgrGitPlan *plan, const char *host, const char *rel, const char *tar_prefix,
          const char *const *skip, gboolean git_dir, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GDir) d = g_dir_open (host, 0, &local);
  const char *name;

  if (d == NULL)
    {
      bgr_propagate_error (error, g_steal_pointer (&local), "cannot read %s", host);
      return FALSE;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *child = g_build_filename (host, name, NULL);
      g_autofree char *child_rel = *rel != '\0' ? g_strconcat (rel, "/", name, NULL) : g_strdup (name);
      g_autofree char *tar_rel = g_strconcat (tar_prefix, "/", name, NULL);
      struct stat st;

      if (lstat (child, &st) != 0 || (git_dir && g_str_has_suffix (name, ".lock"))
          || (skip != NULL && g_strv_contains (skip, child_rel)))
        continue;
      if (S_ISDIR (st.st_mode))
        {
          ent_add (plan, tar_rel, child, BGR_GIT_ENT_DIR, st.st_mode & 07777, 0);
          if (!walk_all (plan, child, child_rel, tar_rel, skip, git_dir, error))
            return FALSE;
        }
      else if (S_ISREG (st.st_mode) || S_ISLNK (st.st_mode))
        ent_add (plan, tar_rel, child, S_ISLNK (st.st_mode) ? BGR_GIT_ENT_LINK : BGR_GIT_ENT_FILE,
                 st.st_mode & 07777, S_ISREG (st.st_mode) ? (guint64) st.st_size : 0);
    }
  return TRUE;
}

/* --from: the commit's tree instead of the working files. */
typedef struct {
  BgrGitPlan *plan;
  const char *top;
} TreeWalk;

static int
tree_cb (const char *root, const git_tree_entry *te, void *data)
{
  TreeWalk *tw = data;
  g_autofree char *rel = g_strconcat (tw->top, "/", root, git_tree_entry_name (te), NULL);
  git_filemode_t mode = git_tree_entry_filemode (te);
  BgrGitEnt *e;

  switch (mode)
    {
    case GIT_FILEMODE_TREE:
    case GIT_FILEMODE_COMMIT:
      ent_add (tw->plan, rel, NULL, BGR_GIT_ENT_DIR, 0755, 0);
      return 0;
    case GIT_FILEMODE_LINK:
      e = ent_add (tw->plan, rel, NULL, BGR_GIT_ENT_LINK, 0777, 0);
      break;
    default:
      e = ent_add (tw->plan, rel, NULL, BGR_GIT_ENT_FILE, mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644, 0);
      break;
    }
  e->from_blob = TRUE;
  git_oid_cpy (&e->oid, git_tree_entry_id (te));
  return 0;
}

gboolean
bgr_git_plan_add_working_files (BgrGitPlan *plan, GCancellable *cancellable, GError **error)
{
  WalkRepo w = { 0 };
  gboolean ok;

  if (plan->from_tree)
    {
      git_tree *tree = NULL;
      TreeWalk tw = { plan, "" };
      int rc = git_commit_tree (&tree, plan->commit);
      if (rc == 0)
        rc = git_tree_walk (tree, GIT_TREEWALK_PRE, tree_cb, &tw);
      git_tree_free (tree);
      if (rc < 0)
        bgr_set_error_from_git (error, rc, "cannot read the tree of %s", plan->commit_hex);
      return rc == 0;
    }
  ok = walk_repo_init (&w, plan->repo, error)
       && walk_dir (plan, &w, plan->workdir, "", "", cancellable, error);
  walk_repo_clear (&w);
  return ok;
}

gboolean
bgr_git_plan_add_git_dir (BgrGitPlan *plan, const char *host_git_dir, const char *const *skip,
                          GError **error)
{
  struct stat st;
  if (lstat (host_git_dir, &st) != 0 || !S_ISDIR (st.st_mode))
    return TRUE;
  /* 0755 like `git init` makes it, whatever a temporary directory had. */
  ent_add (plan, "/.git", host_git_dir, BGR_GIT_ENT_DIR, 0755, 0);
  return walk_all (plan, host_git_dir, "", "/.git", skip, TRUE, error);
}

gboolean
bgr_git_plan_add_host_path (BgrGitPlan *plan, const char *host, GError **error)
{
  struct stat st;

  if (lstat (host, &st) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot read %s", host);
      return FALSE;
    }
  if (S_ISDIR (st.st_mode))
    return walk_all (plan, host, "", "", NULL, FALSE, error);
  if (!S_ISREG (st.st_mode) && !S_ISLNK (st.st_mode))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "%s is neither a file, a directory nor a symlink", host);
      return FALSE;
    }
  return TRUE;
}

void
bgr_git_plan_add_file (BgrGitPlan *plan, const char *rel, const char *host)
{
  struct stat st;
  if (lstat (host, &st) == 0)
    ent_add (plan, rel, host, BGR_GIT_ENT_FILE, st.st_mode & 07777, (guint64) st.st_size);
}

BgrGitPlan *
bgr_git_plan_alloc (void)
{
  BgrGitPlan *plan = g_new0 (BgrGitPlan, 1);
  plan->ents = g_ptr_array_new_with_free_func ((GDestroyNotify) ent_free);
  return plan;
}
