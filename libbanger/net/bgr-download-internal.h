/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Inside the downloader (bgr-download.c): one download's state, its sink
 * (bgr-download-sink.c) and the openers of its source
 * (bgr-download-open.c). */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "bgr-sha256-private.h"
#include "net/bgr-download-private.h"

G_BEGIN_DECLS

typedef enum {
  OUTCOME_OK,
  OUTCOME_RETRY,   /* transient: another attempt may succeed, resuming */
  OUTCOME_FAIL,    /* give up; what arrived stays for a later call to resume */
  OUTCOME_DISCARD, /* give up; what arrived is worthless */
} Outcome;

typedef struct {
  SoupSession *session; /* owned */
  const char *url;
  GUri *uri; /* NULL for file:// */
  gint64 expected_size; /* exact size, -1 when unknown */
  const char *expected_sha256;
  gint64 max_size; /* refuse anything larger, -1 for no limit */
  BgrDownloadProgress progress;
  gpointer user_data;
  guint64 total; /* for progress: 0 while unknown */
  guint64 reported;
  gboolean reported_any;
  guint8 *buffer;

  /* The sink: the .part file (fd + running hash) or memory. */
  const char *part;
  int fd;
  BgrSha256 *sum;
  GByteArray *mem;
  guint64 done;           /* bytes in the sink */
  gboolean stale_prefix;  /* the sink starts with bytes an earlier call left */
} Download;

/* Appends @len bytes to the sink. */
gboolean bgr_download_sink_write (Download *d, const guint8 *data, gsize len, GError **error);
/* Empties the sink (the source must be read from its start again). */
gboolean bgr_download_sink_reset (Download *d, GError **error);

/* A failure of the connection itself: OUTCOME_RETRY when another attempt
 * may get through; takes @src. */
Outcome bgr_download_transport_error (Download *d, GError *src, GError **error);

/* Open @d's source from byte d->done on: *out reads it, *out_remaining is
 * how many bytes it holds (-1 when unknown). */
Outcome bgr_download_open_http (Download *d, GCancellable *cancellable, GInputStream **out,
                                gint64 *out_remaining, GError **error);
Outcome bgr_download_open_file (Download *d, GCancellable *cancellable, GInputStream **out,
                                gint64 *out_remaining, GError **error);

G_END_DECLS
