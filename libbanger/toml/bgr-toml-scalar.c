/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bgr-toml-scalar.c: the TOML parser's numbers, booleans, dates and
 * times. */

#include <math.h>
#include <string.h>

#include <banger/bgr-error.h>

#include "bgr-toml-internal.h"

/* ------------------------------------------------------------------------ */
/* Numbers, booleans, dates and times                                        */

/* Scans DIGIT *( DIGIT / "_" DIGIT ) in @radix from *@i. Returns FALSE if
 * there is no digit at *@i. Stops before anything else, including an
 * underscore that is not followed by a digit, so that the caller sees it. */
static gboolean
scan_digits (const char *s, gsize n, gsize *i, guint radix)
{
  if (*i >= n || toml_digit_value (s[*i]) >= radix)
    return FALSE;
  while (*i < n)
    {
      if (toml_digit_value (s[*i]) < radix)
        (*i)++;
      else if (s[*i] == '_' && *i + 1 < n && toml_digit_value (s[*i + 1]) < radix)
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
      d = toml_digit_value (s[i]);
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
    return toml_fail_at (p, start + stop, "invalid %s \"%.*s\": '_' must be between two digits",
                    what, (int) n, s);
  return toml_fail_at (p, start, "invalid %s \"%.*s\"", what, (int) n, s);
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
      *out = toml_value_new_at (p, BGR_TOML_FLOAT, start);
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
        return toml_fail_at (p, start, "invalid %s \"%.*s\": a sign is not allowed", what, (int) n, s);
      i += 2;
      if (!scan_digits (s, n, &i, radix) || i != n)
        return fail_number (p, start, s, n, i, what);
      if (!accumulate (s, 2, n, radix, G_MAXINT64, &magnitude))
        return toml_fail_at (p, start, "integer \"%.*s\" does not fit in 64 bits", (int) n, s);
      *out = toml_value_new_at (p, BGR_TOML_INTEGER, start);
      (*out)->u.integer = (gint64) magnitude;
      return TRUE;
    }

  /* Decimal: an integer part without leading zeros, then an optional
   * fraction and exponent, each made of digits and inner underscores. */
  int_start = i;
  if (!scan_digits (s, n, &i, 10))
    return fail_number (p, start, s, n, i, "number");
  if (s[int_start] == '0' && i - int_start > 1)
    return toml_fail_at (p, start, "invalid number \"%.*s\": leading zeros are not allowed", (int) n, s);
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
        return toml_fail_at (p, start, "invalid float \"%.*s\"", (int) n, s);
      if (isinf (d))
        return toml_fail_at (p, start, "float \"%.*s\" is out of range", (int) n, s);
      *out = toml_value_new_at (p, BGR_TOML_FLOAT, start);
      (*out)->u.number = d;
      return TRUE;
    }

  if (!accumulate (s, int_start, n, 10, negative ? (guint64) G_MAXINT64 + 1 : G_MAXINT64,
                   &magnitude))
    return toml_fail_at (p, start, "integer \"%.*s\" does not fit in 64 bits", (int) n, s);
  *out = toml_value_new_at (p, BGR_TOML_INTEGER, start);
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
    return toml_fail_at (p, start, "invalid %s \"%.*s\": %s", what, (int) n, s, reason);

  text = g_strndup (s, n);
  if (has_date && n > 10)
    text[10] = 'T';
  if (text[n - 1] == 'z')
    text[n - 1] = 'Z';
  *out = toml_value_new_at (p, kind, start);
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
gboolean
toml_parse_bare_value (Parser *p, BgrTomlValue **out)
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
      g_autofree char *found = toml_describe_char (p, start);

      return toml_fail_at (p, start, "expected a value, found %s", found);
    }
  p->pos = end;

  if (token_is (s, n, "true") || token_is (s, n, "false"))
    {
      *out = toml_value_new_at (p, BGR_TOML_BOOLEAN, start);
      (*out)->u.boolean = s[0] == 't';
      return TRUE;
    }

  while (digits < n && g_ascii_isdigit (s[digits]))
    digits++;
  if (digits > 0 && digits < n && (s[digits] == '-' || s[digits] == ':'))
    return parse_datetime (p, start, s, n, s[digits] == '-', out);

  if (g_ascii_isalpha (s[0]) && !token_is (s, n, "inf") && !token_is (s, n, "nan"))
    return toml_fail_at (p, start, "invalid value \"%.*s\" (strings must be quoted)", (int) n, s);

  return parse_number (p, start, s, n, out);
}
