/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* D-Bus backend: every call goes to bangerd (org.banger.Banger1). Replies
 * are checked against the expected signature; remote errors come back as
 * BGR_ERROR with their original code. */
#include "config.h"

#include "bgr-backend-private.h"
#include "bgr-config-private.h"
#include "bgr-daemon-info-private.h"
#include "bgr-doctor-private.h"
#include "bgr-error-private.h"

typedef struct {
  BgrBackend parent;
  GDBusConnection *connection;
  char *bus_description;
} DBusBackend;

/* Long work gets a long timeout; progress comes as signals in later versions. */
#define CALL_TIMEOUT_MS (10 * 60 * 1000)

static void
dbus_free (BgrBackend *backend)
{
  DBusBackend *self = (DBusBackend *) backend;
  g_object_unref (self->connection);
  g_free (self->bus_description);
  g_free (self);
}

static void
convert_remote_error (DBusBackend *self, GError **error, GError *remote)
{
  gboolean is_remote = g_dbus_error_is_remote_error (remote);
  g_autofree char *remote_name = is_remote ? g_dbus_error_get_remote_error (remote) : NULL;

  if (is_remote)
    g_dbus_error_strip_remote_error (remote);
  if (remote->domain == BGR_ERROR)
    {
      g_propagate_error (error, remote);
      return;
    }
  if (g_error_matches (remote, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_CHILD_EXITED)
      || g_error_matches (remote, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_EXEC_FAILED)
      || g_error_matches (remote, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_FAILED))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_DAEMON_UNAVAILABLE,
                   "bangerd failed to start through D-Bus activation (%s); run `bangerd%s` "
                   "by hand to see why", remote->message,
                   g_str_equal (self->bus_description, "system") ? " --system" : "");
      g_error_free (remote);
      return;
    }
  if (bgr_error_code_from_gio (remote) == BGR_ERROR_DAEMON_UNAVAILABLE)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_DAEMON_UNAVAILABLE,
                   "bangerd is not running on the %s bus (start it with `bangerd%s`, or run "
                   "the engine in-process with --local): %s",
                   self->bus_description,
                   g_str_equal (self->bus_description, "system") ? " --system" : "",
                   remote->message);
      g_error_free (remote);
      return;
    }
  if (g_error_matches (remote, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD)
      || g_error_matches (remote, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "bangerd does not know this call (is it older than this client?): %s",
                   remote->message);
      g_error_free (remote);
      return;
    }
  if (!is_remote && g_error_matches (remote, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
    {
      /* GDBus's check of the reply against the expected type. */
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "unexpected reply from bangerd: %s",
                   remote->message);
      g_error_free (remote);
      return;
    }
  bgr_propagate_error (error, remote, "bangerd");
}

static GVariant *
call (DBusBackend *self, const char *method, const char *reply_type, GCancellable *cancellable,
      GError **error)
{
  GError *remote = NULL;
  GVariant *reply;

  reply = g_dbus_connection_call_sync (self->connection, BGR_DBUS_NAME, BGR_DBUS_PATH,
                                       BGR_DBUS_MANAGER_IFACE, method, NULL,
                                       G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NONE,
                                       CALL_TIMEOUT_MS, cancellable, &remote);
  if (reply == NULL)
    convert_remote_error (self, error, remote);
  return reply;
}

static BgrConfig *
dbus_get_config (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call ((DBusBackend *) backend, "GetConfig", "(sa(sss))",
                                     cancellable, error);
  g_autoptr (GVariant) entries = NULL;
  const char *path;

  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(&s@a(sss))", &path, &entries);
  return bgr_config_new_from_entries (path, entries, error);
}

static BgrDaemonInfo *
dbus_get_daemon_info (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call ((DBusBackend *) backend, "GetStatus", "(a{sv})",
                                     cancellable, error);
  g_autoptr (GVariant) dict = NULL;

  if (reply == NULL)
    return NULL;
  dict = g_variant_get_child_value (reply, 0);
  return bgr_daemon_info_new_from_variant (dict, error);
}

static gboolean
dbus_stop_daemon (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call ((DBusBackend *) backend, "Stop", "()", cancellable, error);
  return reply != NULL;
}

static char *
dbus_ensure_ssh_key (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call ((DBusBackend *) backend, "EnsureSshKey", "(s)", cancellable,
                                     error);
  char *path = NULL;

  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(s)", &path);
  return path;
}

static BgrDoctorReport *
dbus_doctor (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call ((DBusBackend *) backend, "Doctor", "(sa(suss))", cancellable,
                                     error);
  if (reply == NULL)
    return NULL;
  return bgr_doctor_report_new_from_variant (reply, error);
}

static const BgrBackendVTable dbus_vtable = {
  .name = "dbus",
  .free = dbus_free,
  .get_config = dbus_get_config,
  .get_daemon_info = dbus_get_daemon_info,
  .stop_daemon = dbus_stop_daemon,
  .ensure_ssh_key = dbus_ensure_ssh_key,
  .doctor = dbus_doctor,
};

BgrBackend *
bgr_backend_dbus_new (GDBusConnection *connection, const char *bus_description,
                      BgrClientFlags flags, GCancellable *cancellable, GError **error)
{
  DBusBackend *self = g_new0 (DBusBackend, 1);
  g_autoptr (GVariant) reply = NULL;
  GError *remote = NULL;

  self->parent.vtable = &dbus_vtable;
  self->connection = g_object_ref (connection);
  self->bus_description = g_strdup (bus_description);

  /* Ping the daemon now: this starts it through D-Bus activation where a
   * service file is installed, and turns "not running" into one clear error
   * at construction instead of at the first call. */
  reply = g_dbus_connection_call_sync (connection, BGR_DBUS_NAME, BGR_DBUS_PATH,
                                       "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
                                       (flags & BGR_CLIENT_FLAGS_NO_AUTO_START)
                                         ? G_DBUS_CALL_FLAGS_NO_AUTO_START
                                         : G_DBUS_CALL_FLAGS_NONE,
                                       30000, cancellable, &remote);
  if (reply == NULL)
    {
      convert_remote_error (self, error, remote);
      dbus_free (&self->parent);
      return NULL;
    }
  return &self->parent;
}
