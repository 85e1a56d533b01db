/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reconciliation (bgr-engine-reconcile.c): makes the VM records converge
 * with the VMM processes that are (or are no longer) there after a
 * restart of the engine, a kill -9 or a host reboot, or when a guest
 * powers itself off. */
#pragma once

#include "engine/bgr-engine-core-private.h"

G_BEGIN_DECLS

/* Brings @doc in line with the world: a live state whose VMM is gone
 * becomes stopped (or error, if it never got ready) with the reason.
 * Returns TRUE when @doc changed (and was saved). A VM some operation
 * holds is left to that operation, unless the caller is that operation
 * (@claimed). */
gboolean bgr_vm_reconcile (BgrEngine *engine, JsonObject *doc, gboolean claimed);
/* Every VM record (the supervisor, every second). */
void bgr_vm_reconcile_all (BgrEngine *engine);
/* At the engine's start: reconciles every VM record, and says which VMs
 * it found running. */
void bgr_engine_adopt_vms (BgrEngine *engine);
/* The record of VM @name, reconciled; BGR_ERROR_INVALID_ARGUMENT unless it
 * is running. */
JsonObject *bgr_vm_load_running (BgrEngine *engine, const char *name, GError **error);

G_END_DECLS
