/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Local backend: calls run in this process, against an engine that holds
 * the state directory's lock for the client's lifetime. */
#include "config.h"

#include "bgr-backend-private.h"
#include "bgr-error-private.h"
#include "bgr-operation-private.h"
#include "bgr-records-private.h"
#include "agent-proto/bgr-agent-client-private.h"
#include "engine/bgr-engine-forward-private.h"
#include "engine/bgr-engine-private.h"
#include "engine/bgr-engine-vm-record-private.h"
#include "engine/bgr-engine-workspace-private.h"

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
  bgr_store_set_watch (bgr_engine_get_store (self->engine), NULL, NULL);
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
local_web_login_url (BgrBackend *backend, char **out_url, GCancellable *cancellable,
                     GError **error)
{
  g_set_error_literal (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                       "this client runs the engine in-process (--local): only bangerd serves "
                       "the web UI");
  return NULL;
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

/* VMs change state quickly: their event carries the VM as written, so a
 * watcher sees every state, not only the one it reads back later. */
static void
on_store_change (const char *kind, const char *name, JsonObject *doc, gpointer data)
{
  BgrBackend *self = data;
  g_autoptr (BgrVm) vm = NULL;

  if (self->event_func == NULL)
    return;
  if (doc != NULL && g_str_equal (kind, "vm"))
    vm = bgr_vm_record_view (doc);
  self->event_func (kind, name, vm != NULL ? bgr_vm_to_variant (vm) : NULL, self->event_data);
}

static void
on_stats (const char *name, BgrVmStats *stats, gpointer data)
{
  BgrBackend *self = data;

  if (self->stats_func != NULL)
    self->stats_func (name, stats, self->event_data);
}

static BgrKernel *
local_kernel_import (BgrBackend *b, BgrKernelSpec *spec, BgrOperation *op,
                     GCancellable *cancellable, GError **error)
{
  const char *deb = bgr_kernel_spec_get_deb (spec);

  bgr_operation_update (op, "import", NULL, 0, 0);
  if (deb != NULL)
    {
      if (bgr_kernel_spec_get_kernel (spec) != NULL || bgr_kernel_spec_get_modules (spec) != NULL
          || bgr_kernel_spec_get_initrd (spec) != NULL)
        {
          g_set_error_literal (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                               "a kernel comes either from a Debian package (deb) or from files "
                               "(kernel, modules, initrd), not both");
          return NULL;
        }
      return bgr_engine_import_kernel_deb (ENGINE (b), bgr_kernel_spec_get_name (spec), deb,
                                           cancellable, error);
    }
  return bgr_engine_import_kernel (ENGINE (b), bgr_kernel_spec_get_name (spec),
                                   bgr_kernel_spec_get_kernel (spec),
                                   bgr_kernel_spec_get_modules (spec),
                                   bgr_kernel_spec_get_initrd (spec), cancellable, error);
}

static GPtrArray *
local_kernel_list (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  return bgr_engine_list_kernels (ENGINE (b), error);
}

static BgrKernel *
local_kernel_get (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_get_kernel (ENGINE (b), name, error);
}

static gboolean
local_kernel_delete (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_delete_kernel (ENGINE (b), name, error);
}

static GPtrArray *
local_kernel_list_available (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  return bgr_engine_list_available_kernels (ENGINE (b), cancellable, error);
}

static BgrKernel *
local_kernel_pull (BgrBackend *b, const char *name, BgrOperation *op, GCancellable *cancellable,
                   GError **error)
{
  return bgr_engine_pull_kernel (ENGINE (b), name, op, cancellable, error);
}

static BgrImage *
local_image_register (BgrBackend *b, BgrImageSpec *s, GCancellable *cancellable, GError **error)
{
  return bgr_engine_register_image (ENGINE (b), bgr_image_spec_get_name (s),
                                    bgr_image_spec_get_rootfs (s),
                                    bgr_image_spec_get_work_seed (s),
                                    bgr_image_spec_get_kernel (s),
                                    bgr_image_spec_get_kernel_ref (s),
                                    bgr_image_spec_get_initrd (s),
                                    bgr_image_spec_get_modules (s), error);
}

static GPtrArray *
local_image_list (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  return bgr_engine_list_images (ENGINE (b), error);
}

static BgrImage *
local_image_get (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_get_image (ENGINE (b), name, error);
}

static gboolean
local_image_delete (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_delete_image (ENGINE (b), name, error);
}

static BgrImage *
local_image_promote (BgrBackend *b, const char *name, BgrOperation *op,
                     GCancellable *cancellable, GError **error)
{
  bgr_operation_update (op, "copy", NULL, 0, 0);
  return bgr_engine_promote_image (ENGINE (b), name, cancellable, error);
}

static BgrImage *
local_image_pull (BgrBackend *b, const char *reference, BgrPullOptions *o, BgrOperation *op,
                  GCancellable *cancellable, GError **error)
{
  return bgr_engine_pull_image (ENGINE (b), reference, o, op, cancellable, error);
}

static BgrImage *
local_image_build (BgrBackend *b, const char *name, BgrBuildOptions *o, BgrOperation *op,
                   GCancellable *cancellable, GError **error)
{
  return bgr_engine_build_image (ENGINE (b), name, o, op, cancellable, error);
}

static GPtrArray *
local_image_cache_list (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  return bgr_engine_list_image_cache (ENGINE (b), error);
}

static gboolean
local_image_cache_prune (BgrBackend *b, guint64 *out_freed, guint *out_removed,
                         GCancellable *cancellable, GError **error)
{
  return bgr_engine_prune_image_cache (ENGINE (b), out_freed, out_removed, error);
}

static BgrVm *
local_vm_create (BgrBackend *b, BgrVmSpec *s, BgrOperation *op, GCancellable *cancellable,
                 GError **error)
{
  return bgr_engine_create_vm (ENGINE (b), s, op, cancellable, error);
}

static BgrVm *
local_vm_start (BgrBackend *b, const char *name, BgrOperation *op, GCancellable *cancellable,
                GError **error)
{
  return bgr_engine_start_vm (ENGINE (b), name, op, cancellable, error);
}

static BgrVm *
local_vm_stop (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_stop_vm (ENGINE (b), name, cancellable, error);
}

static BgrVm *
local_vm_kill (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_kill_vm (ENGINE (b), name, error);
}

static gboolean
local_vm_delete (BgrBackend *b, const char *name, BgrVmDeleteFlags flags,
                 GCancellable *cancellable, GError **error)
{
  if (!bgr_engine_delete_vm (ENGINE (b), name, (flags & BGR_VM_DELETE_FLAGS_FORCE) != 0, error))
    return FALSE;
  bgr_vm_forwards_forget (ENGINE (b), name);
  return TRUE;
}

static GPtrArray *
local_vm_list (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  return bgr_engine_list_vms (ENGINE (b), error);
}

static BgrVm *
local_vm_get (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_get_vm (ENGINE (b), name, error);
}

static GBytes *
local_vm_logs (BgrBackend *b, const char *name, guint64 max_bytes, GCancellable *cancellable,
               GError **error)
{
  return bgr_engine_vm_logs (ENGINE (b), name, max_bytes, error);
}

static gboolean
local_vm_exec (BgrBackend *b, const char *name, BgrExecSpec *spec, gint *out_status,
               GCancellable *cancellable, GError **error)
{
  g_auto (GStrv) argv = bgr_exec_spec_dup_argv (spec);
  g_auto (GStrv) env = bgr_exec_spec_dup_env (spec);
  BgrAgentTerminal term = { bgr_exec_spec_get_pty (spec), bgr_exec_spec_get_rows (spec),
                           bgr_exec_spec_get_cols (spec), bgr_exec_spec_get_resize_fd (spec) };
  int fds[3];

  bgr_exec_spec_get_stdio (spec, &fds[0], &fds[1], &fds[2]);
  return bgr_engine_vm_exec_terminal (ENGINE (b), name, (const char *const *) argv,
                                      (const char *const *) env, bgr_exec_spec_get_cwd (spec),
                                      bgr_exec_spec_get_timeout_ms (spec), term.pty ? &term : NULL,
                                      fds[0], fds[1], fds[2], out_status, cancellable, error);
}

/* $1: the working directory or empty. opencode's installer puts it in
 * ~/.opencode/bin. */
static const char ACP_SH[] =
  "if [ -n \"$1\" ]; then cd \"$1\" || exit 1; elif [ -d \"$HOME/repo\" ]; then cd \"$HOME/repo\"; "
  "else cd \"$HOME\"; fi; PATH=\"$HOME/.opencode/bin:$HOME/.local/bin:$PATH\"; "
  "command -v opencode >/dev/null 2>&1 || { echo 'banger: opencode is not installed in the guest "
  "(not in PATH, ~/.opencode/bin or ~/.local/bin)' >&2; exit 127; }; exec opencode acp";

static gboolean
local_vm_acp (BgrBackend *b, const char *name, const char *cwd, int stdin_fd, int stdout_fd,
              int stderr_fd, gint *out_status, GCancellable *cancellable, GError **error)
{
  const char *argv[] = { "/bin/sh", "-c", ACP_SH, "sh", cwd != NULL ? cwd : "", NULL };
  g_autoptr (BgrExecSpec) spec = bgr_exec_spec_new (argv);

  bgr_exec_spec_set_stdio (spec, stdin_fd, stdout_fd, stderr_fd);
  return local_vm_exec (b, name, spec, out_status, cancellable, error);
}

static gboolean
local_vm_proxy (BgrBackend *b, const char *name, const char *guest_address, guint port, int in_fd,
                int out_fd, GCancellable *cancellable, GError **error)
{
  return bgr_engine_vm_proxy (ENGINE (b), name, guest_address, port, in_fd, out_fd, cancellable,
                              error);
}

static BgrVmForward *
local_vm_forward_add (BgrBackend *b, const char *name, const char *host_address, guint host_port,
                      guint guest_port, GCancellable *cancellable, GError **error)
{
  return bgr_engine_vm_forward_add (ENGINE (b), name, host_address, host_port, guest_port, error);
}

static gboolean
local_vm_forward_remove (BgrBackend *b, const char *name, const char *host_address,
                         guint host_port, GCancellable *cancellable, GError **error)
{
  return bgr_engine_vm_forward_remove (ENGINE (b), name, host_address, host_port, error);
}

static char *
local_vm_ssh_prepare (BgrBackend *b, const char *name, guint port, GCancellable *cancellable,
                      GError **error)
{
  return bgr_engine_vm_ssh_prepare (ENGINE (b), name, port, cancellable, error);
}

static GPtrArray *
local_vm_forward_list (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_vm_forward_list (ENGINE (b), name, error);
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

static BgrWorkspace *
local_vm_run (BgrBackend *b, BgrVmSpec *vm_spec, BgrWorkspaceSpec *spec, BgrOperation *op,
              GCancellable *cancellable, GError **error)
{
  return bgr_engine_vm_run (ENGINE (b), vm_spec, spec, op, cancellable, error);
}

static BgrWorkspace *
local_vm_workspace_prepare (BgrBackend *b, const char *name, BgrWorkspaceSpec *spec,
                            BgrOperation *op, GCancellable *cancellable, GError **error)
{
  return bgr_engine_vm_workspace_prepare (ENGINE (b), name, spec, op, cancellable, error);
}

static BgrWorkspace *
local_vm_workspace_get (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  return bgr_engine_vm_workspace_get (ENGINE (b), name, cancellable, error);
}

static char *
local_vm_workspace_bootstrap (BgrBackend *b, const char *name, GCancellable *cancellable,
                              GError **error)
{
  return bgr_engine_vm_workspace_bootstrap (ENGINE (b), name, cancellable, error);
}

static BgrWorkspace *
local_vm_workspace_export (BgrBackend *b, const char *name, const char *branch,
                           BgrWorkspaceExportFlags flags, BgrOperation *op,
                           GCancellable *cancellable, GError **error)
{
  return bgr_engine_vm_workspace_export (ENGINE (b), name, branch,
                                         (flags & BGR_WORKSPACE_EXPORT_FLAGS_FORCE) != 0,
                                         (flags & BGR_WORKSPACE_EXPORT_FLAGS_DRY_RUN) != 0, op,
                                         cancellable, error);
}

static gboolean
local_vm_copy (BgrBackend *b, const char *name, BgrCopyDirection direction, const char *host_path,
               const char *guest_path, BgrOperation *op, GCancellable *cancellable, GError **error)
{
  return bgr_engine_vm_copy (ENGINE (b), name, direction, host_path, guest_path, op, cancellable,
                             error);
}

static BgrVmSession *
local_vm_session_start (BgrBackend *b, const char *vm, BgrSessionSpec *spec,
                        GCancellable *cancellable, GError **error)
{
  g_auto (GStrv) argv = bgr_session_spec_dup_argv (spec);
  g_auto (GStrv) env = bgr_session_spec_dup_env (spec);
  g_auto (GStrv) require = bgr_session_spec_dup_require (spec);

  return bgr_engine_vm_session_start (ENGINE (b), vm, bgr_session_spec_get_name (spec),
                                      (const char *const *) argv, (const char *const *) env,
                                      bgr_session_spec_get_cwd (spec),
                                      bgr_session_spec_get_stdin_mode (spec),
                                      bgr_session_spec_get_pty (spec),
                                      bgr_session_spec_get_rows (spec),
                                      bgr_session_spec_get_cols (spec),
                                      (const char *const *) require, cancellable, error);
}

static GPtrArray *
local_vm_session_list (BgrBackend *b, const char *vm, const char *session,
                       GCancellable *cancellable, GError **error)
{
  return bgr_engine_vm_session_list (ENGINE (b), vm, session, cancellable, error);
}

static gboolean
local_vm_session_logs (BgrBackend *b, const char *vm, const char *session, gint stream,
                       guint tail, gboolean follow, int fd, GCancellable *cancellable,
                       GError **error)
{
  return bgr_engine_vm_session_logs (ENGINE (b), vm, session, stream, tail, follow, fd,
                                     cancellable, error);
}

static gboolean
local_vm_session_attach (BgrBackend *b, const char *vm, const char *session, int stdin_fd,
                         int stdout_fd, int stderr_fd, int resize_fd, gint *out_status,
                         GCancellable *cancellable, GError **error)
{
  return bgr_engine_vm_session_attach (ENGINE (b), vm, session, stdin_fd, stdout_fd, stderr_fd,
                                       resize_fd, out_status, cancellable, error);
}

static BgrVmSession *
local_vm_session_end (BgrBackend *b, const char *vm, const char *session, gboolean kill,
                      GCancellable *cancellable, GError **error)
{
  return bgr_engine_vm_session_end (ENGINE (b), vm, session, kill, cancellable, error);
}

static const BgrBackendVTable local_vtable = {
  .name = "local",
  .free = local_free,
  .get_config = local_get_config,
  .get_daemon_info = local_get_daemon_info,
  .stop_daemon = local_stop_daemon,
  .ensure_ssh_key = local_ensure_ssh_key,
  .web_login_url = local_web_login_url,
  .doctor = local_doctor,
  .kernel_import = local_kernel_import,
  .kernel_list = local_kernel_list,
  .kernel_get = local_kernel_get,
  .kernel_delete = local_kernel_delete,
  .kernel_list_available = local_kernel_list_available,
  .kernel_pull = local_kernel_pull,
  .image_register = local_image_register,
  .image_list = local_image_list,
  .image_get = local_image_get,
  .image_delete = local_image_delete,
  .image_promote = local_image_promote,
  .image_pull = local_image_pull,
  .image_build = local_image_build,
  .image_cache_list = local_image_cache_list,
  .image_cache_prune = local_image_cache_prune,
  .vm_create = local_vm_create,
  .vm_start = local_vm_start,
  .vm_stop = local_vm_stop,
  .vm_kill = local_vm_kill,
  .vm_delete = local_vm_delete,
  .vm_list = local_vm_list,
  .vm_get = local_vm_get,
  .vm_logs = local_vm_logs,
  .vm_exec = local_vm_exec,
  .vm_acp = local_vm_acp,
  .vm_proxy = local_vm_proxy,
  .vm_forward_add = local_vm_forward_add,
  .vm_forward_remove = local_vm_forward_remove,
  .vm_forward_list = local_vm_forward_list,
  .vm_ssh_prepare = local_vm_ssh_prepare,
  .vm_ports = local_vm_ports,
  .vm_stats = local_vm_stats,
  .vm_workspace_prepare = local_vm_workspace_prepare,
  .vm_run = local_vm_run,
  .vm_workspace_get = local_vm_workspace_get,
  .vm_workspace_bootstrap = local_vm_workspace_bootstrap,
  .vm_workspace_export = local_vm_workspace_export,
  .vm_copy = local_vm_copy,
  .vm_session_start = local_vm_session_start,
  .vm_session_list = local_vm_session_list,
  .vm_session_logs = local_vm_session_logs,
  .vm_session_attach = local_vm_session_attach,
  .vm_session_end = local_vm_session_end,
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
  bgr_store_set_watch (bgr_engine_get_store (engine), on_store_change, self);
  if (flags & BGR_CLIENT_FLAGS_SUPERVISE)
    {
      self->supervisor = bgr_engine_supervisor_start (engine, on_stats, self);
      /* The VMs' port forwards live as long as the supervising engine. */
      bgr_vm_forwards_restore (engine);
    }
  return &self->parent;
}
