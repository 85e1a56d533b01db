/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who uses what (bgr-engine-usage.c): which VMs were made from which
 * image, and which images (and so which VMs) boot which managed kernel.
 * It answers "can this image or kernel be deleted" so that the image and
 * kernel code need not call into the VM code.
 *
 * Every question is asked and every change told with the engine lock
 * held: an answer stays true until the asker lets go of the lock, which it
 * keeps until the record is gone. A VM counts as a user of its image from
 * the moment its create claims the name, before its record exists. */
#pragma once

#include "engine/bgr-engine-core-private.h"

G_BEGIN_DECLS

BgrEngineUsage *bgr_engine_usage_new (void);
void bgr_engine_usage_free (BgrEngineUsage *usage);
/* Reads the image and VM records (the root calls it once, at start). */
void bgr_engine_usage_load (BgrEngine *engine);

/* The rest is called with the engine lock held. */

/* VM @vm is made from image @image; BGR_ERROR_NOT_FOUND when there is no
 * such image (any more). */
gboolean bgr_engine_usage_add_vm (BgrEngine *engine, const char *vm, const char *image,
                                  GError **error);
void bgr_engine_usage_remove_vm (BgrEngine *engine, const char *vm);
/* Image @image boots managed kernel @kernel_ref (NULL: a kernel file). */
void bgr_engine_usage_add_image (BgrEngine *engine, const char *image, const char *kernel_ref);
void bgr_engine_usage_remove_image (BgrEngine *engine, const char *image);

/* TRUE when nothing uses it; else FALSE with BGR_ERROR_BUSY naming the
 * users. */
gboolean bgr_engine_usage_can_delete_image (BgrEngine *engine, const char *image,
                                            GError **error);
gboolean bgr_engine_usage_can_delete_kernel (BgrEngine *engine, const char *kernel,
                                             GError **error);

G_END_DECLS
