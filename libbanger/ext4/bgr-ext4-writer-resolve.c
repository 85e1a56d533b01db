/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Layer paths resolved inside the image (symlinks followed within it, missing
 * parents made), hardlink targets, and the errors that name the layer and
 * its entry. */
#include "config.h"

#include <string.h>

#include "bgr-error-private.h"
#include "ext4/bgr-ext4-writer-internal.h"

gboolean
bgr_ext4_apply_refuse (Apply *a, GError **error, const char *fmt, ...)
{
  g_autofree char *why = NULL;
  va_list ap;

  va_start (ap, fmt);
  why = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "layer %s: entry \"%s\": %s", a->layer,
               a->entry, why);
  return FALSE;
}

gboolean
bgr_ext4_apply_fail (Apply *a, errcode_t rc, GError **error, const char *what)
{
  bgr_set_error_from_ext2fs (error, rc, "layer %s: entry \"%s\": %s", a->layer, a->entry, what);
  return FALSE;
}

/* Pushes the names of @path onto @todo, last first, so that they pop in
 * order; empty and "." names vanish. */
void
bgr_ext4_push_names (GPtrArray *todo, const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);

  for (guint i = g_strv_length (parts); i > 0; i--)
    if (parts[i - 1][0] != '\0' && !g_str_equal (parts[i - 1], "."))
      g_ptr_array_add (todo, g_strdup (parts[i - 1]));
}

/* A new parent directory a layer implies: 0755, root, the entry's mtime. */
static gboolean
make_implied_dir (Apply *a, ext2_ino_t dir, const char *name, time_t mtime, ext2_ino_t *out,
                  GError **error)
{
  struct ext2_inode_large inode;
  errcode_t rc;

  if ((rc = bgr_ext4_make_dir (a->fs, dir, name, out)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot create a parent directory");
  if ((rc = bgr_ext4_read_inode (a->fs, *out, &inode)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot read a new directory");
  inode.i_mode = LINUX_S_IFDIR | 0755;
  bgr_ext4_set_time (&inode.i_mtime, NULL, mtime, 0);
  bgr_ext4_set_time (&inode.i_atime, NULL, mtime, 0);
  bgr_ext4_set_time (&inode.i_ctime, NULL, mtime, 0);
  if ((rc = bgr_ext4_write_inode (a->fs, *out, &inode)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot write a new directory");
  return TRUE;
}

/* Symlink @ino (the @links-th on the path) met while resolving: its
 * target's names go onto @todo; an absolute one starts over at the root. */
static gboolean
follow_link (Apply *a, ext2_ino_t ino, struct ext2_inode_large *inode, guint links,
             GPtrArray *todo, GArray *dirs, GPtrArray *names, GError **error)
{
  g_autofree char *target = NULL;
  errcode_t rc;

  if (links > MAX_SYMLINKS)
    return bgr_ext4_apply_refuse (a, error, "too many levels of symbolic links");
  if ((rc = bgr_ext4_read_symlink (a->fs, ino, inode, &target)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot read a symlink on the path");
  if (target[0] == '/')
    {
      g_array_set_size (dirs, 1);
      g_ptr_array_set_size (names, 0);
    }
  bgr_ext4_push_names (todo, target);
  return TRUE;
}

/* Refuses @name, after the directories @names, as a parent that is not a
 * directory. */
static gboolean
refuse_not_dir (Apply *a, GPtrArray *names, const char *name, GError **error)
{
  g_autoptr (GString) parent = g_string_new (NULL);
  g_autofree char *shown = NULL;

  for (guint i = 0; i < names->len; i++)
    g_string_append_printf (parent, "%s/", (const char *) g_ptr_array_index (names, i));
  g_string_append (parent, name);
  shown = bgr_ext4_escape_path (parent->str);
  return bgr_ext4_apply_refuse (a, error, "parent \"%s\" is not a directory", shown);
}

/* Resolves the directory made of the first @n components of @comps inside
 * the image, as umoci (securejoin) and containerd do: symlinks met on the
 * way are followed within the image (an absolute target starts at the
 * image root, ".." stops there, at most 40 links), so that a layer writing
 * "lib/x/y" over an earlier "lib -> usr/lib" lands in "usr/lib/x/y".
 * Nothing is ever looked up outside the image. Missing directories are
 * created (0755, root) when @create; otherwise *out is 0. *real gets the
 * directory's own path from the root ("" for the root). */
gboolean
bgr_ext4_resolve_dir (Apply *a, GPtrArray *comps, guint n, gboolean create, time_t mtime,
                      ext2_ino_t *out, char **real, GError **error)
{
  g_autoptr (GPtrArray) todo = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) dirs = g_array_new (FALSE, FALSE, sizeof (ext2_ino_t));
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  ext2_ino_t root = EXT2_ROOT_INO;
  guint links = 0;

  g_array_append_val (dirs, root);
  for (guint i = n; i > 0; i--)
    g_ptr_array_add (todo, g_strdup (g_ptr_array_index (comps, i - 1)));
  while (todo->len > 0)
    {
      g_autofree char *name = g_ptr_array_steal_index (todo, todo->len - 1);
      ext2_ino_t dir = g_array_index (dirs, ext2_ino_t, dirs->len - 1), ino;
      struct ext2_inode_large inode;
      errcode_t rc;

      if (g_str_equal (name, ".."))
        {
          if (dirs->len > 1)
            {
              g_array_set_size (dirs, dirs->len - 1);
              g_ptr_array_set_size (names, (gint) names->len - 1);
            }
          continue;
        }
      if (strlen (name) > MAX_NAME_LEN)
        return bgr_ext4_apply_refuse (a, error,
                                      "a symlink on the path leads to a name longer than 255 "
                                      "bytes");
      if (dirs->len > MAX_DEPTH)
        return bgr_ext4_apply_refuse (a, error,
                                      "path deeper than 64 levels once symlinks are followed");
      rc = bgr_ext4_lookup (a->fs, dir, name, &ino);
      if (rc == EXT2_ET_FILE_NOT_FOUND)
        {
          if (!create)
            {
              *out = 0;
              *real = NULL;
              return TRUE;
            }
          if (!make_implied_dir (a, dir, name, mtime, &ino, error))
            return FALSE;
        }
      else if (rc != 0)
        return bgr_ext4_apply_fail (a, rc, error, "cannot look up a parent directory");
      else if (bgr_ext4_is_known_dir (a->fs, ino))
        {
          /* A directory: no need to read it. */
        }
      else if ((rc = bgr_ext4_read_inode (a->fs, ino, &inode)) != 0)
        return bgr_ext4_apply_fail (a, rc, error, "cannot read a parent directory");
      else if (LINUX_S_ISLNK (inode.i_mode))
        {
          if (!follow_link (a, ino, &inode, ++links, todo, dirs, names, error))
            return FALSE;
          continue;
        }
      else if (!LINUX_S_ISDIR (inode.i_mode))
        return refuse_not_dir (a, names, name, error);
      g_array_append_val (dirs, ino);
      g_ptr_array_add (names, g_steal_pointer (&name));
    }
  *out = g_array_index (dirs, ext2_ino_t, dirs->len - 1);
  g_ptr_array_add (names, NULL);
  *real = g_strjoinv ("/", (char **) names->pdata);
  return TRUE;
}

/* "DIR/NAME", or NAME in the root. */
char *
bgr_ext4_child_path (const char *dir, const char *name)
{
  return *dir == '\0' ? g_strdup (name) : g_strconcat (dir, "/", name, NULL);
}

/* Records @path (a real path from the root) and its ancestors as made by
 * this layer. */
void
bgr_ext4_mark_touched (Apply *a, const char *path)
{
  char *p = g_strdup (path);

  while (g_hash_table_add (a->touched, p))
    {
      char *slash = strrchr (p, '/');
      if (slash == NULL)
        return;
      p = g_strndup (p, (gsize) (slash - p));
    }
  /* Its ancestors are in already. */
}

/* Hardlinks name an entry already in the image; the target is resolved
 * with the same rules as any path (folded, inside the root, no symlinked
 * parents) and must be an existing non-directory. */
gboolean
bgr_ext4_resolve_link_target (Apply *a, const char *target, ext2_ino_t *out, GError **error)
{
  g_autoptr (GPtrArray) comps = NULL;
  g_autofree char *shown = bgr_ext4_escape_path (target);
  struct ext2_inode_large inode;
  g_autofree char *real = NULL;
  const char *why = NULL;
  ext2_ino_t dir, ino;
  errcode_t rc;

  if ((comps = bgr_ext4_fold_path (target, &why)) == NULL)
    return bgr_ext4_apply_refuse (a, error, "hardlink target \"%s\": %s", shown, why);
  if (comps->len == 0)
    return bgr_ext4_apply_refuse (a, error, "hardlink target \"%s\" is the image root", shown);
  if (!bgr_ext4_resolve_dir (a, comps, comps->len - 1, FALSE, 0, &dir, &real, error))
    return FALSE;
  rc = dir == 0 ? EXT2_ET_FILE_NOT_FOUND
                : bgr_ext4_lookup (a->fs, dir, g_ptr_array_index (comps, comps->len - 1), &ino);
  if (rc == EXT2_ET_FILE_NOT_FOUND)
    return bgr_ext4_apply_refuse (a, error, "hardlink target \"%s\" does not exist in the image",
                                  shown);
  if (rc != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot look up the hardlink target");
  if ((rc = bgr_ext4_read_inode (a->fs, ino, &inode)) != 0)
    return bgr_ext4_apply_fail (a, rc, error, "cannot read the hardlink target");
  if (LINUX_S_ISDIR (inode.i_mode))
    return bgr_ext4_apply_refuse (a, error, "hardlink target \"%s\" is a directory", shown);
  if (inode.i_links_count >= EXT2_LINK_MAX)
    return bgr_ext4_apply_refuse (a, error, "hardlink target \"%s\" has too many links", shown);
  *out = ino;
  return TRUE;
}
