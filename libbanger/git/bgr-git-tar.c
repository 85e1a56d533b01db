/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tar streams between host and guest (libarchive): a workspace plan or
 * a host path written to a socket the guest's `tar -x` reads, and a guest's
 * `tar -c` read back into a host directory (vm cp). GNU format: long names
 * and large files, read by GNU tar and busybox tar alike. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "git/bgr-git-plan-private.h"

#define CHUNK (64 * 1024)

typedef struct {
  int fd;
  GCancellable *cancellable;
  BgrTarProgress progress;
  gpointer progress_data;
  guint64 done;
} Sink;

/* A socket (MSG_NOSIGNAL: a reader that went away is an error, not a
 * SIGPIPE) or anything else write() takes. */
static la_ssize_t
sink_write (struct archive *a, void *data, const void *buf, size_t len)
{
  Sink *s = data;
  size_t off = 0;

  while (off < len)
    {
      ssize_t n = send (s->fd, (const char *) buf + off, len - off, MSG_NOSIGNAL);
      if (n < 0 && errno == ENOTSOCK)
        n = write (s->fd, (const char *) buf + off, len - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          archive_set_error (a, errno, "the guest stopped reading the stream");
          return -1;
        }
      off += (size_t) n;
    }
  return (la_ssize_t) len;
}

static struct archive *
writer_new (Sink *sink, GError **error)
{
  struct archive *a = archive_write_new ();

  if (archive_write_set_format_gnutar (a) != ARCHIVE_OK
      || archive_write_set_bytes_in_last_block (a, 1) != ARCHIVE_OK
      || archive_write_open2 (a, sink, NULL, sink_write, NULL, NULL) != ARCHIVE_OK)
    {
      bgr_set_error_from_archive (error, a, "cannot start the tar stream");
      archive_write_free (a);
      return NULL;
    }
  return a;
}

static gboolean
write_data (struct archive *a, Sink *s, const void *buf, gsize len, GError **error)
{
  if (archive_write_data (a, buf, len) < 0)
    {
      bgr_set_error_from_archive (error, a, "cannot write the tar stream");
      return FALSE;
    }
  s->done += len;
  if (s->progress != NULL)
    s->progress (s->done, s->progress_data);
  return TRUE;
}

/* Copies host file @host; with @blob, also sets *@matches to whether what
 * went hashes to that blob id. */
static gboolean
copy_host_file (struct archive *a, Sink *s, const char *host, guint64 size, const git_oid *blob,
                gboolean *matches, GError **error)
{
  g_autofree char *buf = g_malloc (CHUNK);
  guint64 left = size;
  int fd = open (host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  EVP_MD_CTX *sha = NULL;

  if (fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot read %s", host);
      return FALSE;
    }
  if (blob != NULL)
    {
      g_autofree char *head = g_strdup_printf ("blob %" G_GUINT64_FORMAT, size);
      sha = EVP_MD_CTX_new ();
      EVP_DigestInit_ex (sha, EVP_sha1 (), NULL);
      EVP_DigestUpdate (sha, head, strlen (head) + 1);
    }
  /* The header said @size: send exactly that, padding a file that shrank
   * meanwhile with zeros. */
  while (left > 0)
    {
      ssize_t n = read (fd, buf, MIN (left, CHUNK));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          memset (buf, 0, CHUNK);
          n = (ssize_t) MIN (left, CHUNK);
        }
      if (g_cancellable_set_error_if_cancelled (s->cancellable, error)
          || !write_data (a, s, buf, (gsize) n, error))
        {
          close (fd);
          g_clear_pointer (&sha, EVP_MD_CTX_free);
          return FALSE;
        }
      if (sha != NULL)
        EVP_DigestUpdate (sha, buf, (gsize) n);
      left -= (guint64) n;
    }
  close (fd);
  if (sha != NULL)
    {
      guint8 id[EVP_MAX_MD_SIZE];
      unsigned int n = 0;
      EVP_DigestFinal_ex (sha, id, &n);
      EVP_MD_CTX_free (sha);
      *matches = n == GIT_OID_RAWSZ && memcmp (id, blob->id, GIT_OID_RAWSZ) == 0;
    }
  return TRUE;
}

typedef struct {
  struct archive *a;
  Sink *s;
} PackSink;

static gboolean
pack_sink (const void *buf, gsize len, gpointer data, GError **error)
{
  PackSink *p = data;
  return write_data (p->a, p->s, buf, len, error);
}

/* The plan's streamed pack or its .idx, as much as the header said. */
static gboolean
write_gen (struct archive *a, Sink *s, BgrGitPlan *plan, BgrGitEnt *e, GError **error)
{
  PackSink p = { a, s };
  guint64 before = s->done;

  if (!(e->gen == BGR_GIT_GEN_PACK ? bgr_git_pack_stream (plan->pack, pack_sink, &p, s->cancellable, error)
                                   : bgr_git_pack_stream_idx (plan->pack, pack_sink, &p, error)))
    return FALSE;
  if (s->done - before != e->size)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED,
                   "the workspace's packfile came out %" G_GUINT64_FORMAT " bytes instead of %" G_GUINT64_FORMAT,
                   s->done - before, e->size);
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_ent (struct archive *a, Sink *s, BgrGitPlan *plan, const char *top, BgrGitEnt *e,
           GError **error)
{
  g_autoptr (GError) local = NULL;
  struct archive_entry *ae = archive_entry_new ();
  g_autofree char *path = NULL;
  git_blob *blob = NULL;
  gboolean ok = TRUE;

  /* The staged pack: written by now, or waited for. */
  if ((e->gen == BGR_GIT_GEN_STAGED_PACK || e->gen == BGR_GIT_GEN_STAGED_IDX)
      && !bgr_git_plan_finish_pack (plan, s->cancellable, error))
    {
      archive_entry_free (ae);
      return FALSE;
    }
  path = g_strconcat (top, e->rel, NULL);
  archive_entry_set_pathname (ae, path);
  archive_entry_set_uid (ae, 0);
  archive_entry_set_gid (ae, 0);
  archive_entry_set_uname (ae, "root");
  archive_entry_set_gname (ae, "root");
  archive_entry_set_mtime (ae, (time_t) g_get_real_time () / G_USEC_PER_SEC, 0);
  if (e->host != NULL)
    {
      struct stat st;
      if (lstat (e->host, &st) == 0)
        archive_entry_set_mtime (ae, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    }
  if (e->from_blob && git_blob_lookup (&blob, plan->repo, &e->oid) < 0)
    {
      bgr_set_error_from_git (error, -1, "cannot read %s from the repository", e->rel);
      archive_entry_free (ae);
      return FALSE;
    }
  archive_entry_set_perm (ae, e->mode & 07777);
  if (e->kind == BGR_GIT_ENT_DIR)
    archive_entry_set_filetype (ae, AE_IFDIR);
  else if (e->kind == BGR_GIT_ENT_LINK)
    {
      g_autofree char *target = blob != NULL ? g_strndup (git_blob_rawcontent (blob), git_blob_rawsize (blob))
                                             : g_file_read_link (e->host, &local);
      archive_entry_set_filetype (ae, AE_IFLNK);
      archive_entry_set_symlink (ae, target != NULL ? target : "");
    }
  else
    {
      archive_entry_set_filetype (ae, AE_IFREG);
      archive_entry_set_size (ae, blob != NULL ? (la_int64_t) git_blob_rawsize (blob) : (la_int64_t) e->size);
    }
  if (archive_write_header (a, ae) != ARCHIVE_OK)
    {
      bgr_set_error_from_archive (error, a, "cannot write %s to the tar stream", e->rel);
      ok = FALSE;
    }
  else if (e->gen != BGR_GIT_GEN_NONE)
    ok = write_gen (a, s, plan, e, error);
  else if (e->kind == BGR_GIT_ENT_FILE && blob != NULL)
    ok = write_data (a, s, git_blob_rawcontent (blob), (gsize) git_blob_rawsize (blob), error);
  else if (e->kind == BGR_GIT_ENT_FILE)
    ok = copy_host_file (a, s, e->host, e->size, e->candidate ? &e->oid : NULL, &e->sent_matches,
                         error);
  git_blob_free (blob);
  archive_entry_free (ae);
  return ok;
}

static gboolean
writer_close (struct archive *a, gboolean ok, GError **error)
{
  if (ok && archive_write_close (a) != ARCHIVE_OK)
    {
      bgr_set_error_from_archive (error, a, "cannot finish the tar stream");
      ok = FALSE;
    }
  archive_write_free (a);
  return ok;
}

gboolean
bgr_git_plan_write_tar (BgrGitPlan *plan, const char *top, int fd, BgrTarProgress progress,
                        gpointer progress_data, GCancellable *cancellable, GError **error)
{
  Sink sink = { fd, cancellable, progress, progress_data, 0 };
  struct archive *a = writer_new (&sink, error);
  BgrGitEnt top_ent = { (char *) "", NULL, BGR_GIT_ENT_DIR, 0755, 0, FALSE, { { 0 } }, BGR_GIT_GEN_NONE, FALSE, FALSE };
  gboolean ok;

  if (a == NULL)
    return FALSE;
  ok = write_ent (a, &sink, plan, top, &top_ent, error);
  for (guint i = 0; ok && i < plan->ents->len; i++)
    ok = !g_cancellable_set_error_if_cancelled (cancellable, error)
         && (!bgr_git_plan_staged_failed (plan) || bgr_git_plan_finish_pack (plan, cancellable, error))
         && write_ent (a, &sink, plan, top, plan->ents->pdata[i], error);
  return writer_close (a, ok, error);
}

/* ---- vm cp ----------------------------------------------------------------- */

gboolean
bgr_tar_write_path (const char *host_path, const char *top, int fd, BgrTarProgress progress,
                    gpointer progress_data, GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrGitPlan) plan = bgr_git_plan_alloc ();
  Sink sink = { fd, cancellable, progress, progress_data, 0 };
  BgrGitEnt top_ent = { (char *) "", (char *) host_path, BGR_GIT_ENT_DIR, 0, 0, FALSE, { { 0 } }, BGR_GIT_GEN_NONE, FALSE, FALSE };
  struct archive *a;
  struct stat st;
  gboolean ok;

  if (lstat (host_path, &st) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot read %s", host_path);
      return FALSE;
    }
  top_ent.mode = st.st_mode & 07777;
  top_ent.kind = S_ISDIR (st.st_mode) ? BGR_GIT_ENT_DIR : S_ISLNK (st.st_mode) ? BGR_GIT_ENT_LINK : BGR_GIT_ENT_FILE;
  top_ent.size = S_ISREG (st.st_mode) ? (guint64) st.st_size : 0;
  if (!bgr_git_plan_add_host_path (plan, host_path, error) || (a = writer_new (&sink, error)) == NULL)
    return FALSE;
  ok = write_ent (a, &sink, plan, top, &top_ent, error);
  for (guint i = 0; ok && i < plan->ents->len; i++)
    ok = !g_cancellable_set_error_if_cancelled (cancellable, error)
         && write_ent (a, &sink, plan, top, plan->ents->pdata[i], error);
  return writer_close (a, ok, error);
}

guint64
bgr_tar_measure_path (const char *host_path)
{
  g_autoptr (BgrGitPlan) plan = bgr_git_plan_alloc ();
  struct stat st;

  if (lstat (host_path, &st) != 0)
    return 0;
  if (!S_ISDIR (st.st_mode))
    return S_ISREG (st.st_mode) ? (guint64) st.st_size : 0;
  bgr_git_plan_add_host_path (plan, host_path, NULL);
  return plan->bytes;
}

gboolean
bgr_tar_extract (int fd, const char *dest_dir, BgrTarProgress progress, gpointer progress_data,
                 GCancellable *cancellable, GError **error)
{
  struct archive *in = archive_read_new ();
  struct archive *out = archive_write_disk_new ();
  struct archive_entry *ae;
  guint64 done = 0;
  gboolean ok = TRUE;
  int rc = ARCHIVE_EOF;

  archive_read_support_format_tar (in);
  archive_read_support_format_gnutar (in);
  archive_write_disk_set_options (out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME
                                         | ARCHIVE_EXTRACT_SECURE_NODOTDOT
                                         | ARCHIVE_EXTRACT_SECURE_SYMLINKS);
  if (archive_read_open_fd (in, fd, CHUNK) != ARCHIVE_OK)
    {
      bgr_set_error_from_archive (error, in, "cannot read the stream from the guest");
      ok = FALSE;
    }
  while (ok && (rc = archive_read_next_header (in, &ae)) == ARCHIVE_OK)
    {
      const char *name = archive_entry_pathname (ae);
      g_autofree char *path = g_build_filename (dest_dir, name != NULL ? name : "", NULL);
      const void *buf;
      size_t len;
      la_int64_t off;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          ok = FALSE;
          break;
        }
      /* The guest wrote the stream: nothing may land outside @dest_dir. */
      if (name == NULL || name[0] == '/' || g_strcmp0 (name, "..") == 0 || g_str_has_prefix (name, "../")
          || strstr (name, "/../") != NULL || g_str_has_suffix (name, "/.."))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                       "the stream from the guest names a path outside the copy: %s",
                       name != NULL ? name : "(none)");
          ok = FALSE;
          break;
        }
      /* Hardlinks in the stream point into the same tree. */
      if (archive_entry_hardlink (ae) != NULL)
        {
          g_autofree char *target = g_build_filename (dest_dir, archive_entry_hardlink (ae), NULL);
          archive_entry_set_hardlink (ae, target);
        }
      archive_entry_set_pathname (ae, path);
      if (archive_write_header (out, ae) != ARCHIVE_OK)
        {
          bgr_set_error_from_archive (error, out, "cannot write %s", path);
          ok = FALSE;
          break;
        }
      while (ok && (rc = archive_read_data_block (in, &buf, &len, &off)) == ARCHIVE_OK)
        {
          if (archive_write_data_block (out, buf, len, off) != ARCHIVE_OK)
            {
              bgr_set_error_from_archive (error, out, "cannot write %s", path);
              ok = FALSE;
            }
          done += len;
          if (progress != NULL)
            progress (done, progress_data);
        }
      if (ok && rc != ARCHIVE_EOF)
        {
          bgr_set_error_from_archive (error, in, "the stream from the guest broke off");
          ok = FALSE;
        }
      if (ok && archive_write_finish_entry (out) != ARCHIVE_OK)
        {
          bgr_set_error_from_archive (error, out, "cannot finish %s", path);
          ok = FALSE;
        }
    }
  if (ok && rc != ARCHIVE_EOF)
    {
      bgr_set_error_from_archive (error, in, "the stream from the guest is not a valid tar");
      ok = FALSE;
    }
  if (ok && archive_write_close (out) != ARCHIVE_OK)
    {
      bgr_set_error_from_archive (error, out, "cannot finish writing %s", dest_dir);
      ok = FALSE;
    }
  archive_write_free (out);
  archive_read_free (in);
  return ok;
}
