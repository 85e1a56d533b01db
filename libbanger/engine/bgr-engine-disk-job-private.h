/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A new VM's work disk written while the VM boots (bgr-engine-disk-job.c):
 * vm run's workspace goes in as the guest kernel starts rather than before
 * it. The disk starts with BGR_AGENT_WORK_BUSY_MARK until the write is
 * done, and the guest's agent waits for that before it mounts the disk. */
#pragma once

#include <json-glib/json-glib.h>

#include "bgr-operation-private.h"

G_BEGIN_DECLS

/* What is written. @begin runs before the VMM starts, with the disk
 * already marked busy (no VMM has it open yet): it returns FALSE with no
 * error when it has nothing to write there after all, and a failure undoes
 * the create. @write then runs in a thread of its own while the guest
 * boots, or, with @before_boot (a write that could outlast the boot's wait
 * for the agent), before the VMM starts, its failure undoing the create. */
typedef struct {
  gboolean (*begin) (const char *rootfs, const char *work_disk, gpointer data, BgrOperation *op,
                     GError **error);
  gboolean (*write) (gpointer data, GCancellable *cancellable, GError **error);
  gpointer data;
  gboolean before_boot;
} BgrVmDiskWrite;

typedef struct _BgrVmDiskJob BgrVmDiskJob;

/* Marks the work disk @doc names busy and runs @dw's begin; when it has
 * something to write, starts the write and sets *out_job (and the record's
 * "work_disk_busy", which tells the next engine that a crash interrupted
 * the create). *out_job stays NULL when there is nothing to do; the mark
 * is then gone again. */
gboolean bgr_vm_disk_job_begin (const BgrVmDiskWrite *dw, JsonObject *doc, BgrOperation *op,
                                GCancellable *cancellable, BgrVmDiskJob **out_job,
                                GError **error);
/* What the boot waits on: cancelled when @cancellable (begin's) is, and
 * when the write fails, so that a guest waiting for its disk is not
 * waited for. Owned by @job. */
GCancellable *bgr_vm_disk_job_get_boot_cancellable (BgrVmDiskJob *job);
/* Waits for the write, frees @job, and on success removes the busy mark
 * from the record (the write removed it from the disk). */
gboolean bgr_vm_disk_job_finish (BgrVmDiskJob *job, JsonObject *doc, GError **error);

G_END_DECLS
