/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The packfile of a metadata workspace (bgr-git-pack-private.h). We know
 * every object from walking HEAD's tree, so the pack is written directly:
 * a version-2 pack of whole objects (no delta search), each a zlib stream
 * (bgr-git-zpack.c), and its version-2 .idx (fanout, sorted ids, CRC-32s,
 * offsets). The file formats are git's gitformat-pack(5). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "git/bgr-git-pack-private.h"
#include "git/bgr-git-prefetch-private.h"
#include "git/bgr-git-zpack-private.h"

/* Objects read ahead of the one being sent, at most (bgr-git-prefetch.c). */
#define PREFETCH_BYTES (32u << 20)

typedef struct {
  git_oid oid;
  guint32 crc;
  guint64 off;
  guint64 size; /* streamed: the object's size, from its header */
  git_object_t type;
} Entry;

struct _BgrGitPack {
  git_repository *repo;
  git_odb *odb;
  char *objects_dir; /* for loose objects read with ISA-L; NULL: all through libgit2 */
  GHashTable *seen; /* git_oid * -> itself, owned */
  GPtrArray *order; /* the same git_oid *, in pack order */
  GArray *entries;  /* Entry, in pack order: made by measure or write */
  guint8 sha[20];   /* the pack's checksum, once written */
};

guint
bgr_git_oid_hash (gconstpointer p)
{
  const guint8 *id = ((const git_oid *) p)->id;
  return (guint) id[0] << 24 | (guint) id[1] << 16 | (guint) id[2] << 8 | id[3];
}

gboolean
bgr_git_oid_equal (gconstpointer a, gconstpointer b)
{
  return git_oid_equal (a, b);
}

BgrGitPack *
bgr_git_pack_new (git_repository *repo)
{
  BgrGitPack *pack = g_new0 (BgrGitPack, 1);
  git_buf objects = { 0 };

  pack->repo = repo;
  if (git_repository_odb (&pack->odb, repo) < 0)
    pack->odb = NULL; /* reported when an object is read */
  if (git_repository_item_path (&objects, repo, GIT_REPOSITORY_ITEM_OBJECTS) == 0)
    pack->objects_dir = g_strdup (objects.ptr);
  git_buf_dispose (&objects);
  pack->seen = g_hash_table_new_full (bgr_git_oid_hash, bgr_git_oid_equal, g_free, NULL);
  pack->order = g_ptr_array_new ();
  return pack;
}

void
bgr_git_pack_free (BgrGitPack *pack)
{
  if (pack == NULL)
    return;
  g_ptr_array_unref (pack->order);
  if (pack->entries != NULL)
    g_array_unref (pack->entries);
  g_hash_table_unref (pack->seen);
  git_odb_free (pack->odb);
  g_free (pack->objects_dir);
  g_free (pack);
}

guint
bgr_git_pack_get_count (BgrGitPack *pack)
{
  return pack->order->len;
}

/* FALSE when @oid was there already. */
static gboolean
add_oid (BgrGitPack *pack, const git_oid *oid)
{
  git_oid *copy;

  if (g_hash_table_contains (pack->seen, oid))
    return FALSE;
  copy = g_memdup2 (oid, sizeof *oid);
  g_hash_table_add (pack->seen, copy);
  g_ptr_array_add (pack->order, copy);
  return TRUE;
}

void
bgr_git_pack_add_if_present (BgrGitPack *pack, const git_oid *oid)
{
  if (pack->odb != NULL && git_odb_exists (pack->odb, oid))
    add_oid (pack, oid);
}

/* A tree and what it names; a tree seen before is not walked again. */
static int
add_tree (BgrGitPack *pack, const git_oid *id)
{
  git_tree *tree = NULL;
  int rc;

  if (!add_oid (pack, id))
    return 0;
  if ((rc = git_tree_lookup (&tree, pack->repo, id)) < 0)
    return rc;
  for (size_t i = 0; rc == 0 && i < git_tree_entrycount (tree); i++)
    {
      const git_tree_entry *te = git_tree_entry_byindex (tree, i);
      switch (git_tree_entry_type (te))
        {
        case GIT_OBJECT_TREE:
          rc = add_tree (pack, git_tree_entry_id (te));
          break;
        case GIT_OBJECT_BLOB:
          add_oid (pack, git_tree_entry_id (te));
          break;
        default:
          break; /* a submodule's commit: not in this repository */
        }
    }
  git_tree_free (tree);
  return rc;
}

gboolean
bgr_git_pack_add_commit (BgrGitPack *pack, git_commit *commit, GError **error)
{
  int rc;

  add_oid (pack, git_commit_id (commit));
  rc = add_tree (pack, git_commit_tree_id (commit));
  if (rc < 0)
    {
      char hex[GIT_OID_HEXSZ + 1];
      git_oid_tostr (hex, sizeof hex, git_commit_id (commit));
      bgr_set_error_from_git (error, rc, "cannot read the tree of commit %s", hex);
    }
  return rc == 0;
}

/* ---- writing ---------------------------------------------------------------- */

/* An object's header: its type and inflated size, 7 bits a byte. */
static gsize
object_header (guint8 hdr[16], git_object_t type, guint64 size)
{
  gsize n = 0;

  hdr[n] = (guint8) (((guint) type & 7) << 4 | (size & 0x0f));
  size >>= 4;
  while (size > 0)
    {
      hdr[n++] |= 0x80;
      hdr[n] = size & 0x7f;
      size >>= 7;
    }
  return n + 1;
}

/* One object at the sink's offset: deflated when @z (and it compresses),
 * else stored. Streamed (@e->size set by measure), it must still be that
 * size. */
static gboolean
write_object (BgrPackZ *z, BgrPackOut *o, Entry *e, BgrGitObject *obj, const BgrPackHook *hook,
              GError **error)
{
  gboolean handled = FALSE;
  char hex[GIT_OID_HEXSZ + 1];
  guint8 hdr[16];
  gboolean ok;

  git_oid_tostr (hex, sizeof hex, &e->oid);
  if (obj->data == NULL && !obj->corrupt)
    {
      bgr_set_error_from_git (error, obj->rc, "cannot read object %s of the repository", hex);
      return FALSE;
    }
  if (!obj->sound || (z == NULL && obj->size != e->size))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "object %s of the repository is corrupt (its content does not hash to its id)", hex);
      return FALSE;
    }
  e->off = o->off;
  o->crc = 0;
  ok = bgr_pack_out_put (o, hdr, object_header (hdr, obj->type, obj->size), error)
       && (hook == NULL || hook->body (o, &e->oid, obj, &handled, hook->data, error));
  if (ok && !handled)
    ok = z != NULL && bgr_pack_z_compresses (z, obj->data, obj->size)
           ? bgr_pack_z_deflate (z, o, obj->data, obj->size, error)
           : bgr_pack_z_store (o, obj->data, obj->size, NULL, error);
  e->crc = o->crc;
  return ok;
}

static gint
entry_cmp (gconstpointer a, gconstpointer b)
{
  return git_oid_cmp (&((const Entry *) a)->oid, &((const Entry *) b)->oid);
}

static void
make_entries (BgrGitPack *pack)
{
  if (pack->entries != NULL)
    return;
  pack->entries = g_array_sized_new (FALSE, TRUE, sizeof (Entry), pack->order->len);
  g_array_set_size (pack->entries, pack->order->len);
  for (guint i = 0; i < pack->order->len; i++)
    git_oid_cpy (&g_array_index (pack->entries, Entry, i).oid, pack->order->pdata[i]);
}

/* The pack, all of it, through @o. */
static gboolean
write_pack_hooked (BgrGitPack *pack, BgrPackZ *z, BgrPackOut *o, const BgrPackHook *hook,
                   GCancellable *cancellable, GError **error)
{
  static const guint8 magic[8] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 };
  gboolean ok;

  g_autofree git_oid *oids = NULL;
  BgrGitPrefetch *ahead;

  make_entries (pack);
  oids = g_new (git_oid, MAX (pack->entries->len, 1));
  for (guint i = 0; i < pack->entries->len; i++)
    git_oid_cpy (&oids[i], &g_array_index (pack->entries, Entry, i).oid);
  ahead = bgr_git_prefetch_start (pack->odb, pack->objects_dir, oids, pack->entries->len,
                                  PREFETCH_BYTES);
  ok = bgr_pack_out_put (o, magic, sizeof magic, error)
       && bgr_pack_out_put_be32 (o, pack->entries->len, error);
  for (guint i = 0; ok && i < pack->entries->len; i++)
    {
      BgrGitObject *obj = NULL;
      ok = !g_cancellable_set_error_if_cancelled (cancellable, error)
           && (obj = bgr_git_prefetch_next (ahead)) != NULL
           && write_object (z, o, &g_array_index (pack->entries, Entry, i), obj, hook, error);
      if (obj != NULL)
        bgr_git_prefetch_release (ahead, obj);
    }
  bgr_git_prefetch_stop (ahead);
  return ok && bgr_pack_out_finish (o, pack->sha, error);
}

static gboolean
write_pack (BgrGitPack *pack, BgrPackZ *z, BgrPackOut *o, GCancellable *cancellable,
            GError **error)
{
  return write_pack_hooked (pack, z, o, NULL, cancellable, error);
}

/* The .idx of the pack written, through @o. */
static gboolean
write_idx (BgrGitPack *pack, BgrPackOut *o, GError **error)
{
  static const guint8 magic[8] = { 0xff, 't', 'O', 'c', 0, 0, 0, 2 };
  g_autoptr (GArray) sorted = g_array_copy (pack->entries);
  guint32 fanout[256] = { 0 };
  guint32 large = 0;
  guint8 idx_sha[20];
  gboolean ok;

  g_array_sort (sorted, entry_cmp);
  for (guint i = 0; i < sorted->len; i++)
    fanout[g_array_index (sorted, Entry, i).oid.id[0]]++;
  for (guint b = 1; b < 256; b++)
    fanout[b] += fanout[b - 1];
  ok = bgr_pack_out_put (o, magic, sizeof magic, error);
  for (guint b = 0; ok && b < 256; b++)
    ok = bgr_pack_out_put_be32 (o, fanout[b], error);
  for (guint i = 0; ok && i < sorted->len; i++)
    ok = bgr_pack_out_put (o, g_array_index (sorted, Entry, i).oid.id, GIT_OID_RAWSZ, error);
  for (guint i = 0; ok && i < sorted->len; i++)
    ok = bgr_pack_out_put_be32 (o, g_array_index (sorted, Entry, i).crc, error);
  /* Offsets past 2 GiB go to the table of 64-bit ones. */
  for (guint i = 0; ok && i < sorted->len; i++)
    {
      guint64 off = g_array_index (sorted, Entry, i).off;
      ok = bgr_pack_out_put_be32 (o, off < 0x80000000u ? (guint32) off : 0x80000000u | large++, error);
    }
  for (guint i = 0; ok && i < sorted->len; i++)
    {
      guint64 off = g_array_index (sorted, Entry, i).off;
      guint64 be = GUINT64_TO_BE (off);
      if (off >= 0x80000000u)
        ok = bgr_pack_out_put (o, &be, 8, error);
    }
  return ok && bgr_pack_out_put (o, pack->sha, 20, error) && bgr_pack_out_finish (o, idx_sha, error);
}

/* ---- staged: files in a directory ---------------------------------------------- */

typedef struct {
  int fd;
  const char *path;
} FileSink;

static gboolean
file_sink (const void *buf, gsize len, gpointer data, GError **error)
{
  FileSink *f = data;
  gsize done = 0;

  while (done < len)
    {
      ssize_t n = write (f->fd, (const guint8 *) buf + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          bgr_set_error_errno (error, errno, "cannot write %s", f->path);
          return FALSE;
        }
      done += (gsize) n;
    }
  return TRUE;
}

typedef gboolean (*WriteFn) (BgrGitPack *pack, BgrPackZ *z, BgrPackOut *o, GCancellable *c,
                             GError **error);

static gboolean
idx_fn (BgrGitPack *pack, BgrPackZ *z, BgrPackOut *o, GCancellable *c, GError **error)
{
  (void) z;
  (void) c;
  return write_idx (pack, o, error);
}

/* @path (a mkstemp template) written by @fn, read-only as git makes packs. */
static gboolean
write_file (BgrGitPack *pack, char *path, WriteFn fn, BgrPackZ *z, GCancellable *cancellable,
            GError **error)
{
  FileSink f = { g_mkstemp_full (path, O_WRONLY | O_CLOEXEC, 0444), path };
  BgrPackOut o;
  gboolean ok;

  if (f.fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot create a file in %s", path);
      return FALSE;
    }
  bgr_pack_out_init (&o, file_sink, &f);
  ok = fn (pack, z, &o, cancellable, error);
  bgr_pack_out_clear (&o);
  if (close (f.fd) != 0 && ok)
    {
      bgr_set_error_errno (error, errno, "cannot write %s", path);
      ok = FALSE;
    }
  return ok;
}

static char *
sha_hex (const guint8 sha[20])
{
  char hex[41];
  for (guint i = 0; i < 20; i++)
    g_snprintf (hex + 2 * i, 3, "%02x", sha[i]);
  return g_strdup (hex);
}

gboolean
bgr_git_pack_write (BgrGitPack *pack, const char *pack_dir, GCancellable *cancellable,
                    GError **error)
{
  g_autofree char *tmp_pack = g_build_filename (pack_dir, "tmp_pack_XXXXXX", NULL);
  g_autofree char *tmp_idx = g_build_filename (pack_dir, "tmp_idx_XXXXXX", NULL);
  g_autofree char *hex = NULL, *final_pack = NULL, *final_idx = NULL;
  BgrPackZ *z = bgr_pack_z_new ();
  gboolean ok = write_file (pack, tmp_pack, write_pack, z, cancellable, error)
                && write_file (pack, tmp_idx, idx_fn, NULL, NULL, error);

  bgr_pack_z_free (z);
  if (ok)
    {
      hex = sha_hex (pack->sha);
      final_pack = g_strdup_printf ("%s/pack-%s.pack", pack_dir, hex);
      final_idx = g_strdup_printf ("%s/pack-%s.idx", pack_dir, hex);
      /* The pack first: git finds a pack by its .idx. */
      if (g_rename (tmp_pack, final_pack) != 0 || g_rename (tmp_idx, final_idx) != 0)
        {
          bgr_set_error_errno (error, errno, "cannot write the packfile in %s", pack_dir);
          ok = FALSE;
        }
    }
  if (!ok)
    {
      g_unlink (tmp_pack);
      g_unlink (tmp_idx);
      if (final_pack != NULL)
        g_unlink (final_pack);
    }
  return ok;
}

gboolean
bgr_git_pack_write_hooked (BgrGitPack *pack, BgrPackSink sink, gpointer sink_data,
                           const BgrPackHook *hook, const char *idx_dir,
                           GCancellable *cancellable, GError **error)
{
  g_autofree char *tmp_idx = g_build_filename (idx_dir, "tmp_idx_XXXXXX", NULL);
  g_autofree char *hex = NULL, *final_idx = NULL;
  BgrPackZ *z = bgr_pack_z_new ();
  BgrPackOut o;
  gboolean ok;

  bgr_pack_out_init (&o, sink, sink_data);
  ok = write_pack_hooked (pack, z, &o, hook, cancellable, error);
  bgr_pack_out_clear (&o);
  bgr_pack_z_free (z);
  ok = ok && write_file (pack, tmp_idx, idx_fn, NULL, NULL, error);
  if (ok)
    {
      hex = sha_hex (pack->sha);
      final_idx = g_strdup_printf ("%s/pack-%s.idx", idx_dir, hex);
      if (g_rename (tmp_idx, final_idx) != 0)
        {
          bgr_set_error_errno (error, errno, "cannot write the pack index in %s", idx_dir);
          ok = FALSE;
        }
    }
  if (!ok)
    g_unlink (tmp_idx);
  return ok;
}

char *
bgr_git_pack_dup_name (BgrGitPack *pack)
{
  return sha_hex (pack->sha);
}

/* ---- streamed: straight into a tar --------------------------------------------- */

gboolean
bgr_git_pack_measure (BgrGitPack *pack, guint64 *pack_size, guint64 *idx_size, char **name,
                      GError **error)
{
  g_autoptr (GArray) sorted = NULL;
  EVP_MD_CTX *ids = EVP_MD_CTX_new ();
  guint64 off = 12, large = 0;
  guint8 sha[20];
  unsigned int n = 0;

  make_entries (pack);
  for (guint i = 0; i < pack->entries->len; i++)
    {
      Entry *e = &g_array_index (pack->entries, Entry, i);
      guint8 hdr[16];
      size_t size = 0;
      int rc = pack->odb != NULL ? git_odb_read_header (&size, &e->type, pack->odb, &e->oid) : -1;

      if (rc < 0)
        {
          char hex[GIT_OID_HEXSZ + 1];
          git_oid_tostr (hex, sizeof hex, &e->oid);
          bgr_set_error_from_git (error, rc, "cannot read object %s of the repository", hex);
          EVP_MD_CTX_free (ids);
          return FALSE;
        }
      e->size = size;
      e->off = off;
      large += off >= 0x80000000u;
      off += object_header (hdr, e->type, size) + bgr_pack_z_stored_size (size);
    }
  *pack_size = off + 20;
  *idx_size = 8 + 256 * 4 + (guint64) pack->entries->len * (GIT_OID_RAWSZ + 4 + 4) + large * 8 + 40;
  /* Named by its object ids (the checksum is not known before it is
   * written; git reads the name from the directory, whatever it is). */
  sorted = g_array_copy (pack->entries);
  g_array_sort (sorted, entry_cmp);
  EVP_DigestInit_ex (ids, EVP_sha1 (), NULL);
  for (guint i = 0; i < sorted->len; i++)
    EVP_DigestUpdate (ids, g_array_index (sorted, Entry, i).oid.id, GIT_OID_RAWSZ);
  EVP_DigestFinal_ex (ids, sha, &n);
  EVP_MD_CTX_free (ids);
  *name = sha_hex (sha);
  return TRUE;
}

gboolean
bgr_git_pack_stream (BgrGitPack *pack, BgrPackSink sink, gpointer data, GCancellable *cancellable,
                     GError **error)
{
  BgrPackOut o;
  gboolean ok;

  bgr_pack_out_init (&o, sink, data);
  ok = write_pack (pack, NULL, &o, cancellable, error);
  bgr_pack_out_clear (&o);
  return ok;
}

gboolean
bgr_git_pack_stream_idx (BgrGitPack *pack, BgrPackSink sink, gpointer data, GError **error)
{
  BgrPackOut o;
  gboolean ok;

  bgr_pack_out_init (&o, sink, data);
  ok = write_idx (pack, &o, error);
  bgr_pack_out_clear (&o);
  return ok;
}
