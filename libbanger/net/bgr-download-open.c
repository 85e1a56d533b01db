/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Opening what a download reads (bgr-download-internal.h): an HTTP(S)
 * request, resuming with a Range where the sink already holds a prefix,
 * or a file:// URL; each says whether a failure is worth another attempt. */
#include "config.h"

#include "bgr-error-private.h"
#include "net/bgr-download-internal.h"
#include "net/bgr-download-private.h"

/* A connection that died under us is worth another try; a timeout is not
 * (a stalled server tends to stay stalled, and the caller already waited
 * the whole timeout), nor is a refused connection or a TLS failure. */
Outcome
bgr_download_transport_error (Download *d, GError *src, GError **error)
{
  if (g_error_matches (src, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)
      || g_error_matches (src, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE)
      || g_error_matches (src, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NETWORK, "%s: %s", d->url, src->message);
      g_error_free (src);
      return OUTCOME_RETRY;
    }
  bgr_propagate_soup_error (error, src, d->url);
  return OUTCOME_FAIL;
}

/* @full: the whole resource's size as its server announced it, -1 if it
 * did not. A wrong announced size fails before any body byte is read. */
static Outcome
check_announced_size (Download *d, gint64 full, GError **error)
{
  if (full >= 0 && d->expected_size >= 0 && full != d->expected_size)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s: size mismatch: expected %" G_GINT64_FORMAT " bytes, the server announced %"
                   G_GINT64_FORMAT, d->url, d->expected_size, full);
      return OUTCOME_DISCARD;
    }
  if (full >= 0 && d->max_size >= 0 && full > d->max_size)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s: %" G_GINT64_FORMAT " bytes is more than the %" G_GINT64_FORMAT " allowed",
                   d->url, full, d->max_size);
      return OUTCOME_DISCARD;
    }
  d->total = d->expected_size >= 0 ? (guint64) d->expected_size : full >= 0 ? (guint64) full : 0;
  return OUTCOME_OK;
}

Outcome
bgr_download_open_http (Download *d, GCancellable *cancellable, GInputStream **out,
                        gint64 *out_remaining, GError **error)
{
  g_autoptr (SoupMessage) msg = soup_message_new_from_uri (SOUP_METHOD_GET, d->uri);
  g_autoptr (GInputStream) in = NULL;
  SoupMessageHeaders *headers;
  GError *local = NULL;
  guint64 offset = d->done;
  gint64 full = -1, remaining = -1;
  guint status;
  Outcome o;

  /* Sizes and hashes are those of the bytes on the server: a
   * Content-Encoding must not be undone on the way (and would not mix with
   * Range requests anyway). */
  soup_message_disable_feature (msg, SOUP_TYPE_CONTENT_DECODER);
  if (offset > 0)
    soup_message_headers_set_range (soup_message_get_request_headers (msg), (goffset) offset, -1);
  in = soup_session_send (d->session, msg, cancellable, &local);
  if (in == NULL)
    return bgr_download_transport_error (d, local, error);

  status = soup_message_get_status (msg);
  headers = soup_message_get_response_headers (msg);
  if (status == SOUP_STATUS_OK)
    {
      /* A server that ignores Range sends everything again. */
      if (offset > 0 && !bgr_download_sink_reset (d, error))
        return OUTCOME_FAIL;
      if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH)
        full = remaining = soup_message_headers_get_content_length (headers);
    }
  else if (status == SOUP_STATUS_PARTIAL_CONTENT)
    {
      goffset start = 0, end = 0, length = -1;

      if (offset == 0 || !soup_message_headers_get_content_range (headers, &start, &end, &length)
          || start != (goffset) offset || end < start)
        {
          /* Other bytes than those asked for: the next attempt asks for
           * everything instead of trusting this server's ranges. */
          if (!bgr_download_sink_reset (d, error))
            return OUTCOME_FAIL;
          g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                       "%s: partial content does not start at byte %" G_GUINT64_FORMAT, d->url,
                       offset);
          return OUTCOME_RETRY;
        }
      remaining = end - start + 1;
      full = length;
    }
  else if (status == SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE && offset > 0)
    {
      /* The part file is as long as the resource or longer, so it is no
       * prefix of it: start over, without a Range this time. */
      if (!bgr_download_sink_reset (d, error))
        return OUTCOME_FAIL;
      g_clear_object (&in);
      return bgr_download_open_http (d, cancellable, out, out_remaining, error);
    }
  else if (g_object_get_data (G_OBJECT (msg), BGR_DOWNLOAD_REFUSED_REDIRECT) != NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "%s: %s", d->url,
                   (const char *) g_object_get_data (G_OBJECT (msg), BGR_DOWNLOAD_REFUSED_REDIRECT));
      return OUTCOME_FAIL;
    }
  else
    {
      bgr_set_error_from_http_status (error, status, soup_message_get_reason_phrase (msg), d->url);
      if (status == SOUP_STATUS_NOT_FOUND || status == SOUP_STATUS_GONE)
        return OUTCOME_DISCARD;
      if (SOUP_STATUS_IS_SERVER_ERROR (status) || status == SOUP_STATUS_REQUEST_TIMEOUT
          || status == 429 /* Too Many Requests */)
        return OUTCOME_RETRY;
      return OUTCOME_FAIL;
    }

  o = check_announced_size (d, full, error);
  if (o != OUTCOME_OK)
    return o;
  *out = g_steal_pointer (&in);
  *out_remaining = remaining;
  return OUTCOME_OK;
}

Outcome
bgr_download_open_file (Download *d, GCancellable *cancellable, GInputStream **out,
                        gint64 *out_remaining, GError **error)
{
  g_autoptr (GFile) file = g_file_new_for_uri (d->url);
  g_autoptr (GFileInputStream) in = NULL;
  g_autoptr (GFileInfo) info = NULL;
  GError *local = NULL;
  gint64 size;
  Outcome o;

  in = g_file_read (file, cancellable, &local);
  if (in == NULL)
    {
      gboolean missing = g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);

      bgr_propagate_error (error, local, "%s", d->url);
      return missing ? OUTCOME_DISCARD : OUTCOME_FAIL;
    }
  info = g_file_input_stream_query_info (in, G_FILE_ATTRIBUTE_STANDARD_SIZE, cancellable, &local);
  if (info == NULL)
    {
      bgr_propagate_error (error, local, "%s", d->url);
      return OUTCOME_FAIL;
    }
  size = g_file_info_get_size (info);
  if ((gint64) d->done > size && !bgr_download_sink_reset (d, error))
    return OUTCOME_FAIL;
  if (d->done > 0
      && !g_seekable_seek (G_SEEKABLE (in), (goffset) d->done, G_SEEK_SET, cancellable, &local))
    {
      bgr_propagate_error (error, local, "%s", d->url);
      return OUTCOME_FAIL;
    }
  o = check_announced_size (d, size, error);
  if (o != OUTCOME_OK)
    return o;
  *out = G_INPUT_STREAM (g_steal_pointer (&in));
  *out_remaining = size - (gint64) d->done;
  return OUTCOME_OK;
}
