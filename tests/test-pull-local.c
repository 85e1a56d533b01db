/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Two `banger --local` processes, each with its own state directory but
 * one cache directory, pull the same image from a cold cache at once
 * (a registry in this test on 127.0.0.1 holds the layer's download half
 * way until both have asked for the manifest, so that they overlap): both
 * succeed, the layer is downloaded once, and the cache holds it whole.
 * And a layer whose bytes do not match its digest fails the pull, which
 * replays it while it downloads, leaving nothing. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "bgr-fs-private.h"
#include "bgr-test-registry.h"
#include "bgr-test-util.h"

/* banger --local --config=@config ARGS..., which must succeed. */
static char *
banger_ok (const char *config, ...)
{
  va_list ap;
  char *out;

  va_start (ap, config);
  out = bgr_test_banger_local (config, FALSE, ap);
  va_end (ap);
  return out;
}

static GSubprocess *
spawn_pull (const char *config, const char *ref)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *opt = g_strdup_printf ("--config=%s", config);
  GSubprocess *p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                     &err, bgr_test_program ("BANGER_CLI"), "--local", opt, "image",
                                     "pull", "--name", "app", ref, NULL);
  g_assert_no_error (err);
  return p;
}

static void
assert_pull_succeeded (GSubprocess *p)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *err_text = NULL;

  g_subprocess_communicate_utf8 (p, NULL, NULL, NULL, &err_text, &err);
  g_assert_no_error (err);
  if (!g_subprocess_get_if_exited (p) || g_subprocess_get_exit_status (p) != 0)
    g_error ("banger image pull failed: %s", err_text);
}

/* The image "app" of @config is managed, from @ref. */
static void
assert_has_image (const char *config, const char *ref)
{
  g_autofree char *out = banger_ok (config, "--json", "image", "show", "app", NULL);
  g_autoptr (JsonNode) node = json_from_string (out, NULL);
  JsonObject *img;

  g_assert_nonnull (node);
  img = json_node_get_object (node);
  g_assert_true (json_object_get_boolean_member (img, "managed"));
  g_assert_cmpstr (json_object_get_string_member (img, "oci_reference"), ==, ref);
  g_assert_true (g_file_test (json_object_get_string_member (img, "rootfs"), G_FILE_TEST_IS_REGULAR));
}

static void
test_two_local_pulls_one_cache (void)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *dir = g_dir_make_tmp ("bgr-pl-XXXXXX", &err);
  g_autofree char *cache = g_build_filename (dir, "cache", NULL);
  g_autofree char *a = bgr_test_write_engine_config (dir, "a", cache);
  g_autofree char *b = bgr_test_write_engine_config (dir, "b", cache);
  g_autofree char *ref = bgr_test_registry_ref ();
  g_autofree char *list = NULL;
  g_autoptr (GSubprocess) pa = NULL, pb = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonArray *entries;
  guint blobs = 0;

  g_assert_no_error (err);
  g_free (banger_ok (a, "kernel", "import", "--vmlinux", bgr_test_kernel_file, "k", NULL));
  g_free (banger_ok (b, "kernel", "import", "--vmlinux", bgr_test_kernel_file, "k", NULL));
  bgr_test_registry_hold_layer (2);
  pa = spawn_pull (a, ref);
  pb = spawn_pull (b, ref);
  assert_pull_succeeded (pa);
  assert_pull_succeeded (pb);
  assert_has_image (a, ref);
  assert_has_image (b, ref);
  /* One download of the layer, shared. */
  g_assert_cmpuint (bgr_test_registry_layer_requests (), ==, 1);
  /* The cache holds the layer and the config, whole, used by "app". */
  list = banger_ok (a, "--json", "image", "cache", "list", NULL);
  node = json_from_string (list, &err);
  g_assert_no_error (err);
  entries = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (entries); i++)
    {
      JsonObject *e = json_array_get_object_element (entries, i);
      const char *category = json_object_get_string_member (e, "category");
      g_assert_cmpstr (category, !=, "partial");
      if (g_str_equal (category, "blob"))
        {
          blobs++;
          g_assert_cmpuint (json_array_get_length (json_object_get_array_member (e, "images")), ==, 1);
        }
    }
  g_assert_cmpuint (blobs, ==, 2);
  bgr_rm_rf (dir, NULL);
}

/* test/bad:latest: the manifest and config of test/app, but the registry
 * sends other bytes (as many) for the layer. */
static void
serve_tampered (void)
{
  const char *digest = strrchr (bgr_test_srv.layer_path, '/') + 1;
  GBytes *manifest = g_hash_table_lookup (bgr_test_srv.served, "/v2/test/app/manifests/latest");
  GBytes *layer = g_hash_table_lookup (bgr_test_srv.served, bgr_test_srv.layer_path);
  g_autofree guint8 *bad = g_memdup2 (g_bytes_get_data (layer, NULL), g_bytes_get_size (layer));
  g_autoptr (GBytes) bad_bytes = NULL;
  g_autofree char *layer_path = g_strconcat ("/v2/test/bad/blobs/", digest, NULL);
  GHashTableIter it;
  gpointer key, value;

  /* The last byte of the file data: every tar entry still parses. */
  bad[g_bytes_get_size (layer) - 1024 - 1] ^= 0x55;
  bad[g_bytes_get_size (layer) / 2] ^= 0x55;
  bad_bytes = g_bytes_new (bad, g_bytes_get_size (layer));
  bgr_test_serve ("/v2/test/bad/manifests/latest", manifest);
  bgr_test_serve (layer_path, bad_bytes);
  g_hash_table_iter_init (&it, bgr_test_srv.served);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (g_str_has_prefix (key, "/v2/test/app/blobs/") && !g_str_equal (key, bgr_test_srv.layer_path))
      {
        g_autofree char *config = g_strconcat ("/v2/test/bad/blobs/", (char *) key + strlen ("/v2/test/app/blobs/"), NULL);
        bgr_test_serve (config, value);
        break;
      }
}

/* A layer whose bytes are not what its digest says: the pull (which
 * replays the layer while it downloads) fails naming the digest, and
 * leaves no image, no staging directory and nothing of the layer in the
 * cache. */
static void
test_tampered_layer (void)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *dir = g_dir_make_tmp ("bgr-pl-XXXXXX", &err);
  g_autofree char *cache = g_build_filename (dir, "cache", NULL);
  g_autofree char *a = bgr_test_write_engine_config (dir, "a", cache);
  g_autofree char *ref = g_strdup_printf ("127.0.0.1:%u/test/bad:latest", bgr_test_srv.port);
  g_autofree char *images = g_build_filename (dir, "a", "images", NULL);
  g_autofree char *blob = g_strdup_printf ("%s/oci/blobs/sha256/%s", cache,
                                           strrchr (bgr_test_srv.layer_path, ':') + 1);
  g_autofree char *part = g_strconcat (blob, ".part", NULL);
  g_autofree char *list = NULL;
  g_autoptr (GSubprocess) p = NULL;
  g_autofree char *err_text = NULL;
  g_autoptr (GDir) d = NULL;

  g_assert_no_error (err);
  g_free (banger_ok (a, "kernel", "import", "--vmlinux", bgr_test_kernel_file, "k", NULL));
  p = spawn_pull (a, ref);
  g_subprocess_communicate_utf8 (p, NULL, NULL, NULL, &err_text, &err);
  g_assert_no_error (err);
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), !=, 0);
  g_test_message ("%s", err_text);
  g_assert_nonnull (strstr (err_text, "sha256 mismatch"));
  list = banger_ok (a, "image", "list", NULL);
  g_assert_null (strstr (list, "app"));
  d = g_dir_open (images, 0, NULL);
  g_assert_true (d == NULL || g_dir_read_name (d) == NULL);
  g_assert_false (g_file_test (blob, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
  bgr_rm_rf (dir, NULL);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *work = NULL;
  int rc;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  bgr_test_export_dirs ();
  work = g_dir_make_tmp ("bgr-pull-local-XXXXXX", &err);
  g_assert_no_error (err);
  bgr_test_make_files (work);
  serve_tampered ();
  bgr_test_server_start ();
  g_test_add_func ("/pull-local/two-processes-one-cache", test_two_local_pulls_one_cache);
  g_test_add_func ("/pull-local/tampered-layer", test_tampered_layer);
  rc = g_test_run ();
  bgr_rm_rf (work, NULL);
  return rc;
}
