/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrClient's calls for reaching into a VM's guest through its agent: a
 * proxy to one guest port, host ports forwarded to guest ports, SSH set
 * up, and an ACP agent on stdio. */
#include "config.h"

#include "bgr-client-private.h"
#include "bgr-error-private.h"

static gboolean
check_port (const char *what, guint port, GError **error)
{
  if (port >= 1 && port <= 65535)
    return TRUE;
  g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "%s port %u is not 1-65535", what, port);
  return FALSE;
}

/**
 * bgr_client_vm_proxy:
 * @self: a #BgrClient
 * @name: a running VM
 * @guest_address: (nullable): the address to connect to in the guest, an
 *   IPv4 or IPv6 address; %NULL: 127.0.0.1
 * @port: the guest port, 1-65535
 * @in_fd: what is read from this descriptor until its end is sent to the
 *   guest port (then the guest side sees end of input), or -1 for nothing
 * @out_fd: what the guest port sends is written here (may be @in_fd, a
 *   socket; a socket is half-closed when the guest side ends)
 * @cancellable: (nullable): cancels the call and aborts the connection
 * @error: return location for a #GError
 *
 * Opens a TCP connection from the VM's guest agent to @port inside the
 * guest and bridges it to the descriptors, for as long as it lasts: what
 * `banger vm proxy` (an ssh ProxyCommand) does. Needs no network between
 * host and guest. A port nothing listens on fails with the guest's
 * reason ("Connection refused").
 *
 * Returns: %TRUE when the connection ended normally
 * Since: 0.2
 */
gboolean
bgr_client_vm_proxy (BgrClient *self, const char *name, const char *guest_address, guint port,
                     int in_fd, int out_fd, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, FALSE);
  if (!check_name ("VM", name, error) || !check_port ("guest", port, error))
    return FALSE;
  return FINISH (VT (self)->vm_proxy (B (self), name, guest_address, port, in_fd, out_fd,
                                      cancellable, error) ? self : NULL, error) != NULL;
}

typedef struct {
  char *name, *address;
  guint port;
  int in_fd, out_fd;
} ProxyCall;

static void
proxy_call_free (gpointer p)
{
  ProxyCall *c = p;
  g_free (c->name);
  g_free (c->address);
  g_free (c);
}

static void
proxy_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  ProxyCall *c = data;
  GError *error = NULL;

  if (bgr_client_vm_proxy (source, c->name, c->address, c->port, c->in_fd, c->out_fd, cancellable,
                           &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * bgr_client_vm_proxy_async:
 * @self: a #BgrClient
 * @name: a running VM
 * @guest_address: (nullable): see bgr_client_vm_proxy()
 * @port: the guest port
 * @in_fd: see bgr_client_vm_proxy(); must stay open until the call finishes
 * @out_fd: likewise
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Since: 0.2
 */
void
bgr_client_vm_proxy_async (BgrClient *self, const char *name, const char *guest_address,
                           guint port, int in_fd, int out_fd, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  ProxyCall *c;

  g_return_if_fail (BGR_IS_CLIENT (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, bgr_client_vm_proxy_async);
  c = g_new0 (ProxyCall, 1);
  c->name = g_strdup (name);
  c->address = g_strdup (guest_address);
  c->port = port;
  c->in_fd = in_fd;
  c->out_fd = out_fd;
  g_task_set_task_data (task, c, proxy_call_free);
  g_task_run_in_thread (task, proxy_thread);
}

/**
 * bgr_client_vm_proxy_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: %TRUE when the connection ended normally
 * Since: 0.2
 */
gboolean
bgr_client_vm_proxy_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * bgr_client_vm_forward_add:
 * @self: a #BgrClient
 * @name: a VM (in any state)
 * @host_address: (nullable): the host address to listen on, an IPv4 or
 *   IPv6 address; %NULL: 127.0.0.1
 * @host_port: the host port, 1-65535
 * @guest_port: where connections go: that port on the guest's 127.0.0.1
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Listens on @host_address:@host_port and forwards each TCP connection to
 * @guest_port in the VM through its guest agent (no network between host
 * and guest needed). The forward is kept in the VM's record: the engine
 * that supervises VMs (bangerd) listens for it while it runs, and again
 * after a restart. A connection while the VM is not running is closed at
 * once. A host port that is taken fails with %BGR_ERROR_BUSY and changes
 * nothing; a host address and port another forward has, with
 * %BGR_ERROR_EXISTS.
 *
 * Returns: (transfer full): the forward
 * Since: 0.2
 */
BgrVmForward *
bgr_client_vm_forward_add (BgrClient *self, const char *name, const char *host_address,
                           guint host_port, guint guest_port, GCancellable *cancellable,
                           GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", name, error) || !check_port ("host", host_port, error)
      || !check_port ("guest", guest_port, error))
    return NULL;
  return FINISH (VT (self)->vm_forward_add (B (self), name, host_address, host_port, guest_port,
                                            cancellable, error), error);
}

/**
 * bgr_client_vm_forward_remove:
 * @self: a #BgrClient
 * @name: a VM
 * @host_address: (nullable): the forward's host address; %NULL: 127.0.0.1
 * @host_port: the forward's host port
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Stops the forward (and its open connections) and drops it from the
 * VM's record. One the VM does not have is %BGR_ERROR_NOT_FOUND.
 *
 * Returns: %TRUE when it was removed
 * Since: 0.2
 */
gboolean
bgr_client_vm_forward_remove (BgrClient *self, const char *name, const char *host_address,
                              guint host_port, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, FALSE);
  if (!check_name ("VM", name, error) || !check_port ("host", host_port, error))
    return FALSE;
  return FINISH (VT (self)->vm_forward_remove (B (self), name, host_address, host_port,
                                               cancellable, error) ? self : NULL, error) != NULL;
}

/**
 * bgr_client_vm_forward_list:
 * @self: a #BgrClient
 * @name: a VM
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type BgrVmForward): the VM's forwards
 * Since: 0.2
 */
GPtrArray *
bgr_client_vm_forward_list (BgrClient *self, const char *name, GCancellable *cancellable,
                            GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", name, error))
    return NULL;
  return FINISH (VT (self)->vm_forward_list (B (self), name, cancellable, error), error);
}

/**
 * bgr_client_vm_ssh_prepare:
 * @self: a #BgrClient
 * @name: a running VM
 * @port: the guest port the SSH server listens on (22 normally)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Gets a VM ready for `ssh root@VM` through bgr_client_vm_proxy(): creates
 * banger's key pair when `ssh_key_path` does not exist yet, adds its
 * public key to the guest's /root/.ssh/authorized_keys, and starts the
 * image's sshd when nothing listens on @port. An image without sshd fails
 * with %BGR_ERROR_NOT_SUPPORTED (the message suggests `vm exec -t`).
 *
 * Returns: (transfer full): the private key's path, for `ssh -i`
 * Since: 0.2
 */
char *
bgr_client_vm_ssh_prepare (BgrClient *self, const char *name, guint port,
                           GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", name, error) || !check_port ("SSH", port, error))
    return NULL;
  return FINISH (VT (self)->vm_ssh_prepare (B (self), name, port, cancellable, error), error);
}

/**
 * bgr_client_vm_acp:
 * @self: a #BgrClient
 * @name: a running VM
 * @cwd: (nullable): an absolute directory in the guest; %NULL: /root/repo
 *   when it exists, else /root
 * @stdin_fd: the ACP client's requests (JSON-RPC lines), read until EOF
 * @stdout_fd: where the agent's answers go
 * @stderr_fd: its diagnostics, or -1
 * @out_status: (out) (optional): its exit status
 * @cancellable: (nullable): cancels the call and kills the agent
 * @error: return location for a #GError
 *
 * Runs `opencode acp` (the Agent Client Protocol on stdio) in the guest,
 * found in PATH, ~/.opencode/bin or ~/.local/bin (exit status 127 with a
 * message on @stderr_fd when it is in none). Over D-Bus: Vm.Acp.
 *
 * Returns: %TRUE when it ran (whatever its status)
 * Since: 0.2
 */
gboolean
bgr_client_vm_acp (BgrClient *self, const char *name, const char *cwd, int stdin_fd,
                   int stdout_fd, int stderr_fd, gint *out_status, GCancellable *cancellable,
                   GError **error)
{
  gint status = -1;

  CHECK_CLIENT (self, error, FALSE);
  if (cwd != NULL && !g_path_is_absolute (cwd))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "the working directory '%s' is not an absolute path", cwd);
      return FALSE;
    }
  if (!check_name ("VM", name, error)
      || !VT (self)->vm_acp (B (self), name, cwd, stdin_fd, stdout_fd, stderr_fd, &status,
                             cancellable, error))
    {
      FINISH (NULL, error);
      return FALSE;
    }
  if (out_status != NULL)
    *out_status = status;
  return TRUE;
}
