/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-toml-cases.c: hand-written cases of the TOML parser about error
 * positions, bad bytes, value lines, key order, dates and NUL in strings
 * (the toml-test vectors are test-toml-suite.c). */

#include <string.h>

#include <banger/banger.h>

#include "toml/bgr-toml-private.h"
#include "toml-test-util.h"

/* ------------------------------------------------------------------------ */
/* Unit tests                                                                */

static BgrTomlValue *
parse_ok (const char *text)
{
  g_autoptr(GError) error = NULL;
  BgrTomlValue *doc = bgr_toml_parse (text, strlen (text), "unit.toml", &error);

  g_assert_no_error (error);
  g_assert_nonnull (doc);
  return doc;
}

static char *
parse_error (const char *text, gsize len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(BgrTomlValue) doc = bgr_toml_parse (text, len, "unit.toml", &error);

  g_assert_null (doc);
  g_assert_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG);
  assert_error_format (error->message, "unit.toml");
  return g_strdup (error->message);
}

static void
test_duplicate_key_position (void)
{
  g_autofree char *msg1 = parse_error ("name = 1\nother = 2\nname = 3\n", 28);
  g_autofree char *msg2 = parse_error ("[server]\nname = \"a\"\n  name = \"b\"\n", 33);
  g_autofree char *msg3 = parse_error ("a.b = 1\n\n x . b = 2\n a .b=3", 27);

  g_assert_cmpstr (msg1, ==, "unit.toml:3:1: duplicate key \"name\" (first defined on line 1)");
  g_assert_cmpstr (msg2, ==, "unit.toml:3:3: duplicate key \"name\" (first defined on line 2)");
  /* The column of the part that clashes, in characters. */
  g_assert_cmpstr (msg3, ==, "unit.toml:4:5: duplicate key \"a.b\" (first defined on line 1)");
}

static void
test_error_positions (void)
{
  static const struct {
    const char *text;
    const char *message;
  } cases[] = {
    { "[a]\n[a]\n", "unit.toml:2:2: table \"a\" is already defined (line 1)" },
    { "a = 1\n[a.b]\n", "unit.toml:2:2: key \"a\" is already an integer (line 1), not a table" },
    { "t = { x = 1 }\nt.y = 2\n", "unit.toml:2:1: inline table \"t\" (line 1) cannot be extended" },
    { "x = 0x\n", "unit.toml:1:5: invalid hexadecimal integer \"0x\"" },
    { "x = 1_000_\n", "unit.toml:1:10: invalid number \"1_000_\": '_' must be between two digits" },
    { "x = 9223372036854775808\n", "unit.toml:1:5: integer \"9223372036854775808\" does not fit in 64 bits" },
    { "d = 2023-02-29\n", "unit.toml:1:5: invalid date \"2023-02-29\": day out of range" },
    { "s = \"a\\qb\"\n", "unit.toml:1:7: invalid escape sequence \"\\q\"" },
    { "s = \"héllo\" x\n", "unit.toml:1:13: unexpected 'x' after a value" },
    { "s = value\n", "unit.toml:1:5: invalid value \"value\" (strings must be quoted)" },
    { "# ok\n\n  s = \"open\n", "unit.toml:3:12: unterminated string: a single-line string ends before the end of the line" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *msg = parse_error (cases[i].text, strlen (cases[i].text));

      g_assert_cmpstr (msg, ==, cases[i].message);
    }
}

static void
test_bad_bytes (void)
{
  /* Invalid UTF-8 and NUL point at the byte, counted in characters. */
  g_autofree char *msg1 = parse_error ("é = 'x'\n\"ü\" = \"\xC3\"\n", 19);
  g_autofree char *msg2 = parse_error ("a = 1\0", 6);

  g_assert_cmpstr (msg1, ==, "unit.toml:2:8: invalid UTF-8 byte 0xC3");
  g_assert_cmpstr (msg2, ==, "unit.toml:1:6: unexpected control character U+0000 after a value");
}

static void
test_value_lines (void)
{
  g_autoptr(BgrTomlValue) doc = parse_ok ("# comment\n"
                                          "top = 1\n"
                                          "\n"
                                          "[server]\n"
                                          "  cidr =   \"10.0.0.0/24\"\n"
                                          "  text = \"\"\"\n"
                                          "multi\n"
                                          "line\"\"\"\n"
                                          "  list = [\n"
                                          "    1,\n"
                                          "    2 ]\n"
                                          "[a.b.c]\n"
                                          "[a]\n"
                                          "[[items]]\n"
                                          "x.y = true\n");
  const BgrTomlValue *server, *list, *a, *items;

  g_assert_cmpuint (bgr_toml_value_get_line (doc), ==, 1);
  g_assert_cmpuint (bgr_toml_value_get_line (bgr_toml_table_lookup (doc, "top")), ==, 2);
  g_assert_cmpuint (bgr_toml_value_get_column (bgr_toml_table_lookup (doc, "top")), ==, 7);

  server = bgr_toml_table_lookup (doc, "server");
  g_assert_cmpuint (bgr_toml_value_get_line (server), ==, 4);
  g_assert_cmpuint (bgr_toml_value_get_column (server), ==, 1);
  g_assert_cmpuint (bgr_toml_value_get_line (bgr_toml_table_lookup (server, "cidr")), ==, 5);
  g_assert_cmpuint (bgr_toml_value_get_column (bgr_toml_table_lookup (server, "cidr")), ==, 12);
  g_assert_cmpuint (bgr_toml_value_get_line (bgr_toml_table_lookup (server, "text")), ==, 6);
  g_assert_cmpstr (bgr_toml_value_get_string (bgr_toml_table_lookup (server, "text")), ==,
                   "multi\nline");

  list = bgr_toml_table_lookup (server, "list");
  g_assert_cmpuint (bgr_toml_value_get_line (list), ==, 9);
  g_assert_cmpuint (bgr_toml_value_get_line (bgr_toml_array_get (list, 0)), ==, 10);
  g_assert_cmpuint (bgr_toml_value_get_column (bgr_toml_array_get (list, 0)), ==, 5);
  g_assert_cmpuint (bgr_toml_value_get_line (bgr_toml_array_get (list, 1)), ==, 11);

  /* [a] was first implied by [a.b.c], then defined: it takes its own line. */
  a = bgr_toml_table_lookup (doc, "a");
  g_assert_cmpuint (bgr_toml_value_get_line (a), ==, 13);
  g_assert_cmpuint (bgr_toml_value_get_line (bgr_toml_table_lookup (a, "b")), ==, 12);

  items = bgr_toml_table_lookup (doc, "items");
  g_assert_cmpuint (bgr_toml_value_get_line (items), ==, 14);
  g_assert_cmpuint (bgr_toml_value_get_line (bgr_toml_array_get (items, 0)), ==, 14);
  g_assert_cmpuint (bgr_toml_value_get_line (bgr_toml_table_lookup (
                      bgr_toml_table_lookup (bgr_toml_array_get (items, 0), "x"), "y")), ==, 15);
}

static void
test_key_order (void)
{
  g_autoptr(BgrTomlValue) doc = parse_ok ("zeta = 1\n"
                                          "alpha = 2\n"
                                          "mid.z = 3\n"
                                          "mid.a = 4\n"
                                          "inline = { b = 1, a = 2, c = 3 }\n"
                                          "[tbl]\n"
                                          "y = 1\n"
                                          "x = 2\n");
  static const char *top[] = { "zeta", "alpha", "mid", "inline", "tbl" };
  const BgrTomlValue *mid = bgr_toml_table_lookup (doc, "mid");
  const BgrTomlValue *inl = bgr_toml_table_lookup (doc, "inline");
  const BgrTomlValue *tbl = bgr_toml_table_lookup (doc, "tbl");

  g_assert_cmpuint (bgr_toml_table_get_size (doc), ==, G_N_ELEMENTS (top));
  for (guint i = 0; i < G_N_ELEMENTS (top); i++)
    g_assert_cmpstr (bgr_toml_table_get_key (doc, i), ==, top[i]);
  g_assert_cmpstr (bgr_toml_table_get_key (mid, 0), ==, "z");
  g_assert_cmpstr (bgr_toml_table_get_key (mid, 1), ==, "a");
  g_assert_cmpstr (bgr_toml_table_get_key (inl, 0), ==, "b");
  g_assert_cmpstr (bgr_toml_table_get_key (inl, 1), ==, "a");
  g_assert_cmpstr (bgr_toml_table_get_key (inl, 2), ==, "c");
  g_assert_cmpstr (bgr_toml_table_get_key (tbl, 0), ==, "y");
  g_assert_cmpint (bgr_toml_value_get_integer (bgr_toml_table_get_value (tbl, 1)), ==, 2);
  g_assert_null (bgr_toml_table_lookup (doc, "missing"));
}

static void
test_date_strings (void)
{
  g_autoptr(BgrTomlValue) doc = parse_ok ("odt = 1979-05-27 07:32:00.5z\n"
                                          "off = 1979-05-27t07:32:00-07:00\n"
                                          "ldt = 1979-05-27T07:32:00\n"
                                          "ld = 2024-02-29\n"
                                          "lt = 07:32:00.999\n");
  static const struct {
    const char *key;
    BgrTomlType kind;
    const char *text;
  } cases[] = {
    { "odt", BGR_TOML_DATETIME, "1979-05-27T07:32:00.5Z" },
    { "off", BGR_TOML_DATETIME, "1979-05-27T07:32:00-07:00" },
    { "ldt", BGR_TOML_DATETIME_LOCAL, "1979-05-27T07:32:00" },
    { "ld", BGR_TOML_DATE_LOCAL, "2024-02-29" },
    { "lt", BGR_TOML_TIME_LOCAL, "07:32:00.999" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const BgrTomlValue *v = bgr_toml_table_lookup (doc, cases[i].key);

      g_assert_nonnull (v);
      g_assert_cmpint (bgr_toml_value_get_kind (v), ==, cases[i].kind);
      g_assert_cmpstr (bgr_toml_value_get_string (v), ==, cases[i].text);
    }
}

static void
test_nul_in_strings (void)
{
  g_autoptr(BgrTomlValue) doc = parse_ok ("\"k\\u0000x\" = \"a\\u0000b\"\n"
                                          "\"k\\u0000y\" = 2\n");
  const char *s;
  gsize len = 0;

  /* Two keys that differ only after a NUL are distinct keys. */
  g_assert_cmpuint (bgr_toml_table_get_size (doc), ==, 2);
  s = bgr_toml_table_get_key_len (doc, 0, &len);
  g_assert_cmpmem (s, len, "k\0x", 3);
  s = bgr_toml_value_get_string_len (bgr_toml_table_get_value (doc, 0), &len);
  g_assert_cmpmem (s, len, "a\0b", 3);
}

static void
test_parse_file_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(BgrTomlValue) doc = bgr_toml_parse_file ("/nonexistent/banger.toml", &error);

  g_assert_null (doc);
  g_assert_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/toml/unit/duplicate-key-position", test_duplicate_key_position);
  g_test_add_func ("/toml/unit/error-positions", test_error_positions);
  g_test_add_func ("/toml/unit/bad-bytes", test_bad_bytes);
  g_test_add_func ("/toml/unit/value-lines", test_value_lines);
  g_test_add_func ("/toml/unit/key-order", test_key_order);
  g_test_add_func ("/toml/unit/date-strings", test_date_strings);
  g_test_add_func ("/toml/unit/nul-in-strings", test_nul_in_strings);
  g_test_add_func ("/toml/unit/parse-file-errors", test_parse_file_errors);

  return g_test_run ();
}
