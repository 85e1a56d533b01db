/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__BANGER_H_INSIDE__) && !defined(BANGER_COMPILATION)
#error "Only <banger/banger.h> can be included directly."
#endif

#include <gio/gio.h>
#include <banger/bgr-macros.h>
#include <banger/bgr-options.h>
#include <banger/bgr-client.h>

G_BEGIN_DECLS

/**
 * BgrSessionSpec:
 *
 * A session to start in a VM: a process group the guest agent owns, that
 * outlives the call, the client and bangerd. Keys: `name` (s, required:
 * 1 to 64 of `A-Za-z0-9_.-`, not starting with `.` or `-`), `argv` (as,
 * required), `env` (as, "KEY=VALUE" added to the agent's environment),
 * `cwd` (s, an absolute path, default `/`), `stdin-mode` (s: `detached`,
 * the default, reads /dev/null; `pipe` can be attached to), `require`
 * (as: commands that must be found in the guest's PATH before it starts),
 * `pty` (b: run on a new pseudo-terminal in the guest, its output on the
 * stdout stream only; attach with bgr_client_vm_session_attach_terminal())
 * and `rows`, `cols` (u: the terminal's first size, default 24x80).
 *
 * Since: 0.2
 */
#define BGR_TYPE_SESSION_SPEC (bgr_session_spec_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrSessionSpec, bgr_session_spec, BGR, SESSION_SPEC, BgrOptions)

BGR_EXTERN BgrSessionSpec *bgr_session_spec_new (const char *name, const char *const *argv);
BGR_EXTERN BgrSessionSpec *bgr_session_spec_new_from_variant (GVariant *dict, GError **error);
BGR_EXTERN void bgr_session_spec_set_name (BgrSessionSpec *self, const char *name);
BGR_EXTERN const char *bgr_session_spec_get_name (BgrSessionSpec *self);
BGR_EXTERN void bgr_session_spec_set_argv (BgrSessionSpec *self, const char *const *argv);
BGR_EXTERN char **bgr_session_spec_dup_argv (BgrSessionSpec *self);
BGR_EXTERN void bgr_session_spec_set_env (BgrSessionSpec *self, const char *const *env);
BGR_EXTERN char **bgr_session_spec_dup_env (BgrSessionSpec *self);
BGR_EXTERN void bgr_session_spec_set_cwd (BgrSessionSpec *self, const char *cwd);
BGR_EXTERN const char *bgr_session_spec_get_cwd (BgrSessionSpec *self);
BGR_EXTERN void bgr_session_spec_set_stdin_mode (BgrSessionSpec *self, const char *mode);
BGR_EXTERN const char *bgr_session_spec_get_stdin_mode (BgrSessionSpec *self);
BGR_EXTERN void bgr_session_spec_set_require (BgrSessionSpec *self, const char *const *commands);
BGR_EXTERN char **bgr_session_spec_dup_require (BgrSessionSpec *self);
BGR_EXTERN void bgr_session_spec_set_pty (BgrSessionSpec *self, gboolean pty);
BGR_EXTERN gboolean bgr_session_spec_get_pty (BgrSessionSpec *self);
BGR_EXTERN void bgr_session_spec_set_rows (BgrSessionSpec *self, guint rows);
BGR_EXTERN guint bgr_session_spec_get_rows (BgrSessionSpec *self);
BGR_EXTERN void bgr_session_spec_set_cols (BgrSessionSpec *self, guint cols);
BGR_EXTERN guint bgr_session_spec_get_cols (BgrSessionSpec *self);

/**
 * BgrVmSession:
 *
 * A snapshot of one session of a VM, as its guest agent reported it. The
 * strings come from the guest: show them escaped.
 *
 * Since: 0.2
 */
#define BGR_TYPE_VM_SESSION (bgr_vm_session_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrVmSession, bgr_vm_session, BGR, VM_SESSION, GObject)

BGR_EXTERN const char *bgr_vm_session_get_vm (BgrVmSession *self);
BGR_EXTERN const char *bgr_vm_session_get_name (BgrVmSession *self);
BGR_EXTERN char **bgr_vm_session_dup_argv (BgrVmSession *self);
BGR_EXTERN const char *bgr_vm_session_get_cwd (BgrVmSession *self);
BGR_EXTERN const char *bgr_vm_session_get_stdin_mode (BgrVmSession *self);
BGR_EXTERN const char *bgr_vm_session_get_state (BgrVmSession *self);
BGR_EXTERN gint64 bgr_vm_session_get_pid (BgrVmSession *self);
BGR_EXTERN gint64 bgr_vm_session_get_exit_code (BgrVmSession *self);
BGR_EXTERN gint64 bgr_vm_session_get_signal (BgrVmSession *self);
BGR_EXTERN gint64 bgr_vm_session_get_started_ms (BgrVmSession *self);
BGR_EXTERN gint64 bgr_vm_session_get_ended_ms (BgrVmSession *self);
BGR_EXTERN gint64 bgr_vm_session_get_stdout_bytes (BgrVmSession *self);
BGR_EXTERN gint64 bgr_vm_session_get_stdout_dropped (BgrVmSession *self);
BGR_EXTERN gint64 bgr_vm_session_get_stderr_bytes (BgrVmSession *self);
BGR_EXTERN gint64 bgr_vm_session_get_stderr_dropped (BgrVmSession *self);
BGR_EXTERN gboolean bgr_vm_session_get_attached (BgrVmSession *self);
BGR_EXTERN gboolean bgr_vm_session_get_pty (BgrVmSession *self);
BGR_EXTERN char *bgr_vm_session_to_json (BgrVmSession *self);
BGR_EXTERN GVariant *bgr_vm_session_to_variant (BgrVmSession *self);

/**
 * BgrSessionStream:
 * @BGR_SESSION_STREAM_STDOUT: the session's standard output
 * @BGR_SESSION_STREAM_STDERR: its standard error
 *
 * Since: 0.2
 */
typedef enum {
  BGR_SESSION_STREAM_STDOUT = 1,
  BGR_SESSION_STREAM_STDERR = 2
} BgrSessionStream;

BGR_EXTERN BgrVmSession *bgr_client_vm_session_start (BgrClient *self, const char *vm,
                                                      BgrSessionSpec *spec,
                                                      GCancellable *cancellable, GError **error);
BGR_EXTERN GPtrArray *bgr_client_vm_session_list (BgrClient *self, const char *vm,
                                                  GCancellable *cancellable, GError **error);
BGR_EXTERN BgrVmSession *bgr_client_vm_session_get (BgrClient *self, const char *vm,
                                                    const char *name, GCancellable *cancellable,
                                                    GError **error);
BGR_EXTERN gboolean bgr_client_vm_session_logs (BgrClient *self, const char *vm,
                                                const char *name, BgrSessionStream stream,
                                                guint tail_lines, gboolean follow, int fd,
                                                GCancellable *cancellable, GError **error);
BGR_EXTERN void bgr_client_vm_session_logs_async (BgrClient *self, const char *vm,
                                                  const char *name, BgrSessionStream stream,
                                                  guint tail_lines, gboolean follow, int fd,
                                                  GCancellable *cancellable,
                                                  GAsyncReadyCallback callback,
                                                  gpointer user_data);
BGR_EXTERN gboolean bgr_client_vm_session_logs_finish (BgrClient *self, GAsyncResult *result,
                                                       GError **error);
BGR_EXTERN gboolean bgr_client_vm_session_attach (BgrClient *self, const char *vm,
                                                  const char *name, int stdin_fd, int stdout_fd,
                                                  int stderr_fd, gint *out_status,
                                                  GCancellable *cancellable, GError **error);
BGR_EXTERN void bgr_client_vm_session_attach_async (BgrClient *self, const char *vm,
                                                    const char *name, int stdin_fd,
                                                    int stdout_fd, int stderr_fd,
                                                    GCancellable *cancellable,
                                                    GAsyncReadyCallback callback,
                                                    gpointer user_data);
BGR_EXTERN gboolean bgr_client_vm_session_attach_finish (BgrClient *self, GAsyncResult *result,
                                                         gint *out_status, GError **error);
BGR_EXTERN gboolean bgr_client_vm_session_attach_terminal (BgrClient *self, const char *vm,
                                                           const char *name, int stdin_fd,
                                                           int stdout_fd, int resize_fd,
                                                           gint *out_status,
                                                           GCancellable *cancellable,
                                                           GError **error);
BGR_EXTERN void bgr_client_vm_session_attach_terminal_async (BgrClient *self, const char *vm,
                                                             const char *name, int stdin_fd,
                                                             int stdout_fd, int resize_fd,
                                                             GCancellable *cancellable,
                                                             GAsyncReadyCallback callback,
                                                             gpointer user_data);
BGR_EXTERN gboolean bgr_client_vm_session_attach_terminal_finish (BgrClient *self,
                                                                  GAsyncResult *result,
                                                                  gint *out_status,
                                                                  GError **error);
BGR_EXTERN BgrVmSession *bgr_client_vm_session_stop (BgrClient *self, const char *vm,
                                                     const char *name,
                                                     GCancellable *cancellable, GError **error);
BGR_EXTERN BgrVmSession *bgr_client_vm_session_kill (BgrClient *self, const char *vm,
                                                     const char *name,
                                                     GCancellable *cancellable, GError **error);

G_END_DECLS
