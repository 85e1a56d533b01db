/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Durations in configuration values: "30m", "1h30m", "0". */
#include "config.h"

#include <string.h>

#include <banger/banger.h>

#include "bgr-config-private.h"
#include "bgr-error-private.h"

/* ---- durations ---------------------------------------------------------- */

/**
 * bgr_parse_duration:
 * @text: a duration such as "30m", "1h30m", "90s", "500ms", "2d" or "0"
 * @out_ms: (out): the duration in milliseconds
 * @error: return location for a #GError
 *
 * Parses the duration syntax banger's config uses: one or more
 * number+unit pairs (units ms, s, m, h, d; the number may have a fraction),
 * or a bare "0".
 *
 * Returns: %TRUE on success
 * Since: 0.1
 */
gboolean
bgr_parse_duration (const char *text, gint64 *out_ms, GError **error)
{
  const char *p = text;
  double total = 0;

  g_return_val_if_fail (text != NULL, FALSE);
  if (g_strcmp0 (text, "0") == 0)
    {
      if (out_ms != NULL)
        *out_ms = 0;
      return TRUE;
    }
  if (*p == '\0')
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "empty duration (expected e.g. \"30m\", \"1h30m\" or \"0\")");
      return FALSE;
    }
  while (*p != '\0')
    {
      const char *start = p;
      double number = 0, scale = 1;
      gboolean digits = FALSE;
      double unit_ms;

      while (g_ascii_isdigit (*p))
        {
          number = number * 10 + (*p - '0');
          p++;
          digits = TRUE;
        }
      if (*p == '.')
        {
          p++;
          while (g_ascii_isdigit (*p))
            {
              scale /= 10;
              number += (*p - '0') * scale;
              p++;
              digits = TRUE;
            }
        }
      if (!digits)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "invalid duration \"%s\": expected a number at \"%s\" "
                       "(e.g. \"30m\", \"1h30m\", \"90s\")", text, start);
          return FALSE;
        }
      if (g_str_has_prefix (p, "ms"))
        unit_ms = 1, p += 2;
      else if (*p == 's')
        unit_ms = 1000, p++;
      else if (*p == 'm')
        unit_ms = 60 * 1000, p++;
      else if (*p == 'h')
        unit_ms = 3600 * 1000, p++;
      else if (*p == 'd')
        unit_ms = 86400.0 * 1000, p++;
      else
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "invalid duration \"%s\": %s (units are ms, s, m, h, d)", text,
                       *p == '\0' ? "missing unit" : "unknown unit");
          return FALSE;
        }
      total += number * unit_ms;
      if (total > (double) G_MAXINT64 / 2)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "invalid duration \"%s\": too long", text);
          return FALSE;
        }
    }
  if (out_ms != NULL)
    *out_ms = (gint64) total;
  return TRUE;
}
