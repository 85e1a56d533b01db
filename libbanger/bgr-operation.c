/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrOperation: progress written by whichever thread does the work,
 * announced in the creating thread's main context. */
#include "config.h"

#include "bgr-operation-private.h"

struct _BgrOperation {
  GObject parent_instance;
  GMutex lock;
  char *phase;
  char *message;
  char *object_path;
  guint64 done, total;
  gboolean idle_pending;
  GMainContext *context; /* the creating thread's */
  GThread *thread;
  GCancellable *cancellable;
};

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (BgrOperation, bgr_operation, G_TYPE_OBJECT)

static void
bgr_operation_finalize (GObject *object)
{
  BgrOperation *self = BGR_OPERATION (object);

  g_free (self->phase);
  g_free (self->message);
  g_free (self->object_path);
  g_main_context_unref (self->context);
  g_thread_unref (self->thread);
  g_object_unref (self->cancellable);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (bgr_operation_parent_class)->finalize (object);
}

static void
bgr_operation_class_init (BgrOperationClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_operation_finalize;
  /**
   * BgrOperation::changed:
   * @self: the operation
   *
   * The phase, message or counts changed.
   *
   * Since: 0.2
   */
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
bgr_operation_init (BgrOperation *self)
{
  g_mutex_init (&self->lock);
  self->context = g_main_context_ref_thread_default ();
  self->thread = g_thread_ref (g_thread_self ());
  self->cancellable = g_cancellable_new ();
}

/**
 * bgr_operation_new:
 *
 * Returns: (transfer full): a new operation, not started
 *
 * Since: 0.2
 */
BgrOperation *
bgr_operation_new (void)
{
  return g_object_new (BGR_TYPE_OPERATION, NULL);
}

static char *
dup_locked (BgrOperation *self, char **field)
{
  char *copy;

  g_mutex_lock (&self->lock);
  copy = g_strdup (*field);
  g_mutex_unlock (&self->lock);
  return copy;
}

/**
 * bgr_operation_dup_phase:
 * @self: an operation
 *
 * Returns: (transfer full) (nullable): the current phase
 *
 * Since: 0.2
 */
char *
bgr_operation_dup_phase (BgrOperation *self)
{
  g_return_val_if_fail (BGR_IS_OPERATION (self), NULL);
  return dup_locked (self, &self->phase);
}

/**
 * bgr_operation_dup_message:
 * @self: an operation
 *
 * Returns: (transfer full) (nullable): a human-readable line on the current
 *   step
 *
 * Since: 0.2
 */
char *
bgr_operation_dup_message (BgrOperation *self)
{
  g_return_val_if_fail (BGR_IS_OPERATION (self), NULL);
  return dup_locked (self, &self->message);
}

/**
 * bgr_operation_dup_object_path:
 * @self: an operation
 *
 * Returns: (transfer full) (nullable): the daemon's object for this
 *   operation while it runs through D-Bus, else %NULL
 *
 * Since: 0.2
 */
char *
bgr_operation_dup_object_path (BgrOperation *self)
{
  g_return_val_if_fail (BGR_IS_OPERATION (self), NULL);
  return dup_locked (self, &self->object_path);
}

/**
 * bgr_operation_get_done:
 * @self: an operation
 *
 * Returns: units done (bytes, or steps of a boot)
 *
 * Since: 0.2
 */
guint64
bgr_operation_get_done (BgrOperation *self)
{
  guint64 v;

  g_return_val_if_fail (BGR_IS_OPERATION (self), 0);
  g_mutex_lock (&self->lock);
  v = self->done;
  g_mutex_unlock (&self->lock);
  return v;
}

/**
 * bgr_operation_get_total:
 * @self: an operation
 *
 * Returns: units in all, 0 when unknown
 *
 * Since: 0.2
 */
guint64
bgr_operation_get_total (BgrOperation *self)
{
  guint64 v;

  g_return_val_if_fail (BGR_IS_OPERATION (self), 0);
  g_mutex_lock (&self->lock);
  v = self->total;
  g_mutex_unlock (&self->lock);
  return v;
}

/**
 * bgr_operation_get_fraction:
 * @self: an operation
 *
 * Returns: done / total between 0 and 1, or -1 when the total is unknown
 *
 * Since: 0.2
 */
double
bgr_operation_get_fraction (BgrOperation *self)
{
  double f;

  g_return_val_if_fail (BGR_IS_OPERATION (self), -1);
  g_mutex_lock (&self->lock);
  f = self->total > 0 ? MIN (1.0, (double) self->done / (double) self->total) : -1;
  g_mutex_unlock (&self->lock);
  return f;
}

/**
 * bgr_operation_cancel:
 * @self: an operation
 *
 * Asks the call to stop. It fails with %BGR_ERROR_CANCELLED and undoes what
 * it had done; through D-Bus the daemon's operation is cancelled too.
 *
 * Since: 0.2
 */
void
bgr_operation_cancel (BgrOperation *self)
{
  g_return_if_fail (BGR_IS_OPERATION (self));
  g_cancellable_cancel (self->cancellable);
}

/**
 * bgr_operation_is_cancelled:
 * @self: an operation
 *
 * Returns: %TRUE once bgr_operation_cancel() was called
 *
 * Since: 0.2
 */
gboolean
bgr_operation_is_cancelled (BgrOperation *self)
{
  g_return_val_if_fail (BGR_IS_OPERATION (self), FALSE);
  return g_cancellable_is_cancelled (self->cancellable);
}

/**
 * bgr_operation_get_cancellable:
 * @self: an operation
 *
 * Returns: (transfer none): the cancellable bgr_operation_cancel() cancels
 *
 * Since: 0.2
 */
GCancellable *
bgr_operation_get_cancellable (BgrOperation *self)
{
  g_return_val_if_fail (BGR_IS_OPERATION (self), NULL);
  return self->cancellable;
}

static gboolean
emit_idle (gpointer data)
{
  BgrOperation *self = data;

  g_mutex_lock (&self->lock);
  self->idle_pending = FALSE;
  g_mutex_unlock (&self->lock);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  return G_SOURCE_REMOVE;
}

void
bgr_operation_update (BgrOperation *op, const char *phase, const char *message, guint64 done,
                      guint64 total)
{
  gboolean schedule = FALSE;

  if (op == NULL)
    return;
  g_mutex_lock (&op->lock);
  if (phase != NULL && g_strcmp0 (phase, op->phase) != 0)
    {
      g_free (op->phase);
      op->phase = g_strdup (phase);
    }
  if (message != NULL && g_strcmp0 (message, op->message) != 0)
    {
      g_free (op->message);
      op->message = g_strdup (message);
    }
  op->done = done;
  op->total = total;
  if (g_thread_self () != op->thread && !op->idle_pending)
    schedule = op->idle_pending = TRUE;
  g_mutex_unlock (&op->lock);

  if (g_thread_self () == op->thread)
    g_signal_emit (op, signals[SIGNAL_CHANGED], 0);
  else if (schedule)
    {
      GSource *s = g_idle_source_new ();
      /* The priority a GTask's callback has: an `_async` call's result
       * (scheduled after this) then never overtakes the last ::changed. */
      g_source_set_priority (s, G_PRIORITY_DEFAULT);
      g_source_set_callback (s, emit_idle, g_object_ref (op), g_object_unref);
      g_source_attach (s, op->context);
      g_source_unref (s);
    }
}

void
bgr_operation_set_object_path (BgrOperation *op, const char *path)
{
  if (op == NULL)
    return;
  g_mutex_lock (&op->lock);
  g_free (op->object_path);
  op->object_path = g_strdup (path);
  g_mutex_unlock (&op->lock);
}

struct _BgrCallCancellable {
  GCancellable *outer;  /* the caller's */
  GCancellable *inner;  /* what the call watches */
  BgrOperation *op;
  gulong outer_handler, op_handler;
};

static void
forward_cancel (GCancellable *from G_GNUC_UNUSED, gpointer data)
{
  g_cancellable_cancel (data);
}

BgrCallCancellable *
bgr_call_cancellable_new (BgrOperation *op, GCancellable *cancellable)
{
  BgrCallCancellable *cc = g_new0 (BgrCallCancellable, 1);

  if (op == NULL)
    {
      cc->inner = cancellable != NULL ? g_object_ref (cancellable) : NULL;
      return cc;
    }
  cc->inner = g_cancellable_new ();
  cc->op = g_object_ref (op);
  cc->op_handler = g_cancellable_connect (op->cancellable, G_CALLBACK (forward_cancel),
                                          g_object_ref (cc->inner), g_object_unref);
  if (cancellable != NULL)
    {
      cc->outer = g_object_ref (cancellable);
      cc->outer_handler = g_cancellable_connect (cancellable, G_CALLBACK (forward_cancel),
                                                 g_object_ref (cc->inner), g_object_unref);
    }
  return cc;
}

GCancellable *
bgr_call_cancellable_get (BgrCallCancellable *cc)
{
  return cc->inner;
}

void
bgr_call_cancellable_free (BgrCallCancellable *cc)
{
  if (cc == NULL)
    return;
  if (cc->outer != NULL)
    {
      g_cancellable_disconnect (cc->outer, cc->outer_handler);
      g_object_unref (cc->outer);
    }
  if (cc->op != NULL)
    {
      g_cancellable_disconnect (cc->op->cancellable, cc->op_handler);
      g_object_unref (cc->op);
    }
  g_clear_object (&cc->inner);
  g_free (cc);
}
