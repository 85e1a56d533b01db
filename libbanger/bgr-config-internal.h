/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the configuration's files share (bgr-config*.c): the key table and
 * the checks every key goes through. The rest of libbanger uses
 * bgr-config-private.h. */
#pragma once

#include "bgr-config-private.h"

G_BEGIN_DECLS

typedef enum {
  KT_STRING,
  KT_ENUM,
  KT_PATH,     /* absolute path; a leading "~/" is expanded */
  KT_COMMAND,  /* a program name looked up in PATH, or an absolute path */
  KT_DURATION, /* "30m", "1h30m", "0" */
  KT_UINT,
  KT_IPV4,
  KT_CIDR,
  KT_IFNAME,
  KT_LISTEN,   /* host:port */
  KT_URL,      /* http://, https:// or file://; empty means the built-in */
  KT_BOOL,     /* a TOML boolean; the text is "true" or "false", num 1 or 0 */
} BgrConfigKeyType;

typedef struct {
  const char *name;
  BgrConfigKeyType type;
  const char *const *choices; /* KT_ENUM */
  gint64 min, max;            /* KT_UINT */
  const char *doc;
} BgrConfigKeySpec;


/* The number of keys in bgr_config_key_specs[] (checked at build time). */
#define BGR_CONFIG_N_KEYS 22

/* Every key, in display order (bgr-config-keys.c). */
extern const BgrConfigKeySpec bgr_config_key_specs[BGR_CONFIG_N_KEYS];
/* The index of @key in bgr_config_key_specs[], or -1. */
int bgr_config_spec_index (const char *key);
/* Validates @text for @spec: *@canonical is its canonical text, *@num its
 * number (KT_UINT, KT_DURATION in ms, KT_BOOL); FALSE with *@why set. */
gboolean bgr_config_check_value (const BgrConfigKeySpec *spec, const char *text, char **canonical,
                                 gint64 *num, char **why);
/* The built-in default of @key as text. */
char *bgr_config_default_value (const char *key, BgrConfigFlags flags);
/* $@var as systemd sets it for services (its first entry), else @fallback. */
char *bgr_config_systemd_dir (const char *var, const char *fallback);

G_END_DECLS
