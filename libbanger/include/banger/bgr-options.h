/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__BANGER_H_INSIDE__) && !defined(BANGER_COMPILATION)
#error "Only <banger/banger.h> can be included directly."
#endif

#include <glib-object.h>
#include <banger/bgr-macros.h>

G_BEGIN_DECLS

/**
 * BgrOptions:
 *
 * The base of every options object (#BgrVmSpec, #BgrPullOptions,
 * #BgrExecSpec, #BgrImageSpec, #BgrKernelSpec). An options object is a set
 * of named, typed values; an unset key takes its documented default. It
 * serialises to and from a D-Bus `a{sv}` dictionary, and a key it does not
 * know is refused with %BGR_ERROR_INVALID_ARGUMENT naming the key, so that a
 * newer client talking to an older daemon fails clearly instead of losing an
 * option.
 *
 * Each subclass has typed setters and getters; the generic
 * bgr_options_set_value() and bgr_options_set_json() exist for bindings.
 * Adding an option adds a key, a setter and a getter: no call changes.
 *
 * Since: 0.2
 */
#define BGR_TYPE_OPTIONS (bgr_options_get_type ())
BGR_EXTERN G_DECLARE_DERIVABLE_TYPE (BgrOptions, bgr_options, BGR, OPTIONS, GObject)

struct _BgrOptionsClass {
  GObjectClass parent_class;
  /*< private >*/
  const struct _BgrOptionKey *keys;
  gpointer padding[7];
};

BGR_EXTERN gboolean bgr_options_set_value (BgrOptions *self, const char *key, GVariant *value,
                                           GError **error);
BGR_EXTERN gboolean bgr_options_set_json (BgrOptions *self, const char *key, const char *json,
                                          GError **error);
BGR_EXTERN GVariant *bgr_options_dup_value (BgrOptions *self, const char *key);
BGR_EXTERN gboolean bgr_options_has_key (BgrOptions *self, const char *key);
BGR_EXTERN char **bgr_options_dup_keys (BgrOptions *self);
BGR_EXTERN const char *bgr_options_get_key_type (BgrOptions *self, const char *key);
BGR_EXTERN gboolean bgr_options_update_from_variant (BgrOptions *self, GVariant *dict,
                                                     GError **error);
BGR_EXTERN GVariant *bgr_options_to_variant (BgrOptions *self);

/**
 * BgrVmSpec:
 *
 * What a new VM looks like: its name, its image and its resources.
 * Keys: `name` (s), `image` (s; unset: the config's default_image),
 * `vcpus` (u; 0 or unset: the config's default), `memory-mib` (t),
 * `disk-size` (t, bytes; 0: the image's size), `work-size` (t, bytes: the
 * work disk mounted at /root in the guest; 0: 8 GiB, or the image's
 * work-seed when larger; since 0.2), `cmdline-append` (s: added
 * to the guest kernel's command line at every boot), `network` (s:
 * "bridge", the default, or "none": no network device at all; the agent
 * still reaches the guest, and so do `vm proxy` and `vm ssh`; since 0.2).
 *
 * Since: 0.2
 */
#define BGR_TYPE_VM_SPEC (bgr_vm_spec_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrVmSpec, bgr_vm_spec, BGR, VM_SPEC, BgrOptions)

BGR_EXTERN BgrVmSpec *bgr_vm_spec_new (const char *name);
BGR_EXTERN BgrVmSpec *bgr_vm_spec_new_from_variant (GVariant *dict, GError **error);
BGR_EXTERN void bgr_vm_spec_set_name (BgrVmSpec *self, const char *name);
BGR_EXTERN const char *bgr_vm_spec_get_name (BgrVmSpec *self);
BGR_EXTERN void bgr_vm_spec_set_image (BgrVmSpec *self, const char *image);
BGR_EXTERN const char *bgr_vm_spec_get_image (BgrVmSpec *self);
BGR_EXTERN void bgr_vm_spec_set_vcpus (BgrVmSpec *self, guint vcpus);
BGR_EXTERN guint bgr_vm_spec_get_vcpus (BgrVmSpec *self);
BGR_EXTERN void bgr_vm_spec_set_memory_mib (BgrVmSpec *self, guint64 memory_mib);
BGR_EXTERN guint64 bgr_vm_spec_get_memory_mib (BgrVmSpec *self);
BGR_EXTERN void bgr_vm_spec_set_disk_size (BgrVmSpec *self, guint64 bytes);
BGR_EXTERN guint64 bgr_vm_spec_get_disk_size (BgrVmSpec *self);
BGR_EXTERN void bgr_vm_spec_set_work_size (BgrVmSpec *self, guint64 bytes);
BGR_EXTERN guint64 bgr_vm_spec_get_work_size (BgrVmSpec *self);
BGR_EXTERN void bgr_vm_spec_set_cmdline_append (BgrVmSpec *self, const char *args);
BGR_EXTERN const char *bgr_vm_spec_get_cmdline_append (BgrVmSpec *self);
BGR_EXTERN void bgr_vm_spec_set_network (BgrVmSpec *self, const char *network);
BGR_EXTERN const char *bgr_vm_spec_get_network (BgrVmSpec *self);

/**
 * BgrPullOptions:
 *
 * How to pull an OCI image. Keys: `name` (s; unset: derived from the
 * reference), `kernel` (s: a managed kernel to boot it with; unset: the
 * config's default_kernel), `platform` (s, e.g. "linux/amd64"), `size` (t:
 * the ext4 image's size in bytes; 0: from the content), `insecure` (b:
 * allow plain http to a registry that is not on loopback).
 *
 * Since: 0.2
 */
#define BGR_TYPE_PULL_OPTIONS (bgr_pull_options_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrPullOptions, bgr_pull_options, BGR, PULL_OPTIONS, BgrOptions)

BGR_EXTERN BgrPullOptions *bgr_pull_options_new (void);
BGR_EXTERN BgrPullOptions *bgr_pull_options_new_from_variant (GVariant *dict, GError **error);
BGR_EXTERN void bgr_pull_options_set_name (BgrPullOptions *self, const char *name);
BGR_EXTERN const char *bgr_pull_options_get_name (BgrPullOptions *self);
BGR_EXTERN void bgr_pull_options_set_kernel (BgrPullOptions *self, const char *kernel);
BGR_EXTERN const char *bgr_pull_options_get_kernel (BgrPullOptions *self);
BGR_EXTERN void bgr_pull_options_set_platform (BgrPullOptions *self, const char *platform);
BGR_EXTERN const char *bgr_pull_options_get_platform (BgrPullOptions *self);
BGR_EXTERN void bgr_pull_options_set_size (BgrPullOptions *self, guint64 bytes);
BGR_EXTERN guint64 bgr_pull_options_get_size (BgrPullOptions *self);
BGR_EXTERN void bgr_pull_options_set_insecure (BgrPullOptions *self, gboolean insecure);
BGR_EXTERN gboolean bgr_pull_options_get_insecure (BgrPullOptions *self);

/**
 * BgrBuildOptions:
 *
 * How to build an image (bgr_client_image_build()). Keys: `from` (s,
 * required: the image to start from), `run` (as: shell commands run in
 * order, each with `sh -c` in the build VM), `vcpus` (u), `memory-mib` (t)
 * and `disk-size` (t) of the build VM, as in #BgrVmSpec.
 *
 * Since: 0.2
 */
#define BGR_TYPE_BUILD_OPTIONS (bgr_build_options_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrBuildOptions, bgr_build_options, BGR, BUILD_OPTIONS, BgrOptions)

BGR_EXTERN BgrBuildOptions *bgr_build_options_new (const char *from);
BGR_EXTERN BgrBuildOptions *bgr_build_options_new_from_variant (GVariant *dict, GError **error);
BGR_EXTERN void bgr_build_options_set_from (BgrBuildOptions *self, const char *image);
BGR_EXTERN const char *bgr_build_options_get_from (BgrBuildOptions *self);
BGR_EXTERN void bgr_build_options_set_run (BgrBuildOptions *self, const char *const *commands);
BGR_EXTERN char **bgr_build_options_dup_run (BgrBuildOptions *self);
BGR_EXTERN void bgr_build_options_set_vcpus (BgrBuildOptions *self, guint vcpus);
BGR_EXTERN guint bgr_build_options_get_vcpus (BgrBuildOptions *self);
BGR_EXTERN void bgr_build_options_set_memory_mib (BgrBuildOptions *self, guint64 mib);
BGR_EXTERN guint64 bgr_build_options_get_memory_mib (BgrBuildOptions *self);
BGR_EXTERN void bgr_build_options_set_disk_size (BgrBuildOptions *self, guint64 bytes);
BGR_EXTERN guint64 bgr_build_options_get_disk_size (BgrBuildOptions *self);

/**
 * BgrExecSpec:
 *
 * A command to run in a VM. Keys: `argv` (as, required), `env` (as,
 * "KEY=VALUE" added to the agent's environment), `cwd` (s), `timeout-ms`
 * (u; 0: none), `pty` (b: run on a new pseudo-terminal in the guest, so
 * that job control, Ctrl-C and full-screen programs work; its output comes
 * on stdout only), `rows` and `cols` (u: the terminal's first size,
 * default 24x80). The standard streams are file descriptors of the caller
 * (bgr_exec_spec_set_stdio(), and bgr_exec_spec_set_resize_fd() for window
 * size changes); they are not options and do not serialise.
 *
 * Since: 0.2
 */
#define BGR_TYPE_EXEC_SPEC (bgr_exec_spec_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrExecSpec, bgr_exec_spec, BGR, EXEC_SPEC, BgrOptions)

BGR_EXTERN BgrExecSpec *bgr_exec_spec_new (const char *const *argv);
BGR_EXTERN BgrExecSpec *bgr_exec_spec_new_from_variant (GVariant *dict, GError **error);
BGR_EXTERN void bgr_exec_spec_set_argv (BgrExecSpec *self, const char *const *argv);
BGR_EXTERN char **bgr_exec_spec_dup_argv (BgrExecSpec *self);
BGR_EXTERN void bgr_exec_spec_set_env (BgrExecSpec *self, const char *const *env);
BGR_EXTERN char **bgr_exec_spec_dup_env (BgrExecSpec *self);
BGR_EXTERN void bgr_exec_spec_set_cwd (BgrExecSpec *self, const char *cwd);
BGR_EXTERN const char *bgr_exec_spec_get_cwd (BgrExecSpec *self);
BGR_EXTERN void bgr_exec_spec_set_timeout_ms (BgrExecSpec *self, guint timeout_ms);
BGR_EXTERN guint bgr_exec_spec_get_timeout_ms (BgrExecSpec *self);
BGR_EXTERN void bgr_exec_spec_set_stdio (BgrExecSpec *self, int stdin_fd, int stdout_fd,
                                         int stderr_fd);
BGR_EXTERN void bgr_exec_spec_set_pty (BgrExecSpec *self, gboolean pty);
BGR_EXTERN gboolean bgr_exec_spec_get_pty (BgrExecSpec *self);
BGR_EXTERN void bgr_exec_spec_set_rows (BgrExecSpec *self, guint rows);
BGR_EXTERN guint bgr_exec_spec_get_rows (BgrExecSpec *self);
BGR_EXTERN void bgr_exec_spec_set_cols (BgrExecSpec *self, guint cols);
BGR_EXTERN guint bgr_exec_spec_get_cols (BgrExecSpec *self);
BGR_EXTERN void bgr_exec_spec_set_resize_fd (BgrExecSpec *self, int fd);
BGR_EXTERN int bgr_exec_spec_get_resize_fd (BgrExecSpec *self);
BGR_EXTERN void bgr_exec_spec_get_stdio (BgrExecSpec *self, int *stdin_fd, int *stdout_fd,
                                         int *stderr_fd);

/**
 * BgrImageSpec:
 *
 * An image registered from your own files. Keys: `name` (s), `rootfs` (s,
 * required), `work-seed` (s), `kernel` (s: a kernel file), `kernel-ref`
 * (s: a managed kernel instead of files), `initrd` (s), `modules` (s).
 * Paths are absolute.
 *
 * Since: 0.2
 */
#define BGR_TYPE_IMAGE_SPEC (bgr_image_spec_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrImageSpec, bgr_image_spec, BGR, IMAGE_SPEC, BgrOptions)

BGR_EXTERN BgrImageSpec *bgr_image_spec_new (const char *name);
BGR_EXTERN BgrImageSpec *bgr_image_spec_new_from_variant (GVariant *dict, GError **error);
BGR_EXTERN void bgr_image_spec_set_name (BgrImageSpec *self, const char *name);
BGR_EXTERN const char *bgr_image_spec_get_name (BgrImageSpec *self);
BGR_EXTERN void bgr_image_spec_set_rootfs (BgrImageSpec *self, const char *path);
BGR_EXTERN const char *bgr_image_spec_get_rootfs (BgrImageSpec *self);
BGR_EXTERN void bgr_image_spec_set_work_seed (BgrImageSpec *self, const char *path);
BGR_EXTERN const char *bgr_image_spec_get_work_seed (BgrImageSpec *self);
BGR_EXTERN void bgr_image_spec_set_kernel (BgrImageSpec *self, const char *path);
BGR_EXTERN const char *bgr_image_spec_get_kernel (BgrImageSpec *self);
BGR_EXTERN void bgr_image_spec_set_kernel_ref (BgrImageSpec *self, const char *kernel_name);
BGR_EXTERN const char *bgr_image_spec_get_kernel_ref (BgrImageSpec *self);
BGR_EXTERN void bgr_image_spec_set_initrd (BgrImageSpec *self, const char *path);
BGR_EXTERN const char *bgr_image_spec_get_initrd (BgrImageSpec *self);
BGR_EXTERN void bgr_image_spec_set_modules (BgrImageSpec *self, const char *path);
BGR_EXTERN const char *bgr_image_spec_get_modules (BgrImageSpec *self);

/**
 * BgrKernelSpec:
 *
 * A kernel to import. Keys: `name` (s; unset with `deb`: the package's
 * version), `kernel` (s: a vmlinux or bzImage), `modules` (s: a modules
 * tree), `initrd` (s), `deb` (s: a linux-image-*.deb instead of files).
 * Paths are absolute.
 *
 * Since: 0.2
 */
#define BGR_TYPE_KERNEL_SPEC (bgr_kernel_spec_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrKernelSpec, bgr_kernel_spec, BGR, KERNEL_SPEC, BgrOptions)

BGR_EXTERN BgrKernelSpec *bgr_kernel_spec_new (const char *name);
BGR_EXTERN BgrKernelSpec *bgr_kernel_spec_new_from_variant (GVariant *dict, GError **error);
BGR_EXTERN void bgr_kernel_spec_set_name (BgrKernelSpec *self, const char *name);
BGR_EXTERN const char *bgr_kernel_spec_get_name (BgrKernelSpec *self);
BGR_EXTERN void bgr_kernel_spec_set_kernel (BgrKernelSpec *self, const char *path);
BGR_EXTERN const char *bgr_kernel_spec_get_kernel (BgrKernelSpec *self);
BGR_EXTERN void bgr_kernel_spec_set_modules (BgrKernelSpec *self, const char *path);
BGR_EXTERN const char *bgr_kernel_spec_get_modules (BgrKernelSpec *self);
BGR_EXTERN void bgr_kernel_spec_set_initrd (BgrKernelSpec *self, const char *path);
BGR_EXTERN const char *bgr_kernel_spec_get_initrd (BgrKernelSpec *self);
BGR_EXTERN void bgr_kernel_spec_set_deb (BgrKernelSpec *self, const char *path);
BGR_EXTERN const char *bgr_kernel_spec_get_deb (BgrKernelSpec *self);

G_END_DECLS
