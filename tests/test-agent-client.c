/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host side of the agent protocol (agent-proto/bgr-agent-client.c):
 * against the real agent run on this host (--fd), many execs at once over
 * one connection; and against a fake guest that sends what a broken or
 * hostile guest could, which must give clear errors, never a crash or a
 * hang. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>

#include <banger/banger.h>

#include "agent-proto/bgr-agent-client-private.h"
#include "agent-proto/bgr-agent-proto.h"
#include "bgr-test-util.h"

/* A connected GIOStream over one end of a socketpair; *other gets the
 * other end. */
static GIOStream *
stream_pair (int *other)
{
  int sv[2];
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GError) err = NULL;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  sock = g_socket_new_from_fd (sv[0], &err);
  g_assert_no_error (err);
  *other = sv[1];
  return G_IO_STREAM (g_socket_connection_factory_create_connection (sock));
}

/* The real agent on the other end. */
static GPid
spawn_agent (int fd)
{
  const char *agent = bgr_test_program ("BANGER_AGENT");
  g_autofree char *fdarg = g_strdup_printf ("%d", 3);
  const char *argv[] = { agent, "--fd", fdarg, NULL };
  const int source_fds[] = { fd };
  const int target_fds[] = { 3 };
  g_autoptr (GError) err = NULL;
  GPid pid;

  g_assert_true (g_spawn_async_with_pipes_and_fds (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                                   NULL, -1, -1, -1, source_fds, target_fds, 1, &pid,
                                                   NULL, NULL, NULL, &err));
  g_assert_no_error (err);
  close (fd);
  return pid;
}

static void
reap (GPid pid)
{
  int status;
  kill (pid, SIGKILL);
  waitpid (pid, &status, 0);
}

typedef struct {
  BgrAgentConn *conn;
  int index;
  gboolean ok;
} Job;

static gpointer
exec_job (gpointer data)
{
  Job *j = data;
  g_autofree char *script = g_strdup_printf ("for i in 1 2 3; do echo job%d-$i; done; exit %d",
                                             j->index, j->index);
  const char *argv[] = { "sh", "-c", script, NULL };
  int out[2];
  gint status = -1;
  g_autoptr (GError) err = NULL;
  char buf[256] = "";
  g_autofree char *want = g_strdup_printf ("job%d-1\njob%d-2\njob%d-3\n", j->index, j->index, j->index);
  ssize_t n;

  g_assert_cmpint (pipe2 (out, O_CLOEXEC), ==, 0);
  j->ok = bgr_agent_conn_exec (j->conn, argv, NULL, NULL, 20000, -1, out[1], -1, &status, NULL, &err);
  close (out[1]);
  n = read (out[0], buf, sizeof buf - 1);
  close (out[0]);
  j->ok = j->ok && err == NULL && status == j->index && n > 0 && g_str_equal (buf, want);
  return NULL;
}

static gpointer
drain_fd (gpointer data)
{
  char buf[65536];
  while (read (GPOINTER_TO_INT (data), buf, sizeof buf) > 0)
    ;
  return NULL;
}

static gboolean
cancel_later (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

typedef struct {
  BgrAgentConn *conn;
  const char **argv;
  int out;
  GCancellable *cancel;
  GError *error;
  gint done;
} ExecArgs;

static gpointer
exec_thread (gpointer data)
{
  ExecArgs *a = data;
  bgr_agent_conn_exec (a->conn, a->argv, NULL, NULL, 0, -1, a->out, -1, NULL, a->cancel, &a->error);
  g_atomic_int_set (&a->done, 1);
  g_main_context_wakeup (NULL);
  return NULL;
}

static void
test_real_agent (void)
{
  int other;
  g_autoptr (GIOStream) stream = stream_pair (&other);
  GPid pid = spawn_agent (other);
  g_autoptr (BgrAgentConn) conn = bgr_agent_conn_new (stream);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrAgentFacts) facts = bgr_agent_conn_hello (conn, 20000, 1000, NULL, NULL, NULL, &err);
  struct utsname u;
  Job jobs[8];
  GThread *threads[8];
  g_auto (GStrv) ports = NULL;
  g_autoptr (GHashTable) stats = NULL;

  g_assert_no_error (err);
  g_assert_cmpint (uname (&u), ==, 0);
  g_assert_cmpstr (facts->kernel, ==, u.release);
  g_assert_true (facts->tools != NULL && g_strv_contains ((const char *const *) facts->tools, "assemble-pack"));
  g_assert_cmpint (facts->version, ==, BGR_AGENT_PROTOCOL_VERSION);

  /* Eight commands at once over the one connection, outputs kept apart. */
  for (int i = 0; i < 8; i++)
    {
      jobs[i] = (Job){ conn, i + 1, FALSE };
      threads[i] = g_thread_new ("job", exec_job, &jobs[i]);
    }
  for (int i = 0; i < 8; i++)
    {
      g_thread_join (threads[i]);
      g_assert_true (jobs[i].ok);
    }

  /* A command that cannot run, a timeout, a cancellation. */
  {
    const char *argv[] = { "/nonexistent/cmd", NULL };
    g_assert_false (bgr_agent_conn_exec (conn, argv, NULL, NULL, 0, -1, -1, -1, NULL, NULL, &err));
    g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
    g_clear_error (&err);
  }
  {
    const char *argv[] = { "sleep", "30", NULL };
    gint64 t0 = g_get_monotonic_time ();
    g_assert_false (bgr_agent_conn_exec (conn, argv, NULL, NULL, 200, -1, -1, -1, NULL, NULL, &err));
    g_assert_error (err, BGR_ERROR, BGR_ERROR_TIMED_OUT);
    g_clear_error (&err);
    g_assert_cmpint (g_get_monotonic_time () - t0, <, 10 * G_USEC_PER_SEC);
  }
  {
    const char *argv[] = { "sleep", "30", NULL };
    g_autoptr (GCancellable) c = g_cancellable_new ();
    g_cancellable_cancel (c);
    g_assert_false (bgr_agent_conn_exec (conn, argv, NULL, NULL, 0, -1, -1, -1, NULL, c, &err));
    g_assert_error (err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&err);
  }
  /* Cancelling a command that never stops writing: its output keeps the
   * queue busy, yet the cancel goes through at once. */
  {
    const char *argv[] = { "yes", NULL };
    g_autoptr (GCancellable) c = g_cancellable_new ();
    int out[2];
    gint64 t0;
    GThread *drain;

    g_assert_cmpint (pipe2 (out, O_CLOEXEC), ==, 0);
    drain = g_thread_new ("drain", drain_fd, GINT_TO_POINTER (out[0]));
    g_timeout_add (300, cancel_later, c);
    t0 = g_get_monotonic_time ();
    {
      GMainContext *ctx = g_main_context_default ();
      ExecArgs a = { conn, argv, out[1], c, NULL, FALSE };
      GThread *t = g_thread_new ("exec", exec_thread, &a);
      while (!g_atomic_int_get (&a.done))
        g_main_context_iteration (ctx, TRUE);
      g_thread_join (t);
      g_assert_error (a.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&a.error);
    }
    g_assert_cmpint (g_get_monotonic_time () - t0, <, 10 * G_USEC_PER_SEC);
    close (out[1]);
    g_thread_join (drain);
    close (out[0]);
  }
  /* Bad arguments never reach the guest. */
  {
    const char *argv[] = { NULL };
    g_assert_false (bgr_agent_conn_exec (conn, argv, NULL, NULL, 0, -1, -1, -1, NULL, NULL, &err));
    g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
    g_clear_error (&err);
  }
  ports = bgr_agent_conn_ports (conn, 20000, NULL, &err);
  g_assert_no_error (err);
  g_assert_nonnull (ports);
  stats = bgr_agent_conn_stats (conn, 20000, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpint (*(gint64 *) g_hash_table_lookup (stats, "mem_total"), >, 0);
  /* Outside a VM the agent refuses to shut down, with its reason. */
  g_assert_false (bgr_agent_conn_shutdown (conn, "poweroff", 20000, NULL, &err));
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err->message, "only available inside a VM"));
  g_clear_error (&err);

  /* The agent goes away: calls fail with the reason, none hangs. */
  reap (pid);
  {
    const char *argv[] = { "true", NULL };
    g_assert_false (bgr_agent_conn_exec (conn, argv, NULL, NULL, 0, -1, -1, -1, NULL, NULL, &err));
    g_assert_error (err, BGR_ERROR, BGR_ERROR_PROTOCOL);
    g_assert_nonnull (strstr (err->message, "lost the connection to the guest agent"));
    g_clear_error (&err);
  }
  g_assert_true (bgr_agent_conn_is_closed (conn));
}

/* ---- a fake guest ---- */

static void
send_raw (int fd, const void *data, gsize len)
{
  g_assert_true (write (fd, data, len) == (ssize_t) len);
}

static void
send_msg (int fd, guint16 type, guint32 channel, BgrAgentBuf *b)
{
  guint8 h[BGR_AGENT_HEADER_SIZE];
  bgr_agent_header_encode (h, type, channel, b != NULL ? (guint32) b->len : 0);
  send_raw (fd, h, sizeof h);
  if (b != NULL && b->len > 0)
    send_raw (fd, b->data, b->len);
}

/* Reads one whole frame from the host (type returned, channel out). */
static guint16
read_msg (int fd, guint32 *channel)
{
  guint8 h[BGR_AGENT_HEADER_SIZE];
  BgrAgentHeader hd;
  gsize got = 0;
  g_autofree guint8 *payload = NULL;

  while (got < sizeof h)
    {
      ssize_t n = read (fd, h + got, sizeof h - got);
      g_assert_cmpint (n, >, 0);
      got += (gsize) n;
    }
  g_assert_cmpint (bgr_agent_header_decode (h, &hd), ==, 0);
  payload = g_malloc (hd.length + 1);
  got = 0;
  while (got < hd.length)
    {
      ssize_t n = read (fd, payload + got, hd.length - got);
      g_assert_cmpint (n, >, 0);
      got += (gsize) n;
    }
  *channel = hd.channel;
  return hd.type;
}

typedef enum {
  FAKE_WRONG_VERSION,
  FAKE_OLD_AGENT,
  FAKE_BAD_MAGIC,
  FAKE_OVERSIZED,
  FAKE_CLOSE_MID_EXEC,
  FAKE_STRAY_FRAMES,
  FAKE_HOSTILE,
} FakeMode;

typedef struct {
  int fd;
  FakeMode mode;
} Fake;

static gpointer
fake_guest (gpointer data)
{
  Fake *f = data;
  guint32 ch;
  guint16 type = read_msg (f->fd, &ch);
  BgrAgentBuf b;

  g_assert_cmpint (type, ==, BGR_AGENT_MSG_HELLO);
  bgr_agent_buf_init (&b);
  switch (f->mode)
    {
    case FAKE_WRONG_VERSION:
      bgr_agent_buf_put_int (&b, BGR_AGENT_F_VERSION, 99);
      send_msg (f->fd, BGR_AGENT_MSG_READY, 0, &b);
      break;
    case FAKE_OLD_AGENT:
      bgr_agent_buf_put_int (&b, BGR_AGENT_F_VERSION, 1);
      send_msg (f->fd, BGR_AGENT_MSG_READY, 0, &b);
      break;
    case FAKE_BAD_MAGIC:
      send_raw (f->fd, "GARBAGE-NOT-A-FRAME-AT-ALL!", 27);
      break;
    case FAKE_OVERSIZED:
      {
        guint8 h[BGR_AGENT_HEADER_SIZE];
        bgr_agent_header_encode (h, BGR_AGENT_MSG_READY, 0, BGR_AGENT_MAX_PAYLOAD + 1);
        send_raw (f->fd, h, sizeof h);
      }
      break;
    case FAKE_HOSTILE:
      {
        /* A guest that reports too much: every answer past the bounds. */
        GString *big = g_string_new (NULL);
        BgrAgentBuf e;
        for (int i = 0; i < 2500; i++)
          g_string_append (big, "\xc3\xa9"); /* é: a cut must not split it */
        bgr_agent_buf_put_int (&b, BGR_AGENT_F_VERSION, BGR_AGENT_PROTOCOL_VERSION);
        bgr_agent_buf_put_str (&b, BGR_AGENT_F_OS_PRETTY, big->str);
        bgr_agent_buf_put_int (&b, BGR_AGENT_F_UPTIME_MS, -5);
        for (int i = 0; i < 1000; i++)
          bgr_agent_buf_put_str (&b, BGR_AGENT_F_ADDR, "eth0 10.0.0.1/8");
        send_msg (f->fd, BGR_AGENT_MSG_READY, 0, &b);
        bgr_agent_buf_clear (&b);

        g_assert_cmpint (read_msg (f->fd, &ch), ==, BGR_AGENT_MSG_PORTS_REQ);
        bgr_agent_buf_init (&e);
        bgr_agent_buf_put_str (&e, BGR_AGENT_F_PORT, big->str);
        for (int i = 0; i < 3000; i++)
          bgr_agent_buf_put_str (&e, BGR_AGENT_F_PORT, "tcp 0.0.0.0 22 1 sshd");
        send_msg (f->fd, BGR_AGENT_MSG_PORTS, ch, &e);
        bgr_agent_buf_clear (&e);

        g_assert_cmpint (read_msg (f->fd, &ch), ==, BGR_AGENT_MSG_STATS_REQ);
        bgr_agent_buf_init (&e);
        bgr_agent_buf_put_int (&e, BGR_AGENT_F_STAT_MEM_TOTAL, -1);
        bgr_agent_buf_put_int (&e, BGR_AGENT_F_STAT_CPU_USER_MS, G_MAXINT64);
        bgr_agent_buf_put_int (&e, BGR_AGENT_F_STAT_DISK_FREE, 4096);
        send_msg (f->fd, BGR_AGENT_MSG_STATS, ch, &e);
        bgr_agent_buf_clear (&e);

        g_assert_cmpint (read_msg (f->fd, &ch), ==, BGR_AGENT_MSG_EXEC);
        bgr_agent_buf_init (&e);
        bgr_agent_buf_put_int (&e, BGR_AGENT_F_EXIT_CODE, 100000);
        send_msg (f->fd, BGR_AGENT_MSG_EXIT, ch, &e);
        bgr_agent_buf_clear (&e);
        g_string_free (big, TRUE);
      }
      break;
    case FAKE_CLOSE_MID_EXEC:
    case FAKE_STRAY_FRAMES:
      bgr_agent_buf_put_int (&b, BGR_AGENT_F_VERSION, BGR_AGENT_PROTOCOL_VERSION);
      /* A READY whose fields are truncated is still a READY. */
      send_msg (f->fd, BGR_AGENT_MSG_READY, 0, &b);
      type = read_msg (f->fd, &ch);
      g_assert_cmpint (type, ==, BGR_AGENT_MSG_EXEC);
      if (f->mode == FAKE_STRAY_FRAMES)
        {
          BgrAgentBuf e;
          /* Output for a channel nobody asked for, an unknown type, then an
           * EXIT with no fields at all. */
          send_raw (f->fd, "", 0);
          bgr_agent_buf_init (&e);
          bgr_agent_buf_put_str (&e, BGR_AGENT_F_MESSAGE, "stray");
          send_msg (f->fd, BGR_AGENT_MSG_STDOUT, ch + 1000, &e);
          send_msg (f->fd, 999, ch, &e);
          bgr_agent_buf_clear (&e);
          send_msg (f->fd, BGR_AGENT_MSG_EXIT, ch, NULL);
        }
      break;
    }
  bgr_agent_buf_clear (&b);
  if (f->mode != FAKE_STRAY_FRAMES && f->mode != FAKE_HOSTILE)
    {
      shutdown (f->fd, SHUT_RDWR);
      close (f->fd);
    }
  return NULL;
}

static void
test_fake_guest (gconstpointer data)
{
  FakeMode mode = GPOINTER_TO_INT (data);
  Fake f = { -1, mode };
  g_autoptr (GIOStream) stream = stream_pair (&f.fd);
  g_autoptr (BgrAgentConn) conn = bgr_agent_conn_new (stream);
  GThread *t = g_thread_new ("fake-guest", fake_guest, &f);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrAgentFacts) facts = bgr_agent_conn_hello (conn, 20000, 60000, NULL, NULL, NULL, &err);

  switch (mode)
    {
    case FAKE_WRONG_VERSION:
      g_assert_null (facts);
      g_assert_error (err, BGR_ERROR, BGR_ERROR_PROTOCOL);
      g_assert_nonnull (strstr (err->message, "protocol version 99"));
      g_assert_nonnull (strstr (err->message, "update banger"));
      break;
    case FAKE_OLD_AGENT: /* a VM started by an older banger */
      g_assert_null (facts);
      g_assert_error (err, BGR_ERROR, BGR_ERROR_PROTOCOL);
      g_assert_nonnull (strstr (err->message, "speaks protocol version 1, banger speaks 2"));
      g_assert_nonnull (strstr (err->message, "restart the VM"));
      break;
    case FAKE_BAD_MAGIC:
      g_assert_null (facts);
      g_assert_error (err, BGR_ERROR, BGR_ERROR_PROTOCOL);
      g_assert_nonnull (strstr (err->message, "malformed frame header"));
      break;
    case FAKE_OVERSIZED:
      g_assert_null (facts);
      g_assert_error (err, BGR_ERROR, BGR_ERROR_PROTOCOL);
      break;
    case FAKE_CLOSE_MID_EXEC:
      {
        const char *argv[] = { "true", NULL };
        g_assert_no_error (err);
        g_assert_false (bgr_agent_conn_exec (conn, argv, NULL, NULL, 0, -1, -1, -1, NULL, NULL, &err));
        g_assert_error (err, BGR_ERROR, BGR_ERROR_PROTOCOL);
        g_assert_nonnull (strstr (err->message, "lost the connection"));
      }
      break;
    case FAKE_STRAY_FRAMES:
      {
        const char *argv[] = { "true", NULL };
        gint status = 42;
        g_assert_no_error (err);
        /* An EXIT without fields: the command ended, status unknown (-1 -> 128). */
        g_assert_true (bgr_agent_conn_exec (conn, argv, NULL, NULL, 0, -1, -1, -1, &status, NULL, &err));
        g_assert_no_error (err);
        g_assert_cmpint (status, ==, 128);
      }
      break;
    case FAKE_HOSTILE:
      {
        const char *argv[] = { "true", NULL };
        g_auto (GStrv) ports = NULL;
        g_autoptr (GHashTable) stats = NULL;
        gint status = -1;
        g_assert_no_error (err);
        /* Strings cut at a character boundary, with an ellipsis. */
        g_assert_cmpuint (strlen (facts->os_pretty), <=, 512 + 3);
        g_assert_true (g_utf8_validate (facts->os_pretty, -1, NULL));
        g_assert_true (g_str_has_suffix (facts->os_pretty, "\xe2\x80\xa6"));
        g_assert_true (g_str_has_prefix (facts->os_pretty, "\xc3\xa9\xc3\xa9"));
        g_assert_cmpuint (g_strv_length (facts->addrs), ==, 64);
        g_assert_cmpint (facts->uptime_ms, ==, 0);
        ports = bgr_agent_conn_ports (conn, 20000, NULL, &err);
        g_assert_no_error (err);
        g_assert_cmpuint (g_strv_length (ports), ==, 1024);
        g_assert_cmpuint (strlen (ports[0]), <=, 512 + 3);
        stats = bgr_agent_conn_stats (conn, 20000, NULL, &err);
        g_assert_no_error (err);
        g_assert_null (g_hash_table_lookup (stats, "mem_total"));
        g_assert_null (g_hash_table_lookup (stats, "cpu_user_ms"));
        g_assert_nonnull (g_hash_table_lookup (stats, "disk_free"));
        g_assert_true (bgr_agent_conn_exec (conn, argv, NULL, NULL, 0, -1, -1, -1, &status, NULL, &err));
        g_assert_no_error (err);
        g_assert_cmpint (status, ==, 255);
      }
      break;
    }
  g_thread_join (t);
  if (mode == FAKE_STRAY_FRAMES || mode == FAKE_HOSTILE)
    close (f.fd);
}

/* Flow control of stdin: a command that starts reading only after a
 * while still gets all of a stream far larger than the agent's 64 MiB
 * stdin buffer (the agent stops reading the connection meanwhile, so the
 * host's sends wait), and the connection serves other commands after. */
#define BIG_STDIN ((gsize) 96 * 1024 * 1024)

static gpointer
feed_stdin (gpointer data)
{
  int fd = GPOINTER_TO_INT (data);
  g_autofree char *buf = g_malloc0 (1024 * 1024);
  gsize left = BIG_STDIN;

  while (left > 0)
    {
      ssize_t n = write (fd, buf, MIN (left, (gsize) 1024 * 1024));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      left -= (gsize) n;
    }
  close (fd);
  return NULL;
}

static void
test_stdin_flow_control (void)
{
  int other, in[2], out[2];
  g_autoptr (GIOStream) stream = stream_pair (&other);
  GPid pid = spawn_agent (other);
  g_autoptr (BgrAgentConn) conn = bgr_agent_conn_new (stream);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrAgentFacts) facts = bgr_agent_conn_hello (conn, 20000, 1000, NULL, NULL, NULL, &err);
  const char *argv[] = { "sh", "-c", "sleep 2; wc -c", NULL };
  char buf[64] = "";
  g_autofree char *want = g_strdup_printf ("%" G_GSIZE_FORMAT, BIG_STDIN);
  gint status = -1;
  GThread *feeder;
  ssize_t n;

  g_assert_no_error (err);
  g_assert_nonnull (facts);
  g_assert_cmpint (pipe2 (in, O_CLOEXEC), ==, 0);
  g_assert_cmpint (pipe2 (out, O_CLOEXEC), ==, 0);
  feeder = g_thread_new ("feed", feed_stdin, GINT_TO_POINTER (in[1]));
  g_assert_true (bgr_agent_conn_exec (conn, argv, NULL, NULL, 120000, in[0], out[1], -1, &status,
                                      NULL, &err));
  g_assert_no_error (err);
  g_thread_join (feeder);
  close (in[0]);
  close (out[1]);
  n = read (out[0], buf, sizeof buf - 1);
  close (out[0]);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpint (n, >, 0);
  g_assert_cmpstr (g_strstrip (buf), ==, want);
  {
    Job j = { conn, 3, FALSE };
    exec_job (&j);
    g_assert_true (j.ok);
  }
  reap (pid);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  signal (SIGPIPE, SIG_IGN);
  g_test_add_func ("/agent-client/real-agent", test_real_agent);
  g_test_add_func ("/agent-client/stdin-flow-control", test_stdin_flow_control);
  g_test_add_data_func ("/agent-client/fake/old-agent", GINT_TO_POINTER (FAKE_OLD_AGENT),
                        test_fake_guest);
  g_test_add_data_func ("/agent-client/fake/wrong-version", GINT_TO_POINTER (FAKE_WRONG_VERSION),
                        test_fake_guest);
  g_test_add_data_func ("/agent-client/fake/bad-magic", GINT_TO_POINTER (FAKE_BAD_MAGIC),
                        test_fake_guest);
  g_test_add_data_func ("/agent-client/fake/oversized", GINT_TO_POINTER (FAKE_OVERSIZED),
                        test_fake_guest);
  g_test_add_data_func ("/agent-client/fake/close-mid-exec", GINT_TO_POINTER (FAKE_CLOSE_MID_EXEC),
                        test_fake_guest);
  g_test_add_data_func ("/agent-client/fake/stray-frames", GINT_TO_POINTER (FAKE_STRAY_FRAMES),
                        test_fake_guest);
  g_test_add_data_func ("/agent-client/fake/hostile", GINT_TO_POINTER (FAKE_HOSTILE),
                        test_fake_guest);
  return g_test_run ();
}
