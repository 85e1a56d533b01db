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
#include "engine/bgr-engine-oci-fetch-private.h"
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

/* The size a growable image starts at, from the layers' compressed size
 * (four times: most layers inflate to less, and growing while the replay
 * runs costs a sync of what was written; bgr-ext4-writer-room.c). */
static guint64
start_size (const BgrOciImage *img, guint64 *inodes)
{
  guint64 compressed = 0, content;

  for (guint i = 0; i < img->layers->len; i++)
    compressed += (guint64) ((BgrOciDescriptor *) img->layers->pdata[i])->size;
  content = compressed * 4 + (16 << 20);
  *inodes = content / 8192 + 1024;
  return bgr_ext4_image_size_for (content, *inodes);
}

static gboolean
report_progress (gpointer fetch)
{
  bgr_pull_fetch_report (fetch);
  return G_SOURCE_CONTINUE;
}

/* Replays every layer into @writer as it arrives (up to three fetched at
 * once). A layer whose download failed (its digest, the network, a
 * cancel) fails with the download's error, which explains whatever the
 * replay made of its bytes. */
static gboolean
fetch_and_replay (BgrOciRegistry *registry, const BgrOciImage *img, const char *cache,
                  BgrExt4Writer *writer, BgrOperation *op, GCancellable *cancellable,
                  GError **error)
{
  BgrPullFetch *fetch = bgr_pull_fetch_start (registry, img, cache, op, cancellable);
  g_autoptr (GError) replay_error = NULL, fetch_error = NULL;
  gboolean download_failed = FALSE;

  bgr_ext4_writer_set_tick (writer, report_progress, fetch);
  for (guint i = 0; i < img->layers->len && replay_error == NULL; i++)
    {
      const BgrOciDescriptor *d = img->layers->pdata[i];
      BgrFeed *feed = bgr_pull_fetch_get_feed (fetch, i);

      /* Checked against the uncompressed stream as it is replayed. */
      if (!bgr_ext4_writer_apply_layer_feed (writer, feed, d->digest,
                                             bgr_oci_image_get_diff_id (img, i), cancellable,
                                             &replay_error))
        {
          /* What the replay made of the bytes (or its read of them) may be
           * the download's fault, a cancel included: the download says,
           * once done. A full image is the replay's own: the downloads
           * stop now. */
          if (!g_error_matches (replay_error, BGR_ERROR, BGR_ERROR_NO_SPACE))
            download_failed = !bgr_feed_wait (feed, NULL, NULL);
        }
      else if (!bgr_feed_wait (feed, NULL, &replay_error))
        download_failed = TRUE;
      else
        bgr_pull_fetch_report (fetch);
    }
  bgr_ext4_writer_set_tick (writer, NULL, NULL);
  if (replay_error != NULL)
    bgr_pull_fetch_cancel (fetch);
  if (!bgr_pull_fetch_finish (fetch, &fetch_error) && download_failed)
    {
      g_propagate_error (error, g_steal_pointer (&fetch_error));
      return FALSE;
    }
  if (replay_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&replay_error));
      return FALSE;
    }
  return TRUE;
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
  g_autoptr (BgrExt4Writer) writer = NULL;
  g_autofree char *staging = NULL, *rootfs = NULL, *final = NULL;
  g_autoptr (JsonObject) doc = NULL;
  BgrOciImage *img = NULL;
  const char *cache = bgr_config_get_string (bgr_engine_get_config (engine), "cache_dir");
  guint64 inodes = 0;
  gint64 start = g_get_monotonic_time (), resolved = 0, created = 0, replayed = 0;
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
  bgr_crash_point ("image-pull.resolved");
  /* Leases on the blobs it uses, held until the image is registered (or
   * the pull failed): a prune, in this process or another, leaves them. */
  if (!take_leases (cache, img, leases, error))
    goto out;
  /* No sizing pass over the layers: without --size the image starts from
   * an estimate and grows while the layers are replayed. */
  if (size == 0)
    size = start_size (img, &inodes);
  else
    {
      /* One inode per 16 KiB, more (up to one per 8 KiB) when the layers
       * suggest many small files. */
      (void) start_size (img, &inodes);
      inodes = MAX (size / 16384, MIN (inodes, size / 8192));
    }
  resolved = g_get_monotonic_time ();

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
  writer = bgr_ext4_writer_create (rootfs, size, inodes, error);
  if (writer == NULL)
    goto out;
  bgr_ext4_writer_set_growable (writer, bgr_pull_options_get_size (options) == 0);
  created = g_get_monotonic_time ();
  if (!fetch_and_replay (registry, img, cache, writer, op, cancellable, error))
    {
      /* The image's filesystem is full, not the host's disk. */
      if (bgr_pull_options_get_size (options) != 0 && error != NULL
          && g_error_matches (*error, BGR_ERROR, BGR_ERROR_NO_SPACE)
          && strstr ((*error)->message, g_strerror (ENOSPC)) == NULL)
        g_prefix_error (error, "option 'size' is too small for image %s: ", reference);
      goto out;
    }
  bgr_crash_point ("image-pull.layers-fetched");
  replayed = g_get_monotonic_time ();
  size = bgr_ext4_writer_get_size (writer);
  if (!bgr_ext4_writer_close (g_steal_pointer (&writer), error))
    goto out;
  bgr_crash_point ("image-pull.rootfs-written");
  g_debug ("pull %s: resolve %.3f s, mkfs %.3f s, fetch and replay %.3f s, close %.3f s",
           reference, (resolved - start) / 1e6, (created - resolved) / 1e6,
           (replayed - created) / 1e6, (g_get_monotonic_time () - replayed) / 1e6);

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
