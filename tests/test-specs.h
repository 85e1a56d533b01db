/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helpers: the common kernel and image calls with their options
 * objects filled from positional arguments (NULL: not set). */
#pragma once

#include <banger/banger.h>

static inline BgrKernel *
test_import_kernel (BgrClient *client, const char *name, const char *kernel, const char *modules,
                    const char *initrd, GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrKernelSpec) spec = bgr_kernel_spec_new (name);
  bgr_kernel_spec_set_kernel (spec, kernel);
  bgr_kernel_spec_set_modules (spec, modules);
  bgr_kernel_spec_set_initrd (spec, initrd);
  return bgr_client_kernel_import (client, spec, NULL, cancellable, error);
}

static inline BgrKernel *
test_import_kernel_deb (BgrClient *client, const char *name, const char *deb,
                        GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrKernelSpec) spec = bgr_kernel_spec_new (name);
  bgr_kernel_spec_set_deb (spec, deb);
  return bgr_client_kernel_import (client, spec, NULL, cancellable, error);
}

static inline BgrImage *
test_register_image (BgrClient *client, const char *name, const char *rootfs,
                     const char *work_seed, const char *kernel, const char *kernel_ref,
                     const char *initrd, const char *modules, GCancellable *cancellable,
                     GError **error)
{
  g_autoptr (BgrImageSpec) spec = bgr_image_spec_new (name);
  bgr_image_spec_set_rootfs (spec, rootfs);
  bgr_image_spec_set_work_seed (spec, work_seed);
  bgr_image_spec_set_kernel (spec, kernel);
  bgr_image_spec_set_kernel_ref (spec, kernel_ref);
  bgr_image_spec_set_initrd (spec, initrd);
  bgr_image_spec_set_modules (spec, modules);
  return bgr_client_image_register (client, spec, cancellable, error);
}
