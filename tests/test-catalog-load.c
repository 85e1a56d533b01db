/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loading the kernel catalog over HTTP from a SoupServer on 127.0.0.1 (in
 * its own thread and GMainContext), from file:// and from a plain path.
 * The schema itself: test-catalog.c. */
#include "config.h"

#include "bgr-test-util.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "bgr-error-private.h"
#include "net/bgr-catalog-private.h"
#include "net/bgr-download-private.h"

#define SHA_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A SoupServer serving fixed documents, in its own thread. */
typedef struct {
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  GHashTable *docs; /* path -> GBytes, filled before the server starts */
  GMutex lock;
  GCond cond;
  char *base;
} Server;

static void
handle (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
        gpointer user_data)
{
  Server *s = user_data;
  GBytes *doc = g_hash_table_lookup (s->docs, path);

  if (doc == NULL)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                    g_bytes_get_data (doc, NULL), g_bytes_get_size (doc));
}

static gpointer
server_thread (gpointer data)
{
  Server *s = data;
  g_autoptr (SoupServer) soup = NULL;
  g_autoptr (GError) err = NULL;
  GSList *uris;

  g_main_context_push_thread_default (s->context);
  soup = soup_server_new (NULL, NULL);
  soup_server_add_handler (soup, NULL, handle, s, NULL);
  if (!soup_server_listen_local (soup, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &err))
    g_error ("cannot listen: %s", err->message);
  uris = soup_server_get_uris (soup);
  g_mutex_lock (&s->lock);
  s->base = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_cond_signal (&s->cond);
  g_mutex_unlock (&s->lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_main_loop_run (s->loop);
  soup_server_disconnect (soup);
  g_main_context_pop_thread_default (s->context);
  return NULL;
}

static void
server_start (Server *s)
{
  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  s->context = g_main_context_new ();
  s->loop = g_main_loop_new (s->context, FALSE);
  s->thread = g_thread_new ("test-server", server_thread, s);
  g_mutex_lock (&s->lock);
  while (s->base == NULL)
    g_cond_wait (&s->cond, &s->lock);
  g_mutex_unlock (&s->lock);
}

static void
server_stop (Server *s)
{
  bgr_test_stop_loop (s->context, s->loop);
  g_thread_join (s->thread);
  g_main_loop_unref (s->loop);
  g_main_context_unref (s->context);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->cond);
  g_free (s->base);
}

static char *
catalog_for (const char *kernel_sha256, gsize kernel_size)
{
  return g_strdup_printf ("{\"schema_version\": 1, \"kernels\": [{\"name\": \"test-1.0\","
                          " \"version\": \"1.0\", \"arch\": \"x86_64\", \"source\": \"download\","
                          " \"artifacts\": {\"kernel\": {\"url\": \"files/vmlinux\", \"size\": %"
                          G_GSIZE_FORMAT ", \"sha256\": \"%s\", \"format\": \"elf\"}}}]}",
                          kernel_size, kernel_sha256);
}

static void
test_load_http (void)
{
  static const char kernel[] = "\x7f" "ELF pretend kernel bytes";
  g_autofree char *sha = g_compute_checksum_for_string (G_CHECKSUM_SHA256, kernel, -1);
  g_autofree char *doc = catalog_for (sha, strlen (kernel));
  g_autofree char *url = NULL, *missing = NULL, *huge_url = NULL, *bad_url = NULL;
  g_autofree char *expected_kernel_url = NULL;
  g_autofree char *dest = NULL;
  g_autofree char *huge = g_malloc (BGR_CATALOG_MAX_SIZE + 1);
  g_autoptr (SoupSession) session = bgr_download_session_new ();
  g_autoptr (BgrCatalog) catalog = NULL;
  g_autoptr (GError) err = NULL;
  const BgrCatalogEntry *e;
  Server s = { 0 };

  memset (huge, ' ', BGR_CATALOG_MAX_SIZE + 1);
  s.docs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) g_bytes_unref);
  g_hash_table_insert (s.docs, "/v1/kernels.json", g_bytes_new (doc, strlen (doc)));
  g_hash_table_insert (s.docs, "/v1/files/vmlinux", g_bytes_new_static (kernel, strlen (kernel)));
  g_hash_table_insert (s.docs, "/huge.json", g_bytes_new (huge, BGR_CATALOG_MAX_SIZE + 1));
  g_hash_table_insert (s.docs, "/bad.json", g_bytes_new_static ("{\"schema_version\": 1}", 21));
  server_start (&s);

  url = g_strconcat (s.base, "/v1/kernels.json", NULL);
  catalog = bgr_catalog_load (session, url, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (catalog->url, ==, url);
  e = bgr_catalog_lookup (catalog, "test-1.0");
  g_assert_nonnull (e);
  expected_kernel_url = g_strconcat (s.base, "/v1/files/vmlinux", NULL);
  g_assert_cmpstr (e->kernel->url, ==, expected_kernel_url);
  g_assert_cmpint (e->kernel_format, ==, BGR_CATALOG_KERNEL_FORMAT_ELF);

  /* What the catalog says is enough to fetch and verify the kernel. */
  dest = g_build_filename (g_get_user_cache_dir (), "vmlinux", NULL);
  g_assert_cmpint (g_mkdir_with_parents (g_get_user_cache_dir (), 0700), ==, 0);
  g_assert_true (bgr_download_file (session, e->kernel->url, dest, e->kernel->size,
                                    e->kernel->sha256, NULL, NULL, NULL, &err));
  g_assert_no_error (err);
  g_unlink (dest);

  /* A session of its own when none is given. */
  g_clear_pointer (&catalog, bgr_catalog_unref);
  catalog = bgr_catalog_load (NULL, url, NULL, &err);
  g_assert_no_error (err);
  g_assert_nonnull (bgr_catalog_lookup (catalog, "test-1.0"));

  missing = g_strconcat (s.base, "/v2/kernels.json", NULL);
  g_assert_null (bgr_catalog_load (session, missing, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_assert_true (g_str_has_prefix (err->message, "cannot load kernel catalog: "));
  g_assert_nonnull (strstr (err->message, missing));
  g_clear_error (&err);

  huge_url = g_strconcat (s.base, "/huge.json", NULL);
  g_assert_null (bgr_catalog_load (session, huge_url, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  g_clear_error (&err);

  bad_url = g_strconcat (s.base, "/bad.json", NULL);
  g_assert_null (bgr_catalog_load (session, bad_url, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  {
    g_autofree char *expected = g_strdup_printf ("catalog %s: kernels is missing", bad_url);
    g_assert_cmpstr (err->message, ==, expected);
  }

  server_stop (&s);
  g_hash_table_unref (s.docs);
}

static void
test_load_file (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "catalog dir", NULL);
  g_autofree char *path = g_build_filename (dir, "kernels.json", NULL);
  g_autofree char *doc = catalog_for (SHA_A, 100);
  g_autofree char *uri = NULL, *dir_uri = NULL;
  g_autofree char *expected_kernel_url = NULL;
  g_autofree char *cwd = g_get_current_dir ();
  g_autoptr (GError) err = NULL;
  const char *locations[3];

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, doc, -1, NULL));
  uri = g_filename_to_uri (path, NULL, NULL);
  dir_uri = g_filename_to_uri (dir, NULL, NULL);
  expected_kernel_url = g_strconcat (dir_uri, "/files/vmlinux", NULL);
  g_assert_true (g_str_has_prefix (expected_kernel_url, "file:///"));
  g_assert_nonnull (strstr (expected_kernel_url, "catalog%20dir/files/vmlinux"));

  /* A file: URL, an absolute path, and a path relative to the current
   * directory all name the same catalog. */
  g_assert_cmpint (g_chdir (dir), ==, 0);
  locations[0] = uri;
  locations[1] = path;
  locations[2] = "kernels.json";
  for (gsize i = 0; i < G_N_ELEMENTS (locations); i++)
    {
      g_autoptr (BgrCatalog) catalog = bgr_catalog_load (NULL, locations[i], NULL, &err);
      const BgrCatalogEntry *e;

      g_assert_no_error (err);
      g_assert_cmpstr (catalog->url, ==, uri);
      e = bgr_catalog_lookup (catalog, "test-1.0");
      g_assert_nonnull (e);
      g_assert_cmpstr (e->kernel->url, ==, expected_kernel_url);
      g_assert_cmpint (e->kernel->size, ==, 100);
    }
  g_assert_cmpint (g_chdir (cwd), ==, 0);

  g_assert_null (bgr_catalog_load (NULL, "/nonexistent/banger/kernels.json", NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (err->message, "/nonexistent/banger/kernels.json"));
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* The isolated XDG_DATA_DIRS hide the GSettings schemas that GNOME's
   * proxy resolver module reads; these tests only talk to 127.0.0.1. */
  g_setenv ("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);

  g_test_add_func ("/catalog/load-http", test_load_http);
  g_test_add_func ("/catalog/load-file", test_load_file);
  return g_test_run ();
}
