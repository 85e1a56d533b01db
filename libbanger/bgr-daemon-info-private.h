/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <banger/banger.h>

G_BEGIN_DECLS

BgrDaemonInfo *bgr_daemon_info_new (gint64 pid, const char *version, const char *bus,
                                    const char *state_dir, const char *web_ui_address,
                                    gint64 uptime_seconds);
/* Wire form of the D-Bus GetStatus reply: a{sv}. */
GVariant *bgr_daemon_info_to_variant (BgrDaemonInfo *self);
BgrDaemonInfo *bgr_daemon_info_new_from_variant (GVariant *dict, GError **error);

G_END_DECLS
