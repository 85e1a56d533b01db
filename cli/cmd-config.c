/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>

#include "banger-cli.h"

gboolean
banger_cmd_config_show (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autoptr (BgrConfig) config = NULL;
  g_auto (GStrv) keys = bgr_config_dup_keys ();
  const char *path;

  if (client == NULL)
    return FALSE;
  config = bgr_client_get_config (client, NULL, error);
  if (config == NULL)
    return FALSE;
  if (inv->json)
    {
      g_autofree char *json = bgr_config_to_json (config);
      banger_print_json (json);
      return TRUE;
    }
  path = bgr_config_get_path (config);
  g_print ("# config file: %s\n", path != NULL ? path : "none (built-in defaults)");
  g_print ("%-22s %-34s %s\n", "KEY", "VALUE", "SOURCE");
  for (char **k = keys; *k != NULL; k++)
    {
      const char *value = bgr_config_get_string (config, *k);
      g_autofree char *shown = *value == '\0' ? g_strdup ("\"\"") : g_strdup (value);
      g_print ("%-22s %-34s %s\n", *k, shown, bgr_config_get_source (config, *k));
    }
  return TRUE;
}

gboolean
banger_cmd_config_path (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autofree char *path = inv->config_path != NULL
                           ? g_strdup (inv->config_path)
                           : bgr_config_dup_default_path_full (inv->system ? BGR_CONFIG_FLAGS_SYSTEM
                                                                           : BGR_CONFIG_FLAGS_NONE);
  gboolean exists = g_file_test (path, G_FILE_TEST_EXISTS);

  if (inv->json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, path);
      json_builder_set_member_name (b, "exists");
      json_builder_add_boolean_value (b, exists);
      json_builder_end_object (b);
      banger_print_json_builder (b);
    }
  else
    g_print ("%s%s\n", path, exists ? "" : " (does not exist: built-in defaults apply)");
  return TRUE;
}

gboolean
banger_cmd_config_ssh_key (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autofree char *path = NULL;

  if (client == NULL)
    return FALSE;
  path = bgr_client_ensure_ssh_key (client, NULL, error);
  if (path == NULL)
    return FALSE;
  if (inv->json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, path);
      json_builder_end_object (b);
      banger_print_json_builder (b);
    }
  else
    g_print ("%s\n", path);
  return TRUE;
}
