/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__BANGER_H_INSIDE__) && !defined(BANGER_COMPILATION)
#error "Only <banger/banger.h> can be included directly."
#endif

#include <gio/gio.h>
#include <banger/bgr-macros.h>

G_BEGIN_DECLS

/**
 * BgrConfig:
 *
 * banger's effective configuration: the built-in defaults overlaid with
 * `$XDG_CONFIG_HOME/banger/config.toml` (or an explicit file). Every value
 * remembers where it came from. A #BgrConfig is immutable once loaded.
 *
 * Since: 0.1
 */
/**
 * BgrConfigFlags:
 * @BGR_CONFIG_FLAGS_NONE: a per-user configuration (XDG directories)
 * @BGR_CONFIG_FLAGS_SYSTEM: the system-wide configuration of `bangerd
 *   --system`: file `/etc/banger/config.toml`, state in `/var/lib/banger`,
 *   cache in `/var/cache/banger` (or systemd's `$CONFIGURATION_DIRECTORY`,
 *   `$STATE_DIRECTORY`, `$CACHE_DIRECTORY`)
 *
 * Since: 0.1
 */
typedef enum {
  BGR_CONFIG_FLAGS_NONE = 0,
  BGR_CONFIG_FLAGS_SYSTEM = 1 << 0
} BgrConfigFlags;

#define BGR_TYPE_CONFIG (bgr_config_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrConfig, bgr_config, BGR, CONFIG, GObject)

BGR_EXTERN BgrConfig *bgr_config_new_default (void);
BGR_EXTERN BgrConfig *bgr_config_load (const char *path, GError **error);
BGR_EXTERN BgrConfig *bgr_config_load_full (const char *path, BgrConfigFlags flags,
                                            GError **error);
BGR_EXTERN char *bgr_config_dup_default_path_full (BgrConfigFlags flags);
BGR_EXTERN BgrConfig *bgr_config_load_from_data (const char *data, gssize length,
                                                 const char *filename, GError **error);
BGR_EXTERN char *bgr_config_dup_default_path (void);
BGR_EXTERN const char *bgr_config_get_path (BgrConfig *self);
BGR_EXTERN char **bgr_config_dup_keys (void);
BGR_EXTERN gboolean bgr_config_has_key (const char *key);
BGR_EXTERN const char *bgr_config_get_string (BgrConfig *self, const char *key);
BGR_EXTERN gint64 bgr_config_get_int (BgrConfig *self, const char *key);
BGR_EXTERN gint64 bgr_config_get_duration_ms (BgrConfig *self, const char *key);
BGR_EXTERN char *bgr_config_dup_value (BgrConfig *self, const char *key);
BGR_EXTERN const char *bgr_config_get_source (BgrConfig *self, const char *key);
BGR_EXTERN char *bgr_config_to_json (BgrConfig *self);
BGR_EXTERN char *bgr_config_dup_ssh_key_path (BgrConfig *self);
BGR_EXTERN char *bgr_config_ensure_ssh_key (BgrConfig *self, GCancellable *cancellable,
                                            GError **error);
BGR_EXTERN gboolean bgr_parse_duration (const char *text, gint64 *out_ms, GError **error);

G_END_DECLS
