/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VMs' host network against the real tools (ip, nft, dnsmasq), in
 * namespaces of its own: the program re-executes itself under
 * `unshare --net --pid --fork --mount-proc`, so that every bridge, tap,
 * nftables table and dnsmasq it makes lives and dies in a network
 * namespace that holds nothing but a loopback interface, and nothing it
 * sends can leave. Without root, or where unshare is refused, the tests
 * that need the namespace are skipped; the pure ones still run. */
#include "config.h"

#include "bgr-test-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "net/bgr-vmnet-private.h"

#define NETNS_ENV "BANGER_TEST_VMNET_HOST_NETNS"
#define BRIDGE "bgrtest0"
#define BRIDGE_IP "10.99.0.1"
#define CIDR "10.99.0.0/24"
#define POOL 3
#define UPSTREAM_IP "10.253.0.1"
#define DNS_TIMEOUT_MS 1000
#define CONVERGE_TIMEOUT_S 10
/* Rules in table ip banger: NAT, input (4), forward (4, or 3 with vm_to_vm). */
#define IP_RULES 9
#define CONNECT_TIMEOUT_MS 1500

/* NULL inside our own namespaces, else why the system tests are skipped. */
static const char *skip_reason;

typedef struct {
  char *run_parent;
  char *run_dir;
  BgrVmnet *net;
} Fixture;

/* ---- commands ---------------------------------------------------------------- */

static int
run_status (const char *cmdline, char **out)
{
  g_auto (GStrv) argv = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree char *stdout_text = NULL, *stderr_text = NULL;
  int status = 0;

  g_assert_true (g_shell_parse_argv (cmdline, NULL, &argv, NULL));
  if (!g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &stdout_text,
                     &stderr_text, &status, &err))
    g_error ("cannot run %s: %s", cmdline, err->message);
  g_test_message ("$ %s -> %d %s", cmdline, status, stderr_text);
  if (out != NULL)
    *out = g_steal_pointer (&stdout_text);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static char *
run_ok (const char *cmdline)
{
  char *out = NULL;

  if (run_status (cmdline, &out) != 0)
    g_error ("command failed: %s", cmdline);
  return out;
}

static JsonNode *
json_of (const char *cmdline)
{
  g_autofree char *out = run_ok (cmdline);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) err = NULL;

  if (!json_parser_load_from_data (parser, out, -1, &err))
    g_error ("%s printed no JSON: %s", cmdline, err->message);
  return json_parser_steal_root (parser);
}

static JsonObject *
member_object (JsonObject *o, const char *name)
{
  return o != NULL && json_object_has_member (o, name) ? json_object_get_object_member (o, name)
                                                       : NULL;
}

static const char *
member_string (JsonObject *o, const char *name)
{
  return o != NULL && json_object_has_member (o, name) ? json_object_get_string_member (o, name)
                                                       : NULL;
}

static gboolean
link_exists (const char *name)
{
  return if_nametoindex (name) != 0;
}

static gboolean
has_flag (JsonObject *link, const char *flag)
{
  JsonArray *flags = json_object_get_array_member (link, "flags");

  for (guint i = 0; i < json_array_get_length (flags); i++)
    if (g_str_equal (json_array_get_string_element (flags, i), flag))
      return TRUE;
  return FALSE;
}

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

static char *
read_file (const char *path)
{
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  return text;
}

/* /proc/sys files are written in place, not replaced. */
static void
write_proc (const char *path, const char *value)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, value, strlen (value)), ==, (gssize) strlen (value));
  g_assert_cmpint (close (fd), ==, 0);
}

static gboolean
process_alive (GPid pid)
{
  return pid > 0 && kill (pid, 0) == 0;
}

/* ---- DNS by hand ------------------------------------------------------------ */

typedef struct {
  int rcode;    /* -1: no answer (timeout, refused) */
  char *a;      /* the first A record, or NULL */
} DnsReply;

static void
dns_reply_clear (DnsReply *r)
{
  g_clear_pointer (&r->a, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DnsReply, dns_reply_clear)

static gsize
put_u16 (guint8 *p, guint16 v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
  return 2;
}

static guint16
get_u16 (const guint8 *p)
{
  return (guint16) (p[0] << 8 | p[1]);
}

/* Skips a (possibly compressed) name at @off; returns the offset after it,
 * or 0 when it runs past @len. */
static gsize
skip_name (const guint8 *msg, gsize len, gsize off)
{
  while (off < len)
    {
      guint8 l = msg[off];
      if (l == 0)
        return off + 1;
      if ((l & 0xc0) == 0xc0)
        return off + 2 <= len ? off + 2 : 0;
      off += 1 + l;
    }
  return 0;
}

/* One A query for @name, recursion desired, sent over UDP to @server:53. */
static void
dns_query (const char *server, const char *name, DnsReply *reply)
{
  guint8 q[512], r[1500];
  gsize n = 0;
  guint16 id = (guint16) g_random_int_range (1, 65535);
  g_auto (GStrv) labels = g_strsplit (name, ".", -1);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (53) };
  struct pollfd pfd;
  gint64 deadline;
  ssize_t got;
  guint16 qd, an;
  gsize off;
  int fd;

  reply->rcode = -1;
  reply->a = NULL;
  n += put_u16 (q + n, id);
  n += put_u16 (q + n, 0x0100); /* standard query, RD */
  n += put_u16 (q + n, 1);      /* QDCOUNT */
  n += put_u16 (q + n, 0);
  n += put_u16 (q + n, 0);
  n += put_u16 (q + n, 0);
  for (char **l = labels; *l != NULL; l++)
    {
      gsize ll = strlen (*l);
      g_assert_cmpuint (ll, >, 0);
      g_assert_cmpuint (ll, <, 64);
      q[n++] = (guint8) ll;
      memcpy (q + n, *l, ll);
      n += ll;
    }
  q[n++] = 0;
  n += put_u16 (q + n, 1); /* A */
  n += put_u16 (q + n, 1); /* IN */

  g_assert_cmpint (inet_pton (AF_INET, server, &sa.sin_addr), ==, 1);
  fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
  if (send (fd, q, n, 0) != (ssize_t) n)
    {
      close (fd);
      return;
    }
  pfd.fd = fd;
  pfd.events = POLLIN;
  /* DNS_TIMEOUT_MS for the whole answer, however many stray datagrams come. */
  deadline = g_get_monotonic_time () + DNS_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  for (;;)
    {
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / G_TIME_SPAN_MILLISECOND;

      if (left_ms <= 0 || poll (&pfd, 1, (int) left_ms) != 1)
        {
          close (fd);
          return;
        }
      got = recv (fd, r, sizeof r, 0);
      if (got < 0) /* ECONNREFUSED: nobody listens there */
        {
          close (fd);
          return;
        }
      if (got >= 12 && get_u16 (r) == id && (r[2] & 0x80) != 0)
        break;
    }
  close (fd);

  reply->rcode = r[3] & 0x0f;
  qd = get_u16 (r + 4);
  an = get_u16 (r + 6);
  off = 12;
  for (guint i = 0; i < qd && off != 0; i++)
    {
      off = skip_name (r, (gsize) got, off);
      off = off != 0 && off + 4 <= (gsize) got ? off + 4 : 0;
    }
  for (guint i = 0; i < an && off != 0; i++)
    {
      guint16 type, rdlen;

      off = skip_name (r, (gsize) got, off);
      if (off == 0 || off + 10 > (gsize) got)
        break;
      type = get_u16 (r + off);
      rdlen = get_u16 (r + off + 8);
      off += 10;
      if (off + rdlen > (gsize) got)
        break;
      if (type == 1 && rdlen == 4)
        {
          reply->a = g_strdup_printf ("%u.%u.%u.%u", r[off], r[off + 1], r[off + 2], r[off + 3]);
          return;
        }
      off += rdlen;
    }
}

/* dnsmasq rereads its hosts file asynchronously (SIGHUP): ask until the
 * answer is @want (NULL: NXDOMAIN) or the deadline passes. */
static void
assert_dns_answer (const char *server, const char *name, const char *want)
{
  gint64 deadline = g_get_monotonic_time () + CONVERGE_TIMEOUT_S * G_TIME_SPAN_SECOND;
  g_auto (DnsReply) r = { 0 };

  for (;;)
    {
      dns_reply_clear (&r);
      dns_query (server, name, &r);
      if (want != NULL && r.rcode == 0 && g_strcmp0 (r.a, want) == 0)
        return;
      if (want == NULL && r.rcode == 3)
        return;
      if (g_get_monotonic_time () > deadline)
        g_error ("%s @%s: rcode %d, A %s; expected %s", name, server, r.rcode,
                 r.a != NULL ? r.a : "(none)", want != NULL ? want : "NXDOMAIN");
      g_usleep (20 * 1000);
    }
}

/* ---- fixture ------------------------------------------------------------------ */

static BgrVmnet *
new_net (Fixture *f, const char *dns)
{
  g_autoptr (GError) err = NULL;
  BgrVmnet *net = bgr_vmnet_new (BRIDGE, BRIDGE_IP, CIDR, POOL, dns, FALSE, f->run_dir, &err);

  g_assert_no_error (err);
  return net;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  if (skip_reason != NULL)
    return;
  f->run_parent = g_dir_make_tmp ("test-vmnet-XXXXXX", NULL);
  g_assert_nonnull (f->run_parent);
  /* dnsmasq rereads the hosts file as its unprivileged user. */
  g_assert_cmpint (chmod (f->run_parent, 0755), ==, 0);
  f->run_dir = g_build_filename (f->run_parent, "net", NULL);
  f->net = new_net (f, UPSTREAM_IP);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;

  if (f->net != NULL)
    {
      bgr_vmnet_teardown (f->net, &err);
      g_assert_no_error (err);
      bgr_vmnet_free (f->net);
    }
  if (f->run_parent != NULL)
    bgr_rm_rf (f->run_parent, NULL);
  g_free (f->run_parent);
  g_free (f->run_dir);
}

#define NEEDS_NETNS()                   \
  G_STMT_START                          \
  {                                     \
    if (skip_reason != NULL)            \
      {                                 \
        g_test_skip (skip_reason);      \
        return;                         \
      }                                 \
  }                                     \
  G_STMT_END

static void
ensure_ok (BgrVmnet *net)
{
  g_autoptr (GError) err = NULL;

  g_assert_true (bgr_vmnet_ensure (net, &err));
  g_assert_no_error (err);
}

static void
set_hosts (BgrVmnet *net, ...)
{
  g_autoptr (GHashTable) map = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GError) err = NULL;
  va_list ap;
  const char *name;

  va_start (ap, net);
  while ((name = va_arg (ap, const char *)) != NULL)
    g_hash_table_insert (map, (gpointer) name, va_arg (ap, char *));
  va_end (ap);
  g_assert_true (bgr_vmnet_set_hosts (net, map, &err));
  g_assert_no_error (err);
}

/* The masquerade rule of `nft -j list table ip banger`, as "ADDR/LEN
 * !=OIFNAME", and the number of rules and the table's handle. */
static char *
nft_summary (guint *rules, gint64 *handle)
{
  g_autoptr (JsonNode) root = json_of ("nft -j list table ip banger");
  JsonArray *items = json_object_get_array_member (json_node_get_object (root), "nftables");
  char *masq = NULL;

  *rules = 0;
  for (guint i = 0; i < json_array_get_length (items); i++)
    {
      JsonObject *item = json_array_get_object_element (items, i);
      JsonObject *rule = member_object (item, "rule");
      JsonObject *table = member_object (item, "table");
      JsonArray *expr;
      const char *addr = NULL, *oif = NULL;
      gint64 len = -1;
      gboolean masquerade = FALSE;

      if (table != NULL)
        *handle = json_object_get_int_member (table, "handle");
      if (rule == NULL)
        continue;
      (*rules)++;
      expr = json_object_get_array_member (rule, "expr");
      for (guint j = 0; j < json_array_get_length (expr); j++)
        {
          JsonObject *e = json_array_get_object_element (expr, j);
          JsonObject *match = member_object (e, "match");
          JsonObject *left, *right;
          if (json_object_has_member (e, "masquerade"))
            masquerade = TRUE;
          if (match == NULL)
            continue;
          left = member_object (match, "left");
          right = JSON_NODE_HOLDS_OBJECT (json_object_get_member (match, "right"))
                    ? member_object (json_object_get_object_member (match, "right"), "prefix")
                    : NULL;
          if (right != NULL)
            {
              addr = member_string (right, "addr");
              len = json_object_get_int_member (right, "len");
            }
          else if (g_strcmp0 (member_string (member_object (left, "meta"), "key"), "oifname") == 0
                   && g_strcmp0 (member_string (match, "op"), "!=") == 0)
            oif = member_string (match, "right");
        }
      if (masquerade && masq == NULL)
        masq = g_strdup_printf ("%s/%" G_GINT64_FORMAT " !=%s", addr, len, oif);
    }
  return masq;
}


/* "CHAIN:WHAT CHAIN:WHAT ..." of the rules of table FAMILY banger, from the
 * comments ("banger WHAT TAG"), in order; NULL when the table is missing. */
static char *
nft_rules_of (const char *family)
{
  g_autofree char *cmd = g_strdup_printf ("nft -j list table %s banger", family);
  g_autofree char *out = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GString) s = g_string_new (NULL);
  JsonArray *items;

  if (run_status (cmd, &out) != 0)
    return NULL;
  g_assert_true (json_parser_load_from_data (parser, out, -1, NULL));
  items = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                        "nftables");
  for (guint i = 0; i < json_array_get_length (items); i++)
    {
      JsonObject *rule = member_object (json_array_get_object_element (items, i), "rule");
      g_auto (GStrv) words = NULL;

      if (rule == NULL)
        continue;
      words = g_strsplit (member_string (rule, "comment"), " ", -1);
      g_assert_cmpuint (g_strv_length (words), ==, 3);
      g_assert_cmpstr (words[0], ==, "banger");
      g_string_append_printf (s, "%s%s:%s", s->len > 0 ? " " : "", member_string (rule, "chain"),
                              words[1]);
    }
  return g_strdup (s->str);
}

#define IP_RULES_ISOLATED                                                                      \
  "postrouting:masquerade input:replies-from-vms input:dns-udp input:dns-tcp input:no-host "   \
  "forward:no-link-local forward:no-vm-to-vm forward:from-vms forward:to-vms"
#define IP_RULES_OPEN                                                                          \
  "postrouting:masquerade input:replies-from-vms input:dns-udp input:dns-tcp input:no-host "   \
  "forward:no-link-local forward:from-vms forward:to-vms"
#define IP6_RULES "input:no-host6 forward:no-forward6"
#define BRIDGE_RULES "forward:no-tap-to-tap"

static void
assert_boundaries (gboolean vm_to_vm)
{
  g_autofree char *ip = nft_rules_of ("ip");
  g_autofree char *ip6 = nft_rules_of ("ip6");
  g_autofree char *br = nft_rules_of ("bridge");

  g_assert_cmpstr (ip, ==, vm_to_vm ? IP_RULES_OPEN : IP_RULES_ISOLATED);
  g_assert_cmpstr (ip6, ==, IP6_RULES);
  g_assert_cmpstr (br, ==, vm_to_vm ? NULL : BRIDGE_RULES);
}

/* ---- guests ------------------------------------------------------------------ */

/* A "guest": a network namespace whose eth0 is a tap (made by this
 * process, in that namespace), its frames relayed to and from a pool tap
 * opened as a VMM would. Commands and sockets are made "inside" by moving
 * the calling thread into the namespace (setns) and back. */
typedef struct {
  int ns;       /* the guest's network namespace */
  int eth0;     /* the guest side */
  int tap;      /* the pool tap */
  int stop[2];
  GThread *relay;
} Guest;

static int host_ns = -1;

static int
open_ns (void)
{
  int fd = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  return fd;
}

static void
enter_ns (int ns)
{
  g_assert_cmpint (setns (ns, CLONE_NEWNET), ==, 0);
}

/* A new network namespace; the calling thread stays where it was. */
static int
new_ns (void)
{
  int ns;

  if (host_ns < 0)
    host_ns = open_ns ();
  g_assert_cmpint (unshare (CLONE_NEWNET), ==, 0);
  ns = open_ns ();
  g_free (run_ok ("ip link set lo up"));
  enter_ns (host_ns);
  return ns;
}

static int
open_tap (const char *name)
{
  struct ifreq ifr = { 0 };
  int fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_strlcpy (ifr.ifr_name, name, IFNAMSIZ);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  g_assert_cmpint (ioctl (fd, TUNSETIFF, &ifr), ==, 0);
  return fd;
}

static gpointer
relay_frames (gpointer data)
{
  Guest *g = data;
  guint8 frame[65536];

  for (;;)
    {
      struct pollfd p[3] = { { .fd = g->tap, .events = POLLIN },
                             { .fd = g->eth0, .events = POLLIN },
                             { .fd = g->stop[0], .events = POLLIN } };

      if (poll (p, 3, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (p[2].revents != 0)
        break;
      for (int i = 0; i < 2; i++)
        if (p[i].revents & POLLIN)
          {
            ssize_t n = read (p[i].fd, frame, sizeof frame);
            if (n > 0 && write (p[1 - i].fd, frame, (size_t) n) < 0)
              continue; /* the other side is not up yet: a lost frame */
          }
    }
  return NULL;
}

static Guest *
guest_new (const char *tap, const char *ip)
{
  Guest *g = g_new0 (Guest, 1);
  g_autofree char *mac = bgr_vmnet_mac_for_address (ip);
  g_autofree char *cmd = NULL;

  g->ns = new_ns ();
  enter_ns (g->ns);
  g->eth0 = open_tap ("eth0");
  cmd = g_strdup_printf ("ip link set dev eth0 address %s up", mac);
  g_free (run_ok (cmd));
  g_free (cmd);
  cmd = g_strdup_printf ("ip addr add %s/24 dev eth0", ip);
  g_free (run_ok (cmd));
  g_free (run_ok ("ip route add default via " BRIDGE_IP));
  /* The host's ICMP redirects must not change the paths a test takes. */
  write_proc ("/proc/sys/net/ipv4/conf/all/accept_redirects", "0\n");
  write_proc ("/proc/sys/net/ipv4/conf/eth0/accept_redirects", "0\n");
  enter_ns (host_ns);
  g->tap = open_tap (tap);
  g_assert_cmpint (pipe2 (g->stop, O_CLOEXEC), ==, 0);
  g->relay = g_thread_new ("relay", relay_frames, g);
  return g;
}

static void
guest_free (Guest *g)
{
  g_assert_cmpint (write (g->stop[1], "x", 1), ==, 1);
  g_thread_join (g->relay);
  close (g->stop[0]);
  close (g->stop[1]);
  close (g->tap);
  close (g->eth0);
  close (g->ns);
  g_free (g);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Guest, guest_free)

static void
ns_run (int ns, const char *cmdline)
{
  enter_ns (ns);
  g_free (run_ok (cmdline));
  enter_ns (host_ns);
}

/* A TCP socket listening on 0.0.0.0:@port in @ns (-1: here). */
static int
listen_in (int ns, guint16 port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };
  int one = 1, fd;

  if (ns >= 0)
    enter_ns (ns);
  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ns >= 0)
    enter_ns (host_ns);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), ==, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
  g_assert_cmpint (listen (fd, 16), ==, 0);
  return fd;
}

/* Connects from @ns (-1: here) to @ip:@port: 0 when connected, the error
 * otherwise (ETIMEDOUT: no answer within CONNECT_TIMEOUT_MS). A listening
 * socket needs no accept() for this. */
static int
connect_from (int ns, const char *ip, guint16 port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };
  struct pollfd p;
  int fd, err = 0;
  socklen_t len = sizeof err;

  g_assert_cmpint (inet_pton (AF_INET, ip, &sa.sin_addr), ==, 1);
  if (ns >= 0)
    enter_ns (ns);
  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (ns >= 0)
    enter_ns (host_ns);
  g_assert_cmpint (fd, >=, 0);
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) != 0)
    {
      err = errno;
      if (err == EINPROGRESS)
        {
          p.fd = fd;
          p.events = POLLOUT;
          if (poll (&p, 1, CONNECT_TIMEOUT_MS) != 1)
            err = ETIMEDOUT;
          else
            g_assert_cmpint (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len), ==, 0);
        }
    }
  close (fd);
  g_test_message ("connect %s:%u -> %s", ip, port, err == 0 ? "connected" : g_strerror (err));
  return err;
}

/* A guest's first packets can be lost while its eth0 and the relay come
 * up (and ARP settles): try until connected or the deadline passes. */
static void
assert_connects (int ns, const char *ip, guint16 port)
{
  gint64 deadline = g_get_monotonic_time () + CONVERGE_TIMEOUT_S * G_TIME_SPAN_SECOND;

  while (connect_from (ns, ip, port) != 0)
    if (g_get_monotonic_time () > deadline)
      g_error ("cannot connect to %s:%u", ip, port);
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
  const char *prefix = bgr_vmnet_get_tap_prefix (f->net);
  g_autofree char *t0 = NULL, *t1 = NULL, *t3 = NULL, *again = NULL, *want = NULL, *taps = NULL;
  g_autofree char *none = NULL;
  guint count = 0;

  NEEDS_NETNS ();
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
  enter_ns (host_ns);
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
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
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

/* ---- pure functions ------------------------------------------------------------ */

static BgrVmnet *
pure_net (const char *bridge_ip, const char *cidr, char **dir)
{
  g_autoptr (GError) err = NULL;
  BgrVmnet *net;

  *dir = g_dir_make_tmp ("test-vmnet-XXXXXX", NULL);
  net = bgr_vmnet_new ("bgrpure0", bridge_ip, cidr, 0, "1.1.1.1", FALSE, *dir, &err);
  g_assert_no_error (err);
  return net;
}

static void
test_pick_address (void)
{
  g_autofree char *dir = NULL, *dir2 = NULL, *dir3 = NULL;
  g_autoptr (BgrVmnet) net = pure_net ("10.99.0.1", "10.99.0.0/24", &dir);
  g_autoptr (BgrVmnet) small = pure_net ("10.98.0.1", "10.98.0.0/30", &dir2);
  g_autoptr (BgrVmnet) mid = pure_net ("10.97.0.2", "10.97.0.0/29", &dir3);
  g_autoptr (GError) err = NULL;
  char *a;

  a = bgr_vmnet_pick_address (net, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (a, ==, "10.99.0.2");
  g_free (a);
  {
    const char *in_use[] = { "10.99.0.2", "10.99.0.3", "10.1.2.3", NULL };
    a = bgr_vmnet_pick_address (net, in_use, &err);
    g_assert_no_error (err);
    g_assert_cmpstr (a, ==, "10.99.0.4");
    g_free (a);
  }
  {
    const char *in_use[] = { "10.99.0.2", "not-an-ip", NULL };
    a = bgr_vmnet_pick_address (net, in_use, &err);
    g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
    g_assert_null (a);
    g_clear_error (&err);
  }

  /* A /30: network .0, bridge .1, one VM .2, broadcast .3. */
  a = bgr_vmnet_pick_address (small, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (a, ==, "10.98.0.2");
  g_free (a);
  {
    const char *in_use[] = { "10.98.0.2", NULL };
    a = bgr_vmnet_pick_address (small, in_use, &err);
    g_assert_error (err, BGR_ERROR, BGR_ERROR_NO_SPACE);
    g_assert_null (a);
    g_clear_error (&err);
  }

  /* The bridge in the middle: below it first, then above, never .7. */
  a = bgr_vmnet_pick_address (mid, NULL, &err);
  g_assert_cmpstr (a, ==, "10.97.0.1");
  g_free (a);
  {
    const char *in_use[] = { "10.97.0.1", "10.97.0.3", "10.97.0.4", "10.97.0.5", NULL };
    a = bgr_vmnet_pick_address (mid, in_use, &err);
    g_assert_cmpstr (a, ==, "10.97.0.6");
    g_free (a);
  }
  {
    const char *in_use[] = { "10.97.0.1", "10.97.0.3", "10.97.0.4", "10.97.0.5", "10.97.0.6",
                             NULL };
    a = bgr_vmnet_pick_address (mid, in_use, &err);
    g_assert_error (err, BGR_ERROR, BGR_ERROR_NO_SPACE);
    g_assert_null (a);
  }
  bgr_rm_rf (dir, NULL);
  bgr_rm_rf (dir2, NULL);
  bgr_rm_rf (dir3, NULL);
}

static void
test_mac_and_ip_arg (void)
{
  g_autofree char *dir = NULL;
  g_autoptr (BgrVmnet) net = pure_net ("172.16.0.1", "172.16.0.0/20", &dir);
  g_autoptr (GError) err = NULL;
  char *s;

  s = bgr_vmnet_mac_for_address ("172.16.3.250");
  g_assert_cmpstr (s, ==, "02:00:ac:10:03:fa");
  g_free (s);
  g_assert_null (bgr_vmnet_mac_for_address ("172.16.3"));
  g_assert_null (bgr_vmnet_mac_for_address (NULL));

  s = bgr_vmnet_kernel_ip_arg (net, "172.16.3.250", "web-1", &err);
  g_assert_no_error (err);
  g_assert_cmpstr (s, ==, "ip=172.16.3.250::172.16.0.1:255.255.240.0:web-1:eth0:off:172.16.0.1");
  g_free (s);

  for (const char *const *bad = (const char *const[]){ "", "-web", "web-", "a:b", "a.b", "a b",
                                                       NULL };
       *bad != NULL; bad++)
    {
      g_assert_null (bgr_vmnet_kernel_ip_arg (net, "172.16.3.250", *bad, &err));
      g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
      g_clear_error (&err);
    }
  for (const char *const *bad = (const char *const[]){ "172.16.0.1", "172.16.0.0",
                                                       "172.16.15.255", "172.17.0.2", "x", NULL };
       *bad != NULL; bad++)
    {
      g_assert_null (bgr_vmnet_kernel_ip_arg (net, *bad, "web", &err));
      g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
      g_clear_error (&err);
    }
  bgr_rm_rf (dir, NULL);
}

static void
test_bad_input (void)
{
  static const struct {
    const char *bridge, *ip, *cidr, *dns;
    guint pool;
    const char *message;
  } cases[] = {
    { "", "10.0.0.1", "10.0.0.0/24", "1.1.1.1", 1, "bridge name" },
    { "bad name", "10.0.0.1", "10.0.0.0/24", "1.1.1.1", 1, "bridge name" },
    { "a/b", "10.0.0.1", "10.0.0.0/24", "1.1.1.1", 1, "bridge name" },
    { "sixteen-chars-xx", "10.0.0.1", "10.0.0.0/24", "1.1.1.1", 1, "bridge name" },
    { "-br0", "10.0.0.1", "10.0.0.0/24", "1.1.1.1", 1, "bridge name" },
    { "br0", "10.0.1.1", "10.0.0.0/24", "1.1.1.1", 1, "bridge_ip" },
    { "br0", "10.0.0.0", "10.0.0.0/24", "1.1.1.1", 1, "bridge_ip" },
    { "br0", "10.0.0.255", "10.0.0.0/24", "1.1.1.1", 1, "bridge_ip" },
    { "br0", "10.0.0.1/24", "10.0.0.0/24", "1.1.1.1", 1, "bridge_ip" },
    { "br0", "10.0.0.1", "10.0.0.1/24", "1.1.1.1", 1, "host bits" },
    { "br0", "10.0.0.1", "10.0.0.0/31", "1.1.1.1", 1, "cidr" },
    { "br0", "10.0.0.1", "10.0.0.0/7", "1.1.1.1", 1, "cidr" },
    { "br0", "10.0.0.1", "10.0.0.0", "1.1.1.1", 1, "cidr" },
    { "br0", "10.0.0.1", "fd00::/64", "1.1.1.1", 1, "cidr" },
    { "br0", "10.0.0.1", "10.0.0.0/24", "1.1.1", 1, "default_dns" },
    { "br0", "10.0.0.1", "10.0.0.0/24", "::1", 1, "default_dns" },
    { "br0", "10.0.0.1", "10.0.0.0/24", "0.0.0.0", 1, "default_dns" },
    { "br0", "10.0.0.1", "10.0.0.0/24", "10.0.0.1", 1, "loop" },
    { "br0", "10.0.0.1", "10.0.0.0/24", "", 1, "default_dns" },
    { "br0", "10.0.0.1", "10.0.0.0/24", "1.1.1.1", 257, "tap_pool_size" },
  };
  g_autofree char *parent = g_dir_make_tmp ("test-vmnet-XXXXXX", NULL);
  g_autofree char *dir = g_build_filename (parent, "run", NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrVmnet) ok = NULL;
  g_autoptr (GHashTable) map = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *hosts_before = NULL, *hosts_after = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      BgrVmnet *net = bgr_vmnet_new (cases[i].bridge, cases[i].ip, cases[i].cidr,
                                     cases[i].pool, cases[i].dns, FALSE, dir, &err);
      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, err != NULL ? err->message : "accepted");
      g_assert_null (net);
      g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
      bgr_assert_contains (err->message, cases[i].message);
      g_clear_error (&err);
      /* Refused before anything was made. */
      g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
    }
  g_assert_null (bgr_vmnet_new ("br0", "10.0.0.1", "10.0.0.0/24", 1, "1.1.1.1", FALSE, "relative",
                                &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);

  ok = bgr_vmnet_new ("br0", "10.0.0.1", "10.0.0.0/24", 1, "1.1.1.1", FALSE, dir, &err);
  g_assert_no_error (err);
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  g_assert_cmpuint (strlen (bgr_vmnet_get_tap_prefix (ok)) + 5, <, IFNAMSIZ);

  /* set_hosts() refuses a bad map before it writes anything. */
  g_hash_table_insert (map, "good", "10.0.0.2");
  g_assert_true (bgr_vmnet_set_hosts (ok, map, &err));
  g_assert_no_error (err);
  hosts_before = read_file (bgr_vmnet_get_hosts_path (ok));
  bgr_assert_contains (hosts_before, "10.0.0.2 good.vm good\n");
  g_hash_table_insert (map, "bad.name", "10.0.0.3");
  g_assert_false (bgr_vmnet_set_hosts (ok, map, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  g_hash_table_remove (map, "bad.name");
  g_hash_table_insert (map, "other", "192.168.1.1");
  g_assert_false (bgr_vmnet_set_hosts (ok, map, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  hosts_after = read_file (bgr_vmnet_get_hosts_path (ok));
  g_assert_cmpstr (hosts_after, ==, hosts_before);

  /* Different bridges, different taps. */
  {
    g_autoptr (BgrVmnet) other = bgr_vmnet_new ("br1", "10.0.0.1", "10.0.0.0/24", 1, "1.1.1.1",
                                                FALSE, dir, &err);
    g_assert_no_error (err);
    g_assert_cmpstr (bgr_vmnet_get_tap_prefix (other), !=, bgr_vmnet_get_tap_prefix (ok));
  }
  bgr_rm_rf (parent, NULL);
}

/* ---- namespaces ------------------------------------------------------------------ */

static guint64
netns_inode (void)
{
  struct stat st;

  if (stat ("/proc/self/ns/net", &st) != 0)
    return 0;
  return (guint64) st.st_ino;
}

/* Outside: re-executes this program in new network, pid and mount
 * namespaces (returns only when that cannot be done, with the reason).
 * Inside: checks that this really is another network namespace. */
static const char *
enter_namespaces (int argc, char **argv)
{
  const char *host = g_getenv (NETNS_ENV);
  g_autofree char *self = NULL;
  g_autoptr (GPtrArray) args = NULL;
  g_autofree char *ino = NULL;
  int status = 0;

  if (host != NULL)
    {
      if (g_ascii_strtoull (host, NULL, 10) == netns_inode ())
        g_error ("%s is set but this is the host's network namespace", NETNS_ENV);
      return NULL;
    }
  if (geteuid () != 0)
    return "needs root (network namespaces, bridges, nftables, dnsmasq)";
  if (!g_spawn_sync (NULL, (char *[]){ "unshare", "--net", "--pid", "--fork", "--mount-proc", "true",
                                       NULL },
                     NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL
                                               | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, NULL)
      || !g_spawn_check_wait_status (status, NULL))
    return "cannot create namespaces (unshare --net --pid failed)";

  self = g_file_read_link ("/proc/self/exe", NULL);
  g_assert_nonnull (self);
  ino = g_strdup_printf ("%" G_GUINT64_FORMAT, netns_inode ());
  g_setenv (NETNS_ENV, ino, TRUE);
  args = g_ptr_array_new ();
  for (const char *a
       = "unshare\0--net\0--pid\0--fork\0--mount-proc\0--kill-child\0--\0";
       *a != '\0'; a += strlen (a) + 1)
    g_ptr_array_add (args, (gpointer) a);
  g_ptr_array_add (args, self);
  for (int i = 1; i < argc; i++)
    g_ptr_array_add (args, argv[i]);
  g_ptr_array_add (args, NULL);
  execvp ("unshare", (char **) args->pdata);
  g_unsetenv (NETNS_ENV);
  return "cannot run unshare";
}

/* As the pid namespace's init (pid 1), fork: the child runs the tests
 * (pid 1 ignores default-action signals, abort() included), the parent
 * reaps every orphan (dnsmasq daemonizes) until the child is done. */
static void
become_init (void)
{
  pid_t child;

  if (getpid () != 1)
    return;
  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    return;
  for (;;)
    {
      int status;
      pid_t pid = waitpid (-1, &status, 0);

      if (pid < 0 && errno == EINTR)
        continue;
      if (pid < 0)
        _exit (1);
      if (pid == child)
        _exit (WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
    }
}

int
main (int argc, char **argv)
{
  const char *path = g_getenv ("PATH");
  g_autofree char *new_path = g_strdup_printf ("/usr/sbin:/sbin:%s", path != NULL ? path : "/usr/bin:/bin");

  g_setenv ("PATH", new_path, TRUE);
  skip_reason = enter_namespaces (argc, argv);
  if (skip_reason == NULL)
    become_init ();
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  if (skip_reason == NULL)
    g_free (run_ok ("ip link set lo up"));

  g_test_add_func ("/vmnet/bad-input", test_bad_input);
  g_test_add_func ("/vmnet/pick-address", test_pick_address);
  g_test_add_func ("/vmnet/mac-and-ip-arg", test_mac_and_ip_arg);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/vmnet/ensure", test_ensure);
  ADD ("/vmnet/converge", test_converge);
  ADD ("/vmnet/acquire-tap", test_acquire_tap);
  ADD ("/vmnet/tap-traffic", test_tap_traffic);
  ADD ("/vmnet/boundaries", test_boundaries);
  ADD ("/vmnet/link-local", test_link_local);
  ADD ("/vmnet/dns", test_dns);
  ADD ("/vmnet/restart", test_restart);
  ADD ("/vmnet/port-taken", test_port_taken);
  ADD ("/vmnet/adopt", test_adopt);
  ADD ("/vmnet/teardown", test_teardown);
  ADD ("/vmnet/not-a-bridge", test_not_a_bridge);
  ADD ("/vmnet/private-run-dir", test_private_run_dir);
  ADD ("/vmnet/permission", test_permission);
#undef ADD
  return g_test_run ();
}
