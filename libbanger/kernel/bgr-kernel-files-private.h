/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel artifacts on disk: format detection, module trees, .modinfo. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  BGR_KERNEL_FORMAT_VMLINUX, /* uncompressed ELF (what Firecracker boots) */
  BGR_KERNEL_FORMAT_BZIMAGE  /* x86 boot protocol image (what distributions ship) */
} BgrKernelFormat;

const char *bgr_kernel_format_to_string (BgrKernelFormat format);
/* Reads the file's header. Anything else is BGR_ERROR_INVALID_DATA. */
gboolean bgr_kernel_detect_format (const char *path, BgrKernelFormat *out_format,
                                   char **out_version, GError **error);

/* Finds the modules tree of one kernel version under @dir, which may be a
 * root holding lib/modules/<version>, a lib/modules directory, or the
 * <version> directory itself. */
gboolean bgr_modules_find_tree (const char *dir, char **out_tree, char **out_version,
                                GError **error);

/* Reads a module's .modinfo section (decompressing .ko.xz/.ko.zst/.ko.gz).
 * Keys map to their last value. */
GHashTable *bgr_module_read_modinfo (const char *path, GError **error);
/* Reads a whole module, decompressed. */
GBytes *bgr_module_read (const char *path, GError **error);

/* Module name of a file: basename without .ko[.xz|.zst|.gz], '-' as '_'. */
char *bgr_module_name_from_path (const char *path);

/* Indexes every module file under @tree: module name -> path relative to @tree. */
GHashTable *bgr_modules_index (const char *tree, GError **error);

/* The modules a microVM needs, in load order (dependencies first), as
 * paths relative to @tree. Wanted modules absent from the tree are taken to
 * be built into the kernel. */
GPtrArray *bgr_modules_resolve (const char *tree, const char *const *wanted, GError **error);

/* What banger guests need: virtio transport, block, net, console, vsock. */
extern const char *const bgr_microvm_modules[];

G_END_DECLS
