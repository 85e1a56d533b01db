/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sessions in the guest agent (docs/agent-protocol.md, "Sessions"), the
 * real agent on this host against the host side of the protocol
 * (agent-proto/bgr-agent-sessions.c): start with its checks, list, logs,
 * attach (exclusive, stdin EOF, detach), stop, and a session that runs on
 * while no host is connected and loses no output. Also the spool ring on
 * its own (agent/agent-spool.c). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <banger/banger.h>

#include "agent-proto/bgr-agent-sessions-private.h"
#include "agent-proto/bgr-agent-proto.h"
#include "bgr-test-util.h"

#define WAIT_US (20 * G_USEC_PER_SEC)

typedef struct {
  char *dir;
  char *sock;
  GPid pid;
} Agent;

/* The real agent in host mode (--listen), so that a host can go away and
 * come back. */
static void
agent_start (Agent *a)
{
  const char *agent = bgr_test_program ("BANGER_AGENT");
  g_autoptr (GError) err = NULL;
  gint64 deadline = g_get_monotonic_time () + WAIT_US;

  a->dir = g_dir_make_tmp ("bgr-sessions-XXXXXX", &err);
  g_assert_no_error (err);
  a->sock = g_build_filename (a->dir, "agent.sock", NULL);
  {
    const char *argv[] = { agent, "--listen", a->sock, NULL };
    g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD
                                  | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &a->pid, &err));
    g_assert_no_error (err);
  }
  while (!g_file_test (a->sock, G_FILE_TEST_EXISTS))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (5000);
    }
}

static void
agent_stop (Agent *a)
{
  int status;
  kill (a->pid, SIGTERM); /* the power button: it takes its sessions down */
  waitpid (a->pid, &status, 0);
  g_assert_false (g_file_test (a->sock, G_FILE_TEST_EXISTS));
  g_rmdir (a->dir);
  g_free (a->sock);
  g_free (a->dir);
}

static BgrAgentConn *
agent_connect (Agent *a)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (a->sock);
  g_autoptr (GError) err = NULL;
  g_autoptr (GSocketConnection) sc = NULL;
  BgrAgentConn *conn;
  g_autoptr (BgrAgentFacts) facts = NULL;
  gint64 deadline = g_get_monotonic_time () + WAIT_US;

  /* The socket file exists from bind(), a moment before listen(). */
  while ((sc = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (addr), NULL, &err)) == NULL
         && g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)
         && g_get_monotonic_time () < deadline)
    {
      g_clear_error (&err);
      g_usleep (5000);
    }
  g_assert_no_error (err);
  conn = bgr_agent_conn_new (G_IO_STREAM (sc));
  facts = bgr_agent_conn_hello (conn, 10000, 2000, NULL, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpint (facts->version, ==, BGR_AGENT_PROTOCOL_VERSION);
  return conn;
}

static JsonObject *
show (BgrAgentConn *conn, const char *name)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) list = bgr_agent_conn_session_list (conn, name, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (list->len, ==, 1);
  return json_object_ref (list->pdata[0]);
}

static JsonObject *
wait_exited (BgrAgentConn *conn, const char *name)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_US;
  for (;;)
    {
      JsonObject *s = show (conn, name);
      if (g_str_equal (json_object_get_string_member (s, "state"), "exited"))
        return s;
      json_object_unref (s);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10000);
    }
}

static char *
read_all (BgrAgentConn *conn, const char *name, int stream, gboolean follow)
{
  g_autoptr (GError) err = NULL;
  GByteArray *into = g_byte_array_new ();
  guint64 start = 99, next = 0;

  g_assert_true (bgr_agent_conn_session_read (conn, name, stream, 0, follow, -1, into, &start,
                                              &next, NULL, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (start, ==, 0);
  g_assert_cmpuint (next, ==, into->len);
  g_byte_array_append (into, (const guint8 *) "", 1);
  return (char *) g_byte_array_free (into, FALSE);
}

static JsonObject *
start (BgrAgentConn *conn, const char *name, const char *const *argv, const char *cwd,
       gboolean pipe, const char *const *require, GError **error)
{
  return bgr_agent_conn_session_start (conn, name, argv, NULL, cwd, pipe, NULL, require, NULL,
                                       error);
}

static JsonObject *
start_session_plain (BgrAgentConn *conn, const char *name, const char *const *argv)
{
  g_autoptr (GError) err = NULL;
  JsonObject *s = start (conn, name, argv, NULL, FALSE, NULL, &err);
  g_assert_no_error (err);
  return s;
}

static void
test_start_list_logs (void)
{
  Agent a;
  g_autoptr (BgrAgentConn) conn = NULL;
  const char *argv[] = { "sh", "-c", "for i in 1 2 3; do echo out$i; echo err$i >&2; done; exit 3",
                         NULL };
  const char *env[] = { "GREETING=hello", NULL };
  const char *envargv[] = { "sh", "-c", "echo $GREETING; pwd", NULL };
  g_autoptr (GError) err = NULL;
  g_autoptr (JsonObject) s = NULL;
  g_autoptr (JsonObject) done = NULL;
  g_autofree char *out = NULL, *errs = NULL, *envout = NULL;
  g_autoptr (GPtrArray) list = NULL;

  agent_start (&a);
  conn = agent_connect (&a);
  s = start (conn, "counter", argv, NULL, FALSE, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (json_object_get_string_member (s, "name"), ==, "counter");
  g_assert_cmpstr (json_object_get_string_member (s, "stdin_mode"), ==, "detached");
  g_assert_cmpint (json_object_get_int_member (s, "pid"), >, 0);
  done = wait_exited (conn, "counter");
  g_assert_cmpint (json_object_get_int_member (done, "exit_code"), ==, 3);
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (done, "argv"), 2),
                   ==, argv[2]);
  out = read_all (conn, "counter", BGR_AGENT_STREAM_STDOUT, FALSE);
  errs = read_all (conn, "counter", BGR_AGENT_STREAM_STDERR, TRUE); /* exited: follow ends */
  g_assert_cmpstr (out, ==, "out1\nout2\nout3\n");
  g_assert_cmpstr (errs, ==, "err1\nerr2\nerr3\n");
  g_assert_cmpint (json_object_get_int_member (done, "stdout_bytes"), ==, strlen (out));

  g_clear_pointer (&s, json_object_unref);
  s = bgr_agent_conn_session_start (conn, "env", envargv, env, a.dir, FALSE, NULL, NULL, NULL,
                                    &err);
  g_assert_no_error (err);
  g_clear_pointer (&s, json_object_unref);
  s = wait_exited (conn, "env");
  envout = read_all (conn, "env", BGR_AGENT_STREAM_STDOUT, FALSE);
  {
    g_autofree char *want = g_strdup_printf ("hello\n%s\n", a.dir);
    g_assert_cmpstr (envout, ==, want);
  }
  list = bgr_agent_conn_session_list (conn, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (list->len, ==, 2);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = bgr_agent_conn_session_list (conn, "nope", NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (err->message, "no session 'nope'"));
  g_assert_null (list);
  agent_stop (&a);
}

/* Each failed check is its own error, and nothing is left behind. */
static void
test_preflight (void)
{
  Agent a;
  g_autoptr (BgrAgentConn) conn = NULL;
  const char *sleeper[] = { "sleep", "100", NULL };
  const char *missing[] = { "no-such-command-banger", NULL };
  const char *require[] = { "sh", "no-such-tool-banger", NULL };
  const char *bad_req[] = { "", NULL };
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) list = NULL;
  JsonObject *s;

  agent_start (&a);
  conn = agent_connect (&a);
  g_assert_null (start (conn, "s", sleeper, "/no/such/dir", FALSE, NULL, &err));
  g_assert_nonnull (strstr (err->message, "working directory '/no/such/dir' does not exist"));
  g_clear_error (&err);
  g_assert_null (start (conn, "s", sleeper, "/etc/passwd", FALSE, NULL, &err));
  g_assert_nonnull (strstr (err->message, "'/etc/passwd' is not a directory"));
  g_clear_error (&err);
  g_assert_null (start (conn, "s", missing, NULL, FALSE, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (err->message, "command 'no-such-command-banger' not found"));
  g_clear_error (&err);
  g_assert_null (start (conn, "s", sleeper, NULL, FALSE, require, &err));
  g_assert_nonnull (strstr (err->message, "required command 'no-such-tool-banger' not found"));
  g_clear_error (&err);
  g_assert_null (start (conn, "s", sleeper, NULL, FALSE, bad_req, &err));
  g_assert_nonnull (strstr (err->message, "REQUIRE is empty"));
  g_clear_error (&err);
  g_assert_null (start (conn, "../escape", sleeper, NULL, FALSE, NULL, &err));
  g_assert_nonnull (strstr (err->message, "not a valid session name"));
  g_clear_error (&err);
  list = bgr_agent_conn_session_list (conn, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (list->len, ==, 0);

  /* A running name is taken; signals reach it; an exited name is free. */
  s = start (conn, "s", sleeper, NULL, FALSE, NULL, &err);
  g_assert_no_error (err);
  json_object_unref (s);
  g_assert_null (start (conn, "s", sleeper, NULL, FALSE, NULL, &err));
  g_assert_nonnull (strstr (err->message, "session 's' is already running"));
  g_clear_error (&err);
  g_assert_true (bgr_agent_conn_session_signal (conn, "s", SIGKILL, NULL, &err));
  s = wait_exited (conn, "s");
  g_assert_cmpint (json_object_get_int_member (s, "signal"), ==, SIGKILL);
  json_object_unref (s);
  s = start (conn, "s", sleeper, NULL, FALSE, NULL, &err);
  g_assert_no_error (err);
  json_object_unref (s);
  agent_stop (&a);
}

typedef struct {
  BgrAgentConn *conn;
  const char *name;
  int in;
  int out;
  gboolean term;
  int resize; /* with term */
  GCancellable *cancel;
  gboolean ok, exited;
  gint status;
  GError *error;
  gint done;
} Attach;

static gpointer
attach_thread (gpointer data)
{
  Attach *t = data;
  t->ok = bgr_agent_conn_session_attach (t->conn, t->name, t->in, t->out, -1,
                                         t->term ? t->resize : -1, &t->exited, &t->status,
                                         t->cancel, &t->error);
  g_atomic_int_set (&t->done, 1);
  return NULL;
}

static gboolean
is_attached (BgrAgentConn *conn, const char *name)
{
  g_autoptr (JsonObject) s = show (conn, name);
  return json_object_get_boolean_member (s, "attached");
}

static void
test_attach (void)
{
  Agent a;
  g_autoptr (BgrAgentConn) conn = NULL;
  const char *cat[] = { "cat", NULL };
  const char *sleeper[] = { "sleep", "100", NULL };
  g_autoptr (GError) err = NULL;
  int in[2], out[2];
  Attach t = { 0 };
  GThread *th;
  gboolean exited;
  gint status;
  char buf[64] = "";
  gint64 deadline = g_get_monotonic_time () + WAIT_US;

  agent_start (&a);
  conn = agent_connect (&a);
  json_object_unref (start (conn, "cat", cat, NULL, TRUE, NULL, &err));
  g_assert_no_error (err);
  json_object_unref (start (conn, "quiet", sleeper, NULL, FALSE, NULL, &err));
  g_assert_no_error (err);

  g_assert_false (bgr_agent_conn_session_attach (conn, "quiet", -1, -1, -1, -1, &exited, &status,
                                                 NULL, &err));
  g_assert_nonnull (strstr (err->message, "no stdin to attach to"));
  g_clear_error (&err);

  /* First attach holds the session; a second is refused. */
  g_assert_cmpint (pipe2 (in, O_CLOEXEC), ==, 0);
  g_assert_cmpint (pipe2 (out, O_CLOEXEC), ==, 0);
  t.conn = conn, t.name = "cat", t.in = in[0], t.out = out[1];
  th = g_thread_new ("attach", attach_thread, &t);
  while (!is_attached (conn, "cat"))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10000);
    }
  g_assert_false (bgr_agent_conn_session_attach (conn, "cat", -1, -1, -1, -1, &exited, &status, NULL,
                                                 &err));
  g_assert_nonnull (strstr (err->message, "session 'cat' is attached already"));
  g_clear_error (&err);

  /* Its stdin reaches cat; EOF ends cat and the attach with its status. */
  g_assert_cmpint (write (in[1], "hi\n", 3), ==, 3);
  close (in[1]);
  g_thread_join (th);
  close (out[1]);
  g_assert_no_error (t.error);
  g_assert_true (t.ok);
  g_assert_true (t.exited);
  g_assert_cmpint (t.status, ==, 0);
  g_assert_cmpint (read (out[0], buf, sizeof buf - 1), ==, 3);
  g_assert_cmpstr (buf, ==, "hi\n");
  close (out[0]);
  close (in[0]);

  /* Detaching leaves the session running, and it can be attached again. */
  json_object_unref (start (conn, "cat2", cat, NULL, TRUE, NULL, &err));
  g_assert_no_error (err);
  memset (&t, 0, sizeof t);
  g_assert_cmpint (pipe2 (in, O_CLOEXEC), ==, 0);
  t.conn = conn, t.name = "cat2", t.in = in[0], t.out = -1;
  t.cancel = g_cancellable_new ();
  th = g_thread_new ("attach", attach_thread, &t);
  while (!is_attached (conn, "cat2"))
    g_usleep (10000);
  g_cancellable_cancel (t.cancel);
  g_thread_join (th);
  g_assert_no_error (t.error);
  g_assert_true (t.ok);
  g_assert_false (t.exited);
  g_object_unref (t.cancel);
  close (in[0]);
  close (in[1]);
  {
    g_autoptr (JsonObject) s = show (conn, "cat2");
    g_assert_cmpstr (json_object_get_string_member (s, "state"), ==, "running");
    g_assert_false (json_object_get_boolean_member (s, "attached"));
  }
  agent_stop (&a);
}

/* The host goes away and comes back: the session ran on, and its output
 * while nobody was connected is all there. SESSION_STOP: SIGTERM, then
 * SIGKILL after the grace period for one that ignores SIGTERM. */
static void
test_survives_host (void)
{
  Agent a;
  BgrAgentConn *conn;
  const char *ticker[] = { "sh", "-c", "i=0; while :; do echo $i; i=$((i+1)); sleep 0.01; done",
                           NULL };
  const char *stubborn[] = { "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done",
                             NULL };
  g_autoptr (GError) err = NULL;
  g_autoptr (JsonObject) s = NULL;
  g_autofree char *out = NULL;
  g_auto (GStrv) lines = NULL;
  gint64 before, deadline = g_get_monotonic_time () + WAIT_US;
  guint n;

  agent_start (&a);
  conn = agent_connect (&a);
  json_object_unref (start (conn, "ticker", ticker, NULL, FALSE, NULL, &err));
  g_assert_no_error (err);
  s = show (conn, "ticker");
  before = json_object_get_int_member (s, "stdout_bytes");
  bgr_agent_conn_unref (conn);

  /* Away until the agent has spooled more: read its spool file directly
   * would be cheating; a new host is what a restarted daemon is. */
  conn = agent_connect (&a);
  for (;;)
    {
      g_clear_pointer (&s, json_object_unref);
      s = show (conn, "ticker");
      if (json_object_get_int_member (s, "stdout_bytes") > before + 200)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      bgr_agent_conn_unref (conn);
      g_usleep (20000);
      conn = agent_connect (&a);
    }
  g_assert_cmpstr (json_object_get_string_member (s, "state"), ==, "running");
  g_assert_true (bgr_agent_conn_session_stop (conn, "ticker", 5000, NULL, &err));
  g_assert_no_error (err);
  g_clear_pointer (&s, json_object_unref);
  s = wait_exited (conn, "ticker");
  g_assert_cmpint (json_object_get_int_member (s, "signal"), ==, SIGTERM);
  out = read_all (conn, "ticker", BGR_AGENT_STREAM_STDOUT, FALSE);
  lines = g_strsplit (out, "\n", -1);
  n = g_strv_length (lines);
  g_assert_cmpuint (n, >, 20);
  for (guint i = 0; i + 1 < n; i++)
    {
      g_autofree char *want = g_strdup_printf ("%u", i);
      g_assert_cmpstr (lines[i], ==, want); /* no gap, no repeat */
    }

  json_object_unref (start (conn, "stubborn", stubborn, NULL, FALSE, NULL, &err));
  g_assert_no_error (err);
  while (json_object_get_int_member (s, "stdout_bytes") == 0
         || !g_str_equal (json_object_get_string_member (s, "name"), "stubborn"))
    {
      g_clear_pointer (&s, json_object_unref);
      s = show (conn, "stubborn");
    }
  g_assert_true (bgr_agent_conn_session_stop (conn, "stubborn", 100, NULL, &err));
  g_clear_pointer (&s, json_object_unref);
  s = wait_exited (conn, "stubborn");
  g_assert_cmpint (json_object_get_int_member (s, "signal"), ==, SIGKILL);
  bgr_agent_conn_unref (conn);
  agent_stop (&a);
}

/* A session that wrote more than its spool keeps: the oldest bytes are
 * dropped and counted, and a read from 0 starts at the first one kept. */
static void
test_dropped (void)
{
  Agent a;
  g_autoptr (BgrAgentConn) conn = NULL;
  const char *argv[] = { "sh", "-c", "yes 0123456789abcdef | head -c 9437184", NULL };
  const char pattern[] = "0123456789abcdef\n";
  const guint64 total = 9437184, kept = BGR_AGENT_LOG_MAX_DEFAULT;
  g_autoptr (GError) err = NULL;
  g_autoptr (JsonObject) s = NULL;
  g_autoptr (GByteArray) data = g_byte_array_new ();
  guint64 start = 0, next = 0;

  agent_start (&a);
  conn = agent_connect (&a);
  json_object_unref (start_session_plain (conn, "big", argv));
  s = wait_exited (conn, "big");
  g_assert_cmpint (json_object_get_int_member (s, "stdout_bytes"), ==, total);
  g_assert_cmpint (json_object_get_int_member (s, "stdout_dropped"), ==, total - kept);
  g_assert_true (bgr_agent_conn_session_read (conn, "big", BGR_AGENT_STREAM_STDOUT, 0, FALSE, -1,
                                              data, &start, &next, NULL, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (start, ==, total - kept);
  g_assert_cmpuint (next, ==, total);
  g_assert_cmpuint (data->len, ==, kept);
  for (guint i = 0; i < data->len; i += 4099)
    g_assert_cmpint (data->data[i], ==, pattern[(start + i) % 17]);
  agent_stop (&a);
}

/* The session's stdout once it holds @needle. */
static char *
wait_output (BgrAgentConn *conn, const char *name, const char *needle)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_US;
  char *out;

  while (strstr ((out = read_all (conn, name, BGR_AGENT_STREAM_STDOUT, FALSE)), needle) == NULL)
    {
      g_free (out);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10000);
    }
  return out;
}

/* Reads @fd (non-blocking) into @got until it holds @needle. */
static void
read_until (int fd, GString *got, const char *needle)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_US;
  char buf[256];

  while (strstr (got->str, needle) == NULL)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n > 0)
        g_string_append_len (got, buf, n);
      else
        g_usleep (10000);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
}

/* A session on a pseudo-terminal: its first size, the terminal on its
 * stdin, a resize through the attach (SIGWINCH), Ctrl-C as SIGINT, and all
 * output on stdout. */
static void
test_pty (void)
{
  Agent a;
  g_autoptr (BgrAgentConn) conn = NULL;
  const char *winch[] = { "sh", "-c",
                          "stty size; [ -t 0 ] && echo stdin-is-a-tty; echo to-stderr >&2; "
                          "trap 'stty size; exit 7' WINCH; echo ready; while :; do sleep 0.05; done",
                          NULL };
  const char *sleeper[] = { "sh", "-c", "echo ready; exec sleep 60", NULL };
  BgrAgentTerminal term = { .pty = TRUE, .rows = 30, .cols = 100, .resize_fd = -1 };
  g_autoptr (GError) err = NULL;
  g_autoptr (JsonObject) s = NULL;
  g_autoptr (GString) got = g_string_new ("");
  g_autofree char *out = NULL, *errs = NULL;
  int in[2], o[2], rs[2];
  Attach t = { 0 };
  GThread *th;

  agent_start (&a);
  conn = agent_connect (&a);
  s = bgr_agent_conn_session_start (conn, "term", winch, NULL, NULL, TRUE, &term, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_true (json_object_get_boolean_member (s, "pty"));
  g_assert_cmpint (pipe2 (in, O_CLOEXEC), ==, 0);
  g_assert_cmpint (pipe2 (o, O_CLOEXEC | O_NONBLOCK), ==, 0);
  g_assert_cmpint (pipe2 (rs, O_CLOEXEC), ==, 0);
  t.conn = conn, t.name = "term", t.in = in[0], t.out = o[1], t.term = TRUE, t.resize = rs[0];
  th = g_thread_new ("attach", attach_thread, &t);
  while (!is_attached (conn, "term"))
    g_usleep (10000);
  out = wait_output (conn, "term", "ready");
  g_assert_nonnull (strstr (out, "30 100\r\n"));
  g_assert_nonnull (strstr (out, "stdin-is-a-tty"));
  g_assert_nonnull (strstr (out, "to-stderr"));
  errs = read_all (conn, "term", BGR_AGENT_STREAM_STDERR, FALSE);
  g_assert_cmpstr (errs, ==, "");
  g_assert_cmpint (write (rs[1], "40 120\n", 7), ==, 7);
  g_thread_join (th);
  g_assert_no_error (t.error);
  g_assert_true (t.exited);
  g_assert_cmpint (t.status, ==, 7);
  read_until (o[0], got, "40 120");
  for (int i = 0; i < 2; i++)
    close (in[i]), close (o[i]), close (rs[i]);

  /* Ctrl-C typed into the terminal interrupts the foreground process. */
  g_clear_pointer (&s, json_object_unref);
  s = bgr_agent_conn_session_start (conn, "intr", sleeper, NULL, NULL, TRUE, &term, NULL, NULL, &err);
  g_assert_no_error (err);
  memset (&t, 0, sizeof t);
  g_string_truncate (got, 0);
  g_assert_cmpint (pipe2 (in, O_CLOEXEC), ==, 0);
  g_assert_cmpint (pipe2 (o, O_CLOEXEC | O_NONBLOCK), ==, 0);
  t.conn = conn, t.name = "intr", t.in = in[0], t.out = o[1];
  th = g_thread_new ("attach", attach_thread, &t);
  g_free (out);
  out = wait_output (conn, "intr", "ready");
  g_assert_cmpint (write (in[1], "\003", 1), ==, 1);
  g_thread_join (th);
  g_assert_no_error (t.error);
  g_assert_true (t.exited);
  g_assert_cmpint (t.status, ==, 128 + SIGINT);
  for (int i = 0; i < 2; i++)
    close (in[i]), close (o[i]);
  agent_stop (&a);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  signal (SIGPIPE, SIG_IGN);
  g_test_add_func ("/agent-sessions/start-list-logs", test_start_list_logs);
  g_test_add_func ("/agent-sessions/preflight", test_preflight);
  g_test_add_func ("/agent-sessions/attach", test_attach);
  g_test_add_func ("/agent-sessions/pty", test_pty);
  g_test_add_func ("/agent-sessions/survives-host", test_survives_host);
  g_test_add_func ("/agent-sessions/dropped", test_dropped);
  return g_test_run ();
}
