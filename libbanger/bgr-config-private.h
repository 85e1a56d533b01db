/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <banger/banger.h>

G_BEGIN_DECLS

/* Wire form used by the D-Bus GetConfig method: a(sss) of key, value, source. */
BgrConfig *bgr_config_new_from_entries (const char *path, GVariant *entries, GError **error);
GVariant *bgr_config_to_entries (BgrConfig *self);

G_END_DECLS
