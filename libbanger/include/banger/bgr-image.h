/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__BANGER_H_INSIDE__) && !defined(BANGER_COMPILATION)
#error "Only <banger/banger.h> can be included directly."
#endif

#include <glib-object.h>
#include <banger/bgr-macros.h>

G_BEGIN_DECLS

/**
 * BgrImage:
 *
 * A bootable image set: an ext4 rootfs, an optional ext4 work-seed, a
 * kernel (a file, or a managed kernel named by kernel_ref), an optional
 * initrd and an optional modules tree. A registered image is unmanaged:
 * banger points at the user's files and never deletes them; a promoted
 * image owns copies in banger's state directory. A #BgrImage is a
 * snapshot of the record.
 *
 * Since: 0.1
 */
#define BGR_TYPE_IMAGE (bgr_image_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrImage, bgr_image, BGR, IMAGE, GObject)

BGR_EXTERN const char *bgr_image_get_name (BgrImage *self);
BGR_EXTERN gboolean bgr_image_get_managed (BgrImage *self);
BGR_EXTERN const char *bgr_image_get_rootfs_path (BgrImage *self);
BGR_EXTERN const char *bgr_image_get_work_seed_path (BgrImage *self);
BGR_EXTERN const char *bgr_image_get_kernel_path (BgrImage *self);
BGR_EXTERN const char *bgr_image_get_kernel_ref (BgrImage *self);
BGR_EXTERN const char *bgr_image_get_initrd_path (BgrImage *self);
BGR_EXTERN const char *bgr_image_get_modules_dir (BgrImage *self);
BGR_EXTERN const char *bgr_image_get_source (BgrImage *self);
BGR_EXTERN gint64 bgr_image_get_size (BgrImage *self);
BGR_EXTERN char *bgr_image_to_json (BgrImage *self);
BGR_EXTERN GVariant *bgr_image_to_variant (BgrImage *self);

G_END_DECLS
