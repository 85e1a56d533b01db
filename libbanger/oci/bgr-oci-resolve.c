/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resolving a reference to one image: its manifest (through an index for
 * a platform), verified by digest, and its config. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "bgr-error-private.h"
#include "bgr-sha256-private.h"
#include "oci/bgr-oci-client-private.h"

#define MANIFEST_ACCEPT                                                                   \
  BGR_OCI_MEDIA_TYPE_INDEX ", " BGR_OCI_MEDIA_TYPE_MANIFEST ", " BGR_DOCKER_MEDIA_TYPE_LIST \
  ", " BGR_DOCKER_MEDIA_TYPE_MANIFEST

static char *
sha256_digest (GBytes *data)
{
  gsize len = 0;
  const void *bytes = g_bytes_get_data (data, &len);
  g_autofree char *hex = bgr_sha256_hex (bytes, len);
  return g_strconcat ("sha256:", hex, NULL);
}

/* Verifies @body against what was asked for (@expected_digest may be
 * NULL when pulling by tag) and what the registry claims. */
static gboolean
verify_content (const char *what, GBytes *body, const char *expected_digest, gint64 expected_size,
                const char *claimed_digest, char **out_digest, GError **error)
{
  g_autofree char *actual = sha256_digest (body);

  if (expected_size >= 0 && g_bytes_get_size (body) != (gsize) expected_size)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s: size mismatch: expected %" G_GINT64_FORMAT " bytes, got %zu", what,
                   expected_size, g_bytes_get_size (body));
      return FALSE;
    }
  if (expected_digest != NULL && !g_str_has_prefix (expected_digest, "sha256:"))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "%s: cannot verify digest %s: only sha256 is supported", what, expected_digest);
      return FALSE;
    }
  if (expected_digest != NULL && strcmp (actual, expected_digest) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s: digest mismatch: expected %s, got %s", what, expected_digest, actual);
      return FALSE;
    }
  /* By tag nothing else vouches for the content; a registry that
   * announces one digest and sends other bytes is not trusted either. */
  if (claimed_digest != NULL && g_str_has_prefix (claimed_digest, "sha256:")
      && strcmp (actual, claimed_digest) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s: digest mismatch: the registry announced %s, the content is %s", what,
                   claimed_digest, actual);
      return FALSE;
    }
  if (out_digest != NULL)
    *out_digest = g_steal_pointer (&actual);
  return TRUE;
}

static BgrOciManifest *
fetch_manifest (BgrOciRegistry *r, const char *reference, const char *expected_digest,
                gint64 expected_size, const char *expected_type, const char *what,
                char **out_digest, GCancellable *cancellable, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/v2/%s/manifests/%s", r->ref.repository, reference);
  g_auto (BgrOciResponse) resp = { 0 };
  BgrOciManifest *m;

  if (!bgr_oci_registry_request (r, SOUP_METHOD_GET, path, MANIFEST_ACCEPT, MANIFEST_MAX_SIZE, what, &resp,
                         cancellable, error))
    return NULL;
  if (!verify_content (what, resp.body, expected_digest, expected_size, resp.docker_digest,
                       out_digest, error))
    return NULL;
  /* The descriptor that led here decides what the document must be; a
   * registry's Content-Type only when nothing else does. */
  m = bgr_oci_manifest_parse (resp.body, expected_type != NULL ? expected_type : resp.content_type,
                              error);
  if (m == NULL)
    g_prefix_error (error, "%s: manifest: ", what);
  return m;
}

static gboolean
layer_type_is_supported (const char *t)
{
  static const char *const types[] = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    if (strcmp (t, types[i]) == 0)
      return TRUE;
  return FALSE;
}

static void
entry_free (BgrOciIndexEntry *e)
{
  g_free (e->os);
  g_free (e->architecture);
  g_free (e->variant);
  g_free (e);
}

/* The image's own platform must be the one asked for: a single-platform
 * tag says nothing about its architecture until the config is read. */
static gboolean
check_config_platform (BgrOciRegistry *r, JsonObject *config, const char *platform, GError **error)
{
  g_autoptr (BgrOciManifest) single = g_new0 (BgrOciManifest, 1);
  BgrOciIndexEntry *e = g_new0 (BgrOciIndexEntry, 1);

  /* A one-entry index, so the same matching rules (aliases, variants)
   * and the same "available: …" message apply. */
  single->is_index = TRUE;
  single->manifests = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  e->os = g_strdup (json_object_get_string_member_with_default (config, "os", ""));
  e->architecture = g_strdup (json_object_get_string_member_with_default (config, "architecture", ""));
  e->variant = g_strdup (json_object_get_string_member_with_default (config, "variant", NULL));
  g_ptr_array_add (single->manifests, e);
  if (bgr_oci_manifest_select (single, platform, error) == NULL)
    {
      g_prefix_error (error, "%s: ", r->display);
      return FALSE;
    }
  return TRUE;
}

BgrOciImage *
bgr_oci_registry_resolve (BgrOciRegistry *r, const char *platform, GCancellable *cancellable,
                          GError **error)
{
  g_autofree char *host_platform = NULL;
  g_autoptr (BgrOciManifest) top = NULL;
  g_autoptr (BgrOciManifest) image = NULL;
  g_autoptr (BgrOciImage) img = g_new0 (BgrOciImage, 1);
  g_auto (BgrOciResponse) resp = { 0 };
  g_autofree char *top_digest = NULL;
  g_autofree char *image_digest = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *config_what = NULL;
  JsonNode *diff_ids;
  const char *reference;
  gboolean from_index;

  g_return_val_if_fail (r != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (platform == NULL)
    platform = host_platform = bgr_oci_platform_host ();
  reference = r->ref.digest != NULL ? r->ref.digest : r->ref.tag;
  top = fetch_manifest (r, reference, r->ref.digest, -1, NULL, r->display, &top_digest, cancellable,
                        error);
  if (top == NULL)
    return NULL;

  from_index = top->is_index;
  if (from_index)
    {
      const BgrOciIndexEntry *e = bgr_oci_manifest_select (top, platform, error);
      g_autofree char *what = NULL;

      if (e == NULL)
        {
          g_prefix_error (error, "%s: ", r->display);
          return NULL;
        }
      what = g_strdup_printf ("%s (%s, %s)", r->display, platform, e->desc.digest);
      if (!g_str_has_prefix (e->desc.media_type, "application/vnd.oci.image.manifest")
          && !g_str_has_prefix (e->desc.media_type, "application/vnd.docker.distribution.manifest.v2"))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                       "%s: the index points to a %s, not an image manifest", what,
                       e->desc.media_type);
          return NULL;
        }
      image = fetch_manifest (r, e->desc.digest, e->desc.digest, e->desc.size, e->desc.media_type,
                              what, &image_digest, cancellable, error);
      if (image == NULL)
        return NULL;
      if (image->is_index)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                       "%s: an index entry for an image manifest points to an index", what);
          return NULL;
        }
    }
  else
    {
      image = g_steal_pointer (&top);
      image_digest = g_strdup (top_digest);
    }

  if (strcmp (image->config->media_type, BGR_OCI_MEDIA_TYPE_CONFIG) != 0
      && strcmp (image->config->media_type, BGR_DOCKER_MEDIA_TYPE_CONFIG) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "%s is not a container image (its config is %s)", r->display,
                   image->config->media_type);
      return NULL;
    }
  for (guint i = 0; i < image->layers->len; i++)
    {
      const BgrOciDescriptor *d = image->layers->pdata[i];
      if (!layer_type_is_supported (d->media_type))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                       "%s: layer %u (%s) has media type %s, which is not supported", r->display,
                       i, d->digest, d->media_type);
          return NULL;
        }
    }

  if (image->config->size > CONFIG_MAX_SIZE)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s: the image config is %" G_GINT64_FORMAT " bytes, more than the %d allowed",
                   r->display, image->config->size, CONFIG_MAX_SIZE);
      return NULL;
    }
  config_path = g_strdup_printf ("/v2/%s/blobs/%s", r->ref.repository, image->config->digest);
  config_what = g_strdup_printf ("%s: config %s", r->display, image->config->digest);
  {
    /* The config is a blob like the layers: cached by digest, so a pull
     * whose blobs are all cached fetches only the manifest. */
    g_autofree char *cached = r->cache_dir == NULL || strncmp (image->config->digest, "sha256:", 7) != 0
                                ? NULL
                                : g_build_filename (r->cache_dir, "oci", "blobs", "sha256",
                                                    image->config->digest + 7, NULL);
    g_autofree char *data = NULL;
    gsize len = 0;
    gboolean from_cache = FALSE;

    if (cached != NULL && g_file_get_contents (cached, &data, &len, NULL)
        && len == (gsize) image->config->size)
      {
        g_autoptr (GBytes) bytes = g_bytes_new_take (g_steal_pointer (&data), len);
        /* A cached copy is used only if it still verifies; else refetch. */
        if (verify_content (config_what, bytes, image->config->digest, image->config->size, NULL,
                            NULL, NULL))
          {
            resp.body = g_steal_pointer (&bytes);
            from_cache = TRUE;
          }
        else
          g_unlink (cached);
      }
    if (!from_cache
        && !bgr_oci_registry_request (r, SOUP_METHOD_GET, config_path, NULL, (gsize) image->config->size,
                              config_what, &resp, cancellable, error))
      return NULL;
    if (!verify_content (config_what, resp.body, image->config->digest, image->config->size, NULL,
                         NULL, error))
      return NULL;
    if (cached != NULL && !from_cache)
      {
        g_autofree char *dir = g_path_get_dirname (cached);
        gsize blen = 0;
        const char *bdata = g_bytes_get_data (resp.body, &blen);
        /* Best effort: a cache that cannot be written only costs a download. */
        if (g_mkdir_with_parents (dir, 0700) == 0)
          g_file_set_contents (cached, bdata, (gssize) blen, NULL);
      }
  }
  img->config = bgr_oci_config_parse (resp.body, error);
  if (img->config == NULL)
    {
      g_prefix_error (error, "%s: ", r->display);
      return NULL;
    }
  diff_ids = json_object_get_member (json_object_get_object_member (img->config, "rootfs"), "diff_ids");
  if (json_array_get_length (json_node_get_array (diff_ids)) != image->layers->len)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s: the manifest has %u layers but the config lists %u", r->display,
                   image->layers->len, json_array_get_length (json_node_get_array (diff_ids)));
      return NULL;
    }
  for (guint i = 0; i < image->layers->len; i++)
    {
      const char *id = json_array_get_string_element (json_node_get_array (diff_ids), i);
      if (!g_str_has_prefix (id, "sha256:"))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                       "%s: the config's diff_ids[%u] is not a sha256 digest, which is all "
                       "banger can verify", r->display, i);
          return NULL;
        }
    }
  if (!from_index && !check_config_platform (r, img->config, platform, error))
    return NULL;

  img->digest = g_steal_pointer (&image_digest);
  img->ref_digest = g_steal_pointer (&top_digest);
  img->media_type = g_strdup (image->media_type);
  img->config_digest = g_strdup (image->config->digest);
  img->layers = g_ptr_array_ref (image->layers);
  return g_steal_pointer (&img);
}
