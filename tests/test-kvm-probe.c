/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The KVM probe: a test guest that must run, stopped in time when it does
 * not; its verdict cached per host boot. The boot id and the cache file
 * are test files, so nothing depends on (or is left on) the machine. */
#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "vmm/bgr-kvm-probe-private.h"

typedef struct {
  char *dir;
  char *boot_id;
  char *cache;
} Fixture;

static void
write_boot_id (Fixture *f, const char *id)
{
  g_autofree char *text = g_strdup_printf ("%s\n", id);
  g_assert_true (g_file_set_contents (f->boot_id, text, -1, NULL));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  (void) data;
  f->dir = g_dir_make_tmp ("kvm-probe-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->boot_id = g_build_filename (f->dir, "boot_id", NULL);
  f->cache = g_build_filename (f->dir, "cache", "kvm-probe.json", NULL);
  write_boot_id (f, "11111111-2222-3333-4444-555555555555");
  bgr_kvm_probe_set_test_paths (f->boot_id, f->cache);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autofree char *cache_dir = g_path_get_dirname (f->cache);
  (void) data;
  bgr_kvm_probe_set_test_paths (NULL, NULL);
  g_unlink (f->cache);
  g_rmdir (cache_dir);
  g_unlink (f->boot_id);
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->boot_id);
  g_free (f->cache);
}

/* Forget what this process could not cache, keeping the test files. */
static void
forget (Fixture *f)
{
  bgr_kvm_probe_set_test_paths (f->boot_id, f->cache);
}

/* Whether /dev/kvm opens here (else the probe never gets to a guest, nor
 * to its cache). */
static gboolean
kvm_opens (void)
{
  g_autofree char *why = NULL;
  BgrKvmVerdict v = bgr_kvm_probe_run_guest (TRUE, 1, &why);
  if (v == BGR_KVM_ABSENT || v == BGR_KVM_NO_ACCESS)
    {
      g_autofree char *msg = g_strdup_printf ("no test guest possible: %s", why);
      g_test_skip (msg);
      return FALSE;
    }
  return TRUE;
}

static JsonObject *
read_cache (Fixture *f)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_file (p, f->cache, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (p)));
  return json_object_ref (json_node_get_object (json_parser_get_root (p)));
}

static void
edit_cache (Fixture *f, const char *member, const char *value)
{
  g_autoptr (JsonObject) o = read_cache (f);
  g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *text = NULL;

  json_object_set_string_member (o, member, value);
  json_node_set_object (root, o);
  text = json_to_string (root, FALSE);
  g_assert_true (g_file_set_contents (f->cache, text, -1, NULL));
}

/* A verdict cached for this boot is used as it is: no guest runs. */
static void
test_cache_used (Fixture *f, gconstpointer data)
{
  g_autofree char *why = NULL, *why2 = NULL;
  gboolean from_cache = FALSE;
  guint runs;
  (void) data;

  if (!kvm_opens ())
    return;
  bgr_kvm_probe_record_no_guests (NULL, "recorded by the test");
  g_assert_true (g_file_test (f->cache, G_FILE_TEST_IS_REGULAR));
  forget (f);
  runs = bgr_kvm_probe_get_n_runs ();
  g_assert_cmpint (bgr_kvm_probe (NULL, &why, &from_cache), ==, BGR_KVM_NO_GUESTS);
  g_assert_cmpstr (why, ==, "recorded by the test");
  g_assert_true (from_cache);

  /* The same for the other verdict: the file is what counts. */
  edit_cache (f, "verdict", "usable");
  edit_cache (f, "message", "usable, says the test");
  forget (f);
  g_assert_cmpint (bgr_kvm_probe (NULL, &why2, &from_cache), ==, BGR_KVM_USABLE);
  g_assert_cmpstr (why2, ==, "usable, says the test");
  g_assert_true (from_cache);
  g_assert_cmpuint (bgr_kvm_probe_get_n_runs (), ==, runs);
}

/* A cache from another boot is ignored: the guest runs again and the
 * cache is rewritten for this boot. Also: the probe answers in time. */
static void
test_other_boot (Fixture *f, gconstpointer data)
{
  g_autofree char *why = NULL, *why2 = NULL;
  g_autoptr (JsonObject) o = NULL;
  gboolean from_cache = TRUE;
  guint runs;
  gint64 t0;
  BgrKvmVerdict v;
  (void) data;

  if (!kvm_opens ())
    return;
  bgr_kvm_probe_record_no_guests (NULL, "recorded in another boot");
  write_boot_id (f, "66666666-7777-8888-9999-000000000000");
  forget (f);
  runs = bgr_kvm_probe_get_n_runs ();
  t0 = g_get_monotonic_time ();
  v = bgr_kvm_probe (NULL, &why, &from_cache);
  g_test_message ("probe: %s: %s (%.2f s)", bgr_kvm_verdict_to_string (v), why,
                  (g_get_monotonic_time () - t0) / 1e6);
  /* Within its timeout, plus the grace given to kill the guest. */
  g_assert_cmpint (g_get_monotonic_time () - t0, <, (BGR_KVM_PROBE_TIMEOUT_MS + 2500) * 1000);
  g_assert_cmpuint (bgr_kvm_probe_get_n_runs (), ==, runs + 1);
  g_assert_false (from_cache);
  g_assert_true (v == BGR_KVM_USABLE || v == BGR_KVM_NO_GUESTS);
  g_assert_cmpstr (why, !=, "recorded in another boot");
  o = read_cache (f);
  g_assert_cmpstr (json_object_get_string_member (o, "boot_id"), ==,
                   "66666666-7777-8888-9999-000000000000");
  g_assert_cmpstr (json_object_get_string_member (o, "verdict"), ==, bgr_kvm_verdict_to_string (v));

  /* And the next one, in a process that knows nothing yet, reads it. */
  forget (f);
  t0 = g_get_monotonic_time ();
  g_assert_cmpint (bgr_kvm_probe (NULL, &why2, &from_cache), ==, v);
  g_assert_true (from_cache);
  g_assert_cmpstr (why2, ==, why);
  g_assert_cmpuint (bgr_kvm_probe_get_n_runs (), ==, runs + 1);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 500 * 1000);
}

/* A corrupt cache file, or one whose verdict this code does not know, is
 * ignored: the guest runs again and the file is rewritten. */
static void
test_corrupt_cache (Fixture *f, gconstpointer data)
{
  g_autofree char *cache_dir = g_path_get_dirname (f->cache);
  (void) data;

  if (!kvm_opens ())
    return;
  g_assert_cmpint (g_mkdir_with_parents (cache_dir, 0700), ==, 0);
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *why = NULL;
      g_autoptr (JsonObject) o = NULL;
      gboolean from_cache = TRUE;
      guint runs;
      BgrKvmVerdict v;

      if (i == 0)
        g_assert_true (g_file_set_contents (f->cache, "{\"format\": 1, \"boot_id\": \"1111", -1, NULL));
      else
        edit_cache (f, "verdict", "maybe");
      forget (f);
      runs = bgr_kvm_probe_get_n_runs ();
      v = bgr_kvm_probe (NULL, &why, &from_cache);
      g_assert_false (from_cache);
      g_assert_cmpuint (bgr_kvm_probe_get_n_runs (), ==, runs + 1);
      o = read_cache (f);
      g_assert_cmpstr (json_object_get_string_member (o, "verdict"), ==,
                       bgr_kvm_verdict_to_string (v));
      g_assert_cmpstr (json_object_get_string_member (o, "message"), ==, why);
    }
}

/* A guest seen hanging is remembered in this process even where the
 * cache cannot be written. */
static void
test_record_without_cache (Fixture *f, gconstpointer data)
{
  g_autofree char *why = NULL;
  gboolean from_cache = FALSE;
  guint runs;
  (void) data;

  if (!kvm_opens ())
    return;
  bgr_kvm_probe_set_test_paths (f->boot_id, "/proc/version/kvm-probe.json");
  bgr_kvm_probe_record_no_guests (NULL, "a guest hung");
  runs = bgr_kvm_probe_get_n_runs ();
  g_assert_cmpint (bgr_kvm_probe (NULL, &why, &from_cache), ==, BGR_KVM_NO_GUESTS);
  g_assert_cmpstr (why, ==, "a guest hung");
  g_assert_cmpuint (bgr_kvm_probe_get_n_runs (), ==, runs);
}

/* A guest that never ends is stopped at the deadline. */
static void
test_spinning_guest_stopped (Fixture *f, gconstpointer data)
{
  g_autofree char *why = NULL;
  gint64 t0;
  BgrKvmVerdict v;
  (void) f;
  (void) data;

  if (!kvm_opens ())
    return;
  t0 = g_get_monotonic_time ();
  v = bgr_kvm_probe_run_guest (TRUE, 500, &why);
  g_test_message ("spin: %s (%.2f s)", why, (g_get_monotonic_time () - t0) / 1e6);
  g_assert_cmpint (v, ==, BGR_KVM_NO_GUESTS);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 500 * 1000);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 3000 * 1000);
}

/* Without /dev/kvm nothing is cached (nothing was learnt). */
static void
test_absent (Fixture *f, gconstpointer data)
{
  g_autofree char *why = NULL;
  gboolean from_cache = TRUE;
  BgrKvmVerdict v = bgr_kvm_probe_run_guest (TRUE, 1, NULL);
  (void) data;

  if (v != BGR_KVM_ABSENT && v != BGR_KVM_NO_ACCESS)
    {
      g_test_skip ("/dev/kvm opens here");
      return;
    }
  g_assert_cmpint (bgr_kvm_probe (NULL, &why, &from_cache), ==, v);
  g_assert_false (from_cache);
  g_assert_false (g_file_test (f->cache, G_FILE_TEST_EXISTS));
  g_assert_nonnull (strstr (why, "/dev/kvm"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
#define ADD(path, fn) g_test_add ("/kvm-probe/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("cache-used", test_cache_used);
  ADD ("other-boot", test_other_boot);
  ADD ("corrupt-cache", test_corrupt_cache);
  ADD ("record-without-cache", test_record_without_cache);
  ADD ("spinning-guest-stopped", test_spinning_guest_stopped);
  ADD ("absent", test_absent);
  return g_test_run ();
}
