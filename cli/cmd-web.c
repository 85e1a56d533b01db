/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger web: opens bangerd's web UI through a one-time login URL. */
#include "config.h"

#include "banger-cli.h"

static gboolean opt_print;

const GOptionEntry banger_web_options[] = {
  { "print", 0, 0, G_OPTION_ARG_NONE, &opt_print,
    "Print the login URL instead of opening a browser", NULL },
  G_OPTION_ENTRY_NULL
};

static gboolean
has_display (void)
{
  const char *x = g_getenv ("DISPLAY"), *w = g_getenv ("WAYLAND_DISPLAY");
  return (x != NULL && *x != '\0') || (w != NULL && *w != '\0');
}

/* Opens @url with xdg-open; FALSE (with a reason) when that fails. */
static gboolean
open_in_browser (const char *url, GError **error)
{
  const char *argv[] = { "xdg-open", url, NULL };
  g_autoptr (GSubprocess) proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE,
                                                    error);

  if (proc == NULL || !g_subprocess_wait_check (proc, NULL, error))
    return FALSE;
  return TRUE;
}

gboolean
banger_cmd_web (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_running_client (inv, error);
  g_autofree char *url = NULL, *login = NULL;
  g_autoptr (GError) open_error = NULL;

  if (client == NULL)
    return FALSE;
  login = bgr_client_web_login_url (client, &url, NULL, error);
  if (login == NULL)
    return FALSE;
  if (inv->json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "url");
      json_builder_add_string_value (b, url);
      json_builder_set_member_name (b, "login_url");
      json_builder_add_string_value (b, login);
      json_builder_end_object (b);
      banger_print_json_builder (b);
      return TRUE;
    }
  if (!opt_print && has_display ())
    {
      if (open_in_browser (login, &open_error))
        {
          g_print ("opened %s in your browser\n", url);
          return TRUE;
        }
      g_printerr ("banger: cannot open a browser (%s); open this URL yourself:\n",
                  open_error->message);
    }
  g_print ("%s\n", login);
  return TRUE;
}
