/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What banger puts into a guest when it boots (bgr-engine-provision.c):
 * the host's coding-agent logins and banger's SSH key, sshd started. */
#pragma once

#include "engine/bgr-engine-core-private.h"

G_BEGIN_DECLS

/* Best effort, after the agent answered at create/start: failures are logged. */
void bgr_vm_provision (BgrEngine *engine, JsonObject *doc, GCancellable *cancellable);

G_END_DECLS
