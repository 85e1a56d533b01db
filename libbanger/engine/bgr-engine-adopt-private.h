/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Adoption of what was in flight (bgr-engine-adopt.c): an engine that
 * starts after another went away mid-operation (a kill -9 of bangerd
 * during `vm create`, `vm start` or `vm stop`) finishes what it finds
 * "starting" or "stopping" with a live VMM, in the background, one thread
 * per VM holding the VM's claim, so that nothing stays in a transitional
 * state and user calls meanwhile get BGR_ERROR_BUSY. */
#pragma once

#include "engine/bgr-engine-core-private.h"

G_BEGIN_DECLS

BgrVmAdoptions *bgr_vm_adoptions_new (void);
/* After bgr_vm_adoptions_stop(). */
void bgr_vm_adoptions_free (BgrVmAdoptions *adoptions);

/* At the engine's start, after reconciliation: claims every VM left
 * "starting" or "stopping" with a live VMM and finishes it in a thread. A
 * "starting" VM waits for its agent again (the usual boot timeout) and
 * ends "running" or "error"; a "stopping" one is stopped as `vm stop`
 * does. Returns at once. */
void bgr_vm_adopt_in_flight (BgrEngine *engine);
/* Before the engine goes: cancels what is still waiting and joins the
 * threads. What was cancelled stays as it was, for the next engine. */
void bgr_vm_adoptions_stop (BgrEngine *engine);

G_END_DECLS
