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

static char *
public_json (JsonObject *doc)
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

GVariant *
bgr_record_to_variant (JsonObject *doc)
{
  GVariantBuilder b;
  GList *members = json_object_get_members (doc);

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *n = json_object_get_member (doc, l->data);
      GVariant *v = NULL;

      if (g_strv_contains (internal_members, l->data) || !JSON_NODE_HOLDS_VALUE (n))
        continue;
      switch (json_node_get_value_type (n))
        {
        case G_TYPE_STRING: v = g_variant_new_string (json_node_get_string (n)); break;
        case G_TYPE_INT64: v = g_variant_new_int64 (json_node_get_int (n)); break;
        case G_TYPE_BOOLEAN: v = g_variant_new_boolean (json_node_get_boolean (n)); break;
        case G_TYPE_DOUBLE: v = g_variant_new_double (json_node_get_double (n)); break;
        default: break;
        }
      if (v != NULL)
        g_variant_builder_add (&b, "{sv}", (const char *) l->data, v);
    }
  g_list_free (members);
  return g_variant_builder_end (&b);
}

JsonObject *
bgr_record_from_variant (GVariant *dict, GError **error)
{
  g_autoptr (JsonObject) doc = json_object_new ();
  GVariantIter iter;
  const char *key;
  GVariant *value;

  if (!g_variant_is_of_type (dict, G_VARIANT_TYPE ("a{sv}")))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "record has type %s, expected a{sv}",
                   g_variant_get_type_string (dict));
      return NULL;
    }
  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        json_object_set_string_member (doc, key, g_variant_get_string (value, NULL));
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
        json_object_set_int_member (doc, key, g_variant_get_int64 (value));
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
        json_object_set_boolean_member (doc, key, g_variant_get_boolean (value));
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
        json_object_set_double_member (doc, key, g_variant_get_double (value));
      g_variant_unref (value);
    }
  if (str_member (doc, "name") == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "record without a name");
      return NULL;
    }
  return g_steal_pointer (&doc);
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
  return public_json (self->doc);
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
  return public_json (self->doc);
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
  return public_json (self->doc);
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
 * Returns: (transfer none): the blob's digest, "sha256:..."
 * Since: 0.1
 */
const char *
bgr_cache_blob_get_digest (BgrCacheBlob *self)
{
  g_return_val_if_fail (BGR_IS_CACHE_BLOB (self), NULL);
  return str_member (self->doc, "digest");
}

/**
 * bgr_cache_blob_get_images:
 * @self: a #BgrCacheBlob
 *
 * Returns: (transfer none): comma-separated names of the images that use
 *   the blob, "" when none
 * Since: 0.1
 */
const char *
bgr_cache_blob_get_images (BgrCacheBlob *self)
{
  g_return_val_if_fail (BGR_IS_CACHE_BLOB (self), NULL);
  return str_member (self->doc, "images");
}

/**
 * bgr_cache_blob_get_size:
 * @self: a #BgrCacheBlob
 *
 * Returns: the blob's size in bytes
 * Since: 0.1
 */
gint64
bgr_cache_blob_get_size (BgrCacheBlob *self)
{
  g_return_val_if_fail (BGR_IS_CACHE_BLOB (self), 0);
  return int_member (self->doc, "size");
}

/**
 * bgr_cache_blob_to_json:
 * @self: a #BgrCacheBlob
 *
 * Returns: (transfer full): digest, size, images
 * Since: 0.1
 */
char *
bgr_cache_blob_to_json (BgrCacheBlob *self)
{
  g_return_val_if_fail (BGR_IS_CACHE_BLOB (self), NULL);
  return public_json (self->doc);
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

/* ---- BgrVm -------------------------------------------------------------- */

struct _BgrVm {
  GObject parent_instance;
  JsonObject *doc;
};

G_DEFINE_FINAL_TYPE (BgrVm, bgr_vm, G_TYPE_OBJECT)

static void
bgr_vm_finalize (GObject *object)
{
  g_clear_pointer (&BGR_VM (object)->doc, json_object_unref);
  G_OBJECT_CLASS (bgr_vm_parent_class)->finalize (object);
}

static void
bgr_vm_class_init (BgrVmClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_vm_finalize;
}

static void
bgr_vm_init (BgrVm *self)
{
}

BgrVm *
bgr_vm_new_from_json (JsonObject *doc)
{
  BgrVm *self = g_object_new (BGR_TYPE_VM, NULL);
  self->doc = json_object_ref (doc);
  return self;
}

JsonObject *
bgr_vm_get_json (BgrVm *self)
{
  return self->doc;
}

#define VM_STR(fn, member)                                      \
  const char *fn (BgrVm *self)                                  \
  {                                                             \
    g_return_val_if_fail (BGR_IS_VM (self), NULL);              \
    return str_member (self->doc, member);                      \
  }
#define VM_INT(fn, member)                                      \
  gint64 fn (BgrVm *self)                                       \
  {                                                             \
    g_return_val_if_fail (BGR_IS_VM (self), 0);                 \
    return int_member (self->doc, member);                      \
  }

/**
 * bgr_vm_get_name:
 * @self: a #BgrVm
 *
 * The string getters of #BgrVm return borrowed strings, %NULL when unset:
 * bgr_vm_get_id(), bgr_vm_get_image(), bgr_vm_get_state() (see #BgrVm),
 * bgr_vm_get_reason() (why it stopped or failed), bgr_vm_get_hypervisor()
 * ("qemu" or "firecracker"), bgr_vm_get_accel() ("kvm" or "tcg"),
 * bgr_vm_get_ip(), bgr_vm_get_mac(), bgr_vm_get_dns_name() ("NAME.vm"; only
 * with networking), bgr_vm_get_console_log_path(), bgr_vm_get_guest_kernel()
 * and bgr_vm_get_guest_os() (as the guest agent reported them).
 *
 * Returns: (transfer none): the VM's name
 * Since: 0.1
 */
VM_STR (bgr_vm_get_name, "name")
VM_STR (bgr_vm_get_id, "id")
VM_STR (bgr_vm_get_image, "image")
VM_STR (bgr_vm_get_state, "state")
VM_STR (bgr_vm_get_reason, "reason")
VM_STR (bgr_vm_get_hypervisor, "hypervisor")
VM_STR (bgr_vm_get_accel, "accel")
VM_STR (bgr_vm_get_ip, "ip")
VM_STR (bgr_vm_get_mac, "mac")
VM_STR (bgr_vm_get_dns_name, "dns_name")
VM_STR (bgr_vm_get_console_log_path, "console_log")
VM_STR (bgr_vm_get_guest_kernel, "guest_kernel")
VM_STR (bgr_vm_get_guest_os, "guest_os")

/**
 * bgr_vm_get_vcpus:
 * @self: a #BgrVm
 *
 * The integer getters of #BgrVm: bgr_vm_get_vcpus(),
 * bgr_vm_get_memory_mib(), bgr_vm_get_disk_size() (bytes of the VM's
 * rootfs), bgr_vm_get_pid() (the VMM process while it runs, else 0),
 * bgr_vm_get_created(), bgr_vm_get_started() and
 * bgr_vm_get_last_activity() (Unix times in seconds, 0 when unset).
 *
 * Returns: the number of vCPUs
 * Since: 0.1
 */
VM_INT (bgr_vm_get_vcpus, "vcpus")
VM_INT (bgr_vm_get_memory_mib, "memory_mib")
VM_INT (bgr_vm_get_disk_size, "disk_size")
VM_INT (bgr_vm_get_pid, "pid")
VM_INT (bgr_vm_get_created, "created")
VM_INT (bgr_vm_get_started, "started")
VM_INT (bgr_vm_get_last_activity, "last_activity")

/**
 * bgr_vm_to_json:
 * @self: a #BgrVm
 *
 * Returns: (transfer full): the record as JSON (the members behind the
 *   getters, plus rootfs, work_disk, tap, guest_uname, guest_addrs, stopped)
 * Since: 0.1
 */
char *
bgr_vm_to_json (BgrVm *self)
{
  g_return_val_if_fail (BGR_IS_VM (self), NULL);
  return public_json (self->doc);
}

/**
 * bgr_vm_to_variant:
 * @self: a #BgrVm
 *
 * Returns: (transfer floating): the record as an a{sv} dictionary (the form
 *   the D-Bus API uses), with the members of bgr_vm_to_json()
 * Since: 0.1
 */
GVariant *
bgr_vm_to_variant (BgrVm *self)
{
  g_return_val_if_fail (BGR_IS_VM (self), NULL);
  return bgr_record_to_variant (self->doc);
}

/* ---- BgrVmPort -------------------------------------------------------------- */

struct _BgrVmPort {
  GObject parent_instance;
  JsonObject *doc;
};

G_DEFINE_FINAL_TYPE (BgrVmPort, bgr_vm_port, G_TYPE_OBJECT)

static void
bgr_vm_port_finalize (GObject *object)
{
  g_clear_pointer (&BGR_VM_PORT (object)->doc, json_object_unref);
  G_OBJECT_CLASS (bgr_vm_port_parent_class)->finalize (object);
}

static void
bgr_vm_port_class_init (BgrVmPortClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_vm_port_finalize;
}

static void
bgr_vm_port_init (BgrVmPort *self)
{
}

BgrVmPort *
bgr_vm_port_new_from_json (JsonObject *doc)
{
  BgrVmPort *self = g_object_new (BGR_TYPE_VM_PORT, NULL);
  self->doc = json_object_ref (doc);
  return self;
}

/**
 * bgr_vm_port_get_protocol:
 * @self: a #BgrVmPort
 *
 * The getters of #BgrVmPort: bgr_vm_port_get_protocol() ("tcp", "tcp6",
 * "udp" or "udp6"), bgr_vm_port_get_address() (the local address, e.g.
 * "0.0.0.0" or "::"), bgr_vm_port_get_port(), bgr_vm_port_get_pid() (0
 * when unknown) and bgr_vm_port_get_process() (the owner's command name,
 * "-" when unknown).
 *
 * Returns: (transfer none): the protocol
 * Since: 0.1
 */
const char *
bgr_vm_port_get_protocol (BgrVmPort *self)
{
  g_return_val_if_fail (BGR_IS_VM_PORT (self), NULL);
  return str_member (self->doc, "protocol");
}

const char *
bgr_vm_port_get_address (BgrVmPort *self)
{
  g_return_val_if_fail (BGR_IS_VM_PORT (self), NULL);
  return str_member (self->doc, "address");
}

gint64
bgr_vm_port_get_port (BgrVmPort *self)
{
  g_return_val_if_fail (BGR_IS_VM_PORT (self), 0);
  return int_member (self->doc, "port");
}

gint64
bgr_vm_port_get_pid (BgrVmPort *self)
{
  g_return_val_if_fail (BGR_IS_VM_PORT (self), 0);
  return int_member (self->doc, "pid");
}

const char *
bgr_vm_port_get_process (BgrVmPort *self)
{
  g_return_val_if_fail (BGR_IS_VM_PORT (self), NULL);
  return str_member (self->doc, "process");
}

/**
 * bgr_vm_port_to_json:
 * @self: a #BgrVmPort
 *
 * Returns: (transfer full): the port as JSON: name (the VM), protocol,
 *   address, port, pid, process
 * Since: 0.1
 */
char *
bgr_vm_port_to_json (BgrVmPort *self)
{
  g_return_val_if_fail (BGR_IS_VM_PORT (self), NULL);
  return public_json (self->doc);
}

/**
 * bgr_vm_port_to_variant:
 * @self: a #BgrVmPort
 *
 * Returns: (transfer floating): the port as an a{sv} dictionary
 * Since: 0.1
 */
GVariant *
bgr_vm_port_to_variant (BgrVmPort *self)
{
  g_return_val_if_fail (BGR_IS_VM_PORT (self), NULL);
  return bgr_record_to_variant (self->doc);
}

/* ---- BgrVmStats ------------------------------------------------------------- */

struct _BgrVmStats {
  GObject parent_instance;
  JsonObject *doc;
};

G_DEFINE_FINAL_TYPE (BgrVmStats, bgr_vm_stats, G_TYPE_OBJECT)

static void
bgr_vm_stats_finalize (GObject *object)
{
  g_clear_pointer (&BGR_VM_STATS (object)->doc, json_object_unref);
  G_OBJECT_CLASS (bgr_vm_stats_parent_class)->finalize (object);
}

static void
bgr_vm_stats_class_init (BgrVmStatsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_vm_stats_finalize;
}

static void
bgr_vm_stats_init (BgrVmStats *self)
{
}

BgrVmStats *
bgr_vm_stats_new_from_json (JsonObject *doc)
{
  BgrVmStats *self = g_object_new (BGR_TYPE_VM_STATS, NULL);
  self->doc = json_object_ref (doc);
  return self;
}

/**
 * bgr_vm_stats_get_name:
 * @self: a #BgrVmStats
 *
 * Returns: (transfer none): the VM's name
 * Since: 0.1
 */
const char *
bgr_vm_stats_get_name (BgrVmStats *self)
{
  g_return_val_if_fail (BGR_IS_VM_STATS (self), NULL);
  return str_member (self->doc, "name");
}

/**
 * bgr_vm_stats_get:
 * @self: a #BgrVmStats
 * @member: one of sampled_at (Unix ms of the guest sample), guest_uptime_ms,
 *   cpu_user_ms, cpu_system_ms, cpu_idle_ms (guest, all CPUs, since boot),
 *   cpu_busy_permille and cpu_interval_ms (guest CPU use between the last
 *   two samples, and how far apart they were), load1_milli, mem_total,
 *   mem_available, disk_total, disk_free (bytes, the guest's /); metrics_at
 *   (Unix ms of the VMM sample), vmm_cpu_ms, vmm_rss (the VMM process),
 *   disk_read_bytes, disk_write_bytes, net_rx_bytes, net_tx_bytes (as the
 *   guest sees them)
 *
 * Returns: the value, or -1 when it is unknown
 * Since: 0.1
 */
gint64
bgr_vm_stats_get (BgrVmStats *self, const char *member)
{
  JsonNode *n;

  g_return_val_if_fail (BGR_IS_VM_STATS (self), -1);
  n = json_object_get_member (self->doc, member);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return -1;
  return json_node_get_int (n);
}

/**
 * bgr_vm_stats_to_json:
 * @self: a #BgrVmStats
 *
 * Returns: (transfer full): the sample as JSON (name and the members of
 *   bgr_vm_stats_get(); unknown ones are absent)
 * Since: 0.1
 */
char *
bgr_vm_stats_to_json (BgrVmStats *self)
{
  g_return_val_if_fail (BGR_IS_VM_STATS (self), NULL);
  return public_json (self->doc);
}

/**
 * bgr_vm_stats_to_variant:
 * @self: a #BgrVmStats
 *
 * Returns: (transfer floating): the sample as an a{sv} dictionary
 * Since: 0.1
 */
GVariant *
bgr_vm_stats_to_variant (BgrVmStats *self)
{
  g_return_val_if_fail (BGR_IS_VM_STATS (self), NULL);
  return bgr_record_to_variant (self->doc);
}
