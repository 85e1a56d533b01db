/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent wire format (see bgr-agent-proto.h and docs/agent-protocol.md).
 * Plain C11 + libc: compiled into libbanger and into the static agent. All
 * integers are little-endian on the wire whatever the host's byte order, so
 * they are assembled byte by byte rather than copied. */
#include "bgr-agent-proto.h"

#include <stdlib.h>
#include <string.h>

/* tag u16 + length u32 */
#define FIELD_HEADER_SIZE 6

static void
put_u16 (uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t) v;
  p[1] = (uint8_t) (v >> 8);
}

static void
put_u32 (uint8_t *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t) (v >> (8 * i));
}

static void
put_u64 (uint8_t *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t) (v >> (8 * i));
}

static uint16_t
get_u16 (const uint8_t *p)
{
  return (uint16_t) (p[0] | (p[1] << 8));
}

static uint32_t
get_u32 (const uint8_t *p)
{
  return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

static uint64_t
get_u64 (const uint8_t *p)
{
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

void
bgr_agent_header_encode (uint8_t out[BGR_AGENT_HEADER_SIZE], uint16_t type, uint32_t channel,
                         uint32_t length)
{
  put_u32 (out, BGR_AGENT_MAGIC);
  put_u16 (out + 4, type);
  put_u16 (out + 6, 0);
  put_u32 (out + 8, channel);
  put_u32 (out + 12, length);
}

int
bgr_agent_header_decode (const uint8_t in[BGR_AGENT_HEADER_SIZE], BgrAgentHeader *out)
{
  if (get_u32 (in) != BGR_AGENT_MAGIC)
    return -1;
  out->type = get_u16 (in + 4);
  out->flags = get_u16 (in + 6);
  out->channel = get_u32 (in + 8);
  out->length = get_u32 (in + 12);
  if (out->length > BGR_AGENT_MAX_PAYLOAD)
    return -2;
  return 0;
}

void
bgr_agent_buf_init (BgrAgentBuf *b)
{
  memset (b, 0, sizeof *b);
}

void
bgr_agent_buf_clear (BgrAgentBuf *b)
{
  free (b->data);
  bgr_agent_buf_init (b);
}

/* Makes room for @extra more bytes, or sets `failed`. */
static int
buf_reserve (BgrAgentBuf *b, size_t extra)
{
  if (b->failed)
    return -1;
  if (extra > BGR_AGENT_MAX_PAYLOAD || b->len > BGR_AGENT_MAX_PAYLOAD - extra)
    {
      b->failed = 1;
      return -1;
    }
  if (b->len + extra <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra)
    cap *= 2;
  if (cap > BGR_AGENT_MAX_PAYLOAD)
    cap = BGR_AGENT_MAX_PAYLOAD;
  uint8_t *data = realloc (b->data, cap);
  if (data == NULL)
    {
      b->failed = 1;
      return -1;
    }
  b->data = data;
  b->cap = cap;
  return 0;
}

void
bgr_agent_buf_put_bytes (BgrAgentBuf *b, uint16_t tag, const void *data, size_t len)
{
  if (len > BGR_AGENT_MAX_PAYLOAD)
    {
      b->failed = 1;
      return;
    }
  if (buf_reserve (b, FIELD_HEADER_SIZE + len) < 0)
    return;
  put_u16 (b->data + b->len, tag);
  put_u32 (b->data + b->len + 2, (uint32_t) len);
  if (len > 0)
    memcpy (b->data + b->len + FIELD_HEADER_SIZE, data, len);
  b->len += FIELD_HEADER_SIZE + len;
}

void
bgr_agent_buf_put_str (BgrAgentBuf *b, uint16_t tag, const char *s)
{
  if (s != NULL)
    bgr_agent_buf_put_bytes (b, tag, s, strlen (s));
}

void
bgr_agent_buf_put_int (BgrAgentBuf *b, uint16_t tag, int64_t v)
{
  uint8_t le[8];
  put_u64 (le, (uint64_t) v);
  bgr_agent_buf_put_bytes (b, tag, le, sizeof le);
}

void
bgr_agent_fields_init (BgrAgentFieldIter *it, const void *payload, size_t len)
{
  it->p = payload;
  it->left = payload != NULL ? len : 0;
}

int
bgr_agent_fields_next (BgrAgentFieldIter *it, uint16_t *tag, const uint8_t **val, uint32_t *len)
{
  if (it->left == 0)
    return 0;
  if (it->left < FIELD_HEADER_SIZE)
    return -1;
  uint32_t n = get_u32 (it->p + 2);
  if (n > it->left - FIELD_HEADER_SIZE)
    return -1;
  *tag = get_u16 (it->p);
  *val = it->p + FIELD_HEADER_SIZE;
  *len = n;
  it->p += FIELD_HEADER_SIZE + n;
  it->left -= FIELD_HEADER_SIZE + n;
  return 1;
}

int
bgr_agent_field_int (const uint8_t *val, uint32_t len, int64_t *out)
{
  if (len != 8)
    return -1;
  /* Two's complement through memcpy: no implementation-defined cast of an
   * out-of-range uint64_t. */
  uint64_t u = get_u64 (val);
  int64_t v;
  memcpy (&v, &u, sizeof v);
  *out = v;
  return 0;
}

int
bgr_agent_session_name_valid (const char *s)
{
  size_t n = 0;

  if (s == NULL || s[0] == '\0' || s[0] == '.' || s[0] == '-')
    return 0;
  for (const char *p = s; *p != '\0'; p++, n++)
    {
      char c = *p;
      int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
               || c == '_' || c == '.' || c == '-';
      if (!ok || n >= BGR_AGENT_SESSION_NAME_MAX)
        return 0;
    }
  return 1;
}

const char *
bgr_agent_msg_name (uint16_t type)
{
  static const char *const names[] = {
    [BGR_AGENT_MSG_HELLO] = "HELLO",         [BGR_AGENT_MSG_READY] = "READY",
    [BGR_AGENT_MSG_EXEC] = "EXEC",           [BGR_AGENT_MSG_STARTED] = "STARTED",
    [BGR_AGENT_MSG_STDIN] = "STDIN",         [BGR_AGENT_MSG_STDOUT] = "STDOUT",
    [BGR_AGENT_MSG_STDERR] = "STDERR",       [BGR_AGENT_MSG_EXIT] = "EXIT",
    [BGR_AGENT_MSG_ERROR] = "ERROR",         [BGR_AGENT_MSG_SIGNAL] = "SIGNAL",
    [BGR_AGENT_MSG_SHUTDOWN] = "SHUTDOWN",   [BGR_AGENT_MSG_OK] = "OK",
    [BGR_AGENT_MSG_PING] = "PING",           [BGR_AGENT_MSG_PONG] = "PONG",
    [BGR_AGENT_MSG_PORTS_REQ] = "PORTS_REQ", [BGR_AGENT_MSG_PORTS] = "PORTS",
    [BGR_AGENT_MSG_STATS_REQ] = "STATS_REQ", [BGR_AGENT_MSG_STATS] = "STATS",
    [BGR_AGENT_MSG_SESSION_START] = "SESSION_START",
    [BGR_AGENT_MSG_SESSION_LIST] = "SESSION_LIST",
    [BGR_AGENT_MSG_SESSIONS] = "SESSIONS",
    [BGR_AGENT_MSG_SESSION_READ] = "SESSION_READ",
    [BGR_AGENT_MSG_SESSION_LOG] = "SESSION_LOG",
    [BGR_AGENT_MSG_SESSION_LOG_END] = "SESSION_LOG_END",
    [BGR_AGENT_MSG_SESSION_ATTACH] = "SESSION_ATTACH",
    [BGR_AGENT_MSG_SESSION_ATTACHED] = "SESSION_ATTACHED",
    [BGR_AGENT_MSG_DETACH] = "DETACH",
    [BGR_AGENT_MSG_SESSION_SIGNAL] = "SESSION_SIGNAL",
    [BGR_AGENT_MSG_SESSION_STOP] = "SESSION_STOP",
    [BGR_AGENT_MSG_WINSIZE] = "WINSIZE",
    [BGR_AGENT_MSG_TCP_CONNECT] = "TCP_CONNECT", [BGR_AGENT_MSG_TCP_CONNECTED] = "TCP_CONNECTED",
    [BGR_AGENT_MSG_TCP_DATA] = "TCP_DATA",   [BGR_AGENT_MSG_TCP_CLOSE] = "TCP_CLOSE",
    [BGR_AGENT_MSG_RESIZE] = "RESIZE",
  };
  if (type < sizeof names / sizeof names[0] && names[type] != NULL)
    return names[type];
  return "unknown";
}
