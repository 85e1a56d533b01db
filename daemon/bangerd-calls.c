/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bangerd's call accounting and long calls. Handlers run in GDBus worker
 * threads; shutdown waits for the calls in flight. A long call gets an
 * operation object (/org/banger/Banger1/operation/N) whose progress goes
 * only to its caller, and whose Cancel() only its caller may call. */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include "bangerd-private.h"
#include "bgr-escape-private.h"

void
bgrd_call_done (Daemon *d)
{
  g_mutex_lock (&d->calls_lock);
  d->calls_in_flight--;
  g_cond_broadcast (&d->calls_cond);
  g_mutex_unlock (&d->calls_lock);
}

gboolean
bgrd_return_error (Daemon *d, GDBusMethodInvocation *invocation, GError *error)
{
  /* Every library error is already BGR_ERROR; its code maps to its own
   * D-Bus name (org.banger.Banger1.Error.<Name>). */
  {
    /* The message may quote the caller's arguments or a guest's words. */
    g_autofree char *msg = bgr_log_msg (error->message);
    g_autofree char *line = g_strdup_printf ("%s failed: %s",
                                             g_dbus_method_invocation_get_method_name (invocation),
                                             msg);
    /* A client repeating a failing call does not flood the log. */
    if (d->log_limit == NULL
        || bgrd_log_limit_allow (d->log_limit, g_dbus_method_invocation_get_sender (invocation),
                                 line, g_get_monotonic_time ()))
      g_info ("%s", line);
  }
  g_dbus_method_invocation_return_gerror (invocation, error);
  g_error_free (error);
  bgrd_call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

gboolean
bgrd_return (Daemon *d, GDBusMethodInvocation *invocation, GVariant *value)
{
  if (value != NULL && !g_variant_is_of_type (value, G_VARIANT_TYPE_TUPLE))
    value = g_variant_new_tuple (&value, 1);
  g_dbus_method_invocation_return_value (invocation, value);
  bgrd_call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

gboolean
bgrd_authorize_method (GDBusInterfaceSkeleton *iface, GDBusMethodInvocation *invocation,
                       gpointer data)
{
  Daemon *d = data;
  g_autofree char *printed =
    g_variant_print (g_dbus_method_invocation_get_parameters (invocation), FALSE);
  /* The caller's arguments: escaped (g_variant_print() does, but not every
   * GLib) and cut to BGR_LOG_STR_MAX bytes. */
  g_autofree char *params = bgr_log_str (printed);
  const char *refusal = NULL;

  g_debug ("call %s.%s%s on %s from %s", g_dbus_method_invocation_get_interface_name (invocation),
           g_dbus_method_invocation_get_method_name (invocation), params,
           g_dbus_method_invocation_get_object_path (invocation),
           g_dbus_method_invocation_get_sender (invocation));
  g_mutex_lock (&d->calls_lock);
  if (d->shutting_down)
    refusal = "bangerd is shutting down";
  else if (d->client == NULL)
    refusal = "bangerd is starting up (waiting for the state directory's lock)";
  else
    d->calls_in_flight++;
  g_mutex_unlock (&d->calls_lock);
  if (refusal != NULL)
    {
      /* Returning FALSE means we finish the call ourselves, with our own ref. */
      g_dbus_method_invocation_return_error_literal (g_object_ref (invocation), BGR_ERROR,
                                                     BGR_ERROR_DAEMON_UNAVAILABLE, refusal);
      return FALSE;
    }
  return TRUE;
}

void
bgrd_setup_skeleton (Daemon *d, gpointer skeleton)
{
  g_dbus_interface_skeleton_set_flags (
    G_DBUS_INTERFACE_SKELETON (skeleton),
    G_DBUS_INTERFACE_SKELETON_FLAGS_HANDLE_METHOD_INVOCATIONS_IN_THREAD);
  g_signal_connect (skeleton, "g-authorize-method", G_CALLBACK (bgrd_authorize_method), d);
}

static void
track (Daemon *d, const char *sender, GCancellable *c)
{
  GPtrArray *list;

  g_mutex_lock (&d->calls_lock);
  if (d->shutting_down)
    g_cancellable_cancel (c);
  if (sender != NULL)
    {
      list = g_hash_table_lookup (d->cancellables, sender);
      if (list == NULL)
        {
          list = g_ptr_array_new_with_free_func (g_object_unref);
          g_hash_table_insert (d->cancellables, g_strdup (sender), list);
        }
      g_ptr_array_add (list, g_object_ref (c));
    }
  g_mutex_unlock (&d->calls_lock);
}

static void
untrack (Daemon *d, const char *sender, GCancellable *c)
{
  GPtrArray *list;

  g_mutex_lock (&d->calls_lock);
  list = sender != NULL ? g_hash_table_lookup (d->cancellables, sender) : NULL;
  if (list != NULL)
    {
      g_ptr_array_remove (list, c);
      if (list->len == 0)
        g_hash_table_remove (d->cancellables, sender);
    }
  g_mutex_unlock (&d->calls_lock);
}

void
bgrd_cancel_calls_of (Daemon *d, const char *sender)
{
  GHashTableIter iter;
  gpointer key, value;

  g_mutex_lock (&d->calls_lock);
  g_hash_table_iter_init (&iter, d->cancellables);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (sender == NULL || g_str_equal (key, sender))
      {
        GPtrArray *list = value;
        for (guint i = 0; i < list->len; i++)
          g_cancellable_cancel (list->pdata[i]);
        if (sender != NULL)
          g_info ("caller %s left the bus: cancelling its %u call(s)", sender, list->len);
      }
  g_mutex_unlock (&d->calls_lock);
}

/* ---- operation objects -------------------------------------------------- */

/* What the operation object and its progress need, shared and counted: the
 * call, the operation's ::changed handler, the exported object and a
 * pending trailing update each hold a reference. ::changed may come from
 * the main thread (an update made in a thread of the engine's) while the
 * call ends in its handler's thread; none of them sees the others' memory
 * freed, and after the call ended (@ended) nothing more is sent. */
typedef struct {
  GMutex lock;
  gboolean ended;
  GDBusConnection *connection;
  char *sender, *path;
  BgrOperation *op;
  gint64 last_emit_us;
  char *last_phase;
  GSource *trailing; /* sends the state a throttled update left unsent */
} Progress;

struct _BgrdLongCall {
  Daemon *d;
  GDBusMethodInvocation *invocation;
  Progress *progress;
  guint registration;
  GCancellable *cancellable;
  gulong changed_handler;
  gulong cancel_handler;
};

static void
progress_clear (gpointer data)
{
  Progress *p = data;

  g_mutex_clear (&p->lock);
  g_object_unref (p->connection);
  g_object_unref (p->op);
  g_free (p->sender);
  g_free (p->path);
  g_free (p->last_phase);
}

static gpointer
progress_acquire (Progress *p)
{
  return g_atomic_rc_box_acquire (p);
}

static void
progress_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, progress_clear);
}

static void
progress_release_closure (gpointer data, GClosure *closure)
{
  progress_release (data);
}

static GVariant *
op_property (BgrOperation *op, const char *name)
{
  if (g_str_equal (name, "Phase") || g_str_equal (name, "Message"))
    {
      g_autofree char *s = g_str_equal (name, "Phase") ? bgr_operation_dup_phase (op)
                                                       : bgr_operation_dup_message (op);
      return g_variant_new_string (s != NULL ? s : "");
    }
  if (g_str_equal (name, "Done"))
    return g_variant_new_uint64 (bgr_operation_get_done (op));
  if (g_str_equal (name, "Total"))
    return g_variant_new_uint64 (bgr_operation_get_total (op));
  if (g_str_equal (name, "Fraction"))
    return g_variant_new_double (bgr_operation_get_fraction (op));
  return NULL;
}

static GVariant *
op_get_property (GDBusConnection *c, const char *sender, const char *path, const char *iface,
                 const char *name, GError **error, gpointer data)
{
  Progress *p = data;
  GVariant *v = op_property (p->op, name);

  if (v == NULL)
    g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "no property %s", name);
  return v;
}

static void
op_method_call (GDBusConnection *c, const char *sender, const char *path, const char *iface,
                const char *method, GVariant *params, GDBusMethodInvocation *invocation,
                gpointer data)
{
  Progress *p = data;

  if (g_strcmp0 (sender, p->sender) != 0)
    {
      g_dbus_method_invocation_return_error (invocation, BGR_ERROR,
                                             BGR_ERROR_PERMISSION_DENIED,
                                             "only the caller that started %s may cancel it",
                                             path);
      return;
    }
  g_info ("%s cancelled by its caller", path);
  bgr_operation_cancel (p->op);
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static const GDBusInterfaceVTable op_vtable = { op_method_call, op_get_property, NULL, { 0 } };

/* PropertiesChanged with the operation's state, to its caller alone.
 * Called with @p's lock held. */
static void
emit_progress (Progress *p)
{
  static const char *const props[] = { "Phase", "Message", "Done", "Total", "Fraction" };
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  for (guint i = 0; i < G_N_ELEMENTS (props); i++)
    g_variant_builder_add (&b, "{sv}", props[i], op_property (p->op, props[i]));
  g_dbus_connection_emit_signal (p->connection, p->sender, p->path,
                                 "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                 g_variant_new ("(sa{sv}as)", "org.banger.Banger1.Operation", &b,
                                                NULL),
                                 NULL);
}

static gboolean
on_trailing (gpointer data)
{
  Progress *p = data;

  g_mutex_lock (&p->lock);
  if (!p->ended)
    emit_progress (p);
  g_mutex_unlock (&p->lock);
  return G_SOURCE_REMOVE;
}

/* Sends the operation's state once @delay_us passed (unless one is
 * already due): a transfer that stalls right after a throttled update
 * still shows how far it got. Called with @p's lock held. */
static void
schedule_trailing (Progress *p, gint64 delay_us)
{
  if (p->trailing != NULL)
    {
      if (!g_source_is_destroyed (p->trailing))
        return;
      g_source_unref (p->trailing);
    }
  p->trailing = g_timeout_source_new (MAX (1, (guint) (delay_us / 1000)));
  g_source_set_callback (p->trailing, on_trailing, progress_acquire (p), progress_release);
  g_source_attach (p->trailing, NULL);
}

/* PropertiesChanged to the caller alone; at most every 100 ms unless the
 * phase changed or the phase is complete (done == total), so that the
 * caller always sees the end of a transfer; an update left unsent is sent
 * when the 100 ms are over. Runs in the thread that made the update, or
 * in the main thread for an update from a thread of the engine's. */
static void
on_op_changed (BgrOperation *op, gpointer data)
{
  Progress *p = data;
  g_autofree char *phase = bgr_operation_dup_phase (op);
  gint64 now = g_get_monotonic_time ();
  guint64 total = bgr_operation_get_total (op);
  gboolean complete = total != 0 && bgr_operation_get_done (op) == total;

  g_mutex_lock (&p->lock);
  if (p->ended)
    ;
  else if (g_strcmp0 (phase, p->last_phase) == 0 && now - p->last_emit_us < 100000 && !complete)
    schedule_trailing (p, 100000 - (now - p->last_emit_us));
  else
    {
      g_free (p->last_phase);
      p->last_phase = g_steal_pointer (&phase);
      p->last_emit_us = now;
      emit_progress (p);
    }
  g_mutex_unlock (&p->lock);
}

static void
forward_cancel (GCancellable *from, gpointer to)
{
  g_cancellable_cancel (to);
}

/* Exports the operation object. Its callbacks hold a reference to @p, which
 * GDBus gives back in the context they run in once it is unexported (a
 * callback already dispatched finishes first). */
static void
export_operation (BgrdLongCall *call)
{
  Progress *p = call->progress;
  g_autoptr (GError) error = NULL;

  call->registration = g_dbus_connection_register_object (
    p->connection, p->path, bgr_dbus_operation_interface_info (), &op_vtable,
    progress_acquire (p), progress_release, &error);
  if (call->registration == 0)
    {
      g_warning ("cannot export %s: %s", p->path, error->message);
      /* GLib 2.80 and later free the user data on failure too; older ones do not. */
      if (glib_check_version (2, 80, 0) != NULL)
        progress_release (p);
    }
}

BgrdLongCall *
bgrd_long_call_begin (Daemon *d, GDBusMethodInvocation *invocation)
{
  BgrdLongCall *call = g_new0 (BgrdLongCall, 1);
  GDBusMessage *msg = g_dbus_method_invocation_get_message (invocation);
  Progress *p = g_atomic_rc_box_new0 (Progress);
  guint n;

  g_mutex_init (&p->lock);
  p->connection = g_object_ref (d->connection);
  p->sender = g_strdup (g_dbus_method_invocation_get_sender (invocation));
  p->op = bgr_operation_new ();
  call->d = d;
  call->invocation = g_object_ref (invocation);
  call->progress = p;
  call->cancellable = g_cancellable_new ();
  track (d, p->sender, call->cancellable);
  g_mutex_lock (&d->calls_lock);
  n = ++d->next_operation;
  g_mutex_unlock (&d->calls_lock);
  p->path = g_strdup_printf ("%s/operation/%u", BGR_DBUS_PATH, n);
  export_operation (call);
  call->changed_handler = g_signal_connect_data (p->op, "changed", G_CALLBACK (on_op_changed),
                                                 progress_acquire (p),
                                                 progress_release_closure, 0);
  /* Cancel() cancels the operation; the work watches the call's
   * cancellable, which a caller leaving the bus also cancels. Every long
   * call (Vm.Exec and Vm.Stop too, which take no BgrOperation) stops on
   * either. */
  call->cancel_handler = g_cancellable_connect (bgr_operation_get_cancellable (p->op),
                                                G_CALLBACK (forward_cancel),
                                                g_object_ref (call->cancellable), g_object_unref);
  if (p->sender != NULL)
    g_dbus_connection_emit_signal (d->connection, p->sender, BGR_DBUS_PATH,
                                   "org.banger.Banger1.Manager", "OperationStarted",
                                   g_variant_new ("(uo)", g_dbus_message_get_serial (msg), p->path),
                                   NULL);
  return call;
}

BgrOperation *
bgrd_long_call_get_operation (BgrdLongCall *call)
{
  return call->progress->op;
}

GCancellable *
bgrd_long_call_get_cancellable (BgrdLongCall *call)
{
  return call->cancellable;
}

void
bgrd_long_call_end (BgrdLongCall *call)
{
  Progress *p = call->progress;
  GSource *trailing;

  untrack (call->d, p->sender, call->cancellable);
  /* From here nothing is sent, whichever thread ::changed comes from. */
  g_mutex_lock (&p->lock);
  p->ended = TRUE;
  trailing = g_steal_pointer (&p->trailing);
  g_mutex_unlock (&p->lock);
  if (trailing != NULL)
    {
      g_source_destroy (trailing);
      g_source_unref (trailing);
    }
  if (call->registration != 0)
    g_dbus_connection_unregister_object (p->connection, call->registration);
  g_signal_handler_disconnect (p->op, call->changed_handler);
  g_cancellable_disconnect (bgr_operation_get_cancellable (p->op), call->cancel_handler);
  progress_release (p);
  g_object_unref (call->cancellable);
  g_object_unref (call->invocation);
  g_free (call);
}

GVariant *
bgrd_list_to_variant (GPtrArray *list, BgrdToVariant to_variant)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < list->len; i++)
    g_variant_builder_add_value (&b, to_variant (list->pdata[i]));
  return g_variant_builder_end (&b);
}

gboolean
bgrd_take_handles (GUnixFDList *fd_list, GVariant *const *handles, guint n, int *fds,
                   const char *what, GError **error)
{
  for (guint i = 0; i < n; i++)
    {
      gint32 idx = g_variant_get_handle (handles[i]);
      if (fd_list == NULL || idx < 0 || idx >= g_unix_fd_list_get_length (fd_list)
          || (fds[i] = g_unix_fd_list_get (fd_list, idx, NULL)) < 0)
        {
          for (guint j = 0; j < n; j++)
            {
              if (j < i)
                close (fds[j]);
              fds[j] = -1;
            }
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "%s needs %u file descriptor%s passed with the call", what, n,
                       n == 1 ? "" : "s");
          return FALSE;
        }
    }
  return TRUE;
}
