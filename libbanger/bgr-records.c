/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bgr-error-private.h"
#include "bgr-records-private.h"

/* Members of the stored document that are bookkeeping, not data. */
static const char *const internal_members[] = { "schema_version", "kind", NULL };

static const char *
str_member (JsonObject *doc, const char *name)
{
  JsonNode *n = json_object_get_member (doc, name);
  return (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
           ? json_node_get_string (n)
           : NULL;
}

static gint64
int_member (JsonObject *doc, const char *name)
{
  JsonNode *n = json_object_get_member (doc, name);
  return (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64)
           ? json_node_get_int (n)
           : 0;
}

static gboolean
bool_member (JsonObject *doc, const char *name)
{
  JsonNode *n = json_object_get_member (doc, name);
  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN
         && json_node_get_boolean (n);
}

const char *
bgr_record_str (JsonObject *doc, const char *member)
{
  return str_member (doc, member);
}

gint64
bgr_record_int (JsonObject *doc, const char *member)
{
  return int_member (doc, member);
}

char *
bgr_record_public_json (JsonObject *doc)
{
  g_autoptr (JsonObject) copy = json_object_new ();
  g_autoptr (JsonNode) node = NULL;
  GList *members = json_object_get_members (doc);

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (internal_members, l->data))
      json_object_set_member (copy, l->data, json_node_copy (json_object_get_member (doc, l->data)));
  g_list_free (members);
  node = json_node_init_object (json_node_alloc (), copy);
  return json_to_string (node, TRUE);
}

static GVariant *node_to_variant (JsonNode *n);

/* A JSON array as the most specific D-Bus array: as, aa{sv}, or av. */
static GVariant *
array_to_variant (JsonArray *a)
{
  guint len = json_array_get_length (a);
  gboolean strings = TRUE, objects = TRUE;
  GVariantBuilder b;

  for (guint i = 0; i < len; i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      strings = strings && JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING;
      objects = objects && JSON_NODE_HOLDS_OBJECT (e);
    }
  if (len == 0 || strings)
    {
      g_variant_builder_init (&b, G_VARIANT_TYPE_STRING_ARRAY);
      for (guint i = 0; i < len; i++)
        g_variant_builder_add (&b, "s", json_array_get_string_element (a, i));
      return g_variant_builder_end (&b);
    }
  g_variant_builder_init (&b, objects ? G_VARIANT_TYPE ("aa{sv}") : G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < len; i++)
    {
      GVariant *v = node_to_variant (json_array_get_element (a, i));
      if (v == NULL)
        v = g_variant_new_string ("");
      g_variant_builder_add_value (&b, objects ? v : g_variant_new_variant (v));
    }
  return g_variant_builder_end (&b);
}

static GVariant *
node_to_variant (JsonNode *n)
{
  if (JSON_NODE_HOLDS_OBJECT (n))
    return bgr_record_to_variant (json_node_get_object (n));
  if (JSON_NODE_HOLDS_ARRAY (n))
    return array_to_variant (json_node_get_array (n));
  if (!JSON_NODE_HOLDS_VALUE (n))
    return NULL;
  switch (json_node_get_value_type (n))
    {
    case G_TYPE_STRING: return g_variant_new_string (json_node_get_string (n));
    case G_TYPE_INT64: return g_variant_new_int64 (json_node_get_int (n));
    case G_TYPE_BOOLEAN: return g_variant_new_boolean (json_node_get_boolean (n));
    case G_TYPE_DOUBLE: return g_variant_new_double (json_node_get_double (n));
    default: return NULL;
    }
}

/* The D-Bus wire form of a record: strings, integers (x), booleans and
 * doubles, lists as arrays (as, aa{sv}) and nested objects as a{sv}. */
GVariant *
bgr_record_to_variant (JsonObject *doc)
{
  GVariantBuilder b;
  GList *members = json_object_get_members (doc);

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
  for (GList *l = members; l != NULL; l = l->next)
    {
      GVariant *v;

      if (g_strv_contains (internal_members, l->data))
        continue;
      v = node_to_variant (json_object_get_member (doc, l->data));
      if (v != NULL)
        g_variant_builder_add (&b, "{sv}", (const char *) l->data, v);
    }
  g_list_free (members);
  return g_variant_builder_end (&b);
}

static JsonNode *
variant_to_node (GVariant *value)
{
  JsonNode *n = json_node_alloc ();

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr (GVariant) inner = g_variant_get_variant (value);
      json_node_free (n);
      return variant_to_node (inner);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return json_node_init_string (n, g_variant_get_string (value, NULL));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    return json_node_init_int (n, g_variant_get_int64 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
    return json_node_init_int (n, (gint64) g_variant_get_uint64 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
    return json_node_init_int (n, g_variant_get_int32 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
    return json_node_init_int (n, g_variant_get_uint32 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    return json_node_init_boolean (n, g_variant_get_boolean (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    return json_node_init_double (n, g_variant_get_double (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT))
    {
      g_autoptr (JsonObject) o = json_object_new ();
      GVariantIter iter;
      const char *key;
      GVariant *child;

      g_variant_iter_init (&iter, value);
      while (g_variant_iter_next (&iter, "{&sv}", &key, &child))
        {
          JsonNode *c = variant_to_node (child);
          if (c != NULL)
            json_object_set_member (o, key, c);
          g_variant_unref (child);
        }
      return json_node_init_object (n, o);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_ARRAY))
    {
      g_autoptr (JsonArray) a = json_array_new ();
      GVariantIter iter;
      GVariant *child;

      g_variant_iter_init (&iter, value);
      while ((child = g_variant_iter_next_value (&iter)) != NULL)
        {
          JsonNode *c = variant_to_node (child);
          if (c != NULL)
            json_array_add_element (a, c);
          g_variant_unref (child);
        }
      return json_node_init_array (n, a);
    }
  json_node_free (n);
  return NULL;
}

JsonObject *
bgr_record_from_variant (GVariant *dict, GError **error)
{
  g_autoptr (JsonNode) node = NULL;

  if (!g_variant_is_of_type (dict, G_VARIANT_TYPE ("a{sv}")))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "record has type %s, expected a{sv}",
                   g_variant_get_type_string (dict));
      return NULL;
    }
  node = variant_to_node (dict);
  if (str_member (json_node_get_object (node), "name") == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "record without a name");
      return NULL;
    }
  return json_object_ref (json_node_get_object (node));
}

/* ---- BgrKernel ---------------------------------------------------------- */

struct _BgrKernel {
  GObject parent_instance;
  JsonObject *doc;
};

G_DEFINE_FINAL_TYPE (BgrKernel, bgr_kernel, G_TYPE_OBJECT)

static void
bgr_kernel_finalize (GObject *object)
{
  g_clear_pointer (&BGR_KERNEL (object)->doc, json_object_unref);
  G_OBJECT_CLASS (bgr_kernel_parent_class)->finalize (object);
}

static void
bgr_kernel_class_init (BgrKernelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_kernel_finalize;
}

static void
bgr_kernel_init (BgrKernel *self)
{
}

BgrKernel *
bgr_kernel_new_from_json (JsonObject *doc)
{
  BgrKernel *self = g_object_new (BGR_TYPE_KERNEL, NULL);
  self->doc = json_object_ref (doc);
  return self;
}

JsonObject *
bgr_kernel_get_json (BgrKernel *self)
{
  return self->doc;
}

#define KERNEL_STR(fn, member)                                  \
  const char *fn (BgrKernel *self)                              \
  {                                                             \
    g_return_val_if_fail (BGR_IS_KERNEL (self), NULL);          \
    return str_member (self->doc, member);                      \
  }

/**
 * bgr_kernel_get_name:
 * @self: a #BgrKernel
 *
 * The getters of #BgrKernel return borrowed strings, %NULL when unset:
 * bgr_kernel_get_version() (e.g. "6.1.0-57-cloud-amd64"; may be %NULL for
 * a vmlinux without version information), bgr_kernel_get_format()
 * ("vmlinux" or "bzimage"), bgr_kernel_get_kernel_path(),
 * bgr_kernel_get_initrd_path(), bgr_kernel_get_modules_dir() (the
 * `<version>` directory of the modules tree) and bgr_kernel_get_source()
 * (e.g. "deb:/path/linux-image-....deb", "import:/path/vmlinux").
 *
 * Returns: (transfer none): the kernel's name
 * Since: 0.1
 */
KERNEL_STR (bgr_kernel_get_name, "name")
KERNEL_STR (bgr_kernel_get_version, "version")
KERNEL_STR (bgr_kernel_get_format, "format")
KERNEL_STR (bgr_kernel_get_kernel_path, "kernel")
KERNEL_STR (bgr_kernel_get_initrd_path, "initrd")
KERNEL_STR (bgr_kernel_get_modules_dir, "modules")
KERNEL_STR (bgr_kernel_get_source, "source")

/**
 * bgr_kernel_get_initrd_generated:
 * @self: a #BgrKernel
 *
 * Returns: whether banger generated the initrd (for a kernel that builds
 *   virtio as modules)
 * Since: 0.1
 */
gboolean
bgr_kernel_get_initrd_generated (BgrKernel *self)
{
  g_return_val_if_fail (BGR_IS_KERNEL (self), FALSE);
  return bool_member (self->doc, "initrd_generated");
}

/**
 * bgr_kernel_get_size:
 * @self: a #BgrKernel
 *
 * Returns: bytes the kernel's files take in the state directory
 * Since: 0.1
 */
gint64
bgr_kernel_get_size (BgrKernel *self)
{
  g_return_val_if_fail (BGR_IS_KERNEL (self), 0);
  return int_member (self->doc, "size");
}

/**
 * bgr_kernel_to_json:
 * @self: a #BgrKernel
 *
 * Returns: (transfer full): the record as JSON: name, version, format,
 *   kernel, initrd, initrd_generated, modules, source, size, created
 *   (members that are unset are left out)
 * Since: 0.1
 */
char *
bgr_kernel_to_json (BgrKernel *self)
{
  g_return_val_if_fail (BGR_IS_KERNEL (self), NULL);
  return bgr_record_public_json (self->doc);
}

/* ---- BgrImage ----------------------------------------------------------- */

struct _BgrImage {
  GObject parent_instance;
  JsonObject *doc;
};

G_DEFINE_FINAL_TYPE (BgrImage, bgr_image, G_TYPE_OBJECT)

static void
bgr_image_finalize (GObject *object)
{
  g_clear_pointer (&BGR_IMAGE (object)->doc, json_object_unref);
  G_OBJECT_CLASS (bgr_image_parent_class)->finalize (object);
}

static void
bgr_image_class_init (BgrImageClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_image_finalize;
}

static void
bgr_image_init (BgrImage *self)
{
}

BgrImage *
bgr_image_new_from_json (JsonObject *doc)
{
  BgrImage *self = g_object_new (BGR_TYPE_IMAGE, NULL);
  self->doc = json_object_ref (doc);
  return self;
}

JsonObject *
bgr_image_get_json (BgrImage *self)
{
  return self->doc;
}

#define IMAGE_STR(fn, member)                                   \
  const char *fn (BgrImage *self)                               \
  {                                                             \
    g_return_val_if_fail (BGR_IS_IMAGE (self), NULL);           \
    return str_member (self->doc, member);                      \
  }

/**
 * bgr_image_get_name:
 * @self: a #BgrImage
 *
 * The getters of #BgrImage return borrowed strings, %NULL when unset:
 * bgr_image_get_rootfs_path(), bgr_image_get_work_seed_path(),
 * bgr_image_get_kernel_path() (for a kernel_ref: the managed kernel's
 * file), bgr_image_get_kernel_ref(), bgr_image_get_initrd_path(),
 * bgr_image_get_modules_dir() and bgr_image_get_source() ("registered" or
 * "promoted").
 *
 * Returns: (transfer none): the image's name
 * Since: 0.1
 */
IMAGE_STR (bgr_image_get_name, "name")
IMAGE_STR (bgr_image_get_rootfs_path, "rootfs")
IMAGE_STR (bgr_image_get_work_seed_path, "work_seed")
IMAGE_STR (bgr_image_get_kernel_path, "kernel")
IMAGE_STR (bgr_image_get_kernel_ref, "kernel_ref")
IMAGE_STR (bgr_image_get_initrd_path, "initrd")
IMAGE_STR (bgr_image_get_modules_dir, "modules")
IMAGE_STR (bgr_image_get_source, "source")

/**
 * bgr_image_get_managed:
 * @self: a #BgrImage
 *
 * Returns: whether banger owns the image's files (after promote)
 * Since: 0.1
 */
gboolean
bgr_image_get_managed (BgrImage *self)
{
  g_return_val_if_fail (BGR_IS_IMAGE (self), FALSE);
  return bool_member (self->doc, "managed");
}

/**
 * bgr_image_get_size:
 * @self: a #BgrImage
 *
 * Returns: apparent size in bytes of the image's own files
 * Since: 0.1
 */
gint64
bgr_image_get_size (BgrImage *self)
{
  g_return_val_if_fail (BGR_IS_IMAGE (self), 0);
  return int_member (self->doc, "size");
}

/**
 * bgr_image_to_json:
 * @self: a #BgrImage
 *
 * Returns: (transfer full): the record as JSON: name, managed, rootfs,
 *   work_seed, kernel, kernel_ref, initrd, modules, source, size, created
 * Since: 0.1
 */
char *
bgr_image_to_json (BgrImage *self)
{
  g_return_val_if_fail (BGR_IS_IMAGE (self), NULL);
  return bgr_record_public_json (self->doc);
}

/**
 * bgr_kernel_to_variant:
 * @self: a #BgrKernel
 *
 * Returns: (transfer floating): the record as an a{sv} dictionary (the form
 *   the D-Bus API uses), with the members of bgr_kernel_to_json()
 * Since: 0.1
 */
GVariant *
bgr_kernel_to_variant (BgrKernel *self)
{
  g_return_val_if_fail (BGR_IS_KERNEL (self), NULL);
  return bgr_record_to_variant (self->doc);
}

/**
 * bgr_image_to_variant:
 * @self: a #BgrImage
 *
 * Returns: (transfer floating): the record as an a{sv} dictionary (the form
 *   the D-Bus API uses), with the members of bgr_image_to_json()
 * Since: 0.1
 */
GVariant *
bgr_image_to_variant (BgrImage *self)
{
  g_return_val_if_fail (BGR_IS_IMAGE (self), NULL);
  return bgr_record_to_variant (self->doc);
}

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
 *   live download holds its lock (prune leaves it); for a blob, that a
 *   running pull fetched it. Always %FALSE for a VM base.
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

