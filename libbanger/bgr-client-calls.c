/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrClient's calls on kernels and images: each checks its arguments and
 * hands them to the backend. */
#include "config.h"

#include "bgr-client-private.h"
#include "bgr-operation-private.h"



/* ---- kernels ------------------------------------------------------------ */

/**
 * bgr_client_kernel_import:
 * @self: a #BgrClient
 * @spec: what to import: files (`kernel`, `modules`, `initrd`) or a Debian
 *   package (`deb`); see #BgrKernelSpec
 * @op: (nullable): progress and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Copies a kernel into banger's state: an ELF vmlinux or a bzImage
 * (detected from its header), with an optional modules tree and initrd, or
 * the kernel and modules of a `linux-image-*.deb`.
 *
 * Returns: (transfer full): the new kernel, or %NULL
 * Since: 0.2
 */
BgrKernel *
bgr_client_kernel_import (BgrClient *self, BgrKernelSpec *spec, BgrOperation *op,
                          GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrCallCancellable) cc = NULL;

  CHECK_CLIENT (self, error, NULL);
  g_return_val_if_fail (BGR_IS_KERNEL_SPEC (spec), NULL);
  cc = bgr_call_cancellable_new (op, cancellable);
  return FINISH (VT (self)->kernel_import (B (self), spec, op, bgr_call_cancellable_get (cc), error), error);
}

static gpointer
kernel_import_call (BgrClient *self, Call *c, GCancellable *cancellable, GError **error)
{
  return bgr_client_kernel_import (self, BGR_KERNEL_SPEC (c->spec), c->op, cancellable, error);
}

/**
 * bgr_client_kernel_import_async:
 * @self: a #BgrClient
 * @spec: see bgr_client_kernel_import()
 * @op: (nullable): progress and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Since: 0.2
 */
void
bgr_client_kernel_import_async (BgrClient *self, BgrKernelSpec *spec, BgrOperation *op,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_return_if_fail (BGR_IS_CLIENT (self) && BGR_IS_KERNEL_SPEC (spec));
  call_start (self, call_new (kernel_import_call, NULL, spec, op),
              bgr_client_kernel_import_async, cancellable, callback, user_data);
}

/**
 * bgr_client_kernel_import_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the new kernel, or %NULL
 * Since: 0.2
 */
BgrKernel *
bgr_client_kernel_import_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  return call_finish (self, result, bgr_client_kernel_import_async, error);
}

/**
 * bgr_client_kernel_list:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type BgrKernel): the managed kernels
 * Since: 0.2
 */
GPtrArray *
bgr_client_kernel_list (BgrClient *self, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return VT (self)->kernel_list (B (self), cancellable, error);
}

/**
 * bgr_client_kernel_get:
 * @self: a #BgrClient
 * @name: a kernel name
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the kernel, or %NULL (%BGR_ERROR_NOT_FOUND)
 * Since: 0.2
 */
BgrKernel *
bgr_client_kernel_get (BgrClient *self, const char *name, GCancellable *cancellable,
                       GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("kernel", name, error))
    return NULL;
  return VT (self)->kernel_get (B (self), name, cancellable, error);
}

/**
 * bgr_client_kernel_delete:
 * @self: a #BgrClient
 * @name: a kernel name
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Deletes a kernel; refused with %BGR_ERROR_BUSY while an image uses it.
 *
 * Returns: %TRUE when deleted
 * Since: 0.2
 */
gboolean
bgr_client_kernel_delete (BgrClient *self, const char *name, GCancellable *cancellable,
                          GError **error)
{
  CHECK_CLIENT (self, error, FALSE);
  if (!check_name ("kernel", name, error))
    return FALSE;
  return VT (self)->kernel_delete (B (self), name, cancellable, error);
}

/**
 * bgr_client_kernel_list_available:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type BgrCatalogKernel): the
 *   kernel catalog's entries
 * Since: 0.2
 */
GPtrArray *
bgr_client_kernel_list_available (BgrClient *self, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return VT (self)->kernel_list_available (B (self), cancellable, error);
}

/**
 * bgr_client_kernel_pull:
 * @self: a #BgrClient
 * @name: a catalog entry's name
 * @op: (nullable): download progress (bytes) and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Downloads a catalog kernel, checks its digest and imports it.
 *
 * Returns: (transfer full): the new kernel, or %NULL
 * Since: 0.2
 */
BgrKernel *
bgr_client_kernel_pull (BgrClient *self, const char *name, BgrOperation *op,
                        GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrCallCancellable) cc = NULL;

  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("kernel", name, error))
    return NULL;
  cc = bgr_call_cancellable_new (op, cancellable);
  return FINISH (VT (self)->kernel_pull (B (self), name, op, bgr_call_cancellable_get (cc), error), error);
}

static gpointer
kernel_pull_call (BgrClient *self, Call *c, GCancellable *cancellable, GError **error)
{
  return bgr_client_kernel_pull (self, c->name, c->op, cancellable, error);
}

/**
 * bgr_client_kernel_pull_async:
 * @self: a #BgrClient
 * @name: a catalog entry's name
 * @op: (nullable): progress and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Since: 0.2
 */
void
bgr_client_kernel_pull_async (BgrClient *self, const char *name, BgrOperation *op,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data)
{
  g_return_if_fail (BGR_IS_CLIENT (self));
  call_start (self, call_new (kernel_pull_call, name, NULL, op), bgr_client_kernel_pull_async,
              cancellable, callback, user_data);
}

/**
 * bgr_client_kernel_pull_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the new kernel, or %NULL
 * Since: 0.2
 */
BgrKernel *
bgr_client_kernel_pull_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  return call_finish (self, result, bgr_client_kernel_pull_async, error);
}

/* ---- images ------------------------------------------------------------- */

/**
 * bgr_client_image_register:
 * @self: a #BgrClient
 * @spec: the image's files; see #BgrImageSpec
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Registers an image made of your own files; they stay where they are
 * (bgr_client_image_promote() copies them in).
 *
 * Returns: (transfer full): the new image, or %NULL
 * Since: 0.2
 */
BgrImage *
bgr_client_image_register (BgrClient *self, BgrImageSpec *spec, GCancellable *cancellable,
                           GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  g_return_val_if_fail (BGR_IS_IMAGE_SPEC (spec), NULL);
  return VT (self)->image_register (B (self), spec, cancellable, error);
}

/**
 * bgr_client_image_list:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type BgrImage): the images
 * Since: 0.2
 */
GPtrArray *
bgr_client_image_list (BgrClient *self, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return VT (self)->image_list (B (self), cancellable, error);
}

/**
 * bgr_client_image_get:
 * @self: a #BgrClient
 * @name: an image name
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the image, or %NULL (%BGR_ERROR_NOT_FOUND)
 * Since: 0.2
 */
BgrImage *
bgr_client_image_get (BgrClient *self, const char *name, GCancellable *cancellable,
                      GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("image", name, error))
    return NULL;
  return VT (self)->image_get (B (self), name, cancellable, error);
}

/**
 * bgr_client_image_delete:
 * @self: a #BgrClient
 * @name: an image name
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Deletes an image (a managed image's files too); refused with
 * %BGR_ERROR_BUSY while a VM uses it.
 *
 * Returns: %TRUE when deleted
 * Since: 0.2
 */
gboolean
bgr_client_image_delete (BgrClient *self, const char *name, GCancellable *cancellable,
                         GError **error)
{
  CHECK_CLIENT (self, error, FALSE);
  if (!check_name ("image", name, error))
    return FALSE;
  return VT (self)->image_delete (B (self), name, cancellable, error);
}

/**
 * bgr_client_image_promote:
 * @self: a #BgrClient
 * @name: a registered image's name
 * @op: (nullable): progress and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Copies a registered image's files into the state directory (reflink or
 * sparse copy), making it managed.
 *
 * Returns: (transfer full): the managed image, or %NULL
 * Since: 0.2
 */
BgrImage *
bgr_client_image_promote (BgrClient *self, const char *name, BgrOperation *op,
                          GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrCallCancellable) cc = NULL;

  CHECK_CLIENT (self, error, NULL);
  if (!check_name ("image", name, error))
    return NULL;
  cc = bgr_call_cancellable_new (op, cancellable);
  return FINISH (VT (self)->image_promote (B (self), name, op, bgr_call_cancellable_get (cc), error), error);
}

static gpointer
image_promote_call (BgrClient *self, Call *c, GCancellable *cancellable, GError **error)
{
  return bgr_client_image_promote (self, c->name, c->op, cancellable, error);
}

/**
 * bgr_client_image_promote_async:
 * @self: a #BgrClient
 * @name: a registered image's name
 * @op: (nullable): progress and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Since: 0.2
 */
void
bgr_client_image_promote_async (BgrClient *self, const char *name, BgrOperation *op,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_return_if_fail (BGR_IS_CLIENT (self));
  call_start (self, call_new (image_promote_call, name, NULL, op),
              bgr_client_image_promote_async, cancellable, callback, user_data);
}

/**
 * bgr_client_image_promote_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the managed image, or %NULL
 * Since: 0.2
 */
BgrImage *
bgr_client_image_promote_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  return call_finish (self, result, bgr_client_image_promote_async, error);
}

/**
 * bgr_client_image_pull:
 * @self: a #BgrClient
 * @reference: an OCI reference, e.g. `127.0.0.1:5000/debian:12`
 * @options: (nullable): see #BgrPullOptions
 * @op: (nullable): progress (bytes of all layers) and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Pulls an image from a registry and writes its layers straight into an
 * ext4 rootfs. A failed or cancelled pull leaves no image.
 *
 * Returns: (transfer full): the new image, or %NULL
 * Since: 0.2
 */
BgrImage *
bgr_client_image_pull (BgrClient *self, const char *reference, BgrPullOptions *options,
                       BgrOperation *op, GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrCallCancellable) cc = NULL;
  g_autoptr (BgrPullOptions) defaults = NULL;

  CHECK_CLIENT (self, error, NULL);
  g_return_val_if_fail (options == NULL || BGR_IS_PULL_OPTIONS (options), NULL);
  if (reference == NULL || *reference == '\0')
    {
      g_set_error_literal (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                           "an image reference is required");
      return NULL;
    }
  if (options == NULL)
    options = defaults = bgr_pull_options_new ();
  cc = bgr_call_cancellable_new (op, cancellable);
  return FINISH (VT (self)->image_pull (B (self), reference, options, op, bgr_call_cancellable_get (cc),
                                error), error);
}

static gpointer
image_pull_call (BgrClient *self, Call *c, GCancellable *cancellable, GError **error)
{
  return bgr_client_image_pull (self, c->name, BGR_PULL_OPTIONS (c->spec), c->op, cancellable,
                                error);
}

/**
 * bgr_client_image_pull_async:
 * @self: a #BgrClient
 * @reference: an OCI reference
 * @options: (nullable): see #BgrPullOptions
 * @op: (nullable): progress and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Since: 0.2
 */
void
bgr_client_image_pull_async (BgrClient *self, const char *reference, BgrPullOptions *options,
                             BgrOperation *op, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (BgrPullOptions) defaults = NULL;

  g_return_if_fail (BGR_IS_CLIENT (self));
  if (options == NULL)
    options = defaults = bgr_pull_options_new ();
  call_start (self, call_new (image_pull_call, reference, options, op),
              bgr_client_image_pull_async, cancellable, callback, user_data);
}

/**
 * bgr_client_image_pull_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the new image, or %NULL
 * Since: 0.2
 */
BgrImage *
bgr_client_image_pull_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  return call_finish (self, result, bgr_client_image_pull_async, error);
}

/**
 * bgr_client_image_cache_list:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type BgrCacheBlob): the layer cache
 * Since: 0.2
 */
GPtrArray *
bgr_client_image_cache_list (BgrClient *self, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return VT (self)->image_cache_list (B (self), cancellable, error);
}

/**
 * bgr_client_image_cache_prune:
 * @self: a #BgrClient
 * @out_freed: (out) (optional): bytes freed
 * @out_removed: (out) (optional): files removed
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Removes the layer blobs and VM bases no image uses.
 *
 * Returns: %TRUE on success
 * Since: 0.2
 */
gboolean
bgr_client_image_cache_prune (BgrClient *self, guint64 *out_freed, guint *out_removed,
                              GCancellable *cancellable, GError **error)
{
  guint64 freed = 0;
  guint removed = 0;

  CHECK_CLIENT (self, error, FALSE);
  if (!VT (self)->image_cache_prune (B (self), &freed, &removed, cancellable, error))
    return FALSE;
  if (out_freed != NULL)
    *out_freed = freed;
  if (out_removed != NULL)
    *out_removed = removed;
  return TRUE;
}
