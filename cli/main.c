/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <json-glib/json-glib.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "banger-cli.h"

static const BangerCommand commands[] = {
  { "version", banger_cmd_version, "Print banger's version",
    "Prints the version of banger (the CLI and the libbanger it loaded).", "", 0, 0, NULL },
  { "doctor", banger_cmd_doctor, "Check this host and explain what banger can do on it",
    "Checks KVM, firecracker, QEMU (and whether it can use KVM or only TCG), which\n"
    "hypervisor `auto` picks and why, the tun and vhost-vsock devices, ip, nft or\n"
    "iptables, dnsmasq, ssh, free disk in the state and cache directories, and the\n"
    "config file. One line per check: PASS, WARN or FAIL, with a `fix:` hint.\n"
    "Asks bangerd when it runs (the daemon's view of the host); otherwise, or with\n"
    "--local, checks in this process. Exits 1 when a check FAILs, else 0.", "", 0, 0, NULL },
  { "config show", banger_cmd_config_show, "Print the effective configuration",
    "Prints every configuration key, its effective value and where it came from\n"
    "(\"default\" or FILE:LINE). Without --local this is the daemon's configuration.",
    "", 0, 0, NULL },
  { "config path", banger_cmd_config_path, "Print the path of the config file",
    "Prints the config file this client reads (--config, $BANGER_CONFIG, or\n"
    "$XDG_CONFIG_HOME/banger/config.toml) and whether it exists.", "", 0, 0, NULL },
  { "config ssh-key", banger_cmd_config_ssh_key, "Print (creating if needed) banger's ssh key",
    "Prints the private key banger uses for guests. When ssh_key_path is unset and\n"
    "no key exists yet, creates an ed25519 key in ~/.config/banger/ssh/ (key 0600,\n"
    "directory 0700).", "", 0, 0, NULL },
  { "daemon status", banger_cmd_daemon_status, "Show the running bangerd",
    "Shows the daemon's pid, version, bus, state directory, web UI address and uptime.\n"
    "Exits 13 when no daemon answers.", "", 0, 0, NULL },
  { "daemon stop", banger_cmd_daemon_stop, "Stop the running bangerd",
    "Asks bangerd to exit; it replies, releases its state directory and exits.", "", 0, 0, NULL },
  { "kernel import", banger_cmd_kernel_import, "Import a kernel (file or Debian package)",
    "Copies a kernel into banger's state directory: an ELF vmlinux (--vmlinux) or a\n"
    "bzImage (--bzimage), with an optional modules tree and initrd, or the kernel and\n"
    "modules of a Debian package (--deb linux-image-...deb, read directly, no dpkg).\n"
    "When the modules build virtio as modules (as Debian's cloud kernel does) and no\n"
    "initrd is given, banger generates a small initramfs that loads them and mounts\n"
    "the root device. NAME defaults to the package's kernel version with --deb.",
    "[NAME]", 0, 1, banger_kernel_import_options },
  { "kernel list", banger_cmd_kernel_list, "List managed kernels (or --available ones)",
    "Lists the kernels banger manages. With --available, lists what the kernel\n"
    "catalog offers (kernel_catalog_url; empty means the built-in catalog, whose\n"
    "entries come from this host's apt archive).", "", 0, 0, banger_kernel_list_options },
  { "kernel pull", banger_cmd_kernel_pull, "Download and import a catalog kernel",
    "Downloads a kernel the catalog offers into the cache directory (resuming an\n"
    "interrupted download, verifying size and sha256; apt entries use apt-get\n"
    "download), then imports it under its catalog name. A progress bar shows on a\n"
    "terminal. A failed or cancelled pull registers nothing.", "NAME", 1, 1, NULL },
  { "kernel show", banger_cmd_kernel_show, "Show one kernel",
    "Shows a kernel's version, format, files and source.", "NAME", 1, 1, NULL },
  { "kernel delete", banger_cmd_kernel_delete, "Delete a kernel",
    "Deletes a kernel and its files; refused while an image refers to it.", "NAME", 1, 1, NULL },
  { "image register", banger_cmd_image_register, "Register an image from your files",
    "Registers an unmanaged image: banger checks each file (ext4 rootfs and work-seed\n"
    "opened with libext2fs, the kernel's header, the modules tree) and then points at\n"
    "your files without ever deleting them. Use --kernel FILE or --kernel-ref KERNEL.",
    "", 0, 0, banger_image_register_options },
  { "image pull", banger_cmd_image_pull, "Pull an image from an OCI registry",
    "Downloads an image (alpine:3.19, ghcr.io/o/r:tag, 127.0.0.1:5000/x@sha256:...)\n"
    "into a layer cache shared by all pulls and replays its layers straight into a new\n"
    "ext4 rootfs (owners, modes, links, device nodes and xattrs as in the layers), sized\n"
    "from the content unless --size is given, then registers it as a managed image\n"
    "booting with --kernel-ref. Plain http is used only for a registry on the loopback\n"
    "interface, or with --insecure. Credentials come from ~/.docker/config.json or\n"
    "$REGISTRY_AUTH_FILE.", "REF", 1, 1, banger_image_pull_options },
  { "image cache list", banger_cmd_image_cache_list, "List the OCI layer cache",
    "Lists the layer blobs image pull cached, with the images that use each.", "", 0, 0, NULL },
  { "image cache prune", banger_cmd_image_cache_prune, "Remove unused layer blobs and VM bases",
    "Removes the cached layer blobs that no image uses, and the prepared VM bases\n"
    "(an image with the guest agent and kernel modules added) no image leads to.", "", 0, 0, NULL },
  { "image list", banger_cmd_image_list, "List images",
    "Lists registered and managed images.", "", 0, 0, NULL },
  { "image show", banger_cmd_image_show, "Show one image",
    "Shows an image's files (with the managed kernel's files for --kernel-ref).", "NAME", 1, 1, NULL },
  { "image delete", banger_cmd_image_delete, "Delete an image",
    "Deletes an image: a managed image's files go with it; a registered image's\n"
    "files are yours and stay.", "NAME", 1, 1, NULL },
  { "image promote", banger_cmd_image_promote, "Make banger own an image's files",
    "Copies a registered image's files into banger's state directory (a reflink where\n"
    "the filesystem can, else a sparse copy that keeps holes) and marks it managed.",
    "NAME", 1, 1, NULL },
  { "vm create", banger_cmd_vm_create, "Create and boot a VM",
    "Creates a VM from an image and boots it: the image's rootfs is cloned for the VM\n"
    "(a reflink where the filesystem can, else a sparse copy), the guest agent and the\n"
    "kernel's modules are installed into the clone, the VMM starts (firecracker where\n"
    "KVM is usable and the kernel is a vmlinux, else QEMU) and the command returns when\n"
    "the guest agent answers. On a terminal each phase is shown as it happens. When the\n"
    "boot fails the VM stays in state 'error' with its console log (banger vm logs).",
    "", 0, 0, banger_vm_create_options },
  { "vm start", banger_cmd_vm_start, "Boot a stopped VM",
    "Boots a stopped VM from its own disks and waits for its guest agent.", "NAME", 1, 1, NULL },
  { "vm stop", banger_cmd_vm_stop, "Stop a VM gracefully",
    "Asks the guest (through its agent) to power off; if it does not, presses the\n"
    "virtual power button (Ctrl-Alt-Del); if that does not work either, kills the VMM.",
    "NAME", 1, 1, NULL },
  { "vm kill", banger_cmd_vm_kill, "Kill a VM's VMM at once",
    "Kills the VMM process (SIGKILL), like pulling the plug.", "NAME", 1, 1, NULL },
  { "vm delete", banger_cmd_vm_delete, "Delete a VM and its disks",
    "Deletes a VM and its disks. A running VM is refused unless --force.", "NAME", 1, 1,
    banger_vm_delete_options },
  { "vm list", banger_cmd_vm_list, "List VMs", "Lists VMs with their state.", "", 0, 0, NULL },
  { "vm show", banger_cmd_vm_show, "Show one VM",
    "Shows a VM: state (and why it stopped), hypervisor, resources, address, what\n"
    "its guest agent reported and where its console log is.", "NAME", 1, 1, NULL },
  { "vm logs", banger_cmd_vm_logs, "Print a VM's serial console",
    "Prints the VM's serial console log, over all its boots.", "NAME", 1, 1,
    banger_vm_logs_options },
  { "vm ports", banger_cmd_vm_ports, "List the sockets listening in a VM",
    "Lists TCP sockets listening and UDP sockets bound in the guest, with their\n"
    "process where the guest agent can tell.", "NAME", 1, 1, NULL },
  { "vm stats", banger_cmd_vm_stats, "Show a VM's resource use",
    "Samples the guest's CPU, memory, load and root filesystem (from its agent) and\n"
    "the VMM's CPU, memory, disk and network counters (from outside).", "NAME", 1, 1, NULL },
  { "vm exec", banger_cmd_vm_exec, "Run a command in a VM",
    "Runs COMMAND in the guest through the guest agent and streams its output.\n"
    "stdin is forwarded when it is a pipe or a file (-i: also from a terminal).\n"
    "The exit status is the command's (128+N when signal N killed it, 124 when\n"
    "--timeout killed it).", "NAME -- COMMAND [ARGS...]", 2, G_MAXUINT, banger_vm_exec_options },
};

static void
print_top_help (FILE *out)
{
  fprintf (out,
           "Usage: banger [GLOBAL OPTIONS] COMMAND [ARGS...]\n\n"
           "banger manages development microVMs (Firecracker, or QEMU where KVM is missing).\n"
           "Commands talk to bangerd over D-Bus unless --local runs the engine in-process.\n\n"
           "Commands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-18s %s\n", commands[i].name, commands[i].summary);
  fprintf (out,
           "\nGlobal options:\n"
           "  --local            Run the engine in this process instead of asking bangerd\n"
           "  --system           Talk to the system bangerd (bangerd --system)\n"
           "  -c, --config PATH  Config file for --local and doctor (also $BANGER_CONFIG)\n"
           "  --json             Print machine-readable JSON\n"
           "  -v, --verbose      Log more (-vv: debug)\n"
           "  -h, --help         Show help (banger COMMAND --help for a command)\n"
           "  --version          Print the version\n\n"
           "Exit status: 0 success, 1 failure, 2 usage error, other codes per error kind\n"
           "(see docs/errors.md).\n");
}

static gboolean
count_verbose (const char *name, const char *value, gpointer data, GError **error)
{
  BangerInvocation *inv = data;
  inv->verbose++;
  return TRUE;
}

static void
add_global_entries (GOptionContext *ctx, BangerInvocation *inv, gboolean *opt_help,
                    gboolean *opt_version, const GOptionEntry *command_entries)
{
  GOptionGroup *group = g_option_group_new ("global", "Global options", "Show global options",
                                            inv, NULL);
  const GOptionEntry entries[] = {
    { "local", 0, 0, G_OPTION_ARG_NONE, &inv->local, "Run the engine in this process", NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &inv->system, "Talk to the system bangerd", NULL },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &inv->config_path,
      "Config file for --local and doctor (also $BANGER_CONFIG)", "PATH" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &inv->json, "Print JSON", NULL },
    { "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer) count_verbose,
      "Log more (repeat for debug)", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, opt_version, "Print the version", NULL },
    G_OPTION_ENTRY_NULL
  };
  const GOptionEntry help_entry[] = {
    { "help", 'h', 0, G_OPTION_ARG_NONE, opt_help, "Show help", NULL },
    G_OPTION_ENTRY_NULL
  };

  /* The command's own options first, then the global ones, in one group so
   * that `banger CMD --help` shows both. */
  if (command_entries != NULL)
    g_option_group_add_entries (group, command_entries);
  g_option_group_add_entries (group, entries);
  if (opt_help != NULL)
    g_option_group_add_entries (group, help_entry);
  g_option_context_set_main_group (ctx, group);
}

/* Finds the longest command whose words start @words. */
static const BangerCommand *
find_command (char **words, guint n_words, guint *n_used)
{
  const BangerCommand *best = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_auto (GStrv) parts = g_strsplit (commands[i].name, " ", -1);
      guint n = g_strv_length (parts), j;

      if (n > n_words)
        continue;
      for (j = 0; j < n && g_str_equal (parts[j], words[j]); j++)
        ;
      if (j == n && (best == NULL || n > *n_used))
        {
          best = &commands[i];
          *n_used = n;
        }
    }
  return best;
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
  g_printerr ("%s\n", msg);
  return BANGER_EXIT_USAGE;
}

static void
print_error (BangerInvocation *inv, const GError *error)
{
  if (inv->json)
    print_json_error (error->domain == BGR_ERROR ? error->code : BGR_ERROR_FAILED,
                      error->message);
  g_printerr ("banger: %s\n", error->message);
  if (g_error_matches (error, BGR_ERROR, BGR_ERROR_LOCKED) && inv->local)
    g_printerr ("banger: hint: only one engine may own a state directory; drop --local to "
                "go through bangerd, or stop the other process first\n");
}

void
banger_print_json_builder (JsonBuilder *builder)
{
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = json_to_string (root, TRUE);
  banger_print_json (text);
}

void
banger_print_json_list (GPtrArray *list, BangerToJson to_json)
{
  g_autoptr (GString) out = g_string_new ("[");

  for (guint i = 0; i < list->len; i++)
    {
      g_autofree char *json = to_json (list->pdata[i]);
      g_string_append_printf (out, "%s\n%s", i > 0 ? "," : "", json);
    }
  g_string_append (out, "\n]");
  banger_print_json (out->str);
}

void
banger_print_json (const char *json)
{
  fputs (json, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

gboolean
banger_parse_size (const char *option, const char *text, guint64 bare_unit, guint64 *out,
                   GError **error)
{
  char *end = NULL;
  guint64 v;
  guint64 mult = bare_unit;

  if (!g_ascii_isdigit (text[0]))
    goto bad;
  v = g_ascii_strtoull (text, &end, 10);
  switch (g_ascii_toupper (*end))
    {
    case '\0': break;
    case 'K': mult = 1ull << 10; end++; break;
    case 'M': mult = 1ull << 20; end++; break;
    case 'G': mult = 1ull << 30; end++; break;
    case 'T': mult = 1ull << 40; end++; break;
    default: goto bad;
    }
  if (*end == 'i' || *end == 'B')
    end++;
  if (*end == 'B')
    end++;
  if (*end != '\0' || v == 0 || v > G_MAXUINT64 / mult)
    goto bad;
  *out = v * mult;
  return TRUE;
bad:
  if (option == NULL)
    g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                 "invalid size \"%s\" (e.g. 4G, 512M, or bytes)", text);
  else
    g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                 "invalid %s \"%s\" (e.g. 512M, 2G)", option, text);
  return FALSE;
}

/* Paths go to a daemon with another working directory: make them absolute. */
char *
banger_absolute_path (const char *path)
{
  return path != NULL ? g_canonicalize_filename (path, NULL) : NULL;
}

BgrConfig *
banger_invocation_load_config (BangerInvocation *inv, GError **error)
{
  return bgr_config_load (inv->config_path, error);
}

/* Why the session bus cannot be reached, in words a user can act on, or
 * NULL when it can. Without DBUS_SESSION_BUS_ADDRESS (and no
 * $XDG_RUNTIME_DIR/bus) GLib tries to autolaunch a bus and fails with "Cannot
 * autolaunch D-Bus without X11 $DISPLAY", which says nothing useful here
 * (over ssh, in a container, on a server): it goes to the debug log only. */
static char *
session_bus_problem (void)
{
  g_autoptr (GDBusConnection) bus = NULL;
  g_autoptr (GError) error = NULL;
  const char *address = g_getenv ("DBUS_SESSION_BUS_ADDRESS");

  /* The connection is GLib's shared one: the client reuses it. */
  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (bus != NULL)
    return NULL;
  g_debug ("no session bus: %s", error->message);
  if (address == NULL || *address == '\0')
    return g_strdup ("DBUS_SESSION_BUS_ADDRESS is not set");
  return g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s: %s", address, error->message);
}

/* When bangerd holds @config's state directory (the lock file names the
 * holder, docs/state.md), the session bus address in its environment, or
 * NULL. */
static char *
bangerd_bus_address (BgrConfig *config)
{
  g_autofree char *lock = g_build_filename (bgr_config_get_string (config, "state_dir"), "lock",
                                            NULL);
  g_autofree char *text = NULL;
  g_autofree char *comm_path = NULL;
  g_autofree char *comm = NULL;
  g_autofree char *environ_path = NULL;
  g_autofree char *env = NULL;
  gint64 pid;
  gsize len = 0;
  static const char *const vars[] = { "DBUS_SESSION_BUS_ADDRESS=", "DBUS_STARTER_ADDRESS=" };

  if (!g_file_get_contents (lock, &text, NULL, NULL))
    return NULL;
  pid = g_ascii_strtoll (text, NULL, 10);
  comm_path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/comm", pid);
  if (pid <= 0 || !g_file_get_contents (comm_path, &comm, NULL, NULL)
      || !g_str_equal (g_strstrip (comm), "bangerd"))
    return NULL;
  environ_path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/environ", pid);
  if (!g_file_get_contents (environ_path, &env, &len, NULL))
    return NULL;
  for (gsize v = 0; v < G_N_ELEMENTS (vars); v++)
    for (gsize i = 0; i < len; i += strlen (env + i) + 1)
      if (g_str_has_prefix (env + i, vars[v]) && env[i + strlen (vars[v])] != '\0')
        return g_strdup (env + i + strlen (vars[v]));
  return NULL;
}

/* No session bus: run the engine in this process, as --local would, and say
 * so. That is safe because the engine takes the state directory's lock: if a
 * bangerd (on a bus this shell cannot see) or another --local command holds
 * it, this fails with BGR_ERROR_LOCKED, explained here. */
static BgrClient *
get_fallback_client (BangerInvocation *inv, const char *problem, GError **error)
{
  g_autoptr (BgrConfig) config = banger_invocation_load_config (inv, error);
  g_autoptr (GError) local_error = NULL;
  BgrClient *client;

  if (config == NULL)
    return NULL;
  client = bgr_client_new_local (config, BGR_CLIENT_FLAGS_NONE, &local_error);
  if (client != NULL)
    {
      if (!inv->json)
        g_printerr ("banger: no D-Bus session bus (%s): running the engine in this process, "
                    "as with --local (--system talks to the system bangerd)\n", problem);
      return client;
    }
  if (g_error_matches (local_error, BGR_ERROR, BGR_ERROR_LOCKED))
    {
      g_autofree char *address = bangerd_bus_address (config);
      g_autofree char *how = address != NULL
        ? g_strdup_printf ("export DBUS_SESSION_BUS_ADDRESS='%s' to reach it, or stop it", address)
        : g_strdup ("if that is a bangerd, point DBUS_SESSION_BUS_ADDRESS at its bus; else wait "
                    "for it to finish");

      g_set_error (error, BGR_ERROR, BGR_ERROR_LOCKED,
                   "no D-Bus session bus (%s), and the engine cannot run in this process: %s; "
                   "%s", problem, local_error->message, how);
      return NULL;
    }
  g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

static BgrClient *
get_client (BangerInvocation *inv, BgrClientFlags flags, GError **error)
{
  if (inv->local)
    {
      g_autoptr (BgrConfig) config = banger_invocation_load_config (inv, error);
      if (config == NULL)
        return NULL;
      return bgr_client_new_local (config, BGR_CLIENT_FLAGS_NONE, error);
    }
  if (inv->config_from_option)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "--config applies to the in-process engine: add --local, or start the "
                   "daemon with `bangerd --config %s`", inv->config_path);
      return NULL;
    }
  if (!inv->system)
    {
      g_autofree char *problem = session_bus_problem ();

      if (problem != NULL && (flags & BGR_CLIENT_FLAGS_NO_AUTO_START))
        {
          /* Asking for the daemon itself (daemon status, doctor): no fallback. */
          g_set_error (error, BGR_ERROR, BGR_ERROR_DAEMON_UNAVAILABLE,
                       "no D-Bus session bus to find bangerd on: %s", problem);
          return NULL;
        }
      if (problem != NULL)
        return get_fallback_client (inv, problem, error);
    }
  return bgr_client_new_dbus (inv->system ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, flags, NULL,
                              error);
}

BgrClient *
banger_invocation_get_client (BangerInvocation *inv, GError **error)
{
  return get_client (inv, BGR_CLIENT_FLAGS_NONE, error);
}

BgrClient *
banger_invocation_get_running_client (BangerInvocation *inv, GError **error)
{
  return get_client (inv, BGR_CLIENT_FLAGS_NO_AUTO_START, error);
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
      return usage_error ("banger: unknown command '%s' (see banger --help)", first[1]);
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
      print_error (&inv, error);
      exit_status = error->domain == BGR_ERROR ? bgr_error_code_to_exit_status (error->code)
                                               : BANGER_EXIT_FAILED;
    }
  g_free (inv.config_path);
  return exit_status;
}
