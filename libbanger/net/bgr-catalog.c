/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsing and validation of the kernel catalog. Validation is strict, and
 * unknown members are errors: a catalog comes from outside, and a typo such
 * as "sha265" must not quietly turn into an unverified download. New members
 * come with a new schema_version, which older bangers refuse clearly. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "bgr-error-private.h"
#include "net/bgr-catalog-fields-private.h"
#include "net/bgr-catalog-private.h"
#include "net/bgr-download-private.h"

static const char *const source_names[] = {
  [BGR_CATALOG_SOURCE_DOWNLOAD] = "download",
  [BGR_CATALOG_SOURCE_APT] = "apt",
};

static const char *const format_names[] = {
  [BGR_CATALOG_KERNEL_FORMAT_ELF] = "elf",
  [BGR_CATALOG_KERNEL_FORMAT_BZIMAGE] = "bzimage",
  [BGR_CATALOG_KERNEL_FORMAT_IMAGE] = "image",
};

static const char *const top_members[] = { "schema_version", "kernels", NULL };
static const char *const entry_members[] = {
  "name", "version", "arch", "description", "source", "artifacts", "apt", NULL
};
static const char *const artifacts_members[] = { "kernel", "initrd", "modules", NULL };
static const char *const artifact_members[] = { "url", "size", "sha256", NULL };
static const char *const kernel_members[] = { "url", "size", "sha256", "format", NULL };
static const char *const apt_members[] = { "package", NULL };

const char *
bgr_catalog_source_to_string (BgrCatalogSource source)
{
  g_return_val_if_fail ((guint) source < G_N_ELEMENTS (source_names), NULL);
  return source_names[source];
}

const char *
bgr_catalog_kernel_format_to_string (BgrCatalogKernelFormat format)
{
  g_return_val_if_fail ((guint) format < G_N_ELEMENTS (format_names), NULL);
  return format_names[format];
}

gboolean
bgr_catalog_name_is_valid (const char *name)
{
  gsize n;

  if (name == NULL || (n = strlen (name)) == 0 || n > 63)
    return FALSE;
  if (!(g_ascii_islower (name[0]) || g_ascii_isdigit (name[0]))
      || !(g_ascii_islower (name[n - 1]) || g_ascii_isdigit (name[n - 1])))
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '-' || *p == '.'))
      return FALSE;
  return strstr (name, "..") == NULL;
}

/* Debian policy: lowercase letters, digits, '+', '-', '.', at least two
 * characters, starting with a letter or digit. */
static gboolean
apt_package_is_valid (const char *name)
{
  gsize n = strlen (name);

  if (n < 2 || n > 255 || !(g_ascii_islower (name[0]) || g_ascii_isdigit (name[0])))
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '+' || *p == '-' || *p == '.'))
      return FALSE;
  return TRUE;
}

static void
artifact_free (BgrCatalogArtifact *a)
{
  if (a == NULL)
    return;
  g_free (a->url);
  g_free (a->sha256);
  g_free (a);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrCatalogArtifact, artifact_free)

static void
entry_free (BgrCatalogEntry *e)
{
  if (e == NULL)
    return;
  g_free (e->name);
  g_free (e->version);
  g_free (e->arch);
  g_free (e->description);
  artifact_free (e->kernel);
  artifact_free (e->initrd);
  artifact_free (e->modules);
  g_free (e->apt_package);
  g_free (e);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrCatalogEntry, entry_free)

static void
catalog_clear (BgrCatalog *catalog)
{
  g_free (catalog->url);
  g_clear_pointer (&catalog->entries, g_ptr_array_unref);
}

BgrCatalog *
bgr_catalog_ref (BgrCatalog *catalog)
{
  return g_atomic_rc_box_acquire (catalog);
}

void
bgr_catalog_unref (BgrCatalog *catalog)
{
  if (catalog != NULL)
    g_atomic_rc_box_release_full (catalog, (GDestroyNotify) catalog_clear);
}

const BgrCatalogEntry *
bgr_catalog_lookup (BgrCatalog *catalog, const char *name)
{
  g_return_val_if_fail (catalog != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  for (guint i = 0; i < catalog->entries->len; i++)
    {
      const BgrCatalogEntry *e = g_ptr_array_index (catalog->entries, i);
      if (g_str_equal (e->name, name))
        return e;
    }
  return NULL;
}

static gboolean
parse_kernel_format (const BgrCatalogCtx *c, JsonObject *obj, const char *prefix, const char *arch,
                     BgrCatalogKernelFormat *out, GError **error)
{
  const char *format;

  if (!bgr_catalog_get_string (c, obj, prefix, "format", TRUE, &format, error))
    return FALSE;
  if (g_str_equal (format, "elf"))
    *out = BGR_CATALOG_KERNEL_FORMAT_ELF;
  else if (g_str_equal (format, "bzimage") && g_str_equal (arch, "x86_64"))
    *out = BGR_CATALOG_KERNEL_FORMAT_BZIMAGE;
  else if (g_str_equal (format, "image") && g_str_equal (arch, "aarch64"))
    *out = BGR_CATALOG_KERNEL_FORMAT_IMAGE;
  else
    {
      g_autofree char *escaped = g_strescape (format, NULL);
      bgr_catalog_fail (c, error, "%sformat \"%s\" is not a kernel format for %s (%s)", prefix, escaped, arch,
            g_str_equal (arch, "x86_64") ? "elf or bzimage" : "elf or image");
      return FALSE;
    }
  return TRUE;
}

/* Reads artifacts.KIND into *@out, left NULL when an optional artifact is
 * absent. @format_out is non-NULL for the kernel, the only artifact with a
 * format. */
static gboolean
parse_artifact (const BgrCatalogCtx *c, JsonObject *artifacts, const char *kind, gboolean required,
                const char *arch, BgrCatalogArtifact **out, BgrCatalogKernelFormat *format_out,
                GError **error)
{
  g_autofree char *prefix = g_strdup_printf ("artifacts.%s.", kind);
  g_autoptr (BgrCatalogArtifact) a = NULL;
  g_autofree char *field = NULL;
  JsonObject *obj;
  const char *url, *sha256;
  gint64 size;

  *out = NULL;
  if (!bgr_catalog_get_object (c, artifacts, "artifacts.", kind, required, &obj, error))
    return FALSE;
  if (obj == NULL)
    return TRUE;
  if (!bgr_catalog_check_members (c, obj, prefix, format_out != NULL ? kernel_members : artifact_members,
                      error))
    return FALSE;

  a = g_new0 (BgrCatalogArtifact, 1);
  if (!bgr_catalog_get_string (c, obj, prefix, "url", TRUE, &url, error))
    return FALSE;
  field = g_strconcat (prefix, "url", NULL);
  a->url = bgr_catalog_resolve_url (c, field, url, error);
  if (a->url == NULL)
    return FALSE;

  if (!bgr_catalog_get_int (c, obj, prefix, "size", &size, error))
    return FALSE;
  if (size <= 0)
    {
      bgr_catalog_fail (c, error, "%ssize is not a positive integer", prefix);
      return FALSE;
    }
  a->size = size;

  if (!bgr_catalog_get_string (c, obj, prefix, "sha256", TRUE, &sha256, error))
    return FALSE;
  if (!bgr_download_sha256_is_valid (sha256))
    {
      bgr_catalog_fail (c, error, "%ssha256 is not 64 lowercase hex digits", prefix);
      return FALSE;
    }
  a->sha256 = g_strdup (sha256);

  if (format_out != NULL && !parse_kernel_format (c, obj, prefix, arch, format_out, error))
    return FALSE;
  *out = g_steal_pointer (&a);
  return TRUE;
}

static gboolean
parse_download (const BgrCatalogCtx *c, JsonObject *obj, BgrCatalogEntry *e, GError **error)
{
  JsonObject *artifacts;

  if (bgr_catalog_get_member (obj, "apt") != NULL)
    {
      bgr_catalog_fail (c, error, "apt is only for source \"apt\"");
      return FALSE;
    }
  if (!bgr_catalog_get_object (c, obj, "", "artifacts", TRUE, &artifacts, error))
    return FALSE;
  if (!bgr_catalog_check_members (c, artifacts, "artifacts.", artifacts_members, error))
    return FALSE;
  return parse_artifact (c, artifacts, "kernel", TRUE, e->arch, &e->kernel, &e->kernel_format,
                         error)
         && parse_artifact (c, artifacts, "initrd", FALSE, e->arch, &e->initrd, NULL, error)
         && parse_artifact (c, artifacts, "modules", FALSE, e->arch, &e->modules, NULL, error);
}

static gboolean
parse_apt (const BgrCatalogCtx *c, JsonObject *obj, BgrCatalogEntry *e, GError **error)
{
  JsonObject *apt;
  const char *package;

  if (bgr_catalog_get_member (obj, "artifacts") != NULL)
    {
      bgr_catalog_fail (c, error, "artifacts is only for source \"download\"");
      return FALSE;
    }
  if (!bgr_catalog_get_object (c, obj, "", "apt", TRUE, &apt, error))
    return FALSE;
  if (!bgr_catalog_check_members (c, apt, "apt.", apt_members, error))
    return FALSE;
  if (!bgr_catalog_get_string (c, apt, "apt.", "package", TRUE, &package, error))
    return FALSE;
  if (!apt_package_is_valid (package))
    {
      bgr_catalog_fail (c, error, "apt.package is not a valid Debian package name");
      return FALSE;
    }
  e->apt_package = g_strdup (package);
  return TRUE;
}

static BgrCatalogEntry *
parse_entry (BgrCatalogCtx *c, JsonNode *node, GError **error)
{
  g_autoptr (BgrCatalogEntry) e = g_new0 (BgrCatalogEntry, 1);
  JsonObject *obj;
  JsonNode *name_node;
  const char *name, *version, *arch, *description, *source;

  c->name = NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      bgr_catalog_fail (c, error, "not an object");
      return NULL;
    }
  obj = json_node_get_object (node);

  /* The name first, so that every later message can show it. */
  name_node = bgr_catalog_get_member (obj, "name");
  if (name_node != NULL && JSON_NODE_HOLDS_VALUE (name_node)
      && json_node_get_value_type (name_node) == G_TYPE_STRING)
    c->name = json_node_get_string (name_node);
  if (!bgr_catalog_get_string (c, obj, "", "name", TRUE, &name, error))
    return NULL;
  if (!bgr_catalog_name_is_valid (name))
    {
      bgr_catalog_fail (c, error, "name is not a valid kernel name (1 to 63 lowercase letters, digits, "
                      "'-' or '.', starting and ending with a letter or digit)");
      return NULL;
    }
  if (!bgr_catalog_check_members (c, obj, "", entry_members, error))
    return NULL;
  e->name = g_strdup (name);

  if (!bgr_catalog_get_string (c, obj, "", "version", TRUE, &version, error))
    return NULL;
  e->version = g_strdup (version);

  if (!bgr_catalog_get_string (c, obj, "", "arch", TRUE, &arch, error))
    return NULL;
  if (!g_str_equal (arch, "x86_64") && !g_str_equal (arch, "aarch64"))
    {
      g_autofree char *escaped = g_strescape (arch, NULL);
      bgr_catalog_fail (c, error, "arch \"%s\" is not supported (x86_64 or aarch64)", escaped);
      return NULL;
    }
  e->arch = g_strdup (arch);

  if (!bgr_catalog_get_string (c, obj, "", "description", FALSE, &description, error))
    return NULL;
  e->description = g_strdup (description != NULL ? description : "");

  if (!bgr_catalog_get_string (c, obj, "", "source", TRUE, &source, error))
    return NULL;
  if (g_str_equal (source, "download"))
    {
      e->source = BGR_CATALOG_SOURCE_DOWNLOAD;
      if (!parse_download (c, obj, e, error))
        return NULL;
    }
  else if (g_str_equal (source, "apt"))
    {
      e->source = BGR_CATALOG_SOURCE_APT;
      if (!parse_apt (c, obj, e, error))
        return NULL;
    }
  else
    {
      g_autofree char *escaped = g_strescape (source, NULL);
      bgr_catalog_fail (c, error, "source \"%s\" is not known (download or apt)", escaped);
      return NULL;
    }
  return g_steal_pointer (&e);
}

BgrCatalog *
bgr_catalog_new_from_data (const char *data, gsize len, const char *url, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local = NULL;
  g_autoptr (BgrCatalog) catalog = NULL;
  g_autoptr (GHashTable) seen = NULL;
  g_autofree char *scheme = NULL;
  BgrCatalogCtx c = { .url = url, .index = -1 };
  JsonNode *root;
  JsonObject *obj;
  JsonArray *kernels;
  JsonNode *kernels_node;
  gint64 schema_version;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (url != NULL, NULL);

  scheme = g_uri_parse_scheme (url);
  if (scheme == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "catalog URL %s is not an absolute URL", url);
      return NULL;
    }
  c.is_local = g_ascii_strcasecmp (scheme, "file") == 0;

  if (len > G_MAXSSIZE)
    len = G_MAXSSIZE;
  if (!json_parser_load_from_data (parser, data != NULL ? data : "", (gssize) len, &local))
    {
      bgr_catalog_fail (&c, error, "not valid JSON: %s", local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      bgr_catalog_fail (&c, error, "not a JSON object");
      return NULL;
    }
  obj = json_node_get_object (root);

  /* The version before anything else: a newer document may well have
   * members this banger does not know. */
  if (!bgr_catalog_get_int (&c, obj, "", "schema_version", &schema_version, error))
    return NULL;
  if (schema_version > BGR_CATALOG_SCHEMA_VERSION)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "catalog %s: schema_version %" G_GINT64_FORMAT " is newer than this banger "
                   "supports (%d); update banger", url, schema_version, BGR_CATALOG_SCHEMA_VERSION);
      return NULL;
    }
  if (schema_version < 1)
    {
      bgr_catalog_fail (&c, error, "schema_version %" G_GINT64_FORMAT " is not valid", schema_version);
      return NULL;
    }
  if (!bgr_catalog_check_members (&c, obj, "", top_members, error))
    return NULL;
  kernels_node = bgr_catalog_get_member (obj, "kernels");
  if (kernels_node == NULL)
    {
      bgr_catalog_fail (&c, error, "kernels is missing");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_ARRAY (kernels_node))
    {
      bgr_catalog_fail (&c, error, "kernels is not an array");
      return NULL;
    }
  kernels = json_node_get_array (kernels_node);

  catalog = g_atomic_rc_box_new0 (BgrCatalog);
  catalog->url = g_strdup (url);
  catalog->schema_version = schema_version;
  catalog->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  /* name -> index + 1 of the entry that has it */
  seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < json_array_get_length (kernels); i++)
    {
      BgrCatalogEntry *e;
      gpointer first;

      c.index = (gint) i;
      e = parse_entry (&c, json_array_get_element (kernels, i), error);
      if (e == NULL)
        return NULL;
      g_ptr_array_add (catalog->entries, e);
      first = g_hash_table_lookup (seen, e->name);
      if (first != NULL)
        {
          bgr_catalog_fail (&c, error, "name is already used by kernels[%u]", GPOINTER_TO_UINT (first) - 1);
          return NULL;
        }
      g_hash_table_insert (seen, e->name, GUINT_TO_POINTER (i + 1));
    }
  return g_steal_pointer (&catalog);
}

BgrCatalog *
bgr_catalog_load (SoupSession *session, const char *location, GCancellable *cancellable,
                  GError **error)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autofree char *url = NULL;
  const char *scheme;
  GError *local = NULL;
  const char *data;
  gsize len;

  g_return_val_if_fail (location != NULL, NULL);

  /* Only these schemes make a URL; anything else is a path, even one with
   * a colon in it. */
  scheme = g_uri_peek_scheme (location);
  if (scheme != NULL
      && (g_str_equal (scheme, "http") || g_str_equal (scheme, "https")
          || g_str_equal (scheme, "file")))
    url = g_strdup (location);
  else
    {
      g_autofree char *path = g_canonicalize_filename (location, NULL);

      url = g_filename_to_uri (path, NULL, &local);
      if (url == NULL)
        {
          bgr_propagate_error (error, local, "kernel catalog %s", location);
          return NULL;
        }
    }

  bytes = bgr_download_bytes (session, url, BGR_CATALOG_MAX_SIZE, cancellable, &local);
  if (bytes == NULL)
    {
      bgr_propagate_error (error, local, "cannot load kernel catalog");
      return NULL;
    }
  data = g_bytes_get_data (bytes, &len);
  return bgr_catalog_new_from_data (data, len, url, error);
}
