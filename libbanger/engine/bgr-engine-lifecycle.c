/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VM lifecycle after create: start, stop, kill, delete, and the read-only
 * views (list, get, logs). Every change holds the VM's claim. */
#include "config.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "bgr-crash-private.h"
#include "bgr-error-private.h"
#include "bgr-escape-private.h"
#include "bgr-fs-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-agent-private.h"
#include "engine/bgr-engine-boot-private.h"
#include "engine/bgr-engine-claims-private.h"
#include "engine/bgr-engine-guest-private.h"
#include "engine/bgr-engine-lifecycle-private.h"
#include "engine/bgr-engine-reconcile-private.h"
#include "engine/bgr-engine-usage-private.h"
#include "engine/bgr-engine-vm-record-private.h"
#include "engine/bgr-engine-vmnet-private.h"

#define STOP_AGENT_WAIT_MS (60 * 1000)
#define STOP_ACPI_WAIT_MS (20 * 1000)
#define LOGS_MAX ((guint64) 16 * 1024 * 1024)

/* Claims @name, then loads its record into @out_doc: what another
 * operation did before the claim (a create that failed, a delete) is
 * seen. */
static BgrVmClaim *
claim_and_load (BgrEngine *engine, const char *name, const char *what, JsonObject **out_doc,
                GError **error)
{
  g_autoptr (BgrVmClaim) claim = NULL;

  if (!bgr_vm_check_name (name, error) || (claim = bgr_vm_claim (engine, name, what, error)) == NULL)
    return NULL;
  *out_doc = bgr_vm_record_load (engine, name, error);
  if (*out_doc == NULL)
    return NULL;
  bgr_vm_reconcile (engine, *out_doc, TRUE);
  return g_steal_pointer (&claim);
}

BgrVm *
bgr_engine_start_vm (BgrEngine *engine, const char *name, BgrOperation *op,
                     GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (BgrVmClaim) claim = claim_and_load (engine, name, "starting", &doc, error);
  const char *state;

  if (claim == NULL)
    return NULL;
  state = bgr_record_str (doc, "state");
  if (bgr_vm_state_is_live (state))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOTHING_TO_DO, "VM '%s' is already %s", name, state);
      return NULL;
    }
  if (!bgr_engine_vm_network_prepare (engine, doc, error)
      || !bgr_vm_boot (engine, doc, 1, 3, op, cancellable, error))
    return NULL;
  return bgr_vm_record_view (doc);
}

static void
mark_stopped (BgrEngine *engine, JsonObject *doc, const char *reason)
{
  json_object_set_string_member (doc, "state", "stopped");
  json_object_set_string_member (doc, "reason", reason);
  json_object_set_int_member (doc, "stopped", bgr_vm_now_s ());
  json_object_remove_member (doc, "vmm");
  bgr_vm_agent_drop (engine, bgr_record_str (doc, "name"));
  bgr_vm_record_save (engine, doc, NULL);
}

static gboolean
running_or_error (JsonObject *doc, GError **error)
{
  const char *state = bgr_record_str (doc, "state");
  if (bgr_vm_state_is_live (state))
    return TRUE;
  g_set_error (error, BGR_ERROR, BGR_ERROR_NOTHING_TO_DO, "VM '%s' is not running (state: %s)",
               bgr_record_str (doc, "name"), state);
  return FALSE;
}

/* Gets the guest of @doc to power off, asking ever less politely. Returns
 * how it went, or NULL when even the kill failed (or, with
 * @keep_when_cancelled, when @cancellable was cancelled before it). */
static const char *
power_off (BgrEngine *engine, JsonObject *doc, BgrVmmInstance *inst, gboolean keep_when_cancelled,
           GCancellable *cancellable, GError **error)
{
  g_autoptr (GError) agent_error = NULL;
  g_autoptr (BgrAgentConn) conn = NULL;
  const char *how = NULL;

  /* 1: ask the guest, through its agent, to power off. */
  conn = bgr_vm_agent_get (engine, doc, cancellable, &agent_error);
  if (conn != NULL && bgr_agent_conn_shutdown (conn, "poweroff", 5000, cancellable, &agent_error)
      && bgr_vmm_instance_wait_exit (inst, STOP_AGENT_WAIT_MS, cancellable, NULL))
    how = "stopped (the guest powered off)";
  if (agent_error != NULL)
    {
      g_autofree char *msg = bgr_log_msg (agent_error->message); /* may quote the guest */
      g_info ("VM %s: graceful stop through the agent failed: %s", bgr_record_str (doc, "name"), msg);
    }
  /* 2: Ctrl-Alt-Del / ACPI power button. */
  if (how == NULL && !g_cancellable_is_cancelled (cancellable) && bgr_vmm_instance_is_alive (inst))
    {
      const BgrVmmDriver *driver = bgr_vmm_driver_lookup (inst->driver);
      if (driver->request_shutdown (inst, cancellable, NULL)
          && bgr_vmm_instance_wait_exit (inst, STOP_ACPI_WAIT_MS, cancellable, NULL))
        how = "stopped (the guest powered off after the power button)";
    }
  /* 3: kill. */
  if (how == NULL)
    {
      if (keep_when_cancelled && g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      if (!bgr_vmm_instance_kill (inst, error))
        return NULL;
      how = "stopped (killed: the guest did not power off in time)";
    }
  return how;
}

gboolean
bgr_vm_stop_claimed (BgrEngine *engine, JsonObject *doc, BgrVmClaim *claim,
                     gboolean keep_when_cancelled, GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrVmmInstance) inst = bgr_vm_record_instance (doc);
  const char *how;

  if (inst == NULL)
    {
      /* Live without a VMM: a create that never got one. */
      mark_stopped (engine, doc, "stopped (it had no VMM)");
      return TRUE;
    }
  json_object_set_string_member (doc, "state", "stopping");
  bgr_vm_record_save (engine, doc, NULL);
  bgr_crash_point ("vm-stop.stopping-saved");
  how = power_off (engine, doc, inst, keep_when_cancelled, cancellable, error);
  if (how == NULL)
    return FALSE;
  bgr_crash_point ("vm-stop.powered-off");
  if (bgr_vm_claim_kill_requested (claim))
    how = "killed (while a stop was waiting)";
  mark_stopped (engine, doc, how);
  return TRUE;
}

BgrVm *
bgr_engine_stop_vm (BgrEngine *engine, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (BgrVmClaim) claim = claim_and_load (engine, name, "stopping", &doc, error);

  if (claim == NULL || !running_or_error (doc, error)
      || !bgr_vm_stop_claimed (engine, doc, claim, FALSE, cancellable, error))
    return NULL;
  return bgr_vm_record_view (doc);
}

/* A stop that waits for the guest is exactly when kill is wanted: kill
 * the VMM under it; the stop sees it go and records the kill. Otherwise
 * @busy (taken) is the error. */
static BgrVm *
kill_under_stop (BgrEngine *engine, const char *name, GError *busy, GError **error)
{
  g_autoptr (GError) busy_error = busy;
  g_autoptr (JsonObject) now = bgr_vm_record_load (engine, name, error);
  g_autoptr (BgrVmmInstance) inst = NULL;
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  if (now == NULL)
    return NULL;
  if (g_strcmp0 (bgr_record_str (now, "state"), "stopping") != 0)
    {
      g_propagate_error (error, g_steal_pointer (&busy_error));
      return NULL;
    }
  inst = bgr_vm_record_instance (now);
  bgr_vm_claim_request_kill (engine, name);
  if (inst != NULL && !bgr_vmm_instance_kill (inst, error))
    return NULL;
  while (bgr_engine_vm_is_busy (engine, name) && g_get_monotonic_time () < deadline)
    g_usleep (20000);
  g_clear_pointer (&now, json_object_unref);
  now = bgr_vm_record_load (engine, name, error);
  return now != NULL ? bgr_vm_record_view (now) : NULL;
}

BgrVm *
bgr_engine_kill_vm (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (GError) busy = NULL;
  g_autoptr (BgrVmClaim) claim = claim_and_load (engine, name, "killing", &doc, &busy);
  g_autoptr (BgrVmmInstance) inst = NULL;

  if (claim == NULL && g_error_matches (busy, BGR_ERROR, BGR_ERROR_BUSY))
    return kill_under_stop (engine, name, g_steal_pointer (&busy), error);
  if (claim == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&busy));
      return NULL;
    }
  if (!running_or_error (doc, error))
    return NULL;
  inst = bgr_vm_record_instance (doc);
  if (inst != NULL && !bgr_vmm_instance_kill (inst, error))
    return NULL;
  bgr_crash_point ("vm-kill.killed");
  mark_stopped (engine, doc, "killed");
  return bgr_vm_record_view (doc);
}

/* The VM's directory is renamed aside with the record's removal, under
 * the lock, and removed after it; a crash in between leaves a
 * .deleting- directory that the next engine sweeps. *out_aside is where
 * the directory went, or NULL. */
static gboolean
remove_record (BgrEngine *engine, JsonObject *doc, char **out_aside, GError **error)
{
  g_autofree char *name = g_strdup (bgr_record_str (doc, "name"));
  const char *dir = bgr_record_str (doc, "dir");

  *out_aside = NULL;
  bgr_engine_lock (engine);
  if (!bgr_store_delete (bgr_engine_get_store (engine), BGR_VM_KIND, name, error))
    {
      bgr_engine_unlock (engine);
      return FALSE;
    }
  bgr_engine_usage_remove_vm (engine, name);
  if (g_file_test (dir, G_FILE_TEST_EXISTS))
    {
      g_autofree char *parent = g_path_get_dirname (dir);
      g_autofree char *aside = g_strdup_printf ("%s/.deleting-%s-XXXXXX", parent, name);
      if (g_mkdtemp (aside) != NULL && rename (dir, aside) == 0)
        *out_aside = g_steal_pointer (&aside);
    }
  bgr_engine_unlock (engine);
  return TRUE;
}

gboolean
bgr_engine_delete_vm (BgrEngine *engine, const char *name, gboolean force, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (BgrVmClaim) claim = claim_and_load (engine, name, "deleting", &doc, error);
  g_autoptr (BgrVmmInstance) inst = NULL;
  g_autofree char *aside = NULL;

  if (claim == NULL)
    return FALSE;
  inst = bgr_vm_record_instance (doc);
  if (bgr_vm_state_is_live (bgr_record_str (doc, "state")) && inst != NULL && bgr_vmm_instance_is_alive (inst))
    {
      if (!force)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY,
                       "VM '%s' is running: stop it first (`banger vm stop %s`) or delete with the force flag",
                       name, name);
          return FALSE;
        }
      if (!bgr_vmm_instance_kill (inst, error))
        return FALSE;
    }
  bgr_vm_agent_drop (engine, name);
  if (!remove_record (engine, doc, &aside, error))
    return FALSE;
  bgr_crash_point ("vm-delete.record-gone");
  bgr_engine_vm_network_release (engine, doc);
  bgr_rm_rf (bgr_record_str (doc, "run_dir"), NULL);
  bgr_rm_rf (aside != NULL ? aside : bgr_record_str (doc, "dir"), NULL);
  /* Its samples go, so that a new VM of the same name starts afresh. */
  bgr_vm_samples_forget (engine, name);
  return TRUE;
}

GPtrArray *
bgr_engine_list_vms (BgrEngine *engine, GError **error)
{
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), BGR_VM_KIND, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_object_unref);

  (void) error;
  for (guint i = 0; i < docs->len; i++)
    {
      bgr_vm_reconcile (engine, docs->pdata[i], FALSE);
      g_ptr_array_add (out, bgr_vm_record_view (docs->pdata[i]));
    }
  return out;
}

BgrVm *
bgr_engine_get_vm (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (JsonObject) doc = bgr_vm_record_load (engine, name, error);
  if (doc == NULL)
    return NULL;
  bgr_vm_reconcile (engine, doc, FALSE);
  return bgr_vm_record_view (doc);
}

GBytes *
bgr_engine_vm_logs (BgrEngine *engine, const char *name, guint64 max_bytes, GError **error)
{
  g_autoptr (JsonObject) doc = bgr_vm_record_load (engine, name, error);
  char *text;

  if (doc == NULL)
    return NULL;
  /* A reply must stay well below D-Bus's message limit (32 MiB on the
   * system bus), however much a running guest has written. */
  if (max_bytes == 0 || max_bytes > LOGS_MAX)
    max_bytes = LOGS_MAX;
  text = bgr_read_tail (bgr_record_str (doc, "console_log"), max_bytes);
  if (bgr_vm_file_size (bgr_record_str (doc, "console_log")) > (goffset) max_bytes)
    {
      const char *nl = strchr (text, '\n');
      g_autofree char *cut = text;
      text = g_strdup_printf ("---- banger: earlier output not shown (the log is %" G_GINT64_FORMAT
                              " bytes; the last %" G_GUINT64_FORMAT " follow) ----\n%s",
                              (gint64) bgr_vm_file_size (bgr_record_str (doc, "console_log")), max_bytes,
                              nl != NULL ? nl + 1 : cut);
    }
  return g_bytes_new_take (text, strlen (text));
}
