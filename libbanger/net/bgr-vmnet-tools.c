/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VM network's plumbing: validation, running ip/nft/dnsmasq and reading
 * their JSON, links, and the CAP_NET_ADMIN check. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-config-private.h"
#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "net/bgr-vmnet-internal.h"

/* ---- validation --------------------------------------------------------- */

char *
vmnet_format_ipv4 (guint32 addr)
{
  return g_strdup_printf ("%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
                          addr & 0xff);
}

gboolean
vmnet_valid_ifname (const char *s)
{
  /* A leading '-' would read as an option to ip. */
  return bgr_config_valid_ifname (s) && s[0] != '-';
}

/* A DNS label: what a hostname on the kernel command line and a name in
 * the hosts file can safely be. */
gboolean
vmnet_valid_label (const char *s)
{
  gsize n = s != NULL ? strlen (s) : 0;

  if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
    return FALSE;
  for (const char *p = s; *p != '\0'; p++)
    if (!(g_ascii_isalnum (*p) || *p == '-'))
      return FALSE;
  return TRUE;
}

gboolean
vmnet_is_host_address (BgrVmnet *net, guint32 addr)
{
  return (addr & net->mask) == net->net && addr != net->net && addr != (net->net | ~net->mask);
}

/* ---- running the tools ---------------------------------------------------- */

static const char *
tool_package (const char *name)
{
  if (g_str_equal (name, "ip"))
    return "iproute2";
  if (g_str_equal (name, "nft"))
    return "nftables";
  if (g_str_equal (name, "dnsmasq"))
    return "dnsmasq-base";
  return name;
}

/* PATH first, then the sbin directories a non-root PATH tends to lack. */
char *
vmnet_find_tool (const char *name)
{
  static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin", NULL };
  char *path = g_find_program_in_path (name);

  if (path != NULL)
    return path;
  for (const char *const *d = dirs; *d != NULL; d++)
    {
      path = g_build_filename (*d, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
        return path;
      g_free (path);
    }
  return NULL;
}

static int
code_from_tool_message (const char *msg)
{
  if (strstr (msg, "Operation not permitted") != NULL || strstr (msg, "Permission denied") != NULL)
    return BGR_ERROR_PERMISSION_DENIED;
  if (strstr (msg, "No such file or directory") != NULL || strstr (msg, "Cannot find device") != NULL
      || strstr (msg, "does not exist") != NULL)
    return BGR_ERROR_NOT_FOUND;
  if (strstr (msg, "File exists") != NULL)
    return BGR_ERROR_EXISTS;
  if (strstr (msg, "busy") != NULL || strstr (msg, "Address already in use") != NULL)
    return BGR_ERROR_BUSY;
  return BGR_ERROR_FAILED;
}

/* The first non-empty line of a tool's stderr: nft adds the offending
 * input and a caret line, dnsmasq a leading blank line. */
static char *
first_line (const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text != NULL ? text : "", "\n", -1);

  for (char **l = lines; *l != NULL; l++)
    {
      g_strstrip (*l);
      if (**l != '\0')
        return g_strdup (*l);
    }
  return NULL;
}

gboolean
vmnet_run_tool (const char *const *argv, const char *input, char **out, GError **error,
          const char *fmt, ...)
{
  g_autofree char *what = NULL;
  g_autofree char *path = NULL;
  g_autofree char *tool = g_path_get_basename (argv[0]);
  g_autofree char *out_text = NULL, *err_text = NULL, *line = NULL;
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GError) local = NULL;
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;
  va_list ap;

  va_start (ap, fmt);
  what = g_strdup_vprintf (fmt, ap);
  va_end (ap);

  path = g_path_is_absolute (argv[0]) ? g_strdup (argv[0]) : vmnet_find_tool (argv[0]);
  if (path == NULL || !g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "%s: %s is not installed (install the %s package)", what, tool,
                   tool_package (tool));
      return FALSE;
    }
  g_ptr_array_add (args, path);
  for (gsize i = 1; argv[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) argv[i]);
  g_ptr_array_add (args, NULL);

  if (input != NULL)
    flags |= G_SUBPROCESS_FLAGS_STDIN_PIPE;
  launcher = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C", TRUE);
  proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) args->pdata, &local);
  if (proc == NULL)
    {
      bgr_propagate_error (error, g_steal_pointer (&local), "%s: cannot run %s", what, path);
      return FALSE;
    }
  if (!g_subprocess_communicate_utf8 (proc, input, NULL, &out_text, &err_text, &local))
    {
      g_subprocess_force_exit (proc);
      g_subprocess_wait (proc, NULL, NULL);
      bgr_propagate_error (error, g_steal_pointer (&local), "%s: %s", what, tool);
      return FALSE;
    }
  if (!g_subprocess_get_successful (proc))
    {
      line = first_line (err_text);
      if (line == NULL && g_subprocess_get_if_signaled (proc))
        line = g_strdup_printf ("killed by signal %d", g_subprocess_get_term_sig (proc));
      else if (line == NULL)
        line = g_strdup_printf ("exited with status %d", g_subprocess_get_exit_status (proc));
      {
        /* dnsmasq starts its messages with its own name. */
        g_autofree char *self = g_strdup_printf ("%s: ", tool);
        const char *msg = g_str_has_prefix (line, self) ? line + strlen (self) : line;

        g_set_error (error, BGR_ERROR, code_from_tool_message (msg), "%s: %s: %s", what, tool,
                     msg);
      }
      return FALSE;
    }
  if (out != NULL)
    *out = g_steal_pointer (&out_text);
  return TRUE;
}

/* Runs a tool that prints JSON and returns the parsed document. */
JsonNode *
vmnet_run_json (const char *const *argv, GError **error, const char *what)
{
  g_autofree char *out = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;

  if (!vmnet_run_tool (argv, NULL, &out, error, "%s", what))
    return NULL;
  if (!json_parser_load_from_data (parser, out, -1, &local) || json_parser_get_root (parser) == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "%s: cannot parse the output of %s: %s",
                   what, argv[0], local != NULL ? local->message : "empty output");
      return NULL;
    }
  return json_parser_steal_root (parser);
}

const char *
vmnet_obj_string (JsonObject *o, const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

gint64
vmnet_obj_int (JsonObject *o, const char *member, gint64 fallback)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return fallback;
  return json_node_get_int (n);
}

JsonObject *
vmnet_obj_object (JsonObject *o, const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  return n != NULL && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

JsonArray *
vmnet_obj_array (JsonObject *o, const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  return n != NULL && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

JsonObject *
vmnet_array_object (JsonArray *a, guint i)
{
  JsonNode *n = json_array_get_element (a, i);

  return JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

/* ---- links ---------------------------------------------------------------- */

/* Every link of this namespace, with details (kind, master): `ip -j -d link show`. */
JsonNode *
vmnet_list_links (GError **error)
{
  g_autoptr (JsonNode) root = vmnet_run_json ((const char *[]){ "ip", "-j", "-d", "link", "show", NULL },
                                        error, "cannot list network interfaces");

  if (root == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (root))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "cannot list network interfaces: ip printed no JSON array");
      return NULL;
    }
  return g_steal_pointer (&root);
}

JsonObject *
vmnet_find_link (JsonNode *links, const char *name)
{
  JsonArray *a = json_node_get_array (links);

  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonObject *l = vmnet_array_object (a, i);
      if (g_strcmp0 (vmnet_obj_string (l, "ifname"), name) == 0)
        return l;
    }
  return NULL;
}

const char *
vmnet_link_kind (JsonObject *link)
{
  return vmnet_obj_string (vmnet_obj_object (link, "linkinfo"), "info_kind");
}

gboolean
vmnet_link_is_up (JsonObject *link)
{
  JsonArray *flags = vmnet_obj_array (link, "flags");

  for (guint i = 0; flags != NULL && i < json_array_get_length (flags); i++)
    if (g_strcmp0 (json_array_get_string_element (flags, i), "UP") == 0)
      return TRUE;
  return FALSE;
}

/* ---- permission ----------------------------------------------------------- */

static gboolean
has_net_admin (void)
{
  g_autofree char *status = NULL;
  const char *line;
  guint64 caps;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return geteuid () == 0;
  line = strstr (status, "\nCapEff:");
  if (line == NULL)
    return geteuid () == 0;
  caps = g_ascii_strtoull (line + strlen ("\nCapEff:"), NULL, 16);
  return (caps & (G_GUINT64_CONSTANT (1) << CAP_NET_ADMIN_BIT)) != 0;
}

gboolean
vmnet_check_permission (BgrVmnet *net, const char *what, GError **error)
{
  if (has_net_admin ())
    return TRUE;
  g_set_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED,
               "cannot %s (bridge %s): this needs root (CAP_NET_ADMIN); run bangerd as root",
               what, net->bridge);
  return FALSE;
}
