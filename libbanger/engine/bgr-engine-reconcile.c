/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bgr-error-private.h"
#include "bgr-escape-private.h"
#include "bgr-fs-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-agent-private.h"
#include "engine/bgr-engine-claims-private.h"
#include "engine/bgr-engine-reconcile-private.h"
#include "engine/bgr-engine-usage-private.h"
#include "engine/bgr-engine-vm-record-private.h"
#include "engine/bgr-engine-vmnet-private.h"

static gboolean
needs_reconcile (BgrEngine *engine, JsonObject *doc, gboolean claimed)
{
  g_autoptr (BgrVmmInstance) inst = NULL;

  if (!bgr_vm_state_is_live (bgr_record_str (doc, "state"))
      || (!claimed && bgr_engine_vm_is_busy (engine, bgr_record_str (doc, "name"))))
    return FALSE;
  inst = bgr_vm_record_instance (doc);
  return inst == NULL || !bgr_vmm_instance_is_alive (inst);
}

static void
replace_members (JsonObject *to, JsonObject *from)
{
  GList *members = json_object_get_members (to);
  for (GList *l = members; l != NULL; l = l->next)
    if (!json_object_has_member (from, l->data))
      json_object_remove_member (to, l->data);
  g_list_free (members);
  members = json_object_get_members (from);
  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (to, l->data, json_node_copy (json_object_get_member (from, l->data)));
  g_list_free (members);
}

/* Marks @fresh stopped (or error) and returns why its VMM went. */
static char *
mark_gone (JsonObject *fresh)
{
  g_autofree char *state = g_strdup (bgr_record_str (fresh, "state"));
  g_autoptr (BgrVmmInstance) inst = bgr_vm_record_instance (fresh);
  char *reason;

  if (inst == NULL)
    {
      /* A VMM may have started without its record knowing it. */
      bgr_vmm_kill_strays (bgr_record_str (fresh, "run_dir"));
      reason = g_strdup ("interrupted: the engine booting it ended before it recorded the VMM");
    }
  else if (g_strcmp0 (state, "stopping") == 0)
    reason = g_strdup ("stopped");
  else
    reason = bgr_vm_exit_reason (bgr_record_str (fresh, "console_log"));
  json_object_set_string_member (fresh, "state", g_strcmp0 (state, "starting") == 0 ? "error" : "stopped");
  json_object_set_string_member (fresh, "reason", reason);
  json_object_set_int_member (fresh, "stopped", bgr_vm_now_s ());
  json_object_remove_member (fresh, "vmm");
  return reason;
}

gboolean
bgr_vm_reconcile (BgrEngine *engine, JsonObject *doc, gboolean claimed)
{
  g_autofree char *name = g_strdup (bgr_record_str (doc, "name"));
  g_autoptr (JsonObject) fresh = NULL;
  g_autofree char *reason = NULL;
  g_autoptr (GError) error = NULL;

  if (!needs_reconcile (engine, doc, claimed))
    return FALSE;
  /* @doc may be stale (the supervisor read it a moment ago): decide and
   * write on the stored record, under the lock, so that a VM deleted or
   * changed meanwhile is not written back. */
  bgr_engine_lock (engine);
  fresh = bgr_store_load (bgr_engine_get_store (engine), BGR_VM_KIND, name, NULL);
  if (fresh == NULL || !needs_reconcile (engine, fresh, claimed))
    {
      bgr_engine_unlock (engine);
      if (fresh != NULL)
        replace_members (doc, fresh);
      return FALSE;
    }
  reason = mark_gone (fresh);
  if (!bgr_store_save (bgr_engine_get_store (engine), BGR_VM_KIND, name, fresh, &error))
    g_warning ("cannot save VM %s: %s", name, error->message);
  bgr_engine_unlock (engine);
  {
    /* The reason may quote the guest's console (its last words). */
    g_autofree char *shown = bgr_log_msg (reason);
    g_info ("VM %s: %s", name, shown);
  }
  bgr_vm_agent_drop (engine, name);
  replace_members (doc, fresh);
  return TRUE;
}

/* Notices VMMs that exited (a guest that powered itself off). */
void
bgr_vm_reconcile_all (BgrEngine *engine)
{
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), BGR_VM_KIND, NULL);
  for (guint i = 0; i < docs->len; i++)
    bgr_vm_reconcile (engine, docs->pdata[i], FALSE);
}

/* A create whose engine died before it recorded the VMM (the record still
 * says "creating"), or while it wrote the work disk of the VM as it booted
 * ("work_disk_busy": its guest waits for a disk that will never be done):
 * undone as a failed create is, VMM and files first, so that no directory
 * outlives its record. Called at the engine's start only, when no
 * operation of this engine holds the VM. */
static gboolean
undo_interrupted_create (BgrEngine *engine, JsonObject *doc)
{
  const char *name = bgr_record_str (doc, "name");
  g_autoptr (GError) error = NULL;
  gboolean busy = json_object_get_boolean_member_with_default (doc, "work_disk_busy", FALSE);

  if (!busy
      && (!json_object_get_boolean_member_with_default (doc, "creating", FALSE)
          || g_strcmp0 (bgr_record_str (doc, "state"), "starting") != 0
          || json_object_has_member (doc, "vmm")))
    return FALSE;
  bgr_vmm_kill_strays (bgr_record_str (doc, "run_dir"));
  bgr_engine_vm_network_release (engine, doc);
  bgr_rm_rf (bgr_record_str (doc, "run_dir"), NULL);
  bgr_rm_rf (bgr_record_str (doc, "dir"), NULL);
  bgr_engine_lock (engine);
  if (bgr_store_delete (bgr_engine_get_store (engine), BGR_VM_KIND, name, &error))
    bgr_engine_usage_remove_vm (engine, name);
  bgr_engine_unlock (engine);
  if (error != NULL)
    g_warning ("cannot remove VM %s, whose create was interrupted: %s", name, error->message);
  else
    g_message ("removed VM %s: its create was interrupted %s", name,
               busy ? "while its work disk was written" : "before its VMM was recorded");
  return TRUE;
}

void
bgr_engine_adopt_vms (BgrEngine *engine)
{
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), BGR_VM_KIND, NULL);

  for (guint i = 0; i < docs->len; i++)
    {
      JsonObject *doc = docs->pdata[i];
      if (undo_interrupted_create (engine, doc))
        continue;
      if (!bgr_vm_reconcile (engine, doc, FALSE) && bgr_vm_state_is_live (bgr_record_str (doc, "state")))
        {
          g_autoptr (BgrVmmInstance) inst = bgr_vm_record_instance (doc);
          g_info ("adopted VM %s (%s pid %d, %s)", bgr_record_str (doc, "name"),
                  inst != NULL ? inst->driver : "?", inst != NULL ? inst->pid : 0,
                  bgr_record_str (doc, "state"));
        }
    }
}

gboolean
bgr_vm_in_flight (BgrEngine *engine, JsonObject *doc, GError **error)
{
  const char *state = bgr_record_str (doc, "state");

  if (!bgr_vm_state_is_live (state) || g_strcmp0 (state, "running") == 0
      || !bgr_engine_vm_is_busy (engine, bgr_record_str (doc, "name")))
    return FALSE;
  g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY, "VM '%s' is %s; try again when it is done",
               bgr_record_str (doc, "name"), state);
  return TRUE;
}

JsonObject *
bgr_vm_load_running (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (JsonObject) doc = bgr_vm_record_load (engine, name, error);

  if (doc == NULL)
    return NULL;
  bgr_vm_reconcile (engine, doc, FALSE);
  if (bgr_vm_in_flight (engine, doc, error))
    return NULL;
  if (g_strcmp0 (bgr_record_str (doc, "state"), "running") != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "VM '%s' is not running (state: %s)",
                   name, bgr_record_str (doc, "state"));
      return NULL;
    }
  return g_steal_pointer (&doc);
}
