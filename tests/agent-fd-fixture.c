/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fixture of the agent tests that speak to banger-vsock-agent itself
 * through the codec: see agent-fd-fixture.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "agent-fd-fixture.h"

void
frame_free (Frame *f)
{
  g_bytes_unref (f->payload);
  g_free (f);
}

const char *agent_path;

void
agent_fd_init (int *argc, char ***argv)
{
  g_test_init (argc, argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  agent_path = bgr_test_program ("BANGER_AGENT");
  /* Commands must get the agent's defaults, not the agent's environment. */
  g_setenv ("BANGER_AGENT_TEST_LEAK", "leaked", TRUE);
}

void
agent_start (Agent *a, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  const char *argv[] = { agent_path, "--fd", "3", NULL };
  int sv[2];

  memset (a, 0, sizeof *a);
  g_queue_init (&a->pending);
  a->rx = g_byte_array_new ();
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  if (!g_spawn_async_with_pipes_and_fds (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, -1, -1,
                                         -1, (int[]){ sv[1] }, (int[]){ 3 }, 1, &a->pid, NULL, NULL,
                                         NULL, &err))
    g_error ("cannot start %s: %s", agent_path, err->message);
  close (sv[1]);
  a->fd = sv[0];
  g_assert_cmpint (fcntl (a->fd, F_SETFL, O_NONBLOCK), ==, 0);
}

/* The agent's exit status, waiting at most @ms; -2 if it is still running. */
int
agent_wait (Agent *a, int ms)
{
  gint64 end = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;
  int status;

  for (;;)
    {
      pid_t r = waitpid (a->pid, &status, WNOHANG);
      if (r == a->pid)
        {
          a->pid = 0;
          return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
        }
      g_assert_cmpint (r, ==, 0);
      if (g_get_monotonic_time () > end)
        return -2;
      g_usleep (2000);
    }
}

/* Closing our end is the host going away: the agent must exit 0. */
void
agent_stop (Agent *a, gconstpointer data)
{
  if (a->fd >= 0)
    close (a->fd);
  a->fd = -1;
  if (a->pid > 0)
    {
      int rc = agent_wait (a, WAIT_MS);
      if (rc == -2)
        kill (a->pid, SIGKILL);
      g_assert_cmpint (rc, ==, 0);
    }
  g_queue_clear_full (&a->pending, (GDestroyNotify) frame_free);
  g_byte_array_unref (a->rx);
}

/* Reads what is there into a->rx; FALSE at EOF. */
static gboolean
agent_read_some (Agent *a)
{
  uint8_t buf[65536];
  ssize_t n = read (a->fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return TRUE;
  if (n <= 0)
    {
      a->closed = TRUE;
      return FALSE;
    }
  g_byte_array_append (a->rx, buf, (guint) n);
  return TRUE;
}

/* Raw bytes to the agent. While the socket is full, keep reading, as a
 * real host must: the agent may itself be blocked sending to us. */
void
agent_write_raw (Agent *a, const void *data, gsize len)
{
  const uint8_t *p = data;
  gint64 end = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (len > 0)
    {
      ssize_t n = send (a->fd, p, len, MSG_NOSIGNAL);
      if (n > 0)
        {
          p += n;
          len -= (gsize) n;
          continue;
        }
      g_assert_true (n < 0 && (errno == EAGAIN || errno == EINTR));
      struct pollfd pfd = { .fd = a->fd, .events = POLLIN | POLLOUT };
      gint64 left = (end - g_get_monotonic_time ()) / 1000;
      g_assert_cmpint (left, >, 0);
      g_assert_cmpint (poll (&pfd, 1, (int) left), >=, 0);
      if (pfd.revents & POLLIN)
        agent_read_some (a);
    }
}

void
agent_send (Agent *a, uint16_t type, uint32_t channel, const void *payload, gsize len)
{
  uint8_t h[BGR_AGENT_HEADER_SIZE];
  bgr_agent_header_encode (h, type, channel, (uint32_t) len);
  agent_write_raw (a, h, sizeof h);
  if (len > 0)
    agent_write_raw (a, payload, len);
}

void
agent_send_buf (Agent *a, uint16_t type, uint32_t channel, BgrAgentBuf *b)
{
  g_assert_false (b->failed);
  agent_send (a, type, channel, b->data, b->len);
  bgr_agent_buf_clear (b);
}

/* One whole frame out of a->rx, if there is one. */
static Frame *
agent_parse (Agent *a)
{
  BgrAgentHeader h;
  Frame *f;

  if (a->rx->len < BGR_AGENT_HEADER_SIZE)
    return NULL;
  /* The agent must only ever send well-formed frames. */
  g_assert_cmpint (bgr_agent_header_decode (a->rx->data, &h), ==, 0);
  if (a->rx->len - BGR_AGENT_HEADER_SIZE < h.length)
    return NULL;
  f = g_new0 (Frame, 1);
  f->h = h;
  f->payload = g_bytes_new (a->rx->data + BGR_AGENT_HEADER_SIZE, h.length);
  g_byte_array_remove_range (a->rx, 0, BGR_AGENT_HEADER_SIZE + h.length);
  return f;
}

/* The next frame on @channel (frames for other channels are kept for
 * later), or NULL when none comes within @ms or the agent closed. */
Frame *
agent_recv (Agent *a, uint32_t channel, int ms)
{
  gint64 end = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;

  for (GList *l = a->pending.head; l != NULL; l = l->next)
    {
      Frame *f = l->data;
      if (f->h.channel == channel)
        {
          g_queue_delete_link (&a->pending, l);
          return f;
        }
    }
  for (;;)
    {
      Frame *f;
      while ((f = agent_parse (a)) != NULL)
        {
          if (f->h.channel == channel)
            return f;
          g_queue_push_tail (&a->pending, f);
        }
      if (a->closed)
        return NULL;
      gint64 left = (end - g_get_monotonic_time ()) / 1000;
      if (left <= 0)
        return NULL;
      struct pollfd pfd = { .fd = a->fd, .events = POLLIN };
      int n = poll (&pfd, 1, (int) left);
      g_assert_cmpint (n, >=, 0);
      if (n > 0 && !agent_read_some (a))
        continue; /* parse what is left, then NULL */
    }
}

/* Like agent_recv, but a missing frame or another type fails the test. */
Frame *
agent_expect (Agent *a, uint32_t channel, uint16_t type)
{
  Frame *f = agent_recv (a, channel, WAIT_MS);
  if (f == NULL)
    g_error ("no frame on channel %u within %d ms (wanted %s)", channel, WAIT_MS, bgr_agent_msg_name (type));
  if (f->h.type != type)
    g_error ("got %s on channel %u, wanted %s", bgr_agent_msg_name (f->h.type), channel,
             bgr_agent_msg_name (type));
  return f;
}

/* The first @tag field as a string (NULL: absent); *count: how many. */
char *
frame_str (const Frame *f, uint16_t tag)
{
  BgrAgentFieldIter it;
  uint16_t t;
  const uint8_t *val;
  uint32_t len;
  gsize size;
  const void *data = g_bytes_get_data (f->payload, &size);
  int rc;

  bgr_agent_fields_init (&it, data, size);
  while ((rc = bgr_agent_fields_next (&it, &t, &val, &len)) == 1)
    if (t == tag)
      return g_strndup ((const char *) val, len);
  g_assert_cmpint (rc, ==, 0);
  return NULL;
}

GPtrArray *
frame_strs (const Frame *f, uint16_t tag)
{
  GPtrArray *all = g_ptr_array_new_with_free_func (g_free);
  BgrAgentFieldIter it;
  uint16_t t;
  const uint8_t *val;
  uint32_t len;
  gsize size;
  const void *data = g_bytes_get_data (f->payload, &size);
  int rc;

  bgr_agent_fields_init (&it, data, size);
  while ((rc = bgr_agent_fields_next (&it, &t, &val, &len)) == 1)
    if (t == tag)
      g_ptr_array_add (all, g_strndup ((const char *) val, len));
  g_assert_cmpint (rc, ==, 0);
  return all;
}

/* The @tag integer; fails the test when it is absent. */
int64_t
frame_int (const Frame *f, uint16_t tag)
{
  BgrAgentFieldIter it;
  uint16_t t;
  const uint8_t *val;
  uint32_t len;
  gsize size;
  const void *data = g_bytes_get_data (f->payload, &size);
  int64_t v;

  bgr_agent_fields_init (&it, data, size);
  while (bgr_agent_fields_next (&it, &t, &val, &len) == 1)
    if (t == tag)
      {
        g_assert_cmpint (bgr_agent_field_int (val, len, &v), ==, 0);
        return v;
      }
  g_error ("%s has no field %u", bgr_agent_msg_name (f->h.type), tag);
}

/* EXEC on @channel. @env: NULL-terminated "K=V" or NULL. */
void
send_exec (Agent *a, uint32_t channel, const char *const *argv, const char *const *env, const char *cwd,
           int64_t timeout_ms, gboolean with_stdin)
{
  BgrAgentBuf b;
  bgr_agent_buf_init (&b);
  for (; *argv != NULL; argv++)
    bgr_agent_buf_put_str (&b, BGR_AGENT_F_ARG, *argv);
  for (; env != NULL && *env != NULL; env++)
    bgr_agent_buf_put_str (&b, BGR_AGENT_F_ENV, *env);
  bgr_agent_buf_put_str (&b, BGR_AGENT_F_CWD, cwd);
  if (timeout_ms > 0)
    bgr_agent_buf_put_int (&b, BGR_AGENT_F_TIMEOUT_MS, timeout_ms);
  if (with_stdin)
    bgr_agent_buf_put_int (&b, BGR_AGENT_F_STDIN, 1);
  agent_send_buf (a, BGR_AGENT_MSG_EXEC, channel, &b);
}

void
send_stdin (Agent *a, uint32_t channel, const void *data, gsize len)
{
  agent_send (a, BGR_AGENT_MSG_STDIN, channel, data, len);
}

void
result_clear (Result *r)
{
  if (r->out)
    g_string_free (r->out, TRUE);
  if (r->err)
    g_string_free (r->err, TRUE);
  g_free (r->error);
  memset (r, 0, sizeof *r);
}

/* Frames on @channel until EXIT or ERROR, checking the order the protocol
 * promises: STARTED first, output only after it, nothing after the end.
 * @pid: the STARTED the caller already took, or 0. */
void
collect_rest (Agent *a, uint32_t channel, Result *r, int64_t pid)
{
  memset (r, 0, sizeof *r);
  r->pid = pid;
  r->out = g_string_new (NULL);
  r->err = g_string_new (NULL);
  for (;;)
    {
      g_autoptr (Frame) f = agent_recv (a, channel, WAIT_MS);
      gsize len;
      const char *data;

      if (f == NULL)
        g_error ("channel %u: no EXIT within %d ms", channel, WAIT_MS);
      data = g_bytes_get_data (f->payload, &len);
      switch (f->h.type)
        {
        case BGR_AGENT_MSG_STARTED:
          g_assert_cmpint (r->pid, ==, 0);
          r->pid = frame_int (f, BGR_AGENT_F_PID);
          g_assert_cmpint (r->pid, >, 0);
          break;
        case BGR_AGENT_MSG_STDOUT:
        case BGR_AGENT_MSG_STDERR:
          g_assert_cmpint (r->pid, >, 0);
          g_assert_cmpuint (len, >, 0);
          g_string_append_len (f->h.type == BGR_AGENT_MSG_STDOUT ? r->out : r->err, data, (gssize) len);
          r->out_frames += f->h.type == BGR_AGENT_MSG_STDOUT;
          r->largest_frame = MAX (r->largest_frame, len);
          break;
        case BGR_AGENT_MSG_EXIT:
          g_assert_cmpint (r->pid, >, 0);
          r->exited = TRUE;
          r->exit_code = frame_int (f, BGR_AGENT_F_EXIT_CODE);
          r->signal = frame_int (f, BGR_AGENT_F_SIGNAL);
          r->timed_out = frame_int (f, BGR_AGENT_F_TIMED_OUT);
          return;
        case BGR_AGENT_MSG_ERROR:
          g_assert_cmpint (r->pid, ==, 0);
          r->error = frame_str (f, BGR_AGENT_F_MESSAGE);
          g_assert_nonnull (r->error);
          r->error_errno = frame_int (f, BGR_AGENT_F_ERRNO);
          return;
        default:
          g_error ("unexpected %s on channel %u", bgr_agent_msg_name (f->h.type), channel);
        }
    }
}

void
collect (Agent *a, uint32_t channel, Result *r)
{
  collect_rest (a, channel, r, 0);
}

void
run_exec (Agent *a, uint32_t channel, const char *const *argv, const char *const *env, const char *cwd,
          Result *r)
{
  send_exec (a, channel, argv, env, cwd, 0, FALSE);
  collect (a, channel, r);
}

/* A later HELLO still gets READY: the agent is neither dead nor wedged. */
void
assert_alive (Agent *a)
{
  g_autoptr (Frame) f = NULL;
  BgrAgentBuf b;

  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_VERSION, BGR_AGENT_PROTOCOL_VERSION);
  agent_send_buf (a, BGR_AGENT_MSG_HELLO, 0, &b);
  f = agent_expect (a, 0, BGR_AGENT_MSG_READY);
}

/* Gone, or a zombie waiting for a parent: a killed process. */
static gboolean
process_gone (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return TRUE;
  const char *p = strrchr (stat, ')');
  return p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

void
assert_process_goes (pid_t pid)
{
  gint64 end = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;
  while (!process_gone (pid))
    {
      if (g_get_monotonic_time () > end)
        g_error ("process %d is still running", (int) pid);
      g_usleep (5000);
    }
}
