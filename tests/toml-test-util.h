/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What test-toml-suite.c and test-toml-cases.c share. */
#pragma once

#include <stdlib.h>
#include <string.h>

#include <glib.h>

/* A parse error reads "FILENAME:LINE:COLUMN: what", both numbers from 1. */
static inline void
assert_error_format (const char *message, const char *filename)
{
  const char *p;
  char *end;

  g_assert_true (g_str_has_prefix (message, filename));
  p = message + strlen (filename);
  g_assert_cmpint (*p, ==, ':');
  g_assert_cmpuint (strtoul (p + 1, &end, 10), >, 0);
  g_assert_cmpint (*end, ==, ':');
  g_assert_cmpuint (strtoul (end + 1, &end, 10), >, 0);
  g_assert_true (g_str_has_prefix (end, ": "));
  g_assert_cmpuint (strlen (end + 2), >, 0);
}
