/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bangerd: the Vm methods for terminals and TCP into the guest:
 * ExecTerminal, Acp, Proxy, AddForward, RemoveForward, ListForwards,
 * PrepareSsh. */
#include "config.h"

#include <gio/gunixfdlist.h>
#include <unistd.h>

#include "bangerd-private.h"

#define DAEMON(data) ((Daemon *) (data))
#define NAME(inv) bgrd_object_name (inv)

gboolean
bgrd_exec_call (GDBusMethodInvocation *inv, GUnixFDList *fd_list, GVariant *dict,
                GVariant *const handles[3], gboolean terminal, gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrExecSpec) spec = bgr_exec_spec_new_from_variant (dict, &error);
  int fds[3] = { -1, -1, -1 };
  BgrdLongCall *call;
  gint status = -1;
  gboolean ok;

  if (spec == NULL
      || !bgrd_take_handles (fd_list, handles, 3, fds,
                             terminal ? "Vm.ExecTerminal (stdin, output, resize)"
                                      : "Vm.Exec (stdin, stdout, stderr)", &error))
    return bgrd_return_error (data, inv, error);
  if (terminal)
    {
      bgr_exec_spec_set_pty (spec, TRUE);
      bgr_exec_spec_set_stdio (spec, fds[0], fds[1], -1);
      bgr_exec_spec_set_resize_fd (spec, fds[2]);
    }
  else
    bgr_exec_spec_set_stdio (spec, fds[0], fds[1], fds[2]);
  call = bgrd_long_call_begin (data, inv);
  ok = bgr_client_vm_exec (DAEMON (data)->client, NAME (inv), spec, &status,
                           bgrd_long_call_get_cancellable (call), &error);
  bgrd_long_call_end (call);
  for (int i = 0; i < 3; i++)
    close (fds[i]);
  if (!ok)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, g_variant_new ("(i)", status));
}

static gboolean
handle_exec_terminal (BgrDBusVm *vm, GDBusMethodInvocation *inv, GUnixFDList *fd_list,
                      GVariant *dict, GVariant *in_h, GVariant *out_h, GVariant *resize_h,
                      gpointer data)
{
  GVariant *const handles[3] = { in_h, out_h, resize_h };
  return bgrd_exec_call (inv, fd_list, dict, handles, TRUE, data);
}

static gboolean
handle_acp (BgrDBusVm *vm, GDBusMethodInvocation *inv, GUnixFDList *fd_list, const char *cwd,
            GVariant *in_h, GVariant *out_h, GVariant *err_h, gpointer data)
{
  GError *error = NULL;
  GVariant *const handles[3] = { in_h, out_h, err_h };
  int fds[3] = { -1, -1, -1 };
  BgrdLongCall *call;
  gint status = -1;
  gboolean ok;

  if (!bgrd_take_handles (fd_list, handles, 3, fds, "Vm.Acp (stdin, stdout, stderr)", &error))
    return bgrd_return_error (data, inv, error);
  call = bgrd_long_call_begin (data, inv);
  ok = bgr_client_vm_acp (DAEMON (data)->client, NAME (inv), *cwd != '\0' ? cwd : NULL, fds[0],
                          fds[1], fds[2], &status, bgrd_long_call_get_cancellable (call), &error);
  bgrd_long_call_end (call);
  for (int i = 0; i < 3; i++)
    close (fds[i]);
  if (!ok)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, g_variant_new ("(i)", status));
}

static gboolean
handle_proxy (BgrDBusVm *vm, GDBusMethodInvocation *inv, GUnixFDList *fd_list, const char *address,
              guint16 port, GVariant *in_h, GVariant *out_h, gpointer data)
{
  GError *error = NULL;
  GVariant *const handles[2] = { in_h, out_h };
  int fds[2] = { -1, -1 };
  BgrdLongCall *call;
  gboolean ok;

  if (!bgrd_take_handles (fd_list, handles, 2, fds, "Vm.Proxy (input, output)", &error))
    return bgrd_return_error (data, inv, error);
  call = bgrd_long_call_begin (data, inv);
  ok = bgr_client_vm_proxy (DAEMON (data)->client, NAME (inv), *address ? address : NULL, port,
                            fds[0], fds[1], bgrd_long_call_get_cancellable (call), &error);
  bgrd_long_call_end (call);
  close (fds[0]);
  close (fds[1]);
  if (!ok)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, NULL);
}

static gboolean
handle_add_forward (BgrDBusVm *vm, GDBusMethodInvocation *inv, const char *host_address,
                    guint16 host_port, guint16 guest_port, gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrVmForward) fw = bgr_client_vm_forward_add (DAEMON (data)->client, NAME (inv),
                                                           *host_address ? host_address : NULL,
                                                           host_port, guest_port, NULL, &error);
  if (fw == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, g_variant_new_tuple ((GVariant *[]) { bgr_vm_forward_to_variant (fw) }, 1));
}

static gboolean
handle_remove_forward (BgrDBusVm *vm, GDBusMethodInvocation *inv, const char *host_address,
                       guint16 host_port, gpointer data)
{
  GError *error = NULL;

  if (!bgr_client_vm_forward_remove (DAEMON (data)->client, NAME (inv),
                                     *host_address ? host_address : NULL, host_port, NULL, &error))
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, NULL);
}

static gboolean
handle_list_forwards (BgrDBusVm *vm, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  g_autoptr (GPtrArray) list = bgr_client_vm_forward_list (DAEMON (data)->client, NAME (inv), NULL,
                                                           &error);
  if (list == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, bgrd_list_to_variant (list, (BgrdToVariant) bgr_vm_forward_to_variant));
}

static gboolean
handle_prepare_ssh (BgrDBusVm *vm, GDBusMethodInvocation *inv, guint16 port, gpointer data)
{
  GError *error = NULL;
  BgrdLongCall *call = bgrd_long_call_begin (data, inv);
  g_autofree char *key = bgr_client_vm_ssh_prepare (DAEMON (data)->client, NAME (inv), port,
                                                    bgrd_long_call_get_cancellable (call), &error);

  bgrd_long_call_end (call);
  if (key == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, g_variant_new ("(s)", key));
}

void
bgrd_connect_vm_tcp_handlers (Daemon *d, gpointer iface)
{
  g_signal_connect (iface, "handle-exec-terminal", G_CALLBACK (handle_exec_terminal), d);
  g_signal_connect (iface, "handle-acp", G_CALLBACK (handle_acp), d);
  g_signal_connect (iface, "handle-proxy", G_CALLBACK (handle_proxy), d);
  g_signal_connect (iface, "handle-add-forward", G_CALLBACK (handle_add_forward), d);
  g_signal_connect (iface, "handle-remove-forward", G_CALLBACK (handle_remove_forward), d);
  g_signal_connect (iface, "handle-list-forwards", G_CALLBACK (handle_list_forwards), d);
  g_signal_connect (iface, "handle-prepare-ssh", G_CALLBACK (handle_prepare_ssh), d);
}
