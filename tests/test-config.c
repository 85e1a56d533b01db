/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sys/stat.h>

#include <banger/banger.h>

static void
test_defaults (void)
{
  g_autoptr (BgrConfig) c = bgr_config_new_default ();
  g_auto (GStrv) keys = bgr_config_dup_keys ();
  g_autofree char *state = g_build_filename (g_get_user_state_dir (), "banger", NULL);
  static const char *const required[] = {
    "log_level", "web_listen_addr", "firecracker_bin", "ssh_key_path", "default_image_name",
    "auto_stop_stale_after", "stats_poll_interval", "metrics_poll_interval", "bridge_name",
    "bridge_ip", "cidr", "tap_pool_size", "default_dns", "vm_to_vm", "sync_auth_files", "hypervisor", "qemu_bin", "qemu_accel",
    "state_dir", "cache_dir", "kernel_catalog_url", "memory_reclaim", NULL
  };

  for (const char *const *k = required; *k != NULL; k++)
    {
      g_assert_true (g_strv_contains ((const char *const *) keys, *k));
      g_assert_cmpstr (bgr_config_get_source (c, *k), ==, "default");
    }
  g_assert_cmpuint (g_strv_length (keys), ==, g_strv_length ((char **) required));
  g_assert_cmpstr (bgr_config_get_string (c, "hypervisor"), ==, "auto");
  g_assert_cmpstr (bgr_config_get_string (c, "memory_reclaim"), ==, "true");
  g_assert_cmpstr (bgr_config_get_string (c, "qemu_accel"), ==, "auto");
  g_assert_cmpstr (bgr_config_get_string (c, "state_dir"), ==, state);
  g_assert_cmpint (bgr_config_get_int (c, "tap_pool_size"), ==, 4);
  g_assert_cmpstr (bgr_config_get_string (c, "vm_to_vm"), ==, "false");
  g_assert_cmpint (bgr_config_get_duration_ms (c, "stats_poll_interval"), ==, 10000);
  g_assert_null (bgr_config_get_path (c));
  g_assert_null (bgr_config_get_string (c, "no_such_key"));
}

static void
test_file_values (void)
{
  const char *doc =
    "# banger config\n"
    "log_level = \"debug\"\n"
    "\n"
    "auto_stop_stale_after = \"1h30m\"\n"
    "tap_pool_size = 8\n"
    "cidr = \"10.9.0.0/16\"\n"
    "bridge_ip = \"10.9.0.1\"\n"
    "state_dir = \"~/banger-state\"\n"
    "vm_to_vm = true\n";
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrConfig) c = bgr_config_load_from_data (doc, -1, "/etc/x/config.toml", &err);
  g_autofree char *home_state = g_build_filename (g_get_home_dir (), "banger-state", NULL);
  g_autofree char *json = NULL;
  g_autoptr (JsonNode) node = NULL;

  g_assert_no_error (err);
  g_assert_cmpstr (bgr_config_get_string (c, "log_level"), ==, "debug");
  g_assert_cmpstr (bgr_config_get_source (c, "log_level"), ==, "/etc/x/config.toml:2");
  g_assert_cmpint (bgr_config_get_duration_ms (c, "auto_stop_stale_after"), ==, 90 * 60 * 1000);
  g_assert_cmpstr (bgr_config_get_source (c, "auto_stop_stale_after"), ==, "/etc/x/config.toml:4");
  g_assert_cmpint (bgr_config_get_int (c, "tap_pool_size"), ==, 8);
  g_assert_cmpstr (bgr_config_get_string (c, "state_dir"), ==, home_state);
  g_assert_cmpstr (bgr_config_get_string (c, "vm_to_vm"), ==, "true");
  g_assert_cmpstr (bgr_config_get_source (c, "vm_to_vm"), ==, "/etc/x/config.toml:9");
  g_assert_cmpstr (bgr_config_get_source (c, "cache_dir"), ==, "default");
  g_assert_cmpstr (bgr_config_get_path (c), ==, "/etc/x/config.toml");

  json = bgr_config_to_json (c);
  node = json_from_string (json, &err);
  g_assert_no_error (err);
  {
    JsonObject *root = json_node_get_object (node);
    JsonArray *keys = json_object_get_array_member (root, "keys");
    gboolean found = FALSE;
    g_assert_cmpstr (json_object_get_string_member (root, "path"), ==, "/etc/x/config.toml");
    for (guint i = 0; i < json_array_get_length (keys); i++)
      {
        JsonObject *e = json_array_get_object_element (keys, i);
        if (g_str_equal (json_object_get_string_member (e, "key"), "tap_pool_size"))
          {
            g_assert_cmpint (json_object_get_int_member (e, "value"), ==, 8);
            g_assert_cmpstr (json_object_get_string_member (e, "source"), ==, "/etc/x/config.toml:5");
            found = TRUE;
          }
        if (g_str_equal (json_object_get_string_member (e, "key"), "vm_to_vm"))
          g_assert_true (json_object_get_boolean_member (e, "value"));
      }
    g_assert_true (found);
  }
}

typedef struct {
  const char *doc;
  const char *expect; /* substring of the message */
} BadCase;

static void
test_bad_values (void)
{
  static const BadCase cases[] = {
    { "log_level = \"info\"\nbogus_key = 1\n", "cfg.toml:2: unknown key 'bogus_key'" },
    { "tap_pool_size = \"8\"\n", "cfg.toml:1: key 'tap_pool_size': expected an integer, got a string" },
    { "tap_pool_size = 9999\n", "cfg.toml:1: key 'tap_pool_size': 9999 is out of range" },
    { "\n\nlog_level = \"loud\"\n", "cfg.toml:3: key 'log_level': \"loud\" is not one of" },
    { "stats_poll_interval = 30\n", "cfg.toml:1: key 'stats_poll_interval': expected a string such as \"30m\"" },
    { "stats_poll_interval = \"30 minutes\"\n", "cfg.toml:1: key 'stats_poll_interval': invalid duration" },
    { "stats_poll_interval = \"5x\"\n", "unknown unit" },
    { "cidr = \"10.0.0.1/24\"\n", "cfg.toml:1: key 'cidr': \"10.0.0.1/24\" has host bits set" },
    { "cidr = \"10.0.0.0/33\"\n", "key 'cidr'" },
    { "bridge_ip = \"10.0.0.1\"\n", "cfg.toml:1: key 'bridge_ip': 10.0.0.1 is not a host address inside the default cidr 172.16.0.0/24; set cidr too" },
    { "cidr = \"10.0.0.0/24\"\n", "cfg.toml:1: key 'cidr': 10.0.0.0/24 does not contain the default bridge_ip 172.16.0.1; set bridge_ip too" },
    { "cidr = \"10.0.0.0/24\"\nbridge_ip = \"10.0.0.255\"\n", "cfg.toml:2: key 'bridge_ip': 10.0.0.255 is not a host address inside cidr 10.0.0.0/24 (line 1)" },
    { "bridge_ip = \"300.1.1.1\"\n", "key 'bridge_ip': \"300.1.1.1\" is not an IPv4 address" },
    { "bridge_name = \"this-name-is-far-too-long\"\n", "key 'bridge_name'" },
    { "hypervisor = \"vmware\"\n", "key 'hypervisor': \"vmware\" is not one of: auto, firecracker, qemu, fake" },
    { "state_dir = \"relative/dir\"\n", "key 'state_dir': \"relative/dir\" is not an absolute path" },
    { "web_listen_addr = \"localhost\"\n", "key 'web_listen_addr'" },
    { "kernel_catalog_url = \"ftp://x\"\n", "key 'kernel_catalog_url'" },
    { "[network]\ncidr = \"10.0.0.0/24\"\n", "cfg.toml:1: unknown key 'network'" },
    { "log_level = \"info\"\nlog_level = \"debug\"\n", "cfg.toml:2" },
    { "log_level = \"info\n", "cfg.toml:1" },
    { "qemu_bin = \"bin/qemu\"\n", "key 'qemu_bin'" },
    { "vm_to_vm = \"true\"\n", "cfg.toml:1: key 'vm_to_vm': expected a boolean (true or false), got a string" },
    { "vm_to_vm = 1\n", "cfg.toml:1: key 'vm_to_vm': expected a boolean (true or false), got an integer" },
    { "qemu_accel = \"hvf\"\n", "key 'qemu_accel': \"hvf\" is not one of: auto, kvm, tcg" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) err = NULL;
      g_autoptr (BgrConfig) c = bgr_config_load_from_data (cases[i].doc, -1, "cfg.toml", &err);

      g_test_message ("case %zu: %s", i, cases[i].doc);
      g_assert_null (c);
      g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_CONFIG);
      if (strstr (err->message, cases[i].expect) == NULL)
        g_error ("case %zu: message \"%s\" lacks \"%s\"", i, err->message, cases[i].expect);
    }
}

static void
test_load_file (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_config_dir (), "banger", NULL);
  g_autofree char *path = g_build_filename (dir, "config.toml", NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrConfig) missing = NULL;
  g_autoptr (BgrConfig) c = NULL;
  g_autoptr (BgrConfig) none = NULL;

  /* Default location absent: defaults, no error. */
  none = bgr_config_load (NULL, &err);
  g_assert_no_error (err);
  g_assert_null (bgr_config_get_path (none));

  /* Explicit path absent: an error naming it. */
  missing = bgr_config_load ("/nonexistent/banger.toml", &err);
  g_assert_null (missing);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (err->message, "/nonexistent/banger.toml"));
  g_clear_error (&err);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, "default_image_name = \"debian\"\n", -1, NULL));
  c = bgr_config_load (NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (bgr_config_get_path (c), ==, path);
  g_assert_cmpstr (bgr_config_get_string (c, "default_image_name"), ==, "debian");
  g_unlink (path);
}

static void
test_durations (void)
{
  static const struct { const char *text; gint64 ms; } ok[] = {
    { "0", 0 }, { "30m", 1800000 }, { "1h30m", 5400000 }, { "90s", 90000 },
    { "500ms", 500 }, { "2d", 172800000 }, { "1.5h", 5400000 }, { "1m30s", 90000 },
  };
  static const char *const bad[] = { "", "m", "30", "-5m", "5 m", "1h-", "abc", "3w" };

  for (gsize i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      gint64 ms = -1;
      g_autoptr (GError) err = NULL;
      g_assert_true (bgr_parse_duration (ok[i].text, &ms, &err));
      g_assert_no_error (err);
      g_assert_cmpint (ms, ==, ok[i].ms);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) err = NULL;
      g_assert_false (bgr_parse_duration (bad[i], NULL, &err));
      g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
    }
}

static void
test_ssh_key (void)
{
  g_autoptr (BgrConfig) c = bgr_config_new_default ();
  g_autofree char *expected = g_build_filename (g_get_user_config_dir (), "banger", "ssh",
                                                "id_ed25519", NULL);
  g_autofree char *dir = g_path_get_dirname (expected);
  g_autofree char *pub = g_strconcat (expected, ".pub", NULL);
  g_autoptr (GError) err = NULL;
  g_autofree char *path = NULL;
  g_autofree char *again = NULL;
  g_autofree char *pubtext = NULL;
  g_autoptr (BgrConfig) chosen = NULL;
  g_autofree char *none = NULL;
  g_autofree char *keygen = g_find_program_in_path ("ssh-keygen");
  struct stat st;

  if (keygen == NULL)
    {
      g_test_skip ("ssh-keygen is not installed");
      return;
    }
  g_assert_false (g_file_test (expected, G_FILE_TEST_EXISTS));
  path = bgr_config_ensure_ssh_key (c, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (path, ==, expected);
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  g_assert_true (g_file_get_contents (pub, &pubtext, NULL, NULL));
  g_assert_true (g_str_has_prefix (pubtext, "ssh-ed25519 "));

  /* Second call: the same key, untouched. */
  {
    g_autofree char *before = NULL, *after = NULL;
    g_assert_true (g_file_get_contents (path, &before, NULL, NULL));
    again = bgr_config_ensure_ssh_key (c, NULL, &err);
    g_assert_no_error (err);
    g_assert_true (g_file_get_contents (path, &after, NULL, NULL));
    g_assert_cmpstr (before, ==, after);
  }
  /* No temp directories left behind: the key, its .pub and the lock file. */
  {
    g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;
    guint n = 0;
    while ((name = g_dir_read_name (d)) != NULL)
      {
        g_assert_false (g_str_has_prefix (name, ".keygen-"));
        n++;
      }
    g_assert_cmpuint (n, ==, 3);
  }

  /* A key path the user chose is never created. */
  chosen = bgr_config_load_from_data ("ssh_key_path = \"/nonexistent/keys/id\"\n", -1, "c.toml",
                                      &err);
  g_assert_no_error (err);
  none = bgr_config_ensure_ssh_key (chosen, NULL, &err);
  g_assert_null (none);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (err->message, "c.toml:1"));
  g_assert_false (g_file_test ("/nonexistent/keys", G_FILE_TEST_EXISTS));
}

static gpointer
ensure_key_thread (gpointer data)
{
  g_autoptr (GError) err = NULL;
  char *path = bgr_config_ensure_ssh_key (data, NULL, &err);
  g_assert_no_error (err);
  return path;
}

static void
test_ssh_key_concurrent (void)
{
  g_autoptr (BgrConfig) c = bgr_config_new_default ();
  g_autofree char *keygen = g_find_program_in_path ("ssh-keygen");
  GThread *threads[4];
  g_autofree char *pub = NULL;
  g_autofree char *derived = NULL;
  g_autofree char *first = NULL;
  int status = 0;

  if (keygen == NULL)
    {
      g_test_skip ("ssh-keygen is not installed");
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("keygen", ensure_key_thread, c);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      g_autofree char *path = g_thread_join (threads[i]);
      if (first == NULL)
        first = g_strdup (path);
      g_assert_cmpstr (path, ==, first);
    }
  /* One key pair, and its halves belong together. */
  {
    g_autofree char *pubpath = g_strconcat (first, ".pub", NULL);
    const char *argv[] = { "ssh-keygen", "-y", "-f", first, NULL };
    g_assert_true (g_file_get_contents (pubpath, &pub, NULL, NULL));
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                                 &derived, NULL, &status, NULL));
    g_assert_true (g_str_has_prefix (pub, g_strstrip (derived)));
  }
}

static void
test_system_defaults (void)
{
  g_autofree char *tmp = g_build_filename (g_get_user_runtime_dir (), "sys", NULL);
  g_autofree char *state = g_build_filename (tmp, "state", NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrConfig) plain = NULL;
  g_autoptr (BgrConfig) managed = NULL;
  g_autofree char *path = NULL;
  g_autofree char *key = g_build_filename (state, "ssh", "id_ed25519", NULL);

  g_unsetenv ("STATE_DIRECTORY");
  g_unsetenv ("CACHE_DIRECTORY");
  g_unsetenv ("CONFIGURATION_DIRECTORY");
  path = bgr_config_dup_default_path_full (BGR_CONFIG_FLAGS_SYSTEM);
  g_assert_cmpstr (path, ==, "/etc/banger/config.toml");
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      plain = bgr_config_load_full (NULL, BGR_CONFIG_FLAGS_SYSTEM, &err);
      g_assert_no_error (err);
      g_assert_cmpstr (bgr_config_get_string (plain, "state_dir"), ==, "/var/lib/banger");
      g_assert_cmpstr (bgr_config_get_string (plain, "cache_dir"), ==, "/var/cache/banger");
      g_assert_cmpstr (bgr_config_get_string (plain, "ssh_key_path"), ==,
                       "/var/lib/banger/ssh/id_ed25519");
    }

  /* Under systemd, the unit's StateDirectory= etc. win. */
  g_setenv ("STATE_DIRECTORY", state, TRUE);
  g_setenv ("CACHE_DIRECTORY", "/run/x-cache:/run/y-cache", TRUE);
  g_setenv ("CONFIGURATION_DIRECTORY", tmp, TRUE);
  managed = bgr_config_load_full (NULL, BGR_CONFIG_FLAGS_SYSTEM, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (bgr_config_get_string (managed, "state_dir"), ==, state);
  g_assert_cmpstr (bgr_config_get_string (managed, "cache_dir"), ==, "/run/x-cache");
  g_assert_cmpstr (bgr_config_get_string (managed, "ssh_key_path"), ==, key);
  g_free (path);
  path = bgr_config_dup_default_path_full (BGR_CONFIG_FLAGS_SYSTEM);
  g_assert_true (g_str_has_prefix (path, tmp));
  g_unsetenv ("STATE_DIRECTORY");
  g_unsetenv ("CACHE_DIRECTORY");
  g_unsetenv ("CONFIGURATION_DIRECTORY");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/file-values", test_file_values);
  g_test_add_func ("/config/bad-values", test_bad_values);
  g_test_add_func ("/config/load-file", test_load_file);
  g_test_add_func ("/config/durations", test_durations);
  g_test_add_func ("/config/ssh-key", test_ssh_key);
  g_test_add_func ("/config/ssh-key-concurrent", test_ssh_key_concurrent);
  g_test_add_func ("/config/system-defaults", test_system_defaults);
  return g_test_run ();
}
