/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VMs' host network against the real tools (ip, nft, dnsmasq), in
 * namespaces of its own (vmnet-harness.c): the bridge, the tap pool, NAT,
 * dnsmasq, what ensure() repairs, adoption and teardown. Without root, or
 * where unshare is refused, every test here is skipped. The guests'
 * boundaries are in test-vmnet-boundaries.c. */
#include "config.h"

#include "bgr-test-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "vmnet-guest.h"
#include "vmnet-harness.h"

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* "NAME:IFINDEX:MASTER:UP" for every pool tap, sorted: what must not
 * change when nothing needs to. */
static char *
pool_taps_summary (BgrVmnet *net, guint *count)
{
  g_autoptr (JsonNode) links = json_of ("ip -j -d link show");
  JsonArray *a = json_node_get_array (links);
  g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonObject *l = json_array_get_object_element (a, i);
      const char *name = member_string (l, "ifname");
      if (!g_str_has_prefix (name, bgr_vmnet_get_tap_prefix (net)))
        continue;
      g_assert_cmpstr (member_string (member_object (l, "linkinfo"), "info_kind"), ==, "tun");
      g_ptr_array_add (parts, g_strdup_printf ("%s:%" G_GINT64_FORMAT ":%s:%s", name,
                                               json_object_get_int_member (l, "ifindex"),
                                               member_string (l, "master"),
                                               has_flag (l, "UP") ? "up" : "down"));
    }
  g_ptr_array_sort (parts, compare_strings);
  if (count != NULL)
    *count = parts->len;
  g_ptr_array_add (parts, NULL);
  return g_strjoinv (" ", (char **) parts->pdata);
}
/* ---- tests ----------------------------------------------------------------- */

static void
test_ensure (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonNode) addrs = NULL;
  g_autofree char *taps = NULL, *taps2 = NULL, *masq = NULL, *masq2 = NULL, *fwd = NULL;
  JsonObject *link;
  JsonArray *info;
  gboolean has_addr = FALSE;
  guint count = 0, rules = 0, rules2 = 0;
  gint64 handle = -1, handle2 = -2;
  GPid pid;

  NEEDS_NETNS ();
  ensure_ok (f->net);

  /* The bridge: up, with its address and the MAC derived from it. */
  addrs = json_of ("ip -j addr show dev " BRIDGE);
  link = json_array_get_object_element (json_node_get_array (addrs), 0);
  g_assert_true (has_flag (link, "UP"));
  g_assert_cmpstr (member_string (link, "address"), ==, "02:00:0a:63:00:01");
  info = json_object_get_array_member (link, "addr_info");
  for (guint i = 0; i < json_array_get_length (info); i++)
    {
      JsonObject *a = json_array_get_object_element (info, i);
      if (g_str_equal (member_string (a, "family"), "inet"))
        {
          g_assert_cmpstr (member_string (a, "local"), ==, BRIDGE_IP);
          g_assert_cmpint (json_object_get_int_member (a, "prefixlen"), ==, 24);
          has_addr = TRUE;
        }
    }
  g_assert_true (has_addr);

  /* The pool: POOL taps, on the bridge, up. */
  taps = pool_taps_summary (f->net, &count);
  g_assert_cmpuint (count, ==, POOL);
  for (guint i = 0; i < POOL; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s%u", bgr_vmnet_get_tap_prefix (f->net), i);
      g_autofree char *want = g_strdup_printf (":%s:up", BRIDGE);
      g_auto (GStrv) each = g_strsplit (taps, " ", -1);
      g_assert_true (bgr_vmnet_tap_exists (f->net, name));
      g_assert_cmpuint (strlen (name), <, IFNAMSIZ);
      g_assert_true (g_str_has_prefix (each[i], name));
      g_assert_true (g_str_has_suffix (each[i], want));
    }

  /* NAT and forwarding. */
  masq = nft_summary (&rules, &handle);
  g_assert_cmpstr (masq, ==, "10.99.0.0/24 !=" BRIDGE);
  g_assert_cmpuint (rules, ==, IP_RULES);
  fwd = read_file ("/proc/sys/net/ipv4/ip_forward");
  g_assert_cmpstr (fwd, ==, "1\n");
  /* The guests' boundaries (docs/networking.md). */
  assert_boundaries (FALSE);

  /* dnsmasq, on the bridge address only. */
  pid = bgr_vmnet_get_dnsmasq_pid (f->net);
  g_assert_cmpint (pid, >, 0);
  g_assert_true (process_alive (pid));
  {
    g_auto (DnsReply) r = { 0 };
    dns_query ("127.0.0.1", "foo.vm", &r);
    g_assert_cmpint (r.rcode, ==, -1);
  }

  /* Again: nothing changes. */
  ensure_ok (f->net);
  taps2 = pool_taps_summary (f->net, NULL);
  g_assert_cmpstr (taps2, ==, taps);
  masq2 = nft_summary (&rules2, &handle2);
  g_assert_cmpstr (masq2, ==, masq);
  g_assert_cmpuint (rules2, ==, IP_RULES);
  g_assert_cmpint (handle2, ==, handle);
  g_assert_cmpint (bgr_vmnet_get_dnsmasq_pid (f->net), ==, pid);
}

static void
test_converge (Fixture *f, gconstpointer data)
{
  g_autofree char *prefix = NULL, *cmd = NULL, *taps = NULL, *masq = NULL, *fwd = NULL;
  guint count = 0, rules = 0;
  gint64 handle = -1;
  GPid pid, pid2;

  NEEDS_NETNS ();
  ensure_ok (f->net);
  set_hosts (f->net, "foo", "10.99.0.5", NULL);
  assert_dns_answer (BRIDGE_IP, "foo.vm", "10.99.0.5");
  pid = bgr_vmnet_get_dnsmasq_pid (f->net);
  prefix = g_strdup (bgr_vmnet_get_tap_prefix (f->net));

  /* A tap gone, one detached and down, a rule added by hand, forwarding
   * off, the bridge's address removed under the running dnsmasq. */
  cmd = g_strdup_printf ("ip link del dev %s1", prefix);
  g_free (run_ok (cmd));
  g_free (cmd);
  cmd = g_strdup_printf ("ip link set dev %s2 nomaster down", prefix);
  g_free (run_ok (cmd));
  g_free (run_ok ("nft add rule ip banger forward counter"));
  g_free (run_ok ("nft flush chain ip6 banger input"));
  write_proc ("/proc/sys/net/ipv4/ip_forward", "0\n");
  g_free (run_ok ("ip addr flush dev " BRIDGE));

  ensure_ok (f->net);
  taps = pool_taps_summary (f->net, &count);
  g_assert_cmpuint (count, ==, POOL);
  g_assert_null (strstr (taps, ":down"));
  g_assert_null (strstr (taps, ":(null)"));
  masq = nft_summary (&rules, &handle);
  g_assert_cmpuint (rules, ==, IP_RULES);
  assert_boundaries (FALSE);
  fwd = read_file ("/proc/sys/net/ipv4/ip_forward");
  g_assert_cmpstr (fwd, ==, "1\n");
  /* The address came back, and with it a dnsmasq that listens on it. */
  pid2 = bgr_vmnet_get_dnsmasq_pid (f->net);
  g_assert_cmpint (pid2, >, 0);
  g_assert_cmpint (pid2, !=, pid);
  assert_dns_answer (BRIDGE_IP, "foo.vm", "10.99.0.5");

  /* After a reboot: nothing at all, but the run directory. */
  g_assert_cmpint (kill (pid2, SIGKILL), ==, 0);
  g_free (run_ok ("ip link del dev " BRIDGE));
  g_free (run_ok ("nft delete table ip banger"));
  g_free (run_ok ("nft delete table bridge banger"));
  for (guint i = 0; i < POOL; i++)
    {
      g_free (cmd);
      cmd = g_strdup_printf ("ip link del dev %s%u", prefix, i);
      g_free (run_ok (cmd));
    }
  ensure_ok (f->net);
  g_free (taps);
  taps = pool_taps_summary (f->net, &count);
  g_assert_cmpuint (count, ==, POOL);
  g_assert_true (link_exists (BRIDGE));
  assert_boundaries (FALSE);
  assert_dns_answer (BRIDGE_IP, "foo.vm", "10.99.0.5");
}

static void
test_acquire_tap (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  const char *prefix;
  g_autofree char *t0 = NULL, *t1 = NULL, *t3 = NULL, *again = NULL, *want = NULL, *taps = NULL;
  g_autofree char *none = NULL;
  guint count = 0;

  NEEDS_NETNS ();
  prefix = bgr_vmnet_get_tap_prefix (f->net);
  /* Before ensure(): no bridge to attach to. */
  none = bgr_vmnet_acquire_tap (f->net, NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_assert_null (none);
  g_clear_error (&err);

  ensure_ok (f->net);
  t0 = bgr_vmnet_acquire_tap (f->net, NULL, &err);
  g_assert_no_error (err);
  want = g_strdup_printf ("%s0", prefix);
  g_assert_cmpstr (t0, ==, want);

  {
    const char *in_use[] = { t0, "eth0", NULL };
    t1 = bgr_vmnet_acquire_tap (f->net, in_use, &err);
    g_assert_no_error (err);
    g_free (want);
    want = g_strdup_printf ("%s1", prefix);
    g_assert_cmpstr (t1, ==, want);
  }
  {
    g_autofree char *t2 = g_strdup_printf ("%s2", prefix);
    const char *in_use[] = { t0, t1, t2, NULL };
    t3 = bgr_vmnet_acquire_tap (f->net, in_use, &err);
    g_assert_no_error (err);
    g_free (want);
    want = g_strdup_printf ("%s3", prefix);
    g_assert_cmpstr (t3, ==, want);
  }
  taps = pool_taps_summary (f->net, &count);
  g_assert_cmpuint (count, ==, POOL + 1);
  g_assert_null (strstr (taps, ":down"));
  g_assert_nonnull (strstr (taps, want));

  /* The same call again gets the same tap: nothing is reserved. */
  again = bgr_vmnet_acquire_tap (f->net, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (again, ==, t0);
  g_assert_false (bgr_vmnet_tap_exists (f->net, "bgr-nosuch0"));
  g_assert_false (bgr_vmnet_tap_exists (f->net, "bad/name"));
}

/* A tap of the pool carries frames to the bridge: open it as a VMM would,
 * send an ARP request for the bridge address, and read the reply. */
static void
test_tap_traffic (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *tap = NULL;
  static const guint8 mac[6] = { 0x02, 0x00, 0x0a, 0x63, 0x00, 0x32 }; /* 10.99.0.50 */
  static const guint8 bridge_mac[6] = { 0x02, 0x00, 0x0a, 0x63, 0x00, 0x01 };
  static const guint8 vm_ip[4] = { 10, 99, 0, 50 }, bridge_ip[4] = { 10, 99, 0, 1 };
  guint8 frame[42], in[2048];
  struct ifreq ifr = { 0 };
  gint64 deadline;
  gboolean answered = FALSE;
  int fd;

  NEEDS_NETNS ();
  ensure_ok (f->net);
  tap = bgr_vmnet_acquire_tap (f->net, NULL, &err);
  g_assert_no_error (err);
  fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    {
      g_test_skip ("no /dev/net/tun");
      return;
    }
  g_strlcpy (ifr.ifr_name, tap, IFNAMSIZ);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  g_assert_cmpint (ioctl (fd, TUNSETIFF, &ifr), ==, 0);

  memset (frame, 0xff, 6);               /* to: broadcast */
  memcpy (frame + 6, mac, 6);            /* from: the "VM" */
  put_u16 (frame + 12, 0x0806);          /* ARP */
  put_u16 (frame + 14, 1);               /* Ethernet */
  put_u16 (frame + 16, 0x0800);          /* IPv4 */
  frame[18] = 6;
  frame[19] = 4;
  put_u16 (frame + 20, 1);               /* request */
  memcpy (frame + 22, mac, 6);
  memcpy (frame + 28, vm_ip, 4);
  memset (frame + 32, 0, 6);
  memcpy (frame + 38, bridge_ip, 4);

  deadline = g_get_monotonic_time () + CONVERGE_TIMEOUT_S * G_TIME_SPAN_SECOND;
  while (!answered && g_get_monotonic_time () < deadline)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };

      g_assert_cmpint (write (fd, frame, sizeof frame), ==, sizeof frame);
      while (!answered && g_get_monotonic_time () < deadline && poll (&pfd, 1, 200) == 1)
        {
          ssize_t n = read (fd, in, sizeof in);
          if (n >= 42 && get_u16 (in + 12) == 0x0806 && get_u16 (in + 20) == 2
              && memcmp (in + 28, bridge_ip, 4) == 0
              && memcmp (in, mac, 6) == 0)
            {
              /* Answered by the bridge, from its fixed MAC. */
              g_assert_cmpmem (in + 22, 6, bridge_mac, 6);
              answered = TRUE;
            }
        }
    }
  close (fd);
  g_assert_true (answered);
}

static void
test_restart (Fixture *f, gconstpointer data)
{
  GPid pid, pid2;
  gint64 deadline;

  NEEDS_NETNS ();
  ensure_ok (f->net);
  set_hosts (f->net, "foo", "10.99.0.5", NULL);
  pid = bgr_vmnet_get_dnsmasq_pid (f->net);
  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  deadline = g_get_monotonic_time () + CONVERGE_TIMEOUT_S * G_TIME_SPAN_SECOND;
  while (bgr_vmnet_get_dnsmasq_pid (f->net) != 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }

  /* Dead: set_hosts() only writes the file. */
  set_hosts (f->net, "foo", "10.99.0.8", NULL);
  ensure_ok (f->net);
  pid2 = bgr_vmnet_get_dnsmasq_pid (f->net);
  g_assert_cmpint (pid2, >, 0);
  g_assert_cmpint (pid2, !=, pid);
  assert_dns_answer (BRIDGE_IP, "foo.vm", "10.99.0.8");
}

/* A tool that fails: its message comes through, after what was being done. */
static void
test_port_taken (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (53) };
  gint64 deadline;
  GPid pid;
  int fd;

  NEEDS_NETNS ();
  ensure_ok (f->net);
  pid = bgr_vmnet_get_dnsmasq_pid (f->net);
  g_assert_cmpint (kill (pid, SIGTERM), ==, 0);
  deadline = g_get_monotonic_time () + CONVERGE_TIMEOUT_S * G_TIME_SPAN_SECOND;
  while (bgr_vmnet_get_dnsmasq_pid (f->net) != 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }

  fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (inet_pton (AF_INET, BRIDGE_IP, &sa.sin_addr), ==, 1);
  /* The old dnsmasq may still hold its socket a moment after its pid is
   * gone (the clean-clone ASan run once saw EADDRINUSE here). */
  while (bind (fd, (struct sockaddr *) &sa, sizeof sa) != 0)
    {
      g_assert_cmpint (errno, ==, EADDRINUSE);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
  g_assert_false (bgr_vmnet_ensure (f->net, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  g_test_message ("%s", err->message);
  g_assert_true (g_str_has_prefix (err->message, "cannot start dnsmasq on " BRIDGE_IP ":53: dnsmasq: "));
  bgr_assert_contains (err->message, "Address already in use");
  g_clear_error (&err);

  close (fd);
  ensure_ok (f->net);
  g_assert_cmpint (bgr_vmnet_get_dnsmasq_pid (f->net), >, 0);
}

static void
test_adopt (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrVmnet) again = NULL;
  g_autoptr (BgrVmnet) moved = NULL;
  g_autofree char *taps = NULL, *taps2 = NULL, *cmdline_path = NULL, *cmdline = NULL;
  GPid pid, pid2;
  gsize len;

  NEEDS_NETNS ();
  ensure_ok (f->net);
  set_hosts (f->net, "foo", "10.99.0.5", NULL);
  pid = bgr_vmnet_get_dnsmasq_pid (f->net);
  taps = pool_taps_summary (f->net, NULL);

  /* A daemon restart: a new BgrVmnet finds everything where it was. */
  again = new_net (f, UPSTREAM_IP);
  g_assert_cmpint (bgr_vmnet_get_dnsmasq_pid (again), ==, pid);
  ensure_ok (again);
  g_assert_cmpint (bgr_vmnet_get_dnsmasq_pid (again), ==, pid);
  taps2 = pool_taps_summary (again, NULL);
  g_assert_cmpstr (taps2, ==, taps);
  assert_dns_answer (BRIDGE_IP, "foo.vm", "10.99.0.5");

  /* Other settings (default_dns): the running dnsmasq is replaced. */
  moved = new_net (f, "10.253.0.2");
  ensure_ok (moved);
  pid2 = bgr_vmnet_get_dnsmasq_pid (moved);
  g_assert_cmpint (pid2, >, 0);
  g_assert_cmpint (pid2, !=, pid);
  cmdline_path = g_strdup_printf ("/proc/%d/cmdline", (int) pid2);
  g_assert_true (g_file_get_contents (cmdline_path, &cmdline, &len, NULL));
  for (gsize i = 0; i + 1 < len; i++)
    if (cmdline[i] == '\0')
      cmdline[i] = ' ';
  bgr_assert_contains (cmdline, "--server=10.253.0.2");
  assert_dns_answer (BRIDGE_IP, "foo.vm", "10.99.0.5");
}

static void
test_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *pid_file = NULL;
  guint count = 99;
  GPid pid;

  NEEDS_NETNS ();
  ensure_ok (f->net);
  pid = bgr_vmnet_get_dnsmasq_pid (f->net);
  g_assert_true (bgr_vmnet_teardown (f->net, &err));
  g_assert_no_error (err);

  g_assert_false (link_exists (BRIDGE));
  g_free (pool_taps_summary (f->net, &count));
  g_assert_cmpuint (count, ==, 0);
  g_assert_cmpint (run_status ("nft list table ip banger", NULL), !=, 0);
  g_assert_cmpint (run_status ("nft list table ip6 banger", NULL), !=, 0);
  g_assert_cmpint (run_status ("nft list table bridge banger", NULL), !=, 0);
  g_assert_cmpint (bgr_vmnet_get_dnsmasq_pid (f->net), ==, 0);
  g_assert_false (process_alive (pid));
  pid_file = g_build_filename (f->run_dir, "dnsmasq.pid", NULL);
  g_assert_false (g_file_test (pid_file, G_FILE_TEST_EXISTS));

  /* Nothing left to undo is not an error. */
  g_assert_true (bgr_vmnet_teardown (f->net, &err));
  g_assert_no_error (err);
}

static void
test_not_a_bridge (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *name = NULL;

  NEEDS_NETNS ();
  g_free (run_ok ("ip tuntap add dev " BRIDGE " mode tun"));
  g_assert_false (bgr_vmnet_ensure (f->net, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_EXISTS);
  bgr_assert_contains (err->message, "not a bridge");
  g_clear_error (&err);
  /* teardown() leaves an interface that is not ours alone. */
  g_assert_true (bgr_vmnet_teardown (f->net, &err));
  g_assert_no_error (err);
  g_assert_true (link_exists (BRIDGE));
  g_free (run_ok ("ip link del " BRIDGE));

  /* Nor does a pool name taken by something that is not a tap pass. */
  name = g_strdup_printf ("ip tuntap add dev %s0 mode tun", bgr_vmnet_get_tap_prefix (f->net));
  g_free (run_ok (name));
  g_assert_false (bgr_vmnet_ensure (f->net, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_EXISTS);
  bgr_assert_contains (err->message, "is not a tap");
  g_free (name);
  name = g_strdup_printf ("ip link del %s0", bgr_vmnet_get_tap_prefix (f->net));
  g_free (run_ok (name));
}

/* A run directory below a directory only root can enter: dnsmasq keeps
 * root so that it can reread the hosts file. */
static void
test_private_run_dir (Fixture *f, gconstpointer data)
{
  g_autoptr (BgrVmnet) net = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree char *dir = NULL, *cmdline_path = NULL, *cmdline = NULL;
  gsize len;

  NEEDS_NETNS ();
  g_assert_cmpint (chmod (f->run_parent, 0700), ==, 0);
  dir = g_build_filename (f->run_parent, "private", NULL);
  net = bgr_vmnet_new (BRIDGE, BRIDGE_IP, CIDR, 1, UPSTREAM_IP, FALSE, dir, &err);
  g_assert_no_error (err);
  ensure_ok (net);
  set_hosts (net, "foo", "10.99.0.5", NULL);
  assert_dns_answer (BRIDGE_IP, "foo.vm", "10.99.0.5");
  set_hosts (net, "foo", "10.99.0.9", NULL);
  assert_dns_answer (BRIDGE_IP, "foo.vm", "10.99.0.9");
  cmdline_path = g_strdup_printf ("/proc/%d/cmdline", (int) bgr_vmnet_get_dnsmasq_pid (net));
  g_assert_true (g_file_get_contents (cmdline_path, &cmdline, &len, NULL));
  for (gsize i = 0; i + 1 < len; i++)
    if (cmdline[i] == '\0')
      cmdline[i] = ' ';
  bgr_assert_contains (cmdline, "--user=root");
  g_assert_true (bgr_vmnet_teardown (net, &err));
  g_assert_no_error (err);
}

/* Without CAP_NET_ADMIN every call that changes something is refused
 * before it runs a tool. */
static void
test_permission (Fixture *f, gconstpointer data)
{
  NEEDS_NETNS ();
  if (g_test_subprocess ())
    {
      struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
      struct __user_cap_data_struct caps[2];
      g_autoptr (GError) err = NULL;
      g_autofree char *tap = NULL;

      g_assert_cmpint (syscall (SYS_capget, &hdr, caps), ==, 0);
      caps[0].effective &= ~(1u << CAP_NET_ADMIN);
      g_assert_cmpint (syscall (SYS_capset, &hdr, caps), ==, 0);

      g_assert_false (bgr_vmnet_ensure (f->net, &err));
      g_assert_error (err, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
      bgr_assert_contains (err->message, "needs root");
      g_clear_error (&err);
      tap = bgr_vmnet_acquire_tap (f->net, NULL, &err);
      g_assert_error (err, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
      g_clear_error (&err);
      g_assert_false (bgr_vmnet_teardown (f->net, &err));
      g_assert_error (err, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
      g_assert_false (link_exists (BRIDGE));
      /* Back, for the fixture's teardown. */
      caps[0].effective |= 1u << CAP_NET_ADMIN;
      g_assert_cmpint (syscall (SYS_capset, &hdr, caps), ==, 0);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_assert_false (link_exists (BRIDGE));
}


int
main (int argc, char **argv)
{
  vmnet_test_init (&argc, &argv);
  ADD_NETNS_TEST ("/vmnet/ensure", test_ensure);
  ADD_NETNS_TEST ("/vmnet/converge", test_converge);
  ADD_NETNS_TEST ("/vmnet/acquire-tap", test_acquire_tap);
  ADD_NETNS_TEST ("/vmnet/tap-traffic", test_tap_traffic);
  ADD_NETNS_TEST ("/vmnet/restart", test_restart);
  ADD_NETNS_TEST ("/vmnet/port-taken", test_port_taken);
  ADD_NETNS_TEST ("/vmnet/adopt", test_adopt);
  ADD_NETNS_TEST ("/vmnet/teardown", test_teardown);
  ADD_NETNS_TEST ("/vmnet/not-a-bridge", test_not_a_bridge);
  ADD_NETNS_TEST ("/vmnet/private-run-dir", test_private_run_dir);
  ADD_NETNS_TEST ("/vmnet/permission", test_permission);
  return g_test_run ();
}
