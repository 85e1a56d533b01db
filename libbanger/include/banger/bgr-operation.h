/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__BANGER_H_INSIDE__) && !defined(BANGER_COMPILATION)
#error "Only <banger/banger.h> can be included directly."
#endif

#include <gio/gio.h>
#include <banger/bgr-macros.h>

G_BEGIN_DECLS

/**
 * BgrOperation:
 *
 * The progress and the cancellation of one long call (image and kernel
 * pulls, kernel imports, VM create and start, image promote). Create one
 * with bgr_operation_new(), pass it to the call, and read it when its
 * #BgrOperation::changed signal fires; bgr_operation_cancel() stops the
 * call, which then fails with %BGR_ERROR_CANCELLED and leaves nothing
 * behind.
 *
 * Progress is a phase ("download", "layer 2/5", "boot"...), a message,
 * and @done of @total units: bytes for transfers, steps for VM boots
 * (total 0: unknown).
 *
 * #BgrOperation::changed is emitted in the thread-default main context of
 * the thread that created the operation: directly when that thread does
 * the work (a blocking call), else from an idle in that context (an
 * `_async` call, whose work runs in a worker thread).
 *
 * Through D-Bus, the daemon exports the operation as an object with the
 * same properties and a Cancel() method; bgr_operation_dup_object_path()
 * names it.
 *
 * Since: 0.2
 */
#define BGR_TYPE_OPERATION (bgr_operation_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrOperation, bgr_operation, BGR, OPERATION, GObject)

BGR_EXTERN BgrOperation *bgr_operation_new (void);
BGR_EXTERN char *bgr_operation_dup_phase (BgrOperation *self);
BGR_EXTERN char *bgr_operation_dup_message (BgrOperation *self);
BGR_EXTERN guint64 bgr_operation_get_done (BgrOperation *self);
BGR_EXTERN guint64 bgr_operation_get_total (BgrOperation *self);
BGR_EXTERN double bgr_operation_get_fraction (BgrOperation *self);
BGR_EXTERN char *bgr_operation_dup_object_path (BgrOperation *self);
BGR_EXTERN void bgr_operation_cancel (BgrOperation *self);
BGR_EXTERN gboolean bgr_operation_is_cancelled (BgrOperation *self);
BGR_EXTERN GCancellable *bgr_operation_get_cancellable (BgrOperation *self);

G_END_DECLS
