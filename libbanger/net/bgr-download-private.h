/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Downloads of outside artifacts (kernels, catalogs) over http(s) or from
 * file:// URLs: streamed, resumable, verified, and placed atomically. */
#pragma once

#include <libsoup/soup.h>
#include <banger/banger.h>

G_BEGIN_DECLS

/* A session's own redirect policy (the registry client's) may refuse a
 * redirect: it sets SOUP_MESSAGE_NO_REDIRECT on the message and this data
 * key to why (a string). A download whose message carries it fails with
 * BGR_ERROR_PROTOCOL saying so, rather than with the 3xx status. */
#define BGR_DOWNLOAD_REFUSED_REDIRECT "bgr-refused-redirect"

/* @done bytes of @total are in place; @total is 0 while unknown. Calls come
 * from the downloading thread, and @done never goes backwards, even when a
 * server makes the download start over. */
typedef void (*BgrDownloadProgress) (guint64 done, guint64 total, gpointer user_data);

/* A session for banger's downloads: user agent "banger/VERSION" and a 60 s
 * I/O timeout, so a stalled server fails with BGR_ERROR_TIMED_OUT. */
SoupSession *bgr_download_session_new (void);

/* Downloads @url (http://, https:// or file://) to @dest atomically. Data
 * goes to DEST.part, is verified (size when @expected_size >= 0, sha256 when
 * @expected_sha256, 64 lowercase hex digits, is not NULL), fsync'ed, and only
 * then renamed to @dest.
 *
 * An existing DEST.part is resumed with an HTTP Range request (its bytes are
 * hashed first); a server that answers 200 instead of 206 restarts from
 * zero. Transient failures (HTTP 5xx, 408, 429, a connection reset or cut
 * short) are retried up to 3 attempts in all, each resuming from what
 * arrived. DEST.part is locked while in use: a second download of the same
 * @dest fails with BGR_ERROR_BUSY.
 *
 * Errors: BGR_ERROR_NOT_FOUND (404/410, missing file), other HTTP statuses as
 * bgr_set_error_from_http_status() maps them, BGR_ERROR_INVALID_DATA for a
 * size or sha256 mismatch, a body larger than @expected_size (refused as soon
 * as it is) or a body cut short, BGR_ERROR_TIMED_OUT when the server stalls
 * longer than the session's timeout, BGR_ERROR_CANCELLED.
 *
 * On a verification failure or NOT_FOUND, DEST.part is deleted and nothing
 * is left behind. On cancellation, a timeout, or a network error, a
 * non-empty DEST.part is kept so that a later call resumes it. */
gboolean bgr_download_file (SoupSession *session, const char *url, const char *dest,
                            gint64 expected_size, const char *expected_sha256,
                            BgrDownloadProgress progress, gpointer user_data,
                            GCancellable *cancellable, GError **error);

/* Fetches a small document (a catalog, an index) into memory, with the same
 * URL schemes, retries and errors as bgr_download_file(). A body larger than
 * @max_size fails with BGR_ERROR_INVALID_DATA. */
GBytes *bgr_download_bytes (SoupSession *session, const char *url, gsize max_size,
                            GCancellable *cancellable, GError **error);

/* Waits @ms milliseconds, or less when @cancellable fires (retry backoff).
 * Returns FALSE when cancelled. */
gboolean bgr_sleep_cancellable (guint ms, GCancellable *cancellable);

/* TRUE when @s is exactly 64 lowercase hex digits. */
gboolean bgr_download_sha256_is_valid (const char *s);

G_END_DECLS
