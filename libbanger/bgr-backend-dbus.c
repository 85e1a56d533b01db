/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* D-Bus backend: every call goes to bangerd (org.banger.Banger1). Replies
 * are checked against the expected signature; remote errors come back as
 * BGR_ERROR with their original code. */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>
#include <gio/gunixfdlist.h>

#include "bgr-backend-dbus-private.h"
#include "bgr-dbus-call.h"
#include "bgr-config-private.h"
#include "bgr-daemon-info-private.h"
#include "bgr-doctor-private.h"
#include "bgr-error-private.h"
#include "bgr-records-private.h"


void
dbus_free (BgrBackend *backend)
{
  DBusBackend *self = (DBusBackend *) backend;
  g_object_unref (self->connection);
  g_free (self->bus_description);
  g_free (self);
}

void
convert_remote_error (DBusBackend *self, GError **error, GError *remote)
{
  gboolean is_remote = g_dbus_error_is_remote_error (remote);

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

GVariant *
call_at (DBusBackend *self, const char *path, const char *iface, const char *method,
         GVariant *params, const char *reply_type, gint timeout_ms, GCancellable *cancellable,
         GError **error)
{
  GError *remote = NULL;
  GVariant *reply;

  reply = g_dbus_connection_call_sync (self->connection, BGR_DBUS_NAME, path, iface, method,
                                       params, G_VARIANT_TYPE (reply_type),
                                       G_DBUS_CALL_FLAGS_NONE, timeout_ms, cancellable, &remote);
  if (reply == NULL)
    convert_remote_error (self, error, remote);
  return reply;
}

GVariant *
call_with (DBusBackend *self, const char *method, GVariant *params, const char *reply_type,
           GCancellable *cancellable, GError **error)
{
  /* Doctor may boot a probe guest; the rest answers quickly. */
  return call_at (self, BGR_DBUS_PATH, BGR_DBUS_MANAGER_IFACE, method, params, reply_type,
                  g_str_equal (method, "Doctor") ? LONG_CALL_TIMEOUT_MS : CALL_TIMEOUT_MS,
                  cancellable, error);
}

GVariant *
call (DBusBackend *self, const char *method, const char *reply_type, GCancellable *cancellable,
      GError **error)
{
  return call_with (self, method, NULL, reply_type, cancellable, error);
}

BgrConfig *
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

BgrDaemonInfo *
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

gboolean
dbus_stop_daemon (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call ((DBusBackend *) backend, "Stop", "()", cancellable, error);
  return reply != NULL;
}

char *
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

char *
dbus_web_login_url (BgrBackend *backend, char **out_url, GCancellable *cancellable,
                    GError **error)
{
  g_autoptr (GVariant) reply = call ((DBusBackend *) backend, "GetWebLogin", "(ss)", cancellable,
                                     error);
  char *url = NULL, *login = NULL;

  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(ss)", &url, &login);
  if (out_url != NULL)
    *out_url = url;
  else
    g_free (url);
  return login;
}

BgrDoctorReport *
dbus_doctor (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call ((DBusBackend *) backend, "Doctor", "(ssa(suss))", cancellable,
                                     error);
  if (reply == NULL)
    return NULL;
  return bgr_doctor_report_new_from_variant (reply, error);
}



/* An (a{sv}) reply turned into the object @make builds from the record. */
gpointer
record_from_reply (GVariant *reply, RecordNew make, GError **error)
{
  g_autoptr (GVariant) dict = NULL;
  g_autoptr (JsonObject) doc = NULL;

  if (reply == NULL)
    return NULL;
  dict = g_variant_get_child_value (reply, 0);
  doc = bgr_record_from_variant (dict, error);
  return doc != NULL ? make (doc) : NULL;
}

BgrKernel *
kernel_from_reply (GVariant *reply, GError **error)
{
  return record_from_reply (reply, (RecordNew) bgr_kernel_new_from_json, error);
}

BgrImage *
image_from_reply (GVariant *reply, GError **error)
{
  return record_from_reply (reply, (RecordNew) bgr_image_new_from_json, error);
}

/* The calls that take one name: Get*, Delete*, PromoteImage. */
GVariant *
call_name (DBusBackend *self, const char *method, const char *name, const char *reply_type,
           GCancellable *cancellable, GError **error)
{
  return call_with (self, method, g_variant_new ("(s)", OPT (name)), reply_type, cancellable,
                    error);
}

/* An aa{sv} reply turned into objects made by @make from each record. */
GPtrArray *
list_from_reply (GVariant *reply, RecordNew make, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GVariant) array = NULL;
  GVariantIter iter;
  GVariant *dict;

  if (reply == NULL)
    return NULL;
  array = g_variant_get_child_value (reply, 0);
  g_variant_iter_init (&iter, array);
  while ((dict = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr (JsonObject) doc = bgr_record_from_variant (dict, error);
      g_variant_unref (dict);
      if (doc == NULL)
        return NULL;
      g_ptr_array_add (out, make (doc));
    }
  return g_steal_pointer (&out);
}


BgrBackend *
bgr_backend_dbus_new (GDBusConnection *connection, const char *bus_description,
                      BgrClientFlags flags, GCancellable *cancellable, GError **error)
{
  DBusBackend *self = g_new0 (DBusBackend, 1);
  g_autoptr (GVariant) reply = NULL;
  GError *remote = NULL;

  self->parent.vtable = &bgr_backend_dbus_vtable;
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
