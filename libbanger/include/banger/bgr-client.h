/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__BANGER_H_INSIDE__) && !defined(BANGER_COMPILATION)
#error "Only <banger/banger.h> can be included directly."
#endif

#include <gio/gio.h>
#include <banger/bgr-macros.h>
#include <banger/bgr-config.h>
#include <banger/bgr-doctor.h>
#include <banger/bgr-daemon-info.h>
#include <banger/bgr-image.h>
#include <banger/bgr-kernel.h>
#include <banger/bgr-catalog-kernel.h>
#include <banger/bgr-cache-blob.h>
#include <banger/bgr-vm.h>
#include <banger/bgr-options.h>
#include <banger/bgr-operation.h>

G_BEGIN_DECLS

/**
 * BgrClientFlags:
 * @BGR_CLIENT_FLAGS_NONE: no flags
 * @BGR_CLIENT_FLAGS_SUPERVISE: a local client supervises its VMs in a
 *   background thread while it lives: it notices VMMs that exit, samples
 *   stats every `stats_poll_interval` and stops VMs idle for longer than
 *   `auto_stop_stale_after` (what bangerd does)
 * @BGR_CLIENT_FLAGS_NO_AUTO_START: a D-Bus client does not start bangerd
 *   through D-Bus activation: construction fails with
 *   %BGR_ERROR_DAEMON_UNAVAILABLE when no daemon runs
 *
 * Flags for creating a #BgrClient.
 *
 * Since: 0.1
 */
typedef enum {
  BGR_CLIENT_FLAGS_NONE = 0,
  BGR_CLIENT_FLAGS_NO_AUTO_START = 1 << 0,
  BGR_CLIENT_FLAGS_SUPERVISE = 1 << 1
} BgrClientFlags;

/**
 * BgrClient:
 *
 * The entry point of libbanger. Every operation goes through a client,
 * whose calls run either in-process against a local engine
 * (bgr_client_new_local(), which owns the state directory while it lives)
 * or in `bangerd` over D-Bus (bgr_client_new_dbus()). The API is the same.
 *
 * Since: 0.1
 */
#define BGR_TYPE_CLIENT (bgr_client_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrClient, bgr_client, BGR, CLIENT, GObject)

BGR_EXTERN BgrClient *bgr_client_new_local (BgrConfig *config, BgrClientFlags flags,
                                            GError **error);
BGR_EXTERN BgrClient *bgr_client_new_dbus (GBusType bus_type, BgrClientFlags flags,
                                           GCancellable *cancellable, GError **error);
BGR_EXTERN BgrClient *bgr_client_new_dbus_for_address (const char *address, BgrClientFlags flags,
                                                       GCancellable *cancellable, GError **error);
BGR_EXTERN gboolean bgr_client_is_local (BgrClient *self);

BGR_EXTERN BgrConfig *bgr_client_get_config (BgrClient *self, GCancellable *cancellable,
                                             GError **error);
BGR_EXTERN BgrDaemonInfo *bgr_client_get_daemon_info (BgrClient *self, GCancellable *cancellable,
                                                      GError **error);
BGR_EXTERN gboolean bgr_client_stop_daemon (BgrClient *self, GCancellable *cancellable,
                                            GError **error);
BGR_EXTERN char *bgr_client_ensure_ssh_key (BgrClient *self, GCancellable *cancellable,
                                            GError **error);
BGR_EXTERN char *bgr_client_web_login_url (BgrClient *self, char **out_url,
                                           GCancellable *cancellable, GError **error);

BGR_EXTERN BgrDoctorReport *bgr_client_doctor (BgrClient *self, GCancellable *cancellable,
                                               GError **error);
BGR_EXTERN void bgr_client_doctor_async (BgrClient *self, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data);
BGR_EXTERN BgrDoctorReport *bgr_client_doctor_finish (BgrClient *self, GAsyncResult *result,
                                                      GError **error);

/* Kernels */
BGR_EXTERN BgrKernel *bgr_client_kernel_import (BgrClient *self, BgrKernelSpec *spec,
                                                BgrOperation *op, GCancellable *cancellable,
                                                GError **error);
BGR_EXTERN void bgr_client_kernel_import_async (BgrClient *self, BgrKernelSpec *spec,
                                                BgrOperation *op, GCancellable *cancellable,
                                                GAsyncReadyCallback callback, gpointer user_data);
BGR_EXTERN BgrKernel *bgr_client_kernel_import_finish (BgrClient *self, GAsyncResult *result,
                                                       GError **error);
BGR_EXTERN GPtrArray *bgr_client_kernel_list (BgrClient *self, GCancellable *cancellable,
                                              GError **error);
BGR_EXTERN BgrKernel *bgr_client_kernel_get (BgrClient *self, const char *name,
                                             GCancellable *cancellable, GError **error);
BGR_EXTERN gboolean bgr_client_kernel_delete (BgrClient *self, const char *name,
                                              GCancellable *cancellable, GError **error);
BGR_EXTERN GPtrArray *bgr_client_kernel_list_available (BgrClient *self,
                                                        GCancellable *cancellable,
                                                        GError **error);
BGR_EXTERN BgrKernel *bgr_client_kernel_pull (BgrClient *self, const char *name,
                                              BgrOperation *op, GCancellable *cancellable,
                                              GError **error);
BGR_EXTERN void bgr_client_kernel_pull_async (BgrClient *self, const char *name,
                                              BgrOperation *op, GCancellable *cancellable,
                                              GAsyncReadyCallback callback, gpointer user_data);
BGR_EXTERN BgrKernel *bgr_client_kernel_pull_finish (BgrClient *self, GAsyncResult *result,
                                                     GError **error);

/* Images */
BGR_EXTERN BgrImage *bgr_client_image_register (BgrClient *self, BgrImageSpec *spec,
                                                GCancellable *cancellable, GError **error);
BGR_EXTERN GPtrArray *bgr_client_image_list (BgrClient *self, GCancellable *cancellable,
                                             GError **error);
BGR_EXTERN BgrImage *bgr_client_image_get (BgrClient *self, const char *name,
                                           GCancellable *cancellable, GError **error);
BGR_EXTERN gboolean bgr_client_image_delete (BgrClient *self, const char *name,
                                             GCancellable *cancellable, GError **error);
BGR_EXTERN BgrImage *bgr_client_image_promote (BgrClient *self, const char *name,
                                               BgrOperation *op, GCancellable *cancellable,
                                               GError **error);
BGR_EXTERN void bgr_client_image_promote_async (BgrClient *self, const char *name,
                                                BgrOperation *op, GCancellable *cancellable,
                                                GAsyncReadyCallback callback, gpointer user_data);
BGR_EXTERN BgrImage *bgr_client_image_promote_finish (BgrClient *self, GAsyncResult *result,
                                                      GError **error);
BGR_EXTERN BgrImage *bgr_client_image_pull (BgrClient *self, const char *reference,
                                            BgrPullOptions *options, BgrOperation *op,
                                            GCancellable *cancellable, GError **error);
BGR_EXTERN void bgr_client_image_pull_async (BgrClient *self, const char *reference,
                                             BgrPullOptions *options, BgrOperation *op,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback, gpointer user_data);
BGR_EXTERN BgrImage *bgr_client_image_pull_finish (BgrClient *self, GAsyncResult *result,
                                                   GError **error);
BGR_EXTERN BgrImage *bgr_client_image_build (BgrClient *self, const char *name,
                                             BgrBuildOptions *options, BgrOperation *op,
                                             GCancellable *cancellable, GError **error);
BGR_EXTERN void bgr_client_image_build_async (BgrClient *self, const char *name,
                                              BgrBuildOptions *options, BgrOperation *op,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback, gpointer user_data);
BGR_EXTERN BgrImage *bgr_client_image_build_finish (BgrClient *self, GAsyncResult *result,
                                                    GError **error);
BGR_EXTERN GPtrArray *bgr_client_image_cache_list (BgrClient *self, GCancellable *cancellable,
                                                   GError **error);
BGR_EXTERN gboolean bgr_client_image_cache_prune (BgrClient *self, guint64 *out_freed,
                                                  guint *out_removed, GCancellable *cancellable,
                                                  GError **error);

/**
 * BgrVmDeleteFlags:
 * @BGR_VM_DELETE_FLAGS_NONE: refuse to delete a running VM
 * @BGR_VM_DELETE_FLAGS_FORCE: kill a running VM first
 *
 * Since: 0.2
 */
typedef enum {
  BGR_VM_DELETE_FLAGS_NONE = 0,
  BGR_VM_DELETE_FLAGS_FORCE = 1 << 0
} BgrVmDeleteFlags;

/* VMs */
BGR_EXTERN BgrVm *bgr_client_vm_create (BgrClient *self, BgrVmSpec *spec, BgrOperation *op,
                                        GCancellable *cancellable, GError **error);
BGR_EXTERN void bgr_client_vm_create_async (BgrClient *self, BgrVmSpec *spec, BgrOperation *op,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback, gpointer user_data);
BGR_EXTERN BgrVm *bgr_client_vm_create_finish (BgrClient *self, GAsyncResult *result,
                                               GError **error);
BGR_EXTERN BgrVm *bgr_client_vm_start (BgrClient *self, const char *name, BgrOperation *op,
                                       GCancellable *cancellable, GError **error);
BGR_EXTERN void bgr_client_vm_start_async (BgrClient *self, const char *name, BgrOperation *op,
                                           GCancellable *cancellable, GAsyncReadyCallback callback,
                                           gpointer user_data);
BGR_EXTERN BgrVm *bgr_client_vm_start_finish (BgrClient *self, GAsyncResult *result,
                                              GError **error);
BGR_EXTERN BgrVm *bgr_client_vm_stop (BgrClient *self, const char *name,
                                      GCancellable *cancellable, GError **error);
BGR_EXTERN void bgr_client_vm_stop_async (BgrClient *self, const char *name,
                                          GCancellable *cancellable, GAsyncReadyCallback callback,
                                          gpointer user_data);
BGR_EXTERN BgrVm *bgr_client_vm_stop_finish (BgrClient *self, GAsyncResult *result,
                                             GError **error);
BGR_EXTERN BgrVm *bgr_client_vm_kill (BgrClient *self, const char *name,
                                      GCancellable *cancellable, GError **error);
BGR_EXTERN gboolean bgr_client_vm_delete (BgrClient *self, const char *name,
                                          BgrVmDeleteFlags flags, GCancellable *cancellable,
                                          GError **error);
BGR_EXTERN void bgr_client_vm_delete_async (BgrClient *self, const char *name,
                                            BgrVmDeleteFlags flags, GCancellable *cancellable,
                                            GAsyncReadyCallback callback, gpointer user_data);
BGR_EXTERN gboolean bgr_client_vm_delete_finish (BgrClient *self, GAsyncResult *result,
                                                 GError **error);
BGR_EXTERN GPtrArray *bgr_client_vm_list (BgrClient *self, GCancellable *cancellable,
                                          GError **error);
BGR_EXTERN BgrVm *bgr_client_vm_get (BgrClient *self, const char *name,
                                     GCancellable *cancellable, GError **error);
BGR_EXTERN GBytes *bgr_client_vm_logs (BgrClient *self, const char *name, guint64 max_bytes,
                                       GCancellable *cancellable, GError **error);
BGR_EXTERN GPtrArray *bgr_client_vm_ports (BgrClient *self, const char *name,
                                           GCancellable *cancellable, GError **error);
BGR_EXTERN BgrVmStats *bgr_client_vm_stats (BgrClient *self, const char *name,
                                            GCancellable *cancellable, GError **error);
BGR_EXTERN gboolean bgr_client_vm_exec (BgrClient *self, const char *name, BgrExecSpec *spec,
                                        gint *out_status, GCancellable *cancellable,
                                        GError **error);
BGR_EXTERN void bgr_client_vm_exec_async (BgrClient *self, const char *name, BgrExecSpec *spec,
                                          GCancellable *cancellable, GAsyncReadyCallback callback,
                                          gpointer user_data);
BGR_EXTERN gboolean bgr_client_vm_exec_finish (BgrClient *self, GAsyncResult *result,
                                               gint *out_status, GError **error);

/* TCP into a VM's guest, through its agent */
BGR_EXTERN gboolean bgr_client_vm_proxy (BgrClient *self, const char *name,
                                         const char *guest_address, guint port, int in_fd,
                                         int out_fd, GCancellable *cancellable, GError **error);
BGR_EXTERN void bgr_client_vm_proxy_async (BgrClient *self, const char *name,
                                           const char *guest_address, guint port, int in_fd,
                                           int out_fd, GCancellable *cancellable,
                                           GAsyncReadyCallback callback, gpointer user_data);
BGR_EXTERN gboolean bgr_client_vm_proxy_finish (BgrClient *self, GAsyncResult *result,
                                                GError **error);
BGR_EXTERN BgrVmForward *bgr_client_vm_forward_add (BgrClient *self, const char *name,
                                                    const char *host_address, guint host_port,
                                                    guint guest_port, GCancellable *cancellable,
                                                    GError **error);
BGR_EXTERN gboolean bgr_client_vm_forward_remove (BgrClient *self, const char *name,
                                                  const char *host_address, guint host_port,
                                                  GCancellable *cancellable, GError **error);
BGR_EXTERN GPtrArray *bgr_client_vm_forward_list (BgrClient *self, const char *name,
                                                  GCancellable *cancellable, GError **error);
BGR_EXTERN char *bgr_client_vm_ssh_prepare (BgrClient *self, const char *name, guint port,
                                            GCancellable *cancellable, GError **error);
BGR_EXTERN gboolean bgr_client_vm_acp (BgrClient *self, const char *name, const char *cwd,
                                       int stdin_fd, int stdout_fd, int stderr_fd,
                                       gint *out_status, GCancellable *cancellable,
                                       GError **error);

G_END_DECLS
