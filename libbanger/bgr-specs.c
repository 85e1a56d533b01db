/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The options objects: each is a key table plus typed setters and getters
 * over BgrOptions. A new option is one table row and one accessor pair. */
#include "config.h"

#include "bgr-options-private.h"

#define DEFINE_OPTIONS_TYPE(TypeName, type_name, keys_table)                                 \
  struct _##TypeName { BgrOptions parent_instance; };                                        \
  G_DEFINE_FINAL_TYPE (TypeName, type_name, BGR_TYPE_OPTIONS)                                \
  static void type_name##_class_init (TypeName##Class *klass)                                \
  {                                                                                          \
    BGR_OPTIONS_CLASS (klass)->keys = keys_table;                                            \
  }                                                                                          \
  static void type_name##_init (TypeName *self G_GNUC_UNUSED) {}                             \
  TypeName *type_name##_new_from_variant (GVariant *dict, GError **error)                    \
  {                                                                                          \
    return bgr_options_new_from_variant (type_name##_get_type (), dict, error);              \
  }

#define STRING_OPTION(TypeName, type_name, field, key)                                       \
  void type_name##_set_##field (TypeName *self, const char *value)                           \
  {                                                                                          \
    g_return_if_fail (G_TYPE_CHECK_INSTANCE_TYPE (self, type_name##_get_type ()));           \
    bgr_options_put_string (BGR_OPTIONS (self), key, value);                                 \
  }                                                                                          \
  const char *type_name##_get_##field (TypeName *self)                                       \
  {                                                                                          \
    g_return_val_if_fail (G_TYPE_CHECK_INSTANCE_TYPE (self, type_name##_get_type ()), NULL); \
    return bgr_options_get_string (BGR_OPTIONS (self), key);                                 \
  }

#define NUMBER_OPTION(TypeName, type_name, field, key, ctype, width)                         \
  void type_name##_set_##field (TypeName *self, ctype value)                                 \
  {                                                                                          \
    g_return_if_fail (G_TYPE_CHECK_INSTANCE_TYPE (self, type_name##_get_type ()));           \
    bgr_options_put_##width (BGR_OPTIONS (self), key, value);                                \
  }                                                                                          \
  ctype type_name##_get_##field (TypeName *self)                                             \
  {                                                                                          \
    g_return_val_if_fail (G_TYPE_CHECK_INSTANCE_TYPE (self, type_name##_get_type ()), 0);    \
    return bgr_options_get_##width (BGR_OPTIONS (self), key);                                \
  }

/* ---- BgrVmSpec ---------------------------------------------------------- */

static const BgrOptionKey vm_spec_keys[] = {
  { "name", "s" },
  { "image", "s" },
  { "vcpus", "u" },
  { "memory-mib", "t" },
  { "disk-size", "t" },
  { "work-size", "t" },
  { "cmdline-append", "s" },
  { "network", "s" },
  { NULL, NULL },
};

DEFINE_OPTIONS_TYPE (BgrVmSpec, bgr_vm_spec, vm_spec_keys)

/**
 * bgr_vm_spec_new:
 * @name: (nullable): the VM's name
 *
 * Returns: (transfer full): a new VM spec; every other key unset
 *
 * Since: 0.2
 */
BgrVmSpec *
bgr_vm_spec_new (const char *name)
{
  BgrVmSpec *self = g_object_new (BGR_TYPE_VM_SPEC, NULL);
  if (name != NULL)
    bgr_vm_spec_set_name (self, name);
  return self;
}

STRING_OPTION (BgrVmSpec, bgr_vm_spec, name, "name")
STRING_OPTION (BgrVmSpec, bgr_vm_spec, image, "image")
NUMBER_OPTION (BgrVmSpec, bgr_vm_spec, vcpus, "vcpus", guint, uint32)
NUMBER_OPTION (BgrVmSpec, bgr_vm_spec, memory_mib, "memory-mib", guint64, uint64)
NUMBER_OPTION (BgrVmSpec, bgr_vm_spec, disk_size, "disk-size", guint64, uint64)
NUMBER_OPTION (BgrVmSpec, bgr_vm_spec, work_size, "work-size", guint64, uint64)
STRING_OPTION (BgrVmSpec, bgr_vm_spec, cmdline_append, "cmdline-append")
STRING_OPTION (BgrVmSpec, bgr_vm_spec, network, "network")

/* ---- BgrPullOptions ----------------------------------------------------- */

static const BgrOptionKey pull_options_keys[] = {
  { "name", "s" },
  { "kernel", "s" },
  { "platform", "s" },
  { "size", "t" },
  { "insecure", "b" },
  { NULL, NULL },
};

DEFINE_OPTIONS_TYPE (BgrPullOptions, bgr_pull_options, pull_options_keys)

/**
 * bgr_pull_options_new:
 *
 * Returns: (transfer full): new pull options, all unset
 *
 * Since: 0.2
 */
BgrPullOptions *
bgr_pull_options_new (void)
{
  return g_object_new (BGR_TYPE_PULL_OPTIONS, NULL);
}

STRING_OPTION (BgrPullOptions, bgr_pull_options, name, "name")
STRING_OPTION (BgrPullOptions, bgr_pull_options, kernel, "kernel")
STRING_OPTION (BgrPullOptions, bgr_pull_options, platform, "platform")
NUMBER_OPTION (BgrPullOptions, bgr_pull_options, size, "size", guint64, uint64)
NUMBER_OPTION (BgrPullOptions, bgr_pull_options, insecure, "insecure", gboolean, boolean)

/* ---- BgrBuildOptions ---------------------------------------------------- */

static const BgrOptionKey build_options_keys[] = {
  { "from", "s" },
  { "run", "as" },
  { "vcpus", "u" },
  { "memory-mib", "t" },
  { "disk-size", "t" },
  { NULL, NULL },
};

DEFINE_OPTIONS_TYPE (BgrBuildOptions, bgr_build_options, build_options_keys)

/**
 * bgr_build_options_new:
 * @from: (nullable): the image to start from
 *
 * Returns: (transfer full): new build options
 *
 * Since: 0.2
 */
BgrBuildOptions *
bgr_build_options_new (const char *from)
{
  BgrBuildOptions *self = g_object_new (BGR_TYPE_BUILD_OPTIONS, NULL);
  if (from != NULL)
    bgr_build_options_set_from (self, from);
  return self;
}

/**
 * bgr_build_options_set_run:
 * @self: build options
 * @commands: (nullable) (array zero-terminated=1): shell commands, in order
 *
 * Since: 0.2
 */
void
bgr_build_options_set_run (BgrBuildOptions *self, const char *const *commands)
{
  g_return_if_fail (BGR_IS_BUILD_OPTIONS (self));
  bgr_options_put_strv (BGR_OPTIONS (self), "run", commands);
}

/**
 * bgr_build_options_dup_run:
 * @self: build options
 *
 * Returns: (transfer full) (nullable): the commands, or %NULL when unset
 *
 * Since: 0.2
 */
char **
bgr_build_options_dup_run (BgrBuildOptions *self)
{
  g_return_val_if_fail (BGR_IS_BUILD_OPTIONS (self), NULL);
  return bgr_options_dup_strv (BGR_OPTIONS (self), "run");
}

STRING_OPTION (BgrBuildOptions, bgr_build_options, from, "from")
NUMBER_OPTION (BgrBuildOptions, bgr_build_options, vcpus, "vcpus", guint, uint32)
NUMBER_OPTION (BgrBuildOptions, bgr_build_options, memory_mib, "memory-mib", guint64, uint64)
NUMBER_OPTION (BgrBuildOptions, bgr_build_options, disk_size, "disk-size", guint64, uint64)

/* ---- BgrExecSpec -------------------------------------------------------- */

static const BgrOptionKey exec_spec_keys[] = {
  { "argv", "as" },
  { "env", "as" },
  { "cwd", "s" },
  { "timeout-ms", "u" },
  { "pty", "b" },
  { "rows", "u" },
  { "cols", "u" },
  { NULL, NULL },
};

struct _BgrExecSpec {
  BgrOptions parent_instance;
  int stdio[3];
  int resize_fd;
};

G_DEFINE_FINAL_TYPE (BgrExecSpec, bgr_exec_spec, BGR_TYPE_OPTIONS)

static void
bgr_exec_spec_class_init (BgrExecSpecClass *klass)
{
  BGR_OPTIONS_CLASS (klass)->keys = exec_spec_keys;
}

static void
bgr_exec_spec_init (BgrExecSpec *self)
{
  self->stdio[0] = self->stdio[1] = self->stdio[2] = -1;
  self->resize_fd = -1;
}

/**
 * bgr_exec_spec_new:
 * @argv: (nullable) (array zero-terminated=1): the command and its arguments
 *
 * Returns: (transfer full): a new exec spec; no standard streams (-1)
 *
 * Since: 0.2
 */
BgrExecSpec *
bgr_exec_spec_new (const char *const *argv)
{
  BgrExecSpec *self = g_object_new (BGR_TYPE_EXEC_SPEC, NULL);
  if (argv != NULL)
    bgr_exec_spec_set_argv (self, argv);
  return self;
}

/**
 * bgr_exec_spec_new_from_variant:
 * @dict: an `a{sv}` dictionary
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the spec, or %NULL when a key is unknown
 *
 * Since: 0.2
 */
BgrExecSpec *
bgr_exec_spec_new_from_variant (GVariant *dict, GError **error)
{
  return bgr_options_new_from_variant (BGR_TYPE_EXEC_SPEC, dict, error);
}

void
bgr_exec_spec_set_argv (BgrExecSpec *self, const char *const *argv)
{
  g_return_if_fail (BGR_IS_EXEC_SPEC (self));
  bgr_options_put_strv (BGR_OPTIONS (self), "argv", argv);
}

/**
 * bgr_exec_spec_dup_argv:
 * @self: an exec spec
 *
 * Returns: (transfer full) (nullable): the command, or %NULL when unset
 *
 * Since: 0.2
 */
char **
bgr_exec_spec_dup_argv (BgrExecSpec *self)
{
  g_return_val_if_fail (BGR_IS_EXEC_SPEC (self), NULL);
  return bgr_options_dup_strv (BGR_OPTIONS (self), "argv");
}

void
bgr_exec_spec_set_env (BgrExecSpec *self, const char *const *env)
{
  g_return_if_fail (BGR_IS_EXEC_SPEC (self));
  bgr_options_put_strv (BGR_OPTIONS (self), "env", env);
}

/**
 * bgr_exec_spec_dup_env:
 * @self: an exec spec
 *
 * Returns: (transfer full) (nullable): the added environment, or %NULL
 *
 * Since: 0.2
 */
char **
bgr_exec_spec_dup_env (BgrExecSpec *self)
{
  g_return_val_if_fail (BGR_IS_EXEC_SPEC (self), NULL);
  return bgr_options_dup_strv (BGR_OPTIONS (self), "env");
}

STRING_OPTION (BgrExecSpec, bgr_exec_spec, cwd, "cwd")
NUMBER_OPTION (BgrExecSpec, bgr_exec_spec, timeout_ms, "timeout-ms", guint, uint32)
NUMBER_OPTION (BgrExecSpec, bgr_exec_spec, pty, "pty", gboolean, boolean)
NUMBER_OPTION (BgrExecSpec, bgr_exec_spec, rows, "rows", guint, uint32)
NUMBER_OPTION (BgrExecSpec, bgr_exec_spec, cols, "cols", guint, uint32)

/**
 * bgr_exec_spec_set_resize_fd:
 * @self: a #BgrExecSpec
 * @fd: a descriptor to read window sizes from, or -1
 *
 * With `pty`, each line "ROWS COLS\n" read from @fd while the command runs
 * resizes its terminal (the guest process gets SIGWINCH). Like the stdio
 * descriptors, it is the caller's, is not an option and does not
 * serialise; it must stay open until the call returns.
 *
 * Since: 0.2
 */
void
bgr_exec_spec_set_resize_fd (BgrExecSpec *self, int fd)
{
  g_return_if_fail (BGR_IS_EXEC_SPEC (self));
  self->resize_fd = fd;
}

/**
 * bgr_exec_spec_get_resize_fd:
 * @self: a #BgrExecSpec
 *
 * Returns: the descriptor bgr_exec_spec_set_resize_fd() set, or -1
 * Since: 0.2
 */
int
bgr_exec_spec_get_resize_fd (BgrExecSpec *self)
{
  g_return_val_if_fail (BGR_IS_EXEC_SPEC (self), -1);
  return self->resize_fd;
}

/**
 * bgr_exec_spec_set_stdio:
 * @self: an exec spec
 * @stdin_fd: the command's stdin (-1: none, it reads EOF)
 * @stdout_fd: where its stdout goes (-1: discarded)
 * @stderr_fd: where its stderr goes (-1: discarded)
 *
 * The descriptors stay the caller's: they are not closed.
 *
 * Since: 0.2
 */
void
bgr_exec_spec_set_stdio (BgrExecSpec *self, int stdin_fd, int stdout_fd, int stderr_fd)
{
  g_return_if_fail (BGR_IS_EXEC_SPEC (self));
  self->stdio[0] = stdin_fd;
  self->stdio[1] = stdout_fd;
  self->stdio[2] = stderr_fd;
}

/**
 * bgr_exec_spec_get_stdio:
 * @self: an exec spec
 * @stdin_fd: (out) (optional): the command's stdin
 * @stdout_fd: (out) (optional): its stdout
 * @stderr_fd: (out) (optional): its stderr
 *
 * Since: 0.2
 */
void
bgr_exec_spec_get_stdio (BgrExecSpec *self, int *stdin_fd, int *stdout_fd, int *stderr_fd)
{
  g_return_if_fail (BGR_IS_EXEC_SPEC (self));
  if (stdin_fd != NULL)
    *stdin_fd = self->stdio[0];
  if (stdout_fd != NULL)
    *stdout_fd = self->stdio[1];
  if (stderr_fd != NULL)
    *stderr_fd = self->stdio[2];
}

/* ---- BgrImageSpec ------------------------------------------------------- */

static const BgrOptionKey image_spec_keys[] = {
  { "name", "s" },
  { "rootfs", "s" },
  { "work-seed", "s" },
  { "kernel", "s" },
  { "kernel-ref", "s" },
  { "initrd", "s" },
  { "modules", "s" },
  { NULL, NULL },
};

DEFINE_OPTIONS_TYPE (BgrImageSpec, bgr_image_spec, image_spec_keys)

/**
 * bgr_image_spec_new:
 * @name: (nullable): the image's name
 *
 * Returns: (transfer full): a new image spec
 *
 * Since: 0.2
 */
BgrImageSpec *
bgr_image_spec_new (const char *name)
{
  BgrImageSpec *self = g_object_new (BGR_TYPE_IMAGE_SPEC, NULL);
  if (name != NULL)
    bgr_image_spec_set_name (self, name);
  return self;
}

STRING_OPTION (BgrImageSpec, bgr_image_spec, name, "name")
STRING_OPTION (BgrImageSpec, bgr_image_spec, rootfs, "rootfs")
STRING_OPTION (BgrImageSpec, bgr_image_spec, work_seed, "work-seed")
STRING_OPTION (BgrImageSpec, bgr_image_spec, kernel, "kernel")
STRING_OPTION (BgrImageSpec, bgr_image_spec, kernel_ref, "kernel-ref")
STRING_OPTION (BgrImageSpec, bgr_image_spec, initrd, "initrd")
STRING_OPTION (BgrImageSpec, bgr_image_spec, modules, "modules")

/* ---- BgrKernelSpec ------------------------------------------------------ */

static const BgrOptionKey kernel_spec_keys[] = {
  { "name", "s" },
  { "kernel", "s" },
  { "modules", "s" },
  { "initrd", "s" },
  { "deb", "s" },
  { NULL, NULL },
};

DEFINE_OPTIONS_TYPE (BgrKernelSpec, bgr_kernel_spec, kernel_spec_keys)

/**
 * bgr_kernel_spec_new:
 * @name: (nullable): the kernel's name
 *
 * Returns: (transfer full): a new kernel spec
 *
 * Since: 0.2
 */
BgrKernelSpec *
bgr_kernel_spec_new (const char *name)
{
  BgrKernelSpec *self = g_object_new (BGR_TYPE_KERNEL_SPEC, NULL);
  if (name != NULL)
    bgr_kernel_spec_set_name (self, name);
  return self;
}

STRING_OPTION (BgrKernelSpec, bgr_kernel_spec, name, "name")
STRING_OPTION (BgrKernelSpec, bgr_kernel_spec, kernel, "kernel")
STRING_OPTION (BgrKernelSpec, bgr_kernel_spec, modules, "modules")
STRING_OPTION (BgrKernelSpec, bgr_kernel_spec, initrd, "initrd")
STRING_OPTION (BgrKernelSpec, bgr_kernel_spec, deb, "deb")

/* ---- BgrWorkspaceSpec --------------------------------------------------- */

static const BgrOptionKey workspace_spec_keys[] = {
  { "repo", "s" },
  { "guest-path", "s" },
  { "mode", "s" },
  { "readonly", "b" },
  { "branch", "s" },
  { "from", "s" },
  { NULL, NULL },
};

DEFINE_OPTIONS_TYPE (BgrWorkspaceSpec, bgr_workspace_spec, workspace_spec_keys)

/**
 * bgr_workspace_spec_new:
 * @repo: (nullable): a path in the repository
 *
 * Returns: (transfer full): a new workspace spec
 *
 * Since: 0.3
 */
BgrWorkspaceSpec *
bgr_workspace_spec_new (const char *repo)
{
  BgrWorkspaceSpec *self = g_object_new (BGR_TYPE_WORKSPACE_SPEC, NULL);
  if (repo != NULL)
    bgr_workspace_spec_set_repo (self, repo);
  return self;
}

STRING_OPTION (BgrWorkspaceSpec, bgr_workspace_spec, repo, "repo")
STRING_OPTION (BgrWorkspaceSpec, bgr_workspace_spec, guest_path, "guest-path")
STRING_OPTION (BgrWorkspaceSpec, bgr_workspace_spec, mode, "mode")
STRING_OPTION (BgrWorkspaceSpec, bgr_workspace_spec, branch, "branch")
STRING_OPTION (BgrWorkspaceSpec, bgr_workspace_spec, from, "from")

void
bgr_workspace_spec_set_readonly (BgrWorkspaceSpec *self, gboolean readonly)
{
  g_return_if_fail (BGR_IS_WORKSPACE_SPEC (self));
  bgr_options_put_boolean (BGR_OPTIONS (self), "readonly", readonly);
}

gboolean
bgr_workspace_spec_get_readonly (BgrWorkspaceSpec *self)
{
  g_return_val_if_fail (BGR_IS_WORKSPACE_SPEC (self), FALSE);
  return bgr_options_get_boolean (BGR_OPTIONS (self), "readonly");
}
