/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VM networking (bgr-engine-vmnet.c). */
#pragma once

#include "engine/bgr-engine-core-private.h"

G_BEGIN_DECLS

/* Gives @doc a tap, an address and the kernel ip= argument when this
 * engine can configure the host network, and saves it. */
gboolean bgr_engine_vm_network_prepare (BgrEngine *engine, JsonObject *doc, GError **error);
void bgr_engine_vm_network_release (BgrEngine *engine, JsonObject *doc);

G_END_DECLS
