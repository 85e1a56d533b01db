/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fixture of the D-Bus object tests: see dbus-objects-fixture.h. */
#include "config.h"

#include <signal.h>
#include <unistd.h>

#include "dbus-objects-fixture.h"

#include "bgr-fs-private.h"
#include "bgr-test-ext4.h"

const char *bangerd, *banger_cli;

void
dbus_objects_init (int *argc, char ***argv)
{
  g_test_init (argc, argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* Once, before any thread: bangerd and gdbus see the test's directories. */
  bgr_test_export_dirs ();
  bangerd = bgr_test_program ("BANGERD");
  banger_cli = bgr_test_program ("BANGER_CLI");
}

GDBusConnection *
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

void
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

gboolean
exited (GSubprocess *p)
{
  return g_subprocess_get_identifier (p) == NULL;
}

void
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

void
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

void
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
void
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

BgrClient *
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
void
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
