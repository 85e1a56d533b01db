/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A D-Bus call to bangerd with its operation object followed: progress
 * into a BgrOperation, cancellation through the operation's Cancel(). */
#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <banger/banger.h>

G_BEGIN_DECLS

/* Calls @method on @path/@iface and waits on a private main context, so
 * that the daemon's OperationStarted and PropertiesChanged signals for
 * this call update @op (nullable) while it runs. When @cancellable is
 * cancelled, the daemon's operation is cancelled and the call's own
 * (Cancelled) reply is awaited. On failure, *error is the raw GDBus error. */
GVariant *bgr_dbus_call_followed (GDBusConnection *connection, const char *path,
                                  const char *iface, const char *method, GVariant *params,
                                  GUnixFDList *fds, const char *reply_type, BgrOperation *op,
                                  GCancellable *cancellable, GError **error);

G_END_DECLS
