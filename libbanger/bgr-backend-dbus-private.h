/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The D-Bus backend's shared parts: bgr-backend-dbus.c holds the daemon
 * calls and reply decoding, bgr-backend-dbus-calls.c the kernel, image and
 * VM calls and the vtable. */
#pragma once

#include "bgr-backend-private.h"
#include "bgr-records-private.h"

G_BEGIN_DECLS

typedef struct {
  BgrBackend parent;
  GDBusConnection *connection;
  char *bus_description;
} DBusBackend;

#define SELF(b) ((DBusBackend *) (b))
#define OPT(s) ((s) != NULL ? (s) : "")
/* Short calls answer quickly; long ones run as long as they need: the
 * daemon cancels them if this client goes away. */
#define CALL_TIMEOUT_MS (2 * 60 * 1000)
#define LONG_CALL_TIMEOUT_MS G_MAXINT

void dbus_free (BgrBackend *backend);
BgrConfig *dbus_get_config (BgrBackend *backend, GCancellable *cancellable, GError **error);
BgrDaemonInfo *dbus_get_daemon_info (BgrBackend *backend, GCancellable *cancellable,
                                     GError **error);
gboolean dbus_stop_daemon (BgrBackend *backend, GCancellable *cancellable, GError **error);
char *dbus_ensure_ssh_key (BgrBackend *backend, GCancellable *cancellable, GError **error);
char *dbus_web_login_url (BgrBackend *backend, char **out_url, GCancellable *cancellable,
                          GError **error);
BgrDoctorReport *dbus_doctor (BgrBackend *backend, GCancellable *cancellable, GError **error);

/* Turns a GDBus error into a BGR_ERROR (consumes @remote). */
void convert_remote_error (DBusBackend *self, GError **error, GError *remote);
GVariant *call_at (DBusBackend *self, const char *path, const char *iface, const char *method,
                   GVariant *params, const char *reply_type, gint timeout_ms,
                   GCancellable *cancellable, GError **error);
/* Manager methods. */
GVariant *call_with (DBusBackend *self, const char *method, GVariant *params,
                     const char *reply_type, GCancellable *cancellable, GError **error);
GVariant *call (DBusBackend *self, const char *method, const char *reply_type,
                GCancellable *cancellable, GError **error);
GVariant *call_name (DBusBackend *self, const char *method, const char *name,
                     const char *reply_type, GCancellable *cancellable, GError **error);

/* The objects of the daemon's tree (bgr-backend-dbus-object.c). */
typedef struct {
  const char *kind;   /* "vm" */
  const char *iface;  /* "org.banger.Banger1.Vm" */
  const char *getter; /* "GetVm": tells a missing object from a tree that lags */
  const char *noun;   /* "VM" */
} BgrDBusKind;

extern const BgrDBusKind OBJ_VM, OBJ_IMAGE, OBJ_KERNEL;

/* @method on the object of @k named @name; with @op, followed as a long
 * call. */
GVariant *call_object (DBusBackend *self, const BgrDBusKind *k, const char *name,
                       const char *method, GVariant *params, GUnixFDList *fds,
                       const char *reply_type, BgrOperation *op, GCancellable *cancellable,
                       GError **error);
/* @method on the object of VM @name. */
GVariant *call_vm (DBusBackend *self, const char *name, const char *method, GVariant *params,
                   GUnixFDList *fds, const char *reply_type, GCancellable *cancellable,
                   GError **error);

/* Commands with passed descriptors (bgr-backend-dbus-exec.c). */
/* Appends @fd, or /dev/null (opened with @flags) when it is -1, to @fds:
 * its index, or -1. */
int dbus_append_fd (GUnixFDList *fds, int fd, int flags, GError **error);
gboolean dbus_vm_exec (BgrBackend *b, const char *name, BgrExecSpec *spec, gint *out_status,
                       GCancellable *cancellable, GError **error);
gboolean dbus_vm_acp (BgrBackend *b, const char *name, const char *cwd, int stdin_fd,
                      int stdout_fd, int stderr_fd, gint *out_status, GCancellable *cancellable,
                      GError **error);

/* Sessions (bgr-backend-dbus-sessions.c). */
BgrVmSession *dbus_vm_session_start (BgrBackend *b, const char *vm, BgrSessionSpec *spec,
                                     GCancellable *cancellable, GError **error);
GPtrArray *dbus_vm_session_list (BgrBackend *b, const char *vm, const char *session,
                                 GCancellable *cancellable, GError **error);
gboolean dbus_vm_session_logs (BgrBackend *b, const char *vm, const char *session, gint stream,
                               guint tail, gboolean follow, int fd, GCancellable *cancellable,
                               GError **error);
gboolean dbus_vm_session_attach (BgrBackend *b, const char *vm, const char *session,
                                 int stdin_fd, int stdout_fd, int stderr_fd, int resize_fd,
                                 gint *out_status, GCancellable *cancellable, GError **error);
BgrVmSession *dbus_vm_session_end (BgrBackend *b, const char *vm, const char *session,
                                   gboolean kill, GCancellable *cancellable, GError **error);

typedef gpointer (*RecordNew) (JsonObject *doc);
gpointer record_from_reply (GVariant *reply, RecordNew make, GError **error);
GPtrArray *list_from_reply (GVariant *reply, RecordNew make, GError **error);
BgrKernel *kernel_from_reply (GVariant *reply, GError **error);
BgrImage *image_from_reply (GVariant *reply, GError **error);

extern const BgrBackendVTable bgr_backend_dbus_vtable;

G_END_DECLS
