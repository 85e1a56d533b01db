/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Objects read ahead (bgr-git-prefetch-private.h). Reading and hashing
 * an object costs more than sending it; with one thread doing both, the
 * pack's part of a workspace kept one core busy while the other waited. */
#include "config.h"

#include <openssl/evp.h>
#include <string.h>

#include "git/bgr-git-loose-private.h"
#include "git/bgr-git-prefetch-private.h"

struct _BgrGitPrefetch {
  git_odb *odb;
  char *objects_dir;
  git_oid *oids;
  guint n;
  gsize max_bytes;
  GThread *thread;
  GMutex lock;
  GCond cond;
  GQueue ready; /* BgrGitObject *, in order */
  gsize held;   /* bytes in @ready and taken but not released */
  gboolean stop;
};

/* libgit2 does not check what it reads (bgr_git_init() turns that off:
 * its SHA-1 is several times slower): every object is checked here. */
static gboolean
is_sound (EVP_MD_CTX *ctx, const BgrGitObject *o, const git_oid *oid)
{
  char hdr[64];
  int n = g_snprintf (hdr, sizeof hdr, "%s %" G_GSIZE_FORMAT, git_object_type2string (o->type),
                      o->size);
  guint8 md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;

  EVP_DigestInit_ex (ctx, EVP_sha1 (), NULL);
  EVP_DigestUpdate (ctx, hdr, (gsize) n + 1);
  EVP_DigestUpdate (ctx, o->data, o->size);
  EVP_DigestFinal_ex (ctx, md, &len);
  return len == GIT_OID_RAWSZ && memcmp (md, oid->id, GIT_OID_RAWSZ) == 0;
}

static BgrGitObject *
read_object (BgrGitPrefetch *p, EVP_MD_CTX *ctx, const git_oid *oid)
{
  BgrGitObject *o = g_new0 (BgrGitObject, 1);
  BgrGitLoose loose = p->objects_dir != NULL
                        ? bgr_git_loose_read (p->objects_dir, oid, &o->type, &o->loose, &o->size)
                        : BGR_GIT_LOOSE_ASK_LIBGIT2;

  if (loose == BGR_GIT_LOOSE_READ)
    o->data = o->loose;
  else if (loose == BGR_GIT_LOOSE_CORRUPT)
    o->corrupt = TRUE;
  else if ((o->rc = p->odb != NULL ? git_odb_read (&o->obj, p->odb, oid) : -1) == 0)
    {
      o->type = git_odb_object_type (o->obj);
      o->data = git_odb_object_data (o->obj);
      o->size = git_odb_object_size (o->obj);
    }
  if (o->data != NULL)
    o->sound = is_sound (ctx, o, oid);
  return o;
}

static void
object_free (BgrGitObject *o)
{
  g_free (o->loose);
  git_odb_object_free (o->obj);
  g_free (o);
}

static gpointer
prefetch_thread (gpointer data)
{
  BgrGitPrefetch *p = data;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();

  for (guint i = 0; i < p->n; i++)
    {
      BgrGitObject *o;
      gboolean stop;

      g_mutex_lock (&p->lock);
      /* At least one object goes ahead, however large. */
      while (!p->stop && p->held > p->max_bytes)
        g_cond_wait (&p->cond, &p->lock);
      stop = p->stop;
      g_mutex_unlock (&p->lock);
      if (stop)
        break;
      o = read_object (p, ctx, &p->oids[i]);
      g_mutex_lock (&p->lock);
      p->held += o->size;
      g_queue_push_tail (&p->ready, o);
      g_cond_broadcast (&p->cond);
      g_mutex_unlock (&p->lock);
    }
  EVP_MD_CTX_free (ctx);
  return NULL;
}

BgrGitPrefetch *
bgr_git_prefetch_start (git_odb *odb, const char *objects_dir, const git_oid *oids, guint n,
                        gsize max_bytes)
{
  BgrGitPrefetch *p = g_new0 (BgrGitPrefetch, 1);

  p->odb = odb;
  p->objects_dir = g_strdup (objects_dir);
  p->oids = g_memdup2 (oids, (gsize) n * sizeof *oids);
  p->n = n;
  p->max_bytes = max_bytes;
  g_mutex_init (&p->lock);
  g_cond_init (&p->cond);
  g_queue_init (&p->ready);
  p->thread = g_thread_new ("bgr-git-prefetch", prefetch_thread, p);
  return p;
}

BgrGitObject *
bgr_git_prefetch_next (BgrGitPrefetch *p)
{
  BgrGitObject *o;

  g_mutex_lock (&p->lock);
  while (g_queue_is_empty (&p->ready))
    g_cond_wait (&p->cond, &p->lock);
  o = g_queue_pop_head (&p->ready);
  g_mutex_unlock (&p->lock);
  return o;
}

void
bgr_git_prefetch_release (BgrGitPrefetch *p, BgrGitObject *o)
{
  g_mutex_lock (&p->lock);
  p->held -= o->size;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
  object_free (o);
}

void
bgr_git_prefetch_stop (BgrGitPrefetch *p)
{
  if (p == NULL)
    return;
  g_mutex_lock (&p->lock);
  p->stop = TRUE;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
  g_thread_join (p->thread);
  g_queue_clear_full (&p->ready, (GDestroyNotify) object_free);
  g_mutex_clear (&p->lock);
  g_cond_clear (&p->cond);
  g_free (p->oids);
  g_free (p->objects_dir);
  g_free (p);
}
