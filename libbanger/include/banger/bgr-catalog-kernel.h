/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__BANGER_H_INSIDE__) && !defined(BANGER_COMPILATION)
#error "Only <banger/banger.h> can be included directly."
#endif

#include <glib-object.h>
#include <banger/bgr-macros.h>

G_BEGIN_DECLS

/**
 * BgrCatalogKernel:
 *
 * A kernel the kernel catalog offers (`banger kernel list --available`):
 * name, version, architecture, description, source ("download" or "apt")
 * and the bytes a pull downloads (0 for an apt package, whose size the
 * archive decides).
 *
 * Since: 0.1
 */
#define BGR_TYPE_CATALOG_KERNEL (bgr_catalog_kernel_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrCatalogKernel, bgr_catalog_kernel, BGR, CATALOG_KERNEL, GObject)

BGR_EXTERN const char *bgr_catalog_kernel_get_name (BgrCatalogKernel *self);
BGR_EXTERN const char *bgr_catalog_kernel_get_version (BgrCatalogKernel *self);
BGR_EXTERN const char *bgr_catalog_kernel_get_arch (BgrCatalogKernel *self);
BGR_EXTERN const char *bgr_catalog_kernel_get_description (BgrCatalogKernel *self);
BGR_EXTERN const char *bgr_catalog_kernel_get_source (BgrCatalogKernel *self);
BGR_EXTERN gint64 bgr_catalog_kernel_get_size (BgrCatalogKernel *self);
BGR_EXTERN char *bgr_catalog_kernel_to_json (BgrCatalogKernel *self);
BGR_EXTERN GVariant *bgr_catalog_kernel_to_variant (BgrCatalogKernel *self);

G_END_DECLS
