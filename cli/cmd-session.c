/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger vm session ...: sessions in a VM (bgr-session.h). What the guest
 * reports (names, argv, cwd) is shown escaped. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "banger-cli.h"

static char *opt_name, *opt_cwd, *opt_stdin_mode;
static char **opt_env, **opt_require;
static gboolean opt_tty;

const GOptionEntry banger_vm_session_start_options[] = {
  { "name", 0, 0, G_OPTION_ARG_STRING, &opt_name,
    "The session's name (required): 1-64 of A-Z a-z 0-9 _ . -", "NAME" },
  { "cwd", 'w', 0, G_OPTION_ARG_STRING, &opt_cwd, "Working directory in the guest (default: /)",
    "DIR" },
  { "env", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &opt_env,
    "Set KEY=VALUE in the session's environment (repeatable)", "KEY=VALUE" },
  { "stdin-mode", 0, 0, G_OPTION_ARG_STRING, &opt_stdin_mode,
    "detached (stdin is /dev/null, the default) or pipe (vm session attach can write to it)",
    "MODE" },
  { "require-command", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_require,
    "Refuse to start unless CMD is found in the guest's PATH (repeatable)", "CMD" },
  { "tty", 't', 0, G_OPTION_ARG_NONE, &opt_tty,
    "Run it on a pseudo-terminal in the guest, of this terminal's size (its output is all on "
    "stdout; attach gives a full terminal)", NULL },
  G_OPTION_ENTRY_NULL
};

static char *opt_stream, *opt_tail;
static gboolean opt_follow;

const GOptionEntry banger_vm_session_logs_options[] = {
  { "stream", 0, 0, G_OPTION_ARG_STRING, &opt_stream, "stdout (the default) or stderr", "STREAM" },
  { "follow", 'f', 0, G_OPTION_ARG_NONE, &opt_follow,
    "Keep printing new output until the session exits (Ctrl-C stops)", NULL },
  { "tail", 'n', 0, G_OPTION_ARG_STRING, &opt_tail, "Only the last N lines", "N" },
  G_OPTION_ENTRY_NULL
};

/* The command as a shell would take it back (arguments with spaces or
 * quotes quoted), then escaped: it is the guest's text. */
static char *
argv_text (BgrVmSession *s)
{
  g_auto (GStrv) argv = bgr_vm_session_dup_argv (s);
  g_autoptr (GString) line = g_string_new (NULL);

  for (char **a = argv; *a != NULL; a++)
    {
      gboolean plain = **a != '\0';
      for (const char *p = *a; *p != '\0' && plain; p++)
        plain = g_ascii_isalnum (*p) || strchr ("_-./=:,+@%", *p) != NULL || (guchar) *p >= 0x80;
      if (line->len > 0)
        g_string_append_c (line, ' ');
      if (plain)
        g_string_append (line, *a);
      else
        {
          g_autofree char *q = g_shell_quote (*a);
          g_string_append (line, q);
        }
    }
  return g_strdup (banger_shown (line->str));
}

static char *
time_text (gint64 ms)
{
  g_autoptr (GDateTime) t = ms > 0 ? g_date_time_new_from_unix_local (ms / 1000) : NULL;
  return t != NULL ? g_date_time_format (t, "%Y-%m-%d %H:%M:%S") : g_strdup ("-");
}

static char *
state_text (BgrVmSession *s)
{
  if (g_strcmp0 (bgr_vm_session_get_state (s), "exited") != 0)
    return g_strdup (banger_shown (bgr_vm_session_get_state (s)));
  if (bgr_vm_session_get_signal (s) > 0)
    return g_strdup_printf ("exited (signal %" G_GINT64_FORMAT ")", bgr_vm_session_get_signal (s));
  return g_strdup_printf ("exited (%" G_GINT64_FORMAT ")", bgr_vm_session_get_exit_code (s));
}

static void
print_session (BgrVmSession *s)
{
  g_autofree char *argv = argv_text (s);
  g_autofree char *state = state_text (s);
  g_autofree char *started = time_text (bgr_vm_session_get_started_ms (s));
  g_autofree char *ended = time_text (bgr_vm_session_get_ended_ms (s));

  g_print ("name:       %s\n", banger_shown (bgr_vm_session_get_name (s)));
  g_print ("vm:         %s\n", banger_shown (bgr_vm_session_get_vm (s)));
  g_print ("state:      %s\n", state);
  g_print ("command:    %s\n", argv);
  g_print ("cwd:        %s\n", banger_shown (bgr_vm_session_get_cwd (s)));
  g_print ("stdin:      %s%s%s\n", banger_shown (bgr_vm_session_get_stdin_mode (s)),
           bgr_vm_session_get_pty (s) ? ", on a terminal" : "",
           bgr_vm_session_get_attached (s) ? " (attached)" : "");
  g_print ("pid:        %" G_GINT64_FORMAT "\n", bgr_vm_session_get_pid (s));
  g_print ("started:    %s (guest clock)\n", started);
  if (g_strcmp0 (bgr_vm_session_get_state (s), "exited") == 0)
    g_print ("ended:      %s\n", ended);
  g_print ("stdout:     %" G_GINT64_FORMAT " bytes (%" G_GINT64_FORMAT " dropped)\n",
           bgr_vm_session_get_stdout_bytes (s), bgr_vm_session_get_stdout_dropped (s));
  g_print ("stderr:     %" G_GINT64_FORMAT " bytes (%" G_GINT64_FORMAT " dropped)\n",
           bgr_vm_session_get_stderr_bytes (s), bgr_vm_session_get_stderr_dropped (s));
}

static gboolean
show_result (BangerInvocation *inv, BgrVmSession *s)
{
  if (s == NULL)
    return FALSE;
  if (inv->json)
    {
      g_autofree char *json = bgr_vm_session_to_json (s);
      banger_print_json (json);
    }
  else
    print_session (s);
  g_object_unref (s);
  return TRUE;
}

gboolean
banger_cmd_vm_session_start (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = NULL;
  g_autoptr (BgrSessionSpec) spec = NULL;

  if (opt_name == NULL)
    {
      g_set_error_literal (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                           "--name is required: banger vm session start VM --name NAME -- COMMAND");
      return FALSE;
    }
  if (inv->args[1] == NULL)
    {
      g_set_error_literal (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                           "no command given: banger vm session start VM --name NAME -- COMMAND");
      return FALSE;
    }
  if ((client = banger_invocation_get_client (inv, error)) == NULL)
    return FALSE;
  spec = bgr_session_spec_new (opt_name, (const char *const *) inv->args + 1);
  bgr_session_spec_set_env (spec, (const char *const *) opt_env);
  bgr_session_spec_set_cwd (spec, opt_cwd);
  bgr_session_spec_set_stdin_mode (spec, opt_stdin_mode);
  bgr_session_spec_set_require (spec, (const char *const *) opt_require);
  if (opt_tty)
    {
      guint rows, cols;
      bgr_session_spec_set_pty (spec, TRUE);
      if (banger_terminal_size (STDIN_FILENO, &rows, &cols)
          || banger_terminal_size (STDOUT_FILENO, &rows, &cols))
        {
          bgr_session_spec_set_rows (spec, rows);
          bgr_session_spec_set_cols (spec, cols);
        }
    }
  return show_result (inv, bgr_client_vm_session_start (client, inv->args[0], spec, NULL, error));
}

gboolean
banger_cmd_vm_session_list (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autoptr (GPtrArray) list = NULL;

  if (client == NULL || (list = bgr_client_vm_session_list (client, inv->args[0], NULL, error)) == NULL)
    return FALSE;
  if (inv->json)
    {
      banger_print_json_list (list, (BangerToJson) bgr_vm_session_to_json);
      return TRUE;
    }
  g_print ("%-20s %-18s %-8s %-9s %s\n", "NAME", "STATE", "PID", "STDIN", "COMMAND");
  for (guint i = 0; i < list->len; i++)
    {
      BgrVmSession *s = list->pdata[i];
      g_autofree char *argv = argv_text (s);
      g_autofree char *state = state_text (s);
      g_print ("%-20s %-18s %-8" G_GINT64_FORMAT " %-9s %s\n", banger_shown (bgr_vm_session_get_name (s)),
               state, bgr_vm_session_get_pid (s),
               bgr_vm_session_get_attached (s) ? "attached" : banger_shown (bgr_vm_session_get_stdin_mode (s)),
               argv);
    }
  return TRUE;
}

gboolean
banger_cmd_vm_session_show (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);

  if (client == NULL)
    return FALSE;
  return show_result (inv, bgr_client_vm_session_get (client, inv->args[0], inv->args[1], NULL, error));
}

gboolean
banger_cmd_vm_session_stop (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);

  if (client == NULL)
    return FALSE;
  return show_result (inv, bgr_client_vm_session_stop (client, inv->args[0], inv->args[1], NULL, error));
}

gboolean
banger_cmd_vm_session_kill (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);

  if (client == NULL)
    return FALSE;
  return show_result (inv, bgr_client_vm_session_kill (client, inv->args[0], inv->args[1], NULL, error));
}

gboolean
banger_cmd_vm_session_logs (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = NULL;
  BgrSessionStream stream = BGR_SESSION_STREAM_STDOUT;
  guint64 tail = 0;

  if (opt_stream != NULL && g_str_equal (opt_stream, "stderr"))
    stream = BGR_SESSION_STREAM_STDERR;
  else if (opt_stream != NULL && !g_str_equal (opt_stream, "stdout"))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "--stream: '%s' is neither stdout nor stderr", opt_stream);
      return FALSE;
    }
  if (opt_tail != NULL && !g_ascii_string_to_unsigned (opt_tail, 10, 1, G_MAXUINT32, &tail, NULL))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "--tail: '%s' is not a number of lines (1 or more)", opt_tail);
      return FALSE;
    }
  if ((client = banger_invocation_get_client (inv, error)) == NULL)
    return FALSE;
  return bgr_client_vm_session_logs (client, inv->args[0], inv->args[1], stream, (guint) tail,
                                     opt_follow, STDOUT_FILENO, NULL, error);
}

/* ---- attach -------------------------------------------------------------- */

#define DETACH_KEY 0x1d /* Ctrl-] */

typedef struct {
  int out;              /* the pipe the attach reads, -1 once closed */
  GCancellable *detach; /* cancelled on Ctrl-] */
} Keys;

/* Copies the terminal to @k->out byte by byte until Ctrl-]. */
static gpointer
keys_thread (gpointer data)
{
  Keys *k = data;
  GPollFD fds[2] = { { .fd = STDIN_FILENO, .events = G_IO_IN } };
  guint8 buf[4096];

  g_cancellable_make_pollfd (k->detach, &fds[1]);
  for (;;)
    {
      ssize_t n;
      guint8 *stop;
      fds[0].revents = fds[1].revents = 0;
      if (g_poll (fds, 2, -1) < 0 && errno != EINTR)
        break;
      if (g_cancellable_is_cancelled (k->detach))
        break;
      if (fds[0].revents == 0)
        continue;
      n = read (STDIN_FILENO, buf, sizeof buf);
      if (n <= 0)
        break;
      stop = memchr (buf, DETACH_KEY, (gsize) n);
      if (write (k->out, buf, stop != NULL ? (gsize) (stop - buf) : (gsize) n) < 0)
        break;
      if (stop != NULL)
        {
          g_cancellable_cancel (k->detach);
          break;
        }
    }
  g_cancellable_release_fd (k->detach);
  return NULL;
}

/* Ctrl-] detaches: stdin goes through keys_thread when it is a terminal.
 * A session on a terminal gets a full one: raw mode, and this window's
 * size, now and on every change; other sessions see typed lines echoed. */
static gboolean
attach (BgrClient *client, const char *vm, const char *name, gboolean pty, int resize_fd,
        gint *status, GError **error)
{
  g_autoptr (GCancellable) detach = g_cancellable_new ();
  gboolean tty = isatty (STDIN_FILENO), ok;
  struct termios saved, raw;
  Keys keys = { .out = -1, .detach = detach };
  GThread *th = NULL;
  int p[2] = { -1, -1 }, in = STDIN_FILENO;

  if (tty && tcgetattr (STDIN_FILENO, &saved) == 0 && pipe (p) == 0)
    {
      g_printerr ("banger: attached to session '%s' (Ctrl-] detaches)\n", banger_shown (name));
      raw = saved;
      if (pty)
        cfmakeraw (&raw);
      else
        raw.c_lflag &= ~(tcflag_t) ICANON; /* Ctrl-C still interrupts banger */
      raw.c_cc[VMIN] = 1;
      raw.c_cc[VTIME] = 0;
      tcsetattr (STDIN_FILENO, TCSANOW, &raw);
      keys.out = p[1];
      in = p[0];
      th = g_thread_new ("banger-keys", keys_thread, &keys);
    }
  else
    tty = FALSE;
  if (tty && pty && resize_fd >= 0)
    {
      /* The session's terminal takes this one's size: a signal to the process
       * (SIGWINCH is blocked in this thread), which the size watcher takes. */
      kill (getpid (), SIGWINCH);
      ok = bgr_client_vm_session_attach_terminal (client, vm, name, in, STDOUT_FILENO, resize_fd,
                                                  status, detach, error);
    }
  else
    ok = bgr_client_vm_session_attach (client, vm, name, in, STDOUT_FILENO, STDERR_FILENO, status,
                                       detach, error);
  if (tty)
    {
      g_cancellable_cancel (detach);
      g_thread_join (th);
      close (p[0]);
      close (p[1]);
      tcsetattr (STDIN_FILENO, TCSANOW, &saved);
      if (pty)
        g_printerr ("\n");
    }
  return ok;
}

gboolean
banger_cmd_vm_session_attach (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = NULL;
  g_autoptr (BgrVmSession) s = NULL;
  /* Before the client's threads exist (banger_terminal_watch_size()). */
  int resize_fd = isatty (STDIN_FILENO) ? banger_terminal_watch_size () : -1;
  gint status = -1;

  if ((client = banger_invocation_get_client (inv, error)) == NULL
      || (s = bgr_client_vm_session_get (client, inv->args[0], inv->args[1], NULL, error)) == NULL
      || !attach (client, inv->args[0], inv->args[1], bgr_vm_session_get_pty (s), resize_fd,
                  &status, error))
    return FALSE;
  if (status < 0)
    {
      g_printerr ("banger: detached from session '%s'; it keeps running\n", banger_shown (inv->args[1]));
      *exit_status = 0;
    }
  else
    *exit_status = status;
  return TRUE;
}
