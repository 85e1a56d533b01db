/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bgr_dbus_call_followed(): the message is sent by hand so that its serial
 * is known; the daemon names the operation object it made for that serial
 * in OperationStarted, sent to us alone, before any progress. */
#include "config.h"

#include "bgr-backend-private.h"
#include "bgr-dbus-call.h"
#include "bgr-operation-private.h"

#define OPERATION_IFACE "org.banger.Banger1.Operation"
/* After Cancel(), how long to wait for the daemon to reply. */
#define CANCEL_GRACE_US (30 * G_USEC_PER_SEC)

typedef struct {
  GDBusConnection *connection;
  GMainContext *context;
  BgrOperation *op;
  guint32 serial;
  char *op_path;
  gboolean cancel_wanted, cancel_sent;
  gint64 cancel_deadline;
  GDBusMessage *reply;
  GError *error;
  gboolean done;
} Followed;

static void
send_cancel (Followed *f)
{
  if (f->op_path == NULL || f->cancel_sent)
    return;
  f->cancel_sent = TRUE;
  g_dbus_connection_call (f->connection, BGR_DBUS_NAME, f->op_path, OPERATION_IFACE, "Cancel",
                          NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL, NULL);
}

static gboolean
cancel_in_context (gpointer data)
{
  Followed *f = data;

  f->cancel_wanted = TRUE;
  f->cancel_deadline = g_get_monotonic_time () + CANCEL_GRACE_US;
  send_cancel (f);
  return G_SOURCE_REMOVE;
}

static void
on_cancelled (GCancellable *cancellable, gpointer data)
{
  Followed *f = data;
  g_main_context_invoke (f->context, cancel_in_context, f);
}

static void
on_started (GDBusConnection *c, const char *sender, const char *path, const char *iface,
            const char *signal, GVariant *params, gpointer data)
{
  Followed *f = data;
  guint32 serial;
  const char *op_path;

  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(uo)")))
    return;
  g_variant_get (params, "(u&o)", &serial, &op_path);
  if (serial != f->serial || f->op_path != NULL)
    return;
  f->op_path = g_strdup (op_path);
  bgr_operation_set_object_path (f->op, op_path);
  if (f->cancel_wanted)
    send_cancel (f);
}

static void
on_properties (GDBusConnection *c, const char *sender, const char *path, const char *iface,
               const char *signal, GVariant *params, gpointer data)
{
  Followed *f = data;
  g_autoptr (GVariant) changed = NULL;
  const char *phase = NULL, *message = NULL;
  guint64 done = 0, total = 0;

  if (f->op == NULL || g_strcmp0 (path, f->op_path) != 0
      || !g_variant_is_of_type (params, G_VARIANT_TYPE ("(sa{sv}as)")))
    return;
  changed = g_variant_get_child_value (params, 1);
  g_variant_lookup (changed, "Phase", "&s", &phase);
  g_variant_lookup (changed, "Message", "&s", &message);
  g_variant_lookup (changed, "Done", "t", &done);
  g_variant_lookup (changed, "Total", "t", &total);
  bgr_operation_update (f->op, phase, message, done, total);
}

static void
on_reply (GObject *source, GAsyncResult *res, gpointer data)
{
  Followed *f = data;

  f->reply = g_dbus_connection_send_message_with_reply_finish (G_DBUS_CONNECTION (source), res,
                                                               &f->error);
  f->done = TRUE;
}

static GVariant *
reply_body (Followed *f, const char *reply_type, GError **error)
{
  GVariant *body;

  if (f->reply == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&f->error));
      return NULL;
    }
  if (g_dbus_message_to_gerror (f->reply, error))
    return NULL;
  body = g_dbus_message_get_body (f->reply);
  if (body == NULL)
    body = g_variant_new ("()");
  if (!g_variant_is_of_type (body, G_VARIANT_TYPE (reply_type)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "reply has type %s, expected %s", g_variant_get_type_string (body), reply_type);
      return NULL;
    }
  return g_variant_ref_sink (body);
}

static gboolean
wake (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

GVariant *
bgr_dbus_call_followed (GDBusConnection *connection, const char *path, const char *iface,
                        const char *method, GVariant *params, GUnixFDList *fds,
                        const char *reply_type, BgrOperation *op, GCancellable *cancellable,
                        GError **error)
{
  g_autoptr (GMainContext) ctx = g_main_context_new ();
  g_autoptr (GDBusMessage) msg = g_dbus_message_new_method_call (BGR_DBUS_NAME, path, iface,
                                                                 method);
  Followed f = { connection, ctx, op, 0, NULL, FALSE, FALSE, 0, NULL, NULL, FALSE };
  guint sub_started, sub_props;
  gulong cancel_id = 0;
  GSource *tick;
  GVariant *result;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    {
      if (params != NULL)
        g_variant_unref (g_variant_ref_sink (params));
      return NULL;
    }
  g_dbus_message_set_body (msg, params);
  if (fds != NULL)
    g_dbus_message_set_unix_fd_list (msg, fds);
  g_main_context_push_thread_default (ctx);
  sub_started = g_dbus_connection_signal_subscribe (connection, BGR_DBUS_NAME,
                                                    BGR_DBUS_MANAGER_IFACE, "OperationStarted",
                                                    BGR_DBUS_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                    on_started, &f, NULL);
  sub_props = g_dbus_connection_signal_subscribe (connection, BGR_DBUS_NAME,
                                                  "org.freedesktop.DBus.Properties",
                                                  "PropertiesChanged", NULL, OPERATION_IFACE,
                                                  G_DBUS_SIGNAL_FLAGS_NONE, on_properties, &f,
                                                  NULL);
  g_dbus_connection_send_message_with_reply (connection, msg, G_DBUS_SEND_MESSAGE_FLAGS_NONE,
                                             G_MAXINT, &f.serial, NULL, on_reply, &f);
  if (cancellable != NULL)
    cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), &f, NULL);
  /* A tick so that the cancel grace period is noticed. */
  tick = g_timeout_source_new (500);
  g_source_set_callback (tick, wake, NULL, NULL);
  g_source_attach (tick, ctx);
  while (!f.done && !(f.cancel_wanted && g_get_monotonic_time () > f.cancel_deadline))
    g_main_context_iteration (ctx, TRUE);
  g_source_destroy (tick);
  g_source_unref (tick);
  g_cancellable_disconnect (cancellable, cancel_id);
  g_dbus_connection_signal_unsubscribe (connection, sub_started);
  g_dbus_connection_signal_unsubscribe (connection, sub_props);
  while (g_main_context_iteration (ctx, FALSE))
    ;
  g_main_context_pop_thread_default (ctx);
  if (!f.done)
    {
      /* The daemon did not answer the cancel in time. The pending reply
       * still points at @f: leave the context to it and give up waiting. */
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                           "cancelled (bangerd did not confirm in time)");
      g_free (f.op_path);
      return NULL;
    }
  result = reply_body (&f, reply_type, error);
  g_clear_object (&f.reply);
  g_clear_error (&f.error);
  g_free (f.op_path);
  return result;
}
