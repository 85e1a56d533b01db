/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What test-oci-registry.c builds on: two docker-registry processes on
 * 127.0.0.1 (anonymous, and htpasswd auth), started once with the test
 * images (tests/oci-registry.sh: umoci, skopeo) pushed to them and stopped
 * at the end, and registry client calls against them. */
#include "config.h"

#include "oci-registry-harness.h"

char *work_dir;

char *layout;

char *script;

char *digest_amd64, *digest_arm64, *digest_multi;

Registry anon_reg, auth_reg;

char *
run_checked (const char *const *argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                     &status, &error))
    g_error ("cannot run %s: %s", argv[0], error->message);
  if (!g_spawn_check_wait_status (status, &error))
    {
      g_autofree char *cmd = g_strjoinv (" ", (char **) argv);
      g_error ("%s failed (%s)\nstdout: %s\nstderr: %s", cmd, error->message, out, err);
    }
  return g_steal_pointer (&out);
}

static guint16
free_port (void)
{
  g_autoptr (GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;

  if (sock == NULL || !g_socket_bind (sock, addr, FALSE, &error))
    g_error ("cannot bind a port on 127.0.0.1: %s", error != NULL ? error->message : "?");
  bound = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* Polls GET /v2/ until the registry answers (200, or 401 with auth), up
 * to READY_TIMEOUT_S; the port may also have been taken meanwhile, which
 * the log then says. */
static void
wait_ready (Registry *reg)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strdup_printf ("http://%s/v2/", reg->host);
  gint64 deadline = g_get_monotonic_time () + READY_TIMEOUT_S * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
      g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, NULL, NULL);

      if (body != NULL && (soup_message_get_status (msg) == 200 || soup_message_get_status (msg) == 401))
        return;
      /* The identifier goes away once GLib has reaped the process. */
      if (g_subprocess_get_identifier (reg->proc) == NULL)
        break;
      g_usleep (50 * 1000);
    }
  {
    g_autofree char *log = NULL;
    g_file_get_contents (reg->log, &log, NULL, NULL);
    g_error ("docker-registry on %s did not become ready within %d s; its log:\n%s", reg->host,
             READY_TIMEOUT_S, log != NULL ? log : "(none)");
  }
}

void
registry_start (Registry *reg, const char *name, gboolean with_auth)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr (GString) cfg = g_string_new (NULL);
  g_autofree char *cfg_path = NULL;
  g_autoptr (GError) error = NULL;

  if (reg->dir == NULL)
    {
      reg->dir = g_build_filename (work_dir, name, NULL);
      g_assert_cmpint (g_mkdir_with_parents (reg->dir, 0700), ==, 0);
      reg->port = free_port ();
      reg->host = g_strdup_printf ("127.0.0.1:%u", reg->port);
      reg->log = g_build_filename (reg->dir, "registry.log", NULL);
    }
  cfg_path = g_build_filename (reg->dir, "config.yml", NULL);
  g_string_append_printf (cfg,
                          "version: 0.1\n"
                          "log:\n  level: info\n  accesslog:\n    disabled: false\n"
                          "storage:\n  filesystem:\n    rootdirectory: %s/storage\n"
                          "  delete:\n    enabled: true\n"
                          "http:\n  addr: %s\n",
                          reg->dir, reg->host);
  if (with_auth)
    {
      g_autofree char *htpasswd = g_build_filename (reg->dir, "htpasswd", NULL);
      const char *argv[] = { "htpasswd", "-Bbn", USER, PASSWORD, NULL };
      g_autofree char *line = run_checked (argv);

      g_assert_true (g_file_set_contents (htpasswd, line, -1, NULL));
      g_string_append_printf (cfg, "auth:\n  htpasswd:\n    realm: banger-test\n    path: %s\n",
                              htpasswd);
    }
  g_assert_true (g_file_set_contents (cfg_path, cfg->str, -1, NULL));
  g_subprocess_launcher_set_stdout_file_path (launcher, reg->log);
  reg->proc = g_subprocess_launcher_spawn (launcher, &error, "docker-registry", "serve", cfg_path, NULL);
  if (reg->proc == NULL)
    g_error ("cannot start docker-registry: %s", error->message);
  wait_ready (reg);
}

void
registry_stop (Registry *reg)
{
  if (reg->proc == NULL)
    return;
  g_subprocess_send_signal (reg->proc, SIGTERM);
  g_subprocess_wait (reg->proc, NULL, NULL);
  g_clear_object (&reg->proc);
}

char *
write_auth_file (const char *name, const char *host, const char *user, const char *password)
{
  g_autofree char *pair = g_strdup_printf ("%s:%s", user, password);
  g_autofree char *b64 = g_base64_encode ((const guchar *) pair, strlen (pair));
  g_autofree char *json = g_strdup_printf ("{\"auths\":{\"%s\":{\"auth\":\"%s\"}}}", host, b64);
  char *path = g_build_filename (work_dir, name, NULL);

  g_assert_true (g_file_set_contents (path, json, -1, NULL));
  return path;
}

char *
layout_digest (JsonArray *manifests, const char *tag)
{
  for (guint i = 0; i < json_array_get_length (manifests); i++)
    {
      JsonObject *m = json_array_get_object_element (manifests, i);
      JsonObject *ann = json_object_get_object_member (m, "annotations");

      if (g_strcmp0 (json_object_get_string_member (ann, "org.opencontainers.image.ref.name"), tag) == 0)
        return g_strdup (json_object_get_string_member (m, "digest"));
    }
  g_error ("tag %s is not in %s/index.json", tag, layout);
}

BgrOciRegistry *
open_ref (const char *host, const char *name, BgrOciRef *ref)
{
  g_autofree char *text = g_strdup_printf ("%s/%s", host, name);
  g_autoptr (GError) error = NULL;
  BgrOciRegistry *r;

  g_assert_true (bgr_oci_ref_parse (text, ref, &error));
  g_assert_no_error (error);
  r = bgr_oci_registry_new (ref, 0, &error);
  g_assert_no_error (error);
  return r;
}

BgrOciImage *
resolve (const char *host, const char *name, const char *platform, GError **error)
{
  BgrOciRef ref;
  g_autoptr (BgrOciRegistry) r = open_ref (host, name, &ref);
  BgrOciImage *img = bgr_oci_registry_resolve (r, platform, NULL, error);

  bgr_oci_ref_clear (&ref);
  return img;
}

void
assert_layer_digests_equal (const BgrOciImage *a, const BgrOciImage *b)
{
  g_assert_cmpuint (a->layers->len, ==, b->layers->len);
  for (guint i = 0; i < a->layers->len; i++)
    {
      const BgrOciDescriptor *x = a->layers->pdata[i], *y = b->layers->pdata[i];
      g_assert_cmpstr (x->digest, ==, y->digest);
      g_assert_cmpint (x->size, ==, y->size);
    }
}

static void
require_tools (void)
{
  const char *const tools[] = { "docker-registry", "skopeo", "umoci", "htpasswd", "python3", "tar" };

  for (gsize i = 0; i < G_N_ELEMENTS (tools); i++)
    {
      g_autofree char *path = g_find_program_in_path (tools[i]);
      if (path == NULL)
        g_error ("%s is not installed: test-oci-registry needs docker-registry, skopeo, umoci, "
                 "apache2-utils (htpasswd) and python3 (apt-get install docker-registry skopeo "
                 "umoci apache2-utils python3)", tools[i]);
    }
}

void
setup (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *index = NULL;
  JsonArray *manifests;
  const char *src = g_getenv ("BANGER_SOURCE_DIR");

  if (src == NULL)
    g_error ("BANGER_SOURCE_DIR is not set (run the tests through ctest)");
  require_tools ();
  script = g_build_filename (src, "tests", "oci-registry.sh", NULL);
  work_dir = g_dir_make_tmp ("banger-oci-XXXXXX", &error);
  g_assert_no_error (error);
  /* GLib isolates the directories only while a test runs (until then HOME
   * is /dev/null): skopeo and umoci get private ones here. */
  {
    const char *const vars[][2] = {
      { "HOME", "home" }, { "XDG_CONFIG_HOME", "home/.config" }, { "XDG_CACHE_HOME", "home/.cache" },
      { "XDG_DATA_HOME", "home/.local/share" }, { "XDG_RUNTIME_DIR", "run" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS (vars); i++)
      {
        g_autofree char *d = g_build_filename (work_dir, vars[i][1], NULL);
        g_assert_cmpint (g_mkdir_with_parents (d, 0700), ==, 0);
        g_setenv (vars[i][0], d, TRUE);
      }
  }
  layout = g_build_filename (work_dir, "layout", NULL);
  {
    const char *argv[] = { "sh", script, "build", layout, NULL };
    g_free (run_checked (argv));
  }
  index = g_build_filename (layout, "index.json", NULL);
  if (!json_parser_load_from_file (parser, index, &error))
    g_error ("%s: %s", index, error->message);
  manifests = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                            "manifests");
  digest_amd64 = layout_digest (manifests, "amd64");
  digest_arm64 = layout_digest (manifests, "arm64");
  digest_multi = layout_digest (manifests, "multi");

  registry_start (&anon_reg, "anon", FALSE);
  {
    const char *argv[] = { "sh", script, "push", layout, anon_reg.host, NULL };
    g_free (run_checked (argv));
  }
  registry_start (&auth_reg, "auth", TRUE);
  {
    g_autofree char *auth_file = write_auth_file ("push-auth.json", auth_reg.host, USER, PASSWORD);
    const char *argv[] = { "sh", script, "push", layout, auth_reg.host, auth_file, NULL };
    g_free (run_checked (argv));
  }
}

void
teardown (void)
{
  registry_stop (&anon_reg);
  registry_stop (&auth_reg);
  if (work_dir != NULL && g_getenv ("BANGER_TEST_KEEP") == NULL)
    {
      const char *argv[] = { "rm", "-rf", work_dir, NULL };
      g_free (run_checked (argv));
    }
}
