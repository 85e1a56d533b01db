/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrClient's `_async/_finish` pairs for kernels and images, called from a
 * GMainLoop, through a local client and through bangerd on a private bus
 * (async-fixture.c; VMs and doctor: test-async-vm.c):
 *
 * - kernel import, kernel pull, image pull and image promote give what the
 *   blocking calls give (the async result compared with the sync getter of
 *   the same object, or with the same sync call); the pulls from a catalog
 *   and a registry this test serves on 127.0.0.1 (bgr-test-registry.h);
 * - the progress a BgrOperation's "changed" signal shows never goes back
 *   within a phase;
 * - a call cancelled through its BgrOperation (an image pull once part of
 *   its layer arrived, the registry holding the rest) or with a
 *   GCancellable cancelled beforehand fails with BGR_ERROR_CANCELLED and
 *   leaves the state directory as it was (and the layer cache with no
 *   pinned blob). */
#include "config.h"

#include "async-fixture.h"
#include "bgr-test-registry.h"

/* A kernel imported async is the one kernel_get shows, and like one
 * imported by the sync call; a pre-cancelled import leaves nothing. */
static void
test_kernel_import (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrKernel) k = import_kernel_async (f, "k", NULL, &err);
  g_autoptr (BgrKernel) got = NULL;
  g_autoptr (BgrKernel) sync = NULL;
  g_autoptr (BgrKernel) cancelled = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (BgrKernelSpec) spec = bgr_kernel_spec_new ("k-sync");
  g_autofree char *json = NULL, *got_json = NULL, *before = NULL, *after = NULL;

  g_assert_no_error (err);
  g_assert_cmpstr (bgr_kernel_get_name (k), ==, "k");
  got = bgr_client_kernel_get (f->client, "k", NULL, &err);
  g_assert_no_error (err);
  json = bgr_kernel_to_json (k);
  got_json = bgr_kernel_to_json (got);
  g_assert_cmpstr (json, ==, got_json);

  bgr_kernel_spec_set_kernel (spec, f->kernel);
  sync = bgr_client_kernel_import (f->client, spec, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (bgr_kernel_get_format (sync), ==, bgr_kernel_get_format (k));
  g_assert_cmpstr (bgr_kernel_get_version (sync), ==, bgr_kernel_get_version (k));
  g_assert_cmpstr (bgr_kernel_get_source (sync), ==, bgr_kernel_get_source (k));
  g_assert_cmpint (bgr_kernel_get_size (sync), ==, bgr_kernel_get_size (k));

  before = state_tree (f);
  g_cancellable_cancel (cancellable);
  cancelled = import_kernel_async (f, "k-cancelled", cancellable, &err);
  g_assert_null (cancelled);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_CANCELLED);
  g_clear_error (&err);
  g_assert_null (bgr_client_kernel_get (f->client, "k-cancelled", NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  after = state_tree (f);
  g_assert_cmpstr (after, ==, before);
}

static BgrImage *
promote_async (Fixture *f, const char *name, BgrOperation *op, GError **error)
{
  g_autoptr (GAsyncResult) res = NULL;

  bgr_client_image_promote_async (f->client, name, op, NULL, on_done, f);
  res = wait_result (f);
  return bgr_client_image_promote_finish (f->client, res, error);
}

/* A promoted image is the one image_get shows, and like one promoted by
 * the sync call; a promote whose operation was cancelled leaves the image
 * unmanaged and nothing in the state directory. */
static void
test_image_promote (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrOperation) op = bgr_operation_new ();
  g_autoptr (BgrOperation) cancelled_op = bgr_operation_new ();
  g_autoptr (BgrImage) img = NULL;
  g_autoptr (BgrImage) got = NULL;
  g_autoptr (BgrImage) sync = NULL;
  g_autoptr (BgrImage) cancelled = NULL;
  g_autoptr (BgrImage) still = NULL;
  g_autofree char *json = NULL, *got_json = NULL, *before = NULL, *after = NULL;
  Progress p;
  gulong id;

  add_kernel_and_image (f);
  register_image (f, "img-sync");
  register_image (f, "img-cancelled");

  id = progress_watch (op, &p, FALSE);
  img = promote_async (f, "img", op, &err);
  g_assert_no_error (err);
  progress_unwatch (op, &p, id);
  g_assert_true (bgr_image_get_managed (img));
  g_assert_cmpstr (bgr_image_get_source (img), ==, "promoted");
  g_assert_false (g_str_equal (bgr_image_get_rootfs_path (img), f->rootfs));
  got = bgr_client_image_get (f->client, "img", NULL, &err);
  g_assert_no_error (err);
  json = bgr_image_to_json (img);
  got_json = bgr_image_to_json (got);
  g_assert_cmpstr (json, ==, got_json);

  sync = bgr_client_image_promote (f->client, "img-sync", NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_true (bgr_image_get_managed (sync));
  g_assert_cmpint (bgr_image_get_size (sync), ==, bgr_image_get_size (img));
  g_assert_cmpstr (bgr_image_get_source (sync), ==, bgr_image_get_source (img));
  g_assert_cmpstr (bgr_image_get_kernel_ref (sync), ==, bgr_image_get_kernel_ref (img));

  before = state_tree (f);
  bgr_operation_cancel (cancelled_op);
  cancelled = promote_async (f, "img-cancelled", cancelled_op, &err);
  g_assert_null (cancelled);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_CANCELLED);
  g_clear_error (&err);
  still = bgr_client_image_get (f->client, "img-cancelled", NULL, &err);
  g_assert_no_error (err);
  g_assert_false (bgr_image_get_managed (still));
  g_assert_cmpstr (bgr_image_get_rootfs_path (still), ==, f->rootfs);
  after = state_tree (f);
  g_assert_cmpstr (after, ==, before);
}

static BgrKernel *
pull_kernel_async (Fixture *f, BgrOperation *op, GCancellable *cancellable, GError **error)
{
  g_autoptr (GAsyncResult) res = NULL;

  bgr_client_kernel_pull_async (f->client, "cat", op, cancellable, on_done, f);
  res = wait_result (f);
  return bgr_client_kernel_pull_finish (f->client, res, error);
}

/* A kernel pulled async is the one kernel_get shows and like one the sync
 * call pulls; its download's progress never goes back and ends whole; a
 * pre-cancelled pull leaves nothing. */
static void
test_kernel_pull (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrOperation) op = bgr_operation_new ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (BgrKernel) k = NULL, got = NULL, sync = NULL, cancelled = NULL;
  g_autofree char *json = NULL, *got_json = NULL, *before = NULL, *after = NULL;
  Progress p;
  gulong id;

  id = progress_watch (op, &p, FALSE);
  k = pull_kernel_async (f, op, NULL, &err);
  g_assert_no_error (err);
  progress_unwatch (op, &p, id);
  g_assert_cmpuint (p.n, >, 0);
  g_assert_cmpuint (p.done, ==, BGR_TEST_KERNEL_SIZE);
  g_assert_cmpuint (p.total, ==, BGR_TEST_KERNEL_SIZE);
  g_assert_cmpstr (bgr_kernel_get_name (k), ==, "cat");
  got = bgr_client_kernel_get (f->client, "cat", NULL, &err);
  g_assert_no_error (err);
  json = bgr_kernel_to_json (k);
  got_json = bgr_kernel_to_json (got);
  g_assert_cmpstr (json, ==, got_json);

  g_assert_true (bgr_client_kernel_delete (f->client, "cat", NULL, &err));
  g_assert_no_error (err);
  sync = bgr_client_kernel_pull (f->client, "cat", NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (bgr_kernel_get_format (sync), ==, bgr_kernel_get_format (k));
  g_assert_cmpstr (bgr_kernel_get_source (sync), ==, bgr_kernel_get_source (k));
  g_assert_cmpint (bgr_kernel_get_size (sync), ==, bgr_kernel_get_size (k));
  g_assert_true (bgr_client_kernel_delete (f->client, "cat", NULL, &err));
  g_assert_no_error (err);

  before = state_tree (f);
  g_cancellable_cancel (cancellable);
  cancelled = pull_kernel_async (f, NULL, cancellable, &err);
  g_assert_null (cancelled);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_CANCELLED);
  g_clear_error (&err);
  g_assert_null (bgr_client_kernel_get (f->client, "cat", NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  after = state_tree (f);
  g_assert_cmpstr (after, ==, before);
}

static BgrImage *
pull_image_async (Fixture *f, const char *name, BgrOperation *op, GError **error)
{
  g_autoptr (BgrPullOptions) opts = bgr_pull_options_new ();
  g_autofree char *ref = bgr_test_registry_ref ();
  g_autoptr (GAsyncResult) res = NULL;

  bgr_pull_options_set_name (opts, name);
  bgr_client_image_pull_async (f->client, ref, opts, op, NULL, on_done, f);
  res = wait_result (f);
  return bgr_client_image_pull_finish (f->client, res, error);
}

/* Cancels the pull once part of its layer arrived. */
static void
cancel_mid_layer (BgrOperation *op, gpointer data)
{
  if (bgr_operation_get_done (op) > 0 && !bgr_operation_is_cancelled (op))
    {
      *(gboolean *) data = TRUE;
      bgr_operation_cancel (op);
    }
}

/* A pull cancelled half way through its layer (the registry holds the
 * rest) fails with BGR_ERROR_CANCELLED, leaves the state directory as it
 * was and pins no blob; then an image pulled async is the one image_get
 * shows and like one the sync call pulls, its progress never back. */
static void
test_image_pull (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrOperation) op = bgr_operation_new ();
  g_autoptr (BgrOperation) cancel_op = bgr_operation_new ();
  g_autoptr (BgrImage) img = NULL, got = NULL, sync = NULL, cancelled = NULL;
  g_autoptr (GPtrArray) cache = NULL;
  g_autofree char *json = NULL, *got_json = NULL, *before = NULL, *after = NULL;
  gboolean cancel_sent = FALSE;
  Progress p;
  gulong id;

  add_kernel_and_image (f);
  before = state_tree (f);
  bgr_test_registry_hold_layer (G_MAXUINT);
  id = g_signal_connect (cancel_op, "changed", G_CALLBACK (cancel_mid_layer), &cancel_sent);
  cancelled = pull_image_async (f, "app-cancelled", cancel_op, &err);
  g_signal_handler_disconnect (cancel_op, id);
  bgr_test_registry_release ();
  g_assert_null (cancelled);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_CANCELLED);
  g_assert_true (cancel_sent);
  g_clear_error (&err);
  g_assert_null (bgr_client_image_get (f->client, "app-cancelled", NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_clear_error (&err);
  after = state_tree (f);
  g_assert_cmpstr (after, ==, before);
  cache = bgr_client_image_cache_list (f->client, NULL, &err);
  g_assert_no_error (err);
  for (guint i = 0; i < cache->len; i++)
    g_assert_false (bgr_cache_blob_get_in_use (cache->pdata[i]));

  id = progress_watch (op, &p, FALSE);
  img = pull_image_async (f, "app", op, &err);
  g_assert_no_error (err);
  progress_unwatch (op, &p, id);
  g_assert_cmpuint (p.n, >, 0);
  g_assert_cmpuint (p.done, ==, p.total);
  g_assert_true (bgr_image_get_managed (img));
  g_assert_cmpstr (bgr_image_get_kernel_ref (img), ==, "k");
  got = bgr_client_image_get (f->client, "app", NULL, &err);
  g_assert_no_error (err);
  json = bgr_image_to_json (img);
  got_json = bgr_image_to_json (got);
  g_assert_cmpstr (json, ==, got_json);
  {
    g_autoptr (BgrPullOptions) opts = bgr_pull_options_new ();
    g_autofree char *ref = bgr_test_registry_ref ();
    bgr_pull_options_set_name (opts, "app-sync");
    sync = bgr_client_image_pull (f->client, ref, opts, NULL, NULL, &err);
    g_assert_no_error (err);
  }
  g_assert_cmpint (bgr_image_get_size (sync), ==, bgr_image_get_size (img));
  g_assert_cmpstr (bgr_image_get_source (sync), ==, bgr_image_get_source (img));
  g_assert_cmpstr (bgr_image_get_kernel_ref (sync), ==, bgr_image_get_kernel_ref (img));
}

/* create, exec, stop, start, delete: all async, each result what the sync
 * calls show, the boots' progress in order. */

int
main (int argc, char **argv)
{
  static const AsyncTest tests[] = {
    { "kernel-import", test_kernel_import },
    { "image-promote", test_image_promote },
    { "kernel-pull", test_kernel_pull },
    { "image-pull", test_image_pull },
  };

  return async_test_main (argc, argv, tests, G_N_ELEMENTS (tests));
}
