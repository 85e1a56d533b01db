/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VMs' host network, built with the system's own tools (ip, nft,
 * dnsmasq) rather than netlink by hand: what banger does is then exactly
 * what a user can type, read back and undo. State is always read back from
 * the system (`ip -j`, `nft -j`, the pid file), never remembered. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-config-private.h"
#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "net/bgr-vmnet-private.h"

#define NFT_TABLE "banger"
/* Bumped whenever the rules below change, so that ensure() replaces a
 * table an older banger wrote. */
#define NFT_RULES_VERSION "2"
#define TAP_MAX_INDEX 65535
#define MAX_POOL_SIZE 256
#define STOP_TIMEOUT_MS 5000
#define CAP_NET_ADMIN_BIT 12

struct _BgrVmnet {
  char *bridge;
  char *bridge_ip;
  char *cidr;
  char *dns;
  guint32 ip;   /* bridge_ip, host order */
  guint32 net;  /* network address */
  guint32 mask;
  guint prefix;
  guint tap_pool_size;
  gboolean vm_to_vm;
  char *run_dir;
  char *pid_file;
  char *hosts_file;
  char *log_file;
  char *tap_prefix;
  char *bridge_mac;
  GMutex lock;
};

/* ---- validation --------------------------------------------------------- */

static char *
format_ipv4 (guint32 addr)
{
  return g_strdup_printf ("%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
                          addr & 0xff);
}

static gboolean
valid_ifname (const char *s)
{
  /* A leading '-' would read as an option to ip. */
  return bgr_config_valid_ifname (s) && s[0] != '-';
}

/* A DNS label: what a hostname on the kernel command line and a name in
 * the hosts file can safely be. */
static gboolean
valid_label (const char *s)
{
  gsize n = s != NULL ? strlen (s) : 0;

  if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
    return FALSE;
  for (const char *p = s; *p != '\0'; p++)
    if (!(g_ascii_isalnum (*p) || *p == '-'))
      return FALSE;
  return TRUE;
}

static gboolean
is_host_address (BgrVmnet *net, guint32 addr)
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
static char *
find_tool (const char *name)
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

/* Runs @argv (argv[0] a tool name, or an absolute path used as is) with
 * @input on stdin (NULL: none) in the C locale, and returns its stdout in
 * @out (may be NULL). On failure the message is "WHAT: TOOL: STDERR". */
static gboolean
run_tool (const char *const *argv, const char *input, char **out, GError **error,
          const char *fmt, ...) G_GNUC_PRINTF (5, 6);

static gboolean
run_tool (const char *const *argv, const char *input, char **out, GError **error,
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

  path = g_path_is_absolute (argv[0]) ? g_strdup (argv[0]) : find_tool (argv[0]);
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
static JsonNode *
run_json (const char *const *argv, GError **error, const char *what)
{
  g_autofree char *out = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;

  if (!run_tool (argv, NULL, &out, error, "%s", what))
    return NULL;
  if (!json_parser_load_from_data (parser, out, -1, &local) || json_parser_get_root (parser) == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "%s: cannot parse the output of %s: %s",
                   what, argv[0], local != NULL ? local->message : "empty output");
      return NULL;
    }
  return json_parser_steal_root (parser);
}

static const char *
obj_string (JsonObject *o, const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

static gint64
obj_int (JsonObject *o, const char *member, gint64 fallback)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return fallback;
  return json_node_get_int (n);
}

static JsonObject *
obj_object (JsonObject *o, const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  return n != NULL && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static JsonArray *
obj_array (JsonObject *o, const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;

  return n != NULL && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

static JsonObject *
array_object (JsonArray *a, guint i)
{
  JsonNode *n = json_array_get_element (a, i);

  return JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

/* ---- links ---------------------------------------------------------------- */

/* Every link of this namespace, with details (kind, master): `ip -j -d link show`. */
static JsonNode *
list_links (GError **error)
{
  g_autoptr (JsonNode) root = run_json ((const char *[]){ "ip", "-j", "-d", "link", "show", NULL },
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

static JsonObject *
find_link (JsonNode *links, const char *name)
{
  JsonArray *a = json_node_get_array (links);

  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonObject *l = array_object (a, i);
      if (g_strcmp0 (obj_string (l, "ifname"), name) == 0)
        return l;
    }
  return NULL;
}

static const char *
link_kind (JsonObject *link)
{
  return obj_string (obj_object (link, "linkinfo"), "info_kind");
}

static gboolean
link_is_up (JsonObject *link)
{
  JsonArray *flags = obj_array (link, "flags");

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

static gboolean
check_permission (BgrVmnet *net, const char *what, GError **error)
{
  if (has_net_admin ())
    return TRUE;
  g_set_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED,
               "cannot %s (bridge %s): this needs root (CAP_NET_ADMIN); run bangerd as root",
               what, net->bridge);
  return FALSE;
}

/* ---- construction ----------------------------------------------------------- */

BgrVmnet *
bgr_vmnet_new (const char *bridge, const char *bridge_ip, const char *cidr, guint tap_pool_size,
               const char *default_dns, gboolean vm_to_vm, const char *run_dir, GError **error)
{
  g_autoptr (BgrVmnet) net = NULL;
  g_autofree char *digest = NULL;
  guint32 ip = 0, netaddr = 0, dns = 0;
  guint prefix = 0;

  if (!valid_ifname (bridge))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid bridge name \"%s\": 1 to %d characters of A-Z a-z 0-9 _ . -",
                   bridge != NULL ? bridge : "", IFNAMSIZ - 1);
      return NULL;
    }
  if (!bgr_config_parse_cidr (cidr, &netaddr, &prefix) || prefix < 8 || prefix > 30)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid cidr \"%s\": not an IPv4 network like 172.16.0.0/24 (prefix 8..30)",
                   cidr != NULL ? cidr : "");
      return NULL;
    }
  net = g_new0 (BgrVmnet, 1);
  g_mutex_init (&net->lock);
  net->prefix = prefix;
  net->mask = 0xffffffffu << (32 - prefix);
  net->net = netaddr;
  if ((netaddr & ~net->mask) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid cidr \"%s\": host bits are set", cidr);
      return NULL;
    }
  if (!bgr_config_parse_ipv4 (bridge_ip, &ip) || !is_host_address (net, ip))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid bridge_ip \"%s\": not a host address inside %s",
                   bridge_ip != NULL ? bridge_ip : "", cidr);
      return NULL;
    }
  net->ip = ip;
  if (!bgr_config_parse_ipv4 (default_dns, &dns) || dns == 0 || dns == 0xffffffffu || dns == ip)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid default_dns \"%s\": not an IPv4 address of a DNS server%s",
                   default_dns != NULL ? default_dns : "",
                   dns == ip ? " (it is bridge_ip: queries would loop)" : "");
      return NULL;
    }
  if (tap_pool_size > MAX_POOL_SIZE)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid tap_pool_size %u: at most %d", tap_pool_size, MAX_POOL_SIZE);
      return NULL;
    }
  if (run_dir == NULL || !g_path_is_absolute (run_dir))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid network run directory \"%s\": not an absolute path",
                   run_dir != NULL ? run_dir : "");
      return NULL;
    }


  if (!bgr_ensure_private_dir (run_dir, 0755, "network run directory", error))
    return NULL;

  {
    g_autofree char *network = format_ipv4 (netaddr);
    net->cidr = g_strdup_printf ("%s/%u", network, prefix);
  }
  net->bridge = g_strdup (bridge);
  net->bridge_ip = format_ipv4 (ip);
  net->dns = format_ipv4 (dns);
  net->tap_pool_size = tap_pool_size;
  net->vm_to_vm = vm_to_vm;
  net->run_dir = g_strdup (run_dir);
  net->pid_file = g_build_filename (run_dir, "dnsmasq.pid", NULL);
  net->hosts_file = g_build_filename (run_dir, "hosts", NULL);
  net->log_file = g_build_filename (run_dir, "dnsmasq.log", NULL);
  digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, bridge, -1);
  net->tap_prefix = g_strdup_printf ("bgr-%.4s-", digest);
  net->bridge_mac = bgr_vmnet_mac_for_address (net->bridge_ip);
  return g_steal_pointer (&net);
}

void
bgr_vmnet_free (BgrVmnet *net)
{
  if (net == NULL)
    return;
  g_free (net->bridge);
  g_free (net->bridge_ip);
  g_free (net->cidr);
  g_free (net->dns);
  g_free (net->run_dir);
  g_free (net->pid_file);
  g_free (net->hosts_file);
  g_free (net->log_file);
  g_free (net->tap_prefix);
  g_free (net->bridge_mac);
  g_mutex_clear (&net->lock);
  g_free (net);
}

const char *
bgr_vmnet_get_bridge (BgrVmnet *net)
{
  return net->bridge;
}

const char *
bgr_vmnet_get_bridge_ip (BgrVmnet *net)
{
  return net->bridge_ip;
}

const char *
bgr_vmnet_get_tap_prefix (BgrVmnet *net)
{
  return net->tap_prefix;
}

const char *
bgr_vmnet_get_hosts_path (BgrVmnet *net)
{
  return net->hosts_file;
}

/* ---- bridge ------------------------------------------------------------------ */

/* *@changed is set when the bridge or its address had to be (re)created:
 * a running dnsmasq's socket then belongs to an address that went away. */
static gboolean
ensure_bridge (BgrVmnet *net, gboolean *changed, GError **error)
{
  g_autoptr (JsonNode) links = list_links (error);
  g_autoptr (JsonNode) addrs = NULL;
  g_autofree char *cidr_addr = g_strdup_printf ("%s/%u", net->bridge_ip, net->prefix);
  JsonObject *link;
  JsonArray *info = NULL;
  gboolean have = FALSE;

  if (links == NULL)
    return FALSE;
  link = find_link (links, net->bridge);
  if (link == NULL)
    {
      if (!run_tool ((const char *[]){ "ip", "link", "add", "name", net->bridge, "address",
                                       net->bridge_mac, "type", "bridge", NULL },
                     NULL, NULL, error, "cannot create bridge %s", net->bridge))
        return FALSE;
      *changed = TRUE;
    }
  else if (g_strcmp0 (link_kind (link), "bridge") != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS,
                   "cannot use %s as the VMs' bridge: an interface of that name exists and is "
                   "not a bridge (it is a %s); set bridge_name to another name",
                   net->bridge, link_kind (link) != NULL ? link_kind (link) : "plain device");
      return FALSE;
    }
  if ((link == NULL || !link_is_up (link))
      && !run_tool ((const char *[]){ "ip", "link", "set", "dev", net->bridge, "up", NULL }, NULL,
                    NULL, error, "cannot bring bridge %s up", net->bridge))
    return FALSE;

  addrs = run_json ((const char *[]){ "ip", "-j", "addr", "show", "dev", net->bridge, NULL }, error,
                    "cannot read the addresses of the bridge");
  if (addrs == NULL)
    return FALSE;
  if (JSON_NODE_HOLDS_ARRAY (addrs) && json_array_get_length (json_node_get_array (addrs)) > 0)
    info = obj_array (array_object (json_node_get_array (addrs), 0), "addr_info");
  for (guint i = 0; info != NULL && i < json_array_get_length (info); i++)
    {
      JsonObject *a = array_object (info, i);
      gint64 len = obj_int (a, "prefixlen", -1);
      g_autofree char *other = NULL;

      if (g_strcmp0 (obj_string (a, "family"), "inet") != 0
          || g_strcmp0 (obj_string (a, "local"), net->bridge_ip) != 0)
        continue;
      if (len == (gint64) net->prefix)
        {
          have = TRUE;
          continue;
        }
      /* Our address with another prefix (cidr changed): replace it. */
      other = g_strdup_printf ("%s/%" G_GINT64_FORMAT, net->bridge_ip, len);
      if (!run_tool ((const char *[]){ "ip", "addr", "del", other, "dev", net->bridge, NULL }, NULL,
                     NULL, error, "cannot remove the old address %s from bridge %s", other,
                     net->bridge))
        return FALSE;
    }
  if (!have)
    {
      if (!run_tool ((const char *[]){ "ip", "addr", "add", cidr_addr, "brd", "+", "dev",
                                       net->bridge, NULL },
                     NULL, NULL, error, "cannot add address %s to bridge %s", cidr_addr,
                     net->bridge))
        return FALSE;
      *changed = TRUE;
    }
  return TRUE;
}

static gboolean
ensure_forwarding (GError **error)
{
  const char *path = "/proc/sys/net/ipv4/ip_forward";
  g_autofree char *now = NULL;
  int fd;

  if (g_file_get_contents (path, &now, NULL, NULL) && now[0] == '1')
    return TRUE;
  fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || !bgr_write_all (fd, "1\n", 2))
    {
      int errsv = errno;
      if (fd >= 0)
        close (fd);
      bgr_set_error_errno (error, errsv, "cannot enable IPv4 forwarding (%s)", path);
      return FALSE;
    }
  if (close (fd) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot enable IPv4 forwarding (%s)", path);
      return FALSE;
    }
  return TRUE;
}

/* ---- nftables -------------------------------------------------------------- */

/* Three tables, all named NFT_TABLE, one per family:
 *   ip:     NAT of the VMs' traffic to the outside; what the VMs may send to
 *           the host itself (DNS to dnsmasq, replies) and through it (not to
 *           169.254.0.0/16, not back onto the bridge unless vm_to_vm);
 *   ip6:    nothing from the VMs at all (they have no IPv6 of their own, but
 *           would otherwise reach services on "::" through the bridge's
 *           link-local address);
 *   bridge: frames between two pool taps dropped (unless vm_to_vm; the
 *           table then does not exist). */
typedef struct {
  const char *family;
  const char *chain;
  const char *what;
  gboolean only_isolated; /* exists only when vm_to_vm is false */
} RuleTag;

/* Each rule carries "banger WHAT TAG" as its comment; TAG changes with the
 * rules' inputs, so comparing comments tells whether a table is current.
 * In the order the rules appear in `nft list table`. */
static const RuleTag rule_tags[] = {
  { "ip", "postrouting", "masquerade", FALSE },
  { "ip", "input", "replies-from-vms", FALSE },
  { "ip", "input", "dns-udp", FALSE },
  { "ip", "input", "dns-tcp", FALSE },
  { "ip", "input", "no-host", FALSE },
  { "ip", "forward", "no-link-local", FALSE },
  { "ip", "forward", "no-vm-to-vm", TRUE },
  { "ip", "forward", "from-vms", FALSE },
  { "ip", "forward", "to-vms", FALSE },
  { "ip6", "input", "no-host6", FALSE },
  { "ip6", "forward", "no-forward6", FALSE },
  { "bridge", "forward", "no-tap-to-tap", TRUE },
};

static const char *const nft_families[] = { "ip", "ip6", "bridge" };

static char *
nft_tag (BgrVmnet *net)
{
  g_autofree char *key = g_strdup_printf ("%s %s %s %s %s %d", NFT_RULES_VERSION, net->bridge,
                                          net->cidr, net->bridge_ip, net->tap_prefix,
                                          net->vm_to_vm);
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);

  return g_strndup (digest, 12);
}

static char *
nft_script (BgrVmnet *net, const char *tag)
{
  GString *s = g_string_new (NULL);
  const char *br = net->bridge;

  /* "table; delete table; table {...}" in one transaction: created when
   * missing, replaced as a whole when present, atomically either way. */
  for (gsize i = 0; i < G_N_ELEMENTS (nft_families); i++)
    g_string_append_printf (s, "table %s " NFT_TABLE "\ndelete table %s " NFT_TABLE "\n",
                            nft_families[i], nft_families[i]);
  g_string_append_printf (s,
    "table ip " NFT_TABLE " {\n"
    "  chain postrouting {\n"
    "    type nat hook postrouting priority 100; policy accept;\n"
    "    ip saddr %s oifname != \"%s\" masquerade comment \"banger masquerade %s\"\n"
    "  }\n"
    "  chain input {\n"
    "    type filter hook input priority 0; policy accept;\n"
    "    iifname \"%s\" ct state established,related accept comment \"banger replies-from-vms %s\"\n"
    "    iifname \"%s\" ip daddr %s udp dport 53 accept comment \"banger dns-udp %s\"\n"
    "    iifname \"%s\" ip daddr %s tcp dport 53 accept comment \"banger dns-tcp %s\"\n"
    "    iifname \"%s\" reject with icmp type admin-prohibited comment \"banger no-host %s\"\n"
    "  }\n"
    "  chain forward {\n"
    "    type filter hook forward priority 0; policy accept;\n"
    "    iifname \"%s\" ip daddr 169.254.0.0/16 reject with icmp type admin-prohibited comment \"banger no-link-local %s\"\n",
    net->cidr, br, tag,
    br, tag,
    br, net->bridge_ip, tag,
    br, net->bridge_ip, tag,
    br, tag,
    br, tag);
  if (!net->vm_to_vm)
    g_string_append_printf (s,
      "    iifname \"%s\" oifname \"%s\" reject with icmp type admin-prohibited comment \"banger no-vm-to-vm %s\"\n",
      br, br, tag);
  g_string_append_printf (s,
    "    iifname \"%s\" accept comment \"banger from-vms %s\"\n"
    "    oifname \"%s\" ct state established,related accept comment \"banger to-vms %s\"\n"
    "  }\n"
    "}\n"
    "table ip6 " NFT_TABLE " {\n"
    "  chain input {\n"
    "    type filter hook input priority 0; policy accept;\n"
    "    iifname \"%s\" drop comment \"banger no-host6 %s\"\n"
    "  }\n"
    "  chain forward {\n"
    "    type filter hook forward priority 0; policy accept;\n"
    "    iifname \"%s\" drop comment \"banger no-forward6 %s\"\n"
    "  }\n"
    "}\n",
    br, tag, br, tag, br, tag, br, tag);
  if (!net->vm_to_vm)
    g_string_append_printf (s,
      "table bridge " NFT_TABLE " {\n"
      "  chain forward {\n"
      "    type filter hook forward priority 0; policy accept;\n"
      "    iifname \"%s*\" oifname \"%s*\" drop comment \"banger no-tap-to-tap %s\"\n"
      "  }\n"
      "}\n",
      net->tap_prefix, net->tap_prefix, tag);
  return g_string_free (s, FALSE);
}

/* TRUE when the table of @family holds exactly our chains (each named
 * after its hook) and the rules rule_tags[] gives it, in order, with the
 * comments the current settings give. When rule_tags[] gives it no rule
 * (the bridge table with vm_to_vm), TRUE when it does not exist. */
static gboolean
nft_family_is_current (BgrVmnet *net, const char *family, const char *tag)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GPtrArray) want = g_ptr_array_new ();
  gboolean absent = TRUE;
  JsonArray *items;
  guint chains = 0, rules = 0, want_chains = 0;
  const char *last_chain = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (rule_tags); i++)
    if (g_str_equal (rule_tags[i].family, family) && (!rule_tags[i].only_isolated || !net->vm_to_vm))
      {
        if (last_chain == NULL || !g_str_equal (last_chain, rule_tags[i].chain))
          want_chains++;
        last_chain = rule_tags[i].chain;
        g_ptr_array_add (want, (gpointer) &rule_tags[i]);
        absent = FALSE;
      }
  root = run_json ((const char *[]){ "nft", "-j", "list", "table", family, NFT_TABLE, NULL },
                   NULL, "cannot list the nftables table");
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return absent;
  if (absent)
    return FALSE;
  items = obj_array (json_node_get_object (root), "nftables");
  for (guint i = 0; items != NULL && i < json_array_get_length (items); i++)
    {
      JsonObject *item = array_object (items, i);
      JsonObject *chain = obj_object (item, "chain");
      JsonObject *rule = obj_object (item, "rule");

      if (chain != NULL)
        {
          const char *name = obj_string (chain, "name");
          if (g_strcmp0 (obj_string (chain, "hook"), name) != 0)
            return FALSE;
          chains++;
        }
      else if (rule != NULL)
        {
          g_autofree char *comment = NULL;
          const RuleTag *t;
          if (rules >= want->len)
            return FALSE;
          t = g_ptr_array_index (want, rules);
          comment = g_strdup_printf ("banger %s %s", t->what, tag);
          if (g_strcmp0 (obj_string (rule, "chain"), t->chain) != 0
              || g_strcmp0 (obj_string (rule, "comment"), comment) != 0)
            return FALSE;
          rules++;
        }
    }
  return chains == want_chains && rules == want->len;
}

static gboolean
ensure_nft (BgrVmnet *net, GError **error)
{
  g_autofree char *tag = nft_tag (net);
  g_autofree char *script = NULL;
  gboolean current = TRUE;

  for (gsize i = 0; current && i < G_N_ELEMENTS (nft_families); i++)
    current = nft_family_is_current (net, nft_families[i], tag);
  if (current)
    return TRUE;
  script = nft_script (net, tag);
  return run_tool ((const char *[]){ "nft", "-f", "-", NULL }, script, NULL, error,
                   "cannot set up NAT and the VMs' boundaries for %s (nftables tables "
                   NFT_TABLE ")", net->cidr);
}

/* ---- taps ------------------------------------------------------------------ */

typedef struct {
  guint index;
  const char *name;  /* points into the links document */
  JsonObject *link;
} PoolTap;

static int
pool_tap_compare (gconstpointer a, gconstpointer b)
{
  const PoolTap *x = a, *y = b;

  return x->index < y->index ? -1 : x->index > y->index;
}

/* The pool taps among @links, by index. A link with a pool name that is
 * not a tap is an error: something else took the name. */
static GArray *
pool_taps (BgrVmnet *net, JsonNode *links, GError **error)
{
  g_autoptr (GArray) taps = g_array_new (FALSE, FALSE, sizeof (PoolTap));
  JsonArray *a = json_node_get_array (links);
  gsize plen = strlen (net->tap_prefix);

  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonObject *l = array_object (a, i);
      const char *name = obj_string (l, "ifname");
      JsonObject *data = obj_object (obj_object (l, "linkinfo"), "info_data");
      char *end = NULL;
      guint64 index;
      PoolTap t;

      if (name == NULL || !g_str_has_prefix (name, net->tap_prefix)
          || !g_ascii_isdigit (name[plen]))
        continue;
      index = g_ascii_strtoull (name + plen, &end, 10);
      if (*end != '\0' || index > TAP_MAX_INDEX)
        continue;
      if (g_strcmp0 (link_kind (l), "tun") != 0 || g_strcmp0 (obj_string (data, "type"), "tap") != 0)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS,
                       "interface %s has the name of one of banger's taps but is not a tap; "
                       "delete it (ip link del dev %s)", name, name);
          return NULL;
        }
      t.index = (guint) index;
      t.name = name;
      t.link = l;
      g_array_append_val (taps, t);
    }
  g_array_sort (taps, pool_tap_compare);
  return g_steal_pointer (&taps);
}

/* Creates the tap when @link is NULL; attaches it to the bridge and brings
 * it up when it is not already. */
static gboolean
setup_tap (BgrVmnet *net, const char *name, JsonObject *link, GError **error)
{
  if (link == NULL
      && !run_tool ((const char *[]){ "ip", "tuntap", "add", "dev", name, "mode", "tap", NULL },
                    NULL, NULL, error, "cannot create tap %s", name))
    return FALSE;
  if (link != NULL && link_is_up (link) && g_strcmp0 (obj_string (link, "master"), net->bridge) == 0)
    return TRUE;
  return run_tool ((const char *[]){ "ip", "link", "set", "dev", name, "master", net->bridge, "up",
                                     NULL },
                   NULL, NULL, error, "cannot attach tap %s to bridge %s", name, net->bridge);
}

/* The lowest index no pool tap has. */
static guint
free_tap_index (GArray *taps)
{
  guint want = 0;

  for (guint i = 0; i < taps->len; i++)
    {
      PoolTap *t = &g_array_index (taps, PoolTap, i);
      if (t->index != want)
        break;
      want++;
    }
  return want;
}

static char *
create_pool_tap (BgrVmnet *net, GArray *taps, GError **error)
{
  guint index = free_tap_index (taps);
  g_autofree char *name = NULL;
  PoolTap t = { 0 };

  if (index > TAP_MAX_INDEX)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NO_SPACE, "cannot create another tap for bridge %s: "
                   "%u taps exist", net->bridge, taps->len);
      return NULL;
    }
  name = g_strdup_printf ("%s%u", net->tap_prefix, index);
  g_assert (strlen (name) < IFNAMSIZ);
  if (!setup_tap (net, name, NULL, error))
    return NULL;
  t.index = index;
  t.name = NULL; /* not in the links document */
  g_array_append_val (taps, t);
  g_array_sort (taps, pool_tap_compare);
  return g_steal_pointer (&name);
}

static gboolean
ensure_taps (BgrVmnet *net, GError **error)
{
  g_autoptr (JsonNode) links = list_links (error);
  g_autoptr (GArray) taps = NULL;
  guint existing;

  if (links == NULL || (taps = pool_taps (net, links, error)) == NULL)
    return FALSE;
  existing = taps->len;
  for (guint i = 0; i < existing; i++)
    {
      PoolTap *t = &g_array_index (taps, PoolTap, i);
      if (!setup_tap (net, t->name, t->link, error))
        return FALSE;
    }
  while (taps->len < net->tap_pool_size)
    {
      g_autofree char *name = create_pool_tap (net, taps, error);
      if (name == NULL)
        return FALSE;
    }
  return TRUE;
}

char *
bgr_vmnet_acquire_tap (BgrVmnet *net, const char *const *in_use, GError **error)
{
  G_GNUC_UNUSED g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&net->lock);
  g_autoptr (JsonNode) links = NULL;
  g_autoptr (GArray) taps = NULL;

  if (!check_permission (net, "acquire a tap", error))
    return NULL;
  if ((links = list_links (error)) == NULL)
    return NULL;
  if (find_link (links, net->bridge) == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND,
                   "cannot acquire a tap: bridge %s does not exist (the VM network is not set up)",
                   net->bridge);
      return NULL;
    }
  if ((taps = pool_taps (net, links, error)) == NULL)
    return NULL;
  for (guint i = 0; i < taps->len; i++)
    {
      PoolTap *t = &g_array_index (taps, PoolTap, i);
      if (in_use != NULL && g_strv_contains (in_use, t->name))
        continue;
      if (!setup_tap (net, t->name, t->link, error))
        return NULL;
      return g_strdup (t->name);
    }
  return create_pool_tap (net, taps, error);
}

gboolean
bgr_vmnet_tap_exists (BgrVmnet *net, const char *name)
{
  return valid_ifname (name) && if_nametoindex (name) != 0;
}

/* ---- dnsmasq ---------------------------------------------------------------- */

/* dnsmasq rereads the hosts file (on SIGHUP) after dropping root for its
 * own user ("dnsmasq" or "nobody"): that user must be able to reach it. */
static gboolean
readable_by_others (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  GStatBuf st;

  if (g_stat (path, &st) != 0 || (st.st_mode & S_IROTH) == 0)
    return FALSE;
  for (;;)
    {
      char *parent;

      if (g_stat (dir, &st) != 0 || (st.st_mode & S_IXOTH) == 0)
        return FALSE;
      if (g_str_equal (dir, "/") || g_str_equal (dir, "."))
        return TRUE;
      parent = g_path_get_dirname (dir);
      g_free (dir);
      dir = parent;
    }
}

/* The full command line our dnsmasq runs with. Only bridge_ip:53 is
 * listened on: --interface would add the loopback interface too. */
static GPtrArray *
dnsmasq_argv (BgrVmnet *net, const char *binary, gboolean as_root)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (argv, g_strdup (binary));
  g_ptr_array_add (argv, g_strdup ("--conf-file=/dev/null"));
  g_ptr_array_add (argv, g_strdup_printf ("--pid-file=%s", net->pid_file));
  g_ptr_array_add (argv, g_strdup_printf ("--log-facility=%s", net->log_file));
  g_ptr_array_add (argv, g_strdup ("--bind-interfaces"));
  g_ptr_array_add (argv, g_strdup_printf ("--listen-address=%s", net->bridge_ip));
  g_ptr_array_add (argv, g_strdup ("--no-resolv"));
  g_ptr_array_add (argv, g_strdup ("--no-hosts"));
  g_ptr_array_add (argv, g_strdup_printf ("--addn-hosts=%s", net->hosts_file));
  g_ptr_array_add (argv, g_strdup_printf ("--server=%s", net->dns));
  g_ptr_array_add (argv, g_strdup ("--local=/vm/"));
  if (as_root)
    g_ptr_array_add (argv, g_strdup ("--user=root"));
  g_ptr_array_add (argv, NULL);
  return argv;
}

static GPid
read_pid_file (const char *path)
{
  g_autofree char *text = NULL;
  char *end = NULL;
  guint64 pid;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  g_strstrip (text);
  pid = g_ascii_strtoull (text, &end, 10);
  if (text[0] == '\0' || *end != '\0' || pid <= 1 || pid > G_MAXINT)
    return 0;
  return (GPid) pid;
}

/* Gone, or a zombie nobody reaped yet (dnsmasq is not our child). */
static gboolean
process_is_dead (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  const char *paren;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return TRUE;
  paren = strrchr (stat, ')');
  return paren == NULL || paren[1] == '\0' || paren[2] == 'Z' || paren[2] == 'X';
}

/* /proc/PID/cmdline as a vector, NULL when unreadable. */
static GStrv
process_cmdline (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/cmdline", (int) pid);
  g_autofree char *data = NULL;
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, NULL) || len == 0)
    return NULL;
  for (gsize off = 0; off < len; off += strlen (data + off) + 1)
    g_strv_builder_add (b, data + off);
  return g_strv_builder_end (b);
}

static gboolean
same_netns (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/ns/net", (int) pid);
  GStatBuf mine, theirs;

  /* Unreadable (not root): the other checks have to do. */
  if (g_stat ("/proc/self/ns/net", &mine) != 0 || g_stat (path, &theirs) != 0)
    return TRUE;
  return mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino;
}

/* The pid of our dnsmasq: the pid file's process, alive, a dnsmasq with our
 * pid file, in our network namespace; 0 when there is none. With @want,
 * *@matches tells whether its arguments are exactly @want's. */
static GPid
dnsmasq_find (BgrVmnet *net, GPtrArray *want, gboolean *matches)
{
  GPid pid = read_pid_file (net->pid_file);
  g_auto (GStrv) argv = NULL;
  g_autofree char *base = NULL;
  g_autofree char *pid_arg = g_strdup_printf ("--pid-file=%s", net->pid_file);

  if (matches != NULL)
    *matches = FALSE;
  if (pid <= 0 || process_is_dead (pid) || (argv = process_cmdline (pid)) == NULL)
    return 0;
  base = g_path_get_basename (argv[0]);
  if (!g_str_equal (base, "dnsmasq") || !g_strv_contains ((const char *const *) argv, pid_arg)
      || !same_netns (pid))
    return 0;
  if (want != NULL && matches != NULL)
    {
      guint n = g_strv_length (argv);
      *matches = n == want->len - 1;
      /* argv[0] may differ (/sbin vs /usr/sbin): compare the options. */
      for (guint i = 1; *matches && i < n; i++)
        *matches = g_str_equal (argv[i], g_ptr_array_index (want, i));
    }
  return pid;
}

static gboolean
dnsmasq_stop (GPid pid, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + STOP_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  gboolean killed = FALSE;

  if (kill (pid, SIGTERM) != 0 && errno != ESRCH)
    {
      bgr_set_error_errno (error, errno, "cannot stop dnsmasq (pid %d)", (int) pid);
      return FALSE;
    }
  while (!process_is_dead (pid))
    {
      if (g_get_monotonic_time () > deadline)
        {
          if (killed)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_TIMED_OUT,
                           "dnsmasq (pid %d) did not exit after SIGKILL", (int) pid);
              return FALSE;
            }
          kill (pid, SIGKILL);
          killed = TRUE;
          deadline = g_get_monotonic_time () + G_TIME_SPAN_SECOND;
        }
      g_usleep (10 * 1000);
    }
  return TRUE;
}

/* Writes @data to @path through a temporary file in the same directory,
 * mode 0644 whatever the umask, and renames it into place. */
static gboolean
write_file_atomic (const char *path, const char *data, gsize len, GError **error)
{
  g_autofree char *tmp = g_strdup_printf ("%s.XXXXXX", path);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0644);

  if (fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot write %s", path);
      return FALSE;
    }
  if (fchmod (fd, 0644) != 0 || !bgr_write_all (fd, data, len) || fsync (fd) != 0)
    {
      int errsv = errno;
      close (fd);
      g_unlink (tmp);
      bgr_set_error_errno (error, errsv, "cannot write %s", tmp);
      return FALSE;
    }
  if (close (fd) != 0 || g_rename (tmp, path) != 0)
    {
      int errsv = errno;
      g_unlink (tmp);
      bgr_set_error_errno (error, errsv, "cannot write %s", path);
      return FALSE;
    }
  return TRUE;
}

/* run_dir may be on a tmpfs (/run) that a reboot emptied. */
static gboolean
ensure_run_dir (BgrVmnet *net, GError **error)
{
  /* 0755: dnsmasq reads the hosts file after dropping its privileges. */
  return bgr_ensure_private_dir (net->run_dir, 0755, "network run directory", error);
}

static gboolean
ensure_dnsmasq (BgrVmnet *net, gboolean restart, GError **error)
{
  g_autofree char *binary = find_tool ("dnsmasq");
  g_autoptr (GPtrArray) argv = NULL;
  gboolean matches = FALSE;
  GPid pid;

  if (binary == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "cannot start the VMs' DNS server: dnsmasq is not installed "
                   "(install the dnsmasq-base package)");
      return FALSE;
    }
  if (!ensure_run_dir (net, error))
    return FALSE;
  if (!g_file_test (net->hosts_file, G_FILE_TEST_EXISTS)
      && !write_file_atomic (net->hosts_file, "", 0, error))
    return FALSE;
  argv = dnsmasq_argv (net, binary, !readable_by_others (net->hosts_file));
  pid = dnsmasq_find (net, argv, &matches);
  if (pid > 0 && matches && !restart)
    return TRUE;
  if (pid > 0)
    {
      g_debug ("restarting dnsmasq (pid %d) for bridge %s", (int) pid, net->bridge);
      if (!dnsmasq_stop (pid, error))
        return FALSE;
    }
  g_unlink (net->pid_file);
  /* dnsmasq forks into the background: its first process exits once the
   * daemon listens (0) or with what went wrong on stderr. */
  if (!run_tool ((const char *const *) argv->pdata, NULL, NULL, error,
                 "cannot start dnsmasq on %s:53", net->bridge_ip))
    return FALSE;
  if (dnsmasq_find (net, NULL, NULL) == 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED,
                   "dnsmasq started on %s:53 but is not running; see %s", net->bridge_ip,
                   net->log_file);
      return FALSE;
    }
  return TRUE;
}

GPid
bgr_vmnet_get_dnsmasq_pid (BgrVmnet *net)
{
  G_GNUC_UNUSED g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&net->lock);

  return dnsmasq_find (net, NULL, NULL);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

gboolean
bgr_vmnet_set_hosts (BgrVmnet *net, GHashTable *name_to_ip, GError **error)
{
  G_GNUC_UNUSED g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&net->lock);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  g_autoptr (GString) text = g_string_new ("# Written by banger: VM name -> address. Do not edit.\n");
  GHashTableIter iter;
  gpointer key, value;
  GPid pid;

  if (name_to_ip != NULL)
    {
      g_hash_table_iter_init (&iter, name_to_ip);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          guint32 addr;
          if (!valid_label (key))
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                           "invalid VM name \"%s\" for DNS: 1 to 63 of A-Z a-z 0-9 -, not "
                           "starting or ending with -", (const char *) key);
              return FALSE;
            }
          if (!bgr_config_parse_ipv4 (value, &addr) || !is_host_address (net, addr) || addr == net->ip)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                           "invalid address \"%s\" for VM %s: not a VM address of %s",
                           value != NULL ? (const char *) value : "", (const char *) key,
                           net->cidr);
              return FALSE;
            }
          g_ptr_array_add (names, key);
        }
    }
  g_ptr_array_sort (names, compare_strings);
  if (!ensure_run_dir (net, error))
    return FALSE;
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_string_append_printf (text, "%s %s.vm %s\n",
                              (const char *) g_hash_table_lookup (name_to_ip, name), name, name);
    }
  if (!write_file_atomic (net->hosts_file, text->str, text->len, error))
    return FALSE;
  pid = dnsmasq_find (net, NULL, NULL);
  if (pid > 0 && kill (pid, SIGHUP) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot tell dnsmasq (pid %d) to reread %s", (int) pid,
                           net->hosts_file);
      return FALSE;
    }
  return TRUE;
}

/* ---- ensure / teardown ------------------------------------------------------- */

gboolean
bgr_vmnet_ensure (BgrVmnet *net, GError **error)
{
  G_GNUC_UNUSED g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&net->lock);
  gboolean changed = FALSE;

  if (!check_permission (net, "set up the VM network", error))
    return FALSE;
  return ensure_bridge (net, &changed, error)
         && ensure_forwarding (error)
         && ensure_nft (net, error)
         && ensure_taps (net, error)
         && ensure_dnsmasq (net, changed, error);
}

static void
keep_first (GError **first, GError *local)
{
  if (local == NULL)
    return;
  if (*first == NULL)
    *first = local;
  else
    {
      g_debug ("network teardown: %s", local->message);
      g_error_free (local);
    }
}

gboolean
bgr_vmnet_teardown (BgrVmnet *net, GError **error)
{
  G_GNUC_UNUSED g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&net->lock);
  g_autoptr (JsonNode) links = NULL;
  GError *first = NULL;
  GError *local = NULL;
  GPid pid;

  if (!check_permission (net, "tear down the VM network", error))
    return FALSE;

  pid = dnsmasq_find (net, NULL, NULL);
  if (pid > 0 && !dnsmasq_stop (pid, &local))
    keep_first (&first, g_steal_pointer (&local));
  g_unlink (net->pid_file);

  links = list_links (&local);
  keep_first (&first, g_steal_pointer (&local));
  if (links != NULL)
    {
      g_autoptr (GArray) taps = pool_taps (net, links, &local);
      JsonObject *bridge = find_link (links, net->bridge);

      keep_first (&first, g_steal_pointer (&local));
      for (guint i = 0; taps != NULL && i < taps->len; i++)
        {
          const char *name = g_array_index (taps, PoolTap, i).name;
          if (!run_tool ((const char *[]){ "ip", "link", "del", "dev", name, NULL }, NULL, NULL,
                         &local, "cannot delete tap %s", name))
            keep_first (&first, g_steal_pointer (&local));
        }
      for (gsize i = 0; i < G_N_ELEMENTS (nft_families); i++)
        if (!run_tool ((const char *[]){ "nft", "delete", "table", nft_families[i], NFT_TABLE, NULL },
                       NULL, NULL, &local, "cannot delete the nftables table %s " NFT_TABLE,
                       nft_families[i]))
          {
            if (g_error_matches (local, BGR_ERROR, BGR_ERROR_NOT_FOUND))
              g_clear_error (&local);
            keep_first (&first, g_steal_pointer (&local));
          }
      if (bridge != NULL && g_strcmp0 (link_kind (bridge), "bridge") == 0
          && !run_tool ((const char *[]){ "ip", "link", "del", "dev", net->bridge, NULL }, NULL,
                        NULL, &local, "cannot delete bridge %s", net->bridge))
        keep_first (&first, g_steal_pointer (&local));
    }
  if (first != NULL)
    {
      g_propagate_error (error, first);
      return FALSE;
    }
  return TRUE;
}

/* ---- addresses ------------------------------------------------------------- */

char *
bgr_vmnet_pick_address (BgrVmnet *net, const char *const *in_use, GError **error)
{
  g_autoptr (GHashTable) used = g_hash_table_new (NULL, NULL);
  guint32 last = net->net | ~net->mask;

  for (const char *const *p = in_use; p != NULL && *p != NULL; p++)
    {
      guint32 addr;
      if (!bgr_config_parse_ipv4 (*p, &addr))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "invalid address in use \"%s\": not an IPv4 address", *p);
          return NULL;
        }
      g_hash_table_add (used, GUINT_TO_POINTER (addr));
    }
  for (guint32 addr = net->net + 1; addr < last; addr++)
    if (addr != net->ip && !g_hash_table_contains (used, GUINT_TO_POINTER (addr)))
      return format_ipv4 (addr);
  g_set_error (error, BGR_ERROR, BGR_ERROR_NO_SPACE,
               "no free VM address left in %s (%u in use); use a larger cidr", net->cidr,
               g_hash_table_size (used));
  return NULL;
}

char *
bgr_vmnet_mac_for_address (const char *ip)
{
  guint32 a;

  if (!bgr_config_parse_ipv4 (ip, &a))
    return NULL;
  return g_strdup_printf ("02:00:%02x:%02x:%02x:%02x", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
                          a & 0xff);
}

char *
bgr_vmnet_kernel_ip_arg (BgrVmnet *net, const char *ip, const char *hostname, GError **error)
{
  g_autofree char *client = NULL, *netmask = NULL;
  guint32 addr;

  if (!bgr_config_parse_ipv4 (ip, &addr) || !is_host_address (net, addr) || addr == net->ip)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid VM address \"%s\": not a host address of %s other than %s",
                   ip != NULL ? ip : "", net->cidr, net->bridge_ip);
      return NULL;
    }
  if (!valid_label (hostname))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid hostname \"%s\": 1 to 63 of A-Z a-z 0-9 -, not starting or ending "
                   "with -", hostname != NULL ? hostname : "");
      return NULL;
    }
  client = format_ipv4 (addr);
  netmask = format_ipv4 (net->mask);
  /* ip=<client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>:<dns0> */
  return g_strdup_printf ("ip=%s::%s:%s:%s:eth0:off:%s", client, net->bridge_ip, netmask, hostname,
                          net->bridge_ip);
}
