/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <banger/banger.h>

#include "bgr-doctor-private.h"
#include "vmm/bgr-kvm-probe-private.h"

/* The KVM probe's cache for this test program (the real boot id): the
 * test guest runs once, not once per test. */
static char *probe_dir, *probe_cache;

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
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "accel"), ==,
                   bgr_doctor_report_get_accel (r));
}

/* The kvm check says what the probe finds (a test guest run under KVM),
 * not merely whether /dev/kvm opens: never PASS where guests do not run. */
static void
test_kvm_truth (void)
{
  g_autofree char *qemu = g_find_program_in_path ("qemu-system-x86_64");
  g_autofree char *path = write_config ("firecracker_bin = \"/nonexistent/firecracker\"\n");
  g_autofree char *why = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrDoctorReport) r = NULL;
  BgrKvmVerdict v = bgr_kvm_probe (NULL, &why, NULL);
  gssize k;

  g_test_message ("probe: %s: %s", bgr_kvm_verdict_to_string (v), why);
  r = bgr_doctor_run (path, NULL, &err);
  g_assert_no_error (err);
  k = find_check (r, "kvm");
  g_assert_cmpint (bgr_doctor_report_get_check_status (r, k), ==,
                   v == BGR_KVM_USABLE ? BGR_DOCTOR_PASS : BGR_DOCTOR_WARN);
  g_assert_nonnull (strstr (bgr_doctor_report_get_check_message (r, k), why));
  if (v == BGR_KVM_NO_GUESTS)
    {
      g_assert_nonnull (strstr (bgr_doctor_report_get_check_message (r, k),
                                "guests do not run under it"));
      g_assert_nonnull (strstr (bgr_doctor_report_get_check_message (r, k), "TCG"));
    }
  if (qemu != NULL)
    {
      g_assert_cmpstr (bgr_doctor_report_get_hypervisor (r), ==, "qemu");
      g_assert_cmpstr (bgr_doctor_report_get_accel (r), ==, v == BGR_KVM_USABLE ? "kvm" : "tcg");
    }
  g_unlink (path);
}

static void
set_cached_verdict (const char *cache, BgrKvmVerdict v, const char *why)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) err = NULL;
  g_autofree char *text = NULL;
  JsonObject *o;

  /* Written by the probe itself, so that it matches this boot and host. */
  bgr_kvm_probe_record_no_guests (NULL, why);
  json_parser_load_from_file (p, cache, &err);
  g_assert_no_error (err);
  o = json_node_get_object (json_parser_get_root (p));
  json_object_set_string_member (o, "verdict", bgr_kvm_verdict_to_string (v));
  text = json_to_string (json_parser_get_root (p), FALSE);
  g_assert_true (g_file_set_contents (cache, text, -1, NULL));
}

/* What doctor makes of each verdict, whatever this host's own is (where
 * /dev/kvm opens: the verdict comes from a cache the test writes). */
static void
test_kvm_verdicts (void)
{
  g_autofree char *qemu = g_find_program_in_path ("qemu-system-x86_64");
  g_autofree char *dir = g_dir_make_tmp ("doctor-kvm-XXXXXX", NULL);
  g_autofree char *cache = g_build_filename (dir, "kvm-probe.json", NULL);
  g_autofree char *auto_cfg = write_config ("firecracker_bin = \"/nonexistent/firecracker\"\n");
  g_autofree char *kvm_cfg = NULL;
  BgrKvmVerdict v = bgr_kvm_probe_run_guest (TRUE, 1, NULL);

  if (v == BGR_KVM_ABSENT || v == BGR_KVM_NO_ACCESS)
    {
      g_test_skip ("/dev/kvm does not open here");
      return;
    }
  if (qemu == NULL)
    {
      g_test_skip ("qemu-system-x86_64 is not installed");
      return;
    }
  bgr_kvm_probe_set_test_paths (NULL, cache);

  /* KVM present, guests do not run: WARN, VMs use TCG, and how to re-probe. */
  set_cached_verdict (cache, BGR_KVM_NO_GUESTS, "the test says guests hang");
  {
    g_autoptr (GError) err = NULL;
    g_autoptr (BgrDoctorReport) r = bgr_doctor_run (auto_cfg, NULL, &err);
    g_autofree char *json = NULL;
    g_autoptr (JsonNode) node = NULL;
    gssize k, h;

    g_assert_no_error (err);
    k = find_check (r, "kvm");
    h = find_check (r, "hypervisor");
    g_assert_cmpint (bgr_doctor_report_get_check_status (r, k), ==, BGR_DOCTOR_WARN);
    g_assert_nonnull (strstr (bgr_doctor_report_get_check_message (r, k),
                              "/dev/kvm is present, but guests do not run under it: the test "
                              "says guests hang (found earlier this boot)"));
    g_assert_nonnull (strstr (bgr_doctor_report_get_check_fix (r, k), cache));
    g_assert_cmpint (bgr_doctor_report_get_check_status (r, h), ==, BGR_DOCTOR_WARN);
    g_assert_nonnull (strstr (bgr_doctor_report_get_check_message (r, h), "auto picks qemu with TCG"));
    g_assert_cmpstr (bgr_doctor_report_get_hypervisor (r), ==, "qemu");
    g_assert_cmpstr (bgr_doctor_report_get_accel (r), ==, "tcg");
    json = bgr_doctor_report_to_json (r);
    node = json_from_string (json, &err);
    g_assert_no_error (err);
    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "accel"), ==, "tcg");
  }
  /* Asked for by name, KVM that does not run guests is a failure. */
  kvm_cfg = write_config ("firecracker_bin = \"/nonexistent/firecracker\"\nqemu_accel = \"kvm\"\n");
  {
    g_autoptr (GError) err = NULL;
    g_autoptr (BgrDoctorReport) r = bgr_doctor_run (kvm_cfg, NULL, &err);
    gssize h;

    g_assert_no_error (err);
    h = find_check (r, "hypervisor");
    g_assert_cmpint (bgr_doctor_report_get_check_status (r, h), ==, BGR_DOCTOR_FAIL);
    g_assert_nonnull (strstr (bgr_doctor_report_get_check_message (r, h), "VMs would hang"));
    g_assert_cmpstr (bgr_doctor_report_get_accel (r), ==, "kvm");
  }
  /* KVM that runs guests: PASS, and auto uses it. */
  set_cached_verdict (cache, BGR_KVM_USABLE, "the test says guests run");
  {
    g_autoptr (GError) err = NULL;
    g_autoptr (BgrDoctorReport) r = bgr_doctor_run (auto_cfg, NULL, &err);
    gssize k;

    g_assert_no_error (err);
    k = find_check (r, "kvm");
    g_assert_cmpint (bgr_doctor_report_get_check_status (r, k), ==, BGR_DOCTOR_PASS);
    g_assert_nonnull (strstr (bgr_doctor_report_get_check_message (r, k), "the test says guests run"));
    g_assert_cmpstr (bgr_doctor_report_get_accel (r), ==, "kvm");
    g_assert_cmpint (bgr_doctor_report_get_check_status (r, find_check (r, "hypervisor")), ==,
                     BGR_DOCTOR_PASS);
  }
  bgr_kvm_probe_set_test_paths (NULL, probe_cache);
  g_unlink (cache);
  g_rmdir (dir);
  g_unlink (auto_cfg);
  g_unlink (kvm_cfg);
}

/* The D-Bus form carries the accelerator too. */
static void
test_variant_round_trip (void)
{
  g_autoptr (BgrDoctorReport) r = bgr_doctor_report_new ();
  g_autoptr (BgrDoctorReport) back = NULL;
  g_autoptr (GVariant) v = NULL;
  g_autoptr (GError) err = NULL;

  bgr_doctor_report_set_hypervisor (r, "qemu");
  bgr_doctor_report_set_accel (r, "tcg");
  bgr_doctor_report_add (r, "kvm", BGR_DOCTOR_WARN, "guests do not run", "use TCG");
  v = g_variant_ref_sink (bgr_doctor_report_to_variant (r));
  back = bgr_doctor_report_new_from_variant (v, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (bgr_doctor_report_get_hypervisor (back), ==, "qemu");
  g_assert_cmpstr (bgr_doctor_report_get_accel (back), ==, "tcg");
  g_assert_cmpuint (bgr_doctor_report_get_n_checks (back), ==, 1);
  g_assert_cmpstr (bgr_doctor_report_get_check_fix (back, 0), ==, "use TCG");
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
  int status;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  probe_dir = g_dir_make_tmp ("doctor-probe-XXXXXX", NULL);
  probe_cache = g_build_filename (probe_dir, "kvm-probe.json", NULL);
  bgr_kvm_probe_set_test_paths (NULL, probe_cache);
  g_test_add_func ("/doctor/all-checks", test_all_checks_present);
  g_test_add_func ("/doctor/kvm-truth", test_kvm_truth);
  g_test_add_func ("/doctor/kvm-verdicts", test_kvm_verdicts);
  g_test_add_func ("/doctor/variant-round-trip", test_variant_round_trip);
  g_test_add_func ("/doctor/broken-config", test_broken_config);
  g_test_add_func ("/doctor/missing-hypervisor", test_missing_hypervisor);
  g_test_add_func ("/doctor/qemu-choice", test_qemu_choice);
  status = g_test_run ();
  g_unlink (probe_cache);
  g_rmdir (probe_dir);
  g_free (probe_cache);
  g_free (probe_dir);
  return status;
}
