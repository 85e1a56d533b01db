/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* image pull: an OCI registry's layers, cached by digest, replayed straight
 * into a new ext4 rootfs (oci/ and ext4/ do the work), then registered as a
 * managed image. Staged like every other change: nothing is registered
 * unless everything succeeded. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-crash-private.h"
#include "bgr-error-private.h"
#include "bgr-operation-private.h"
#include "bgr-fs-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-core-private.h"
#include "engine/bgr-engine-disks-private.h"
#include "engine/bgr-engine-usage-private.h"
#include "ext4/bgr-ext4-writer-private.h"
#include "oci/bgr-oci-private.h"

static gboolean
take_leases (const char *cache, const BgrOciImage *img, GPtrArray *leases, GError **error)
{
  for (guint i = 0; i <= img->layers->len; i++)
    {
      const char *digest = i < img->layers->len
                             ? ((BgrOciDescriptor *) img->layers->pdata[i])->digest
                             : img->config_digest;
      BgrOciLease *lease;

      /* Only sha256 blobs are cached (others are refused when fetched). */
      if (!g_str_has_prefix (digest, "sha256:"))
        continue;
      lease = bgr_oci_lease_take (cache, digest, FALSE, error);
      if (lease == NULL)
        return FALSE;
      g_ptr_array_add (leases, lease);
    }
  return TRUE;
}

/* "docker.io/library/debian:12" -> "debian-12"; digests -> the first 12 hex. */
static char *
default_name (const BgrOciRef *ref)
{
  const char *base = strrchr (ref->repository, '/');
  g_autoptr (GString) s = g_string_new (base != NULL ? base + 1 : ref->repository);

  if (ref->tag != NULL)
    g_string_append_printf (s, "-%s", ref->tag);
  else if (ref->digest != NULL && strlen (ref->digest) > 19)
    g_string_append_printf (s, "-%.12s", strchr (ref->digest, ':') + 1);
  for (char *p = s->str; *p != '\0'; p++)
    if (!(g_ascii_isalnum (*p) || *p == '-' || *p == '_' || *p == '.'))
      *p = '-';
  if (s->len > 63)
    g_string_truncate (s, 63);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* The one managed kernel, when there is exactly one. */
static char *
only_kernel (BgrEngine *engine, GError **error)
{
  g_autoptr (GPtrArray) kernels = bgr_engine_list_kernels (engine, error);

  if (kernels == NULL)
    return NULL;
  if (kernels->len != 1)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   kernels->len == 0
                     ? "no managed kernel to boot the image with: pull or import one first "
                       "(banger kernel pull debian-cloud), or set option 'kernel'"
                     : "several managed kernels: say which one with option 'kernel' (see banger kernel list)");
      return NULL;
    }
  return g_strdup (bgr_kernel_get_name (kernels->pdata[0]));
}

typedef struct {
  BgrOperation *op;
  guint layer, n_layers;
  guint64 layer_total;
  guint64 base, total;
} Progress;

static void
on_blob_progress (guint64 done, guint64 total, gboolean waiting, gpointer data)
{
  Progress *p = data;
  g_autofree char *msg = NULL;

  if (!waiting && done > 0 && done < total)
    bgr_crash_point ("image-pull.layer-partial");
  msg = g_strdup_printf ("layer %u of %u%s", p->layer + 1, p->n_layers,
                         waiting ? ": waiting for another pull of this layer" : "");
  bgr_operation_update (p->op, "pulling", msg, p->base + done, p->total);
}

BgrImage *
bgr_engine_pull_image (BgrEngine *engine, const char *reference, BgrPullOptions *options,
                       BgrOperation *op, GCancellable *cancellable, GError **error)
{
  const char *name = bgr_pull_options_get_name (options);
  const char *kernel_ref = bgr_pull_options_get_kernel (options);
  const char *platform = bgr_pull_options_get_platform (options);
  guint64 size = bgr_pull_options_get_size (options);
  gboolean insecure = bgr_pull_options_get_insecure (options);
  BgrOciRef ref = { 0 };
  g_autofree char *image_name = NULL;
  g_autofree char *kernel = NULL;
  g_autoptr (BgrImage) existing = NULL;
  g_autoptr (BgrOciRegistry) registry = NULL;
  g_autoptr (GPtrArray) blobs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (BgrExt4Writer) writer = NULL;
  g_autofree char *staging = NULL, *rootfs = NULL, *final = NULL;
  g_autoptr (JsonObject) doc = NULL;
  BgrOciImage *img = NULL;
  const char *cache = bgr_config_get_string (bgr_engine_get_config (engine), "cache_dir");
  guint64 content = 0, inodes = 0, needed;
  gint64 start = g_get_monotonic_time (), fetched = 0, measured = 0, created = 0;
  Progress prog = { op, 0, 0, 0, 0, 0 };
  BgrImage *result = NULL;
  g_autoptr (GPtrArray) leases = g_ptr_array_new_with_free_func ((GDestroyNotify) bgr_oci_lease_release);

  if (size != 0 && !bgr_disk_size_check ("size", size, error))
    return NULL;
  if (!bgr_oci_ref_parse (reference, &ref, error))
    return NULL;
  image_name = name != NULL ? g_strdup (name) : default_name (&ref);
  if (!bgr_store_name_is_valid (image_name) || strlen (image_name) > 63)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid image name '%s' (give one with option 'name')", image_name);
      goto out;
    }
  existing = bgr_engine_get_image (engine, image_name, NULL);
  if (existing != NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS,
                   "an image named '%s' already exists (choose another with option 'name')", image_name);
      goto out;
    }
  if (kernel_ref != NULL)
    {
      g_autoptr (BgrKernel) k = bgr_engine_get_kernel (engine, kernel_ref, error);
      if (k == NULL)
        goto out;
      kernel = g_strdup (kernel_ref);
    }
  else if ((kernel = only_kernel (engine, error)) == NULL)
    goto out;

  registry = bgr_oci_registry_new (&ref, insecure ? BGR_OCI_INSECURE : 0,
                                   error);
  if (registry == NULL)
    goto out;
  bgr_oci_registry_set_cache_dir (registry, cache);
  img = bgr_oci_registry_resolve (registry, platform, cancellable, error);
  if (img == NULL)
    goto out;
  for (guint i = 0; i < img->layers->len; i++)
    prog.total += (guint64) ((BgrOciDescriptor *) img->layers->pdata[i])->size;
  prog.n_layers = img->layers->len;
  bgr_crash_point ("image-pull.resolved");
  /* Leases on the blobs it uses, held until the image is registered (or
   * the pull failed): a prune, in this process or another, leaves them. */
  if (!take_leases (cache, img, leases, error))
    goto out;
  for (guint i = 0; i < img->layers->len; i++)
    {
      const BgrOciDescriptor *d = img->layers->pdata[i];
      char *path;

      prog.layer = i;
      prog.layer_total = (guint64) d->size;
      path = bgr_oci_registry_fetch_blob (registry, d, cache, on_blob_progress, &prog, cancellable,
                                          error);
      if (path == NULL)
        goto out;
      g_ptr_array_add (blobs, path);
      prog.base += (guint64) d->size;
      /* A cached blob reports nothing while "downloading": report it done. */
      on_blob_progress (0, 0, FALSE, &prog);
    }
  g_ptr_array_add (blobs, NULL);
  bgr_crash_point ("image-pull.layers-fetched");
  fetched = g_get_monotonic_time ();

  /* Size from the content (or check that --size fits it). */
  if (!bgr_ext4_measure_layers ((const char *const *) blobs->pdata, &content, &inodes, cancellable,
                                error))
    goto out;
  needed = bgr_ext4_image_size_for (content, inodes);
  if (size != 0 && size < needed)
    {
      g_autofree char *want = g_format_size (needed), *got = g_format_size (size);
      g_set_error (error, BGR_ERROR, BGR_ERROR_NO_SPACE,
                   "image %s needs about %s; option 'size' (%s) is too small", reference, want, got);
      goto out;
    }
  if (size == 0)
    size = needed;
  measured = g_get_monotonic_time ();

  staging = g_build_filename (bgr_store_get_dir (bgr_engine_get_store (engine)), "images", NULL);
  if (g_mkdir_with_parents (staging, 0700) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", staging);
      goto out;
    }
  g_free (staging);
  staging = g_strdup_printf ("%s/images/.staging-%s-XXXXXX",
                             bgr_store_get_dir (bgr_engine_get_store (engine)), image_name);
  if (g_mkdtemp_full (staging, 0755) == NULL)
    {
      bgr_set_error_errno (error, errno, "cannot create a staging directory");
      g_clear_pointer (&staging, g_free);
      goto out;
    }
  rootfs = g_build_filename (staging, "rootfs.ext4", NULL);
  writer = bgr_ext4_writer_create (rootfs, size, inodes + inodes / 4 + 1024, error);
  if (writer == NULL)
    goto out;
  created = g_get_monotonic_time ();
  for (guint i = 0; i < img->layers->len; i++)
    {
      const BgrOciDescriptor *d = img->layers->pdata[i];
      /* Checked against the uncompressed stream as it is replayed. */
      if (!bgr_ext4_writer_apply_layer_file (writer, blobs->pdata[i], d->digest,
                                             bgr_oci_image_get_diff_id (img, i), cancellable, error))
        goto out;
    }
  if (!bgr_ext4_writer_close (g_steal_pointer (&writer), error))
    goto out;
  bgr_crash_point ("image-pull.rootfs-written");
  g_debug ("pull %s: resolve and fetch %.3f s, sizing %.3f s, mkfs %.3f s, replay %.3f s",
           reference, (fetched - start) / 1e6, (measured - fetched) / 1e6,
           (created - measured) / 1e6, (g_get_monotonic_time () - created) / 1e6);

  doc = json_object_new ();
  json_object_set_boolean_member (doc, "managed", TRUE);
  json_object_set_string_member (doc, "source", "pulled");
  json_object_set_string_member (doc, "oci_reference", reference);
  json_object_set_string_member (doc, "oci_digest", img->digest);
  if (platform != NULL)
    json_object_set_string_member (doc, "oci_platform", platform);
  json_object_set_string_member (doc, "kernel_ref", kernel);
  {
    /* The layers it was built from: `image cache prune` keeps those. */
    JsonArray *layers = json_array_new ();
    for (guint i = 0; i < img->layers->len; i++)
      json_array_add_string_element (layers, ((BgrOciDescriptor *) img->layers->pdata[i])->digest);
    json_object_set_array_member (doc, "oci_layers", layers);
    json_object_set_string_member (doc, "oci_config", img->config_digest);
  }
  json_object_set_int_member (doc, "size", (gint64) size);
  json_object_set_int_member (doc, "created", g_get_real_time () / G_USEC_PER_SEC);
  json_object_set_double_member (doc, "pull_seconds",
                                 (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);

  final = g_build_filename (bgr_store_get_dir (bgr_engine_get_store (engine)), "images",
                            image_name, NULL);
  {
    g_autofree char *final_rootfs = g_build_filename (final, "rootfs.ext4", NULL);
    json_object_set_string_member (doc, "rootfs", final_rootfs);
  }
  bgr_engine_lock (engine);
  {
    g_autoptr (JsonObject) again = bgr_store_load (bgr_engine_get_store (engine), "image",
                                                   image_name, NULL);
    g_autoptr (JsonObject) kdoc = bgr_store_load (bgr_engine_get_store (engine), "kernel", kernel,
                                                  NULL);
    if (again != NULL || kdoc == NULL)
      {
        bgr_engine_unlock (engine);
        if (again != NULL)
          g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS,
                       "an image named '%s' appeared meanwhile", image_name);
        else
          g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "kernel '%s' was deleted meanwhile",
                       kernel);
        goto out;
      }
  }
  if (!bgr_rm_rf (final, error) || rename (staging, final) != 0)
    {
      if (error != NULL && *error == NULL)
        bgr_set_error_errno (error, errno, "cannot move %s to %s", staging, final);
      bgr_engine_unlock (engine);
      goto out;
    }
  g_clear_pointer (&staging, g_free);
  bgr_crash_point ("image-pull.moved");
  if (!bgr_store_save (bgr_engine_get_store (engine), "image", image_name, doc, error))
    {
      bgr_rm_rf (final, NULL);
      bgr_engine_unlock (engine);
      goto out;
    }
  bgr_engine_usage_add_image (engine, image_name, kernel);
  /* The result comes from what we saved, under the lock: a delete right
   * after must not turn this success into an error. */
  result = bgr_engine_image_view (engine, doc);
  bgr_engine_unlock (engine);
  bgr_crash_point ("image-pull.saved");
out:
  if (writer != NULL)
    bgr_ext4_writer_abort (g_steal_pointer (&writer));
  if (staging != NULL)
    bgr_rm_rf (staging, NULL);
  if (img != NULL)
    bgr_oci_image_free (img);
  bgr_oci_ref_clear (&ref);
  return result;
}
