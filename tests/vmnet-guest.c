/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Real traffic for the VM network's namespace tests (vmnet-guest.h). */
#include "config.h"

#include "vmnet-guest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmnet-harness.h"

#define DNS_TIMEOUT_MS 1000
#define CONNECT_TIMEOUT_MS 1500

/* ---- DNS by hand ------------------------------------------------------------ */

void
dns_reply_clear (DnsReply *r)
{
  g_clear_pointer (&r->a, g_free);
}

gsize
put_u16 (guint8 *p, guint16 v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
  return 2;
}

guint16
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
void
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
void
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

/* ---- guests ------------------------------------------------------------------ */

static int host_ns = -1;

static int
open_ns (void)
{
  int fd = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  return fd;
}

void
enter_ns (int ns)
{
  g_assert_cmpint (setns (ns, CLONE_NEWNET), ==, 0);
}

void
leave_ns (void)
{
  enter_ns (host_ns);
}

int
new_ns (void)
{
  int ns;

  if (host_ns < 0)
    host_ns = open_ns ();
  g_assert_cmpint (unshare (CLONE_NEWNET), ==, 0);
  ns = open_ns ();
  g_free (run_ok ("ip link set lo up"));
  leave_ns ();
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

Guest *
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
  leave_ns ();
  g->tap = open_tap (tap);
  g_assert_cmpint (pipe2 (g->stop, O_CLOEXEC), ==, 0);
  g->relay = g_thread_new ("relay", relay_frames, g);
  return g;
}

void
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

void
ns_run (int ns, const char *cmdline)
{
  enter_ns (ns);
  g_free (run_ok (cmdline));
  leave_ns ();
}

static int
listen_on (int ns, const struct sockaddr *sa, socklen_t sa_len)
{
  int one = 1, fd;

  if (ns >= 0)
    enter_ns (ns);
  fd = socket (sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ns >= 0)
    leave_ns ();
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), ==, 0);
  g_assert_cmpint (bind (fd, sa, sa_len), ==, 0);
  g_assert_cmpint (listen (fd, 16), ==, 0);
  return fd;
}

int
listen_in (int ns, guint16 port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };

  return listen_on (ns, (struct sockaddr *) &sa, sizeof sa);
}

int
listen6_in (int ns, guint16 port)
{
  struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons (port) };

  return listen_on (ns, (struct sockaddr *) &sa, sizeof sa);
}

/* A listening socket needs no accept() for this. */
int
connect_from (int ns, const char *ip, guint16 port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };
  struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons (port) };
  gboolean v6 = strchr (ip, ':') != NULL;
  struct pollfd p;
  int fd, err = 0;
  socklen_t len = sizeof err;

  if (v6)
    g_assert_cmpint (inet_pton (AF_INET6, ip, &sa6.sin6_addr), ==, 1);
  else
    g_assert_cmpint (inet_pton (AF_INET, ip, &sa.sin_addr), ==, 1);
  if (ns >= 0)
    enter_ns (ns);
  fd = socket (v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (ns >= 0)
    leave_ns ();
  g_assert_cmpint (fd, >=, 0);
  if (connect (fd, v6 ? (struct sockaddr *) &sa6 : (struct sockaddr *) &sa,
               v6 ? sizeof sa6 : sizeof sa) != 0)
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
  g_test_message ("connect %s%s%s:%u -> %s", v6 ? "[" : "", ip, v6 ? "]" : "", port,
                  err == 0 ? "connected" : g_strerror (err));
  return err;
}

/* A guest's first packets can be lost while its eth0 and the relay come
 * up (and ARP settles): try until connected or the deadline passes. */
void
assert_connects (int ns, const char *ip, guint16 port)
{
  gint64 deadline = g_get_monotonic_time () + CONVERGE_TIMEOUT_S * G_TIME_SPAN_SECOND;

  while (connect_from (ns, ip, port) != 0)
    if (g_get_monotonic_time () > deadline)
      g_error ("cannot connect to %s:%u", ip, port);
}
