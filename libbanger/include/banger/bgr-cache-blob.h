/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__BANGER_H_INSIDE__) && !defined(BANGER_COMPILATION)
#error "Only <banger/banger.h> can be included directly."
#endif

#include <glib-object.h>
#include <banger/bgr-macros.h>

G_BEGIN_DECLS

/**
 * BgrCacheBlob:
 *
 * An entry of the image cache: a layer blob of the OCI layer cache
 * (category "blob"), a blob still downloading or left by a killed pull
 * ("partial", DIGEST.part), or a prepared VM base ("vm-base"). Each has a
 * name, a size, its file and the images that use it (none: `image cache
 * prune` removes it; a partial blob goes unless a live pull holds it).
 *
 * Since: 0.1
 */
#define BGR_TYPE_CACHE_BLOB (bgr_cache_blob_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrCacheBlob, bgr_cache_blob, BGR, CACHE_BLOB, GObject)

BGR_EXTERN const char *bgr_cache_blob_get_digest (BgrCacheBlob *self);
BGR_EXTERN gint64 bgr_cache_blob_get_size (BgrCacheBlob *self);
BGR_EXTERN const char *bgr_cache_blob_get_category (BgrCacheBlob *self);
BGR_EXTERN const char *bgr_cache_blob_get_name (BgrCacheBlob *self);
BGR_EXTERN const char *bgr_cache_blob_get_path (BgrCacheBlob *self);
BGR_EXTERN gboolean bgr_cache_blob_get_in_use (BgrCacheBlob *self);
BGR_EXTERN char **bgr_cache_blob_dup_images (BgrCacheBlob *self);
BGR_EXTERN char *bgr_cache_blob_to_json (BgrCacheBlob *self);
BGR_EXTERN GVariant *bgr_cache_blob_to_variant (BgrCacheBlob *self);

G_END_DECLS
