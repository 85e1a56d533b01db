/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bangerd's object tree, seen from D-Bus:
 *
 * - a watcher that only listens to signals (on its own connection) sees a
 *   VM, image and kernel appear, the VM's State go starting -> running ->
 *   stopping -> stopped, and everything disappear again;
 * - gdbus introspect and GetManagedObjects show the objects with their
 *   properties.
 *
 * VMs run on the fake VMM (hypervisor = "fake", see docs/testing.md): no
 * root, KVM or QEMU. Waits poll a condition against a deadline. */
#include "config.h"

#include <signal.h>

#include "dbus-objects-fixture.h"

/* ---- a watcher that only listens ---------------------------------------- */

typedef struct {
  GDBusConnection *conn;
  guint subs[3];
  GPtrArray *events; /* "added PATH", "removed PATH", "state PATH VALUE" */
} Watch;

static void
on_tree_signal (GDBusConnection *c, const char *sender, const char *path, const char *iface,
                const char *signal, GVariant *params, gpointer data)
{
  Watch *w = data;

  if (g_str_equal (signal, "InterfacesAdded"))
    {
      const char *obj;
      g_autoptr (GVariant) ifaces = NULL;
      g_autoptr (GVariant) vm = NULL;
      const char *state;

      g_variant_get (params, "(&o@a{sa{sv}})", &obj, &ifaces);
      g_ptr_array_add (w->events, g_strdup_printf ("added %s", obj));
      vm = g_variant_lookup_value (ifaces, NAME ".Vm", G_VARIANT_TYPE_VARDICT);
      if (vm != NULL && g_variant_lookup (vm, "State", "&s", &state))
        g_ptr_array_add (w->events, g_strdup_printf ("state %s %s", obj, state));
    }
  else if (g_str_equal (signal, "InterfacesRemoved"))
    {
      const char *obj;
      g_variant_get (params, "(&o@as)", &obj, NULL);
      g_ptr_array_add (w->events, g_strdup_printf ("removed %s", obj));
    }
  else if (g_str_equal (signal, "PropertiesChanged"))
    {
      g_autoptr (GVariant) changed = g_variant_get_child_value (params, 1);
      const char *state;
      if (g_variant_lookup (changed, "State", "&s", &state))
        g_ptr_array_add (w->events, g_strdup_printf ("state %s %s", path, state));
    }
}

static void
watch_start (Watch *w, GDBusConnection *conn)
{
  w->conn = conn;
  w->events = g_ptr_array_new_with_free_func (g_free);
  w->subs[0] = g_dbus_connection_signal_subscribe (conn, NULL, "org.freedesktop.DBus.ObjectManager",
                                                   "InterfacesAdded", ROOT, NULL,
                                                   G_DBUS_SIGNAL_FLAGS_NONE, on_tree_signal, w,
                                                   NULL);
  w->subs[1] = g_dbus_connection_signal_subscribe (conn, NULL, "org.freedesktop.DBus.ObjectManager",
                                                   "InterfacesRemoved", ROOT, NULL,
                                                   G_DBUS_SIGNAL_FLAGS_NONE, on_tree_signal, w,
                                                   NULL);
  w->subs[2] = g_dbus_connection_signal_subscribe (conn, NULL, "org.freedesktop.DBus.Properties",
                                                   "PropertiesChanged", NULL, NAME ".Vm",
                                                   G_DBUS_SIGNAL_FLAGS_NONE, on_tree_signal, w,
                                                   NULL);
}

static void
watch_stop (Watch *w)
{
  for (guint i = 0; i < G_N_ELEMENTS (w->subs); i++)
    g_dbus_connection_signal_unsubscribe (w->conn, w->subs[i]);
  g_ptr_array_unref (w->events);
}

static gboolean
watch_saw (Watch *w, const char *event)
{
  for (guint i = 0; i < w->events->len; i++)
    if (g_str_equal (w->events->pdata[i], event))
      return TRUE;
  return FALSE;
}

/* The distinct values of @path's State, in order, repeats collapsed:
 * "starting running stopping stopped". */
static char *
watch_states (Watch *w, const char *path)
{
  g_autofree char *prefix = g_strdup_printf ("state %s ", path);
  GString *s = g_string_new (NULL);
  const char *last = NULL;

  for (guint i = 0; i < w->events->len; i++)
    {
      const char *e = w->events->pdata[i];
      if (!g_str_has_prefix (e, prefix))
        continue;
      e += strlen (prefix);
      if (last != NULL && g_str_equal (last, e))
        continue;
      g_string_append_printf (s, "%s%s", s->len > 0 ? " " : "", e);
      last = e;
    }
  return g_string_free (s, FALSE);
}

static char *
watch_dump (Watch *w)
{
  g_ptr_array_add (w->events, NULL);
  {
    char *text = g_strjoinv ("\n", (char **) w->events->pdata);
    g_ptr_array_remove_index (w->events, w->events->len - 1);
    return text;
  }
}

/* The last "state PATH VALUE" seen for @path is @state. */
static gboolean
watch_state_is (Watch *w, const char *path, const char *state)
{
  g_autofree char *prefix = g_strdup_printf ("state %s ", path);

  for (guint i = w->events->len; i > 0; i--)
    {
      const char *e = w->events->pdata[i - 1];
      if (g_str_has_prefix (e, prefix))
        return g_str_equal (e + strlen (prefix), state);
    }
  return FALSE;
}

/* ---- 1. the VM lifecycle in signals -------------------------------------- */

static void
test_lifecycle_signals (Fixture *f, gconstpointer data)
{
  const char *vm_path = ROOT "/vm/v1";
  Watch w;
  g_autoptr (BgrClient) c = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrVmSpec) spec = bgr_vm_spec_new ("v1");
  g_autofree char *states = NULL;

  /* Subscribed before bangerd exists: everything it announces is seen. */
  watch_start (&w, f->conn);
  start_daemon (f);
  c = new_client (f);
  add_kernel_and_image (f, c);
  WAIT_UNTIL (watch_saw (&w, "added " ROOT "/kernel/k") && watch_saw (&w, "added " ROOT "/image/img"),
              WAIT_MS);

  bgr_vm_spec_set_image (spec, "img");
  {
    g_autoptr (BgrVm) vm = bgr_client_vm_create (c, spec, NULL, NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
  }
  WAIT_UNTIL (watch_state_is (&w, vm_path, "running"), WAIT_MS);
  {
    g_autoptr (BgrVm) vm = bgr_client_vm_stop (c, "v1", NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_STOPPED);
  }
  WAIT_UNTIL (watch_state_is (&w, vm_path, "stopped"), WAIT_MS);
  {
    g_autoptr (BgrVm) vm = bgr_client_vm_start (c, "v1", NULL, NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
  }
  WAIT_UNTIL (watch_state_is (&w, vm_path, "running"), WAIT_MS);
  {
    g_autoptr (BgrVm) vm = bgr_client_vm_stop (c, "v1", NULL, &err);
    g_assert_no_error (err);
    g_assert_nonnull (vm);
  }
  g_assert_true (bgr_client_vm_delete (c, "v1", BGR_VM_DELETE_FLAGS_NONE, NULL, &err));
  g_assert_no_error (err);
  WAIT_UNTIL (watch_saw (&w, "removed " ROOT "/vm/v1"), WAIT_MS);

  /* Only what the watcher heard: the object came and went, and its State
   * went through every phase, in order, both times. */
  g_assert_true (watch_saw (&w, "added " ROOT "/vm/v1"));
  states = watch_states (&w, vm_path);
  g_test_message ("State of %s went: %s", vm_path, states);
  {
    const char *s = g_str_has_prefix (states, "created ") ? states + strlen ("created ") : states;
    if (!g_str_equal (s, "starting running stopping stopped starting running stopping stopped"))
      {
        g_autofree char *all = watch_dump (&w);
        g_error ("State went: %s\nevents:\n%s", states, all);
      }
  }

  /* Images and kernels go away with what they describe. */
  g_assert_true (bgr_client_image_delete (c, "img", NULL, &err));
  g_assert_no_error (err);
  g_assert_true (bgr_client_kernel_delete (c, "k", NULL, &err));
  g_assert_no_error (err);
  WAIT_UNTIL (watch_saw (&w, "removed " ROOT "/image/img")
                && watch_saw (&w, "removed " ROOT "/kernel/k"),
              WAIT_MS);
  watch_stop (&w);
}

/* ---- 2. introspection and GetManagedObjects ------------------------------ */

static void
test_introspect_and_managed_objects (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrClient) c = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrVmSpec) spec = bgr_vm_spec_new ("dev-1");
  g_autofree char *escaped = g_dbus_escape_object_path ("dev-1");
  g_autofree char *vm_path = g_strdup_printf (ROOT "/vm/%s", escaped);
  g_autofree char *env_bus = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", f->address);
  const char *env[] = { env_bus, NULL };
  Watch w;
  BgrRun r;

  watch_start (&w, f->conn);
  start_daemon (f);
  c = new_client (f);
  add_kernel_and_image (f, c);
  bgr_vm_spec_set_image (spec, "img");
  {
    g_autoptr (BgrVm) vm = bgr_client_vm_create (c, spec, NULL, NULL, &err);
    g_assert_no_error (err);
    g_assert_nonnull (vm);
  }
  WAIT_UNTIL (watch_state_is (&w, vm_path, "running"), WAIT_MS);

  run (&r, env,
               (const char *const[]){ "gdbus", "introspect", "--session", "--dest", NAME,
                                      "--object-path", vm_path, NULL });
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "interface " NAME ".Vm {");
  bgr_assert_contains (r.out, "Exec(in  a{sv} spec,");
  bgr_assert_contains (r.out, "readonly s State = 'running';");
  bgr_assert_contains (r.out, "readonly s Hypervisor = 'fake';");
  bgr_assert_contains (r.out, "readonly s Name = 'dev-1';");
  bgr_run_clear (&r);
  /* The root lists the children. */
  run (&r, env,
               (const char *const[]){ "gdbus", "introspect", "--session", "--dest", NAME,
                                      "--object-path", ROOT, "--recurse", "--only-properties",
                                      NULL });
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "node " ROOT "/vm/");
  bgr_assert_contains (r.out, "readonly s KernelRef = 'k';");
  bgr_run_clear (&r);

  {
    g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
      f->conn, NAME, ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL,
      G_VARIANT_TYPE ("(a{oa{sa{sv}}})"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err);
    g_autoptr (GVariant) objects = NULL, vm = NULL, img = NULL, k = NULL;
    const char *s;
    gint64 x;

    g_assert_no_error (err);
    objects = g_variant_get_child_value (reply, 0);
    g_assert_cmpuint (g_variant_n_children (objects), ==, 3);
    g_assert_true (g_variant_lookup (objects, vm_path, "@a{sa{sv}}", &vm));
    {
      g_autoptr (GVariant) props = g_variant_lookup_value (vm, NAME ".Vm", G_VARIANT_TYPE_VARDICT);
      g_assert_nonnull (props);
      g_assert_true (g_variant_lookup (props, "Name", "&s", &s));
      g_assert_cmpstr (s, ==, "dev-1");
      g_assert_true (g_variant_lookup (props, "State", "&s", &s));
      g_assert_cmpstr (s, ==, "running");
      g_assert_true (g_variant_lookup (props, "Image", "&s", &s));
      g_assert_cmpstr (s, ==, "img");
      g_assert_true (g_variant_lookup (props, "Hypervisor", "&s", &s));
      g_assert_cmpstr (s, ==, "fake");
      g_assert_true (g_variant_lookup (props, "Pid", "x", &x));
      g_assert_cmpint (x, >, 0);
      g_assert_cmpint (kill ((pid_t) x, 0), ==, 0);
      g_assert_true (g_variant_lookup (props, "Vcpus", "x", &x));
      g_assert_cmpint (x, >=, 1);
      g_assert_true (g_variant_lookup (props, "Created", "x", &x));
      g_assert_cmpint (x, >, 0);
      /* Every property of the XML is there, with its type. */
      g_assert_cmpuint (g_variant_n_children (props), ==, 19);
    }
    g_assert_true (g_variant_lookup (objects, ROOT "/image/img", "@a{sa{sv}}", &img));
    {
      g_autoptr (GVariant) props = g_variant_lookup_value (img, NAME ".Image", G_VARIANT_TYPE_VARDICT);
      g_assert_nonnull (props);
      g_assert_true (g_variant_lookup (props, "Name", "&s", &s));
      g_assert_cmpstr (s, ==, "img");
      g_assert_true (g_variant_lookup (props, "KernelRef", "&s", &s));
      g_assert_cmpstr (s, ==, "k");
    }
    g_assert_true (g_variant_lookup (objects, ROOT "/kernel/k", "@a{sa{sv}}", &k));
    {
      g_autoptr (GVariant) props = g_variant_lookup_value (k, NAME ".Kernel", G_VARIANT_TYPE_VARDICT);
      g_assert_nonnull (props);
      g_assert_true (g_variant_lookup (props, "Name", "&s", &s));
      g_assert_cmpstr (s, ==, "k");
      g_assert_true (g_variant_lookup (props, "Size", "x", &x));
      g_assert_cmpint (x, >, 0);
    }
  }
  g_assert_true (bgr_client_vm_delete (c, "dev-1", BGR_VM_DELETE_FLAGS_FORCE, NULL, &err));
  g_assert_no_error (err);
  watch_stop (&w);
}

int
main (int argc, char **argv)
{
  dbus_objects_init (&argc, &argv);
  g_test_add ("/dbus-objects/lifecycle-signals", Fixture, NULL, fixture_setup,
              test_lifecycle_signals, fixture_teardown);
  g_test_add ("/dbus-objects/introspect", Fixture, NULL, fixture_setup,
              test_introspect_and_managed_objects, fixture_teardown);
  return g_test_run ();
}
