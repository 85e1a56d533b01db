/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>

#include "banger-cli.h"

gboolean
banger_cmd_daemon_status (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_running_client (inv, error);
  g_autoptr (BgrDaemonInfo) info = NULL;
  const char *web;

  if (client == NULL)
    return FALSE;
  info = bgr_client_get_daemon_info (client, NULL, error);
  if (info == NULL)
    return FALSE;
  if (inv->json)
    {
      g_autofree char *json = bgr_daemon_info_to_json (info);
      banger_print_json (json);
      return TRUE;
    }
  web = bgr_daemon_info_get_web_ui_address (info);
  g_print ("pid:        %" G_GINT64_FORMAT "\n", bgr_daemon_info_get_pid (info));
  g_print ("version:    %s\n", bgr_daemon_info_get_version (info));
  g_print ("bus:        %s\n", bgr_daemon_info_get_bus (info));
  g_print ("state dir:  %s\n", bgr_daemon_info_get_state_dir (info));
  g_print ("web UI:     %s\n", *web != '\0' ? web : "not served (web_listen_addr is empty, or see "
                                                   "bangerd's log)");
  g_print ("uptime:     %" G_GINT64_FORMAT "s\n", bgr_daemon_info_get_uptime_seconds (info));
  return TRUE;
}

gboolean
banger_cmd_daemon_stop (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_running_client (inv, error);

  if (client == NULL)
    return FALSE;
  if (!bgr_client_stop_daemon (client, NULL, error))
    return FALSE;
  if (inv->json)
    banger_print_json ("{\n  \"stopped\" : true\n}");
  else
    g_print ("bangerd stopped\n");
  return TRUE;
}
