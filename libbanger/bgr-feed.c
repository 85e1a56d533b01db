/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Feeds: a file read while another thread writes it (bgr-feed-private.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "bgr-feed-private.h"

/* How often a waiting reader looks at its cancellable. */
#define POLL_MS 50

struct _BgrFeed
{
  gint refs;
  GMutex lock;
  GCond changed;
  char *path;     /* where the bytes are: the file being written, then the finished one */
  guint64 size;   /* bytes written so far */
  gboolean finished;
  GError *error;  /* why it failed */
  gboolean checked; /* the reader made sure it reads the finished file */
};

BgrFeed *
bgr_feed_new (void)
{
  BgrFeed *f = g_new0 (BgrFeed, 1);

  f->refs = 1;
  g_mutex_init (&f->lock);
  g_cond_init (&f->changed);
  return f;
}

BgrFeed *
bgr_feed_ref (BgrFeed *f)
{
  g_atomic_int_inc (&f->refs);
  return f;
}

void
bgr_feed_unref (BgrFeed *f)
{
  if (f == NULL || !g_atomic_int_dec_and_test (&f->refs))
    return;
  g_mutex_clear (&f->lock);
  g_cond_clear (&f->changed);
  g_free (f->path);
  g_clear_error (&f->error);
  g_free (f);
}

void
bgr_feed_grow (BgrFeed *f, const char *path, guint64 size)
{
  g_mutex_lock (&f->lock);
  if (!f->finished)
    {
      if (g_strcmp0 (f->path, path) != 0)
        {
          g_free (f->path);
          f->path = g_strdup (path);
        }
      f->size = size;
      g_cond_broadcast (&f->changed);
    }
  g_mutex_unlock (&f->lock);
}

void
bgr_feed_finish (BgrFeed *f, const char *path, GError *error)
{
  g_mutex_lock (&f->lock);
  if (f->finished)
    g_clear_error (&error);
  else
    {
      f->finished = TRUE;
      f->error = error;
      if (path != NULL)
        {
          g_free (f->path);
          f->path = g_strdup (path);
        }
      g_cond_broadcast (&f->changed);
    }
  g_mutex_unlock (&f->lock);
}

/* Waits (lock held) until there is something new: more than @size bytes,
 * the end, a failure, or a cancel. FALSE with @error for the last two. */
static gboolean
wait_for_change (BgrFeed *f, guint64 size, GCancellable *cancellable, GError **error)
{
  for (;;)
    {
      if (f->error != NULL)
        {
          g_propagate_error (error, g_error_copy (f->error));
          return FALSE;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (f->finished || (f->path != NULL && f->size > size))
        return TRUE;
      g_cond_wait_until (&f->changed, &f->lock, g_get_monotonic_time () + POLL_MS * G_TIME_SPAN_MILLISECOND);
    }
}

static gboolean
same_file (int fd, const char *path)
{
  struct stat a, b;

  return fstat (fd, &a) == 0 && stat (path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

gssize
bgr_feed_read (BgrFeed *f, int *fd, guint64 offset, void *buf, gsize len,
               GCancellable *cancellable, GError **error)
{
  for (guint64 seen = offset;;)
    {
      g_autofree char *path = NULL;
      gboolean finished, check;
      guint64 size;
      ssize_t n;

      g_mutex_lock (&f->lock);
      if (!wait_for_change (f, seen, cancellable, error))
        {
          g_mutex_unlock (&f->lock);
          return -1;
        }
      path = g_strdup (f->path);
      finished = f->finished;
      size = f->size;
      check = finished && !f->checked;
      f->checked = f->checked || finished;
      g_mutex_unlock (&f->lock);

      /* At the end, the finished file is the one read: the part file may
       * have been replaced while it was written. */
      if (check && *fd >= 0 && !same_file (*fd, path))
        {
          g_debug ("%s was replaced while it was read; reading on in the finished file", path);
          close (*fd);
          *fd = -1;
        }
      if (*fd < 0 && (*fd = open (path, O_RDONLY | O_CLOEXEC)) < 0)
        {
          /* The part file was renamed into place meanwhile, or is not
           * made yet: look again shortly. */
          if (errno == ENOENT && !finished)
            {
              g_usleep (1000);
              continue;
            }
          bgr_set_error_errno (error, errno, "cannot open %s", path);
          return -1;
        }
      do
        n = pread (*fd, buf, finished ? len : MIN (len, size - offset), (off_t) offset);
      while (n < 0 && errno == EINTR);
      if (n < 0)
        {
          bgr_set_error_errno (error, errno, "cannot read %s", path);
          return -1;
        }
      if (n > 0 || finished)
        return n;
      /* Shorter than said: it started over. Wait until it grows again. */
      seen = size;
    }
}

gboolean
bgr_feed_wait (BgrFeed *f, GCancellable *cancellable, GError **error)
{
  gboolean ok = TRUE;

  g_mutex_lock (&f->lock);
  while (ok && !f->finished)
    ok = wait_for_change (f, G_MAXUINT64, cancellable, error);
  if (ok && f->error != NULL)
    {
      g_propagate_error (error, g_error_copy (f->error));
      ok = FALSE;
    }
  g_mutex_unlock (&f->lock);
  return ok;
}
