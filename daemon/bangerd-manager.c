/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The org.banger.Banger1.Manager interface: each handler unpacks its
 * arguments, calls one libbanger function and replies. */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include <unistd.h>

#include "bangerd-private.h"
#include "bangerd-web.h"

#define DAEMON(data) ((Daemon *) (data))

static gboolean
handle_get_status (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrDaemonInfo) info = bgr_client_get_daemon_info (DAEMON (data)->client, NULL, &error);
  GVariantDict dict;

  if (info == NULL)
    return bgrd_return_error (data, inv, error);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "pid", "x", (gint64) getpid ());
  g_variant_dict_insert (&dict, "version", "s", bgr_daemon_info_get_version (info));
  g_variant_dict_insert (&dict, "bus", "s", DAEMON (data)->bus_description);
  g_variant_dict_insert (&dict, "state_dir", "s", bgr_daemon_info_get_state_dir (info));
  g_variant_dict_insert (&dict, "web_ui_address", "s",
                         DAEMON (data)->web != NULL ? bgrd_web_get_url (DAEMON (data)->web) : "");
  g_variant_dict_insert (&dict, "uptime_seconds", "x", bgr_daemon_info_get_uptime_seconds (info));
  return bgrd_return (data, inv, g_variant_dict_end (&dict));
}

static gboolean
handle_get_config (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrConfig) config = bgr_client_get_config (DAEMON (data)->client, NULL, &error);
  g_auto (GStrv) keys = bgr_config_dup_keys ();
  GVariantBuilder b;

  if (config == NULL)
    return bgrd_return_error (data, inv, error);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(sss)"));
  for (char **k = keys; *k != NULL; k++)
    g_variant_builder_add (&b, "(sss)", *k, bgr_config_get_string (config, *k),
                           bgr_config_get_source (config, *k));
  return bgrd_return (data, inv,
                      g_variant_new ("(s@a(sss))",
                                     bgr_config_get_path (config) != NULL
                                       ? bgr_config_get_path (config) : "",
                                     g_variant_builder_end (&b)));
}

static gboolean
handle_doctor (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrDoctorReport) report = bgr_client_doctor (DAEMON (data)->client, NULL, &error);
  GVariantBuilder b;

  if (report == NULL)
    return bgrd_return_error (data, inv, error);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(suss)"));
  for (guint i = 0; i < bgr_doctor_report_get_n_checks (report); i++)
    {
      const char *fix = bgr_doctor_report_get_check_fix (report, i);
      g_variant_builder_add (&b, "(suss)", bgr_doctor_report_get_check_name (report, i),
                             (guint32) bgr_doctor_report_get_check_status (report, i),
                             bgr_doctor_report_get_check_message (report, i),
                             fix != NULL ? fix : "");
    }
  return bgrd_return (data, inv,
                      g_variant_new ("(ss@a(suss))", bgr_doctor_report_get_hypervisor (report),
                                     bgr_doctor_report_get_accel (report),
                                     g_variant_builder_end (&b)));
}

static gboolean
handle_ensure_ssh_key (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  g_autofree char *path = bgr_client_ensure_ssh_key (DAEMON (data)->client, NULL, &error);

  if (path == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, g_variant_new_string (path));
}

static gboolean
handle_get_web_login (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, gpointer data)
{
  BgrdWeb *web = DAEMON (data)->web;
  g_autofree char *url = NULL;

  if (web == NULL)
    return bgrd_return_error (data, inv,
                              g_error_new_literal (BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                                                   "bangerd serves no web UI (web_listen_addr is "
                                                   "empty, or its address could not be used: see "
                                                   "bangerd's log)"));
  url = bgrd_web_new_login_url (web);
  g_info ("web login URL given to %s", g_dbus_method_invocation_get_sender (inv));
  return bgrd_return (data, inv, g_variant_new ("(ss)", bgrd_web_get_url (web), url));
}

static gboolean
quit_idle (gpointer data)
{
  g_main_loop_quit (DAEMON (data)->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
handle_stop (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, gpointer data)
{
  g_message ("stop requested by %s", g_dbus_method_invocation_get_sender (inv));
  bgrd_return (data, inv, NULL);
  /* Quit from the main loop; calls still running are waited for there. */
  g_idle_add (quit_idle, data);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- kernels ------------------------------------------------------------ */

static gboolean
handle_import_kernel (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, GVariant *dict,
                      gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrKernelSpec) spec = bgr_kernel_spec_new_from_variant (dict, &error);
  g_autoptr (BgrKernel) k = NULL;
  BgrdLongCall *call;

  if (spec == NULL)
    return bgrd_return_error (data, inv, error);
  call = bgrd_long_call_begin (data, inv);
  k = bgr_client_kernel_import (DAEMON (data)->client, spec, bgrd_long_call_get_operation (call),
                                bgrd_long_call_get_cancellable (call), &error);
  bgrd_long_call_end (call);
  if (k == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, bgr_kernel_to_variant (k));
}

static gboolean
handle_list_kernels (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  g_autoptr (GPtrArray) list = bgr_client_kernel_list (DAEMON (data)->client, NULL, &error);

  if (list == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, bgrd_list_to_variant (list, (BgrdToVariant) bgr_kernel_to_variant));
}

static gboolean
handle_get_kernel (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, const char *name,
                   gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrKernel) k = bgr_client_kernel_get (DAEMON (data)->client, name, NULL, &error);

  if (k == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, bgr_kernel_to_variant (k));
}

static gboolean
handle_list_available_kernels (BgrDBusManager *skeleton, GDBusMethodInvocation *inv,
                               gpointer data)
{
  GError *error = NULL;
  g_autoptr (GPtrArray) list =
    bgr_client_kernel_list_available (DAEMON (data)->client, NULL, &error);

  if (list == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv,
                      bgrd_list_to_variant (list, (BgrdToVariant) bgr_catalog_kernel_to_variant));
}

static gboolean
no_options (const char *method, GVariant *options, GError **error)
{
  GVariantIter it;
  const char *key;

  g_variant_iter_init (&it, options);
  if (g_variant_iter_next (&it, "{&sv}", &key, NULL))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "unknown option '%s' for %s (it has no options yet)", key, method);
      return FALSE;
    }
  return TRUE;
}

static gboolean
handle_pull_kernel (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, const char *name,
                    GVariant *options, gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrKernel) k = NULL;
  BgrdLongCall *call;

  if (!no_options ("PullKernel", options, &error))
    return bgrd_return_error (data, inv, error);
  call = bgrd_long_call_begin (data, inv);
  k = bgr_client_kernel_pull (DAEMON (data)->client, name, bgrd_long_call_get_operation (call),
                              bgrd_long_call_get_cancellable (call), &error);
  bgrd_long_call_end (call);
  if (k == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, bgr_kernel_to_variant (k));
}

/* ---- images ------------------------------------------------------------- */

static gboolean
handle_register_image (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, GVariant *dict,
                       gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrImageSpec) spec = bgr_image_spec_new_from_variant (dict, &error);
  g_autoptr (BgrImage) image = NULL;

  if (spec == NULL)
    return bgrd_return_error (data, inv, error);
  image = bgr_client_image_register (DAEMON (data)->client, spec, NULL, &error);
  if (image == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, bgr_image_to_variant (image));
}

static gboolean
handle_list_images (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  g_autoptr (GPtrArray) list = bgr_client_image_list (DAEMON (data)->client, NULL, &error);

  if (list == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, bgrd_list_to_variant (list, (BgrdToVariant) bgr_image_to_variant));
}

static gboolean
handle_get_image (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, const char *name,
                  gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrImage) image = bgr_client_image_get (DAEMON (data)->client, name, NULL, &error);

  if (image == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, bgr_image_to_variant (image));
}

static gboolean
handle_pull_image (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, const char *reference,
                   GVariant *dict, gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrPullOptions) options = bgr_pull_options_new_from_variant (dict, &error);
  g_autoptr (BgrImage) image = NULL;
  BgrdLongCall *call;

  if (options == NULL)
    return bgrd_return_error (data, inv, error);
  call = bgrd_long_call_begin (data, inv);
  image = bgr_client_image_pull (DAEMON (data)->client, reference, options,
                                 bgrd_long_call_get_operation (call),
                                 bgrd_long_call_get_cancellable (call), &error);
  bgrd_long_call_end (call);
  if (image == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, bgr_image_to_variant (image));
}

static gboolean
handle_build_image (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, const char *name,
                    GVariant *dict, gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrBuildOptions) options = bgr_build_options_new_from_variant (dict, &error);
  g_autoptr (BgrImage) image = NULL;
  BgrdLongCall *call;

  if (options == NULL)
    return bgrd_return_error (data, inv, error);
  call = bgrd_long_call_begin (data, inv);
  image = bgr_client_image_build (DAEMON (data)->client, name, options,
                                  bgrd_long_call_get_operation (call),
                                  bgrd_long_call_get_cancellable (call), &error);
  bgrd_long_call_end (call);
  if (image == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, bgr_image_to_variant (image));
}

static gboolean
handle_list_image_cache (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  g_autoptr (GPtrArray) list = bgr_client_image_cache_list (DAEMON (data)->client, NULL, &error);

  if (list == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv,
                      bgrd_list_to_variant (list, (BgrdToVariant) bgr_cache_blob_to_variant));
}

static gboolean
handle_prune_image_cache (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  guint64 freed = 0;
  guint removed = 0;

  if (!bgr_client_image_cache_prune (DAEMON (data)->client, &freed, &removed, NULL, &error))
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, g_variant_new ("(tu)", freed, removed));
}

/* ---- VMs ---------------------------------------------------------------- */

static gboolean
handle_create_vm (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, GVariant *dict,
                  gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrVmSpec) spec = bgr_vm_spec_new_from_variant (dict, &error);
  g_autoptr (BgrVm) vm = NULL;
  BgrdLongCall *call;

  if (spec == NULL)
    return bgrd_return_error (data, inv, error);
  call = bgrd_long_call_begin (data, inv);
  vm = bgr_client_vm_create (DAEMON (data)->client, spec, bgrd_long_call_get_operation (call),
                             bgrd_long_call_get_cancellable (call), &error);
  bgrd_long_call_end (call);
  if (vm == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, bgr_vm_to_variant (vm));
}

static gboolean
handle_run_vm (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, GVariant *vm_dict,
               GVariant *ws_dict, gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrVmSpec) spec = bgr_vm_spec_new_from_variant (vm_dict, &error);
  g_autoptr (BgrWorkspaceSpec) ws_spec = NULL;
  g_autoptr (BgrWorkspace) ws = NULL;
  BgrdLongCall *call;

  if (spec == NULL || (ws_spec = bgr_workspace_spec_new_from_variant (ws_dict, &error)) == NULL)
    return bgrd_return_error (data, inv, error);
  call = bgrd_long_call_begin (data, inv);
  ws = bgr_client_vm_run (DAEMON (data)->client, spec, ws_spec, bgrd_long_call_get_operation (call),
                          bgrd_long_call_get_cancellable (call), &error);
  bgrd_long_call_end (call);
  if (ws == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, g_variant_new_tuple ((GVariant *[]) { bgr_workspace_to_variant (ws) }, 1));
}

static gboolean
handle_list_vms (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  g_autoptr (GPtrArray) list = bgr_client_vm_list (DAEMON (data)->client, NULL, &error);

  if (list == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, bgrd_list_to_variant (list, (BgrdToVariant) bgr_vm_to_variant));
}

static gboolean
handle_get_vm (BgrDBusManager *skeleton, GDBusMethodInvocation *inv, const char *name,
               gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrVm) vm = bgr_client_vm_get (DAEMON (data)->client, name, NULL, &error);

  if (vm == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, bgr_vm_to_variant (vm));
}

gboolean
bgrd_export_manager (Daemon *d, GError **error)
{
  static const struct {
    const char *signal;
    GCallback handler;
  } handlers[] = {
    { "handle-get-status", G_CALLBACK (handle_get_status) },
    { "handle-get-config", G_CALLBACK (handle_get_config) },
    { "handle-doctor", G_CALLBACK (handle_doctor) },
    { "handle-ensure-ssh-key", G_CALLBACK (handle_ensure_ssh_key) },
    { "handle-stop", G_CALLBACK (handle_stop) },
    { "handle-get-web-login", G_CALLBACK (handle_get_web_login) },
    { "handle-import-kernel", G_CALLBACK (handle_import_kernel) },
    { "handle-list-kernels", G_CALLBACK (handle_list_kernels) },
    { "handle-get-kernel", G_CALLBACK (handle_get_kernel) },
    { "handle-list-available-kernels", G_CALLBACK (handle_list_available_kernels) },
    { "handle-pull-kernel", G_CALLBACK (handle_pull_kernel) },
    { "handle-register-image", G_CALLBACK (handle_register_image) },
    { "handle-list-images", G_CALLBACK (handle_list_images) },
    { "handle-get-image", G_CALLBACK (handle_get_image) },
    { "handle-pull-image", G_CALLBACK (handle_pull_image) },
    { "handle-build-image", G_CALLBACK (handle_build_image) },
    { "handle-list-image-cache", G_CALLBACK (handle_list_image_cache) },
    { "handle-prune-image-cache", G_CALLBACK (handle_prune_image_cache) },
    { "handle-create-vm", G_CALLBACK (handle_create_vm) },
    { "handle-run-vm", G_CALLBACK (handle_run_vm) },
    { "handle-list-vms", G_CALLBACK (handle_list_vms) },
    { "handle-get-vm", G_CALLBACK (handle_get_vm) },
  };

  d->skeleton = bgr_dbus_manager_skeleton_new ();
  bgr_dbus_manager_set_version (d->skeleton, 4);
  bgr_dbus_manager_set_daemon_version (d->skeleton, bgr_get_version_string ());
  bgrd_setup_skeleton (d, d->skeleton);
  for (guint i = 0; i < G_N_ELEMENTS (handlers); i++)
    g_signal_connect (d->skeleton, handlers[i].signal, handlers[i].handler, d);
  return g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (d->skeleton), d->connection,
                                           BGR_DBUS_PATH, error);
}
