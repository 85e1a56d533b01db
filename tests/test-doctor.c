/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <banger/banger.h>

static gssize
find_check (BgrDoctorReport *r, const char *name)
{
  for (guint i = 0; i < bgr_doctor_report_get_n_checks (r); i++)
    if (g_str_equal (bgr_doctor_report_get_check_name (r, i), name))
      return i;
  return -1;
}

static char *
write_config (const char *text)
{
  char *path = g_build_filename (g_get_user_config_dir (), "doctor-test.toml", NULL);
  g_mkdir_with_parents (g_get_user_config_dir (), 0700);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static void
test_all_checks_present (void)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrDoctorReport) r = bgr_doctor_run (NULL, NULL, &err);
  static const char *const names[] = { "config", "kvm", "firecracker", "qemu", "hypervisor",
                                       "tun", "vhost-vsock", "ip", "firewall", "dnsmasq", "ssh",
                                       "ssh-keygen", "state-disk", "cache-disk", NULL };
  g_autofree char *json = NULL;
  g_autoptr (JsonNode) node = NULL;

  g_assert_no_error (err);
  for (const char *const *n = names; *n != NULL; n++)
    {
      gssize i = find_check (r, *n);
      if (i < 0)
        g_error ("check %s missing", *n);
      /* Anything that did not pass says how to fix it. */
      if (bgr_doctor_report_get_check_status (r, i) != BGR_DOCTOR_PASS)
        g_assert_nonnull (bgr_doctor_report_get_check_fix (r, i));
    }
  /* The kvm check tells the truth about /dev/kvm. */
  if (!g_file_test ("/dev/kvm", G_FILE_TEST_EXISTS))
    {
      gssize k = find_check (r, "kvm");
      g_assert_cmpint (bgr_doctor_report_get_check_status (r, k), ==, BGR_DOCTOR_WARN);
      g_assert_nonnull (strstr (bgr_doctor_report_get_check_message (r, k), "/dev/kvm does not exist"));
      g_assert_cmpstr (bgr_doctor_report_get_hypervisor (r), !=, "firecracker");
    }
  json = bgr_doctor_report_to_json (r);
  node = json_from_string (json, &err);
  g_assert_no_error (err);
  g_assert_cmpint (json_object_get_boolean_member (json_node_get_object (node), "ok"), ==,
                   !bgr_doctor_report_has_failures (r));
}

static void
test_broken_config (void)
{
  g_autofree char *path = write_config ("log_level = \"info\"\ncidr = 12\n");
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrDoctorReport) r = bgr_doctor_run (path, NULL, &err);
  gssize c;

  g_assert_no_error (err);
  c = find_check (r, "config");
  g_assert_cmpint (bgr_doctor_report_get_check_status (r, c), ==, BGR_DOCTOR_FAIL);
  g_assert_nonnull (strstr (bgr_doctor_report_get_check_message (r, c), ":2: key 'cidr'"));
  g_assert_true (bgr_doctor_report_has_failures (r));
  /* The other checks still ran. */
  g_assert_cmpint (find_check (r, "tun"), >, 0);
  g_unlink (path);
}

static void
test_missing_hypervisor (void)
{
  g_autofree char *path = write_config ("hypervisor = \"qemu\"\nqemu_bin = \"/nonexistent/qemu\"\n");
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrDoctorReport) r = bgr_doctor_run (path, NULL, &err);
  gssize q, h;

  g_assert_no_error (err);
  q = find_check (r, "qemu");
  h = find_check (r, "hypervisor");
  g_assert_cmpint (bgr_doctor_report_get_check_status (r, q), ==, BGR_DOCTOR_FAIL);
  g_assert_nonnull (strstr (bgr_doctor_report_get_check_message (r, q), "/nonexistent/qemu"));
  g_assert_cmpint (bgr_doctor_report_get_check_status (r, h), ==, BGR_DOCTOR_FAIL);
  g_assert_cmpstr (bgr_doctor_report_get_hypervisor (r), ==, "");
  g_assert_true (bgr_doctor_report_has_failures (r));
  g_unlink (path);
}

static void
test_qemu_choice (void)
{
  g_autofree char *qemu = g_find_program_in_path ("qemu-system-x86_64");
  g_autofree char *path = write_config ("firecracker_bin = \"/nonexistent/firecracker\"\n");
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrDoctorReport) r = NULL;
  gssize h;

  if (qemu == NULL)
    {
      g_test_skip ("qemu-system-x86_64 is not installed");
      return;
    }
  /* Without firecracker, auto picks qemu and says which acceleration. */
  r = bgr_doctor_run (path, NULL, &err);
  g_assert_no_error (err);
  h = find_check (r, "hypervisor");
  g_assert_cmpstr (bgr_doctor_report_get_hypervisor (r), ==, "qemu");
  g_assert_nonnull (strstr (bgr_doctor_report_get_check_message (r, h), "auto picks qemu"));
  g_assert_cmpint (bgr_doctor_report_get_check_status (r, find_check (r, "qemu")), ==, BGR_DOCTOR_PASS);
  g_unlink (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/doctor/all-checks", test_all_checks_present);
  g_test_add_func ("/doctor/broken-config", test_broken_config);
  g_test_add_func ("/doctor/missing-hypervisor", test_missing_hypervisor);
  g_test_add_func ("/doctor/qemu-choice", test_qemu_choice);
  return g_test_run ();
}
