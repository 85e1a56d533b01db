/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The writing side of BgrOperation, for the engine and the backends. */
#pragma once

#include <banger/banger.h>

G_BEGIN_DECLS

/* Records progress and emits ::changed (see bgr-operation.h for the
 * thread). @op may be NULL: nothing happens. NULL @phase or @message keep
 * the current one. */
void bgr_operation_update (BgrOperation *op, const char *phase, const char *message,
                           guint64 done, guint64 total);
void bgr_operation_set_object_path (BgrOperation *op, const char *path);

/* The cancellable a call should watch: @cancellable and @op's, whichever
 * is cancelled first. Free with bgr_call_cancellable_free(). */
typedef struct _BgrCallCancellable BgrCallCancellable;
BgrCallCancellable *bgr_call_cancellable_new (BgrOperation *op, GCancellable *cancellable);
GCancellable *bgr_call_cancellable_get (BgrCallCancellable *cc);
void bgr_call_cancellable_free (BgrCallCancellable *cc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrCallCancellable, bgr_call_cancellable_free)

G_END_DECLS
