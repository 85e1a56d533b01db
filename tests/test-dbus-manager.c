/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bangerd's Manager on a private dbus-daemon, as clients other than banger
 * call it: ImportKernel, introspection, kernels and images, VM methods
 * with bad input. */
#include "config.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <banger/banger.h>
#include "bgr-test-util.h"
#include "dbus-fixture.h"

static void
count_signal (GDBusConnection *c, const char *sender, const char *path, const char *iface,
              const char *signal, GVariant *params, gpointer data)
{
  (*(guint *) data)++;
}

static GVariant *
manager_call (Fixture *f, const char *method, GVariant *params, GError **error)
{
  return g_dbus_connection_call_sync (f->conn, "org.banger.Banger1", "/org/banger/Banger1",
                                      "org.banger.Banger1.Manager", method, params, NULL,
                                      G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
}

/* ImportKernel over D-Bus, as a client other than banger calls it: the
 * reply is the kernel (its file copied into the state directory), the
 * caller hears OperationStarted, the Kernel object and ListKernels show
 * it; bad specs get InvalidArgument/NotFound/Exists and change nothing;
 * the object's Delete removes it and its files. */
static void
test_import_kernel (Fixture *f, gconstpointer data)
{
  static const guchar elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, [16] = 2, [18] = 62 };
  g_autofree char *cfg = bgr_test_write_file ("import.toml", "log_level = \"info\"\nweb_listen_addr = \"\"\n");
  g_autofree char *vmlinux = g_build_filename (g_get_user_runtime_dir (), "vmlinux", NULL);
  g_autofree char *kdir = g_build_filename (g_get_user_state_dir (), "banger", "kernels", "k1", NULL);
  g_autofree char *copied = g_build_filename (kdir, "vmlinux", NULL);
  g_autoptr (GSubprocess) d = start_daemon (f, cfg, FALSE);
  g_autoptr (GVariant) reply = NULL, list = NULL;
  g_autoptr (GVariantDict) k = NULL;
  g_autoptr (GError) err = NULL;
  guint started = 0;
  guint sub;
  const char *s = NULL;
  BgrRun r;

  g_mkdir_with_parents (g_get_user_runtime_dir (), 0700);
  g_assert_true (g_file_set_contents (vmlinux, (const char *) elf, sizeof elf, NULL));
  wait_for_name (f);
  sub = g_dbus_connection_signal_subscribe (f->conn, "org.banger.Banger1", "org.banger.Banger1.Manager",
                                            "OperationStarted", "/org/banger/Banger1", NULL,
                                            G_DBUS_SIGNAL_FLAGS_NONE, count_signal, &started, NULL);
  reply = manager_call (f, "ImportKernel",
                        g_variant_new_parsed ("({'name': <'k1'>, 'kernel': <%s>},)", vmlinux), &err);
  g_assert_no_error (err);
  k = g_variant_dict_new (g_variant_get_child_value (reply, 0));
  g_assert_true (g_variant_dict_lookup (k, "name", "&s", &s));
  g_assert_cmpstr (s, ==, "k1");
  g_assert_true (g_variant_dict_lookup (k, "format", "&s", &s));
  g_assert_cmpstr (s, ==, "vmlinux");
  g_assert_true (g_variant_dict_lookup (k, "kernel", "&s", &s));
  g_assert_cmpstr (s, ==, copied);
  g_assert_true (g_file_test (copied, G_FILE_TEST_IS_REGULAR));
  /* The signal went out before the reply, on the same connection. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (started, ==, 1);
  g_dbus_connection_signal_unsubscribe (f->conn, sub);
  list = manager_call (f, "ListKernels", NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (g_variant_n_children (g_variant_get_child_value (list, 0)), ==, 1);
  RUN (f, &r, "gdbus", "call", "--session", "--dest", "org.banger.Banger1", "--object-path",
       "/org/banger/Banger1/kernel/k1", "--method", "org.freedesktop.DBus.Properties.GetAll",
       "org.banger.Banger1.Kernel");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "'k1'");
  bgr_run_clear (&r);

  /* Bad specs: each says what is wrong, nothing changes. */
  {
    static const struct { const char *spec, *error, *needle; } bad[] = {
      { "{'name': <'k2'>}", "InvalidArgument", "kernel" },
      { "{'name': <'k2'>, 'kernel': <'relative/vmlinux'>}", "InvalidArgument", "absolute" },
      { "{'name': <'k2'>, 'kernel': <'/nonexistent/vmlinux'>}", "NotFound", "does not exist" },
      { "{'name': <'bad name'>, 'kernel': <'/bin/sh'>}", "InvalidArgument", "invalid kernel name" },
      { "{'name': <'k2'>, 'kernel': <'/bin/sh'>, 'colour': <'red'>}", "InvalidArgument", "colour" },
      { "{'name': <'k2'>, 'kernel': <7>}", "InvalidArgument", "kernel" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr (GVariant) none = NULL;
        g_autofree char *remote = NULL, *want = NULL;
        g_autoptr (GError) e = NULL;

        none = manager_call (f, "ImportKernel",
                             g_variant_new_parsed ("(%*,)", g_variant_new_parsed (bad[i].spec)), &e);
        g_assert_null (none);
        remote = g_dbus_error_get_remote_error (e);
        want = g_strconcat ("org.banger.Banger1.Error.", bad[i].error, NULL);
        g_test_message ("%s -> %s: %s", bad[i].spec, remote, e->message);
        g_assert_cmpstr (remote, ==, want);
        bgr_assert_contains (e->message, bad[i].needle);
      }
    {
      g_autoptr (GVariant) again = manager_call (
        f, "ImportKernel", g_variant_new_parsed ("({'name': <'k1'>, 'kernel': <%s>},)", vmlinux), &err);
      g_assert_null (again);
    }
    g_assert_true (g_dbus_error_is_remote_error (err));
    bgr_assert_contains (err->message, "already exists");
    g_clear_error (&err);
    g_clear_pointer (&list, g_variant_unref);
    list = manager_call (f, "ListKernels", NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpuint (g_variant_n_children (g_variant_get_child_value (list, 0)), ==, 1);
  }

  RUN (f, &r, "gdbus", "call", "--session", "--dest", "org.banger.Banger1", "--object-path",
       "/org/banger/Banger1/kernel/k1", "--method", "org.banger.Banger1.Kernel.Delete");
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  g_assert_false (g_file_test (kdir, G_FILE_TEST_EXISTS));
  RUN (f, &r, banger, "daemon", "stop");
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  wait_for_exit (d);
}

static void
test_introspection (Fixture *f, gconstpointer data)
{
  g_autofree char *cfg = bgr_test_write_file ("intro.toml", "log_level = \"error\"\nweb_listen_addr = \"\"\n");
  g_autoptr (GSubprocess) d = start_daemon (f, cfg, FALSE);
  g_autofree char *xml = NULL;
  g_autofree char *xml_path = g_build_filename (bgr_test_program ("BANGER_SOURCE_DIR"), "data",
                                                "org.banger.Banger1.Manager.xml", NULL);
  g_autoptr (GDBusNodeInfo) source = NULL;
  g_autoptr (GDBusNodeInfo) live = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (GVariant) reply = NULL;
  GDBusInterfaceInfo *want, *got;
  BgrRun r;

  wait_for_name (f);
  /* The daemon exports exactly the interface the XML in data/ describes. */
  g_assert_true (g_file_get_contents (xml_path, &xml, NULL, NULL));
  source = g_dbus_node_info_new_for_xml (xml, &err);
  g_assert_no_error (err);
  reply = g_dbus_connection_call_sync (f->conn, "org.banger.Banger1", "/org/banger/Banger1",
                                       "org.freedesktop.DBus.Introspectable", "Introspect", NULL,
                                       G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err);
  g_assert_no_error (err);
  {
    const char *live_xml;
    g_variant_get (reply, "(&s)", &live_xml);
    live = g_dbus_node_info_new_for_xml (live_xml, &err);
    g_assert_no_error (err);
  }
  want = g_dbus_node_info_lookup_interface (source, "org.banger.Banger1.Manager");
  got = g_dbus_node_info_lookup_interface (live, "org.banger.Banger1.Manager");
  g_assert_nonnull (want);
  g_assert_nonnull (got);
  for (guint i = 0; want->methods[i] != NULL; i++)
    {
      GDBusMethodInfo *m = g_dbus_interface_info_lookup_method (got, want->methods[i]->name);
      g_assert_nonnull (m);
    }
  for (guint i = 0; got->methods[i] != NULL; i++)
    g_assert_nonnull (g_dbus_interface_info_lookup_method (want, got->methods[i]->name));

  RUN (f, &r, "gdbus", "introspect", "--session", "--dest", "org.banger.Banger1",
       "--object-path", "/org/banger/Banger1");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "readonly u Version = 4;");
  bgr_assert_contains (r.out, "readonly s DaemonVersion = '" BANGER_VERSION "';");
  bgr_run_clear (&r);
  g_subprocess_send_signal (d, SIGTERM);
  wait_for_exit (d);
  g_assert_cmpint (g_subprocess_get_exit_status (d), ==, 0);
  {
    /* log_level = "error": nothing below errors is written. */
    g_autofree char *log = daemon_log (d);
    g_assert_cmpstr (log, ==, "");
    g_assert_null (strstr (log, "ready"));
  }
}

static void
test_kernels_and_images (Fixture *f, gconstpointer data)
{
  g_autofree char *cfg = bgr_test_write_file ("artifacts.toml", "log_level = \"info\"\nweb_listen_addr = \"\"\n");
  g_autoptr (GSubprocess) d = start_daemon (f, cfg, FALSE);
  const char *deb = bgr_test_program ("BANGER_TEST_KERNEL_DEB");
  g_autofree char *src = g_build_filename (g_get_user_runtime_dir (), "rootfs-src", NULL);
  g_autofree char *rootfs = g_build_filename (g_get_user_runtime_dir (), "dev.ext4", NULL);
  BgrRun r;

  wait_for_name (f);
  g_mkdir_with_parents (src, 0755);
  bgr_run_env (&r, NULL, (const char *const[]){ "mkfs.ext4", "-q", "-d", src, rootfs, "16M", NULL });
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);

  /* CLI through the daemon. */
  RUN (f, &r, banger, "kernel", "import", "cloud", "--deb", deb);
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "imported kernel 'cloud'");
  bgr_assert_contains (r.out, "(generated by banger)");
  bgr_run_clear (&r);
  GDBUS_CALL (f, &r, "ListKernels");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "'name': <'cloud'>");
  bgr_assert_contains (r.out, "'format': <'bzimage'>");
  bgr_run_clear (&r);
  RUN (f, &r, banger, "image", "register", "--name", "dev", "--rootfs", rootfs, "--kernel-ref", "cloud");
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  {
    g_autoptr (JsonParser) p = json_parser_new ();
    JsonArray *a;
    RUN (f, &r, banger, "image", "list", "--json");
    g_assert_cmpint (r.status, ==, 0);
    g_assert_true (json_parser_load_from_data (p, r.out, -1, NULL));
    a = json_node_get_array (json_parser_get_root (p));
    g_assert_cmpuint (json_array_get_length (a), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (a, 0), "kernel_ref"),
                     ==, "cloud");
    bgr_run_clear (&r);
  }
  RUN (f, &r, "gdbus", "call", "--session", "--dest", "org.banger.Banger1", "--object-path",
       "/org/banger/Banger1", "--method", "org.banger.Banger1.Manager.GetImage", "dev");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "'managed': <false>");
  bgr_run_clear (&r);

  /* Bad input: clear errors, nothing changes. */
  RUN (f, &r, "gdbus", "call", "--session", "--dest", "org.banger.Banger1", "--object-path",
       "/org/banger/Banger1", "--method", "org.banger.Banger1.Manager.RegisterImage",
       "{'name': <'x'>, 'rootfs': <'/tmp/x'>, 'bogus': <'y'>}");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "org.banger.Banger1.Error.InvalidArgument");
  bgr_assert_contains (r.err, "bogus");
  bgr_run_clear (&r);
  RUN (f, &r, banger, "kernel", "delete", "cloud");
  g_assert_cmpint (r.status, ==, 17);
  bgr_assert_contains (r.err, "used by image(s) dev");
  bgr_run_clear (&r);
  RUN (f, &r, banger, "kernel", "import", "cloud", "--deb", deb);
  g_assert_cmpint (r.status, ==, 4);
  bgr_run_clear (&r);
  RUN (f, &r, banger, "image", "show", "nope");
  g_assert_cmpint (r.status, ==, 3);
  bgr_run_clear (&r);

  RUN (f, &r, banger, "image", "promote", "dev", "--json");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "\"managed\" : true");
  bgr_run_clear (&r);
  RUN (f, &r, banger, "image", "delete", "dev");
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  RUN (f, &r, banger, "kernel", "delete", "cloud");
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  RUN (f, &r, banger, "kernel", "show", "cloud");
  g_assert_cmpint (r.status, ==, 3);
  bgr_run_clear (&r);
  g_assert_true (g_file_test (rootfs, G_FILE_TEST_IS_REGULAR));

  g_subprocess_send_signal (d, SIGTERM);
  wait_for_exit (d);
  g_assert_cmpint (g_subprocess_get_exit_status (d), ==, 0);
}

/* VM methods with bad input: clear errors, nothing created, the daemon
 * still answers. (Booting VMs is test-vm's job, in a network namespace.) */
static void
test_vm_bad_input (Fixture *f, gconstpointer data)
{
  g_autofree char *cfg = bgr_test_write_file ("vms.toml", "log_level = \"info\"\nweb_listen_addr = \"\"\n");
  g_autoptr (GSubprocess) d = start_daemon (f, cfg, FALSE);
  BgrRun r;

  wait_for_name (f);
#define VM_CALL(method, ...)                                                               \
  RUN (f, &r, "gdbus", "call", "--session", "--dest", "org.banger.Banger1", "--object-path", \
       "/org/banger/Banger1", "--method", "org.banger.Banger1.Manager." method, __VA_ARGS__)
  VM_CALL ("CreateVm", "{'name': <'dev'>, 'bogus': <'y'>}");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "org.banger.Banger1.Error.InvalidArgument");
  bgr_assert_contains (r.err, "unknown option 'bogus'");
  bgr_run_clear (&r);
  VM_CALL ("CreateVm", "{'name': <'dev'>, 'vcpus': <'two'>}");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "option 'vcpus' of BgrVmSpec must have type 'u', not 's'");
  bgr_run_clear (&r);
  VM_CALL ("CreateVm", "{'name': <'Not_A_Label'>}");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "org.banger.Banger1.Error.InvalidArgument");
  bgr_assert_contains (r.err, "DNS label");
  bgr_run_clear (&r);
  VM_CALL ("CreateVm", "{'name': <'dev'>, 'image': <'nope'>}");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "org.banger.Banger1.Error.NotFound");
  bgr_assert_contains (r.err, "no image named 'nope'");
  bgr_run_clear (&r);
  /* Strict input: "" is not the default image, sizes past the limits are
   * refused before any work, and errors name the option keys, never the
   * CLI's flags. */
  VM_CALL ("CreateVm", "{'name': <'dev'>, 'image': <''>}");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "org.banger.Banger1.Error.InvalidArgument");
  bgr_assert_contains (r.err, "option 'image' must not be empty");
  bgr_run_clear (&r);
  VM_CALL ("CreateVm", "{'name': <'dev'>, 'disk-size': <uint64 1000000000000000000>}");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "org.banger.Banger1.Error.InvalidArgument");
  bgr_assert_contains (r.err, "option 'disk-size': 1000000000000000000 bytes is out of range");
  bgr_run_clear (&r);
  VM_CALL ("CreateVm", "{'name': <'dev'>, 'vcpus': <uint32 4000000000>}");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "option 'vcpus': 4000000000 is out of range");
  bgr_run_clear (&r);
  VM_CALL ("PullImage", "127.0.0.1:1/x:y", "{'size': <uint64 1000000000000000000>}");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "option 'size': 1000000000000000000 bytes is out of range");
  bgr_run_clear (&r);
  VM_CALL ("PullImage", "127.0.0.1:1/x:y", "{'name': <'Bad!'>}");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "(give one with option 'name')");
  g_assert_null (strstr (r.err, "--"));
  bgr_run_clear (&r);
  VM_CALL ("ImportKernel", "{'name': <'k'>, 'deb': <'relative.deb'>}");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "option 'deb' must be an absolute path");
  g_assert_null (strstr (r.err, "--"));
  bgr_run_clear (&r);
  VM_CALL ("RegisterImage", "{'name': <'x'>}");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "an image needs a rootfs (option 'rootfs')");
  g_assert_null (strstr (r.err, "--"));
  bgr_run_clear (&r);
  VM_CALL ("GetVm", "ghost");
  bgr_assert_contains (r.err, "org.banger.Banger1.Error.NotFound");
  bgr_run_clear (&r);
  /* Calls on a VM go to its object: there is none for a VM that does not exist. */
  RUN (f, &r, "gdbus", "call", "--session", "--dest", "org.banger.Banger1", "--object-path",
       "/org/banger/Banger1/vm/ghost", "--method", "org.banger.Banger1.Vm.Delete", "{'force': <true>}");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "UnknownMethod");
  bgr_run_clear (&r);
  RUN (f, &r, banger, "vm", "logs", "ghost");
  g_assert_cmpint (r.status, ==, 3);
  bgr_assert_contains (r.err, "no VM named 'ghost'");
  bgr_run_clear (&r);
  VM_CALL ("ListVms", NULL);
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "[]");
  bgr_run_clear (&r);
#undef VM_CALL


  /* The CLI: usage errors before anything is sent. (`vm exec NAME` alone
   * is a login shell: there, the missing VM is the error.) */
  RUN (f, &r, banger, "vm", "exec", "ghost");
  g_assert_cmpint (r.status, ==, 3);
  bgr_assert_contains (r.err, "no VM named 'ghost'");
  bgr_run_clear (&r);
  RUN (f, &r, banger, "vm", "exec", "--tty", "--no-stdin", "ghost", "--", "true");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "needs stdin");
  bgr_run_clear (&r);
  RUN (f, &r, banger, "vm", "exec", "ghost", "--", "true");
  g_assert_cmpint (r.status, ==, 3);
  bgr_assert_contains (r.err, "no VM named 'ghost'");
  bgr_run_clear (&r);
  RUN (f, &r, banger, "vm", "create", "--vcpus", "0");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "invalid --vcpus \"0\"");
  bgr_run_clear (&r);
  /* The daemon's errors name option keys; the CLI shows its own flags. */
  RUN (f, &r, banger, "vm", "create", "--image", "");
  g_assert_cmpint (r.status, ==, 2);
  bgr_assert_contains (r.err, "--image must not be empty");
  bgr_run_clear (&r);
  RUN (f, &r, banger, "vm", "create", "--memory", "100T");
  g_assert_cmpint (r.status, ==, 2);
  bgr_assert_contains (r.err, "--memory: 104857600 MiB is more than this host has");
  bgr_run_clear (&r);
  RUN (f, &r, banger, "vm", "create", "--memory", "lots");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "invalid --memory");
  bgr_run_clear (&r);
  RUN (f, &r, banger, "vm", "list", "--json");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "[");
  g_assert_null (strstr (r.out, "name"));
  bgr_run_clear (&r);

  g_subprocess_send_signal (d, SIGTERM);
  wait_for_exit (d);
  g_assert_cmpint (g_subprocess_get_exit_status (d), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  banger = bgr_test_program ("BANGER_CLI");
  bangerd = bgr_test_program ("BANGERD");
  g_test_add ("/dbus/import-kernel", Fixture, NULL, fixture_setup, test_import_kernel,
              fixture_teardown);
  g_test_add ("/dbus/introspection", Fixture, NULL, fixture_setup, test_introspection, fixture_teardown);
  g_test_add ("/dbus/kernels-and-images", Fixture, NULL, fixture_setup, test_kernels_and_images,
              fixture_teardown);
  g_test_add ("/dbus/vm-bad-input", Fixture, NULL, fixture_setup, test_vm_bad_input, fixture_teardown);
  return g_test_run ();
}
