/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The D-Bus backend's session calls: methods of the VM's object
 * (data/org.banger.Banger1.Vm.xml); streams travel as passed descriptors. */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>
#include <glib-unix.h>

#include "bgr-backend-dbus-private.h"

static BgrVmSession *
session_from_reply (GVariant *reply, GError **error)
{
  return record_from_reply (reply, (RecordNew) bgr_vm_session_new_from_json, error);
}

BgrVmSession *
dbus_vm_session_start (BgrBackend *b, const char *vm, BgrSessionSpec *spec,
                       GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply =
    call_vm (SELF (b), vm, "StartSession",
             g_variant_new_tuple ((GVariant *[]) { bgr_options_to_variant (BGR_OPTIONS (spec)) }, 1),
             NULL, "(a{sv})", cancellable, error);
  return session_from_reply (reply, error);
}

GPtrArray *
dbus_vm_session_list (BgrBackend *b, const char *vm, const char *session,
                      GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = NULL;
  GPtrArray *list;
  BgrVmSession *one;

  if (session == NULL)
    {
      reply = call_vm (SELF (b), vm, "ListSessions", NULL, NULL, "(aa{sv})", cancellable, error);
      return list_from_reply (reply, (RecordNew) bgr_vm_session_new_from_json, error);
    }
  reply = call_vm (SELF (b), vm, "GetSession", g_variant_new ("(s)", session), NULL, "(a{sv})",
                   cancellable, error);
  one = session_from_reply (reply, error);
  if (one == NULL)
    return NULL;
  list = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (list, one);
  return list;
}

gboolean
dbus_vm_session_logs (BgrBackend *b, const char *vm, const char *session, gint stream,
                      guint tail, gboolean follow, int fd, GCancellable *cancellable,
                      GError **error)
{
  g_autoptr (GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr (GVariant) reply = NULL;
  GVariantDict opts;
  int idx = dbus_append_fd (fds, fd, O_WRONLY, error);

  if (idx < 0)
    return FALSE;
  g_variant_dict_init (&opts, NULL);
  g_variant_dict_insert (&opts, "stream", "s", stream == 2 ? "stderr" : "stdout");
  g_variant_dict_insert (&opts, "tail", "u", tail);
  g_variant_dict_insert (&opts, "follow", "b", follow);
  reply = call_vm (SELF (b), vm, "SessionLogs",
                   g_variant_new ("(s@a{sv}h)", session, g_variant_dict_end (&opts), idx), fds,
                   "()", cancellable, error);
  return reply != NULL;
}

gboolean
dbus_vm_session_attach (BgrBackend *b, const char *vm, const char *session, int stdin_fd,
                        int stdout_fd, int stderr_fd, int resize_fd, gint *out_status,
                        GCancellable *cancellable, GError **error)
{
  g_autoptr (GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr (GVariant) reply = NULL;
  int idx[3], idle[2] = { -1, -1 };
  gint32 status;

  /* No stdin is not an empty one (whose end would close the session's
   * stdin): a pipe nobody writes to, open until the call returns. */
  if (stdin_fd < 0 && !g_unix_open_pipe (idle, FD_CLOEXEC, error))
    return FALSE;
  /* A terminal attach passes its resize descriptor where stderr would be. */
  if ((idx[0] = dbus_append_fd (fds, stdin_fd >= 0 ? stdin_fd : idle[0], O_RDONLY, error)) < 0
      || (idx[1] = dbus_append_fd (fds, stdout_fd, O_WRONLY, error)) < 0
      || (idx[2] = resize_fd >= 0 ? dbus_append_fd (fds, resize_fd, O_RDONLY, error)
                                  : dbus_append_fd (fds, stderr_fd, O_WRONLY, error)) < 0)
    reply = NULL;
  else
    /* Cancelling asks bangerd to detach (the call's operation is
     * cancelled); the reply then says -1. */
    reply = call_vm (SELF (b), vm, resize_fd >= 0 ? "AttachSessionTerminal" : "AttachSession",
                     g_variant_new ("(shhh)", session, idx[0], idx[1], idx[2]), fds, "(i)",
                     cancellable, error);
  for (int i = 0; i < 2; i++)
    if (idle[i] >= 0)
      close (idle[i]);
  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(i)", &status);
  *out_status = status;
  return TRUE;
}

BgrVmSession *
dbus_vm_session_end (BgrBackend *b, const char *vm, const char *session, gboolean kill,
                     GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_vm (SELF (b), vm, kill ? "KillSession" : "StopSession",
                                        g_variant_new ("(s)", session), NULL, "(a{sv})",
                                        cancellable, error);
  return session_from_reply (reply, error);
}
