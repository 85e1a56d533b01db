/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI pieces that need no registry: references, manifest/index/config
 * validation, platform selection, auth files and challenges. */
#include "config.h"

#include <string.h>

#include "bgr-error-private.h"
#include "oci/bgr-oci-private.h"

#define D1 "sha256:6ee3c84e5685a77a63fd8b3067dcfe8e8b86f2119592e4ade03df7e1597d0563"
#define D2 "sha256:2123bc7a1f1f0263d5af801be71f5267348ae5cd5d0e0e7fe8c6d79c9efd575f"

/* ---- references ---- */

static void
test_ref_valid (void)
{
  static const struct { const char *in, *registry, *repository, *tag, *digest; } cases[] = {
    { "alpine", "registry-1.docker.io", "library/alpine", "latest", NULL },
    { "alpine:3.19", "registry-1.docker.io", "library/alpine", "3.19", NULL },
    { "library/alpine@" D1, "registry-1.docker.io", "library/alpine", NULL, D1 },
    { "alpine:3.19@" D1, "registry-1.docker.io", "library/alpine", "3.19", D1 },
    { "docker.io/alpine", "registry-1.docker.io", "library/alpine", "latest", NULL },
    { "index.docker.io/user/img:v1", "registry-1.docker.io", "user/img", "v1", NULL },
    { "user/img", "registry-1.docker.io", "user/img", "latest", NULL },
    { "127.0.0.1:5000/x/y:tag", "127.0.0.1:5000", "x/y", "tag", NULL },
    { "127.0.0.1:5000/x/y", "127.0.0.1:5000", "x/y", "latest", NULL },
    { "localhost/foo", "localhost", "foo", "latest", NULL },
    { "localhost:5000/foo:1", "localhost:5000", "foo", "1", NULL },
    { "[::1]:5000/a/b:c", "[::1]:5000", "a/b", "c", NULL },
    { "ghcr.io/o/r:t", "ghcr.io", "o/r", "t", NULL },
    { "quay.io/a-b/c__d.e_f:V_1.2-x", "quay.io", "a-b/c__d.e_f", "V_1.2-x", NULL },
    { "my-reg.example.com:443/a/b/c/d", "my-reg.example.com:443", "a/b/c/d", "latest", NULL },
    { "a---b", "registry-1.docker.io", "library/a---b", "latest", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      BgrOciRef ref;
      g_autoptr (GError) error = NULL;

      g_test_message ("%s", cases[i].in);
      g_assert_true (bgr_oci_ref_parse (cases[i].in, &ref, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (ref.registry, ==, cases[i].registry);
      g_assert_cmpstr (ref.repository, ==, cases[i].repository);
      g_assert_cmpstr (ref.tag, ==, cases[i].tag);
      g_assert_cmpstr (ref.digest, ==, cases[i].digest);
      bgr_oci_ref_clear (&ref);
    }
}

static void
test_ref_invalid (void)
{
  static const struct { const char *in, *hint; } cases[] = {
    { "", "empty" },
    { "Alpine", "lowercase" },
    { "alpine:", "tag" },
    { "alpine:-x", "tag" },
    { "alpine:.x", "tag" },
    { "alpine@sha256:abc", "digest" },
    { "alpine@sha256:" "6EE3C84E5685A77A63FD8B3067DCFE8E8B86F2119592E4ADE03DF7E1597D0563", "digest" },
    { "alpine@md5:d41d8cd98f00b204e9800998ecf8427e", "sha256" },
    { "alpine@", "digest" },
    { "http://127.0.0.1:5000/x", "scheme" },
    { "https://ghcr.io/o/r", "scheme" },
    { "a/b//c", "repository" },
    { "a/_b", "repository" },
    { "a/b-", "repository" },
    { "a/b..c", "repository" },
    { "a/b___c", "repository" },
    { "ghcr.io/", "repository" },
    { "ghcr.io:99999/x", "registry" },
    { "-bad.io/x", "registry" },
    { "al pine", "space" },
    { "alpine:t\xc3\xa9", "non-ASCII" },
  };
  g_autofree char *long_tag = g_strdup_printf ("a:%0129d", 0);
  g_autofree char *long_name = g_strnfill (300, 'a');

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      BgrOciRef ref;
      g_autoptr (GError) error = NULL;

      g_test_message ("%s", cases[i].in);
      g_assert_false (bgr_oci_ref_parse (cases[i].in, &ref, &error));
      g_assert_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, cases[i].hint));
    }
  for (int i = 0; i < 2; i++)
    {
      BgrOciRef ref;
      g_autoptr (GError) error = NULL;

      g_assert_false (bgr_oci_ref_parse (i == 0 ? long_tag : long_name, &ref, &error));
      g_assert_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
    }
}

static void
test_ref_misc (void)
{
  BgrOciRef ref;
  g_autofree char *s = NULL;

  g_assert_true (bgr_oci_ref_parse ("127.0.0.1:5000/x/y:t@" D1, &ref, NULL));
  s = bgr_oci_ref_to_string (&ref);
  g_assert_cmpstr (s, ==, "127.0.0.1:5000/x/y:t@" D1);
  bgr_oci_ref_clear (&ref);

  g_assert_true (bgr_oci_registry_is_loopback ("127.0.0.1:5000"));
  g_assert_true (bgr_oci_registry_is_loopback ("127.1.2.3"));
  g_assert_true (bgr_oci_registry_is_loopback ("localhost:80"));
  g_assert_true (bgr_oci_registry_is_loopback ("[::1]:5000"));
  g_assert_false (bgr_oci_registry_is_loopback ("128.0.0.1"));
  g_assert_false (bgr_oci_registry_is_loopback ("127.example.com"));
  g_assert_false (bgr_oci_registry_is_loopback ("ghcr.io"));
  g_assert_false (bgr_oci_registry_is_loopback ("[::2]:5000"));

  g_assert_true (bgr_oci_digest_is_valid (D1));
  g_assert_true (bgr_oci_digest_is_valid ("sha512:" "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"));
  g_assert_true (bgr_oci_digest_is_valid ("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"));
  g_assert_false (bgr_oci_digest_is_valid ("sha256:abc"));
  g_assert_false (bgr_oci_digest_is_valid ("SHA256:" "6ee3c84e5685a77a63fd8b3067dcfe8e8b86f2119592e4ade03df7e1597d0563"));
  g_assert_false (bgr_oci_digest_is_valid ("sha256"));
  g_assert_false (bgr_oci_digest_is_valid (":abc"));
  g_assert_false (bgr_oci_digest_is_valid ("sha256:"));
  g_assert_false (bgr_oci_digest_is_valid ("sha_:abc"));
  g_assert_false (bgr_oci_digest_is_valid ("foo:a/b"));
}

/* ---- manifests ---- */

#define CONFIG_DESC "{\"mediaType\":\"" BGR_OCI_MEDIA_TYPE_CONFIG "\",\"digest\":\"" D1 "\",\"size\":559}"
#define LAYER_DESC "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D2 "\",\"size\":162}"
#define GOOD_MANIFEST \
  "{\"schemaVersion\":2,\"mediaType\":\"" BGR_OCI_MEDIA_TYPE_MANIFEST "\",\"config\":" CONFIG_DESC \
  ",\"layers\":[" LAYER_DESC "," LAYER_DESC "]}"
#define INDEX_ENTRY(arch) \
  "{\"mediaType\":\"" BGR_OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":499," \
  "\"platform\":{\"architecture\":\"" arch "\",\"os\":\"linux\"}}"

typedef struct {
  const char *name;
  const char *json;
  const char *media_type; /* as served */
  int code;               /* -1: valid */
  const char *hint;
} ManifestCase;

static const ManifestCase manifest_cases[] = {
  { "oci manifest", GOOD_MANIFEST, BGR_OCI_MEDIA_TYPE_MANIFEST, -1, NULL },
  { "oci manifest, served as json", GOOD_MANIFEST, "application/json", -1, NULL },
  { "oci manifest without mediaType",
    "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":[" LAYER_DESC "]}", NULL, -1, NULL },
  { "docker v2s2",
    "{\"schemaVersion\":2,\"mediaType\":\"" BGR_DOCKER_MEDIA_TYPE_MANIFEST "\",\"config\":{\"mediaType\":\""
    BGR_DOCKER_MEDIA_TYPE_CONFIG "\",\"size\":1,\"digest\":\"" D1 "\"},\"layers\":[{\"mediaType\":"
    "\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":2,\"digest\":\"" D2 "\"}]}",
    BGR_DOCKER_MEDIA_TYPE_MANIFEST, -1, NULL },
  { "with annotations, urls, subject",
    "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":[{\"mediaType\":\"a/b\",\"digest\":\"" D2
    "\",\"size\":0,\"urls\":[\"https://x/y\"],\"annotations\":{\"k\":\"v\"}}],\"subject\":" CONFIG_DESC
    ",\"annotations\":{\"a\":\"b\"}}", NULL, -1, NULL },
  { "oci index",
    "{\"schemaVersion\":2,\"mediaType\":\"" BGR_OCI_MEDIA_TYPE_INDEX "\",\"manifests\":[" INDEX_ENTRY ("amd64")
    "," INDEX_ENTRY ("arm64") "]}", BGR_OCI_MEDIA_TYPE_INDEX, -1, NULL },
  { "empty index", "{\"schemaVersion\":2,\"manifests\":[]}", NULL, -1, NULL },
  { "docker list",
    "{\"schemaVersion\":2,\"mediaType\":\"" BGR_DOCKER_MEDIA_TYPE_LIST "\",\"manifests\":[" INDEX_ENTRY ("amd64") "]}",
    BGR_DOCKER_MEDIA_TYPE_LIST, -1, NULL },

  { "not json", "{", NULL, BGR_ERROR_INVALID_DATA, "JSON" },
  { "not an object", "[]", NULL, BGR_ERROR_INVALID_DATA, "object" },
  { "no schemaVersion", "{\"config\":" CONFIG_DESC ",\"layers\":[" LAYER_DESC "]}", NULL,
    BGR_ERROR_INVALID_DATA, "schemaVersion" },
  { "schemaVersion 3", "{\"schemaVersion\":3,\"config\":" CONFIG_DESC ",\"layers\":[" LAYER_DESC "]}",
    NULL, BGR_ERROR_INVALID_DATA, "schemaVersion" },
  { "schemaVersion string", "{\"schemaVersion\":\"2\",\"config\":" CONFIG_DESC ",\"layers\":[" LAYER_DESC "]}",
    NULL, BGR_ERROR_INVALID_DATA, "schemaVersion" },
  { "schemaVersion 2.0", "{\"schemaVersion\":2.0,\"config\":" CONFIG_DESC ",\"layers\":[" LAYER_DESC "]}",
    NULL, BGR_ERROR_INVALID_DATA, "schemaVersion" },
  { "schema 1", "{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}", NULL, BGR_ERROR_NOT_SUPPORTED, "schema 1" },
  { "schema 1 served", "{}", BGR_DOCKER_MEDIA_TYPE_MANIFEST_V1, BGR_ERROR_NOT_SUPPORTED, "schema 1" },
  { "no config", "{\"schemaVersion\":2,\"layers\":[" LAYER_DESC "]}", NULL, BGR_ERROR_INVALID_DATA, "config" },
  { "no layers", "{\"schemaVersion\":2,\"config\":" CONFIG_DESC "}", NULL, BGR_ERROR_INVALID_DATA, "layers" },
  { "zero layers", "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":[]}", NULL,
    BGR_ERROR_INVALID_DATA, "at least one" },
  { "layers not an array", "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":{}}", NULL,
    BGR_ERROR_INVALID_DATA, "array" },
  { "bad media type", "{\"schemaVersion\":2,\"mediaType\":\"not a type\",\"config\":" CONFIG_DESC
    ",\"layers\":[" LAYER_DESC "]}", NULL, BGR_ERROR_INVALID_DATA, "media type" },
  { "unknown document type", "{\"schemaVersion\":2,\"mediaType\":\"text/plain\",\"config\":" CONFIG_DESC
    ",\"layers\":[" LAYER_DESC "]}", NULL, BGR_ERROR_NOT_SUPPORTED, "text/plain" },
  { "served as another type", GOOD_MANIFEST, BGR_DOCKER_MEDIA_TYPE_MANIFEST, BGR_ERROR_INVALID_DATA,
    "served as" },
  { "index with layers", "{\"schemaVersion\":2,\"mediaType\":\"" BGR_OCI_MEDIA_TYPE_INDEX "\",\"manifests\":[],"
    "\"layers\":[" LAYER_DESC "]}", NULL, BGR_ERROR_INVALID_DATA, "layers" },
  { "manifest with manifests", "{\"schemaVersion\":2,\"mediaType\":\"" BGR_OCI_MEDIA_TYPE_MANIFEST "\",\"config\":"
    CONFIG_DESC ",\"layers\":[" LAYER_DESC "],\"manifests\":[]}", NULL, BGR_ERROR_INVALID_DATA, "manifests" },
  { "bad layer digest", "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":[{\"mediaType\":\"a/b\","
    "\"digest\":\"sha256:1234\",\"size\":1}]}", NULL, BGR_ERROR_INVALID_DATA, "layers[0]" },
  { "uppercase digest", "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":[{\"mediaType\":\"a/b\","
    "\"digest\":\"sha256:2123BC7A1F1F0263D5AF801BE71F5267348AE5CD5D0E0E7FE8C6D79C9EFD575F\",\"size\":1}]}",
    NULL, BGR_ERROR_INVALID_DATA, "digest" },
  { "digest missing", "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":[{\"mediaType\":\"a/b\","
    "\"size\":1}]}", NULL, BGR_ERROR_INVALID_DATA, "'digest' is missing" },
  { "size missing", "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":[{\"mediaType\":\"a/b\","
    "\"digest\":\"" D2 "\"}]}", NULL, BGR_ERROR_INVALID_DATA, "'size' is missing" },
  { "negative size", "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":[{\"mediaType\":\"a/b\","
    "\"digest\":\"" D2 "\",\"size\":-1}]}", NULL, BGR_ERROR_INVALID_DATA, "negative" },
  { "size as string", "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":[{\"mediaType\":\"a/b\","
    "\"digest\":\"" D2 "\",\"size\":\"1\"}]}", NULL, BGR_ERROR_INVALID_DATA, "integer" },
  { "mediaType missing in layer", "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":[{"
    "\"digest\":\"" D2 "\",\"size\":1}]}", NULL, BGR_ERROR_INVALID_DATA, "mediaType" },
  { "bad config media type", "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"/x\",\"digest\":\"" D1
    "\",\"size\":1},\"layers\":[" LAYER_DESC "]}", NULL, BGR_ERROR_INVALID_DATA, "config" },
  { "annotation not a string", "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":[" LAYER_DESC
    "],\"annotations\":{\"a\":1}}", NULL, BGR_ERROR_INVALID_DATA, "annotations" },
  { "urls not strings", "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":[{\"mediaType\":\"a/b\","
    "\"digest\":\"" D2 "\",\"size\":1,\"urls\":[1]}]}", NULL, BGR_ERROR_INVALID_DATA, "urls" },
  { "index without manifests", "{\"schemaVersion\":2,\"mediaType\":\"" BGR_OCI_MEDIA_TYPE_INDEX "\"}", NULL,
    BGR_ERROR_INVALID_DATA, "manifests" },
  { "platform without os", "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" BGR_OCI_MEDIA_TYPE_MANIFEST
    "\",\"digest\":\"" D1 "\",\"size\":1,\"platform\":{\"architecture\":\"amd64\"}}]}", NULL,
    BGR_ERROR_INVALID_DATA, "'os' is missing" },
  { "index entry without size", "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" BGR_OCI_MEDIA_TYPE_MANIFEST
    "\",\"digest\":\"" D1 "\"}]}", NULL, BGR_ERROR_INVALID_DATA, "manifests[0]" },
};

static void
test_manifest_table (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (manifest_cases); i++)
    {
      const ManifestCase *c = &manifest_cases[i];
      g_autoptr (GBytes) data = g_bytes_new_static (c->json, strlen (c->json));
      g_autoptr (GError) error = NULL;
      g_autoptr (BgrOciManifest) m = NULL;

      g_test_message ("case: %s", c->name);
      m = bgr_oci_manifest_parse (data, c->media_type, &error);
      if (c->code < 0)
        {
          g_assert_no_error (error);
          g_assert_nonnull (m);
          g_assert_nonnull (m->media_type);
          if (m->is_index)
            g_assert_nonnull (m->manifests);
          else
            g_assert_cmpuint (m->layers->len, >=, 1);
        }
      else
        {
          g_assert_null (m);
          g_assert_error (error, BGR_ERROR, c->code);
          if (strstr (error->message, c->hint) == NULL)
            g_error ("case %s: \"%s\" lacks \"%s\"", c->name, error->message, c->hint);
        }
    }
}

static void
test_manifest_contents (void)
{
  g_autoptr (GBytes) data = g_bytes_new_static (GOOD_MANIFEST, strlen (GOOD_MANIFEST));
  g_autoptr (BgrOciManifest) m = bgr_oci_manifest_parse (data, NULL, NULL);
  const BgrOciDescriptor *l;

  g_assert_nonnull (m);
  g_assert_false (m->is_index);
  g_assert_cmpstr (m->media_type, ==, BGR_OCI_MEDIA_TYPE_MANIFEST);
  g_assert_cmpstr (m->config->digest, ==, D1);
  g_assert_cmpint (m->config->size, ==, 559);
  g_assert_cmpuint (m->layers->len, ==, 2);
  l = m->layers->pdata[1];
  g_assert_cmpstr (l->media_type, ==, "application/vnd.oci.image.layer.v1.tar+gzip");
  g_assert_cmpstr (l->digest, ==, D2);
  g_assert_cmpint (l->size, ==, 162);
}

static void
test_platform_select (void)
{
  static const char json[] =
    "{\"schemaVersion\":2,\"manifests\":["
    "{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\",\"size\":1,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"a/b\",\"digest\":\"" D2 "\",\"size\":2,\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}},"
    "{\"mediaType\":\"a/b\",\"digest\":\"" D2 "\",\"size\":3,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"a/b\",\"digest\":\"" D2 "\",\"size\":4,\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"}},"
    "{\"mediaType\":\"a/b\",\"digest\":\"" D2 "\",\"size\":5}]}";
  g_autoptr (GBytes) data = g_bytes_new_static (json, strlen (json));
  g_autoptr (BgrOciManifest) m = bgr_oci_manifest_parse (data, NULL, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *host = bgr_oci_platform_host ();
  const BgrOciIndexEntry *e;

  g_assert_nonnull (m);
  g_assert_true (m->is_index);
  g_assert_cmpint (bgr_oci_manifest_select (m, "linux/amd64", NULL)->desc.size, ==, 1);
  g_assert_cmpint (bgr_oci_manifest_select (m, "linux/x86_64", NULL)->desc.size, ==, 1);
  g_assert_cmpint (bgr_oci_manifest_select (m, "linux/arm64", NULL)->desc.size, ==, 3);
  g_assert_cmpint (bgr_oci_manifest_select (m, "linux/aarch64", NULL)->desc.size, ==, 3);
  g_assert_cmpint (bgr_oci_manifest_select (m, "linux/arm64/v8", NULL)->desc.size, ==, 3);
  g_assert_cmpint (bgr_oci_manifest_select (m, "linux/arm/v7", NULL)->desc.size, ==, 2);
  g_assert_cmpint (bgr_oci_manifest_select (m, "linux/armhf", NULL)->desc.size, ==, 2);
  g_assert_cmpint (bgr_oci_manifest_select (m, "linux/arm", NULL)->desc.size, ==, 2);

  e = bgr_oci_manifest_select (m, "linux/s390x", &error);
  g_assert_null (e);
  g_assert_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "linux/amd64, linux/arm/v7, linux/arm64"));
  g_assert_null (strstr (error->message, "unknown"));
  g_clear_error (&error);
  g_assert_null (bgr_oci_manifest_select (m, "linux/arm/v6", &error));
  g_assert_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (bgr_oci_manifest_select (m, "linux", &error));
  g_assert_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (bgr_oci_manifest_select (m, "linux//", &error));
  g_assert_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);

  g_assert_true (g_str_has_prefix (host, "linux/"));
}

static void
test_config (void)
{
  static const struct { const char *json; int code; } cases[] = {
    { "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\"]},"
      "\"config\":{\"Env\":[\"A=b\"],\"Cmd\":null,\"Entrypoint\":[\"/bin/sh\"]}}", -1 },
    { "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", -1 },
    { "{\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", BGR_ERROR_INVALID_DATA },
    { "{\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", BGR_ERROR_INVALID_DATA },
    { "{\"architecture\":\"amd64\",\"os\":\"linux\"}", BGR_ERROR_INVALID_DATA },
    { "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"foo\",\"diff_ids\":[]}}", BGR_ERROR_INVALID_DATA },
    { "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\"}}", BGR_ERROR_INVALID_DATA },
    { "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"x\"]}}", BGR_ERROR_INVALID_DATA },
    { "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},"
      "\"config\":{\"Env\":\"A=b\"}}", BGR_ERROR_INVALID_DATA },
    { "[1]", BGR_ERROR_INVALID_DATA },
    { "", BGR_ERROR_INVALID_DATA },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) data = g_bytes_new_static (cases[i].json, strlen (cases[i].json));
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonObject) config = bgr_oci_config_parse (data, &error);

      g_test_message ("config %zu: %s", i, cases[i].json);
      if (cases[i].code < 0)
        {
          g_assert_no_error (error);
          g_assert_nonnull (config);
        }
      else
        {
          g_assert_null (config);
          g_assert_error (error, BGR_ERROR, cases[i].code);
        }
    }
}

/* ---- credentials ---- */

static char *
b64 (const char *s)
{
  return g_base64_encode ((const guchar *) s, strlen (s));
}

static void
test_auth_parse (void)
{
  g_autofree char *a = b64 ("alice:secret:with:colons");
  g_autofree char *b = b64 ("bob:pw");
  g_autofree char *c = b64 ("carol:pw2");
  g_autofree char *json = g_strdup_printf (
    "{\"auths\":{"
    "\"127.0.0.1:5000\":{\"auth\":\"%s\"},"
    "\"https://index.docker.io/v1/\":{\"auth\":\"%s\"},"
    "\"quay.io\":{\"auth\":\"%s\"},"
    "\"quay.io/team\":{\"auth\":\"%s\"},"
    "\"helper.example.com\":{}"
    "},\"credsStore\":\"desktop\"}", a, b, b, c);
  static const struct { const char *registry, *repository, *user, *password; } cases[] = {
    { "127.0.0.1:5000", "x/y", "alice", "secret:with:colons" },
    { BGR_OCI_DOCKER_HUB, "library/alpine", "bob", "pw" },
    { "quay.io", "other/x", "bob", "pw" },
    { "quay.io", "team/x", "carol", "pw2" },
    { "quay.io", "teamx/y", "bob", "pw" },
    { "127.0.0.1:5001", "x/y", NULL, NULL },
    { "helper.example.com", "x", NULL, NULL },
    { "ghcr.io", "x", NULL, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *user = NULL;
      g_autofree char *password = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_true (bgr_oci_auth_parse (json, -1, "test.json", cases[i].registry,
                                         cases[i].repository, &user, &password, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (user, ==, cases[i].user);
      g_assert_cmpstr (password, ==, cases[i].password);
    }
}

static void
test_auth_parse_invalid (void)
{
  g_autofree char *nocolon = b64 ("nocolon");
  g_autofree char *bad_auth = g_strdup_printf ("{\"auths\":{\"r\":{\"auth\":\"%s\"}}}", nocolon);
  const char *const bad[] = {
    "{", "[]", "{\"auths\":[]}", "{\"auths\":{\"r\":{\"auth\":1}}}",
    "{\"auths\":{\"r\":{\"auth\":\"!!!\"}}}", bad_auth,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *user = NULL;
      g_autofree char *password = NULL;
      g_autoptr (GError) error = NULL;

      g_test_message ("%s", bad[i]);
      g_assert_false (bgr_oci_auth_parse (bad[i], -1, "test.json", "r", "x", &user, &password, &error));
      g_assert_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG);
      g_assert_nonnull (strstr (error->message, "test.json"));
      g_assert_null (user);
    }
  /* No auths at all is fine. */
  {
    g_autofree char *user = NULL;
    g_autofree char *password = NULL;
    g_assert_true (bgr_oci_auth_parse ("{}", -1, "t", "r", "x", &user, &password, NULL));
    g_assert_null (user);
  }
}

static void
test_auth_lookup (void)
{
  g_autofree char *ab = b64 ("u:p");
  g_autofree char *home_json = g_strdup_printf ("{\"auths\":{\"home.example\":{\"auth\":\"%s\"}}}", ab);
  g_autofree char *env_json = g_strdup_printf ("{\"auths\":{\"env.example\":{\"auth\":\"%s\"}}}", ab);
  g_autofree char *docker_dir = g_build_filename (g_get_home_dir (), ".docker", NULL);
  g_autofree char *home_file = g_build_filename (docker_dir, "config.json", NULL);
  g_autofree char *env_file = g_build_filename (g_get_user_config_dir (), "auth.json", NULL);
  char *user = NULL, *password = NULL, *source = NULL;

  g_unsetenv ("REGISTRY_AUTH_FILE");
  /* No file: no credentials, no error. */
  g_assert_true (bgr_oci_auth_lookup ("home.example", "x", &user, &password, &source, NULL));
  g_assert_null (user);
  g_assert_null (source);

  g_assert_cmpint (g_mkdir_with_parents (docker_dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (home_file, home_json, -1, NULL));
  g_assert_true (bgr_oci_auth_lookup ("home.example", "x", &user, &password, &source, NULL));
  g_assert_cmpstr (user, ==, "u");
  g_assert_cmpstr (password, ==, "p");
  g_assert_cmpstr (source, ==, home_file);
  g_clear_pointer (&user, g_free);
  g_clear_pointer (&password, g_free);
  g_clear_pointer (&source, g_free);

  /* REGISTRY_AUTH_FILE replaces ~/.docker/config.json. */
  g_mkdir_with_parents (g_get_user_config_dir (), 0700);
  g_assert_true (g_file_set_contents (env_file, env_json, -1, NULL));
  g_setenv ("REGISTRY_AUTH_FILE", env_file, TRUE);
  g_assert_true (bgr_oci_auth_lookup ("home.example", "x", &user, &password, &source, NULL));
  g_assert_null (user);
  g_assert_true (bgr_oci_auth_lookup ("env.example", "x", &user, &password, &source, NULL));
  g_assert_cmpstr (user, ==, "u");
  g_assert_cmpstr (source, ==, env_file);
  g_clear_pointer (&user, g_free);
  g_clear_pointer (&password, g_free);
  g_clear_pointer (&source, g_free);
  g_unsetenv ("REGISTRY_AUTH_FILE");
}

static void
test_challenge (void)
{
  g_autoptr (GHashTable) params = NULL;
  g_autofree char *scheme = bgr_oci_auth_parse_challenge (
    "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
    "scope=\"repository:library/alpine:pull\"", &params);
  g_autofree char *scheme2 = NULL;
  g_autoptr (GHashTable) params2 = NULL;

  g_assert_cmpstr (scheme, ==, "bearer");
  g_assert_cmpstr (g_hash_table_lookup (params, "realm"), ==, "https://auth.docker.io/token");
  g_assert_cmpstr (g_hash_table_lookup (params, "service"), ==, "registry.docker.io");
  g_assert_cmpstr (g_hash_table_lookup (params, "scope"), ==, "repository:library/alpine:pull");

  scheme2 = bgr_oci_auth_parse_challenge ("Basic realm=\"basic-realm\", charset=UTF-8", &params2);
  g_assert_cmpstr (scheme2, ==, "basic");
  g_assert_cmpstr (g_hash_table_lookup (params2, "realm"), ==, "basic-realm");
  g_assert_cmpstr (g_hash_table_lookup (params2, "charset"), ==, "UTF-8");
}

static void
test_registry_new (void)
{
  static const struct { const char *ref; guint flags; const char *base; } cases[] = {
    { "127.0.0.1:5000/x", 0, "http://127.0.0.1:5000" },
    { "localhost/x", 0, "http://localhost" },
    { "[::1]:5000/x", 0, "http://[::1]:5000" },
    { "ghcr.io/o/r", 0, "https://ghcr.io" },
    { "alpine", 0, "https://registry-1.docker.io" },
    { "10.0.0.1:5000/x", 0, "https://10.0.0.1:5000" },
    { "10.0.0.1:5000/x", BGR_OCI_INSECURE, "http://10.0.0.1:5000" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      BgrOciRef ref;
      g_autoptr (BgrOciRegistry) r = NULL;

      g_assert_true (bgr_oci_ref_parse (cases[i].ref, &ref, NULL));
      r = bgr_oci_registry_new (&ref, cases[i].flags, NULL);
      g_assert_nonnull (r);
      g_assert_cmpstr (bgr_oci_registry_get_base_url (r), ==, cases[i].base);
      bgr_oci_ref_clear (&ref);
    }
}

static void
test_redirect_policy (void)
{
  const struct
  {
    const char *from, *to;
    gboolean insecure, allowed;
  } cases[] = {
    { "https://ghcr.io/v2/x/blobs/a", "https://cdn.example/blob", FALSE, TRUE },
    { "https://ghcr.io/v2/x/blobs/a", "http://cdn.example/blob", FALSE, FALSE },
    { "https://ghcr.io/v2/x/blobs/a", "http://cdn.example/blob", TRUE, FALSE },
    { "https://ghcr.io/v2/x/blobs/a", "http://127.0.0.1/blob", FALSE, FALSE },
    { "http://127.0.0.1:5000/v2/x", "http://127.0.0.1:6000/blob", FALSE, TRUE },
    { "http://127.0.0.1:5000/v2/x", "http://[::1]:6000/blob", FALSE, TRUE },
    { "http://127.0.0.1:5000/v2/x", "http://cdn.example/blob", FALSE, FALSE },
    { "http://127.0.0.1:5000/v2/x", "http://cdn.example/blob", TRUE, TRUE },
    { "http://reg.lan/v2/x", "https://cdn.example/blob", TRUE, TRUE },
    { "https://ghcr.io/v2/x", "ftp://cdn.example/blob", FALSE, FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GUri) from = g_uri_parse (cases[i].from, G_URI_FLAGS_NONE, NULL);
      g_autoptr (GUri) to = g_uri_parse (cases[i].to, G_URI_FLAGS_NONE, NULL);
      const char *why = NULL;

      g_test_message ("%s -> %s", cases[i].from, cases[i].to);
      g_assert_cmpint (bgr_oci_redirect_allowed (from, to, cases[i].insecure, &why), ==,
                       cases[i].allowed);
      g_assert_true (cases[i].allowed || why != NULL);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/oci/ref/valid", test_ref_valid);
  g_test_add_func ("/oci/ref/invalid", test_ref_invalid);
  g_test_add_func ("/oci/ref/misc", test_ref_misc);
  g_test_add_func ("/oci/manifest/table", test_manifest_table);
  g_test_add_func ("/oci/manifest/contents", test_manifest_contents);
  g_test_add_func ("/oci/manifest/platform", test_platform_select);
  g_test_add_func ("/oci/config", test_config);
  g_test_add_func ("/oci/auth/parse", test_auth_parse);
  g_test_add_func ("/oci/auth/parse-invalid", test_auth_parse_invalid);
  g_test_add_func ("/oci/auth/lookup", test_auth_lookup);
  g_test_add_func ("/oci/auth/challenge", test_challenge);
  g_test_add_func ("/oci/registry/new", test_registry_new);
  g_test_add_func ("/oci/redirect-policy", test_redirect_policy);
  return g_test_run ();
}
