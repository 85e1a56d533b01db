/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bgr-toml-lex.c: the TOML parser's positions and errors, characters,
 * whitespace and comments, strings and keys. */

#include <math.h>
#include <string.h>

#include <banger/bgr-error.h>

#include "bgr-toml-internal.h"

/* ------------------------------------------------------------------------ */
/* Positions and errors                                                      */

/* Turns a byte offset into a 1-based line and column. Columns count
 * characters, not bytes, so that they match what an editor shows. Values
 * are created in document order, so counting on from the previous answer
 * keeps this linear overall, even for one very long line; only an error may
 * point back (to an unclosed quote, say), and then we count from the start. */
void
toml_locate (Parser *p, gsize offset, guint *line, guint *column)
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


/* Records the (first) error and returns FALSE, so that callers can write
 * "return toml_fail_at (...)". */
gboolean
toml_fail_at (Parser *p, gsize offset, const char *format, ...)
{
  g_autofree char *msg = NULL;
  va_list args;
  guint line, column;

  if (p->error != NULL)
    return FALSE;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);

  toml_locate (p, offset, &line, &column);
  g_set_error (&p->error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG, "%s:%u:%u: %s",
               p->filename, line, column, msg);
  return FALSE;
}

BgrTomlValue *
toml_value_new_at (Parser *p, BgrTomlType kind, gsize offset)
{
  guint line, column;

  toml_locate (p, offset, &line, &column);
  return toml_value_new (kind, line, column);
}

/* A readable name for the character at @offset, for "found ..." messages. */
char *
toml_describe_char (Parser *p, gsize offset)
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
char *
toml_format_key (GArray *key, guint n_parts)
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

int
toml_peek_at (Parser *p, gsize ahead)
{
  return p->pos + ahead < p->len ? p->data[p->pos + ahead] : -1;
}

int
toml_peek (Parser *p)
{
  return toml_peek_at (p, 0);
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

guint
toml_digit_value (int c)
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
gsize
toml_find_invalid_utf8 (const guchar *s, gsize len)
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

void
toml_skip_ws (Parser *p)
{
  while (toml_peek (p) == ' ' || toml_peek (p) == '\t')
    p->pos++;
}

/* At '#': skips the comment up to, not including, the end of the line. */
static gboolean
skip_comment (Parser *p)
{
  for (p->pos++; p->pos < p->len; p->pos++)
    {
      int c = p->data[p->pos];

      if (c == '\n' || (c == '\r' && toml_peek_at (p, 1) == '\n'))
        break;
      if (is_control (c))
        return toml_fail_at (p, p->pos, "control character U+%04X is not allowed in a comment", c);
    }
  return TRUE;
}

/* Consumes LF or CRLF if one is next. A lone CR is an error: TOML has no
 * old-Mac line endings, and it would silently join or split lines. */
static gboolean
skip_newline (Parser *p, gboolean *found)
{
  *found = FALSE;
  if (toml_peek (p) == '\n')
    p->pos++;
  else if (toml_peek (p) == '\r')
    {
      if (toml_peek_at (p, 1) != '\n')
        return toml_fail_at (p, p->pos, "carriage return must be followed by a newline");
      p->pos += 2;
    }
  else
    return TRUE;
  *found = TRUE;
  return TRUE;
}

/* Whitespace, comments and newlines, as allowed between array elements. */
gboolean
toml_skip_ws_comments_newlines (Parser *p)
{
  gboolean newline = TRUE;

  while (newline)
    {
      toml_skip_ws (p);
      if (toml_peek (p) == '#' && !skip_comment (p))
        return FALSE;
      if (!skip_newline (p, &newline))
        return FALSE;
    }
  return TRUE;
}

/* After an expression: optional whitespace and comment, then a newline or
 * the end of the file. @after names what came before, for the message. */
gboolean
toml_expect_end_of_line (Parser *p, const char *after)
{
  gboolean newline;
  g_autofree char *found = NULL;

  toml_skip_ws (p);
  if (toml_peek (p) == '#' && !skip_comment (p))
    return FALSE;
  if (!skip_newline (p, &newline))
    return FALSE;
  if (newline || p->pos >= p->len)
    return TRUE;
  found = toml_describe_char (p, p->pos);
  if (after == NULL)
    return toml_fail_at (p, p->pos, "unexpected %s", found);
  return toml_fail_at (p, p->pos, "unexpected %s after %s", found, after);
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                   */

/* At a backslash in a basic string: appends the escaped character. */
static gboolean
parse_escape (Parser *p, GString *out)
{
  int c = toml_peek_at (p, 1);
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
        return toml_fail_at (p, p->pos, "invalid escape sequence \"\\%c\"", c);
      return toml_fail_at (p, p->pos, "invalid escape sequence: '\\' must be followed by an escape character");
    }

  for (guint i = 0; i < n_hex; i++)
    {
      guint d = toml_digit_value (toml_peek_at (p, 2 + i));

      if (d > 15)
        return toml_fail_at (p, p->pos, "invalid escape sequence: \"\\%c\" needs %u hexadecimal digits",
                        c, n_hex);
      cp = (cp << 4) | d;
    }
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return toml_fail_at (p, p->pos, "escape sequence \"%.*s\" is not a Unicode scalar value",
                    (int) (n_hex + 2), (const char *) p->data + p->pos);
  g_string_append_unichar (out, cp);
  p->pos += 2 + n_hex;
  return TRUE;
}

/* "..." and '...': one line, escapes only in the first. */
gboolean
toml_parse_single_line_string (Parser *p, GString *out)
{
  int quote = toml_peek (p);
  gsize open = p->pos;

  for (p->pos++;;)
    {
      int c = toml_peek (p);

      if (c == quote)
        {
          p->pos++;
          return TRUE;
        }
      if (c == -1)
        return toml_fail_at (p, open, "unterminated string");
      if (c == '\n' || (c == '\r' && toml_peek_at (p, 1) == '\n'))
        return toml_fail_at (p, p->pos, "unterminated string: a single-line string ends before the end of the line");
      if (c == '\\' && quote == '"')
        {
          if (!parse_escape (p, out))
            return FALSE;
          continue;
        }
      if (is_control (c))
        return toml_fail_at (p, p->pos, "control character U+%04X is not allowed in a string%s", c,
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
      int c = toml_peek (p);

      if (c == ' ' || c == '\t' || c == '\n')
        p->pos++;
      else if (c == '\r' && toml_peek_at (p, 1) == '\n')
        p->pos += 2;
      else
        return TRUE;
    }
}

/* """...""" and '''...'''. */
gboolean
toml_parse_multi_line_string (Parser *p, GString *out)
{
  int quote = toml_peek (p);
  gsize open = p->pos;
  gboolean newline;

  p->pos += 3;
  /* A newline right after the opening delimiter is not part of the text. */
  if (!skip_newline (p, &newline))
    return FALSE;

  for (;;)
    {
      int c = toml_peek (p);

      if (c == quote)
        {
          /* One or two quotes are content; three end the string. Up to two
           * more may directly precede the closing ones (""""" is a quote
           * pair followed by the delimiter), so look at the whole run. */
          guint run = 0;

          while (toml_peek_at (p, run) == quote)
            run++;
          if (run < 3)
            {
              g_string_append_len (out, (const char *) p->data + p->pos, run);
              p->pos += run;
              continue;
            }
          if (run > 5)
            return toml_fail_at (p, p->pos + 5, "too many quotes at the end of a multi-line string");
          g_string_append_len (out, (const char *) p->data + p->pos, run - 3);
          p->pos += run;
          return TRUE;
        }
      if (c == -1)
        return toml_fail_at (p, open, "unterminated multi-line string");
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
        return toml_fail_at (p, p->pos, "control character U+%04X is not allowed in a string%s", c,
                        quote == '"' ? " (use an escape sequence)" : "");
      g_string_append_c (out, c);
      p->pos++;
    }
}

gboolean
toml_is_triple_quote (Parser *p)
{
  int c = toml_peek (p);

  return (c == '"' || c == '\'') && toml_peek_at (p, 1) == c && toml_peek_at (p, 2) == c;
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                      */

static void
key_part_clear (gpointer data)
{
  KeyPart *part = data;

  g_string_free (part->name, TRUE);
}

GArray *
toml_key_new (void)
{
  GArray *key = g_array_new (FALSE, FALSE, sizeof (KeyPart));

  g_array_set_clear_func (key, key_part_clear);
  return key;
}

/* key = simple-key *( ws "." ws simple-key ), with surrounding whitespace. */
gboolean
toml_parse_key (Parser *p, GArray *key)
{
  for (;;)
    {
      KeyPart part = { g_string_new (NULL), 0 };
      int c;

      toml_skip_ws (p);
      part.offset = p->pos;
      g_array_append_val (key, part);  /* now owned by @key */
      if (key->len > MAX_KEY_PARTS)
        return toml_fail_at (p, p->pos, "key has more than %d parts", MAX_KEY_PARTS);

      c = toml_peek (p);
      if (toml_is_triple_quote (p))
        return toml_fail_at (p, p->pos, "a multi-line string cannot be used as a key");
      if (c == '"' || c == '\'')
        {
          if (!toml_parse_single_line_string (p, part.name))
            return FALSE;
        }
      else if (is_bare_key_char (c))
        {
          while (is_bare_key_char (toml_peek (p)))
            g_string_append_c (part.name, p->data[p->pos++]);
        }
      else
        {
          g_autofree char *found = toml_describe_char (p, p->pos);

          return toml_fail_at (p, p->pos, "expected a key, found %s", found);
        }

      toml_skip_ws (p);
      if (toml_peek (p) != '.')
        return TRUE;
      p->pos++;
    }
}
