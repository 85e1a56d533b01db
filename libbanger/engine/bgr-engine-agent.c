/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bgr-error-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-agent-private.h"
#include "engine/bgr-engine-vm-record-private.h"

typedef struct {
  GMutex lock;         /* serialises connecting to the agent */
  BgrAgentConn *agent; /* NULL until first needed */
  gint execs;          /* vm exec calls running */
} VmAgent;

/* Entries stay until the engine goes (other threads may hold one). */
struct _BgrVmAgents {
  GMutex lock;
  GHashTable *vms; /* name -> VmAgent */
};

static void
vm_agent_free (gpointer p)
{
  VmAgent *a = p;
  g_clear_pointer (&a->agent, bgr_agent_conn_unref);
  g_mutex_clear (&a->lock);
  g_free (a);
}

BgrVmAgents *
bgr_vm_agents_new (void)
{
  BgrVmAgents *agents = g_new0 (BgrVmAgents, 1);
  g_mutex_init (&agents->lock);
  agents->vms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, vm_agent_free);
  return agents;
}

void
bgr_vm_agents_free (BgrVmAgents *agents)
{
  if (agents == NULL)
    return;
  g_hash_table_unref (agents->vms);
  g_mutex_clear (&agents->lock);
  g_free (agents);
}

static VmAgent *
agent_of (BgrEngine *engine, const char *name)
{
  BgrVmAgents *agents = bgr_engine_get_agents (engine);
  VmAgent *a;

  g_mutex_lock (&agents->lock);
  a = g_hash_table_lookup (agents->vms, name);
  if (a == NULL)
    {
      a = g_new0 (VmAgent, 1);
      g_mutex_init (&a->lock);
      g_hash_table_insert (agents->vms, g_strdup (name), a);
    }
  g_mutex_unlock (&agents->lock);
  return a;
}

/* Connects to the agent of a running VM and says HELLO, retrying while the
 * guest is not listening yet (firecracker's vsock refuses until then). */
BgrAgentConn *
bgr_vm_agent_connect (const BgrVmmInstance *inst, gint timeout_ms, BgrAgentAliveFunc alive,
                      gpointer alive_data, BgrAgentFacts **out_facts, GCancellable *cancellable,
                      GError **error)
{
  const BgrVmmDriver *driver = bgr_vmm_driver_lookup (inst->driver);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;)
    {
      g_autoptr (GError) local = NULL;
      g_autoptr (GIOStream) stream = driver->connect_agent (inst, cancellable, &local);
      gint left = (gint) ((deadline - g_get_monotonic_time ()) / 1000);

      if (stream != NULL)
        {
          g_autoptr (BgrAgentConn) conn = bgr_agent_conn_new (stream);
          g_autoptr (BgrAgentFacts) facts
            = bgr_agent_conn_hello (conn, MAX (left, 1), 2000, alive, alive_data, cancellable, &local);
          if (facts != NULL)
            {
              if (out_facts != NULL)
                *out_facts = g_steal_pointer (&facts);
              return g_steal_pointer (&conn);
            }
          /* Only a connection the guest dropped is worth another try. */
          if (!g_error_matches (local, BGR_ERROR, BGR_ERROR_PROTOCOL)
              || g_str_has_prefix (local->message, "the guest agent speaks"))
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return NULL;
            }
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      if (alive != NULL && !alive (alive_data, error))
        return NULL;
      if (g_get_monotonic_time () >= deadline)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_TIMED_OUT,
                       "the guest agent did not answer within %d s%s%s", timeout_ms / 1000,
                       local != NULL ? ": " : "", local != NULL ? local->message : "");
          return NULL;
        }
      g_usleep (100 * 1000);
    }
}

static gboolean
vm_alive (gpointer data, GError **error)
{
  const BgrVmmInstance *inst = data;
  if (bgr_vmm_instance_is_alive (inst))
    return TRUE;
  g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "the VMM is gone");
  return FALSE;
}

gboolean
bgr_vm_agent_has_tool (JsonObject *doc, const char *tool)
{
  JsonNode *n = json_object_get_member (doc, "guest_agent_tools");
  JsonArray *tools = n != NULL && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;

  for (guint i = 0; tools != NULL && i < json_array_get_length (tools); i++)
    {
      JsonNode *t = json_array_get_element (tools, i);
      if (JSON_NODE_HOLDS_VALUE (t) && g_strcmp0 (json_node_get_string (t), tool) == 0)
        return TRUE;
    }
  return FALSE;
}

BgrAgentConn *
bgr_vm_agent_get (BgrEngine *engine, JsonObject *doc, GCancellable *cancellable, GError **error)
{
  VmAgent *a = agent_of (engine, bgr_record_str (doc, "name"));
  g_autoptr (BgrVmmInstance) inst = bgr_vm_record_instance (doc);
  BgrAgentConn *conn = NULL;

  if (inst == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "VM '%s' has no VMM", bgr_record_str (doc, "name"));
      return NULL;
    }
  g_mutex_lock (&a->lock);
  if (a->agent != NULL && bgr_agent_conn_is_closed (a->agent))
    g_clear_pointer (&a->agent, bgr_agent_conn_unref);
  if (a->agent == NULL)
    a->agent = bgr_vm_agent_connect (inst, BGR_VM_AGENT_TIMEOUT_MS, vm_alive, inst, NULL,
                                     cancellable, error);
  if (a->agent != NULL)
    conn = bgr_agent_conn_ref (a->agent);
  g_mutex_unlock (&a->lock);
  if (conn == NULL && error != NULL && *error != NULL)
    g_prefix_error (error, "cannot reach the guest agent of VM '%s': ", bgr_record_str (doc, "name"));
  return conn;
}

void
bgr_vm_agent_set (BgrEngine *engine, const char *name, BgrAgentConn *conn)
{
  VmAgent *a = agent_of (engine, name);

  g_mutex_lock (&a->lock);
  g_clear_pointer (&a->agent, bgr_agent_conn_unref);
  a->agent = conn;
  g_mutex_unlock (&a->lock);
}

void
bgr_vm_agent_drop (BgrEngine *engine, const char *name)
{
  VmAgent *a = agent_of (engine, name);
  BgrAgentConn *old;

  g_mutex_lock (&a->lock);
  old = g_steal_pointer (&a->agent);
  g_mutex_unlock (&a->lock);
  if (old != NULL)
    bgr_agent_conn_unref (old);
}

void
bgr_vm_agent_exec_begin (BgrEngine *engine, const char *name)
{
  g_atomic_int_inc (&agent_of (engine, name)->execs);
}

void
bgr_vm_agent_exec_end (BgrEngine *engine, const char *name)
{
  g_atomic_int_dec_and_test (&agent_of (engine, name)->execs);
}

gboolean
bgr_vm_agent_execs_running (BgrEngine *engine, const char *name)
{
  return g_atomic_int_get (&agent_of (engine, name)->execs) != 0;
}
