/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Managed kernels and images: records in the store, files under
 * STATE/kernels/NAME and STATE/images/NAME (bgr-engine-kernels.c,
 * bgr-engine-images.c). What they share is here. */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "engine/bgr-engine-artifacts-private.h"

gboolean
bgr_artifact_check_name (const char *what, const char *name, GError **error)
{
  if (!bgr_store_name_is_valid (name) || strlen (name) > 63)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid %s name '%s': use 1-63 letters, digits, '-', '_' or '.', starting "
                   "with a letter or digit", what, name != NULL ? name : "");
      return FALSE;
    }
  return TRUE;
}

gboolean
bgr_artifact_check_absolute (const char *option, const char *path, GError **error)
{
  if (path != NULL && !g_path_is_absolute (path))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "option '%s' must be an absolute path (got \"%s\")", option, path);
      return FALSE;
    }
  return TRUE;
}

gboolean
bgr_artifact_check_regular (const char *what, const char *path, GError **error)
{
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "%s %s does not exist", what, path);
      return FALSE;
    }
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "%s %s is not a regular file",
                   what, path);
      return FALSE;
    }
  return TRUE;
}

char *
bgr_artifact_dir (BgrEngine *engine, const char *kind_dir, const char *name)
{
  return g_build_filename (bgr_store_get_dir (bgr_engine_get_store (engine)), kind_dir, name, NULL);
}

char *
bgr_artifact_make_staging (BgrEngine *engine, const char *kind_dir, const char *name,
                           GError **error)
{
  g_autofree char *parent = g_build_filename (bgr_store_get_dir (bgr_engine_get_store (engine)),
                                               kind_dir, NULL);
  g_autofree char *tmpl = NULL;

  if (g_mkdir_with_parents (parent, 0700) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", parent);
      return NULL;
    }
  tmpl = g_strdup_printf ("%s/.staging-%s-XXXXXX", parent, name);
  if (g_mkdtemp_full (tmpl, 0755) == NULL)
    {
      bgr_set_error_errno (error, errno, "cannot create a staging directory in %s", parent);
      return NULL;
    }
  return g_steal_pointer (&tmpl);
}

/* Names being created right now, so that two imports of one name race
 * cleanly (one wins, the other gets EXISTS). Keys carry the state
 * directory; the table is shared by every engine of the process, hence its
 * own lock (taken inside the engine lock). */
G_LOCK_DEFINE_STATIC (reservations);
static GHashTable *reservations_table;

static GHashTable *
reservations (void)
{
  if (reservations_table == NULL)
    reservations_table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return reservations_table;
}

gboolean
bgr_artifact_reserve (BgrEngine *engine, const char *kind, const char *name, GError **error)
{
  g_autofree char *key = g_strdup_printf ("%s/%s/%s", bgr_store_get_dir (bgr_engine_get_store (engine)),
                                          kind, name);
  g_autoptr (JsonObject) existing = NULL;
  gboolean ok = TRUE;

  bgr_engine_lock (engine);
  G_LOCK (reservations);
  existing = bgr_store_load (bgr_engine_get_store (engine), kind, name, NULL);
  if (existing != NULL || g_hash_table_contains (reservations (), key))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS, "a %s named '%s' already exists", kind, name);
      ok = FALSE;
    }
  else
    g_hash_table_add (reservations (), g_steal_pointer (&key));
  G_UNLOCK (reservations);
  bgr_engine_unlock (engine);
  return ok;
}

void
bgr_artifact_unreserve (BgrEngine *engine, const char *kind, const char *name)
{
  g_autofree char *key = g_strdup_printf ("%s/%s/%s", bgr_store_get_dir (bgr_engine_get_store (engine)),
                                          kind, name);
  bgr_engine_lock (engine);
  G_LOCK (reservations);
  g_hash_table_remove (reservations (), key);
  G_UNLOCK (reservations);
  bgr_engine_unlock (engine);
}

/* Renames @dir out of the way (called with the engine lock held), so that
 * its removal, done later without the lock, cannot hit a newer object of
 * the same name. Returns the new path, or NULL when @dir does not exist. */
static char *
move_aside (const char *dir, GError **error)
{
  g_autofree char *parent = g_path_get_dirname (dir);
  g_autofree char *base = g_path_get_basename (dir);
  g_autofree char *aside = g_strdup_printf ("%s/.deleting-%s-XXXXXX", parent, base);

  if (!g_file_test (dir, G_FILE_TEST_EXISTS))
    return NULL;
  /* mkdtemp gives a unique name; rename() replaces the empty directory. */
  if (g_mkdtemp (aside) == NULL || rename (dir, aside) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot move %s aside", dir);
      return NULL;
    }
  return g_steal_pointer (&aside);
}

gboolean
bgr_artifact_delete_locked (BgrEngine *engine, const char *kind, const char *kind_dir,
                            const char *name, gboolean with_files, char **out_aside,
                            GError **error)
{
  *out_aside = NULL;
  if (!bgr_store_delete (bgr_engine_get_store (engine), kind, name, error))
    return FALSE;
  if (with_files)
    {
      g_autofree char *final = bgr_artifact_dir (engine, kind_dir, name);
      *out_aside = move_aside (final, NULL);
    }
  return TRUE;
}

gboolean
bgr_artifact_remove_aside (const char *aside, GError **error)
{
  return aside == NULL || bgr_rm_rf (aside, error);
}

void
bgr_artifact_log_load_errors (GPtrArray *errors)
{
  for (guint i = 0; i < errors->len; i++)
    g_warning ("%s", ((GError *) errors->pdata[i])->message);
}
