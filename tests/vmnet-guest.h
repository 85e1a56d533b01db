/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Real traffic for the VM network's namespace tests: DNS queries by hand,
 * "guests" (network namespaces whose eth0 is relayed through a pool tap),
 * TCP services and connections made from any namespace. */
#pragma once

#include <glib.h>

typedef struct {
  int rcode;    /* -1: no answer (timeout, refused) */
  char *a;      /* the first A record, or NULL */
} DnsReply;

void dns_reply_clear (DnsReply *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DnsReply, dns_reply_clear)

/* Big-endian 16-bit fields, for hand-made packets and frames. */
gsize put_u16 (guint8 *p, guint16 v);
guint16 get_u16 (const guint8 *p);

/* One A query for @name, recursion desired, over UDP to @server:53. */
void dns_query (const char *server, const char *name, DnsReply *reply);
/* Asks until the answer is @want (NULL: NXDOMAIN) or the deadline passes. */
void assert_dns_answer (const char *server, const char *name, const char *want);

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

Guest *guest_new (const char *tap, const char *ip);
void guest_free (Guest *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Guest, guest_free)

/* A new network namespace, its loopback up; the calling thread stays. */
int new_ns (void);
void enter_ns (int ns);
/* Back to the namespace the tests run in. */
void leave_ns (void);
/* Runs a command that must succeed in @ns. */
void ns_run (int ns, const char *cmdline);

/* A TCP socket listening on 0.0.0.0:@port in @ns (-1: here). */
int listen_in (int ns, guint16 port);
/* The same on [::]:@port (IPv4 too, unless the system says v6only). */
int listen6_in (int ns, guint16 port);
/* Connects from @ns (-1: here) to @ip (IPv4 or IPv6):@port: 0 when
 * connected, the error otherwise (ETIMEDOUT: no answer in time). */
int connect_from (int ns, const char *ip, guint16 port);
/* Tries until connected or the deadline passes. */
void assert_connects (int ns, const char *ip, guint16 port);
