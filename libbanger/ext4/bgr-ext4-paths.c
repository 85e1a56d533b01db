/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Layer entry paths: folding and escaping (bgr-ext4-paths-private.h). */
#include "config.h"

#include <string.h>

#include "ext4/bgr-ext4-paths-private.h"

char *
bgr_ext4_escape_path (const char *path)
{
  const guchar *q = (const guchar *) path;
  GString *s;

  /* Most paths need nothing escaped (this runs for every layer entry). */
  while (*q >= 0x20 && *q != 0x7f && *q != '"' && *q != '\\')
    q++;
  if (*q == '\0')
    return g_strdup (path);
  s = g_string_new (NULL);

  for (const guchar *p = (const guchar *) path; *p != '\0'; p++)
    {
      if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
        g_string_append_printf (s, "\\x%02x", *p);
      else
        g_string_append_c (s, (char) *p);
    }
  return g_string_free (s, FALSE);
}

GPtrArray *
bgr_ext4_fold_path (const char *path, const char **why)
{
  g_autoptr (GPtrArray) comps = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) parts = NULL;

  if (strlen (path) > MAX_PATH_LEN)
    {
      *why = "path longer than 4096 bytes";
      return NULL;
    }
  for (;;)
    {
      if (path[0] == '/')
        path++;
      else if (path[0] == '.' && path[1] == '/')
        path += 2;
      else
        break;
    }
  parts = g_strsplit (path, "/", -1);
  for (char **p = parts; *p != NULL; p++)
    {
      if (**p == '\0' || g_str_equal (*p, "."))
        continue;
      if (g_str_equal (*p, ".."))
        {
          if (comps->len == 0)
            {
              *why = "path leaves the image root";
              return NULL;
            }
          g_ptr_array_remove_index (comps, comps->len - 1);
          continue;
        }
      if (strlen (*p) > MAX_NAME_LEN)
        {
          *why = "name longer than 255 bytes";
          return NULL;
        }
      g_ptr_array_add (comps, g_strdup (*p));
    }
  if (comps->len > MAX_DEPTH)
    {
      *why = "path deeper than 64 levels";
      return NULL;
    }
  return g_steal_pointer (&comps);
}

char *
bgr_ext4_join_comps (GPtrArray *comps, guint n)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append_c (s, '/');
      g_string_append (s, g_ptr_array_index (comps, i));
    }
  return g_string_free (s, FALSE);
}
