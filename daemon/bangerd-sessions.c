/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The session methods of the Vm objects, and who holds each attach: one
 * holder per session, whether it came over D-Bus or the attach socket
 * (bangerd-attach.c), so that a second attach is refused with the first
 * one's name. */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include <gio/gunixfdlist.h>
#include <unistd.h>

#include "bangerd-private.h"
#include "bgr-escape-private.h"

#define DAEMON(data) ((Daemon *) (data))
#define NAME(inv) bgrd_object_name (inv)

static GMutex holders_lock;
static GHashTable *holders; /* "VM\nSESSION" -> who holds its attach */

gboolean
bgrd_attach_claim (const char *vm, const char *session, const char *holder, GError **error)
{
  g_autofree char *key = g_strdup_printf ("%s\n%s", vm, session);
  gboolean ok = FALSE;

  g_mutex_lock (&holders_lock);
  if (holders == NULL)
    holders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (!g_hash_table_contains (holders, key))
    {
      g_hash_table_insert (holders, g_steal_pointer (&key), g_strdup (holder));
      ok = TRUE;
    }
  else
    g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY,
                 "session '%s' of VM '%s' is attached already, by %s; detach it there first",
                 session, vm, (const char *) g_hash_table_lookup (holders, key));
  g_mutex_unlock (&holders_lock);
  return ok;
}

void
bgrd_attach_release (const char *vm, const char *session)
{
  g_autofree char *key = g_strdup_printf ("%s\n%s", vm, session);

  g_mutex_lock (&holders_lock);
  if (holders != NULL)
    g_hash_table_remove (holders, key);
  g_mutex_unlock (&holders_lock);
}

char *
bgrd_describe_pid (guint32 pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%u/comm", pid);
  g_autofree char *comm = NULL;
  g_autofree char *escaped = NULL;

  if (g_file_get_contents (path, &comm, NULL, NULL))
    g_strchomp (comm);
  escaped = bgr_escape (comm != NULL ? comm : "?", 64, BGR_ESCAPE_DEFAULT);
  return g_strdup_printf ("pid %u (%s)", pid, escaped);
}

/* "pid N (comm) over D-Bus :1.42" */
static char *
dbus_holder (Daemon *d, GDBusMethodInvocation *inv)
{
  const char *sender = g_dbus_method_invocation_get_sender (inv);
  g_autoptr (GVariant) reply = NULL;
  g_autofree char *who = NULL;
  guint32 pid;

  if (sender == NULL)
    return g_strdup ("a D-Bus client");
  reply = g_dbus_connection_call_sync (d->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                       g_variant_new ("(s)", sender), G_VARIANT_TYPE ("(u)"),
                                       G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
  if (reply == NULL)
    return g_strdup_printf ("D-Bus client %s", sender);
  g_variant_get (reply, "(u)", &pid);
  who = bgrd_describe_pid (pid);
  return g_strdup_printf ("%s over D-Bus %s", who, sender);
}

static gboolean
reply_session (Daemon *d, GDBusMethodInvocation *inv, BgrVmSession *s, GError *error)
{
  gboolean handled;

  if (s == NULL)
    return bgrd_return_error (d, inv, error);
  handled = bgrd_return (d, inv, bgr_vm_session_to_variant (s));
  g_object_unref (s);
  return handled;
}

static gboolean
handle_start (BgrDBusVm *vm, GDBusMethodInvocation *inv, GVariant *dict, gpointer data)
{
  GError *error = NULL;
  g_autoptr (BgrSessionSpec) spec = bgr_session_spec_new_from_variant (dict, &error);

  if (spec == NULL)
    return bgrd_return_error (data, inv, error);
  BgrVmSession *s = bgr_client_vm_session_start (DAEMON (data)->client, NAME (inv), spec, NULL,
                                                     &error);
  return reply_session (data, inv, s, error);
}

static gboolean
handle_list (BgrDBusVm *vm, GDBusMethodInvocation *inv, gpointer data)
{
  GError *error = NULL;
  g_autoptr (GPtrArray) list = bgr_client_vm_session_list (DAEMON (data)->client, NAME (inv),
                                                           NULL, &error);

  if (list == NULL)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv,
                      bgrd_list_to_variant (list, (BgrdToVariant) bgr_vm_session_to_variant));
}

static gboolean
handle_get (BgrDBusVm *vm, GDBusMethodInvocation *inv, const char *name, gpointer data)
{
  GError *error = NULL;
  BgrVmSession *s = bgr_client_vm_session_get (DAEMON (data)->client, NAME (inv), name, NULL,
                                                   &error);
  return reply_session (data, inv, s, error);
}

static gboolean
handle_stop (BgrDBusVm *vm, GDBusMethodInvocation *inv, const char *name, gpointer data)
{
  GError *error = NULL;
  BgrVmSession *s = bgr_client_vm_session_stop (DAEMON (data)->client, NAME (inv), name, NULL,
                                                    &error);
  return reply_session (data, inv, s, error);
}

static gboolean
handle_kill (BgrDBusVm *vm, GDBusMethodInvocation *inv, const char *name, gpointer data)
{
  GError *error = NULL;
  BgrVmSession *s = bgr_client_vm_session_kill (DAEMON (data)->client, NAME (inv), name, NULL,
                                                    &error);
  return reply_session (data, inv, s, error);
}

static gboolean
parse_logs_options (GVariant *options, gint *stream, guint *tail, gboolean *follow,
                    GError **error)
{
  GVariantIter it;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&it, options);
  while (g_variant_iter_next (&it, "{&sv}", &key, &value))
    {
      gboolean ok = TRUE;
      if (g_str_equal (key, "stream") && g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        {
          const char *s = g_variant_get_string (value, NULL);
          *stream = g_str_equal (s, "stdout") ? 1 : g_str_equal (s, "stderr") ? 2 : 0;
          ok = *stream != 0;
        }
      else if (g_str_equal (key, "tail") && g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
        *tail = g_variant_get_uint32 (value);
      else if (g_str_equal (key, "follow") && g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
        *follow = g_variant_get_boolean (value);
      else
        ok = FALSE;
      g_variant_unref (value);
      if (!ok)
        {
          g_autofree char *k = bgr_log_str (key);
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "bad option '%s' for Vm.SessionLogs (known: stream, a string stdout or "
                       "stderr; tail, a uint32; follow, a boolean)", k);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
handle_logs (BgrDBusVm *vm, GDBusMethodInvocation *inv, GUnixFDList *fd_list, const char *name,
             GVariant *options, GVariant *out_h, gpointer data)
{
  GError *error = NULL;
  gint stream = 1;
  guint tail = 0;
  gboolean follow = FALSE, ok;
  BgrdLongCall *call;
  int fd;

  if (!parse_logs_options (options, &stream, &tail, &follow, &error)
      || !bgrd_take_handles (fd_list, &out_h, 1, &fd, "Vm.SessionLogs (out)", &error))
    return bgrd_return_error (data, inv, error);
  call = bgrd_long_call_begin (data, inv);
  ok = bgr_client_vm_session_logs (DAEMON (data)->client, NAME (inv), name, stream, tail, follow,
                                   fd, bgrd_long_call_get_cancellable (call), &error);
  bgrd_long_call_end (call);
  close (fd);
  if (!ok)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, NULL);
}

/* AttachSession (@third: stderr) and AttachSessionTerminal (@third: the
 * resize descriptor). */
static gboolean
attach (GDBusMethodInvocation *inv, GUnixFDList *fd_list, const char *name, GVariant *in_h,
        GVariant *out_h, GVariant *third_h, gboolean terminal, gpointer data)
{
  GError *error = NULL;
  GVariant *const handles[3] = { in_h, out_h, third_h };
  int fds[3] = { -1, -1, -1 };
  g_autofree char *holder = NULL;
  BgrdLongCall *call;
  gint status = -1;
  gboolean ok = TRUE;

  ok = bgrd_take_handles (fd_list, handles, 3, fds,
                          terminal ? "Vm.AttachSessionTerminal (stdin, stdout, resize)"
                                   : "Vm.AttachSession (stdin, stdout, stderr)", &error);
  holder = ok ? dbus_holder (data, inv) : NULL;
  if (ok && bgrd_attach_claim (NAME (inv), name, holder, &error))
    {
      call = bgrd_long_call_begin (data, inv);
      GCancellable *detach = bgrd_long_call_get_cancellable (call);
      ok = terminal ? bgr_client_vm_session_attach_terminal (DAEMON (data)->client, NAME (inv), name,
                                                             fds[0], fds[1], fds[2], &status,
                                                             detach, &error)
                    : bgr_client_vm_session_attach (DAEMON (data)->client, NAME (inv), name,
                                                    fds[0], fds[1], fds[2], &status, detach,
                                                    &error);
      bgrd_long_call_end (call);
      bgrd_attach_release (NAME (inv), name);
    }
  else
    ok = FALSE;
  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0)
      close (fds[i]);
  if (!ok)
    return bgrd_return_error (data, inv, error);
  return bgrd_return (data, inv, g_variant_new ("(i)", status));
}

static gboolean
handle_attach (BgrDBusVm *vm, GDBusMethodInvocation *inv, GUnixFDList *fd_list,
               const char *name, GVariant *in_h, GVariant *out_h, GVariant *err_h, gpointer data)
{
  return attach (inv, fd_list, name, in_h, out_h, err_h, FALSE, data);
}

static gboolean
handle_attach_terminal (BgrDBusVm *vm, GDBusMethodInvocation *inv, GUnixFDList *fd_list,
                        const char *name, GVariant *in_h, GVariant *out_h, GVariant *resize_h,
                        gpointer data)
{
  return attach (inv, fd_list, name, in_h, out_h, resize_h, TRUE, data);
}

void
bgrd_sessions_connect (Daemon *d, gpointer iface)
{
  g_signal_connect (iface, "handle-start-session", G_CALLBACK (handle_start), d);
  g_signal_connect (iface, "handle-list-sessions", G_CALLBACK (handle_list), d);
  g_signal_connect (iface, "handle-get-session", G_CALLBACK (handle_get), d);
  g_signal_connect (iface, "handle-session-logs", G_CALLBACK (handle_logs), d);
  g_signal_connect (iface, "handle-attach-session", G_CALLBACK (handle_attach), d);
  g_signal_connect (iface, "handle-attach-session-terminal", G_CALLBACK (handle_attach_terminal), d);
  g_signal_connect (iface, "handle-stop-session", G_CALLBACK (handle_stop), d);
  g_signal_connect (iface, "handle-kill-session", G_CALLBACK (handle_kill), d);
}
