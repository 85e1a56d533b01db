/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Configuration: built-in defaults overlaid with a strict TOML file. Every
 * key is declared once in bgr_config_key_specs[] (bgr-config-keys.c);
 * parsing, validation, `config show` and the D-Bus GetConfig reply all walk
 * that table. This file: loading, the values, and their JSON/D-Bus forms. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <banger/banger.h>

#include "bgr-config-internal.h"
#include "bgr-error-private.h"
#include "toml/bgr-toml-private.h"

typedef struct {
  char *value;  /* canonical text */
  gint64 num;   /* KT_UINT value; KT_DURATION in milliseconds */
  char *source; /* "default" or "FILE:LINE" */
  guint line;
} Entry;

struct _BgrConfig {
  GObject parent_instance;
  BgrConfigFlags flags;
  char *path; /* the file read, or NULL when only defaults apply */
  Entry entries[BGR_CONFIG_N_KEYS];
};

G_DEFINE_FINAL_TYPE (BgrConfig, bgr_config, G_TYPE_OBJECT)

static void
bgr_config_finalize (GObject *object)
{
  BgrConfig *self = BGR_CONFIG (object);

  for (gsize i = 0; i < BGR_CONFIG_N_KEYS; i++)
    {
      g_free (self->entries[i].value);
      g_free (self->entries[i].source);
    }
  g_free (self->path);
  G_OBJECT_CLASS (bgr_config_parent_class)->finalize (object);
}

static void
bgr_config_class_init (BgrConfigClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_config_finalize;
}

static void
bgr_config_init (BgrConfig *self)
{
}

static void
set_entry (BgrConfig *self, int i, char *value, gint64 num, const char *source, guint line)
{
  g_free (self->entries[i].value);
  g_free (self->entries[i].source);
  self->entries[i].value = value;
  self->entries[i].num = num;
  self->entries[i].source = g_strdup (source);
  self->entries[i].line = line;
}

static BgrConfig *new_default_full (BgrConfigFlags flags);

/**
 * bgr_config_new_default:
 *
 * Returns: (transfer full): a configuration holding only the built-in
 *   defaults (with the XDG directories of the calling user)
 * Since: 0.1
 */
BgrConfig *
bgr_config_new_default (void)
{
  return new_default_full (BGR_CONFIG_FLAGS_NONE);
}

static BgrConfig *
new_default_full (BgrConfigFlags flags)
{
  BgrConfig *self = g_object_new (BGR_TYPE_CONFIG, NULL);

  self->flags = flags;
  for (gsize i = 0; i < BGR_CONFIG_N_KEYS; i++)
    {
      g_autofree char *def = bgr_config_default_value (bgr_config_key_specs[i].name, flags);
      char *canonical = NULL;
      char *why = NULL;
      gint64 num = 0;
      gboolean ok = bgr_config_check_value (&bgr_config_key_specs[i], def, &canonical, &num, &why);

      g_assert (ok);
      set_entry (self, (int) i, canonical, num, "default", 0);
    }
  return self;
}

static gboolean
cross_check (BgrConfig *self, const char *filename, GError **error)
{
  int ip_i = bgr_config_spec_index ("bridge_ip"), cidr_i = bgr_config_spec_index ("cidr");
  Entry *ip_e = &self->entries[ip_i], *cidr_e = &self->entries[cidr_i];
  guint32 ip = 0, net = 0, mask;
  guint prefix = 0;
  const char *fname = filename != NULL ? filename : "config";

  bgr_config_parse_ipv4 (ip_e->value, &ip);
  bgr_config_parse_cidr (cidr_e->value, &net, &prefix);
  mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
  if ((ip & mask) == net && ip != net && ip != (net | ~mask))
    return TRUE;
  /* Name what is in the file; say which side is the default. */
  if (ip_e->line > 0 && cidr_e->line > 0)
    g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                 "%s:%u: key 'bridge_ip': %s is not a host address inside cidr %s (line %u)",
                 fname, ip_e->line, ip_e->value, cidr_e->value, cidr_e->line);
  else if (cidr_e->line > 0)
    g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                 "%s:%u: key 'cidr': %s does not contain the default bridge_ip %s; "
                 "set bridge_ip too", fname, cidr_e->line, cidr_e->value, ip_e->value);
  else
    g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                 "%s:%u: key 'bridge_ip': %s is not a host address inside the default "
                 "cidr %s; set cidr too", fname, ip_e->line, ip_e->value, cidr_e->value);
  return FALSE;
}

static const char *
toml_kind_name (BgrTomlType kind)
{
  switch (kind)
    {
    case BGR_TOML_TABLE: return "a table";
    case BGR_TOML_ARRAY: return "an array";
    case BGR_TOML_STRING: return "a string";
    case BGR_TOML_INTEGER: return "an integer";
    case BGR_TOML_FLOAT: return "a float";
    case BGR_TOML_BOOLEAN: return "a boolean";
    default: return "a date/time";
    }
}

static BgrConfig *load_from_data_full (const char *data, gssize length, const char *filename,
                                       BgrConfigFlags flags, GError **error);

/**
 * bgr_config_load_from_data:
 * @data: TOML text
 * @length: length of @data, or -1 when nul-terminated
 * @filename: name used in error messages and value sources
 * @error: return location for a #GError
 *
 * Parses a configuration document. Unknown keys, wrong types and bad values
 * are %BGR_ERROR_INVALID_CONFIG errors naming @filename, the line and the key.
 *
 * Returns: (transfer full): the effective configuration, or %NULL
 * Since: 0.1
 */
BgrConfig *
bgr_config_load_from_data (const char *data, gssize length, const char *filename,
                           GError **error)
{
  return load_from_data_full (data, length, filename, BGR_CONFIG_FLAGS_NONE, error);
}

static BgrConfig *
load_from_data_full (const char *data, gssize length, const char *filename,
                     BgrConfigFlags flags, GError **error)
{
  g_autoptr (BgrConfig) self = new_default_full (flags);
  g_autoptr (BgrTomlValue) root = NULL;
  const char *fname = filename != NULL ? filename : "config.toml";

  g_return_val_if_fail (data != NULL, NULL);
  if (length < 0)
    length = (gssize) strlen (data);
  root = bgr_toml_parse (data, (gsize) length, fname, error);
  if (root == NULL)
    return NULL;

  for (guint k = 0; k < bgr_toml_table_get_size (root); k++)
    {
      const char *key = bgr_toml_table_get_key (root, k);
      const BgrTomlValue *v = bgr_toml_table_get_value (root, k);
      guint line = bgr_toml_value_get_line (v);
      int i = bgr_config_spec_index (key);
      g_autofree char *text = NULL;
      g_autofree char *source = NULL;
      char *canonical = NULL, *why = NULL;
      gint64 num = 0;

      gsize klen = 0;

      bgr_toml_table_get_key_len (root, k, &klen);
      if (i < 0 || strlen (key) != klen)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                       "%s:%u: unknown key '%s' (see `banger config show` for the keys)",
                       fname, line, key);
          return NULL;
        }
      if (bgr_config_key_specs[i].type == KT_UINT)
        {
          if (bgr_toml_value_get_kind (v) != BGR_TOML_INTEGER)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                           "%s:%u: key '%s': expected an integer, got %s", fname, line, key,
                           toml_kind_name (bgr_toml_value_get_kind (v)));
              return NULL;
            }
          text = g_strdup_printf ("%" G_GINT64_FORMAT, bgr_toml_value_get_integer (v));
        }
      else if (bgr_config_key_specs[i].type == KT_BOOL)
        {
          if (bgr_toml_value_get_kind (v) != BGR_TOML_BOOLEAN)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                           "%s:%u: key '%s': expected a boolean (true or false), got %s", fname,
                           line, key, toml_kind_name (bgr_toml_value_get_kind (v)));
              return NULL;
            }
          text = g_strdup (bgr_toml_value_get_boolean (v) ? "true" : "false");
        }
      else
        {
          if (bgr_toml_value_get_kind (v) != BGR_TOML_STRING)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                           "%s:%u: key '%s': expected a string%s, got %s", fname, line, key,
                           bgr_config_key_specs[i].type == KT_DURATION ? " such as \"30m\"" : "",
                           toml_kind_name (bgr_toml_value_get_kind (v)));
              return NULL;
            }
          gsize slen = 0;
          bgr_toml_value_get_string_len (v, &slen);
          text = g_strdup (bgr_toml_value_get_string (v));
          if (strlen (text) != slen)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                           "%s:%u: key '%s': value contains a NUL character", fname, line, key);
              return NULL;
            }
        }
      if (!bgr_config_check_value (&bgr_config_key_specs[i], text, &canonical, &num, &why))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG, "%s:%u: key '%s': %s", fname,
                       line, key, why);
          g_free (why);
          return NULL;
        }
      source = g_strdup_printf ("%s:%u", fname, line);
      set_entry (self, i, canonical, num, source, line);
    }
  if (!cross_check (self, fname, error))
    return NULL;
  self->path = g_strdup (fname);
  return g_steal_pointer (&self);
}

/**
 * bgr_config_dup_default_path_full:
 * @flags: #BgrConfigFlags
 *
 * Returns: (transfer full): `$XDG_CONFIG_HOME/banger/config.toml`, or with
 *   %BGR_CONFIG_FLAGS_SYSTEM `/etc/banger/config.toml` (systemd's
 *   `$CONFIGURATION_DIRECTORY/config.toml` when set)
 * Since: 0.1
 */
char *
bgr_config_dup_default_path_full (BgrConfigFlags flags)
{
  if (flags & BGR_CONFIG_FLAGS_SYSTEM)
    {
      g_autofree char *dir = bgr_config_systemd_dir ("CONFIGURATION_DIRECTORY", "/etc/banger");
      return g_build_filename (dir, "config.toml", NULL);
    }
  return g_build_filename (g_get_user_config_dir (), "banger", "config.toml", NULL);
}

/**
 * bgr_config_dup_default_path:
 *
 * Returns: (transfer full): `$XDG_CONFIG_HOME/banger/config.toml`
 * Since: 0.1
 */
char *
bgr_config_dup_default_path (void)
{
  return bgr_config_dup_default_path_full (BGR_CONFIG_FLAGS_NONE);
}

/**
 * bgr_config_load_full:
 * @path: (nullable): the file to read; %NULL for the default location
 * @flags: #BgrConfigFlags: per-user or system-wide defaults
 * @error: return location for a #GError
 *
 * Loads the configuration. With @path %NULL a missing default file simply
 * means "all defaults"; an explicit @path must exist.
 *
 * Returns: (transfer full): the effective configuration, or %NULL
 * Since: 0.1
 */
BgrConfig *
bgr_config_load_full (const char *path, BgrConfigFlags flags, GError **error)
{
  g_autofree char *default_path = NULL;
  g_autofree char *data = NULL;
  g_autoptr (GError) local_error = NULL;
  gsize len = 0;

  if (path == NULL)
    {
      default_path = bgr_config_dup_default_path_full (flags);
      if (!g_file_test (default_path, G_FILE_TEST_EXISTS))
        return new_default_full (flags);
      path = default_path;
    }
  if (!g_file_get_contents (path, &data, &len, &local_error))
    {
      bgr_propagate_error (error, g_steal_pointer (&local_error), "cannot read config file");
      return NULL;
    }
  return load_from_data_full (data, (gssize) len, path, flags, error);
}

/**
 * bgr_config_load:
 * @path: (nullable): the file to read; %NULL for the default location
 * @error: return location for a #GError
 *
 * Loads the per-user configuration; see bgr_config_load_full().
 *
 * Returns: (transfer full): the effective configuration, or %NULL
 * Since: 0.1
 */
BgrConfig *
bgr_config_load (const char *path, GError **error)
{
  return bgr_config_load_full (path, BGR_CONFIG_FLAGS_NONE, error);
}

/**
 * bgr_config_get_path:
 * @self: a #BgrConfig
 *
 * Returns: (transfer none) (nullable): the file the values were read from,
 *   or %NULL when only defaults apply
 * Since: 0.1
 */
const char *
bgr_config_get_path (BgrConfig *self)
{
  g_return_val_if_fail (BGR_IS_CONFIG (self), NULL);
  return self->path;
}

/**
 * bgr_config_get_string:
 * @self: a #BgrConfig
 * @key: a key name
 *
 * Returns: (transfer none) (nullable): the value as text (durations as
 *   written, integers in decimal), or %NULL for an unknown key
 * Since: 0.1
 */
const char *
bgr_config_get_string (BgrConfig *self, const char *key)
{
  int i = bgr_config_spec_index (key);

  g_return_val_if_fail (BGR_IS_CONFIG (self), NULL);
  return i < 0 ? NULL : self->entries[i].value;
}

/**
 * bgr_config_get_int:
 * @self: a #BgrConfig
 * @key: an integer key
 *
 * Returns: the value of an integer key, or 0 for other keys
 * Since: 0.1
 */
gint64
bgr_config_get_int (BgrConfig *self, const char *key)
{
  int i = bgr_config_spec_index (key);

  g_return_val_if_fail (BGR_IS_CONFIG (self), 0);
  return (i < 0 || bgr_config_key_specs[i].type != KT_UINT) ? 0 : self->entries[i].num;
}

/**
 * bgr_config_get_duration_ms:
 * @self: a #BgrConfig
 * @key: a duration key
 *
 * Returns: the value of a duration key in milliseconds, or 0 for other keys
 * Since: 0.1
 */
gint64
bgr_config_get_duration_ms (BgrConfig *self, const char *key)
{
  int i = bgr_config_spec_index (key);

  g_return_val_if_fail (BGR_IS_CONFIG (self), 0);
  return (i < 0 || bgr_config_key_specs[i].type != KT_DURATION) ? 0 : self->entries[i].num;
}

/**
 * bgr_config_dup_value:
 * @self: a #BgrConfig
 * @key: a key name
 *
 * Returns: (transfer full) (nullable): a copy of bgr_config_get_string()
 * Since: 0.1
 */
char *
bgr_config_dup_value (BgrConfig *self, const char *key)
{
  return g_strdup (bgr_config_get_string (self, key));
}

/**
 * bgr_config_get_source:
 * @self: a #BgrConfig
 * @key: a key name
 *
 * Returns: (transfer none) (nullable): where the value came from:
 *   "default" or "FILE:LINE"
 * Since: 0.1
 */
const char *
bgr_config_get_source (BgrConfig *self, const char *key)
{
  int i = bgr_config_spec_index (key);

  g_return_val_if_fail (BGR_IS_CONFIG (self), NULL);
  return i < 0 ? NULL : self->entries[i].source;
}

/**
 * bgr_config_to_json:
 * @self: a #BgrConfig
 *
 * Returns: (transfer full): the effective configuration as JSON:
 *   `{"path": ..., "keys": [{"key", "value", "source", "description"}...]}`;
 *   integer keys have integer values, boolean keys booleans, all others
 *   strings
 * Since: 0.1
 */
char *
bgr_config_to_json (BgrConfig *self)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  g_return_val_if_fail (BGR_IS_CONFIG (self), NULL);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "path");
  if (self->path != NULL)
    json_builder_add_string_value (b, self->path);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "keys");
  json_builder_begin_array (b);
  for (gsize i = 0; i < BGR_CONFIG_N_KEYS; i++)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "key");
      json_builder_add_string_value (b, bgr_config_key_specs[i].name);
      json_builder_set_member_name (b, "value");
      if (bgr_config_key_specs[i].type == KT_UINT)
        json_builder_add_int_value (b, self->entries[i].num);
      else if (bgr_config_key_specs[i].type == KT_BOOL)
        json_builder_add_boolean_value (b, self->entries[i].num != 0);
      else
        json_builder_add_string_value (b, self->entries[i].value);
      json_builder_set_member_name (b, "source");
      json_builder_add_string_value (b, self->entries[i].source);
      json_builder_set_member_name (b, "description");
      json_builder_add_string_value (b, bgr_config_key_specs[i].doc);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, TRUE);
}

/* Private: rebuild a config from (key, value, source) triples, as sent over
 * D-Bus. Values are validated again: a daemon is not trusted blindly. */
BgrConfig *
bgr_config_new_from_entries (const char *path, GVariant *entries, GError **error)
{
  g_autoptr (BgrConfig) self = bgr_config_new_default ();
  GVariantIter iter;
  const char *key, *value, *source;

  g_variant_iter_init (&iter, entries);
  while (g_variant_iter_next (&iter, "(&s&s&s)", &key, &value, &source))
    {
      int i = bgr_config_spec_index (key);
      char *canonical = NULL, *why = NULL;
      gint64 num = 0;

      if (i < 0)
        continue; /* a newer daemon may know more keys */
      if (!bgr_config_check_value (&bgr_config_key_specs[i], value, &canonical, &num, &why))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                       "daemon sent a bad value for '%s': %s", key, why);
          g_free (why);
          return NULL;
        }
      set_entry (self, i, canonical, num, source, 0);
    }
  self->path = (path != NULL && *path != '\0') ? g_strdup (path) : NULL;
  return g_steal_pointer (&self);
}

GVariant *
bgr_config_to_entries (BgrConfig *self)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(sss)"));
  for (gsize i = 0; i < BGR_CONFIG_N_KEYS; i++)
    g_variant_builder_add (&b, "(sss)", bgr_config_key_specs[i].name, self->entries[i].value,
                           self->entries[i].source);
  return g_variant_builder_end (&b);
}
