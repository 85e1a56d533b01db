/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>

#include "banger-cli.h"

gboolean
banger_cmd_version (BangerInvocation *inv, int *exit_status, GError **error)
{
  if (inv->json)
    {
      g_autofree char *json = g_strdup_printf ("{\n  \"version\" : \"%s\",\n  \"major\" : %u,\n"
                                               "  \"minor\" : %u,\n  \"micro\" : %u\n}",
                                               bgr_get_version_string (), bgr_get_major_version (),
                                               bgr_get_minor_version (), bgr_get_micro_version ());
      banger_print_json (json);
    }
  else
    g_print ("banger %s\n", bgr_get_version_string ());
  return TRUE;
}
