/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A pack recipe (bgr-git-plan-private.h, docs/workspaces.md): the staged
 * pack of a metadata workspace, less the blobs the guest already gets as
 * working files. An unchanged file's blob, stored (its content is random
 * or already compressed), is the file's bytes with a few bytes of framing
 * around them; the guest agent puts those around the file it just
 * unpacked (`banger-vsock-agent --assemble-pack`) instead of taking the
 * same bytes a second time. Everything else goes in the recipe as it
 * would go in the pack. The host computes the whole pack's checksums
 * (the .idx's CRC-32s, the trailing SHA-1), so the guest only copies.
 *
 * The recipe: "BGRPACK1", then records:
 *   'R' u32 LEN, LEN bytes            the pack's next bytes, as they are
 *   'F' u16 LEN, LEN bytes (a path relative to the workspace), u64 SIZE,
 *       u32 ADLER                    that file as a zlib stream of stored
 *                                    blocks (bgr_pack_z_store())
 *   'E'                              the end
 * Integers are little-endian. The pack is named by its last 20 bytes. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "git/bgr-git-plan-private.h"

#define SMALL 4096 /* a blob this small or smaller goes in the recipe */
/* A longer path's blob goes in the recipe too: the agent opens the file by
 * the guest's staging path and this, under PATH_MAX. */
#define PATH_MAX_FILE 3000

typedef struct {
  int fd;
  const char *path;
  GHashTable *candidates; /* git_oid -> BgrGitEnt */
  GPtrArray *used;        /* the BgrGitEnt whose files make a blob */
  BgrPackZ *z;
  guint8 *buf;
} Recipe;

static gboolean
put (Recipe *r, const void *data, gsize len, GError **error)
{
  if (!bgr_write_all (r->fd, data, len))
    {
      bgr_set_error_errno (error, errno, "cannot write %s", r->path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
raw_sink (const void *buf, gsize len, gpointer data, GError **error)
{
  Recipe *r = data;
  guint8 head[5] = { 'R', len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, (len >> 24) & 0xff };

  return put (r, head, sizeof head, error) && put (r, buf, len, error);
}

/* Whether host file @path holds exactly @data. */
static gboolean
same_content (Recipe *r, const char *path, const guint8 *data, gsize size)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;
  gsize off = 0;
  gboolean same;

  if (fd < 0)
    return FALSE;
  same = fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && (guint64) st.st_size == size;
  while (same && off < size)
    {
      ssize_t n = read (fd, r->buf, MIN (size - off, (gsize) BGR_GIT_RECIPE_CHUNK));
      if (n < 0 && errno == EINTR)
        continue;
      same = n > 0 && memcmp (r->buf, data + off, (gsize) n) == 0;
      off += n > 0 ? (gsize) n : 0;
    }
  close (fd);
  return same;
}

static gboolean
file_body (BgrPackOut *o, const git_oid *oid, const BgrGitObject *obj, gboolean *handled,
           gpointer data, GError **error)
{
  Recipe *r = data;
  BgrGitEnt *e;
  const char *rel;
  guint8 rec[3];
  guint64 size_le;
  guint32 adler = 0, adler_le;

  if (obj->type != GIT_OBJECT_BLOB || obj->size <= SMALL
      || (e = g_hash_table_lookup (r->candidates, oid)) == NULL
      || strlen (e->rel) >= PATH_MAX_FILE
      || bgr_pack_z_compresses (r->z, obj->data, obj->size)
      || !same_content (r, e->host, obj->data, obj->size))
    return TRUE;
  rel = e->rel + 1; /* past the leading '/' */
  rec[0] = 'F';
  rec[1] = strlen (rel) & 0xff;
  rec[2] = (strlen (rel) >> 8) & 0xff;
  size_le = GUINT64_TO_LE ((guint64) obj->size);
  /* The framing and the content count in the pack's checksums, but the
   * guest makes them: the recipe says which file. */
  if (!bgr_pack_out_flush (o, error))
    return FALSE;
  o->discard = TRUE;
  if (!bgr_pack_z_store (o, obj->data, obj->size, &adler, error))
    return FALSE;
  o->discard = FALSE;
  adler_le = GUINT32_TO_LE (adler);
  if (!put (r, rec, sizeof rec, error) || !put (r, rel, strlen (rel), error)
      || !put (r, &size_le, 8, error) || !put (r, &adler_le, 4, error))
    return FALSE;
  g_ptr_array_add (r->used, e);
  *handled = TRUE;
  return TRUE;
}

gboolean
bgr_git_recipe_write (BgrGitPack *pack, GHashTable *candidates, const char *dir, GPtrArray *used,
                      GCancellable *cancellable, GError **error)
{
  g_autofree char *path = g_build_filename (dir, BGR_GIT_RECIPE_NAME, NULL);
  Recipe r = { -1, path, candidates, used, NULL, NULL };
  BgrPackHook hook = { file_body, &r };
  gboolean ok;

  r.fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (r.fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", path);
      return FALSE;
    }
  r.z = bgr_pack_z_new ();
  r.buf = g_malloc (BGR_GIT_RECIPE_CHUNK);
  ok = put (&r, "BGRPACK1", 8, error)
       && bgr_git_pack_write_hooked (pack, raw_sink, &r, &hook, dir, cancellable, error)
       && put (&r, "E", 1, error);
  bgr_pack_z_free (r.z);
  g_free (r.buf);
  if (close (r.fd) != 0 && ok)
    {
      bgr_set_error_errno (error, errno, "cannot write %s", path);
      ok = FALSE;
    }
  return ok;
}

/* ---- a recipe of raw bytes only ------------------------------------------- */

gboolean
bgr_git_recipe_to_pack (const char *dir, const char *pack_name, GError **error)
{
  g_autofree char *recipe = g_build_filename (dir, BGR_GIT_RECIPE_NAME, NULL);
  g_autofree char *base = g_strdup_printf ("pack-%s.pack", pack_name);
  g_autofree char *pack = g_build_filename (dir, base, NULL);
  g_autofree guint8 *buf = g_malloc (BGR_GIT_RECIPE_CHUNK);
  FILE *in = fopen (recipe, "rbe");
  int out = open (pack, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  guint8 magic[8], head[5] = { 0 };
  gboolean ok;

  errno = 0;
  ok = in != NULL && out >= 0 && fread (magic, 1, 8, in) == 8 && memcmp (magic, "BGRPACK1", 8) == 0;
  while (ok && fread (head, 1, 1, in) == 1 && head[0] == 'R')
    {
      guint32 n;
      ok = fread (head + 1, 1, 4, in) == 4;
      n = ok ? (guint32) head[1] | (guint32) head[2] << 8 | (guint32) head[3] << 16
                 | (guint32) head[4] << 24
             : 0;
      while (ok && n > 0)
        {
          gsize k = MIN (n, (guint32) BGR_GIT_RECIPE_CHUNK);
          ok = fread (buf, 1, k, in) == k && bgr_write_all (out, buf, k);
          n -= (guint32) k;
        }
    }
  ok = ok && head[0] == 'E';
  if (in != NULL)
    fclose (in);
  if (out >= 0 && close (out) != 0)
    ok = FALSE;
  if (!ok)
    {
      bgr_set_error_errno (error, errno != 0 ? errno : EIO, "cannot turn %s into a pack", recipe);
      g_unlink (pack);
      return FALSE;
    }
  g_unlink (recipe);
  return TRUE;
}

/* ---- which files may make a blob ------------------------------------------- */

typedef struct {
  GHashTable *by_rel;     /* "/rel" -> BgrGitEnt (regular working files) */
  GHashTable *candidates; /* git_oid -> BgrGitEnt */
} Walk;

static int
tree_cb (const char *root, const git_tree_entry *te, void *data)
{
  Walk *w = data;
  g_autofree char *rel = NULL;
  BgrGitEnt *e;

  if (git_tree_entry_type (te) != GIT_OBJECT_BLOB
      || git_tree_entry_filemode (te) == GIT_FILEMODE_LINK)
    return 0;
  rel = g_strconcat ("/", root, git_tree_entry_name (te), NULL);
  e = g_hash_table_lookup (w->by_rel, rel);
  if (e != NULL && !g_hash_table_contains (w->candidates, git_tree_entry_id (te)))
    {
      e->candidate = TRUE;
      git_oid_cpy (&e->oid, git_tree_entry_id (te));
      g_hash_table_insert (w->candidates, &e->oid, e);
    }
  return 0;
}

GHashTable *
bgr_git_recipe_candidates (BgrGitPlan *plan, GError **error)
{
  Walk w = { g_hash_table_new (g_str_hash, g_str_equal),
             g_hash_table_new (bgr_git_oid_hash, bgr_git_oid_equal) };
  git_tree *tree = NULL;
  int rc;

  for (guint i = 0; i < plan->ents->len; i++)
    {
      BgrGitEnt *e = plan->ents->pdata[i];
      /* Only a file over SMALL bytes can make a blob (the tar writer
       * hashes every candidate it sends). */
      if (e->kind == BGR_GIT_ENT_FILE && e->host != NULL && !e->from_blob && e->size > SMALL
          && e->gen == BGR_GIT_GEN_NONE && !g_str_has_prefix (e->rel, "/.git/"))
        g_hash_table_insert (w.by_rel, e->rel, e);
    }
  rc = git_commit_tree (&tree, plan->commit);
  if (rc == 0)
    rc = git_tree_walk (tree, GIT_TREEWALK_PRE, tree_cb, &w);
  git_tree_free (tree);
  g_hash_table_unref (w.by_rel);
  if (rc < 0)
    {
      bgr_set_error_from_git (error, rc, "cannot read the tree of %s", plan->commit_hex);
      g_hash_table_unref (w.candidates);
      return NULL;
    }
  return w.candidates;
}
