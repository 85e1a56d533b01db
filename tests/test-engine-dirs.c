/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An engine starts only on private state and cache directories: one that
 * another user could plant files in is refused, naming its config key. */
#include "config.h"

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/bgr-engine-private.h"

static BgrConfig *
config_with (const char *state, const char *cache)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *text = g_strdup_printf ("state_dir = \"%s\"\ncache_dir = \"%s\"\n", state,
                                           cache);
  BgrConfig *config = bgr_config_load_from_data (text, -1, "t.toml", &err);

  g_assert_no_error (err);
  return config;
}

static char *
dir_named (const char *name)
{
  return g_build_filename (g_get_user_state_dir (), name, NULL);
}

/* Missing directories are made 0700 and the engine starts. */
static void
test_created_private (void)
{
  g_autofree char *state = dir_named ("state");
  g_autofree char *cache = dir_named ("cache");
  g_autoptr (BgrConfig) config = config_with (state, cache);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrEngine) engine = bgr_engine_new (config, &err);
  struct stat st;

  g_assert_no_error (err);
  g_assert_nonnull (engine);
  g_assert_cmpint (g_stat (state, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
  g_assert_cmpint (g_stat (cache, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
}

static void
assert_refused (const char *state, const char *cache, const char *expected)
{
  g_autoptr (BgrConfig) config = config_with (state, cache);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrEngine) engine = bgr_engine_new (config, &err);

  g_assert_null (engine);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_CONFIG);
  if (strstr (err->message, expected) == NULL)
    g_error ("expected \"%s\" in \"%s\"", expected, err->message);
}

static void
test_unsafe_cache (void)
{
  g_autofree char *state = dir_named ("state");
  g_autofree char *cache = dir_named ("cache");
  g_autofree char *says = g_strdup_printf ("cache_dir %s is writable by group and others "
                                           "(mode 0777): use a private directory (chmod 700 "
                                           "%s) or another cache_dir", cache, cache);

  g_assert_cmpint (g_mkdir_with_parents (cache, 0700), ==, 0);
  g_assert_cmpint (chmod (cache, 0777), ==, 0);
  assert_refused (state, cache, says);
  /* 0755 is fine: only write bits for others matter. */
  g_assert_cmpint (chmod (cache, 0755), ==, 0);
  {
    g_autoptr (BgrConfig) config = config_with (state, cache);
    g_autoptr (GError) err = NULL;
    g_autoptr (BgrEngine) engine = bgr_engine_new (config, &err);
    g_assert_no_error (err);
    g_assert_nonnull (engine);
  }
}

static void
test_unsafe_state (void)
{
  g_autofree char *state = dir_named ("state");
  g_autofree char *cache = dir_named ("cache");
  g_autofree char *says = g_strdup_printf ("state_dir %s is writable by group and others "
                                           "(mode 0777)", state);

  g_assert_cmpint (g_mkdir_with_parents (state, 0700), ==, 0);
  g_assert_cmpint (chmod (state, 0777), ==, 0);
  assert_refused (state, cache, says);
}

static void
test_foreign_cache (void)
{
  g_autofree char *state = dir_named ("state");
  g_autofree char *cache = dir_named ("cache");

  if (geteuid () != 0)
    {
      g_test_skip ("needs root to chown a directory to another user");
      return;
    }
  g_assert_cmpint (g_mkdir_with_parents (cache, 0700), ==, 0);
  g_assert_cmpint (chown (cache, 65534, 65534), ==, 0);
  assert_refused (state, cache, "uid 65534");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/engine-dirs/created-private", test_created_private);
  g_test_add_func ("/engine-dirs/unsafe-cache", test_unsafe_cache);
  g_test_add_func ("/engine-dirs/unsafe-state", test_unsafe_state);
  g_test_add_func ("/engine-dirs/foreign-cache", test_foreign_cache);
  return g_test_run ();
}
