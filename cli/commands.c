/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The CLI's command table and global options. `banger` dispatches on them,
 * and banger-docgen writes banger(1) and the bash completion from them at
 * build time: a command or option added here (or to a command's
 * GOptionEntry table) appears in both without further work. */
#include "config.h"

#include <string.h>

#include "banger-cli.h"

const char banger_description[] =
  "banger manages development microVMs (Firecracker, or QEMU where KVM is missing).\n"
  "Commands talk to bangerd over D-Bus (the session bus, or the system bus with\n"
  "--system). --local runs the engine in this process instead; so does a host with\n"
  "no session bus, saying so on stderr.";

const BangerCommand banger_commands[] = {
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
  { "web", banger_cmd_web, "Open bangerd's web UI in your browser (experimental)",
    "Asks bangerd for a one-time login URL to its web UI (web_listen_addr) and opens\n"
    "it with xdg-open; without a display (DISPLAY and WAYLAND_DISPLAY unset), or with\n"
    "--print, prints it instead. The URL logs one browser in, once, within a minute.\n"
    "--json prints {\"url\", \"login_url\"} and opens nothing. Fails (exit 8) when\n"
    "bangerd serves no web UI.", "", 0, 0, banger_web_options },
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
  { "image build", banger_cmd_image_build, "Build an image by running commands in a VM",
    "Boots a VM from --from IMAGE, runs each --run command in it (sh -c, in order,\n"
    "as root), stops it cleanly and keeps a copy of its disks (rootfs and work disk)\n"
    "as a new managed image NAME booting with the same kernel. Every command's output\n"
    "is kept in the image's build.log. A failing command (its exit status and the end\n"
    "of its output are shown) or Ctrl-C leaves no image; the build VM is always\n"
    "deleted.", "NAME", 1, 1, banger_image_build_options },
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
    "process where the guest agent can tell, then the ports forwarded to it from\n"
    "the host (banger vm forward; --json lists the guest's sockets only).", "NAME", 1, 1, NULL },
  { "vm stats", banger_cmd_vm_stats, "Show a VM's resource use",
    "Samples the guest's CPU, memory, load and root filesystem (from its agent) and\n"
    "the VMM's CPU, memory, disk and network counters (from outside).", "NAME", 1, 1, NULL },
  { "vm exec", banger_cmd_vm_exec, "Run a command in a VM",
    "Runs COMMAND in the guest through the guest agent and streams its output.\n"
    "stdin is forwarded when it is a pipe or a file (-i: also from a terminal).\n"
    "-t runs it on a terminal in the guest (window size, Ctrl-C and full-screen\n"
    "programs work; the local terminal is raw meanwhile). Without COMMAND: a login\n"
    "shell on a terminal. The exit status is the command's (128+N when signal N\n"
    "killed it, 124 when --timeout killed it).", "NAME [-- COMMAND [ARGS...]]", 1, G_MAXUINT,
    banger_vm_exec_options },
  { "vm proxy", banger_cmd_vm_proxy, "Bridge stdio to a TCP port in a VM",
    "Connects to [ADDR:]PORT inside the guest (default address 127.0.0.1) through the\n"
    "guest agent and bridges it to stdin and stdout until both sides end: an ssh\n"
    "ProxyCommand (`ssh -o ProxyCommand='banger vm proxy NAME 22' ...`). Needs no\n"
    "network between host and guest.", "NAME [ADDR:]PORT", 2, 2, NULL },
  { "vm forward", banger_cmd_vm_forward, "Forward a host port to a port in a VM",
    "Listens on HOST_ADDR:HOST_PORT (default address 127.0.0.1) and forwards each TCP\n"
    "connection to GUEST_PORT in the guest, through its agent. The forward is kept\n"
    "in the VM's record and served while bangerd runs (again after a restart);\n"
    "--remove drops it. A host port already in use is refused. Without a forward:\n"
    "lists the VM's forwards.", "NAME [[HOST_ADDR:]HOST_PORT:GUEST_PORT]", 1, 2,
    banger_vm_forward_options },
  { "vm ssh", banger_cmd_vm_ssh, "Log in to a VM with OpenSSH",
    "Runs the host's ssh as root@NAME with banger's key (ssh_key_path, created when\n"
    "missing) through `banger vm proxy NAME PORT` (no network to the guest needed).\n"
    "First adds the key to the guest's /root/.ssh/authorized_keys and starts its\n"
    "sshd if nothing listens on PORT; an image without sshd is an error (use\n"
    "`vm exec -t`). Host keys are kept per VM (accepted the first time). COMMAND,\n"
    "when given, runs instead of a shell.", "NAME [-- COMMAND [ARGS...]]", 1, G_MAXUINT,
    banger_vm_ssh_options },
  { "vm acp", banger_cmd_vm_acp, "Run opencode's ACP agent in a VM on stdio",
    "Runs `opencode acp` in the guest with stdin and stdout bridged, for an editor\n"
    "that speaks the Agent Client Protocol. It runs in --cwd, else /root/repo when it\n"
    "exists, else /root; opencode is looked up in PATH, ~/.opencode/bin and\n"
    "~/.local/bin.", "NAME", 1, 1, banger_vm_acp_options },
  { "vm run", banger_cmd_vm_run, "Create a VM with your repository in it",
    "banger's main flow: creates and boots a VM, puts the git repository enclosing\n"
    "REPO (default: the current directory) at /root/repo in it (uncommitted and\n"
    "untracked work included, ignored files left out; see vm workspace prepare),\n"
    "starts the bootstrap (mise install when the repository has a mise.toml,\n"
    ".mise.toml or .tool-versions and the guest has mise) and prints the next steps.\n"
    "A VM whose workspace cannot be prepared is deleted again.",
    "[REPO]", 0, 1, banger_vm_run_options },
  { "vm workspace prepare", banger_cmd_vm_workspace_prepare, "Put a git checkout into a VM",
    "Sends the git repository enclosing REPO (default: the current directory) to a\n"
    "running VM. metadata mode (default): a shallow .git holding HEAD's commit, the\n"
    "index, and the working files as they are on disk: tracked files with their\n"
    "changes and untracked files that are not ignored; git status, diff and commit\n"
    "work in the guest. full_copy: the repository's own .git, submodules included.\n"
    "The copy is staged in the guest and renamed into place; an existing one at the\n"
    "guest path is replaced. Progress is shown on a terminal; Ctrl-C cancels and\n"
    "leaves the guest as it was.",
    "VM [REPO]", 1, 2, banger_vm_workspace_prepare_options },
  { "vm workspace show", banger_cmd_vm_workspace_show, "Show a VM's workspace",
    "Shows where a VM's workspace came from (repository, commit, branch, mode), where\n"
    "it is, and whether the guest copy changed since it was prepared (checked now on\n"
    "a running VM whose guest has git).", "VM", 1, 1, NULL },
  { "vm workspace bootstrap", banger_cmd_vm_workspace_bootstrap,
    "Start the workspace's tool installs in the guest",
    "When the workspace has a mise.toml, .mise.toml or .tool-versions and the guest\n"
    "has mise, starts `mise install` there in the background (log:\n"
    "/root/.cache/banger/bootstrap.log); otherwise says why it did nothing.", "VM", 1, 1, NULL },
  { "vm workspace export", banger_cmd_vm_workspace_export,
    "Bring a VM's work back as a host branch",
    "Creates branch NAME (default banger/VM) in the host repository the workspace came\n"
    "from: the guest's commits since the prepared one, and its uncommitted and\n"
    "untracked work as one more commit on top. The guest needs git. The host's\n"
    "working tree, index and current branch are never touched; an existing branch is\n"
    "moved only with --force.", "VM", 1, 1, banger_vm_workspace_export_options },
  { "vm cp", banger_cmd_vm_cp, "Copy files between the host and a VM",
    "Copies a file, symlink or directory tree like cp -a (modes, symlinks, times),\n"
    "from the host into a running VM (HOST_PATH VM:GUEST_PATH) or out of it\n"
    "(VM:GUEST_PATH HOST_PATH). When the target is an existing directory the copy\n"
    "goes into it; anything else there is replaced. The guest needs tar.",
    "SRC DEST", 2, 2, NULL },
  { "vm session start", banger_cmd_vm_session_start, "Start a session: a command that outlives banger",
    "Starts COMMAND in the guest as a session: the guest agent owns it, so it keeps\n"
    "running whatever happens to this command, to bangerd or to the host's\n"
    "connection, and spools its output in the guest (the last 8 MiB of each\n"
    "stream; older bytes are dropped and counted). Before anything starts the agent\n"
    "checks that --cwd exists and that COMMAND and each --require-command are in the\n"
    "guest's PATH; each failure is its own error and nothing is left behind. A name\n"
    "that is running is refused; an exited session of that name is replaced. With\n"
    "--tty it runs on a pseudo-terminal (for shells and full-screen programs; start\n"
    "it with --stdin-mode pipe to type into it through vm session attach).",
    "VM -- COMMAND [ARGS...]", 2, G_MAXUINT, banger_vm_session_start_options },
  { "vm session list", banger_cmd_vm_session_list, "List a VM's sessions",
    "Lists the VM's sessions, running and exited, as its guest agent knows them.",
    "VM", 1, 1, NULL },
  { "vm session show", banger_cmd_vm_session_show, "Show one session",
    "Shows a session: state and exit status, command, working directory, stdin\n"
    "mode (and whether someone is attached), pid, times (the guest's clock) and how\n"
    "much output it wrote and the spool dropped.", "VM NAME", 2, 2, NULL },
  { "vm session logs", banger_cmd_vm_session_logs, "Print a session's output",
    "Prints what the session wrote to stdout (or --stream stderr) as the guest\n"
    "spooled it, also while bangerd was not running. --follow keeps printing until\n"
    "the session exits.", "VM NAME", 2, 2, banger_vm_session_logs_options },
  { "vm session attach", banger_cmd_vm_session_attach, "Attach to a session's stdin and output",
    "Attaches to a session started with --stdin-mode pipe: stdin goes to it (the end\n"
    "of a piped stdin closes the session's stdin), its new output comes here, until\n"
    "it exits (the exit status is then its own) or you detach: Ctrl-] when stdin is\n"
    "a terminal. A session started with --tty gets a full terminal: every key\n"
    "(Ctrl-C too) goes to it and its window follows this one's size. One client at\n"
    "a time: a second attach is refused with the name of the one holding it.", "VM NAME", 2, 2, NULL },
  { "vm session stop", banger_cmd_vm_session_stop, "Stop a session (SIGTERM, then SIGKILL)",
    "Sends SIGTERM to the session's process group and SIGKILL 10 s later if it still\n"
    "runs; returns when it exited.", "VM NAME", 2, 2, NULL },
  { "vm session kill", banger_cmd_vm_session_kill, "Kill a session at once (SIGKILL)",
    "Sends SIGKILL to the session's process group; returns when it exited.", "VM NAME", 2, 2,
    NULL },
};

const gsize banger_n_commands = G_N_ELEMENTS (banger_commands);

static gboolean
count_verbose (const char *name, const char *value, gpointer data, GError **error)
{
  BangerInvocation *inv = data;
  inv->verbose++;
  return TRUE;
}

GOptionEntry *
banger_global_options_new (BangerInvocation *inv, gboolean *opt_version, gboolean *opt_help)
{
  const GOptionEntry entries[] = {
    { "local", 0, 0, G_OPTION_ARG_NONE, &inv->local,
      "Run the engine in this process instead of asking bangerd", NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &inv->system,
      "Talk to the system bangerd (bangerd --system)", NULL },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &inv->config_path,
      "Config file for --local and doctor (also $BANGER_CONFIG)", "PATH" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &inv->json, "Print machine-readable JSON", NULL },
    { "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer) count_verbose,
      "Log more (-vv: debug)", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, opt_version, "Print the version", NULL },
    /* last: dropped when @opt_help is NULL */
    { "help", 'h', 0, G_OPTION_ARG_NONE, opt_help,
      "Show help (banger COMMAND --help for a command)", NULL },
    G_OPTION_ENTRY_NULL
  };
  GOptionEntry *copy = g_memdup2 (entries, sizeof entries);

  /* Without a place for --help, GOption's own --help applies. */
  if (opt_help == NULL)
    memset (&copy[G_N_ELEMENTS (entries) - 2], 0, sizeof (GOptionEntry));
  return copy;
}
