/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Records written by banger 0.1 (schema 1, tests/data/state-0.1) load in
 * this release: migrated in memory, and seen through the public objects
 * (state as an enum, lists as lists, no engine internals), also after a
 * trip through the D-Bus wire form. */
#include "config.h"

#include <json-glib/json-glib.h>

#include <banger/banger.h>

#include "bgr-fs-private.h"
#include "bgr-records-private.h"
#include "store/bgr-store-private.h"

typedef struct {
  char *state;
  BgrClient *client;
} Fixture;

static void
copy_tree (const char *from, const char *to)
{
  g_autoptr (GDir) dir = g_dir_open (from, 0, NULL);
  const char *entry;

  g_assert_nonnull (dir);
  g_assert_cmpint (g_mkdir_with_parents (to, 0700), ==, 0);
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *src = g_build_filename (from, entry, NULL);
      g_autofree char *dst = g_build_filename (to, entry, NULL);
      if (g_file_test (src, G_FILE_TEST_IS_DIR))
        copy_tree (src, dst);
      else
        {
          g_autofree char *data = NULL;
          gsize len;
          g_assert_true (g_file_get_contents (src, &data, &len, NULL));
          g_assert_true (g_file_set_contents (dst, data, (gssize) len, NULL));
        }
    }
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autofree char *src = g_test_build_filename (G_TEST_DIST, "data", "state-0.1", NULL);
  g_autofree char *toml = NULL;
  g_autoptr (BgrConfig) config = NULL;
  g_autoptr (GError) err = NULL;

  f->state = g_dir_make_tmp ("banger-records-XXXXXX", &err);
  g_assert_no_error (err);
  copy_tree (src, f->state);
  toml = g_strdup_printf ("state_dir = \"%s\"\n", f->state);
  config = bgr_config_load_from_data (toml, -1, "test.toml", &err);
  g_assert_no_error (err);
  f->client = bgr_client_new_local (config, BGR_CLIENT_FLAGS_NONE, &err);
  g_assert_no_error (err);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->client);
  bgr_rm_rf (f->state, NULL);
  g_free (f->state);
}

static JsonObject *
parse_object (const char *json)
{
  g_autoptr (JsonParser) p = json_parser_new ();

  g_assert_true (json_parser_load_from_data (p, json, -1, NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (p)));
}

static void
assert_public_vm (BgrVm *vm)
{
  g_auto (GStrv) addrs = bgr_vm_dup_guest_addrs (vm);
  g_autofree char *json = bgr_vm_to_json (vm);
  g_autoptr (JsonObject) o = parse_object (json);
  JsonObject *debug;
  static const char *const internals[] = { "cmdline", "kernel_ip_arg", "tap", "run_dir", "dir",
                                           "rootfs", "kernel", "initrd", "guest_uname",
                                           "schema_version", "kind", NULL };

  g_assert_cmpstr (bgr_vm_get_name (vm), ==, "old");
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_STOPPED);
  g_assert_cmpstr (bgr_vm_get_reason (vm), ==, "stopped by the user");
  g_assert_cmpint (bgr_vm_get_vcpus (vm), ==, 2);
  g_assert_cmpuint (g_strv_length (addrs), ==, 2);
  g_assert_cmpstr (addrs[1], ==, "10.0.2.15/24");
  g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "stopped");
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_object_get_member (o, "guest_addrs")));
  for (guint i = 0; internals[i] != NULL; i++)
    if (json_object_has_member (o, internals[i]))
      g_error ("the public VM shows the internal member %s", internals[i]);
  debug = json_object_get_object_member (o, "debug");
  g_assert_nonnull (debug);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (debug, "kernel_cmdline"),
                                   "console=ttyS0"));
  g_assert_cmpint (json_object_get_int_member (debug, "boot_kernel_ms"), ==, 1480);
}

static void
test_vm_from_0_1 (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) vms = bgr_client_vm_list (f->client, NULL, &err);
  g_autoptr (GVariant) wire = NULL;
  g_autoptr (JsonObject) back = NULL;
  g_autoptr (BgrVm) again = NULL;

  g_assert_no_error (err);
  g_assert_cmpuint (vms->len, ==, 1);
  assert_public_vm (vms->pdata[0]);

  /* The D-Bus form carries the list as a list ("as") and the same fields. */
  wire = g_variant_ref_sink (bgr_vm_to_variant (vms->pdata[0]));
  g_assert_true (g_variant_is_of_type (g_variant_lookup_value (wire, "guest_addrs", NULL),
                                       G_VARIANT_TYPE_STRING_ARRAY));
  back = bgr_record_from_variant (wire, &err);
  g_assert_no_error (err);
  again = bgr_vm_new_from_json (back);
  assert_public_vm (again);
}

static void
test_store_migrates (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (BgrStore) store = NULL;
  JsonNode *addrs;

  g_clear_object (&f->client); /* releases the state lock */
  store = bgr_store_open (f->state, &err);
  g_assert_no_error (err);
  doc = bgr_store_load (store, "vm", "old", &err);
  g_assert_no_error (err);
  g_assert_cmpint (json_object_get_int_member (doc, "schema_version"), ==,
                   BGR_STORE_SCHEMA_VERSION);
  addrs = json_object_get_member (doc, "guest_addrs");
  g_assert_true (JSON_NODE_HOLDS_ARRAY (addrs));
  g_assert_cmpuint (json_array_get_length (json_node_get_array (addrs)), ==, 2);
}

static void
test_artifacts_from_0_1 (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrKernel) k = bgr_client_kernel_get (f->client, "cloud", NULL, &err);
  g_autoptr (GPtrArray) images = NULL;
  g_autoptr (BgrImage) image = NULL;

  g_assert_no_error (err);
  g_assert_cmpstr (bgr_kernel_get_version (k), ==, "6.1.0-41-cloud-amd64");
  g_assert_cmpstr (bgr_kernel_get_format (k), ==, "bzimage");
  g_autoptr (BgrImage) pulled = NULL;
  g_autofree char *json = NULL;
  g_autoptr (JsonObject) o = NULL;
  JsonNode *layers;

  images = bgr_client_image_list (f->client, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (images->len, ==, 2);
  image = bgr_client_image_get (f->client, "dev", NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (bgr_image_get_kernel_ref (image), ==, "cloud");
  g_assert_false (bgr_image_get_managed (image));
  /* Schema 1 kept a pulled image's layers as one "a,b" string. */
  pulled = bgr_client_image_get (f->client, "pulled", NULL, &err);
  g_assert_no_error (err);
  json = bgr_image_to_json (pulled);
  o = parse_object (json);
  layers = json_object_get_member (o, "oci_layers");
  g_assert_true (JSON_NODE_HOLDS_ARRAY (layers));
  g_assert_cmpuint (json_array_get_length (json_node_get_array (layers)), ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add ("/records/vm-from-0.1", Fixture, NULL, fixture_setup, test_vm_from_0_1,
              fixture_teardown);
  g_test_add ("/records/store-migrates", Fixture, NULL, fixture_setup, test_store_migrates,
              fixture_teardown);
  g_test_add ("/records/artifacts-from-0.1", Fixture, NULL, fixture_setup,
              test_artifacts_from_0_1, fixture_teardown);
  return g_test_run ();
}
