/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The guest channel (bgr-engine-agent.c): one connection to the agent of
 * each running VM, made on first use and shared by every caller; boot
 * hands over the one it made while waiting for the guest. */
#pragma once

#include "agent-proto/bgr-agent-client-private.h"
#include "engine/bgr-engine-core-private.h"
#include "vmm/bgr-vmm-private.h"

G_BEGIN_DECLS

#define BGR_VM_AGENT_TIMEOUT_MS (10 * 1000)

BgrVmAgents *bgr_vm_agents_new (void);
void bgr_vm_agents_free (BgrVmAgents *agents);

/* Connects to the agent of a running VM and says HELLO, retrying while the
 * guest is not listening yet, until @timeout_ms or @alive says no. */
BgrAgentConn *bgr_vm_agent_connect (const BgrVmmInstance *inst, gint timeout_ms,
                                    BgrAgentAliveFunc alive, gpointer alive_data,
                                    BgrAgentFacts **out_facts, GCancellable *cancellable,
                                    GError **error);
/* The agent connection of the running VM @doc, made on first use. */
/* Whether the agent of VM @doc said at boot that it has @tool
 * (`banger-vsock-agent --TOOL`). */
gboolean bgr_vm_agent_has_tool (JsonObject *doc, const char *tool);
BgrAgentConn *bgr_vm_agent_get (BgrEngine *engine, JsonObject *doc, GCancellable *cancellable,
                                GError **error);
/* Makes @conn (taken) the connection of VM @name. */
void bgr_vm_agent_set (BgrEngine *engine, const char *name, BgrAgentConn *conn);
/* Forgets the connection of VM @name (its VMM is gone). */
void bgr_vm_agent_drop (BgrEngine *engine, const char *name);

/* vm exec calls running on VM @name (they count as activity). */
void bgr_vm_agent_exec_begin (BgrEngine *engine, const char *name);
void bgr_vm_agent_exec_end (BgrEngine *engine, const char *name);
gboolean bgr_vm_agent_execs_running (BgrEngine *engine, const char *name);

G_END_DECLS
