/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VM records and state (bgr-engine-vm-record.c): the "vm" records of the
 * store, their names, states and public view, and what a VM's console
 * log says about why its guest went away. */
#pragma once

#include "engine/bgr-engine-core-private.h"
#include "vmm/bgr-vmm-private.h"

G_BEGIN_DECLS

#define BGR_VM_KIND "vm"

gint64 bgr_vm_now_s (void);
/* running, starting and stopping: states with a VMM behind them. */
gboolean bgr_vm_state_is_live (const char *state);
/* The VMM process a record names, or NULL. */
BgrVmmInstance *bgr_vm_record_instance (JsonObject *doc);

gboolean bgr_vm_check_name (const char *name, GError **error);
JsonObject *bgr_vm_record_load (BgrEngine *engine, const char *name, GError **error);
/* Saves @doc under the engine lock. */
gboolean bgr_vm_record_save (BgrEngine *engine, JsonObject *doc, GError **error);
/* The public, flat view of a record. */
BgrVm *bgr_vm_record_view (JsonObject *doc);
/* Records activity now on the stored record of a running VM. */
void bgr_vm_record_touch (BgrEngine *engine, const char *name);

goffset bgr_vm_file_size (const char *path);
/* Why a guest went away, read from the end of its console. */
char *bgr_vm_exit_reason (const char *console_log);

G_END_DECLS
