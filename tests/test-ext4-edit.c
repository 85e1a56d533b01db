/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Existing ext4 images edited (ext4/bgr-ext4-writer-add.c, -tree.c): host
 * files and trees put in through bgr_ext4_writer_open() and the add calls,
 * paths resolved through the image's symlinks. Images come from mkfs.ext4
 * -d (a Debian-like tree with lib -> usr/lib) and from
 * bgr_ext4_writer_create(); the results are checked entry by entry with
 * debugfs and as a whole with e2fsck. test-ext4-edit-limits.c has full
 * filesystems, growing and refused images. */
#include "config.h"

#include "ext4-edit-util.h"

/* ---- add_data, add_file --------------------------------------------- */

static void
test_add_files (void)
{
  g_autofree char *img = make_debian_image ("files.ext4", 64);
  g_autofree char *host = sandbox_path ("host-tool");
  g_autoptr (GError) err = NULL;
  g_autofree char *st = NULL, *data = NULL;
  BgrExt4Writer *w;
  gint64 before = g_get_real_time () / G_USEC_PER_SEC;

  write_host (host, "#!/bin/sh\necho tool\n", 0751, 0);
  w = open_ok (img);
  add_data_ok (w, "/etc/banger/agent.toml", "key = 1\n", 8, 0600);
  add_data_ok (w, "/etc/hostname", "vm-1\n", 5, 0644);
  add_data_ok (w, "etc/empty", NULL, 0, 0640);
  g_assert_true (bgr_ext4_writer_add_file (w, "/usr/local/bin/tool", host, 0, NULL, &err));
  g_assert_no_error (err);
  g_assert_true (bgr_ext4_writer_add_file (w, "/usr/local/bin/tool2", host, 0700, NULL, &err));
  g_assert_no_error (err);
  /* a hardlinked file replaced: the other name keeps the old content */
  add_data_ok (w, "/etc/two-a", "new\n", 4, 0644);
  /* a symlink as last name is replaced, its target untouched */
  add_data_ok (w, "/etc/resolv.conf", "nameserver 10.0.0.1\n", 20, 0644);
  close_ok (w);
  bgr_test_assert_fsck_clean (img);

  assert_file (img, "/etc/banger/agent.toml", "key = 1\n", "0600");
  st = bgr_test_assert_type (img, "/etc/banger", "directory");
  bgr_test_assert_field (st, "Mode:", "0755");
  bgr_test_assert_field (st, "User:", "0");
  g_clear_pointer (&st, g_free);
  assert_file (img, "/etc/hostname", "vm-1\n", "0644");
  st = bgr_test_stat_of (img, "/etc/hostname");
  {
    g_autofree char *mtime = bgr_test_field (st, "mtime:");
    gint64 t = (gint64) g_ascii_strtoull (mtime, NULL, 16);
    g_assert_cmpint (t, >=, before);
    g_assert_cmpint (t, <=, before + 60);
  }
  g_clear_pointer (&st, g_free);
  assert_file (img, "/etc/empty", "", "0640");
  assert_file (img, "/usr/local/bin/tool", "#!/bin/sh\necho tool\n", "0751");
  assert_file (img, "/usr/local/bin/tool2", "#!/bin/sh\necho tool\n", "0700");
  st = bgr_test_assert_type (img, "/usr/local", "directory");
  bgr_test_assert_field (st, "Mode:", "0755");
  g_clear_pointer (&st, g_free);
  assert_file (img, "/etc/two-a", "new\n", "0644");
  data = cat_of (img, "/etc/two-b");
  g_assert_cmpstr (data, ==, "shared\n");
  st = bgr_test_assert_type (img, "/etc/two-b", "regular");
  bgr_test_assert_field (st, "Links:", "1");
  g_clear_pointer (&st, g_free);
  assert_file (img, "/etc/resolv.conf", "nameserver 10.0.0.1\n", "0644");
  bgr_test_assert_absent (img, "/run");
  g_unlink (host);
}

/* Replacing a file gives its blocks back. */
static void
test_replace_frees (void)
{
  g_autofree char *img = sandbox_path ("replace.ext4");
  g_autofree char *big = g_malloc (4 * MIB);
  g_autoptr (GError) err = NULL;
  guint64 free0, free1, free2;
  BgrExt4Writer *w;

  g_unlink (img);
  w = bgr_ext4_writer_create (img, 32 * MIB, 256, &err);
  g_assert_no_error (err);
  close_ok (w);
  free0 = stats_number (img, "Free blocks:");

  memset (big, 'a', 4 * MIB);
  w = open_ok (img);
  add_data_ok (w, "/big", big, 4 * MIB, 0644);
  close_ok (w);
  free1 = stats_number (img, "Free blocks:");
  g_assert_cmpuint (free0 - free1, >=, 1024);
  g_assert_cmpuint (free0 - free1, <=, 1024 + 4);

  memset (big, 'b', 4 * MIB);
  w = open_ok (img);
  add_data_ok (w, "/big", big, 4 * MIB, 0644);
  add_data_ok (w, "/big", big, 4 * MIB, 0644);
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  g_assert_cmpuint (stats_number (img, "Free blocks:"), ==, free1);
  {
    g_autofree char *st = bgr_test_assert_type (img, "/big", "regular");
    g_autofree char *data = cat_of (img, "/big");
    bgr_test_assert_field (st, "Size:", "4194304");
    g_assert_cmpuint (strlen (data), ==, 4 * MIB);
    g_assert_cmpint (data[0], ==, 'b');
    g_assert_cmpint (data[4 * MIB - 1], ==, 'b');
  }

  w = open_ok (img);
  add_data_ok (w, "/big", "small", 5, 0644);
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  free2 = stats_number (img, "Free blocks:");
  g_assert_cmpuint (free2, ==, free0 - 1);
  assert_file (img, "/big", "small", "0644");
  g_unlink (img);
}

/* ---- add_tree ------------------------------------------------------- */

static char *
make_host_tree (const char *name, const char *version)
{
  g_autofree char *root = sandbox_path (name);
  g_autofree char *long_target = g_strnfill (120, 'y');
  g_autofree char *p = NULL, *c = NULL;

  rm_rf (root);
  p = g_build_filename (root, "kernel/drivers/net/virtio_net.ko", NULL);
  c = g_strdup_printf ("module %s\n", version);
  write_host (p, c, 0644, 1600000000);
  g_clear_pointer (&p, g_free);
  p = g_build_filename (root, "kernel/fs/ext4/ext4.ko", NULL);
  write_host (p, "ext4\n", 0600, 1600000001);
  g_clear_pointer (&p, g_free);
  p = g_build_filename (root, "modules.dep", NULL);
  write_host (p, "kernel/fs/ext4/ext4.ko:\n", 0644, 0);
  g_clear_pointer (&p, g_free);
  p = g_build_filename (root, "scripts/run.sh", NULL);
  write_host (p, "#!/bin/sh\n", 0755, 0);
  g_clear_pointer (&p, g_free);
  p = g_build_filename (root, "empty", NULL);
  g_assert_cmpint (g_mkdir (p, 0700), ==, 0);
  g_clear_pointer (&p, g_free);
  p = g_build_filename (root, "build", NULL);
  g_assert_cmpint (symlink ("/usr/src/linux-headers-6.1.0-x", p), ==, 0);
  g_clear_pointer (&p, g_free);
  p = g_build_filename (root, "long", NULL);
  g_assert_cmpint (symlink (long_target, p), ==, 0);
  g_clear_pointer (&p, g_free);
  /* directories last: their times would change as files go in */
  p = g_build_filename (root, "kernel/fs", NULL);
  g_assert_cmpint (chmod (p, 0750), ==, 0);
  {
    struct timespec ts[2] = { { 1500000000, 0 }, { 1500000000, 0 } };
    g_assert_cmpint (utimensat (AT_FDCWD, p, ts, 0), ==, 0);
  }
  g_assert_cmpint (chmod (root, 0700), ==, 0);
  return g_steal_pointer (&root);
}

/* What the first add_tree() of make_host_tree ("a") left at
 * /usr/lib/modules/6.1.0-x, through lib -> usr/lib. */
static void
check_first_tree (const char *img, const char *top, const char *long_target)
{
  g_autofree char *st = NULL, *data = NULL;

  /* through lib -> usr/lib, which stays a symlink */
  st = bgr_test_assert_type (img, "/lib", "symlink");
  g_clear_pointer (&st, g_free);
  st = bgr_test_assert_type (img, top, "directory");
  bgr_test_assert_field (st, "Mode:", "0700"); /* made: the host directory's mode */
  bgr_test_assert_field (st, "User:", "0");
  g_clear_pointer (&st, g_free);
  st = bgr_test_assert_type (img, "/usr/lib/modules", "directory");
  bgr_test_assert_field (st, "Mode:", "0755");
  g_clear_pointer (&st, g_free);
  assert_file (img, "/usr/lib/modules/6.1.0-x/kernel/drivers/net/virtio_net.ko", "module a\n",
               "0644");
  st = bgr_test_stat_of (img, "/usr/lib/modules/6.1.0-x/kernel/drivers/net/virtio_net.ko");
  g_assert_nonnull (strstr (st, "mtime: 0x5f5e1000:00000000"));
  g_clear_pointer (&st, g_free);
  assert_file (img, "/usr/lib/modules/6.1.0-x/kernel/fs/ext4/ext4.ko", "ext4\n", "0600");
  assert_file (img, "/usr/lib/modules/6.1.0-x/modules.dep", "kernel/fs/ext4/ext4.ko:\n",
               "0644");
  assert_file (img, "/usr/lib/modules/6.1.0-x/scripts/run.sh", "#!/bin/sh\n", "0755");
  st = bgr_test_assert_type (img, "/usr/lib/modules/6.1.0-x/kernel/fs", "directory");
  bgr_test_assert_field (st, "Mode:", "0750");
  g_assert_nonnull (strstr (st, "mtime: 0x59682f00:00000000"));
  g_clear_pointer (&st, g_free);
  st = bgr_test_assert_type (img, "/usr/lib/modules/6.1.0-x/empty", "directory");
  bgr_test_assert_field (st, "Mode:", "0700");
  g_clear_pointer (&st, g_free);
  st = bgr_test_assert_type (img, "/usr/lib/modules/6.1.0-x/build", "symlink");
  g_assert_nonnull (strstr (st, "Fast link dest: \"/usr/src/linux-headers-6.1.0-x\""));
  bgr_test_assert_field (st, "User:", "0");
  g_clear_pointer (&st, g_free);
  st = bgr_test_assert_type (img, "/usr/lib/modules/6.1.0-x/long", "symlink");
  g_clear_pointer (&st, g_free);
  data = cat_of (img, "/usr/lib/modules/6.1.0-x/long");
  g_assert_cmpstr (data, ==, long_target);
  g_clear_pointer (&data, g_free);
}

/* Again with other content, through the image's symlinks: existing files
 * and symlinks replaced, directories merged. Returns the host tree. */
static char *
add_tree_again (const char *img, const char *top)
{
  g_autofree char *host2 = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree char *st = NULL;
  BgrExt4Writer *w;

  host2 = make_host_tree ("modules-b", "b");
  {
    g_autofree char *p = g_build_filename (host2, "build", NULL);
    g_autofree char *q = g_build_filename (host2, "kernel/extra.ko", NULL);
    g_unlink (p);
    g_assert_true (g_file_set_contents (p, "build is a file now", -1, NULL));
    write_host (q, "extra\n", 0644, 0);
  }
  w = open_ok (img);
  g_assert_true (bgr_ext4_writer_add_tree (w, host2, "/usr/lib/../lib/modules/6.1.0-x", NULL,
                                           &err));
  g_assert_no_error (err);
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  assert_file (img, "/usr/lib/modules/6.1.0-x/kernel/drivers/net/virtio_net.ko", "module b\n",
               "0644");
  assert_file (img, "/usr/lib/modules/6.1.0-x/kernel/extra.ko", "extra\n", "0644");
  assert_file (img, "/usr/lib/modules/6.1.0-x/build", "build is a file now", "0644");
  assert_file (img, "/usr/lib/modules/6.1.0-x/modules.dep", "kernel/fs/ext4/ext4.ko:\n",
               "0644");
  st = bgr_test_assert_type (img, top, "directory");
  bgr_test_assert_field (st, "Mode:", "0700");
  g_clear_pointer (&st, g_free);
  bgr_test_assert_absent (img, "/modules");
  return g_steal_pointer (&host2);
}

/* Host trees and guest paths add_tree() refuses, the image left sound. */
static void
add_tree_refused (const char *img, const char *host, const char *host2)
{
  g_autoptr (GError) err = NULL;
  BgrExt4Writer *w;

  /* a host file where the image has a directory */
  {
    g_autofree char *p = g_build_filename (host2, "kernel/fs", NULL);
    g_autofree char *q = g_build_filename (host2, "empty", NULL);
    rm_rf (p);
    g_assert_true (g_file_set_contents (p, "not a dir", -1, NULL));
    rm_rf (q);
    g_assert_true (g_file_set_contents (q, "not a dir either", -1, NULL));
  }
  w = open_ok (img);
  g_assert_false (bgr_ext4_writer_add_tree (w, host2, "/lib/modules/6.1.0-x", NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_test_message ("%s", err->message);
  bgr_assert_contains (err->message, "/lib/modules/6.1.0-x/empty");
  bgr_assert_contains (err->message, "is a directory");
  g_clear_error (&err);
  close_ok (w);
  bgr_test_assert_fsck_clean (img);

  /* the guest directory a file */
  w = open_ok (img);
  g_assert_false (bgr_ext4_writer_add_tree (w, host, "/etc/hostname", NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  /* a host path that is not a directory */
  g_assert_false (bgr_ext4_writer_add_tree (w, "/nonexistent-dir", "/x", NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_clear_error (&err);
  /* cancelled */
  {
    g_autoptr (GCancellable) c = g_cancellable_new ();
    g_cancellable_cancel (c);
    g_assert_false (bgr_ext4_writer_add_tree (w, host, "/cancelled", c, &err));
    g_assert_error (err, BGR_ERROR, BGR_ERROR_CANCELLED);
    g_clear_error (&err);
  }
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
}

static void
test_add_tree (void)
{
  g_autofree char *img = make_debian_image ("tree.ext4", 64);
  g_autofree char *host = make_host_tree ("modules-a", "a");
  g_autofree char *host2 = NULL;
  g_autofree char *long_target = g_strnfill (120, 'y');
  g_autoptr (GError) err = NULL;
  const char *top = "/usr/lib/modules/6.1.0-x";
  BgrExt4Writer *w;

  w = open_ok (img);
  g_assert_true (bgr_ext4_writer_add_tree (w, host, "/lib/modules/6.1.0-x", NULL, &err));
  g_assert_no_error (err);
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  check_first_tree (img, top, long_target);
  host2 = add_tree_again (img, top);
  add_tree_refused (img, host, host2);
  rm_rf (host);
  rm_rf (host2);
}

/* A tree copied onto "/": its lib/ goes through the image's lib ->
 * usr/lib, and "/" keeps its own metadata. */
static void
test_add_tree_root (void)
{
  g_autofree char *img = make_debian_image ("root.ext4", 64);
  g_autofree char *host = sandbox_path ("overlay");
  g_autofree char *p = NULL, *st = NULL;
  g_autoptr (GError) err = NULL;
  BgrExt4Writer *w;

  rm_rf (host);
  p = g_build_filename (host, "lib/firmware/fw.bin", NULL);
  write_host (p, "firmware", 0644, 0);
  g_clear_pointer (&p, g_free);
  p = g_build_filename (host, "etc/motd", NULL);
  write_host (p, "hello", 0644, 0);
  g_clear_pointer (&p, g_free);
  g_assert_cmpint (chmod (host, 0700), ==, 0);
  p = g_build_filename (host, "lib", NULL);
  g_assert_cmpint (chmod (p, 0700), ==, 0);
  g_clear_pointer (&p, g_free);
  w = open_ok (img);
  g_assert_true (bgr_ext4_writer_add_tree (w, host, "/", NULL, &err));
  g_assert_no_error (err);
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  assert_file (img, "/usr/lib/firmware/fw.bin", "firmware", "0644");
  assert_file (img, "/etc/motd", "hello", "0644");
  st = bgr_test_assert_type (img, "/lib", "symlink");
  g_clear_pointer (&st, g_free);
  st = bgr_test_assert_type (img, "/", "directory");
  bgr_test_assert_field (st, "Mode:", "0755");
  g_clear_pointer (&st, g_free);
  /* merged into: keeps its metadata, not the host lib/'s 0700 */
  st = bgr_test_assert_type (img, "/usr/lib", "directory");
  bgr_test_assert_field (st, "Mode:", "0755");
  g_clear_pointer (&st, g_free);
  st = bgr_test_assert_type (img, "/usr/lib/firmware", "directory");
  bgr_test_assert_field (st, "Mode:", "0755");

  /* what is neither a file, a directory nor a symlink */
  g_clear_pointer (&p, g_free);
  p = g_build_filename (host, "etc/fifo", NULL);
  g_assert_cmpint (mkfifo (p, 0644), ==, 0);
  w = open_ok (img);
  g_assert_false (bgr_ext4_writer_add_file (w, "/fifo", p, 0, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  g_assert_false (bgr_ext4_writer_add_tree (w, host, "/", NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED);
  bgr_assert_contains (err->message, "etc/fifo");
  g_clear_error (&err);
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  bgr_test_assert_absent (img, "/fifo");
  rm_rf (host);
}

/* mkfs.ext4's default for small images: 1 KiB blocks. */
static void
test_small_blocks (void)
{
  g_autofree char *img = make_debian_image_bs ("small-blocks.ext4", 64, "1024");
  g_autofree char *host = make_host_tree ("modules-1k", "1k");
  g_autofree char *big = g_strnfill (300000, 'q');
  g_autofree char *data = NULL;
  g_autoptr (GError) err = NULL;
  BgrExt4Writer *w;

  g_assert_cmpuint (stats_number (img, "Block size:"), ==, 1024);
  w = open_ok (img);
  g_assert_true (bgr_ext4_writer_add_tree (w, host, "/lib/modules/1k", NULL, &err));
  g_assert_no_error (err);
  add_data_ok (w, "/lib/big", big, 300000, 0644);
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  assert_file (img, "/usr/lib/modules/1k/kernel/drivers/net/virtio_net.ko", "module 1k\n",
               "0644");
  data = cat_of (img, "/usr/lib/big");
  g_assert_cmpstr (data, ==, big);

  g_assert_true (bgr_ext4_grow (img, 100 * MIB, NULL, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (stats_number (img, "Block count:"), ==, 100 * 1024);
  bgr_test_assert_fsck_clean (img);
  assert_file (img, "/usr/lib/modules/1k/modules.dep", "kernel/fs/ext4/ext4.ko:\n", "0644");
  rm_rf (host);
  g_unlink (img);
}

/* ---- path resolution ------------------------------------------------ */

static void
test_resolution (void)
{
  g_autofree char *img = make_debian_image ("resolve.ext4", 64);
  g_autoptr (GError) err = NULL;
  g_autofree char *st = NULL;
  BgrExt4Writer *w = open_ok (img);

  /* relative target climbing above the root: clamped */
  add_data_ok (w, "/usr/lib/alt/via-alt", "alt", 3, 0644);
  /* absolute target: the image's /srv */
  add_data_ok (w, "/opt/via-opt", "opt", 3, 0644);
  /* ".." of the caller's path: clamped too, and after a symlink it is the
   * target's parent */
  add_data_ok (w, "/../../etc/../share-via-dots", "dots", 4, 0644);
  add_data_ok (w, "/lib/../from-lib-parent", "up", 2, 0644);
  /* a symlink in a missing parent chain */
  add_data_ok (w, "/lib/new/dir/file", "deep", 4, 0644);

  /* loops */
  g_assert_false (bgr_ext4_writer_add_data (w, "/loop1/x", "x", 1, 0644, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  bgr_assert_contains (err->message, "too many levels of symbolic links");
  g_clear_error (&err);
  /* a file as a parent */
  g_assert_false (bgr_ext4_writer_add_data (w, "/etc/hostname/x", "x", 1, 0644, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  bgr_assert_contains (err->message, "not a directory");
  g_clear_error (&err);
  /* a directory where a file goes */
  g_assert_false (bgr_ext4_writer_add_data (w, "/etc", "x", 1, 0644, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  bgr_assert_contains (err->message, "is a directory");
  g_clear_error (&err);
  g_assert_false (bgr_ext4_writer_add_data (w, "/lib/..", "x", 1, 0644, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  g_assert_false (bgr_ext4_writer_add_data (w, "/", "x", 1, 0644, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  /* a directory, through a symlinked parent */
  g_assert_false (bgr_ext4_writer_add_data (w, "/lib/x86_64-linux-gnu", "x", 1, 0644, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  /* a missing host file */
  g_assert_false (bgr_ext4_writer_add_file (w, "/x", "/nonexistent-file", 0, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_clear_error (&err);
  close_ok (w);
  bgr_test_assert_fsck_clean (img);

  assert_file (img, "/usr/share/via-alt", "alt", "0644");
  assert_file (img, "/srv/via-opt", "opt", "0644");
  assert_file (img, "/share-via-dots", "dots", "0644");
  assert_file (img, "/usr/from-lib-parent", "up", "0644");
  assert_file (img, "/usr/lib/new/dir/file", "deep", "0644");
  st = bgr_test_assert_type (img, "/opt", "symlink");
  g_clear_pointer (&st, g_free);
  st = bgr_test_assert_type (img, "/usr/lib/alt", "symlink");
  g_clear_pointer (&st, g_free);
  bgr_test_assert_absent (img, "/x");
  bgr_test_assert_absent (img, "/loop1/x");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/ext4-edit/add-files", test_add_files);
  g_test_add_func ("/ext4-edit/replace-frees", test_replace_frees);
  g_test_add_func ("/ext4-edit/add-tree", test_add_tree);
  g_test_add_func ("/ext4-edit/add-tree-root", test_add_tree_root);
  g_test_add_func ("/ext4-edit/small-blocks", test_small_blocks);
  g_test_add_func ("/ext4-edit/resolution", test_resolution);
  return g_test_run ();
}
