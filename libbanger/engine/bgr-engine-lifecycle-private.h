/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lifecycle (bgr-engine-lifecycle.c): what other modules need of it
 * besides the public calls in bgr-engine-private.h. */
#pragma once

#include "engine/bgr-engine-claims-private.h"

G_BEGIN_DECLS

/* Stops the live VM @doc, @claim held: the agent, the power button, then
 * a kill, as `vm stop`; the record ends "stopped" with how. With
 * @keep_when_cancelled, a cancellation before the kill leaves the VM
 * "stopping" and its VMM alone (for the next engine) instead of killing it. */
gboolean bgr_vm_stop_claimed (BgrEngine *engine, JsonObject *doc, BgrVmClaim *claim,
                              gboolean keep_when_cancelled, GCancellable *cancellable,
                              GError **error);

G_END_DECLS
