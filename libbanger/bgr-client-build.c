/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrClient's image build. */
#include "config.h"

#include "bgr-client-private.h"
#include "bgr-operation-private.h"

/**
 * bgr_client_image_build:
 * @self: a #BgrClient
 * @name: the new image's name
 * @options: see #BgrBuildOptions (`from` is required)
 * @op: (nullable): progress (the build VM's boot, then one step per `run`
 *   command) and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Builds a managed image: boots a VM from the `from` image, runs each `run`
 * command in it with `sh -c`, stops it cleanly and keeps a copy of its
 * disks (rootfs and work disk) as image @name, with the `from` image's
 * kernel. The build VM is deleted whatever happens. A failing command
 * (%BGR_ERROR_FAILED, naming the step, its exit status and the end of its
 * output) or a cancelled build leaves no image.
 *
 * Returns: (transfer full): the new image, or %NULL
 * Since: 0.2
 */
BgrImage *
bgr_client_image_build (BgrClient *self, const char *name, BgrBuildOptions *options,
                        BgrOperation *op, GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrCallCancellable) cc = NULL;

  CHECK_CLIENT (self, error, NULL);
  g_return_val_if_fail (BGR_IS_BUILD_OPTIONS (options), NULL);
  if (!check_name ("image", name, error))
    return NULL;
  if (bgr_build_options_get_from (options) == NULL)
    {
      g_set_error_literal (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                           "option 'from' (the image to build from) is required");
      return NULL;
    }
  cc = bgr_call_cancellable_new (op, cancellable);
  return FINISH (VT (self)->image_build (B (self), name, options, op,
                                         bgr_call_cancellable_get (cc), error),
                 error);
}

static gpointer
image_build_call (BgrClient *self, Call *c, GCancellable *cancellable, GError **error)
{
  return bgr_client_image_build (self, c->name, BGR_BUILD_OPTIONS (c->spec), c->op, cancellable,
                                 error);
}

/**
 * bgr_client_image_build_async:
 * @self: a #BgrClient
 * @name: the new image's name
 * @options: see #BgrBuildOptions
 * @op: (nullable): progress and cancellation
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Since: 0.2
 */
void
bgr_client_image_build_async (BgrClient *self, const char *name, BgrBuildOptions *options,
                              BgrOperation *op, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (BGR_IS_CLIENT (self));
  g_return_if_fail (BGR_IS_BUILD_OPTIONS (options));
  call_start (self, call_new (image_build_call, name, options, op), bgr_client_image_build_async,
              cancellable, callback, user_data);
}

/**
 * bgr_client_image_build_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the new image, or %NULL
 * Since: 0.2
 */
BgrImage *
bgr_client_image_build_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  return call_finish (self, result, bgr_client_image_build_async, error);
}
