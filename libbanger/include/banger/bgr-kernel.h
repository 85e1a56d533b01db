/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__BANGER_H_INSIDE__) && !defined(BANGER_COMPILATION)
#error "Only <banger/banger.h> can be included directly."
#endif

#include <glib-object.h>
#include <banger/bgr-macros.h>

G_BEGIN_DECLS

/**
 * BgrKernel:
 *
 * A managed kernel: the kernel image (an ELF vmlinux or a bzImage), an
 * optional modules tree and an optional initrd, copied into banger's state
 * directory. Images refer to kernels by name. A #BgrKernel is a snapshot
 * of the record; it does not change when the kernel does.
 *
 * Since: 0.1
 */
#define BGR_TYPE_KERNEL (bgr_kernel_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrKernel, bgr_kernel, BGR, KERNEL, GObject)

BGR_EXTERN const char *bgr_kernel_get_name (BgrKernel *self);
BGR_EXTERN const char *bgr_kernel_get_version (BgrKernel *self);
BGR_EXTERN const char *bgr_kernel_get_format (BgrKernel *self);
BGR_EXTERN const char *bgr_kernel_get_kernel_path (BgrKernel *self);
BGR_EXTERN const char *bgr_kernel_get_initrd_path (BgrKernel *self);
BGR_EXTERN gboolean bgr_kernel_get_initrd_generated (BgrKernel *self);
BGR_EXTERN const char *bgr_kernel_get_modules_dir (BgrKernel *self);
BGR_EXTERN const char *bgr_kernel_get_source (BgrKernel *self);
BGR_EXTERN gint64 bgr_kernel_get_size (BgrKernel *self);
BGR_EXTERN char *bgr_kernel_to_json (BgrKernel *self);
BGR_EXTERN GVariant *bgr_kernel_to_variant (BgrKernel *self);

G_END_DECLS
