/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rate limit for the errors bangerd logs on behalf of one D-Bus peer
 * (bangerd-loglimit.c): a client that repeats a failing call cannot flood
 * the log. Within a window of @interval_us from the first occurrence, the
 * first @burst identical messages of a peer are logged, the others only
 * counted; when the window is over, one line says how many were
 * suppressed. Thread-safe. Needs GLib only, so that a unit test can
 * drive it with its own clock. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _BgrdLogLimit BgrdLogLimit;

/* Called for a window that suppressed @count messages @what of @peer. */
typedef void (*BgrdLogLimitReport) (const char *peer, const char *what, guint count,
                                    gpointer data);

BgrdLogLimit *bgrd_log_limit_new (guint burst, gint64 interval_us, BgrdLogLimitReport report,
                                  gpointer data);
/* Reports what is still suppressed, then frees. */
void bgrd_log_limit_free (BgrdLogLimit *limit);
/* Whether to log @what (an escaped message) for @peer at @now_us (a
 * monotonic time). Ends the windows that are over first. */
gboolean bgrd_log_limit_allow (BgrdLogLimit *limit, const char *peer, const char *what,
                               gint64 now_us);
/* Ends (and reports) the windows that are over at @now_us; G_MAXINT64
 * ends them all. */
void bgrd_log_limit_expire (BgrdLogLimit *limit, gint64 now_us);

G_END_DECLS
