/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bangerd's object tree and operation objects, seen from D-Bus:
 *
 * - a watcher that only listens to signals (on its own connection) sees a
 *   VM, image and kernel appear, the VM's State go starting -> running ->
 *   stopping -> stopped, and everything disappear again;
 * - gdbus introspect and GetManagedObjects show the objects with their
 *   properties;
 * - operations: a pull stalled by a registry written in this test is
 *   cancelled through its operation object and leaves nothing; progress
 *   and OperationStarted reach only the caller; only the caller may cancel;
 *   the C client's BgrOperation cancels too;
 * - the client against the XML: a fake daemon built from
 *   data/org.banger.Banger1.*.xml answers every method with a zero value
 *   of its out signature, and every BgrClient call must reach it with the
 *   arguments the XML declares (and every XML method must be called).
 *
 * VMs run on the fake VMM (hypervisor = "fake", see docs/testing.md): no
 * root, KVM or QEMU. Waits poll a condition against a deadline. */
#include "config.h"

#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <unistd.h>

#include <banger/banger.h>

#include "bgr-fs-private.h"
#include "bgr-test-ext4.h"

#define NAME "org.banger.Banger1"
#define ROOT "/org/banger/Banger1"
#define MANAGER_IFACE NAME ".Manager"
#define OPERATION_IFACE NAME ".Operation"
#define WAIT_MS 30000

static const char *bangerd, *banger_cli;

/* Polls @cond every 5 ms, dispatching the default main context (where
 * every signal subscription of the test lives) in between; fails the test
 * after @ms. */
#define WAIT_UNTIL(cond, ms)                                                                    \
  G_STMT_START                                                                                  \
  {                                                                                             \
    gint64 deadline__ = g_get_monotonic_time () + (gint64) (ms) * 1000;                         \
    for (;;)                                                                                    \
      {                                                                                         \
        while (g_main_context_iteration (NULL, FALSE))                                          \
          ;                                                                                     \
        if (cond)                                                                               \
          break;                                                                                \
        if (g_get_monotonic_time () > deadline__)                                               \
          g_error ("%s:%d: still not true after %d ms: %s", __FILE__, __LINE__, (int) (ms),     \
                   #cond);                                                                      \
        g_usleep (5000);                                                                        \
      }                                                                                         \
  }                                                                                             \
  G_STMT_END

/* ---- fixture: a private bus, and bangerd on it with the fake VMM --------- */

typedef struct {
  GTestDBus *bus;
  const char *address;
  GDBusConnection *conn; /* the watcher's: never makes a call to bangerd */
  char *dir;             /* /tmp/bgr-do-XXXXXX: short, for the agents' sockets */
  char *state, *cache, *config;
  GSubprocess *daemon;
} Fixture;

static GDBusConnection *
connect_bus (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  GDBusConnection *c = g_dbus_connection_new_for_address_sync (
    f->address,
    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, &err);
  g_assert_no_error (err);
  return c;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *toml = NULL;

  f->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (f->bus);
  f->address = g_test_dbus_get_bus_address (f->bus);
  f->conn = connect_bus (f);
  f->dir = g_dir_make_tmp ("bgr-do-XXXXXX", &err);
  g_assert_no_error (err);
  f->state = g_build_filename (f->dir, "state", NULL);
  f->cache = g_build_filename (f->dir, "cache", NULL);
  f->config = g_build_filename (f->dir, "banger.toml", NULL);
  toml = g_strdup_printf ("hypervisor = \"fake\"\nlog_level = \"debug\"\nweb_listen_addr = \"\"\n"
                          "state_dir = \"%s\"\ncache_dir = \"%s\"\n",
                          f->state, f->cache);
  g_file_set_contents (f->config, toml, -1, &err);
  g_assert_no_error (err);
}

static gboolean
exited (GSubprocess *p)
{
  return g_subprocess_get_identifier (p) == NULL;
}

static void
stop_daemon (Fixture *f)
{
  if (f->daemon == NULL)
    return;
  g_subprocess_send_signal (f->daemon, SIGTERM);
  WAIT_UNTIL (exited (f->daemon), WAIT_MS);
  g_assert_true (g_subprocess_get_if_exited (f->daemon));
  g_assert_cmpint (g_subprocess_get_exit_status (f->daemon), ==, 0);
  g_clear_object (&f->daemon);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  stop_daemon (f);
  {
    g_autoptr (GArray) left = bgr_test_processes_mentioning (f->state);
    for (guint i = 0; i < left->len; i++)
      kill (g_array_index (left, gint, i), SIGKILL);
  }
  g_object_unref (f->conn);
  g_test_dbus_down (f->bus);
  g_object_unref (f->bus);
  bgr_rm_rf (f->dir, NULL);
  g_free (f->dir);
  g_free (f->state);
  g_free (f->cache);
  g_free (f->config);
}

static gboolean
name_has_owner (Fixture *f)
{
  g_autoptr (GVariant) r = g_dbus_connection_call_sync (
    f->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
    "NameHasOwner", g_variant_new ("(s)", NAME), G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1,
    NULL, NULL);
  gboolean owned = FALSE;

  if (r != NULL)
    g_variant_get (r, "(b)", &owned);
  return owned;
}

static void
start_daemon (Fixture *f)
{
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr (GError) err = NULL;
  g_autofree char *log = g_build_filename (f->dir, "bangerd.log", NULL);

  g_subprocess_launcher_set_stderr_file_path (l, log);
  f->daemon = g_subprocess_launcher_spawn (l, &err, bangerd, "--address", f->address, "--config",
                                           f->config, NULL);
  g_assert_no_error (err);
  WAIT_UNTIL (name_has_owner (f) || exited (f->daemon), WAIT_MS);
  g_assert_false (exited (f->daemon));
}

/* Runs @argv with @extra_env added; never touches this process's
 * environment (bgr_run_env() would: unsafe once threads run). */
static void
run (BgrRun *r, const char *const *extra_env, const char *const *argv)
{
  g_auto (GStrv) env = g_get_environ ();
  g_autoptr (GError) err = NULL;
  int wait_status = 0;

  for (const char *const *e = extra_env; e != NULL && *e != NULL; e++)
    {
      g_auto (GStrv) kv = g_strsplit (*e, "=", 2);
      env = g_environ_setenv (env, kv[0], kv[1], TRUE);
    }
  memset (r, 0, sizeof *r);
  if (!g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_SEARCH_PATH, NULL, NULL, &r->out, &r->err,
                     &wait_status, &err))
    g_error ("cannot run %s: %s", argv[0], err->message);
  r->status = WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1;
  g_test_message ("$ %s -> %d\nstdout: %s\nstderr: %s", argv[0], r->status, r->out, r->err);
}

static BgrClient *
new_client (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  BgrClient *c = bgr_client_new_dbus_for_address (f->address, BGR_CLIENT_FLAGS_NO_AUTO_START, NULL,
                                                  &err);
  g_assert_no_error (err);
  return c;
}

/* A kernel "k" (a 64-byte x86-64 ELF header: enough for the engine's
 * checks; the fake VMM boots nothing) and an image "img" (a small ext4)
 * that boots with it. */
static void
add_kernel_and_image (Fixture *f, BgrClient *c)
{
  static const guchar elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, [16] = 2, [18] = 62 };
  g_autofree char *kernel = g_build_filename (f->dir, "vmlinux", NULL);
  g_autofree char *rootfs = g_build_filename (f->dir, "rootfs.ext4", NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrKernelSpec) kspec = bgr_kernel_spec_new ("k");
  g_autoptr (BgrImageSpec) ispec = bgr_image_spec_new ("img");
  g_autoptr (BgrKernel) k = NULL;
  g_autoptr (BgrImage) img = NULL;
  BgrRun r;

  g_file_set_contents (kernel, (const char *) elf, sizeof elf, &err);
  g_assert_no_error (err);
  run (&r, NULL, (const char *const[]){ bgr_test_tool ("mkfs.ext4"), "-q", "-F", rootfs, "16M", NULL });
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  bgr_kernel_spec_set_kernel (kspec, kernel);
  k = bgr_client_kernel_import (c, kspec, NULL, NULL, &err);
  g_assert_no_error (err);
  bgr_image_spec_set_rootfs (ispec, rootfs);
  bgr_image_spec_set_kernel_ref (ispec, "k");
  img = bgr_client_image_register (c, ispec, NULL, &err);
  g_assert_no_error (err);
}

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

/* ---- a registry that stalls a layer --------------------------------------- */

/* One image: a config and one 1 MiB layer. The layer's first 64 KiB are
 * sent, then nothing more: the pull sits in its download until cancelled. */
#define LAYER_SIZE (1024 * 1024)
#define FIRST_CHUNK (64 * 1024)

typedef struct {
  GMainContext *ctx;
  GMainLoop *loop;
  SoupServer *server;
  GThread *thread;
  guint port;
  GBytes *layer, *config;
  char *layer_digest, *config_digest, *manifest, *manifest_digest;
  GMutex lock;
  guint layer_requests; /* guarded by lock */
  GPtrArray *stalled;   /* stalled connections, in the server thread only */
} Registry;

static void
close_stolen (GIOStream *conn)
{
  g_io_stream_close (conn, NULL, NULL);
  g_object_unref (conn);
}

static void
registry_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                  gpointer data)
{
  Registry *reg = data;
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  g_autofree char *layer_path = g_strdup_printf ("/v2/test/app/blobs/%s", reg->layer_digest);
  g_autofree char *config_path = g_strdup_printf ("/v2/test/app/blobs/%s", reg->config_digest);

  if (g_str_equal (path, "/v2/") || g_str_equal (path, "/v2"))
    soup_server_message_set_status (msg, 200, NULL);
  else if (g_str_has_prefix (path, "/v2/test/app/manifests/"))
    {
      soup_message_headers_replace (resp, "Docker-Content-Digest", reg->manifest_digest);
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "application/vnd.oci.image.manifest.v1+json",
                                        SOUP_MEMORY_COPY, reg->manifest, strlen (reg->manifest));
    }
  else if (g_str_equal (path, config_path))
    {
      soup_server_message_set_status (msg, 200, NULL);
      soup_message_body_append_bytes (soup_server_message_get_response_body (msg), reg->config);
    }
  else if (g_str_equal (path, layer_path))
    {
      /* Taken from libsoup: the head and the first chunk, then silence
       * (libsoup itself would end a response whose body ran out). */
      GIOStream *conn = soup_server_message_steal_connection (msg);
      GOutputStream *out = g_io_stream_get_output_stream (conn);
      g_autofree char *head = g_strdup_printf ("HTTP/1.1 200 OK\r\n"
                                               "Content-Type: application/octet-stream\r\n"
                                               "Content-Length: %d\r\n\r\n",
                                               LAYER_SIZE);

      g_output_stream_write_all (out, head, strlen (head), NULL, NULL, NULL);
      g_output_stream_write_all (out, g_bytes_get_data (reg->layer, NULL), FIRST_CHUNK, NULL, NULL,
                                 NULL);
      g_output_stream_flush (out, NULL, NULL);
      g_ptr_array_add (reg->stalled, conn);
      g_mutex_lock (&reg->lock);
      reg->layer_requests++;
      g_mutex_unlock (&reg->lock);
    }
  else
    soup_server_message_set_status (msg, 404, NULL);
}

static gpointer
registry_thread (gpointer data)
{
  Registry *reg = data;
  g_main_context_push_thread_default (reg->ctx);
  g_main_loop_run (reg->loop);
  /* Torn down where it ran. */
  soup_server_disconnect (reg->server);
  g_clear_object (&reg->server);
  g_ptr_array_unref (reg->stalled);
  while (g_main_context_iteration (reg->ctx, FALSE))
    ;
  g_main_context_pop_thread_default (reg->ctx);
  return NULL;
}

static char *
sha256_digest (GBytes *b)
{
  g_autofree char *hex = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, b);
  return g_strdup_printf ("sha256:%s", hex);
}

static Registry *
registry_start (void)
{
  Registry *reg = g_new0 (Registry, 1);
  g_autoptr (GError) err = NULL;
  g_autofree char *config = NULL, *hex = NULL;
  guchar *layer = g_malloc (LAYER_SIZE);
  GSList *uris;

  for (gsize i = 0; i < LAYER_SIZE; i++)
    layer[i] = (guchar) (i * 7 + (i >> 8));
  reg->layer = g_bytes_new_take (layer, LAYER_SIZE);
  reg->layer_digest = sha256_digest (reg->layer);
  config = g_strdup_printf ("{\"architecture\":\"amd64\",\"os\":\"linux\","
                            "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                            reg->layer_digest);
  reg->config = g_bytes_new (config, strlen (config));
  reg->config_digest = sha256_digest (reg->config);
  reg->manifest = g_strdup_printf (
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
    "\"size\":%zu},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
    "\"digest\":\"%s\",\"size\":%d}]}",
    reg->config_digest, strlen (config), reg->layer_digest, LAYER_SIZE);
  hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256, reg->manifest, -1);
  reg->manifest_digest = g_strdup_printf ("sha256:%s", hex);
  reg->stalled = g_ptr_array_new_with_free_func ((GDestroyNotify) close_stolen);
  g_mutex_init (&reg->lock);

  reg->ctx = g_main_context_new ();
  reg->loop = g_main_loop_new (reg->ctx, FALSE);
  g_main_context_push_thread_default (reg->ctx);
  reg->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (reg->server, NULL, registry_handler, reg, NULL);
  g_assert_true (soup_server_listen_local (reg->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &err));
  g_assert_no_error (err);
  g_main_context_pop_thread_default (reg->ctx);
  uris = soup_server_get_uris (reg->server);
  reg->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  reg->thread = g_thread_new ("registry", registry_thread, reg);
  return reg;
}

static guint
registry_layer_requests (Registry *reg)
{
  guint n;
  g_mutex_lock (&reg->lock);
  n = reg->layer_requests;
  g_mutex_unlock (&reg->lock);
  return n;
}

static void
registry_stop (Registry *reg)
{
  bgr_test_stop_loop (reg->ctx, reg->loop);
  g_thread_join (reg->thread);
  g_main_loop_unref (reg->loop);
  g_main_context_unref (reg->ctx);
  g_mutex_clear (&reg->lock);
  g_bytes_unref (reg->layer);
  g_bytes_unref (reg->config);
  g_free (reg->layer_digest);
  g_free (reg->config_digest);
  g_free (reg->manifest);
  g_free (reg->manifest_digest);
  g_free (reg);
}

static char *
registry_ref (Registry *reg)
{
  return g_strdup_printf ("127.0.0.1:%u/test/app:latest", reg->port);
}

/* ---- a caller of PullImage on its own connection -------------------------- */

typedef struct {
  GDBusConnection *conn;
  guint subs[2];
  guint32 serial;
  GPtrArray *started;  /* "SERIAL PATH" of every OperationStarted received */
  GPtrArray *progress; /* PATH of every Operation PropertiesChanged received */
  gboolean waited;     /* a Message said it waits for another pull's download */
  gboolean done;
  GDBusMessage *reply;
} Caller;

static void
on_caller_signal (GDBusConnection *c, const char *sender, const char *path, const char *iface,
                  const char *signal, GVariant *params, gpointer data)
{
  Caller *caller = data;

  if (g_str_equal (signal, "OperationStarted"))
    {
      guint32 serial;
      const char *op;
      g_variant_get (params, "(u&o)", &serial, &op);
      g_ptr_array_add (caller->started, g_strdup_printf ("%u %s", serial, op));
    }
  else
    {
      const char *message = NULL;
      g_autoptr (GVariant) changed = g_variant_get_child_value (params, 1);

      g_ptr_array_add (caller->progress, g_strdup (path));
      if (g_variant_lookup (changed, "Message", "&s", &message) && strstr (message, "waiting") != NULL)
        caller->waited = TRUE;
    }
}

static void
caller_init (Caller *caller, Fixture *f)
{
  memset (caller, 0, sizeof *caller);
  caller->conn = connect_bus (f);
  caller->started = g_ptr_array_new_with_free_func (g_free);
  caller->progress = g_ptr_array_new_with_free_func (g_free);
  /* No sender, no path: whatever arrives on this connection is recorded. */
  caller->subs[0] = g_dbus_connection_signal_subscribe (caller->conn, NULL, MANAGER_IFACE,
                                                        "OperationStarted", NULL, NULL,
                                                        G_DBUS_SIGNAL_FLAGS_NONE,
                                                        on_caller_signal, caller, NULL);
  caller->subs[1] = g_dbus_connection_signal_subscribe (caller->conn, NULL,
                                                        "org.freedesktop.DBus.Properties",
                                                        "PropertiesChanged", NULL, OPERATION_IFACE,
                                                        G_DBUS_SIGNAL_FLAGS_NONE,
                                                        on_caller_signal, caller, NULL);
}

static void
caller_clear (Caller *caller)
{
  for (guint i = 0; i < G_N_ELEMENTS (caller->subs); i++)
    g_dbus_connection_signal_unsubscribe (caller->conn, caller->subs[i]);
  g_clear_object (&caller->reply);
  g_ptr_array_unref (caller->started);
  g_ptr_array_unref (caller->progress);
  g_object_unref (caller->conn);
}

static void
on_caller_reply (GObject *source, GAsyncResult *res, gpointer data)
{
  Caller *caller = data;
  g_autoptr (GError) err = NULL;

  caller->reply = g_dbus_connection_send_message_with_reply_finish (G_DBUS_CONNECTION (source),
                                                                    res, &err);
  g_assert_no_error (err);
  caller->done = TRUE;
}

static void
caller_pull (Caller *caller, const char *reference, const char *name)
{
  g_autoptr (GDBusMessage) msg = g_dbus_message_new_method_call (NAME, ROOT, MANAGER_IFACE,
                                                                 "PullImage");
  GVariantDict opts;

  g_variant_dict_init (&opts, NULL);
  g_variant_dict_insert (&opts, "name", "s", name);
  g_dbus_message_set_body (msg, g_variant_new ("(s@a{sv})", reference, g_variant_dict_end (&opts)));
  g_dbus_connection_send_message_with_reply (caller->conn, msg, G_DBUS_SEND_MESSAGE_FLAGS_NONE,
                                             G_MAXINT, &caller->serial, NULL, on_caller_reply,
                                             caller);
}

/* The operation path OperationStarted named for our call, or NULL. */
static const char *
caller_op_path (Caller *caller)
{
  g_autofree char *prefix = g_strdup_printf ("%u ", caller->serial);

  for (guint i = 0; i < caller->started->len; i++)
    if (g_str_has_prefix (caller->started->pdata[i], prefix))
      return (const char *) caller->started->pdata[i] + strlen (prefix);
  return NULL;
}

static GError *
call_cancel (GDBusConnection *conn, const char *op_path)
{
  GError *err = NULL;
  g_autoptr (GVariant) r = g_dbus_connection_call_sync (conn, NAME, op_path, OPERATION_IFACE,
                                                        "Cancel", NULL, G_VARIANT_TYPE ("()"),
                                                        G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err);
  (void) r;
  return err;
}

static char *
caller_error_name (Caller *caller)
{
  g_assert_nonnull (caller->reply);
  if (g_dbus_message_get_message_type (caller->reply) != G_DBUS_MESSAGE_TYPE_ERROR)
    return g_strdup ("(success)");
  return g_strdup (g_dbus_message_get_error_name (caller->reply));
}

/* ---- what a pull leaves behind ------------------------------------------- */

static guint
count_entries (const char *dir, const char *prefix, const char *suffix)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *e;
  guint n = 0;

  while (d != NULL && (e = g_dir_read_name (d)) != NULL)
    if ((prefix == NULL || g_str_has_prefix (e, prefix))
        && (suffix == NULL || g_str_has_suffix (e, suffix)))
      n++;
  return n;
}

/* No image, no staging directory, and no verified blob that a prune would
 * keep: nothing pins the pull's blobs any more (a pin that outlived its
 * pull would keep the config blob here). A cancelled download's .part file
 * may stay, for the next pull to resume (test-download). */
static void
assert_pull_left_nothing (Fixture *f, BgrClient *c, const char *name, Registry *reg)
{
  g_autofree char *images = g_build_filename (f->state, "images", NULL);
  g_autofree char *blobs = g_build_filename (f->cache, "oci", "blobs", "sha256", NULL);
  g_autofree char *layer = g_build_filename (blobs, reg->layer_digest + strlen ("sha256:"), NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrImage) img = bgr_client_image_get (c, name, NULL, &err);
  g_autoptr (GPtrArray) list = NULL;
  guint64 freed = 0;
  guint removed = 0;

  g_assert_null (img);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_clear_error (&err);
  list = bgr_client_image_list (c, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (list->len, ==, 0);
  g_assert_cmpuint (count_entries (images, ".staging-", NULL), ==, 0);
  g_assert_cmpuint (count_entries (images, NULL, NULL), ==, 0);
  g_assert_false (g_file_test (layer, G_FILE_TEST_EXISTS));

  g_assert_true (bgr_client_image_cache_prune (c, &freed, &removed, NULL, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (count_entries (blobs, "", NULL) - count_entries (blobs, NULL, ".part"), ==, 0);
  {
    g_autoptr (GPtrArray) cache = bgr_client_image_cache_list (c, NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpuint (cache->len, ==, 0);
  }
}

static gboolean
object_exists (GDBusConnection *conn, const char *path)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GVariant) r = g_dbus_connection_call_sync (
    conn, NAME, path, "org.freedesktop.DBus.Properties", "GetAll",
    g_variant_new ("(s)", OPERATION_IFACE), NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err);
  return r != NULL;
}

/* ---- 3a, 3c: Cancel() stops a pull; only its caller may call it ---------- */

static void
test_operation_cancel (Fixture *f, gconstpointer data)
{
  Registry *reg = registry_start ();
  g_autofree char *ref = registry_ref (reg);
  g_autoptr (BgrClient) c = NULL;
  g_autoptr (GDBusConnection) other = connect_bus (f);
  g_autofree char *error_name = NULL;
  g_autofree char *op_path = NULL;
  Caller caller;
  GError *err;

  start_daemon (f);
  c = new_client (f);
  add_kernel_and_image (f, c);
  g_assert_true (bgr_client_image_delete (c, "img", NULL, NULL));
  caller_init (&caller, f);
  caller_pull (&caller, ref, "pulled");
  /* The daemon is in the layer's download, which stalls. */
  WAIT_UNTIL (caller_op_path (&caller) != NULL && registry_layer_requests (reg) > 0, WAIT_MS);
  op_path = g_strdup (caller_op_path (&caller));
  g_assert_true (g_str_has_prefix (op_path, ROOT "/operation/"));
  g_assert_true (object_exists (other, op_path));

  /* Anyone else: refused, and the pull goes on. */
  err = call_cancel (other, op_path);
  g_assert_nonnull (err);
  {
    g_autofree char *remote = g_dbus_error_get_remote_error (err);
    g_assert_cmpstr (remote, ==, NAME ".Error.PermissionDenied");
  }
  g_assert_error (err, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
  g_clear_error (&err);
  g_assert_false (caller.done);
  g_assert_true (object_exists (other, op_path));

  /* The caller: the call fails with Cancelled, the operation is gone. */
  err = call_cancel (caller.conn, op_path);
  g_assert_no_error (err);
  WAIT_UNTIL (caller.done, WAIT_MS);
  error_name = caller_error_name (&caller);
  g_assert_cmpstr (error_name, ==, NAME ".Error.Cancelled");
  g_assert_false (object_exists (other, op_path));
  /* Progress came, for this operation only. */
  g_assert_cmpuint (caller.progress->len, >, 0);
  for (guint i = 0; i < caller.progress->len; i++)
    g_assert_cmpstr (caller.progress->pdata[i], ==, op_path);
  g_assert_cmpuint (caller.started->len, ==, 1);

  assert_pull_left_nothing (f, c, "pulled", reg);
  caller_clear (&caller);
  stop_daemon (f);
  registry_stop (reg);
}

/* ---- 3b: two pulls at once: each caller hears only of its own ------------- */

static void
test_operation_unicast (Fixture *f, gconstpointer data)
{
  Registry *reg = registry_start ();
  g_autofree char *ref = registry_ref (reg);
  g_autoptr (BgrClient) c = NULL;
  g_autofree char *path_a = NULL, *path_b = NULL;
  g_autofree char *err_a = NULL, *err_b = NULL;
  Caller a, b, bystander;
  GError *err;

  start_daemon (f);
  c = new_client (f);
  add_kernel_and_image (f, c);
  g_assert_true (bgr_client_image_delete (c, "img", NULL, NULL));
  caller_init (&a, f);
  caller_init (&b, f);
  caller_init (&bystander, f);
  caller_pull (&a, ref, "one");
  caller_pull (&b, ref, "two");
  /* One of them downloads the layer, the other waits for that download
   * (and says so in its progress). */
  WAIT_UNTIL (caller_op_path (&a) != NULL && caller_op_path (&b) != NULL
                && registry_layer_requests (reg) == 1 && (a.waited || b.waited),
              WAIT_MS);
  g_assert_false (a.waited && b.waited);
  path_a = g_strdup (caller_op_path (&a));
  path_b = g_strdup (caller_op_path (&b));
  g_assert_cmpstr (path_a, !=, path_b);
  /* Both run at once. */
  g_assert_false (a.done);
  g_assert_false (b.done);
  {
    Caller *first = b.waited ? &a : &b; /* the downloader */
    Caller *second = first == &a ? &b : &a;
    g_autofree char *first_path = g_strdup (caller_op_path (first));
    g_autofree char *second_path = g_strdup (caller_op_path (second));

    /* Cancelled, the downloader leaves the download to the other, which
     * resumes it (and stalls too). */
    err = call_cancel (first->conn, first_path);
    g_assert_no_error (err);
    WAIT_UNTIL (first->done, WAIT_MS);
    WAIT_UNTIL (registry_layer_requests (reg) == 2 && second->progress->len > 0, WAIT_MS);
    g_assert_false (second->done);
    err = call_cancel (second->conn, second_path);
    g_assert_no_error (err);
    WAIT_UNTIL (second->done, WAIT_MS);
  }
  err_a = caller_error_name (&a);
  err_b = caller_error_name (&b);
  g_assert_cmpstr (err_a, ==, NAME ".Error.Cancelled");
  g_assert_cmpstr (err_b, ==, NAME ".Error.Cancelled");
  /* Let anything still in flight arrive before looking. */
  {
    g_autoptr (GVariant) r = g_dbus_connection_call_sync (a.conn, NAME, ROOT, "org.freedesktop.DBus.Peer",
                                                          "Ping", NULL, NULL, 0, -1, NULL, NULL);
    (void) r;
    g_autoptr (GVariant) r2 = g_dbus_connection_call_sync (b.conn, NAME, ROOT, "org.freedesktop.DBus.Peer",
                                                           "Ping", NULL, NULL, 0, -1, NULL, NULL);
    (void) r2;
    g_autoptr (GVariant) r3 = g_dbus_connection_call_sync (bystander.conn, NAME, ROOT,
                                                           "org.freedesktop.DBus.Peer", "Ping",
                                                           NULL, NULL, 0, -1, NULL, NULL);
    (void) r3;
    while (g_main_context_iteration (NULL, FALSE))
      ;
  }

  g_assert_cmpuint (a.started->len, ==, 1);
  g_assert_cmpuint (b.started->len, ==, 1);
  {
    g_autofree char *want_a = g_strdup_printf ("%u %s", a.serial, path_a);
    g_autofree char *want_b = g_strdup_printf ("%u %s", b.serial, path_b);
    g_assert_cmpstr (a.started->pdata[0], ==, want_a);
    g_assert_cmpstr (b.started->pdata[0], ==, want_b);
  }
  g_assert_cmpuint (a.progress->len, >, 0);
  g_assert_cmpuint (b.progress->len, >, 0);
  for (guint i = 0; i < a.progress->len; i++)
    g_assert_cmpstr (a.progress->pdata[i], ==, path_a);
  for (guint i = 0; i < b.progress->len; i++)
    g_assert_cmpstr (b.progress->pdata[i], ==, path_b);
  g_assert_cmpuint (bystander.started->len, ==, 0);
  g_assert_cmpuint (bystander.progress->len, ==, 0);

  assert_pull_left_nothing (f, c, "one", reg);
  assert_pull_left_nothing (f, c, "two", reg);
  caller_clear (&a);
  caller_clear (&b);
  caller_clear (&bystander);
  stop_daemon (f);
  registry_stop (reg);
}

/* ---- 3d: the C client's BgrOperation cancels the daemon's operation ------- */

typedef struct {
  BgrClient *client;
  const char *reference;
  BgrOperation *op;
  GError *error;
  BgrImage *image;
  gint done;
} PullThread;

static gpointer
pull_thread (gpointer data)
{
  PullThread *t = data;
  g_autoptr (BgrPullOptions) opts = bgr_pull_options_new ();

  bgr_pull_options_set_name (opts, "viaclient");
  t->image = bgr_client_image_pull (t->client, t->reference, opts, t->op, NULL, &t->error);
  g_atomic_int_set (&t->done, 1);
  return NULL;
}

static gboolean
cancel_op_idle (gpointer data)
{
  bgr_operation_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_operation_client_cancel (Fixture *f, gconstpointer data)
{
  Registry *reg = registry_start ();
  g_autofree char *ref = registry_ref (reg);
  g_autoptr (BgrClient) c = NULL;
  g_autoptr (BgrClient) puller = NULL;
  g_autoptr (BgrOperation) op = bgr_operation_new ();
  PullThread t = { 0 };
  GThread *thread;

  start_daemon (f);
  c = new_client (f);
  puller = new_client (f);
  add_kernel_and_image (f, c);
  g_assert_true (bgr_client_image_delete (c, "img", NULL, NULL));
  t.client = puller;
  t.reference = ref;
  t.op = op;
  thread = g_thread_new ("pull", pull_thread, &t);
  /* The operation object is known (OperationStarted reached the client)
   * and the download stalls. */
  WAIT_UNTIL (registry_layer_requests (reg) > 0, WAIT_MS);
  {
    gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;
    for (;;)
      {
        g_autofree char *path = bgr_operation_dup_object_path (op);
        if (path != NULL)
          {
            g_assert_true (g_str_has_prefix (path, ROOT "/operation/"));
            break;
          }
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (5000);
      }
  }
  g_assert_false (g_atomic_int_get (&t.done));
  /* From this thread's main context, not the one that waits in the call. */
  g_idle_add (cancel_op_idle, op);
  WAIT_UNTIL (g_atomic_int_get (&t.done), WAIT_MS);
  g_thread_join (thread);
  g_assert_null (t.image);
  g_assert_error (t.error, BGR_ERROR, BGR_ERROR_CANCELLED);
  g_clear_error (&t.error);

  assert_pull_left_nothing (f, c, "viaclient", reg);
  stop_daemon (f);
  registry_stop (reg);
}

/* ---- 4. every client call against the XML --------------------------------- */

typedef struct {
  GMainContext *ctx;
  GMainLoop *loop;
  GThread *thread;
  GDBusConnection *conn;
  GPtrArray *nodes;    /* GDBusNodeInfo of each XML file */
  GMutex lock;
  GHashTable *calls;   /* "Iface.Method" -> count, guarded by lock */
  guint exec_fds;      /* descriptors that came with the last Exec */
  gboolean owned;
} FakeDaemon;

/* A zero value of @type: "", 0, FALSE, empty containers. */
static GVariant *
zero_value (const GVariantType *type)
{
  if (g_variant_type_is_array (type))
    return g_variant_new_array (g_variant_type_element (type), NULL, 0);
  if (g_variant_type_is_tuple (type))
    {
      GPtrArray *items = g_ptr_array_new ();
      GVariant *v;
      for (const GVariantType *t = g_variant_type_first (type); t != NULL;
           t = g_variant_type_next (t))
        g_ptr_array_add (items, zero_value (t));
      v = g_variant_new_tuple ((GVariant **) items->pdata, items->len);
      g_ptr_array_free (items, TRUE);
      return v;
    }
  if (g_variant_type_is_variant (type))
    return g_variant_new_variant (g_variant_new_string (""));
  switch (g_variant_type_peek_string (type)[0])
    {
    case 'b': return g_variant_new_boolean (FALSE);
    case 'y': return g_variant_new_byte (0);
    case 'n': return g_variant_new_int16 (0);
    case 'q': return g_variant_new_uint16 (0);
    case 'i': return g_variant_new_int32 (0);
    case 'u': return g_variant_new_uint32 (0);
    case 'x': return g_variant_new_int64 (0);
    case 't': return g_variant_new_uint64 (0);
    case 'h': return g_variant_new_handle (0);
    case 'd': return g_variant_new_double (0);
    case 's': return g_variant_new_string ("");
    case 'o': return g_variant_new_object_path ("/");
    case 'g': return g_variant_new_signature ("");
    default: g_error ("no zero value for type %s", g_variant_type_peek_string (type));
    }
  return NULL;
}

static GVariant *
zero_out_args (GDBusMethodInfo *m)
{
  GString *sig = g_string_new ("(");
  GVariant *v;

  for (guint i = 0; m->out_args != NULL && m->out_args[i] != NULL; i++)
    g_string_append (sig, m->out_args[i]->signature);
  g_string_append_c (sig, ')');
  {
    g_autoptr (GVariantType) t = g_variant_type_new (sig->str);
    v = zero_value (t);
  }
  g_string_free (sig, TRUE);
  return v;
}

static void
fake_method_call (GDBusConnection *c, const char *sender, const char *path, const char *iface,
                  const char *method, GVariant *params, GDBusMethodInvocation *inv, gpointer data)
{
  FakeDaemon *fd = g_object_get_data (G_OBJECT (c), "fake-daemon");
  GDBusMethodInfo *m = (GDBusMethodInfo *) g_dbus_method_invocation_get_method_info (inv);
  g_autofree char *key = g_strdup_printf ("%s.%s", iface, method);
  GUnixFDList *fds = g_dbus_message_get_unix_fd_list (g_dbus_method_invocation_get_message (inv));

  (void) data;
  g_assert_nonnull (m);
  g_mutex_lock (&fd->lock);
  g_hash_table_insert (fd->calls, g_strdup (key),
                       GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (fd->calls, key)) + 1));
  if (g_str_equal (method, "Exec") || g_str_has_prefix (method, "AttachSession"))
    fd->exec_fds = fds != NULL ? (guint) g_unix_fd_list_get_length (fds) : 0;
  g_mutex_unlock (&fd->lock);
  g_dbus_method_invocation_return_value (inv, zero_out_args (m));
}

static const GDBusInterfaceVTable fake_vtable = { fake_method_call, NULL, NULL, { 0 } };

static GDBusInterfaceInfo *
fake_iface (FakeDaemon *fd, const char *name)
{
  for (guint i = 0; i < fd->nodes->len; i++)
    {
      GDBusInterfaceInfo *info = g_dbus_node_info_lookup_interface (fd->nodes->pdata[i], name);
      if (info != NULL)
        return info;
    }
  g_error ("no interface %s in data/", name);
  return NULL;
}

static void
on_fake_name (GDBusConnection *c, const char *name, gpointer data)
{
  g_atomic_int_set (&((FakeDaemon *) data)->owned, TRUE);
}

static gpointer
fake_thread (gpointer data)
{
  FakeDaemon *fd = data;
  static const struct {
    const char *path, *iface;
  } objects[] = {
    { ROOT, MANAGER_IFACE },
    { ROOT "/vm/x", NAME ".Vm" },
    { ROOT "/image/x", NAME ".Image" },
    { ROOT "/kernel/x", NAME ".Kernel" },
    { ROOT "/operation/x", OPERATION_IFACE },
  };
  guint ids[G_N_ELEMENTS (objects)];
  guint owner;
  g_autoptr (GError) err = NULL;

  g_main_context_push_thread_default (fd->ctx);
  for (guint i = 0; i < G_N_ELEMENTS (objects); i++)
    {
      ids[i] = g_dbus_connection_register_object (fd->conn, objects[i].path,
                                                  fake_iface (fd, objects[i].iface), &fake_vtable,
                                                  NULL, NULL, &err);
      g_assert_no_error (err);
    }
  owner = g_bus_own_name_on_connection (fd->conn, NAME, G_BUS_NAME_OWNER_FLAGS_NONE, on_fake_name,
                                        NULL, fd, NULL);
  g_main_loop_run (fd->loop);
  g_bus_unown_name (owner);
  for (guint i = 0; i < G_N_ELEMENTS (objects); i++)
    g_dbus_connection_unregister_object (fd->conn, ids[i]);
  while (g_main_context_iteration (fd->ctx, FALSE))
    ;
  g_main_context_pop_thread_default (fd->ctx);
  return NULL;
}

static GPtrArray *
load_xml (void)
{
  g_autofree char *dir = g_build_filename (bgr_test_program ("BANGER_SOURCE_DIR"), "data", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  GPtrArray *nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) g_dbus_node_info_unref);
  const char *e;

  g_assert_nonnull (d);
  while ((e = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = NULL, *xml = NULL;
      g_autoptr (GError) err = NULL;
      GDBusNodeInfo *node;

      if (!g_str_has_prefix (e, NAME ".") || !g_str_has_suffix (e, ".xml"))
        continue;
      path = g_build_filename (dir, e, NULL);
      g_assert_true (g_file_get_contents (path, &xml, NULL, NULL));
      node = g_dbus_node_info_new_for_xml (xml, &err);
      g_assert_no_error (err);
      g_ptr_array_add (nodes, node);
    }
  g_assert_cmpuint (nodes->len, ==, 5);
  return nodes;
}

static guint
fake_count (FakeDaemon *fd, const char *key)
{
  guint n;
  g_mutex_lock (&fd->lock);
  n = GPOINTER_TO_UINT (g_hash_table_lookup (fd->calls, key));
  g_mutex_unlock (&fd->lock);
  return n;
}

/* The call reached the daemon (GDBus refuses in-arguments that differ
 * from the registered XML before any handler runs), and its error, if
 * any, is no protocol mismatch: a reply of another type than the client
 * expects, an unknown method or object, bad arguments. Errors from
 * decoding the empty records are fine. */
static void
check_call (FakeDaemon *fd, const char *what, const char *method, guint before, GError *err)
{
  if (err != NULL)
    {
      g_test_message ("%s: %s", what, err->message);
      /* BGR_ERROR_PROTOCOL alone is no sign: a record without its
       * members is refused with it too. */
      if (g_error_matches (err, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED)
          || strstr (err->message, "unexpected reply from bangerd") != NULL
          || strstr (err->message, "reply has type") != NULL
          || strstr (err->message, "exports no object") != NULL
          || strstr (err->message, "InvalidArgs") != NULL
          || strstr (err->message, "UnknownMethod") != NULL
          || strstr (err->message, "signature") != NULL)
        g_error ("%s: D-Bus protocol error: %s", what, err->message);
    }
  if (fake_count (fd, method) != before + 1)
    g_error ("%s did not reach %s on the fake daemon (%s)", what, method,
             err != NULL ? err->message : "no error");
}

#define CHECK(method, ...)                                                                      \
  G_STMT_START                                                                                  \
  {                                                                                             \
    GError *e__ = NULL;                                                                         \
    guint before__ = fake_count (&fd, method);                                                  \
    GError **error = &e__;                                                                      \
    __VA_ARGS__;                                                                                \
    check_call (&fd, #__VA_ARGS__, method, before__, e__);                                      \
    g_clear_error (&e__);                                                                       \
  }                                                                                             \
  G_STMT_END

#define M(m) MANAGER_IFACE "." m
#define V(m) NAME ".Vm." m

/* Methods no BgrClient call sends on their own: Operation.Cancel is sent
 * when a BgrOperation is cancelled, which the operation tests above show
 * against bangerd. */
static const char *const not_called[] = { OPERATION_IFACE ".Cancel", NULL };

static void
test_client_against_xml (void)
{
  g_autoptr (GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  FakeDaemon fd = { 0 };
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrClient) c = NULL;
  const char *address;

  g_test_dbus_up (bus);
  address = g_test_dbus_get_bus_address (bus);
  fd.nodes = load_xml ();
  fd.calls = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_mutex_init (&fd.lock);
  fd.ctx = g_main_context_new ();
  fd.loop = g_main_loop_new (fd.ctx, FALSE);
  fd.conn = g_dbus_connection_new_for_address_sync (
    address,
    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, &err);
  g_assert_no_error (err);
  g_object_set_data (G_OBJECT (fd.conn), "fake-daemon", &fd);
  fd.thread = g_thread_new ("fake-bangerd", fake_thread, &fd);
  {
    gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;
    while (!g_atomic_int_get (&fd.owned))
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (5000);
      }
  }
  c = bgr_client_new_dbus_for_address (address, BGR_CLIENT_FLAGS_NO_AUTO_START, NULL, &err);
  g_assert_no_error (err);

  {
    g_autoptr (BgrKernelSpec) kspec = bgr_kernel_spec_new ("x");
    g_autoptr (BgrImageSpec) ispec = bgr_image_spec_new ("x");
    g_autoptr (BgrVmSpec) vspec = bgr_vm_spec_new ("x");
    g_autoptr (BgrPullOptions) popts = bgr_pull_options_new ();
    static const char *const argv[] = { "true", NULL };
    g_autoptr (BgrExecSpec) espec = bgr_exec_spec_new (argv);
    g_autoptr (BgrWorkspaceSpec) wspec = bgr_workspace_spec_new ("/tmp/repo");
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();
    guint64 freed;
    guint removed;
    gint status;
    int pipe_fds[2];

    bgr_kernel_spec_set_kernel (kspec, "/nonexistent/vmlinux");
    bgr_kernel_spec_set_modules (kspec, "/nonexistent/modules");
    bgr_kernel_spec_set_initrd (kspec, "/nonexistent/initrd");
    bgr_image_spec_set_rootfs (ispec, "/nonexistent/rootfs.ext4");
    bgr_image_spec_set_kernel_ref (ispec, "x");
    bgr_vm_spec_set_image (vspec, "x");
    bgr_vm_spec_set_vcpus (vspec, 2);
    bgr_vm_spec_set_memory_mib (vspec, 256);
    bgr_vm_spec_set_disk_size (vspec, 1 << 30);
    bgr_pull_options_set_name (popts, "x");
    bgr_pull_options_set_kernel (popts, "x");
    bgr_pull_options_set_platform (popts, "linux/amd64");
    bgr_pull_options_set_size (popts, 1 << 30);
    bgr_pull_options_set_insecure (popts, TRUE);
    bgr_exec_spec_set_env (espec, (const char *const[]){ "A=1", NULL });
    bgr_exec_spec_set_cwd (espec, "/");
    bgr_exec_spec_set_timeout_ms (espec, 1000);
    g_assert_cmpint (pipe (pipe_fds), ==, 0);
    bgr_exec_spec_set_stdio (espec, pipe_fds[0], pipe_fds[1], -1);

    CHECK (M ("GetConfig"), { BgrConfig *cf = bgr_client_get_config (c, NULL, error); g_clear_object (&cf); });
    CHECK (M ("GetStatus"), { BgrDaemonInfo *i = bgr_client_get_daemon_info (c, NULL, error); g_clear_object (&i); });
    CHECK (M ("EnsureSshKey"), g_free (bgr_client_ensure_ssh_key (c, NULL, error)));
    CHECK (M ("GetWebLogin"), { char *u = NULL; g_free (bgr_client_web_login_url (c, &u, NULL, error)); g_free (u); });
    CHECK (M ("Doctor"), { BgrDoctorReport *r = bgr_client_doctor (c, NULL, error); g_clear_object (&r); });
    CHECK (M ("ImportKernel"), { BgrKernel *k = bgr_client_kernel_import (c, kspec, NULL, NULL, error); g_clear_object (&k); });
    CHECK (M ("ListKernels"), { GPtrArray *l = bgr_client_kernel_list (c, NULL, error); g_clear_pointer (&l, g_ptr_array_unref); });
    CHECK (M ("GetKernel"), { BgrKernel *k = bgr_client_kernel_get (c, "x", NULL, error); g_clear_object (&k); });
    CHECK (NAME ".Kernel.Delete", bgr_client_kernel_delete (c, "x", NULL, error));
    CHECK (M ("ListAvailableKernels"), { GPtrArray *l = bgr_client_kernel_list_available (c, NULL, error); g_clear_pointer (&l, g_ptr_array_unref); });
    {
      g_autoptr (BgrOperation) op = bgr_operation_new ();
      CHECK (M ("PullKernel"), { BgrKernel *k = bgr_client_kernel_pull (c, "x", op, cancellable, error); g_clear_object (&k); });
    }
    CHECK (M ("RegisterImage"), { BgrImage *i = bgr_client_image_register (c, ispec, NULL, error); g_clear_object (&i); });
    CHECK (M ("ListImages"), { GPtrArray *l = bgr_client_image_list (c, NULL, error); g_clear_pointer (&l, g_ptr_array_unref); });
    CHECK (M ("GetImage"), { BgrImage *i = bgr_client_image_get (c, "x", NULL, error); g_clear_object (&i); });
    CHECK (NAME ".Image.Delete", bgr_client_image_delete (c, "x", NULL, error));
    CHECK (NAME ".Image.Promote", { BgrImage *i = bgr_client_image_promote (c, "x", NULL, NULL, error); g_clear_object (&i); });
    CHECK (M ("PullImage"), { BgrImage *i = bgr_client_image_pull (c, "127.0.0.1:1/x:latest", popts, NULL, NULL, error); g_clear_object (&i); });
    CHECK (M ("PullImage"), { BgrImage *i = bgr_client_image_pull (c, "127.0.0.1:1/x:latest", NULL, NULL, NULL, error); g_clear_object (&i); });
    {
      g_autoptr (BgrBuildOptions) bopts = bgr_build_options_new ("x");
      bgr_build_options_set_run (bopts, (const char *const[]){ "true", "echo hi", NULL });
      bgr_build_options_set_vcpus (bopts, 2);
      bgr_build_options_set_memory_mib (bopts, 256);
      bgr_build_options_set_disk_size (bopts, 1 << 30);
      CHECK (M ("BuildImage"), { BgrImage *i = bgr_client_image_build (c, "y", bopts, NULL, NULL, error); g_clear_object (&i); });
    }
    CHECK (M ("ListImageCache"), { GPtrArray *l = bgr_client_image_cache_list (c, NULL, error); g_clear_pointer (&l, g_ptr_array_unref); });
    CHECK (M ("PruneImageCache"), bgr_client_image_cache_prune (c, &freed, &removed, NULL, error));
    CHECK (M ("CreateVm"), { BgrVm *v = bgr_client_vm_create (c, vspec, NULL, NULL, error); g_clear_object (&v); });
    CHECK (M ("ListVms"), { GPtrArray *l = bgr_client_vm_list (c, NULL, error); g_clear_pointer (&l, g_ptr_array_unref); });
    CHECK (M ("GetVm"), { BgrVm *v = bgr_client_vm_get (c, "x", NULL, error); g_clear_object (&v); });
    CHECK (V ("Start"), { BgrVm *v = bgr_client_vm_start (c, "x", NULL, NULL, error); g_clear_object (&v); });
    CHECK (V ("Stop"), { BgrVm *v = bgr_client_vm_stop (c, "x", NULL, error); g_clear_object (&v); });
    CHECK (V ("Kill"), { BgrVm *v = bgr_client_vm_kill (c, "x", NULL, error); g_clear_object (&v); });
    CHECK (V ("Delete"), bgr_client_vm_delete (c, "x", BGR_VM_DELETE_FLAGS_NONE, NULL, error));
    CHECK (V ("Delete"), bgr_client_vm_delete (c, "x", BGR_VM_DELETE_FLAGS_FORCE, NULL, error));
    CHECK (V ("Logs"), { GBytes *b = bgr_client_vm_logs (c, "x", 4096, NULL, error); g_clear_pointer (&b, g_bytes_unref); });
    CHECK (V ("Ports"), { GPtrArray *l = bgr_client_vm_ports (c, "x", NULL, error); g_clear_pointer (&l, g_ptr_array_unref); });
    CHECK (V ("Stats"), { BgrVmStats *s = bgr_client_vm_stats (c, "x", NULL, error); g_clear_object (&s); });
    CHECK (V ("Exec"), bgr_client_vm_exec (c, "x", espec, &status, NULL, error));
    CHECK (V ("PrepareWorkspace"), { BgrWorkspace *w = bgr_client_vm_workspace_prepare (c, "x", wspec, NULL, NULL, error); g_clear_object (&w); });
    CHECK (V ("GetWorkspace"), { BgrWorkspace *w = bgr_client_vm_workspace_get (c, "x", NULL, error); g_clear_object (&w); });
    CHECK (V ("BootstrapWorkspace"), { char *l = bgr_client_vm_workspace_bootstrap (c, "x", NULL, error); g_free (l); });
    CHECK (V ("ExportWorkspace"), { BgrWorkspace *w = bgr_client_vm_workspace_export (c, "x", "b", BGR_WORKSPACE_EXPORT_FLAGS_FORCE, NULL, NULL, error); g_clear_object (&w); });
    CHECK (V ("Copy"), bgr_client_vm_copy (c, "x", BGR_COPY_FROM_VM, "/tmp/a", "/root/a", NULL, NULL, error));
    CHECK (M ("RunVm"), { BgrWorkspace *w = bgr_client_vm_run (c, vspec, wspec, NULL, NULL, error); g_clear_object (&w); });
    g_mutex_lock (&fd.lock);
    g_assert_cmpuint (fd.exec_fds, ==, 3);
    g_mutex_unlock (&fd.lock);
    /* Without descriptors: /dev/null travels in their place. */
    bgr_exec_spec_set_stdio (espec, -1, -1, -1);
    CHECK (V ("Exec"), bgr_client_vm_exec (c, "x", espec, &status, NULL, error));
    CHECK (V ("PrepareWorkspace"), { BgrWorkspace *w = bgr_client_vm_workspace_prepare (c, "x", wspec, NULL, NULL, error); g_clear_object (&w); });
    CHECK (V ("GetWorkspace"), { BgrWorkspace *w = bgr_client_vm_workspace_get (c, "x", NULL, error); g_clear_object (&w); });
    CHECK (V ("BootstrapWorkspace"), { char *l = bgr_client_vm_workspace_bootstrap (c, "x", NULL, error); g_free (l); });
    CHECK (V ("ExportWorkspace"), { BgrWorkspace *w = bgr_client_vm_workspace_export (c, "x", "b", BGR_WORKSPACE_EXPORT_FLAGS_FORCE, NULL, NULL, error); g_clear_object (&w); });
    CHECK (V ("Copy"), bgr_client_vm_copy (c, "x", BGR_COPY_FROM_VM, "/tmp/a", "/root/a", NULL, NULL, error));
    g_mutex_lock (&fd.lock);
    g_assert_cmpuint (fd.exec_fds, ==, 3);
    g_mutex_unlock (&fd.lock);
    {
      static const char *const cat[] = { "cat", NULL };
      g_autoptr (BgrSessionSpec) sspec = bgr_session_spec_new ("s", cat);
      bgr_session_spec_set_env (sspec, (const char *const[]){ "A=1", NULL });
      bgr_session_spec_set_cwd (sspec, "/");
      bgr_session_spec_set_stdin_mode (sspec, "pipe");
      bgr_session_spec_set_require (sspec, (const char *const[]){ "cat", NULL });
      bgr_session_spec_set_pty (sspec, TRUE);
      bgr_session_spec_set_rows (sspec, 40);
      bgr_session_spec_set_cols (sspec, 120);
      CHECK (V ("StartSession"), { BgrVmSession *s = bgr_client_vm_session_start (c, "x", sspec, NULL, error); g_clear_object (&s); });
      CHECK (V ("ListSessions"), { GPtrArray *l = bgr_client_vm_session_list (c, "x", NULL, error); g_clear_pointer (&l, g_ptr_array_unref); });
      CHECK (V ("GetSession"), { BgrVmSession *s = bgr_client_vm_session_get (c, "x", "s", NULL, error); g_clear_object (&s); });
      CHECK (V ("SessionLogs"), bgr_client_vm_session_logs (c, "x", "s", BGR_SESSION_STREAM_STDERR, 5, TRUE, pipe_fds[1], NULL, error));
      CHECK (V ("AttachSession"), bgr_client_vm_session_attach (c, "x", "s", pipe_fds[0], pipe_fds[1], -1, &status, NULL, error));
      g_mutex_lock (&fd.lock);
      g_assert_cmpuint (fd.exec_fds, ==, 3);
      fd.exec_fds = 0;
      g_mutex_unlock (&fd.lock);
      CHECK (V ("AttachSessionTerminal"), bgr_client_vm_session_attach_terminal (c, "x", "s", pipe_fds[0], pipe_fds[1], pipe_fds[0], &status, NULL, error));
      g_mutex_lock (&fd.lock);
      g_assert_cmpuint (fd.exec_fds, ==, 3);
      g_mutex_unlock (&fd.lock);
      CHECK (V ("StopSession"), { BgrVmSession *s = bgr_client_vm_session_stop (c, "x", "s", NULL, error); g_clear_object (&s); });
      CHECK (V ("KillSession"), { BgrVmSession *s = bgr_client_vm_session_kill (c, "x", "s", NULL, error); g_clear_object (&s); });
    }
    bgr_exec_spec_set_pty (espec, TRUE);
    CHECK (V ("ExecTerminal"), bgr_client_vm_exec (c, "x", espec, &status, NULL, error));
    bgr_exec_spec_set_pty (espec, FALSE);
    CHECK (V ("Acp"), bgr_client_vm_acp (c, "x", "/root", -1, -1, -1, &status, NULL, error));
    CHECK (V ("Proxy"), bgr_client_vm_proxy (c, "x", NULL, 22, -1, -1, NULL, error));
    CHECK (V ("AddForward"), { BgrVmForward *fw = bgr_client_vm_forward_add (c, "x", NULL, 8080, 80, NULL, error); g_clear_object (&fw); });
    CHECK (V ("RemoveForward"), bgr_client_vm_forward_remove (c, "x", "::1", 8080, NULL, error));
    CHECK (V ("ListForwards"), { GPtrArray *l = bgr_client_vm_forward_list (c, "x", NULL, error); g_clear_pointer (&l, g_ptr_array_unref); });
    CHECK (V ("PrepareSsh"), { char *k = bgr_client_vm_ssh_prepare (c, "x", 22, NULL, error); g_free (k); });
    close (pipe_fds[0]);
    close (pipe_fds[1]);
    CHECK (M ("Stop"), bgr_client_stop_daemon (c, NULL, error));
  }

  /* Every method of the XML was called by some client function. */
  for (guint i = 0; i < fd.nodes->len; i++)
    {
      GDBusNodeInfo *node = fd.nodes->pdata[i];
      for (guint j = 0; node->interfaces[j] != NULL; j++)
        {
          GDBusInterfaceInfo *iface = node->interfaces[j];
          for (guint k = 0; iface->methods[k] != NULL; k++)
            {
              g_autofree char *key = g_strdup_printf ("%s.%s", iface->name, iface->methods[k]->name);
              if (g_strv_contains (not_called, key))
                continue;
              if (fake_count (&fd, key) == 0)
                g_error ("%s (in data/) is called by no BgrClient function: add the call, or "
                         "list it in not_called with the reason", key);
            }
        }
    }

  g_clear_object (&c);
  bgr_test_stop_loop (fd.ctx, fd.loop);
  g_thread_join (fd.thread);
  g_main_loop_unref (fd.loop);
  g_main_context_unref (fd.ctx);
  g_object_unref (fd.conn);
  g_hash_table_unref (fd.calls);
  g_ptr_array_unref (fd.nodes);
  g_mutex_clear (&fd.lock);
  g_test_dbus_down (bus);
}

/* ---- 7. vm kill, daemon stop and adoption (CLI and D-Bus) -------------- */

/* A process that still runs: there, and not a zombie. */
static gboolean
process_runs (gint64 pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/stat", pid);
  g_autofree char *stat = NULL;
  const char *paren;

  if (pid <= 0 || !g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  paren = strrchr (stat, ')');
  return paren != NULL && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

static BgrVm *
create_running (BgrClient *c, const char *name)
{
  g_autoptr (BgrVmSpec) spec = bgr_vm_spec_new (name);
  g_autoptr (GError) err = NULL;
  BgrVm *vm;

  bgr_vm_spec_set_image (spec, "img");
  vm = bgr_client_vm_create (c, spec, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
  g_assert_true (process_runs (bgr_vm_get_pid (vm)));
  return vm;
}

/* `banger ARGS...` against this fixture's bangerd. */
#define CLI(f, r, ...)                                                                     \
  G_STMT_START {                                                                           \
    g_autofree char *bus_env_ = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", (f)->address); \
    run ((r), (const char *const[]){ bus_env_, NULL },                                     \
         (const char *const[]){ banger_cli, __VA_ARGS__, NULL });                          \
  } G_STMT_END

/* vm kill through D-Bus (BgrClient) and through the CLI: the VMM process
 * is gone, the VM shows stopped with reason "killed"; killing a stopped or
 * unknown VM is a clear error. */
static void
test_vm_kill (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrClient) c = NULL;
  g_autoptr (GError) err = NULL;
  gint64 pid;
  BgrRun r;

  start_daemon (f);
  c = new_client (f);
  add_kernel_and_image (f, c);

  /* D-Bus. */
  {
    g_autoptr (BgrVm) vm = create_running (c, "kv");
    g_autoptr (BgrVm) killed = NULL;
    g_autoptr (BgrVm) shown = NULL;

    pid = bgr_vm_get_pid (vm);
    killed = bgr_client_vm_kill (c, "kv", NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpint (bgr_vm_get_state (killed), ==, BGR_VM_STATE_STOPPED);
    g_assert_cmpstr (bgr_vm_get_reason (killed), ==, "killed");
    g_assert_cmpint (bgr_vm_get_pid (killed), ==, 0);
    g_assert_false (process_runs (pid));
    shown = bgr_client_vm_get (c, "kv", NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpint (bgr_vm_get_state (shown), ==, BGR_VM_STATE_STOPPED);
    g_assert_null (bgr_client_vm_kill (c, "kv", NULL, &err));
    g_assert_error (err, BGR_ERROR, BGR_ERROR_NOTHING_TO_DO);
    g_clear_error (&err);
    g_assert_null (bgr_client_vm_kill (c, "ghost", NULL, &err));
    g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
    g_clear_error (&err);
  }

  /* The CLI, on the same VM started again. */
  {
    g_autoptr (BgrVm) vm = bgr_client_vm_start (c, "kv", NULL, NULL, &err);
    g_autoptr (BgrVm) shown = NULL;

    g_assert_no_error (err);
    pid = bgr_vm_get_pid (vm);
    g_assert_true (process_runs (pid));
    CLI (f, &r, "vm", "kill", "kv");
    g_assert_cmpint (r.status, ==, 0);
    bgr_assert_contains (r.out, "VM 'kv' killed");
    bgr_run_clear (&r);
    g_assert_false (process_runs (pid));
    shown = bgr_client_vm_get (c, "kv", NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpint (bgr_vm_get_state (shown), ==, BGR_VM_STATE_STOPPED);
    g_assert_cmpstr (bgr_vm_get_reason (shown), ==, "killed");
    CLI (f, &r, "vm", "kill", "kv");
    g_assert_cmpint (r.status, ==, 16); /* NothingToDo */
    bgr_assert_contains (r.err, "not running");
    bgr_run_clear (&r);
    CLI (f, &r, "vm", "kill", "ghost");
    g_assert_cmpint (r.status, ==, 3); /* NotFound */
    bgr_assert_contains (r.err, "ghost");
    bgr_run_clear (&r);
  }
  g_assert_true (bgr_client_vm_delete (c, "kv", BGR_VM_DELETE_FLAGS_NONE, NULL, &err));
  g_assert_no_error (err);
}

/* `banger daemon stop` with a VM running: bangerd exits 0 and leaves the VM
 * running; the next bangerd adopts it (same pid, running) and can stop it. */
static void
test_daemon_stop_then_adopt (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrClient) c = NULL;
  g_autoptr (GError) err = NULL;
  gint64 pid;
  BgrRun r;

  start_daemon (f);
  c = new_client (f);
  add_kernel_and_image (f, c);
  {
    g_autoptr (BgrVm) vm = create_running (c, "kept");
    pid = bgr_vm_get_pid (vm);
  }
  g_clear_object (&c);

  CLI (f, &r, "daemon", "stop");
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  WAIT_UNTIL (exited (f->daemon), WAIT_MS);
  g_assert_true (g_subprocess_get_if_exited (f->daemon));
  g_assert_cmpint (g_subprocess_get_exit_status (f->daemon), ==, 0);
  g_clear_object (&f->daemon);
  g_assert_true (process_runs (pid));

  start_daemon (f);
  c = new_client (f);
  {
    g_autoptr (BgrVm) vm = bgr_client_vm_get (c, "kept", NULL, &err);
    g_autoptr (BgrVm) stopped = NULL;

    g_assert_no_error (err);
    g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
    g_assert_cmpint (bgr_vm_get_pid (vm), ==, pid);
    CLI (f, &r, "vm", "show", "kept", "--json");
    g_assert_cmpint (r.status, ==, 0);
    bgr_assert_contains (r.out, "\"running\"");
    bgr_run_clear (&r);
    /* Adopted, not just listed: this bangerd controls it. */
    stopped = bgr_client_vm_stop (c, "kept", NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpint (bgr_vm_get_state (stopped), ==, BGR_VM_STATE_STOPPED);
    g_assert_false (process_runs (pid));
  }
  g_assert_true (bgr_client_vm_delete (c, "kept", BGR_VM_DELETE_FLAGS_NONE, NULL, &err));
  g_assert_no_error (err);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* Once, before any thread: bangerd and gdbus see the test's directories. */
  bgr_test_export_dirs ();
  bangerd = bgr_test_program ("BANGERD");
  banger_cli = bgr_test_program ("BANGER_CLI");
  g_test_add ("/dbus-objects/vm-kill", Fixture, NULL, fixture_setup, test_vm_kill,
              fixture_teardown);
  g_test_add ("/dbus-objects/daemon-stop-then-adopt", Fixture, NULL, fixture_setup,
              test_daemon_stop_then_adopt, fixture_teardown);
  g_test_add ("/dbus-objects/lifecycle-signals", Fixture, NULL, fixture_setup,
              test_lifecycle_signals, fixture_teardown);
  g_test_add ("/dbus-objects/introspect", Fixture, NULL, fixture_setup,
              test_introspect_and_managed_objects, fixture_teardown);
  g_test_add ("/dbus-objects/operation-cancel", Fixture, NULL, fixture_setup,
              test_operation_cancel, fixture_teardown);
  g_test_add ("/dbus-objects/operation-unicast", Fixture, NULL, fixture_setup,
              test_operation_unicast, fixture_teardown);
  g_test_add ("/dbus-objects/operation-client-cancel", Fixture, NULL, fixture_setup,
              test_operation_client_cancel, fixture_teardown);
  g_test_add_func ("/dbus-objects/client-against-xml", test_client_against_xml);
  return g_test_run ();
}
