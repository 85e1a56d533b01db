/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Looking inside ext4 images from the tests, with e2fsprogs' own tools
 * (debugfs, e2fsck): what banger wrote is checked by something other than
 * banger. */
#pragma once

#include "bgr-test-util.h"

/* The path of an e2fsprogs tool (PATH, else /usr/sbin). The result lives
 * until four more calls. */
static inline const char *
bgr_test_tool (const char *name)
{
  static char buf[4][64];
  static guint next;
  g_autofree char *p = g_find_program_in_path (name);
  char *slot = buf[next++ % 4];

  g_snprintf (slot, 64, "%s", p != NULL ? p : "");
  if (p == NULL)
    g_snprintf (slot, 64, "/usr/sbin/%s", name);
  return slot;
}

/* debugfs's output for @cmd; NULL when it prints nothing on stdout (it
 * says why on stderr, e.g. the path is not there). */
static inline char *
bgr_test_debugfs (const char *img, const char *cmd)
{
  BgrRun r;
  char *out;

  bgr_run_env (&r, NULL, (const char *const[]){ bgr_test_tool ("debugfs"), "-R", cmd, img, NULL });
  g_assert_cmpint (r.status, ==, 0);
  if (r.out[0] == '\0')
    {
      bgr_run_clear (&r);
      return NULL;
    }
  out = g_steal_pointer (&r.out);
  bgr_run_clear (&r);
  return out;
}

static inline char *
bgr_test_stat_of (const char *img, const char *path)
{
  g_autofree char *cmd = g_strdup_printf ("stat \"%s\"", path);
  return bgr_test_debugfs (img, cmd);
}

/* The word after @label in debugfs output. */
static inline char *
bgr_test_field (const char *text, const char *label)
{
  const char *p = strstr (text, label);
  const char *end;

  if (p == NULL)
    g_error ("no \"%s\" in:\n%s", label, text);
  p += strlen (label);
  while (*p == ' ')
    p++;
  end = p;
  while (*end != '\0' && !g_ascii_isspace (*end))
    end++;
  return g_strndup (p, (gsize) (end - p));
}

#define bgr_test_assert_field(text, label, want)             \
  G_STMT_START                                               \
  {                                                          \
    g_autofree char *v__ = bgr_test_field ((text), (label)); \
    g_assert_cmpstr (v__, ==, (want));                       \
  }                                                          \
  G_STMT_END

static inline void
bgr_test_assert_absent (const char *img, const char *path)
{
  g_autofree char *st = bgr_test_stat_of (img, path);
  if (st != NULL)
    g_error ("%s should not exist in the image:\n%s", path, st);
}

/* Asserts @path is there with debugfs type @type ("regular", "directory",
 * ...); returns its stat output. */
static inline char *
bgr_test_assert_type (const char *img, const char *path, const char *type)
{
  char *st = bgr_test_stat_of (img, path);

  if (st == NULL)
    g_error ("%s missing from the image", path);
  bgr_test_assert_field (st, "Type:", type);
  return st;
}

static inline void
bgr_test_assert_fsck_clean (const char *img)
{
  BgrRun r;

  bgr_run_env (&r, NULL, (const char *const[]){ bgr_test_tool ("e2fsck"), "-fn", img, NULL });
  if (r.status != 0)
    g_error ("e2fsck -fn %s: %d\n%s\n%s", img, r.status, r.out, r.err);
  bgr_run_clear (&r);
}
