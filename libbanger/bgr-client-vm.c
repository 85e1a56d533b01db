/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrClient's calls on VMs. */
#include "config.h"

#include "bgr-client-private.h"
#include "bgr-operation-private.h"

/**
 * bgr_client_vm_create:
 * @self: a #BgrClient
 * @spec: the VM; see #BgrVmSpec (its name is required)
 * @op: (nullable): the boot's phases (done/total count steps) and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Creates a VM from an image and boots it; returns once its agent answers.
 * A cancelled create leaves nothing behind. A failed boot keeps the VM in
 * %BGR_VM_STATE_ERROR with its console log, and the error names the phase.
 *
 * Returns: (transfer full): the running VM, or %NULL
 * Since: 0.2
 */
BgrVm *
bgr_client_vm_create (BgrClient *self, BgrVmSpec *spec, BgrOperation *op,
                      GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrCallCancellable) cc = NULL;

  CHECK_CLIENT (self, error, NULL);
  g_return_val_if_fail (BGR_IS_VM_SPEC (spec), NULL);
  if (!check_name ("VM", bgr_vm_spec_get_name (spec), error))
    return NULL;
  cc = bgr_call_cancellable_new (op, cancellable);
  return FINISH (VT (self)->vm_create (B (self), spec, op, bgr_call_cancellable_get (cc), error), error);
}

static gpointer
vm_create_call (BgrClient *self, Call *c, GCancellable *cancellable, GError **error)
{
  return bgr_client_vm_create (self, BGR_VM_SPEC (c->spec), c->op, cancellable, error);
}

/**
 * bgr_client_vm_create_async:
 * @self: a #BgrClient
 * @spec: see bgr_client_vm_create()
 * @op: (nullable): progress and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Since: 0.2
 */
void
bgr_client_vm_create_async (BgrClient *self, BgrVmSpec *spec, BgrOperation *op,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_return_if_fail (BGR_IS_CLIENT (self) && BGR_IS_VM_SPEC (spec));
  call_start (self, call_new (vm_create_call, NULL, spec, op), bgr_client_vm_create_async,
              cancellable, callback, user_data);
}

/**
 * bgr_client_vm_create_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the running VM, or %NULL
 * Since: 0.2
 */
BgrVm *
bgr_client_vm_create_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  return call_finish (self, result, bgr_client_vm_create_async, error);
}

/**
 * bgr_client_vm_start:
 * @self: a #BgrClient
 * @name: a stopped VM
 * @op: (nullable): the boot's phases and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the running VM, or %NULL
 * Since: 0.2
 */
BgrVm *
bgr_client_vm_start (BgrClient *self, const char *name, BgrOperation *op,
                     GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrCallCancellable) cc = NULL;

  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", name, error))
    return NULL;
  cc = bgr_call_cancellable_new (op, cancellable);
  return FINISH (VT (self)->vm_start (B (self), name, op, bgr_call_cancellable_get (cc), error), error);
}

static gpointer
vm_start_call (BgrClient *self, Call *c, GCancellable *cancellable, GError **error)
{
  return bgr_client_vm_start (self, c->name, c->op, cancellable, error);
}

/**
 * bgr_client_vm_start_async:
 * @self: a #BgrClient
 * @name: a stopped VM
 * @op: (nullable): progress and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Since: 0.2
 */
void
bgr_client_vm_start_async (BgrClient *self, const char *name, BgrOperation *op,
                           GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  g_return_if_fail (BGR_IS_CLIENT (self));
  call_start (self, call_new (vm_start_call, name, NULL, op), bgr_client_vm_start_async,
              cancellable, callback, user_data);
}

/**
 * bgr_client_vm_start_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the running VM, or %NULL
 * Since: 0.2
 */
BgrVm *
bgr_client_vm_start_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  return call_finish (self, result, bgr_client_vm_start_async, error);
}

/**
 * bgr_client_vm_stop:
 * @self: a #BgrClient
 * @name: a VM
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Stops a VM gracefully: the agent powers the guest off, then the power
 * button, then the VMM is killed after `stop_timeout`.
 *
 * Returns: (transfer full): the stopped VM, or %NULL
 * Since: 0.2
 */
BgrVm *
bgr_client_vm_stop (BgrClient *self, const char *name, GCancellable *cancellable,
                    GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", name, error))
    return NULL;
  return FINISH (VT (self)->vm_stop (B (self), name, cancellable, error), error);
}

static gpointer
vm_stop_call (BgrClient *self, Call *c, GCancellable *cancellable, GError **error)
{
  return bgr_client_vm_stop (self, c->name, cancellable, error);
}

/**
 * bgr_client_vm_stop_async:
 * @self: a #BgrClient
 * @name: a VM
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Since: 0.2
 */
void
bgr_client_vm_stop_async (BgrClient *self, const char *name, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BGR_IS_CLIENT (self));
  call_start (self, call_new (vm_stop_call, name, NULL, NULL), bgr_client_vm_stop_async,
              cancellable, callback, user_data);
}

/**
 * bgr_client_vm_stop_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the stopped VM, or %NULL
 * Since: 0.2
 */
BgrVm *
bgr_client_vm_stop_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  return call_finish (self, result, bgr_client_vm_stop_async, error);
}

/**
 * bgr_client_vm_kill:
 * @self: a #BgrClient
 * @name: a VM
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Kills a VM's VMM at once.
 *
 * Returns: (transfer full): the stopped VM, or %NULL
 * Since: 0.2
 */
BgrVm *
bgr_client_vm_kill (BgrClient *self, const char *name, GCancellable *cancellable,
                    GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", name, error))
    return NULL;
  return VT (self)->vm_kill (B (self), name, cancellable, error);
}

/**
 * bgr_client_vm_delete:
 * @self: a #BgrClient
 * @name: a VM
 * @flags: #BgrVmDeleteFlags
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Deletes a VM and its disks; a running VM is refused (%BGR_ERROR_BUSY)
 * unless @flags has %BGR_VM_DELETE_FLAGS_FORCE.
 *
 * Returns: %TRUE when deleted
 * Since: 0.2
 */
gboolean
bgr_client_vm_delete (BgrClient *self, const char *name, BgrVmDeleteFlags flags,
                      GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, FALSE);
  if (!check_name ("VM", name, error))
    return FALSE;
  if ((flags & ~BGR_VM_DELETE_FLAGS_FORCE) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "unknown VM delete flags 0x%x", flags & ~BGR_VM_DELETE_FLAGS_FORCE);
      return FALSE;
    }
  return VT (self)->vm_delete (B (self), name, flags, cancellable, error);
}

static gpointer
vm_delete_call (BgrClient *self, Call *c, GCancellable *cancellable, GError **error)
{
  bgr_client_vm_delete (self, c->name, c->flags, cancellable, error);
  return NULL;
}

/**
 * bgr_client_vm_delete_async:
 * @self: a #BgrClient
 * @name: a VM
 * @flags: #BgrVmDeleteFlags
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Since: 0.2
 */
void
bgr_client_vm_delete_async (BgrClient *self, const char *name, BgrVmDeleteFlags flags,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  Call *c;

  g_return_if_fail (BGR_IS_CLIENT (self));
  c = call_new (vm_delete_call, name, NULL, NULL);
  c->flags = flags;
  c->returns_boolean = TRUE;
  call_start (self, c, bgr_client_vm_delete_async, cancellable, callback, user_data);
}

/**
 * bgr_client_vm_delete_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: %TRUE when deleted
 * Since: 0.2
 */
gboolean
bgr_client_vm_delete_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * bgr_client_vm_list:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type BgrVm): the VMs
 * Since: 0.2
 */
GPtrArray *
bgr_client_vm_list (BgrClient *self, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return VT (self)->vm_list (B (self), cancellable, error);
}

/**
 * bgr_client_vm_get:
 * @self: a #BgrClient
 * @name: a VM
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the VM, or %NULL (%BGR_ERROR_NOT_FOUND)
 * Since: 0.2
 */
BgrVm *
bgr_client_vm_get (BgrClient *self, const char *name, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", name, error))
    return NULL;
  return VT (self)->vm_get (B (self), name, cancellable, error);
}

/**
 * bgr_client_vm_logs:
 * @self: a #BgrClient
 * @name: a VM
 * @max_bytes: at most this many bytes from the end (0: all)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the VM's serial console, or %NULL
 * Since: 0.2
 */
GBytes *
bgr_client_vm_logs (BgrClient *self, const char *name, guint64 max_bytes,
                    GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", name, error))
    return NULL;
  return VT (self)->vm_logs (B (self), name, max_bytes, cancellable, error);
}

/**
 * bgr_client_vm_ports:
 * @self: a #BgrClient
 * @name: a running VM
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type BgrVmPort): the sockets
 *   listening in the guest
 * Since: 0.2
 */
GPtrArray *
bgr_client_vm_ports (BgrClient *self, const char *name, GCancellable *cancellable,
                     GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", name, error))
    return NULL;
  return VT (self)->vm_ports (B (self), name, cancellable, error);
}

/**
 * bgr_client_vm_stats:
 * @self: a #BgrClient
 * @name: a VM
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the VM's resource use, or %NULL
 * Since: 0.2
 */
BgrVmStats *
bgr_client_vm_stats (BgrClient *self, const char *name, GCancellable *cancellable,
                     GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("VM", name, error))
    return NULL;
  return VT (self)->vm_stats (B (self), name, cancellable, error);
}

/**
 * bgr_client_vm_exec:
 * @self: a #BgrClient
 * @name: a running VM
 * @spec: the command and its streams; see #BgrExecSpec
 * @out_status: (out) (optional): the exit status (128+N: killed by signal N)
 * @cancellable: (nullable): cancels the call and kills the command
 * @error: return location for a #GError
 *
 * Runs a command in the VM; its output is written to the spec's stdout and
 * stderr descriptors as it comes.
 *
 * Returns: %TRUE when the command ran (whatever its status)
 * Since: 0.2
 */
gboolean
bgr_client_vm_exec (BgrClient *self, const char *name, BgrExecSpec *spec, gint *out_status,
                    GCancellable *cancellable, GError **error)
{
  g_auto (GStrv) argv = NULL;
  gint status = -1;

  CHECK_CLIENT (self, error, FALSE);
  g_return_val_if_fail (BGR_IS_EXEC_SPEC (spec), FALSE);
  if (!check_name ("VM", name, error))
    return FALSE;
  argv = bgr_exec_spec_dup_argv (spec);
  if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
    {
      g_set_error_literal (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                           "a command to run is required");
      return FALSE;
    }
  if (!VT (self)->vm_exec (B (self), name, spec, &status, cancellable, error))
    {
      FINISH (NULL, error);
      return FALSE;
    }
  if (out_status != NULL)
    *out_status = status;
  return TRUE;
}

static gpointer
vm_exec_call (BgrClient *self, Call *c, GCancellable *cancellable, GError **error)
{
  bgr_client_vm_exec (self, c->name, BGR_EXEC_SPEC (c->spec), &c->status, cancellable, error);
  return NULL;
}

/**
 * bgr_client_vm_exec_async:
 * @self: a #BgrClient
 * @name: a running VM
 * @spec: see bgr_client_vm_exec(); its descriptors must stay open until
 *   the call finishes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Since: 0.2
 */
void
bgr_client_vm_exec_async (BgrClient *self, const char *name, BgrExecSpec *spec,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  Call *c;

  g_return_if_fail (BGR_IS_CLIENT (self) && BGR_IS_EXEC_SPEC (spec));
  c = call_new (vm_exec_call, name, spec, NULL);
  c->returns_boolean = TRUE;
  call_start (self, c, bgr_client_vm_exec_async, cancellable, callback, user_data);
}

/**
 * bgr_client_vm_exec_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @out_status: (out) (optional): the exit status
 * @error: return location for a #GError
 *
 * Returns: %TRUE when the command ran
 * Since: 0.2
 */
gboolean
bgr_client_vm_exec_finish (BgrClient *self, GAsyncResult *result, gint *out_status,
                           GError **error)
{
  Call *c;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  c = g_task_get_task_data (G_TASK (result));
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  if (out_status != NULL)
    *out_status = c->status;
  return TRUE;
}
