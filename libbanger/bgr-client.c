/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <banger/banger.h>

#include "bgr-client-private.h"
#include "bgr-error-private.h"
#include "bgr-types-private.h"

struct _BgrClient {
  GObject parent_instance;
  BgrBackend *backend;
  GMainContext *context; /* where ::object-changed is emitted */
  GMutex events_lock;    /* engine threads hold it while they take a ref */
  gboolean disposed;     /* no more events: the last reference is going */
};

enum { SIGNAL_OBJECT_CHANGED, SIGNAL_VM_STATS_SAMPLED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (BgrClient, bgr_client, G_TYPE_OBJECT)

/* The engine's threads stop taking references before the last one goes
 * (one taken just before is fine: the client then lives until its event
 * was emitted). */
static void
bgr_client_dispose (GObject *object)
{
  BgrClient *self = BGR_CLIENT (object);

  g_mutex_lock (&self->events_lock);
  self->disposed = TRUE;
  g_mutex_unlock (&self->events_lock);
  G_OBJECT_CLASS (bgr_client_parent_class)->dispose (object);
}

static void
bgr_client_finalize (GObject *object)
{
  BgrClient *self = BGR_CLIENT (object);
  if (self->backend != NULL)
    self->backend->vtable->free (self->backend);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->events_lock);
  G_OBJECT_CLASS (bgr_client_parent_class)->finalize (object);
}

static void
bgr_client_class_init (BgrClientClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = bgr_client_dispose;
  G_OBJECT_CLASS (klass)->finalize = bgr_client_finalize;
  /**
   * BgrClient::object-changed:
   * @self: the client
   * @kind: "vm", "image" or "kernel"
   * @name: the object's name
   * @record: (nullable): for a VM, its public form (as bgr_vm_to_variant()
   *   gives it) as the engine wrote it; %NULL for images and kernels and
   *   when the object was deleted
   *
   * The engine of a local client wrote or deleted an object. Read it again
   * (bgr_client_vm_get()...; %BGR_ERROR_NOT_FOUND means it is gone), or use
   * @record: the events of a VM, in order, give every state it went
   * through.
   * Emitted in the thread-default main context of the thread that created
   * the client. D-Bus clients watch the daemon's object tree instead
   * (docs/dbus.md).
   *
   * Since: 0.2
   */
  signals[SIGNAL_OBJECT_CHANGED] =
    g_signal_new ("object-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_VARIANT);
  /**
   * BgrClient::vm-stats-sampled:
   * @self: the client
   * @name: the VM's name
   * @stats: its stats (as bgr_client_vm_stats() would give them now)
   *
   * The engine of a local client that supervises (bangerd's) took a stats
   * sample of running VM @name: at most once per VM per
   * `stats_poll_interval`. Emitted like #BgrClient::object-changed. D-Bus
   * clients subscribe to the VM object's StatsSampled signal instead
   * (docs/dbus.md).
   *
   * Since: 0.2
   */
  signals[SIGNAL_VM_STATS_SAMPLED] =
    g_signal_new ("vm-stats-sampled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, BGR_TYPE_VM_STATS);
  /* Register the D-Bus error names before any call can fail. */
  (void) bgr_error_quark ();
}

static void
bgr_client_init (BgrClient *self)
{
  self->context = g_main_context_ref_thread_default ();
  g_mutex_init (&self->events_lock);
}

/* A reference for an event from an engine thread; FALSE once disposed. */
static gboolean
hold_for_event (BgrClient *self)
{
  gboolean alive;

  g_mutex_lock (&self->events_lock);
  alive = !self->disposed;
  if (alive)
    g_object_ref (self);
  g_mutex_unlock (&self->events_lock);
  return alive;
}

/* Runs @emit (@data) from an idle in the client's context: the engine
 * may hold its lock while it reports. */
static void
emit_later (BgrClient *self, GSourceFunc emit, gpointer data)
{
  GSource *source = g_idle_source_new ();

  g_source_set_callback (source, emit, data, NULL);
  g_source_attach (source, self->context);
  g_source_unref (source);
}

typedef struct {
  BgrClient *client;
  char *kind, *name;
  GVariant *record;
} Change;

static gboolean
emit_change (gpointer data)
{
  Change *c = data;

  g_signal_emit (c->client, signals[SIGNAL_OBJECT_CHANGED], 0, c->kind, c->name, c->record);
  g_object_unref (c->client);
  if (c->record != NULL)
    g_variant_unref (c->record);
  g_free (c->kind);
  g_free (c->name);
  g_free (c);
  return G_SOURCE_REMOVE;
}

static void
on_backend_event (const char *kind, const char *name, GVariant *record, gpointer data)
{
  BgrClient *self = data;
  Change *c;

  if (record != NULL)
    g_variant_ref_sink (record);
  if (!hold_for_event (self))
    {
      if (record != NULL)
        g_variant_unref (record);
      return;
    }
  c = g_new0 (Change, 1);
  c->client = self;
  c->kind = g_strdup (kind);
  c->name = g_strdup (name);
  c->record = record;
  emit_later (self, emit_change, c);
}

typedef struct {
  BgrClient *client;
  char *name;
  BgrVmStats *stats;
} Sampled;

static gboolean
emit_stats (gpointer data)
{
  Sampled *c = data;

  g_signal_emit (c->client, signals[SIGNAL_VM_STATS_SAMPLED], 0, c->name, c->stats);
  g_object_unref (c->client);
  g_object_unref (c->stats);
  g_free (c->name);
  g_free (c);
  return G_SOURCE_REMOVE;
}

static void
on_backend_stats (const char *name, BgrVmStats *stats, gpointer data)
{
  BgrClient *self = data;
  Sampled *c;

  if (!hold_for_event (self))
    return;
  c = g_new0 (Sampled, 1);
  c->client = self;
  c->name = g_strdup (name);
  c->stats = g_object_ref (stats);
  emit_later (self, emit_stats, c);
}

/**
 * bgr_client_new_local:
 * @config: (nullable): the configuration the engine runs with; %NULL loads
 *   the one `banger` would: the file `$BANGER_CONFIG` names, else the
 *   default path
 * @flags: #BgrClientFlags
 * @error: return location for a #GError
 *
 * Creates a client whose calls run in this process. The engine takes the
 * state directory's lock: while this client lives, no other engine (another
 * local client, or bangerd) can use the same state directory; a second one
 * fails with %BGR_ERROR_LOCKED naming the holder's pid. When the process
 * that took the lock has exited but a child it forked still holds it, this
 * waits up to 2 s for the lock before failing.
 *
 * Returns: (transfer full): a new client, or %NULL
 * Since: 0.1
 */
BgrClient *
bgr_client_new_local (BgrConfig *config, BgrClientFlags flags, GError **error)
{
  g_autoptr (BgrConfig) loaded = NULL;
  BgrBackend *backend;
  BgrClient *self;

  g_return_val_if_fail (config == NULL || BGR_IS_CONFIG (config), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  (void) bgr_error_quark ();
  bgr_types_ensure ();
  if (config == NULL)
    {
      config = loaded = bgr_config_load (g_getenv ("BANGER_CONFIG"), error);
      if (config == NULL)
        return NULL;
    }
  backend = bgr_backend_local_new (config, flags, error);
  if (backend == NULL)
    return NULL;
  self = g_object_new (BGR_TYPE_CLIENT, NULL);
  self->backend = backend;
  backend->event_func = on_backend_event;
  backend->stats_func = on_backend_stats;
  backend->event_data = self;
  return self;
}

static BgrClient *
new_dbus_for_connection (GDBusConnection *connection, const char *description,
                         BgrClientFlags flags, GCancellable *cancellable, GError **error)
{
  BgrBackend *backend = bgr_backend_dbus_new (connection, description, flags, cancellable, error);
  BgrClient *self;

  if (backend == NULL)
    return NULL;
  self = g_object_new (BGR_TYPE_CLIENT, NULL);
  self->backend = backend;
  return self;
}

/**
 * bgr_client_new_dbus:
 * @bus_type: %G_BUS_TYPE_SESSION or %G_BUS_TYPE_SYSTEM
 * @flags: #BgrClientFlags
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Creates a client whose calls go to bangerd on @bus_type. Unless @flags
 * has %BGR_CLIENT_FLAGS_NO_AUTO_START, D-Bus activation starts bangerd
 * when it is installed and not running. Fails with
 * %BGR_ERROR_DAEMON_UNAVAILABLE when no bangerd answers.
 *
 * Returns: (transfer full): a new client, or %NULL
 * Since: 0.1
 */
BgrClient *
bgr_client_new_dbus (GBusType bus_type, BgrClientFlags flags, GCancellable *cancellable,
                     GError **error)
{
  g_autoptr (GDBusConnection) connection = NULL;
  GError *local_error = NULL;
  const char *description = bus_type == G_BUS_TYPE_SYSTEM ? "system" : "session";

  g_return_val_if_fail (bus_type == G_BUS_TYPE_SESSION || bus_type == G_BUS_TYPE_SYSTEM, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  (void) bgr_error_quark ();
  bgr_types_ensure ();
  connection = g_bus_get_sync (bus_type, cancellable, &local_error);
  if (connection == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_DAEMON_UNAVAILABLE,
                   "cannot connect to the %s bus: %s", description, local_error->message);
      g_error_free (local_error);
      return NULL;
    }
  return new_dbus_for_connection (connection, description, flags, cancellable, error);
}

/**
 * bgr_client_new_dbus_for_address:
 * @address: a D-Bus address of a message bus (e.g. a private dbus-daemon)
 * @flags: #BgrClientFlags
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Like bgr_client_new_dbus() for the message bus at @address.
 *
 * Returns: (transfer full): a new client, or %NULL
 * Since: 0.1
 */
BgrClient *
bgr_client_new_dbus_for_address (const char *address, BgrClientFlags flags,
                                 GCancellable *cancellable, GError **error)
{
  g_autoptr (GDBusConnection) connection = NULL;
  GError *local_error = NULL;

  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  (void) bgr_error_quark ();
  bgr_types_ensure ();
  connection = g_dbus_connection_new_for_address_sync (
    address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, cancellable, &local_error);
  if (connection == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_DAEMON_UNAVAILABLE,
                   "cannot connect to the bus at %s: %s", address, local_error->message);
      g_error_free (local_error);
      return NULL;
    }
  return new_dbus_for_connection (connection, address, flags, cancellable, error);
}

/**
 * bgr_client_is_local:
 * @self: a #BgrClient
 *
 * Returns: %TRUE when calls run in-process
 * Since: 0.1
 */
gboolean
bgr_client_is_local (BgrClient *self)
{
  g_return_val_if_fail (BGR_IS_CLIENT (self), FALSE);
  return g_str_equal (self->backend->vtable->name, "local");
}

/**
 * bgr_client_get_config:
 * @self: a #BgrClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the configuration the engine runs with (for a
 *   D-Bus client: the daemon's)
 * Since: 0.1
 */
BgrConfig *
bgr_client_get_config (BgrClient *self, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (BGR_IS_CLIENT (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return self->backend->vtable->get_config (self->backend, cancellable, error);
}

BgrBackend *
bgr_client_get_backend (BgrClient *self)
{
  return self->backend;
}

gpointer
bgr_client_finish_error (gpointer result, GError **error)
{
  if (result == NULL && error != NULL && *error != NULL
      && g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *msg = g_strdup ((*error)->message);
      g_clear_error (error);
      g_set_error_literal (error, BGR_ERROR, BGR_ERROR_CANCELLED, msg);
    }
  return result;
}

gboolean
bgr_client_check_name (const char *what, const char *name, GError **error)
{
  if (name != NULL && *name != '\0')
    return TRUE;
  g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "a %s name is required", what);
  return FALSE;
}

/* ---- the generic async call --------------------------------------------- */

static void
call_free (gpointer p)
{
  Call *c = p;
  g_free (c->name);
  g_free (c->session);
  g_clear_object (&c->spec);
  g_clear_object (&c->op);
  g_free (c);
}

static void
call_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Call *c = data;
  GError *error = NULL;
  gpointer result = c->func (source, c, cancellable, &error);

  if (error != NULL)
    g_task_return_error (task, error);
  else if (c->returns_boolean)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_pointer (task, result, g_object_unref);
}

Call *
bgr_client_call_new (CallFunc func, const char *name, gpointer spec, BgrOperation *op)
{
  Call *c = g_new0 (Call, 1);
  c->func = func;
  c->name = g_strdup (name);
  c->spec = spec != NULL ? g_object_ref (spec) : NULL;
  c->op = op != NULL ? g_object_ref (op) : NULL;
  return c;
}

void
bgr_client_call_start (BgrClient *self, Call *c, gpointer tag, GCancellable *cancellable,
            GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tag);
  /* _finish gives what the blocking call gave, a cancelled call's
   * BGR_ERROR_CANCELLED included (GTask would replace it with
   * G_IO_ERROR_CANCELLED when @cancellable is cancelled). */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, c, call_free);
  g_task_run_in_thread (task, call_thread);
}

gpointer
bgr_client_call_finish (BgrClient *self, GAsyncResult *result, gpointer tag, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, tag), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

