/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kernel list --available and kernel pull against a real HTTP catalog
 * served on 127.0.0.1 by a libsoup server in this test. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <libsoup/soup.h>
#include <unistd.h>

#include <banger/banger.h>

#include "test-specs.h"
#include "bgr-test-util.h"

typedef struct {
  GMainContext *ctx;
  GMainLoop *loop;
  GThread *thread;
  SoupServer *server;
  GHashTable *files; /* path -> GBytes */
  guint port;
  GMutex lock;
  GPtrArray *requests; /* paths requested */
} Server;

static Server srv;
static const char *deb;

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
        gpointer data)
{
  GBytes *body;

  g_mutex_lock (&srv.lock);
  g_ptr_array_add (srv.requests, g_strdup (path));
  body = g_hash_table_lookup (srv.files, path);
  g_mutex_unlock (&srv.lock);
  if (body == NULL)
    {
      soup_server_message_set_status (msg, 404, NULL);
      return;
    }
  soup_server_message_set_status (msg, 200, NULL);
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), body);
}

static gpointer
server_thread (gpointer data)
{
  g_main_context_push_thread_default (srv.ctx);
  g_main_loop_run (srv.loop);
  g_main_context_pop_thread_default (srv.ctx);
  return NULL;
}

static void
server_start (void)
{
  g_autoptr (GError) err = NULL;
  GSList *uris;

  srv.ctx = g_main_context_new ();
  srv.loop = g_main_loop_new (srv.ctx, FALSE);
  srv.files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_bytes_unref);
  srv.requests = g_ptr_array_new_with_free_func (g_free);
  g_main_context_push_thread_default (srv.ctx);
  srv.server = soup_server_new (NULL, NULL);
  soup_server_add_handler (srv.server, NULL, handle, NULL, NULL);
  g_assert_true (soup_server_listen_local (srv.server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &err));
  g_assert_no_error (err);
  g_main_context_pop_thread_default (srv.ctx);
  uris = soup_server_get_uris (srv.server);
  srv.port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  srv.thread = g_thread_new ("server", server_thread, NULL);
}

static void
serve (const char *path, GBytes *body)
{
  g_mutex_lock (&srv.lock);
  g_hash_table_insert (srv.files, g_strdup (path), g_bytes_ref (body));
  g_mutex_unlock (&srv.lock);
}

static char *
sha256_of (GBytes *b)
{
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, b);
}

/* Real artifacts: the kernel and a modules tarball made from Debian's
 * cloud kernel package, imported once into a scratch state directory. */
static GBytes *kernel_bytes, *modules_bytes;

static void
prepare_artifacts (void)
{
  g_autofree char *scratch = g_build_filename (g_get_tmp_dir (), "banger-pull-XXXXXX", NULL);
  g_autofree char *cfgtext = NULL;
  g_autoptr (BgrConfig) cfg = NULL;
  g_autoptr (BgrClient) client = NULL;
  g_autoptr (BgrKernel) k = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree char *tarball = NULL;
  g_autofree char *moddir = NULL;
  char *data;
  gsize len;
  BgrRun r;

  g_assert_nonnull (g_mkdtemp (scratch));
  /* Outside a test case the isolated XDG dirs are /dev/null: name both. */
  cfgtext = g_strdup_printf ("state_dir = \"%s/state\"\ncache_dir = \"%s/cache\"\n", scratch,
                             scratch);
  cfg = bgr_config_load_from_data (cfgtext, -1, "scratch.toml", &err);
  client = bgr_client_new_local (cfg, 0, &err);
  g_assert_no_error (err);
  k = test_import_kernel_deb (client, "src", deb, NULL, &err);
  g_assert_no_error (err);
  g_assert_true (g_file_get_contents (bgr_kernel_get_kernel_path (k), &data, &len, NULL));
  kernel_bytes = g_bytes_new_take (data, len);
  tarball = g_build_filename (scratch, "modules.tar.gz", NULL);
  moddir = g_path_get_dirname (bgr_kernel_get_modules_dir (k));
  bgr_run_env (&r, NULL, (const char *const[]){ "tar", "-czf", tarball, "-C", moddir, ".", NULL });
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  g_assert_true (g_file_get_contents (tarball, &data, &len, NULL));
  modules_bytes = g_bytes_new_take (data, len);
  g_clear_object (&client);
  bgr_run_env (&r, NULL, (const char *const[]){ "rm", "-rf", scratch, NULL });
  bgr_run_clear (&r);
}

/* A modules tarball whose second entry is a hard link to a file outside
 * the tree, with a body: unpacked naively, it would write that file. */
static GBytes *
evil_tarball (const char *victim)
{
  g_autofree char *path = g_build_filename (g_get_tmp_dir (), "banger-evil-XXXXXX.tar", NULL);
  struct archive *a = archive_write_new ();
  struct archive_entry *e = archive_entry_new ();
  static const char body[] = "PWNED-BY-TARBALL";
  char *data;
  gsize len;
  int fd = g_mkstemp (path);

  archive_write_set_format_pax (a);
  g_assert_cmpint (archive_write_open_fd (a, fd), ==, ARCHIVE_OK);
  archive_entry_set_pathname (e, "6.1.0-x/kernel/real.ko");
  archive_entry_set_filetype (e, AE_IFREG);
  archive_entry_set_perm (e, 0644);
  archive_entry_set_size (e, 4);
  archive_write_header (a, e);
  archive_write_data (a, "real", 4);
  archive_entry_clear (e);
  archive_entry_set_pathname (e, "6.1.0-x/kernel/foo.ko");
  archive_entry_set_hardlink (e, victim);
  archive_entry_set_filetype (e, AE_IFREG);
  archive_entry_set_perm (e, 0644);
  archive_entry_set_size (e, sizeof body - 1);
  archive_write_header (a, e);
  archive_write_data (a, body, sizeof body - 1);
  archive_entry_free (e);
  archive_write_close (a);
  archive_write_free (a);
  close (fd);
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  g_unlink (path);
  return g_bytes_new_take (data, len);
}

static char *victim_path;
static GBytes *evil_bytes;

static char *
artifact (GBytes *b, const char *path, gint64 size_delta, const char *sha_override)
{
  g_autofree char *sha = sha256_of (b);
  return g_strdup_printf ("{ \"url\": \"%s\", \"size\": %" G_GINT64_FORMAT ", \"sha256\": \"%s\"%s }",
                          path, (gint64) g_bytes_get_size (b) + size_delta,
                          sha_override != NULL ? sha_override : sha,
                          g_str_equal (path, "vmlinuz") || g_str_has_prefix (path, "missing")
                            || g_str_has_prefix (path, "bad")
                            ? ", \"format\": \"bzimage\"" : "");
}

static void
publish_catalog (void)
{
  static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";
  g_autofree char *k = artifact (kernel_bytes, "vmlinuz", 0, NULL);
  g_autofree char *m = artifact (modules_bytes, "modules.tar.gz", 0, NULL);
  g_autofree char *bad = artifact (kernel_bytes, "bad-vmlinuz", 0, zeros);
  g_autofree char *missing = artifact (kernel_bytes, "missing-vmlinuz", 0, NULL);
  g_autofree char *shortk = artifact (kernel_bytes, "vmlinuz", 100, NULL);
  g_autofree char *evil = artifact (evil_bytes, "evil.tar", 0, NULL);
  g_autofree char *elfk = NULL;
  g_autofree char *ksha = sha256_of (kernel_bytes);

  elfk = g_strdup_printf ("{ \"url\": \"vmlinuz\", \"size\": %" G_GSIZE_FORMAT
                          ", \"sha256\": \"%s\", \"format\": \"elf\" }",
                          g_bytes_get_size (kernel_bytes), ksha);
  g_autofree char *doc = g_strdup_printf (
    "{ \"schema_version\": 1, \"kernels\": [\n"
    " { \"name\": \"cloud\", \"version\": \"6.1\", \"arch\": \"x86_64\", \"source\": \"download\",\n"
    "   \"description\": \"test kernel\", \"artifacts\": { \"kernel\": %s, \"modules\": %s } },\n"
    " { \"name\": \"badsha\", \"version\": \"6.1\", \"arch\": \"x86_64\", \"source\": \"download\",\n"
    "   \"artifacts\": { \"kernel\": %s } },\n"
    " { \"name\": \"missing\", \"version\": \"6.1\", \"arch\": \"x86_64\", \"source\": \"download\",\n"
    "   \"artifacts\": { \"kernel\": %s } },\n"
    " { \"name\": \"truncated\", \"version\": \"6.1\", \"arch\": \"x86_64\", \"source\": \"download\",\n"
    "   \"artifacts\": { \"kernel\": %s } },\n"
    " { \"name\": \"evil\", \"version\": \"6.1\", \"arch\": \"x86_64\", \"source\": \"download\",\n"
    "   \"artifacts\": { \"kernel\": %s, \"modules\": %s } },\n"
    " { \"name\": \"notelf\", \"version\": \"6.1\", \"arch\": \"x86_64\", \"source\": \"download\",\n"
    "   \"artifacts\": { \"kernel\": %s } } ] }\n", k, m, bad, missing, shortk, k, evil, elfk);
  g_autoptr (GBytes) catalog = g_bytes_new (doc, strlen (doc));

  serve ("/kernels.json", catalog);
  serve ("/vmlinuz", kernel_bytes);
  serve ("/bad-vmlinuz", kernel_bytes);
  serve ("/modules.tar.gz", modules_bytes);
  serve ("/evil.tar", evil_bytes);
}

static BgrClient *
client_for_test (char **state_out, char **cache_out)
{
  g_autofree char *state = g_build_filename (g_get_user_state_dir (), "banger", NULL);
  g_autofree char *cache = g_build_filename (g_get_user_cache_dir (), "banger", NULL);
  g_autofree char *text = g_strdup_printf ("state_dir = \"%s\"\ncache_dir = \"%s\"\n"
                                           "kernel_catalog_url = \"http://127.0.0.1:%u/kernels.json\"\n",
                                           state, cache, srv.port);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrConfig) cfg = bgr_config_load_from_data (text, -1, "pull.toml", &err);
  BgrClient *client;

  g_assert_no_error (err);
  client = bgr_client_new_local (cfg, 0, &err);
  g_assert_no_error (err);
  if (state_out != NULL)
    *state_out = g_steal_pointer (&state);
  if (cache_out != NULL)
    *cache_out = g_steal_pointer (&cache);
  return client;
}

typedef struct {
  guint64 last, total;
  guint calls;
  gboolean backwards;
} Seen;

static void
on_progress (BgrOperation *op, gpointer data)
{
  Seen *s = data;
  guint64 done = bgr_operation_get_done (op), total = bgr_operation_get_total (op);

  if (done < s->last)
    s->backwards = TRUE;
  s->last = done;
  s->total = total;
  s->calls++;
}

static void
test_available (void)
{
  g_autoptr (BgrClient) client = client_for_test (NULL, NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) list = bgr_client_kernel_list_available (client, NULL, &err);

  g_assert_no_error (err);
  g_assert_cmpuint (list->len, ==, 6);
  g_assert_cmpstr (bgr_catalog_kernel_get_name (list->pdata[0]), ==, "cloud");
  g_assert_cmpstr (bgr_catalog_kernel_get_source (list->pdata[0]), ==, "download");
  g_assert_cmpint (bgr_catalog_kernel_get_size (list->pdata[0]), ==,
                   (gint64) (g_bytes_get_size (kernel_bytes) + g_bytes_get_size (modules_bytes)));
}

static void
test_pull (void)
{
  g_autofree char *state = NULL, *cache = NULL;
  g_autoptr (BgrClient) client = client_for_test (&state, &cache);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrKernel) k = NULL;
  g_autoptr (BgrKernel) again = NULL;
  Seen seen = { 0 };
  g_autoptr (BgrOperation) op = bgr_operation_new ();

  g_signal_connect (op, "changed", G_CALLBACK (on_progress), &seen);
  k = bgr_client_kernel_pull (client, "cloud", op, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (bgr_kernel_get_name (k), ==, "cloud");
  g_assert_cmpstr (bgr_kernel_get_format (k), ==, "bzimage");
  g_assert_true (bgr_kernel_get_initrd_generated (k));
  g_assert_true (g_str_has_prefix (bgr_kernel_get_kernel_path (k), state));
  g_assert_cmpuint (seen.calls, >, 0);
  g_assert_false (seen.backwards);
  g_assert_cmpuint (seen.last, ==, seen.total);
  g_assert_cmpuint (seen.total, ==, g_bytes_get_size (kernel_bytes) + g_bytes_get_size (modules_bytes));

  /* A second pull of the same name is refused; the first is untouched. */
  again = bgr_client_kernel_pull (client, "cloud", NULL, NULL, &err);
  g_assert_null (again);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_EXISTS);
}

static void
assert_nothing_registered (BgrClient *client, const char *state)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) list = bgr_client_kernel_list (client, NULL, &err);
  g_autofree char *kdir = g_build_filename (state, "kernels", NULL);
  g_autoptr (GDir) d = g_dir_open (kdir, 0, NULL);
  const char *name;

  g_assert_no_error (err);
  g_assert_cmpuint (list->len, ==, 0);
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    g_error ("leftover in %s: %s", kdir, name);
}

static void
test_corrupt (void)
{
  g_autofree char *state = NULL, *cache = NULL;
  g_autoptr (BgrClient) client = client_for_test (&state, &cache);
  static const struct { const char *name; int code; const char *msg; } cases[] = {
    { "badsha", BGR_ERROR_INVALID_DATA, "sha256" },
    { "missing", BGR_ERROR_NOT_FOUND, "missing-vmlinuz" },
    { "truncated", BGR_ERROR_INVALID_DATA, "vmlinuz" },
    { "no-such-entry", BGR_ERROR_NOT_FOUND, "kernel list --available" },
    { "evil", BGR_ERROR_INVALID_DATA, "refusing link entry" },
    { "notelf", BGR_ERROR_INVALID_DATA, "catalog says kernel 'notelf' is elf" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) err = NULL;
      g_autoptr (BgrKernel) k = bgr_client_kernel_pull (client, cases[i].name, NULL, NULL, &err);
      g_test_message ("%s: %s", cases[i].name, err != NULL ? err->message : "(no error)");
      g_assert_null (k);
      g_assert_error (err, BGR_ERROR, cases[i].code);
      bgr_assert_contains (err->message, cases[i].msg);
      assert_nothing_registered (client, state);
    }
  /* The hard link's target was not touched. */
  {
    g_autofree char *victim = NULL;
    g_assert_true (g_file_get_contents (victim_path, &victim, NULL, NULL));
    g_assert_cmpstr (victim, ==, "precious");
  }
  /* A verification failure leaves no file behind in the download cache. */
  {
    g_autofree char *downloads = g_build_filename (cache, "downloads", NULL);
    g_autoptr (GDir) d = g_dir_open (downloads, 0, NULL);
    const char *name;
    while (d != NULL && (name = g_dir_read_name (d)) != NULL)
      g_assert_false (g_str_has_prefix (name, "0000000000"));
  }
}

static void
test_bad_catalog (void)
{
  g_autoptr (BgrClient) client = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) list = NULL;
  const char *bad = "{ \"schema_version\": 1, \"kernels\": [ { \"name\": \"x\" } ] }";
  g_autoptr (GBytes) b = g_bytes_new_static (bad, strlen (bad));

  serve ("/kernels.json", b);
  client = client_for_test (NULL, NULL);
  list = bgr_client_kernel_list_available (client, NULL, &err);
  g_assert_null (list);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  bgr_assert_contains (err->message, "kernels[0]");
  publish_catalog ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  deb = bgr_test_program ("BANGER_TEST_KERNEL_DEB");
  prepare_artifacts ();
  victim_path = g_build_filename (g_get_tmp_dir (), "banger-victim-XXXXXX", NULL);
  g_close (g_mkstemp (victim_path), NULL);
  g_assert_true (g_file_set_contents (victim_path, "precious", -1, NULL));
  evil_bytes = evil_tarball (victim_path);
  server_start ();
  publish_catalog ();
  g_test_add_func ("/pull/available", test_available);
  g_test_add_func ("/pull/pull", test_pull);
  g_test_add_func ("/pull/corrupt", test_corrupt);
  g_test_add_func ("/pull/bad-catalog", test_bad_catalog);
  {
    int rc = g_test_run ();
    g_unlink (victim_path);
    return rc;
  }
}
