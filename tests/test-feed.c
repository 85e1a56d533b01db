/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Feeds (libbanger/bgr-feed.c): a reader gets a file's bytes while another
 * thread writes them, in order, and sees the end only once the writer
 * finished it; a failed writer fails the reader with its error; a part
 * file renamed into place, or replaced by another with the same content,
 * is read on to its end; a cancelled reader stops waiting. */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "bgr-feed-private.h"
#include "bgr-fs-private.h"

#define PIECES 64
#define PIECE 4000

typedef struct
{
  BgrFeed *feed;
  char *part, *dest;
  GError *fail;       /* finish with this instead */
  gboolean replace;   /* write half, then start over in a new file */
} Writer;

static void
put (int fd, guint from, guint to)
{
  char buf[PIECE];

  for (guint p = from; p < to; p++)
    {
      for (guint i = 0; i < PIECE; i++)
        buf[i] = (char) (p * 7 + i);
      g_assert_cmpint (pwrite (fd, buf, PIECE, (off_t) p * PIECE), ==, PIECE);
    }
}

static gpointer
writer_thread (gpointer data)
{
  Writer *w = data;
  int fd = open (w->part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  g_assert_cmpint (fd, >=, 0);
  for (guint p = 0; p < PIECES; p++)
    {
      if (w->replace && p == PIECES / 2)
        {
          /* Unlinked and started over: the reader must go on in the new one. */
          close (fd);
          g_assert_cmpint (g_unlink (w->part), ==, 0);
          fd = open (w->part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
          put (fd, 0, p);
        }
      put (fd, p, p + 1);
      bgr_feed_grow (w->feed, w->part, (guint64) (p + 1) * PIECE);
      g_usleep (200);
    }
  close (fd);
  if (w->fail != NULL)
    {
      bgr_feed_finish (w->feed, NULL, w->fail);
      return NULL;
    }
  g_assert_cmpint (g_rename (w->part, w->dest), ==, 0);
  bgr_feed_finish (w->feed, w->dest, NULL);
  return NULL;
}

/* Reads the feed to its end (or failure); the bytes read. */
static GByteArray *
read_all (BgrFeed *feed, GCancellable *cancellable, GError **error)
{
  GByteArray *out = g_byte_array_new ();
  char buf[3000];
  int fd = -1;
  gssize n;

  while ((n = bgr_feed_read (feed, &fd, out->len, buf, sizeof buf, cancellable, error)) > 0)
    g_byte_array_append (out, (guint8 *) buf, (guint) n);
  if (fd >= 0)
    close (fd);
  if (n < 0)
    g_clear_pointer (&out, g_byte_array_unref);
  return out;
}

static void
run (gboolean replace, GError *fail)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *dir = g_dir_make_tmp ("bgr-feed-XXXXXX", &err);
  Writer w = { bgr_feed_new (), g_build_filename (dir, "blob.part", NULL),
               g_build_filename (dir, "blob", NULL), fail, replace };
  GThread *t = g_thread_new ("writer", writer_thread, &w);
  g_autoptr (GByteArray) got = read_all (w.feed, NULL, &err);

  g_thread_join (t);
  if (fail != NULL)
    {
      g_assert_null (got);
      g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
      g_assert_false (bgr_feed_wait (w.feed, NULL, NULL));
    }
  else
    {
      g_autofree char *want = NULL;
      gsize len = 0;

      g_assert_no_error (err);
      g_assert_true (g_file_get_contents (w.dest, &want, &len, NULL));
      g_assert_cmpuint (got->len, ==, PIECES * PIECE);
      g_assert_cmpmem (got->data, got->len, want, len);
      g_assert_true (bgr_feed_wait (w.feed, NULL, NULL));
    }
  bgr_feed_unref (w.feed);
  g_free (w.part);
  g_free (w.dest);
  bgr_rm_rf (dir, NULL);
}

static void
test_grow_and_rename (void)
{
  run (FALSE, NULL);
}

static void
test_replaced (void)
{
  run (TRUE, NULL);
}

static void
test_failed (void)
{
  run (FALSE, g_error_new (BGR_ERROR, BGR_ERROR_INVALID_DATA, "digest mismatch"));
}

static gboolean
cancel_soon (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static gpointer
iterate (gpointer ctx)
{
  g_main_context_iteration (ctx, TRUE);
  return NULL;
}

static void
test_cancelled (void)
{
  g_autoptr (BgrFeed) feed = bgr_feed_new ();
  g_autoptr (GCancellable) c = g_cancellable_new ();
  g_autoptr (GMainContext) ctx = g_main_context_new ();
  g_autoptr (GError) err = NULL;
  GSource *s = g_timeout_source_new (100);
  GThread *t;

  g_source_set_callback (s, cancel_soon, c, NULL);
  g_source_attach (s, ctx);
  g_source_unref (s);
  t = g_thread_new ("ctx", iterate, ctx);
  /* Nothing is ever written: only the cancel ends the wait. */
  g_assert_null (read_all (feed, c, &err));
  g_assert_error (err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_thread_join (t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/feed/grow-and-rename", test_grow_and_rename);
  g_test_add_func ("/feed/replaced", test_replaced);
  g_test_add_func ("/feed/failed", test_failed);
  g_test_add_func ("/feed/cancelled", test_cancelled);
  return g_test_run ();
}
