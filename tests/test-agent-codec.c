/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The guest agent's wire codec (agent-proto/bgr-agent-proto.c): headers,
 * field lists, and what it does with malformed and oversized ones. No
 * agent runs. */
#include "config.h"

#include <stdint.h>

#include "agent-proto/bgr-agent-proto.h"
#include "bgr-test-util.h"

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

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/agent/codec/header", test_codec_header);
  g_test_add_func ("/agent/codec/fields", test_codec_fields);
  g_test_add_func ("/agent/codec/malformed", test_codec_malformed);
  return g_test_run ();
}
