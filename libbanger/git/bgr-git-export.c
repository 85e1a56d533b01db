/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Workspace export on the host side (docs/workspaces.md): the guest's
 * packfile indexed into the host repository's object database by libgit2,
 * then a branch pointed at the guest's tip. Neither the host's working
 * tree, its index nor its HEAD is touched. */
#include "config.h"

#include <errno.h>
#include <git2.h>
#include <git2/sys/odb_backend.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "git/bgr-git-private.h"

static git_repository *
open_repo (const char *path, GError **error)
{
  git_repository *repo = NULL;
  int rc;

  bgr_git_init ();
  rc = git_repository_open (&repo, path);
  if (rc < 0)
    {
      bgr_set_error_from_git (error, rc, "cannot open the workspace's repository %s", path);
      return NULL;
    }
  return repo;
}

gboolean
bgr_git_export_check (const char *repo_path, const char *branch, gboolean force, GError **error)
{
  git_repository *repo;
  git_reference *ref = NULL;
  int valid = 0;
  gboolean ok = TRUE;

  bgr_git_init ();
  if (git_branch_name_is_valid (&valid, branch) < 0 || !valid)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "--branch '%s' is not a valid branch name", branch);
      return FALSE;
    }
  if ((repo = open_repo (repo_path, error)) == NULL)
    return FALSE;
  if (git_branch_lookup (&ref, repo, branch, GIT_BRANCH_LOCAL) == 0)
    {
      if (git_branch_is_checked_out (ref) == 1)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY,
                       "branch '%s' is checked out in %s: export to another branch", branch,
                       repo_path);
          ok = FALSE;
        }
      else if (!force)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS,
                       "branch '%s' already exists in %s; use --force to move it", branch,
                       repo_path);
          ok = FALSE;
        }
    }
  git_reference_free (ref);
  git_repository_free (repo);
  return ok;
}

gboolean
bgr_git_export_receive_pack (const char *repo_path, int fd, BgrTarProgress progress,
                             gpointer progress_data, GCancellable *cancellable, GError **error)
{
  git_repository *repo = open_repo (repo_path, error);
  git_odb *odb = NULL;
  git_odb_writepack *wp = NULL;
  git_indexer_progress stats = { 0 };
  g_autofree char *buf = g_malloc (64 * 1024);
  guint64 done = 0;
  int rc;

  if (repo == NULL)
    return FALSE;
  rc = git_repository_odb (&odb, repo);
  if (rc == 0)
    rc = git_odb_write_pack (&wp, odb, NULL, NULL);
  while (rc == 0)
    {
      ssize_t n = read (fd, buf, 64 * 1024);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          bgr_set_error_errno (error, errno, "cannot read the guest's pack");
          break;
        }
      if (n == 0)
        {
          rc = wp->commit (wp, &stats);
          break;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;
      rc = wp->append (wp, buf, (size_t) n, &stats);
      done += (guint64) n;
      if (progress != NULL)
        progress (done, progress_data);
    }
  if (rc < 0)
    bgr_set_error_from_git (error, rc, "cannot store the guest's commits in %s", repo_path);
  if (wp != NULL)
    wp->free (wp);
  git_odb_free (odb);
  git_repository_free (repo);
  return rc == 0 && (error == NULL || *error == NULL);
}

gboolean
bgr_git_export_branch (const char *repo_path, const char *branch, const char *tip, gboolean force,
                       GError **error)
{
  git_repository *repo = open_repo (repo_path, error);
  git_commit *commit = NULL;
  git_reference *ref = NULL;
  git_oid oid;
  int rc;

  if (repo == NULL)
    return FALSE;
  rc = git_oid_fromstr (&oid, tip);
  if (rc == 0)
    rc = git_commit_lookup (&commit, repo, &oid);
  if (rc < 0)
    bgr_set_error_from_git (error, rc, "the guest's commit %s did not arrive in %s", tip, repo_path);
  else if ((rc = git_branch_create (&ref, repo, branch, commit, force)) < 0)
    bgr_set_error_from_git (error, rc, "cannot create branch '%s' in %s", branch, repo_path);
  git_reference_free (ref);
  git_commit_free (commit);
  git_repository_free (repo);
  return rc == 0;
}
