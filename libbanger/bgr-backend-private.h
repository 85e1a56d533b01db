/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backend vtable under BgrClient: the same public calls run either in
 * an in-process engine or in bangerd over D-Bus. */
#pragma once

#include <banger/banger.h>

G_BEGIN_DECLS

#define BGR_DBUS_NAME "org.banger.Banger1"
#define BGR_DBUS_PATH "/org/banger/Banger1"
#define BGR_DBUS_MANAGER_IFACE "org.banger.Banger1.Manager"
#define BGR_DBUS_INTERFACE_VERSION 1

typedef struct _BgrBackend BgrBackend;

typedef struct {
  const char *name;
  void (*free) (BgrBackend *backend);
  BgrConfig *(*get_config) (BgrBackend *backend, GCancellable *cancellable, GError **error);
  BgrDaemonInfo *(*get_daemon_info) (BgrBackend *backend, GCancellable *cancellable,
                                     GError **error);
  gboolean (*stop_daemon) (BgrBackend *backend, GCancellable *cancellable, GError **error);
  char *(*ensure_ssh_key) (BgrBackend *backend, GCancellable *cancellable, GError **error);
  BgrDoctorReport *(*doctor) (BgrBackend *backend, GCancellable *cancellable, GError **error);
  BgrKernel *(*import_kernel) (BgrBackend *backend, const char *name, const char *kernel,
                               const char *modules, const char *initrd, GCancellable *cancellable,
                               GError **error);
  BgrKernel *(*import_kernel_deb) (BgrBackend *backend, const char *name, const char *deb,
                                   GCancellable *cancellable, GError **error);
  GPtrArray *(*list_kernels) (BgrBackend *backend, GCancellable *cancellable, GError **error);
  BgrKernel *(*get_kernel) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                            GError **error);
  gboolean (*delete_kernel) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                             GError **error);
  GPtrArray *(*list_available_kernels) (BgrBackend *backend, GCancellable *cancellable,
                                        GError **error);
  BgrKernel *(*pull_kernel) (BgrBackend *backend, const char *name, BgrProgressFunc progress,
                             gpointer user_data, GCancellable *cancellable, GError **error);
  BgrImage *(*register_image) (BgrBackend *backend, const char *name, const char *rootfs,
                               const char *work_seed, const char *kernel, const char *kernel_ref,
                               const char *initrd, const char *modules,
                               GCancellable *cancellable, GError **error);
  GPtrArray *(*list_images) (BgrBackend *backend, GCancellable *cancellable, GError **error);
  BgrImage *(*get_image) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                          GError **error);
  gboolean (*delete_image) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                            GError **error);
  BgrImage *(*promote_image) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                              GError **error);
  BgrImage *(*pull_image) (BgrBackend *backend, const char *reference, const char *name,
                           const char *kernel_ref, const char *platform, guint64 size,
                           BgrImagePullFlags flags, BgrPullProgressFunc progress, gpointer user_data,
                           GCancellable *cancellable, GError **error);
  GPtrArray *(*list_image_cache) (BgrBackend *backend, GCancellable *cancellable, GError **error);
  gboolean (*prune_image_cache) (BgrBackend *backend, guint64 *out_freed, guint *out_removed,
                                 GCancellable *cancellable, GError **error);
  BgrVm *(*create_vm) (BgrBackend *backend, const char *name, const char *image, guint vcpus,
                        guint64 memory_mib, guint64 disk_size, BgrVmProgressFunc progress,
                        gpointer user_data, GCancellable *cancellable, GError **error);
  BgrVm *(*start_vm) (BgrBackend *backend, const char *name, BgrVmProgressFunc progress,
                       gpointer user_data, GCancellable *cancellable, GError **error);
  BgrVm *(*stop_vm) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                      GError **error);
  BgrVm *(*kill_vm) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                      GError **error);
  gboolean (*delete_vm) (BgrBackend *backend, const char *name, gboolean force,
                         GCancellable *cancellable, GError **error);
  GPtrArray *(*list_vms) (BgrBackend *backend, GCancellable *cancellable, GError **error);
  BgrVm *(*get_vm) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                     GError **error);
  GBytes *(*get_vm_logs) (BgrBackend *backend, const char *name, guint64 max_bytes,
                          GCancellable *cancellable, GError **error);
  gboolean (*vm_exec) (BgrBackend *backend, const char *name, const char *const *argv,
                       const char *const *env, const char *cwd, guint timeout_ms, int stdin_fd,
                       int stdout_fd, int stderr_fd, gint *out_status, GCancellable *cancellable,
                       GError **error);
  GPtrArray *(*vm_ports) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                          GError **error);
  BgrVmStats *(*vm_stats) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                           GError **error);
} BgrBackendVTable;

struct _BgrBackend {
  const BgrBackendVTable *vtable;
};

BgrBackend *bgr_backend_local_new (BgrConfig *config, BgrClientFlags flags, GError **error);
BgrBackend *bgr_backend_dbus_new (GDBusConnection *connection, const char *bus_description,
                                  BgrClientFlags flags, GCancellable *cancellable,
                                  GError **error);

G_END_DECLS
