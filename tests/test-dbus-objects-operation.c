/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bangerd's operation objects, seen from D-Bus: a pull stalled by a
 * registry written in the test (dbus-objects-registry.c) is cancelled
 * through its operation object and leaves nothing; progress and
 * OperationStarted reach only the caller; only the caller may cancel; the C
 * client's BgrOperation cancels too.
 *
 * Runs on a private bus with bangerd on the fake VMM
 * (dbus-objects-fixture.c). Waits poll a condition against a deadline. */
#include "config.h"

#include "dbus-objects-fixture.h"
#include "dbus-objects-registry.h"

/* ---- a caller of PullImage on its own connection -------------------------- */

typedef struct {
  GDBusConnection *conn;
  guint subs[2];
  guint32 serial;
  GPtrArray *started;  /* "SERIAL PATH" of every OperationStarted received */
  GPtrArray *progress; /* PATH of every Operation PropertiesChanged received */
  gboolean waited;     /* a Message said it waits for another pull's download */
  gboolean done;
  GDBusMessage *reply;
} Caller;

static void
on_caller_signal (GDBusConnection *c, const char *sender, const char *path, const char *iface,
                  const char *signal, GVariant *params, gpointer data)
{
  Caller *caller = data;

  if (g_str_equal (signal, "OperationStarted"))
    {
      guint32 serial;
      const char *op;
      g_variant_get (params, "(u&o)", &serial, &op);
      g_ptr_array_add (caller->started, g_strdup_printf ("%u %s", serial, op));
    }
  else
    {
      const char *message = NULL;
      g_autoptr (GVariant) changed = g_variant_get_child_value (params, 1);

      g_ptr_array_add (caller->progress, g_strdup (path));
      if (g_variant_lookup (changed, "Message", "&s", &message) && strstr (message, "waiting") != NULL)
        caller->waited = TRUE;
    }
}

static void
caller_init (Caller *caller, Fixture *f)
{
  memset (caller, 0, sizeof *caller);
  caller->conn = connect_bus (f);
  caller->started = g_ptr_array_new_with_free_func (g_free);
  caller->progress = g_ptr_array_new_with_free_func (g_free);
  /* No sender, no path: whatever arrives on this connection is recorded. */
  caller->subs[0] = g_dbus_connection_signal_subscribe (caller->conn, NULL, MANAGER_IFACE,
                                                        "OperationStarted", NULL, NULL,
                                                        G_DBUS_SIGNAL_FLAGS_NONE,
                                                        on_caller_signal, caller, NULL);
  caller->subs[1] = g_dbus_connection_signal_subscribe (caller->conn, NULL,
                                                        "org.freedesktop.DBus.Properties",
                                                        "PropertiesChanged", NULL, OPERATION_IFACE,
                                                        G_DBUS_SIGNAL_FLAGS_NONE,
                                                        on_caller_signal, caller, NULL);
}

static void
caller_clear (Caller *caller)
{
  for (guint i = 0; i < G_N_ELEMENTS (caller->subs); i++)
    g_dbus_connection_signal_unsubscribe (caller->conn, caller->subs[i]);
  g_clear_object (&caller->reply);
  g_ptr_array_unref (caller->started);
  g_ptr_array_unref (caller->progress);
  g_object_unref (caller->conn);
}

static void
on_caller_reply (GObject *source, GAsyncResult *res, gpointer data)
{
  Caller *caller = data;
  g_autoptr (GError) err = NULL;

  caller->reply = g_dbus_connection_send_message_with_reply_finish (G_DBUS_CONNECTION (source),
                                                                    res, &err);
  g_assert_no_error (err);
  caller->done = TRUE;
}

static void
caller_pull (Caller *caller, const char *reference, const char *name)
{
  g_autoptr (GDBusMessage) msg = g_dbus_message_new_method_call (NAME, ROOT, MANAGER_IFACE,
                                                                 "PullImage");
  GVariantDict opts;

  g_variant_dict_init (&opts, NULL);
  g_variant_dict_insert (&opts, "name", "s", name);
  g_dbus_message_set_body (msg, g_variant_new ("(s@a{sv})", reference, g_variant_dict_end (&opts)));
  g_dbus_connection_send_message_with_reply (caller->conn, msg, G_DBUS_SEND_MESSAGE_FLAGS_NONE,
                                             G_MAXINT, &caller->serial, NULL, on_caller_reply,
                                             caller);
}

/* The operation path OperationStarted named for our call, or NULL. */
static const char *
caller_op_path (Caller *caller)
{
  g_autofree char *prefix = g_strdup_printf ("%u ", caller->serial);

  for (guint i = 0; i < caller->started->len; i++)
    if (g_str_has_prefix (caller->started->pdata[i], prefix))
      return (const char *) caller->started->pdata[i] + strlen (prefix);
  return NULL;
}

static GError *
call_cancel (GDBusConnection *conn, const char *op_path)
{
  GError *err = NULL;
  g_autoptr (GVariant) r = g_dbus_connection_call_sync (conn, NAME, op_path, OPERATION_IFACE,
                                                        "Cancel", NULL, G_VARIANT_TYPE ("()"),
                                                        G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err);
  (void) r;
  return err;
}

static char *
caller_error_name (Caller *caller)
{
  g_assert_nonnull (caller->reply);
  if (g_dbus_message_get_message_type (caller->reply) != G_DBUS_MESSAGE_TYPE_ERROR)
    return g_strdup ("(success)");
  return g_strdup (g_dbus_message_get_error_name (caller->reply));
}

/* ---- what a pull leaves behind ------------------------------------------- */

static guint
count_entries (const char *dir, const char *prefix, const char *suffix)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *e;
  guint n = 0;

  while (d != NULL && (e = g_dir_read_name (d)) != NULL)
    if ((prefix == NULL || g_str_has_prefix (e, prefix))
        && (suffix == NULL || g_str_has_suffix (e, suffix)))
      n++;
  return n;
}

/* No image, no staging directory, and no verified blob that a prune would
 * keep: nothing pins the pull's blobs any more (a pin that outlived its
 * pull would keep the config blob here). A cancelled download's .part file
 * may stay, for the next pull to resume (test-download). */
static void
assert_pull_left_nothing (Fixture *f, BgrClient *c, const char *name, Registry *reg)
{
  g_autofree char *images = g_build_filename (f->state, "images", NULL);
  g_autofree char *blobs = g_build_filename (f->cache, "oci", "blobs", "sha256", NULL);
  g_autofree char *layer = g_build_filename (blobs, reg->layer_digest + strlen ("sha256:"), NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrImage) img = bgr_client_image_get (c, name, NULL, &err);
  g_autoptr (GPtrArray) list = NULL;
  guint64 freed = 0;
  guint removed = 0;

  g_assert_null (img);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_clear_error (&err);
  list = bgr_client_image_list (c, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (list->len, ==, 0);
  g_assert_cmpuint (count_entries (images, ".staging-", NULL), ==, 0);
  g_assert_cmpuint (count_entries (images, NULL, NULL), ==, 0);
  g_assert_false (g_file_test (layer, G_FILE_TEST_EXISTS));

  g_assert_true (bgr_client_image_cache_prune (c, &freed, &removed, NULL, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (count_entries (blobs, "", NULL) - count_entries (blobs, NULL, ".part"), ==, 0);
  {
    g_autoptr (GPtrArray) cache = bgr_client_image_cache_list (c, NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpuint (cache->len, ==, 0);
  }
}

static gboolean
object_exists (GDBusConnection *conn, const char *path)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GVariant) r = g_dbus_connection_call_sync (
    conn, NAME, path, "org.freedesktop.DBus.Properties", "GetAll",
    g_variant_new ("(s)", OPERATION_IFACE), NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err);
  return r != NULL;
}

/* ---- 3a, 3c: Cancel() stops a pull; only its caller may call it ---------- */

static void
test_operation_cancel (Fixture *f, gconstpointer data)
{
  Registry *reg = registry_start ();
  g_autofree char *ref = registry_ref (reg);
  g_autoptr (BgrClient) c = NULL;
  g_autoptr (GDBusConnection) other = connect_bus (f);
  g_autofree char *error_name = NULL;
  g_autofree char *op_path = NULL;
  Caller caller;
  GError *err;

  start_daemon (f);
  c = new_client (f);
  add_kernel_and_image (f, c);
  g_assert_true (bgr_client_image_delete (c, "img", NULL, NULL));
  caller_init (&caller, f);
  caller_pull (&caller, ref, "pulled");
  /* The daemon is in the layer's download, which stalls. */
  WAIT_UNTIL (caller_op_path (&caller) != NULL && registry_layer_requests (reg) > 0, WAIT_MS);
  op_path = g_strdup (caller_op_path (&caller));
  g_assert_true (g_str_has_prefix (op_path, ROOT "/operation/"));
  g_assert_true (object_exists (other, op_path));

  /* Anyone else: refused, and the pull goes on. */
  err = call_cancel (other, op_path);
  g_assert_nonnull (err);
  {
    g_autofree char *remote = g_dbus_error_get_remote_error (err);
    g_assert_cmpstr (remote, ==, NAME ".Error.PermissionDenied");
  }
  g_assert_error (err, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
  g_clear_error (&err);
  g_assert_false (caller.done);
  g_assert_true (object_exists (other, op_path));

  /* The caller: the call fails with Cancelled, the operation is gone. */
  err = call_cancel (caller.conn, op_path);
  g_assert_no_error (err);
  WAIT_UNTIL (caller.done, WAIT_MS);
  error_name = caller_error_name (&caller);
  g_assert_cmpstr (error_name, ==, NAME ".Error.Cancelled");
  g_assert_false (object_exists (other, op_path));
  /* Progress came, for this operation only. */
  g_assert_cmpuint (caller.progress->len, >, 0);
  for (guint i = 0; i < caller.progress->len; i++)
    g_assert_cmpstr (caller.progress->pdata[i], ==, op_path);
  g_assert_cmpuint (caller.started->len, ==, 1);

  assert_pull_left_nothing (f, c, "pulled", reg);
  caller_clear (&caller);
  stop_daemon (f);
  registry_stop (reg);
}

/* ---- 3b: two pulls at once: each caller hears only of its own ------------- */

static void
test_operation_unicast (Fixture *f, gconstpointer data)
{
  Registry *reg = registry_start ();
  g_autofree char *ref = registry_ref (reg);
  g_autoptr (BgrClient) c = NULL;
  g_autofree char *path_a = NULL, *path_b = NULL;
  g_autofree char *err_a = NULL, *err_b = NULL;
  Caller a, b, bystander;
  GError *err;

  start_daemon (f);
  c = new_client (f);
  add_kernel_and_image (f, c);
  g_assert_true (bgr_client_image_delete (c, "img", NULL, NULL));
  caller_init (&a, f);
  caller_init (&b, f);
  caller_init (&bystander, f);
  caller_pull (&a, ref, "one");
  caller_pull (&b, ref, "two");
  /* One of them downloads the layer, the other waits for that download
   * (and says so in its progress). */
  WAIT_UNTIL (caller_op_path (&a) != NULL && caller_op_path (&b) != NULL
                && registry_layer_requests (reg) == 1 && (a.waited || b.waited),
              WAIT_MS);
  g_assert_false (a.waited && b.waited);
  path_a = g_strdup (caller_op_path (&a));
  path_b = g_strdup (caller_op_path (&b));
  g_assert_cmpstr (path_a, !=, path_b);
  /* Both run at once. */
  g_assert_false (a.done);
  g_assert_false (b.done);
  {
    Caller *first = b.waited ? &a : &b; /* the downloader */
    Caller *second = first == &a ? &b : &a;
    g_autofree char *first_path = g_strdup (caller_op_path (first));
    g_autofree char *second_path = g_strdup (caller_op_path (second));

    /* Cancelled, the downloader leaves the download to the other, which
     * resumes it (and stalls too). */
    err = call_cancel (first->conn, first_path);
    g_assert_no_error (err);
    WAIT_UNTIL (first->done, WAIT_MS);
    WAIT_UNTIL (registry_layer_requests (reg) == 2 && second->progress->len > 0, WAIT_MS);
    g_assert_false (second->done);
    err = call_cancel (second->conn, second_path);
    g_assert_no_error (err);
    WAIT_UNTIL (second->done, WAIT_MS);
  }
  err_a = caller_error_name (&a);
  err_b = caller_error_name (&b);
  g_assert_cmpstr (err_a, ==, NAME ".Error.Cancelled");
  g_assert_cmpstr (err_b, ==, NAME ".Error.Cancelled");
  /* Let anything still in flight arrive before looking. */
  {
    g_autoptr (GVariant) r = g_dbus_connection_call_sync (a.conn, NAME, ROOT, "org.freedesktop.DBus.Peer",
                                                          "Ping", NULL, NULL, 0, -1, NULL, NULL);
    (void) r;
    g_autoptr (GVariant) r2 = g_dbus_connection_call_sync (b.conn, NAME, ROOT, "org.freedesktop.DBus.Peer",
                                                           "Ping", NULL, NULL, 0, -1, NULL, NULL);
    (void) r2;
    g_autoptr (GVariant) r3 = g_dbus_connection_call_sync (bystander.conn, NAME, ROOT,
                                                           "org.freedesktop.DBus.Peer", "Ping",
                                                           NULL, NULL, 0, -1, NULL, NULL);
    (void) r3;
    while (g_main_context_iteration (NULL, FALSE))
      ;
  }

  g_assert_cmpuint (a.started->len, ==, 1);
  g_assert_cmpuint (b.started->len, ==, 1);
  {
    g_autofree char *want_a = g_strdup_printf ("%u %s", a.serial, path_a);
    g_autofree char *want_b = g_strdup_printf ("%u %s", b.serial, path_b);
    g_assert_cmpstr (a.started->pdata[0], ==, want_a);
    g_assert_cmpstr (b.started->pdata[0], ==, want_b);
  }
  g_assert_cmpuint (a.progress->len, >, 0);
  g_assert_cmpuint (b.progress->len, >, 0);
  for (guint i = 0; i < a.progress->len; i++)
    g_assert_cmpstr (a.progress->pdata[i], ==, path_a);
  for (guint i = 0; i < b.progress->len; i++)
    g_assert_cmpstr (b.progress->pdata[i], ==, path_b);
  g_assert_cmpuint (bystander.started->len, ==, 0);
  g_assert_cmpuint (bystander.progress->len, ==, 0);

  assert_pull_left_nothing (f, c, "one", reg);
  assert_pull_left_nothing (f, c, "two", reg);
  caller_clear (&a);
  caller_clear (&b);
  caller_clear (&bystander);
  stop_daemon (f);
  registry_stop (reg);
}

/* ---- 3d: the C client's BgrOperation cancels the daemon's operation ------- */

typedef struct {
  BgrClient *client;
  const char *reference;
  BgrOperation *op;
  GError *error;
  BgrImage *image;
  gint done;
} PullThread;

static gpointer
pull_thread (gpointer data)
{
  PullThread *t = data;
  g_autoptr (BgrPullOptions) opts = bgr_pull_options_new ();

  bgr_pull_options_set_name (opts, "viaclient");
  t->image = bgr_client_image_pull (t->client, t->reference, opts, t->op, NULL, &t->error);
  g_atomic_int_set (&t->done, 1);
  return NULL;
}

static gboolean
cancel_op_idle (gpointer data)
{
  bgr_operation_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_operation_client_cancel (Fixture *f, gconstpointer data)
{
  Registry *reg = registry_start ();
  g_autofree char *ref = registry_ref (reg);
  g_autoptr (BgrClient) c = NULL;
  g_autoptr (BgrClient) puller = NULL;
  g_autoptr (BgrOperation) op = bgr_operation_new ();
  PullThread t = { 0 };
  GThread *thread;

  start_daemon (f);
  c = new_client (f);
  puller = new_client (f);
  add_kernel_and_image (f, c);
  g_assert_true (bgr_client_image_delete (c, "img", NULL, NULL));
  t.client = puller;
  t.reference = ref;
  t.op = op;
  thread = g_thread_new ("pull", pull_thread, &t);
  /* The operation object is known (OperationStarted reached the client)
   * and the download stalls. */
  WAIT_UNTIL (registry_layer_requests (reg) > 0, WAIT_MS);
  {
    gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;
    for (;;)
      {
        g_autofree char *path = bgr_operation_dup_object_path (op);
        if (path != NULL)
          {
            g_assert_true (g_str_has_prefix (path, ROOT "/operation/"));
            break;
          }
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (5000);
      }
  }
  g_assert_false (g_atomic_int_get (&t.done));
  /* From this thread's main context, not the one that waits in the call. */
  g_idle_add (cancel_op_idle, op);
  WAIT_UNTIL (g_atomic_int_get (&t.done), WAIT_MS);
  g_thread_join (thread);
  g_assert_null (t.image);
  g_assert_error (t.error, BGR_ERROR, BGR_ERROR_CANCELLED);
  g_clear_error (&t.error);

  assert_pull_left_nothing (f, c, "viaclient", reg);
  stop_daemon (f);
  registry_stop (reg);
}

int
main (int argc, char **argv)
{
  dbus_objects_init (&argc, &argv);
  g_test_add ("/dbus-objects/operation-cancel", Fixture, NULL, fixture_setup,
              test_operation_cancel, fixture_teardown);
  g_test_add ("/dbus-objects/operation-unicast", Fixture, NULL, fixture_setup,
              test_operation_unicast, fixture_teardown);
  g_test_add ("/dbus-objects/operation-client-cancel", Fixture, NULL, fixture_setup,
              test_operation_client_cancel, fixture_teardown);
  return g_test_run ();
}
