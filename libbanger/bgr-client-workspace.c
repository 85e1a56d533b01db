/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrClient's calls on workspaces and vm cp (docs/workspaces.md). */
#include "config.h"

#include "bgr-client-private.h"
#include "bgr-operation-private.h"

/**
 * bgr_client_vm_workspace_prepare:
 * @self: a #BgrClient
 * @name: a running VM
 * @spec: the repository and how to send it; see #BgrWorkspaceSpec
 * @op: (nullable): progress (bytes sent) and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Puts a git checkout into the VM at the spec's guest path: in metadata
 * mode a shallow git directory (HEAD's commit) with the working files as
 * they are (uncommitted and untracked work included, ignored files left
 * out); in full_copy mode the whole repository, submodules included. The
 * copy is staged in the guest and renamed into place: a failed or
 * cancelled prepare leaves the guest as it was. Bad input (not a
 * repository, bare, a --from that does not resolve, a guest path outside
 * /root, a VM that is not running) changes nothing.
 *
 * Returns: (transfer full): the workspace, or %NULL
 * Since: 0.2
 */
BgrWorkspace *
bgr_client_vm_workspace_prepare (BgrClient *self, const char *name, BgrWorkspaceSpec *spec,
                                 BgrOperation *op, GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrCallCancellable) cc = NULL;

  CHECK_CLIENT (self, error, NULL);
  g_return_val_if_fail (BGR_IS_WORKSPACE_SPEC (spec), NULL);
  if (!check_name ("VM", name, error))
    return NULL;
  cc = bgr_call_cancellable_new (op, cancellable);
  return FINISH (VT (self)->vm_workspace_prepare (B (self), name, spec, op,
                                                  bgr_call_cancellable_get (cc), error),
                 error);
}

static gpointer
prepare_call (BgrClient *self, Call *c, GCancellable *cancellable, GError **error)
{
  return bgr_client_vm_workspace_prepare (self, c->name, BGR_WORKSPACE_SPEC (c->spec), c->op,
                                          cancellable, error);
}

/**
 * bgr_client_vm_workspace_prepare_async:
 * @self: a #BgrClient
 * @name: a running VM
 * @spec: see bgr_client_vm_workspace_prepare()
 * @op: (nullable): progress and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Since: 0.2
 */
void
bgr_client_vm_workspace_prepare_async (BgrClient *self, const char *name, BgrWorkspaceSpec *spec,
                                       BgrOperation *op, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BGR_IS_CLIENT (self) && BGR_IS_WORKSPACE_SPEC (spec));
  call_start (self, call_new (prepare_call, name, spec, op), bgr_client_vm_workspace_prepare_async,
              cancellable, callback, user_data);
}

/**
 * bgr_client_vm_workspace_prepare_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the workspace, or %NULL
 * Since: 0.2
 */
BgrWorkspace *
bgr_client_vm_workspace_prepare_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  return call_finish (self, result, bgr_client_vm_workspace_prepare_async, error);
}

/**
 * bgr_client_vm_workspace_get:
 * @self: a #BgrClient
 * @name: a VM
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The VM's workspace as its record keeps it. For a running VM whose guest
 * has git, whether the guest copy changed since it was prepared is
 * checked now. A VM without one is %BGR_ERROR_NOT_FOUND.
 *
 * Returns: (transfer full): the workspace, or %NULL
 * Since: 0.2
 */
BgrWorkspace *
bgr_client_vm_workspace_get (BgrClient *self, const char *name, GCancellable *cancellable,
                             GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", name, error))
    return NULL;
  return FINISH (VT (self)->vm_workspace_get (B (self), name, cancellable, error), error);
}

/**
 * bgr_client_vm_workspace_bootstrap:
 * @self: a #BgrClient
 * @name: a running VM with a workspace
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Starts the workspace's bootstrap in the guest: when it has a mise.toml,
 * .mise.toml or .tool-versions and the guest has mise, `mise install` runs
 * in the background (log: /root/.cache/banger/bootstrap.log). Returns at
 * once with one line saying what it did or why it did nothing; a guest
 * without mise is not an error.
 *
 * Returns: (transfer full): that line, or %NULL
 * Since: 0.2
 */
char *
bgr_client_vm_workspace_bootstrap (BgrClient *self, const char *name, GCancellable *cancellable,
                                   GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", name, error))
    return NULL;
  return FINISH (VT (self)->vm_workspace_bootstrap (B (self), name, cancellable, error), error);
}

/**
 * bgr_client_vm_run:
 * @self: a #BgrClient
 * @vm_spec: the VM to create; see #BgrVmSpec
 * @spec: the workspace; see #BgrWorkspaceSpec
 * @op: (nullable): progress and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * banger's main flow: creates the VM, puts the workspace into it and
 * starts the bootstrap (bgr_workspace_get_bootstrap() says what it did;
 * its failure never fails the call). The workspace is written into the
 * new VM's work disk before it boots where it can be (its "written_by" is
 * then "work_disk"), else sent through the guest agent once it runs, as
 * bgr_client_vm_workspace_prepare() does ("agent"). A VM whose workspace
 * could not be prepared is deleted again.
 *
 * Returns: (transfer full): the workspace, or %NULL
 * Since: 0.2
 */
BgrWorkspace *
bgr_client_vm_run (BgrClient *self, BgrVmSpec *vm_spec, BgrWorkspaceSpec *spec, BgrOperation *op,
                   GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrCallCancellable) cc = NULL;

  CHECK_CLIENT (self, error, NULL);
  g_return_val_if_fail (BGR_IS_VM_SPEC (vm_spec), NULL);
  g_return_val_if_fail (BGR_IS_WORKSPACE_SPEC (spec), NULL);
  if (!check_name ("VM", bgr_vm_spec_get_name (vm_spec), error))
    return NULL;
  cc = bgr_call_cancellable_new (op, cancellable);
  return FINISH (VT (self)->vm_run (B (self), vm_spec, spec, op, bgr_call_cancellable_get (cc),
                                    error),
                 error);
}

/**
 * bgr_client_vm_workspace_export:
 * @self: a #BgrClient
 * @name: a running VM with a workspace (its guest needs git)
 * @branch: (nullable): the host branch to create (default "banger/VM")
 * @flags: #BgrWorkspaceExportFlags
 * @op: (nullable): progress and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Brings the guest's work back to the host repository as branch @branch:
 * the guest's commits since the prepared one, and its uncommitted and
 * untracked work (ignored files left out) as one more commit on top. The
 * host's working tree, index and current branch are never touched; an
 * existing branch is moved only with %BGR_WORKSPACE_EXPORT_FLAGS_FORCE
 * (and never the checked-out one).
 *
 * Returns: (transfer full): the workspace, its "export" member saying what
 *   was (or, for a dry run, would be) exported, or %NULL
 * Since: 0.2
 */
BgrWorkspace *
bgr_client_vm_workspace_export (BgrClient *self, const char *name, const char *branch,
                                BgrWorkspaceExportFlags flags, BgrOperation *op,
                                GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrCallCancellable) cc = NULL;

  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", name, error))
    return NULL;
  cc = bgr_call_cancellable_new (op, cancellable);
  return FINISH (VT (self)->vm_workspace_export (B (self), name, branch, flags, op,
                                                 bgr_call_cancellable_get (cc), error),
                 error);
}

/**
 * bgr_client_vm_copy:
 * @self: a #BgrClient
 * @name: a running VM
 * @direction: %BGR_COPY_TO_VM or %BGR_COPY_FROM_VM
 * @host_path: an absolute path on the host (read or written by the process
 *   doing the work: bangerd over D-Bus)
 * @guest_path: an absolute path in the guest
 * @op: (nullable): progress (bytes) and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Copies a file, symlink or directory tree like `cp -a` (modes, symlinks,
 * times): when the target is an existing directory the copy goes into it
 * under the source's name, else it replaces the target. The copy is staged
 * beside the target and renamed into place.
 *
 * Returns: %TRUE when copied
 * Since: 0.2
 */
gboolean
bgr_client_vm_copy (BgrClient *self, const char *name, BgrCopyDirection direction,
                    const char *host_path, const char *guest_path, BgrOperation *op,
                    GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrCallCancellable) cc = NULL;

  CHECK_CLIENT (self, error, FALSE);
  if (!check_name ("VM", name, error))
    return FALSE;
  if (direction != BGR_COPY_TO_VM && direction != BGR_COPY_FROM_VM)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "unknown copy direction %d",
                   (int) direction);
      return FALSE;
    }
  cc = bgr_call_cancellable_new (op, cancellable);
  return FINISH (VT (self)->vm_copy (B (self), name, direction, host_path, guest_path, op,
                                     bgr_call_cancellable_get (cc), error)
                     ? GINT_TO_POINTER (1) : NULL,
                 error)
         != NULL;
}
