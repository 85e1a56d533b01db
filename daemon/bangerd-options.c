/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bangerd-options.h"

const char bangerd_parameter_string[] = "- the banger daemon";

const char bangerd_summary[] =
  "bangerd owns banger's state directory and serves libbanger on D-Bus as\n"
  "org.banger.Banger1 (object /org/banger/Banger1). `banger` talks to it.";

GOptionEntry *
bangerd_options_new_entries (BangerdOptions *opts)
{
  const GOptionEntry entries[] = {
    { "session", 0, 0, G_OPTION_ARG_NONE, &opts->session, "Serve on the session bus (default)", NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &opts->system, "Serve on the system bus", NULL },
    { "address", 0, 0, G_OPTION_ARG_STRING, &opts->address, "Serve on the message bus at ADDRESS",
      "ADDRESS" },
    { "replace", 0, 0, G_OPTION_ARG_NONE, &opts->replace, "Replace a running bangerd", NULL },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opts->config,
      "Read this config file (default: $XDG_CONFIG_HOME/banger/config.toml, with --system "
      "/etc/banger/config.toml; also $BANGER_CONFIG)", "PATH" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opts->verbose,
      "Log at debug level whatever log_level says", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &opts->version, "Print the version and exit", NULL },
    G_OPTION_ENTRY_NULL
  };

  return g_memdup2 (entries, sizeof entries);
}

void
bangerd_options_clear (BangerdOptions *opts)
{
  g_clear_pointer (&opts->address, g_free);
  g_clear_pointer (&opts->config, g_free);
}
