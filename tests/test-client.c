/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <json-glib/json-glib.h>
#include <unistd.h>

#include <banger/banger.h>

#include "test-specs.h"

static void
test_local (void)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrConfig) config = bgr_config_load_from_data ("tap_pool_size = 2\n", -1, "t.toml", &err);
  g_autoptr (BgrClient) client = NULL;
  g_autoptr (BgrClient) second = NULL;
  g_autoptr (BgrConfig) got = NULL;
  g_autoptr (BgrDaemonInfo) info = NULL;
  g_autofree char *json = NULL;

  g_assert_no_error (err);
  client = bgr_client_new_local (config, BGR_CLIENT_FLAGS_NONE, &err);
  g_assert_no_error (err);
  g_assert_true (bgr_client_is_local (client));

  got = bgr_client_get_config (client, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpint (bgr_config_get_int (got, "tap_pool_size"), ==, 2);
  g_assert_cmpstr (bgr_config_get_source (got, "tap_pool_size"), ==, "t.toml:1");

  info = bgr_client_get_daemon_info (client, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpint (bgr_daemon_info_get_pid (info), ==, getpid ());
  g_assert_cmpstr (bgr_daemon_info_get_bus (info), ==, "in-process");
  g_assert_cmpstr (bgr_daemon_info_get_state_dir (info), ==, bgr_config_get_string (config, "state_dir"));
  g_assert_cmpstr (bgr_daemon_info_get_version (info), ==, BGR_VERSION_STRING);
  json = bgr_daemon_info_to_json (info);
  g_assert_nonnull (strstr (json, "\"in-process\""));

  g_assert_false (bgr_client_stop_daemon (client, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED);
  g_clear_error (&err);

  /* Only one engine per state directory. */
  second = bgr_client_new_local (config, BGR_CLIENT_FLAGS_NONE, &err);
  g_assert_null (second);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_LOCKED);
}

static void
on_doctor (GObject *source, GAsyncResult *res, gpointer data)
{
  BgrDoctorReport **out = data;
  g_autoptr (GError) err = NULL;
  *out = bgr_client_doctor_finish (BGR_CLIENT (source), res, &err);
  g_assert_no_error (err);
}

static void
test_doctor_async (void)
{
  g_autoptr (BgrConfig) config = bgr_config_new_default ();
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrClient) client = bgr_client_new_local (config, BGR_CLIENT_FLAGS_NONE, &err);
  g_autoptr (BgrDoctorReport) report = NULL;
  gboolean saw_hypervisor = FALSE;

  g_assert_no_error (err);
  bgr_client_doctor_async (client, NULL, on_doctor, &report);
  while (report == NULL)
    g_main_context_iteration (NULL, TRUE);
  for (guint i = 0; i < bgr_doctor_report_get_n_checks (report); i++)
    if (g_str_equal (bgr_doctor_report_get_check_name (report, i), "hypervisor"))
      saw_hypervisor = TRUE;
  g_assert_true (saw_hypervisor);
}

static void
test_dbus_unavailable (void)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrClient) client = NULL;

  /* A bus address where nothing listens. */
  client = bgr_client_new_dbus_for_address ("unix:path=/nonexistent/banger-bus", 0, NULL, &err);
  g_assert_null (client);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_DAEMON_UNAVAILABLE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/client/local", test_local);
  g_test_add_func ("/client/doctor-async", test_doctor_async);
  g_test_add_func ("/client/dbus-unavailable", test_dbus_unavailable);
  return g_test_run ();
}
