/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's session spool (agent/agent-spool.c): a bounded ring file per
 * stream whose offsets count every byte ever written. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "agent-spool.h"

/* The spool keeps the last cap bytes; offsets count every byte. */
static void
test_spool_ring (void)
{
  struct spool sp;
  g_autofree char *dir = g_dir_make_tmp ("bgr-spool-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "s", NULL);
  char buf[16];

  g_assert_cmpint (spool_open (&sp, path, 10), ==, 0);
  g_assert_cmpint (spool_write (&sp, "0123456", 7), ==, 0);
  g_assert_cmpuint (spool_start (&sp), ==, 0);
  g_assert_cmpint (spool_write (&sp, "789abcd", 7), ==, 0);
  g_assert_cmpuint (sp.end, ==, 14);
  g_assert_cmpuint (spool_start (&sp), ==, 4);
  /* Reads stop at the ring's end: 4..9, then 10..13. */
  g_assert_cmpint (spool_read (&sp, 4, buf, sizeof buf), ==, 6);
  g_assert_cmpint (memcmp (buf, "456789", 6), ==, 0);
  g_assert_cmpint (spool_read (&sp, 10, buf, sizeof buf), ==, 4);
  g_assert_cmpint (memcmp (buf, "abcd", 4), ==, 0);
  g_assert_cmpint (spool_read (&sp, 2, buf, sizeof buf), ==, 0); /* dropped */
  g_assert_cmpint (spool_write (&sp, "ABCDEFGHIJKLMNOP", 16), ==, 0);
  g_assert_cmpuint (spool_start (&sp), ==, 20);
  g_assert_cmpint (spool_read (&sp, 20, buf, sizeof buf), ==, 10);
  g_assert_cmpint (memcmp (buf, "GHIJKLMNOP", 10), ==, 0);
  spool_close (&sp);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/agent-spool/ring", test_spool_ring);
  return g_test_run ();
}
