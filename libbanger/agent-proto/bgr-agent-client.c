/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host side of the guest agent protocol: the connection, its reader
 * thread and channels, framing, and HELLO. Execs are in bgr-agent-exec.c,
 * one-shot requests in bgr-agent-requests.c. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "agent-proto/bgr-agent-conn-private.h"
#include "bgr-error-private.h"

void
bgr_agent_frame_free (gpointer p)
{
  BgrAgentFrame *f = p;
  if (f == NULL)
    return;
  g_clear_pointer (&f->payload, g_bytes_unref);
  g_free (f);
}

struct _BgrAgentConn {
  gint refcount;
  GIOStream *stream;
  GThread *reader;
  GCancellable *cancel; /* stops the reader */
  GMutex lock;          /* channels, closed, writes */
  GMutex write_lock;
  GHashTable *channels; /* channel -> GAsyncQueue of BgrAgentFrame */
  gboolean closed;
  char *close_reason;
  guint32 next_channel;
};

void
bgr_agent_facts_free (BgrAgentFacts *f)
{
  if (f == NULL)
    return;
  g_free (f->agent_version);
  g_free (f->kernel);
  g_free (f->uname);
  g_free (f->os_id);
  g_free (f->os_version_id);
  g_free (f->os_pretty);
  g_free (f->hostname);
  g_strfreev (f->addrs);
  g_strfreev (f->tools);
  g_free (f);
}

/* Frames a channel may have waiting before the reader stops reading (and
 * so the guest stops sending): output faster than its consumer drains it
 * must not grow without bound. */
#define MAX_QUEUED 256

static void
deliver (BgrAgentConn *c, BgrAgentFrame *f)
{
  GAsyncQueue *q;

  g_mutex_lock (&c->lock);
  q = g_hash_table_lookup (c->channels, GUINT_TO_POINTER (f->channel));
  if (q != NULL)
    g_async_queue_ref (q);
  g_mutex_unlock (&c->lock);
  if (q == NULL)
    {
      bgr_agent_frame_free (f);
      return;
    }
  while (g_async_queue_length (q) >= MAX_QUEUED && !g_cancellable_is_cancelled (c->cancel))
    {
      gboolean open;
      g_mutex_lock (&c->lock);
      open = g_hash_table_lookup (c->channels, GUINT_TO_POINTER (f->channel)) == q;
      g_mutex_unlock (&c->lock);
      if (!open)
        break; /* its consumer left: nobody will drain it */
      g_usleep (2000);
    }
  g_async_queue_push (q, f);
  g_async_queue_unref (q);
}

static void
mark_closed (BgrAgentConn *c, const char *reason)
{
  GHashTableIter it;
  gpointer key, value;

  g_mutex_lock (&c->lock);
  if (!c->closed)
    {
      c->closed = TRUE;
      c->close_reason = g_strdup (reason);
    }
  g_hash_table_iter_init (&it, c->channels);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      BgrAgentFrame *f = g_new0 (BgrAgentFrame, 1);
      f->channel = GPOINTER_TO_UINT (key);
      g_async_queue_push (value, f);
    }
  g_mutex_unlock (&c->lock);
}

static gpointer
reader_thread (gpointer data)
{
  BgrAgentConn *c = data;
  GInputStream *in = g_io_stream_get_input_stream (c->stream);

  for (;;)
    {
      guint8 hdr[BGR_AGENT_HEADER_SIZE];
      BgrAgentHeader h;
      gsize got = 0;
      g_autoptr (GError) error = NULL;
      g_autofree guint8 *payload = NULL;
      BgrAgentFrame *f;

      if (!g_input_stream_read_all (in, hdr, sizeof hdr, &got, c->cancel, &error)
          || got != sizeof hdr)
        {
          mark_closed (c, error != NULL ? error->message : "the agent closed the connection");
          return NULL;
        }
      if (bgr_agent_header_decode (hdr, &h) != 0)
        {
          mark_closed (c, "the agent sent a malformed frame header");
          return NULL;
        }
      payload = g_malloc (MAX (h.length, 1));
      if (h.length > 0
          && (!g_input_stream_read_all (in, payload, h.length, &got, c->cancel, &error)
              || got != h.length))
        {
          mark_closed (c, error != NULL ? error->message : "the agent closed the connection");
          return NULL;
        }
      f = g_new0 (BgrAgentFrame, 1);
      f->type = h.type;
      f->channel = h.channel;
      f->payload = g_bytes_new_take (g_steal_pointer (&payload), h.length);
      deliver (c, f);
    }
}

BgrAgentConn *
bgr_agent_conn_new (GIOStream *stream)
{
  BgrAgentConn *c = g_new0 (BgrAgentConn, 1);

  c->refcount = 1;
  c->stream = g_object_ref (stream);
  c->cancel = g_cancellable_new ();
  g_mutex_init (&c->lock);
  g_mutex_init (&c->write_lock);
  c->channels = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_async_queue_unref);
  c->next_channel = 1;
  c->reader = g_thread_new ("bgr-agent-reader", reader_thread, c);
  return c;
}

BgrAgentConn *
bgr_agent_conn_ref (BgrAgentConn *c)
{
  g_atomic_int_inc (&c->refcount);
  return c;
}

void
bgr_agent_conn_unref (BgrAgentConn *c)
{
  if (c == NULL || !g_atomic_int_dec_and_test (&c->refcount))
    return;
  g_cancellable_cancel (c->cancel);
  /* Closing the socket wakes a blocked read. */
  if (G_IS_SOCKET_CONNECTION (c->stream))
    g_socket_shutdown (g_socket_connection_get_socket (G_SOCKET_CONNECTION (c->stream)), TRUE,
                       TRUE, NULL);
  g_thread_join (c->reader);
  g_io_stream_close (c->stream, NULL, NULL);
  g_object_unref (c->stream);
  g_object_unref (c->cancel);
  g_hash_table_unref (c->channels);
  g_free (c->close_reason);
  g_mutex_clear (&c->lock);
  g_mutex_clear (&c->write_lock);
  g_free (c);
}

gboolean
bgr_agent_conn_is_closed (BgrAgentConn *c)
{
  gboolean closed;
  g_mutex_lock (&c->lock);
  closed = c->closed;
  g_mutex_unlock (&c->lock);
  return closed;
}

gboolean
bgr_agent_conn_closed_error (BgrAgentConn *c, GError **error)
{
  g_mutex_lock (&c->lock);
  g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "lost the connection to the guest agent: %s",
               c->close_reason != NULL ? c->close_reason : "closed");
  g_mutex_unlock (&c->lock);
  return FALSE;
}

#define WRITE_TIMEOUT_US (10 * G_USEC_PER_SEC)

/* Writes all of @data without ever blocking longer than WRITE_TIMEOUT_US
 * for the guest to make room. */
static gboolean
send_all (GSocket *sock, const void *data, gsize len, GError **error)
{
  const guint8 *p = data;

  while (len > 0)
    {
      g_autoptr (GError) local = NULL;
      gssize n = g_socket_send_with_blocking (sock, (const char *) p, len, FALSE, NULL, &local);
      if (n > 0)
        {
          p += n;
          len -= (gsize) n;
          continue;
        }
      if (!g_error_matches (local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      if (!g_socket_condition_timed_wait (sock, G_IO_OUT, WRITE_TIMEOUT_US, NULL, error))
        {
          g_prefix_error (error, "the guest agent stopped reading: ");
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
bgr_agent_conn_send_frame (BgrAgentConn *c, guint16 type, guint32 channel, const void *data, gsize len,
            GError **error)
{
  guint8 hdr[BGR_AGENT_HEADER_SIZE];
  GOutputStream *out = g_io_stream_get_output_stream (c->stream);
  g_autoptr (GError) local = NULL;
  gboolean ok;

  if (len > BGR_AGENT_MAX_PAYLOAD)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "message too large for the guest agent (%" G_GSIZE_FORMAT " bytes)", len);
      return FALSE;
    }
  if (bgr_agent_conn_is_closed (c))
    return bgr_agent_conn_closed_error (c, error);
  bgr_agent_header_encode (hdr, type, channel, (guint32) len);
  g_mutex_lock (&c->write_lock);
  if (G_IS_SOCKET_CONNECTION (c->stream))
    {
      GSocket *sock = g_socket_connection_get_socket (G_SOCKET_CONNECTION (c->stream));
      ok = send_all (sock, hdr, sizeof hdr, &local) && (len == 0 || send_all (sock, data, len, &local));
      if (!ok && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        /* A guest that stops reading: give up on the connection, so that
         * every call on it fails now instead of hanging. */
        g_socket_shutdown (sock, TRUE, TRUE, NULL);
    }
  else
    ok = g_output_stream_write_all (out, hdr, sizeof hdr, NULL, NULL, &local)
         && (len == 0 || g_output_stream_write_all (out, data, len, NULL, NULL, &local))
         && g_output_stream_flush (out, NULL, &local);
  g_mutex_unlock (&c->write_lock);
  if (!ok)
    {
      /* A write fails only when the connection is gone (or given up on
       * above): say so the same way whether the reader noticed first or
       * this write did. */
      g_autofree char *reason = g_strdup_printf ("cannot write to it: %s", local->message);
      mark_closed (c, reason);
      return bgr_agent_conn_closed_error (c, error);
    }
  return TRUE;
}

gboolean
bgr_agent_conn_send_buf (BgrAgentConn *c, guint16 type, guint32 channel, BgrAgentBuf *b, GError **error)
{
  if (b->failed)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "message too large for the guest agent");
      return FALSE;
    }
  return bgr_agent_conn_send_frame (c, type, channel, b->data, b->len, error);
}

GAsyncQueue *
bgr_agent_conn_open_channel (BgrAgentConn *c, guint32 *out_channel)
{
  GAsyncQueue *q = g_async_queue_new_full (bgr_agent_frame_free);

  g_mutex_lock (&c->lock);
  if (out_channel != NULL)
    {
      *out_channel = c->next_channel++;
      if (c->next_channel == 0)
        c->next_channel = 1;
    }
  g_hash_table_insert (c->channels, GUINT_TO_POINTER (out_channel != NULL ? *out_channel : 0),
                       g_async_queue_ref (q));
  if (c->closed)
    {
      BgrAgentFrame *f = g_new0 (BgrAgentFrame, 1);
      g_async_queue_push (q, f);
    }
  g_mutex_unlock (&c->lock);
  return q;
}

void
bgr_agent_conn_close_channel (BgrAgentConn *c, guint32 channel, GAsyncQueue *q)
{
  g_mutex_lock (&c->lock);
  if (g_hash_table_lookup (c->channels, GUINT_TO_POINTER (channel)) == q)
    g_hash_table_remove (c->channels, GUINT_TO_POINTER (channel));
  g_mutex_unlock (&c->lock);
  g_async_queue_unref (q);
}


/* A string field as valid UTF-8, cut to @max bytes (with "…" after it,
 * and *@cut set) when longer. */
char *
bgr_agent_field_str_max (const guint8 *val, guint32 len, gsize max, gboolean *cut)
{
  char *s;

  if (len <= max)
    return g_utf8_make_valid ((const char *) val, len);
  if (cut != NULL)
    *cut = TRUE;
  /* Back to a character boundary (continuation bytes are 10xxxxxx). */
  while (max > 0 && (val[max] & 0xc0) == 0x80)
    max--;
  s = g_utf8_make_valid ((const char *) val, (gssize) max);
  {
    char *out = g_strconcat (s, "\xe2\x80\xa6", NULL); /* "…" */
    g_free (s);
    return out;
  }
}

/* Reads an ERROR frame into a GError. */
gboolean
bgr_agent_frame_error (BgrAgentFrame *f, const char *what, GError **error)
{
  BgrAgentFieldIter it;
  guint16 tag;
  const guint8 *val;
  guint32 len;
  g_autofree char *message = NULL;
  gint64 err = 0;
  int code = BGR_ERROR_FAILED;

  bgr_agent_fields_init (&it, g_bytes_get_data (f->payload, NULL), g_bytes_get_size (f->payload));
  while (bgr_agent_fields_next (&it, &tag, &val, &len) == 1)
    if (tag == BGR_AGENT_F_MESSAGE)
      {
        g_free (message);
        message = bgr_agent_field_str_max (val, len, MESSAGE_MAX_BYTES, NULL);
      }
    else if (tag == BGR_AGENT_F_ERRNO)
      bgr_agent_field_int (val, len, &err);
  if (err == ENOENT)
    code = BGR_ERROR_NOT_FOUND;
  else if (err == EACCES || err == EPERM)
    code = BGR_ERROR_PERMISSION_DENIED;
  else if (err == EBUSY)
    code = BGR_ERROR_BUSY;
  else if (err == EEXIST)
    code = BGR_ERROR_EXISTS;
  else if (err == ENOTSUP)
    code = BGR_ERROR_NOT_SUPPORTED;
  g_set_error (error, BGR_ERROR, code, "%s%s%s", what != NULL ? what : "",
               what != NULL ? ": " : "", message != NULL ? message : "the guest agent refused");
  return FALSE;
}

static BgrAgentFacts *
parse_ready (BgrAgentFrame *f)
{
  BgrAgentFacts *facts = g_new0 (BgrAgentFacts, 1);
  g_autoptr (GPtrArray) addrs = g_ptr_array_new ();
  g_autoptr (GPtrArray) tools = g_ptr_array_new ();
  BgrAgentFieldIter it;
  guint16 tag;
  const guint8 *val;
  guint32 len;
  gboolean cut = FALSE;
  guint n_addrs = 0;

  bgr_agent_fields_init (&it, g_bytes_get_data (f->payload, NULL), g_bytes_get_size (f->payload));
  while (bgr_agent_fields_next (&it, &tag, &val, &len) == 1)
    switch (tag)
      {
      case BGR_AGENT_F_VERSION: bgr_agent_field_int (val, len, &facts->version); break;
      case BGR_AGENT_F_UPTIME_MS: bgr_agent_field_int (val, len, &facts->uptime_ms); break;
#define STR(T, m) case T: g_free (facts->m); facts->m = bgr_agent_field_str_max (val, len, FACT_MAX_BYTES, &cut); break
      STR (BGR_AGENT_F_AGENT_VERSION, agent_version);
      STR (BGR_AGENT_F_KERNEL, kernel);
      STR (BGR_AGENT_F_UNAME, uname);
      STR (BGR_AGENT_F_OS_ID, os_id);
      STR (BGR_AGENT_F_OS_VERSION_ID, os_version_id);
      STR (BGR_AGENT_F_OS_PRETTY, os_pretty);
      STR (BGR_AGENT_F_HOSTNAME, hostname);
#undef STR
      case BGR_AGENT_F_ADDR:
        if (++n_addrs <= ADDRS_MAX)
          g_ptr_array_add (addrs, bgr_agent_field_str_max (val, len, FACT_MAX_BYTES, &cut));
        break;
      case BGR_AGENT_F_TOOL:
        if (tools->len < TOOLS_MAX)
          g_ptr_array_add (tools, bgr_agent_field_str_max (val, len, FACT_MAX_BYTES, &cut));
        break;
      default: break;
      }
  if (facts->uptime_ms < 0 || facts->uptime_ms >= STAT_MAX)
    facts->uptime_ms = 0;
  if (n_addrs > ADDRS_MAX)
    g_info ("the guest agent reported %u addresses; keeping the first %d", n_addrs, ADDRS_MAX);
  if (cut)
    g_info ("the guest agent reported facts longer than %d bytes; they were cut", FACT_MAX_BYTES);
  g_ptr_array_add (addrs, NULL);
  facts->addrs = (GStrv) g_ptr_array_steal (addrs, NULL);
  g_ptr_array_add (tools, NULL);
  facts->tools = (GStrv) g_ptr_array_steal (tools, NULL);
  return facts;
}

BgrAgentFacts *
bgr_agent_conn_hello (BgrAgentConn *c, gint timeout_ms, gint resend_ms, BgrAgentAliveFunc alive,
                      gpointer alive_data, GCancellable *cancellable, GError **error)
{
  GAsyncQueue *q = bgr_agent_conn_open_channel (c, NULL);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gint64 next_send = 0;
  BgrAgentFacts *facts = NULL;
  BgrAgentBuf b;

  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_VERSION, BGR_AGENT_PROTOCOL_VERSION);
  while (facts == NULL)
    {
      gint64 now = g_get_monotonic_time ();
      BgrAgentFrame *f;

      if (now >= next_send)
        {
          if (!bgr_agent_conn_send_buf (c, BGR_AGENT_MSG_HELLO, 0, &b, error))
            break;
          next_send = now + (gint64) MAX (resend_ms, 100) * 1000;
        }
      f = g_async_queue_timeout_pop (q, 100000);
      if (f != NULL && f->type == 0)
        {
          bgr_agent_frame_free (f);
          bgr_agent_conn_closed_error (c, error);
          break;
        }
      if (f != NULL && f->type == BGR_AGENT_MSG_READY)
        facts = parse_ready (f);
      bgr_agent_frame_free (f);
      if (facts != NULL)
        break;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;
      if (alive != NULL && !alive (alive_data, error))
        break;
      if (g_get_monotonic_time () >= deadline)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_TIMED_OUT,
                       "the guest agent did not answer within %d s", timeout_ms / 1000);
          break;
        }
    }
  bgr_agent_buf_clear (&b);
  bgr_agent_conn_close_channel (c, 0, q);
  if (facts != NULL && facts->version != BGR_AGENT_PROTOCOL_VERSION)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                   "the guest agent speaks protocol version %" G_GINT64_FORMAT
                   ", banger speaks %d: %s", facts->version, BGR_AGENT_PROTOCOL_VERSION,
                   facts->version < BGR_AGENT_PROTOCOL_VERSION
                     ? "the VM runs an older banger-vsock-agent; restart the VM so that "
                       "banger installs its own"
                     : "this banger is older than the VM's agent; update banger");
      g_clear_pointer (&facts, bgr_agent_facts_free);
    }
  return facts;
}

/* One request, one answer of @reply_type on a fresh channel. */
BgrAgentFrame *
bgr_agent_conn_request (BgrAgentConn *c, guint16 type, BgrAgentBuf *b, guint16 reply_type, gint timeout_ms,
         const char *what, GCancellable *cancellable, GError **error)
{
  guint32 ch;
  GAsyncQueue *q = bgr_agent_conn_open_channel (c, &ch);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  BgrAgentBuf empty;
  BgrAgentFrame *result = NULL;

  bgr_agent_buf_init (&empty);
  if (!bgr_agent_conn_send_buf (c, type, ch, b != NULL ? b : &empty, error))
    {
      bgr_agent_conn_close_channel (c, ch, q);
      return NULL;
    }
  for (;;)
    {
      BgrAgentFrame *f = g_async_queue_timeout_pop (q, 100000);
      if (f != NULL)
        {
          if (f->type == 0)
            {
              bgr_agent_conn_closed_error (c, error);
              bgr_agent_frame_free (f);
              break;
            }
          if (f->type == BGR_AGENT_MSG_ERROR)
            {
              bgr_agent_frame_error (f, what, error);
              bgr_agent_frame_free (f);
              break;
            }
          if (f->type == reply_type)
            {
              result = f;
              break;
            }
          bgr_agent_frame_free (f);
          continue;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;
      if (g_get_monotonic_time () >= deadline)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_TIMED_OUT,
                       "%s: the guest agent did not answer within %d ms", what, timeout_ms);
          break;
        }
    }
  bgr_agent_conn_close_channel (c, ch, q);
  return result;
}
