/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gio.h>

#include "bgr-error-private.h"

/* Index = BgrError code. Append only, never reorder: the D-Bus names and the
 * CLI exit statuses are part of the public contract. */
static const struct {
  const char *name;
  int exit_status;
} error_table[] = {
  [BGR_ERROR_FAILED] = { "Failed", 1 },
  [BGR_ERROR_INVALID_ARGUMENT] = { "InvalidArgument", 2 },
  [BGR_ERROR_NOT_FOUND] = { "NotFound", 3 },
  [BGR_ERROR_EXISTS] = { "Exists", 4 },
  [BGR_ERROR_INVALID_CONFIG] = { "InvalidConfig", 5 },
  [BGR_ERROR_LOCKED] = { "Locked", 6 },
  [BGR_ERROR_CORRUPT] = { "Corrupt", 7 },
  [BGR_ERROR_NOT_SUPPORTED] = { "NotSupported", 8 },
  [BGR_ERROR_PERMISSION_DENIED] = { "PermissionDenied", 9 },
  [BGR_ERROR_IO] = { "Io", 10 },
  [BGR_ERROR_NETWORK] = { "Network", 11 },
  [BGR_ERROR_CANCELLED] = { "Cancelled", 12 },
  [BGR_ERROR_DAEMON_UNAVAILABLE] = { "DaemonUnavailable", 13 },
  [BGR_ERROR_TIMED_OUT] = { "TimedOut", 14 },
  [BGR_ERROR_INVALID_DATA] = { "InvalidData", 15 },
  [BGR_ERROR_NOTHING_TO_DO] = { "NothingToDo", 16 },
  [BGR_ERROR_BUSY] = { "Busy", 17 },
  [BGR_ERROR_NO_SPACE] = { "NoSpace", 18 },
  [BGR_ERROR_PROTOCOL] = { "Protocol", 19 },
};

#define N_ERRORS ((int) G_N_ELEMENTS (error_table))

/**
 * bgr_error_quark:
 *
 * Returns the quark of the %BGR_ERROR domain. The first call also registers
 * one D-Bus error name per code, so errors cross the bus intact.
 *
 * Returns: the error quark
 * Since: 0.1
 */
GQuark
bgr_error_quark (void)
{
  static gsize quark = 0;

  if (g_once_init_enter (&quark))
    {
      static GDBusErrorEntry entries[G_N_ELEMENTS (error_table)];
      static char names[G_N_ELEMENTS (error_table)][96];
      gsize volatile_quark = 0;

      for (int i = 0; i < N_ERRORS; i++)
        {
          g_snprintf (names[i], sizeof names[i], BGR_DBUS_ERROR_PREFIX "%s", error_table[i].name);
          entries[i].error_code = i;
          entries[i].dbus_error_name = names[i];
        }
      g_dbus_error_register_error_domain ("bgr-error-quark", &volatile_quark, entries,
                                          G_N_ELEMENTS (entries));
      g_once_init_leave (&quark, volatile_quark);
    }
  return (GQuark) quark;
}

/**
 * bgr_error_code_to_name:
 * @code: a #BgrError code
 *
 * Returns: (transfer none): the code's name, e.g. "NotFound"; its D-Bus
 *   error name is `org.banger.Banger1.Error.` followed by it. "Unknown" for
 *   a code this library does not know.
 * Since: 0.1
 */
const char *
bgr_error_code_to_name (int code)
{
  if (code < 0 || code >= N_ERRORS)
    return "Unknown";
  return error_table[code].name;
}

/**
 * bgr_error_code_to_exit_status:
 * @code: a #BgrError code
 *
 * Maps an error code to the exit status the `banger` CLI uses for it
 * (documented in docs/errors.md).
 *
 * Returns: an exit status between 1 and 125
 * Since: 0.1
 */
int
bgr_error_code_to_exit_status (int code)
{
  if (code < 0 || code >= N_ERRORS)
    return 1;
  return error_table[code].exit_status;
}

/* Private helpers. */

int
bgr_error_code_from_gio (const GError *error)
{
  if (error->domain == BGR_ERROR)
    return error->code;
  if (error->domain == G_IO_ERROR)
    {
      switch (error->code)
        {
        case G_IO_ERROR_NOT_FOUND: return BGR_ERROR_NOT_FOUND;
        case G_IO_ERROR_EXISTS: return BGR_ERROR_EXISTS;
        case G_IO_ERROR_PERMISSION_DENIED: return BGR_ERROR_PERMISSION_DENIED;
        case G_IO_ERROR_NO_SPACE: return BGR_ERROR_NO_SPACE;
        case G_IO_ERROR_CANCELLED: return BGR_ERROR_CANCELLED;
        case G_IO_ERROR_TIMED_OUT: return BGR_ERROR_TIMED_OUT;
        case G_IO_ERROR_NOT_SUPPORTED: return BGR_ERROR_NOT_SUPPORTED;
        case G_IO_ERROR_INVALID_ARGUMENT: return BGR_ERROR_INVALID_ARGUMENT;
        case G_IO_ERROR_INVALID_DATA: return BGR_ERROR_INVALID_DATA;
        case G_IO_ERROR_BUSY: return BGR_ERROR_BUSY;
        case G_IO_ERROR_HOST_NOT_FOUND:
        case G_IO_ERROR_HOST_UNREACHABLE:
        case G_IO_ERROR_NETWORK_UNREACHABLE:
        case G_IO_ERROR_CONNECTION_REFUSED:
        case G_IO_ERROR_CONNECTION_CLOSED:
        case G_IO_ERROR_PROXY_FAILED:
          return BGR_ERROR_NETWORK;
        default: return BGR_ERROR_IO;
        }
    }
  if (error->domain == G_FILE_ERROR)
    {
      switch (error->code)
        {
        case G_FILE_ERROR_NOENT: return BGR_ERROR_NOT_FOUND;
        case G_FILE_ERROR_EXIST: return BGR_ERROR_EXISTS;
        case G_FILE_ERROR_ACCES:
        case G_FILE_ERROR_PERM: return BGR_ERROR_PERMISSION_DENIED;
        case G_FILE_ERROR_NOSPC: return BGR_ERROR_NO_SPACE;
        case G_FILE_ERROR_INVAL: return BGR_ERROR_INVALID_ARGUMENT;
        default: return BGR_ERROR_IO;
        }
    }
  if (error->domain == G_DBUS_ERROR)
    {
      switch (error->code)
        {
        case G_DBUS_ERROR_SERVICE_UNKNOWN:
        case G_DBUS_ERROR_NAME_HAS_NO_OWNER:
        case G_DBUS_ERROR_NO_REPLY:
        case G_DBUS_ERROR_DISCONNECTED:
        case G_DBUS_ERROR_NO_SERVER:
        case G_DBUS_ERROR_SPAWN_EXEC_FAILED:
        case G_DBUS_ERROR_SPAWN_CHILD_EXITED:
        case G_DBUS_ERROR_SPAWN_FAILED:
          return BGR_ERROR_DAEMON_UNAVAILABLE;
        case G_DBUS_ERROR_ACCESS_DENIED:
        case G_DBUS_ERROR_AUTH_FAILED: return BGR_ERROR_PERMISSION_DENIED;
        case G_DBUS_ERROR_TIMEOUT:
        case G_DBUS_ERROR_TIMED_OUT: return BGR_ERROR_TIMED_OUT;
        case G_DBUS_ERROR_INVALID_ARGS: return BGR_ERROR_INVALID_ARGUMENT;
        case G_DBUS_ERROR_UNKNOWN_METHOD:
        case G_DBUS_ERROR_UNKNOWN_INTERFACE:
        case G_DBUS_ERROR_UNKNOWN_OBJECT: return BGR_ERROR_NOT_SUPPORTED;
        default: return BGR_ERROR_FAILED;
        }
    }
  if (error->domain == G_SPAWN_ERROR)
    {
      if (error->code == G_SPAWN_ERROR_NOENT)
        return BGR_ERROR_NOT_FOUND;
      if (error->code == G_SPAWN_ERROR_ACCES || error->code == G_SPAWN_ERROR_PERM)
        return BGR_ERROR_PERMISSION_DENIED;
      return BGR_ERROR_FAILED;
    }
  return BGR_ERROR_FAILED;
}

void
bgr_propagate_error (GError **dest, GError *src, const char *prefix_fmt, ...)
{
  g_autofree char *prefix = NULL;
  int code;

  g_return_if_fail (src != NULL);
  code = bgr_error_code_from_gio (src);
  if (prefix_fmt != NULL)
    {
      va_list ap;
      va_start (ap, prefix_fmt);
      prefix = g_strdup_vprintf (prefix_fmt, ap);
      va_end (ap);
    }
  if (dest != NULL)
    {
      if (prefix != NULL)
        g_set_error (dest, BGR_ERROR, code, "%s: %s", prefix, src->message);
      else
        g_set_error_literal (dest, BGR_ERROR, code, src->message);
    }
  g_error_free (src);
}

gboolean
bgr_error_convert (GError **error)
{
  GError *old;

  if (error == NULL || *error == NULL)
    return FALSE;
  if ((*error)->domain == BGR_ERROR)
    return TRUE;
  old = *error;
  *error = NULL;
  bgr_propagate_error (error, old, NULL);
  return TRUE;
}

void
bgr_set_error_errno (GError **error, int errsv, const char *fmt, ...)
{
  g_autofree char *what = NULL;
  va_list ap;
  int code;

  va_start (ap, fmt);
  what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  code = bgr_error_code_from_gio (&(GError){ G_IO_ERROR, g_io_error_from_errno (errsv), NULL });
  g_set_error (error, BGR_ERROR, code, "%s: %s", what, g_strerror (errsv));
}
