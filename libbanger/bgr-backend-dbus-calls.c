/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The D-Bus backend's kernel, image and VM calls: options travel as the
 * options objects' a{sv}; long calls follow their operation object; calls
 * on one VM, image or kernel go to its object in the daemon's tree
 * (bgr-backend-dbus-object.c). */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include "bgr-backend-dbus-private.h"
#include "bgr-dbus-call.h"

static GVariant *
followed (DBusBackend *self, const char *path, const char *iface, const char *method,
          GVariant *params, GUnixFDList *fds, const char *reply_type, BgrOperation *op,
          GCancellable *cancellable, GError **error)
{
  GError *remote = NULL;
  GVariant *reply = bgr_dbus_call_followed (self->connection, path, iface, method, params, fds,
                                            reply_type, op, cancellable, &remote);
  if (reply == NULL)
    convert_remote_error (self, error, remote);
  return reply;
}

static GVariant *
manager_followed (DBusBackend *self, const char *method, GVariant *params, BgrOperation *op,
                  GCancellable *cancellable, GError **error)
{
  return followed (self, BGR_DBUS_PATH, BGR_DBUS_MANAGER_IFACE, method, params, NULL, "(a{sv})",
                   op, cancellable, error);
}

/* ---- kernels ------------------------------------------------------------ */

static BgrKernel *
dbus_kernel_import (BgrBackend *b, BgrKernelSpec *spec, BgrOperation *op,
                    GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply =
    manager_followed (SELF (b), "ImportKernel",
                      g_variant_new_tuple ((GVariant *[]) { bgr_options_to_variant (BGR_OPTIONS (spec)) }, 1),
                      op, cancellable, error);
  return kernel_from_reply (reply, error);
}

static GPtrArray *
dbus_kernel_list (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call (SELF (b), "ListKernels", "(aa{sv})", cancellable, error);
  return list_from_reply (reply, (RecordNew) bgr_kernel_new_from_json, error);
}

static BgrKernel *
dbus_kernel_get (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_name (SELF (b), "GetKernel", name, "(a{sv})", cancellable,
                                          error);
  return kernel_from_reply (reply, error);
}

static gboolean
dbus_kernel_delete (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_object (SELF (b), &OBJ_KERNEL, name, "Delete", NULL, NULL, "()",
                                            NULL, cancellable, error);
  return reply != NULL;
}

static GPtrArray *
dbus_kernel_list_available (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call (SELF (b), "ListAvailableKernels", "(aa{sv})", cancellable,
                                     error);
  return list_from_reply (reply, (RecordNew) bgr_catalog_kernel_new_from_json, error);
}

static BgrKernel *
dbus_kernel_pull (BgrBackend *b, const char *name, BgrOperation *op, GCancellable *cancellable,
                  GError **error)
{
  g_autoptr (GVariant) reply = manager_followed (SELF (b), "PullKernel",
                                                 g_variant_new ("(s@a{sv})", name,
                                                                g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0)),
                                                 op, cancellable, error);
  return kernel_from_reply (reply, error);
}

/* ---- images ------------------------------------------------------------- */

static BgrImage *
dbus_image_register (BgrBackend *b, BgrImageSpec *spec, GCancellable *cancellable,
                     GError **error)
{
  g_autoptr (GVariant) reply =
    call_with (SELF (b), "RegisterImage",
               g_variant_new_tuple ((GVariant *[]) { bgr_options_to_variant (BGR_OPTIONS (spec)) }, 1),
               "(a{sv})", cancellable, error);
  return image_from_reply (reply, error);
}

static GPtrArray *
dbus_image_list (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call (SELF (b), "ListImages", "(aa{sv})", cancellable, error);
  return list_from_reply (reply, (RecordNew) bgr_image_new_from_json, error);
}

static BgrImage *
dbus_image_get (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_name (SELF (b), "GetImage", name, "(a{sv})", cancellable,
                                          error);
  return image_from_reply (reply, error);
}

static gboolean
dbus_image_delete (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_object (SELF (b), &OBJ_IMAGE, name, "Delete", NULL, NULL, "()",
                                            NULL, cancellable, error);
  return reply != NULL;
}

static BgrImage *
dbus_image_promote (BgrBackend *b, const char *name, BgrOperation *op,
                    GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_object (SELF (b), &OBJ_IMAGE, name, "Promote", NULL, NULL,
                                            "(a{sv})", op, cancellable, error);
  return image_from_reply (reply, error);
}

static BgrImage *
dbus_image_pull (BgrBackend *b, const char *reference, BgrPullOptions *options, BgrOperation *op,
                 GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply =
    manager_followed (SELF (b), "PullImage",
                      g_variant_new ("(s@a{sv})", reference,
                                     bgr_options_to_variant (BGR_OPTIONS (options))),
                      op, cancellable, error);
  return image_from_reply (reply, error);
}

static BgrImage *
dbus_image_build (BgrBackend *b, const char *name, BgrBuildOptions *options, BgrOperation *op,
                  GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply =
    manager_followed (SELF (b), "BuildImage",
                      g_variant_new ("(s@a{sv})", name,
                                     bgr_options_to_variant (BGR_OPTIONS (options))),
                      op, cancellable, error);
  return image_from_reply (reply, error);
}

static GPtrArray *
dbus_image_cache_list (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call (SELF (b), "ListImageCache", "(aa{sv})", cancellable, error);
  return list_from_reply (reply, (RecordNew) bgr_cache_blob_new_from_json, error);
}

static gboolean
dbus_image_cache_prune (BgrBackend *b, guint64 *out_freed, guint *out_removed,
                        GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call (SELF (b), "PruneImageCache", "(tu)", cancellable, error);
  guint32 removed;

  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(tu)", out_freed, &removed);
  *out_removed = removed;
  return TRUE;
}

/* ---- VMs ---------------------------------------------------------------- */

static BgrVm *
vm_from_reply (GVariant *reply, GError **error)
{
  return record_from_reply (reply, (RecordNew) bgr_vm_new_from_json, error);
}

static BgrVm *
dbus_vm_create (BgrBackend *b, BgrVmSpec *spec, BgrOperation *op, GCancellable *cancellable,
                GError **error)
{
  g_autoptr (GVariant) reply =
    manager_followed (SELF (b), "CreateVm",
                      g_variant_new_tuple ((GVariant *[]) { bgr_options_to_variant (BGR_OPTIONS (spec)) }, 1),
                      op, cancellable, error);
  return vm_from_reply (reply, error);
}

static GVariant *
empty_options (void)
{
  return g_variant_new ("(@a{sv})", g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0));
}

static BgrVm *
dbus_vm_start (BgrBackend *b, const char *name, BgrOperation *op, GCancellable *cancellable,
               GError **error)
{
  g_autoptr (GVariant) reply = call_object (SELF (b), &OBJ_VM, name, "Start", empty_options (),
                                            NULL, "(a{sv})", op, cancellable, error);
  return vm_from_reply (reply, error);
}

static BgrVm *
dbus_vm_stop (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_object (SELF (b), &OBJ_VM, name, "Stop", NULL, NULL, "(a{sv})",
                                            NULL, cancellable, error);
  return vm_from_reply (reply, error);
}

static BgrVm *
dbus_vm_kill (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_object (SELF (b), &OBJ_VM, name, "Kill", NULL, NULL, "(a{sv})",
                                            NULL, cancellable, error);
  return vm_from_reply (reply, error);
}

static gboolean
dbus_vm_delete (BgrBackend *b, const char *name, BgrVmDeleteFlags flags,
                GCancellable *cancellable, GError **error)
{
  GVariantDict opts;
  g_autoptr (GVariant) reply = NULL;

  g_variant_dict_init (&opts, NULL);
  if (flags & BGR_VM_DELETE_FLAGS_FORCE)
    g_variant_dict_insert (&opts, "force", "b", TRUE);
  reply = call_object (SELF (b), &OBJ_VM, name, "Delete",
                       g_variant_new ("(@a{sv})", g_variant_dict_end (&opts)), NULL, "()", NULL,
                       cancellable, error);
  return reply != NULL;
}

static GPtrArray *
dbus_vm_list (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call (SELF (b), "ListVms", "(aa{sv})", cancellable, error);
  return list_from_reply (reply, (RecordNew) bgr_vm_new_from_json, error);
}

static BgrVm *
dbus_vm_get (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_name (SELF (b), "GetVm", name, "(a{sv})", cancellable, error);
  return vm_from_reply (reply, error);
}

static GBytes *
dbus_vm_logs (BgrBackend *b, const char *name, guint64 max_bytes, GCancellable *cancellable,
              GError **error)
{
  g_autoptr (GVariant) reply = call_object (SELF (b), &OBJ_VM, name, "Logs",
                                            g_variant_new ("(t)", max_bytes), NULL, "(ay)", NULL,
                                            cancellable, error);
  g_autoptr (GVariant) data = NULL;

  if (reply == NULL)
    return NULL;
  data = g_variant_get_child_value (reply, 0);
  return g_variant_get_data_as_bytes (data);
}

static GPtrArray *
dbus_vm_ports (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_object (SELF (b), &OBJ_VM, name, "Ports", NULL, NULL,
                                            "(aa{sv})", NULL, cancellable, error);
  return list_from_reply (reply, (RecordNew) bgr_vm_port_new_from_json, error);
}

static BgrVmStats *
dbus_vm_stats (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_object (SELF (b), &OBJ_VM, name, "Stats", NULL, NULL, "(a{sv})",
                                            NULL, cancellable, error);
  return record_from_reply (reply, (RecordNew) bgr_vm_stats_new_from_json, error);
}

/* ---- workspaces and vm cp ----------------------------------------------- */

static BgrWorkspace *
dbus_vm_workspace_prepare (BgrBackend *b, const char *name, BgrWorkspaceSpec *spec,
                           BgrOperation *op, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply =
    call_object (SELF (b), &OBJ_VM, name, "PrepareWorkspace",
                 g_variant_new_tuple ((GVariant *[]) { bgr_options_to_variant (BGR_OPTIONS (spec)) }, 1),
                 NULL, "(a{sv})", op, cancellable, error);
  return record_from_reply (reply, (RecordNew) bgr_workspace_new_from_json, error);
}

static BgrWorkspace *
dbus_vm_run (BgrBackend *b, BgrVmSpec *vm_spec, BgrWorkspaceSpec *spec, BgrOperation *op,
             GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply =
    manager_followed (SELF (b), "RunVm",
                      g_variant_new_tuple ((GVariant *[]) { bgr_options_to_variant (BGR_OPTIONS (vm_spec)),
                                                            bgr_options_to_variant (BGR_OPTIONS (spec)) }, 2),
                      op, cancellable, error);
  return record_from_reply (reply, (RecordNew) bgr_workspace_new_from_json, error);
}

static BgrWorkspace *
dbus_vm_workspace_get (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_object (SELF (b), &OBJ_VM, name, "GetWorkspace", NULL, NULL,
                                            "(a{sv})", NULL, cancellable, error);
  return record_from_reply (reply, (RecordNew) bgr_workspace_new_from_json, error);
}

static char *
dbus_vm_workspace_bootstrap (BgrBackend *b, const char *name, GCancellable *cancellable,
                             GError **error)
{
  g_autoptr (GVariant) reply = call_object (SELF (b), &OBJ_VM, name, "BootstrapWorkspace", NULL,
                                            NULL, "(s)", NULL, cancellable, error);
  char *line = NULL;

  if (reply != NULL)
    g_variant_get (reply, "(s)", &line);
  return line;
}

static BgrWorkspace *
dbus_vm_workspace_export (BgrBackend *b, const char *name, const char *branch,
                          BgrWorkspaceExportFlags flags, BgrOperation *op,
                          GCancellable *cancellable, GError **error)
{
  GVariantDict opts;
  g_autoptr (GVariant) reply = NULL;

  g_variant_dict_init (&opts, NULL);
  if (branch != NULL)
    g_variant_dict_insert (&opts, "branch", "s", branch);
  if (flags & BGR_WORKSPACE_EXPORT_FLAGS_FORCE)
    g_variant_dict_insert (&opts, "force", "b", TRUE);
  if (flags & BGR_WORKSPACE_EXPORT_FLAGS_DRY_RUN)
    g_variant_dict_insert (&opts, "dry-run", "b", TRUE);
  reply = call_object (SELF (b), &OBJ_VM, name, "ExportWorkspace",
                       g_variant_new ("(@a{sv})", g_variant_dict_end (&opts)), NULL, "(a{sv})", op,
                       cancellable, error);
  return record_from_reply (reply, (RecordNew) bgr_workspace_new_from_json, error);
}

static gboolean
dbus_vm_copy (BgrBackend *b, const char *name, BgrCopyDirection direction, const char *host_path,
              const char *guest_path, BgrOperation *op, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply =
    call_object (SELF (b), &OBJ_VM, name, "Copy",
                 g_variant_new ("(ssb@a{sv})", host_path != NULL ? host_path : "",
                                guest_path != NULL ? guest_path : "", direction == BGR_COPY_FROM_VM,
                                g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0)),
                 NULL, "()", op, cancellable, error);
  return reply != NULL;
}

/* ---- TCP into the guest ------------------------------------------------- */

static gboolean
dbus_vm_proxy (BgrBackend *b, const char *name, const char *guest_address, guint port, int in_fd,
               int out_fd, GCancellable *cancellable, GError **error)
{
  g_autoptr (GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr (GVariant) reply = NULL;
  gint in_idx, out_idx;

  if ((in_idx = dbus_append_fd (fds, in_fd, O_RDONLY, error)) < 0
      || (out_idx = dbus_append_fd (fds, out_fd, O_WRONLY, error)) < 0)
    return FALSE;
  reply = call_object (SELF (b), &OBJ_VM, name, "Proxy",
                       g_variant_new ("(sqhh)", OPT (guest_address), (guint16) MIN (port, 65535),
                                      in_idx, out_idx),
                       fds, "()", NULL, cancellable, error);
  return reply != NULL;
}

static BgrVmForward *
dbus_vm_forward_add (BgrBackend *b, const char *name, const char *host_address, guint host_port,
                     guint guest_port, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = NULL;

  if (host_port > 65535 || guest_port > 65535)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "%s port %u is not 1-65535",
                   host_port > 65535 ? "host" : "guest", MAX (host_port, guest_port));
      return NULL;
    }
  reply = call_object (SELF (b), &OBJ_VM, name, "AddForward",
                       g_variant_new ("(sqq)", OPT (host_address), (guint16) host_port,
                                      (guint16) guest_port),
                       NULL, "(a{sv})", NULL, cancellable, error);
  return record_from_reply (reply, (RecordNew) bgr_vm_forward_new_from_json, error);
}

static gboolean
dbus_vm_forward_remove (BgrBackend *b, const char *name, const char *host_address,
                        guint host_port, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = NULL;

  if (host_port > 65535)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "host port %u is not 1-65535",
                   host_port);
      return FALSE;
    }
  reply = call_object (SELF (b), &OBJ_VM, name, "RemoveForward",
                       g_variant_new ("(sq)", OPT (host_address), (guint16) host_port), NULL, "()",
                       NULL, cancellable, error);
  return reply != NULL;
}

static GPtrArray *
dbus_vm_forward_list (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_object (SELF (b), &OBJ_VM, name, "ListForwards", NULL, NULL,
                                            "(aa{sv})", NULL, cancellable, error);
  return list_from_reply (reply, (RecordNew) bgr_vm_forward_new_from_json, error);
}

static char *
dbus_vm_ssh_prepare (BgrBackend *b, const char *name, guint port, GCancellable *cancellable,
                     GError **error)
{
  g_autoptr (GVariant) reply = call_object (SELF (b), &OBJ_VM, name, "PrepareSsh",
                                            g_variant_new ("(q)", (guint16) MIN (port, 65535)), NULL,
                                            "(s)", NULL, cancellable, error);
  char *path = NULL;

  if (reply != NULL)
    g_variant_get (reply, "(s)", &path);
  return path;
}

const BgrBackendVTable bgr_backend_dbus_vtable = {
  .name = "dbus",
  .free = dbus_free,
  .get_config = dbus_get_config,
  .get_daemon_info = dbus_get_daemon_info,
  .stop_daemon = dbus_stop_daemon,
  .ensure_ssh_key = dbus_ensure_ssh_key,
  .web_login_url = dbus_web_login_url,
  .doctor = dbus_doctor,
  .kernel_import = dbus_kernel_import,
  .kernel_list = dbus_kernel_list,
  .kernel_get = dbus_kernel_get,
  .kernel_delete = dbus_kernel_delete,
  .kernel_list_available = dbus_kernel_list_available,
  .kernel_pull = dbus_kernel_pull,
  .image_register = dbus_image_register,
  .image_list = dbus_image_list,
  .image_get = dbus_image_get,
  .image_delete = dbus_image_delete,
  .image_promote = dbus_image_promote,
  .image_pull = dbus_image_pull,
  .image_build = dbus_image_build,
  .image_cache_list = dbus_image_cache_list,
  .image_cache_prune = dbus_image_cache_prune,
  .vm_create = dbus_vm_create,
  .vm_start = dbus_vm_start,
  .vm_stop = dbus_vm_stop,
  .vm_kill = dbus_vm_kill,
  .vm_delete = dbus_vm_delete,
  .vm_list = dbus_vm_list,
  .vm_get = dbus_vm_get,
  .vm_logs = dbus_vm_logs,
  .vm_exec = dbus_vm_exec,
  .vm_acp = dbus_vm_acp,
  .vm_proxy = dbus_vm_proxy,
  .vm_forward_add = dbus_vm_forward_add,
  .vm_forward_remove = dbus_vm_forward_remove,
  .vm_forward_list = dbus_vm_forward_list,
  .vm_ssh_prepare = dbus_vm_ssh_prepare,
  .vm_ports = dbus_vm_ports,
  .vm_stats = dbus_vm_stats,
  .vm_workspace_prepare = dbus_vm_workspace_prepare,
  .vm_run = dbus_vm_run,
  .vm_workspace_get = dbus_vm_workspace_get,
  .vm_workspace_bootstrap = dbus_vm_workspace_bootstrap,
  .vm_workspace_export = dbus_vm_workspace_export,
  .vm_copy = dbus_vm_copy,
  .vm_session_start = dbus_vm_session_start,
  .vm_session_list = dbus_vm_session_list,
  .vm_session_logs = dbus_vm_session_logs,
  .vm_session_attach = dbus_vm_session_attach,
  .vm_session_end = dbus_vm_session_end,
};
