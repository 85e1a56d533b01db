/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "banger-cli.h"

static char *opt_name, *opt_image, *opt_vcpus, *opt_memory, *opt_disk_size, *opt_work_size,
  *opt_cmdline_append, *opt_network;

const GOptionEntry banger_vm_create_options[] = {
  { "name", 0, 0, G_OPTION_ARG_STRING, &opt_name,
    "The VM's name, a DNS label; it answers as NAME.vm (default: vm-XXXXXX)", "NAME" },
  { "image", 0, 0, G_OPTION_ARG_STRING, &opt_image,
    "The image to boot (default: the default_image_name setting)", "IMAGE" },
  { "vcpus", 0, 0, G_OPTION_ARG_STRING, &opt_vcpus, "Number of vCPUs (default: 1)", "N" },
  { "memory", 0, 0, G_OPTION_ARG_STRING, &opt_memory,
    "Memory: MiB, or with a unit: 1G, 512M (default: 512M)", "SIZE" },
  { "disk-size", 0, 0, G_OPTION_ARG_STRING, &opt_disk_size,
    "Size of the VM's rootfs, e.g. 8G; larger than the image grows its ext4 (default: the "
    "image's size)", "SIZE" },
  { "work-size", 0, 0, G_OPTION_ARG_STRING, &opt_work_size,
    "Size of the work disk mounted at /root in the guest, e.g. 20G (default: 8G, or the "
    "image's work-seed when larger)", "SIZE" },
  { "cmdline-append", 0, 0, G_OPTION_ARG_STRING, &opt_cmdline_append,
    "Add these arguments to the guest kernel's command line (kept for every boot)", "ARGS" },
  { "network", 0, 0, G_OPTION_ARG_STRING, &opt_network,
    "bridge (default) or none: no network device; the agent, vm proxy and vm ssh still "
    "reach the guest", "MODE" },
  G_OPTION_ENTRY_NULL
};

static gboolean opt_force;

const GOptionEntry banger_vm_delete_options[] = {
  { "force", 'f', 0, G_OPTION_ARG_NONE, &opt_force, "Kill the VM first if it runs", NULL },
  G_OPTION_ENTRY_NULL
};

static char *opt_tail;

const GOptionEntry banger_vm_logs_options[] = {
  { "tail", 0, 0, G_OPTION_ARG_STRING, &opt_tail, "Only the last SIZE bytes, e.g. 16K", "SIZE" },
  G_OPTION_ENTRY_NULL
};

static char **opt_env;
static char *opt_cwd, *opt_timeout;
static gboolean opt_stdin, opt_no_stdin, opt_tty;

const GOptionEntry banger_vm_exec_options[] = {
  { "env", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &opt_env, "Set KEY=VALUE in the command's environment (repeatable)",
    "KEY=VALUE" },
  { "cwd", 'w', 0, G_OPTION_ARG_STRING, &opt_cwd, "Working directory in the guest (default: /)", "DIR" },
  { "tty", 't', 0, G_OPTION_ARG_NONE, &opt_tty,
    "Run the command on a terminal in the guest (job control, Ctrl-C, full-screen programs; "
    "stdin is forwarded)", NULL },
  { "timeout", 0, 0, G_OPTION_ARG_STRING, &opt_timeout,
    "Kill the command after this long, e.g. 30s, 5m (exit status 124)", "DURATION" },
  { "stdin", 'i', 0, G_OPTION_ARG_NONE, &opt_stdin,
    "Forward stdin even when it is a terminal (it is forwarded when it is a pipe or file)", NULL },
  { "no-stdin", 'n', 0, G_OPTION_ARG_NONE, &opt_no_stdin, "Never forward stdin", NULL },
  G_OPTION_ENTRY_NULL
};

static const char *
or_dash (const char *s)
{
  return s != NULL && *s != '\0' ? s : "-";
}

static void
print_vm (BgrVm *vm)
{
  g_autofree char *disk = bgr_vm_get_disk_size (vm) > 0 ? banger_format_size ((guint64) bgr_vm_get_disk_size (vm))
                                                        : g_strdup ("-");
  g_autofree char *used = banger_format_size ((guint64) bgr_vm_get_disk_used (vm));
  g_auto (GStrv) addrs = bgr_vm_dup_guest_addrs (vm);
  const char *reason = bgr_vm_get_reason (vm);

  g_print ("name:        %s\n", bgr_vm_get_name (vm));
  g_print ("state:       %s%s%s%s\n", bgr_vm_state_to_string (bgr_vm_get_state (vm)), reason != NULL ? " (" : "",
           reason != NULL ? banger_shown (reason) : "", reason != NULL ? ")" : "");
  g_print ("image:       %s\n", bgr_vm_get_image (vm));
  g_print ("hypervisor:  %s (%s)\n", or_dash (bgr_vm_get_hypervisor (vm)), or_dash (bgr_vm_get_accel (vm)));
  if (bgr_vm_get_pid (vm) > 0)
    g_print ("pid:         %" G_GINT64_FORMAT "\n", bgr_vm_get_pid (vm));
  g_print ("vcpus:       %" G_GINT64_FORMAT "\n", bgr_vm_get_vcpus (vm));
  g_print ("memory:      %" G_GINT64_FORMAT " MiB\n", bgr_vm_get_memory_mib (vm));
  g_print ("disk:        %s (its files take %s on the host)\n", disk, used);
  if (bgr_vm_get_work_size (vm) > 0)
    {
      g_autofree char *work = banger_format_size ((guint64) bgr_vm_get_work_size (vm));
      g_print ("work disk:   %s, mounted at /root\n", work);
    }
  g_print ("ip:          %s\n", bgr_vm_get_ip (vm) != NULL ? bgr_vm_get_ip (vm) : "none (no network)");
  if (bgr_vm_get_dns_name (vm) != NULL)
    g_print ("dns:         %s\n", bgr_vm_get_dns_name (vm));
  /* What the guest reported: data to show, never to interpret. */
  g_print ("guest:       %s, kernel %s\n", banger_shown (or_dash (bgr_vm_get_guest_os (vm))),
           banger_shown (or_dash (bgr_vm_get_guest_kernel (vm))));
  if (addrs[0] != NULL)
    {
      g_autofree char *joined = g_strjoinv (", ", addrs);
      g_print ("addresses:   %s\n", banger_shown (joined));
    }
  g_print ("console log: %s\n", or_dash (bgr_vm_get_console_log_path (vm)));
}

static void
print_vm_json (BgrVm *vm)
{
  g_autofree char *json = bgr_vm_to_json (vm);
  banger_print_json (json);
}

static char *
default_name (void)
{
  return g_strdup_printf ("vm-%06x", g_random_int () & 0xffffff);
}

gboolean
banger_cmd_vm_create (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = NULL;
  g_autoptr (BgrVm) vm = NULL;
  g_autofree char *name = opt_name != NULL ? g_strdup (opt_name) : default_name ();
  guint64 memory = 0, disk = 0, work = 0, vcpus = 0;
  double elapsed;
  gboolean tty = isatty (STDERR_FILENO) && !inv->json;
  g_autoptr (BgrVmSpec) spec = bgr_vm_spec_new (name);
  BangerProgress *p;

  /* A whole number from 1: "-1" or "0" is not "the default". */
  if (opt_vcpus != NULL
      && !g_ascii_string_to_unsigned (opt_vcpus, 10, 1, G_MAXUINT32, &vcpus, NULL))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid --vcpus \"%s\": give a whole number, at least 1", opt_vcpus);
      return FALSE;
    }
  if ((opt_memory != NULL && !banger_parse_size ("--memory", opt_memory, 1ull << 20, &memory, error))
      || (opt_disk_size != NULL && !banger_parse_size ("--disk-size", opt_disk_size, 1, &disk, error))
      || (opt_work_size != NULL && !banger_parse_size ("--work-size", opt_work_size, 1, &work, error)))
    return FALSE;
  if (opt_memory != NULL && memory < (1ull << 20))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "--memory %s is less than 1 MiB", opt_memory);
      return FALSE;
    }
  client = banger_invocation_get_client (inv, error);
  if (client == NULL)
    return FALSE;
  if (opt_image != NULL)
    bgr_vm_spec_set_image (spec, opt_image);
  if (vcpus > 0)
    bgr_vm_spec_set_vcpus (spec, (guint) vcpus);
  if (memory > 0)
    bgr_vm_spec_set_memory_mib (spec, memory >> 20);
  if (disk > 0)
    bgr_vm_spec_set_disk_size (spec, disk);
  if (work > 0)
    bgr_vm_spec_set_work_size (spec, work);
  bgr_vm_spec_set_cmdline_append (spec, opt_cmdline_append);
  bgr_vm_spec_set_network (spec, opt_network);
  p = banger_progress_new (BANGER_PROGRESS_STEPS, name, tty);
  vm = bgr_client_vm_create (client, spec, banger_progress_get_operation (p), NULL, error);
  elapsed = banger_progress_elapsed (p);
  banger_progress_end (p, vm != NULL);
  if (vm == NULL)
    return FALSE;
  if (inv->json)
    print_vm_json (vm);
  else
    {
      g_print ("VM '%s' is running (ready in %.1f s)\n", bgr_vm_get_name (vm),
               elapsed);
      print_vm (vm);
    }
  return TRUE;
}

gboolean
banger_cmd_vm_start (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autoptr (BgrVm) vm = NULL;
  gboolean tty = isatty (STDERR_FILENO) && !inv->json;
  BangerProgress *p;

  if (client == NULL)
    return FALSE;
  p = banger_progress_new (BANGER_PROGRESS_STEPS, inv->args[0], tty);
  vm = bgr_client_vm_start (client, inv->args[0], banger_progress_get_operation (p), NULL, error);
  banger_progress_end (p, vm != NULL);
  if (vm == NULL)
    return FALSE;
  if (inv->json)
    print_vm_json (vm);
  else
    g_print ("VM '%s' is running\n", bgr_vm_get_name (vm));
  return TRUE;
}

static gboolean
stop_or_kill (BangerInvocation *inv, gboolean kill, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autoptr (BgrVm) vm = NULL;

  if (client == NULL)
    return FALSE;
  vm = kill ? bgr_client_vm_kill (client, inv->args[0], NULL, error)
            : bgr_client_vm_stop (client, inv->args[0], NULL, error);
  if (vm == NULL)
    return FALSE;
  if (inv->json)
    print_vm_json (vm);
  else
    g_print ("VM '%s' %s\n", bgr_vm_get_name (vm), banger_shown (or_dash (bgr_vm_get_reason (vm))));
  return TRUE;
}

gboolean
banger_cmd_vm_stop (BangerInvocation *inv, int *exit_status, GError **error)
{
  return stop_or_kill (inv, FALSE, error);
}

gboolean
banger_cmd_vm_kill (BangerInvocation *inv, int *exit_status, GError **error)
{
  return stop_or_kill (inv, TRUE, error);
}

gboolean
banger_cmd_vm_delete (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);

  if (client == NULL || !bgr_client_vm_delete (client, inv->args[0], opt_force ? BGR_VM_DELETE_FLAGS_FORCE : BGR_VM_DELETE_FLAGS_NONE, NULL, error))
    return FALSE;
  if (inv->json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "deleted");
      json_builder_add_string_value (b, inv->args[0]);
      banger_print_json_builder (b);
    }
  else
    g_print ("deleted VM '%s'\n", inv->args[0]);
  return TRUE;
}

gboolean
banger_cmd_vm_list (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autoptr (GPtrArray) list = NULL;

  if (client == NULL || (list = bgr_client_vm_list (client, NULL, error)) == NULL)
    return FALSE;
  if (inv->json)
    {
      banger_print_json_list (list, (BangerToJson) bgr_vm_to_json);
      return TRUE;
    }
  g_print ("%-20s %-9s %-16s %-15s %-12s %s\n", "NAME", "STATE", "IMAGE", "IP", "HYPERVISOR", "VCPUS/MEM");
  for (guint i = 0; i < list->len; i++)
    {
      BgrVm *vm = list->pdata[i];
      g_autofree char *hv = g_strdup_printf ("%s/%s", or_dash (bgr_vm_get_hypervisor (vm)),
                                             or_dash (bgr_vm_get_accel (vm)));
      g_print ("%-20s %-9s %-16s %-15s %-12s %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "M\n",
               bgr_vm_get_name (vm), bgr_vm_state_to_string (bgr_vm_get_state (vm)), bgr_vm_get_image (vm),
               or_dash (bgr_vm_get_ip (vm)), hv, bgr_vm_get_vcpus (vm), bgr_vm_get_memory_mib (vm));
    }
  return TRUE;
}

gboolean
banger_cmd_vm_show (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autoptr (BgrVm) vm = NULL;

  if (client == NULL || (vm = bgr_client_vm_get (client, inv->args[0], NULL, error)) == NULL)
    return FALSE;
  if (inv->json)
    print_vm_json (vm);
  else
    print_vm (vm);
  return TRUE;
}

gboolean
banger_cmd_vm_logs (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = NULL;
  g_autoptr (GBytes) logs = NULL;
  guint64 tail = 0;
  gsize len;
  const char *data;

  if (opt_tail != NULL && !banger_parse_size ("--tail", opt_tail, 1, &tail, error))
    return FALSE;
  client = banger_invocation_get_client (inv, error);
  if (client == NULL || (logs = bgr_client_vm_logs (client, inv->args[0], tail, NULL, error)) == NULL)
    return FALSE;
  data = g_bytes_get_data (logs, &len);
  if (inv->json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autofree char *text = g_utf8_make_valid (data != NULL ? data : "", (gssize) len);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, inv->args[0]);
      json_builder_set_member_name (b, "console");
      json_builder_add_string_value (b, text);
      banger_print_json_builder (b);
    }
  else if (len > 0)
    {
      fwrite (data, 1, len, stdout);
      fflush (stdout);
    }
  return TRUE;
}

gboolean
banger_cmd_vm_exec (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = NULL;
  g_autoptr (BgrExecSpec) spec = NULL;
  gint64 timeout_ms = 0;
  gint status = 0;
  int resize_fd = -1;
  gboolean forward = !opt_no_stdin && (opt_stdin || !isatty (STDIN_FILENO));
  /* No command: a login shell, on a terminal. */
  static const char *const login_shell[] = {
    "/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi",
    NULL
  };
  gboolean tty = opt_tty || inv->args[1] == NULL;

  if (tty && opt_no_stdin)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "--tty (or no command: a login shell) needs stdin; drop --no-stdin");
      return FALSE;
    }
  if (opt_timeout != NULL && !bgr_parse_duration (opt_timeout, &timeout_ms, error))
    {
      g_prefix_error (error, "--timeout: ");
      return FALSE;
    }
  if (timeout_ms > G_MAXUINT32)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "--timeout is too long");
      return FALSE;
    }
  if (tty)
    resize_fd = banger_terminal_watch_size (); /* before the client's threads */
  client = banger_invocation_get_client (inv, error);
  if (client == NULL)
    return FALSE;
  spec = bgr_exec_spec_new (inv->args[1] != NULL ? (const char *const *) inv->args + 1 : login_shell);
  bgr_exec_spec_set_env (spec, (const char *const *) opt_env);
  bgr_exec_spec_set_cwd (spec, opt_cwd);
  if (timeout_ms > 0)
    bgr_exec_spec_set_timeout_ms (spec, (guint) timeout_ms);
  bgr_exec_spec_set_stdio (spec, forward ? STDIN_FILENO : -1, STDOUT_FILENO, STDERR_FILENO);
  bgr_exec_spec_set_resize_fd (spec, resize_fd);
  if (!(tty ? banger_exec_terminal (client, inv->args[0], spec, &status, error)
            : bgr_client_vm_exec (client, inv->args[0], spec, &status, NULL, error)))
    {
      /* 124 for the command's own --timeout only, as timeout(1) does. */
      if (opt_timeout != NULL && g_error_matches (*error, BGR_ERROR, BGR_ERROR_TIMED_OUT)
          && strstr ((*error)->message, "timed out after") != NULL)
        {
          g_printerr ("banger: %s\n", banger_shown_message ((*error)->message));
          g_clear_error (error);
          *exit_status = 124;
          return TRUE;
        }
      return FALSE;
    }
  *exit_status = status;
  return TRUE;
}

/* The terminal's size and $TERM go to the guest; the local terminal is raw
 * while the command runs, so that every key reaches the guest's. */
gboolean
banger_exec_terminal (BgrClient *client, const char *name, BgrExecSpec *spec, gint *status,
                      GError **error)
{
  g_auto (GStrv) env = bgr_exec_spec_dup_env (spec);
  guint rows = 24, cols = 80;
  gboolean has_term = FALSE, ok;

  for (char **e = env; e != NULL && *e != NULL; e++)
    has_term = has_term || g_str_has_prefix (*e, "TERM=");
  if (!has_term)
    {
      g_autofree char *term = g_strconcat ("TERM=", g_getenv ("TERM") != NULL ? g_getenv ("TERM") : "xterm", NULL);
      g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
      g_auto (GStrv) all = NULL;
      g_strv_builder_add (b, term);
      if (env != NULL)
        g_strv_builder_addv (b, (const char **) env);
      all = g_strv_builder_end (b);
      bgr_exec_spec_set_env (spec, (const char *const *) all);
    }
  if (!banger_terminal_size (STDIN_FILENO, &rows, &cols))
    banger_terminal_size (STDOUT_FILENO, &rows, &cols);
  bgr_exec_spec_set_pty (spec, TRUE);
  bgr_exec_spec_set_rows (spec, rows);
  bgr_exec_spec_set_cols (spec, cols);
  bgr_exec_spec_set_stdio (spec, STDIN_FILENO, STDOUT_FILENO, -1);
  banger_terminal_raw (STDIN_FILENO);
  ok = bgr_client_vm_exec (client, name, spec, status, NULL, error);
  banger_terminal_restore (STDIN_FILENO);
  return ok;
}

gboolean
banger_cmd_vm_ports (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autoptr (GPtrArray) list = NULL;

  if (client == NULL || (list = bgr_client_vm_ports (client, inv->args[0], NULL, error)) == NULL)
    return FALSE;
  if (inv->json)
    {
      banger_print_json_list (list, (BangerToJson) bgr_vm_port_to_json);
      return TRUE;
    }
  g_print ("%-6s %-40s %-6s %-8s %s\n", "PROTO", "ADDRESS", "PORT", "PID", "PROCESS");
  for (guint i = 0; i < list->len; i++)
    {
      BgrVmPort *p = list->pdata[i];
      g_autofree char *pid = bgr_vm_port_get_pid (p) > 0
                               ? g_strdup_printf ("%" G_GINT64_FORMAT, bgr_vm_port_get_pid (p))
                               : g_strdup ("-");
      /* The guest's words, each escaped. */
      g_print ("%-6s %-40s %-6" G_GINT64_FORMAT " %-8s %s\n", banger_shown (bgr_vm_port_get_protocol (p)),
               banger_shown (bgr_vm_port_get_address (p)), bgr_vm_port_get_port (p), pid,
               banger_shown (or_dash (bgr_vm_port_get_process (p))));
    }
  banger_print_vm_forwards (client, inv->args[0]);
  return TRUE;
}

static void
print_bytes (const char *label, gint64 v)
{
  g_autofree char *s = v >= 0 ? banger_format_size ((guint64) v) : g_strdup ("-");
  g_print ("%-18s %s\n", label, s);
}

gboolean
banger_cmd_vm_stats (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autoptr (BgrVmStats) st = NULL;
  gint64 user, sys, idle, total;

  if (client == NULL || (st = bgr_client_vm_stats (client, inv->args[0], NULL, error)) == NULL)
    return FALSE;
  if (inv->json)
    {
      g_autofree char *json = bgr_vm_stats_to_json (st);
      banger_print_json (json);
      return TRUE;
    }
  user = bgr_vm_stats_get (st, "cpu_user_ms");
  sys = bgr_vm_stats_get (st, "cpu_system_ms");
  idle = bgr_vm_stats_get (st, "cpu_idle_ms");
  total = user + sys + idle;
  g_print ("%-18s %.1f s\n", "guest uptime", (double) bgr_vm_stats_get (st, "guest_uptime_ms") / 1000.0);
  if (user >= 0 && total > 0)
    g_print ("%-18s %.1f%% busy since boot (user %.1f s, system %.1f s)\n", "guest cpu",
             100.0 * (double) (user + sys) / (double) total, (double) user / 1000.0,
             (double) sys / 1000.0);
  if (bgr_vm_stats_get (st, "cpu_busy_permille") >= 0)
    g_print ("%-18s %.1f%% busy over the last %.1f s\n", "", (double) bgr_vm_stats_get (st, "cpu_busy_permille") / 10.0,
             (double) bgr_vm_stats_get (st, "cpu_interval_ms") / 1000.0);
  g_print ("%-18s %.2f\n", "guest load (1 min)", (double) bgr_vm_stats_get (st, "load1_milli") / 1000.0);
  print_bytes ("guest memory", bgr_vm_stats_get (st, "mem_total"));
  print_bytes ("  available", bgr_vm_stats_get (st, "mem_available"));
  print_bytes ("guest disk (/)", bgr_vm_stats_get (st, "disk_total"));
  print_bytes ("  free", bgr_vm_stats_get (st, "disk_free"));
  g_print ("%-18s %.1f s\n", "VMM cpu", (double) bgr_vm_stats_get (st, "vmm_cpu_ms") / 1000.0);
  print_bytes ("VMM memory (RSS)", bgr_vm_stats_get (st, "vmm_rss"));
  print_bytes ("disk read", bgr_vm_stats_get (st, "disk_read_bytes"));
  print_bytes ("disk written", bgr_vm_stats_get (st, "disk_write_bytes"));
  print_bytes ("net received", bgr_vm_stats_get (st, "net_rx_bytes"));
  print_bytes ("net sent", bgr_vm_stats_get (st, "net_tx_bytes"));
  return TRUE;
}
