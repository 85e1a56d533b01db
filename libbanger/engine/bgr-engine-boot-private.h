/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Boot (bgr-engine-boot.c): the hypervisor and accelerator choice, and
 * booting a VM record until its guest agent answers. */
#pragma once

#include "engine/bgr-engine-core-private.h"

G_BEGIN_DECLS

/* Reports phase @step of @n to @op (may be NULL). */
void bgr_vm_report (BgrOperation *op, const char *phase, guint step,
                    guint n);

/* Starts the VMM for @doc and waits for the agent (progress steps
 * @first_step to @first_step + 2 of @n_steps), and hands the agent
 * connection to the guest channel. When KVM chosen by "auto" turns out not
 * to run guests here, boots again under TCG. On failure the VMM is
 * killed, the record says "error" with the reason, and the error names the
 * phase and quotes the console. Called with the VM claimed. */
gboolean bgr_vm_boot (BgrEngine *engine, JsonObject *doc, guint first_step, guint n_steps,
                      BgrOperation *op,
                      GCancellable *cancellable, GError **error);

/* Finishes the boot of @doc, left "starting" with a live VMM by an engine
 * that went away: waits for its agent again (the usual boot timeout), and
 * ends "running" with the guest's facts, or "error" with the reason (the
 * VMM killed). When @cancellable is cancelled (this engine is going away
 * too), leaves the record and the VMM as they are for the next engine.
 * Called with the VM claimed. */
gboolean bgr_vm_boot_adopted (BgrEngine *engine, JsonObject *doc, GCancellable *cancellable,
                              GError **error);

G_END_DECLS
