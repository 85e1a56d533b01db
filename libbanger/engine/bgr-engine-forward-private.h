/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TCP into the guest (bgr-engine-forward.c): `vm proxy` (one connection
 * bridged to the caller's descriptors) and `vm forward` (a host port whose
 * connections go to a guest port, kept in the VM's record and listened on
 * while the supervising engine, bangerd, lives). */
#pragma once

#include "engine/bgr-engine-core-private.h"

G_BEGIN_DECLS

BgrVmForwards *bgr_vm_forwards_new (void);
/* After bgr_vm_forwards_stop(). */
void bgr_vm_forwards_free (BgrVmForwards *forwards);
/* Closes every listener and ends their connections; waits for them. */
void bgr_vm_forwards_stop (BgrEngine *engine);
/* Listens for the forwards of every VM's record (bangerd's start). One
 * that cannot listen is logged and kept in its record. */
void bgr_vm_forwards_restore (BgrEngine *engine);
/* Stops VM @name's listeners (the VM is deleted). */
void bgr_vm_forwards_forget (BgrEngine *engine, const char *name);

G_END_DECLS
