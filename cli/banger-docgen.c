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

static gboolean
option_takes_value (const GOptionEntry *e)
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
  if (option_takes_value (e))
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

static GOptionEntry *
global_options (void)
{
  static BangerInvocation inv;
  static gboolean flag;

  return banger_global_options_new (&inv, &flag, &flag);
}

static char *
write_banger_1 (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autofree GOptionEntry *globals = global_options ();
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

/* ---- bash completion ------------------------------------------------------ */

/* What an option's value is, for completion: "file", "dir", "image",
 * "kernel", "vm" or "other" (nothing to offer). From the option's type and
 * its value's name in --help. */
static const char *
value_kind (const GOptionEntry *e)
{
  const char *what = e->arg_description != NULL ? e->arg_description : "";

  if (e->arg == G_OPTION_ARG_FILENAME || e->arg == G_OPTION_ARG_FILENAME_ARRAY)
    return g_str_equal (what, "DIR") ? "dir" : "file";
  if (g_str_equal (what, "IMAGE"))
    return "image";
  if (g_str_equal (what, "KERNEL"))
    return "kernel";
  if (g_str_equal (what, "VM"))
    return "vm";
  return "other";
}

/* What a command's first argument names: an existing VM, image or kernel
 * when it is a required NAME of a vm, image or kernel command ("[NAME]" is
 * a new name); the catalog's kernels for kernel pull. */
static const char *
arg_kind (const BangerCommand *cmd)
{
  static const char *const groups[] = { "vm", "image", "kernel" };

  if (g_str_equal (cmd->name, "kernel pull"))
    return "catalog";
  if (!g_str_has_prefix (cmd->args_usage, "NAME"))
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (groups); i++)
    if (g_str_has_prefix (cmd->name, groups[i]) && cmd->name[strlen (groups[i])] == ' ')
      return groups[i];
  return NULL;
}

static void
add_option_words (GString *words, const GOptionEntry *entries)
{
  for (const GOptionEntry *e = entries; e != NULL && e->long_name != NULL; e++)
    {
      if (e->flags & G_OPTION_FLAG_HIDDEN)
        continue;
      if (e->short_name != '\0')
        g_string_append_printf (words, " -%c", e->short_name);
      g_string_append_printf (words, " --%s", e->long_name);
    }
}

/* Case patterns 'CMD|--opt' (and 'CMD|-o') for each option that takes a
 * value; @cmd is the pattern's start up to the bar: "'vm create", or "*'"
 * for the global options. */
static void
add_value_cases (GString *out, const char *cmd, const GOptionEntry *entries)
{
  for (const GOptionEntry *e = entries; e != NULL && e->long_name != NULL; e++)
    {
      if (!option_takes_value (e))
        continue;
      g_string_append (out, "    ");
      if (e->short_name != '\0')
        g_string_append_printf (out, "%s|-%c'|", cmd, e->short_name);
      g_string_append_printf (out, "%s|--%s') echo %s ;;\n", cmd, e->long_name, value_kind (e));
    }
}

static char *
write_completion (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GString) globals = g_string_new (NULL);
  g_autofree GOptionEntry *global_entries = global_options ();

  add_option_words (globals, global_entries);
  g_string_append (out,
    "# bash completion for banger(1): command words (\"vm create\"), each command's\n"
    "# options, and the names of VMs, images and kernels where a command takes one.\n"
    "# Generated at build time by banger-docgen from banger's command table; do not\n"
    "# edit.\n"
    "\n"
    "_banger_commands='");
  for (gsize i = 0; i < banger_n_commands; i++)
    g_string_append_printf (out, "%s%s", i > 0 ? "\n" : "", banger_commands[i].name);
  g_string_append (out, "'\n\n");

  g_string_append (out,
    "# _banger_options CMD: CMD's options and the global ones.\n"
    "_banger_options ()\n{\n  case $1 in\n");
  for (gsize i = 0; i < banger_n_commands; i++)
    {
      g_autoptr (GString) words = g_string_new (NULL);

      add_option_words (words, banger_commands[i].options);
      if (words->len > 0)
        g_string_append_printf (out, "    '%s') echo '%s' ;;\n", banger_commands[i].name,
                                words->str + 1);
    }
  g_string_append_printf (out, "  esac\n  echo '%s'\n}\n\n", globals->str + 1);

  g_string_append (out,
    "# _banger_value_kind CMD OPTION: what OPTION's value is (file, dir, vm, image,\n"
    "# kernel, other); nothing when OPTION takes no value.\n"
    "_banger_value_kind ()\n{\n  case \"$1|$2\" in\n");
  for (gsize i = 0; i < banger_n_commands; i++)
    {
      g_autofree char *quoted = g_strdup_printf ("'%s", banger_commands[i].name);
      add_value_cases (out, quoted, banger_commands[i].options);
    }
  add_value_cases (out, "*'", global_entries);
  g_string_append (out, "  esac\n}\n\n");

  g_string_append (out,
    "# _banger_arg_kind CMD: what CMD's first argument names (vm, image, kernel,\n"
    "# catalog), or nothing.\n"
    "_banger_arg_kind ()\n{\n  case $1 in\n");
  for (gsize i = 0; i < banger_n_commands; i++)
    {
      const char *kind = arg_kind (&banger_commands[i]);
      if (kind != NULL)
        g_string_append_printf (out, "    '%s') echo %s ;;\n", banger_commands[i].name, kind);
    }
  g_string_append (out, "  esac\n}\n\n");

  /* The rest does not depend on the tables. */
  g_string_append (out,
    "# _banger_names KIND PROGRAM [GLOBAL OPTIONS...]: the names of KIND, from\n"
    "# `banger --json KIND list`. At most 2 seconds (bangerd may be starting, or\n"
    "# down), and nothing without timeout(1): completion must never hang.\n"
    "_banger_names ()\n"
    "{\n"
    "  local kind=$1 prog=$2 extra=\n"
    "  shift 2\n"
    "  case $kind in\n"
    "    vm|image|kernel) ;;\n"
    "    catalog) kind=kernel extra=--available ;;\n"
    "    *) return 0 ;;\n"
    "  esac\n"
    "  type -P timeout >/dev/null 2>&1 || return 0\n"
    "  [[ $prog == */* ]] || prog=$(type -P \"$prog\") || return 0\n"
    "  timeout 2 \"$prog\" \"$@\" --json \"$kind\" list $extra 2>/dev/null </dev/null |\n"
    "    sed -n 's/^  \"name\" : \"\\([^\"]*\\)\",*$/\\1/p'\n"
    "}\n"
    "\n"
    "_banger_complete_value ()\n"
    "{\n"
    "  local kind=$1 cur=$2\n"
    "  shift 2\n"
    "  case $kind in\n"
    "    file)\n"
    "      compopt -o filenames 2>/dev/null\n"
    "      mapfile -t COMPREPLY < <(compgen -f -- \"$cur\") ;;\n"
    "    dir)\n"
    "      compopt -o filenames 2>/dev/null\n"
    "      mapfile -t COMPREPLY < <(compgen -d -- \"$cur\") ;;\n"
    "    vm|image|kernel|catalog)\n"
    "      mapfile -t COMPREPLY < <(compgen -W \"$(_banger_names \"$kind\" \"$@\")\" -- \"$cur\") ;;\n"
    "  esac\n"
    "}\n"
    "\n"
    "_banger ()\n"
    "{\n"
    "  local cur=${COMP_WORDS[COMP_CWORD]} prev= word cmd= sofar= kind i nargs=0 dashdash=0\n"
    "  local -a globals=()\n"
    "  COMPREPLY=()\n"
    "  (( COMP_CWORD > 0 )) && prev=${COMP_WORDS[COMP_CWORD-1]}\n"
    "\n"
    "  # The words before the cursor: options (and their values) aside, the first\n"
    "  # ones name the command, the others are its arguments. COMP_WORDBREAKS\n"
    "  # splits --opt=value and a:b into three words: the part after = or : is\n"
    "  # skipped.\n"
    "  for (( i = 1; i < COMP_CWORD; i++ )); do\n"
    "    word=${COMP_WORDS[i]}\n"
    "    (( dashdash )) && continue\n"
    "    case $word in\n"
    "      --) dashdash=1 ;;\n"
    "      =|:) (( i++ )) ;;\n"
    "      -*)\n"
    "        case $word in --local|--system) globals+=(\"$word\") ;; esac\n"
    "        if [[ ${COMP_WORDS[i+1]} != = && -n $(_banger_value_kind \"$cmd\" \"$word\") ]]; then\n"
    "          case $word in -c|--config) globals+=(\"$word\" \"${COMP_WORDS[i+1]}\") ;; esac\n"
    "          (( i++ ))\n"
    "        fi ;;\n"
    "      *)\n"
    "        if [[ -n $cmd ]]; then\n"
    "          (( nargs++ ))\n"
    "        else\n"
    "          sofar=${sofar:+$sofar }$word\n"
    "          if [[ $'\\n'$_banger_commands$'\\n' == *$'\\n'\"$sofar\"$'\\n'* ]]; then\n"
    "            cmd=$sofar\n"
    "          elif [[ $'\\n'$_banger_commands != *$'\\n'\"$sofar \"* ]]; then\n"
    "            return 0 # not a command: nothing sensible to offer\n"
    "          fi\n"
    "        fi ;;\n"
    "    esac\n"
    "  done\n"
    "\n"
    "  # An option's value: --opt VALUE or --opt=VALUE.\n"
    "  if [[ $prev == = ]] && (( COMP_CWORD >= 2 )); then\n"
    "    kind=$(_banger_value_kind \"$cmd\" \"${COMP_WORDS[COMP_CWORD-2]}\")\n"
    "  elif [[ $prev == -?* && $prev != -- ]] && (( ! dashdash )); then\n"
    "    kind=$(_banger_value_kind \"$cmd\" \"$prev\")\n"
    "  fi\n"
    "  if [[ -n $kind ]]; then\n"
    "    _banger_complete_value \"$kind\" \"$cur\" \"${COMP_WORDS[0]}\" \"${globals[@]}\"\n"
    "    return 0\n"
    "  fi\n"
    "  (( dashdash )) && return 0\n"
    "\n"
    "  if [[ $cur == -* ]]; then\n"
    "    mapfile -t COMPREPLY < <(compgen -W \"$(_banger_options \"$cmd\")\" -- \"$cur\")\n"
    "  elif [[ -z $cmd ]]; then\n"
    "    # The next word of the commands that start with the words so far.\n"
    "    local next\n"
    "    next=$(while IFS= read -r word; do\n"
    "             if [[ -z $sofar ]]; then echo \"${word%% *}\"\n"
    "             elif [[ $word == \"$sofar \"* ]]; then word=${word#\"$sofar \"}; echo \"${word%% *}\"\n"
    "             fi\n"
    "           done <<< \"$_banger_commands\" | sort -u)\n"
    "    mapfile -t COMPREPLY < <(compgen -W \"$next\" -- \"$cur\")\n"
    "  elif (( nargs == 0 )); then\n"
    "    kind=$(_banger_arg_kind \"$cmd\")\n"
    "    [[ -n $kind ]] && _banger_complete_value \"$kind\" \"$cur\" \"${COMP_WORDS[0]}\" \"${globals[@]}\"\n"
    "  fi\n"
    "  return 0\n"
    "}\n"
    "\n"
    "complete -F _banger banger\n");
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
    { "banger.bash", write_completion },
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
