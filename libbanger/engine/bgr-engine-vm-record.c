/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-vm-record-private.h"

gint64
bgr_vm_now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

BgrVmmInstance *
bgr_vm_record_instance (JsonObject *doc)
{
  JsonNode *n = json_object_get_member (doc, "vmm");
  return n != NULL && JSON_NODE_HOLDS_OBJECT (n) ? bgr_vmm_instance_from_json (json_node_get_object (n))
                                                 : NULL;
}

gboolean
bgr_vm_state_is_live (const char *state)
{
  return g_strcmp0 (state, "running") == 0 || g_strcmp0 (state, "starting") == 0
         || g_strcmp0 (state, "stopping") == 0;
}

/* Pointers from bgr_record_str() die when their member is set again, as the store
 * does with "name": callers keep copies of what they use across a save. */
gboolean
bgr_vm_record_save (BgrEngine *engine, JsonObject *doc, GError **error)
{
  g_autofree char *name = g_strdup (bgr_record_str (doc, "name"));
  gboolean ok;
  bgr_engine_lock (engine);
  ok = bgr_store_save (bgr_engine_get_store (engine), BGR_VM_KIND, name, doc, error);
  bgr_engine_unlock (engine);
  return ok;
}

BgrVm *
bgr_vm_record_view (JsonObject *doc)
{
  static const char *const hidden[] = { "vmm", "run_dir", "dir", NULL };
  g_autoptr (JsonObject) v = json_object_new ();
  g_autoptr (BgrVmmInstance) inst = bgr_vm_record_instance (doc);
  GList *members = json_object_get_members (doc);

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (hidden, l->data))
      json_object_set_member (v, l->data, json_node_copy (json_object_get_member (doc, l->data)));
  g_list_free (members);
  json_object_set_int_member (v, "pid", inst != NULL && bgr_vm_state_is_live (bgr_record_str (doc, "state")) ? inst->pid : 0);
  /* What its files take now, whatever the record says: a create cut
   * short has disks but no disk_size. */
  if (bgr_record_str (doc, "dir") != NULL)
    json_object_set_int_member (v, "disk_used", (gint64) bgr_path_allocated (bgr_record_str (doc, "dir")));
  return bgr_vm_new_from_json (v);
}

gboolean
bgr_vm_check_name (const char *name, GError **error)
{
  gsize len = name != NULL ? strlen (name) : 0;
  gboolean ok = len >= 1 && len <= 63 && g_ascii_isalnum (name[0]) && g_ascii_isalnum (name[len - 1]);

  for (gsize i = 0; ok && i < len; i++)
    ok = (g_ascii_islower (name[i]) || g_ascii_isdigit (name[i]) || name[i] == '-');
  if (!ok)
    g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                 "invalid VM name '%s': a VM name is a DNS label (it becomes NAME.vm): 1-63 "
                 "lowercase letters, digits and '-', starting and ending with a letter or digit",
                 name != NULL ? name : "");
  return ok;
}

JsonObject *
bgr_vm_record_load (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (GError) local = NULL;
  JsonObject *doc;

  if (!bgr_vm_check_name (name, error))
    return NULL;
  doc = bgr_store_load (bgr_engine_get_store (engine), BGR_VM_KIND, name, &local);
  if (doc == NULL)
    {
      if (g_error_matches (local, BGR_ERROR, BGR_ERROR_NOT_FOUND))
        g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "no VM named '%s' (see `banger vm list`)",
                     name);
      else
        g_propagate_error (error, g_steal_pointer (&local));
    }
  return doc;
}

/* Under the lock: the VM may have been deleted meanwhile. */
void
bgr_vm_record_touch (BgrEngine *engine, const char *name)
{
  g_autoptr (JsonObject) doc = NULL;

  bgr_engine_lock (engine);
  doc = bgr_store_load (bgr_engine_get_store (engine), BGR_VM_KIND, name, NULL);
  if (doc != NULL && g_strcmp0 (bgr_record_str (doc, "state"), "running") == 0)
    {
      json_object_set_int_member (doc, "last_activity", bgr_vm_now_s ());
      bgr_store_save (bgr_engine_get_store (engine), BGR_VM_KIND, name, doc, NULL);
    }
  bgr_engine_unlock (engine);
}

/* ---- console log ------------------------------------------------------------ */

goffset
bgr_vm_file_size (const char *path)
{
  struct stat st;
  return path != NULL && stat (path, &st) == 0 ? st.st_size : 0;
}

char *
bgr_vm_exit_reason (const char *console_log)
{
  g_autofree char *tail = bgr_read_tail (console_log, 16 * 1024);
  g_auto (GStrv) lines = g_strsplit (tail, "\n", -1);
  guint n = g_strv_length (lines);

  for (guint i = n; i > 0; i--)
    {
      char *l = g_strstrip (lines[i - 1]);
      const char *p;
      if ((p = strstr (l, "Kernel panic")) != NULL)
        return g_strdup_printf ("the guest kernel panicked: %s", p);
      if ((p = strstr (l, "banger-init: ")) != NULL && strstr (l, "loaded") == NULL
          && strstr (l, "mounted") == NULL && strstr (l, "switching") == NULL)
        return g_strdup_printf ("the guest could not boot: %s", p);
      if ((p = strstr (l, "banger-vsock-agent: no init")) != NULL)
        return g_strdup_printf ("the guest could not boot: %s", p);
      if (strstr (l, "reboot: Power down") != NULL)
        return g_strdup ("the guest powered off");
      if (strstr (l, "reboot: Restarting system") != NULL)
        return g_strdup ("the guest rebooted (a banger VM stops when its guest reboots)");
    }
  return g_strdup ("the VMM process exited unexpectedly");
}
