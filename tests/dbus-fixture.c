/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bangerd on a private dbus-daemon: the fixture of test-dbus and
 * test-dbus-manager (dbus-fixture.h). */
#include "config.h"

#include <glib/gstdio.h>

#include "dbus-fixture.h"

const char *banger, *bangerd;

void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  const char *service_dir = data;

  bgr_test_export_dirs ();
  f->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  if (service_dir != NULL)
    g_test_dbus_add_service_dir (f->bus, service_dir);
  g_test_dbus_up (f->bus);
  f->address = g_test_dbus_get_bus_address (f->bus);
  f->env_bus = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", f->address);
  f->env[0] = f->env_bus;
  f->conn = g_dbus_connection_new_for_address_sync (
    f->address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, &err);
  g_assert_no_error (err);
}

void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_object_unref (f->conn);
  g_test_dbus_down (f->bus);
  g_object_unref (f->bus);
  g_free (f->env_bus);
}

gboolean
on_timeout (gpointer data)
{
  g_error ("timed out waiting for %s", (const char *) data);
  return G_SOURCE_REMOVE;
}

static void
on_appeared (GDBusConnection *c, const char *name, const char *owner, gpointer data)
{
  *(gboolean *) data = TRUE;
}

/* Waits (event-driven, bounded) until org.banger.Banger1 has an owner. */
void
wait_for_name (Fixture *f)
{
  gboolean appeared = FALSE;
  guint watch = g_bus_watch_name_on_connection (f->conn, "org.banger.Banger1",
                                                G_BUS_NAME_WATCHER_FLAGS_NONE, on_appeared, NULL,
                                                &appeared, NULL);
  guint timeout = g_timeout_add_seconds (60, on_timeout, (gpointer) "bangerd to own its name");

  while (!appeared)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (timeout);
  g_bus_unwatch_name (watch);
}

static void
on_exited (GObject *source, GAsyncResult *res, gpointer data)
{
  *(gboolean *) data = TRUE;
}

void
wait_for_exit (GSubprocess *proc)
{
  gboolean done = FALSE;
  guint timeout = g_timeout_add_seconds (60, on_timeout, (gpointer) "bangerd to exit");

  g_subprocess_wait_async (proc, NULL, on_exited, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (timeout);
}

/* The daemon's stderr goes to a file (a pipe read only at the end could
 * fill up and block a chatty daemon). */
static char *
log_path_for (GSubprocess *p)
{
  return g_strdup_printf ("%s/bangerd-%s.log", g_get_user_runtime_dir (),
                          g_subprocess_get_identifier (p));
}

GSubprocess *
start_daemon (Fixture *f, const char *config, gboolean replace)
{
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr (GError) err = NULL;
  g_autofree char *tmp_log = NULL;
  g_autofree char *log = NULL;
  static guint counter;
  GSubprocess *p;

  g_mkdir_with_parents (g_get_user_runtime_dir (), 0700);
  tmp_log = g_strdup_printf ("%s/bangerd-starting-%u.log", g_get_user_runtime_dir (), counter++);
  g_subprocess_launcher_set_stderr_file_path (l, tmp_log);

  g_subprocess_launcher_setenv (l, "DBUS_SESSION_BUS_ADDRESS", f->address, TRUE);
  if (replace)
    p = g_subprocess_launcher_spawn (l, &err, bangerd, "--session", "--replace", "--config", config, NULL);
  else
    p = g_subprocess_launcher_spawn (l, &err, bangerd, "--session", "--config", config, NULL);
  g_assert_no_error (err);
  log = log_path_for (p);
  g_assert_cmpint (g_rename (tmp_log, log), ==, 0);
  /* The identifier is gone once the process exited: remember the path. */
  g_object_set_data_full (G_OBJECT (p), "log-path", g_steal_pointer (&log), g_free);
  return p;
}

/* Everything the daemon wrote on stderr (call after it exited). */
char *
daemon_log (GSubprocess *p)
{
  const char *path = g_object_get_data (G_OBJECT (p), "log-path");
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

char *
owner_pid_text (GSubprocess *p)
{
  return g_strdup (g_subprocess_get_identifier (p));
}
