/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrClient's calls on the engine itself and this host: what the daemon
 * reports, stopping it, the SSH key, the web UI's login and the doctor. */
#include "config.h"

#include "bgr-client-private.h"

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
  return bgr_client_get_backend (self)->vtable->get_daemon_info (bgr_client_get_backend (self), cancellable, error);
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
  return bgr_client_get_backend (self)->vtable->stop_daemon (bgr_client_get_backend (self), cancellable, error);
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
  return bgr_client_get_backend (self)->vtable->ensure_ssh_key (bgr_client_get_backend (self), cancellable, error);
}

/**
 * bgr_client_web_login_url:
 * @self: a #BgrClient
 * @out_url: (out) (optional) (transfer full): the web UI's address,
 *   "http://HOST:PORT/"
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Asks bangerd for a URL that logs a browser in to its web UI once: the
 * first visit within a minute sets the session cookie, later ones are
 * refused (docs/web.md). Experimental.
 *
 * Fails with %BGR_ERROR_NOT_SUPPORTED for a local client (only bangerd
 * serves the web UI) and when bangerd serves none (`web_listen_addr` is
 * empty, or its address could not be used).
 *
 * Returns: (transfer full): the one-time login URL, or %NULL
 * Since: 0.2
 */
char *
bgr_client_web_login_url (BgrClient *self, char **out_url, GCancellable *cancellable,
                          GError **error)
{
  g_return_val_if_fail (BGR_IS_CLIENT (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return bgr_client_get_backend (self)->vtable->web_login_url (bgr_client_get_backend (self), out_url, cancellable, error);
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
  return bgr_client_get_backend (self)->vtable->doctor (bgr_client_get_backend (self), cancellable, error);
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
