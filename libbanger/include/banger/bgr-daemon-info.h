/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__BANGER_H_INSIDE__) && !defined(BANGER_COMPILATION)
#error "Only <banger/banger.h> can be included directly."
#endif

#include <glib-object.h>
#include <banger/bgr-macros.h>

G_BEGIN_DECLS

/**
 * BgrDaemonInfo:
 *
 * What an engine reports about itself: process id, version, the bus it
 * serves on (or "in-process" for a local engine), its state directory and
 * the web UI address.
 *
 * Since: 0.1
 */
#define BGR_TYPE_DAEMON_INFO (bgr_daemon_info_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrDaemonInfo, bgr_daemon_info, BGR, DAEMON_INFO, GObject)

BGR_EXTERN gint64 bgr_daemon_info_get_pid (BgrDaemonInfo *self);
BGR_EXTERN const char *bgr_daemon_info_get_version (BgrDaemonInfo *self);
BGR_EXTERN const char *bgr_daemon_info_get_bus (BgrDaemonInfo *self);
BGR_EXTERN const char *bgr_daemon_info_get_state_dir (BgrDaemonInfo *self);
BGR_EXTERN const char *bgr_daemon_info_get_web_ui_address (BgrDaemonInfo *self);
BGR_EXTERN gint64 bgr_daemon_info_get_uptime_seconds (BgrDaemonInfo *self);
BGR_EXTERN char *bgr_daemon_info_to_json (BgrDaemonInfo *self);

G_END_DECLS
