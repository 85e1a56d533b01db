/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VMs' host network, built with the system's own tools (ip, nft,
 * dnsmasq) rather than netlink by hand: what banger does is then exactly
 * what a user can type, read back and undo. State is always read back from
 * the system (`ip -j`, `nft -j`, the pid file), never remembered. This file:
 * settings, the bridge, ensure/teardown and addresses; the rest is in
 * bgr-vmnet-tools.c, -nft.c, -taps.c and -dnsmasq.c. */
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

/* ---- construction ----------------------------------------------------------- */

BgrVmnet *
bgr_vmnet_new (const char *bridge, const char *bridge_ip, const char *cidr, guint tap_pool_size,
               const char *default_dns, gboolean vm_to_vm, const char *run_dir, GError **error)
{
  g_autoptr (BgrVmnet) net = NULL;
  g_autofree char *digest = NULL;
  guint32 ip = 0, netaddr = 0, dns = 0;
  guint prefix = 0;

  if (!vmnet_valid_ifname (bridge))
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
  if (!bgr_config_parse_ipv4 (bridge_ip, &ip) || !vmnet_is_host_address (net, ip))
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
    g_autofree char *network = vmnet_format_ipv4 (netaddr);
    net->cidr = g_strdup_printf ("%s/%u", network, prefix);
  }
  net->bridge = g_strdup (bridge);
  net->bridge_ip = vmnet_format_ipv4 (ip);
  net->dns = vmnet_format_ipv4 (dns);
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
  g_autoptr (JsonNode) links = vmnet_list_links (error);
  g_autoptr (JsonNode) addrs = NULL;
  g_autofree char *cidr_addr = g_strdup_printf ("%s/%u", net->bridge_ip, net->prefix);
  JsonObject *link;
  JsonArray *info = NULL;
  gboolean have = FALSE;

  if (links == NULL)
    return FALSE;
  link = vmnet_find_link (links, net->bridge);
  if (link == NULL)
    {
      if (!vmnet_run_tool ((const char *[]){ "ip", "link", "add", "name", net->bridge, "address",
                                       net->bridge_mac, "type", "bridge", NULL },
                     NULL, NULL, error, "cannot create bridge %s", net->bridge))
        return FALSE;
      *changed = TRUE;
    }
  else if (g_strcmp0 (vmnet_link_kind (link), "bridge") != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS,
                   "cannot use %s as the VMs' bridge: an interface of that name exists and is "
                   "not a bridge (it is a %s); set bridge_name to another name",
                   net->bridge, vmnet_link_kind (link) != NULL ? vmnet_link_kind (link) : "plain device");
      return FALSE;
    }
  if ((link == NULL || !vmnet_link_is_up (link))
      && !vmnet_run_tool ((const char *[]){ "ip", "link", "set", "dev", net->bridge, "up", NULL }, NULL,
                    NULL, error, "cannot bring bridge %s up", net->bridge))
    return FALSE;

  addrs = vmnet_run_json ((const char *[]){ "ip", "-j", "addr", "show", "dev", net->bridge, NULL }, error,
                    "cannot read the addresses of the bridge");
  if (addrs == NULL)
    return FALSE;
  if (JSON_NODE_HOLDS_ARRAY (addrs) && json_array_get_length (json_node_get_array (addrs)) > 0)
    info = vmnet_obj_array (vmnet_array_object (json_node_get_array (addrs), 0), "addr_info");
  for (guint i = 0; info != NULL && i < json_array_get_length (info); i++)
    {
      JsonObject *a = vmnet_array_object (info, i);
      gint64 len = vmnet_obj_int (a, "prefixlen", -1);
      g_autofree char *other = NULL;

      if (g_strcmp0 (vmnet_obj_string (a, "family"), "inet") != 0
          || g_strcmp0 (vmnet_obj_string (a, "local"), net->bridge_ip) != 0)
        continue;
      if (len == (gint64) net->prefix)
        {
          have = TRUE;
          continue;
        }
      /* Our address with another prefix (cidr changed): replace it. */
      other = g_strdup_printf ("%s/%" G_GINT64_FORMAT, net->bridge_ip, len);
      if (!vmnet_run_tool ((const char *[]){ "ip", "addr", "del", other, "dev", net->bridge, NULL }, NULL,
                     NULL, error, "cannot remove the old address %s from bridge %s", other,
                     net->bridge))
        return FALSE;
    }
  if (!have)
    {
      if (!vmnet_run_tool ((const char *[]){ "ip", "addr", "add", cidr_addr, "brd", "+", "dev",
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

/* ---- ensure / teardown ------------------------------------------------------- */

gboolean
bgr_vmnet_ensure (BgrVmnet *net, GError **error)
{
  G_GNUC_UNUSED g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&net->lock);
  gboolean changed = FALSE;

  if (!vmnet_check_permission (net, "set up the VM network", error))
    return FALSE;
  return ensure_bridge (net, &changed, error)
         && ensure_forwarding (error)
         && vmnet_ensure_nft (net, error)
         && vmnet_ensure_taps (net, error)
         && vmnet_ensure_dnsmasq (net, changed, error);
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

  if (!vmnet_check_permission (net, "tear down the VM network", error))
    return FALSE;

  pid = vmnet_dnsmasq_find (net, NULL, NULL);
  if (pid > 0 && !vmnet_dnsmasq_stop (pid, &local))
    keep_first (&first, g_steal_pointer (&local));
  g_unlink (net->pid_file);

  links = vmnet_list_links (&local);
  keep_first (&first, g_steal_pointer (&local));
  if (links != NULL)
    {
      g_autoptr (GArray) taps = vmnet_pool_taps (net, links, &local);
      JsonObject *bridge = vmnet_find_link (links, net->bridge);

      keep_first (&first, g_steal_pointer (&local));
      for (guint i = 0; taps != NULL && i < taps->len; i++)
        {
          const char *name = g_array_index (taps, PoolTap, i).name;
          if (!vmnet_run_tool ((const char *[]){ "ip", "link", "del", "dev", name, NULL }, NULL, NULL,
                         &local, "cannot delete tap %s", name))
            keep_first (&first, g_steal_pointer (&local));
        }
      for (gsize i = 0; i < G_N_ELEMENTS (vmnet_nft_families); i++)
        if (!vmnet_run_tool ((const char *[]){ "nft", "delete", "table", vmnet_nft_families[i], NFT_TABLE, NULL },
                       NULL, NULL, &local, "cannot delete the nftables table %s " NFT_TABLE,
                       vmnet_nft_families[i]))
          {
            if (g_error_matches (local, BGR_ERROR, BGR_ERROR_NOT_FOUND))
              g_clear_error (&local);
            keep_first (&first, g_steal_pointer (&local));
          }
      if (bridge != NULL && g_strcmp0 (vmnet_link_kind (bridge), "bridge") == 0
          && !vmnet_run_tool ((const char *[]){ "ip", "link", "del", "dev", net->bridge, NULL }, NULL,
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
      return vmnet_format_ipv4 (addr);
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

  if (!bgr_config_parse_ipv4 (ip, &addr) || !vmnet_is_host_address (net, addr) || addr == net->ip)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid VM address \"%s\": not a host address of %s other than %s",
                   ip != NULL ? ip : "", net->cidr, net->bridge_ip);
      return NULL;
    }
  if (!vmnet_valid_label (hostname))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid hostname \"%s\": 1 to 63 of A-Z a-z 0-9 -, not starting or ending "
                   "with -", hostname != NULL ? hostname : "");
      return NULL;
    }
  client = vmnet_format_ipv4 (addr);
  netmask = vmnet_format_ipv4 (net->mask);
  /* ip=<client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>:<dns0> */
  return g_strdup_printf ("ip=%s::%s:%s:%s:eth0:off:%s", client, net->bridge_ip, netmask, hostname,
                          net->bridge_ip);
}
