/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-docgen: banger's bash completion, from the CLI's command table
 * and each command's options (see banger-docgen.c). */
#include "config.h"

#include <string.h>

#include <banger/banger.h>

#include "banger-cli.h"
#include "banger-docgen.h"

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
      if (!banger_docgen_option_takes_value (e))
        continue;
      g_string_append (out, "    ");
      if (e->short_name != '\0')
        g_string_append_printf (out, "%s|-%c'|", cmd, e->short_name);
      g_string_append_printf (out, "%s|--%s') echo %s ;;\n", cmd, e->long_name, value_kind (e));
    }
}

char *
banger_docgen_completion (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GString) globals = g_string_new (NULL);
  g_autofree GOptionEntry *global_entries = banger_docgen_global_options ();

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
