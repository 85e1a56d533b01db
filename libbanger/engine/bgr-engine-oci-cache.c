/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* image cache list and prune: the blob cache (CACHE/oci/blobs/sha256) and
 * the VM bases. Pulls in any process hold leases on the blobs they use
 * (oci/bgr-oci-lease.c); prune leaves those alone. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-core-private.h"
#include "engine/bgr-engine-disks-private.h"
#include "oci/bgr-oci-private.h"

static const char *
cache_dir (BgrEngine *engine)
{
  return bgr_config_get_string (bgr_engine_get_config (engine), "cache_dir");
}

/* Digest -> names of the images built from it. */
static GHashTable *
blob_users (BgrEngine *engine, GError **error)
{
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), "image", errors);
  g_autoptr (GHashTable) users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                         (GDestroyNotify) g_ptr_array_unref);

  if (errors->len > 0)
    {
      /* An unreadable image record might use any blob: prune nothing. */
      g_propagate_error (error, g_error_copy (errors->pdata[0]));
      return NULL;
    }
  for (guint i = 0; i < docs->len; i++)
    {
      JsonNode *layers = json_object_get_member (docs->pdata[i], "oci_layers");
      const char *config = json_object_get_string_member_with_default (docs->pdata[i], "oci_config", "");
      g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
      g_auto (GStrv) list = NULL;

      if (layers != NULL && JSON_NODE_HOLDS_ARRAY (layers))
        for (guint j = 0; j < json_array_get_length (json_node_get_array (layers)); j++)
          g_strv_builder_add (b, json_array_get_string_element (json_node_get_array (layers), j));
      g_strv_builder_add (b, config);
      list = g_strv_builder_end (b);
      for (char **l = list; *l != NULL; l++)
        {
          GPtrArray *names;
          if (**l == '\0')
            continue;
          names = g_hash_table_lookup (users, *l);
          if (names == NULL)
            {
              names = g_ptr_array_new_with_free_func (g_free);
              g_hash_table_insert (users, g_strdup (*l), names);
            }
          g_ptr_array_add (names, g_strdup (json_object_get_string_member (docs->pdata[i], "name")));
        }
    }
  return g_steal_pointer (&users);
}

/* A blob's DIGEST.part file: the downloader holds an exclusive flock() on
 * it for as long as it writes (net/bgr-download.c). Returns 1 when a live
 * download holds it, 0 when none does (and, with @remove, it was removed,
 * under the lock, so that no download could take it meanwhile), -1 when it
 * could not be opened (gone already) or removed. */
static int
part_file_claim (const char *path, gboolean remove)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat held, now;
  int result;

  if (fd < 0)
    return -1;
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    result = errno == EWOULDBLOCK ? 1 : -1;
  else if (!remove)
    result = 0;
  /* Still the file at @path: a download may have renamed it into place. */
  else if (fstat (fd, &held) == 0 && lstat (path, &now) == 0 && held.st_dev == now.st_dev
           && held.st_ino == now.st_ino && S_ISREG (now.st_mode))
    result = g_unlink (path) == 0 ? 0 : -1;
  else
    result = -1;
  close (fd);
  return result;
}

static char *
blob_dir (BgrEngine *engine)
{
  return g_build_filename (cache_dir (engine), "oci", "blobs", "sha256", NULL);
}

GPtrArray *
bgr_engine_list_image_cache (BgrEngine *engine, GError **error)
{
  g_autoptr (GHashTable) users = blob_users (engine, error);
  g_autofree char *dir = blob_dir (engine);
  g_autoptr (GDir) d = NULL;
  g_autoptr (GPtrArray) out = NULL;
  const char *entry;

  if (users == NULL)
    return NULL;
  out = g_ptr_array_new_with_free_func (g_object_unref);
  d = g_dir_open (dir, 0, NULL);
  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *digest = g_strconcat ("sha256:", entry, NULL);
      g_autofree char *path = g_build_filename (dir, entry, NULL);
      g_autoptr (JsonObject) doc = NULL;
      JsonArray *users_of = json_array_new ();
      GPtrArray *names;

      if (g_str_has_suffix (digest, ".part"))
        {
          g_autofree char *whole = g_strndup (digest, strlen (digest) - strlen (".part"));
          int held = part_file_claim (path, FALSE);

          if (!bgr_oci_digest_is_valid (whole) || held < 0)
            {
              json_array_unref (users_of);
              continue;
            }
          doc = json_object_new ();
          json_object_set_string_member (doc, "name", entry);
          json_object_set_string_member (doc, "category", "partial");
          json_object_set_string_member (doc, "digest", whole);
          json_object_set_string_member (doc, "path", path);
          json_object_set_int_member (doc, "size", (gint64) bgr_path_size (path));
          json_object_set_array_member (doc, "images", users_of);
          json_object_set_boolean_member (doc, "in_use",
                                          held == 1 || bgr_oci_lease_is_held (cache_dir (engine), whole));
          g_ptr_array_add (out, bgr_cache_blob_new_from_json (doc));
          continue;
        }
      if (!bgr_oci_digest_is_valid (digest))
        {
          json_array_unref (users_of);
          continue; /* temporary files */
        }
      names = g_hash_table_lookup (users, digest);
      for (guint i = 0; names != NULL && i < names->len; i++)
        json_array_add_string_element (users_of, names->pdata[i]);
      doc = json_object_new ();
      json_object_set_string_member (doc, "name", digest);
      json_object_set_string_member (doc, "category", "blob");
      json_object_set_string_member (doc, "digest", digest);
      json_object_set_string_member (doc, "path", path);
      json_object_set_int_member (doc, "size", (gint64) bgr_path_size (path));
      json_object_set_array_member (doc, "images", users_of);
      json_object_set_boolean_member (doc, "in_use", bgr_oci_lease_is_held (cache_dir (engine), digest));
      g_ptr_array_add (out, bgr_cache_blob_new_from_json (doc));
    }
  bgr_engine_list_vm_bases (engine, out);
  return g_steal_pointer (&out);
}

/* The digests (sha256:HEX) that have a blob or a part file in @dir, or a
 * lease file in @leases_dir. */
static GHashTable *
cached_digests (const char *dir, const char *leases_dir)
{
  GHashTable *out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *dirs[] = { dir, leases_dir };

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autoptr (GDir) d = g_dir_open (dirs[i], 0, NULL);
      const char *entry;

      while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *digest = g_strconcat ("sha256:", entry, NULL);

          if (g_str_has_suffix (digest, ".part"))
            digest[strlen (digest) - strlen (".part")] = '\0';
          if (bgr_oci_digest_is_valid (digest))
            g_hash_table_add (out, g_steal_pointer (&digest));
        }
    }
  return out;
}

/* Removes blob @digest and its part file (the caller holds its lease
 * exclusively); adds what it removed to *freed and *removed. */
static void
remove_blob (const char *dir, const char *digest, guint64 *freed, guint *removed)
{
  g_autofree char *path = g_build_filename (dir, digest + strlen ("sha256:"), NULL);
  g_autofree char *part = g_strconcat (path, ".part", NULL);
  guint64 size = bgr_path_size (path);

  if (g_unlink (path) == 0)
    {
      *freed += size;
      (*removed)++;
    }
  size = bgr_path_allocated (part);
  /* Its own lock too: a banger without leases may be downloading it. */
  if (part_file_claim (part, TRUE) == 0)
    {
      g_info ("removed the partial blob %s", part);
      *freed += size;
      (*removed)++;
    }
}

gboolean
bgr_engine_prune_image_cache (BgrEngine *engine, guint64 *out_freed, guint *out_removed,
                              GError **error)
{
  g_autoptr (GHashTable) users = NULL, digests = NULL;
  g_autoptr (GHashTable) claimed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                          (GDestroyNotify) bgr_oci_lease_release);
  g_autofree char *dir = blob_dir (engine);
  g_autofree char *leases_dir = g_build_filename (cache_dir (engine), "oci", "leases", NULL);
  GHashTableIter it;
  gpointer key;
  guint64 freed = 0;
  guint removed = 0;

  /* Under the lock: a pull of this process registering an image waits. */
  bgr_engine_lock (engine);
  users = blob_users (engine, error);
  if (users == NULL)
    {
      bgr_engine_unlock (engine);
      return FALSE;
    }
  /* Every blob no image uses, claimed: those a pull holds a lease on are
   * skipped, and no pull can start using the others meanwhile. */
  digests = cached_digests (dir, leases_dir);
  g_hash_table_iter_init (&it, digests);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      BgrOciLease *lease;
      g_autoptr (GError) held = NULL;

      if (g_hash_table_contains (users, key))
        continue;
      lease = bgr_oci_lease_take (cache_dir (engine), key, TRUE, &held);
      if (lease != NULL)
        g_hash_table_insert (claimed, g_strdup (key), lease);
      else if (!g_error_matches (held, BGR_ERROR, BGR_ERROR_BUSY)) /* busy: a pull uses it */
        g_warning ("prune keeps blob %s: %s", (const char *) key, held->message);
    }
  /* A pull in another process may have registered its image (and let go
   * of its leases) since the images were read: read them again. */
  g_clear_pointer (&users, g_hash_table_unref);
  users = blob_users (engine, error);
  if (users == NULL)
    {
      bgr_engine_unlock (engine);
      return FALSE;
    }
  g_hash_table_iter_init (&it, claimed);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      if (g_hash_table_contains (users, key))
        continue;
      remove_blob (dir, key, &freed, &removed);
      bgr_oci_lease_release_removing (g_hash_table_lookup (claimed, key));
      g_hash_table_iter_steal (&it);
      g_free (key);
    }
  bgr_engine_unlock (engine);
  bgr_engine_prune_vm_bases (engine, &freed, &removed);
  if (out_freed != NULL)
    *out_freed = freed;
  if (out_removed != NULL)
    *out_removed = removed;
  return TRUE;
}
