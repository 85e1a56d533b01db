/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `banger --local image pull` of a four-layer image whose layers each
 * write /order ("layer N") and a file of their own, from a registry in
 * this test on 127.0.0.1 that holds every layer download until the first
 * three are in flight at once (a pull fetching one layer at a time would
 * never get there), then lets them finish in reverse order (layer 3 first)
 * and the fourth after them (a pull fetching four at once would most often
 * have had four in flight): the pull succeeds, at most three were in
 * flight, /order is "layer 4" and
 * every layer's own file is there, so the layers were replayed in order
 * whatever order their downloads finished in. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "bgr-fs-private.h"
#include "bgr-test-registry.h"
#include "bgr-test-util.h"

#define LAYERS 4
#define DEADLINE_S 60

static char *layer_paths[LAYERS];
static SoupServerMessage *held[LAYERS]; /* in the server thread only */
static guint in_flight, most_in_flight; /* in the server thread only */

static GBytes *
make_layer (const char *work, guint n)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *dir = g_strdup_printf ("%s/l%u", work, n);
  g_autofree char *tar = g_strdup_printf ("%s/l%u.tar", work, n);
  g_autofree char *own = g_strdup_printf ("own-%u", n);
  g_autofree char *order = g_build_filename (dir, "order", NULL);
  g_autofree char *own_path = g_build_filename (dir, own, NULL);
  g_autofree char *text = g_strdup_printf ("layer %u\n", n);
  const char *argv[] = { "tar", "--format=ustar", "-C", dir, "-cf", tar, "order", own, NULL };
  char *contents = NULL;
  gsize len = 0;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (order, text, -1, NULL));
  g_assert_true (g_file_set_contents (own_path, text, -1, NULL));
  bgr_test_run_ok (argv);
  g_file_get_contents (tar, &contents, &len, &err);
  g_assert_no_error (err);
  return g_bytes_new_take (contents, len);
}

static void
send_held (guint i)
{
  GBytes *body = g_hash_table_lookup (bgr_test_srv.served, layer_paths[i]);

  soup_server_message_set_status (held[i], 200, NULL);
  soup_message_body_append_bytes (soup_server_message_get_response_body (held[i]), body);
  soup_message_body_complete (soup_server_message_get_response_body (held[i]));
  soup_server_message_unpause (held[i]);
  g_clear_object (&held[i]);
  in_flight--;
}

/* A pull that never has three layers in flight gets them anyway after
 * the deadline (and fails the check at the end) rather than hanging. */
static gboolean
release_all (gpointer data)
{
  for (guint j = 0; j < LAYERS; j++)
    if (held[j] != NULL)
      send_held (j);
  return G_SOURCE_REMOVE;
}

/* Layer downloads wait until the first three are asked for, then go in
 * reverse; the fourth goes once they went. */
static gboolean
hold_layers (SoupServerMessage *msg, const char *path)
{
  static gboolean deadline_set, released;

  for (guint i = 0; i < LAYERS; i++)
    {
      if (g_strcmp0 (path, layer_paths[i]) != 0)
        continue;
      if (!deadline_set)
        {
          GSource *s = g_timeout_source_new_seconds (DEADLINE_S);
          g_source_set_callback (s, release_all, NULL, NULL);
          g_source_attach (s, bgr_test_srv.ctx);
          g_source_unref (s);
          deadline_set = TRUE;
        }
      held[i] = g_object_ref (msg);
      soup_server_message_pause (msg);
      in_flight++;
      most_in_flight = MAX (most_in_flight, in_flight);
      if (!released && held[0] != NULL && held[1] != NULL && held[2] != NULL)
        {
          released = TRUE;
          for (guint j = 3; j-- > 0;)
            send_held (j);
        }
      /* The fourth waits for the first three: a pull fetching four at
       * once would have had four in flight. */
      if (released && held[LAYERS - 1] != NULL)
        send_held (LAYERS - 1);
      return TRUE;
    }
  return FALSE;
}

static void
serve_image (const char *work)
{
  g_autoptr (GString) layers = g_string_new (NULL);
  g_autoptr (GString) diff_ids = g_string_new (NULL);
  g_autofree char *config_text = NULL, *manifest_text = NULL, *config_digest = NULL;
  g_autofree char *config_path = NULL;
  g_autoptr (GBytes) config = NULL, manifest = NULL;

  for (guint i = 0; i < LAYERS; i++)
    {
      g_autoptr (GBytes) layer = make_layer (work, i + 1);
      g_autofree char *digest = bgr_test_digest_of (layer, "sha256:");

      g_string_append_printf (layers, "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                              "\"digest\":\"%s\",\"size\":%zu}", i > 0 ? "," : "", digest,
                              g_bytes_get_size (layer));
      g_string_append_printf (diff_ids, "%s\"%s\"", i > 0 ? "," : "", digest);
      layer_paths[i] = g_strconcat ("/v2/test/multi/blobs/", digest, NULL);
      bgr_test_serve (layer_paths[i], layer);
    }
  config_text = g_strdup_printf ("{\"architecture\":\"amd64\",\"os\":\"linux\","
                                 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s]}}",
                                 diff_ids->str);
  config = g_bytes_new (config_text, strlen (config_text));
  config_digest = bgr_test_digest_of (config, "sha256:");
  config_path = g_strconcat ("/v2/test/multi/blobs/", config_digest, NULL);
  bgr_test_serve (config_path, config);
  manifest_text = g_strdup_printf (
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
    "\"size\":%zu},\"layers\":[%s]}", config_digest, strlen (config_text), layers->str);
  manifest = g_bytes_new (manifest_text, strlen (manifest_text));
  bgr_test_serve ("/v2/test/multi/manifests/latest", manifest);
}

static char *
banger_ok (const char *config, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) err = NULL;
  g_autofree char *err_text = NULL;
  char *out = NULL;
  gint status = -1;

  g_ptr_array_add (argv, g_strdup (bgr_test_program ("BANGER_CLI")));
  g_ptr_array_add (argv, g_strdup ("--local"));
  g_ptr_array_add (argv, g_strdup_printf ("--config=%s", config));
  for (const char *const *a = args; *a != NULL; a++)
    g_ptr_array_add (argv, g_strdup (*a));
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err_text,
                &status, &err);
  g_assert_no_error (err);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("banger %s failed (%d): %s", args[0], status, err_text);
  return out;
}

static char *
debugfs_cat (const char *img, const char *path)
{
  g_autofree char *cmd = g_strdup_printf ("cat %s", path);
  const char *argv[] = { bgr_test_tool ("debugfs"), "-R", cmd, img, NULL };
  g_autoptr (GError) err = NULL;
  char *out = NULL;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                NULL, &err);
  g_assert_no_error (err);
  return out;
}

static void
test_layers_at_once_replayed_in_order (gconstpointer ref)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *dir = g_dir_make_tmp ("bgr-pp-XXXXXX", &err);
  g_autofree char *config = g_build_filename (dir, "b.toml", NULL);
  g_autofree char *text = g_strdup_printf ("state_dir = \"%s/state\"\ncache_dir = \"%s/cache\"\n",
                                           dir, dir);
  g_autofree char *out = NULL, *order = NULL;
  g_autoptr (JsonNode) node = NULL;
  const char *rootfs;

  g_assert_no_error (err);
  g_assert_true (g_file_set_contents (config, text, -1, NULL));
  g_free (banger_ok (config, (const char *const[]){ "kernel", "import", "--vmlinux",
                                                    bgr_test_kernel_file, "k", NULL }));
  out = banger_ok (config, (const char *const[]){ "--json", "image", "pull", "--name", "multi",
                                                  ref, NULL });
  node = json_from_string (out, &err);
  g_assert_no_error (err);
  rootfs = json_object_get_string_member (json_node_get_object (node), "rootfs");
  {
    const char *fsck[] = { bgr_test_tool ("e2fsck"), "-fn", rootfs, NULL };
    bgr_test_run_ok (fsck);
  }
  order = debugfs_cat (rootfs, "/order");
  g_assert_cmpstr (order, ==, "layer 4\n");
  for (guint i = 1; i <= LAYERS; i++)
    {
      g_autofree char *path = g_strdup_printf ("/own-%u", i);
      g_autofree char *want = g_strdup_printf ("layer %u\n", i);
      g_autofree char *got = debugfs_cat (rootfs, path);
      g_assert_cmpstr (got, ==, want);
    }
  bgr_rm_rf (dir, NULL);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *work = NULL, *ref = NULL;
  int rc;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  bgr_test_export_dirs ();
  work = g_dir_make_tmp ("bgr-pull-parallel-XXXXXX", &err);
  g_assert_no_error (err);
  bgr_test_make_files (work);
  serve_image (work);
  bgr_test_hook = hold_layers;
  bgr_test_server_start ();
  ref = g_strdup_printf ("127.0.0.1:%u/test/multi:latest", bgr_test_srv.port);
  g_test_add_data_func ("/pull-parallel/layers-at-once-replayed-in-order", ref,
                        test_layers_at_once_replayed_in_order);
  rc = g_test_run ();
  /* Three layers were downloading at once, never more. */
  g_assert_cmpuint (most_in_flight, ==, 3);
  bgr_rm_rf (work, NULL);
  return rc;
}
