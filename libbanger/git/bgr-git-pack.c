/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The packfile of a metadata workspace (bgr-git-pack-private.h). We know
 * every object from walking HEAD's tree, so the pack is written directly:
 * a version-2 pack of whole objects (no delta search), each deflated at
 * the fastest level (ISA-L's igzip where it is built in, zlib level 1
 * otherwise), and its version-2 .idx (fanout, sorted ids, CRC-32s,
 * offsets). The file formats are git's gitformat-pack(5). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_ISAL
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#else
#include <zlib.h>
#endif

#include "bgr-error-private.h"
#include "git/bgr-git-pack-private.h"

#define OUT_BUF (1024 * 1024)
#define ZCHUNK (256 * 1024)
#define MAX_IN (1u << 30) /* per deflate call: the stream's counters are 32-bit */
#define SAMPLE 4096

struct _BgrGitPack {
  git_repository *repo;
  git_odb *odb;
  GHashTable *seen; /* git_oid * -> itself, owned */
  GPtrArray *order; /* the same git_oid *, in pack order */
};

static guint
oid_hash (gconstpointer p)
{
  const guint8 *id = ((const git_oid *) p)->id;
  return (guint) id[0] << 24 | (guint) id[1] << 16 | (guint) id[2] << 8 | id[3];
}

static gboolean
oid_equal (gconstpointer a, gconstpointer b)
{
  return git_oid_equal (a, b);
}

BgrGitPack *
bgr_git_pack_new (git_repository *repo)
{
  BgrGitPack *pack = g_new0 (BgrGitPack, 1);
  pack->repo = repo;
  if (git_repository_odb (&pack->odb, repo) < 0)
    pack->odb = NULL; /* reported when an object is read */
  pack->seen = g_hash_table_new_full (oid_hash, oid_equal, g_free, NULL);
  pack->order = g_ptr_array_new ();
  return pack;
}

void
bgr_git_pack_free (BgrGitPack *pack)
{
  if (pack == NULL)
    return;
  g_ptr_array_unref (pack->order);
  g_hash_table_unref (pack->seen);
  git_odb_free (pack->odb);
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

typedef struct {
  int fd;
  const char *path;
  guint8 *buf;
  gsize len;
  EVP_MD_CTX *sha; /* SHA-1 of everything written */
  guint64 off;     /* bytes written so far */
  guint32 crc;     /* CRC-32 of the current object's bytes */
} Out;

static guint32
crc_update (guint32 crc, const guint8 *data, gsize len)
{
#ifdef HAVE_ISAL
  while (len > 0)
    {
      guint64 n = MIN (len, (gsize) MAX_IN);
      crc = crc32_gzip_refl (crc, data, n);
      data += n;
      len -= n;
    }
  return crc;
#else
  while (len > 0)
    {
      uInt n = (uInt) MIN (len, (gsize) MAX_IN);
      crc = (guint32) crc32 (crc, data, n);
      data += n;
      len -= n;
    }
  return crc;
#endif
}

static gboolean
out_flush (Out *o, GError **error)
{
  gsize done = 0;

  while (done < o->len)
    {
      ssize_t n = write (o->fd, o->buf + done, o->len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          bgr_set_error_errno (error, errno, "cannot write %s", o->path);
          return FALSE;
        }
      done += (gsize) n;
    }
  o->len = 0;
  return TRUE;
}

static gboolean
out_put (Out *o, const void *data, gsize len, GError **error)
{
  const guint8 *p = data;

  EVP_DigestUpdate (o->sha, p, len);
  o->crc = crc_update (o->crc, p, len);
  o->off += len;
  while (len > 0)
    {
      gsize n = MIN (len, OUT_BUF - o->len);
      memcpy (o->buf + o->len, p, n);
      o->len += n;
      p += n;
      len -= n;
      if (o->len == OUT_BUF && !out_flush (o, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
out_put_be32 (Out *o, guint32 v, GError **error)
{
  guint32 be = GUINT32_TO_BE (v);
  return out_put (o, &be, 4, error);
}

/* Flushes, appends the SHA-1 (into @sha too) and closes. */
static gboolean
out_finish (Out *o, guint8 sha[20], GError **error)
{
  unsigned int n = 0;

  EVP_DigestFinal_ex (o->sha, sha, &n);
  if (!out_put (o, sha, 20, error) || !out_flush (o, error))
    return FALSE;
  if (fchmod (o->fd, 0644) != 0 || close (o->fd) != 0)
    {
      o->fd = -1;
      bgr_set_error_errno (error, errno, "cannot write %s", o->path);
      return FALSE;
    }
  o->fd = -1;
  return TRUE;
}

static gboolean
out_open (Out *o, const char *path, GError **error)
{
  o->path = path;
  o->fd = g_mkstemp_full ((char *) path, O_WRONLY | O_CLOEXEC, 0600);
  if (o->fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot create a file in %s", path);
      return FALSE;
    }
  o->buf = g_malloc (OUT_BUF);
  o->sha = EVP_MD_CTX_new ();
  EVP_DigestInit_ex (o->sha, EVP_sha1 (), NULL);
  return TRUE;
}

static void
out_clear (Out *o)
{
  if (o->fd >= 0)
    close (o->fd);
  o->fd = -1;
  g_clear_pointer (&o->buf, g_free);
  g_clear_pointer (&o->sha, EVP_MD_CTX_free);
}

/* The deflater: one stream, reset for every object. */
typedef struct {
#ifdef HAVE_ISAL
  struct isal_zstream z;
  guint8 *level_buf;
#else
  z_stream z;
#endif
  guint8 *chunk;
  EVP_MD_CTX *sha; /* checks each object's id */
} Deflater;

static void
deflater_init (Deflater *d)
{
  memset (d, 0, sizeof *d);
  d->chunk = g_malloc (ZCHUNK);
  d->sha = EVP_MD_CTX_new ();
#ifdef HAVE_ISAL
  d->level_buf = g_malloc (ISAL_DEF_LVL1_DEFAULT);
#else
  deflateInit (&d->z, 1);
#endif
}

static void
deflater_clear (Deflater *d)
{
#ifdef HAVE_ISAL
  g_free (d->level_buf);
#else
  deflateEnd (&d->z);
#endif
  g_free (d->chunk);
  EVP_MD_CTX_free (d->sha);
}

/* @data as one zlib stream into @o. */
static gboolean
deflate_into (Deflater *d, Out *o, const guint8 *data, gsize len, GError **error)
{
  gboolean last;

#ifdef HAVE_ISAL
  isal_deflate_init (&d->z);
  d->z.level = 1;
  d->z.level_buf = d->level_buf;
  d->z.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
  d->z.gzip_flag = IGZIP_ZLIB;
  do
    {
      guint32 n = (guint32) MIN (len, (gsize) MAX_IN);
      last = n == len;
      d->z.next_in = (guint8 *) data;
      d->z.avail_in = n;
      d->z.end_of_stream = last;
      data += n;
      len -= n;
      do
        {
          d->z.next_out = d->chunk;
          d->z.avail_out = ZCHUNK;
          if (isal_deflate (&d->z) != COMP_OK)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "cannot compress an object for the packfile");
              return FALSE;
            }
          if (!out_put (o, d->chunk, ZCHUNK - d->z.avail_out, error))
            return FALSE;
        }
      while (d->z.avail_out == 0 || d->z.avail_in > 0);
    }
  while (!last || d->z.internal_state.state != ZSTATE_END);
#else
  int rc = Z_OK;
  deflateReset (&d->z);
  do
    {
      uInt n = (uInt) MIN (len, (gsize) MAX_IN);
      last = n == len;
      d->z.next_in = (Bytef *) data;
      d->z.avail_in = n;
      data += n;
      len -= n;
      do
        {
          d->z.next_out = d->chunk;
          d->z.avail_out = ZCHUNK;
          rc = deflate (&d->z, last ? Z_FINISH : Z_NO_FLUSH);
          if (rc == Z_STREAM_ERROR)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "cannot compress an object for the packfile");
              return FALSE;
            }
          if (!out_put (o, d->chunk, ZCHUNK - d->z.avail_out, error))
            return FALSE;
        }
      while (d->z.avail_out == 0 || d->z.avail_in > 0);
    }
  while (!last || rc != Z_STREAM_END);
#endif
  return TRUE;
}

static guint32
adler_update (guint32 adler, const guint8 *data, gsize len)
{
#ifdef HAVE_ISAL
  return isal_adler32 (adler, data, len);
#else
  while (len > 0)
    {
      uInt n = (uInt) MIN (len, (gsize) MAX_IN);
      adler = (guint32) adler32 (adler, data, n);
      data += n;
      len -= n;
    }
  return adler;
#endif
}

/* @data as a zlib stream of stored (not compressed) blocks: as fast as a
 * copy, for what does not compress. */
static gboolean
store_into (Out *o, const guint8 *data, gsize len, GError **error)
{
  static const guint8 zhdr[2] = { 0x78, 0x01 };
  guint32 adler = GUINT32_TO_BE (adler_update (1, data, len));

  if (!out_put (o, zhdr, 2, error))
    return FALSE;
  do
    {
      guint16 n = (guint16) MIN (len, (gsize) 0xffff);
      guint8 blk[5] = { n == len ? 1 : 0, n & 0xff, n >> 8, ~n & 0xff, (guint16) ~n >> 8 };
      if (!out_put (o, blk, 5, error) || !out_put (o, data, n, error))
        return FALSE;
      data += n;
      len -= n;
    }
  while (len > 0);
  return out_put (o, &adler, 4, error);
}

/* Whether @data compresses: its first SAMPLE bytes deflated in a scratch
 * buffer shrink by a tenth at least. Random and already compressed
 * content (archives, images) is then stored instead of deflated. */
static gboolean
compresses (Deflater *d, const guint8 *data, gsize len)
{
  if (len <= SAMPLE)
    return TRUE;
#ifdef HAVE_ISAL
  struct isal_zstream z;
  isal_deflate_stateless_init (&z);
  z.level = 1;
  z.level_buf = d->level_buf;
  z.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
  z.next_in = (guint8 *) data;
  z.avail_in = SAMPLE;
  z.end_of_stream = 1;
  z.next_out = d->chunk;
  z.avail_out = SAMPLE * 9 / 10;
  return isal_deflate_stateless (&z) == COMP_OK;
#else
  uLongf out = SAMPLE * 9 / 10;
  return compress2 (d->chunk, &out, data, SAMPLE, 1) == Z_OK;
#endif
}

/* An object's header: its type and inflated size, 7 bits a byte. */
static gboolean
put_object_header (Out *o, git_object_t type, guint64 size, GError **error)
{
  guint8 hdr[16];
  gsize n = 0;

  hdr[n] = (guint8) (((guint) type & 7) << 4 | (size & 0x0f));
  size >>= 4;
  while (size > 0)
    {
      hdr[n++] |= 0x80;
      hdr[n] = size & 0x7f;
      size >>= 7;
    }
  return out_put (o, hdr, n + 1, error);
}

typedef struct {
  git_oid oid;
  guint32 crc;
  guint64 off;
} Entry;

/* libgit2 does not check what it reads (bgr_git_init() turns that off:
 * its SHA-1 is several times slower): every object sent is checked here,
 * "<type> <size>\0<content>" hashing to its id. */
static gboolean
object_is_sound (Deflater *d, git_odb_object *obj, const git_oid *oid)
{
  char hdr[64];
  int n = g_snprintf (hdr, sizeof hdr, "%s %" G_GSIZE_FORMAT, git_object_type2string (git_odb_object_type (obj)),
                      (gsize) git_odb_object_size (obj));
  guint8 md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;

  EVP_DigestInit_ex (d->sha, EVP_sha1 (), NULL);
  EVP_DigestUpdate (d->sha, hdr, (gsize) n + 1);
  EVP_DigestUpdate (d->sha, git_odb_object_data (obj), git_odb_object_size (obj));
  EVP_DigestFinal_ex (d->sha, md, &len);
  return len == GIT_OID_RAWSZ && memcmp (md, oid->id, GIT_OID_RAWSZ) == 0;
}

static gboolean
write_object (BgrGitPack *pack, Deflater *d, Out *o, Entry *e, GError **error)
{
  git_odb_object *obj = NULL;
  char hex[GIT_OID_HEXSZ + 1];
  int rc = pack->odb != NULL ? git_odb_read (&obj, pack->odb, &e->oid) : -1;
  const guint8 *data;
  gsize size;
  gboolean ok;

  if (rc < 0)
    {
      git_oid_tostr (hex, sizeof hex, &e->oid);
      bgr_set_error_from_git (error, rc, "cannot read object %s of the repository", hex);
      return FALSE;
    }
  data = git_odb_object_data (obj);
  size = git_odb_object_size (obj);
  if (!object_is_sound (d, obj, &e->oid))
    {
      git_oid_tostr (hex, sizeof hex, &e->oid);
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "object %s of the repository is corrupt (its content does not hash to its id)", hex);
      git_odb_object_free (obj);
      return FALSE;
    }
  e->off = o->off;
  o->crc = 0;
  ok = put_object_header (o, git_odb_object_type (obj), size, error)
       && (compresses (d, data, size) ? deflate_into (d, o, data, size, error)
                                      : store_into (o, data, size, error));
  e->crc = o->crc;
  git_odb_object_free (obj);
  return ok;
}

static gint
entry_cmp (gconstpointer a, gconstpointer b)
{
  return git_oid_cmp (&((const Entry *) a)->oid, &((const Entry *) b)->oid);
}

/* The .idx of @entries (sorted here), ending with @pack_sha. */
static gboolean
write_idx (Out *o, GArray *entries, const guint8 pack_sha[20], GError **error)
{
  static const guint8 magic[8] = { 0xff, 't', 'O', 'c', 0, 0, 0, 2 };
  guint8 idx_sha[20];
  guint32 fanout[256] = { 0 };
  guint32 large = 0;
  gboolean ok;

  g_array_sort (entries, entry_cmp);
  for (guint i = 0; i < entries->len; i++)
    fanout[g_array_index (entries, Entry, i).oid.id[0]]++;
  for (guint b = 1; b < 256; b++)
    fanout[b] += fanout[b - 1];
  ok = out_put (o, magic, sizeof magic, error);
  for (guint b = 0; ok && b < 256; b++)
    ok = out_put_be32 (o, fanout[b], error);
  for (guint i = 0; ok && i < entries->len; i++)
    ok = out_put (o, g_array_index (entries, Entry, i).oid.id, GIT_OID_RAWSZ, error);
  for (guint i = 0; ok && i < entries->len; i++)
    ok = out_put_be32 (o, g_array_index (entries, Entry, i).crc, error);
  /* Offsets past 2 GiB go to the table of 64-bit ones. */
  for (guint i = 0; ok && i < entries->len; i++)
    {
      guint64 off = g_array_index (entries, Entry, i).off;
      ok = out_put_be32 (o, off < 0x80000000u ? (guint32) off : 0x80000000u | large++, error);
    }
  for (guint i = 0; ok && i < entries->len; i++)
    {
      guint64 off = g_array_index (entries, Entry, i).off;
      guint64 be = GUINT64_TO_BE (off);
      if (off >= 0x80000000u)
        ok = out_put (o, &be, 8, error);
    }
  return ok && out_put (o, pack_sha, 20, error) && out_finish (o, idx_sha, error);
}

static gboolean
write_pack_file (BgrGitPack *pack, Out *o, GArray *entries, guint8 sha[20],
                 GCancellable *cancellable, GError **error)
{
  static const guint8 magic[8] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 };
  Deflater d;
  gboolean ok;

  deflater_init (&d);
  ok = out_put (o, magic, sizeof magic, error) && out_put_be32 (o, pack->order->len, error);
  for (guint i = 0; ok && i < pack->order->len; i++)
    {
      Entry *e = &g_array_index (entries, Entry, i);
      git_oid_cpy (&e->oid, pack->order->pdata[i]);
      ok = !g_cancellable_set_error_if_cancelled (cancellable, error)
           && write_object (pack, &d, o, e, error);
    }
  deflater_clear (&d);
  return ok && out_finish (o, sha, error);
}

gboolean
bgr_git_pack_write (BgrGitPack *pack, const char *pack_dir, GCancellable *cancellable,
                    GError **error)
{
  g_autofree char *tmp_pack = g_build_filename (pack_dir, "tmp_pack_XXXXXX", NULL);
  g_autofree char *tmp_idx = g_build_filename (pack_dir, "tmp_idx_XXXXXX", NULL);
  g_autofree char *final_pack = NULL;
  g_autofree char *final_idx = NULL;
  g_autoptr (GArray) entries = g_array_sized_new (FALSE, TRUE, sizeof (Entry), pack->order->len);
  Out po = { .fd = -1 }, io = { .fd = -1 };
  guint8 sha[20];
  char hex[41];
  gboolean ok;

  g_array_set_size (entries, pack->order->len);
  ok = out_open (&po, tmp_pack, error) && write_pack_file (pack, &po, entries, sha, cancellable, error)
       && out_open (&io, tmp_idx, error) && write_idx (&io, entries, sha, error);
  out_clear (&po);
  out_clear (&io);
  if (ok)
    {
      for (guint i = 0; i < 20; i++)
        g_snprintf (hex + 2 * i, 3, "%02x", sha[i]);
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
