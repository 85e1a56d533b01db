/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-toml-suite.c: checks the TOML parser against the toml-test vectors
 * (BANGER_TOML_TEST_DIR, the folder holding files-toml-1.0.0); the
 * hand-written cases are test-toml-cases.c. */

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
#include "toml-test-util.h"

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

int
main (int argc, char **argv)
{
  const char *dir;
  int status;

  g_test_init (&argc, &argv, NULL);

  dir = g_getenv ("BANGER_TOML_TEST_DIR");
  if (dir == NULL || *dir == '\0')
    g_test_add_func ("/toml/suite", test_suite_skipped);
  else
    add_suite_tests (dir);

  status = g_test_run ();
  g_free (suite_dir);
  return status;
}
