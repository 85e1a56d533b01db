/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What bangerd's files share: the daemon's state, call accounting, long
 * calls with their operation objects, and the exported object tree. */
#pragma once

#include <banger/banger.h>

#include "bgr-dbus-generated.h"

G_BEGIN_DECLS

#define BGR_DBUS_NAME "org.banger.Banger1"
#define BGR_DBUS_PATH "/org/banger/Banger1"

typedef struct {
  GMainLoop *loop;
  BgrConfig *config;
  BgrClient *client; /* local engine; NULL until the state lock is held */
  BgrDBusManager *skeleton;
  GDBusObjectManagerServer *objects;
  GThreadPool *refresher; /* one thread: refreshes objects in event order */
  GDBusConnection *connection;
  char *bus_description;
  gboolean replace;
  gboolean name_acquired;
  guint lock_retry_id;
  gint64 lock_deadline;
  /* calls in flight; guarded by calls_lock */
  GMutex calls_lock;
  GCond calls_cond;
  guint calls_in_flight;
  gboolean shutting_down;
  GHashTable *cancellables; /* sender -> GPtrArray of GCancellable, for long calls */
  guint next_operation;
  int exit_status;
  GLogLevelFlags max_level;
} Daemon;

/* Call accounting (bangerd-calls.c). Every method is counted from
 * g-authorize-method until its handler replied. */
gboolean bgrd_authorize_method (GDBusInterfaceSkeleton *iface, GDBusMethodInvocation *invocation,
                                gpointer data);
void bgrd_call_done (Daemon *d);
/* Replies with @error (consumed) and ends the call. */
gboolean bgrd_return_error (Daemon *d, GDBusMethodInvocation *invocation, GError *error);
/* Replies with @value (floating, or NULL for no value) and ends the call. */
gboolean bgrd_return (Daemon *d, GDBusMethodInvocation *invocation, GVariant *value);
/* Cancels the long calls of @sender (NULL: all). */
void bgrd_cancel_calls_of (Daemon *d, const char *sender);
/* Makes an interface skeleton's methods run in worker threads, counted. */
void bgrd_setup_skeleton (Daemon *d, gpointer skeleton);

/* A long call: a cancellable (cancelled when the caller leaves the bus or
 * the daemon stops) and an operation object the caller is told about. */
typedef struct _BgrdLongCall BgrdLongCall;
BgrdLongCall *bgrd_long_call_begin (Daemon *d, GDBusMethodInvocation *invocation);
BgrOperation *bgrd_long_call_get_operation (BgrdLongCall *call);
GCancellable *bgrd_long_call_get_cancellable (BgrdLongCall *call);
void bgrd_long_call_end (BgrdLongCall *call);

/* The Manager interface (bangerd-manager.c). */
gboolean bgrd_export_manager (Daemon *d, GError **error);

/* The object tree (bangerd-objects.c): ObjectManager plus one object per
 * VM, image and kernel, refreshed from the engine's change events. */
void bgrd_objects_start (Daemon *d);
void bgrd_objects_stop (Daemon *d);
/* The Vm methods for terminals and TCP (bangerd-tcp.c). */
void bgrd_connect_vm_tcp_handlers (Daemon *d, gpointer iface);
/* The VM/image/kernel name of an object skeleton's interface. */
const char *bgrd_object_name (GDBusMethodInvocation *invocation);

/* Lists as aa{sv}. */
typedef GVariant *(*BgrdToVariant) (gpointer object);
GVariant *bgrd_list_to_variant (GPtrArray *list, BgrdToVariant to_variant);

G_END_DECLS
