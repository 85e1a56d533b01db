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
/* At the engine's start: undoes the creates an engine that died left
 * before their VMM was recorded, reconciles every other VM record, and
 * says which VMs it found running. */
void bgr_engine_adopt_vms (BgrEngine *engine);
/* TRUE, with BGR_ERROR_BUSY, when an operation is starting or stopping
 * the reconciled VM @doc (perhaps one adopted after a restart): it ends
 * soon, one way or the other. */
gboolean bgr_vm_in_flight (BgrEngine *engine, JsonObject *doc, GError **error);
/* The record of VM @name, reconciled; BGR_ERROR_INVALID_ARGUMENT unless it
 * is running, BGR_ERROR_BUSY while an operation starts or stops it. */
JsonObject *bgr_vm_load_running (BgrEngine *engine, const char *name, GError **error);

G_END_DECLS
