/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the cache and the state directory hold, through the engine on the
 * fake VMM driver: partial downloads and unused bases listed and pruned, a
 * base going with its image, image directories with no record removed
 * when an engine starts.
 *
 * VMs run on the fake VMM (hypervisor = "fake", see lifecycle-fixture.h
 * and docs/testing.md): every "VM" is the real guest agent running on the
 * host in its host mode, without root, KVM or QEMU, in seconds, and under
 * ASan. Nothing here sleeps and hopes: waits poll a condition against a
 * deadline. Each test has its own state directory and kills whatever
 * process it left behind. */
#include "config.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "lifecycle-fixture.h"

#include "bgr-fs-private.h"

/* ---- what the cache and the state directory hold --------------------------- */

static BgrCacheBlob *
cache_entry (GPtrArray *list, const char *name)
{
  for (guint i = 0; i < list->len; i++)
    if (g_str_equal (bgr_cache_blob_get_name (list->pdata[i]), name))
      return list->pdata[i];
  return NULL;
}

static GPtrArray *
cache_list (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  GPtrArray *list = bgr_engine_list_image_cache (f->engine, &err);

  g_assert_no_error (err);
  g_assert_nonnull (list);
  return list;
}

static char *
only_base (Fixture *f)
{
  g_autofree char *dir = g_build_filename (f->dir, "cache", "vm-bases", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name = d != NULL ? g_dir_read_name (d) : NULL;

  g_assert_nonnull (name);
  return g_strdup (name);
}

/* A killed pull's .part and a base no image leads to show in the cache
 * list and go with prune; a .part a live download holds (its flock) shows
 * as in use and stays; the base of an image goes with the image. */
static void
test_cache_garbage (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrVm) vm = create_vm (f, "base");
  g_autofree char *blobs = g_build_filename (f->dir, "cache", "oci", "blobs", "sha256", NULL);
  g_autofree char *hex_stale = g_strnfill (64, 'a'), *hex_held = g_strnfill (64, 'b');
  g_autofree char *stale_name = g_strconcat (hex_stale, ".part", NULL);
  g_autofree char *held_name = g_strconcat (hex_held, ".part", NULL);
  g_autofree char *stale = g_build_filename (blobs, stale_name, NULL);
  g_autofree char *held = g_build_filename (blobs, held_name, NULL);
  g_autofree char *old_base = g_build_filename (f->dir, "cache", "vm-bases",
                                                "0123456789abcdef0123456789abcdef.ext4", NULL);
  g_autofree char *base_name = only_base (f);
  g_autofree char *base = g_build_filename (f->dir, "cache", "vm-bases", base_name, NULL);
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GError) err = NULL;
  BgrCacheBlob *e;
  guint64 freed = 0;
  guint removed = 0;
  int fd;

  (void) data;
  g_assert_cmpint (g_mkdir_with_parents (blobs, 0700), ==, 0);
  g_file_set_contents (stale, "half a layer", -1, &err);
  g_assert_no_error (err);
  g_file_set_contents (held, "downloading", -1, &err);
  g_assert_no_error (err);
  g_file_set_contents (old_base, "an old base", -1, &err);
  g_assert_no_error (err);
  /* A live download, as net/bgr-download.c holds it. */
  fd = open (held, O_RDWR | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (flock (fd, LOCK_EX | LOCK_NB), ==, 0);

  list = cache_list (f);
  g_assert_cmpuint (list->len, ==, 4);
  e = cache_entry (list, stale_name);
  g_assert_nonnull (e);
  g_assert_cmpstr (bgr_cache_blob_get_category (e), ==, "partial");
  g_assert_false (bgr_cache_blob_get_in_use (e));
  g_assert_cmpint (bgr_cache_blob_get_size (e), ==, strlen ("half a layer"));
  g_assert_true (g_str_has_suffix (bgr_cache_blob_get_digest (e), hex_stale));
  e = cache_entry (list, held_name);
  g_assert_nonnull (e);
  g_assert_cmpstr (bgr_cache_blob_get_category (e), ==, "partial");
  g_assert_true (bgr_cache_blob_get_in_use (e));
  e = cache_entry (list, base_name);
  g_assert_nonnull (e);
  g_assert_cmpstr (bgr_cache_blob_get_category (e), ==, "vm-base");
  g_assert_null (bgr_cache_blob_get_digest (e));
  g_assert_cmpint (bgr_cache_blob_get_size (e), >, 0);
  {
    g_auto (GStrv) users = bgr_cache_blob_dup_images (e);
    g_assert_cmpstr (users[0], ==, IMAGE);
    g_assert_null (users[1]);
  }
  e = cache_entry (list, "0123456789abcdef0123456789abcdef.ext4");
  g_assert_nonnull (e);
  {
    g_auto (GStrv) users = bgr_cache_blob_dup_images (e);
    g_assert_null (users[0]);
  }
  {
    g_autofree char *json = bgr_cache_blob_to_json (e);
    bgr_assert_contains (json, "\"category\" : \"vm-base\"");
  }

  g_assert_true (bgr_engine_prune_image_cache (f->engine, &freed, &removed, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (removed, ==, 2);
  g_assert_cmpuint (freed, >, 0);
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (old_base, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (held, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (base, G_FILE_TEST_EXISTS));

  /* The download ended: its part file is stale now. */
  close (fd);
  g_assert_true (bgr_engine_prune_image_cache (f->engine, &freed, &removed, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (removed, ==, 1);
  g_assert_false (g_file_test (held, G_FILE_TEST_EXISTS));

  /* The image's base goes with the image (once no VM uses it). */
  g_assert_false (bgr_engine_delete_image (f->engine, IMAGE, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_clear_error (&err);
  g_assert_true (g_file_test (base, G_FILE_TEST_EXISTS));
  g_clear_object (&vm);
  vm = bgr_engine_kill_vm (f->engine, "base", &err);
  g_assert_no_error (err);
  g_assert_true (bgr_engine_delete_vm (f->engine, "base", FALSE, &err));
  g_assert_no_error (err);
  g_assert_true (bgr_engine_delete_image (f->engine, IMAGE, &err));
  g_assert_no_error (err);
  g_assert_false (g_file_test (base, G_FILE_TEST_EXISTS));
  g_clear_pointer (&list, g_ptr_array_unref);
  list = cache_list (f);
  g_assert_cmpuint (list->len, ==, 0);
}

/* An image directory with no record (a crash between the staging rename
 * and the record) goes when an engine starts; a directory that holds a
 * registered image's files stays. */
static void
test_orphan_image_dir (Fixture *f, gconstpointer data)
{
  g_autofree char *images = g_build_filename (f->state, "images", NULL);
  g_autofree char *ghost = g_build_filename (images, "ghost", NULL);
  g_autofree char *ghost_file = g_build_filename (ghost, "rootfs.ext4", NULL);
  g_autofree char *user = g_build_filename (images, "mine", NULL);
  g_autofree char *user_rootfs = g_build_filename (user, "rootfs.ext4", NULL);
  g_autofree char *kernel = g_build_filename (f->dir, "vmlinux", NULL);
  g_autofree char *rootfs = g_build_filename (f->dir, "rootfs.ext4", NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrImage) img = NULL;

  (void) data;
  g_assert_cmpint (g_mkdir_with_parents (ghost, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (user, 0700), ==, 0);
  g_file_set_contents (ghost_file, "a pulled rootfs", -1, &err);
  g_assert_no_error (err);
  g_assert_true (bgr_copy_file (rootfs, user_rootfs, NULL, &err));
  g_assert_no_error (err);
  /* Registered under another name, its files in images/mine. */
  img = bgr_engine_register_image (f->engine, "other", user_rootfs, NULL, kernel, NULL, NULL, NULL,
                                   &err);
  g_assert_no_error (err);
  g_assert_nonnull (img);

  g_clear_pointer (&f->engine, bgr_engine_free);
  f->engine = new_engine (f);
  g_assert_false (g_file_test (ghost, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (user_rootfs, G_FILE_TEST_EXISTS));
  g_clear_object (&img);
  img = bgr_engine_get_image (f->engine, "other", &err);
  g_assert_no_error (err);
  g_assert_nonnull (img);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/lifecycle/cache-garbage", test_cache_garbage);
  ADD ("/lifecycle/orphan-image-dir", test_orphan_image_dir);
#undef ADD
  return g_test_run ();
}
