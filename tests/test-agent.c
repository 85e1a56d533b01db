/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The guest agent's wire codec, and banger-vsock-agent itself on the host:
 * started with --fd 3 on one end of a socketpair, spoken to through the
 * codec like banger does, no VM. Every wait has a deadline, so a broken
 * agent fails a test instead of hanging it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "agent-proto/bgr-agent-proto.h"
#include "bgr-test-util.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Generous: a loaded CI machine is slow, a hang is still caught. */
#define WAIT_MS 20000

/* ---- codec ---- */

static void
test_codec_header (void)
{
  uint8_t h[BGR_AGENT_HEADER_SIZE];
  BgrAgentHeader d;

  bgr_agent_header_encode (h, BGR_AGENT_MSG_EXEC, 0x01020304, 0x00050607);
  /* The documented byte layout: little-endian, "BGR1" first. */
  g_assert_cmpmem (h, 4, "BGR1", 4);
  g_assert_cmpint (h[4], ==, BGR_AGENT_MSG_EXEC);
  g_assert_cmpint (h[5], ==, 0);
  g_assert_cmpint (h[8], ==, 0x04);
  g_assert_cmpint (h[11], ==, 0x01);
  g_assert_cmpint (h[12], ==, 0x07);
  g_assert_cmpint (bgr_agent_header_decode (h, &d), ==, 0);
  g_assert_cmpuint (d.type, ==, BGR_AGENT_MSG_EXEC);
  g_assert_cmpuint (d.flags, ==, 0);
  g_assert_cmpuint (d.channel, ==, 0x01020304);
  g_assert_cmpuint (d.length, ==, 0x00050607);

  /* Unknown flag bits are the receiver's to ignore, not an error. */
  h[6] = 0xff;
  g_assert_cmpint (bgr_agent_header_decode (h, &d), ==, 0);
  g_assert_cmpuint (d.flags, ==, 0xff);

  bgr_agent_header_encode (h, 1, 0, BGR_AGENT_MAX_PAYLOAD);
  g_assert_cmpint (bgr_agent_header_decode (h, &d), ==, 0);
  bgr_agent_header_encode (h, 1, 0, BGR_AGENT_MAX_PAYLOAD + 1);
  g_assert_cmpint (bgr_agent_header_decode (h, &d), ==, -2);
  bgr_agent_header_encode (h, 1, 0, UINT32_MAX);
  g_assert_cmpint (bgr_agent_header_decode (h, &d), ==, -2);
  bgr_agent_header_encode (h, 1, 0, 0);
  h[3] = '2';
  g_assert_cmpint (bgr_agent_header_decode (h, &d), ==, -1);

  g_assert_cmpstr (bgr_agent_msg_name (BGR_AGENT_MSG_HELLO), ==, "HELLO");
  g_assert_cmpstr (bgr_agent_msg_name (BGR_AGENT_MSG_STATS), ==, "STATS");
  g_assert_cmpstr (bgr_agent_msg_name (0), ==, "unknown");
  g_assert_cmpstr (bgr_agent_msg_name (BGR_AGENT_MSG_WINSIZE), ==, "WINSIZE");
  g_assert_cmpstr (bgr_agent_msg_name (31), ==, "unknown");
  g_assert_cmpstr (bgr_agent_msg_name (UINT16_MAX), ==, "unknown");
}

static void
test_codec_fields (void)
{
  static const int64_t ints[] = { 0, 1, -1, 255, 256, INT64_MAX, INT64_MIN, -1234567890123 };
  static const uint8_t blob[] = { 0, 1, 2, 0xff, 0 };
  BgrAgentBuf b;
  BgrAgentFieldIter it;
  uint16_t tag;
  const uint8_t *val;
  uint32_t len;
  int64_t v;

  bgr_agent_buf_init (&b);
  for (gsize i = 0; i < G_N_ELEMENTS (ints); i++)
    bgr_agent_buf_put_int (&b, BGR_AGENT_F_EXIT_CODE, ints[i]);
  bgr_agent_buf_put_str (&b, BGR_AGENT_F_ARG, "echo");
  bgr_agent_buf_put_str (&b, BGR_AGENT_F_ARG, "");
  bgr_agent_buf_put_str (&b, BGR_AGENT_F_ARG, "héllo wörld");
  bgr_agent_buf_put_str (&b, BGR_AGENT_F_ARG, NULL); /* nothing */
  bgr_agent_buf_put_bytes (&b, 999, blob, sizeof blob);
  bgr_agent_buf_put_bytes (&b, BGR_AGENT_F_MESSAGE, NULL, 0);
  g_assert_false (b.failed);
  /* Field = tag u16 + length u32 + value. */
  g_assert_cmpuint (b.len, ==, G_N_ELEMENTS (ints) * 14 + (6 + 4) + 6 + (6 + 13) + (6 + 5) + 6);
  g_assert_cmpint (b.data[0], ==, BGR_AGENT_F_EXIT_CODE);
  g_assert_cmpint (b.data[2], ==, 8);

  bgr_agent_fields_init (&it, b.data, b.len);
  for (gsize i = 0; i < G_N_ELEMENTS (ints); i++)
    {
      g_assert_cmpint (bgr_agent_fields_next (&it, &tag, &val, &len), ==, 1);
      g_assert_cmpuint (tag, ==, BGR_AGENT_F_EXIT_CODE);
      g_assert_cmpint (bgr_agent_field_int (val, len, &v), ==, 0);
      g_assert_cmpint (v, ==, ints[i]);
    }
  g_assert_cmpint (bgr_agent_fields_next (&it, &tag, &val, &len), ==, 1);
  g_assert_cmpuint (tag, ==, BGR_AGENT_F_ARG);
  g_assert_cmpmem (val, len, "echo", 4);
  g_assert_cmpint (bgr_agent_field_int (val, len, &v), ==, -1); /* not 8 bytes */
  g_assert_cmpint (bgr_agent_fields_next (&it, &tag, &val, &len), ==, 1);
  g_assert_cmpuint (len, ==, 0);
  g_assert_cmpint (bgr_agent_fields_next (&it, &tag, &val, &len), ==, 1);
  g_assert_cmpmem (val, len, "héllo wörld", strlen ("héllo wörld"));
  g_assert_cmpint (bgr_agent_fields_next (&it, &tag, &val, &len), ==, 1);
  g_assert_cmpuint (tag, ==, 999);
  g_assert_cmpmem (val, len, blob, sizeof blob);
  g_assert_cmpint (bgr_agent_fields_next (&it, &tag, &val, &len), ==, 1);
  g_assert_cmpuint (tag, ==, BGR_AGENT_F_MESSAGE);
  g_assert_cmpuint (len, ==, 0);
  g_assert_cmpint (bgr_agent_fields_next (&it, &tag, &val, &len), ==, 0);
  g_assert_cmpint (bgr_agent_fields_next (&it, &tag, &val, &len), ==, 0);
  bgr_agent_buf_clear (&b);
  g_assert_null (b.data);
  g_assert_cmpuint (b.len, ==, 0);

  /* An empty payload is an empty field list. */
  bgr_agent_fields_init (&it, NULL, 0);
  g_assert_cmpint (bgr_agent_fields_next (&it, &tag, &val, &len), ==, 0);
}

static void
test_codec_malformed (void)
{
  BgrAgentBuf b;
  BgrAgentFieldIter it;
  uint16_t tag;
  const uint8_t *val;
  uint32_t len;

  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_str (&b, BGR_AGENT_F_ARG, "abcdef");
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_TIMEOUT_MS, 5);
  /* Every truncation of a valid list: the whole fields read, then -1 (or
   * 0 exactly at a field boundary). Never a read past the end. */
  for (gsize cut = 0; cut < b.len; cut++)
    {
      g_autofree uint8_t *copy = g_memdup2 (b.data, cut); /* exact size, for ASan */
      int rc, fields = 0;
      bgr_agent_fields_init (&it, copy, cut);
      while ((rc = bgr_agent_fields_next (&it, &tag, &val, &len)) == 1)
        fields++;
      if (cut == 0 || cut == 12)
        g_assert_cmpint (rc, ==, 0);
      else
        g_assert_cmpint (rc, ==, -1);
      g_assert_cmpint (fields, ==, cut >= 12 ? 1 : 0);
    }
  bgr_agent_buf_clear (&b);

  /* A length that runs past the end, including one that would wrap. */
  {
    const uint8_t huge[] = { 1, 0, 0xff, 0xff, 0xff, 0xff, 'x' };
    const uint8_t past[] = { 1, 0, 2, 0, 0, 0, 'x' };
    bgr_agent_fields_init (&it, huge, sizeof huge);
    g_assert_cmpint (bgr_agent_fields_next (&it, &tag, &val, &len), ==, -1);
    bgr_agent_fields_init (&it, past, sizeof past);
    g_assert_cmpint (bgr_agent_fields_next (&it, &tag, &val, &len), ==, -1);
  }

  /* Payloads are capped at BGR_AGENT_MAX_PAYLOAD; once over, nothing more
   * is added and what is there stays well formed. */
  {
    gsize big = BGR_AGENT_MAX_PAYLOAD - 6 - 14;
    g_autofree uint8_t *blob = g_malloc0 (BGR_AGENT_MAX_PAYLOAD);
    bgr_agent_buf_init (&b);
    bgr_agent_buf_put_int (&b, BGR_AGENT_F_PID, 7);
    bgr_agent_buf_put_bytes (&b, BGR_AGENT_F_MESSAGE, blob, big);
    g_assert_false (b.failed);
    g_assert_cmpuint (b.len, ==, BGR_AGENT_MAX_PAYLOAD);
    bgr_agent_buf_put_bytes (&b, BGR_AGENT_F_MESSAGE, NULL, 0);
    g_assert_true (b.failed);
    g_assert_cmpuint (b.len, ==, BGR_AGENT_MAX_PAYLOAD);
    bgr_agent_buf_put_int (&b, BGR_AGENT_F_PID, 8);
    g_assert_cmpuint (b.len, ==, BGR_AGENT_MAX_PAYLOAD);
    bgr_agent_buf_clear (&b);
    g_assert_false (b.failed);

    bgr_agent_buf_put_bytes (&b, BGR_AGENT_F_MESSAGE, blob, BGR_AGENT_MAX_PAYLOAD);
    g_assert_true (b.failed);
    g_assert_cmpuint (b.len, ==, 0);
    bgr_agent_buf_clear (&b);
    bgr_agent_buf_put_bytes (&b, BGR_AGENT_F_MESSAGE, blob, SIZE_MAX - 2);
    g_assert_true (b.failed);
    bgr_agent_buf_clear (&b);
  }
}

/* ---- talking to the agent ---- */

typedef struct {
  BgrAgentHeader h;
  GBytes *payload;
} Frame;

static void
frame_free (Frame *f)
{
  g_bytes_unref (f->payload);
  g_free (f);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Frame, frame_free)

typedef struct {
  GPid pid;
  int fd;         /* our end of the socketpair, nonblocking */
  GByteArray *rx; /* bytes received, not yet parsed */
  GQueue pending; /* Frame *: received, not yet asked for */
  gboolean closed;
} Agent;

static const char *agent_path;

static void
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
static int
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
static void
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
static void
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

static void
agent_send (Agent *a, uint16_t type, uint32_t channel, const void *payload, gsize len)
{
  uint8_t h[BGR_AGENT_HEADER_SIZE];
  bgr_agent_header_encode (h, type, channel, (uint32_t) len);
  agent_write_raw (a, h, sizeof h);
  if (len > 0)
    agent_write_raw (a, payload, len);
}

static void
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
static Frame *
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
static Frame *
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
static char *
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

static GPtrArray *
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
static int64_t
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
static void
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

static void
send_stdin (Agent *a, uint32_t channel, const void *data, gsize len)
{
  agent_send (a, BGR_AGENT_MSG_STDIN, channel, data, len);
}

typedef struct {
  int64_t pid;      /* from STARTED; 0 if none */
  GString *out, *err;
  guint out_frames;
  gsize largest_frame;
  gboolean exited;  /* EXIT received */
  int64_t exit_code, signal, timed_out;
  char *error;      /* ERROR's MESSAGE */
  int64_t error_errno;
} Result;

static void
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
static void
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

static void
collect (Agent *a, uint32_t channel, Result *r)
{
  collect_rest (a, channel, r, 0);
}

static void
run_exec (Agent *a, uint32_t channel, const char *const *argv, const char *const *env, const char *cwd,
          Result *r)
{
  send_exec (a, channel, argv, env, cwd, 0, FALSE);
  collect (a, channel, r);
}

/* A later HELLO still gets READY: the agent is neither dead nor wedged. */
static void
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

static void
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

/* ---- agent tests ---- */

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

    g_assert_cmpint (frame_int (f, BGR_AGENT_F_VERSION), ==, BGR_AGENT_PROTOCOL_VERSION);
    g_assert_cmpstr (kernel, ==, u.release);
    g_assert_cmpstr (host, ==, g_get_host_name ());
    g_assert_cmpstr (uname_all, ==, want_uname);
    g_assert_cmpstr (version, ==, BANGER_VERSION);
    g_assert_cmpint (frame_int (f, BGR_AGENT_F_UPTIME_MS), >, 0);
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
  want = g_strdup_printf ("tcp 127.0.0.1 %u %d test-agent", ntohs (sin.sin_port), (int) getpid ());

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
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  agent_path = bgr_test_program ("BANGER_AGENT");
  /* Commands must get the agent's defaults, not the agent's environment. */
  g_setenv ("BANGER_AGENT_TEST_LEAK", "leaked", TRUE);

  g_test_add_func ("/agent/codec/header", test_codec_header);
  g_test_add_func ("/agent/codec/fields", test_codec_fields);
  g_test_add_func ("/agent/codec/malformed", test_codec_malformed);
  g_test_add_func ("/agent/usage", test_usage);
#define ADD(path, fn) g_test_add (path, Agent, NULL, agent_start, fn, agent_stop)
  ADD ("/agent/hello", test_hello);
  ADD ("/agent/exec/output", test_exec_output);
  ADD ("/agent/exec/stdin", test_exec_stdin);
  ADD ("/agent/exec/env-cwd", test_exec_env_cwd);
  ADD ("/agent/exec/missing", test_exec_missing);
  ADD ("/agent/exec/timeout", test_exec_timeout);
  ADD ("/agent/exec/signal", test_exec_signal);
  ADD ("/agent/exec/interleaved", test_exec_interleaved);
  ADD ("/agent/exec/busy-channel", test_exec_busy_channel);
  ADD ("/agent/ports", test_ports);
  ADD ("/agent/stats", test_stats);
  ADD ("/agent/garbage", test_garbage);
  ADD ("/agent/disconnect", test_disconnect);
#undef ADD
  return g_test_run ();
}
