/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* EXEC in banger-vsock-agent itself on the host (--fd, see
 * agent-fd-fixture.h): output, stdin, environment and cwd, commands that
 * cannot run, timeouts, signals, channels at once and a busy channel. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "agent-fd-fixture.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static void
test_exec_output (Agent *a, gconstpointer data)
{
  Result r;

  run_exec (a, 1, (const char *const[]){ "sh", "-c", "echo out; echo err >&2; exit 3", NULL }, NULL, NULL,
            &r);
  g_assert_true (r.exited);
  g_assert_cmpstr (r.out->str, ==, "out\n");
  g_assert_cmpstr (r.err->str, ==, "err\n");
  g_assert_cmpint (r.exit_code, ==, 3);
  g_assert_cmpint (r.signal, ==, 0);
  g_assert_cmpint (r.timed_out, ==, 0);
  result_clear (&r);

  /* The channel is free again after EXIT. */
  run_exec (a, 1, (const char *const[]){ "true", NULL }, NULL, NULL, &r);
  g_assert_cmpint (r.exit_code, ==, 0);
  g_assert_cmpstr (r.out->str, ==, "");
  result_clear (&r);

  /* Large output: all of it, in frames of at most 64 KiB. */
  run_exec (a, 2, (const char *const[]){ "head", "-c", "1000000", "/dev/zero", NULL }, NULL, NULL, &r);
  g_assert_cmpint (r.exit_code, ==, 0);
  g_assert_cmpuint (r.out->len, ==, 1000000);
  g_assert_cmpuint (r.largest_frame, <=, 65536);
  g_assert_cmpuint (r.out_frames, >=, 16);
  result_clear (&r);

  /* stdin is /dev/null unless asked for. */
  run_exec (a, 3, (const char *const[]){ "sh", "-c", "wc -c; echo done", NULL }, NULL, NULL, &r);
  g_assert_cmpstr (r.out->str, ==, "0\ndone\n");
  result_clear (&r);

  /* Output of a background grandchild that keeps the pipes open does not
   * hold EXIT back. */
  gint64 start = g_get_monotonic_time ();
  run_exec (a, 4, (const char *const[]){ "sh", "-c", "sleep 30 & echo $!; exit 5", NULL }, NULL, NULL, &r);
  g_assert_cmpint (r.exit_code, ==, 5);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_TIME_SPAN_SECOND);
  pid_t background = (pid_t) atoi (r.out->str);
  g_assert_cmpint (background, >, 0);
  g_assert_cmpint (kill (background, SIGKILL), ==, 0); /* still running: not ours to wait for */
  result_clear (&r);
}

static void
test_exec_stdin (Agent *a, gconstpointer data)
{
  g_autoptr (GString) sent = g_string_new (NULL);
  Result r;

  send_exec (a, 1, (const char *const[]){ "cat", NULL }, NULL, NULL, 0, TRUE);
  send_stdin (a, 1, "hello\n", 6);
  g_string_append (sent, "hello\n");
  /* Much more than a pipe holds: the agent buffers, never blocks. */
  for (int i = 0; sent->len < 600 * 1024; i++)
    g_string_append_printf (sent, "line %d of the stdin round trip\n", i);
  for (gsize off = 6; off < sent->len; off += 65536)
    send_stdin (a, 1, sent->str + off, MIN (65536, sent->len - off));
  send_stdin (a, 1, NULL, 0); /* EOF */
  collect (a, 1, &r);
  g_assert_true (r.exited);
  g_assert_cmpint (r.exit_code, ==, 0);
  g_assert_cmpuint (r.out->len, ==, sent->len);
  g_assert_true (memcmp (r.out->str, sent->str, sent->len) == 0);
  result_clear (&r);

  /* EOF right away; more STDIN after EOF is ignored. */
  send_exec (a, 2, (const char *const[]){ "sh", "-c", "n=$(wc -c); echo \"got $n\"", NULL }, NULL, NULL, 0,
             TRUE);
  send_stdin (a, 2, "abc", 3);
  send_stdin (a, 2, NULL, 0);
  send_stdin (a, 2, "def", 3);
  collect (a, 2, &r);
  g_assert_cmpstr (r.out->str, ==, "got 3\n");
  result_clear (&r);

  /* A command that does not read its stdin and exits: the agent survives. */
  send_exec (a, 3, (const char *const[]){ "true", NULL }, NULL, NULL, 0, TRUE);
  for (int i = 0; i < 8; i++)
    send_stdin (a, 3, sent->str, 65536);
  collect (a, 3, &r);
  g_assert_cmpint (r.exit_code, ==, 0);
  result_clear (&r);
  assert_alive (a);
}

static void
test_exec_env_cwd (Agent *a, gconstpointer data)
{
  g_autofree char *tmp = g_dir_make_tmp ("agent-cwd-XXXXXX", NULL);
  g_autofree char *dir = realpath (tmp, NULL);
  g_autofree char *script = g_build_filename (dir, "banger-agent-hello", NULL);
  g_autofree char *want = NULL;
  g_autofree char *path_env = g_strdup_printf ("PATH=%s:/usr/bin:/bin", dir);
  Result r;

  g_assert_nonnull (dir);
  run_exec (a, 1,
            (const char *const[]){ "sh", "-c",
                                   "printf '%s|%s|%s|%s|%s|%s' \"$FOO\" \"$(pwd -P)\" \"$HOME\" \"$LANG\" "
                                   "\"$PATH\" \"${BANGER_AGENT_TEST_LEAK-unset}\"",
                                   NULL },
            (const char *const[]){ "FOO=bar baz=x", "HOME=/nonexistent-home", NULL }, dir, &r);
  want = g_strdup_printf ("bar baz=x|%s|/nonexistent-home|C.UTF-8|%s|unset", dir, DEFAULT_PATH);
  g_assert_cmpstr (r.out->str, ==, want);
  g_assert_cmpint (r.exit_code, ==, 0);
  result_clear (&r);

  /* Default cwd is /; the last ENV for a key wins. */
  run_exec (a, 2, (const char *const[]){ "sh", "-c", "echo \"$(pwd -P) $X\"", NULL },
            (const char *const[]){ "X=1", "X=2", NULL }, NULL, &r);
  g_assert_cmpstr (r.out->str, ==, "/ 2\n");
  result_clear (&r);

  /* argv[0] is looked up in the PATH the command gets. */
  g_assert_true (g_file_set_contents (script, "#!/bin/sh\necho \"from path $1\"\n", -1, NULL));
  g_assert_cmpint (chmod (script, 0755), ==, 0);
  run_exec (a, 3, (const char *const[]){ "banger-agent-hello", "arg", NULL },
            (const char *const[]){ path_env, NULL }, NULL, &r);
  g_assert_cmpstr (r.out->str, ==, "from path arg\n");
  result_clear (&r);

  /* A directory that does not exist: ERROR, not STARTED. */
  run_exec (a, 4, (const char *const[]){ "true", NULL }, NULL, "/nonexistent-banger-dir", &r);
  g_assert_false (r.exited);
  bgr_assert_contains (r.error, "cannot change directory to '/nonexistent-banger-dir'");
  g_assert_cmpint (r.error_errno, ==, ENOENT);
  result_clear (&r);

  g_unlink (script);
  g_rmdir (dir);
}

static void
test_exec_missing (Agent *a, gconstpointer data)
{
  Result r;

  run_exec (a, 1, (const char *const[]){ "banger-no-such-command", "x", NULL }, NULL, NULL, &r);
  g_assert_false (r.exited);
  g_assert_cmpint (r.pid, ==, 0);
  g_assert_cmpstr (r.error, ==, "cannot run 'banger-no-such-command': No such file or directory");
  g_assert_cmpint (r.error_errno, ==, ENOENT);
  result_clear (&r);

  run_exec (a, 1, (const char *const[]){ "/etc/passwd", NULL }, NULL, NULL, &r);
  bgr_assert_contains (r.error, "cannot run '/etc/passwd'");
  g_assert_cmpint (r.error_errno, ==, EACCES);
  result_clear (&r);

  /* Bad requests: ERROR on the channel, and the agent carries on. */
  {
    BgrAgentBuf b;
    g_autoptr (Frame) f1 = NULL;
    g_autoptr (Frame) f2 = NULL;
    g_autoptr (Frame) f3 = NULL;
    g_autoptr (Frame) f4 = NULL;
    g_autofree char *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;

    bgr_agent_buf_init (&b);
    bgr_agent_buf_put_str (&b, BGR_AGENT_F_CWD, "/");
    agent_send_buf (a, BGR_AGENT_MSG_EXEC, 2, &b); /* no ARG */
    f1 = agent_expect (a, 2, BGR_AGENT_MSG_ERROR);
    m1 = frame_str (f1, BGR_AGENT_F_MESSAGE);
    bgr_assert_contains (m1, "without ARG");

    bgr_agent_buf_put_bytes (&b, BGR_AGENT_F_ARG, "a\0b", 3);
    agent_send_buf (a, BGR_AGENT_MSG_EXEC, 3, &b);
    f2 = agent_expect (a, 3, BGR_AGENT_MSG_ERROR);
    m2 = frame_str (f2, BGR_AGENT_F_MESSAGE);
    bgr_assert_contains (m2, "NUL");

    bgr_agent_buf_put_str (&b, BGR_AGENT_F_ARG, "true");
    agent_send_buf (a, BGR_AGENT_MSG_EXEC, 0, &b);
    f3 = agent_expect (a, 0, BGR_AGENT_MSG_ERROR);
    m3 = frame_str (f3, BGR_AGENT_F_MESSAGE);
    bgr_assert_contains (m3, "channel above 0");

    bgr_agent_buf_put_str (&b, BGR_AGENT_F_ARG, "true");
    bgr_agent_buf_put_str (&b, BGR_AGENT_F_TIMEOUT_MS, "soon");
    agent_send_buf (a, BGR_AGENT_MSG_EXEC, 4, &b);
    f4 = agent_expect (a, 4, BGR_AGENT_MSG_ERROR);
    m4 = frame_str (f4, BGR_AGENT_F_MESSAGE);
    bgr_assert_contains (m4, "TIMEOUT_MS");
  }

  /* In --fd mode there is no VM to shut down. */
  {
    BgrAgentBuf b;
    g_autoptr (Frame) f = NULL;
    g_autofree char *m = NULL;
    bgr_agent_buf_init (&b);
    bgr_agent_buf_put_str (&b, BGR_AGENT_F_MODE, "poweroff");
    agent_send_buf (a, BGR_AGENT_MSG_SHUTDOWN, 5, &b);
    f = agent_expect (a, 5, BGR_AGENT_MSG_ERROR);
    m = frame_str (f, BGR_AGENT_F_MESSAGE);
    g_assert_cmpstr (m, ==, "shutdown is only available inside a VM");
  }
  assert_alive (a);
}

static void
test_exec_timeout (Agent *a, gconstpointer data)
{
  gint64 start = g_get_monotonic_time ();
  Result r;

  send_exec (a, 1, (const char *const[]){ "sleep", "30", NULL }, NULL, NULL, 200, FALSE);
  collect (a, 1, &r);
  gint64 took = g_get_monotonic_time () - start;
  g_assert_true (r.exited);
  g_assert_cmpint (r.timed_out, ==, 1);
  g_assert_cmpint (r.exit_code, ==, -1);
  g_assert_cmpint (r.signal, ==, SIGKILL);
  g_assert_cmpint (took, >=, 190 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (took, <, 10 * G_TIME_SPAN_SECOND);
  result_clear (&r);

  /* The whole process group goes, not just the shell. */
  send_exec (a, 2, (const char *const[]){ "sh", "-c", "sleep 30 & echo $!; wait", NULL }, NULL, NULL, 300,
             FALSE);
  collect (a, 2, &r);
  g_assert_cmpint (r.timed_out, ==, 1);
  pid_t grandchild = (pid_t) atoi (r.out->str);
  g_assert_cmpint (grandchild, >, 0);
  assert_process_goes (grandchild);
  result_clear (&r);

  /* A command that ends in time is not TIMED_OUT. */
  send_exec (a, 3, (const char *const[]){ "true", NULL }, NULL, NULL, 10000, FALSE);
  collect (a, 3, &r);
  g_assert_cmpint (r.timed_out, ==, 0);
  g_assert_cmpint (r.exit_code, ==, 0);
  result_clear (&r);
}

static void
test_exec_signal (Agent *a, gconstpointer data)
{
  BgrAgentBuf b;
  Result r;

  send_exec (a, 1, (const char *const[]){ "sleep", "30", NULL }, NULL, NULL, 0, FALSE);
  g_autoptr (Frame) started = agent_expect (a, 1, BGR_AGENT_MSG_STARTED);
  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_SIGNAL, SIGTERM);
  agent_send_buf (a, BGR_AGENT_MSG_SIGNAL, 1, &b);
  collect_rest (a, 1, &r, frame_int (started, BGR_AGENT_F_PID));
  g_assert_true (r.exited);
  g_assert_cmpint (r.exit_code, ==, -1);
  g_assert_cmpint (r.signal, ==, 15);
  g_assert_cmpint (r.timed_out, ==, 0);
  result_clear (&r);

  /* To the process group: the shell's child gets it too. */
  send_exec (a, 2, (const char *const[]){ "sh", "-c", "sleep 30 & echo $!; wait; echo never", NULL }, NULL,
             NULL, 0, FALSE);
  {
    g_autoptr (Frame) s = agent_expect (a, 2, BGR_AGENT_MSG_STARTED);
    g_autoptr (Frame) o = agent_expect (a, 2, BGR_AGENT_MSG_STDOUT); /* echo $! */
    g_autofree char *text = g_strndup (g_bytes_get_data (o->payload, NULL), g_bytes_get_size (o->payload));
    pid_t grandchild = (pid_t) atoi (text);
    g_assert_cmpint (grandchild, >, 0);
    bgr_agent_buf_put_int (&b, BGR_AGENT_F_SIGNAL, SIGTERM);
    agent_send_buf (a, BGR_AGENT_MSG_SIGNAL, 2, &b);
    collect_rest (a, 2, &r, frame_int (s, BGR_AGENT_F_PID));
    assert_process_goes (grandchild);
  }
  g_assert_cmpint (r.signal, ==, SIGTERM);
  g_assert_null (strstr (r.out->str, "never"));
  result_clear (&r);

  /* A signal for a channel that is not running is ignored; a bad one is
   * an ERROR on channel 0 and the exec carries on. */
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_SIGNAL, SIGTERM);
  agent_send_buf (a, BGR_AGENT_MSG_SIGNAL, 77, &b);
  send_exec (a, 3, (const char *const[]){ "cat", NULL }, NULL, NULL, 0, TRUE);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_SIGNAL, 1000);
  agent_send_buf (a, BGR_AGENT_MSG_SIGNAL, 3, &b);
  {
    g_autoptr (Frame) f = agent_expect (a, 0, BGR_AGENT_MSG_ERROR);
    g_autofree char *m = frame_str (f, BGR_AGENT_F_MESSAGE);
    bgr_assert_contains (m, "channel 3");
  }
  send_stdin (a, 3, "still here\n", 11);
  send_stdin (a, 3, NULL, 0);
  collect (a, 3, &r);
  g_assert_cmpstr (r.out->str, ==, "still here\n");
  g_assert_cmpint (r.exit_code, ==, 0);
  result_clear (&r);
}

static void
test_exec_interleaved (Agent *a, gconstpointer data)
{
  Result r1, r2;

  int64_t pid1;

  send_exec (a, 1, (const char *const[]){ "cat", NULL }, NULL, NULL, 0, TRUE);
  send_exec (a, 2, (const char *const[]){ "sh", "-c", "cat; echo two-err >&2", NULL }, NULL, NULL, 0, TRUE);
  send_stdin (a, 2, "two-a\n", 6);
  send_stdin (a, 1, "one-a\n", 6);
  /* Both running at once: one's output arrives while the other runs. */
  {
    g_autoptr (Frame) s = agent_expect (a, 1, BGR_AGENT_MSG_STARTED);
    g_autoptr (Frame) o = agent_expect (a, 1, BGR_AGENT_MSG_STDOUT);
    g_assert_cmpmem (g_bytes_get_data (o->payload, NULL), g_bytes_get_size (o->payload), "one-a\n", 6);
    pid1 = frame_int (s, BGR_AGENT_F_PID);
  }
  send_stdin (a, 2, "two-b\n", 6);
  send_stdin (a, 1, "one-b\n", 6);
  send_stdin (a, 2, NULL, 0);
  collect (a, 2, &r2);
  send_stdin (a, 1, NULL, 0);
  collect_rest (a, 1, &r1, pid1);
  g_assert_cmpstr (r1.out->str, ==, "one-b\n");
  g_assert_cmpstr (r1.err->str, ==, "");
  g_assert_cmpstr (r2.out->str, ==, "two-a\ntwo-b\n");
  g_assert_cmpstr (r2.err->str, ==, "two-err\n");
  g_assert_cmpint (r1.exit_code, ==, 0);
  g_assert_cmpint (r2.exit_code, ==, 0);
  result_clear (&r1);
  result_clear (&r2);
}

static void
test_exec_busy_channel (Agent *a, gconstpointer data)
{
  BgrAgentBuf b;
  Result r;

  send_exec (a, 5, (const char *const[]){ "sleep", "30", NULL }, NULL, NULL, 0, FALSE);
  g_autoptr (Frame) started = agent_expect (a, 5, BGR_AGENT_MSG_STARTED);
  int64_t pid = frame_int (started, BGR_AGENT_F_PID);
  send_exec (a, 5, (const char *const[]){ "echo", "second", NULL }, NULL, NULL, 0, FALSE);
  {
    g_autoptr (Frame) f = agent_expect (a, 5, BGR_AGENT_MSG_ERROR);
    g_autofree char *m = frame_str (f, BGR_AGENT_F_MESSAGE);
    g_assert_cmpstr (m, ==, "channel 5 is in use");
    g_assert_cmpint (frame_int (f, BGR_AGENT_F_ERRNO), ==, EBUSY);
  }
  /* Other bad requests on the busy channel are answered on channel 0: an
   * ERROR on channel 5 would end it for the host. */
  agent_send (a, 999, 5, NULL, 0);
  {
    g_autoptr (Frame) f = agent_expect (a, 0, BGR_AGENT_MSG_ERROR);
    g_autofree char *m = frame_str (f, BGR_AGENT_F_MESSAGE);
    g_assert_cmpstr (m, ==, "unknown message type 999 on channel 5");
  }
  agent_send (a, BGR_AGENT_MSG_SIGNAL, 5, "\x20\x00\x08", 3);
  {
    g_autoptr (Frame) f = agent_expect (a, 0, BGR_AGENT_MSG_ERROR);
    g_autofree char *m = frame_str (f, BGR_AGENT_F_MESSAGE);
    bgr_assert_contains (m, "malformed SIGNAL payload on channel 5");
  }
  /* The first exec is untouched. */
  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_SIGNAL, SIGKILL);
  agent_send_buf (a, BGR_AGENT_MSG_SIGNAL, 5, &b);
  collect_rest (a, 5, &r, pid);
  g_assert_true (r.exited);
  g_assert_cmpint (r.signal, ==, SIGKILL);
  g_assert_cmpstr (r.out->str, ==, "");
  result_clear (&r);
}

int
main (int argc, char *argv[])
{
  agent_fd_init (&argc, &argv);

#define ADD(path, fn) g_test_add (path, Agent, NULL, agent_start, fn, agent_stop)
  ADD ("/agent/exec/output", test_exec_output);
  ADD ("/agent/exec/stdin", test_exec_stdin);
  ADD ("/agent/exec/env-cwd", test_exec_env_cwd);
  ADD ("/agent/exec/missing", test_exec_missing);
  ADD ("/agent/exec/timeout", test_exec_timeout);
  ADD ("/agent/exec/signal", test_exec_signal);
  ADD ("/agent/exec/interleaved", test_exec_interleaved);
  ADD ("/agent/exec/busy-channel", test_exec_busy_channel);
#undef ADD
  return g_test_run ();
}
