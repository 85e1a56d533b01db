/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <banger/banger.h>

#include "bgr-backend-private.h"
#include "bgr-error-private.h"

struct _BgrClient {
  GObject parent_instance;
  BgrBackend *backend;
};

G_DEFINE_FINAL_TYPE (BgrClient, bgr_client, G_TYPE_OBJECT)

static void
bgr_client_finalize (GObject *object)
{
  BgrClient *self = BGR_CLIENT (object);
  if (self->backend != NULL)
    self->backend->vtable->free (self->backend);
  G_OBJECT_CLASS (bgr_client_parent_class)->finalize (object);
}

static void
bgr_client_class_init (BgrClientClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_client_finalize;
  /* Register the D-Bus error names before any call can fail. */
  (void) bgr_error_quark ();
}

static void
bgr_client_init (BgrClient *self)
{
}

/**
 * bgr_client_new_local:
 * @config: the configuration the engine runs with
 * @flags: #BgrClientFlags
 * @error: return location for a #GError
 *
 * Creates a client whose calls run in this process. The engine takes the
 * state directory's lock: while this client lives, no other engine (another
 * local client, or bangerd) can use the same state directory; a second one
 * fails with %BGR_ERROR_LOCKED naming the holder's pid.
 *
 * Returns: (transfer full): a new client, or %NULL
 * Since: 0.1
 */
BgrClient *
bgr_client_new_local (BgrConfig *config, BgrClientFlags flags, GError **error)
{
  BgrBackend *backend;
  BgrClient *self;

  g_return_val_if_fail (BGR_IS_CONFIG (config), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  (void) bgr_error_quark ();
  backend = bgr_backend_local_new (config, flags, error);
  if (backend == NULL)
    return NULL;
  self = g_object_new (BGR_TYPE_CLIENT, NULL);
  self->backend = backend;
  return self;
}

static BgrClient *
new_dbus_for_connection (GDBusConnection *connection, const char *description,
                         BgrClientFlags flags, GCancellable *cancellable, GError **error)
{
  BgrBackend *backend = bgr_backend_dbus_new (connection, description, flags, cancellable, error);
  BgrClient *self;

  if (backend == NULL)
    return NULL;
  self = g_object_new (BGR_TYPE_CLIENT, NULL);
  self->backend = backend;
  return self;
}

/**
 * bgr_client_new_dbus:
 * @bus_type: %G_BUS_TYPE_SESSION or %G_BUS_TYPE_SYSTEM
 * @flags: #BgrClientFlags
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Creates a client whose calls go to bangerd on @bus_type. Unless @flags
 * has %BGR_CLIENT_FLAGS_NO_AUTO_START, D-Bus activation starts bangerd
 * when it is installed and not running. Fails with
 * %BGR_ERROR_DAEMON_UNAVAILABLE when no bangerd answers.
 *
 * Returns: (transfer full): a new client, or %NULL
 * Since: 0.1
 */
BgrClient *
bgr_client_new_dbus (GBusType bus_type, BgrClientFlags flags, GCancellable *cancellable,
                     GError **error)
{
  g_autoptr (GDBusConnection) connection = NULL;
  GError *local_error = NULL;
  const char *description = bus_type == G_BUS_TYPE_SYSTEM ? "system" : "session";

  g_return_val_if_fail (bus_type == G_BUS_TYPE_SESSION || bus_type == G_BUS_TYPE_SYSTEM, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  (void) bgr_error_quark ();
  connection = g_bus_get_sync (bus_type, cancellable, &local_error);
  if (connection == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_DAEMON_UNAVAILABLE,
                   "cannot connect to the %s bus: %s", description, local_error->message);
      g_error_free (local_error);
      return NULL;
    }
  return new_dbus_for_connection (connection, description, flags, cancellable, error);
}

/**
 * bgr_client_new_dbus_for_address:
 * @address: a D-Bus address of a message bus (e.g. a private dbus-daemon)
 * @flags: #BgrClientFlags
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Like bgr_client_new_dbus() for the message bus at @address.
 *
 * Returns: (transfer full): a new client, or %NULL
 * Since: 0.1
 */
BgrClient *
bgr_client_new_dbus_for_address (const char *address, BgrClientFlags flags,
                                 GCancellable *cancellable, GError **error)
{
  g_autoptr (GDBusConnection) connection = NULL;
  GError *local_error = NULL;

  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  (void) bgr_error_quark ();
  connection = g_dbus_connection_new_for_address_sync (
    address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, cancellable, &local_error);
  if (connection == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_DAEMON_UNAVAILABLE,
                   "cannot connect to the bus at %s: %s", address, local_error->message);
      g_error_free (local_error);
      return NULL;
    }
  return new_dbus_for_connection (connection, address, flags, cancellable, error);
}

/**
 * bgr_client_is_local:
 * @self: a #BgrClient
 *
 * Returns: %TRUE when calls run in-process
 * Since: 0.1
 */
gboolean
bgr_client_is_local (BgrClient *self)
{
  g_return_val_if_fail (BGR_IS_CLIENT (self), FALSE);
  return g_str_equal (self->backend->vtable->name, "local");
}

/**
 * bgr_client_get_config:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the configuration the engine runs with (for a
 *   D-Bus client: the daemon's)
 * Since: 0.1
 */
BgrConfig *
bgr_client_get_config (BgrClient *self, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (BGR_IS_CLIENT (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return self->backend->vtable->get_config (self->backend, cancellable, error);
}

/**
 * bgr_client_get_daemon_info:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full): what the engine reports about itself; a local
 *   client reports this process with bus "in-process"
 * Since: 0.1
 */
BgrDaemonInfo *
bgr_client_get_daemon_info (BgrClient *self, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (BGR_IS_CLIENT (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return self->backend->vtable->get_daemon_info (self->backend, cancellable, error);
}

/**
 * bgr_client_stop_daemon:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Asks bangerd to exit. It replies first, then releases its state
 * directory and exits. A local client fails with %BGR_ERROR_NOT_SUPPORTED.
 *
 * Returns: %TRUE when the daemon accepted
 * Since: 0.1
 */
gboolean
bgr_client_stop_daemon (BgrClient *self, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (BGR_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return self->backend->vtable->stop_daemon (self->backend, cancellable, error);
}

/**
 * bgr_client_ensure_ssh_key:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * See bgr_config_ensure_ssh_key(); runs where the engine runs.
 *
 * Returns: (transfer full): the private key path, or %NULL
 * Since: 0.1
 */
char *
bgr_client_ensure_ssh_key (BgrClient *self, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (BGR_IS_CLIENT (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return self->backend->vtable->ensure_ssh_key (self->backend, cancellable, error);
}

/**
 * bgr_client_doctor:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Checks the host where the engine runs; see bgr_doctor_run().
 *
 * Returns: (transfer full): the report, or %NULL
 * Since: 0.1
 */
BgrDoctorReport *
bgr_client_doctor (BgrClient *self, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (BGR_IS_CLIENT (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return self->backend->vtable->doctor (self->backend, cancellable, error);
}

static void
doctor_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  GError *error = NULL;
  BgrDoctorReport *report = bgr_client_doctor (BGR_CLIENT (source), cancellable, &error);

  if (report == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, report, g_object_unref);
}

/**
 * bgr_client_doctor_async:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the report is ready
 * @user_data: data for @callback
 *
 * Asynchronous version of bgr_client_doctor().
 *
 * Since: 0.1
 */
void
bgr_client_doctor_async (BgrClient *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (BGR_IS_CLIENT (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, bgr_client_doctor_async);
  g_task_run_in_thread (task, doctor_thread);
}

/**
 * bgr_client_doctor_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the report, or %NULL
 * Since: 0.1
 */
BgrDoctorReport *
bgr_client_doctor_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, bgr_client_doctor_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- kernels and images ------------------------------------------------- */

#define CHECK_CLIENT(self, error, ret)                                  \
  G_STMT_START                                                          \
  {                                                                     \
    g_return_val_if_fail (BGR_IS_CLIENT (self), ret);                   \
    g_return_val_if_fail (error == NULL || *error == NULL, ret);        \
  }                                                                     \
  G_STMT_END

/**
 * bgr_client_import_kernel:
 * @self: a #BgrClient
 * @name: the kernel's name
 * @kernel: absolute path of an ELF vmlinux or a bzImage (detected from its header)
 * @modules: (nullable): absolute path of a modules tree: a directory holding
 *   `lib/modules/<version>/`, or the `<version>/` directory itself
 * @initrd: (nullable): absolute path of an initrd to use as is
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Copies a kernel into banger's state directory and registers it. When no
 * @initrd is given and the modules tree builds virtio as modules, banger
 * generates an initramfs that loads them and mounts the root device.
 * Nothing is registered on failure.
 *
 * Returns: (transfer full): the new kernel, or %NULL
 * Since: 0.1
 */
BgrKernel *
bgr_client_import_kernel (BgrClient *self, const char *name, const char *kernel,
                          const char *modules, const char *initrd, GCancellable *cancellable,
                          GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->import_kernel (self->backend, name, kernel, modules, initrd,
                                               cancellable, error);
}

/**
 * bgr_client_import_kernel_deb:
 * @self: a #BgrClient
 * @name: (nullable): the kernel's name; %NULL for the package's kernel version
 * @deb: absolute path of a Debian kernel package (linux-image-*.deb)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Imports the kernel and modules of a Debian kernel package, read with
 * libarchive (no dpkg needed), generating an initramfs when needed.
 *
 * Returns: (transfer full): the new kernel, or %NULL
 * Since: 0.1
 */
BgrKernel *
bgr_client_import_kernel_deb (BgrClient *self, const char *name, const char *deb,
                              GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->import_kernel_deb (self->backend, name, deb, cancellable, error);
}

/**
 * bgr_client_list_kernels:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (element-type BgrKernel): every kernel, by name
 * Since: 0.1
 */
GPtrArray *
bgr_client_list_kernels (BgrClient *self, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->list_kernels (self->backend, cancellable, error);
}

/**
 * bgr_client_get_kernel:
 * @self: a #BgrClient
 * @name: a kernel name
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the kernel, or %NULL (%BGR_ERROR_NOT_FOUND)
 * Since: 0.1
 */
BgrKernel *
bgr_client_get_kernel (BgrClient *self, const char *name, GCancellable *cancellable,
                       GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->get_kernel (self->backend, name, cancellable, error);
}

/**
 * bgr_client_delete_kernel:
 * @self: a #BgrClient
 * @name: a kernel name
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Deletes a kernel and its files. Refused with %BGR_ERROR_BUSY, naming the
 * images, while an image refers to it.
 *
 * Returns: %TRUE on success
 * Since: 0.1
 */
gboolean
bgr_client_delete_kernel (BgrClient *self, const char *name, GCancellable *cancellable,
                          GError **error)
{
  CHECK_CLIENT (self, error, FALSE);
  return self->backend->vtable->delete_kernel (self->backend, name, cancellable, error);
}

/**
 * bgr_client_register_image:
 * @self: a #BgrClient
 * @name: the image's name
 * @rootfs: absolute path of an ext4 rootfs
 * @work_seed: (nullable): absolute path of an ext4 work-seed
 * @kernel: (nullable): absolute path of a kernel file (vmlinux or bzImage)
 * @kernel_ref: (nullable): name of a managed kernel; exactly one of @kernel
 *   and @kernel_ref
 * @initrd: (nullable): absolute path of an initrd
 * @modules: (nullable): absolute path of a modules tree
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Registers an unmanaged image: every file is validated (ext4 opened with
 * libext2fs, the kernel's header read), and banger keeps pointing at the
 * files, never deleting them.
 *
 * Returns: (transfer full): the new image, or %NULL
 * Since: 0.1
 */
BgrImage *
bgr_client_register_image (BgrClient *self, const char *name, const char *rootfs,
                           const char *work_seed, const char *kernel, const char *kernel_ref,
                           const char *initrd, const char *modules, GCancellable *cancellable,
                           GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->register_image (self->backend, name, rootfs, work_seed, kernel,
                                                kernel_ref, initrd, modules, cancellable, error);
}

/**
 * bgr_client_list_images:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (element-type BgrImage): every image, by name
 * Since: 0.1
 */
GPtrArray *
bgr_client_list_images (BgrClient *self, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->list_images (self->backend, cancellable, error);
}

/**
 * bgr_client_get_image:
 * @self: a #BgrClient
 * @name: an image name
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the image, or %NULL (%BGR_ERROR_NOT_FOUND)
 * Since: 0.1
 */
BgrImage *
bgr_client_get_image (BgrClient *self, const char *name, GCancellable *cancellable,
                      GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->get_image (self->backend, name, cancellable, error);
}

/**
 * bgr_client_delete_image:
 * @self: a #BgrClient
 * @name: an image name
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Deletes an image: for a managed image its directory in the state
 * directory, for a registered one only the record (the files are the
 * user's).
 *
 * Returns: %TRUE on success
 * Since: 0.1
 */
gboolean
bgr_client_delete_image (BgrClient *self, const char *name, GCancellable *cancellable,
                         GError **error)
{
  CHECK_CLIENT (self, error, FALSE);
  return self->backend->vtable->delete_image (self->backend, name, cancellable, error);
}

/**
 * bgr_client_promote_image:
 * @self: a #BgrClient
 * @name: an unmanaged image
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Copies an image's files into banger's state directory (a reflink where
 * the filesystem can, else a sparse copy that keeps holes) and marks it
 * managed. %BGR_ERROR_NOTHING_TO_DO when it is managed already.
 *
 * Returns: (transfer full): the promoted image, or %NULL
 * Since: 0.1
 */
BgrImage *
bgr_client_promote_image (BgrClient *self, const char *name, GCancellable *cancellable,
                          GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->promote_image (self->backend, name, cancellable, error);
}

/**
 * bgr_client_list_available_kernels:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Reads the kernel catalog named by `kernel_catalog_url` (http, https or
 * file; empty for the built-in catalog of kernels the host's apt archive
 * provides) and returns what it offers.
 *
 * Returns: (transfer full) (element-type BgrCatalogKernel): the entries
 * Since: 0.1
 */
GPtrArray *
bgr_client_list_available_kernels (BgrClient *self, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->list_available_kernels (self->backend, cancellable, error);
}

/**
 * bgr_client_pull_kernel:
 * @self: a #BgrClient
 * @name: a catalog entry's name
 * @progress: (nullable) (scope call) (closure user_data): download progress
 * @user_data: data for @progress
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Downloads a catalog kernel into the cache dir (resuming an interrupted
 * download, verifying size and sha256) or, for an apt entry, fetches the
 * package with `apt-get download`, then imports it like
 * bgr_client_import_kernel() under @name. A failed or cancelled pull
 * registers nothing (verified downloads stay in the cache).
 *
 * Returns: (transfer full): the new kernel, or %NULL
 * Since: 0.1
 */
BgrKernel *
bgr_client_pull_kernel (BgrClient *self, const char *name, BgrProgressFunc progress,
                        gpointer user_data, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->pull_kernel (self->backend, name, progress, user_data, cancellable,
                                             error);
}

/* Async variants: the sync call in a worker thread. */
typedef struct {
  int op;
  char *a, *b, *c, *d;
  BgrProgressFunc progress;
  gpointer progress_data;
} AsyncCall;

enum { OP_IMPORT_KERNEL, OP_IMPORT_KERNEL_DEB, OP_PROMOTE_IMAGE, OP_PULL_KERNEL };

static void
async_call_free (gpointer p)
{
  AsyncCall *c = p;
  g_free (c->a);
  g_free (c->b);
  g_free (c->c);
  g_free (c->d);
  g_free (c);
}

static void
async_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  BgrClient *self = source;
  AsyncCall *c = data;
  GError *error = NULL;
  gpointer result = NULL;

  switch (c->op)
    {
    case OP_IMPORT_KERNEL:
      result = bgr_client_import_kernel (self, c->a, c->b, c->c, c->d, cancellable, &error);
      break;
    case OP_IMPORT_KERNEL_DEB:
      result = bgr_client_import_kernel_deb (self, c->a, c->b, cancellable, &error);
      break;
    case OP_PULL_KERNEL:
      result = bgr_client_pull_kernel (self, c->a, c->progress, c->progress_data, cancellable,
                                       &error);
      break;
    default:
      result = bgr_client_promote_image (self, c->a, cancellable, &error);
      break;
    }
  if (result == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, result, g_object_unref);
}

static void
start_async (BgrClient *self, AsyncCall *c, gpointer tag, GCancellable *cancellable,
             GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, c, async_call_free);
  g_task_run_in_thread (task, async_thread);
}

/**
 * bgr_client_import_kernel_async:
 * @self: a #BgrClient
 * @name: the kernel's name
 * @kernel: see bgr_client_import_kernel()
 * @modules: (nullable): see bgr_client_import_kernel()
 * @initrd: (nullable): see bgr_client_import_kernel()
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Asynchronous version of bgr_client_import_kernel().
 *
 * Since: 0.1
 */
void
bgr_client_import_kernel_async (BgrClient *self, const char *name, const char *kernel,
                                const char *modules, const char *initrd,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  AsyncCall *c = g_new0 (AsyncCall, 1);

  g_return_if_fail (BGR_IS_CLIENT (self));
  c->op = OP_IMPORT_KERNEL;
  c->a = g_strdup (name);
  c->b = g_strdup (kernel);
  c->c = g_strdup (modules);
  c->d = g_strdup (initrd);
  start_async (self, c, bgr_client_import_kernel_async, cancellable, callback, user_data);
}

/**
 * bgr_client_import_kernel_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the new kernel, or %NULL
 * Since: 0.1
 */
BgrKernel *
bgr_client_import_kernel_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, bgr_client_import_kernel_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * bgr_client_import_kernel_deb_async:
 * @self: a #BgrClient
 * @name: (nullable): see bgr_client_import_kernel_deb()
 * @deb: see bgr_client_import_kernel_deb()
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Asynchronous version of bgr_client_import_kernel_deb().
 *
 * Since: 0.1
 */
void
bgr_client_import_kernel_deb_async (BgrClient *self, const char *name, const char *deb,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  AsyncCall *c = g_new0 (AsyncCall, 1);

  g_return_if_fail (BGR_IS_CLIENT (self));
  c->op = OP_IMPORT_KERNEL_DEB;
  c->a = g_strdup (name);
  c->b = g_strdup (deb);
  start_async (self, c, bgr_client_import_kernel_deb_async, cancellable, callback, user_data);
}

/**
 * bgr_client_import_kernel_deb_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the new kernel, or %NULL
 * Since: 0.1
 */
BgrKernel *
bgr_client_import_kernel_deb_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, bgr_client_import_kernel_deb_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * bgr_client_promote_image_async:
 * @self: a #BgrClient
 * @name: an unmanaged image
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Asynchronous version of bgr_client_promote_image().
 *
 * Since: 0.1
 */
void
bgr_client_promote_image_async (BgrClient *self, const char *name, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data)
{
  AsyncCall *c = g_new0 (AsyncCall, 1);

  g_return_if_fail (BGR_IS_CLIENT (self));
  c->op = OP_PROMOTE_IMAGE;
  c->a = g_strdup (name);
  start_async (self, c, bgr_client_promote_image_async, cancellable, callback, user_data);
}

/**
 * bgr_client_promote_image_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the promoted image, or %NULL
 * Since: 0.1
 */
BgrImage *
bgr_client_promote_image_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, bgr_client_promote_image_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * bgr_client_pull_kernel_async:
 * @self: a #BgrClient
 * @name: a catalog entry's name
 * @progress: (nullable) (scope notified) (closure progress_data): called from
 *   a worker thread as bytes arrive
 * @progress_data: data for @progress
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Asynchronous version of bgr_client_pull_kernel().
 *
 * Since: 0.1
 */
void
bgr_client_pull_kernel_async (BgrClient *self, const char *name, BgrProgressFunc progress,
                              gpointer progress_data, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  AsyncCall *c = g_new0 (AsyncCall, 1);

  g_return_if_fail (BGR_IS_CLIENT (self));
  c->op = OP_PULL_KERNEL;
  c->a = g_strdup (name);
  c->progress = progress;
  c->progress_data = progress_data;
  start_async (self, c, bgr_client_pull_kernel_async, cancellable, callback, user_data);
}

/**
 * bgr_client_pull_kernel_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the new kernel, or %NULL
 * Since: 0.1
 */
BgrKernel *
bgr_client_pull_kernel_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, bgr_client_pull_kernel_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * bgr_client_pull_image:
 * @self: a #BgrClient
 * @reference: an image reference: `alpine:3.19`, `docker.io/library/debian:12`,
 *   `127.0.0.1:5000/dev/base@sha256:...`
 * @name: (nullable): the image's name; %NULL for the reference's last path
 *   component and tag (e.g. "debian-12")
 * @kernel_ref: (nullable): the managed kernel the image boots with; %NULL
 *   when exactly one kernel is managed
 * @platform: (nullable): "os/arch[/variant]", e.g. "linux/amd64"; %NULL for
 *   this host's
 * @size: size of the ext4 rootfs in bytes, 0 to size it from the content
 * @flags: #BgrImagePullFlags
 * @progress: (nullable) (scope call) (closure user_data): download progress,
 *   per layer and in total
 * @user_data: data for @progress
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Downloads an image from an OCI registry (layers kept in a cache shared by
 * all pulls) and replays its layers straight into a new ext4 rootfs through
 * libext2fs, keeping owners, modes, links, device nodes and xattrs, then
 * registers it as a managed image. Nothing is registered on failure.
 *
 * Returns: (transfer full): the new image, or %NULL
 * Since: 0.1
 */
BgrImage *
bgr_client_pull_image (BgrClient *self, const char *reference, const char *name,
                       const char *kernel_ref, const char *platform, guint64 size,
                       BgrImagePullFlags flags, BgrPullProgressFunc progress, gpointer user_data,
                       GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->pull_image (self->backend, reference, name, kernel_ref, platform,
                                            size, flags, progress, user_data, cancellable, error);
}

/**
 * bgr_client_list_image_cache:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (element-type BgrCacheBlob): the layer blobs in
 *   the OCI layer cache, with the images that use each
 * Since: 0.1
 */
GPtrArray *
bgr_client_list_image_cache (BgrClient *self, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->list_image_cache (self->backend, cancellable, error);
}

/**
 * bgr_client_prune_image_cache:
 * @self: a #BgrClient
 * @out_freed: (out) (optional): bytes freed
 * @out_removed: (out) (optional): blobs and VM bases removed
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Removes the layer blobs no image uses, and the prepared VM bases (an
 * image's rootfs with the guest agent and kernel modules added, from which
 * VMs are cloned) that no existing image leads to. An image record that
 * cannot be read stops the prune (it might use any blob).
 *
 * Returns: %TRUE on success
 * Since: 0.1
 */
gboolean
bgr_client_prune_image_cache (BgrClient *self, guint64 *out_freed, guint *out_removed,
                              GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, FALSE);
  return self->backend->vtable->prune_image_cache (self->backend, out_freed, out_removed,
                                                   cancellable, error);
}

/* ---- VMs ------------------------------------------------------------------ */

/**
 * bgr_client_create_vm:
 * @self: a #BgrClient
 * @name: the VM's name, a DNS label (it becomes `NAME.vm`): 1-63 lowercase
 *   letters, digits and '-'
 * @image: (nullable): the image to boot; %NULL for the `default_image_name`
 *   setting
 * @vcpus: number of vCPUs, 0 for 1
 * @memory_mib: memory in MiB, 0 for 512
 * @disk_size: size in bytes of the VM's rootfs, 0 for the image's size (plus
 *   room for the kernel's modules); larger than the image grows the ext4
 * @progress: (nullable) (scope call) (closure user_data): phase reports
 * @user_data: data for @progress
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Creates a VM and boots it: the image's rootfs is cloned for the VM
 * (reflink where the filesystem can, else a sparse copy), the guest agent
 * and the kernel's modules are installed into the clone, the VMM is started
 * and the call returns when the guest agent has answered. When boot fails
 * the VM stays, in state "error", with its console log; when an earlier
 * phase fails nothing is left.
 *
 * Returns: (transfer full): the running VM, or %NULL
 * Since: 0.1
 */
BgrVm *
bgr_client_create_vm (BgrClient *self, const char *name, const char *image, guint vcpus,
                      guint64 memory_mib, guint64 disk_size, BgrVmProgressFunc progress,
                      gpointer user_data, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->create_vm (self->backend, name, image, vcpus, memory_mib,
                                           disk_size, progress, user_data, cancellable, error);
}

/**
 * bgr_client_start_vm:
 * @self: a #BgrClient
 * @name: a stopped VM
 * @progress: (nullable) (scope call) (closure user_data): phase reports
 * @user_data: data for @progress
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Boots a stopped VM again from its own disks and waits for its agent.
 * A VM that runs already is %BGR_ERROR_NOTHING_TO_DO.
 *
 * Returns: (transfer full): the running VM, or %NULL
 * Since: 0.1
 */
BgrVm *
bgr_client_start_vm (BgrClient *self, const char *name, BgrVmProgressFunc progress,
                     gpointer user_data, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->start_vm (self->backend, name, progress, user_data, cancellable,
                                          error);
}

/**
 * bgr_client_stop_vm:
 * @self: a #BgrClient
 * @name: a running VM
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Stops a VM gracefully: the guest agent powers the guest off; if that
 * fails or takes too long, the VMM presses the power button
 * (Ctrl-Alt-Del); last, the VMM is killed. A VM that is not running is
 * %BGR_ERROR_NOTHING_TO_DO.
 *
 * Returns: (transfer full): the stopped VM, or %NULL
 * Since: 0.1
 */
BgrVm *
bgr_client_stop_vm (BgrClient *self, const char *name, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->stop_vm (self->backend, name, cancellable, error);
}

/**
 * bgr_client_kill_vm:
 * @self: a #BgrClient
 * @name: a running VM
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Kills the VM's VMM at once (SIGKILL), like pulling the plug.
 *
 * Returns: (transfer full): the stopped VM, or %NULL
 * Since: 0.1
 */
BgrVm *
bgr_client_kill_vm (BgrClient *self, const char *name, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->kill_vm (self->backend, name, cancellable, error);
}

/**
 * bgr_client_delete_vm:
 * @self: a #BgrClient
 * @name: a VM
 * @force: kill it first if it runs
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Deletes a VM and its disks. A running VM is refused (%BGR_ERROR_BUSY)
 * unless @force; so is a VM that is being created or started.
 *
 * Returns: %TRUE on success
 * Since: 0.1
 */
gboolean
bgr_client_delete_vm (BgrClient *self, const char *name, gboolean force,
                      GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, FALSE);
  return self->backend->vtable->delete_vm (self->backend, name, force, cancellable, error);
}

/**
 * bgr_client_list_vms:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type BgrVm): every VM
 * Since: 0.1
 */
GPtrArray *
bgr_client_list_vms (BgrClient *self, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->list_vms (self->backend, cancellable, error);
}

/**
 * bgr_client_get_vm:
 * @self: a #BgrClient
 * @name: a VM
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the VM, or %NULL (%BGR_ERROR_NOT_FOUND)
 * Since: 0.1
 */
BgrVm *
bgr_client_get_vm (BgrClient *self, const char *name, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->get_vm (self->backend, name, cancellable, error);
}

/**
 * bgr_client_get_vm_logs:
 * @self: a #BgrClient
 * @name: a VM
 * @max_bytes: return at most the last @max_bytes bytes; 0 for all
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The VM's serial console, as the guest wrote it, over all its boots
 * (each starts with a "---- banger: ... booting VM ..." line).
 *
 * Returns: (transfer full): the console log
 * Since: 0.1
 */
GBytes *
bgr_client_get_vm_logs (BgrClient *self, const char *name, guint64 max_bytes,
                        GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->get_vm_logs (self->backend, name, max_bytes, cancellable, error);
}

/**
 * bgr_client_vm_exec:
 * @self: a #BgrClient
 * @name: a running VM
 * @argv: (array zero-terminated=1): the command; argv[0] is looked up in the
 *   guest's PATH
 * @env: (nullable) (array zero-terminated=1): "KEY=VALUE" entries added to
 *   the guest's default environment
 * @cwd: (nullable): working directory in the guest; %NULL for "/"
 * @timeout_ms: kill the command after this long; 0 for no limit
 * @stdin_fd: read until EOF and fed to the command's stdin; -1 for none
 * @stdout_fd: the command's stdout is written here; -1 to discard
 * @stderr_fd: the command's stderr is written here; -1 to discard
 * @out_status: (out) (optional): the exit status, or 128 + the signal that
 *   killed it
 * @cancellable: (nullable): a #GCancellable; cancelling kills the command
 * @error: return location for a #GError
 *
 * Runs a command in the guest through the guest agent, streaming its
 * output as it comes. Over D-Bus the three descriptors are passed to the
 * daemon, so output goes straight to them. A timeout is
 * %BGR_ERROR_TIMED_OUT; a command the guest cannot run is
 * %BGR_ERROR_NOT_FOUND (or another code) with the guest's reason. A command
 * that runs and fails is not an error: see @out_status.
 *
 * Returns: %TRUE when the command ran to its end
 * Since: 0.1
 */
gboolean
bgr_client_vm_exec (BgrClient *self, const char *name, const char *const *argv,
                    const char *const *env, const char *cwd, guint timeout_ms, int stdin_fd,
                    int stdout_fd, int stderr_fd, gint *out_status, GCancellable *cancellable,
                    GError **error)
{
  CHECK_CLIENT (self, error, FALSE);
  return self->backend->vtable->vm_exec (self->backend, name, argv, env, cwd, timeout_ms,
                                         stdin_fd, stdout_fd, stderr_fd, out_status, cancellable,
                                         error);
}

typedef struct {
  int op;
  char *name, *image;
  guint vcpus;
  guint64 memory_mib, disk_size;
  BgrVmProgressFunc progress;
  gpointer progress_data;
} VmCall;

enum { VM_CREATE, VM_START, VM_STOP };

static void
vm_call_free (gpointer p)
{
  VmCall *c = p;
  g_free (c->name);
  g_free (c->image);
  g_free (c);
}

static void
vm_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  VmCall *c = data;
  GError *error = NULL;
  BgrVm *vm;

  if (c->op == VM_CREATE)
    vm = bgr_client_create_vm (source, c->name, c->image, c->vcpus, c->memory_mib, c->disk_size,
                               c->progress, c->progress_data, cancellable, &error);
  else if (c->op == VM_START)
    vm = bgr_client_start_vm (source, c->name, c->progress, c->progress_data, cancellable, &error);
  else
    vm = bgr_client_stop_vm (source, c->name, cancellable, &error);
  if (vm == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, vm, g_object_unref);
}

static void
start_vm_task (BgrClient *self, VmCall *c, gpointer tag, GCancellable *cancellable,
               GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, c, vm_call_free);
  g_task_run_in_thread (task, vm_thread);
}

static BgrVm *
finish_vm_task (BgrClient *self, GAsyncResult *result, gpointer tag, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, tag), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * bgr_client_create_vm_async:
 * @self: a #BgrClient
 * @name: see bgr_client_create_vm()
 * @image: (nullable): see bgr_client_create_vm()
 * @vcpus: see bgr_client_create_vm()
 * @memory_mib: see bgr_client_create_vm()
 * @disk_size: see bgr_client_create_vm()
 * @progress: (nullable) (scope notified) (closure progress_data): called from a
 *   worker thread at each phase
 * @progress_data: data for @progress
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Asynchronous version of bgr_client_create_vm().
 *
 * Since: 0.1
 */
void
bgr_client_create_vm_async (BgrClient *self, const char *name, const char *image, guint vcpus,
                            guint64 memory_mib, guint64 disk_size, BgrVmProgressFunc progress,
                            gpointer progress_data, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  VmCall *c = g_new0 (VmCall, 1);

  g_return_if_fail (BGR_IS_CLIENT (self));
  c->op = VM_CREATE;
  c->name = g_strdup (name);
  c->image = g_strdup (image);
  c->vcpus = vcpus;
  c->memory_mib = memory_mib;
  c->disk_size = disk_size;
  c->progress = progress;
  c->progress_data = progress_data;
  start_vm_task (self, c, bgr_client_create_vm_async, cancellable, callback, user_data);
}

/**
 * bgr_client_create_vm_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the running VM, or %NULL
 * Since: 0.1
 */
BgrVm *
bgr_client_create_vm_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  return finish_vm_task (self, result, bgr_client_create_vm_async, error);
}

/**
 * bgr_client_start_vm_async:
 * @self: a #BgrClient
 * @name: a stopped VM
 * @progress: (nullable) (scope notified) (closure progress_data): called from a
 *   worker thread at each phase
 * @progress_data: data for @progress
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Asynchronous version of bgr_client_start_vm().
 *
 * Since: 0.1
 */
void
bgr_client_start_vm_async (BgrClient *self, const char *name, BgrVmProgressFunc progress,
                           gpointer progress_data, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  VmCall *c = g_new0 (VmCall, 1);

  g_return_if_fail (BGR_IS_CLIENT (self));
  c->op = VM_START;
  c->name = g_strdup (name);
  c->progress = progress;
  c->progress_data = progress_data;
  start_vm_task (self, c, bgr_client_start_vm_async, cancellable, callback, user_data);
}

/**
 * bgr_client_start_vm_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the running VM, or %NULL
 * Since: 0.1
 */
BgrVm *
bgr_client_start_vm_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  return finish_vm_task (self, result, bgr_client_start_vm_async, error);
}

/**
 * bgr_client_stop_vm_async:
 * @self: a #BgrClient
 * @name: a running VM
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Asynchronous version of bgr_client_stop_vm().
 *
 * Since: 0.1
 */
void
bgr_client_stop_vm_async (BgrClient *self, const char *name, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  VmCall *c = g_new0 (VmCall, 1);

  g_return_if_fail (BGR_IS_CLIENT (self));
  c->op = VM_STOP;
  c->name = g_strdup (name);
  start_vm_task (self, c, bgr_client_stop_vm_async, cancellable, callback, user_data);
}

/**
 * bgr_client_stop_vm_finish:
 * @self: a #BgrClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the stopped VM, or %NULL
 * Since: 0.1
 */
BgrVm *
bgr_client_stop_vm_finish (BgrClient *self, GAsyncResult *result, GError **error)
{
  return finish_vm_task (self, result, bgr_client_stop_vm_async, error);
}

/**
 * bgr_client_vm_ports:
 * @self: a #BgrClient
 * @name: a running VM
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The sockets listening in the guest (TCP listening, UDP unconnected), as
 * its agent reads them from /proc/net, with their owners where it can tell.
 *
 * Returns: (transfer container) (element-type BgrVmPort): the ports
 * Since: 0.1
 */
GPtrArray *
bgr_client_vm_ports (BgrClient *self, const char *name, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->vm_ports (self->backend, name, cancellable, error);
}

/**
 * bgr_client_vm_stats:
 * @self: a #BgrClient
 * @name: a running VM
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The VM's resource use: the guest's CPU time, memory, load and root
 * filesystem from its agent; the VMM process's CPU time and memory, and
 * disk and network bytes, from outside. bangerd samples every
 * `stats_poll_interval` (guest) and `metrics_poll_interval` (VMM) and
 * returns its latest samples while they are that recent; otherwise, and
 * in a client without supervision, the VM is sampled now. Guest CPU use
 * between the last two samples is in cpu_busy_permille.
 *
 * Returns: (transfer full): the sample
 * Since: 0.1
 */
BgrVmStats *
bgr_client_vm_stats (BgrClient *self, const char *name, GCancellable *cancellable, GError **error)
{
  CHECK_CLIENT (self, error, NULL);
  return self->backend->vtable->vm_stats (self->backend, name, cancellable, error);
}
