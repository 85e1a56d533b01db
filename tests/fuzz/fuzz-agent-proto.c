/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the agent wire codec (frame headers and field lists),
 * which parses whatever a guest sends. */
#include "config.h"

#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "agent-proto/bgr-agent-proto.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  BgrAgentFieldIter it;
  BgrAgentBuf again;
  uint16_t tag;
  const uint8_t *val;
  uint32_t len;
  int rc;

  if (size >= BGR_AGENT_HEADER_SIZE)
    {
      BgrAgentHeader h;
      uint8_t out[BGR_AGENT_HEADER_SIZE];
      rc = bgr_agent_header_decode (data, &h);
      g_assert (rc == 0 || rc == -1 || rc == -2);
      if (rc == 0)
        {
          g_assert (h.length <= BGR_AGENT_MAX_PAYLOAD);
          /* flags are not re-encoded (always 0 on the way out) */
          bgr_agent_header_encode (out, h.type, h.channel, h.length);
          g_assert (memcmp (out, data, 6) == 0 && memcmp (out + 8, data + 8, 8) == 0);
        }
      (void) bgr_agent_msg_name (h.type);
    }

  /* A field list that parses re-encodes to the same bytes. */
  bgr_agent_buf_init (&again);
  bgr_agent_fields_init (&it, data, size);
  while ((rc = bgr_agent_fields_next (&it, &tag, &val, &len)) == 1)
    {
      int64_t v;
      g_assert (val >= data && val + len <= data + size);
      if (bgr_agent_field_int (val, len, &v) == 0)
        bgr_agent_buf_put_int (&again, tag, v);
      else
        bgr_agent_buf_put_bytes (&again, tag, val, len);
    }
  g_assert (rc == 0 || rc == -1);
  if (rc == 0 && size <= BGR_AGENT_MAX_PAYLOAD)
    {
      g_assert (!again.failed);
      g_assert (again.len == size);
      g_assert (size == 0 || memcmp (again.data, data, size) == 0);
    }
  bgr_agent_buf_clear (&again);
  return 0;
}
