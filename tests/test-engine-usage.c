/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine's "who uses what" index (engine/bgr-engine-usage.c) and the
 * image and kernel deletes that ask it, on records written straight into
 * a state directory: no VMM is started. */
#include "config.h"

#include <glib/gstdio.h>

#include "engine/bgr-engine-private.h"
#include "engine/bgr-engine-usage-private.h"
#include "store/bgr-store-private.h"

typedef struct {
  BgrConfig *config;
  char *state;
} Fixture;

static void
save (BgrStore *store, const char *kind, const char *name, const char *member, const char *value)
{
  g_autoptr (JsonObject) doc = json_object_new ();
  g_autoptr (GError) err = NULL;

  if (member != NULL)
    json_object_set_string_member (doc, member, value);
  g_assert_true (bgr_store_save (store, kind, name, doc, &err));
  g_assert_no_error (err);
}

/* A VM record that delete can remove: stopped, with its directories. */
static void
save_vm (BgrStore *store, const char *state, const char *name, const char *image)
{
  g_autoptr (JsonObject) doc = json_object_new ();
  g_autofree char *dir = g_build_filename (state, "vms", name, NULL);
  g_autofree char *run_dir = g_build_filename (state, "run", name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  json_object_set_string_member (doc, "image", image);
  json_object_set_string_member (doc, "state", "stopped");
  json_object_set_string_member (doc, "dir", dir);
  json_object_set_string_member (doc, "run_dir", run_dir);
  g_assert_true (bgr_store_save (store, "vm", name, doc, NULL));
}

/* Kernel k1; images a (boots k1), b (a kernel file), unused (boots k1);
 * VMs vm1 and vm2 made from a, vm3 from b. */
static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrStore) store = NULL;

  f->config = bgr_config_load_from_data ("", -1, "t.toml", &err);
  g_assert_no_error (err);
  f->state = g_strdup (bgr_config_get_string (f->config, "state_dir"));
  store = bgr_store_open (f->state, &err);
  g_assert_no_error (err);
  save (store, "kernel", "k1", "kernel", "/nonexistent/vmlinux");
  save (store, "image", "a", "kernel_ref", "k1");
  save (store, "image", "b", "kernel", "/nonexistent/vmlinuz");
  save (store, "image", "unused", "kernel_ref", "k1");
  save_vm (store, f->state, "vm2", "a");
  save_vm (store, f->state, "vm1", "a");
  save_vm (store, f->state, "vm3", "b");
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->config);
  g_free (f->state);
}

static gboolean
can_delete (BgrEngine *engine, const char *kind, const char *name, GError **error)
{
  gboolean ok;

  bgr_engine_lock (engine);
  ok = g_str_equal (kind, "image") ? bgr_engine_usage_can_delete_image (engine, name, error)
                                   : bgr_engine_usage_can_delete_kernel (engine, name, error);
  bgr_engine_unlock (engine);
  return ok;
}

static void
test_loaded (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrEngine) engine = bgr_engine_new (f->config, &err);

  g_assert_no_error (err);
  g_assert_false (can_delete (engine, "image", "a", &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_assert_cmpstr (err->message, ==, "image 'a' is used by VM(s) vm1, vm2: delete them first");
  g_clear_error (&err);
  g_assert_true (can_delete (engine, "image", "unused", &err));
  g_assert_no_error (err);
  g_assert_false (can_delete (engine, "kernel", "k1", &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_assert_cmpstr (err->message, ==, "kernel 'k1' is used by image(s) a, unused; delete them first");
  g_clear_error (&err);
  g_assert_true (can_delete (engine, "kernel", "k2", &err));
  g_assert_no_error (err);
}

static void
test_changes (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrEngine) engine = bgr_engine_new (f->config, &err);

  g_assert_no_error (err);
  bgr_engine_lock (engine);
  /* A VM of an image that is gone (deleted while the create began). */
  g_assert_false (bgr_engine_usage_add_vm (engine, "vm9", "gone", &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_clear_error (&err);
  bgr_engine_usage_add_image (engine, "c", "k2");
  g_assert_true (bgr_engine_usage_add_vm (engine, "vm4", "c", &err));
  g_assert_false (bgr_engine_usage_can_delete_image (engine, "c", NULL));
  g_assert_false (bgr_engine_usage_can_delete_kernel (engine, "k2", NULL));
  bgr_engine_usage_remove_image (engine, "c");
  bgr_engine_usage_remove_vm (engine, "vm4");
  g_assert_true (bgr_engine_usage_can_delete_image (engine, "c", NULL));
  g_assert_true (bgr_engine_usage_can_delete_kernel (engine, "k2", NULL));
  bgr_engine_unlock (engine);
}

/* The deletes ask the index, and deleting VMs and images tells it. */
static void
test_deletes (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrEngine) engine = bgr_engine_new (f->config, &err);

  g_assert_no_error (err);
  g_assert_false (bgr_engine_delete_image (engine, "a", &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_clear_error (&err);
  g_assert_false (bgr_engine_delete_kernel (engine, "k1", &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_clear_error (&err);

  g_assert_true (bgr_engine_delete_vm (engine, "vm1", FALSE, &err));
  g_assert_no_error (err);
  g_assert_false (bgr_engine_delete_image (engine, "a", &err));
  g_assert_nonnull (strstr (err->message, "VM(s) vm2:"));
  g_clear_error (&err);
  g_assert_true (bgr_engine_delete_vm (engine, "vm2", FALSE, &err));
  g_assert_no_error (err);
  g_assert_true (bgr_engine_delete_image (engine, "a", &err));
  g_assert_no_error (err);
  g_assert_true (bgr_engine_delete_image (engine, "unused", &err));
  g_assert_no_error (err);
  g_assert_true (bgr_engine_delete_kernel (engine, "k1", &err));
  g_assert_no_error (err);
  g_assert_false (bgr_engine_delete_image (engine, "b", &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
}

/* An image record that cannot be read might boot any kernel: no kernel
 * goes while it is there, and it is looked at again once mended. */
static void
test_unreadable (Fixture *f, gconstpointer data)
{
  g_autofree char *bad = g_build_filename (f->state, "image", "bad.json", NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrEngine) engine = NULL;

  g_assert_true (g_file_set_contents (bad, "{ not json", -1, NULL));
  engine = bgr_engine_new (f->config, &err);
  g_assert_no_error (err);
  g_assert_false (can_delete (engine, "kernel", "k2", &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_assert_nonnull (strstr (err->message, "(unreadable: "));
  g_clear_error (&err);
  g_assert_cmpint (g_unlink (bad), ==, 0);
  g_assert_true (can_delete (engine, "kernel", "k2", &err));
  g_assert_no_error (err);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/engine-usage/loaded", test_loaded);
  ADD ("/engine-usage/changes", test_changes);
  ADD ("/engine-usage/deletes", test_deletes);
  ADD ("/engine-usage/unreadable", test_unreadable);
#undef ADD
  return g_test_run ();
}
