/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel catalog: a valid document, a table of broken ones (each must
 * name the entry and the field), and loading over HTTP from a SoupServer
 * on 127.0.0.1 (in its own thread and GMainContext), from file:// and from
 * a plain path. */
#include "config.h"

#include "bgr-test-util.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "bgr-error-private.h"
#include "net/bgr-catalog-private.h"
#include "net/bgr-download-private.h"

#define SHA_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define BASE "https://kernels.example.org/banger/kernels.json"

/* Two entries, one of each source; the invalid cases below are this
 * document with one change. */
static const char valid_catalog[] =
  "{\n"
  "  \"schema_version\": 1,\n"
  "  \"kernels\": [\n"
  "    {\n"
  "      \"name\": \"debian-cloud-6.1\",\n"
  "      \"version\": \"6.1.0-57-cloud-amd64\",\n"
  "      \"arch\": \"x86_64\",\n"
  "      \"description\": \"Debian's cloud kernel with its modules\",\n"
  "      \"source\": \"download\",\n"
  "      \"artifacts\": {\n"
  "        \"kernel\": { \"url\": \"6.1/vmlinuz\", \"size\": 8123456, \"sha256\": \"" SHA_A "\",\n"
  "                    \"format\": \"bzimage\" },\n"
  "        \"initrd\": { \"url\": \"https://cdn.example.net/initrd.img\", \"size\": 1000,\n"
  "                    \"sha256\": \"" SHA_B "\" },\n"
  "        \"modules\": { \"url\": \"../modules/6.1.tar.gz\", \"size\": 2000,\n"
  "                     \"sha256\": \"" SHA_A "\" }\n"
  "      }\n"
  "    },\n"
  "    {\n"
  "      \"name\": \"debian-cloud\",\n"
  "      \"version\": \"from the host's archive\",\n"
  "      \"arch\": \"x86_64\",\n"
  "      \"source\": \"apt\",\n"
  "      \"apt\": { \"package\": \"linux-image-cloud-amd64\" }\n"
  "    }\n"
  "  ]\n"
  "}\n";

static void
test_valid (void)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrCatalog) catalog = NULL;
  g_autoptr (BgrCatalog) ref = NULL;
  const BgrCatalogEntry *e;

  catalog = bgr_catalog_new_from_data (valid_catalog, strlen (valid_catalog), BASE, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (catalog->url, ==, BASE);
  g_assert_cmpint (catalog->schema_version, ==, 1);
  g_assert_cmpuint (catalog->entries->len, ==, 2);

  e = bgr_catalog_lookup (catalog, "debian-cloud-6.1");
  g_assert_nonnull (e);
  g_assert_true (e == g_ptr_array_index (catalog->entries, 0));
  g_assert_cmpstr (e->version, ==, "6.1.0-57-cloud-amd64");
  g_assert_cmpstr (e->arch, ==, "x86_64");
  g_assert_cmpstr (e->description, ==, "Debian's cloud kernel with its modules");
  g_assert_cmpint (e->source, ==, BGR_CATALOG_SOURCE_DOWNLOAD);
  g_assert_cmpstr (bgr_catalog_source_to_string (e->source), ==, "download");
  g_assert_cmpint (e->kernel_format, ==, BGR_CATALOG_KERNEL_FORMAT_BZIMAGE);
  g_assert_cmpstr (bgr_catalog_kernel_format_to_string (e->kernel_format), ==, "bzimage");
  /* Relative URLs resolve against the catalog's own; absolute ones stay. */
  g_assert_cmpstr (e->kernel->url, ==, "https://kernels.example.org/banger/6.1/vmlinuz");
  g_assert_cmpint (e->kernel->size, ==, 8123456);
  g_assert_cmpstr (e->kernel->sha256, ==, SHA_A);
  g_assert_nonnull (e->initrd);
  g_assert_cmpstr (e->initrd->url, ==, "https://cdn.example.net/initrd.img");
  g_assert_cmpstr (e->initrd->sha256, ==, SHA_B);
  g_assert_nonnull (e->modules);
  g_assert_cmpstr (e->modules->url, ==, "https://kernels.example.org/modules/6.1.tar.gz");
  g_assert_cmpint (e->modules->size, ==, 2000);
  g_assert_null (e->apt_package);

  e = bgr_catalog_lookup (catalog, "debian-cloud");
  g_assert_nonnull (e);
  g_assert_cmpint (e->source, ==, BGR_CATALOG_SOURCE_APT);
  g_assert_cmpstr (bgr_catalog_source_to_string (e->source), ==, "apt");
  g_assert_cmpstr (e->apt_package, ==, "linux-image-cloud-amd64");
  g_assert_cmpstr (e->description, ==, "");
  g_assert_null (e->kernel);
  g_assert_null (e->initrd);
  g_assert_null (e->modules);

  g_assert_null (bgr_catalog_lookup (catalog, "alpine"));

  ref = bgr_catalog_ref (catalog);
  g_assert_true (ref == catalog);
}

static void
test_minimal (void)
{
  static const char doc[] =
    "{\"schema_version\": 1, \"kernels\": [{\"name\": \"fc-6.1\", \"version\": \"6.1.102\","
    " \"arch\": \"aarch64\", \"source\": \"download\", \"description\": null,"
    " \"artifacts\": {\"kernel\": {\"url\": \"Image\", \"size\": 1, \"sha256\": \"" SHA_A "\","
    " \"format\": \"image\"}, \"initrd\": null}}]}";
  static const char empty[] = "{\"schema_version\": 1, \"kernels\": []}";
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrCatalog) catalog = NULL;
  g_autoptr (BgrCatalog) none = NULL;
  const BgrCatalogEntry *e;

  /* Optional members may be absent or null. */
  catalog = bgr_catalog_new_from_data (doc, strlen (doc), "file:///srv/kernels/index.json", &err);
  g_assert_no_error (err);
  e = bgr_catalog_lookup (catalog, "fc-6.1");
  g_assert_nonnull (e);
  g_assert_cmpint (e->kernel_format, ==, BGR_CATALOG_KERNEL_FORMAT_IMAGE);
  g_assert_cmpstr (e->kernel->url, ==, "file:///srv/kernels/Image");
  g_assert_null (e->initrd);
  g_assert_null (e->modules);
  g_assert_cmpstr (e->description, ==, "");

  none = bgr_catalog_new_from_data (empty, strlen (empty), BASE, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (none->entries->len, ==, 0);
}

static void
test_names (void)
{
  static const char *const good[] = { "a", "debian-cloud-6.1", "fc6", "6.1", "x-1.2-y" };
  static const char *const bad[] = { "", "-a", "a-", ".a", "a.", "A", "debian_cloud", "a..b",
                                     "a b", "é", "a/b" };
  char longest[65];

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    g_assert_true (bgr_catalog_name_is_valid (good[i]));
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_false (bgr_catalog_name_is_valid (bad[i]));
  g_assert_false (bgr_catalog_name_is_valid (NULL));

  memset (longest, 'a', 63);
  longest[63] = '\0';
  g_assert_true (bgr_catalog_name_is_valid (longest));
  longest[63] = 'a';
  longest[64] = '\0';
  g_assert_false (bgr_catalog_name_is_valid (longest));
}

/* One change to valid_catalog: PATH (members separated by '.', an entry as
 * kernels[N]) set to VALUE (JSON text), or removed when VALUE is NULL; or a
 * whole DOC instead. */
typedef struct {
  const char *path;
  const char *value;
  const char *doc;
  const char *base;
  int code;
  const char *message; /* what follows "catalog BASE: " */
} InvalidCase;

static const InvalidCase invalid_cases[] = {
  /* The document. */
  { NULL, NULL, "{\"schema_version\": 1,", NULL, BGR_ERROR_INVALID_DATA, "not valid JSON: " },
  { NULL, NULL, "[]", NULL, BGR_ERROR_INVALID_DATA, "not a JSON object" },
  { NULL, NULL, "", NULL, BGR_ERROR_INVALID_DATA, "not a JSON object" },
  { "schema_version", NULL, NULL, NULL, BGR_ERROR_INVALID_DATA, "schema_version is missing" },
  { "schema_version", "\"1\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "schema_version is not an integer" },
  { "schema_version", "1.0", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "schema_version is not an integer" },
  { "schema_version", "0", NULL, NULL, BGR_ERROR_INVALID_DATA, "schema_version 0 is not valid" },
  { "schema_version", "2", NULL, NULL, BGR_ERROR_NOT_SUPPORTED,
    "schema_version 2 is newer than this banger supports (1); update banger" },
  { "kernels", NULL, NULL, NULL, BGR_ERROR_INVALID_DATA, "kernels is missing" },
  { "kernels", "{}", NULL, NULL, BGR_ERROR_INVALID_DATA, "kernels is not an array" },
  { "mirrors", "[]", NULL, NULL, BGR_ERROR_INVALID_DATA, "mirrors is not a known field" },
  { NULL, NULL, "{\"schema_version\": 1, \"kernels\": [3]}", NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0]: not an object" },

  /* Names. */
  { "kernels[0].name", NULL, NULL, NULL, BGR_ERROR_INVALID_DATA, "kernels[0]: name is missing" },
  { "kernels[0].name", "42", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0]: name is not a string" },
  { "kernels[0].name", "\"Debian_Cloud\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"Debian_Cloud\"): name is not a valid kernel name" },
  { "kernels[0].name", "\"a\\\"b\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"a\\\"b\"): name is not a valid kernel name" },
  { "kernels[1].name", "\"debian-cloud-6.1\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[1] (\"debian-cloud-6.1\"): name is already used by kernels[0]" },

  /* The entry's own fields. */
  { "kernels[0].version", NULL, NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): version is missing" },
  { "kernels[0].version", "\"\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): version is empty" },
  { "kernels[0].version", "6.1", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): version is not a string" },
  { "kernels[0].arch", "\"i386\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): arch \"i386\" is not supported (x86_64 or aarch64)" },
  { "kernels[1].arch", NULL, NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[1] (\"debian-cloud\"): arch is missing" },
  { "kernels[0].description", "[]", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): description is not a string" },
  { "kernels[0].source", NULL, NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): source is missing" },
  { "kernels[0].source", "\"git\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): source \"git\" is not known (download or apt)" },
  { "kernels[0].checksum", "\"x\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): checksum is not a known field" },

  /* Download artifacts. */
  { "kernels[0].artifacts", NULL, NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts is missing" },
  { "kernels[0].artifacts", "[]", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts is not an object" },
  { "kernels[0].apt", "{\"package\": \"linux-image-amd64\"}", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): apt is only for source \"apt\"" },
  { "kernels[0].artifacts.dtb", "{}", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.dtb is not a known field" },
  { "kernels[0].artifacts.kernel", NULL, NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel is missing" },
  { "kernels[0].artifacts.kernel", "\"vmlinuz\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel is not an object" },
  { "kernels[0].artifacts.kernel.url", NULL, NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.url is missing" },
  { "kernels[0].artifacts.kernel.url", "\"ftp://example.org/vmlinuz\"", NULL, NULL,
    BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.url has the unsupported scheme \"ftp\" "
    "(http, https or file)" },
  { "kernels[0].artifacts.kernel.url", "\"file:///etc/shadow\"", NULL, NULL,
    BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.url is a file URL, which only a local "
    "catalog may use" },
  { "kernels[0].artifacts.kernel.url", "\"http:///vmlinuz\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.url has no host" },
  { "kernels[0].artifacts.kernel.size", NULL, NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.size is missing" },
  { "kernels[0].artifacts.kernel.size", "0", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.size is not a positive integer" },
  { "kernels[0].artifacts.kernel.size", "-5", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.size is not a positive integer" },
  { "kernels[0].artifacts.kernel.size", "1.5", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.size is not an integer" },
  { "kernels[0].artifacts.kernel.size", "\"8123456\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.size is not an integer" },
  { "kernels[0].artifacts.kernel.sha256", NULL, NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.sha256 is missing" },
  { "kernels[0].artifacts.kernel.sha256", "\"0123\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.sha256 is not 64 lowercase hex digits" },
  { "kernels[0].artifacts.kernel.sha256",
    "\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"", NULL, NULL,
    BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.sha256 is not 64 lowercase hex digits" },
  { "kernels[0].artifacts.kernel.sha265", "\"" SHA_A "\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.sha265 is not a known field" },
  { "kernels[0].artifacts.kernel.format", NULL, NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.format is missing" },
  { "kernels[0].artifacts.kernel.format", "\"zimage\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.format \"zimage\" is not a kernel "
    "format for x86_64 (elf or bzimage)" },
  { "kernels[0].arch", "\"aarch64\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.kernel.format \"bzimage\" is not a kernel "
    "format for aarch64 (elf or image)" },
  { "kernels[0].artifacts.initrd.size", "0", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.initrd.size is not a positive integer" },
  { "kernels[0].artifacts.initrd.format", "\"cpio\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.initrd.format is not a known field" },
  { "kernels[0].artifacts.modules.sha256", "\"\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.modules.sha256 is empty" },
  { "kernels[0].artifacts.modules.url", "\"gopher://x/m.tar\"", NULL, NULL,
    BGR_ERROR_INVALID_DATA,
    "kernels[0] (\"debian-cloud-6.1\"): artifacts.modules.url has the unsupported scheme "
    "\"gopher\" (http, https or file)" },

  /* Apt. */
  { "kernels[1].apt", NULL, NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[1] (\"debian-cloud\"): apt is missing" },
  { "kernels[1].apt.package", NULL, NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[1] (\"debian-cloud\"): apt.package is missing" },
  { "kernels[1].apt.package", "\"Linux Image\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[1] (\"debian-cloud\"): apt.package is not a valid Debian package name" },
  { "kernels[1].apt.release", "\"bookworm\"", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[1] (\"debian-cloud\"): apt.release is not a known field" },
  { "kernels[1].artifacts", "{}", NULL, NULL, BGR_ERROR_INVALID_DATA,
    "kernels[1] (\"debian-cloud\"): artifacts is only for source \"download\"" },
};

/* Walks to the object that holds the last member of @path. */
static JsonObject *
walk (JsonNode *root, const char *path, const char **last)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  JsonObject *obj = json_node_get_object (root);
  guint n = g_strv_length (parts);

  for (guint i = 0; i + 1 < n; i++)
    {
      const char *bracket = strchr (parts[i], '[');

      if (bracket != NULL)
        {
          g_autofree char *member = g_strndup (parts[i], (gsize) (bracket - parts[i]));
          guint index = (guint) g_ascii_strtoull (bracket + 1, NULL, 10);
          JsonArray *array = json_object_get_array_member (obj, member);

          obj = json_array_get_object_element (array, index);
        }
      else
        obj = json_object_get_object_member (obj, parts[i]);
      g_assert_nonnull (obj);
    }
  *last = path + strlen (path) - strlen (parts[n - 1]);
  return obj;
}

static char *
apply_case (const InvalidCase *tc)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  JsonNode *root;
  JsonObject *obj;
  const char *member;

  if (tc->doc != NULL)
    return g_strdup (tc->doc);
  g_assert_true (json_parser_load_from_data (parser, valid_catalog, -1, NULL));
  root = json_parser_get_root (parser);
  obj = walk (root, tc->path, &member);
  if (tc->value == NULL)
    {
      g_assert_true (json_object_has_member (obj, member));
      json_object_remove_member (obj, member);
    }
  else
    {
      g_autoptr (GError) err = NULL;
      JsonNode *value = json_from_string (tc->value, &err);

      g_assert_no_error (err);
      json_object_set_member (obj, member, value);
    }
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

static void
test_invalid (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (invalid_cases); i++)
    {
      const InvalidCase *tc = &invalid_cases[i];
      const char *base = tc->base != NULL ? tc->base : BASE;
      g_autofree char *doc = apply_case (tc);
      g_autofree char *expected = g_strdup_printf ("catalog %s: %s", base, tc->message);
      g_autoptr (GError) err = NULL;
      g_autoptr (BgrCatalog) catalog = NULL;

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, tc->path != NULL ? tc->path : tc->doc);
      catalog = bgr_catalog_new_from_data (doc, strlen (doc), base, &err);
      g_assert_null (catalog);
      g_assert_error (err, BGR_ERROR, tc->code);
      if (!g_str_has_prefix (err->message, expected))
        g_error ("case %" G_GSIZE_FORMAT ": got \"%s\", expected \"%s\"", i, err->message,
                 expected);
    }
}

static void
test_not_absolute (void)
{
  g_autoptr (GError) err = NULL;

  g_assert_null (bgr_catalog_new_from_data (valid_catalog, strlen (valid_catalog), "kernels.json",
                                            &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
}

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

  g_test_add_func ("/catalog/valid", test_valid);
  g_test_add_func ("/catalog/minimal", test_minimal);
  g_test_add_func ("/catalog/names", test_names);
  g_test_add_func ("/catalog/invalid", test_invalid);
  g_test_add_func ("/catalog/not-absolute", test_not_absolute);
  g_test_add_func ("/catalog/load-http", test_load_http);
  g_test_add_func ("/catalog/load-file", test_load_file);
  return g_test_run ();
}
