/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrCatalogKernel and BgrCacheBlob: read-only views of a catalog entry
 * and of an entry of the image cache. */
#include "config.h"

#include "bgr-error-private.h"
#include "bgr-records-private.h"

#define str_member bgr_record_str
#define int_member bgr_record_int
#define bool_member bgr_record_bool

/* ---- BgrCatalogKernel ----------------------------------------------------- */

struct _BgrCatalogKernel {
  GObject parent_instance;
  JsonObject *doc;
};

G_DEFINE_FINAL_TYPE (BgrCatalogKernel, bgr_catalog_kernel, G_TYPE_OBJECT)

static void
bgr_catalog_kernel_finalize (GObject *object)
{
  g_clear_pointer (&BGR_CATALOG_KERNEL (object)->doc, json_object_unref);
  G_OBJECT_CLASS (bgr_catalog_kernel_parent_class)->finalize (object);
}

static void
bgr_catalog_kernel_class_init (BgrCatalogKernelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_catalog_kernel_finalize;
}

static void
bgr_catalog_kernel_init (BgrCatalogKernel *self)
{
}

BgrCatalogKernel *
bgr_catalog_kernel_new_from_json (JsonObject *doc)
{
  BgrCatalogKernel *self = g_object_new (BGR_TYPE_CATALOG_KERNEL, NULL);
  self->doc = json_object_ref (doc);
  return self;
}

#define CATALOG_STR(fn, member)                                 \
  const char *fn (BgrCatalogKernel *self)                       \
  {                                                             \
    g_return_val_if_fail (BGR_IS_CATALOG_KERNEL (self), NULL);  \
    return str_member (self->doc, member);                      \
  }

/**
 * bgr_catalog_kernel_get_name:
 * @self: a #BgrCatalogKernel
 *
 * Like it, bgr_catalog_kernel_get_version(), _get_arch(),
 * _get_description() and _get_source() return borrowed strings.
 *
 * Returns: (transfer none): the name `banger kernel pull` takes
 * Since: 0.1
 */
CATALOG_STR (bgr_catalog_kernel_get_name, "name")
CATALOG_STR (bgr_catalog_kernel_get_version, "version")
CATALOG_STR (bgr_catalog_kernel_get_arch, "arch")
CATALOG_STR (bgr_catalog_kernel_get_description, "description")
CATALOG_STR (bgr_catalog_kernel_get_source, "source")

/**
 * bgr_catalog_kernel_get_size:
 * @self: a #BgrCatalogKernel
 *
 * Returns: bytes a pull downloads, 0 when the catalog cannot say
 * Since: 0.1
 */
gint64
bgr_catalog_kernel_get_size (BgrCatalogKernel *self)
{
  g_return_val_if_fail (BGR_IS_CATALOG_KERNEL (self), 0);
  return int_member (self->doc, "size");
}

/**
 * bgr_catalog_kernel_to_json:
 * @self: a #BgrCatalogKernel
 *
 * Returns: (transfer full): name, version, arch, description, source, size
 * Since: 0.1
 */
char *
bgr_catalog_kernel_to_json (BgrCatalogKernel *self)
{
  g_return_val_if_fail (BGR_IS_CATALOG_KERNEL (self), NULL);
  return bgr_record_public_json (self->doc);
}

/**
 * bgr_catalog_kernel_to_variant:
 * @self: a #BgrCatalogKernel
 *
 * Returns: (transfer floating): the entry as a{sv}
 * Since: 0.1
 */
GVariant *
bgr_catalog_kernel_to_variant (BgrCatalogKernel *self)
{
  g_return_val_if_fail (BGR_IS_CATALOG_KERNEL (self), NULL);
  return bgr_record_to_variant (self->doc);
}

/* ---- BgrCacheBlob --------------------------------------------------------- */

struct _BgrCacheBlob {
  GObject parent_instance;
  JsonObject *doc;
};

G_DEFINE_FINAL_TYPE (BgrCacheBlob, bgr_cache_blob, G_TYPE_OBJECT)

static void
bgr_cache_blob_finalize (GObject *object)
{
  g_clear_pointer (&BGR_CACHE_BLOB (object)->doc, json_object_unref);
  G_OBJECT_CLASS (bgr_cache_blob_parent_class)->finalize (object);
}

static void
bgr_cache_blob_class_init (BgrCacheBlobClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_cache_blob_finalize;
}

static void
bgr_cache_blob_init (BgrCacheBlob *self)
{
}

BgrCacheBlob *
bgr_cache_blob_new_from_json (JsonObject *doc)
{
  BgrCacheBlob *self = g_object_new (BGR_TYPE_CACHE_BLOB, NULL);
  self->doc = json_object_ref (doc);
  return self;
}

/**
 * bgr_cache_blob_get_digest:
 * @self: a #BgrCacheBlob
 *
 * Returns: (transfer none) (nullable): the blob's digest, "sha256:..."
 *   (for a partial blob: the blob it will be), %NULL for a VM base
 * Since: 0.1
 */
const char *
bgr_cache_blob_get_digest (BgrCacheBlob *self)
{
  g_return_val_if_fail (BGR_IS_CACHE_BLOB (self), NULL);
  return str_member (self->doc, "digest");
}

/**
 * bgr_cache_blob_dup_images:
 * @self: a #BgrCacheBlob
 *
 * Returns: (transfer full): the names of the images that use the entry
 *   (built from a blob, leading to a VM base), an empty list when none
 *   (always for a partial blob)
 * Since: 0.2
 */
char **
bgr_cache_blob_dup_images (BgrCacheBlob *self)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  JsonNode *n;

  g_return_val_if_fail (BGR_IS_CACHE_BLOB (self), NULL);
  n = json_object_get_member (self->doc, "images");
  if (n != NULL && JSON_NODE_HOLDS_ARRAY (n))
    for (guint i = 0; i < json_array_get_length (json_node_get_array (n)); i++)
      g_strv_builder_add (b, json_array_get_string_element (json_node_get_array (n), i));
  return g_strv_builder_end (b);
}

/**
 * bgr_cache_blob_get_size:
 * @self: a #BgrCacheBlob
 *
 * Returns: the blob's size in bytes (a partial blob: what arrived so
 *   far; a VM base: what the sparse file takes on disk)
 * Since: 0.1
 */
gint64
bgr_cache_blob_get_size (BgrCacheBlob *self)
{
  g_return_val_if_fail (BGR_IS_CACHE_BLOB (self), 0);
  return int_member (self->doc, "size");
}

/**
 * bgr_cache_blob_get_category:
 * @self: a #BgrCacheBlob
 *
 * Returns: (transfer none): "blob" (a verified layer or config blob),
 *   "partial" (DIGEST.part: a download under way, or left by a killed
 *   pull) or "vm-base" (a prepared VM base, CACHE/vm-bases/)
 * Since: 0.2
 */
const char *
bgr_cache_blob_get_category (BgrCacheBlob *self)
{
  const char *kind;

  g_return_val_if_fail (BGR_IS_CACHE_BLOB (self), NULL);
  kind = str_member (self->doc, "category");
  return kind != NULL ? kind : "blob";
}

/**
 * bgr_cache_blob_get_name:
 * @self: a #BgrCacheBlob
 *
 * Returns: (transfer none): the entry's name: the digest of a blob, the
 *   file name of a partial blob or a VM base
 * Since: 0.2
 */
const char *
bgr_cache_blob_get_name (BgrCacheBlob *self)
{
  g_return_val_if_fail (BGR_IS_CACHE_BLOB (self), NULL);
  return str_member (self->doc, "name");
}

/**
 * bgr_cache_blob_get_path:
 * @self: a #BgrCacheBlob
 *
 * Returns: (transfer none) (nullable): the entry's file
 * Since: 0.2
 */
const char *
bgr_cache_blob_get_path (BgrCacheBlob *self)
{
  g_return_val_if_fail (BGR_IS_CACHE_BLOB (self), NULL);
  return str_member (self->doc, "path");
}

/**
 * bgr_cache_blob_get_in_use:
 * @self: a #BgrCacheBlob
 *
 * Returns: whether a pull under way uses it: for a partial blob, that a
 *   live download holds its lock or a running pull a lease on the blob;
 *   for a blob, that a running pull, in this process or another sharing
 *   the cache directory, holds a lease on it (prune leaves both). Always
 *   %FALSE for a VM base.
 * Since: 0.2
 */
gboolean
bgr_cache_blob_get_in_use (BgrCacheBlob *self)
{
  JsonNode *n;

  g_return_val_if_fail (BGR_IS_CACHE_BLOB (self), FALSE);
  n = json_object_get_member (self->doc, "in_use");
  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN
         && json_node_get_boolean (n);
}

/**
 * bgr_cache_blob_to_json:
 * @self: a #BgrCacheBlob
 *
 * Returns: (transfer full): name, category, digest, path, size, images, in_use
 * Since: 0.1
 */
char *
bgr_cache_blob_to_json (BgrCacheBlob *self)
{
  g_return_val_if_fail (BGR_IS_CACHE_BLOB (self), NULL);
  return bgr_record_public_json (self->doc);
}

/**
 * bgr_cache_blob_to_variant:
 * @self: a #BgrCacheBlob
 *
 * Returns: (transfer floating): the entry as a{sv}
 * Since: 0.1
 */
GVariant *
bgr_cache_blob_to_variant (BgrCacheBlob *self)
{
  g_return_val_if_fail (BGR_IS_CACHE_BLOB (self), NULL);
  return bgr_record_to_variant (self->doc);
}
