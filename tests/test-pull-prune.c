/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `image cache prune` in one `banger --local` process while `image pull`
 * runs in another, both with their own state directory and one cache
 * directory (a registry in this test on 127.0.0.1):
 *  - a pull stopped right after its layers are in the cache (the test hook
 *    BANGER_TEST_PAUSE_AT) keeps them through a prune that would remove
 *    them otherwise (no image uses them), and its image is whole;
 *  - a pull whose layer download the registry holds half way keeps its
 *    part file through a prune, and finishes;
 *  - with no pull running, prune removes the blobs no image uses, stale
 *    part files and the leases of both. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "bgr-crash-private.h"
#include "bgr-fs-private.h"
#include "bgr-test-registry.h"
#include "bgr-test-util.h"

#define DEADLINE_S 60

typedef struct {
  char *dir, *cache, *a, *b, *ref, *layer_hex, *blobs, *leases;
} Fixture;

/* banger --local --config=@config --json ARGS..., which must succeed; its
 * output, parsed. */
static JsonNode *
banger_json (const char *config, ...)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *out = NULL;
  va_list ap;
  JsonNode *node;

  va_start (ap, config);
  out = bgr_test_banger_local (config, TRUE, ap);
  va_end (ap);
  node = json_from_string (*out != '\0' ? out : "null", &err);
  g_assert_no_error (err);
  return node;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  const char *digest = strrchr (bgr_test_srv.layer_path, ':') + 1;

  f->dir = g_dir_make_tmp ("bgr-pp-XXXXXX", &err);
  g_assert_no_error (err);
  f->cache = g_build_filename (f->dir, "cache", NULL);
  f->a = bgr_test_write_engine_config (f->dir, "a", f->cache);
  f->b = bgr_test_write_engine_config (f->dir, "b", f->cache);
  f->ref = bgr_test_registry_ref ();
  f->layer_hex = g_strdup (digest);
  f->blobs = g_build_filename (f->cache, "oci", "blobs", "sha256", NULL);
  f->leases = g_build_filename (f->cache, "oci", "leases", NULL);
  json_node_unref (banger_json (f->a, "kernel", "import", "--vmlinux", bgr_test_kernel_file, "k",
                                NULL));
  json_node_unref (banger_json (f->b, "kernel", "import", "--vmlinux", bgr_test_kernel_file, "k",
                                NULL));
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  bgr_rm_rf (f->dir, NULL);
  g_free (f->dir);
  g_free (f->cache);
  g_free (f->a);
  g_free (f->b);
  g_free (f->ref);
  g_free (f->layer_hex);
  g_free (f->blobs);
  g_free (f->leases);
}

/* `image pull --name app` of the test image into @config's state, in the
 * background; with @pause_file, it stops after fetching its layers until
 * the test removes that file. */
static GSubprocess *
spawn_pull (Fixture *f, const char *config, const char *pause_file)
{
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                                                 | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GError) err = NULL;
  g_autofree char *opt = g_strdup_printf ("--config=%s", config);
  GSubprocess *p;

  if (pause_file != NULL)
    {
      g_subprocess_launcher_setenv (l, BGR_PAUSE_ENV, "image-pull.layers-fetched", TRUE);
      g_subprocess_launcher_setenv (l, BGR_PAUSE_FILE_ENV, pause_file, TRUE);
    }
  p = g_subprocess_launcher_spawn (l, &err, bgr_test_program ("BANGER_CLI"), "--local", opt, "image",
                                   "pull", "--name", "app", f->ref, NULL);
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

/* Waits until @path exists with at least @min_size bytes; fails when @p
 * ends first or the deadline passes. */
static void
wait_for_file (const char *path, goffset min_size, GSubprocess *p)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_S * G_USEC_PER_SEC;
  GStatBuf st;

  while (g_stat (path, &st) != 0 || st.st_size < min_size)
    {
      if (g_subprocess_get_identifier (p) == NULL)
        g_error ("the pull ended before %s appeared", path);
      if (g_get_monotonic_time () > deadline)
        g_error ("%s did not appear within %d s", path, DEADLINE_S);
      g_usleep (10 * 1000);
    }
}

/* The image "app" of @config: managed, its rootfs a clean ext4 holding
 * the layer's files. */
static void
assert_image_whole (const char *config)
{
  g_autoptr (JsonNode) node = banger_json (config, "image", "show", "app", NULL);
  JsonObject *img = json_node_get_object (node);
  const char *rootfs = json_object_get_string_member (img, "rootfs");
  const char *fsck[] = { bgr_test_tool ("e2fsck"), "-fn", rootfs, NULL };
  const char *debugfs[] = { bgr_test_tool ("debugfs"), "-R", "cat /hello", rootfs, NULL };
  g_autofree char *out = NULL;
  g_autoptr (GError) err = NULL;
  gint status = -1;

  g_assert_true (json_object_get_boolean_member (img, "managed"));
  bgr_test_run_ok (fsck);
  g_spawn_sync (NULL, (char **) debugfs, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                &status, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (out, ==, "hello from the layer\n");
}

/* How many entries `image cache list` has of @category; *in_use counts
 * those in use. */
static guint
count_cached (const char *config, const char *category, guint *in_use)
{
  g_autoptr (JsonNode) node = banger_json (config, "image", "cache", "list", NULL);
  JsonArray *entries = json_node_get_array (node);
  guint n = 0;

  *in_use = 0;
  for (guint i = 0; i < json_array_get_length (entries); i++)
    {
      JsonObject *e = json_array_get_object_element (entries, i);
      if (!g_str_equal (json_object_get_string_member (e, "category"), category))
        continue;
      n++;
      *in_use += json_object_get_boolean_member (e, "in_use") ? 1 : 0;
    }
  return n;
}

static gint64
prune (const char *config)
{
  g_autoptr (JsonNode) node = banger_json (config, "image", "cache", "prune", NULL);
  return json_object_get_int_member (json_node_get_object (node), "removed");
}

static guint
files_in (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  while (d != NULL && g_dir_read_name (d) != NULL)
    n++;
  return n;
}

#ifdef BANGER_TEST_HOOKS /* the pause hook */
/* A prune while a pull has its (cached) layers but no image yet. */
static void
test_prune_during_pull (Fixture *f, gconstpointer data)
{
  g_autofree char *pause = g_build_filename (f->dir, "pause", NULL);
  g_autofree char *layer = g_build_filename (f->blobs, f->layer_hex, NULL);
  g_autoptr (GSubprocess) p = NULL;
  guint in_use = 0;

  /* The blobs cached, and no image using them. */
  p = spawn_pull (f, f->a, NULL);
  assert_pull_succeeded (p);
  g_clear_object (&p);
  json_node_unref (banger_json (f->a, "image", "delete", "app", NULL));

  p = spawn_pull (f, f->b, pause);
  wait_for_file (pause, 0, p);
  /* Both blobs (layer and config) are leased by the pull in b. */
  g_assert_cmpuint (count_cached (f->a, "blob", &in_use), ==, 2);
  g_assert_cmpuint (in_use, ==, 2);
  g_assert_cmpint (prune (f->a), ==, 0);
  g_assert_true (g_file_test (layer, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (g_unlink (pause), ==, 0);
  assert_pull_succeeded (p);
  assert_image_whole (f->b);

  /* No pull now: b's image goes, and prune removes both blobs and their
   * leases. */
  json_node_unref (banger_json (f->b, "image", "delete", "app", NULL));
  g_assert_cmpuint (count_cached (f->a, "blob", &in_use), ==, 2);
  g_assert_cmpuint (in_use, ==, 0);
  g_assert_cmpint (prune (f->a), ==, 2);
  g_assert_cmpuint (files_in (f->blobs), ==, 0);
  g_assert_cmpuint (files_in (f->leases), ==, 0);
}
#endif

/* A prune while a pull is downloading its layer (the registry holds the
 * download half way), and one after a pull died leaving a part file. */
static void
test_prune_during_download (Fixture *f, gconstpointer data)
{
  g_autofree char *part = g_strdup_printf ("%s/%s.part", f->blobs, f->layer_hex);
  g_autofree char *stale = g_strdup_printf ("%s/%064d.part", f->blobs, 0);
  g_autoptr (GSubprocess) p = NULL;
  guint in_use = 0;

  bgr_test_registry_hold_layer (G_MAXUINT);
  p = spawn_pull (f, f->b, NULL);
  wait_for_file (part, 1, p);
  g_assert_cmpuint (count_cached (f->a, "partial", &in_use), ==, 1);
  g_assert_cmpuint (in_use, ==, 1);
  /* The config blob is the pull's too. */
  g_assert_cmpint (prune (f->a), ==, 0);
  g_assert_true (g_file_test (part, G_FILE_TEST_IS_REGULAR));
  bgr_test_registry_release ();
  assert_pull_succeeded (p);
  assert_image_whole (f->b);
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));

  /* What a killed pull left: no one holds it, prune removes it, and keeps
   * the blobs of b's image. */
  g_assert_true (g_file_set_contents (stale, "partial", -1, NULL));
  g_assert_cmpuint (count_cached (f->b, "partial", &in_use), ==, 1);
  g_assert_cmpuint (in_use, ==, 0);
  g_assert_cmpint (prune (f->b), ==, 1);
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (files_in (f->blobs), ==, 2);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *work = NULL;
  int rc;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  bgr_test_export_dirs ();
  work = g_dir_make_tmp ("bgr-pull-prune-XXXXXX", &err);
  g_assert_no_error (err);
  bgr_test_make_files (work);
  bgr_test_server_start ();
#ifdef BANGER_TEST_HOOKS
  /* Needs the pause hook. */
  g_test_add ("/pull-prune/during-pull", Fixture, NULL, fixture_set_up, test_prune_during_pull,
              fixture_tear_down);
#endif
  g_test_add ("/pull-prune/during-download", Fixture, NULL, fixture_set_up,
              test_prune_during_download, fixture_tear_down);
  rc = g_test_run ();
  bgr_rm_rf (work, NULL);
  return rc;
}
