/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger vm ssh (the host's OpenSSH through `vm proxy`) and vm acp (an
 * ACP agent in the guest on stdio). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "banger-cli.h"

static char *opt_ssh_port;

const GOptionEntry banger_vm_ssh_options[] = {
  { "port", 'p', 0, G_OPTION_ARG_STRING, &opt_ssh_port,
    "The guest port the SSH server listens on (default: 22)", "PORT" },
  G_OPTION_ENTRY_NULL
};

/* This banger, with the global options that pick the same backend. */
static char *
self_command (BangerInvocation *inv, const char *name, guint port)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autoptr (GString) cmd = g_string_new (NULL);
  g_autofree char *q_exe = g_shell_quote (exe != NULL ? exe : "banger");
  g_autofree char *q_name = g_shell_quote (name);

  g_string_append (cmd, q_exe);
  if (inv->config_from_option && inv->config_path != NULL)
    {
      g_autofree char *q = g_shell_quote (inv->config_path);
      g_string_append_printf (cmd, " --config %s", q);
    }
  if (inv->local)
    g_string_append (cmd, " --local");
  if (inv->system)
    g_string_append (cmd, " --system");
  g_string_append_printf (cmd, " vm proxy %s %u", q_name, port);
  return g_string_free (g_steal_pointer (&cmd), FALSE);
}

gboolean
banger_cmd_vm_ssh (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = NULL;
  g_autoptr (BgrVm) vm = NULL;
  g_autofree char *key = NULL, *proxy = NULL, *dir = NULL, *known = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  guint64 port = 22;

  if (opt_ssh_port != NULL && !g_ascii_string_to_unsigned (opt_ssh_port, 10, 1, 65535, &port, NULL))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "--port '%s' is not 1-65535",
                   opt_ssh_port);
      return FALSE;
    }
  if ((client = banger_invocation_get_client (inv, error)) == NULL
      || (vm = bgr_client_vm_get (client, inv->args[0], NULL, error)) == NULL
      || (key = bgr_client_vm_ssh_prepare (client, inv->args[0], (guint) port, NULL, error)) == NULL)
    return FALSE;
  /* Host keys per VM, next to its other files: a recreated VM of the same
   * name starts with an empty one. */
  dir = g_path_get_dirname (bgr_vm_get_console_log_path (vm));
  known = g_build_filename (dir, "known_hosts", NULL);
  proxy = self_command (inv, inv->args[0], (guint) port);
  g_ptr_array_add (argv, g_strdup ("ssh"));
  g_ptr_array_add (argv, g_strdup ("-i"));
  g_ptr_array_add (argv, g_strdup (key));
#define OPT(...) (g_ptr_array_add (argv, g_strdup ("-o")), g_ptr_array_add (argv, g_strdup_printf (__VA_ARGS__)))
  OPT ("IdentitiesOnly=yes");
  OPT ("IdentityAgent=none");
  OPT ("UserKnownHostsFile=%s", known);
  OPT ("StrictHostKeyChecking=accept-new");
  OPT ("HostKeyAlias=banger-vm-%s", inv->args[0]);
  OPT ("ProxyCommand=%s", proxy);
#undef OPT
  g_ptr_array_add (argv, g_strdup ("-l"));
  g_ptr_array_add (argv, g_strdup ("root"));
  g_ptr_array_add (argv, g_strdup (inv->args[0]));
  if (inv->args[1] != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("--"));
      for (char **a = inv->args + 1; *a != NULL; a++)
        g_ptr_array_add (argv, g_strdup (*a));
    }
  g_ptr_array_add (argv, NULL);
  g_clear_object (&client);
  execvp ("ssh", (char **) argv->pdata);
  g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "cannot run ssh: %s (install openssh-client)",
               g_strerror (errno));
  return FALSE;
}

static char *opt_acp_cwd;

const GOptionEntry banger_vm_acp_options[] = {
  { "cwd", 'w', 0, G_OPTION_ARG_STRING, &opt_acp_cwd,
    "Working directory in the guest (default: /root/repo when it exists, else /root)", "DIR" },
  G_OPTION_ENTRY_NULL
};

gboolean
banger_cmd_vm_acp (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = NULL;
  gint status = 0;

  if (opt_acp_cwd != NULL && opt_acp_cwd[0] != '/')
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "--cwd '%s' is not an absolute path",
                   opt_acp_cwd);
      return FALSE;
    }
  client = banger_invocation_get_client (inv, error);
  if (client == NULL || !bgr_client_vm_acp (client, inv->args[0], opt_acp_cwd, STDIN_FILENO,
                                            STDOUT_FILENO, STDERR_FILENO, &status, NULL, error))
    return FALSE;
  *exit_status = status;
  return TRUE;
}
