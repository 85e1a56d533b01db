/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Vm object's workspace and copy methods (docs/workspaces.md). */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include "bangerd-private.h"

#define DAEMON(data) ((Daemon *) (data))
#define NAME(inv) bgrd_object_name (inv)

static gboolean
handle_prepare (BgrDBusVm *vm, GDBusMethodInvocation *inv, GVariant *spec_dict, gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrWorkspaceSpec) spec = bgr_workspace_spec_new_from_variant (spec_dict, &error);
  g_autoptr (BgrWorkspace) ws = NULL;
  BgrdLongCall *call;

  if (spec == NULL)
    return bgrd_return_error (data, inv, error);
  call = bgrd_long_call_begin (data, inv);
  ws = bgr_client_vm_workspace_prepare (DAEMON (data)->client, NAME (inv), spec,
                                        bgrd_long_call_get_operation (call),
                                        bgrd_long_call_get_cancellable (call), &error);
  bgrd_long_call_end (call);
  if (ws == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, g_variant_new_tuple ((GVariant *[]) { bgr_workspace_to_variant (ws) }, 1));
}

static gboolean
handle_get (BgrDBusVm *vm, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  BgrdLongCall *call = bgrd_long_call_begin (data, inv);
  g_autoptr (BgrWorkspace) ws = bgr_client_vm_workspace_get (DAEMON (data)->client, NAME (inv),
                                                             bgrd_long_call_get_cancellable (call),
                                                             &error);
  bgrd_long_call_end (call);
  if (ws == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, g_variant_new_tuple ((GVariant *[]) { bgr_workspace_to_variant (ws) }, 1));
}

static gboolean
handle_bootstrap (BgrDBusVm *vm, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  BgrdLongCall *call = bgrd_long_call_begin (data, inv);
  g_autofree char *line = bgr_client_vm_workspace_bootstrap (DAEMON (data)->client, NAME (inv),
                                                            bgrd_long_call_get_cancellable (call),
                                                            &error);
  bgrd_long_call_end (call);
  if (line == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, g_variant_new ("(s)", line));
}

static gboolean
handle_copy (BgrDBusVm *vm, GDBusMethodInvocation *inv, const char *host_path,
             const char *guest_path, gboolean from_vm, GVariant *options, gpointer data)
{
  GError *error = NULL;
  BgrdLongCall *call;
  gboolean ok;

  if (g_variant_n_children (options) > 0)
    {
      const char *key;
      g_variant_get_child (options, 0, "{&sv}", &key, NULL);
      g_set_error (&error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "unknown option '%s' for Vm.Copy (it has no options yet)", key);
      return bgrd_return_error (data, inv, error);
    }
  call = bgrd_long_call_begin (data, inv);
  ok = bgr_client_vm_copy (DAEMON (data)->client, NAME (inv),
                           from_vm ? BGR_COPY_FROM_VM : BGR_COPY_TO_VM, host_path, guest_path,
                           bgrd_long_call_get_operation (call),
                           bgrd_long_call_get_cancellable (call), &error);
  bgrd_long_call_end (call);
  if (!ok)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, NULL);
}

static gboolean
handle_export (BgrDBusVm *vm, GDBusMethodInvocation *inv, GVariant *options, gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrWorkspace) ws = NULL;
  BgrWorkspaceExportFlags flags = BGR_WORKSPACE_EXPORT_FLAGS_NONE;
  g_autofree char *branch = NULL;
  GVariantIter it;
  const char *key;
  GVariant *value;
  BgrdLongCall *call;

  g_variant_iter_init (&it, options);
  while (g_variant_iter_loop (&it, "{&sv}", &key, &value))
    {
      if (g_str_equal (key, "branch") && g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        {
          g_free (branch);
          branch = g_variant_dup_string (value, NULL);
        }
      else if (g_str_equal (key, "force") && g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
        flags |= g_variant_get_boolean (value) ? BGR_WORKSPACE_EXPORT_FLAGS_FORCE : 0;
      else if (g_str_equal (key, "dry-run") && g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
        flags |= g_variant_get_boolean (value) ? BGR_WORKSPACE_EXPORT_FLAGS_DRY_RUN : 0;
      else
        {
          g_set_error (&error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "unknown option '%s' (or wrong type) for Vm.ExportWorkspace", key);
          g_variant_unref (value);
          return bgrd_return_error (data, inv, error);
        }
    }
  call = bgrd_long_call_begin (data, inv);
  ws = bgr_client_vm_workspace_export (DAEMON (data)->client, NAME (inv), branch, flags,
                                       bgrd_long_call_get_operation (call),
                                       bgrd_long_call_get_cancellable (call), &error);
  bgrd_long_call_end (call);
  if (ws == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, g_variant_new_tuple ((GVariant *[]) { bgr_workspace_to_variant (ws) }, 1));
}

void
bgrd_workspace_connect (Daemon *d, gpointer iface)
{
  g_signal_connect (iface, "handle-export-workspace", G_CALLBACK (handle_export), d);
  g_signal_connect (iface, "handle-prepare-workspace", G_CALLBACK (handle_prepare), d);
  g_signal_connect (iface, "handle-get-workspace", G_CALLBACK (handle_get), d);
  g_signal_connect (iface, "handle-bootstrap-workspace", G_CALLBACK (handle_bootstrap), d);
  g_signal_connect (iface, "handle-copy", G_CALLBACK (handle_copy), d);
}
