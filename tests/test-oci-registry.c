/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OCI client against a real registry: Debian's docker-registry
 * (distribution v2) on 127.0.0.1, with images built by umoci and pushed by
 * skopeo (tests/oci-registry.sh): an OCI image with two layers, the same
 * as Docker schema 2, and a linux/amd64 + linux/arm64 index, as OCI and as
 * a Docker manifest list. A second registry requires basic auth
 * (htpasswd). Nothing leaves 127.0.0.1. */
#include "config.h"

#include "oci-registry-harness.h"

static void
test_tag_oci (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BgrOciImage) img = resolve (anon_reg.host, "test/single:latest", "linux/amd64", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (img->digest, ==, digest_amd64);
  g_assert_cmpstr (img->ref_digest, ==, digest_amd64);
  g_assert_cmpstr (img->media_type, ==, BGR_OCI_MEDIA_TYPE_MANIFEST);
  g_assert_cmpuint (img->layers->len, ==, 2);
  for (guint i = 0; i < 2; i++)
    g_assert_cmpstr (((BgrOciDescriptor *) img->layers->pdata[i])->media_type, ==,
                     "application/vnd.oci.image.layer.v1.tar+gzip");
  g_assert_cmpstr (json_object_get_string_member (img->config, "architecture"), ==, "amd64");
  g_assert_cmpstr (json_object_get_string_member (img->config, "os"), ==, "linux");
  g_assert_true (bgr_oci_digest_is_valid (img->config_digest));
}

static void
test_tag_v2s2 (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BgrOciImage) oci = resolve (anon_reg.host, "test/single", "linux/amd64", &error);
  g_autoptr (BgrOciImage) img = resolve (anon_reg.host, "test/v2s2:latest", "linux/amd64", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (img->media_type, ==, BGR_DOCKER_MEDIA_TYPE_MANIFEST);
  g_assert_cmpstr (((BgrOciDescriptor *) img->layers->pdata[0])->media_type, ==,
                   "application/vnd.docker.image.rootfs.diff.tar.gzip");
  g_assert_cmpstr (img->digest, !=, digest_amd64);
  assert_layer_digests_equal (img, oci);
}

static void
test_by_digest (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *single = g_strdup_printf ("test/single@%s", digest_amd64);
  g_autofree char *multi = g_strdup_printf ("test/multi@%s", digest_multi);
  g_autofree char *both = g_strdup_printf ("test/single:whatever@%s", digest_amd64);
  g_autoptr (BgrOciImage) a = resolve (anon_reg.host, single, "linux/amd64", &error);
  g_autoptr (BgrOciImage) b = NULL;
  g_autoptr (BgrOciImage) c = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (a->digest, ==, digest_amd64);
  b = resolve (anon_reg.host, multi, "linux/arm64", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (b->digest, ==, digest_arm64);
  g_assert_cmpstr (b->ref_digest, ==, digest_multi);
  /* The digest wins over the tag (which does not even exist). */
  c = resolve (anon_reg.host, both, "linux/amd64", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (c->digest, ==, digest_amd64);
}

static void
test_platforms (void)
{
  const char *const repos[] = { "test/multi", "test/multi-v2s2" };

  for (gsize i = 0; i < G_N_ELEMENTS (repos); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (BgrOciImage) amd = resolve (anon_reg.host, repos[i], "linux/amd64", &error);
      g_autoptr (BgrOciImage) arm = NULL;
      g_autoptr (BgrOciImage) none = NULL;

      g_assert_no_error (error);
      g_assert_cmpuint (amd->layers->len, ==, 2);
      g_assert_cmpstr (json_object_get_string_member (amd->config, "architecture"), ==, "amd64");
      arm = resolve (anon_reg.host, repos[i], "linux/arm64", &error);
      g_assert_no_error (error);
      g_assert_cmpuint (arm->layers->len, ==, 1);
      g_assert_cmpstr (json_object_get_string_member (arm->config, "architecture"), ==, "arm64");
      g_assert_cmpstr (amd->ref_digest, ==, arm->ref_digest);
      if (i == 0)
        {
          g_assert_cmpstr (amd->digest, ==, digest_amd64);
          g_assert_cmpstr (arm->digest, ==, digest_arm64);
          g_assert_cmpstr (amd->ref_digest, ==, digest_multi);
        }
      else
        g_assert_cmpstr (amd->media_type, ==, BGR_DOCKER_MEDIA_TYPE_MANIFEST);

      none = resolve (anon_reg.host, repos[i], "linux/s390x", &error);
      g_assert_null (none);
      g_assert_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, "linux/s390x"));
      g_assert_nonnull (strstr (error->message, "linux/amd64, linux/arm64"));
    }

  /* A single-platform image for another platform. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (BgrOciImage) img = resolve (anon_reg.host, "test/single", "linux/arm64", &error);
    g_assert_null (img);
    g_assert_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND);
    g_assert_nonnull (strstr (error->message, "linux/amd64"));
  }
}

static void
test_not_found (void)
{
  g_autofree char *missing_digest = g_strdup_printf ("test/single@sha256:%064d", 0);
  const char *const names[] = { "test/single:nope", "test/nothing:latest", missing_digest };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (BgrOciImage) img = resolve (anon_reg.host, names[i], "linux/amd64", &error);
      g_autofree char *full = g_strdup_printf ("%s/%s", anon_reg.host, names[i]);

      g_assert_null (img);
      g_assert_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, full));
    }
}

static void
on_progress (guint64 done, guint64 total, gboolean waiting, gpointer user_data)
{
  guint64 *last = user_data;

  g_assert_cmpuint (done, >=, *last);
  *last = done;
}

static void
assert_blob (const char *path, const BgrOciDescriptor *d)
{
  g_autofree char *data = NULL;
  g_autofree char *sum = NULL;
  gsize len;

  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  g_assert_cmpint ((gint64) len, ==, d->size);
  sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, len);
  g_assert_cmpstr (d->digest + strlen ("sha256:"), ==, sum);
}

static void
test_blobs_and_cache (void)
{
  g_autofree char *cache = g_build_filename (g_get_user_cache_dir (), "banger", NULL);
  g_autoptr (GError) error = NULL;
  BgrOciRef ref;
  g_autoptr (BgrOciRegistry) r = open_ref (anon_reg.host, "test/multi", &ref);
  g_autoptr (BgrOciImage) img = bgr_oci_registry_resolve (r, "linux/amd64", NULL, &error);
  g_autoptr (BgrOciImage) arm = bgr_oci_registry_resolve (r, "linux/arm64", NULL, &error);
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  g_assert_no_error (error);
  for (guint i = 0; i < img->layers->len; i++)
    {
      const BgrOciDescriptor *d = img->layers->pdata[i];
      g_autofree char *expected = g_build_filename (cache, "oci", "blobs", "sha256",
                                                    d->digest + strlen ("sha256:"), NULL);
      guint64 last = 0;
      char *path = bgr_oci_registry_fetch_blob (r, d, cache, on_progress, &last, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (path, ==, expected);
      g_assert_cmpuint (last, ==, (guint64) d->size);
      assert_blob (path, d);
      g_ptr_array_add (paths, path);
    }

  /* A part file left by an interrupted download is resumed. */
  {
    const BgrOciDescriptor *d = arm->layers->pdata[0];
    g_autofree char *dir = g_build_filename (cache, "oci", "blobs", "sha256", NULL);
    g_autofree char *part = g_strdup_printf ("%s/%s.part", dir, d->digest + strlen ("sha256:"));
    g_autofree char *path = NULL;
    g_autofree char *blob_file = g_strdup_printf ("%s/blobs/sha256/%s", layout,
                                                  d->digest + strlen ("sha256:"));
    g_autofree char *data = NULL;
    gsize len;

    g_assert_true (g_file_get_contents (blob_file, &data, &len, NULL));
    g_assert_true (g_file_set_contents (part, data, (gssize) len / 2, NULL));
    path = bgr_oci_registry_fetch_blob (r, d, cache, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
    assert_blob (path, d);
    g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
  }

  /* With the registry gone, cached blobs still come back, without a
   * single request; anything else fails. */
  registry_stop (&anon_reg);
  for (guint i = 0; i < img->layers->len; i++)
    {
      g_autofree char *path = bgr_oci_registry_fetch_blob (r, img->layers->pdata[i], cache, NULL,
                                                           NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (path, ==, paths->pdata[i]);
    }
  {
    BgrOciDescriptor config = { (char *) BGR_OCI_MEDIA_TYPE_CONFIG, img->config_digest, 10 };
    g_autofree char *path = bgr_oci_registry_fetch_blob (r, &config, cache, NULL, NULL, NULL, &error);

    g_assert_null (path);
    g_assert_error (error, BGR_ERROR, BGR_ERROR_NETWORK);
    g_clear_error (&error);
  }
  /* A tampered cache entry (wrong size) is not trusted. */
  {
    const BgrOciDescriptor *d = img->layers->pdata[0];
    g_autofree char *path = NULL;

    g_assert_true (g_file_set_contents (paths->pdata[0], "x", 1, NULL));
    path = bgr_oci_registry_fetch_blob (r, d, cache, NULL, NULL, NULL, &error);
    g_assert_null (path);
    g_assert_error (error, BGR_ERROR, BGR_ERROR_NETWORK);
    g_clear_error (&error);
  }
  registry_start (&anon_reg, "anon", FALSE);
  bgr_oci_ref_clear (&ref);
}

static void
test_auth (void)
{
  g_autofree char *good = NULL;
  g_autofree char *bad = NULL;
  g_autofree char *nofile = g_build_filename (work_dir, "no-such-auth.json", NULL);
  g_autofree char *cache = g_build_filename (g_get_user_cache_dir (), "auth-cache", NULL);

  good = write_auth_file ("auth.json", auth_reg.host, USER, PASSWORD);
  bad = write_auth_file ("bad-auth.json", auth_reg.host, USER, "wrong");

  /* Anonymous. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (BgrOciImage) img = NULL;

    g_setenv ("REGISTRY_AUTH_FILE", nofile, TRUE);
    img = resolve (auth_reg.host, "test/single", "linux/amd64", &error);
    g_assert_null (img);
    g_assert_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "no credentials"));
  }
  /* Wrong password. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (BgrOciImage) img = NULL;

    g_setenv ("REGISTRY_AUTH_FILE", bad, TRUE);
    img = resolve (auth_reg.host, "test/single", "linux/amd64", &error);
    g_assert_null (img);
    g_assert_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, bad));
  }
  /* Right password: manifests, config and blobs. */
  {
    g_autoptr (GError) error = NULL;
    BgrOciRef ref;
    g_autoptr (BgrOciRegistry) r = NULL;
    g_autoptr (BgrOciImage) img = NULL;

    g_setenv ("REGISTRY_AUTH_FILE", good, TRUE);
    r = open_ref (auth_reg.host, "test/multi", &ref);
    img = bgr_oci_registry_resolve (r, "linux/arm64", NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (img->digest, ==, digest_arm64);
    for (guint i = 0; i < img->layers->len; i++)
      {
        g_autofree char *path = bgr_oci_registry_fetch_blob (r, img->layers->pdata[i], cache, NULL,
                                                             NULL, NULL, &error);
        g_assert_no_error (error);
        assert_blob (path, img->layers->pdata[i]);
      }
    bgr_oci_ref_clear (&ref);
  }
  /* Blob fetch first, on a fresh client: the 401 is answered there too. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (BgrOciImage) img = resolve (auth_reg.host, "test/single", "linux/amd64", &error);
    g_autofree char *cache2 = g_build_filename (g_get_user_cache_dir (), "auth-cache2", NULL);
    BgrOciRef ref;
    g_autoptr (BgrOciRegistry) r = open_ref (auth_reg.host, "test/single", &ref);
    g_autofree char *path = NULL;

    g_assert_no_error (error);
    path = bgr_oci_registry_fetch_blob (r, img->layers->pdata[1], cache2, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
    assert_blob (path, img->layers->pdata[1]);
    bgr_oci_ref_clear (&ref);
  }
  g_unsetenv ("REGISTRY_AUTH_FILE");
}

/* A docker-credential-NAME script in WORK/bin: it records the server URL
 * it was given and answers @answer for @host, "credentials not found" for
 * any other; @answer NULL: it fails with a message holding an escape
 * character. */
static void
write_helper (const char *name, const char *host, const char *answer)
{
  g_autofree char *bin = g_build_filename (work_dir, "bin", NULL);
  g_autofree char *path = NULL, *text = NULL;

  g_assert_cmpint (g_mkdir_with_parents (bin, 0700), ==, 0);
  path = g_strdup_printf ("%s/docker-credential-%s", bin, name);
  if (answer == NULL)
    text = g_strdup ("#!/bin/sh\nprintf 'helper exploded \\033[31m red\\n'\nexit 3\n");
  else
    text = g_strdup_printf ("#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread -r url\n"
                            "printf '%%s' \"$url\" > '%s/last-url'\n"
                            "if [ \"$url\" = '%s' ]; then printf '%%s\\n' '%s'; exit 0; fi\n"
                            "echo 'credentials not found in native keychain'; exit 1\n",
                            bin, host, answer);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_assert_cmpint (g_chmod (path, 0755), ==, 0);
}

static void
resolve_with_config (const char *json, GError **error, BgrOciImage **out)
{
  g_autofree char *path = g_build_filename (work_dir, "helper-auth.json", NULL);

  g_assert_true (g_file_set_contents (path, json, -1, NULL));
  g_setenv ("REGISTRY_AUTH_FILE", path, TRUE);
  *out = resolve (auth_reg.host, "test/single", "linux/amd64", error);
}

/* Helpers that cannot answer: the login error says why, escaped; a
 * helper name that could be a path is refused before anything runs. */
static void
cred_helpers_refused (void)
{
  /* A missing or failing helper: the login error says why. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (BgrOciImage) img = NULL;

    resolve_with_config ("{\"credsStore\":\"nosuchhelper\"}", &error, &img);
    g_assert_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "docker-credential-nosuchhelper"));
    g_assert_nonnull (strstr (error->message, "not in PATH"));
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (BgrOciImage) img = NULL;

    resolve_with_config ("{\"credsStore\":\"bgrfail\"}", &error, &img);
    g_assert_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "helper exploded \\x1b[31m red"));
    g_assert_null (strchr (error->message, '\033'));
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (BgrOciImage) img = NULL;

    resolve_with_config ("{\"credsStore\":\"../../bin/sh\"}", &error, &img);
    g_assert_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
    g_assert_nonnull (strstr (error->message, "invalid credential helper"));
  }
  /* A helper that never answers is stopped: the login error says so. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (BgrOciImage) img = NULL;
    gint64 start = g_get_monotonic_time ();

    bgr_oci_credhelper_set_timeout (300);
    resolve_with_config ("{\"credsStore\":\"bgrhang\"}", &error, &img);
    bgr_oci_credhelper_set_timeout (0);
    g_assert_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "docker-credential-bgrhang did not answer"));
    g_assert_cmpint (g_get_monotonic_time () - start, <, 20 * G_USEC_PER_SEC);
  }
}

/* credsStore / credHelpers: docker-credential-NAME get, as docker runs it. */
static void
test_cred_helpers (void)
{
  g_autofree char *bin = g_build_filename (work_dir, "bin", NULL);
  g_autofree char *last = g_build_filename (bin, "last-url", NULL);
  g_autofree char *good = g_strdup_printf ("{\"ServerURL\":\"%s\",\"Username\":\"%s\",\"Secret\":\"%s\"}",
                                           auth_reg.host, USER, PASSWORD);
  g_autofree char *wrong = g_strdup_printf ("{\"Username\":\"%s\",\"Secret\":\"nope\"}", USER);
  g_autofree char *old_path = g_strdup (g_getenv ("PATH"));
  g_autofree char *new_path = g_strdup_printf ("%s:%s", bin, old_path);

  write_helper ("bgrgood", auth_reg.host, good);
  write_helper ("bgrwrong", auth_reg.host, wrong);
  write_helper ("bgrnone", "no.such.registry", good);
  write_helper ("bgrfail", NULL, NULL);
  {
    g_autofree char *hang = g_build_filename (bin, "docker-credential-bgrhang", NULL);
    g_assert_true (g_file_set_contents (hang, "#!/bin/sh\nexec sleep 600\n", -1, NULL));
    g_assert_cmpint (g_chmod (hang, 0755), ==, 0);
  }
  g_setenv ("PATH", new_path, TRUE);
  /* credsStore: the helper is asked with the registry's host:port. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (BgrOciImage) img = NULL;
    g_autofree char *url = NULL;

    resolve_with_config ("{\"credsStore\":\"bgrgood\"}", &error, &img);
    g_assert_no_error (error);
    g_assert_cmpstr (img->digest, ==, digest_amd64);
    g_assert_true (g_file_get_contents (last, &url, NULL, NULL));
    g_assert_cmpstr (url, ==, auth_reg.host);
  }
  /* credHelpers for this host wins over credsStore. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (BgrOciImage) img = NULL;
    g_autofree char *json = g_strdup_printf ("{\"credsStore\":\"bgrwrong\",\"credHelpers\":"
                                             "{\"%s\":\"bgrgood\"}}", auth_reg.host);

    resolve_with_config (json, &error, &img);
    g_assert_no_error (error);
  }
  /* What the helper gives is used: a wrong password is refused, naming it. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (BgrOciImage) img = NULL;

    resolve_with_config ("{\"credsStore\":\"bgrwrong\"}", &error, &img);
    g_assert_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "docker-credential-bgrwrong"));
  }
  /* A helper with nothing for this registry: the inline entry counts. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (BgrOciImage) img = NULL;
    g_autofree char *pair = g_strdup_printf ("%s:%s", USER, PASSWORD);
    g_autofree char *b64 = g_base64_encode ((const guchar *) pair, strlen (pair));
    g_autofree char *json = g_strdup_printf ("{\"credsStore\":\"bgrnone\",\"auths\":{\"%s\":"
                                             "{\"auth\":\"%s\"}}}", auth_reg.host, b64);

    resolve_with_config (json, &error, &img);
    g_assert_no_error (error);
  }
  cred_helpers_refused ();
  g_setenv ("PATH", old_path, TRUE);
  g_unsetenv ("REGISTRY_AUTH_FILE");
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* Only 127.0.0.1 is ever contacted; no proxy may get in the way. */
  g_unsetenv ("http_proxy");
  g_unsetenv ("https_proxy");
  g_unsetenv ("HTTP_PROXY");
  g_unsetenv ("HTTPS_PROXY");
  g_unsetenv ("REGISTRY_AUTH_FILE");
  setup ();
  g_test_add_func ("/oci/registry/tag-oci", test_tag_oci);
  g_test_add_func ("/oci/registry/tag-v2s2", test_tag_v2s2);
  g_test_add_func ("/oci/registry/by-digest", test_by_digest);
  g_test_add_func ("/oci/registry/platforms", test_platforms);
  g_test_add_func ("/oci/registry/not-found", test_not_found);
  g_test_add_func ("/oci/registry/blobs-and-cache", test_blobs_and_cache);
  g_test_add_func ("/oci/registry/auth", test_auth);
  g_test_add_func ("/oci/registry/cred-helpers", test_cred_helpers);
  rc = g_test_run ();
  teardown ();
  return rc;
}
