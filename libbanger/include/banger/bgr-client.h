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

BGR_EXTERN BgrDoctorReport *bgr_client_doctor (BgrClient *self, GCancellable *cancellable,
                                               GError **error);
BGR_EXTERN void bgr_client_doctor_async (BgrClient *self, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data);
BGR_EXTERN BgrDoctorReport *bgr_client_doctor_finish (BgrClient *self, GAsyncResult *result,
                                                      GError **error);

/* Kernels */
BGR_EXTERN BgrKernel *bgr_client_import_kernel (BgrClient *self, const char *name,
                                                const char *kernel, const char *modules,
                                                const char *initrd, GCancellable *cancellable,
                                                GError **error);
BGR_EXTERN void bgr_client_import_kernel_async (BgrClient *self, const char *name,
                                                const char *kernel, const char *modules,
                                                const char *initrd, GCancellable *cancellable,
                                                GAsyncReadyCallback callback, gpointer user_data);
BGR_EXTERN BgrKernel *bgr_client_import_kernel_finish (BgrClient *self, GAsyncResult *result,
                                                       GError **error);
BGR_EXTERN BgrKernel *bgr_client_import_kernel_deb (BgrClient *self, const char *name,
                                                    const char *deb, GCancellable *cancellable,
                                                    GError **error);
BGR_EXTERN void bgr_client_import_kernel_deb_async (BgrClient *self, const char *name,
                                                    const char *deb, GCancellable *cancellable,
                                                    GAsyncReadyCallback callback,
                                                    gpointer user_data);
BGR_EXTERN BgrKernel *bgr_client_import_kernel_deb_finish (BgrClient *self, GAsyncResult *result,
                                                           GError **error);
BGR_EXTERN GPtrArray *bgr_client_list_kernels (BgrClient *self, GCancellable *cancellable,
                                               GError **error);
BGR_EXTERN BgrKernel *bgr_client_get_kernel (BgrClient *self, const char *name,
                                             GCancellable *cancellable, GError **error);
BGR_EXTERN gboolean bgr_client_delete_kernel (BgrClient *self, const char *name,
                                              GCancellable *cancellable, GError **error);

BGR_EXTERN GPtrArray *bgr_client_list_available_kernels (BgrClient *self,
                                                         GCancellable *cancellable,
                                                         GError **error);
BGR_EXTERN BgrKernel *bgr_client_pull_kernel (BgrClient *self, const char *name,
                                              BgrProgressFunc progress, gpointer user_data,
                                              GCancellable *cancellable, GError **error);
BGR_EXTERN void bgr_client_pull_kernel_async (BgrClient *self, const char *name,
                                              BgrProgressFunc progress, gpointer progress_data,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback, gpointer user_data);
BGR_EXTERN BgrKernel *bgr_client_pull_kernel_finish (BgrClient *self, GAsyncResult *result,
                                                     GError **error);

/**
 * BgrImagePullFlags:
 * @BGR_IMAGE_PULL_FLAGS_NONE: no flags
 * @BGR_IMAGE_PULL_FLAGS_INSECURE: allow plain http:// to a registry that is
 *   not on the loopback interface
 *
 * Since: 0.1
 */
typedef enum {
  BGR_IMAGE_PULL_FLAGS_NONE = 0,
  BGR_IMAGE_PULL_FLAGS_INSECURE = 1 << 0
} BgrImagePullFlags;

/* Images */
BGR_EXTERN BgrImage *bgr_client_register_image (BgrClient *self, const char *name,
                                                const char *rootfs, const char *work_seed,
                                                const char *kernel, const char *kernel_ref,
                                                const char *initrd, const char *modules,
                                                GCancellable *cancellable, GError **error);
BGR_EXTERN GPtrArray *bgr_client_list_images (BgrClient *self, GCancellable *cancellable,
                                              GError **error);
BGR_EXTERN BgrImage *bgr_client_get_image (BgrClient *self, const char *name,
                                           GCancellable *cancellable, GError **error);
BGR_EXTERN gboolean bgr_client_delete_image (BgrClient *self, const char *name,
                                             GCancellable *cancellable, GError **error);
BGR_EXTERN BgrImage *bgr_client_promote_image (BgrClient *self, const char *name,
                                               GCancellable *cancellable, GError **error);
BGR_EXTERN void bgr_client_promote_image_async (BgrClient *self, const char *name,
                                                GCancellable *cancellable,
                                                GAsyncReadyCallback callback, gpointer user_data);
BGR_EXTERN BgrImage *bgr_client_promote_image_finish (BgrClient *self, GAsyncResult *result,
                                                      GError **error);

BGR_EXTERN BgrImage *bgr_client_pull_image (BgrClient *self, const char *reference,
                                            const char *name, const char *kernel_ref,
                                            const char *platform, guint64 size,
                                            BgrImagePullFlags flags, BgrPullProgressFunc progress,
                                            gpointer user_data, GCancellable *cancellable,
                                            GError **error);
BGR_EXTERN GPtrArray *bgr_client_list_image_cache (BgrClient *self, GCancellable *cancellable,
                                                   GError **error);
BGR_EXTERN gboolean bgr_client_prune_image_cache (BgrClient *self, guint64 *out_freed,
                                                  guint *out_removed, GCancellable *cancellable,
                                                  GError **error);

/* VMs */
BGR_EXTERN BgrVm *bgr_client_create_vm (BgrClient *self, const char *name, const char *image,
                                        guint vcpus, guint64 memory_mib, guint64 disk_size,
                                        BgrVmProgressFunc progress, gpointer user_data,
                                        GCancellable *cancellable, GError **error);
BGR_EXTERN void bgr_client_create_vm_async (BgrClient *self, const char *name, const char *image,
                                            guint vcpus, guint64 memory_mib, guint64 disk_size,
                                            BgrVmProgressFunc progress, gpointer progress_data,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback, gpointer user_data);
BGR_EXTERN BgrVm *bgr_client_create_vm_finish (BgrClient *self, GAsyncResult *result,
                                               GError **error);
BGR_EXTERN BgrVm *bgr_client_start_vm (BgrClient *self, const char *name,
                                       BgrVmProgressFunc progress, gpointer user_data,
                                       GCancellable *cancellable, GError **error);
BGR_EXTERN void bgr_client_start_vm_async (BgrClient *self, const char *name,
                                           BgrVmProgressFunc progress, gpointer progress_data,
                                           GCancellable *cancellable, GAsyncReadyCallback callback,
                                           gpointer user_data);
BGR_EXTERN BgrVm *bgr_client_start_vm_finish (BgrClient *self, GAsyncResult *result,
                                              GError **error);
BGR_EXTERN BgrVm *bgr_client_stop_vm (BgrClient *self, const char *name,
                                      GCancellable *cancellable, GError **error);
BGR_EXTERN void bgr_client_stop_vm_async (BgrClient *self, const char *name,
                                          GCancellable *cancellable, GAsyncReadyCallback callback,
                                          gpointer user_data);
BGR_EXTERN BgrVm *bgr_client_stop_vm_finish (BgrClient *self, GAsyncResult *result,
                                             GError **error);
BGR_EXTERN BgrVm *bgr_client_kill_vm (BgrClient *self, const char *name,
                                      GCancellable *cancellable, GError **error);
BGR_EXTERN gboolean bgr_client_delete_vm (BgrClient *self, const char *name, gboolean force,
                                          GCancellable *cancellable, GError **error);
BGR_EXTERN GPtrArray *bgr_client_list_vms (BgrClient *self, GCancellable *cancellable,
                                           GError **error);
BGR_EXTERN BgrVm *bgr_client_get_vm (BgrClient *self, const char *name,
                                     GCancellable *cancellable, GError **error);
BGR_EXTERN GBytes *bgr_client_get_vm_logs (BgrClient *self, const char *name, guint64 max_bytes,
                                           GCancellable *cancellable, GError **error);
BGR_EXTERN GPtrArray *bgr_client_vm_ports (BgrClient *self, const char *name,
                                           GCancellable *cancellable, GError **error);
BGR_EXTERN BgrVmStats *bgr_client_vm_stats (BgrClient *self, const char *name,
                                            GCancellable *cancellable, GError **error);
BGR_EXTERN gboolean bgr_client_vm_exec (BgrClient *self, const char *name,
                                        const char *const *argv, const char *const *env,
                                        const char *cwd, guint timeout_ms, int stdin_fd,
                                        int stdout_fd, int stderr_fd, gint *out_status,
                                        GCancellable *cancellable, GError **error);

G_END_DECLS
