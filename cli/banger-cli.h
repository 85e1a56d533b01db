/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The banger CLI: a dispatch table of commands over libbanger's public API. */
#pragma once

#include <banger/banger.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Exit statuses that are not error codes (errors use
 * bgr_error_code_to_exit_status(); see docs/errors.md). */
#define BANGER_EXIT_OK 0
#define BANGER_EXIT_FAILED 1
#define BANGER_EXIT_USAGE 2

typedef struct {
  /* global options */
  gboolean local;
  gboolean system;
  gboolean json;
  int verbose;
  char *config_path;
  gboolean config_from_option; /* --config given (not $BANGER_CONFIG) */
  /* command words and positional arguments */
  const char *command;
  char **args; /* NULL-terminated, positional arguments after the command */
} BangerInvocation;

typedef gboolean (*BangerCmdFunc) (BangerInvocation *inv, int *exit_status, GError **error);

typedef struct {
  const char *name;          /* "doctor", "daemon status" */
  BangerCmdFunc func;
  const char *summary;       /* one line for `banger --help` */
  const char *description;   /* longer text for `banger CMD --help` */
  const char *args_usage;    /* e.g. "" or "NAME" */
  guint min_args, max_args;
  const GOptionEntry *options; /* the command's own options, or NULL */
} BangerCommand;

/* The command table (commands.c), in `banger --help` order. */
extern const BangerCommand banger_commands[];
extern const gsize banger_n_commands;
/* What banger is, for `banger --help` and banger(1). */
extern const char banger_description[];
/* The global options, bound to @inv, @opt_version and @opt_help (the --help
 * entry is left out when @opt_help is NULL). Free with g_free(). */
GOptionEntry *banger_global_options_new (BangerInvocation *inv, gboolean *opt_version,
                                         gboolean *opt_help);

/* Creates the client the invocation asks for: in-process with --local (or
 * when no session bus can be reached, saying so on stderr), else bangerd on
 * the session (or --system) bus. */
BgrClient *banger_invocation_get_client (BangerInvocation *inv, GError **error);
/* Same, without starting bangerd through D-Bus activation. */
BgrClient *banger_invocation_get_running_client (BangerInvocation *inv, GError **error);
/* Loads the config --config/$BANGER_CONFIG names (or the default one). */
BgrConfig *banger_invocation_load_config (BangerInvocation *inv, GError **error);
/* A string someone else wrote (a guest's OS name or process names, a
 * daemon's error message) as text output shows it: control characters,
 * bidi and invisible formatting characters escaped (\x1b, \u{202e}),
 * never written raw to the terminal. Returns @s itself when nothing needs
 * escaping, else an escaped copy kept until exit; NULL stays NULL.
 * banger_shown() escapes newlines and tabs too (one field, one line);
 * banger_shown_message() keeps them (multi-line messages). */
const char *banger_shown (const char *s);
const char *banger_shown_message (const char *s);
/* Prints a JSON document (already serialised) to stdout; characters a
 * terminal would act on that JSON allows raw (DEL, C1, bidi) are written
 * as \uNNNN. */
void banger_print_json (const char *json);
/* Prints a JSON array of the objects of @list, each serialised by @to_json. */
typedef char *(*BangerToJson) (gpointer object);
void banger_print_json_list (GPtrArray *list, BangerToJson to_json);
/* Ends @builder's root object and prints it. */
void banger_print_json_builder (JsonBuilder *builder);

/* The local terminal (terminal.c): its window size; raw mode on @fd
 * (when it is a terminal) and back; and a descriptor that gets a
 * "ROWS COLS" line on every SIGWINCH (call before making a client). */
gboolean banger_terminal_size (int fd, guint *rows, guint *cols);
void banger_terminal_raw (int fd);
void banger_terminal_restore (int fd);
int banger_terminal_watch_size (void);

/* The progress line of a long call and its Ctrl-C (progress.c). STEPS:
 * "[2/6] phase... 1.3 s" with a live timer (VM boots); BYTES: a transfer. */
typedef enum { BANGER_PROGRESS_STEPS, BANGER_PROGRESS_BYTES } BangerProgressStyle;
typedef struct _BangerProgress BangerProgress;
BangerProgress *banger_progress_new (BangerProgressStyle style, const char *what, gboolean tty);
BgrOperation *banger_progress_get_operation (BangerProgress *p);
double banger_progress_elapsed (BangerProgress *p);
void banger_progress_end (BangerProgress *p, gboolean ok);

gboolean banger_cmd_version (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_doctor (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_config_show (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_config_path (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_config_ssh_key (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_daemon_status (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_daemon_stop (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_web (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_kernel_import (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_kernel_list (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_kernel_show (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_kernel_delete (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_kernel_pull (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_image_register (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_image_list (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_image_show (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_image_delete (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_image_promote (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_image_pull (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_image_build (BangerInvocation *inv, int *exit_status, GError **error);
/* An image as `image show` prints it, text or JSON (cmd-image.c). */
void banger_print_image (BgrImage *img);
void banger_print_image_json (BgrImage *img);
gboolean banger_cmd_image_cache_list (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_image_cache_prune (BangerInvocation *inv, int *exit_status, GError **error);

gboolean banger_cmd_vm_create (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_start (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_stop (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_kill (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_delete (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_list (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_show (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_logs (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_exec (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_ports (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_stats (BangerInvocation *inv, int *exit_status, GError **error);
/* cmd-tcp.c, cmd-guest.c */
gboolean banger_cmd_vm_proxy (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_forward (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_ssh (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_acp (BangerInvocation *inv, int *exit_status, GError **error);
void banger_print_vm_forwards (BgrClient *client, const char *name);
/* `vm exec -t` and `vm exec NAME` (cmd-vm.c): @spec on a terminal. */
gboolean banger_exec_terminal (BgrClient *client, const char *name, BgrExecSpec *spec,
                               gint *status, GError **error);

gboolean banger_cmd_vm_session_start (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_session_list (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_session_show (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_session_logs (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_session_attach (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_session_stop (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_session_kill (BangerInvocation *inv, int *exit_status, GError **error);

extern const GOptionEntry banger_vm_session_start_options[];
extern const GOptionEntry banger_vm_session_logs_options[];
extern const GOptionEntry banger_vm_create_options[];
gboolean banger_cmd_vm_run (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_workspace_prepare (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_workspace_show (BangerInvocation *inv, int *exit_status, GError **error);
gboolean banger_cmd_vm_workspace_bootstrap (BangerInvocation *inv, int *exit_status,
                                            GError **error);
gboolean banger_cmd_vm_workspace_export (BangerInvocation *inv, int *exit_status, GError **error);
extern const GOptionEntry banger_vm_workspace_export_options[];
gboolean banger_cmd_vm_cp (BangerInvocation *inv, int *exit_status, GError **error);
extern const GOptionEntry banger_vm_run_options[];
extern const GOptionEntry banger_vm_workspace_prepare_options[];
extern const GOptionEntry banger_vm_delete_options[];
extern const GOptionEntry banger_vm_logs_options[];
extern const GOptionEntry banger_vm_exec_options[];
extern const GOptionEntry banger_vm_forward_options[];
extern const GOptionEntry banger_vm_ssh_options[];
extern const GOptionEntry banger_vm_acp_options[];
extern const GOptionEntry banger_kernel_import_options[];
extern const GOptionEntry banger_kernel_list_options[];
extern const GOptionEntry banger_web_options[];
extern const GOptionEntry banger_image_register_options[];
extern const GOptionEntry banger_image_pull_options[];
extern const GOptionEntry banger_image_build_options[];
/* "4G", "512M", "1GiB", or a bare number of @bare_unit bytes, to bytes.
 * Errors name @option ("--memory"), or say "invalid size" when NULL. */
gboolean banger_parse_size (const char *option, const char *text, guint64 bare_unit,
                            guint64 *out, GError **error);
/* @bytes for people ("106.4 MB"): g_format_size(), with a plain space
 * instead of its no-break space when the locale's charset is not UTF-8
 * (where it would print as "106.4?MB"). */
char *banger_format_size (guint64 bytes);
/* @text with every U+00A0 replaced by a space when the locale's charset is
 * not UTF-8; a new string. */
char *banger_ascii_spaces (const char *text);
/* An error message of libbanger or bangerd for @cmd's user: the option keys
 * it names ("option 'memory-mib'") become @cmd's flags ("--memory"). */
char *banger_error_for_cli (const BangerCommand *cmd, const char *message);
/* An absolute form of a path given on the command line (NULL stays NULL). */
char *banger_absolute_path (const char *path);

G_END_DECLS
