/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the ext4 editing tests (test-ext4-edit*.c) share: a sandbox
 * directory, images made by mkfs.ext4 -d from a Debian-like tree (lib ->
 * usr/lib), host files to put in, and looks inside images with debugfs. */
#include "config.h"

#include "ext4-edit-util.h"

char *
sandbox (void)
{
  char *dir = g_build_filename (g_get_user_data_dir (), "sandbox", NULL);

  g_mkdir_with_parents (dir, 0700);
  return dir;
}

char *
sandbox_path (const char *name)
{
  g_autofree char *dir = sandbox ();
  return g_build_filename (dir, name, NULL);
}

void
debugfs_write (const char *img, const char *cmd)
{
  BgrRun r;

  bgr_run_env (&r, NULL, (const char *const[]){ bgr_test_tool ("debugfs"), "-w", "-R", cmd, img, NULL });
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
}

char *
cat_of (const char *img, const char *path)
{
  g_autofree char *cmd = g_strdup_printf ("cat \"%s\"", path);
  char *out = bgr_test_debugfs (img, cmd);

  return out != NULL ? out : g_strdup ("");
}

guint64
stats_number (const char *img, const char *label)
{
  g_autofree char *st = bgr_test_debugfs (img, "stats");
  g_autofree char *v = bgr_test_field (st, label);

  return g_ascii_strtoull (v, NULL, 10);
}

void
assert_file (const char *img, const char *path, const char *content, const char *mode)
{
  g_autofree char *st = bgr_test_assert_type (img, path, "regular");
  g_autofree char *data = cat_of (img, path);

  bgr_test_assert_field (st, "Mode:", mode);
  bgr_test_assert_field (st, "User:", "0");
  bgr_test_assert_field (st, "Group:", "0");
  g_assert_cmpstr (data, ==, content);
}

void
write_host (const char *path, const char *content, guint mode, gint64 mtime)
{
  g_autofree char *dir = g_path_get_dirname (path);
  struct timespec ts[2];

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, content, -1, NULL));
  g_assert_cmpint (chmod (path, mode), ==, 0);
  if (mtime != 0)
    {
      ts[0].tv_sec = ts[1].tv_sec = mtime;
      ts[0].tv_nsec = ts[1].tv_nsec = 0;
      g_assert_cmpint (utimensat (AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), ==, 0);
    }
}

void
rm_rf (const char *path)
{
  BgrRun r;

  bgr_run_env (&r, NULL, (const char *const[]){ "rm", "-rf", path, NULL });
  bgr_run_clear (&r);
}

char *
make_debian_image_bs (const char *name, guint size_mib, const char *block_size)
{
  g_autofree char *tree = sandbox_path ("tree");
  g_autofree char *img = sandbox_path (name);
  g_autofree char *size = g_strdup_printf ("%uM", size_mib);
  g_autofree char *p = NULL;
  BgrRun r;

  rm_rf (tree);
  g_unlink (img);
  p = g_build_filename (tree, "usr/lib/x86_64-linux-gnu", NULL);
  g_assert_cmpint (g_mkdir_with_parents (p, 0755), ==, 0);
  g_clear_pointer (&p, g_free);
  p = g_build_filename (tree, "usr/bin", NULL);
  g_assert_cmpint (g_mkdir_with_parents (p, 0755), ==, 0);
  g_clear_pointer (&p, g_free);
  p = g_build_filename (tree, "usr/share", NULL);
  g_assert_cmpint (g_mkdir_with_parents (p, 0755), ==, 0);
  g_clear_pointer (&p, g_free);
  p = g_build_filename (tree, "srv", NULL);
  g_assert_cmpint (g_mkdir_with_parents (p, 0755), ==, 0);
  g_clear_pointer (&p, g_free);
  p = g_build_filename (tree, "etc/hostname", NULL);
  write_host (p, "debian\n", 0644, 0);
  g_clear_pointer (&p, g_free);
  p = g_build_filename (tree, "etc/two-a", NULL);
  write_host (p, "shared\n", 0644, 0);
  {
    g_autofree char *b = g_build_filename (tree, "etc/two-b", NULL);
    g_assert_cmpint (link (p, b), ==, 0);
  }
  {
    const char *links[][2] = {
      { "usr/lib", "lib" },
      { "usr/bin", "bin" },
      { "../run/resolv.conf", "etc/resolv.conf" },
      /* relative, climbing far above the root: clamped there */
      { "../../../../../../usr/share", "usr/lib/alt" },
      /* absolute: from the image root, not the host's */
      { "/srv", "opt" },
      { "loop2", "loop1" },
      { "loop1", "loop2" },
    };
    for (guint i = 0; i < G_N_ELEMENTS (links); i++)
      {
        g_autofree char *l = g_build_filename (tree, links[i][1], NULL);
        g_assert_cmpint (symlink (links[i][0], l), ==, 0);
      }
  }
  bgr_run_env (&r, NULL,
               (const char *const[]){ bgr_test_tool ("mkfs.ext4"), "-q", "-F", "-b", block_size, "-E",
                                      "root_owner=0:0", "-d", tree, img, size, NULL });
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  debugfs_write (img, "sif /etc/hostname uid 1000");
  debugfs_write (img, "sif /etc/hostname gid 1000");
  rm_rf (tree);
  bgr_test_assert_fsck_clean (img);
  return g_steal_pointer (&img);
}

char *
make_debian_image (const char *name, guint size_mib)
{
  return make_debian_image_bs (name, size_mib, "4096");
}

BgrExt4Writer *
open_ok (const char *img)
{
  g_autoptr (GError) err = NULL;
  BgrExt4Writer *w = bgr_ext4_writer_open (img, &err);

  g_assert_no_error (err);
  g_assert_nonnull (w);
  return w;
}

void
close_ok (BgrExt4Writer *w)
{
  g_autoptr (GError) err = NULL;

  g_assert_true (bgr_ext4_writer_close (w, &err));
  g_assert_no_error (err);
}

void
add_data_ok (BgrExt4Writer *w, const char *path, const char *data, gsize len, guint mode)
{
  g_autoptr (GError) err = NULL;

  gboolean ok = bgr_ext4_writer_add_data (w, path, data, len, mode, &err);

  g_assert_no_error (err);
  g_assert_true (ok);
}
