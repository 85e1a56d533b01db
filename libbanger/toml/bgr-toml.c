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
 *    a value is created or an error is reported (see locate());
 *  - the document is built while parsing; the rules about which tables may be
 *    extended from where are enforced with three flags on tables (frozen,
 *    defined, dotted), see open_header() and open_dotted_key().
 */

#include <math.h>
#include <string.h>

#include <banger/bgr-error.h>

#include "bgr-toml-private.h"

/* Bounds on nesting. TOML sets none, but a configuration file never needs
 * deep nesting, and bounding it keeps the recursion (here, when freeing, and
 * in every consumer that walks the tree) far from the end of the stack. */
#define MAX_NESTING   128  /* arrays and inline tables inside each other */
#define MAX_KEY_PARTS 128  /* simple keys in one dotted key or header */

struct _BgrTomlValue {
  BgrTomlType kind;
  guint line;
  guint column;

  /* Bookkeeping that makes the table rules enforceable while parsing:
   *  - frozen: an inline table or a static array ("a = [...]"); TOML forbids
   *    adding anything to them afterwards, by header or by dotted key.
   *  - defined: a table named by a [header] (or an element of [[array]]);
   *    it may not be defined again nor extended by dotted keys from another
   *    section.
   *  - dotted/section: a table created or extended by dotted keys, and the
   *    section (header block) where that happened. Dotted keys may extend it
   *    only within that same section, and no header may define it. */
  guint frozen : 1;
  guint defined : 1;
  guint dotted : 1;
  guint section;

  union {
    struct {
      char *str;  /* NUL-terminated, but may also hold NULs ("\u0000") */
      gsize len;
    } string;     /* STRING and the four date/time kinds */
    gint64 integer;
    double number;
    gboolean boolean;
    GPtrArray *array;  /* of BgrTomlValue *, owned */
    struct {
      GPtrArray *keys;    /* of GString *, owned, in document order */
      GPtrArray *values;  /* of BgrTomlValue *, owned, parallel to keys */
      GHashTable *index;  /* GString * -> BgrTomlValue *, both borrowed */
    } table;
  } u;
};

/* One simple key of a dotted key, with its offset for error messages. */
typedef struct {
  GString *name;
  gsize offset;
} KeyPart;

typedef struct {
  const guchar *data;
  gsize len;
  gsize pos;
  const char *filename;
  GError *error;

  /* locate() cache: the line and column at offset loc_offset. */
  gsize loc_offset;
  guint loc_line;
  guint loc_column;
  gsize bom_len;

  BgrTomlValue *root;
  BgrTomlValue *current;  /* table that receives key/value pairs */
  guint section;          /* incremented at each [header] */
  guint depth;            /* current nesting of arrays and inline tables */
} Parser;

/* ------------------------------------------------------------------------ */
/* Values                                                                    */

static guint
key_hash (gconstpointer key)
{
  return g_string_hash (key);
}

static gboolean
key_equal (gconstpointer a, gconstpointer b)
{
  return g_string_equal (a, b);
}

static void
key_free (gpointer key)
{
  g_string_free (key, TRUE);
}

static void
value_free_cb (gpointer value)
{
  bgr_toml_value_free (value);
}

static BgrTomlValue *
value_new (BgrTomlType kind, guint line, guint column)
{
  BgrTomlValue *v = g_new0 (BgrTomlValue, 1);

  v->kind = kind;
  v->line = line;
  v->column = column;
  if (kind == BGR_TOML_TABLE)
    {
      v->u.table.keys = g_ptr_array_new_with_free_func (key_free);
      v->u.table.values = g_ptr_array_new_with_free_func (value_free_cb);
      v->u.table.index = g_hash_table_new (key_hash, key_equal);
    }
  else if (kind == BGR_TOML_ARRAY)
    v->u.array = g_ptr_array_new_with_free_func (value_free_cb);
  return v;
}

static gboolean
is_string_kind (BgrTomlType kind)
{
  return kind == BGR_TOML_STRING || kind == BGR_TOML_DATETIME ||
         kind == BGR_TOML_DATETIME_LOCAL || kind == BGR_TOML_DATE_LOCAL ||
         kind == BGR_TOML_TIME_LOCAL;
}

void
bgr_toml_value_free (BgrTomlValue *value)
{
  if (value == NULL)
    return;

  if (value->kind == BGR_TOML_TABLE)
    {
      /* The index borrows keys and values: drop it first. */
      g_hash_table_unref (value->u.table.index);
      g_ptr_array_unref (value->u.table.values);
      g_ptr_array_unref (value->u.table.keys);
    }
  else if (value->kind == BGR_TOML_ARRAY)
    g_ptr_array_unref (value->u.array);
  else if (is_string_kind (value->kind))
    g_free (value->u.string.str);
  g_free (value);
}

static BgrTomlValue *
table_find (const BgrTomlValue *table, const GString *key)
{
  return g_hash_table_lookup (table->u.table.index, key);
}

/* Appends; the caller has checked that @key is not there yet. */
static void
table_insert (BgrTomlValue *table, const GString *key, BgrTomlValue *value)
{
  GString *copy = g_string_new_len (key->str, key->len);

  g_ptr_array_add (table->u.table.keys, copy);
  g_ptr_array_add (table->u.table.values, value);
  g_hash_table_insert (table->u.table.index, copy, value);
}

/* "a boolean", "an inline table"...: used to say what a key already holds. */
static const char *
kind_phrase (const BgrTomlValue *v)
{
  switch (v->kind)
    {
    case BGR_TOML_TABLE:
      return v->frozen ? "an inline table" : "a table";
    case BGR_TOML_ARRAY:
      return v->frozen ? "an array" : "an array of tables";
    case BGR_TOML_STRING:
      return "a string";
    case BGR_TOML_INTEGER:
      return "an integer";
    case BGR_TOML_FLOAT:
      return "a float";
    case BGR_TOML_BOOLEAN:
      return "a boolean";
    case BGR_TOML_DATETIME:
      return "a date-time";
    case BGR_TOML_DATETIME_LOCAL:
      return "a local date-time";
    case BGR_TOML_DATE_LOCAL:
      return "a local date";
    case BGR_TOML_TIME_LOCAL:
      return "a local time";
    default:
      return "a value";
    }
}

/* ------------------------------------------------------------------------ */
/* Positions and errors                                                      */

/* Turns a byte offset into a 1-based line and column. Columns count
 * characters, not bytes, so that they match what an editor shows. Values
 * are created in document order, so counting on from the previous answer
 * keeps this linear overall, even for one very long line; only an error may
 * point back (to an unclosed quote, say), and then we count from the start. */
static void
locate (Parser *p, gsize offset, guint *line, guint *column)
{
  if (offset > p->len)
    offset = p->len;
  if (offset < p->loc_offset)
    {
      /* A byte order mark does not count as a column. */
      p->loc_offset = MIN (p->bom_len, offset);
      p->loc_line = 1;
      p->loc_column = 1;
    }
  for (gsize i = p->loc_offset; i < offset; i++)
    {
      if (p->data[i] == '\n')
        {
          p->loc_line++;
          p->loc_column = 1;
        }
      else if ((p->data[i] & 0xC0) != 0x80)  /* not a UTF-8 continuation byte */
        p->loc_column++;
    }
  p->loc_offset = offset;

  *line = p->loc_line;
  *column = p->loc_column;
}

static gboolean fail_at (Parser *p, gsize offset, const char *format, ...) G_GNUC_PRINTF (3, 4);

/* Records the (first) error and returns FALSE, so that callers can write
 * "return fail_at (...)". */
static gboolean
fail_at (Parser *p, gsize offset, const char *format, ...)
{
  g_autofree char *msg = NULL;
  va_list args;
  guint line, column;

  if (p->error != NULL)
    return FALSE;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);

  locate (p, offset, &line, &column);
  g_set_error (&p->error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG, "%s:%u:%u: %s",
               p->filename, line, column, msg);
  return FALSE;
}

static BgrTomlValue *
value_new_at (Parser *p, BgrTomlType kind, gsize offset)
{
  guint line, column;

  locate (p, offset, &line, &column);
  return value_new (kind, line, column);
}

/* A readable name for the character at @offset, for "found ..." messages. */
static char *
describe_char (Parser *p, gsize offset)
{
  guchar c;

  if (offset >= p->len)
    return g_strdup ("end of file");
  c = p->data[offset];
  if (c == '\n' || (c == '\r' && offset + 1 < p->len && p->data[offset + 1] == '\n'))
    return g_strdup ("end of line");
  if (c < 0x20 || c == 0x7F)
    return g_strdup_printf ("control character U+%04X", c);
  if (c < 0x80)
    return g_strdup_printf ("'%c'", c);
  /* The input was validated, so this decodes a complete character. */
  return g_strdup_printf ("character U+%04X",
                          g_utf8_get_char ((const char *) p->data + offset));
}

/* Formats a (part of a) dotted key for messages: bare parts as they are,
 * others quoted so that "a.b" and "'a.b'" stay distinguishable. */
static char *
format_key (GArray *key, guint n_parts)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < n_parts; i++)
    {
      const GString *name = g_array_index (key, KeyPart, i).name;
      gboolean bare = name->len > 0;
      char quote;

      for (gsize j = 0; j < name->len && bare; j++)
        bare = g_ascii_isalnum (name->str[j]) || name->str[j] == '-' || name->str[j] == '_';

      if (i > 0)
        g_string_append_c (out, '.');
      if (bare)
        {
          g_string_append_len (out, name->str, name->len);
          continue;
        }
      /* As a literal key if that can show it, else as an escaped one. */
      quote = '\'';
      for (gsize j = 0; j < name->len; j++)
        if ((guchar) name->str[j] < 0x20 || name->str[j] == 0x7F || name->str[j] == '\'')
          quote = '"';
      g_string_append_c (out, quote);
      for (gsize j = 0; j < name->len; j++)
        {
          guchar c = name->str[j];

          if (quote == '"' && (c < 0x20 || c == 0x7F))
            g_string_append_printf (out, "\\u%04X", c);
          else if (quote == '"' && (c == '"' || c == '\\'))
            g_string_append_printf (out, "\\%c", c);
          else
            g_string_append_c (out, c);
        }
      g_string_append_c (out, quote);
    }
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Characters                                                                */

static int
peek_at (Parser *p, gsize ahead)
{
  return p->pos + ahead < p->len ? p->data[p->pos + ahead] : -1;
}

static int
peek (Parser *p)
{
  return peek_at (p, 0);
}

/* TOML forbids these raw in comments and strings: U+0000-U+001F except tab,
 * and U+007F. Newlines are handled by the callers. */
static gboolean
is_control (int c)
{
  return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7F;
}

static gboolean
is_bare_key_char (int c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static guint
digit_value (int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return 99;
}

/* Returns the offset of the first byte that is not valid UTF-8, or @len.
 * Written out rather than using g_utf8_validate() because that one stops at
 * NUL, which is valid UTF-8 and gets its own, clearer error later. */
static gsize
find_invalid_utf8 (const guchar *s, gsize len)
{
  gsize i = 0;

  while (i < len)
    {
      guchar c = s[i];
      gunichar cp, min;
      guint n;

      if (c < 0x80)
        {
          i++;
          continue;
        }
      /* The lead byte gives the number of continuation bytes, and the
       * smallest code point that needs that many (to catch overlong forms). */
      if ((c & 0xE0) == 0xC0)
        {
          n = 1, cp = c & 0x1F, min = 0x80;
        }
      else if ((c & 0xF0) == 0xE0)
        {
          n = 2, cp = c & 0x0F, min = 0x800;
        }
      else if ((c & 0xF8) == 0xF0)
        {
          n = 3, cp = c & 0x07, min = 0x10000;
        }
      else
        return i;
      if (n >= len - i)
        return i;
      for (guint j = 1; j <= n; j++)
        {
          if ((s[i + j] & 0xC0) != 0x80)
            return i;
          cp = (cp << 6) | (s[i + j] & 0x3F);
        }
      /* UTF-8 may not encode surrogates nor go past U+10FFFF. */
      if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return i;
      i += n + 1;
    }
  return len;
}

static void
skip_ws (Parser *p)
{
  while (peek (p) == ' ' || peek (p) == '\t')
    p->pos++;
}

/* At '#': skips the comment up to, not including, the end of the line. */
static gboolean
skip_comment (Parser *p)
{
  for (p->pos++; p->pos < p->len; p->pos++)
    {
      int c = p->data[p->pos];

      if (c == '\n' || (c == '\r' && peek_at (p, 1) == '\n'))
        break;
      if (is_control (c))
        return fail_at (p, p->pos, "control character U+%04X is not allowed in a comment", c);
    }
  return TRUE;
}

/* Consumes LF or CRLF if one is next. A lone CR is an error: TOML has no
 * old-Mac line endings, and it would silently join or split lines. */
static gboolean
skip_newline (Parser *p, gboolean *found)
{
  *found = FALSE;
  if (peek (p) == '\n')
    p->pos++;
  else if (peek (p) == '\r')
    {
      if (peek_at (p, 1) != '\n')
        return fail_at (p, p->pos, "carriage return must be followed by a newline");
      p->pos += 2;
    }
  else
    return TRUE;
  *found = TRUE;
  return TRUE;
}

/* Whitespace, comments and newlines, as allowed between array elements. */
static gboolean
skip_ws_comments_newlines (Parser *p)
{
  gboolean newline = TRUE;

  while (newline)
    {
      skip_ws (p);
      if (peek (p) == '#' && !skip_comment (p))
        return FALSE;
      if (!skip_newline (p, &newline))
        return FALSE;
    }
  return TRUE;
}

/* After an expression: optional whitespace and comment, then a newline or
 * the end of the file. @after names what came before, for the message. */
static gboolean
expect_end_of_line (Parser *p, const char *after)
{
  gboolean newline;
  g_autofree char *found = NULL;

  skip_ws (p);
  if (peek (p) == '#' && !skip_comment (p))
    return FALSE;
  if (!skip_newline (p, &newline))
    return FALSE;
  if (newline || p->pos >= p->len)
    return TRUE;
  found = describe_char (p, p->pos);
  if (after == NULL)
    return fail_at (p, p->pos, "unexpected %s", found);
  return fail_at (p, p->pos, "unexpected %s after %s", found, after);
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                   */

/* At a backslash in a basic string: appends the escaped character. */
static gboolean
parse_escape (Parser *p, GString *out)
{
  int c = peek_at (p, 1);
  guint n_hex;
  gunichar cp = 0;

  switch (c)
    {
    case 'b': g_string_append_c (out, '\b'); p->pos += 2; return TRUE;
    case 't': g_string_append_c (out, '\t'); p->pos += 2; return TRUE;
    case 'n': g_string_append_c (out, '\n'); p->pos += 2; return TRUE;
    case 'f': g_string_append_c (out, '\f'); p->pos += 2; return TRUE;
    case 'r': g_string_append_c (out, '\r'); p->pos += 2; return TRUE;
    case '"': g_string_append_c (out, '"'); p->pos += 2; return TRUE;
    case '\\': g_string_append_c (out, '\\'); p->pos += 2; return TRUE;
    case 'u': n_hex = 4; break;
    case 'U': n_hex = 8; break;
    default:
      /* \e, \xHH and friends are TOML 1.1 or never: reject them. */
      if (c > 0x20 && c < 0x7F)
        return fail_at (p, p->pos, "invalid escape sequence \"\\%c\"", c);
      return fail_at (p, p->pos, "invalid escape sequence: '\\' must be followed by an escape character");
    }

  for (guint i = 0; i < n_hex; i++)
    {
      guint d = digit_value (peek_at (p, 2 + i));

      if (d > 15)
        return fail_at (p, p->pos, "invalid escape sequence: \"\\%c\" needs %u hexadecimal digits",
                        c, n_hex);
      cp = (cp << 4) | d;
    }
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return fail_at (p, p->pos, "escape sequence \"%.*s\" is not a Unicode scalar value",
                    (int) (n_hex + 2), (const char *) p->data + p->pos);
  g_string_append_unichar (out, cp);
  p->pos += 2 + n_hex;
  return TRUE;
}

/* "..." and '...': one line, escapes only in the first. */
static gboolean
parse_single_line_string (Parser *p, GString *out)
{
  int quote = peek (p);
  gsize open = p->pos;

  for (p->pos++;;)
    {
      int c = peek (p);

      if (c == quote)
        {
          p->pos++;
          return TRUE;
        }
      if (c == -1)
        return fail_at (p, open, "unterminated string");
      if (c == '\n' || (c == '\r' && peek_at (p, 1) == '\n'))
        return fail_at (p, p->pos, "unterminated string: a single-line string ends before the end of the line");
      if (c == '\\' && quote == '"')
        {
          if (!parse_escape (p, out))
            return FALSE;
          continue;
        }
      if (is_control (c))
        return fail_at (p, p->pos, "control character U+%04X is not allowed in a string%s", c,
                        quote == '"' ? " (use an escape sequence)" : "");
      g_string_append_c (out, c);
      p->pos++;
    }
}

/* In a multi-line basic string, at a backslash: if only whitespace follows
 * up to the end of the line, this is a "line ending backslash", which
 * removes the newline and all whitespace and newlines after it. */
static gboolean
skip_line_ending_backslash (Parser *p)
{
  gsize q = p->pos + 1;

  while (q < p->len && (p->data[q] == ' ' || p->data[q] == '\t'))
    q++;
  if (q >= p->len || !(p->data[q] == '\n' ||
                       (p->data[q] == '\r' && q + 1 < p->len && p->data[q + 1] == '\n')))
    return FALSE;

  p->pos = q;
  for (;;)
    {
      int c = peek (p);

      if (c == ' ' || c == '\t' || c == '\n')
        p->pos++;
      else if (c == '\r' && peek_at (p, 1) == '\n')
        p->pos += 2;
      else
        return TRUE;
    }
}

/* """...""" and '''...'''. */
static gboolean
parse_multi_line_string (Parser *p, GString *out)
{
  int quote = peek (p);
  gsize open = p->pos;
  gboolean newline;

  p->pos += 3;
  /* A newline right after the opening delimiter is not part of the text. */
  if (!skip_newline (p, &newline))
    return FALSE;

  for (;;)
    {
      int c = peek (p);

      if (c == quote)
        {
          /* One or two quotes are content; three end the string. Up to two
           * more may directly precede the closing ones (""""" is a quote
           * pair followed by the delimiter), so look at the whole run. */
          guint run = 0;

          while (peek_at (p, run) == quote)
            run++;
          if (run < 3)
            {
              g_string_append_len (out, (const char *) p->data + p->pos, run);
              p->pos += run;
              continue;
            }
          if (run > 5)
            return fail_at (p, p->pos + 5, "too many quotes at the end of a multi-line string");
          g_string_append_len (out, (const char *) p->data + p->pos, run - 3);
          p->pos += run;
          return TRUE;
        }
      if (c == -1)
        return fail_at (p, open, "unterminated multi-line string");
      if (c == '\\' && quote == '"')
        {
          if (skip_line_ending_backslash (p))
            continue;
          if (!parse_escape (p, out))
            return FALSE;
          continue;
        }
      if (c == '\n' || c == '\r')
        {
          /* CRLF becomes LF: TOML lets parsers normalise newlines, and
           * configuration values should not depend on the editor used. */
          if (!skip_newline (p, &newline))
            return FALSE;
          g_string_append_c (out, '\n');
          continue;
        }
      if (is_control (c))
        return fail_at (p, p->pos, "control character U+%04X is not allowed in a string%s", c,
                        quote == '"' ? " (use an escape sequence)" : "");
      g_string_append_c (out, c);
      p->pos++;
    }
}

static gboolean
is_triple_quote (Parser *p)
{
  int c = peek (p);

  return (c == '"' || c == '\'') && peek_at (p, 1) == c && peek_at (p, 2) == c;
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                      */

static void
key_part_clear (gpointer data)
{
  KeyPart *part = data;

  g_string_free (part->name, TRUE);
}

static GArray *
key_new (void)
{
  GArray *key = g_array_new (FALSE, FALSE, sizeof (KeyPart));

  g_array_set_clear_func (key, key_part_clear);
  return key;
}

/* key = simple-key *( ws "." ws simple-key ), with surrounding whitespace. */
static gboolean
parse_key (Parser *p, GArray *key)
{
  for (;;)
    {
      KeyPart part = { g_string_new (NULL), 0 };
      int c;

      skip_ws (p);
      part.offset = p->pos;
      g_array_append_val (key, part);  /* now owned by @key */
      if (key->len > MAX_KEY_PARTS)
        return fail_at (p, p->pos, "key has more than %d parts", MAX_KEY_PARTS);

      c = peek (p);
      if (is_triple_quote (p))
        return fail_at (p, p->pos, "a multi-line string cannot be used as a key");
      if (c == '"' || c == '\'')
        {
          if (!parse_single_line_string (p, part.name))
            return FALSE;
        }
      else if (is_bare_key_char (c))
        {
          while (is_bare_key_char (peek (p)))
            g_string_append_c (part.name, p->data[p->pos++]);
        }
      else
        {
          g_autofree char *found = describe_char (p, p->pos);

          return fail_at (p, p->pos, "expected a key, found %s", found);
        }

      skip_ws (p);
      if (peek (p) != '.')
        return TRUE;
      p->pos++;
    }
}

/* ------------------------------------------------------------------------ */
/* Numbers, booleans, dates and times                                        */

/* Scans DIGIT *( DIGIT / "_" DIGIT ) in @radix from *@i. Returns FALSE if
 * there is no digit at *@i. Stops before anything else, including an
 * underscore that is not followed by a digit, so that the caller sees it. */
static gboolean
scan_digits (const char *s, gsize n, gsize *i, guint radix)
{
  if (*i >= n || digit_value (s[*i]) >= radix)
    return FALSE;
  while (*i < n)
    {
      if (digit_value (s[*i]) < radix)
        (*i)++;
      else if (s[*i] == '_' && *i + 1 < n && digit_value (s[*i + 1]) < radix)
        (*i)++;
      else
        break;
    }
  return TRUE;
}

/* Accumulates the digits of s[from, to) (skipping underscores) into a
 * magnitude; FALSE if it exceeds @limit. */
static gboolean
accumulate (const char *s, gsize from, gsize to, guint radix, guint64 limit, guint64 *out)
{
  guint64 v = 0;

  for (gsize i = from; i < to; i++)
    {
      guint d;

      if (s[i] == '_')
        continue;
      d = digit_value (s[i]);
      if (v > (limit - d) / radix)
        return FALSE;
      v = v * radix + d;
    }
  *out = v;
  return TRUE;
}

static gboolean
token_is (const char *s, gsize n, const char *word)
{
  return strlen (word) == n && memcmp (s, word, n) == 0;
}

/* Why a number was refused: an underscore at the stop point deserves its
 * own explanation, since "1_000_" looks plausible to a human. */
static gboolean
fail_number (Parser *p, gsize start, const char *s, gsize n, gsize stop, const char *what)
{
  if (stop < n && s[stop] == '_')
    return fail_at (p, start + stop, "invalid %s \"%.*s\": '_' must be between two digits",
                    what, (int) n, s);
  return fail_at (p, start, "invalid %s \"%.*s\"", what, (int) n, s);
}

static gboolean
parse_number (Parser *p, gsize start, const char *s, gsize n, BgrTomlValue **out)
{
  gsize i = 0, int_start;
  gboolean has_sign = FALSE, negative = FALSE, is_float = FALSE;
  guint64 magnitude;

  if (s[0] == '+' || s[0] == '-')
    {
      has_sign = TRUE;
      negative = s[0] == '-';
      i = 1;
    }

  /* The sign of nan carries no meaning; keep it anyway, it costs nothing. */
  if (token_is (s + i, n - i, "inf") || token_is (s + i, n - i, "nan"))
    {
      *out = value_new_at (p, BGR_TOML_FLOAT, start);
      (*out)->u.number = s[i] == 'i' ? INFINITY : NAN;
      if (negative)
        (*out)->u.number = -(*out)->u.number;
      return TRUE;
    }

  if (n - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'o' || s[i + 1] == 'b'))
    {
      guint radix = s[i + 1] == 'x' ? 16 : s[i + 1] == 'o' ? 8 : 2;
      const char *what = radix == 16 ? "hexadecimal integer" :
                         radix == 8 ? "octal integer" : "binary integer";

      if (has_sign)
        return fail_at (p, start, "invalid %s \"%.*s\": a sign is not allowed", what, (int) n, s);
      i += 2;
      if (!scan_digits (s, n, &i, radix) || i != n)
        return fail_number (p, start, s, n, i, what);
      if (!accumulate (s, 2, n, radix, G_MAXINT64, &magnitude))
        return fail_at (p, start, "integer \"%.*s\" does not fit in 64 bits", (int) n, s);
      *out = value_new_at (p, BGR_TOML_INTEGER, start);
      (*out)->u.integer = (gint64) magnitude;
      return TRUE;
    }

  /* Decimal: an integer part without leading zeros, then an optional
   * fraction and exponent, each made of digits and inner underscores. */
  int_start = i;
  if (!scan_digits (s, n, &i, 10))
    return fail_number (p, start, s, n, i, "number");
  if (s[int_start] == '0' && i - int_start > 1)
    return fail_at (p, start, "invalid number \"%.*s\": leading zeros are not allowed", (int) n, s);
  if (i < n && s[i] == '.')
    {
      i++;
      is_float = TRUE;
      if (!scan_digits (s, n, &i, 10))
        return fail_number (p, start, s, n, i, "float");
    }
  if (i < n && (s[i] == 'e' || s[i] == 'E'))
    {
      i++;
      is_float = TRUE;
      if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
      if (!scan_digits (s, n, &i, 10))
        return fail_number (p, start, s, n, i, "float");
    }
  if (i != n)
    return fail_number (p, start, s, n, i, is_float ? "float" : "number");

  if (is_float)
    {
      g_autofree char *clean = g_malloc (n + 1);
      gsize len = 0;
      char *end = NULL;
      double d;

      for (gsize j = 0; j < n; j++)
        if (s[j] != '_')
          clean[len++] = s[j];
      clean[len] = '\0';
      d = g_ascii_strtod (clean, &end);  /* locale independent */
      if (end != clean + len)
        return fail_at (p, start, "invalid float \"%.*s\"", (int) n, s);
      if (isinf (d))
        return fail_at (p, start, "float \"%.*s\" is out of range", (int) n, s);
      *out = value_new_at (p, BGR_TOML_FLOAT, start);
      (*out)->u.number = d;
      return TRUE;
    }

  if (!accumulate (s, int_start, n, 10, negative ? (guint64) G_MAXINT64 + 1 : G_MAXINT64,
                   &magnitude))
    return fail_at (p, start, "integer \"%.*s\" does not fit in 64 bits", (int) n, s);
  *out = value_new_at (p, BGR_TOML_INTEGER, start);
  if (negative)
    (*out)->u.integer = magnitude == (guint64) G_MAXINT64 + 1 ? G_MININT64 : -(gint64) magnitude;
  else
    (*out)->u.integer = (gint64) magnitude;
  return TRUE;
}

/* Reads exactly @count decimal digits at s[*i]. */
static gboolean
read_fixed (const char *s, gsize n, gsize *i, guint count, int *out)
{
  int v = 0;

  for (guint k = 0; k < count; k++, (*i)++)
    {
      if (*i >= n || !g_ascii_isdigit (s[*i]))
        return FALSE;
      v = v * 10 + (s[*i] - '0');
    }
  *out = v;
  return TRUE;
}

static int
days_in_month (int year, int month)
{
  static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  gboolean leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

  return month == 2 && leap ? 29 : days[month - 1];
}

/* Parses HH:MM:SS[.fraction] at s[*i]; NULL on success, else the reason. */
static const char *
parse_time_part (const char *s, gsize n, gsize *i)
{
  int hour, minute, second;

  if (!read_fixed (s, n, i, 2, &hour) || *i >= n || s[(*i)++] != ':' ||
      !read_fixed (s, n, i, 2, &minute) || *i >= n || s[(*i)++] != ':' ||
      !read_fixed (s, n, i, 2, &second))
    return "expected a time as HH:MM:SS";
  if (hour > 23)
    return "hour out of range";
  if (minute > 59)
    return "minute out of range";
  if (second > 60)  /* 60 is a leap second, which RFC 3339 allows */
    return "second out of range";
  if (*i < n && s[*i] == '.')
    {
      gsize frac = ++(*i);

      while (*i < n && g_ascii_isdigit (s[*i]))
        (*i)++;
      if (*i == frac)
        return "expected digits after '.'";
    }
  return NULL;
}

/* Dates and times, in the RFC 3339 forms TOML allows. The canonical text
 * kept for the value uses 'T' and 'Z' whatever the case or separator in the
 * source, so that consumers compare and print one spelling. */
static gboolean
parse_datetime (Parser *p, gsize start, const char *s, gsize n, gboolean has_date,
                BgrTomlValue **out)
{
  gsize i = 0;
  const char *what = !has_date ? "time" : n > 10 ? "date-time" : "date";
  const char *reason = NULL;
  BgrTomlType kind = BGR_TOML_DATE_LOCAL;
  char *text;

  if (has_date)
    {
      int year, month, day;

      if (!read_fixed (s, n, &i, 4, &year) || i >= n || s[i++] != '-' ||
          !read_fixed (s, n, &i, 2, &month) || i >= n || s[i++] != '-' ||
          !read_fixed (s, n, &i, 2, &day))
        reason = "expected a date as YYYY-MM-DD";
      else if (month < 1 || month > 12)
        reason = "month out of range";
      else if (day < 1 || day > days_in_month (year, month))
        reason = "day out of range";
      else if (i == n)
        kind = BGR_TOML_DATE_LOCAL;
      else if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
        reason = "expected 'T' between date and time";
      else
        {
          i++;
          reason = parse_time_part (s, n, &i);
          kind = BGR_TOML_DATETIME_LOCAL;
          if (reason == NULL && i < n)
            {
              int off_hour, off_minute;

              kind = BGR_TOML_DATETIME;
              if (s[i] == 'Z' || s[i] == 'z')
                i++;
              else if (s[i] != '+' && s[i] != '-')
                reason = "expected a time offset as Z or +HH:MM";
              else if (i++, !read_fixed (s, n, &i, 2, &off_hour) || i >= n ||
                       s[i++] != ':' || !read_fixed (s, n, &i, 2, &off_minute))
                reason = "expected a time offset as Z or +HH:MM";
              else if (off_hour > 23 || off_minute > 59)
                reason = "time offset out of range";
            }
        }
    }
  else
    {
      reason = parse_time_part (s, n, &i);
      kind = BGR_TOML_TIME_LOCAL;
    }

  if (reason == NULL && i != n)
    reason = "unexpected characters at the end";
  if (reason != NULL)
    return fail_at (p, start, "invalid %s \"%.*s\": %s", what, (int) n, s, reason);

  text = g_strndup (s, n);
  if (has_date && n > 10)
    text[10] = 'T';
  if (text[n - 1] == 'z')
    text[n - 1] = 'Z';
  *out = value_new_at (p, kind, start);
  (*out)->u.string.str = text;
  (*out)->u.string.len = n;
  return TRUE;
}

static gboolean
is_token_char (int c)
{
  return g_ascii_isalnum (c) || c == '_' || c == '+' || c == '-' || c == '.' || c == ':';
}

/* Everything that is not a string, array or inline table: booleans,
 * numbers, dates and times. The token is taken greedily over the characters
 * those can contain, so that trailing garbage ("2020-01-01x", "truer") is
 * part of the token and makes it invalid as a whole. */
static gboolean
parse_bare_value (Parser *p, BgrTomlValue **out)
{
  gsize start = p->pos, end = start, n, digits = 0;
  const char *s = (const char *) p->data + start;

  while (end < p->len && is_token_char (p->data[end]))
    end++;
  /* The one place a value holds a space: "1979-05-27 07:32:00". */
  if (end - start == 10 && s[4] == '-' && s[7] == '-' && end + 3 < p->len &&
      p->data[end] == ' ' && g_ascii_isdigit (p->data[end + 1]) &&
      g_ascii_isdigit (p->data[end + 2]) && p->data[end + 3] == ':')
    {
      end++;
      while (end < p->len && is_token_char (p->data[end]))
        end++;
    }

  n = end - start;
  if (n == 0)
    {
      g_autofree char *found = describe_char (p, start);

      return fail_at (p, start, "expected a value, found %s", found);
    }
  p->pos = end;

  if (token_is (s, n, "true") || token_is (s, n, "false"))
    {
      *out = value_new_at (p, BGR_TOML_BOOLEAN, start);
      (*out)->u.boolean = s[0] == 't';
      return TRUE;
    }

  while (digits < n && g_ascii_isdigit (s[digits]))
    digits++;
  if (digits > 0 && digits < n && (s[digits] == '-' || s[digits] == ':'))
    return parse_datetime (p, start, s, n, s[digits] == '-', out);

  if (g_ascii_isalpha (s[0]) && !token_is (s, n, "inf") && !token_is (s, n, "nan"))
    return fail_at (p, start, "invalid value \"%.*s\" (strings must be quoted)", (int) n, s);

  return parse_number (p, start, s, n, out);
}

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

  ok = is_triple_quote (p) ? parse_multi_line_string (p, text)
                           : parse_single_line_string (p, text);
  if (!ok)
    {
      g_string_free (text, TRUE);
      return FALSE;
    }
  *out = value_new_at (p, BGR_TOML_STRING, start);
  (*out)->u.string.len = text->len;
  (*out)->u.string.str = g_string_free (text, FALSE);
  return TRUE;
}

static gboolean
parse_array (Parser *p, BgrTomlValue **out)
{
  gsize open = p->pos;
  g_autoptr(BgrTomlValue) array = value_new_at (p, BGR_TOML_ARRAY, open);

  p->pos++;
  for (;;)
    {
      BgrTomlValue *element;
      g_autofree char *found = NULL;

      if (!skip_ws_comments_newlines (p))
        return FALSE;
      if (peek (p) == ']')
        break;
      if (!parse_value (p, &element))
        return FALSE;
      g_ptr_array_add (array->u.array, element);
      if (!skip_ws_comments_newlines (p))
        return FALSE;
      if (peek (p) == ',')
        {
          p->pos++;
          continue;
        }
      if (peek (p) == ']')
        break;
      if (peek (p) == -1)
        return fail_at (p, open, "unterminated array");
      found = describe_char (p, p->pos);
      return fail_at (p, p->pos, "expected ',' or ']' after an array element, found %s", found);
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
  g_autoptr(BgrTomlValue) table = value_new_at (p, BGR_TOML_TABLE, open);

  p->pos++;
  skip_ws (p);
  if (peek (p) != '}')
    for (;;)
      {
        g_autofree char *found = NULL;
        int c;

        /* TOML 1.0 inline tables live on one line: no newlines, no
         * comments, no trailing comma. */
        skip_ws (p);
        if (peek (p) == '\n' || peek (p) == '\r')
          return fail_at (p, p->pos, "newlines are not allowed in an inline table");
        if (!parse_keyval (p, table))
          return FALSE;
        skip_ws (p);
        c = peek (p);
        if (c == '}')
          break;
        if (c == ',')
          {
            p->pos++;
            skip_ws (p);
            if (peek (p) == '}')
              return fail_at (p, p->pos - 1, "trailing comma is not allowed in an inline table");
            continue;
          }
        if (c == -1)
          return fail_at (p, open, "unterminated inline table");
        if (c == '\n' || c == '\r')
          return fail_at (p, p->pos, "newlines are not allowed in an inline table");
        found = describe_char (p, p->pos);
        return fail_at (p, p->pos, "expected ',' or '}' in an inline table, found %s", found);
      }
  p->pos++;
  table->frozen = TRUE;
  *out = g_steal_pointer (&table);
  return TRUE;
}

static gboolean
parse_value (Parser *p, BgrTomlValue **out)
{
  int c = peek (p);
  gboolean ok;

  if (c == '"' || c == '\'')
    return parse_string_value (p, out);
  if (c != '[' && c != '{')
    return parse_bare_value (p, out);

  if (p->depth >= MAX_NESTING)
    return fail_at (p, p->pos, "arrays and inline tables are nested too deeply");
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
      BgrTomlValue *child = table_find (table, part->name);
      g_autofree char *name = NULL;

      if (child == NULL)
        {
          child = value_new_at (p, BGR_TOML_TABLE, part->offset);
          table_insert (table, part->name, child);
        }
      else
        {
          name = format_key (key, i + 1);
          if (child->kind != BGR_TOML_TABLE)
            return fail_at (p, part->offset, "key \"%s\" is already %s (line %u), not a table",
                            name, kind_phrase (child), child->line);
          if (child->frozen)
            return fail_at (p, part->offset, "inline table \"%s\" (line %u) cannot be extended",
                            name, child->line);
          if (child->defined || (child->dotted && child->section != p->section))
            return fail_at (p, part->offset,
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
  g_autoptr(GArray) key = key_new ();
  g_autofree char *found = NULL;
  BgrTomlValue *target = NULL, *existing, *value = NULL;
  KeyPart *last;

  if (!parse_key (p, key))
    return FALSE;
  if (peek (p) != '=')
    {
      found = describe_char (p, p->pos);
      return fail_at (p, p->pos, "expected '=' after a key, found %s", found);
    }
  p->pos++;
  skip_ws (p);

  /* Resolve the key before parsing the value, so that a duplicate key is
   * reported before any problem further right on the line. */
  if (!open_dotted_key (p, table, key, &target))
    return FALSE;
  last = &g_array_index (key, KeyPart, key->len - 1);
  existing = table_find (target, last->name);
  if (existing != NULL)
    {
      g_autofree char *name = format_key (key, key->len);

      return fail_at (p, last->offset, "duplicate key \"%s\" (first defined on line %u)",
                      name, existing->line);
    }

  if (!parse_value (p, &value))
    return FALSE;
  table_insert (target, last->name, value);
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

  locate (p, header_offset, &line, &column);
  /* A new section: tables built by dotted keys so far are now complete. */
  p->section++;

  for (guint i = 0; i + 1 < key->len; i++)
    {
      KeyPart *part = &g_array_index (key, KeyPart, i);

      child = table_find (table, part->name);
      if (child == NULL)
        {
          /* Implicitly created: a later header may still define it. */
          child = value_new (BGR_TOML_TABLE, line, column);
          table_insert (table, part->name, child);
        }
      else if (child->kind == BGR_TOML_ARRAY && !child->frozen)
        child = g_ptr_array_index (child->u.array, child->u.array->len - 1);
      else if (child->kind != BGR_TOML_TABLE)
        {
          name = format_key (key, i + 1);
          return fail_at (p, part->offset, "key \"%s\" is already %s (line %u), not a table",
                          name, kind_phrase (child), child->line);
        }
      else if (child->frozen)
        {
          name = format_key (key, i + 1);
          return fail_at (p, part->offset, "inline table \"%s\" (line %u) cannot be extended",
                          name, child->line);
        }
      table = child;
    }

  name = format_key (key, key->len);
  child = table_find (table, last->name);

  if (!is_array)
    {
      if (child == NULL)
        {
          child = value_new (BGR_TOML_TABLE, line, column);
          table_insert (table, last->name, child);
        }
      else if (child->kind != BGR_TOML_TABLE)
        return fail_at (p, last->offset, "key \"%s\" is already %s (line %u), not a table",
                        name, kind_phrase (child), child->line);
      else if (child->frozen)
        return fail_at (p, last->offset, "inline table \"%s\" (line %u) cannot be extended",
                        name, child->line);
      else if (child->defined || child->dotted)
        return fail_at (p, last->offset, "table \"%s\" is already defined (line %u)",
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
      child = value_new (BGR_TOML_ARRAY, line, column);
      table_insert (table, last->name, child);
    }
  else if (child->kind != BGR_TOML_ARRAY || child->frozen)
    return fail_at (p, last->offset, "key \"%s\" is already %s (line %u), not an array of tables",
                    name, kind_phrase (child), child->line);

  p->current = value_new (BGR_TOML_TABLE, line, column);
  p->current->defined = TRUE;
  g_ptr_array_add (child->u.array, p->current);
  return TRUE;
}

/* At '[': "[key]" or "[[key]]". The double brackets must be adjacent. */
static gboolean
parse_header (Parser *p)
{
  g_autoptr(GArray) key = key_new ();
  gsize start = p->pos;
  gboolean is_array = peek_at (p, 1) == '[';

  p->pos += is_array ? 2 : 1;
  if (!parse_key (p, key))
    return FALSE;
  if (peek (p) != ']' || (is_array && peek_at (p, 1) != ']'))
    {
      /* For "[[a] ]", point at what follows the first ']'. */
      gsize at = is_array && peek (p) == ']' ? p->pos + 1 : p->pos;
      g_autofree char *found = describe_char (p, at);

      return fail_at (p, at, "expected '%s' to close the table header, found %s",
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

      skip_ws (p);
      c = peek (p);
      if (c == '[')
        {
          if (!parse_header (p) || !expect_end_of_line (p, "a table header"))
            return FALSE;
        }
      else if (c == '#' || c == '\n' || c == '\r' || c == -1)
        {
          if (!expect_end_of_line (p, NULL))
            return FALSE;
        }
      else if (!parse_keyval (p, p->current) || !expect_end_of_line (p, "a value"))
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
  p.root = value_new (BGR_TOML_TABLE, 1, 1);
  p.current = p.root;

  /* A UTF-8 byte order mark is allowed at the very start, and only there. */
  if (p.len >= 3 && memcmp (p.data, "\xEF\xBB\xBF", 3) == 0)
    p.pos = p.bom_len = p.loc_offset = 3;

  /* Checked up front, so that everything else can work on bytes. */
  bad = find_invalid_utf8 (p.data, p.len);
  if (bad < p.len)
    fail_at (&p, bad, "invalid UTF-8 byte 0x%02X", p.data[bad]);
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

BgrTomlType
bgr_toml_value_get_kind (const BgrTomlValue *value)
{
  g_return_val_if_fail (value != NULL, BGR_TOML_TABLE);
  return value->kind;
}

guint
bgr_toml_value_get_line (const BgrTomlValue *value)
{
  g_return_val_if_fail (value != NULL, 0);
  return value->line;
}

guint
bgr_toml_value_get_column (const BgrTomlValue *value)
{
  g_return_val_if_fail (value != NULL, 0);
  return value->column;
}

const char *
bgr_toml_value_get_string (const BgrTomlValue *value)
{
  return bgr_toml_value_get_string_len (value, NULL);
}

const char *
bgr_toml_value_get_string_len (const BgrTomlValue *value, gsize *length)
{
  g_return_val_if_fail (value != NULL && is_string_kind (value->kind), NULL);
  if (length != NULL)
    *length = value->u.string.len;
  return value->u.string.str;
}

gint64
bgr_toml_value_get_integer (const BgrTomlValue *value)
{
  g_return_val_if_fail (value != NULL && value->kind == BGR_TOML_INTEGER, 0);
  return value->u.integer;
}

double
bgr_toml_value_get_float (const BgrTomlValue *value)
{
  g_return_val_if_fail (value != NULL && value->kind == BGR_TOML_FLOAT, 0.0);
  return value->u.number;
}

gboolean
bgr_toml_value_get_boolean (const BgrTomlValue *value)
{
  g_return_val_if_fail (value != NULL && value->kind == BGR_TOML_BOOLEAN, FALSE);
  return value->u.boolean;
}

guint
bgr_toml_array_get_length (const BgrTomlValue *array)
{
  g_return_val_if_fail (array != NULL && array->kind == BGR_TOML_ARRAY, 0);
  return array->u.array->len;
}

const BgrTomlValue *
bgr_toml_array_get (const BgrTomlValue *array, guint index)
{
  g_return_val_if_fail (array != NULL && array->kind == BGR_TOML_ARRAY, NULL);
  g_return_val_if_fail (index < array->u.array->len, NULL);
  return g_ptr_array_index (array->u.array, index);
}

guint
bgr_toml_table_get_size (const BgrTomlValue *table)
{
  g_return_val_if_fail (table != NULL && table->kind == BGR_TOML_TABLE, 0);
  return table->u.table.keys->len;
}

const char *
bgr_toml_table_get_key (const BgrTomlValue *table, guint index)
{
  return bgr_toml_table_get_key_len (table, index, NULL);
}

const char *
bgr_toml_table_get_key_len (const BgrTomlValue *table, guint index, gsize *length)
{
  const GString *key;

  g_return_val_if_fail (table != NULL && table->kind == BGR_TOML_TABLE, NULL);
  g_return_val_if_fail (index < table->u.table.keys->len, NULL);
  key = g_ptr_array_index (table->u.table.keys, index);
  if (length != NULL)
    *length = key->len;
  return key->str;
}

const BgrTomlValue *
bgr_toml_table_get_value (const BgrTomlValue *table, guint index)
{
  g_return_val_if_fail (table != NULL && table->kind == BGR_TOML_TABLE, NULL);
  g_return_val_if_fail (index < table->u.table.values->len, NULL);
  return g_ptr_array_index (table->u.table.values, index);
}

const BgrTomlValue *
bgr_toml_table_lookup (const BgrTomlValue *table, const char *key)
{
  GString probe;

  g_return_val_if_fail (table != NULL && table->kind == BGR_TOML_TABLE, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  /* A stack GString: the index hashes GStrings, which may hold NULs. */
  probe.str = (char *) key;
  probe.len = strlen (key);
  probe.allocated_len = 0;
  return table_find (table, &probe);
}
