/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-toml-suite.c: checks the TOML parser against the toml-test vectors
 * (BANGER_TOML_TEST_DIR, the folder holding files-toml-1.0.0) and a few
 * hand-written cases about positions, key order and dates. */

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

/* Tests include the public umbrella header like any user; a standalone
 * build of just the parser and this file (with -DBANGER_COMPILATION, without
 * the generated bgr-version.h) takes the error header directly. */
#ifdef BANGER_COMPILATION
#include <banger/bgr-error.h>
#else
#include <banger/banger.h>
#endif

#include "toml/bgr-toml-private.h"

static char *suite_dir;

/* ------------------------------------------------------------------------ */
/* Document -> toml-test's tagged JSON                                       */

static const char *
type_tag (BgrTomlType kind)
{
  switch (kind)
    {
    case BGR_TOML_STRING: return "string";
    case BGR_TOML_INTEGER: return "integer";
    case BGR_TOML_FLOAT: return "float";
    case BGR_TOML_BOOLEAN: return "bool";
    case BGR_TOML_DATETIME: return "datetime";
    case BGR_TOML_DATETIME_LOCAL: return "datetime-local";
    case BGR_TOML_DATE_LOCAL: return "date-local";
    case BGR_TOML_TIME_LOCAL: return "time-local";
    default: g_assert_not_reached ();
    }
}

static JsonNode *
to_tagged_json (const BgrTomlValue *value)
{
  BgrTomlType kind = bgr_toml_value_get_kind (value);
  g_autofree char *text = NULL;
  JsonObject *object;

  if (kind == BGR_TOML_TABLE)
    {
      object = json_object_new ();
      for (guint i = 0; i < bgr_toml_table_get_size (value); i++)
        json_object_set_member (object, bgr_toml_table_get_key (value, i),
                                to_tagged_json (bgr_toml_table_get_value (value, i)));
      return json_node_init_object (json_node_alloc (), object);
    }
  if (kind == BGR_TOML_ARRAY)
    {
      JsonArray *array = json_array_new ();

      for (guint i = 0; i < bgr_toml_array_get_length (value); i++)
        json_array_add_element (array, to_tagged_json (bgr_toml_array_get (value, i)));
      return json_node_init_array (json_node_alloc (), array);
    }

  switch (kind)
    {
    case BGR_TOML_INTEGER:
      text = g_strdup_printf ("%" G_GINT64_FORMAT, bgr_toml_value_get_integer (value));
      break;
    case BGR_TOML_FLOAT:
      {
        double d = bgr_toml_value_get_float (value);
        char buf[G_ASCII_DTOSTR_BUF_SIZE];

        if (isnan (d))
          text = g_strdup ("nan");
        else if (isinf (d))
          text = g_strdup (d > 0 ? "inf" : "-inf");
        else
          text = g_strdup (g_ascii_dtostr (buf, sizeof buf, d));
      }
      break;
    case BGR_TOML_BOOLEAN:
      text = g_strdup (bgr_toml_value_get_boolean (value) ? "true" : "false");
      break;
    default:
      text = g_strdup (bgr_toml_value_get_string (value));
      break;
    }

  object = json_object_new ();
  json_object_set_string_member (object, "type", type_tag (kind));
  json_object_set_string_member (object, "value", text);
  return json_node_init_object (json_node_alloc (), object);
}

/* ------------------------------------------------------------------------ */
/* Structural comparison, the way toml-test compares                         */

/* {"type": "...", "value": "..."} with string members only: a scalar. A
 * table that happens to have "type" and "value" keys holds objects there. */
static gboolean
is_tagged (JsonNode *node)
{
  JsonObject *o;
  JsonNode *type, *value;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return FALSE;
  o = json_node_get_object (node);
  if (json_object_get_size (o) != 2)
    return FALSE;
  type = json_object_get_member (o, "type");
  value = json_object_get_member (o, "value");
  return type != NULL && value != NULL &&
         JSON_NODE_HOLDS_VALUE (type) && json_node_get_value_type (type) == G_TYPE_STRING &&
         JSON_NODE_HOLDS_VALUE (value) && json_node_get_value_type (value) == G_TYPE_STRING;
}

static double
parse_float_text (const char *s)
{
  if (strcmp (s, "nan") == 0 || strcmp (s, "+nan") == 0 || strcmp (s, "-nan") == 0)
    return NAN;
  if (strcmp (s, "inf") == 0 || strcmp (s, "+inf") == 0)
    return INFINITY;
  if (strcmp (s, "-inf") == 0)
    return -INFINITY;
  return g_ascii_strtod (s, NULL);
}

/* Datetimes are compared by meaning, not spelling: the separator and the
 * case of T/Z do not matter, nor trailing zeros of the fraction
 * ("17:45:56.6" is "17:45:56.600"). */
static char *
normalise_datetime (const char *s)
{
  GString *out = g_string_new (NULL);
  const char *dot;

  for (const char *c = s; *c; c++)
    {
      if ((*c == ' ' || *c == 't') && c - s == 10)
        g_string_append_c (out, 'T');
      else
        g_string_append_c (out, g_ascii_toupper (*c));
    }
  dot = strchr (out->str, '.');
  if (dot != NULL)
    {
      gsize from = dot - out->str, end = from + 1;

      while (end < out->len && g_ascii_isdigit (out->str[end]))
        end++;
      while (end > from + 1 && out->str[end - 1] == '0')
        {
          g_string_erase (out, end - 1, 1);
          end--;
        }
      if (end == from + 1)
        g_string_erase (out, from, 1);
    }
  if (g_str_has_suffix (out->str, "+00:00") || g_str_has_suffix (out->str, "-00:00"))
    {
      g_string_truncate (out, out->len - 6);
      g_string_append_c (out, 'Z');
    }
  return g_string_free (out, FALSE);
}

static gboolean
scalars_equal (const char *type, const char *expected, const char *actual)
{
  if (strcmp (type, "integer") == 0)
    {
      gint64 a, b;

      return g_ascii_string_to_signed (expected, 10, G_MININT64, G_MAXINT64, &a, NULL) &&
             g_ascii_string_to_signed (actual, 10, G_MININT64, G_MAXINT64, &b, NULL) &&
             a == b;
    }
  if (strcmp (type, "float") == 0)
    {
      double a = parse_float_text (expected), b = parse_float_text (actual);

      if (isnan (a) || isnan (b))
        return isnan (a) && isnan (b);
      return a == b && signbit (a) == signbit (b);
    }
  if (g_str_has_prefix (type, "date") || strcmp (type, "time-local") == 0)
    {
      g_autofree char *a = normalise_datetime (expected);
      g_autofree char *b = normalise_datetime (actual);

      return strcmp (a, b) == 0;
    }
  return strcmp (expected, actual) == 0;
}

/* Returns NULL when equal, else a description of the first difference. */
static char *
compare_json (JsonNode *expected, JsonNode *actual, const char *where)
{
  if (is_tagged (expected))
    {
      JsonObject *e, *a;
      const char *etype, *atype, *evalue, *avalue;

      if (!is_tagged (actual))
        return g_strdup_printf ("%s: expected a scalar", where);
      e = json_node_get_object (expected);
      a = json_node_get_object (actual);
      etype = json_object_get_string_member (e, "type");
      atype = json_object_get_string_member (a, "type");
      evalue = json_object_get_string_member (e, "value");
      avalue = json_object_get_string_member (a, "value");
      if (strcmp (etype, atype) != 0)
        return g_strdup_printf ("%s: expected type %s, got %s", where, etype, atype);
      if (!scalars_equal (etype, evalue, avalue))
        return g_strdup_printf ("%s: expected %s \"%s\", got \"%s\"", where, etype, evalue, avalue);
      return NULL;
    }

  if (JSON_NODE_HOLDS_OBJECT (expected))
    {
      JsonObject *e = json_node_get_object (expected), *a;
      g_autoptr(GList) members = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (actual) || is_tagged (actual))
        return g_strdup_printf ("%s: expected a table", where);
      a = json_node_get_object (actual);
      if (json_object_get_size (e) != json_object_get_size (a))
        return g_strdup_printf ("%s: expected %u keys, got %u", where,
                                json_object_get_size (e), json_object_get_size (a));
      members = json_object_get_members (e);
      for (GList *l = members; l != NULL; l = l->next)
        {
          g_autofree char *sub = g_strdup_printf ("%s.%s", where, (const char *) l->data);
          JsonNode *other = json_object_get_member (a, l->data);
          char *diff;

          if (other == NULL)
            return g_strdup_printf ("%s: missing", sub);
          diff = compare_json (json_object_get_member (e, l->data), other, sub);
          if (diff != NULL)
            return diff;
        }
      return NULL;
    }

  if (JSON_NODE_HOLDS_ARRAY (expected))
    {
      JsonArray *e = json_node_get_array (expected), *a;

      if (!JSON_NODE_HOLDS_ARRAY (actual))
        return g_strdup_printf ("%s: expected an array", where);
      a = json_node_get_array (actual);
      if (json_array_get_length (e) != json_array_get_length (a))
        return g_strdup_printf ("%s: expected %u elements, got %u", where,
                                json_array_get_length (e), json_array_get_length (a));
      for (guint i = 0; i < json_array_get_length (e); i++)
        {
          g_autofree char *sub = g_strdup_printf ("%s[%u]", where, i);
          char *diff = compare_json (json_array_get_element (e, i),
                                     json_array_get_element (a, i), sub);

          if (diff != NULL)
            return diff;
        }
      return NULL;
    }

  return g_strdup_printf ("%s: unexpected JSON in the expected file", where);
}

/* ------------------------------------------------------------------------ */
/* Suite cases                                                               */

static void
test_valid (gconstpointer data)
{
  const char *relative = data;  /* valid/....toml */
  g_autofree char *toml_path = g_build_filename (suite_dir, relative, NULL);
  g_autofree char *stem = g_strndup (toml_path, strlen (toml_path) - strlen (".toml"));
  g_autofree char *json_path = g_strconcat (stem, ".json", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(BgrTomlValue) doc = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonNode) actual = NULL;
  g_autofree char *diff = NULL;

  doc = bgr_toml_parse_file (toml_path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (doc);
  g_assert_cmpint (bgr_toml_value_get_kind (doc), ==, BGR_TOML_TABLE);

  json_parser_load_from_file (parser, json_path, &error);
  g_assert_no_error (error);

  actual = to_tagged_json (doc);
  diff = compare_json (json_parser_get_root (parser), actual, "$");
  g_assert_cmpstr (diff, ==, NULL);
}

/* "FILE:LINE:COLUMN: text", with positive numbers and some text. */
static void
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

static void
test_invalid (gconstpointer data)
{
  const char *relative = data;  /* invalid/....toml */
  g_autofree char *path = g_build_filename (suite_dir, relative, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(BgrTomlValue) doc = NULL;

  doc = bgr_toml_parse_file (path, &error);
  g_assert_null (doc);
  g_assert_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG);
  assert_error_format (error->message, path);
  g_test_message ("%s", error->message);
}

static void
test_suite_skipped (void)
{
  g_test_skip ("BANGER_TOML_TEST_DIR is not set");
}

static void
test_suite_missing (gconstpointer data)
{
  g_test_message ("cannot read the list of cases: %s", (const char *) data);
  g_test_fail ();
}

/* Registers one case per .toml file listed for TOML 1.0.0. */
static void
add_suite_tests (const char *dir)
{
  g_autofree char *list_path = NULL;
  g_autofree char *list = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) error = NULL;

  /* Accept the toml-test checkout itself as well as its tests/ folder. */
  list_path = g_build_filename (dir, "files-toml-1.0.0", NULL);
  if (g_file_test (list_path, G_FILE_TEST_EXISTS))
    suite_dir = g_strdup (dir);
  else
    {
      suite_dir = g_build_filename (dir, "tests", NULL);
      g_free (list_path);
      list_path = g_build_filename (suite_dir, "files-toml-1.0.0", NULL);
    }

  if (!g_file_get_contents (list_path, &list, NULL, &error))
    {
      g_test_add_data_func_full ("/toml/suite", g_strdup (error->message),
                                 test_suite_missing, g_free);
      return;
    }

  lines = g_strsplit (list, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = g_strstrip (lines[i]);
      g_autofree char *stem = NULL;
      g_autofree char *test_path = NULL;

      if (!g_str_has_suffix (line, ".toml"))
        continue;  /* the .json files go with their .toml */
      stem = g_strndup (line, strlen (line) - strlen (".toml"));
      test_path = g_strconcat ("/toml/", stem, NULL);
      if (g_str_has_prefix (line, "valid/"))
        g_test_add_data_func_full (test_path, g_strdup (line), test_valid, g_free);
      else if (g_str_has_prefix (line, "invalid/"))
        g_test_add_data_func_full (test_path, g_strdup (line), test_invalid, g_free);
    }
}

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
  const char *dir;
  int status;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/toml/unit/duplicate-key-position", test_duplicate_key_position);
  g_test_add_func ("/toml/unit/error-positions", test_error_positions);
  g_test_add_func ("/toml/unit/bad-bytes", test_bad_bytes);
  g_test_add_func ("/toml/unit/value-lines", test_value_lines);
  g_test_add_func ("/toml/unit/key-order", test_key_order);
  g_test_add_func ("/toml/unit/date-strings", test_date_strings);
  g_test_add_func ("/toml/unit/nul-in-strings", test_nul_in_strings);
  g_test_add_func ("/toml/unit/parse-file-errors", test_parse_file_errors);

  dir = g_getenv ("BANGER_TOML_TEST_DIR");
  if (dir == NULL || *dir == '\0')
    g_test_add_func ("/toml/suite", test_suite_skipped);
  else
    add_suite_tests (dir);

  status = g_test_run ();
  g_free (suite_dir);
  return status;
}
