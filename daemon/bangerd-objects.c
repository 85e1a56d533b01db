/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The object tree: org.freedesktop.DBus.ObjectManager at /org/banger/Banger1
 * and one object per VM, image and kernel. The engine says which object
 * changed (BgrClient::object-changed); one refresher thread reads it back
 * and updates or removes its object, in the order of the events, so
 * PropertiesChanged follows the engine without polling. Each stats sample
 * of a VM is its object's StatsSampled signal. */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include <gio/gunixfdlist.h>
#include <unistd.h>

#include "bangerd-private.h"

#define DAEMON(data) ((Daemon *) (data))

typedef struct {
  char *kind;
  char *name;
  GVariant *record; /* the VM as written, or NULL: read it back */
} Refresh;

static void
refresh_free (gpointer p)
{
  Refresh *r = p;
  g_free (r->kind);
  g_free (r->name);
  if (r->record != NULL)
    g_variant_unref (r->record);
  g_free (r);
}

static char *
object_path (const char *kind, const char *name)
{
  g_autofree char *escaped = g_dbus_escape_object_path (name);
  return g_strdup_printf ("%s/%s/%s", BGR_DBUS_PATH, kind, escaped);
}

const char *
bgrd_object_name (GDBusMethodInvocation *invocation)
{
  /* The invocation outlives the handler: keep the name on it. */
  const char *path = g_dbus_method_invocation_get_object_path (invocation);
  char *name = g_object_get_data (G_OBJECT (invocation), "bgrd-name");

  if (name == NULL)
    {
      name = (char *) g_dbus_unescape_object_path (strrchr (path, '/') + 1);
      g_object_set_data_full (G_OBJECT (invocation), "bgrd-name", name, g_free);
    }
  return name;
}

/* "MemoryMib" -> "memory_mib" (record key) or "memory-mib" (GObject property). */
static char *
decamel (const char *name, char sep)
{
  GString *s = g_string_new (NULL);

  for (const char *p = name; *p != '\0'; p++)
    {
      if (g_ascii_isupper (*p) && p != name)
        g_string_append_c (s, sep);
      g_string_append_c (s, g_ascii_tolower (*p));
    }
  return g_string_free (s, FALSE);
}

static GVariant *
default_for (const char *signature)
{
  switch (signature[0])
    {
    case 's': return g_variant_new_string ("");
    case 'b': return g_variant_new_boolean (FALSE);
    case 'x': return g_variant_new_int64 (0);
    case 'u': return g_variant_new_uint32 (0);
    case 't': return g_variant_new_uint64 (0);
    default: return NULL;
    }
}

/* Sets every property of @iface from the record keys of @dict. */
static void
apply (GDBusInterfaceSkeleton *iface, GVariant *dict)
{
  GDBusInterfaceInfo *info = g_dbus_interface_skeleton_get_info (iface);

  /* One PropertiesChanged for all the properties of one change. */
  g_object_freeze_notify (G_OBJECT (iface));
  for (guint i = 0; info->properties[i] != NULL; i++)
    {
      GDBusPropertyInfo *p = info->properties[i];
      g_autofree char *key = decamel (p->name, '_');
      g_autofree char *prop = decamel (p->name, '-');
      g_autoptr (GVariant) v = g_variant_lookup_value (dict, key, NULL);
      g_auto (GValue) gv = G_VALUE_INIT;

      if (v == NULL || !g_variant_is_of_type (v, G_VARIANT_TYPE (p->signature)))
        {
          g_clear_pointer (&v, g_variant_unref);
          v = g_variant_ref_sink (default_for (p->signature));
        }
      if (v == NULL)
        continue;
      g_dbus_gvariant_to_gvalue (v, &gv);
      g_object_set_property (G_OBJECT (iface), prop, &gv);
    }
  g_object_thaw_notify (G_OBJECT (iface));
}

static GVariant *
image_dict (BgrImage *image)
{
  GVariantDict d;

  g_variant_dict_init (&d, NULL);
  g_variant_dict_insert (&d, "name", "s", bgr_image_get_name (image));
  if (bgr_image_get_source (image) != NULL)
    g_variant_dict_insert (&d, "source", "s", bgr_image_get_source (image));
  g_variant_dict_insert (&d, "managed", "b", bgr_image_get_managed (image));
  if (bgr_image_get_kernel_ref (image) != NULL)
    g_variant_dict_insert (&d, "kernel_ref", "s", bgr_image_get_kernel_ref (image));
  g_variant_dict_insert (&d, "size", "x", bgr_image_get_size (image));
  return g_variant_ref_sink (g_variant_dict_end (&d));
}

static GVariant *
kernel_dict (BgrKernel *kernel)
{
  GVariantDict d;

  g_variant_dict_init (&d, NULL);
  g_variant_dict_insert (&d, "name", "s", bgr_kernel_get_name (kernel));
  if (bgr_kernel_get_version (kernel) != NULL)
    g_variant_dict_insert (&d, "version", "s", bgr_kernel_get_version (kernel));
  if (bgr_kernel_get_format (kernel) != NULL)
    g_variant_dict_insert (&d, "format", "s", bgr_kernel_get_format (kernel));
  if (bgr_kernel_get_source (kernel) != NULL)
    g_variant_dict_insert (&d, "source", "s", bgr_kernel_get_source (kernel));
  g_variant_dict_insert (&d, "size", "x", bgr_kernel_get_size (kernel));
  return g_variant_ref_sink (g_variant_dict_end (&d));
}

/* The object's current public form, or NULL when it no longer exists. */
static GVariant *
fetch (Daemon *d, const char *kind, const char *name)
{
  g_autoptr (GError) error = NULL;

  if (g_str_equal (kind, "vm"))
    {
      g_autoptr (BgrVm) vm = bgr_client_vm_get (d->client, name, NULL, &error);
      return vm != NULL ? g_variant_ref_sink (bgr_vm_to_variant (vm)) : NULL;
    }
  if (g_str_equal (kind, "image"))
    {
      g_autoptr (BgrImage) image = bgr_client_image_get (d->client, name, NULL, &error);
      return image != NULL ? image_dict (image) : NULL;
    }
  if (g_str_equal (kind, "kernel"))
    {
      g_autoptr (BgrKernel) kernel = bgr_client_kernel_get (d->client, name, NULL, &error);
      return kernel != NULL ? kernel_dict (kernel) : NULL;
    }
  return NULL;
}

static void connect_handlers (Daemon *d, const char *kind, gpointer iface);

static GDBusInterfaceSkeleton *
new_interface (Daemon *d, const char *kind, BgrDBusObjectSkeleton *object)
{
  gpointer iface = NULL;

  if (g_str_equal (kind, "vm"))
    {
      iface = bgr_dbus_vm_skeleton_new ();
      bgr_dbus_object_skeleton_set_vm (object, iface);
    }
  else if (g_str_equal (kind, "image"))
    {
      iface = bgr_dbus_image_skeleton_new ();
      bgr_dbus_object_skeleton_set_image (object, iface);
    }
  else
    {
      iface = bgr_dbus_kernel_skeleton_new ();
      bgr_dbus_object_skeleton_set_kernel (object, iface);
    }
  bgrd_setup_skeleton (d, iface);
  connect_handlers (d, kind, iface);
  return iface;
}

static void queue_everything (Daemon *d);

static void
refresh_one (gpointer item, gpointer data)
{
  Daemon *d = data;
  Refresh *r = item;
  g_autofree char *path = r->name != NULL ? object_path (r->kind, r->name) : NULL;
  g_autoptr (GVariant) dict = NULL;
  g_autoptr (GDBusObject) existing = NULL;
  g_autoptr (BgrDBusObjectSkeleton) object = NULL;
  g_autoptr (GDBusInterfaceSkeleton) iface = NULL;

  if (r->name == NULL)
    {
      /* The first item: every object there is, read here rather than in
       * the main loop, which must not wait on the engine. */
      queue_everything (d);
      refresh_free (r);
      return;
    }
  dict = r->record != NULL ? g_variant_ref (r->record)
         : d->client != NULL ? fetch (d, r->kind, r->name) : NULL;
  existing = g_dbus_object_manager_get_object (G_DBUS_OBJECT_MANAGER (d->objects), path);
  if (dict == NULL)
    {
      if (existing != NULL)
        g_dbus_object_manager_server_unexport (d->objects, path);
      refresh_free (r);
      return;
    }
  if (existing != NULL)
    {
      GList *ifaces = g_dbus_object_get_interfaces (existing);
      if (ifaces != NULL)
        {
          apply (ifaces->data, dict);
          /* Now, not from the skeleton's idle in the main loop: by then
           * the next event may have changed the property again (the idle
           * would announce only the last value: a VM "starting" then
           * "running" quickly would skip "starting") or removed the
           * object (its last change would never be announced). */
          g_dbus_interface_skeleton_flush (ifaces->data);
        }
      g_list_free_full (ifaces, g_object_unref);
    }
  else
    {
      object = bgr_dbus_object_skeleton_new (path);
      iface = new_interface (d, r->kind, object);
      apply (iface, dict);
      g_dbus_object_manager_server_export (d->objects, G_DBUS_OBJECT_SKELETON (object));
    }
  refresh_free (r);
}

static void
queue_refresh (Daemon *d, const char *kind, const char *name, GVariant *record)
{
  Refresh *r = g_new0 (Refresh, 1);

  r->kind = g_strdup (kind);
  r->name = g_strdup (name); /* NULL: every object */
  r->record = record != NULL ? g_variant_ref (record) : NULL;
  g_thread_pool_push (d->refresher, r, NULL);
}

static void
on_object_changed (BgrClient *client, const char *kind, const char *name, GVariant *record,
                   gpointer data)
{
  queue_refresh (data, kind, name, record);
}

/* A stats sample: the VM object's StatsSampled signal, when it is
 * exported (a VM just created may not be yet: its next sample will be). */
static void
on_vm_stats_sampled (BgrClient *client, const char *name, BgrVmStats *stats, gpointer data)
{
  Daemon *d = data;
  g_autofree char *path = object_path ("vm", name);
  g_autoptr (GDBusObject) object = NULL;
  g_autoptr (GDBusInterface) iface = NULL;

  object = g_dbus_object_manager_get_object (G_DBUS_OBJECT_MANAGER (d->objects), path);
  if (object != NULL)
    iface = g_dbus_object_get_interface (object, "org.banger.Banger1.Vm");
  if (iface != NULL)
    bgr_dbus_vm_emit_stats_sampled (BGR_DBUS_VM (iface), bgr_vm_stats_to_variant (stats));
}

static void
queue_all (Daemon *d, const char *kind, GPtrArray *list, const char *(*get_name) (gpointer))
{
  if (list == NULL)
    return;
  for (guint i = 0; i < list->len; i++)
    queue_refresh (d, kind, get_name (list->pdata[i]), NULL);
  g_ptr_array_unref (list);
}

void
bgrd_objects_start (Daemon *d)
{
  d->objects = g_dbus_object_manager_server_new (BGR_DBUS_PATH);
  d->refresher = g_thread_pool_new (refresh_one, d, 1, TRUE, NULL);
  g_signal_connect (d->client, "object-changed", G_CALLBACK (on_object_changed), d);
  g_signal_connect (d->client, "vm-stats-sampled", G_CALLBACK (on_vm_stats_sampled), d);
  queue_refresh (d, "*", NULL, NULL);
  g_dbus_object_manager_server_set_connection (d->objects, d->connection);
  bgrd_attach_socket_start (d);
}

static void
queue_everything (Daemon *d)
{
  queue_all (d, "kernel", bgr_client_kernel_list (d->client, NULL, NULL),
             (gpointer) bgr_kernel_get_name);
  queue_all (d, "image", bgr_client_image_list (d->client, NULL, NULL),
             (gpointer) bgr_image_get_name);
  queue_all (d, "vm", bgr_client_vm_list (d->client, NULL, NULL), (gpointer) bgr_vm_get_name);
}

void
bgrd_objects_stop (Daemon *d)
{
  if (d->objects == NULL)
    return;
  bgrd_attach_socket_stop (d);
  g_signal_handlers_disconnect_by_func (d->client, on_object_changed, d);
  g_signal_handlers_disconnect_by_func (d->client, on_vm_stats_sampled, d);
  g_thread_pool_free (d->refresher, FALSE, TRUE);
  d->refresher = NULL;
  g_dbus_object_manager_server_set_connection (d->objects, NULL);
  g_clear_object (&d->objects);
}

/* ---- methods of the objects --------------------------------------------- */

#define NAME(inv) bgrd_object_name (inv)

static gboolean
vm_reply (Daemon *d, GDBusMethodInvocation *inv, BgrVm *vm, GError *error)
{
  gboolean handled;

  if (vm == NULL)
    return bgrd_return_error (d, inv, error);
  handled = bgrd_return (d, inv, bgr_vm_to_variant (vm));
  g_object_unref (vm);
  return handled;
}

static gboolean
handle_vm_start (BgrDBusVm *vm, GDBusMethodInvocation *inv, GVariant *options, gpointer data)
{
  GError *error = NULL;
  BgrdLongCall *call;
  BgrVm *result;

  if (g_variant_n_children (options) > 0)
    {
      const char *key;
      g_variant_get_child (options, 0, "{&sv}", &key, NULL);
      g_set_error (&error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "unknown option '%s' for Vm.Start (it has no options yet)", key);
      return bgrd_return_error (data, inv, error);
    }
  call = bgrd_long_call_begin (data, inv);
  result = bgr_client_vm_start (DAEMON (data)->client, NAME (inv),
                                bgrd_long_call_get_operation (call),
                                bgrd_long_call_get_cancellable (call), &error);
  bgrd_long_call_end (call);
  return vm_reply (data, inv, result, error);
}

static gboolean
handle_vm_stop (BgrDBusVm *vm, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  BgrdLongCall *call = bgrd_long_call_begin (data, inv);
  BgrVm *result = bgr_client_vm_stop (DAEMON (data)->client, NAME (inv),
                                      bgrd_long_call_get_cancellable (call), &error);
  bgrd_long_call_end (call);
  return vm_reply (data, inv, result, error);
}

static gboolean
handle_vm_kill (BgrDBusVm *vm, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  BgrVm *result = bgr_client_vm_kill (DAEMON (data)->client, NAME (inv), NULL, &error);
  return vm_reply (data, inv, result, error);
}

static gboolean
handle_vm_delete (BgrDBusVm *vm, GDBusMethodInvocation *inv, GVariant *options, gpointer data)
{
  GError *error = NULL;
  GVariantIter it;
  const char *key;
  GVariant *value;
  BgrVmDeleteFlags flags = BGR_VM_DELETE_FLAGS_NONE;

  g_variant_iter_init (&it, options);
  while (g_variant_iter_next (&it, "{&sv}", &key, &value))
    {
      gboolean ok = g_str_equal (key, "force") && g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN);
      if (ok && g_variant_get_boolean (value))
        flags |= BGR_VM_DELETE_FLAGS_FORCE;
      g_variant_unref (value);
      if (!ok)
        {
          g_set_error (&error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "unknown option '%s' for Vm.Delete (known: force, a boolean)", key);
          return bgrd_return_error (data, inv, error);
        }
    }
  if (!bgr_client_vm_delete (DAEMON (data)->client, NAME (inv), flags, NULL, &error))
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, NULL);
}

static gboolean
handle_vm_exec (BgrDBusVm *vm, GDBusMethodInvocation *inv, GUnixFDList *fd_list, GVariant *dict,
                GVariant *in_h, GVariant *out_h, GVariant *err_h, gpointer data)
{
  GVariant *const handles[3] = { in_h, out_h, err_h };
  return bgrd_exec_call (inv, fd_list, dict, handles, FALSE, data);
}

static gboolean
handle_vm_logs (BgrDBusVm *vm, GDBusMethodInvocation *inv, guint64 max_bytes, gpointer data)
{
  GError *error = NULL;
  g_autoptr (GBytes) log = bgr_client_vm_logs (DAEMON (data)->client, NAME (inv), max_bytes,
                                               NULL, &error);

  if (log == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv,
                      g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, log, TRUE));
}

static gboolean
handle_vm_ports (BgrDBusVm *vm, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  g_autoptr (GPtrArray) ports = bgr_client_vm_ports (DAEMON (data)->client, NAME (inv), NULL,
                                                     &error);

  if (ports == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv,
                      bgrd_list_to_variant (ports, (BgrdToVariant) bgr_vm_port_to_variant));
}

static gboolean
handle_vm_stats (BgrDBusVm *vm, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrVmStats) stats = bgr_client_vm_stats (DAEMON (data)->client, NAME (inv), NULL,
                                                      &error);

  if (stats == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, bgr_vm_stats_to_variant (stats));
}

static gboolean
handle_image_delete (BgrDBusImage *image, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;

  if (!bgr_client_image_delete (DAEMON (data)->client, NAME (inv), NULL, &error))
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, NULL);
}

static gboolean
handle_image_promote (BgrDBusImage *image, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  BgrdLongCall *call = bgrd_long_call_begin (data, inv);
  g_autoptr (BgrImage) result = bgr_client_image_promote (DAEMON (data)->client, NAME (inv),
                                                          bgrd_long_call_get_operation (call),
                                                          bgrd_long_call_get_cancellable (call),
                                                          &error);
  bgrd_long_call_end (call);
  if (result == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, bgr_image_to_variant (result));
}

static gboolean
handle_kernel_delete (BgrDBusKernel *kernel, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;

  if (!bgr_client_kernel_delete (DAEMON (data)->client, NAME (inv), NULL, &error))
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, NULL);
}

static void
connect_handlers (Daemon *d, const char *kind, gpointer iface)
{
  if (g_str_equal (kind, "vm"))
    {
      g_signal_connect (iface, "handle-start", G_CALLBACK (handle_vm_start), d);
      g_signal_connect (iface, "handle-stop", G_CALLBACK (handle_vm_stop), d);
      g_signal_connect (iface, "handle-kill", G_CALLBACK (handle_vm_kill), d);
      g_signal_connect (iface, "handle-delete", G_CALLBACK (handle_vm_delete), d);
      g_signal_connect (iface, "handle-exec", G_CALLBACK (handle_vm_exec), d);
      g_signal_connect (iface, "handle-logs", G_CALLBACK (handle_vm_logs), d);
      g_signal_connect (iface, "handle-ports", G_CALLBACK (handle_vm_ports), d);
      g_signal_connect (iface, "handle-stats", G_CALLBACK (handle_vm_stats), d);
      bgrd_workspace_connect (d, iface);
      bgrd_sessions_connect (d, iface);
      bgrd_connect_vm_tcp_handlers (d, iface);
    }
  else if (g_str_equal (kind, "image"))
    {
      g_signal_connect (iface, "handle-delete", G_CALLBACK (handle_image_delete), d);
      g_signal_connect (iface, "handle-promote", G_CALLBACK (handle_image_promote), d);
    }
  else
    g_signal_connect (iface, "handle-delete", G_CALLBACK (handle_kernel_delete), d);
}
