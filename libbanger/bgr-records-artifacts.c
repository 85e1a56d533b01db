/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrKernel and BgrImage: read-only views of their stored records. */
#include "config.h"

#include "bgr-error-private.h"
#include "bgr-records-private.h"

#define str_member bgr_record_str
#define int_member bgr_record_int
#define bool_member bgr_record_bool

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

