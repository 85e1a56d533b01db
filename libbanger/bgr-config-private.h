/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <banger/banger.h>

G_BEGIN_DECLS

/* Wire form used by the D-Bus GetConfig method: a(sss) of key, value, source. */
BgrConfig *bgr_config_new_from_entries (const char *path, GVariant *entries, GError **error);
GVariant *bgr_config_to_entries (BgrConfig *self);

/* Validation shared with the network module: a dotted IPv4 address (to
 * host order in *out, which may be NULL), ADDR/PREFIX, an interface name.
 * NULL is refused. */
gboolean bgr_config_parse_ipv4 (const char *text, guint32 *out);
gboolean bgr_config_parse_cidr (const char *text, guint32 *net, guint *prefix);
gboolean bgr_config_valid_ifname (const char *s);

/* For the generated manual (banger-config(5)): @key's one-line description,
 * its type in words, and its built-in default for @flags (the XDG
 * directories as the environment gives them). NULL for an unknown key. */
const char *bgr_config_get_key_doc (const char *key);
char *bgr_config_dup_key_type_doc (const char *key);
char *bgr_config_dup_key_default (const char *key, BgrConfigFlags flags);

G_END_DECLS
