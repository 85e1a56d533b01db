/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger vm proxy, vm forward: TCP into a VM's guest through its agent. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "banger-cli.h"

/* "PORT" or "ADDR:PORT" ("[V6]:PORT" for IPv6); *addr is NULL without one. */
static gboolean
parse_addr_port (const char *what, const char *text, char **addr, guint *port, GError **error)
{
  const char *colon = strrchr (text, ':');
  const char *p = colon != NULL ? colon + 1 : text;
  g_autofree char *a = colon != NULL ? g_strndup (text, (gsize) (colon - text)) : NULL;
  guint64 v;

  if (a != NULL && a[0] == '[' && a[strlen (a) - 1] == ']')
    {
      char *inner = g_strndup (a + 1, strlen (a) - 2);
      g_free (a);
      a = inner;
    }
  if (!g_ascii_string_to_unsigned (p, 10, 1, 65535, &v, NULL))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "%s '%s': the port is not 1-65535",
                   what, text);
      return FALSE;
    }
  if (a != NULL)
    {
      g_autoptr (GInetAddress) ia = g_inet_address_new_from_string (a);
      if (ia == NULL)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "%s '%s': '%s' is not an IPv4 or IPv6 address", what, text, a);
          return FALSE;
        }
    }
  *addr = g_steal_pointer (&a);
  *port = (guint) v;
  return TRUE;
}

gboolean
banger_cmd_vm_proxy (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = NULL;
  g_autofree char *addr = NULL;
  guint port;

  if (!parse_addr_port ("guest port", inv->args[1], &addr, &port, error))
    return FALSE;
  client = banger_invocation_get_client (inv, error);
  if (client == NULL)
    return FALSE;
  /* The reader of our stdout may leave first (ssh does): not an error. */
  signal (SIGPIPE, SIG_IGN);
  return bgr_client_vm_proxy (client, inv->args[0], addr, port, STDIN_FILENO, STDOUT_FILENO, NULL,
                              error);
}

static gboolean opt_remove;

const GOptionEntry banger_vm_forward_options[] = {
  { "remove", 0, 0, G_OPTION_ARG_NONE, &opt_remove, "Remove the forward from [HOST_ADDR:]HOST_PORT",
    NULL },
  G_OPTION_ENTRY_NULL
};

static void
print_forwards (GPtrArray *list)
{
  g_print ("%-28s %-10s %s\n", "HOST", "GUEST PORT", "STATE");
  for (guint i = 0; i < list->len; i++)
    {
      BgrVmForward *f = list->pdata[i];
      const char *a = bgr_vm_forward_get_host_address (f);
      g_autofree char *host = g_strdup_printf (strchr (a, ':') ? "[%s]:%" G_GINT64_FORMAT : "%s:%" G_GINT64_FORMAT,
                                               a, bgr_vm_forward_get_host_port (f));
      g_print ("%-28s %-10" G_GINT64_FORMAT " %s\n", host, bgr_vm_forward_get_guest_port (f),
               bgr_vm_forward_get_listening (f) ? "listening" : "not listening (no daemon, or the port is taken)");
    }
}

/* `vm ports` text output: the forwards after the guest's sockets. */
void
banger_print_vm_forwards (BgrClient *client, const char *name)
{
  g_autoptr (GPtrArray) list = bgr_client_vm_forward_list (client, name, NULL, NULL);

  if (list == NULL || list->len == 0)
    return;
  g_print ("\nForwarded from the host:\n");
  print_forwards (list);
}

static gboolean
list_forwards (BgrClient *client, BangerInvocation *inv, GError **error)
{
  g_autoptr (GPtrArray) list = bgr_client_vm_forward_list (client, inv->args[0], NULL, error);

  if (list == NULL)
    return FALSE;
  if (inv->json)
    banger_print_json_list (list, (BangerToJson) bgr_vm_forward_to_json);
  else if (list->len == 0)
    g_print ("VM %s has no forwards\n", inv->args[0]);
  else
    print_forwards (list);
  return TRUE;
}

/* "[HOST_ADDR:]HOST_PORT:GUEST_PORT", or with --remove "[HOST_ADDR:]HOST_PORT". */
static gboolean
parse_forward (const char *text, gboolean remove, char **addr, guint *host_port, guint *guest_port,
               GError **error)
{
  g_autofree char *host = NULL;
  const char *colon = strrchr (text, ':');

  if (remove)
    return parse_addr_port ("forward", text, addr, host_port, error);
  if (colon == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "forward '%s' is not [HOST_ADDR:]HOST_PORT:GUEST_PORT", text);
      return FALSE;
    }
  host = g_strndup (text, (gsize) (colon - text));
  {
    g_autofree char *ignored = NULL;
    if (!parse_addr_port ("guest port", colon + 1, &ignored, guest_port, error) || ignored != NULL)
      return FALSE;
  }
  return parse_addr_port ("forward", host, addr, host_port, error);
}

gboolean
banger_cmd_vm_forward (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = NULL;
  g_autoptr (BgrVmForward) fw = NULL;
  g_autofree char *addr = NULL;
  guint host_port = 0, guest_port = 0;

  if (inv->args[1] == NULL && opt_remove)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "--remove needs the forward: banger vm forward NAME [HOST_ADDR:]HOST_PORT --remove");
      return FALSE;
    }
  if (inv->args[1] != NULL
      && !parse_forward (inv->args[1], opt_remove, &addr, &host_port, &guest_port, error))
    return FALSE;
  client = banger_invocation_get_client (inv, error);
  if (client == NULL)
    return FALSE;
  if (inv->args[1] == NULL)
    return list_forwards (client, inv, error);
  if (opt_remove)
    {
      if (!bgr_client_vm_forward_remove (client, inv->args[0], addr, host_port, NULL, error))
        return FALSE;
      if (!inv->json)
        g_print ("Removed the forward from %s:%u\n", addr != NULL ? addr : "127.0.0.1", host_port);
      return TRUE;
    }
  fw = bgr_client_vm_forward_add (client, inv->args[0], addr, host_port, guest_port, NULL, error);
  if (fw == NULL)
    return FALSE;
  if (inv->json)
    {
      g_autofree char *json = bgr_vm_forward_to_json (fw);
      banger_print_json (json);
    }
  else
    g_print ("Forwarding %s:%" G_GINT64_FORMAT " to port %" G_GINT64_FORMAT " of VM %s%s\n",
             bgr_vm_forward_get_host_address (fw), bgr_vm_forward_get_host_port (fw),
             bgr_vm_forward_get_guest_port (fw), inv->args[0],
             bgr_client_is_local (client) ? " (recorded; with --local it is served by the next "
                                            "bangerd, not by this command)" : "");
  return TRUE;
}
