/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bgr-toml.c: a strict TOML 1.0.0 parser, private to libbanger.
 *
 * The parser is a hand-written recursive descent over the raw bytes. It is
 * deliberately strict: banger reads configuration files with it, and a typo
 * that a lenient parser would silently accept (a duplicate key, a table that
 * is opened twice, a number that overflows) is better reported with its exact
 * place than turned into a surprising setting.
 *
 * Overview:
 *  - the whole input is checked to be UTF-8 first, so that the rest of the
 *    code can work on bytes and only needs to care about ASCII syntax;
 *  - positions are kept as byte offsets and turned into line/column only when
 *    a value is created or an error is reported (see toml_locate());
 *  - the document is built while parsing; the rules about which tables may be
 *    extended from where are enforced with three flags on tables (frozen,
 *    defined, dotted), see open_header() and open_dotted_key().
 */

#include <math.h>
#include <string.h>

#include <banger/bgr-error.h>

#include "bgr-toml-internal.h"

/* ------------------------------------------------------------------------ */
/* Values, arrays, inline tables                                             */

static gboolean parse_value (Parser *p, BgrTomlValue **out);
static gboolean parse_keyval (Parser *p, BgrTomlValue *table);

static gboolean
parse_string_value (Parser *p, BgrTomlValue **out)
{
  gsize start = p->pos;
  GString *text = g_string_new (NULL);
  gboolean ok;

  ok = toml_is_triple_quote (p) ? toml_parse_multi_line_string (p, text)
                           : toml_parse_single_line_string (p, text);
  if (!ok)
    {
      g_string_free (text, TRUE);
      return FALSE;
    }
  *out = toml_value_new_at (p, BGR_TOML_STRING, start);
  (*out)->u.string.len = text->len;
  (*out)->u.string.str = g_string_free (text, FALSE);
  return TRUE;
}

static gboolean
parse_array (Parser *p, BgrTomlValue **out)
{
  gsize open = p->pos;
  g_autoptr(BgrTomlValue) array = toml_value_new_at (p, BGR_TOML_ARRAY, open);

  p->pos++;
  for (;;)
    {
      BgrTomlValue *element;
      g_autofree char *found = NULL;

      if (!toml_skip_ws_comments_newlines (p))
        return FALSE;
      if (toml_peek (p) == ']')
        break;
      if (!parse_value (p, &element))
        return FALSE;
      g_ptr_array_add (array->u.array, element);
      if (!toml_skip_ws_comments_newlines (p))
        return FALSE;
      if (toml_peek (p) == ',')
        {
          p->pos++;
          continue;
        }
      if (toml_peek (p) == ']')
        break;
      if (toml_peek (p) == -1)
        return toml_fail_at (p, open, "unterminated array");
      found = toml_describe_char (p, p->pos);
      return toml_fail_at (p, p->pos, "expected ',' or ']' after an array element, found %s", found);
    }
  p->pos++;
  /* A static array can never be extended, e.g. by [[array]] headers. */
  array->frozen = TRUE;
  *out = g_steal_pointer (&array);
  return TRUE;
}

static gboolean
parse_inline_table (Parser *p, BgrTomlValue **out)
{
  gsize open = p->pos;
  g_autoptr(BgrTomlValue) table = toml_value_new_at (p, BGR_TOML_TABLE, open);

  p->pos++;
  toml_skip_ws (p);
  if (toml_peek (p) != '}')
    for (;;)
      {
        g_autofree char *found = NULL;
        int c;

        /* TOML 1.0 inline tables live on one line: no newlines, no
         * comments, no trailing comma. */
        toml_skip_ws (p);
        if (toml_peek (p) == '\n' || toml_peek (p) == '\r')
          return toml_fail_at (p, p->pos, "newlines are not allowed in an inline table");
        if (!parse_keyval (p, table))
          return FALSE;
        toml_skip_ws (p);
        c = toml_peek (p);
        if (c == '}')
          break;
        if (c == ',')
          {
            p->pos++;
            toml_skip_ws (p);
            if (toml_peek (p) == '}')
              return toml_fail_at (p, p->pos - 1, "trailing comma is not allowed in an inline table");
            continue;
          }
        if (c == -1)
          return toml_fail_at (p, open, "unterminated inline table");
        if (c == '\n' || c == '\r')
          return toml_fail_at (p, p->pos, "newlines are not allowed in an inline table");
        found = toml_describe_char (p, p->pos);
        return toml_fail_at (p, p->pos, "expected ',' or '}' in an inline table, found %s", found);
      }
  p->pos++;
  table->frozen = TRUE;
  *out = g_steal_pointer (&table);
  return TRUE;
}

static gboolean
parse_value (Parser *p, BgrTomlValue **out)
{
  int c = toml_peek (p);
  gboolean ok;

  if (c == '"' || c == '\'')
    return parse_string_value (p, out);
  if (c != '[' && c != '{')
    return toml_parse_bare_value (p, out);

  if (p->depth >= MAX_NESTING)
    return toml_fail_at (p, p->pos, "arrays and inline tables are nested too deeply");
  p->depth++;
  ok = c == '[' ? parse_array (p, out) : parse_inline_table (p, out);
  p->depth--;
  return ok;
}

/* ------------------------------------------------------------------------ */
/* Tables                                                                    */

/* Walks the dotted key of a key/value pair from @table, creating or
 * re-opening the intermediate tables, and returns the table that will hold
 * the last part. TOML lets dotted keys extend a table only while it is being
 * built by dotted keys in the same section: not a table defined by a
 * header, not an inline table, and not one completed by an earlier section. */
static gboolean
open_dotted_key (Parser *p, BgrTomlValue *table, GArray *key, BgrTomlValue **out)
{
  for (guint i = 0; i + 1 < key->len; i++)
    {
      KeyPart *part = &g_array_index (key, KeyPart, i);
      BgrTomlValue *child = toml_table_find (table, part->name);
      g_autofree char *name = NULL;

      if (child == NULL)
        {
          child = toml_value_new_at (p, BGR_TOML_TABLE, part->offset);
          toml_table_insert (table, part->name, child);
        }
      else
        {
          name = toml_format_key (key, i + 1);
          if (child->kind != BGR_TOML_TABLE)
            return toml_fail_at (p, part->offset, "key \"%s\" is already %s (line %u), not a table",
                            name, toml_kind_phrase (child), child->line);
          if (child->frozen)
            return toml_fail_at (p, part->offset, "inline table \"%s\" (line %u) cannot be extended",
                            name, child->line);
          if (child->defined || (child->dotted && child->section != p->section))
            return toml_fail_at (p, part->offset,
                            "table \"%s\" (defined on line %u) cannot be extended here",
                            name, child->line);
        }
      child->dotted = TRUE;
      child->section = p->section;
      table = child;
    }
  *out = table;
  return TRUE;
}

/* key = value, into @table (the current section, or an inline table). */
static gboolean
parse_keyval (Parser *p, BgrTomlValue *table)
{
  g_autoptr(GArray) key = toml_key_new ();
  g_autofree char *found = NULL;
  BgrTomlValue *target = NULL, *existing, *value = NULL;
  KeyPart *last;

  if (!toml_parse_key (p, key))
    return FALSE;
  if (toml_peek (p) != '=')
    {
      found = toml_describe_char (p, p->pos);
      return toml_fail_at (p, p->pos, "expected '=' after a key, found %s", found);
    }
  p->pos++;
  toml_skip_ws (p);

  /* Resolve the key before parsing the value, so that a duplicate key is
   * reported before any problem further right on the line. */
  if (!open_dotted_key (p, table, key, &target))
    return FALSE;
  last = &g_array_index (key, KeyPart, key->len - 1);
  existing = toml_table_find (target, last->name);
  if (existing != NULL)
    {
      g_autofree char *name = toml_format_key (key, key->len);

      return toml_fail_at (p, last->offset, "duplicate key \"%s\" (first defined on line %u)",
                      name, existing->line);
    }

  if (!parse_value (p, &value))
    return FALSE;
  toml_table_insert (target, last->name, value);
  return TRUE;
}

/* Applies a [header] or [[header]]: finds or creates the table and makes it
 * the current one. Intermediate parts may go through any table that is not
 * inline, and through the last element of an array of tables. */
static gboolean
open_header (Parser *p, GArray *key, gboolean is_array, gsize header_offset)
{
  BgrTomlValue *table = p->root, *child;
  KeyPart *last = &g_array_index (key, KeyPart, key->len - 1);
  g_autofree char *name = NULL;
  guint line, column;

  toml_locate (p, header_offset, &line, &column);
  /* A new section: tables built by dotted keys so far are now complete. */
  p->section++;

  for (guint i = 0; i + 1 < key->len; i++)
    {
      KeyPart *part = &g_array_index (key, KeyPart, i);

      child = toml_table_find (table, part->name);
      if (child == NULL)
        {
          /* Implicitly created: a later header may still define it. */
          child = toml_value_new (BGR_TOML_TABLE, line, column);
          toml_table_insert (table, part->name, child);
        }
      else if (child->kind == BGR_TOML_ARRAY && !child->frozen)
        child = g_ptr_array_index (child->u.array, child->u.array->len - 1);
      else if (child->kind != BGR_TOML_TABLE)
        {
          name = toml_format_key (key, i + 1);
          return toml_fail_at (p, part->offset, "key \"%s\" is already %s (line %u), not a table",
                          name, toml_kind_phrase (child), child->line);
        }
      else if (child->frozen)
        {
          name = toml_format_key (key, i + 1);
          return toml_fail_at (p, part->offset, "inline table \"%s\" (line %u) cannot be extended",
                          name, child->line);
        }
      table = child;
    }

  name = toml_format_key (key, key->len);
  child = toml_table_find (table, last->name);

  if (!is_array)
    {
      if (child == NULL)
        {
          child = toml_value_new (BGR_TOML_TABLE, line, column);
          toml_table_insert (table, last->name, child);
        }
      else if (child->kind != BGR_TOML_TABLE)
        return toml_fail_at (p, last->offset, "key \"%s\" is already %s (line %u), not a table",
                        name, toml_kind_phrase (child), child->line);
      else if (child->frozen)
        return toml_fail_at (p, last->offset, "inline table \"%s\" (line %u) cannot be extended",
                        name, child->line);
      else if (child->defined || child->dotted)
        return toml_fail_at (p, last->offset, "table \"%s\" is already defined (line %u)",
                        name, child->line);
      else
        {
          /* It existed only implicitly; from now on it has its own line. */
          child->line = line;
          child->column = column;
        }
      child->defined = TRUE;
      p->current = child;
      return TRUE;
    }

  if (child == NULL)
    {
      child = toml_value_new (BGR_TOML_ARRAY, line, column);
      toml_table_insert (table, last->name, child);
    }
  else if (child->kind != BGR_TOML_ARRAY || child->frozen)
    return toml_fail_at (p, last->offset, "key \"%s\" is already %s (line %u), not an array of tables",
                    name, toml_kind_phrase (child), child->line);

  p->current = toml_value_new (BGR_TOML_TABLE, line, column);
  p->current->defined = TRUE;
  g_ptr_array_add (child->u.array, p->current);
  return TRUE;
}

/* At '[': "[key]" or "[[key]]". The double brackets must be adjacent. */
static gboolean
parse_header (Parser *p)
{
  g_autoptr(GArray) key = toml_key_new ();
  gsize start = p->pos;
  gboolean is_array = toml_peek_at (p, 1) == '[';

  p->pos += is_array ? 2 : 1;
  if (!toml_parse_key (p, key))
    return FALSE;
  if (toml_peek (p) != ']' || (is_array && toml_peek_at (p, 1) != ']'))
    {
      /* For "[[a] ]", point at what follows the first ']'. */
      gsize at = is_array && toml_peek (p) == ']' ? p->pos + 1 : p->pos;
      g_autofree char *found = toml_describe_char (p, at);

      return toml_fail_at (p, at, "expected '%s' to close the table header, found %s",
                      is_array ? "]]" : "]", found);
    }
  p->pos += is_array ? 2 : 1;
  return open_header (p, key, is_array, start);
}

static gboolean
parse_document (Parser *p)
{
  while (p->pos < p->len)
    {
      int c;

      toml_skip_ws (p);
      c = toml_peek (p);
      if (c == '[')
        {
          if (!parse_header (p) || !toml_expect_end_of_line (p, "a table header"))
            return FALSE;
        }
      else if (c == '#' || c == '\n' || c == '\r' || c == -1)
        {
          if (!toml_expect_end_of_line (p, NULL))
            return FALSE;
        }
      else if (!parse_keyval (p, p->current) || !toml_expect_end_of_line (p, "a value"))
        return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Public entry points                                                       */

BgrTomlValue *
bgr_toml_parse (const char *data, gsize len, const char *filename, GError **error)
{
  Parser p = { 0 };
  gsize bad;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  p.data = (const guchar *) (data != NULL ? data : "");
  p.len = len;
  p.filename = filename != NULL ? filename : "<input>";
  p.loc_line = 1;
  p.loc_column = 1;
  p.root = toml_value_new (BGR_TOML_TABLE, 1, 1);
  p.current = p.root;

  /* A UTF-8 byte order mark is allowed at the very start, and only there. */
  if (p.len >= 3 && memcmp (p.data, "\xEF\xBB\xBF", 3) == 0)
    p.pos = p.bom_len = p.loc_offset = 3;

  /* Checked up front, so that everything else can work on bytes. */
  bad = toml_find_invalid_utf8 (p.data, p.len);
  if (bad < p.len)
    toml_fail_at (&p, bad, "invalid UTF-8 byte 0x%02X", p.data[bad]);
  else
    parse_document (&p);

  if (p.error != NULL)
    {
      bgr_toml_value_free (p.root);
      g_propagate_error (error, p.error);
      return NULL;
    }
  return p.root;
}

BgrTomlValue *
bgr_toml_parse_file (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize len = 0;

  g_return_val_if_fail (path != NULL, NULL);

  if (!g_file_get_contents (path, &contents, &len, &local_error))
    {
      int code = BGR_ERROR_IO;

      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        code = BGR_ERROR_NOT_FOUND;
      else if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_ACCES) ||
               g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_PERM))
        code = BGR_ERROR_PERMISSION_DENIED;
      g_set_error_literal (error, BGR_ERROR, code, local_error->message);
      return NULL;
    }
  return bgr_toml_parse (contents, len, path, error);
}
