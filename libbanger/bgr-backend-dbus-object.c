/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The D-Bus backend's calls on one object of the daemon's tree (a VM, an
 * image, a kernel): the object's path from its name, and a wait for a
 * tree that lags behind the daemon's records. */
#include "config.h"

#include "bgr-backend-dbus-private.h"
#include "bgr-dbus-call.h"

const BgrDBusKind OBJ_VM = { "vm", "org.banger.Banger1.Vm", "GetVm", "VM" };
const BgrDBusKind OBJ_IMAGE = { "image", "org.banger.Banger1.Image", "GetImage",
                                          "image" };
const BgrDBusKind OBJ_KERNEL = { "kernel", "org.banger.Banger1.Kernel", "GetKernel",
                                           "kernel" };

static char *
object_path (const BgrDBusKind *k, const char *name)
{
  g_autofree char *escaped = g_dbus_escape_object_path (name);
  return g_strdup_printf ("%s/%s/%s", BGR_DBUS_PATH, k->kind, escaped);
}

static gboolean
is_missing_object (const GError *e)
{
  return g_error_matches (e, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD)
         || g_error_matches (e, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT)
         || g_error_matches (e, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE);
}

/* Calls @method on the object of @name. An object that is not (yet) in
 * the tree: NOT_FOUND when the Manager does not know @name either, else
 * the tree lags behind the engine by a moment and the call is retried. */
GVariant *
call_object (DBusBackend *self, const BgrDBusKind *k, const char *name, const char *method,
             GVariant *params, GUnixFDList *fds, const char *reply_type, BgrOperation *op,
             GCancellable *cancellable, GError **error)
{
  g_autofree char *path = object_path (k, name);
  g_autoptr (GVariant) owned = params != NULL ? g_variant_ref_sink (params) : NULL;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  for (;;)
    {
      GError *remote = NULL;
      g_autoptr (GVariant) known = NULL;
      GVariant *reply = bgr_dbus_call_followed (self->connection, path, k->iface, method, owned,
                                                fds, reply_type, op, cancellable, &remote);
      if (reply != NULL)
        return reply;
      if (!is_missing_object (remote))
        {
          convert_remote_error (self, error, remote);
          return NULL;
        }
      g_error_free (remote);
      known = call_name (self, k->getter, name, "(a{sv})", cancellable, error);
      if (known == NULL)
        return NULL;
      if (g_get_monotonic_time () > deadline)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                       "bangerd knows %s '%s' but exports no object for it at %s", k->noun,
                       name, path);
          return NULL;
        }
      g_usleep (20000);
    }
}

GVariant *
call_vm (DBusBackend *self, const char *name, const char *method, GVariant *params,
         GUnixFDList *fds, const char *reply_type, GCancellable *cancellable, GError **error)
{
  return call_object (self, &OBJ_VM, name, method, params, fds, reply_type, NULL,
                      cancellable, error);
}
