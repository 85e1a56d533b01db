/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-vsock-agent's end of the wire, on the host (--fd, see
 * agent-fd-fixture.h): garbage between and inside frames, frames cut or
 * sent byte by byte, the host going away mid-exec, and the command line
 * that hands it the wire. */
#include "config.h"

#include "agent-fd-fixture.h"

static void
test_garbage (Agent *a, gconstpointer data)
{
  uint8_t h[BGR_AGENT_HEADER_SIZE];
  BgrAgentBuf b;

  /* Random bytes (a seeded PRNG: reproducible) with one frame in the
   * middle of them: the frame is found and answered, the rest skipped. */
  {
    GRand *rand = g_rand_new_with_seed (1234);
    g_autofree uint8_t *junk = g_malloc (8192);
    for (gsize i = 0; i < 8192; i++)
      junk[i] = (uint8_t) g_rand_int_range (rand, 0, 256);
    g_rand_free (rand);
    g_assert_null (memmem (junk, 8192, "BGR1", 4));
    bgr_agent_header_encode (junk + 100, 999, 12345, 0);
    agent_write_raw (a, junk, 8192);
    g_autoptr (Frame) f = agent_expect (a, 12345, BGR_AGENT_MSG_ERROR);
    g_autofree char *m = frame_str (f, BGR_AGENT_F_MESSAGE);
    g_assert_cmpstr (m, ==, "unknown message type 999");
    assert_alive (a);
  }

  /* A header with a bad magic, then a frame. */
  bgr_agent_header_encode (h, BGR_AGENT_MSG_HELLO, 0, 0);
  h[0] = 'X';
  agent_write_raw (a, h, sizeof h);
  assert_alive (a);

  /* An oversized length: ERROR on channel 0, and the next frame works even
   * though the announced payload never comes. */
  bgr_agent_header_encode (h, BGR_AGENT_MSG_EXEC, 1, BGR_AGENT_MAX_PAYLOAD + 1);
  agent_write_raw (a, h, sizeof h);
  {
    g_autoptr (Frame) f = agent_expect (a, 0, BGR_AGENT_MSG_ERROR);
    g_autofree char *m = frame_str (f, BGR_AGENT_F_MESSAGE);
    bgr_assert_contains (m, "limit");
  }
  assert_alive (a);

  /* A truncated field list: ERROR on its channel. */
  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_str (&b, BGR_AGENT_F_ARG, "echo");
  bgr_agent_buf_put_str (&b, BGR_AGENT_F_ARG, "hi");
  agent_send (a, BGR_AGENT_MSG_EXEC, 8, b.data, b.len - 1);
  bgr_agent_buf_clear (&b);
  {
    g_autoptr (Frame) f = agent_expect (a, 8, BGR_AGENT_MSG_ERROR);
    g_autofree char *m = frame_str (f, BGR_AGENT_F_MESSAGE);
    bgr_assert_contains (m, "malformed");
  }
  agent_send (a, BGR_AGENT_MSG_HELLO, 0, "\x01\x00\x08", 3);
  {
    g_autoptr (Frame) f = agent_expect (a, 0, BGR_AGENT_MSG_ERROR);
    g_autofree char *m = frame_str (f, BGR_AGENT_F_MESSAGE);
    bgr_assert_contains (m, "malformed HELLO payload");
  }
  assert_alive (a);

  /* Unknown and misdirected message types. */
  agent_send (a, 999, 4, NULL, 0);
  {
    g_autoptr (Frame) f = agent_expect (a, 4, BGR_AGENT_MSG_ERROR);
    g_autofree char *m = frame_str (f, BGR_AGENT_F_MESSAGE);
    g_assert_cmpstr (m, ==, "unknown message type 999");
  }
  agent_send (a, BGR_AGENT_MSG_READY, 4, NULL, 0);
  {
    g_autoptr (Frame) f = agent_expect (a, 4, BGR_AGENT_MSG_ERROR);
    g_autofree char *m = frame_str (f, BGR_AGENT_F_MESSAGE);
    g_assert_cmpstr (m, ==, "unexpected message type 2 (READY) on channel 4");
  }
  /* Data for a channel nobody runs: ignored, no answer. */
  agent_send (a, BGR_AGENT_MSG_STDIN, 42, "x", 1);

  /* A frame in single bytes, then half a frame and a fresh one after it
   * (what a reconnect leaves behind). */
  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_VERSION, 1);
  bgr_agent_header_encode (h, BGR_AGENT_MSG_HELLO, 0, (uint32_t) b.len);
  for (gsize i = 0; i < sizeof h; i++)
    agent_write_raw (a, h + i, 1);
  for (gsize i = 0; i < b.len; i++)
    agent_write_raw (a, b.data + i, 1);
  {
    /* A version 1 host gets READY with the agent's own version 2: it is
     * the host that refuses (docs/agent-protocol.md). */
    g_autoptr (Frame) f = agent_expect (a, 0, BGR_AGENT_MSG_READY);
    g_assert_cmpint (frame_int (f, BGR_AGENT_F_VERSION), ==, 2);
  }
  bgr_agent_buf_clear (&b);
  agent_write_raw (a, "GR1\x02\x00\x00\x00", 7); /* the tail of a header */
  assert_alive (a);

  /* Nothing else arrived: every answer was accounted for. */
  {
    g_autoptr (Frame) f = agent_recv (a, 42, 100);
    g_assert_null (f);
  }
  g_assert_true (g_queue_is_empty (&a->pending));
}

static void
test_disconnect (Agent *a, gconstpointer data)
{
  g_autoptr (Frame) f = NULL;
  pid_t child;

  /* A running command dies with the connection. */
  send_exec (a, 1, (const char *const[]){ "sleep", "30", NULL }, NULL, NULL, 0, FALSE);
  f = agent_expect (a, 1, BGR_AGENT_MSG_STARTED);
  child = (pid_t) frame_int (f, BGR_AGENT_F_PID);
  close (a->fd);
  a->fd = -1;
  g_assert_cmpint (agent_wait (a, WAIT_MS), ==, 0);
  assert_process_goes (child);
}

static void
test_usage (void)
{
  BgrRun r;

  bgr_run_env (&r, NULL, (const char *const[]){ agent_path, "--version", NULL });
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "protocol 2");
  bgr_run_clear (&r);
  bgr_run_env (&r, NULL, (const char *const[]){ agent_path, "--help", NULL });
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "--fd N");
  bgr_run_clear (&r);
  bgr_run_env (&r, NULL, (const char *const[]){ agent_path, "--fd", "99", NULL });
  g_assert_cmpint (r.status, ==, 2);
  bgr_assert_contains (r.err, "not an open file descriptor");
  bgr_run_clear (&r);
  bgr_run_env (&r, NULL, (const char *const[]){ agent_path, "--bogus", NULL });
  g_assert_cmpint (r.status, ==, 2);
  bgr_run_clear (&r);
}

int
main (int argc, char *argv[])
{
  agent_fd_init (&argc, &argv);

  g_test_add_func ("/agent/usage", test_usage);
#define ADD(path, fn) g_test_add (path, Agent, NULL, agent_start, fn, agent_stop)
  ADD ("/agent/garbage", test_garbage);
  ADD ("/agent/disconnect", test_disconnect);
#undef ADD
  return g_test_run ();
}
