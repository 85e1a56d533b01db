/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One downloader for everything banger fetches from outside. Bytes stream
 * through a fixed buffer into a sink (a DEST.part file, or memory for small
 * documents); an attempt that fails transiently is retried from where it
 * stopped; nothing reaches DEST before it is verified and on disk. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "bgr-sha256-private.h"
#include "net/bgr-download-internal.h"
#include "net/bgr-download-private.h"

#define BUFFER_SIZE (64 * 1024)
#define MAX_ATTEMPTS 3
/* Doubled after each failed attempt: 250 ms, then 500 ms. Long enough for a
 * restarting server or a dropped connection, short enough to go unnoticed. */
#define BACKOFF_MS 250
#define SESSION_TIMEOUT_S 60

static void
download_clear (Download *d)
{
  g_clear_object (&d->session);
  g_clear_pointer (&d->uri, g_uri_unref);
  g_clear_pointer (&d->buffer, g_free);
  g_clear_pointer (&d->sum, bgr_sha256_free);
  g_clear_pointer (&d->mem, g_byte_array_unref);
  if (d->fd >= 0)
    close (d->fd); /* also drops the flock() */
  d->fd = -1;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Download, download_clear)

SoupSession *
bgr_download_session_new (void)
{
  /* libsoup's default of 2 connections per host would hold back a pull's
   * third parallel layer download. */
  return soup_session_new_with_options ("user-agent", "banger/" BANGER_VERSION,
                                        "timeout", (guint) SESSION_TIMEOUT_S,
                                        "idle-timeout", (guint) SESSION_TIMEOUT_S,
                                        "max-conns-per-host", 6,
                                        NULL);
}

gboolean
bgr_download_sha256_is_valid (const char *s)
{
  if (s == NULL || strlen (s) != 64)
    return FALSE;
  for (; *s != '\0'; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
      return FALSE;
  return TRUE;
}

static gboolean
download_init (Download *d, SoupSession *session, const char *url, GError **error)
{
  g_autofree char *scheme = g_uri_parse_scheme (url);

  d->url = url;
  d->fd = -1;
  d->expected_size = -1;
  d->max_size = -1;
  if (scheme != NULL && g_ascii_strcasecmp (scheme, "file") == 0)
    ;
  else if (scheme != NULL
           && (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "https") == 0))
    {
      g_autoptr (GError) local = NULL;

      d->uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, &local);
      if (d->uri == NULL)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "invalid URL %s: %s", url,
                       local->message);
          return FALSE;
        }
      /* libsoup treats a host-less http URL as a programming error. */
      if (g_uri_get_host (d->uri) == NULL || *g_uri_get_host (d->uri) == '\0')
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "invalid URL %s: no host",
                       url);
          return FALSE;
        }
      d->session = session != NULL ? g_object_ref (session) : bgr_download_session_new ();
    }
  else
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "cannot download %s: only http, https and file URLs are supported", url);
      return FALSE;
    }
  d->buffer = g_malloc (BUFFER_SIZE);
  return TRUE;
}

/* Progress never goes backwards: after a restart from zero the caller hears
 * nothing until the new transfer passes the old one. */
static void
report_progress (Download *d)
{
  if (d->progress == NULL || (d->reported_any && d->done <= d->reported))
    return;
  d->reported_any = TRUE;
  d->reported = d->done;
  d->progress (d->done, d->total, d->user_data);
}

gboolean
bgr_sleep_cancellable (guint ms, GCancellable *cancellable)
{
  GPollFD pfd;

  if (cancellable != NULL && g_cancellable_make_pollfd (cancellable, &pfd))
    {
      g_poll (&pfd, 1, (gint) ms);
      g_cancellable_release_fd (cancellable);
    }
  else
    g_usleep ((gulong) ms * 1000);
  return !g_cancellable_is_cancelled (cancellable);
}

static void
set_truncated_error (Download *d, gint64 expected_end, GError **error)
{
  if (expected_end >= 0)
    g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                 "%s: truncated body: expected %" G_GINT64_FORMAT " bytes, got %" G_GUINT64_FORMAT,
                 d->url, expected_end, d->done);
  else
    g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                 "%s: truncated body after %" G_GUINT64_FORMAT " bytes", d->url, d->done);
}

static Outcome
copy_body (Download *d, GInputStream *in, gint64 remaining, GCancellable *cancellable,
           GError **error)
{
  gint64 expected_end = remaining >= 0 ? (gint64) d->done + remaining : -1;

  report_progress (d);
  for (;;)
    {
      GError *local = NULL;
      gssize n;

      /* Checked here too: a read served from libsoup's own buffer would
       * not look at the cancellable. */
      if (g_cancellable_set_error_if_cancelled (cancellable, &local))
        return bgr_download_transport_error (d, local, error);
      n = g_input_stream_read (in, d->buffer, BUFFER_SIZE, cancellable, &local);
      if (n < 0)
        {
          /* libsoup's word for a Content-Length body cut short. */
          if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT))
            {
              g_error_free (local);
              set_truncated_error (d, expected_end, error);
              return OUTCOME_RETRY;
            }
          return bgr_download_transport_error (d, local, error);
        }
      if (n == 0)
        break;
      /* Refused at once: no use storing (or holding in memory) bytes
       * that can only fail verification. */
      if (d->expected_size >= 0 && d->done + (guint64) n > (guint64) d->expected_size)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                       "%s: size mismatch: expected %" G_GINT64_FORMAT " bytes, got at least %"
                       G_GUINT64_FORMAT, d->url, d->expected_size, d->done + (guint64) n);
          return OUTCOME_DISCARD;
        }
      if (d->max_size >= 0 && d->done + (guint64) n > (guint64) d->max_size)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                       "%s: more than the %" G_GINT64_FORMAT " bytes allowed", d->url,
                       d->max_size);
          return OUTCOME_DISCARD;
        }
      if (!bgr_download_sink_write (d, d->buffer, (gsize) n, error))
        return OUTCOME_FAIL;
      report_progress (d);
    }
  /* A file that shrank while being read, or a server that closed early
   * without libsoup noticing. */
  if (expected_end >= 0 && d->done < (guint64) expected_end)
    {
      set_truncated_error (d, expected_end, error);
      return OUTCOME_RETRY;
    }
  return OUTCOME_OK;
}

static Outcome
run_attempt (Download *d, GCancellable *cancellable, GError **error)
{
  g_autoptr (GInputStream) in = NULL;
  gint64 remaining = -1;
  Outcome o;

  /* A part file that is already whole (the rename never happened) needs no
   * request at all; a Range past its end would only get a 416. */
  if (d->mem == NULL && d->done > 0 && d->expected_size >= 0
      && d->done == (guint64) d->expected_size)
    {
      d->total = d->done;
      return OUTCOME_OK;
    }
  if (d->uri != NULL)
    o = bgr_download_open_http (d, cancellable, &in, &remaining, error);
  else
    o = bgr_download_open_file (d, cancellable, &in, &remaining, error);
  if (o != OUTCOME_OK)
    return o;
  o = copy_body (d, in, remaining, cancellable, error);
  /* Closing an unfinished libsoup body stream drops the connection instead
   * of reading the rest, which is what a failed attempt wants. */
  g_input_stream_close (in, NULL, NULL);
  return o;
}

static Outcome
run_attempts (Download *d, GCancellable *cancellable, GError **error)
{
  for (guint attempt = 1;; attempt++)
    {
      g_autoptr (GError) local = NULL;
      Outcome o = run_attempt (d, cancellable, &local);

      if (o != OUTCOME_RETRY || attempt == MAX_ATTEMPTS)
        {
          if (local != NULL)
            g_propagate_error (error, g_steal_pointer (&local));
          return o;
        }
      g_debug ("%s (attempt %u of %d); retrying from byte %" G_GUINT64_FORMAT, local->message,
               attempt, MAX_ATTEMPTS, d->done);
      if (!bgr_sleep_cancellable (BACKOFF_MS << (attempt - 1), cancellable))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_CANCELLED, "%s: Operation was cancelled",
                       d->url);
          return OUTCOME_FAIL;
        }
    }
}

static Outcome
verify (Download *d, GError **error)
{
  const char *actual;

  if (d->expected_size >= 0 && d->done != (guint64) d->expected_size)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s: size mismatch: expected %" G_GINT64_FORMAT " bytes, got %" G_GUINT64_FORMAT,
                   d->url, d->expected_size, d->done);
      return OUTCOME_DISCARD;
    }
  if (d->expected_sha256 == NULL)
    return OUTCOME_OK;
  actual = bgr_sha256_get_hex (d->sum);
  if (strcmp (actual, d->expected_sha256) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "%s: sha256 mismatch: expected %s, got %s",
                   d->url, d->expected_sha256, actual);
      return OUTCOME_DISCARD;
    }
  return OUTCOME_OK;
}

/* Hashes what an earlier call left in the part file; the file position
 * ends at its end, where new bytes go. */
static gboolean
hash_part (Download *d, GCancellable *cancellable, GError **error)
{
  struct stat st;

  if (fstat (d->fd, &st) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot stat %s", d->part);
      return FALSE;
    }
  /* Longer than the whole file: it cannot be a prefix of it. */
  if (d->expected_size >= 0 && st.st_size > d->expected_size)
    return bgr_download_sink_reset (d, error);
  for (;;)
    {
      GError *local = NULL;
      ssize_t n;

      if (g_cancellable_set_error_if_cancelled (cancellable, &local))
        {
          bgr_propagate_error (error, local, "%s", d->url);
          return FALSE;
        }
      n = read (d->fd, d->buffer, BUFFER_SIZE);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          bgr_set_error_errno (error, errno, "cannot read %s", d->part);
          return FALSE;
        }
      if (n == 0)
        break;
      bgr_sha256_update (d->sum, d->buffer, (gsize) n);
      d->done += (guint64) n;
    }
  d->stale_prefix = d->done > 0;
  return TRUE;
}

static Outcome
fetch_verified (Download *d, GCancellable *cancellable, GError **error)
{
  for (;;)
    {
      g_autoptr (GError) local = NULL;
      Outcome o = run_attempts (d, cancellable, error);

      if (o != OUTCOME_OK)
        return o;
      o = verify (d, &local);
      if (o == OUTCOME_OK || !d->stale_prefix)
        {
          if (local != NULL)
            g_propagate_error (error, g_steal_pointer (&local));
          return o;
        }
      /* The bytes an earlier call left are suspects (another file once had
       * this name, a disk went bad): fetch everything once more before
       * blaming the server. bgr_download_sink_reset() clears stale_prefix, so this
       * happens at most once. */
      g_debug ("%s; downloading it again from the start", local->message);
      if (!bgr_download_sink_reset (d, error))
        return OUTCOME_FAIL;
    }
}

static void
fsync_parent_dir (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (dfd < 0)
    return;
  if (fsync (dfd) != 0)
    g_debug ("fsync %s: %s", dir, g_strerror (errno));
  close (dfd);
}

gboolean
bgr_download_file (SoupSession *session, const char *url, const char *dest,
                   gint64 expected_size, const char *expected_sha256,
                   BgrDownloadProgress progress, gpointer user_data,
                   GCancellable *cancellable, GError **error)
{
  g_auto (Download) d = { .fd = -1 };
  g_autofree char *part = NULL;
  GError *local = NULL;
  Outcome o;

  g_return_val_if_fail (url != NULL, FALSE);
  g_return_val_if_fail (dest != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (expected_sha256 != NULL && !bgr_download_sha256_is_valid (expected_sha256))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid sha256 '%s' for %s (64 lowercase hex digits expected)", expected_sha256,
                   url);
      return FALSE;
    }
  if (!download_init (&d, session, url, error))
    return FALSE;
  if (g_cancellable_set_error_if_cancelled (cancellable, &local))
    {
      bgr_propagate_error (error, local, "%s", url);
      return FALSE;
    }
  d.expected_size = expected_size;
  d.expected_sha256 = expected_sha256;
  d.progress = progress;
  d.user_data = user_data;
  d.sum = bgr_sha256_new ();
  part = g_strconcat (dest, ".part", NULL);
  d.part = part;

  /* Two writers appending to one part file would interleave garbage; the
   * lock is per open file description, so it guards against other threads
   * of this process as well as other processes. A part file locked but no
   * longer at its path was removed between our open and our lock (image
   * cache prune removes unlocked part files, under the same lock): open
   * the new one. */
  for (guint tries = 0;; tries++)
    {
      struct stat held, now;

      d.fd = open (part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (d.fd < 0)
        {
          bgr_set_error_errno (error, errno, "cannot open %s", part);
          return FALSE;
        }
      if (flock (d.fd, LOCK_EX | LOCK_NB) != 0)
        {
          if (errno == EWOULDBLOCK)
            g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY, "%s is already being downloaded to %s",
                         url, dest);
          else
            bgr_set_error_errno (error, errno, "cannot lock %s", part);
          return FALSE;
        }
      if (fstat (d.fd, &held) == 0 && stat (part, &now) == 0 && held.st_dev == now.st_dev
          && held.st_ino == now.st_ino)
        break;
      close (d.fd);
      d.fd = -1;
      if (tries >= 3)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY, "%s keeps being removed", part);
          return FALSE;
        }
    }

  if (!hash_part (&d, cancellable, error))
    return FALSE;
  o = fetch_verified (&d, cancellable, error);
  if (o != OUTCOME_OK)
    {
      /* Unlinked while the lock is still held, so no one else is using it.
       * An empty part file is of no use to anyone. */
      if (o == OUTCOME_DISCARD || d.done == 0)
        g_unlink (part);
      return FALSE;
    }

  /* The part file is kept on these failures: it is whole and verified, and
   * the next call renames it without downloading anything. */
  if (fsync (d.fd) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot write %s", part);
      return FALSE;
    }
  if (rename (part, dest) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot rename %s to %s", part, dest);
      return FALSE;
    }
  fsync_parent_dir (dest);
  /* Progress ends at (size, size), also when no size was known up front
   * and the reports so far said total 0. */
  if (progress != NULL && !(d.reported_any && d.reported == d.done && d.total == d.done))
    progress (d.done, d.done, user_data);
  return TRUE;
}

GBytes *
bgr_download_bytes (SoupSession *session, const char *url, gsize max_size,
                    GCancellable *cancellable, GError **error)
{
  g_auto (Download) d = { .fd = -1 };
  GError *local = NULL;

  g_return_val_if_fail (url != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!download_init (&d, session, url, error))
    return NULL;
  if (g_cancellable_set_error_if_cancelled (cancellable, &local))
    {
      bgr_propagate_error (error, local, "%s", url);
      return NULL;
    }
  d.max_size = (gint64) MIN (max_size, (gsize) G_MAXINT64);
  d.mem = g_byte_array_new ();
  if (run_attempts (&d, cancellable, error) != OUTCOME_OK)
    return NULL;
  return g_byte_array_free_to_bytes (g_steal_pointer (&d.mem));
}
