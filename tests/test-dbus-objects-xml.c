/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The client against the XML: a fake daemon built from
 * data/org.banger.Banger1.*.xml answers every method with a zero value of
 * its out signature, and every BgrClient call must reach it with the
 * arguments the XML declares (and every XML method must be called). No
 * bangerd runs. */
#include "config.h"

#include <gio/gunixfdlist.h>
#include <unistd.h>

#include "dbus-objects-fixture.h"

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
 * when a BgrOperation is cancelled, which the operation tests
 * (test-dbus-objects-operation.c) show against bangerd. */
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

int
main (int argc, char **argv)
{
  dbus_objects_init (&argc, &argv);
  g_test_add_func ("/dbus-objects/client-against-xml", test_client_against_xml);
  return g_test_run ();
}
