/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VM networking glue: not wired yet, VMs have no network interface. */
#include "config.h"

#include "engine/bgr-engine-private.h"

gboolean
bgr_engine_vm_network_prepare (BgrEngine *engine, JsonObject *doc, GError **error)
{
  (void) engine;
  (void) doc;
  (void) error;
  return TRUE;
}

void
bgr_engine_vm_network_release (BgrEngine *engine, JsonObject *doc)
{
  (void) engine;
  (void) doc;
}
