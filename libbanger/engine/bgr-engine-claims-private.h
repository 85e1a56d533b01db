/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Claims (bgr-engine-claims.c): an operation that changes a VM (create,
 * start, stop, kill, delete) holds a claim on its name while it runs, and
 * a second one is refused with BGR_ERROR_BUSY rather than left to wait.
 * A claim is a guard: held in a g_autoptr (BgrVmClaim), it is released
 * when it goes out of scope, on every return path. */
#pragma once

#include "engine/bgr-engine-core-private.h"

G_BEGIN_DECLS

typedef struct _BgrVmClaim BgrVmClaim;

BgrVmClaims *bgr_vm_claims_new (void);
void bgr_vm_claims_free (BgrVmClaims *claims);

/* Claims VM @name for @what ("starting", ...); BGR_ERROR_BUSY when another
 * operation holds it. */
BgrVmClaim *bgr_vm_claim (BgrEngine *engine, const char *name, const char *what, GError **error);
void bgr_vm_claim_release (BgrVmClaim *claim);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrVmClaim, bgr_vm_claim_release)

/* TRUE while an operation (create, start, stop...) holds VM @name. */
gboolean bgr_engine_vm_is_busy (BgrEngine *engine, const char *name);

/* vm kill while a stop holds the VM: the holder is told, and the stop
 * records that the VM was killed. */
void bgr_vm_claim_request_kill (BgrEngine *engine, const char *name);
gboolean bgr_vm_claim_kill_requested (BgrVmClaim *claim);

G_END_DECLS
