/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the engine asks a running guest (bgr-engine-guest.c): exec, ports
 * and stats, and the samples the supervisor takes and vm stats reuses. */
#pragma once

#include "engine/bgr-engine-core-private.h"

G_BEGIN_DECLS

BgrVmSamples *bgr_vm_samples_new (void);
void bgr_vm_samples_free (BgrVmSamples *samples);

/* The guest's side of a sample, from its agent. */
JsonObject *bgr_vm_sample_guest (BgrEngine *engine, JsonObject *doc, GCancellable *cancellable,
                                 GError **error);
/* The VMM's side, from outside the guest. */
JsonObject *bgr_vm_sample_vmm (JsonObject *doc);
/* Keeps @sample as VM @name's latest guest sample, the one before as the
 * previous; returns the guest CPU use between the two (per mille), or -1
 * when unknown. */
gint64 bgr_vm_samples_remember_guest (BgrEngine *engine, const char *name, JsonObject *sample);
/* Keeps @sample as VM @name's latest VMM sample; returns the network bytes
 * moved since the one before (0 when there was none). */
gint64 bgr_vm_samples_remember_vmm (BgrEngine *engine, const char *name, JsonObject *sample);
/* Drops the samples of VM @name (it was deleted). */
void bgr_vm_samples_forget (BgrEngine *engine, const char *name);

G_END_DECLS
