/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host side of the VMs' network: a bridge with the host's address on
 * it, a pool of persistent taps attached to it, NAT for the VMs' traffic
 * (nftables table `ip banger`), and a dnsmasq that answers NAME.vm and
 * forwards everything else. docs/networking.md describes what a user sees.
 *
 * Everything is done with iproute2 (ip), nftables (nft) and dnsmasq, in the
 * network namespace of the calling process. Every call that changes the
 * system needs CAP_NET_ADMIN (root); without it, calls fail with
 * BGR_ERROR_PERMISSION_DENIED before running anything. A tool that fails
 * gives an error that names what was being done and carries the tool's own
 * message, e.g. "cannot create bridge banger0: ip: RTNETLINK answers:
 * Operation not permitted".
 *
 * A BgrVmnet holds no system state of its own: what exists is read back
 * from the system each time, so a new BgrVmnet (after a daemon restart)
 * adopts what an earlier one set up. Calls on one BgrVmnet are serialized
 * by a lock and may come from any thread. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _BgrVmnet BgrVmnet;

/* Validates the settings (the config keys bridge_name, bridge_ip, cidr,
 * tap_pool_size, default_dns, vm_to_vm) and creates @run_dir (mode 0755) if missing;
 * nothing else is touched. @bridge: an interface name (1..15 of
 * [A-Za-z0-9_.-]); @cidr: an IPv4 network with prefix 8..30 and no host
 * bits; @bridge_ip: a host address inside @cidr; @tap_pool_size: 0..256;
 * @default_dns: an IPv4 address other than @bridge_ip and 0.0.0.0, where
 * names outside .vm are forwarded; @vm_to_vm: whether VMs may reach each
 * other (FALSE: frames between pool taps are dropped, and so is traffic
 * the host would route from the bridge back onto it); @run_dir: an absolute path that holds
 * dnsmasq's pid file (dnsmasq.pid), the hosts file (hosts) and dnsmasq's
 * log (dnsmasq.log).
 *
 * Errors: BGR_ERROR_INVALID_ARGUMENT naming the bad value; an I/O error
 * when @run_dir cannot be created. */
BgrVmnet *bgr_vmnet_new (const char *bridge, const char *bridge_ip, const char *cidr,
                         guint tap_pool_size, const char *default_dns, gboolean vm_to_vm,
                         const char *run_dir, GError **error);
void bgr_vmnet_free (BgrVmnet *net);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrVmnet, bgr_vmnet_free)

const char *bgr_vmnet_get_bridge (BgrVmnet *net);
const char *bgr_vmnet_get_bridge_ip (BgrVmnet *net);
/* Pool taps are named PREFIX<N> (N = 0, 1, ...), PREFIX being "bgr-XXXX-"
 * with XXXX four hex digits of the SHA-256 of the bridge name: two bangers
 * with different bridges never share a tap, and every name fits IFNAMSIZ. */
const char *bgr_vmnet_get_tap_prefix (BgrVmnet *net);
/* RUN_DIR/hosts, the file dnsmasq answers .vm names from. */
const char *bgr_vmnet_get_hosts_path (BgrVmnet *net);

/* Brings the host to the configured state, changing only what differs, so
 * that it is cheap to call at every daemon start and converges after a
 * reboot or a partial teardown:
 *   - the bridge exists (created with the MAC bgr_vmnet_mac_for_address()
 *     gives for bridge_ip, so that the gateway's MAC never changes), is up,
 *     and has bridge_ip/PREFIX; an interface of that name that is not a
 *     bridge is an error (BGR_ERROR_EXISTS);
 *   - /proc/sys/net/ipv4/ip_forward is 1;
 *   - the nftables table `ip banger` masquerades traffic from cidr leaving
 *     through any interface but the bridge and accepts forwarding from the
 *     bridge and replies to it, except to 169.254.0.0/16 and (without
 *     vm_to_vm) back onto the bridge; of what arrives from the bridge for
 *     the host itself it accepts only DNS to bridge_ip:53 (UDP and TCP) and
 *     replies to the host's own connections, and rejects the rest. The
 *     table `ip6 banger` drops all IPv6 from the bridge (input and
 *     forward); without vm_to_vm the table `bridge banger` drops frames
 *     from one pool tap to another. When any of them differs, all three
 *     are replaced in one transaction (other tables are never touched);
 *   - at least tap_pool_size pool taps exist (persistent, `ip tuntap`),
 *     each attached to the bridge and up;
 *   - dnsmasq runs on bridge_ip:53 only, answering .vm names from the
 *     hosts file (unknown ones get NXDOMAIN) and forwarding the rest to
 *     default_dns, with no DHCP. A running dnsmasq started for the same
 *     settings (pid file, command line, network namespace) is kept; one
 *     started for other settings, or running while the bridge or its
 *     address had to be recreated, is restarted. dnsmasq daemonizes and
 *     outlives the caller.
 * dnsmasq drops root for its own unprivileged user; when that user cannot
 * read the hosts file (a directory above run_dir not searchable by others),
 * it is started with --user=root instead. */
gboolean bgr_vmnet_ensure (BgrVmnet *net, GError **error);

/* Returns the name of a pool tap whose name is not in @in_use (NULL or a
 * NULL-terminated list, e.g. the taps of running VMs), lowest index first,
 * after making sure it is attached to the bridge and up. When every pool
 * tap is in use the pool grows by one. Needs the bridge (bgr_vmnet_ensure()).
 * Errors: BGR_ERROR_NOT_FOUND when the bridge does not exist, tool errors. */
char *bgr_vmnet_acquire_tap (BgrVmnet *net, const char *const *in_use, GError **error);

/* TRUE when an interface named @name exists in this network namespace. */
gboolean bgr_vmnet_tap_exists (BgrVmnet *net, const char *name);

/* Returns the first host address of cidr (lowest first) that is neither
 * the network nor the broadcast address, nor bridge_ip, nor in @in_use
 * (NULL or a NULL-terminated list of IPv4 addresses; addresses outside cidr
 * are ignored). Touches nothing.
 * Errors: BGR_ERROR_INVALID_ARGUMENT for an entry of @in_use that is not an
 * IPv4 address, BGR_ERROR_NO_SPACE when every address is taken. */
char *bgr_vmnet_pick_address (BgrVmnet *net, const char *const *in_use, GError **error);

/* Returns the MAC a VM with IPv4 address @ip gets: "02:00:" followed by the
 * four bytes of @ip, a locally administered unicast address, stable and
 * unique within cidr. NULL when @ip is not an IPv4 address. */
char *bgr_vmnet_mac_for_address (const char *ip);

/* Returns the kernel command-line argument that configures the guest's
 * eth0 statically (Documentation/admin-guide/nfs/nfsroot.rst):
 * "ip=IP::BRIDGE_IP:NETMASK:HOSTNAME:eth0:off:BRIDGE_IP", i.e. no server,
 * the bridge as gateway and as DNS server, no autoconfiguration.
 * Errors: BGR_ERROR_INVALID_ARGUMENT when @ip is not a host address of
 * cidr other than bridge_ip, or @hostname is not a DNS label (1..63 of
 * [A-Za-z0-9-], not starting or ending with '-'). */
char *bgr_vmnet_kernel_ip_arg (BgrVmnet *net, const char *ip, const char *hostname,
                               GError **error);

/* Replaces the hosts file with @name_to_ip (VM name -> IPv4 address, both
 * char *; NULL for none): one line "IP NAME.vm NAME" per VM, sorted by name,
 * written to a temporary file and renamed over the old one. Then, when our
 * dnsmasq runs, sends it SIGHUP so that it rereads the file; dnsmasq does
 * that asynchronously, shortly after this returns. When dnsmasq is not
 * running, the file is only written (bgr_vmnet_ensure() starts dnsmasq,
 * which reads it).
 * Errors: BGR_ERROR_INVALID_ARGUMENT (names as for bgr_vmnet_kernel_ip_arg(),
 * addresses inside cidr) before anything is written; I/O errors. */
gboolean bgr_vmnet_set_hosts (BgrVmnet *net, GHashTable *name_to_ip, GError **error);

/* The pid of our dnsmasq (the pid file's process, alive, dnsmasq, same pid
 * file and network namespace), or 0 when it is not running. */
GPid bgr_vmnet_get_dnsmasq_pid (BgrVmnet *net);

/* Undoes bgr_vmnet_ensure(): stops our dnsmasq (SIGTERM, then SIGKILL after
 * 5 s), deletes the pool taps, the nftables tables `ip banger`,
 * `ip6 banger` and `bridge banger`, and the bridge. What is already gone is skipped; ip_forward is left as it is
 * (other software may rely on it), and so are the hosts file and the log.
 * Continues past failures and reports the first one. */
gboolean bgr_vmnet_teardown (BgrVmnet *net, GError **error);

G_END_DECLS
