/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bgr-escape: strings others wrote, shown and logged as data. */
#include <string.h>

#include <glib.h>

#include "bgr-escape-private.h"

static void
check (const char *in, gssize max, BgrEscapeFlags flags, const char *want)
{
  g_autofree char *got = bgr_escape (in, max, flags);
  g_assert_cmpstr (got, ==, want);
  /* What comes out never needs escaping again. */
  g_assert_false (bgr_escape_needed (got, flags));
}

static void
test_escape (void)
{
  g_assert_false (bgr_escape_needed (NULL, BGR_ESCAPE_DEFAULT));
  g_assert_false (bgr_escape_needed ("Debian GNU/Linux 12 (bookworm) \xc3\xa9", BGR_ESCAPE_DEFAULT));
  check ("plain é", -1, BGR_ESCAPE_DEFAULT, "plain é");
  check (NULL, -1, BGR_ESCAPE_DEFAULT, "(null)");
  /* OSC title, BEL, CSI colour, C1 CSI, bidi override, CR, DEL. */
  check ("E\033]0;pwned\007\033[31mR\xc2\x9bx\xe2\x80\xaey\rz\x7f", -1, BGR_ESCAPE_DEFAULT,
         "E\\x1b]0;pwned\\x07\\x1b[31mR\\u{009b}x\\u{202e}y\\x0dz\\x7f");
  /* Newlines: escaped in a field, kept in a message. */
  check ("a\nb\tc", -1, BGR_ESCAPE_DEFAULT, "a\\x0ab\\x09c");
  check ("a\nb\tc\033", -1, BGR_ESCAPE_KEEP_NEWLINES, "a\nb\tc\\x1b");
  /* Bytes that are not UTF-8. */
  check ("a\xff" "b", -1, BGR_ESCAPE_DEFAULT, "a\\xffb");
  /* JSON: \uNNNN for what JSON allows raw in strings. */
  check ("{\"s\": \"\x7f\xc2\x9b\xe2\x80\xae\"}\n", -1, BGR_ESCAPE_JSON,
         "{\"s\": \"\\u007f\\u009b\\u202e\"}\n");
}

static void
test_cut (void)
{
  g_autofree char *long_a = g_strnfill (5000, 'a');
  g_autofree char *logged = bgr_log_str (long_a);
  g_autofree char *want = g_strdup_printf ("%.*s...(5000 bytes)", BGR_LOG_STR_MAX, long_a);

  g_assert_cmpstr (logged, ==, want);
  /* Cut at a character boundary: "é" is 2 bytes, 3 bytes keep one. */
  check ("\xc3\xa9\xc3\xa9\xc3\xa9", 3, BGR_ESCAPE_DEFAULT, "\xc3\xa9...(6 bytes)");
  check ("short", 200, BGR_ESCAPE_DEFAULT, "short");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/escape/escape", test_escape);
  g_test_add_func ("/escape/cut", test_cut);
  return g_test_run ();
}
