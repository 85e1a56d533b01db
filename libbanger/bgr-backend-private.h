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
  char *(*web_login_url) (BgrBackend *backend, char **out_url, GCancellable *cancellable,
                          GError **error);
  BgrDoctorReport *(*doctor) (BgrBackend *backend, GCancellable *cancellable, GError **error);
  BgrKernel *(*kernel_import) (BgrBackend *backend, BgrKernelSpec *spec, BgrOperation *op,
                               GCancellable *cancellable, GError **error);
  GPtrArray *(*kernel_list) (BgrBackend *backend, GCancellable *cancellable, GError **error);
  BgrKernel *(*kernel_get) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                            GError **error);
  gboolean (*kernel_delete) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                             GError **error);
  GPtrArray *(*kernel_list_available) (BgrBackend *backend, GCancellable *cancellable,
                                       GError **error);
  BgrKernel *(*kernel_pull) (BgrBackend *backend, const char *name, BgrOperation *op,
                             GCancellable *cancellable, GError **error);
  BgrImage *(*image_register) (BgrBackend *backend, BgrImageSpec *spec,
                               GCancellable *cancellable, GError **error);
  GPtrArray *(*image_list) (BgrBackend *backend, GCancellable *cancellable, GError **error);
  BgrImage *(*image_get) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                          GError **error);
  gboolean (*image_delete) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                            GError **error);
  BgrImage *(*image_promote) (BgrBackend *backend, const char *name, BgrOperation *op,
                              GCancellable *cancellable, GError **error);
  BgrImage *(*image_pull) (BgrBackend *backend, const char *reference, BgrPullOptions *options,
                           BgrOperation *op, GCancellable *cancellable, GError **error);
  BgrImage *(*image_build) (BgrBackend *backend, const char *name, BgrBuildOptions *options,
                            BgrOperation *op, GCancellable *cancellable, GError **error);
  GPtrArray *(*image_cache_list) (BgrBackend *backend, GCancellable *cancellable, GError **error);
  gboolean (*image_cache_prune) (BgrBackend *backend, guint64 *out_freed, guint *out_removed,
                                 GCancellable *cancellable, GError **error);
  BgrVm *(*vm_create) (BgrBackend *backend, BgrVmSpec *spec, BgrOperation *op,
                       GCancellable *cancellable, GError **error);
  BgrVm *(*vm_start) (BgrBackend *backend, const char *name, BgrOperation *op,
                      GCancellable *cancellable, GError **error);
  BgrVm *(*vm_stop) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                     GError **error);
  BgrVm *(*vm_kill) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                     GError **error);
  gboolean (*vm_delete) (BgrBackend *backend, const char *name, BgrVmDeleteFlags flags,
                         GCancellable *cancellable, GError **error);
  GPtrArray *(*vm_list) (BgrBackend *backend, GCancellable *cancellable, GError **error);
  BgrVm *(*vm_get) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                    GError **error);
  GBytes *(*vm_logs) (BgrBackend *backend, const char *name, guint64 max_bytes,
                      GCancellable *cancellable, GError **error);
  gboolean (*vm_exec) (BgrBackend *backend, const char *name, BgrExecSpec *spec, gint *out_status,
                       GCancellable *cancellable, GError **error);
  /* `opencode acp` in the guest on the descriptors; @cwd NULL: the default. */
  gboolean (*vm_acp) (BgrBackend *backend, const char *name, const char *cwd, int stdin_fd,
                      int stdout_fd, int stderr_fd, gint *out_status, GCancellable *cancellable,
                      GError **error);
  GPtrArray *(*vm_ports) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                          GError **error);
  BgrVmStats *(*vm_stats) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                           GError **error);
  /* workspaces and vm cp (bgr-client-workspace.c) */
  BgrWorkspace *(*vm_workspace_prepare) (BgrBackend *backend, const char *name,
                                         BgrWorkspaceSpec *spec, BgrOperation *op,
                                         GCancellable *cancellable, GError **error);
  /* vm run whole: create, prepare (the local engine writes the workspace
   * before the boot), bootstrap; returns the workspace as vm_workspace_get
   * does. */
  BgrWorkspace *(*vm_run) (BgrBackend *backend, BgrVmSpec *vm_spec, BgrWorkspaceSpec *spec,
                           BgrOperation *op, GCancellable *cancellable, GError **error);
  BgrWorkspace *(*vm_workspace_get) (BgrBackend *backend, const char *name,
                                     GCancellable *cancellable, GError **error);
  char *(*vm_workspace_bootstrap) (BgrBackend *backend, const char *name,
                                   GCancellable *cancellable, GError **error);
  BgrWorkspace *(*vm_workspace_export) (BgrBackend *backend, const char *name,
                                        const char *branch, BgrWorkspaceExportFlags flags,
                                        BgrOperation *op, GCancellable *cancellable,
                                        GError **error);
  gboolean (*vm_copy) (BgrBackend *backend, const char *name, BgrCopyDirection direction,
                       const char *host_path, const char *guest_path, BgrOperation *op,
                       GCancellable *cancellable, GError **error);
  /* Sessions (bgr-session.h). list: every session, or the one @session. */
  BgrVmSession *(*vm_session_start) (BgrBackend *backend, const char *vm, BgrSessionSpec *spec,
                                     GCancellable *cancellable, GError **error);
  GPtrArray *(*vm_session_list) (BgrBackend *backend, const char *vm, const char *session,
                                 GCancellable *cancellable, GError **error);
  gboolean (*vm_session_logs) (BgrBackend *backend, const char *vm, const char *session,
                               gint stream, guint tail, gboolean follow, int fd,
                               GCancellable *cancellable, GError **error);
  /* *out_status: -1 when @cancellable detached. @resize_fd >= 0: a
   * session on a terminal, resized by the "ROWS COLS" lines read there. */
  gboolean (*vm_session_attach) (BgrBackend *backend, const char *vm, const char *session,
                                 int stdin_fd, int stdout_fd, int stderr_fd, int resize_fd,
                                 gint *out_status, GCancellable *cancellable, GError **error);
  /* Stop (SIGTERM, then SIGKILL after a grace period) or kill; returns
   * once it exited. */
  BgrVmSession *(*vm_session_end) (BgrBackend *backend, const char *vm, const char *session,
                                   gboolean kill, GCancellable *cancellable, GError **error);
  gboolean (*vm_proxy) (BgrBackend *backend, const char *name, const char *guest_address,
                        guint port, int in_fd, int out_fd, GCancellable *cancellable,
                        GError **error);
  BgrVmForward *(*vm_forward_add) (BgrBackend *backend, const char *name, const char *host_address,
                                   guint host_port, guint guest_port, GCancellable *cancellable,
                                   GError **error);
  gboolean (*vm_forward_remove) (BgrBackend *backend, const char *name, const char *host_address,
                                 guint host_port, GCancellable *cancellable, GError **error);
  GPtrArray *(*vm_forward_list) (BgrBackend *backend, const char *name, GCancellable *cancellable,
                                 GError **error);
  char *(*vm_ssh_prepare) (BgrBackend *backend, const char *name, guint port,
                           GCancellable *cancellable, GError **error);
} BgrBackendVTable;

/* Called when the engine wrote or deleted an object (local backends), in
 * the engine's thread. @record: the public form of a VM as written
 * (floating), NULL for other kinds and on delete. */
typedef void (*BgrBackendEventFunc) (const char *kind, const char *name, GVariant *record,
                                     gpointer data);

/* Called with a running VM's stats after the supervisor sampled it (local
 * backends that supervise), in the sampler's thread. */
typedef void (*BgrBackendStatsFunc) (const char *name, BgrVmStats *stats, gpointer data);

struct _BgrBackend {
  const BgrBackendVTable *vtable;
  BgrBackendEventFunc event_func;
  BgrBackendStatsFunc stats_func;
  gpointer event_data; /* for both */
};

BgrBackend *bgr_backend_local_new (BgrConfig *config, BgrClientFlags flags, GError **error);
BgrBackend *bgr_backend_dbus_new (GDBusConnection *connection, const char *bus_description,
                                  BgrClientFlags flags, GCancellable *cancellable,
                                  GError **error);

G_END_DECLS
