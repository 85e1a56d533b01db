/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The banger CLI without a daemon: arguments, --local, exit statuses. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include <banger/banger.h>

#include "bgr-test-util.h"

static const char *banger;
static const char *const no_bus[] = { "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus", NULL };

#define RUN(r, ...) bgr_run_env ((r), no_bus, (const char *const[]){ banger, __VA_ARGS__, NULL })

static void
test_usage (void)
{
  BgrRun r;

  RUN (&r, "--help");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "Commands:");
  bgr_assert_contains (r.out, "daemon status");
  bgr_run_clear (&r);

  bgr_run_env (&r, no_bus, (const char *const[]){ banger, NULL });
  g_assert_cmpint (r.status, ==, 2);
  bgr_assert_contains (r.err, "Usage: banger");
  bgr_run_clear (&r);

  RUN (&r, "frobnicate");
  g_assert_cmpint (r.status, ==, 2);
  bgr_assert_contains (r.err, "unknown command 'frobnicate'");
  bgr_run_clear (&r);

  RUN (&r, "doctor", "--bogus");
  g_assert_cmpint (r.status, ==, 2);
  bgr_assert_contains (r.err, "--bogus");
  bgr_run_clear (&r);

  RUN (&r, "daemon", "status", "extra");
  g_assert_cmpint (r.status, ==, 2);
  bgr_assert_contains (r.err, "unexpected argument 'extra'");
  bgr_run_clear (&r);

  RUN (&r, "doctor", "--help");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "PASS, WARN or FAIL");
  bgr_run_clear (&r);

  RUN (&r, "--local", "--system", "config", "show");
  g_assert_cmpint (r.status, ==, 2);
  bgr_run_clear (&r);

  /* With --json, usage errors are JSON records too. */
  RUN (&r, "--json", "frobnicate");
  g_assert_cmpint (r.status, ==, 2);
  bgr_assert_contains (r.out, "\"InvalidArgument\"");
  bgr_assert_contains (r.out, "unknown command 'frobnicate'");
  bgr_run_clear (&r);

  /* Sizes: a leading '-' must not wrap around. */
  RUN (&r, "--local", "image", "pull", "127.0.0.1:1/x:y", "--size", "-1");
  g_assert_cmpint (r.status, ==, 2);
  bgr_assert_contains (r.err, "invalid size");
  bgr_run_clear (&r);
  RUN (&r, "--local", "image", "pull", "127.0.0.1:1/x:y", "--size", "4Q");
  g_assert_cmpint (r.status, ==, 2);
  bgr_run_clear (&r);

  RUN (&r, "--version");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "banger " BANGER_VERSION);
  bgr_run_clear (&r);
}

static void
test_bad_config (void)
{
  g_autofree char *cfg = bgr_test_write_file ("bad.toml", "log_level = \"info\"\ntap_pool_size = \"lots\"\n");
  g_autofree char *state = g_build_filename (g_get_user_state_dir (), "banger", NULL);
  BgrRun r;

  RUN (&r, "--local", "--config", cfg, "config", "show");
  g_assert_cmpint (r.status, ==, 5);
  bgr_assert_contains (r.err, "bad.toml:2: key 'tap_pool_size'");
  /* Nothing was created. */
  g_assert_false (g_file_test (state, G_FILE_TEST_EXISTS));
  bgr_run_clear (&r);

  /* --json errors are machine-readable too. */
  RUN (&r, "--local", "--json", "--config", cfg, "config", "show");
  g_assert_cmpint (r.status, ==, 5);
  bgr_assert_contains (r.out, "\"InvalidConfig\"");
  bgr_run_clear (&r);

  /* --config without --local would be silently ignored by the daemon: refuse. */
  RUN (&r, "--config", cfg, "config", "show");
  g_assert_cmpint (r.status, ==, 2);
  bgr_assert_contains (r.err, "--local");
  bgr_run_clear (&r);
}

static void
test_local_config_show (void)
{
  g_autofree char *cfg = bgr_test_write_file ("ok.toml", "\ncidr = \"10.20.0.0/24\"\nbridge_ip = \"10.20.0.1\"\n");
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) err = NULL;
  g_autofree char *src = g_strdup_printf ("%s:2", cfg);
  JsonArray *keys;
  gboolean found = FALSE;
  BgrRun r;

  RUN (&r, "--local", "--config", cfg, "config", "show");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "10.20.0.0/24");
  bgr_assert_contains (r.out, src);
  bgr_run_clear (&r);

  RUN (&r, "config", "show", "--local", "--json", "--config", cfg);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (json_parser_load_from_data (p, r.out, -1, &err));
  keys = json_object_get_array_member (json_node_get_object (json_parser_get_root (p)), "keys");
  for (guint i = 0; i < json_array_get_length (keys); i++)
    {
      JsonObject *o = json_array_get_object_element (keys, i);
      if (g_str_equal (json_object_get_string_member (o, "key"), "cidr"))
        {
          g_assert_cmpstr (json_object_get_string_member (o, "value"), ==, "10.20.0.0/24");
          g_assert_cmpstr (json_object_get_string_member (o, "source"), ==, src);
          found = TRUE;
        }
    }
  g_assert_true (found);
  bgr_run_clear (&r);
}

static void
test_doctor_local (void)
{
  g_autofree char *cfg = bgr_test_write_file ("noqemu.toml",
                                              "hypervisor = \"qemu\"\nqemu_bin = \"/nonexistent/qemu\"\n");
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) err = NULL;
  BgrRun r;

  RUN (&r, "--local", "--config", cfg, "doctor");
  g_assert_cmpint (r.status, ==, 1);
  bgr_assert_contains (r.out, "FAIL  qemu");
  bgr_assert_contains (r.out, "fix: ");
  bgr_run_clear (&r);

  RUN (&r, "--local", "--config", cfg, "doctor", "--json");
  g_assert_cmpint (r.status, ==, 1);
  g_assert_true (json_parser_load_from_data (p, r.out, -1, &err));
  g_assert_false (json_object_get_boolean_member (json_node_get_object (json_parser_get_root (p)), "ok"));
  bgr_run_clear (&r);

  /* No daemon: doctor says so and checks in-process. */
  RUN (&r, "doctor");
  g_assert_cmpint (r.status, !=, 13);
  bgr_assert_contains (r.err, "not running");
  bgr_assert_contains (r.out, "PASS  config");
  bgr_run_clear (&r);
}

static void
test_config_path_json (void)
{
  g_autofree char *cfg = bgr_test_write_file ("caf\xc3\xa9.toml", "log_level = \"info\"\n");
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) err = NULL;
  JsonObject *o;
  BgrRun r;

  RUN (&r, "--json", "--config", cfg, "config", "path");
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (json_parser_load_from_data (p, r.out, -1, &err));
  g_assert_no_error (err);
  o = json_node_get_object (json_parser_get_root (p));
  g_assert_cmpstr (json_object_get_string_member (o, "path"), ==, cfg);
  g_assert_true (json_object_get_boolean_member (o, "exists"));
  bgr_run_clear (&r);
}

static void
test_no_daemon (void)
{
  BgrRun r;

  RUN (&r, "daemon", "status");
  g_assert_cmpint (r.status, ==, 13);
  bgr_assert_contains (r.err, "session bus");
  bgr_run_clear (&r);

  RUN (&r, "--json", "daemon", "status");
  g_assert_cmpint (r.status, ==, 13);
  bgr_assert_contains (r.out, "\"DaemonUnavailable\"");
  bgr_run_clear (&r);

  RUN (&r, "daemon", "stop");
  g_assert_cmpint (r.status, ==, 13);
  bgr_run_clear (&r);
}

static void
test_local_ssh_key (void)
{
  g_autofree char *expected = g_build_filename (g_get_user_config_dir (), "banger", "ssh", "id_ed25519", NULL);
  g_autofree char *keygen = g_find_program_in_path ("ssh-keygen");
  BgrRun r;

  if (keygen == NULL)
    {
      g_test_skip ("ssh-keygen is not installed");
      return;
    }
  RUN (&r, "--local", "config", "ssh-key");
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (g_strstrip (r.out), ==, expected);
  g_assert_true (g_file_test (expected, G_FILE_TEST_IS_REGULAR));
  bgr_run_clear (&r);
}

/* No session bus at all (ssh to a server, a container): GLib would try to
 * autolaunch one and fail with "Cannot autolaunch D-Bus without X11
 * $DISPLAY". The CLI runs the engine in-process instead and says so once. */
static void
test_no_session_bus (void)
{
  g_autofree char *state = g_build_filename (g_get_user_state_dir (), "banger", NULL);
  BgrRun r;

  g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
  g_unsetenv ("DISPLAY");
#define RUN_NO_BUS(r, ...) bgr_run_env ((r), NULL, (const char *const[]){ banger, __VA_ARGS__, NULL })

  RUN_NO_BUS (&r, "image", "list");
  g_assert_cmpint (r.status, ==, 0);
  g_assert_null (strstr (r.err, "autolaunch"));
  bgr_assert_contains (r.err, "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)");
  bgr_assert_contains (r.err, "running the engine in this process");
  /* One line of explanation, and the command's own output. */
  g_assert_cmpint (strchr (r.err, '\n') - r.err, ==, strlen (r.err) - 1);
  bgr_assert_contains (r.out, "no images");
  bgr_run_clear (&r);

  /* --json output stays a document; the note is for people. */
  RUN_NO_BUS (&r, "--json", "vm", "list");
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  bgr_assert_contains (r.out, "[");
  bgr_run_clear (&r);

  RUN_NO_BUS (&r, "config", "show");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "log_level");
  g_assert_null (strstr (r.err, "autolaunch"));
  bgr_run_clear (&r);

  RUN_NO_BUS (&r, "config", "path");
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  bgr_run_clear (&r);

  RUN_NO_BUS (&r, "doctor");
  g_assert_cmpint (r.status, !=, 13);
  bgr_assert_contains (r.out, "PASS  config");
  bgr_assert_contains (r.err, "no D-Bus session bus");
  g_assert_null (strstr (r.err, "autolaunch"));
  bgr_run_clear (&r);

  /* The daemon itself cannot be reached: no fallback, exit 13. */
  RUN_NO_BUS (&r, "daemon", "status");
  g_assert_cmpint (r.status, ==, 13);
  bgr_assert_contains (r.err, "no D-Bus session bus to find bangerd on");
  g_assert_null (strstr (r.err, "autolaunch"));
  bgr_run_clear (&r);

  /* Another engine owns the state directory: the fallback is refused, and
   * the error says why and what to do. */
  {
    g_autoptr (BgrConfig) config = bgr_config_new_default ();
    g_autoptr (GError) err = NULL;
    g_autoptr (BgrClient) holder = bgr_client_new_local (config, BGR_CLIENT_FLAGS_NONE, &err);
    g_autofree char *who = g_strdup_printf ("in use by process %d", (int) getpid ());

    g_assert_no_error (err);
    g_assert_nonnull (holder);
    RUN_NO_BUS (&r, "image", "list");
    g_assert_cmpint (r.status, ==, bgr_error_code_to_exit_status (BGR_ERROR_LOCKED));
    bgr_assert_contains (r.err, "no D-Bus session bus");
    bgr_assert_contains (r.err, "the engine cannot run in this process");
    bgr_assert_contains (r.err, who);
    bgr_assert_contains (r.err, "DBUS_SESSION_BUS_ADDRESS");
    g_assert_null (strstr (r.err, "autolaunch"));
    bgr_run_clear (&r);
  }
  g_assert_true (g_file_test (state, G_FILE_TEST_IS_DIR));
#undef RUN_NO_BUS
}

/* `banger vm` alone (and every group) lists its commands. */
static void
test_groups (void)
{
  static const struct { const char *words[2]; const char *has; } groups[] = {
    { { "vm", NULL }, "vm exec" },           { { "image", NULL }, "image pull" },
    { { "kernel", NULL }, "kernel import" }, { { "config", NULL }, "config show" },
    { { "daemon", NULL }, "daemon status" }, { { "image", "cache" }, "image cache prune" },
  };
  BgrRun r;

  for (gsize i = 0; i < G_N_ELEMENTS (groups); i++)
    {
      const char *const *w = groups[i].words;

      if (w[1] == NULL)
        RUN (&r, w[0]);
      else
        RUN (&r, w[0], w[1]);
      g_assert_cmpint (r.status, ==, 2);
      bgr_assert_contains (r.err, groups[i].has);
      bgr_assert_contains (r.err, "no command given");
      g_assert_null (strstr (r.err, "unknown command"));
      bgr_run_clear (&r);
      if (w[1] == NULL)
        RUN (&r, w[0], "--help");
      else
        RUN (&r, w[0], w[1], "--help");
      g_assert_cmpint (r.status, ==, 0);
      bgr_assert_contains (r.out, groups[i].has);
      bgr_run_clear (&r);
    }
  /* Only the group's commands. */
  RUN (&r, "image", "cache");
  g_assert_null (strstr (r.err, "image pull"));
  bgr_run_clear (&r);
  RUN (&r, "vm", "frob");
  g_assert_cmpint (r.status, ==, 2);
  bgr_assert_contains (r.err, "unknown command 'vm frob'");
  bgr_assert_contains (r.err, "vm create");
  bgr_run_clear (&r);
}

/* Numbers and sizes a hostile user gives: refused at once, in the CLI's
 * words, before any work. */
static void
test_strict_input (void)
{
  g_autofree char *modules = bgr_test_write_file ("modules-file", "not a directory\n");
  g_autofree char *elf = NULL;
  static const guchar header[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, [16] = 2, [18] = 62 };
  static const struct { const char *flag, *value, *msg; } vm_cases[] = {
    { "--vcpus", "-1", "invalid --vcpus \"-1\"" },
    { "--vcpus", "0", "invalid --vcpus \"0\"" },
    { "--vcpus", "two", "invalid --vcpus \"two\"" },
    { "--vcpus", "100000", "--vcpus: 100000 is out of range (1-64)" },
    { "--image", "", "--image must not be empty" },
    { "--disk-size", "100T", "--disk-size: 109951162777600 bytes is out of range (at most 16 TiB)" },
    { "--memory", "100T", "--memory: 104857600 MiB is more than this host has" },
  };
  BgrRun r;

  for (gsize i = 0; i < G_N_ELEMENTS (vm_cases); i++)
    {
      RUN (&r, "--local", "vm", "create", "--name", "hostile", vm_cases[i].flag, vm_cases[i].value);
      g_assert_cmpint (r.status, ==, 2);
      bgr_assert_contains (r.err, vm_cases[i].msg);
      g_assert_null (strstr (r.err, "option '"));
      bgr_run_clear (&r);
    }
  RUN (&r, "--local", "image", "pull", "127.0.0.1:1/x:y", "--size", "100T");
  g_assert_cmpint (r.status, ==, 2);
  bgr_assert_contains (r.err, "--size: 109951162777600 bytes is out of range (at most 16 TiB)");
  bgr_run_clear (&r);
  RUN (&r, "--local", "image", "pull", "127.0.0.1:1/x:y", "--name", "Bad!");
  g_assert_cmpint (r.status, ==, 2);
  bgr_assert_contains (r.err, "(give one with --name)");
  bgr_run_clear (&r);

  /* --modules FILE: not "does not exist". */
  {
    g_autofree char *contents = g_malloc0 (4096);
    memcpy (contents, header, sizeof header);
    elf = bgr_test_write_file ("vmlinux", "");
    g_assert_true (g_file_set_contents (elf, contents, 4096, NULL));
  }
  RUN (&r, "--local", "kernel", "import", "k", "--vmlinux", elf, "--modules", modules);
  g_assert_cmpint (r.status, ==, 2);
  bgr_assert_contains (r.err, "is not a directory");
  g_assert_null (strstr (r.err, "does not exist"));
  bgr_run_clear (&r);
  RUN (&r, "--local", "kernel", "import", "k", "--vmlinux", elf, "--modules", "/nonexistent/mods");
  bgr_assert_contains (r.err, "does not exist");
  bgr_run_clear (&r);

  /* Sizes in a C locale: ASCII, not "4.1?kB". */
  RUN (&r, "--local", "kernel", "import", "k", "--vmlinux", elf);
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  bgr_run_env (&r, (const char *const[]){ "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus",
                                          "LC_ALL=C", NULL },
               (const char *const[]){ banger, "--local", "kernel", "show", "k", NULL });
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "size:      4.1 kB\n");
  g_assert_null (strchr (r.out, '?'));
  bgr_run_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  banger = bgr_test_program ("BANGER_CLI");
  g_test_add_func ("/cli/usage", test_usage);
  g_test_add_func ("/cli/bad-config", test_bad_config);
  g_test_add_func ("/cli/local-config-show", test_local_config_show);
  g_test_add_func ("/cli/doctor-local", test_doctor_local);
  g_test_add_func ("/cli/no-daemon", test_no_daemon);
  g_test_add_func ("/cli/config-path-json", test_config_path_json);
  g_test_add_func ("/cli/local-ssh-key", test_local_ssh_key);
  g_test_add_func ("/cli/groups", test_groups);
  g_test_add_func ("/cli/strict-input", test_strict_input);
  g_test_add_func ("/cli/no-session-bus", test_no_session_bus);
  return g_test_run ();
}
