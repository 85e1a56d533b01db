/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bgr-escape-private.h"

#include <string.h>

/* Characters a terminal may act on, or that hide or reorder text. */
static gboolean
unsafe_char (gunichar c, BgrEscapeFlags flags)
{
  if (c == '\n' || c == '\t')
    return !(flags & (BGR_ESCAPE_KEEP_NEWLINES | BGR_ESCAPE_JSON));
  if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f))
    return TRUE;
  /* Bidi embeddings, overrides and isolates; line/paragraph separators;
   * zero-width and other invisible formatting characters. */
  return (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e)
         || (c >= 0x2060 && c <= 0x206f) || c == 0xfeff || c == 0x061c;
}

gboolean
bgr_escape_needed (const char *s, BgrEscapeFlags flags)
{
  const char *end;

  if (s == NULL)
    return FALSE;
  if (!g_utf8_validate (s, -1, &end))
    return TRUE;
  for (const char *p = s; *p != '\0'; p = g_utf8_next_char (p))
    if (unsafe_char (g_utf8_get_char (p), flags))
      return TRUE;
  return FALSE;
}

char *
bgr_escape (const char *s, gssize max_bytes, BgrEscapeFlags flags)
{
  GString *out;
  const char *p, *end;
  gsize len;

  if (s == NULL)
    return g_strdup ("(null)");
  len = strlen (s);
  end = s + len;
  if (max_bytes > 0 && len > (gsize) max_bytes)
    {
      end = s + max_bytes;
      /* Back to a character boundary (continuation bytes are 10xxxxxx). */
      while (end > s && ((guchar) *end & 0xc0) == 0x80)
        end--;
    }
  out = g_string_sized_new ((gsize) (end - s) + 16);
  for (p = s; p < end;)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);
      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", (guchar) *p);
          p++;
          continue;
        }
      if ((flags & BGR_ESCAPE_JSON) && unsafe_char (c, flags))
        g_string_append_printf (out, "\\u%04x", (guint) c);
      else if (c < 0x80 && unsafe_char (c, flags))
        g_string_append_printf (out, "\\x%02x", (guint) c);
      else if (unsafe_char (c, flags))
        g_string_append_printf (out, "\\u{%04x}", (guint) c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      p = g_utf8_next_char (p);
    }
  if (end < s + len)
    g_string_append_printf (out, "...(%" G_GSIZE_FORMAT " bytes)", len);
  return g_string_free (out, FALSE);
}

char *
bgr_log_str (const char *s)
{
  return bgr_escape (s, BGR_LOG_STR_MAX, BGR_ESCAPE_DEFAULT);
}

char *
bgr_log_msg (const char *s)
{
  return bgr_escape (s, BGR_LOG_MESSAGE_MAX, BGR_ESCAPE_DEFAULT);
}
