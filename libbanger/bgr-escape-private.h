/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Strings that someone else wrote (a guest through its agent, a D-Bus
 * client) shown or logged as data: control characters escaped, never
 * written raw to a terminal or a log line. A tiny static library
 * (bgr-escape) shared by libbanger, bangerd and the CLI; it needs GLib
 * only. See docs/vms.md, "Strings from the guest". */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The longest client- or guest-supplied string a log line quotes, in
 * bytes (before escaping). */
#define BGR_LOG_STR_MAX 200
/* The longest error message a log line quotes (messages may quote a
 * guest's or a client's words, within their own bounds). */
#define BGR_LOG_MESSAGE_MAX 1000

typedef enum {
  BGR_ESCAPE_DEFAULT = 0,
  BGR_ESCAPE_KEEP_NEWLINES = 1 << 0, /* '\n' and '\t' stay (multi-line messages) */
  BGR_ESCAPE_JSON = 1 << 1,          /* \uNNNN for every character escaped (for JSON
                                      * text that is valid UTF-8); implies KEEP_NEWLINES */
} BgrEscapeFlags;

/* TRUE when @s (may be NULL) holds something bgr_escape() would change:
 * a C0 control, DEL, a C1 control (U+0080..U+009F), a bidi or other
 * invisible formatting character, or bytes that are not UTF-8. */
gboolean bgr_escape_needed (const char *s, BgrEscapeFlags flags);

/* A copy of @s with each such character written as \xNN (C0, DEL, bytes
 * that are not UTF-8) or \u{NNNN} (the rest); NULL gives "(null)". When
 * @max_bytes > 0 and @s is longer, only its first @max_bytes bytes (cut at
 * a character boundary) are kept and "...(N bytes)" is appended. */
char *bgr_escape (const char *s, gssize max_bytes, BgrEscapeFlags flags);

/* For log lines: bgr_escape (s, BGR_LOG_STR_MAX, BGR_ESCAPE_DEFAULT). */
char *bgr_log_str (const char *s);
/* For error messages in log lines: bgr_escape (s, BGR_LOG_MESSAGE_MAX,
 * BGR_ESCAPE_DEFAULT). */
char *bgr_log_msg (const char *s);

G_END_DECLS
