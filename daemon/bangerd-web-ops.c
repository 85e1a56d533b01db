/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The web API's long actions (VM create and start, image pull): the
 * request is answered at once with an operation id; the work runs in a
 * worker thread with a BgrOperation whose progress, and then the outcome,
 * go to the event stream ("operation" events) and to
 * GET /api/v1/operations/ID. */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include "bangerd-web.h"

#define KEEP_FINISHED 32

typedef enum { ACTION_CREATE, ACTION_START, ACTION_PULL } Action;
static const char *const action_names[] = { "create", "start", "pull" };

typedef struct {
  guint id;
  BgrdWeb *web;
  Action action;
  char *vm;             /* create, start */
  BgrVmSpec *spec;      /* create */
  char *reference;      /* pull */
  BgrPullOptions *pull; /* pull */
  BgrOperation *op;
  gboolean finished;
  GObject *result;      /* the BgrVm or BgrImage */
  GError *error;
} WebOp;

struct _BgrdWebOps {
  GHashTable *by_id;  /* guint id -> WebOp */
  GQueue finished;    /* ids of finished operations, oldest first */
  guint next_id;
};

static void
web_op_free (WebOp *o)
{
  if (o->op != NULL)
    {
      g_signal_handlers_disconnect_by_data (o->op, o);
      g_object_unref (o->op);
    }
  g_clear_object (&o->spec);
  g_clear_object (&o->pull);
  g_clear_object (&o->result);
  g_free (o->reference);
  g_clear_error (&o->error);
  g_free (o->vm);
  g_free (o);
}

BgrdWebOps *
bgrd_web_ops_new (BgrdWeb *web)
{
  BgrdWebOps *ops = g_new0 (BgrdWebOps, 1);

  ops->by_id = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) web_op_free);
  g_queue_init (&ops->finished);
  return ops;
}

void
bgrd_web_ops_cancel_all (BgrdWebOps *ops)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, ops->by_id);
  while (g_hash_table_iter_next (&it, NULL, &value))
    bgr_operation_cancel (((WebOp *) value)->op);
}

void
bgrd_web_ops_free (BgrdWebOps *ops)
{
  /* Running ones hold their WebOp (the task's data): only forget them. */
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, ops->by_id);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (!((WebOp *) value)->finished)
      g_hash_table_iter_steal (&it);
  g_hash_table_unref (ops->by_id);
  g_queue_clear (&ops->finished);
  g_free (ops);
}

static char *
web_op_to_json (WebOp *o)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *phase = bgr_operation_dup_phase (o->op);
  g_autofree char *message = bgr_operation_dup_message (o->op);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, o->id);
  json_builder_set_member_name (b, "action");
  json_builder_add_string_value (b, action_names[o->action]);
  if (o->action == ACTION_PULL)
    {
      const char *image = o->result != NULL ? bgr_image_get_name (BGR_IMAGE (o->result))
                          : bgr_pull_options_get_name (o->pull);
      json_builder_set_member_name (b, "reference");
      json_builder_add_string_value (b, o->reference);
      json_builder_set_member_name (b, "image");
      if (image != NULL)
        json_builder_add_string_value (b, image);
      else
        json_builder_add_null_value (b);
    }
  else
    {
      json_builder_set_member_name (b, "vm");
      json_builder_add_string_value (b, o->vm);
    }
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, !o->finished ? "running" : o->error != NULL ? "failed" : "done");
  json_builder_set_member_name (b, "phase");
  json_builder_add_string_value (b, phase != NULL ? phase : "");
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message != NULL ? message : "");
  json_builder_set_member_name (b, "done");
  json_builder_add_int_value (b, (gint64) bgr_operation_get_done (o->op));
  json_builder_set_member_name (b, "total");
  json_builder_add_int_value (b, (gint64) bgr_operation_get_total (o->op));
  json_builder_set_member_name (b, "error");
  if (o->error != NULL)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "code");
      json_builder_add_string_value (b, o->error->domain == BGR_ERROR
                                          ? bgr_error_code_to_name (o->error->code) : "Failed");
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, o->error->message);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "result");
  if (o->result != NULL)
    {
      g_autofree char *record = o->action == ACTION_PULL ? bgr_image_to_json (BGR_IMAGE (o->result))
                                : bgr_vm_to_json (BGR_VM (o->result));
      json_builder_add_value (b, json_from_string (record, NULL));
    }
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static void
on_changed (BgrOperation *op, gpointer data)
{
  WebOp *o = data;
  g_autofree char *json = web_op_to_json (o);

  bgrd_web_events_send (o->web->events, "operation", json);
}

/* The worker: it only reads @o; the outcome goes back through the task
 * (op_finished keeps it, in the main thread, which reads @o). */
static void
op_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  WebOp *o = task_data;
  BgrClient *client = o->web->d->client;
  GError *error = NULL;
  gpointer result;

  if (o->action == ACTION_CREATE)
    result = bgr_client_vm_create (client, o->spec, o->op, NULL, &error);
  else if (o->action == ACTION_START)
    result = bgr_client_vm_start (client, o->vm, o->op, NULL, &error);
  else
    result = bgr_client_image_pull (client, o->reference, o->pull, o->op, NULL, &error);
  bgrd_call_done (o->web->d);
  if (result != NULL)
    g_task_return_pointer (task, result, g_object_unref);
  else
    g_task_return_error (task, error);
}

static void
op_finished (GObject *source, GAsyncResult *result, gpointer user_data)
{
  WebOp *o = g_task_get_task_data (G_TASK (result));
  BgrdWebOps *ops = o->web->ops;

  o->result = g_task_propagate_pointer (G_TASK (result), &o->error);
  o->finished = TRUE;
  on_changed (o->op, o);
  g_queue_push_tail (&ops->finished, GUINT_TO_POINTER (o->id));
  while (g_queue_get_length (&ops->finished) > KEEP_FINISHED)
    g_hash_table_remove (ops->by_id, g_queue_pop_head (&ops->finished));
}

/* Starts @o (its action and arguments set) and replies 202 with it. */
static void
begin (BgrdWeb *web, SoupServerMessage *msg, WebOp *o)
{
  g_autoptr (GTask) task = NULL;
  g_autofree char *json = NULL;

  if (!bgrd_web_call_begin (web, msg))
    {
      web_op_free (o);
      return;
    }
  o->id = ++web->ops->next_id;
  o->web = web;
  o->op = bgr_operation_new ();
  g_signal_connect (o->op, "changed", G_CALLBACK (on_changed), o);
  g_hash_table_insert (web->ops->by_id, GUINT_TO_POINTER (o->id), o);
  task = g_task_new (NULL, NULL, op_finished, NULL);
  /* The table owns the WebOp; the task only points at it. */
  g_task_set_task_data (task, o, NULL);
  g_task_run_in_thread (task, op_thread);
  json = web_op_to_json (o);
  bgrd_web_json (msg, SOUP_STATUS_ACCEPTED, json);
}

static WebOp *
web_op_new (Action action, const char *vm)
{
  WebOp *o = g_new0 (WebOp, 1);

  o->action = action;
  o->vm = g_strdup (vm);
  return o;
}

void
bgrd_web_ops_create_vm (BgrdWeb *web, SoupServerMessage *msg, BgrVmSpec *spec)
{
  WebOp *o = web_op_new (ACTION_CREATE, bgr_vm_spec_get_name (spec));

  o->spec = g_object_ref (spec);
  begin (web, msg, o);
}

void
bgrd_web_ops_start_vm (BgrdWeb *web, SoupServerMessage *msg, const char *name)
{
  begin (web, msg, web_op_new (ACTION_START, name));
}

void
bgrd_web_ops_pull_image (BgrdWeb *web, SoupServerMessage *msg, const char *reference,
                         BgrPullOptions *options)
{
  WebOp *o = web_op_new (ACTION_PULL, NULL);

  o->reference = g_strdup (reference);
  o->pull = g_object_ref (options);
  begin (web, msg, o);
}

static WebOp *
lookup (BgrdWeb *web, SoupServerMessage *msg, const char *id)
{
  guint64 n = 0;
  WebOp *o = NULL;

  if (g_ascii_string_to_unsigned (id, 10, 1, G_MAXUINT, &n, NULL))
    o = g_hash_table_lookup (web->ops->by_id, GUINT_TO_POINTER ((guint) n));
  if (o == NULL)
    bgrd_web_error (msg, SOUP_STATUS_NOT_FOUND, "NotFound",
                    "no such operation (finished ones are kept for a while only)");
  return o;
}

void
bgrd_web_ops_get (BgrdWeb *web, SoupServerMessage *msg, const char *id)
{
  WebOp *o = lookup (web, msg, id);
  g_autofree char *json = NULL;

  if (o == NULL)
    return;
  json = web_op_to_json (o);
  bgrd_web_json (msg, SOUP_STATUS_OK, json);
}

void
bgrd_web_ops_cancel (BgrdWeb *web, SoupServerMessage *msg, const char *id)
{
  WebOp *o = lookup (web, msg, id);
  g_autofree char *json = NULL;

  if (o == NULL)
    return;
  bgr_operation_cancel (o->op);
  json = web_op_to_json (o);
  bgrd_web_json (msg, SOUP_STATUS_OK, json);
}
