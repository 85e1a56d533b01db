/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Layer tarballs made from tables of entries (libarchive), and the ext4
 * writer driven on them, for the ext4 tests. */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <glib/gstdio.h>
#include <string.h>

#include "ext4/bgr-ext4-writer-private.h"
#include "bgr-test-ext4.h"

/* The layer tables below list only the fields each entry needs. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

typedef struct
{
  const char *path;
  mode_t type; /* AE_IF*; 0 with hardlink set */
  guint perm;
  const char *data; /* file contents, or symlink target */
  gsize size;       /* of data; 0: strlen (data) */
  const char *hardlink;
  gint64 uid, gid;
  gint64 mtime;
  guint major, minor;
  const char *xname;
  const void *xvalue;
  gsize xsize;
} Ent;

#define END { NULL }

static inline char *
sandbox (void)
{
  char *dir = g_build_filename (g_get_user_data_dir (), "sandbox", NULL);

  g_mkdir_with_parents (dir, 0700);
  return dir;
}

/* A pax tar (uid 1000, xattrs) with @filter: "gzip", "zstd" or NULL. */
static inline char *
write_layer (const char *name, const Ent *ents, const char *filter)
{
  g_autofree char *dir = sandbox ();
  char *path = g_build_filename (dir, name, NULL);
  struct archive *a = archive_write_new ();

  g_assert_cmpint (archive_write_set_format_pax (a), ==, ARCHIVE_OK);
  if (g_strcmp0 (filter, "gzip") == 0)
    g_assert_cmpint (archive_write_add_filter_gzip (a), ==, ARCHIVE_OK);
  else if (g_strcmp0 (filter, "zstd") == 0)
    g_assert_cmpint (archive_write_add_filter_zstd (a), ==, ARCHIVE_OK);
  g_assert_cmpint (archive_write_open_filename (a, path), ==, ARCHIVE_OK);
  for (const Ent *e = ents; e->path != NULL; e++)
    {
      struct archive_entry *ae = archive_entry_new ();
      gsize size = e->size != 0 || e->data == NULL ? e->size : strlen (e->data);

      archive_entry_set_pathname (ae, e->path);
      archive_entry_set_uid (ae, e->uid);
      archive_entry_set_gid (ae, e->gid);
      archive_entry_set_mtime (ae, e->mtime != 0 ? e->mtime : 1500000000, 0);
      if (e->hardlink != NULL)
        {
          archive_entry_set_filetype (ae, AE_IFREG);
          archive_entry_set_perm (ae, 0644);
          archive_entry_set_hardlink (ae, e->hardlink);
          archive_entry_set_size (ae, 0);
        }
      else
        {
          archive_entry_set_filetype (ae, e->type);
          archive_entry_set_perm (ae, e->perm != 0 ? e->perm : (e->type == AE_IFDIR ? 0755 : 0644));
          if (e->type == AE_IFLNK)
            archive_entry_set_symlink (ae, e->data);
          if (e->type == AE_IFCHR || e->type == AE_IFBLK)
            {
              archive_entry_set_rdevmajor (ae, e->major);
              archive_entry_set_rdevminor (ae, e->minor);
            }
          archive_entry_set_size (ae, e->type == AE_IFREG ? (la_int64_t) size : 0);
        }
      if (e->xname != NULL)
        archive_entry_xattr_add_entry (ae, e->xname, e->xvalue, e->xsize);
      g_assert_cmpint (archive_write_header (a, ae), ==, ARCHIVE_OK);
      if (e->type == AE_IFREG && e->hardlink == NULL && size > 0)
        g_assert_cmpint (archive_write_data (a, e->data, size), ==, (la_ssize_t) size);
      archive_entry_free (ae);
    }
  g_assert_cmpint (archive_write_close (a), ==, ARCHIVE_OK);
  archive_write_free (a);
  return path;
}

static inline char *
dump (const char *img, const char *path, gsize *len)
{
  g_autofree char *dir = sandbox ();
  g_autofree char *out = g_build_filename (dir, "dump.out", NULL);
  g_autofree char *cmd = g_strdup_printf ("dump \"%s\" %s", path, out);
  char *contents = NULL;
  BgrRun r;

  g_unlink (out);
  bgr_run_env (&r, NULL, (const char *const[]){ bgr_test_tool ("debugfs"), "-R", cmd, img, NULL });
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  g_assert_true (g_file_get_contents (out, &contents, len, NULL));
  g_unlink (out);
  return contents;
}

static inline char *
new_image_path (const char *name)
{
  g_autofree char *dir = sandbox ();
  char *p = g_build_filename (dir, name, NULL);

  g_unlink (p);
  return p;
}

static inline void
apply_ok (BgrExt4Writer *w, const char *tar, const char *name)
{
  g_autoptr (GError) err = NULL;

  g_assert_true (bgr_ext4_writer_apply_layer_file (w, tar, name, NULL, NULL, &err));
  g_assert_no_error (err);
}

static inline BgrExt4Writer *
create_ok (const char *img, guint64 size)
{
  g_autoptr (GError) err = NULL;
  BgrExt4Writer *w = bgr_ext4_writer_create (img, size, 4096, &err);

  g_assert_no_error (err);
  g_assert_nonnull (w);
  return w;
}

static inline void
close_ok (BgrExt4Writer *w)
{
  g_autoptr (GError) err = NULL;

  g_assert_true (bgr_ext4_writer_close (w, &err));
  g_assert_no_error (err);
}

/* A new image of @size bytes at @img, the NULL-terminated @layers applied
 * in order (named "layer 1", ...), closed, and clean to e2fsck. */
static inline void
build_image_ok (const char *img, guint64 size, const char *const *layers)
{
  BgrExt4Writer *w = create_ok (img, size);

  for (guint i = 0; layers[i] != NULL; i++)
    {
      g_autofree char *name = g_strdup_printf ("layer %u", i + 1);
      apply_ok (w, layers[i], name);
    }
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
}


/* Every path below @dir, one a line, sorted: to tell that the host did not
 * change. */
static inline void
list_tree (const char *dir, GPtrArray *out)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      char *p = g_build_filename (dir, name, NULL);
      g_ptr_array_add (out, p);
      if (g_file_test (p, G_FILE_TEST_IS_DIR) && !g_file_test (p, G_FILE_TEST_IS_SYMLINK))
        list_tree (p, out);
    }
}

static inline char *
tree_string (const char *dir)
{
  g_autoptr (GPtrArray) all = g_ptr_array_new_with_free_func (g_free);

  list_tree (dir, all);
  g_ptr_array_sort (all, (GCompareFunc) g_strcmp0);
  g_ptr_array_add (all, NULL);
  return g_strjoinv ("\n", (char **) all->pdata);
}
