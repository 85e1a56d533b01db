/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Blobs: fetched into the cache by digest (resumable, verified, shared
 * between pulls). */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bgr-error-private.h"
#include "oci/bgr-oci-client-private.h"

/* How often a pull waiting for another one's download of a blob looks. */
#define BUSY_POLL_MS 100

typedef struct {
  BgrOciBlobProgress progress;
  gpointer user_data;
  guint64 done; /* the most reported, so that it never goes backwards */
} BlobProgress;

static void
blob_progress_report (BlobProgress *bp, guint64 done, guint64 total, gboolean waiting)
{
  if (bp->progress == NULL)
    return;
  bp->done = MAX (bp->done, done);
  bp->progress (bp->done, total, waiting, bp->user_data);
}

static void
on_download_progress (guint64 done, guint64 total, gpointer data)
{
  blob_progress_report (data, done, total, FALSE);
}

char *
bgr_oci_registry_fetch_blob (BgrOciRegistry *r, const BgrOciDescriptor *d, const char *cache_dir,
                             BgrOciBlobProgress progress, gpointer user_data,
                             GCancellable *cancellable, GError **error)
{
  BlobProgress bp = { progress, user_data, 0 };
  g_autofree char *dir = NULL;
  g_autofree char *part = NULL;
  g_autofree char *dest = NULL;
  g_autofree char *url = NULL;
  g_autofree char *what = NULL;
  const char *hex;
  struct stat st;

  g_return_val_if_fail (r != NULL && d != NULL && cache_dir != NULL, NULL);

  if (!bgr_oci_digest_is_valid (d->digest) || d->size < 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "invalid blob descriptor %s",
                   d->digest != NULL ? d->digest : "(null)");
      return NULL;
    }
  if (!g_str_has_prefix (d->digest, "sha256:"))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "%s: blob %s: only sha256 digests are supported", r->display, d->digest);
      return NULL;
    }
  hex = d->digest + strlen ("sha256:");
  dir = g_build_filename (cache_dir, "oci", "blobs", "sha256", NULL);
  dest = g_build_filename (dir, hex, NULL);
  part = g_strconcat (dest, ".part", NULL);

  /* Blobs only get their name once verified, so one of the right size is
   * the blob; a wrong size means someone else wrote there: fetch again. */
again:
  if (stat (dest, &st) == 0)
    {
      if (S_ISREG (st.st_mode) && st.st_size == d->size)
        {
          blob_progress_report (&bp, (guint64) d->size, (guint64) d->size, FALSE);
          return g_steal_pointer (&dest);
        }
      g_debug ("%s has %" G_GINT64_FORMAT " bytes instead of %" G_GINT64_FORMAT "; fetching it again",
               dest, (gint64) st.st_size, d->size);
      if (g_unlink (dest) != 0)
        {
          bgr_set_error_errno (error, errno, "cannot remove %s", dest);
          return NULL;
        }
    }
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", dir);
      return NULL;
    }

  g_clear_pointer (&url, g_free);
  g_clear_pointer (&what, g_free);
  url = g_strdup_printf ("%s/v2/%s/blobs/%s", r->base, r->ref.repository, d->digest);
  what = g_strdup_printf ("%s: blob %s", r->display, d->digest);
  for (guint round = 0;; round++)
    {
      g_autoptr (GError) local = NULL;
      g_autofree char *path = NULL;
      g_auto (BgrOciResponse) resp = { 0 };

      if (bgr_download_file (r->session, url, dest, d->size, hex, on_download_progress, &bp,
                             cancellable, &local))
        return g_steal_pointer (&dest);
      /* Another pull (in this process or another) is downloading this
       * blob: wait for it to finish (or give up, leaving its part file to
       * resume), then look again. */
      if (g_error_matches (local, BGR_ERROR, BGR_ERROR_BUSY))
        {
          struct stat pst;

          /* What it has so far, so that this pull shows progress too. */
          blob_progress_report (&bp, stat (part, &pst) == 0 ? (guint64) pst.st_size : 0,
                                (guint64) d->size, TRUE);
          if (!bgr_sleep_cancellable (BUSY_POLL_MS, cancellable))
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_CANCELLED,
                           "%s: Operation was cancelled", what);
              return NULL;
            }
          goto again;
        }
      /* No token yet, or it expired mid-pull: a HEAD of the blob goes
       * through the challenge, then the download runs once more. */
      if (round > 0 || !g_error_matches (local, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED))
        {
          if (g_error_matches (local, BGR_ERROR, BGR_ERROR_NOT_FOUND))
            g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "%s: not found (%s)", what,
                         local->message);
          else
            g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
      path = g_strdup_printf ("/v2/%s/blobs/%s", r->ref.repository, d->digest);
      if (!bgr_oci_registry_request (r, SOUP_METHOD_HEAD, path, NULL, 0, what, &resp, cancellable, error))
        return NULL;
    }
}

/* Blobs (the config too) are looked up in, and added to, CACHE/oci/blobs. */
void
bgr_oci_registry_set_cache_dir (BgrOciRegistry *r, const char *cache_dir)
{
  g_free (r->cache_dir);
  r->cache_dir = g_strdup (cache_dir);
}
