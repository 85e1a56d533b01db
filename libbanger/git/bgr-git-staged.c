/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The staged pack of a metadata workspace sent through the guest agent
 * (bgr-git-plan-private.h), or its recipe (bgr-git-recipe.c). Writing it
 * (reading every object, deflating what compresses) took most of a second
 * for a large repository before the first byte went out. A thread now
 * writes it while the working files go, and the tar carries it last: the
 * writer waits for the thread only when it gets there. The thread has its
 * own repository handle, so the plan's (which --from reads blobs through)
 * is never shared. */
#include "config.h"

#include <errno.h>
#include <sys/stat.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "git/bgr-git-plan-private.h"

struct _BgrGitStaged {
  git_repository *repo; /* the thread's own */
  BgrGitPack *pack;
  GHashTable *candidates; /* a recipe's (bgr-git-recipe.c); NULL: the whole pack
                           * (the thread drops it when the recipe names no file) */
  GPtrArray *used;        /* the candidates the recipe made blobs of */
  char *dir; /* where the thread writes: outside the .git the plan walks */
  GCancellable *cancel;
  GThread *thread;
  gboolean joined;
  GError *error; /* the thread's, once joined */
  guint64 estimate; /* what the plan counted for it before it was written */
  gint failed;      /* atomic: the thread ended with an error */
};

static gpointer
stage_thread (gpointer data)
{
  BgrGitStaged *st = data;
  GError *error = NULL;

  gboolean ok;

  if (st->candidates == NULL)
    ok = bgr_git_pack_write (st->pack, st->dir, st->cancel, &error);
  else
    {
      ok = bgr_git_recipe_write (st->pack, st->candidates, st->dir, st->used, st->cancel, &error);
      /* A recipe that names no file is the pack itself, less a few bytes
       * of framing: sent as the pack, the guest need not copy it again. */
      if (ok && st->used->len == 0)
        {
          g_autofree char *name = bgr_git_pack_dup_name (st->pack);
          ok = bgr_git_recipe_to_pack (st->dir, name, &error);
          g_clear_pointer (&st->candidates, g_hash_table_unref);
        }
    }
  if (!ok)
    {
      g_atomic_int_set (&st->failed, 1);
      return error;
    }
  return NULL;
}

gboolean
bgr_git_plan_staged_failed (BgrGitPlan *plan)
{
  return plan->staged != NULL && g_atomic_int_get (&plan->staged->failed);
}

gboolean
bgr_git_plan_open_pack_repo (BgrGitPlan *plan, git_repository **repo, GError **error)
{
  int rc = git_repository_open (repo, git_repository_path (plan->repo));

  if (rc < 0)
    bgr_set_error_from_git (error, rc, "cannot open %s", plan->workdir);
  return rc == 0;
}

gboolean
bgr_git_plan_stage_pack (BgrGitPlan *plan, git_repository *repo, BgrGitPack *pack, GError **error)
{
  BgrGitStaged *st = g_new0 (BgrGitStaged, 1);

  st->repo = repo;
  st->pack = pack;
  plan->staged = st;
  st->dir = g_dir_make_tmp ("banger-pack-XXXXXX", NULL);
  if (st->dir == NULL)
    {
      bgr_set_error_errno (error, errno, "cannot create a temporary directory");
      return FALSE;
    }
  st->cancel = g_cancellable_new ();
  return TRUE;
}

static void
add_entry (BgrGitPlan *plan, BgrGitGen gen, guint64 estimate)
{
  BgrGitEnt *e = g_new0 (BgrGitEnt, 1);

  e->rel = g_strdup (gen == BGR_GIT_GEN_STAGED_PACK ? "/.git/objects/pack/(staged)"
                                                    : "/.git/objects/pack/(staged).idx");
  e->kind = BGR_GIT_ENT_FILE;
  e->mode = 0444;
  e->gen = gen;
  plan->bytes += estimate;
  g_ptr_array_add (plan->ents, e);
}

gboolean
bgr_git_plan_start_staged (BgrGitPlan *plan, gboolean recipe, guint64 estimate, GError **error)
{
  BgrGitStaged *st = plan->staged;

  if (recipe)
    {
      /* Read by the thread, made before it starts. */
      st->candidates = bgr_git_recipe_candidates (plan, error);
      if (st->candidates == NULL)
        return FALSE;
      st->used = g_ptr_array_new ();
    }
  /* Until it is written: about the working files' bytes (a pack of
   * incompressible blobs is their size; one of text less), less for a
   * recipe those of the files that may make a blob. */
  if (recipe)
    {
      GHashTableIter it;
      gpointer v;
      g_hash_table_iter_init (&it, st->candidates);
      while (g_hash_table_iter_next (&it, NULL, &v))
        estimate -= MIN (estimate, ((BgrGitEnt *) v)->size);
    }
  st->estimate = estimate;
  add_entry (plan, BGR_GIT_GEN_STAGED_PACK, st->estimate);
  add_entry (plan, BGR_GIT_GEN_STAGED_IDX, 0);
  st->thread = g_thread_new ("bgr-stage-pack", stage_thread, st);
  return TRUE;
}

static void
cancel_stage (GCancellable *from, gpointer data)
{
  g_cancellable_cancel (data);
}

static void
join (BgrGitStaged *st, GCancellable *cancellable)
{
  gulong id = 0;

  if (st->joined)
    return;
  if (cancellable != NULL)
    id = g_cancellable_connect (cancellable, G_CALLBACK (cancel_stage), st->cancel, NULL);
  st->error = g_thread_join (st->thread);
  g_cancellable_disconnect (cancellable, id);
  st->thread = NULL;
  st->joined = TRUE;
}

/* The entry for the written file @base, as @rel in the tar. */
static gboolean
fill_entry (BgrGitPlan *plan, BgrGitEnt *e, const char *base, const char *rel, GError **error)
{
  struct stat sb;

  g_free (e->host);
  e->host = g_build_filename (plan->staged->dir, base, NULL);
  if (stat (e->host, &sb) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot read %s", e->host);
      return FALSE;
    }
  g_free (e->rel);
  e->rel = g_strdup (rel);
  e->size = (guint64) sb.st_size;
  e->gen = BGR_GIT_GEN_NONE;
  plan->bytes += e->size;
  return TRUE;
}

static void
fill_staged (BgrGitPlan *plan, BgrGitEnt *e, const char *name, GError **error)
{
  g_autofree char *pack = g_strdup_printf ("pack-%s.pack", name);
  g_autofree char *idx = g_strdup_printf ("pack-%s.idx", name);
  g_autofree char *pack_rel = g_strconcat ("/.git/objects/pack/", pack, NULL);
  g_autofree char *idx_rel = g_strconcat ("/.git/objects/pack/", idx, NULL);

  if (e->gen == BGR_GIT_GEN_STAGED_IDX)
    fill_entry (plan, e, idx, idx_rel, error);
  else if (e->gen == BGR_GIT_GEN_STAGED_PACK && plan->staged->candidates != NULL)
    fill_entry (plan, e, BGR_GIT_RECIPE_NAME, "/.git/" BGR_GIT_RECIPE_NAME, error);
  else if (e->gen == BGR_GIT_GEN_STAGED_PACK)
    fill_entry (plan, e, pack, pack_rel, error);
}

/* The files the recipe makes blobs of went as they were when it was
 * written (the tar writer hashed them): else the guest's pack would hold
 * wrong content under a blob's id. */
static void
check_sent (BgrGitStaged *st)
{
  for (guint i = 0; st->used != NULL && i < st->used->len; i++)
    {
      BgrGitEnt *e = st->used->pdata[i];
      if (!e->sent_matches)
        {
          g_set_error (&st->error, BGR_ERROR, BGR_ERROR_FAILED,
                       "%s changed while the workspace was being sent; prepare it again",
                       e->host);
          return;
        }
    }
}

gboolean
bgr_git_plan_finish_pack (BgrGitPlan *plan, GCancellable *cancellable, GError **error)
{
  BgrGitStaged *st = plan->staged;
  g_autofree char *name = NULL;

  if (st == NULL)
    return TRUE;
  if (!st->joined)
    {
      join (st, cancellable);
      if (st->error == NULL)
        check_sent (st);
      if (st->error == NULL)
        {
          name = bgr_git_pack_dup_name (st->pack);
          plan->bytes -= st->estimate;
          for (guint i = 0; st->error == NULL && i < plan->ents->len; i++)
            fill_staged (plan, plan->ents->pdata[i], name, &st->error);
        }
    }
  if (st->error != NULL)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      g_propagate_error (error, g_error_copy (st->error));
      return FALSE;
    }
  return TRUE;
}

void
bgr_git_staged_free (BgrGitStaged *st)
{
  if (st == NULL)
    return;
  if (st->thread != NULL)
    {
      g_cancellable_cancel (st->cancel);
      join (st, NULL);
    }
  g_clear_error (&st->error);
  g_clear_object (&st->cancel);
  g_clear_pointer (&st->candidates, g_hash_table_unref);
  g_clear_pointer (&st->used, g_ptr_array_unref);
  bgr_git_pack_free (st->pack);
  if (st->repo != NULL)
    git_repository_free (st->repo);
  if (st->dir != NULL)
    bgr_rm_rf (st->dir, NULL);
  g_free (st->dir);
  g_free (st);
}
