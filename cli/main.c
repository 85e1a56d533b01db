/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <json-glib/json-glib.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "banger-cli.h"

static void
print_top_help (FILE *out)
{
  g_autofree GOptionEntry *globals = NULL;
  BangerInvocation dummy = { 0 };
  gboolean flag = FALSE;

  fprintf (out, "Usage: banger [GLOBAL OPTIONS] COMMAND [ARGS...]\n\n%s\n\nCommands:\n",
           banger_description);
  for (gsize i = 0; i < banger_n_commands; i++)
    fprintf (out, "  %-18s %s\n", banger_commands[i].name, banger_commands[i].summary);
  fprintf (out, "\nGlobal options:\n");
  globals = banger_global_options_new (&dummy, &flag, &flag);
  for (const GOptionEntry *e = globals; e->long_name != NULL; e++)
    {
      g_autoptr (GString) left = g_string_new (NULL);

      if (e->short_name != '\0')
        g_string_append_printf (left, "-%c, ", e->short_name);
      g_string_append_printf (left, "--%s", e->long_name);
      if (e->arg_description != NULL)
        g_string_append_printf (left, " %s", e->arg_description);
      fprintf (out, "  %-18s %s\n", left->str, e->description);
    }
  fprintf (out,
           "\nExit status: 0 success, 1 failure, 2 usage error, other codes per error kind\n"
           "(see docs/errors.md, or man banger).\n");
}

static void
add_global_entries (GOptionContext *ctx, BangerInvocation *inv, gboolean *opt_help,
                    gboolean *opt_version, const GOptionEntry *command_entries)
{
  GOptionGroup *group = g_option_group_new ("global", "Global options", "Show global options",
                                            inv, NULL);
  g_autofree GOptionEntry *entries = banger_global_options_new (inv, opt_version, opt_help);

  /* The command's own options first, then the global ones, in one group so
   * that `banger CMD --help` shows both. */
  if (command_entries != NULL)
    g_option_group_add_entries (group, command_entries);
  g_option_group_add_entries (group, entries);
  g_option_context_set_main_group (ctx, group);
}

/* Finds the longest command whose words start @words. */
static const BangerCommand *
find_command (char **words, guint n_words, guint *n_used)
{
  const BangerCommand *best = NULL;

  for (gsize i = 0; i < banger_n_commands; i++)
    {
      g_auto (GStrv) parts = g_strsplit (banger_commands[i].name, " ", -1);
      guint n = g_strv_length (parts), j;

      if (n > n_words)
        continue;
      for (j = 0; j < n && g_str_equal (parts[j], words[j]); j++)
        ;
      if (j == n && (best == NULL || n > *n_used))
        {
          best = &banger_commands[i];
          *n_used = n;
        }
    }
  return best;
}

/* The longest run of @words (at most @n_words) that is a group of commands
 * ("vm", "image cache"): a prefix of some commands' names. 0 when none. */
static guint
find_group (char **words, guint n_words, char **out_prefix)
{
  guint best = 0;

  for (guint n = 1; n <= n_words; n++)
    {
      g_autoptr (GString) prefix = g_string_new (NULL);
      gboolean any = FALSE;

      for (guint i = 0; i < n; i++)
        g_string_append_printf (prefix, "%s ", words[i]);
      for (gsize i = 0; i < banger_n_commands && !any; i++)
        any = g_str_has_prefix (banger_commands[i].name, prefix->str);
      if (!any)
        break;
      best = n;
      g_free (*out_prefix);
      *out_prefix = g_strndup (prefix->str, prefix->len - 1);
    }
  return best;
}

/* The commands of group @group ("vm"), as `banger --help` lists them. */
static void
print_group_help (FILE *out, const char *group)
{
  g_autofree char *prefix = g_strconcat (group, " ", NULL);

  fprintf (out, "Usage: banger [GLOBAL OPTIONS] %s COMMAND [ARGS...]\n\nCommands:\n", group);
  for (gsize i = 0; i < banger_n_commands; i++)
    if (g_str_has_prefix (banger_commands[i].name, prefix))
      fprintf (out, "  %-18s %s\n", banger_commands[i].name, banger_commands[i].summary);
  fprintf (out, "\nSee banger %s COMMAND --help for a command's options.\n", group);
}

static gboolean want_json; /* --json seen in the first pass */

/* The --json form of every error: {"error": {"code", "name", "message"}}. */
static void
print_json_error (int code, const char *message)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "code");
  json_builder_add_int_value (b, code);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, bgr_error_code_to_name (code));
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  json_builder_end_object (b);
  banger_print_json_builder (b);
}

/* A usage error: on stderr, and with --json also as a JSON error record. */
G_GNUC_PRINTF (1, 2) static int
usage_error (const char *fmt, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (want_json)
    print_json_error (BGR_ERROR_INVALID_ARGUMENT, msg);
  g_printerr ("%s\n", banger_shown_message (msg));
  return BANGER_EXIT_USAGE;
}

static void
print_error (BangerInvocation *inv, const BangerCommand *cmd, const GError *error)
{
  g_autofree char *message = banger_error_for_cli (cmd, error->message);

  if (inv->json)
    print_json_error (error->domain == BGR_ERROR ? error->code : BGR_ERROR_FAILED, message);
  g_printerr ("banger: %s\n", banger_shown_message (message));
  if (g_error_matches (error, BGR_ERROR, BGR_ERROR_LOCKED) && inv->local)
    g_printerr ("banger: hint: only one engine may own a state directory; drop --local to "
                "go through bangerd, or stop the other process first\n");
}

int
main (int argc, char **argv)
{
  BangerInvocation inv = { 0 };
  gboolean opt_help = FALSE, opt_version = FALSE;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) first = NULL;
  g_auto (GStrv) second = NULL;
  g_auto (GStrv) rest = NULL;
  guint n_opts_args = 0;
  g_autoptr (GOptionContext) ctx1 = NULL;
  g_autoptr (GOptionContext) ctx2 = NULL;
  const BangerCommand *cmd;
  guint n_words = 0, n_used = 0, n_args;
  int exit_status = BANGER_EXIT_OK;
  g_autofree char *param = NULL;

  setlocale (LC_ALL, "");
  (void) bgr_error_quark ();

  /* Pass 1: global options only, to find the command words. */
  first = g_strdupv (argv);
  {
    ctx1 = g_option_context_new (NULL);
    g_option_context_set_help_enabled (ctx1, FALSE);
    g_option_context_set_ignore_unknown_options (ctx1, TRUE);
    add_global_entries (ctx1, &inv, &opt_help, &opt_version, NULL);
    if (!g_option_context_parse_strv (ctx1, &first, &error))
      {
        return usage_error ("banger: %s (see banger --help)", error->message);
      }
  }
  want_json = inv.json;
  if (opt_version)
    {
      g_print ("banger %s\n", bgr_get_version_string ());
      return BANGER_EXIT_OK;
    }
  /* first[0] is the program; the words up to the first option are the command. */
  for (n_words = 0; first[1 + n_words] != NULL && first[1 + n_words][0] != '-'; n_words++)
    ;
  if (n_words == 0)
    {
      if (opt_help)
        {
          print_top_help (stdout);
          return BANGER_EXIT_OK;
        }
      print_top_help (stderr);
      if (first[1] != NULL)
        return usage_error ("\nbanger: unknown option '%s'", first[1]);
      return usage_error ("\nbanger: no command given");
    }
  cmd = find_command (first + 1, n_words, &n_used);
  if (cmd == NULL)
    {
      g_autofree char *group = NULL;
      guint n_group = find_group (first + 1, n_words, &group);

      if (n_group == 0)
        return usage_error ("banger: unknown command '%s' (see banger --help)", first[1]);
      /* `banger vm` (or `banger vm --help`): what the group holds. */
      if (n_group == n_words && opt_help)
        {
          print_group_help (stdout, group);
          return BANGER_EXIT_OK;
        }
      print_group_help (stderr, group);
      if (n_group < n_words)
        return usage_error ("\nbanger: unknown command '%s %s'", group, first[1 + n_group]);
      return usage_error ("\nbanger %s: no command given", group);
    }

  /* Pass 2: strict parse with the command's own help. */
  g_clear_pointer (&inv.config_path, g_free);
  memset (&inv, 0, sizeof inv);
  param = g_strdup_printf ("%s%s%s", cmd->name, cmd->args_usage[0] ? " " : "", cmd->args_usage);
  ctx2 = g_option_context_new (param);
  g_option_context_set_summary (ctx2, cmd->summary);
  g_option_context_set_description (ctx2, cmd->description);
  add_global_entries (ctx2, &inv, NULL, &opt_version, cmd->options);
  /* Everything after "--" is an argument, never an option (vm exec's
   * command). */
  {
    guint dashdash = 0;
    for (guint i = 1; argv[i] != NULL; i++)
      if (g_str_equal (argv[i], "--"))
        {
          dashdash = i;
          break;
        }
    if (dashdash > 0)
      {
        second = g_new0 (char *, dashdash + 1);
        for (guint i = 0; i < dashdash; i++)
          second[i] = g_strdup (argv[i]);
        rest = g_strdupv (argv + dashdash + 1);
      }
    else
      second = g_strdupv (argv);
  }
  if (!g_option_context_parse_strv (ctx2, &second, &error))
    {
      return usage_error ("banger %s: %s (see banger %s --help)", cmd->name, error->message,
                          cmd->name);
    }
  inv.command = cmd->name;
  n_opts_args = g_strv_length (second + 1 + n_used);
  if (rest != NULL)
    {
      guint n_rest = g_strv_length (rest);
      char **joined = g_new0 (char *, g_strv_length (second) + n_rest + 1);
      guint k = 0;
      for (guint i = 0; second[i] != NULL; i++)
        joined[k++] = g_strdup (second[i]);
      for (guint i = 0; i < n_rest; i++)
        joined[k++] = g_strdup (rest[i]);
      g_strfreev (second);
      second = joined;
    }
  inv.args = second + 1 + n_used;
  n_args = g_strv_length (inv.args);
  for (guint i = 0; i < n_opts_args; i++)
    if (inv.args[i][0] == '-' && inv.args[i][1] != '\0')
      {
        return usage_error ("banger %s: unknown option '%s' (see banger %s --help)", cmd->name,
                            inv.args[i], cmd->name);
      }
  if (n_args < cmd->min_args || n_args > cmd->max_args)
    {
      if (n_args > cmd->max_args)
        return usage_error ("banger %s: unexpected argument '%s' (see banger %s --help)",
                            cmd->name, inv.args[cmd->max_args], cmd->name);
      return usage_error ("banger %s: missing argument %s (see banger %s --help)", cmd->name,
                          cmd->args_usage, cmd->name);
    }
  if (inv.local && inv.system)
    {
      return usage_error ("banger: --local and --system exclude each other");
    }
  inv.config_from_option = inv.config_path != NULL;
  if (inv.config_path == NULL && g_getenv ("BANGER_CONFIG") != NULL)
    inv.config_path = g_strdup (g_getenv ("BANGER_CONFIG"));
  if (inv.verbose > 0)
    g_setenv ("G_MESSAGES_DEBUG", inv.verbose > 1 ? "all" : "Banger", TRUE);

  if (!cmd->func (&inv, &exit_status, &error))
    {
      print_error (&inv, cmd, error);
      exit_status = error->domain == BGR_ERROR ? bgr_error_code_to_exit_status (error->code)
                                               : BANGER_EXIT_FAILED;
    }
  g_free (inv.config_path);
  return exit_status;
}
