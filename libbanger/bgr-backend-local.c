/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Local backend: calls run in this process, against an engine that holds
 * the state directory's lock for the client's lifetime. */
#include "config.h"

#include "bgr-backend-private.h"
#include "bgr-error-private.h"
#include "engine/bgr-engine-private.h"

typedef struct {
  BgrBackend parent;
  BgrEngine *engine;
  BgrEngineSupervisor *supervisor;
} LocalBackend;

static void
local_free (BgrBackend *backend)
{
  LocalBackend *self = (LocalBackend *) backend;
  bgr_engine_supervisor_stop (self->supervisor);
  bgr_engine_free (self->engine);
  g_free (self);
}

static BgrConfig *
local_get_config (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  return g_object_ref (bgr_engine_get_config (((LocalBackend *) backend)->engine));
}

static BgrDaemonInfo *
local_get_daemon_info (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  return bgr_engine_get_info (((LocalBackend *) backend)->engine);
}

static gboolean
local_stop_daemon (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  g_set_error_literal (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                       "this client runs the engine in-process (--local): there is no daemon "
                       "to stop");
  return FALSE;
}

static char *
local_ensure_ssh_key (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  return bgr_config_ensure_ssh_key (bgr_engine_get_config (((LocalBackend *) backend)->engine),
                                    cancellable, error);
}

static BgrDoctorReport *
local_doctor (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  /* The engine's own config, not the file as it may have been edited since. */
  return bgr_doctor_run_for_config (bgr_engine_get_config (((LocalBackend *) backend)->engine),
                                    cancellable, error);
}

#define ENGINE(b) (((LocalBackend *) (b))->engine)

static BgrKernel *
local_import_kernel (BgrBackend *b, const char *name, const char *kernel, const char *modules,
                     const char *initrd, GCancellable *cancellable, GError **error)
{
  return bgr_engine_import_kernel (ENGINE (b), name, kernel, modules, initrd, cancellable, error);
}

static BgrKernel *
local_import_kernel_deb (BgrBackend *b, const char *name, const char *deb,
                         GCancellable *cancellable, GError **error)
{
  return bgr_engine_import_kernel_deb (ENGINE (b), name, deb, cancellable, error);
}

static GPtrArray *
local_list_kernels (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  return bgr_engine_list_kernels (ENGINE (b), error);
}

static BgrKernel *
local_get_kernel (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_get_kernel (ENGINE (b), name, error);
}

static gboolean
local_delete_kernel (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_delete_kernel (ENGINE (b), name, error);
}

static GPtrArray *
local_list_available_kernels (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  return bgr_engine_list_available_kernels (ENGINE (b), cancellable, error);
}

static BgrKernel *
local_pull_kernel (BgrBackend *b, const char *name, BgrProgressFunc progress, gpointer user_data,
                   GCancellable *cancellable, GError **error)
{
  return bgr_engine_pull_kernel (ENGINE (b), name, progress, user_data, cancellable, error);
}

static BgrImage *
local_register_image (BgrBackend *b, const char *name, const char *rootfs, const char *work_seed,
                      const char *kernel, const char *kernel_ref, const char *initrd,
                      const char *modules, GCancellable *cancellable, GError **error)
{
  return bgr_engine_register_image (ENGINE (b), name, rootfs, work_seed, kernel, kernel_ref,
                                    initrd, modules, error);
}

static GPtrArray *
local_list_images (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  return bgr_engine_list_images (ENGINE (b), error);
}

static BgrImage *
local_get_image (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_get_image (ENGINE (b), name, error);
}

static gboolean
local_delete_image (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_delete_image (ENGINE (b), name, error);
}

static BgrImage *
local_promote_image (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_promote_image (ENGINE (b), name, cancellable, error);
}

static BgrImage *
local_pull_image (BgrBackend *b, const char *reference, const char *name, const char *kernel_ref,
                  const char *platform, guint64 size, BgrImagePullFlags flags,
                  BgrPullProgressFunc progress, gpointer user_data, GCancellable *cancellable,
                  GError **error)
{
  return bgr_engine_pull_image (ENGINE (b), reference, name, kernel_ref, platform, size, flags,
                                progress, user_data, cancellable, error);
}

static GPtrArray *
local_list_image_cache (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  return bgr_engine_list_image_cache (ENGINE (b), error);
}

static gboolean
local_prune_image_cache (BgrBackend *b, guint64 *out_freed, guint *out_removed,
                         GCancellable *cancellable, GError **error)
{
  return bgr_engine_prune_image_cache (ENGINE (b), out_freed, out_removed, error);
}

static BgrVm *
local_create_vm (BgrBackend *b, const char *name, const char *image, guint vcpus,
                 guint64 memory_mib, guint64 disk_size, BgrVmProgressFunc progress,
                 gpointer user_data, GCancellable *cancellable, GError **error)
{
  return bgr_engine_create_vm (ENGINE (b), name, image, vcpus, memory_mib, disk_size, progress,
                               user_data, cancellable, error);
}

static BgrVm *
local_start_vm (BgrBackend *b, const char *name, BgrVmProgressFunc progress, gpointer user_data,
                GCancellable *cancellable, GError **error)
{
  return bgr_engine_start_vm (ENGINE (b), name, progress, user_data, cancellable, error);
}

static BgrVm *
local_stop_vm (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_stop_vm (ENGINE (b), name, cancellable, error);
}

static BgrVm *
local_kill_vm (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_kill_vm (ENGINE (b), name, error);
}

static gboolean
local_delete_vm (BgrBackend *b, const char *name, gboolean force, GCancellable *cancellable,
                 GError **error)
{
  return bgr_engine_delete_vm (ENGINE (b), name, force, error);
}

static GPtrArray *
local_list_vms (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  return bgr_engine_list_vms (ENGINE (b), error);
}

static BgrVm *
local_get_vm (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_get_vm (ENGINE (b), name, error);
}

static GBytes *
local_get_vm_logs (BgrBackend *b, const char *name, guint64 max_bytes, GCancellable *cancellable,
                   GError **error)
{
  return bgr_engine_vm_logs (ENGINE (b), name, max_bytes, error);
}

static gboolean
local_vm_exec (BgrBackend *b, const char *name, const char *const *argv, const char *const *env,
               const char *cwd, guint timeout_ms, int stdin_fd, int stdout_fd, int stderr_fd,
               gint *out_status, GCancellable *cancellable, GError **error)
{
  return bgr_engine_vm_exec (ENGINE (b), name, argv, env, cwd, timeout_ms, stdin_fd, stdout_fd,
                             stderr_fd, out_status, cancellable, error);
}

static GPtrArray *
local_vm_ports (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_vm_ports (ENGINE (b), name, cancellable, error);
}

static BgrVmStats *
local_vm_stats (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_vm_stats (ENGINE (b), name, cancellable, error);
}

static const BgrBackendVTable local_vtable = {
  .name = "local",
  .free = local_free,
  .get_config = local_get_config,
  .get_daemon_info = local_get_daemon_info,
  .stop_daemon = local_stop_daemon,
  .ensure_ssh_key = local_ensure_ssh_key,
  .doctor = local_doctor,
  .import_kernel = local_import_kernel,
  .import_kernel_deb = local_import_kernel_deb,
  .list_kernels = local_list_kernels,
  .get_kernel = local_get_kernel,
  .delete_kernel = local_delete_kernel,
  .list_available_kernels = local_list_available_kernels,
  .pull_kernel = local_pull_kernel,
  .register_image = local_register_image,
  .list_images = local_list_images,
  .get_image = local_get_image,
  .delete_image = local_delete_image,
  .promote_image = local_promote_image,
  .pull_image = local_pull_image,
  .list_image_cache = local_list_image_cache,
  .prune_image_cache = local_prune_image_cache,
  .create_vm = local_create_vm,
  .start_vm = local_start_vm,
  .stop_vm = local_stop_vm,
  .kill_vm = local_kill_vm,
  .delete_vm = local_delete_vm,
  .list_vms = local_list_vms,
  .get_vm = local_get_vm,
  .get_vm_logs = local_get_vm_logs,
  .vm_exec = local_vm_exec,
  .vm_ports = local_vm_ports,
  .vm_stats = local_vm_stats,
};

BgrBackend *
bgr_backend_local_new (BgrConfig *config, BgrClientFlags flags, GError **error)
{
  LocalBackend *self;
  BgrEngine *engine = bgr_engine_new (config, error);

  if (engine == NULL)
    return NULL;
  self = g_new0 (LocalBackend, 1);
  self->parent.vtable = &local_vtable;
  self->engine = engine;
  if (flags & BGR_CLIENT_FLAGS_SUPERVISE)
    self->supervisor = bgr_engine_supervisor_start (engine);
  return &self->parent;
}
