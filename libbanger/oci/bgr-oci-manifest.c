/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image manifests, indexes and configs: the rules of the OCI JSON schemas
 * (image-manifest-schema.json, image-index-schema.json,
 * content-descriptor.json, config-schema.json), written out in C. Docker's
 * schema 2 manifest and manifest list have the same shape and go through
 * the same checks. Everything here comes from outside, so every member is
 * type-checked before use and each error names the JSON path at fault. */
#include "config.h"

#include <string.h>
#include <sys/utsname.h>

#include "bgr-error-private.h"
#include "oci/bgr-oci-private.h"

void
bgr_oci_descriptor_free (BgrOciDescriptor *d)
{
  if (d == NULL)
    return;
  g_free (d->media_type);
  g_free (d->digest);
  g_free (d);
}

static void
index_entry_free (BgrOciIndexEntry *e)
{
  g_free (e->desc.media_type);
  g_free (e->desc.digest);
  g_free (e->os);
  g_free (e->architecture);
  g_free (e->variant);
  g_free (e);
}

void
bgr_oci_manifest_free (BgrOciManifest *m)
{
  if (m == NULL)
    return;
  g_free (m->media_type);
  bgr_oci_descriptor_free (m->config);
  g_clear_pointer (&m->layers, g_ptr_array_unref);
  g_clear_pointer (&m->manifests, g_ptr_array_unref);
  g_free (m);
}

static gboolean G_GNUC_PRINTF (3, 4)
invalid (GError **error, const char *path, const char *fmt, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "%s: %s", path, msg);
  return FALSE;
}

/* mediaType: ^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$ */
static gboolean
media_type_part_is_valid (const char *s, gsize len)
{
  if (len == 0 || len > 127 || !g_ascii_isalnum (s[0]))
    return FALSE;
  for (gsize i = 1; i < len; i++)
    if (!g_ascii_isalnum (s[i]) && strchr ("!#$&^_.+-", s[i]) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
media_type_is_valid (const char *s)
{
  const char *slash = strchr (s, '/');

  return slash != NULL && media_type_part_is_valid (s, slash - s)
         && media_type_part_is_valid (slash + 1, strlen (slash + 1));
}

static gboolean
is_index_type (const char *t)
{
  return g_strcmp0 (t, BGR_OCI_MEDIA_TYPE_INDEX) == 0 || g_strcmp0 (t, BGR_DOCKER_MEDIA_TYPE_LIST) == 0;
}

static gboolean
is_manifest_type (const char *t)
{
  return g_strcmp0 (t, BGR_OCI_MEDIA_TYPE_MANIFEST) == 0
         || g_strcmp0 (t, BGR_DOCKER_MEDIA_TYPE_MANIFEST) == 0;
}

static JsonNode *
member (JsonObject *obj, const char *name)
{
  return json_object_get_member (obj, name);
}

/* A required or optional string member; *out stays NULL when absent. */
static gboolean
get_string (JsonObject *obj, const char *path, const char *name, gboolean required,
            const char **out, GError **error)
{
  JsonNode *node = member (obj, name);

  *out = NULL;
  if (node == NULL)
    return required ? invalid (error, path, "'%s' is missing", name) : TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return invalid (error, path, "'%s' must be a string", name);
  *out = json_node_get_string (node);
  return TRUE;
}

static gboolean
check_string_map (JsonObject *obj, const char *path, const char *name, GError **error)
{
  JsonNode *node = member (obj, name);
  g_autoptr (GList) members = NULL;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return invalid (error, path, "'%s' must be an object", name);
  members = json_object_get_members (json_node_get_object (node));
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *v = json_object_get_member (json_node_get_object (node), l->data);
      if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_STRING)
        return invalid (error, path, "'%s.%s' must be a string", name, (const char *) l->data);
    }
  return TRUE;
}

static gboolean
check_string_array (JsonObject *obj, const char *path, const char *name, GError **error)
{
  JsonNode *node = member (obj, name);
  JsonArray *arr;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return invalid (error, path, "'%s' must be an array of strings", name);
  arr = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonNode *v = json_array_get_element (arr, i);
      if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_STRING)
        return invalid (error, path, "'%s[%u]' must be a string", name, i);
    }
  return TRUE;
}

static gboolean
get_media_type (JsonObject *obj, const char *path, const char *name, gboolean required,
                const char **out, GError **error)
{
  if (!get_string (obj, path, name, required, out, error))
    return FALSE;
  if (*out != NULL && !media_type_is_valid (*out))
    return invalid (error, path, "'%s' is not a valid media type: '%s'", name, *out);
  return TRUE;
}

/* content-descriptor.json: mediaType, size and digest required; urls,
 * annotations, data and artifactType checked when present. */
static gboolean
parse_descriptor (JsonNode *node, const char *path, BgrOciDescriptor *out, GError **error)
{
  JsonObject *obj;
  JsonNode *size;
  const char *media_type, *digest, *data, *artifact_type;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return invalid (error, path, "must be an object");
  obj = json_node_get_object (node);
  if (!get_media_type (obj, path, "mediaType", TRUE, &media_type, error)
      || !get_media_type (obj, path, "artifactType", FALSE, &artifact_type, error)
      || !get_string (obj, path, "digest", TRUE, &digest, error)
      || !get_string (obj, path, "data", FALSE, &data, error)
      || !check_string_array (obj, path, "urls", error)
      || !check_string_map (obj, path, "annotations", error))
    return FALSE;
  if (!bgr_oci_digest_is_valid (digest))
    return invalid (error, path, "'digest' is not a valid digest: '%s'", digest);
  size = member (obj, "size");
  if (size == NULL)
    return invalid (error, path, "'size' is missing");
  if (!JSON_NODE_HOLDS_VALUE (size) || json_node_get_value_type (size) != G_TYPE_INT64)
    return invalid (error, path, "'size' must be an integer");
  if (json_node_get_int (size) < 0)
    return invalid (error, path, "'size' must not be negative");
  out->media_type = g_strdup (media_type);
  out->digest = g_strdup (digest);
  out->size = json_node_get_int (size);
  return TRUE;
}

static gboolean
parse_platform (JsonNode *node, const char *path, BgrOciIndexEntry *e, GError **error)
{
  g_autofree char *ppath = g_strdup_printf ("%s.platform", path);
  JsonObject *obj;
  const char *os, *arch, *variant, *os_version;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return invalid (error, ppath, "must be an object");
  obj = json_node_get_object (node);
  if (!get_string (obj, ppath, "architecture", TRUE, &arch, error)
      || !get_string (obj, ppath, "os", TRUE, &os, error)
      || !get_string (obj, ppath, "variant", FALSE, &variant, error)
      || !get_string (obj, ppath, "os.version", FALSE, &os_version, error)
      || !check_string_array (obj, ppath, "os.features", error))
    return FALSE;
  e->os = g_strdup (os);
  e->architecture = g_strdup (arch);
  e->variant = g_strdup (variant);
  return TRUE;
}

static gboolean
check_schema_version (JsonObject *root, GError **error)
{
  JsonNode *v = member (root, "schemaVersion");

  if (v == NULL)
    return invalid (error, "schemaVersion", "missing");
  if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_INT64)
    return invalid (error, "schemaVersion", "must be an integer");
  if (json_node_get_int (v) == 1)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "Docker image manifest schema 1 is not supported (push the image again with a "
                   "current tool)");
      return FALSE;
    }
  if (json_node_get_int (v) != 2)
    return invalid (error, "schemaVersion", "must be 2, not %" G_GINT64_FORMAT,
                    json_node_get_int (v));
  return TRUE;
}

static gboolean
parse_image_manifest (JsonObject *root, BgrOciManifest *m, GError **error)
{
  JsonNode *layers = member (root, "layers");
  JsonArray *arr;

  m->config = g_new0 (BgrOciDescriptor, 1);
  if (member (root, "config") == NULL)
    return invalid (error, "config", "missing");
  if (!parse_descriptor (member (root, "config"), "config", m->config, error))
    return FALSE;
  if (member (root, "subject") != NULL)
    {
      g_autoptr (BgrOciDescriptor) subject = g_new0 (BgrOciDescriptor, 1);
      if (!parse_descriptor (member (root, "subject"), "subject", subject, error))
        return FALSE;
    }
  if (layers == NULL)
    return invalid (error, "layers", "missing");
  if (!JSON_NODE_HOLDS_ARRAY (layers))
    return invalid (error, "layers", "must be an array");
  arr = json_node_get_array (layers);
  if (json_array_get_length (arr) == 0)
    return invalid (error, "layers", "must hold at least one layer");
  m->layers = g_ptr_array_new_with_free_func ((GDestroyNotify) bgr_oci_descriptor_free);
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      g_autofree char *path = g_strdup_printf ("layers[%u]", i);
      BgrOciDescriptor *d = g_new0 (BgrOciDescriptor, 1);

      g_ptr_array_add (m->layers, d);
      if (!parse_descriptor (json_array_get_element (arr, i), path, d, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
parse_index (JsonObject *root, BgrOciManifest *m, GError **error)
{
  JsonNode *manifests = member (root, "manifests");
  JsonArray *arr;

  if (manifests == NULL)
    return invalid (error, "manifests", "missing");
  if (!JSON_NODE_HOLDS_ARRAY (manifests))
    return invalid (error, "manifests", "must be an array");
  arr = json_node_get_array (manifests);
  m->manifests = g_ptr_array_new_with_free_func ((GDestroyNotify) index_entry_free);
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      g_autofree char *path = g_strdup_printf ("manifests[%u]", i);
      BgrOciIndexEntry *e = g_new0 (BgrOciIndexEntry, 1);
      JsonNode *node = json_array_get_element (arr, i);

      g_ptr_array_add (m->manifests, e);
      if (!parse_descriptor (node, path, &e->desc, error)
          || !parse_platform (member (json_node_get_object (node), "platform"), path, e, error))
        return FALSE;
    }
  return TRUE;
}

BgrOciManifest *
bgr_oci_manifest_parse (GBytes *data, const char *media_type, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (BgrOciManifest) m = g_new0 (BgrOciManifest, 1);
  g_autoptr (GError) local = NULL;
  JsonObject *root;
  const char *doc_type, *artifact_type;
  gsize len;
  const char *bytes = g_bytes_get_data (data, &len);

  if (!json_parser_load_from_data (parser, len > 0 ? bytes : "", (gssize) len, &local))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "not valid JSON: %s", local->message);
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "not a JSON object");
      return NULL;
    }
  root = json_node_get_object (json_parser_get_root (parser));

  /* "application/json" (or nothing) is what some registries send for
   * anything: the document's own mediaType decides then. */
  if (media_type != NULL && (*media_type == '\0' || g_ascii_strcasecmp (media_type, "application/json") == 0))
    media_type = NULL;
  if (g_strcmp0 (media_type, BGR_DOCKER_MEDIA_TYPE_MANIFEST_V1) == 0
      || g_strcmp0 (media_type, "application/vnd.docker.distribution.manifest.v1+prettyjws") == 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "Docker image manifest schema 1 is not supported (push the image again with a "
                   "current tool)");
      return NULL;
    }
  if (!check_schema_version (root, error)
      || !get_media_type (root, "manifest", "mediaType", FALSE, &doc_type, error)
      || !get_media_type (root, "manifest", "artifactType", FALSE, &artifact_type, error)
      || !check_string_map (root, "manifest", "annotations", error))
    return NULL;

  /* The spec: a descriptor's mediaType and the document's must agree, or
   * a manifest could be passed off as another kind of document. */
  if (media_type != NULL && doc_type != NULL && strcmp (media_type, doc_type) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "the document says it is %s but was served as %s", doc_type, media_type);
      return NULL;
    }
  if (media_type == NULL)
    media_type = doc_type;
  if (media_type == NULL)
    {
      /* OCI allows leaving mediaType out; Docker's formats always have it. */
      if (member (root, "manifests") != NULL)
        media_type = BGR_OCI_MEDIA_TYPE_INDEX;
      else if (member (root, "config") != NULL || member (root, "layers") != NULL)
        media_type = BGR_OCI_MEDIA_TYPE_MANIFEST;
      else
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                       "neither an image manifest nor an index (no mediaType, config or manifests)");
          return NULL;
        }
    }
  if (!is_index_type (media_type) && !is_manifest_type (media_type))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "media type %s is not an image manifest or index", media_type);
      return NULL;
    }
  m->media_type = g_strdup (media_type);
  m->is_index = is_index_type (media_type);
  /* An index with image members or the reverse is a confused document. */
  if (m->is_index && (member (root, "config") != NULL || member (root, "layers") != NULL))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "an index (%s) must not have 'config' or 'layers'", media_type);
      return NULL;
    }
  if (!m->is_index && member (root, "manifests") != NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "an image manifest (%s) must not have 'manifests'", media_type);
      return NULL;
    }
  if (m->is_index ? !parse_index (root, m, error) : !parse_image_manifest (root, m, error))
    return NULL;
  return g_steal_pointer (&m);
}

/* GOARCH names, which registries use, for the names uname and Debian use. */
static const char *
normalize_arch (const char *arch, const char **variant)
{
  static const struct { const char *alias, *arch, *variant; } aliases[] = {
    { "x86_64", "amd64", NULL },
    { "x86-64", "amd64", NULL },
    { "aarch64", "arm64", NULL },
    { "armhf", "arm", "v7" },
    { "armel", "arm", "v6" },
    { "i386", "386", NULL },
    { "i686", "386", NULL },
    { "ppc64el", "ppc64le", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (aliases); i++)
    if (g_ascii_strcasecmp (arch, aliases[i].alias) == 0)
      {
        if (variant != NULL && *variant == NULL)
          *variant = aliases[i].variant;
        return aliases[i].arch;
      }
  return arch;
}

char *
bgr_oci_platform_host (void)
{
#if defined(__x86_64__)
  return g_strdup ("linux/amd64");
#elif defined(__aarch64__)
  return g_strdup ("linux/arm64");
#else
  struct utsname u;
  const char *variant = NULL;
  const char *arch;

  if (uname (&u) != 0)
    return g_strdup ("linux/unknown");
  arch = normalize_arch (u.machine, &variant);
  return variant != NULL ? g_strdup_printf ("linux/%s/%s", arch, variant)
                         : g_strdup_printf ("linux/%s", arch);
#endif
}

static char *
entry_platform (const BgrOciIndexEntry *e)
{
  if (e->variant != NULL && *e->variant != '\0')
    return g_strdup_printf ("%s/%s/%s", e->os, e->architecture, e->variant);
  return g_strdup_printf ("%s/%s", e->os, e->architecture);
}

const BgrOciIndexEntry *
bgr_oci_manifest_select (const BgrOciManifest *index, const char *platform, GError **error)
{
  g_auto (GStrv) parts = NULL;
  g_autoptr (GString) have = NULL;
  const char *want_os, *want_arch, *want_variant = NULL;

  g_return_val_if_fail (index != NULL && index->is_index, NULL);
  g_return_val_if_fail (platform != NULL, NULL);

  parts = g_strsplit (platform, "/", 0);
  if (g_strv_length (parts) < 2 || g_strv_length (parts) > 3 || *parts[0] == '\0' || *parts[1] == '\0'
      || (parts[2] != NULL && *parts[2] == '\0'))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid platform '%s' (expected os/architecture[/variant], e.g. linux/amd64)",
                   platform);
      return NULL;
    }
  want_os = parts[0];
  want_variant = parts[2];
  want_arch = normalize_arch (parts[1], &want_variant);

  for (guint i = 0; i < index->manifests->len; i++)
    {
      const BgrOciIndexEntry *e = index->manifests->pdata[i];
      const char *variant;

      if (e->os == NULL || g_strcmp0 (e->os, want_os) != 0
          || g_strcmp0 (normalize_arch (e->architecture, NULL), want_arch) != 0)
        continue;
      /* arm64 images rarely name their variant: absent means v8. */
      variant = e->variant;
      if (variant == NULL && strcmp (want_arch, "arm64") == 0)
        variant = "v8";
      if (want_variant != NULL && g_strcmp0 (variant, want_variant) != 0)
        continue;
      return e;
    }

  have = g_string_new (NULL);
  for (guint i = 0; i < index->manifests->len; i++)
    {
      const BgrOciIndexEntry *e = index->manifests->pdata[i];
      g_autofree char *p = NULL;

      /* Attestations and signatures hang off indexes as "unknown/unknown". */
      if (e->os == NULL || g_strcmp0 (e->os, "unknown") == 0)
        continue;
      p = entry_platform (e);
      g_string_append_printf (have, "%s%s", have->len > 0 ? ", " : "", p);
    }
  g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "no image for platform %s (available: %s)",
               platform, have->len > 0 ? have->str : "none");
  return NULL;
}

JsonObject *
bgr_oci_config_parse (GBytes *data, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local = NULL;
  JsonObject *root, *rootfs;
  JsonNode *node;
  const char *s;
  gsize len;
  const char *bytes = g_bytes_get_data (data, &len);

  if (!json_parser_load_from_data (parser, len > 0 ? bytes : "", (gssize) len, &local))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "image config: not valid JSON: %s",
                   local->message);
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "image config: not a JSON object");
      return NULL;
    }
  root = json_node_get_object (json_parser_get_root (parser));
  if (!get_string (root, "image config", "architecture", TRUE, &s, error)
      || !get_string (root, "image config", "os", TRUE, &s, error)
      || !get_string (root, "image config", "variant", FALSE, &s, error)
      || !get_string (root, "image config", "created", FALSE, &s, error)
      || !check_string_array (root, "image config", "os.features", error))
    return NULL;
  node = member (root, "config");
  if (node != NULL && !JSON_NODE_HOLDS_OBJECT (node) && !JSON_NODE_HOLDS_NULL (node))
    {
      invalid (error, "image config", "'config' must be an object");
      return NULL;
    }
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *c = json_node_get_object (node);
      if (!check_string_array (c, "image config.config", "Env", error))
        return NULL;
      for (guint i = 0; i < 2; i++)
        {
          const char *name = i == 0 ? "Entrypoint" : "Cmd";
          JsonNode *v = member (c, name);
          if (v != NULL && !JSON_NODE_HOLDS_NULL (v) && !check_string_array (c, "image config.config", name, error))
            return NULL;
        }
    }
  node = member (root, "rootfs");
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      invalid (error, "image config", "'rootfs' is missing or not an object");
      return NULL;
    }
  rootfs = json_node_get_object (node);
  if (!get_string (rootfs, "image config.rootfs", "type", TRUE, &s, error))
    return NULL;
  if (strcmp (s, "layers") != 0)
    {
      invalid (error, "image config.rootfs", "'type' must be \"layers\", not \"%s\"", s);
      return NULL;
    }
  node = member (rootfs, "diff_ids");
  if (node == NULL)
    {
      invalid (error, "image config.rootfs", "'diff_ids' is missing");
      return NULL;
    }
  if (!check_string_array (rootfs, "image config.rootfs", "diff_ids", error))
    return NULL;
  for (guint i = 0; i < json_array_get_length (json_node_get_array (node)); i++)
    {
      const char *id = json_array_get_string_element (json_node_get_array (node), i);
      if (!bgr_oci_digest_is_valid (id))
        {
          invalid (error, "image config.rootfs", "diff_ids[%u] is not a valid digest: '%s'", i, id);
          return NULL;
        }
    }
  return json_object_ref (root);
}
