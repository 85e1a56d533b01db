/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-docgen: writes banger(1), bangerd(8), banger-config(5) and the bash
 * completion of banger from the tables the programs themselves run on: the
 * CLI's command table with each command's GOptionEntry options
 * (commands.c, cmd-*.c), bangerd's option table (bangerd-options.c) and
 * the config key table (bgr-config.c). The build runs it; it is not
 * installed. A command, option or key added to those tables shows up in the
 * manuals and the completion without touching this file.
 *
 *   banger-docgen OUTDIR
 *
 * writes OUTDIR/banger.1, bangerd.8, banger-config.5 and banger.bash. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <banger/banger.h>

#include "banger-cli.h"
#include "bangerd-options.h"
#include "bgr-config-private.h"
#include "banger-docgen.h"

/* ---- roff ---------------------------------------------------------------- */

/* Appends @text as roff body text: backslashes and hyphens escaped,
 * `code` set in bold, leading blanks dropped and a line that would start
 * with a control character protected. Newlines stay: roff fills the lines
 * into paragraphs. */
static void
roff_append (GString *out, const char *text)
{
  gboolean line_start = TRUE, bold = FALSE;

  for (const char *p = text; *p != '\0'; p++)
    {
      if (line_start)
        {
          while (*p == ' ')
            p++;
          if (*p == '\0')
            break;
          if (*p == '.' || *p == '\'')
            g_string_append (out, "\\&");
          line_start = FALSE;
        }
      switch (*p)
        {
        case '\\':
          g_string_append (out, "\\e");
          break;
        case '-':
          g_string_append (out, "\\-");
          break;
        case '`':
          g_string_append (out, bold ? "\\fR" : "\\fB");
          bold = !bold;
          break;
        case '\n':
          g_string_append_c (out, '\n');
          line_start = TRUE;
          break;
        default:
          g_string_append_c (out, *p);
        }
    }
  if (bold)
    g_string_append (out, "\\fR");
}

/* A line of body text, ended. */
static void
roff_line (GString *out, const char *text)
{
  roff_append (out, text);
  g_string_append_c (out, '\n');
}

static void
roff_header (GString *out, const char *title, int section, const char *manual)
{
  g_string_append_printf (out,
                          ".\\\" Generated at build time by banger-docgen from the program's own\n"
                          ".\\\" tables; do not edit.\n"
                          ".TH %s %d \"\" \"banger %s\" \"%s\"\n",
                          title, section, bgr_get_version_string (), manual);
}

gboolean
banger_docgen_option_takes_value (const GOptionEntry *e)
{
  if (e->arg == G_OPTION_ARG_NONE)
    return FALSE;
  if (e->arg == G_OPTION_ARG_CALLBACK && (e->flags & G_OPTION_FLAG_NO_ARG))
    return FALSE;
  return TRUE;
}

/* One option as a tagged paragraph: -c, --config=PATH, then its text. */
static void
roff_option (GString *out, const GOptionEntry *e)
{
  if (e->flags & G_OPTION_FLAG_HIDDEN)
    return;
  g_string_append (out, ".TP\n");
  if (e->short_name != '\0')
    g_string_append_printf (out, "\\fB\\-%c\\fR, ", e->short_name);
  g_string_append (out, "\\fB\\-\\-");
  roff_append (out, e->long_name);
  g_string_append (out, "\\fR");
  if (banger_docgen_option_takes_value (e))
    {
      g_string_append (out, "=\\fI");
      roff_append (out, e->arg_description != NULL ? e->arg_description : "VALUE");
      g_string_append (out, "\\fR");
    }
  g_string_append_c (out, '\n');
  roff_line (out, e->description != NULL ? e->description : "");
}

static void
roff_options (GString *out, const GOptionEntry *entries)
{
  for (const GOptionEntry *e = entries; e != NULL && e->long_name != NULL; e++)
    roff_option (out, e);
}

/* ---- banger(1) ------------------------------------------------------------ */

GOptionEntry *
banger_docgen_global_options (void)
{
  static BangerInvocation inv;
  static gboolean flag;

  return banger_global_options_new (&inv, &flag, &flag);
}

static char *
write_banger_1 (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autofree GOptionEntry *globals = banger_docgen_global_options ();
  g_autofree char *config_path = bgr_config_dup_default_path ();

  roff_header (out, "BANGER", 1, "User Commands");
  g_string_append (out, ".SH NAME\nbanger \\- manage development microVMs\n");
  g_string_append (out, ".SH SYNOPSIS\n.B banger\n"
                        "[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] "
                        "[\\fIARGS\\fR...]\n");
  g_string_append (out, ".SH DESCRIPTION\n");
  roff_line (out, banger_description);
  g_string_append (out, ".PP\n");
  roff_line (out, "Global options may appear before or after the command. Everything after "
                  "`--` is an argument, never an option. With `--json`, `list` commands print "
                  "an array of records and the others one record; errors are "
                  "{\"error\": {\"code\", \"name\", \"message\"}} on stdout.");

  g_string_append (out, ".SH GLOBAL OPTIONS\n");
  roff_options (out, globals);

  g_string_append (out, ".SH COMMANDS\n");
  for (gsize i = 0; i < banger_n_commands; i++)
    {
      const BangerCommand *cmd = &banger_commands[i];
      g_autofree char *synopsis = g_strdup_printf (
        "banger %s%s%s%s", cmd->name, cmd->options != NULL ? " [OPTIONS]" : "",
        *cmd->args_usage != '\0' ? " " : "", cmd->args_usage);

      g_string_append (out, ".SS \"");
      roff_append (out, synopsis);
      g_string_append (out, "\"\n");
      roff_append (out, cmd->summary);
      g_string_append (out, ".\n.br\n");
      roff_line (out, cmd->description);
      if (cmd->options != NULL)
        {
          g_string_append (out, ".RS\n");
          roff_options (out, cmd->options);
          g_string_append (out, ".RE\n");
        }
    }

  g_string_append (out, ".SH ENVIRONMENT\n");
  g_string_append (out, ".TP\n.B DBUS_SESSION_BUS_ADDRESS\n");
  roff_line (out, "The session bus bangerd is looked for on. When no session bus can be "
                  "reached (over ssh, in a container), commands run the engine in this "
                  "process, as with `--local`, and say so on stderr; if a bangerd owns the "
                  "state directory then, the error says so and gives its bus address. "
                  "`daemon status`, `daemon stop` and doctor's daemon query never fall back.");
  g_string_append (out, ".TP\n.B DBUS_SYSTEM_BUS_ADDRESS\n");
  roff_line (out, "The system bus, for `--system`.");
  g_string_append (out, ".TP\n.B BANGER_CONFIG\n");
  roff_line (out, "The config file, as `--config` gives it.");
  g_string_append (out, ".TP\n.B NO_COLOR\n");
  roff_line (out, "Set: no colour in `doctor`'s report.");
  g_string_append (out, ".TP\n.BR XDG_CONFIG_HOME \", \" XDG_STATE_HOME \", \" XDG_CACHE_HOME\n");
  roff_line (out, "Where the config file, the state directory and the cache live by default "
                  "(see banger-config(5)).");

  g_string_append (out, ".SH FILES\n.TP\n.I ");
  roff_append (out, config_path);
  g_string_append (out, "\n");
  roff_line (out, "The config file of the in-process engine and of `doctor`; see "
                  "banger-config(5).");

  g_string_append (out, ".SH EXIT STATUS\n.TP\n.B 0\nSuccess.\n.TP\n.B 1\n");
  roff_line (out, "Failure (also: `doctor` found a FAIL).");
  g_string_append (out, ".TP\n.B 2\n");
  roff_line (out, "Usage error: unknown command or option, wrong arguments.");
  g_string_append (out, ".PP\nOther failures exit with the status of their error code:\n");
  for (int code = 0; !g_str_equal (bgr_error_code_to_name (code), "Unknown"); code++)
    {
      int status = bgr_error_code_to_exit_status (code);
      if (status <= 2)
        continue;
      g_string_append_printf (out, ".TP\n.B %d\n%s\n", status, bgr_error_code_to_name (code));
    }

  g_string_append (out, ".SH SEE ALSO\n.BR bangerd (8),\n.BR banger-config (5)\n");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* ---- bangerd(8) ----------------------------------------------------------- */

static char *
write_bangerd_8 (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  BangerdOptions opts = { 0 };
  g_autofree GOptionEntry *entries = bangerd_options_new_entries (&opts);
  const GOptionEntry help[] = {
    { "help", 'h', 0, G_OPTION_ARG_NONE, NULL, "Show help options", NULL },
    G_OPTION_ENTRY_NULL
  };

  roff_header (out, "BANGERD", 8, "System Administration");
  g_string_append (out, ".SH NAME\nbangerd \\- the banger daemon\n");
  g_string_append (out, ".SH SYNOPSIS\n.B bangerd\n[\\fIOPTIONS\\fR]\n");
  g_string_append (out, ".SH DESCRIPTION\n");
  roff_line (out, bangerd_summary);
  g_string_append (out, ".PP\n");
  roff_line (out, "It holds the state directory's lock for its whole life, so no other engine "
                  "(another bangerd, or a `banger --local` command) can use the same state "
                  "directory while it runs. D-Bus activation starts it when a client calls and "
                  "it is installed; systemd units (user and system) run it as a service. "
                  "SIGTERM and SIGINT make it leave the bus, let running calls finish and "
                  "exit.");
  g_string_append (out, ".SH OPTIONS\n");
  roff_options (out, entries);
  roff_options (out, help);
  g_string_append (out, ".SH ENVIRONMENT\n.TP\n.B BANGER_CONFIG\n");
  roff_line (out, "The config file, as `--config` gives it.");
  g_string_append (out, ".TP\n.BR STATE_DIRECTORY \", \" CACHE_DIRECTORY \", \" "
                        "CONFIGURATION_DIRECTORY\n");
  roff_line (out, "Under systemd, with `--system`: the directories the unit gives, in place "
                  "of /var/lib/banger, /var/cache/banger and /etc/banger.");
  g_string_append (out, ".SH EXIT STATUS\n");
  roff_line (out, "0 after a clean stop; 2 for a usage error; otherwise the exit status of the "
                  "error that stopped it (as for banger(1)), e.g. 5 for a bad config file and "
                  "6 when another engine holds the state directory.");
  g_string_append (out, ".SH SEE ALSO\n.BR banger (1),\n.BR banger-config (5)\n");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* ---- banger-config(5) ----------------------------------------------------- */

static char *
write_banger_config_5 (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_auto (GStrv) keys = bgr_config_dup_keys ();
  g_autofree char *user_path = bgr_config_dup_default_path ();
  g_autofree char *system_path = bgr_config_dup_default_path_full (BGR_CONFIG_FLAGS_SYSTEM);

  roff_header (out, "BANGER\\-CONFIG", 5, "File Formats");
  g_string_append (out, ".SH NAME\nbanger\\-config \\- banger's configuration file\n");
  g_string_append (out, ".SH SYNOPSIS\n.I ");
  roff_append (out, user_path);
  g_string_append (out, "\n.br\n.I ");
  roff_append (out, system_path);
  g_string_append (out, "\n(bangerd \\-\\-system)\n");

  g_string_append (out, ".SH DESCRIPTION\n");
  roff_line (out, "banger reads the first file (`--config PATH` or $BANGER_CONFIG name another "
                  "one); `bangerd --system` reads the second, with system-wide defaults for "
                  "the directories. A missing default file means all defaults; a file named "
                  "explicitly must exist.");
  g_string_append (out, ".PP\n");
  roff_line (out, "The file is strict TOML 1.0 with flat `key = value` lines. Unknown keys, "
                  "tables, wrong types and bad values are errors naming the file, the line "
                  "and the key. Every value is a TOML string except the integers. "
                  "`banger config show` prints each key's effective value and where it came "
                  "from.");

  g_string_append (out, ".SH KEYS\n");
  for (char **k = keys; *k != NULL; k++)
    {
      g_autofree char *type = bgr_config_dup_key_type_doc (*k);
      g_autofree char *def = bgr_config_dup_key_default (*k, BGR_CONFIG_FLAGS_NONE);
      g_autofree char *sys = bgr_config_dup_key_default (*k, BGR_CONFIG_FLAGS_SYSTEM);
      const char *doc = bgr_config_get_key_doc (*k);

      g_string_append (out, ".TP\n\\fB");
      roff_append (out, *k);
      g_string_append (out, "\\fR \\(em ");
      roff_append (out, doc);
      g_string_append (out, "\nType: ");
      roff_append (out, type);
      g_string_append (out, ".\n.br\nDefault: ");
      if (*def == '\0')
        g_string_append (out, "empty");
      else
        {
          g_string_append (out, "\\fI");
          roff_append (out, def);
          g_string_append (out, "\\fR");
        }
      if (!g_str_equal (def, sys))
        {
          g_string_append (out, "; with bangerd \\-\\-system: \\fI");
          roff_append (out, sys);
          g_string_append (out, "\\fR");
        }
      g_string_append (out, ".\n");
    }

  g_string_append (out, ".SH DURATIONS\n");
  roff_line (out, "One or more number+unit pairs, the number possibly with a fraction, units "
                  "ms, s, m, h and d: 500ms, 90s, 30m, 1h30m, 1.5h, 2d; or a bare 0.");
  g_string_append (out, ".SH EXAMPLE\n.EX\n"
                        "hypervisor = \"qemu\"\n"
                        "cidr = \"10.20.0.0/24\"\n"
                        "bridge_ip = \"10.20.0.1\"\n"
                        "tap_pool_size = 8\n"
                        "auto_stop_stale_after = \"2h\"\n"
                        ".EE\n");
  g_string_append (out, ".SH SEE ALSO\n.BR banger (1),\n.BR bangerd (8)\n");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* ---- main ----------------------------------------------------------------- */

int
main (int argc, char **argv)
{
  static const char *const xdg[] = { "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME" };
  static const char *const systemd[] = { "STATE_DIRECTORY", "CACHE_DIRECTORY",
                                         "CONFIGURATION_DIRECTORY", "BANGER_CONFIG" };
  struct {
    const char *name;
    char *(*write) (void);
  } pages[] = {
    { "banger.1", write_banger_1 },
    { "bangerd.8", write_bangerd_8 },
    { "banger-config.5", write_banger_config_5 },
    { "banger.bash", banger_docgen_completion },
  };

  if (argc != 2)
    {
      g_printerr ("usage: banger-docgen OUTDIR\n");
      return 2;
    }
  /* Defaults show as the variables they come from ($XDG_STATE_HOME/banger),
   * never as the directories of whoever builds: set before GLib reads and
   * caches them. */
  for (gsize i = 0; i < G_N_ELEMENTS (xdg); i++)
    {
      g_autofree char *value = g_strdup_printf ("$%s", xdg[i]);
      g_setenv (xdg[i], value, TRUE);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (systemd); i++)
    g_unsetenv (systemd[i]);

  if (g_mkdir_with_parents (argv[1], 0755) != 0)
    {
      g_printerr ("banger-docgen: cannot create %s: %s\n", argv[1], g_strerror (errno));
      return 1;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      g_autofree char *text = pages[i].write ();
      g_autofree char *path = g_build_filename (argv[1], pages[i].name, NULL);
      g_autoptr (GError) error = NULL;

      if (!g_file_set_contents (path, text, -1, &error))
        {
          g_printerr ("banger-docgen: %s\n", error->message);
          return 1;
        }
    }
  return 0;
}
