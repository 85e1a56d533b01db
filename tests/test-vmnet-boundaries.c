/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The guests' boundaries (docs/networking.md) with real traffic, in
 * namespaces of its own (vmnet-harness.c): "guest" namespaces whose frames
 * are relayed through pool taps reach DNS and the outside, not the host's
 * other services, 169.254.0.0/16 or each other, over IPv4 and IPv6; and
 * the DNS names dnsmasq answers. Without root every test here is skipped. */
#include "config.h"

#include "bgr-test-util.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "vmnet-guest.h"
#include "vmnet-harness.h"

/* A ULA prefix, for addresses banger never gives: the bridge and guests
 * get them by hand to show that IPv6 is stopped even so. */
#define BRIDGE_IP6 "fd00:99::1"
#define GUEST1_IP6 "fd00:99::50"
#define GUEST2_IP6 "fd00:99::51"
/* Whether bridged IPv6 passes the ip6 hooks (br_netfilter; per namespace). */
#define BRIDGE_NF_IP6 "/proc/sys/net/bridge/bridge-nf-call-ip6tables"

/* What a guest may reach, with real traffic from two guests on two pool
 * taps: DNS on the bridge, not the host's other services, not the other
 * guest (over the bridge or routed through the host) unless vm_to_vm. */
static void
test_boundaries (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *tap0 = NULL, *tap1 = NULL;
  g_autoptr (Guest) g1 = NULL;
  g_autoptr (Guest) g2 = NULL;
  g_autoptr (BgrVmnet) open_net = NULL;
  int service, vm_service;

  NEEDS_NETNS ();
  ensure_ok (f->net);
  assert_boundaries (FALSE);
  set_hosts (f->net, "g1", "10.99.0.50", "g2", "10.99.0.51", NULL);
  tap0 = bgr_vmnet_acquire_tap (f->net, NULL, &err);
  g_assert_no_error (err);
  tap1 = bgr_vmnet_acquire_tap (f->net, (const char *const[]){ tap0, NULL }, &err);
  g_assert_no_error (err);
  g1 = guest_new (tap0, "10.99.0.50");
  g2 = guest_new (tap1, "10.99.0.51");

  /* DNS on the bridge address answers, over UDP and TCP. */
  enter_ns (g1->ns);
  assert_dns_answer (BRIDGE_IP, "g2.vm", "10.99.0.51");
  leave_ns ();
  assert_connects (g1->ns, BRIDGE_IP, 53);

  /* A host service on 0.0.0.0: the host reaches it on the bridge address,
   * a guest is refused. */
  service = listen_in (-1, 18080);
  g_assert_cmpint (connect_from (-1, BRIDGE_IP, 18080), ==, 0);
  g_assert_cmpint (connect_from (g1->ns, BRIDGE_IP, 18080), ==, EHOSTUNREACH);

  /* The host may still open connections to a guest. */
  vm_service = listen_in (g2->ns, 18081);
  assert_connects (-1, "10.99.0.51", 18081);

  /* Guest to guest: dropped on the bridge, and refused when routed
   * through the host. */
  g_assert_cmpint (connect_from (g1->ns, "10.99.0.51", 18081), !=, 0);
  ns_run (g1->ns, "ip route add 10.99.0.51/32 via " BRIDGE_IP);
  g_assert_cmpint (connect_from (g1->ns, "10.99.0.51", 18081), ==, EHOSTUNREACH);

  /* vm_to_vm = true: both ways open; the host stays closed. */
  open_net = bgr_vmnet_new (BRIDGE, BRIDGE_IP, CIDR, POOL, UPSTREAM_IP, TRUE, f->run_dir, &err);
  g_assert_no_error (err);
  ensure_ok (open_net);
  assert_boundaries (TRUE);
  assert_connects (g1->ns, "10.99.0.51", 18081);
  ns_run (g1->ns, "ip route del 10.99.0.51/32 via " BRIDGE_IP);
  assert_connects (g1->ns, "10.99.0.51", 18081);
  g_assert_cmpint (connect_from (g1->ns, BRIDGE_IP, 18080), ==, EHOSTUNREACH);

  /* And back. */
  ensure_ok (f->net);
  assert_boundaries (FALSE);
  g_assert_cmpint (connect_from (g1->ns, "10.99.0.51", 18081), !=, 0);

  close (service);
  close (vm_service);
}

/* Egress is NATed as before, except to 169.254.0.0/16: an "outside"
 * namespace behind a veth holds 10.253.1.2 and 169.254.169.254. */
static void
test_link_local (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *tap = NULL, *cmd = NULL;
  g_autoptr (Guest) g = NULL;
  int outside, service;

  NEEDS_NETNS ();
  ensure_ok (f->net);
  tap = bgr_vmnet_acquire_tap (f->net, NULL, &err);
  g_assert_no_error (err);
  g = guest_new (tap, "10.99.0.50");

  outside = new_ns ();
  g_free (run_ok ("ip link add bgrout0 type veth peer name bgrout1"));
  cmd = g_strdup_printf ("ip link set bgrout1 netns /proc/%d/fd/%d", (int) getpid (), outside);
  g_free (run_ok (cmd));
  g_free (run_ok ("ip addr add 10.253.1.1/24 dev bgrout0"));
  g_free (run_ok ("ip addr add 169.254.0.1/16 dev bgrout0"));
  g_free (run_ok ("ip link set bgrout0 up"));
  ns_run (outside, "ip addr add 10.253.1.2/24 dev bgrout1");
  ns_run (outside, "ip addr add 169.254.169.254/16 dev bgrout1");
  ns_run (outside, "ip link set bgrout1 up");
  service = listen_in (outside, 80);

  assert_connects (-1, "169.254.169.254", 80);
  assert_connects (g->ns, "10.253.1.2", 80);
  g_assert_cmpint (connect_from (g->ns, "169.254.169.254", 80), ==, EHOSTUNREACH);

  close (service);
  g_free (run_ok ("ip link del bgrout0"));
  close (outside);
}

static void
test_dns (Fixture *f, gconstpointer data)
{
  g_autofree char *upstream_pid_file = NULL, *hosts = NULL;
  g_autofree char *upstream_cmd = NULL;
  g_autoptr (GSubprocess) upstream = NULL;
  g_autoptr (GError) err = NULL;
  g_auto (DnsReply) r = { 0 };

  NEEDS_NETNS ();
  /* Before the hosts file says anything: NXDOMAIN, not forwarded. */
  ensure_ok (f->net);
  assert_dns_answer (BRIDGE_IP, "foo.vm", NULL);

  set_hosts (f->net, "foo", "10.99.0.5", NULL);
  hosts = read_file (bgr_vmnet_get_hosts_path (f->net));
  bgr_assert_contains (hosts, "10.99.0.5 foo.vm foo\n");
  assert_dns_answer (BRIDGE_IP, "foo.vm", "10.99.0.5");

  set_hosts (f->net, "foo", "10.99.0.6", "bar", "10.99.0.7", NULL);
  assert_dns_answer (BRIDGE_IP, "foo.vm", "10.99.0.6");
  assert_dns_answer (BRIDGE_IP, "bar.vm", "10.99.0.7");
  assert_dns_answer (BRIDGE_IP, "unknown.vm", NULL);
  set_hosts (f->net, "bar", "10.99.0.7", NULL);
  assert_dns_answer (BRIDGE_IP, "foo.vm", NULL);

  /* Everything else goes to default_dns: another dnsmasq, on an interface
   * of this namespace (a bridge: not every kernel has dummy interfaces),
   * that knows one name. */
  g_free (run_ok ("ip link add upstream0 type bridge"));
  g_free (run_ok ("ip addr add " UPSTREAM_IP "/24 dev upstream0"));
  g_free (run_ok ("ip link set upstream0 up"));
  upstream_pid_file = g_build_filename (f->run_parent, "upstream.pid", NULL);
  upstream_cmd = g_strdup_printf ("--pid-file=%s", upstream_pid_file);
  upstream = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE, &err, "dnsmasq", "--keep-in-foreground",
                               "--conf-file=/dev/null", upstream_cmd, "--bind-interfaces",
                               "--listen-address=" UPSTREAM_IP, "--no-resolv", "--no-hosts",
                               "--log-facility=-", "--address=/example.test/192.0.2.7", NULL);
  g_assert_no_error (err);
  assert_dns_answer (UPSTREAM_IP, "www.example.test", "192.0.2.7");
  assert_dns_answer (BRIDGE_IP, "www.example.test", "192.0.2.7");
  /* ... and .vm names never are. */
  dns_query (UPSTREAM_IP, "bar.vm", &r);
  g_assert_cmpint (r.rcode, !=, 0);
  assert_dns_answer (BRIDGE_IP, "bar.vm", "10.99.0.7");

  g_subprocess_send_signal (upstream, SIGTERM);
  g_subprocess_wait (upstream, NULL, NULL);
  g_free (run_ok ("ip link del upstream0"));
}

/* TRUE when @addr is on @dev in @ns (-1: here) and no longer tentative:
 * even with `nodad` the kernel makes it usable (and adds its local route)
 * asynchronously, and only once the link has a carrier. */
static gboolean
address_ready (int ns, const char *dev, const char *addr)
{
  g_autofree char *cmd = g_strdup_printf ("ip -j -6 addr show dev %s", dev);
  g_autoptr (JsonNode) root = NULL;
  JsonArray *info;

  if (ns >= 0)
    enter_ns (ns);
  root = json_of (cmd);
  if (ns >= 0)
    leave_ns ();
  info = json_object_get_array_member (json_array_get_object_element (json_node_get_array (root), 0),
                                       "addr_info");
  for (guint i = 0; i < json_array_get_length (info); i++)
    {
      JsonObject *a = json_array_get_object_element (info, i);
      if (g_strcmp0 (member_string (a, "local"), addr) == 0)
        return !json_object_has_member (a, "tentative");
    }
  return FALSE;
}

static void
assert_address_ready (int ns, const char *dev, const char *addr)
{
  gint64 deadline = g_get_monotonic_time () + CONVERGE_TIMEOUT_S * G_TIME_SPAN_SECOND;

  while (!address_ready (ns, dev, addr))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("%s on %s is still not usable", addr, dev);
      g_usleep (10 * 1000);
    }
}

/* Two guests on two pool taps with IPv4 (as banger gives it) and IPv6
 * addresses of their own, the bridge with BRIDGE_IP6: what a guest that
 * sets up IPv6 by itself would have (`nodad`: no duplicate detection). */
static void
ipv6_guests (Fixture *f, Guest **g1, Guest **g2)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *tap0 = NULL, *tap1 = NULL;

  ensure_ok (f->net);
  tap0 = bgr_vmnet_acquire_tap (f->net, NULL, &err);
  g_assert_no_error (err);
  tap1 = bgr_vmnet_acquire_tap (f->net, (const char *const[]){ tap0, NULL }, &err);
  g_assert_no_error (err);
  *g1 = guest_new (tap0, "10.99.0.50");
  *g2 = guest_new (tap1, "10.99.0.51");
  g_free (run_ok ("ip addr add " BRIDGE_IP6 "/64 dev " BRIDGE " nodad"));
  ns_run ((*g1)->ns, "ip addr add " GUEST1_IP6 "/64 dev eth0 nodad");
  ns_run ((*g2)->ns, "ip addr add " GUEST2_IP6 "/64 dev eth0 nodad");
  assert_address_ready (-1, BRIDGE, BRIDGE_IP6);
  assert_address_ready ((*g1)->ns, "eth0", GUEST1_IP6);
  assert_address_ready ((*g2)->ns, "eth0", GUEST2_IP6);
  /* Both guests' frames reach the bridge (what they may reach: DNS over
   * TCP), so that what is refused later is refused by the rules. */
  assert_connects ((*g1)->ns, BRIDGE_IP, 53);
  assert_connects ((*g2)->ns, BRIDGE_IP, 53);
}

/* A host service on [::]: the host reaches it on the bridge's IPv6
 * address, a guest does not, because of table ip6 banger: without the
 * table the guest connects, and ensure() stops it again. */
static void
test_ipv6_host (Fixture *f, gconstpointer data)
{
  g_autoptr (Guest) g1 = NULL;
  g_autoptr (Guest) g2 = NULL;
  g_autofree char *bridge_mac = bgr_vmnet_mac_for_address (BRIDGE_IP);
  g_autofree char *cmd = NULL;
  int service;

  NEEDS_NETNS ();
  ipv6_guests (f, &g1, &g2);
  service = listen6_in (-1, 18082);
  g_assert_cmpint (connect_from (-1, BRIDGE_IP6, 18082), ==, 0);
  g_assert_cmpint (connect_from (g1->ns, BRIDGE_IP6, 18082), !=, 0);
  /* Not only neighbour discovery: the TCP packets themselves. */
  cmd = g_strdup_printf ("ip -6 neigh replace " BRIDGE_IP6 " lladdr %s dev eth0 nud permanent",
                         bridge_mac);
  ns_run (g1->ns, cmd);
  g_assert_cmpint (connect_from (g1->ns, BRIDGE_IP6, 18082), !=, 0);

  g_free (run_ok ("nft delete table ip6 banger"));
  assert_connects (g1->ns, BRIDGE_IP6, 18082);

  ensure_ok (f->net);
  assert_boundaries (FALSE);
  g_assert_cmpint (connect_from (g1->ns, BRIDGE_IP6, 18082), !=, 0);
  g_assert_cmpint (connect_from (-1, BRIDGE_IP6, 18082), ==, 0);
  close (service);
}

/* Guest to guest over IPv6 on the bridge: dropped by table bridge banger,
 * neighbour discovery and, with the neighbours set by hand, the TCP
 * frames themselves; open with vm_to_vm = true (the host stays closed),
 * and dropped again when it is back to false. Where the kernel has
 * br_netfilter, bridged frames also pass the ip6 hooks, and no-forward6
 * drops them even with vm_to_vm: it is turned off in this namespace for
 * the test, so that table bridge banger is all that stands between them. */
static void
test_ipv6_vm_to_vm (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (Guest) g1 = NULL;
  g_autoptr (Guest) g2 = NULL;
  g_autoptr (BgrVmnet) open_net = NULL;
  g_autofree char *mac1 = bgr_vmnet_mac_for_address ("10.99.0.50");
  g_autofree char *mac2 = bgr_vmnet_mac_for_address ("10.99.0.51");
  g_autofree char *cmd = NULL, *brnf6 = NULL;
  int service, vm_service;

  NEEDS_NETNS ();
  brnf6 = read_file (BRIDGE_NF_IP6);
  if (brnf6 != NULL)
    write_proc (BRIDGE_NF_IP6, "0\n");
  ipv6_guests (f, &g1, &g2);
  service = listen6_in (-1, 18082);
  vm_service = listen6_in (g2->ns, 18083);
  g_assert_cmpint (connect_from (g1->ns, GUEST2_IP6, 18083), !=, 0);

  cmd = g_strdup_printf ("ip -6 neigh replace " GUEST2_IP6 " lladdr %s dev eth0 nud permanent",
                         mac2);
  ns_run (g1->ns, cmd);
  g_free (cmd);
  cmd = g_strdup_printf ("ip -6 neigh replace " GUEST1_IP6 " lladdr %s dev eth0 nud permanent",
                         mac1);
  ns_run (g2->ns, cmd);
  g_assert_cmpint (connect_from (g1->ns, GUEST2_IP6, 18083), !=, 0);

  open_net = bgr_vmnet_new (BRIDGE, BRIDGE_IP, CIDR, POOL, UPSTREAM_IP, TRUE, f->run_dir, &err);
  g_assert_no_error (err);
  ensure_ok (open_net);
  assert_boundaries (TRUE);
  assert_connects (g1->ns, GUEST2_IP6, 18083);
  g_assert_cmpint (connect_from (g1->ns, BRIDGE_IP6, 18082), !=, 0);

  ensure_ok (f->net);
  assert_boundaries (FALSE);
  g_assert_cmpint (connect_from (g1->ns, GUEST2_IP6, 18083), !=, 0);
  close (service);
  close (vm_service);
  if (brnf6 != NULL)
    write_proc (BRIDGE_NF_IP6, brnf6);
}

int
main (int argc, char **argv)
{
  vmnet_test_init (&argc, &argv);
  ADD_NETNS_TEST ("/vmnet/boundaries", test_boundaries);
  ADD_NETNS_TEST ("/vmnet/link-local", test_link_local);
  ADD_NETNS_TEST ("/vmnet/dns", test_dns);
  ADD_NETNS_TEST ("/vmnet/ipv6-host", test_ipv6_host);
  ADD_NETNS_TEST ("/vmnet/ipv6-vm-to-vm", test_ipv6_vm_to_vm);
  return g_test_run ();
}
