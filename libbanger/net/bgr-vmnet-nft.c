/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VM network's nftables tables: NAT out, and the guests' boundaries. */
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

const char *const vmnet_nft_families[3] = { "ip", "ip6", "bridge" };

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
  for (gsize i = 0; i < G_N_ELEMENTS (vmnet_nft_families); i++)
    g_string_append_printf (s, "table %s " NFT_TABLE "\ndelete table %s " NFT_TABLE "\n",
                            vmnet_nft_families[i], vmnet_nft_families[i]);
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
  root = vmnet_run_json ((const char *[]){ "nft", "-j", "list", "table", family, NFT_TABLE, NULL },
                   NULL, "cannot list the nftables table");
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return absent;
  if (absent)
    return FALSE;
  items = vmnet_obj_array (json_node_get_object (root), "nftables");
  for (guint i = 0; items != NULL && i < json_array_get_length (items); i++)
    {
      JsonObject *item = vmnet_array_object (items, i);
      JsonObject *chain = vmnet_obj_object (item, "chain");
      JsonObject *rule = vmnet_obj_object (item, "rule");

      if (chain != NULL)
        {
          const char *name = vmnet_obj_string (chain, "name");
          if (g_strcmp0 (vmnet_obj_string (chain, "hook"), name) != 0)
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
          if (g_strcmp0 (vmnet_obj_string (rule, "chain"), t->chain) != 0
              || g_strcmp0 (vmnet_obj_string (rule, "comment"), comment) != 0)
            return FALSE;
          rules++;
        }
    }
  return chains == want_chains && rules == want->len;
}

gboolean
vmnet_ensure_nft (BgrVmnet *net, GError **error)
{
  g_autofree char *tag = nft_tag (net);
  g_autofree char *script = NULL;
  gboolean current = TRUE;

  for (gsize i = 0; current && i < G_N_ELEMENTS (vmnet_nft_families); i++)
    current = nft_family_is_current (net, vmnet_nft_families[i], tag);
  if (current)
    return TRUE;
  script = nft_script (net, tag);
  return vmnet_run_tool ((const char *[]){ "nft", "-f", "-", NULL }, script, NULL, error,
                   "cannot set up NAT and the VMs' boundaries for %s (nftables tables "
                   NFT_TABLE ")", net->cidr);
}
