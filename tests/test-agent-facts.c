/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What banger-vsock-agent tells the host about its machine, asked on the
 * host (--fd, see agent-fd-fixture.h): READY's facts, PING, the listening
 * ports with their owners, and STATS. */
#include "config.h"

#include <sys/socket.h>
#include <sys/utsname.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "agent-fd-fixture.h"

static void
test_hello (Agent *a, gconstpointer data)
{
  struct utsname u;
  BgrAgentBuf b;

  g_assert_cmpint (uname (&u), ==, 0);
  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_VERSION, BGR_AGENT_PROTOCOL_VERSION);
  agent_send_buf (a, BGR_AGENT_MSG_HELLO, 0, &b);
  {
    g_autoptr (Frame) f = agent_expect (a, 0, BGR_AGENT_MSG_READY);
    g_autofree char *kernel = frame_str (f, BGR_AGENT_F_KERNEL);
    g_autofree char *host = frame_str (f, BGR_AGENT_F_HOSTNAME);
    g_autofree char *uname_all = frame_str (f, BGR_AGENT_F_UNAME);
    g_autofree char *version = frame_str (f, BGR_AGENT_F_AGENT_VERSION);
    g_autofree char *want_uname = g_strdup_printf ("%s %s %s %s %s", u.sysname, u.nodename, u.release,
                                                   u.version, u.machine);
    g_autoptr (GPtrArray) addrs = frame_strs (f, BGR_AGENT_F_ADDR);
    g_autoptr (GPtrArray) tools = frame_strs (f, BGR_AGENT_F_TOOL);

    g_assert_cmpint (frame_int (f, BGR_AGENT_F_VERSION), ==, BGR_AGENT_PROTOCOL_VERSION);
    g_assert_cmpstr (kernel, ==, u.release);
    g_assert_cmpstr (host, ==, g_get_host_name ());
    g_assert_cmpstr (uname_all, ==, want_uname);
    g_assert_cmpstr (version, ==, BANGER_VERSION);
    g_assert_cmpint (frame_int (f, BGR_AGENT_F_UPTIME_MS), >, 0);
    /* What `banger-vsock-agent --TOOL` does: a workspace's pack recipe. */
    g_assert_cmpuint (tools->len, ==, 1);
    g_assert_cmpstr (tools->pdata[0], ==, "assemble-pack");
    /* "IFACE ADDR/PREFIX", never loopback */
    for (guint i = 0; i < addrs->len; i++)
      {
        const char *s = addrs->pdata[i];
        g_test_message ("ADDR %s", s);
        g_assert_nonnull (strchr (s, ' '));
        g_assert_nonnull (strchr (s, '/'));
        g_assert_false (g_str_has_prefix (s, "lo "));
      }
    if (g_file_test ("/etc/os-release", G_FILE_TEST_EXISTS))
      {
        g_autofree char *id = frame_str (f, BGR_AGENT_F_OS_ID);
        g_autofree char *text = NULL;
        g_assert_nonnull (id);
        g_assert_true (g_file_get_contents ("/etc/os-release", &text, NULL, NULL));
        g_assert_nonnull (strstr (text, id));
        g_assert_null (strchr (id, '"'));
      }
  }

  /* Another protocol version still gets READY: the host decides. */
  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_VERSION, 99);
  agent_send_buf (a, BGR_AGENT_MSG_HELLO, 0, &b);
  {
    /* A version 1 host gets READY with the agent's own version 2: it is
     * the host that refuses (docs/agent-protocol.md). */
    g_autoptr (Frame) f = agent_expect (a, 0, BGR_AGENT_MSG_READY);
    g_assert_cmpint (frame_int (f, BGR_AGENT_F_VERSION), ==, 2);
  }

  agent_send (a, BGR_AGENT_MSG_PING, 9, NULL, 0);
  g_autoptr (Frame) pong = agent_expect (a, 9, BGR_AGENT_MSG_PONG);
  g_assert_cmpuint (pong->h.length, ==, 0);
}

static void
test_ports (Agent *a, gconstpointer data)
{
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t sl = sizeof sin;
  int s = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_autofree char *want = NULL;
  gboolean found = FALSE;

  g_assert_cmpint (s, >=, 0);
  g_assert_cmpint (bind (s, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  g_assert_cmpint (listen (s, 1), ==, 0);
  g_assert_cmpint (getsockname (s, (struct sockaddr *) &sin, &sl), ==, 0);
  /* Its owner is this program: the kernel keeps 15 bytes of its name. */
  want = g_strdup_printf ("tcp 127.0.0.1 %u %d test-agent-fact", ntohs (sin.sin_port), (int) getpid ());

  agent_send (a, BGR_AGENT_MSG_PORTS_REQ, 6, NULL, 0);
  g_autoptr (Frame) f = agent_expect (a, 6, BGR_AGENT_MSG_PORTS);
  g_autoptr (GPtrArray) ports = frame_strs (f, BGR_AGENT_F_PORT);
  for (guint i = 0; i < ports->len; i++)
    {
      g_auto (GStrv) w = g_strsplit (ports->pdata[i], " ", 5);
      g_test_message ("PORT %s", (char *) ports->pdata[i]);
      g_assert_cmpuint (g_strv_length (w), ==, 5);
      g_assert_true (g_strv_contains ((const char *const[]){ "tcp", "tcp6", "udp", "udp6", NULL }, w[0]));
      found |= g_str_equal (ports->pdata[i], want);
    }
  if (!found)
    g_error ("PORTS lacks \"%s\"", want);
  close (s);
}

static void
test_stats (Agent *a, gconstpointer data)
{
  agent_send (a, BGR_AGENT_MSG_STATS_REQ, 7, NULL, 0);
  g_autoptr (Frame) f = agent_expect (a, 7, BGR_AGENT_MSG_STATS);
  int64_t total = frame_int (f, BGR_AGENT_F_STAT_MEM_TOTAL);
  int64_t avail = frame_int (f, BGR_AGENT_F_STAT_MEM_AVAILABLE);

  g_assert_cmpint (total, >, 0);
  g_assert_cmpint (avail, >, 0);
  g_assert_cmpint (avail, <=, total);
  g_assert_cmpint (frame_int (f, BGR_AGENT_F_STAT_CPU_USER_MS), >=, 0);
  g_assert_cmpint (frame_int (f, BGR_AGENT_F_STAT_CPU_SYSTEM_MS), >=, 0);
  g_assert_cmpint (frame_int (f, BGR_AGENT_F_STAT_CPU_IDLE_MS), >=, 0);
  g_assert_cmpint (frame_int (f, BGR_AGENT_F_STAT_LOAD1_MILLI), >=, 0);
  g_assert_cmpint (frame_int (f, BGR_AGENT_F_STAT_UPTIME_MS), >, 0);
  g_assert_cmpint (frame_int (f, BGR_AGENT_F_STAT_DISK_TOTAL), >, 0);
  g_assert_cmpint (frame_int (f, BGR_AGENT_F_STAT_DISK_FREE), <=, frame_int (f, BGR_AGENT_F_STAT_DISK_TOTAL));
}

int
main (int argc, char *argv[])
{
  agent_fd_init (&argc, &argv);

#define ADD(path, fn) g_test_add (path, Agent, NULL, agent_start, fn, agent_stop)
  ADD ("/agent/hello", test_hello);
  ADD ("/agent/ports", test_ports);
  ADD ("/agent/stats", test_stats);
#undef ADD
  return g_test_run ();
}
