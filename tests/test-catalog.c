/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel catalog: a valid document and a table of broken ones (each
 * must name the entry and the field). Loading it: test-catalog-load.c. */
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/catalog/valid", test_valid);
  g_test_add_func ("/catalog/minimal", test_minimal);
  g_test_add_func ("/catalog/names", test_names);
  g_test_add_func ("/catalog/invalid", test_invalid);
  g_test_add_func ("/catalog/not-absolute", test_not_absolute);
  return g_test_run ();
}
