/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What bangerd's files share: the daemon's state, call accounting, long
 * calls with their operation objects, and the exported object tree. */
#pragma once

#include <banger/banger.h>

#include "bangerd-loglimit.h"
#include "bgr-dbus-generated.h"

G_BEGIN_DECLS

#define BGR_DBUS_NAME "org.banger.Banger1"
#define BGR_DBUS_PATH "/org/banger/Banger1"
/* A failing call's error is logged at most BGRD_LOG_BURST times per peer
 * in BGRD_LOG_INTERVAL_S seconds when it is the same; then one line says
 * how many were suppressed. */
#define BGRD_LOG_BURST 5
#define BGRD_LOG_INTERVAL_S 10

typedef struct _BgrdWeb BgrdWeb;

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
  gboolean system;
  BgrdWeb *web; /* the web UI; NULL when not served */
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
  BgrdLogLimit *log_limit; /* repeated errors per peer */
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
/* The descriptors @n handles of a call index, all or none: FALSE with
 * @error naming @what (e.g. "Vm.Exec (stdin, stdout, stderr)") and every
 * fds[] -1. The caller closes them. */
gboolean bgrd_take_handles (GUnixFDList *fd_list, GVariant *const *handles, guint n, int *fds,
                            const char *what, GError **error);
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
/* Vm.Exec, or Vm.ExecTerminal with @terminal (the third handle then
 * carries window sizes), run as a long call (bangerd-tcp.c). */
gboolean bgrd_exec_call (GDBusMethodInvocation *inv, GUnixFDList *fd_list, GVariant *dict,
                         GVariant *const handles[3], gboolean terminal, gpointer data);
/* The VM/image/kernel name of an object skeleton's interface. */
const char *bgrd_object_name (GDBusMethodInvocation *invocation);
/* The Vm object's workspace and copy methods (bangerd-workspace.c). */
void bgrd_workspace_connect (Daemon *d, gpointer iface);

/* Sessions (bangerd-sessions.c): the Vm methods, and one attach holder
 * per session, shared with the attach socket (bangerd-attach.c). */
void bgrd_sessions_connect (Daemon *d, gpointer vm_iface);
/* FALSE with BGR_ERROR_BUSY naming the holder when the session is held. */
gboolean bgrd_attach_claim (const char *vm, const char *session, const char *holder,
                            GError **error);
void bgrd_attach_release (const char *vm, const char *session);
/* "pid N (comm)", escaped. */
char *bgrd_describe_pid (guint32 pid);
/* The attach socket, STATE_DIR/run/attach.sock (bangerd-attach.c). */
void bgrd_attach_socket_start (Daemon *d);
void bgrd_attach_socket_stop (Daemon *d);

/* Lists as aa{sv}. */
typedef GVariant *(*BgrdToVariant) (gpointer object);
GVariant *bgrd_list_to_variant (GPtrArray *list, BgrdToVariant to_variant);

G_END_DECLS
