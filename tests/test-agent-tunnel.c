/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TCP connections and terminals through the guest agent: the host side
 * (agent-proto/bgr-agent-tunnel.c, bgr-agent-pty.c) against the real agent
 * on this host (--fd), whose "guest" is this host: a TCP server of the
 * test's own answers through TCP_CONNECT, and commands run on a real
 * pseudo-terminal. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <banger/banger.h>

#include "agent-proto/bgr-agent-client-private.h"
#include "bgr-test-util.h"

typedef struct {
  BgrAgentConn *conn;
  GPid agent;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  const char *agent = bgr_test_program ("BANGER_AGENT");
  const char *argv[] = { agent, "--fd", "3", NULL };
  int sv[2];
  const int target_fds[] = { 3 };
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrAgentFacts) facts = NULL;

  (void) data;
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  g_assert_true (g_spawn_async_with_pipes_and_fds (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                                   NULL, -1, -1, -1, &sv[1], target_fds, 1,
                                                   &f->agent, NULL, NULL, NULL, &err));
  g_assert_no_error (err);
  close (sv[1]);
  sock = g_socket_new_from_fd (sv[0], &err);
  g_assert_no_error (err);
  stream = G_IO_STREAM (g_socket_connection_factory_create_connection (sock));
  f->conn = bgr_agent_conn_new (stream);
  facts = bgr_agent_conn_hello (f->conn, 10000, 2000, NULL, NULL, NULL, &err);
  g_assert_no_error (err);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  int status;
  (void) data;
  bgr_agent_conn_unref (f->conn);
  kill (f->agent, SIGKILL);
  waitpid (f->agent, &status, 0);
}

/* ---- a TCP server on 127.0.0.1: reads to EOF, answers, closes ---- */

typedef struct {
  GSocket *listener;
  guint port;
  GThread *thread;
  GString *received;
} Server;

static gpointer
server_thread (gpointer data)
{
  Server *s = data;
  g_autoptr (GSocket) c = g_socket_accept (s->listener, NULL, NULL);
  char buf[4096];
  gssize n;

  if (c == NULL)
    return NULL;
  g_socket_set_blocking (c, TRUE);
  while ((n = g_socket_receive (c, buf, sizeof buf, NULL, NULL)) > 0)
    g_string_append_len (s->received, buf, n);
  /* After the client's half-close: the answer, then our own close. */
  g_socket_send (c, "got:", 4, NULL, NULL);
  g_socket_send (c, s->received->str, s->received->len, NULL, NULL);
  g_socket_close (c, NULL);
  return NULL;
}

static Server *
server_start (void)
{
  Server *s = g_new0 (Server, 1);
  g_autoptr (GError) err = NULL;
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  s->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &err);
  g_assert_no_error (err);
  g_assert_true (g_socket_bind (s->listener, any, TRUE, &err));
  g_assert_true (g_socket_listen (s->listener, &err));
  bound = g_socket_get_local_address (s->listener, &err);
  g_assert_no_error (err);
  s->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  s->received = g_string_new (NULL);
  s->thread = g_thread_new ("server", server_thread, s);
  return s;
}

static void
server_free (Server *s)
{
  g_thread_join (s->thread);
  g_object_unref (s->listener);
  g_string_free (s->received, TRUE);
  g_free (s);
}

/* A free port on 127.0.0.1: bound, then closed again. */
static guint
closed_port (void)
{
  g_autoptr (GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                        G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (s, any, FALSE, NULL));
  bound = g_socket_get_local_address (s, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

typedef struct {
  BgrAgentConn *conn;
  const char *addr;
  guint port;
  int fd;
  gboolean ok;
  GError *error;
} Bridge;

static gpointer
bridge_thread (gpointer data)
{
  Bridge *b = data;
  b->ok = bgr_agent_conn_tcp_bridge (b->conn, b->addr, b->port, b->fd, b->fd, NULL, &b->error);
  return NULL;
}

/* Bytes both ways, with half-closes: the server only answers once it saw
 * our end of input, and the bridge returns once both sides ended. */
static void
test_tcp_bridge (Fixture *f, gconstpointer data)
{
  Server *s = server_start ();
  int sv[2];
  Bridge b = { .conn = f->conn, .port = s->port };
  GThread *th;
  GString *answer = g_string_new (NULL);
  char buf[4096];
  ssize_t n;

  (void) data;
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  b.fd = sv[1];
  th = g_thread_new ("bridge", bridge_thread, &b);
  g_assert_cmpint (write (sv[0], "hello ", 6), ==, 6);
  g_assert_cmpint (write (sv[0], "guest", 5), ==, 5);
  shutdown (sv[0], SHUT_WR);
  while ((n = read (sv[0], buf, sizeof buf)) > 0) /* EOF: the guest side's half-close */
    g_string_append_len (answer, buf, n);
  g_thread_join (th);
  g_assert_no_error (b.error);
  g_assert_true (b.ok);
  g_assert_cmpstr (answer->str, ==, "got:hello guest");
  g_string_free (answer, TRUE);
  close (sv[0]);
  close (sv[1]);
  server_free (s);
}

static void
test_tcp_refused (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  guint port = closed_port ();
  g_autofree char *expected = g_strdup_printf ("cannot connect to 127.0.0.1:%u: Connection refused", port);
  int devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);

  (void) data;
  g_assert_false (bgr_agent_conn_tcp_bridge (f->conn, NULL, port, devnull, devnull, NULL, &err));
  g_assert_nonnull (err);
  g_assert_cmpstr (err->message, ==, expected);
  g_clear_error (&err);
  /* Not an address: refused by the agent, which carries on. */
  g_assert_false (bgr_agent_conn_tcp_bridge (f->conn, "not-an-ip", 80, devnull, devnull, NULL, &err));
  g_assert_nonnull (strstr (err->message, "TCP_ADDR is not an IPv4 or IPv6 address"));
  g_clear_error (&err);
  g_assert_false (bgr_agent_conn_tcp_bridge (f->conn, NULL, 0, devnull, devnull, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  close (devnull);
}

/* ---- terminals ---- */

typedef struct {
  BgrAgentConn *conn;
  const char *const *argv;
  BgrAgentTerminal term;
  int in_fd, out_fd;
  gint status;
  gboolean ok;
  GError *error;
} Exec;

static gpointer
exec_thread (gpointer data)
{
  Exec *e = data;
  e->ok = bgr_agent_conn_exec_terminal (e->conn, e->argv, NULL, NULL, 30000, &e->term, e->in_fd,
                                        e->out_fd, -1, &e->status, NULL, &e->error);
  close (e->out_fd);
  return NULL;
}

/* Reads @fd into @acc until it holds @want (or EOF / 20 s). */
static gboolean
read_until (int fd, GString *acc, const char *want)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (strstr (acc->str, want) == NULL && g_get_monotonic_time () < deadline)
    {
      struct pollfd p = { .fd = fd, .events = POLLIN };
      char buf[1024];
      ssize_t n;
      if (poll (&p, 1, 200) <= 0)
        continue;
      n = read (fd, buf, sizeof buf);
      if (n <= 0)
        break;
      g_string_append_len (acc, buf, n);
    }
  return strstr (acc->str, want) != NULL;
}

static void
test_pty (Fixture *f, gconstpointer data)
{
  const char *argv[] = { "sh", "-c",
                         "stty size; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo tty-ok; "
                         "trap 'stty size; exit 3' WINCH; echo ready; "
                         "while :; do sleep 0.05; done", NULL };
  int in[2], out[2], rs[2];
  Exec e = { .conn = f->conn, .argv = argv, .term = { TRUE, 33, 101, -1 } };
  GString *acc = g_string_new (NULL);
  GThread *th;

  (void) data;
  g_assert_cmpint (pipe2 (in, O_CLOEXEC), ==, 0);
  g_assert_cmpint (pipe2 (out, O_CLOEXEC), ==, 0);
  g_assert_cmpint (pipe2 (rs, O_CLOEXEC), ==, 0);
  e.in_fd = in[0];
  e.out_fd = out[1];
  e.term.resize_fd = rs[0];
  th = g_thread_new ("exec", exec_thread, &e);
  g_assert_true (read_until (out[0], acc, "ready"));
  g_assert_nonnull (strstr (acc->str, "33 101"));
  g_assert_nonnull (strstr (acc->str, "tty-ok"));
  g_assert_cmpint (write (rs[1], "40 120\n", 7), ==, 7);
  g_assert_true (read_until (out[0], acc, "40 120"));
  g_thread_join (th);
  g_assert_no_error (e.error);
  g_assert_cmpint (e.status, ==, 3);
  g_string_free (acc, TRUE);
  for (int i = 0; i < 2; i++)
    close (in[i]), close (rs[i]);
  close (out[0]);
}

/* Ctrl-C typed on the terminal reaches the foreground process. */
static void
test_pty_ctrl_c (Fixture *f, gconstpointer data)
{
  const char *argv[] = { "sh", "-c", "echo ready; exec sleep 30", NULL };
  int in[2], out[2];
  Exec e = { .conn = f->conn, .argv = argv, .term = { TRUE, 0, 0, -1 } };
  GString *acc = g_string_new (NULL);
  GThread *th;
  gint64 t0 = g_get_monotonic_time ();

  (void) data;
  g_assert_cmpint (pipe2 (in, O_CLOEXEC), ==, 0);
  g_assert_cmpint (pipe2 (out, O_CLOEXEC), ==, 0);
  e.in_fd = in[0];
  e.out_fd = out[1];
  th = g_thread_new ("exec", exec_thread, &e);
  g_assert_true (read_until (out[0], acc, "ready"));
  /* "ready" comes before the exec of sleep: keep typing Ctrl-C until the
   * command ends (once sleep runs, the first one kills it). */
  while (g_get_monotonic_time () - t0 < 20 * G_USEC_PER_SEC)
    {
      struct pollfd p = { .fd = out[0], .events = POLLIN };
      g_assert_cmpint (write (in[1], "\x03", 1), ==, 1);
      if (poll (&p, 1, 300) > 0)
        {
          char buf[256];
          if (read (out[0], buf, sizeof buf) <= 0)
            break;
        }
    }
  g_thread_join (th);
  g_assert_no_error (e.error);
  g_assert_cmpint (e.status, ==, 128 + SIGINT);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 20 * G_USEC_PER_SEC);
  g_string_free (acc, TRUE);
  for (int i = 0; i < 2; i++)
    close (in[i]);
  close (out[0]);
}

static void
test_window_size_parse (void)
{
  guint r = 0, c = 0;
  g_assert_true (bgr_agent_parse_window_size ("24 80", &r, &c));
  g_assert_cmpuint (r, ==, 24);
  g_assert_cmpuint (c, ==, 80);
  g_assert_false (bgr_agent_parse_window_size ("0 80", &r, &c));
  g_assert_false (bgr_agent_parse_window_size ("24x80", &r, &c));
  g_assert_false (bgr_agent_parse_window_size ("24 80 1", &r, &c));
  g_assert_false (bgr_agent_parse_window_size ("24 70000", &r, &c));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  signal (SIGPIPE, SIG_IGN);
  g_test_add ("/agent-tunnel/tcp-bridge", Fixture, NULL, fixture_set_up, test_tcp_bridge, fixture_tear_down);
  g_test_add ("/agent-tunnel/tcp-refused", Fixture, NULL, fixture_set_up, test_tcp_refused, fixture_tear_down);
  g_test_add ("/agent-tunnel/pty", Fixture, NULL, fixture_set_up, test_pty, fixture_tear_down);
  g_test_add ("/agent-tunnel/pty-ctrl-c", Fixture, NULL, fixture_set_up, test_pty_ctrl_c, fixture_tear_down);
  g_test_add_func ("/agent-tunnel/window-size", test_window_size_parse);
  return g_test_run ();
}
