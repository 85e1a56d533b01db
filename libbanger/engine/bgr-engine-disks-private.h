/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Disks (bgr-engine-disks.c): the prepared bases VMs are cloned from (an
 * image with the guest agent and its kernel's modules put in), a VM's own
 * disks, and pruning the bases no image leads to any more. */
#pragma once

#include "engine/bgr-engine-core-private.h"

G_BEGIN_DECLS

/* The base for @img, made now when there is none. *out_made says whether
 * it had to be. */
char *bgr_vm_disks_prepare_base (BgrEngine *engine, BgrImage *img, gboolean *out_made,
                                 GCancellable *cancellable, GError **error);
/* Clones the VM's disks into DIR (the record's "dir"): its rootfs from
 * @base, grown to @disk_size when larger, and its work disk (mounted at
 * /root in the guest): the image's work-seed grown to @work_size, or an
 * empty ext4 of @work_size (0: BGR_WORK_SIZE_DEFAULT). Records them in
 * @doc ("work_disk", "work_size"). */
gboolean bgr_vm_disks_clone (JsonObject *doc, BgrImage *img, const char *base, guint64 disk_size,
                             guint64 work_size, GCancellable *cancellable, GError **error);
/* A VM's work disk when neither the call nor the work-seed says more: 8
 * GiB (a sparse file: it takes what the guest writes). */
#define BGR_WORK_SIZE_DEFAULT (G_GUINT64_CONSTANT (8) << 30)
/* The largest disk banger makes (a VM's rootfs, a pulled image): 16 TiB,
 * the largest file ext4 with 4 KiB blocks holds. */
#define BGR_DISK_SIZE_MAX (G_GUINT64_CONSTANT (16) << 40)
/* Refuses a disk size (option @key of the call) of 0 or over
 * BGR_DISK_SIZE_MAX, before any work starts. */
gboolean bgr_disk_size_check (const char *key, guint64 size, GError **error);
/* Removes prepared VM bases no image leads to; adds to the counts. Takes
 * the engine lock for a moment: call it without. */
void bgr_engine_prune_vm_bases (BgrEngine *engine, guint64 *freed, guint *removed);
/* Appends the bases to @out as BgrCacheBlob entries (kind "vm-base"), each
 * with the images that lead to it. Called without the engine lock. */
void bgr_engine_list_vm_bases (BgrEngine *engine, GPtrArray *out);
G_END_DECLS
