/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private error helpers: convert other libraries' error channels to
 * BGR_ERROR right at the call site, keeping their message. */
#pragma once

#include <gio/gio.h>
#include <banger/bgr-error.h>

G_BEGIN_DECLS

#define BGR_DBUS_ERROR_PREFIX "org.banger.Banger1.Error."

int bgr_error_code_from_gio (const GError *error);
/* Takes ownership of @src; @dest gets a BGR_ERROR with the mapped code. */
void bgr_propagate_error (GError **dest, GError *src, const char *prefix_fmt, ...)
  G_GNUC_PRINTF (3, 4);
/* Converts *error in place to BGR_ERROR; returns TRUE when an error was set. */
gboolean bgr_error_convert (GError **error);
void bgr_set_error_errno (GError **error, int errsv, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* libsoup: HTTP status of a finished message, and transport errors. */
void bgr_set_error_from_http_status (GError **error, guint status, const char *reason,
                                     const char *url);
void bgr_propagate_soup_error (GError **dest, GError *src, const char *url);

/* libarchive: reads archive_errno()/archive_error_string() of @archive. */
struct archive;
void bgr_set_error_from_archive (GError **error, struct archive *archive, const char *fmt, ...)
  G_GNUC_PRINTF (3, 4);

/* libext2fs: an errcode_t (long). */
void bgr_set_error_from_ext2fs (GError **error, long errcode, const char *fmt, ...)
  G_GNUC_PRINTF (3, 4);

/* libgit2: @rc is the negative return code; reads git_error_last(). */
void bgr_set_error_from_git (GError **error, int rc, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

G_END_DECLS
