/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine: owns the state directory and does the work. Used in-process
 * by the local backend (and so by bangerd). This header is its outside:
 * what the rest of libbanger calls. Inside, the engine is modules around a
 * composition root (bgr-engine.c), each with its own private header;
 * docs/architecture.md lists them and who depends on whom. */
#pragma once

#include <banger/banger.h>
#include "engine/bgr-engine-disk-job-private.h"
#include "store/bgr-store-private.h"

G_BEGIN_DECLS

typedef struct _BgrEngine BgrEngine;

BgrEngine *bgr_engine_new (BgrConfig *config, GError **error);
void bgr_engine_free (BgrEngine *engine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrEngine, bgr_engine_free)

BgrConfig *bgr_engine_get_config (BgrEngine *engine);
BgrStore *bgr_engine_get_store (BgrEngine *engine);
BgrDaemonInfo *bgr_engine_get_info (BgrEngine *engine);

/* Kernels (bgr-engine-kernels.c). Names follow bgr_store_name_is_valid(). */
BgrKernel *bgr_engine_import_kernel (BgrEngine *engine, const char *name, const char *kernel,
                                     const char *modules, const char *initrd,
                                     GCancellable *cancellable, GError **error);
BgrKernel *bgr_engine_import_kernel_deb (BgrEngine *engine, const char *name, const char *deb,
                                         GCancellable *cancellable, GError **error);
GPtrArray *bgr_engine_list_kernels (BgrEngine *engine, GError **error);
BgrKernel *bgr_engine_get_kernel (BgrEngine *engine, const char *name, GError **error);
gboolean bgr_engine_delete_kernel (BgrEngine *engine, const char *name, GError **error);

/* The kernel catalog (bgr-engine-pull.c). */
GPtrArray *bgr_engine_list_available_kernels (BgrEngine *engine, GCancellable *cancellable,
                                              GError **error);
BgrKernel *bgr_engine_pull_kernel (BgrEngine *engine, const char *name, BgrOperation *op,
                                   GCancellable *cancellable, GError **error);

/* Images (bgr-engine-images.c). */
BgrImage *bgr_engine_register_image (BgrEngine *engine, const char *name, const char *rootfs,
                                     const char *work_seed, const char *kernel,
                                     const char *kernel_ref, const char *initrd,
                                     const char *modules, GError **error);
GPtrArray *bgr_engine_list_images (BgrEngine *engine, GError **error);
/* The public view of an image record (a kernel_ref's files filled in). */
BgrImage *bgr_engine_image_view (BgrEngine *engine, JsonObject *doc);
BgrImage *bgr_engine_get_image (BgrEngine *engine, const char *name, GError **error);
/* Deletes the record (and a managed image's files). */
gboolean bgr_engine_delete_image_record (BgrEngine *engine, const char *name, GError **error);
/* bgr_engine_delete_image_record(), then the image's VM base unless
 * another image leads to it (bgr-engine-disks.c). */
gboolean bgr_engine_delete_image (BgrEngine *engine, const char *name, GError **error);
BgrImage *bgr_engine_promote_image (BgrEngine *engine, const char *name,
                                    GCancellable *cancellable, GError **error);

/* OCI image pull (bgr-engine-oci.c); its cache (bgr-engine-oci-cache.c). */
BgrImage *bgr_engine_pull_image (BgrEngine *engine, const char *reference,
                                 BgrPullOptions *options, BgrOperation *op,
                                 GCancellable *cancellable, GError **error);

/* Image build (bgr-engine-build.c): a VM from options' `from` image runs
 * each `run` command, and a copy of its disks becomes image @name. */
BgrImage *bgr_engine_build_image (BgrEngine *engine, const char *name, BgrBuildOptions *options,
                                  BgrOperation *op, GCancellable *cancellable, GError **error);

GPtrArray *bgr_engine_list_image_cache (BgrEngine *engine, GError **error);
gboolean bgr_engine_prune_image_cache (BgrEngine *engine, guint64 *out_freed, guint *out_removed,
                                       GError **error);

/* VMs (bgr-engine-create.c, -lifecycle.c, -guest.c). */
/* @spec: see BgrVmSpec; its name is required. */
BgrVm *bgr_engine_create_vm (BgrEngine *engine, BgrVmSpec *spec, BgrOperation *op,
                             GCancellable *cancellable, GError **error);
/* bgr_engine_create_vm() with @dw (nullable) writing into the new VM's
 * work disk as it boots (bgr-engine-disk-job-private.h). A write that
 * fails removes the VM. */
BgrVm *bgr_engine_create_vm_with (BgrEngine *engine, BgrVmSpec *spec, const BgrVmDiskWrite *dw,
                                  BgrOperation *op, GCancellable *cancellable, GError **error);
/* image build's VM: nothing is put into it at boot (bgr_vm_provision: no
 * logins, key or sshd), since the new image would keep it. */
BgrVm *bgr_engine_create_build_vm (BgrEngine *engine, BgrVmSpec *spec, BgrOperation *op,
                                   GCancellable *cancellable, GError **error);
BgrVm *bgr_engine_start_vm (BgrEngine *engine, const char *name, BgrOperation *op,
                            GCancellable *cancellable, GError **error);
BgrVm *bgr_engine_stop_vm (BgrEngine *engine, const char *name, GCancellable *cancellable,
                           GError **error);
BgrVm *bgr_engine_kill_vm (BgrEngine *engine, const char *name, GError **error);
gboolean bgr_engine_delete_vm (BgrEngine *engine, const char *name, gboolean force,
                               GError **error);
GPtrArray *bgr_engine_list_vms (BgrEngine *engine, GError **error);
BgrVm *bgr_engine_get_vm (BgrEngine *engine, const char *name, GError **error);
GBytes *bgr_engine_vm_logs (BgrEngine *engine, const char *name, guint64 max_bytes,
                            GError **error);
gboolean bgr_engine_vm_exec (BgrEngine *engine, const char *name, const char *const *argv,
                             const char *const *env, const char *cwd, guint timeout_ms,
                             int stdin_fd, int stdout_fd, int stderr_fd, gint *out_status,
                             GCancellable *cancellable, GError **error);
/* The same, on a pseudo-terminal when @terminal is not NULL
 * (agent-proto/bgr-agent-client-private.h). */
struct _BgrAgentTerminal;
gboolean bgr_engine_vm_exec_terminal (BgrEngine *engine, const char *name,
                                      const char *const *argv, const char *const *env,
                                      const char *cwd, guint timeout_ms,
                                      const struct _BgrAgentTerminal *terminal, int stdin_fd,
                                      int stdout_fd, int stderr_fd, gint *out_status,
                                      GCancellable *cancellable, GError **error);
GPtrArray *bgr_engine_vm_ports (BgrEngine *engine, const char *name, GCancellable *cancellable,
                                GError **error);
BgrVmStats *bgr_engine_vm_stats (BgrEngine *engine, const char *name, GCancellable *cancellable,
                                 GError **error);
/* Sessions in a running VM (bgr-engine-sessions.c). @pty: on a terminal
 * of @rows x @cols (0: 24x80). */
BgrVmSession *bgr_engine_vm_session_start (BgrEngine *engine, const char *vm, const char *name,
                                           const char *const *argv, const char *const *env,
                                           const char *cwd, const char *stdin_mode,
                                           gboolean pty, guint rows, guint cols,
                                           const char *const *require, GCancellable *cancellable,
                                           GError **error);
GPtrArray *bgr_engine_vm_session_list (BgrEngine *engine, const char *vm, const char *name,
                                       GCancellable *cancellable, GError **error);
gboolean bgr_engine_vm_session_logs (BgrEngine *engine, const char *vm, const char *name,
                                     gint stream, guint tail, gboolean follow, int fd,
                                     GCancellable *cancellable, GError **error);
/* @resize_fd: "ROWS COLS" lines for a session on a terminal (-1: none). */
gboolean bgr_engine_vm_session_attach (BgrEngine *engine, const char *vm, const char *name,
                                       int stdin_fd, int stdout_fd, int stderr_fd, int resize_fd,
                                       gint *out_status, GCancellable *cancellable,
                                       GError **error);
BgrVmSession *bgr_engine_vm_session_end (BgrEngine *engine, const char *vm, const char *name,
                                         gboolean kill, GCancellable *cancellable,
                                         GError **error);
/* TCP into the guest (bgr-engine-forward.c). */
gboolean bgr_engine_vm_proxy (BgrEngine *engine, const char *name, const char *guest_address,
                              guint port, int in_fd, int out_fd, GCancellable *cancellable,
                              GError **error);
BgrVmForward *bgr_engine_vm_forward_add (BgrEngine *engine, const char *name,
                                         const char *host_address, guint host_port,
                                         guint guest_port, GError **error);
gboolean bgr_engine_vm_forward_remove (BgrEngine *engine, const char *name,
                                       const char *host_address, guint host_port, GError **error);
GPtrArray *bgr_engine_vm_forward_list (BgrEngine *engine, const char *name, GError **error);
/* `vm ssh` (bgr-engine-provision.c): banger's key (created when missing)
 * in root's authorized_keys, a server on @port; returns the key's path. */
char *bgr_engine_vm_ssh_prepare (BgrEngine *engine, const char *name, guint port,
                                 GCancellable *cancellable, GError **error);
/* Background supervision (bangerd, bgr-engine-supervisor.c):
 * reconciliation when VMMs exit, stats sampling, auto-stop of idle VMs. */
typedef struct _BgrEngineSupervisor BgrEngineSupervisor;
/* Called in the sampler's thread with VM @name's stats after each guest
 * sample it takes: at most once per VM per stats_poll_interval. */
typedef void (*BgrEngineStatsFunc) (const char *name, BgrVmStats *stats, gpointer data);
BgrEngineSupervisor *bgr_engine_supervisor_start (BgrEngine *engine, BgrEngineStatsFunc on_stats,
                                                  gpointer data);
void bgr_engine_supervisor_stop (BgrEngineSupervisor *sup);
G_END_DECLS
