/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The D-Bus backend's commands in a VM: Vm.Exec, Vm.ExecTerminal and
 * Vm.Acp, whose standard streams travel as passed descriptors. */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>
#include <gio/gunixfdlist.h>

#include "bgr-backend-dbus-private.h"

int
dbus_append_fd (GUnixFDList *fds, int fd, int flags, GError **error)
{
  int opened = fd < 0 ? open ("/dev/null", flags | O_CLOEXEC) : -1;
  int idx = g_unix_fd_list_append (fds, fd >= 0 ? fd : opened, error);

  if (opened >= 0)
    close (opened);
  return idx;
}

/* @method with @params, then three handles from @io (stdin read, the
 * second written, the third read when @third_reads); the exit status. */
static gboolean
call_with_stdio (BgrBackend *b, const char *name, const char *method, GVariant *params,
                 const int io[3], gboolean third_reads, gint *out_status,
                 GCancellable *cancellable, GError **error)
{
  g_autoptr (GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr (GVariant) owned = g_variant_ref_sink (params);
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariantBuilder) args = g_variant_builder_new (G_VARIANT_TYPE_TUPLE);
  gint32 status;

  for (gsize i = 0; i < g_variant_n_children (owned); i++)
    {
      g_autoptr (GVariant) child = g_variant_get_child_value (owned, i);
      g_variant_builder_add_value (args, child);
    }
  /* A missing descriptor travels as /dev/null: EOF on stdin, output dropped. */
  for (int i = 0; i < 3; i++)
    {
      int idx = dbus_append_fd (fds, io[i], i == 0 || (i == 2 && third_reads) ? O_RDONLY : O_WRONLY,
                                error);
      if (idx < 0)
        return FALSE;
      g_variant_builder_add (args, "h", idx);
    }
  reply = call_vm (SELF (b), name, method, g_variant_builder_end (args), fds, "(i)", cancellable,
                   error);
  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(i)", &status);
  *out_status = status;
  return TRUE;
}

gboolean
dbus_vm_exec (BgrBackend *b, const char *name, BgrExecSpec *spec, gint *out_status,
              GCancellable *cancellable, GError **error)
{
  int io[3];
  gboolean pty = bgr_exec_spec_get_pty (spec);
  GVariant *params = g_variant_new_tuple ((GVariant *[]) { bgr_options_to_variant (BGR_OPTIONS (spec)) }, 1);

  bgr_exec_spec_get_stdio (spec, &io[0], &io[1], &io[2]);
  /* Vm.ExecTerminal: stdin, the terminal's output and the resize descriptor. */
  if (pty)
    io[2] = bgr_exec_spec_get_resize_fd (spec);
  return call_with_stdio (b, name, pty ? "ExecTerminal" : "Exec", params, io, pty, out_status,
                          cancellable, error);
}

gboolean
dbus_vm_acp (BgrBackend *b, const char *name, const char *cwd, int stdin_fd, int stdout_fd,
             int stderr_fd, gint *out_status, GCancellable *cancellable, GError **error)
{
  const int io[3] = { stdin_fd, stdout_fd, stderr_fd };

  return call_with_stdio (b, name, "Acp", g_variant_new ("(s)", OPT (cwd)), io, FALSE, out_status,
                          cancellable, error);
}
