/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Configuration: built-in defaults overlaid with a strict TOML file. Every
 * key is declared once in key_specs[]; parsing, validation, `config show`
 * and the D-Bus GetConfig reply all walk that table. */
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

#include "bgr-config-private.h"
#include "bgr-error-private.h"
#include "toml/bgr-toml-private.h"

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
} KeyType;

typedef struct {
  const char *name;
  KeyType type;
  const char *const *choices; /* KT_ENUM */
  gint64 min, max;            /* KT_UINT */
  const char *doc;
} KeySpec;

static const char *const log_levels[] = { "error", "warning", "info", "debug", NULL };
/* "fake" runs the guest agent on the host instead of a VM: for tests only. */
static const char *const hypervisors[] = { "auto", "firecracker", "qemu", "fake", NULL };
static const char *const accels[] = { "auto", "kvm", "tcg", NULL };

static const KeySpec key_specs[] = {
  { "log_level", KT_ENUM, log_levels, 0, 0, "daemon log verbosity" },
  { "web_listen_addr", KT_LISTEN, NULL, 0, 0, "address of the local web UI" },
  { "hypervisor", KT_ENUM, hypervisors, 0, 0, "which VMM runs VMs" },
  { "firecracker_bin", KT_COMMAND, NULL, 0, 0, "firecracker binary" },
  { "qemu_bin", KT_COMMAND, NULL, 0, 0, "qemu-system-x86_64 binary" },
  { "qemu_accel", KT_ENUM, accels, 0, 0, "QEMU accelerator (auto: KVM when usable)" },
  { "ssh_key_path", KT_PATH, NULL, 0, 0, "private key banger uses for guests" },
  { "default_image_name", KT_STRING, NULL, 0, 0, "image used when --image is omitted" },
  { "auto_stop_stale_after", KT_DURATION, NULL, 0, 0, "stop VMs idle this long (0: never)" },
  { "stats_poll_interval", KT_DURATION, NULL, 0, 0, "how often guest stats are polled" },
  { "metrics_poll_interval", KT_DURATION, NULL, 0, 0, "how often VMM metrics are polled" },
  { "bridge_name", KT_IFNAME, NULL, 0, 0, "host bridge VMs attach to" },
  { "bridge_ip", KT_IPV4, NULL, 0, 0, "host address on the bridge" },
  { "cidr", KT_CIDR, NULL, 0, 0, "network VM addresses come from" },
  { "tap_pool_size", KT_UINT, NULL, 0, 256, "taps created ahead of need" },
  { "default_dns", KT_IPV4, NULL, 0, 0, "DNS server non-.vm names are forwarded to" },
  { "vm_to_vm", KT_BOOL, NULL, 0, 0, "whether VMs may reach each other over the network (false: each VM sees only the host's DNS and the outside)" },
  { "sync_auth_files", KT_BOOL, NULL, 0, 0, "copy the host's coding-agent logins (opencode, Claude Code, pi) into each VM's /root when it starts" },
  { "state_dir", KT_PATH, NULL, 0, 0, "where banger keeps its state (private: made 0700; one others can write to is refused)" },
  { "cache_dir", KT_PATH, NULL, 0, 0, "where downloads and blobs are cached (private, like state_dir)" },
  { "kernel_catalog_url", KT_URL, NULL, 0, 0, "kernel catalog (empty: built-in)" },
};

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
  Entry entries[G_N_ELEMENTS (key_specs)];
};

G_DEFINE_FINAL_TYPE (BgrConfig, bgr_config, G_TYPE_OBJECT)

static void
bgr_config_finalize (GObject *object)
{
  BgrConfig *self = BGR_CONFIG (object);

  for (gsize i = 0; i < G_N_ELEMENTS (key_specs); i++)
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

static int
spec_index (const char *key)
{
  if (key == NULL)
    return -1;
  for (gsize i = 0; i < G_N_ELEMENTS (key_specs); i++)
    if (g_strcmp0 (key_specs[i].name, key) == 0)
      return (int) i;
  return -1;
}

/* ---- durations ---------------------------------------------------------- */

/**
 * bgr_parse_duration:
 * @text: a duration such as "30m", "1h30m", "90s", "500ms", "2d" or "0"
 * @out_ms: (out): the duration in milliseconds
 * @error: return location for a #GError
 *
 * Parses the duration syntax banger's config uses: one or more
 * number+unit pairs (units ms, s, m, h, d; the number may have a fraction),
 * or a bare "0".
 *
 * Returns: %TRUE on success
 * Since: 0.1
 */
gboolean
bgr_parse_duration (const char *text, gint64 *out_ms, GError **error)
{
  const char *p = text;
  double total = 0;

  g_return_val_if_fail (text != NULL, FALSE);
  if (g_strcmp0 (text, "0") == 0)
    {
      if (out_ms != NULL)
        *out_ms = 0;
      return TRUE;
    }
  if (*p == '\0')
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "empty duration (expected e.g. \"30m\", \"1h30m\" or \"0\")");
      return FALSE;
    }
  while (*p != '\0')
    {
      const char *start = p;
      double number = 0, scale = 1;
      gboolean digits = FALSE;
      double unit_ms;

      while (g_ascii_isdigit (*p))
        {
          number = number * 10 + (*p - '0');
          p++;
          digits = TRUE;
        }
      if (*p == '.')
        {
          p++;
          while (g_ascii_isdigit (*p))
            {
              scale /= 10;
              number += (*p - '0') * scale;
              p++;
              digits = TRUE;
            }
        }
      if (!digits)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "invalid duration \"%s\": expected a number at \"%s\" "
                       "(e.g. \"30m\", \"1h30m\", \"90s\")", text, start);
          return FALSE;
        }
      if (g_str_has_prefix (p, "ms"))
        unit_ms = 1, p += 2;
      else if (*p == 's')
        unit_ms = 1000, p++;
      else if (*p == 'm')
        unit_ms = 60 * 1000, p++;
      else if (*p == 'h')
        unit_ms = 3600 * 1000, p++;
      else if (*p == 'd')
        unit_ms = 86400.0 * 1000, p++;
      else
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "invalid duration \"%s\": %s (units are ms, s, m, h, d)", text,
                       *p == '\0' ? "missing unit" : "unknown unit");
          return FALSE;
        }
      total += number * unit_ms;
      if (total > (double) G_MAXINT64 / 2)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "invalid duration \"%s\": too long", text);
          return FALSE;
        }
    }
  if (out_ms != NULL)
    *out_ms = (gint64) total;
  return TRUE;
}

/* ---- validation --------------------------------------------------------- */

gboolean
bgr_config_parse_ipv4 (const char *text, guint32 *out)
{
  struct in_addr a;

  if (text == NULL || inet_pton (AF_INET, text, &a) != 1)
    return FALSE;
  if (out != NULL)
    *out = g_ntohl (a.s_addr);
  return TRUE;
}

gboolean
bgr_config_parse_cidr (const char *text, guint32 *net, guint *prefix)
{
  g_auto (GStrv) parts = NULL;
  guint64 len;
  char *end = NULL;

  if (text == NULL)
    return FALSE;
  parts = g_strsplit (text, "/", -1);
  if (g_strv_length (parts) != 2 || !bgr_config_parse_ipv4 (parts[0], net) || parts[1][0] == '\0')
    return FALSE;
  len = g_ascii_strtoull (parts[1], &end, 10);
  if (*end != '\0' || len > 32 || !g_ascii_isdigit (parts[1][0]))
    return FALSE;
  *prefix = (guint) len;
  return TRUE;
}

gboolean
bgr_config_valid_ifname (const char *s)
{
  gsize n = s != NULL ? strlen (s) : 0;

  if (n == 0 || n > 15 || strcmp (s, ".") == 0 || strcmp (s, "..") == 0)
    return FALSE;
  for (const char *p = s; *p != '\0'; p++)
    if (!(g_ascii_isalnum (*p) || *p == '-' || *p == '_' || *p == '.'))
      return FALSE;
  return TRUE;
}

static gboolean
valid_listen (const char *s)
{
  const char *colon = strrchr (s, ':');
  char *end = NULL;
  guint64 port;

  if (colon == NULL || colon == s)
    return FALSE;
  port = g_ascii_strtoull (colon + 1, &end, 10);
  if (colon[1] == '\0' || *end != '\0' || port > 65535)
    return FALSE;
  return TRUE;
}

/* Validates @text for @spec; on success stores the canonical value. */
static gboolean
check_value (const KeySpec *spec, const char *text, char **canonical, gint64 *num,
             char **why)
{
  *num = 0;
  switch (spec->type)
    {
    case KT_STRING:
      break;
    case KT_ENUM:
      if (!g_strv_contains (spec->choices, text))
        {
          g_autofree char *list = g_strjoinv (", ", (char **) spec->choices);
          *why = g_strdup_printf ("\"%s\" is not one of: %s", text, list);
          return FALSE;
        }
      break;
    case KT_PATH:
      if (g_str_has_prefix (text, "~/"))
        {
          *canonical = g_build_filename (g_get_home_dir (), text + 2, NULL);
          return TRUE;
        }
      if (!g_path_is_absolute (text))
        {
          *why = g_strdup_printf ("\"%s\" is not an absolute path", text);
          return FALSE;
        }
      break;
    case KT_COMMAND:
      if (*text == '\0' || (strchr (text, '/') != NULL && !g_path_is_absolute (text)))
        {
          *why = g_strdup_printf ("\"%s\" must be a program name or an absolute path", text);
          return FALSE;
        }
      break;
    case KT_DURATION:
      {
        g_autoptr (GError) err = NULL;
        if (!bgr_parse_duration (text, num, &err))
          {
            *why = g_strdup (err->message);
            return FALSE;
          }
      }
      break;
    case KT_UINT:
      {
        char *end = NULL;
        gint64 v = g_ascii_strtoll (text, &end, 10);
        if (*text == '\0' || *end != '\0' || v < spec->min || v > spec->max)
          {
            *why = g_strdup_printf ("%s is out of range (%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT ")",
                                    text, spec->min, spec->max);
            return FALSE;
          }
        *num = v;
      }
      break;
    case KT_IPV4:
      if (!bgr_config_parse_ipv4 (text, NULL))
        {
          *why = g_strdup_printf ("\"%s\" is not an IPv4 address", text);
          return FALSE;
        }
      break;
    case KT_CIDR:
      {
        guint32 net;
        guint prefix;
        if (!bgr_config_parse_cidr (text, &net, &prefix) || prefix < 8 || prefix > 30)
          {
            *why = g_strdup_printf ("\"%s\" is not an IPv4 network like 172.16.0.0/24 "
                                    "(prefix 8..30)", text);
            return FALSE;
          }
        if (prefix < 32 && (net & ((1u << (32 - prefix)) - 1)) != 0)
          {
            *why = g_strdup_printf ("\"%s\" has host bits set", text);
            return FALSE;
          }
      }
      break;
    case KT_IFNAME:
      if (!bgr_config_valid_ifname (text))
        {
          *why = g_strdup_printf ("\"%s\" is not a valid interface name (1-15 of a-z, 0-9, -, _, .)",
                                  text);
          return FALSE;
        }
      break;
    case KT_LISTEN:
      if (!valid_listen (text))
        {
          *why = g_strdup_printf ("\"%s\" is not HOST:PORT", text);
          return FALSE;
        }
      break;
    case KT_BOOL:
      if (!g_str_equal (text, "true") && !g_str_equal (text, "false"))
        {
          *why = g_strdup_printf ("\"%s\" is not true or false", text);
          return FALSE;
        }
      *num = g_str_equal (text, "true");
      break;
    case KT_URL:
      if (*text != '\0' && !g_str_has_prefix (text, "http://") && !g_str_has_prefix (text, "https://")
          && !g_str_has_prefix (text, "file:///") && text[0] != '/')
        {
          *why = g_strdup_printf ("\"%s\" is not an http://, https:// or file:/// URL, or an "
                                  "absolute path", text);
          return FALSE;
        }
      break;
    }
  *canonical = g_strdup (text);
  return TRUE;
}

/* systemd hands system services their directories in these variables
 * (colon-separated when several are configured: the first one is ours). */
static char *
systemd_dir (const char *var, const char *fallback)
{
  const char *v = g_getenv (var);
  if (v != NULL && *v == '/')
    {
      const char *colon = strchr (v, ':');
      return colon != NULL ? g_strndup (v, colon - v) : g_strdup (v);
    }
  return g_strdup (fallback);
}

static char *
default_value (const char *key, BgrConfigFlags flags)
{
  if (flags & BGR_CONFIG_FLAGS_SYSTEM)
    {
      if (g_str_equal (key, "state_dir"))
        return systemd_dir ("STATE_DIRECTORY", "/var/lib/banger");
      if (g_str_equal (key, "cache_dir"))
        return systemd_dir ("CACHE_DIRECTORY", "/var/cache/banger");
      if (g_str_equal (key, "ssh_key_path"))
        {
          g_autofree char *state = systemd_dir ("STATE_DIRECTORY", "/var/lib/banger");
          return g_build_filename (state, "ssh", "id_ed25519", NULL);
        }
    }
  if (g_str_equal (key, "log_level"))
    return g_strdup ("info");
  if (g_str_equal (key, "web_listen_addr"))
    return g_strdup ("127.0.0.1:7780");
  if (g_str_equal (key, "hypervisor"))
    return g_strdup ("auto");
  if (g_str_equal (key, "firecracker_bin"))
    return g_strdup ("firecracker");
  if (g_str_equal (key, "qemu_bin"))
    return g_strdup ("qemu-system-x86_64");
  if (g_str_equal (key, "qemu_accel"))
    return g_strdup ("auto");
  if (g_str_equal (key, "ssh_key_path"))
    return g_build_filename (g_get_user_config_dir (), "banger", "ssh", "id_ed25519", NULL);
  if (g_str_equal (key, "default_image_name"))
    return g_strdup ("default");
  if (g_str_equal (key, "auto_stop_stale_after"))
    return g_strdup ("0");
  if (g_str_equal (key, "stats_poll_interval"))
    return g_strdup ("10s");
  if (g_str_equal (key, "metrics_poll_interval"))
    return g_strdup ("15s");
  if (g_str_equal (key, "bridge_name"))
    return g_strdup ("banger0");
  if (g_str_equal (key, "bridge_ip"))
    return g_strdup ("172.16.0.1");
  if (g_str_equal (key, "cidr"))
    return g_strdup ("172.16.0.0/24");
  if (g_str_equal (key, "tap_pool_size"))
    return g_strdup ("4");
  if (g_str_equal (key, "default_dns"))
    return g_strdup ("1.1.1.1");
  if (g_str_equal (key, "vm_to_vm"))
    return g_strdup ("false");
  if (g_str_equal (key, "sync_auth_files"))
    return g_strdup ("true");
  if (g_str_equal (key, "state_dir"))
    return g_build_filename (g_get_user_state_dir (), "banger", NULL);
  if (g_str_equal (key, "cache_dir"))
    return g_build_filename (g_get_user_cache_dir (), "banger", NULL);
  if (g_str_equal (key, "kernel_catalog_url"))
    return g_strdup ("");
  g_assert_not_reached ();
}

/* ---- documentation ------------------------------------------------------ */

/* What banger-config(5) says about each key comes from key_specs[] and
 * default_value() too, so the manual cannot drift from the parser. */

const char *
bgr_config_get_key_doc (const char *key)
{
  int i = spec_index (key);
  return i < 0 ? NULL : key_specs[i].doc;
}

char *
bgr_config_dup_key_type_doc (const char *key)
{
  int i = spec_index (key);
  const KeySpec *spec;

  if (i < 0)
    return NULL;
  spec = &key_specs[i];
  switch (spec->type)
    {
    case KT_STRING:
      return g_strdup ("string");
    case KT_ENUM:
      {
        g_autofree char *list = g_strjoinv (", ", (char **) spec->choices);
        return g_strdup_printf ("one of %s", list);
      }
    case KT_PATH:
      return g_strdup ("absolute path (a leading ~/ is the home directory)");
    case KT_COMMAND:
      return g_strdup ("program name (looked up in PATH) or absolute path");
    case KT_DURATION:
      return g_strdup ("duration");
    case KT_UINT:
      return g_strdup_printf ("integer %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT " (a TOML integer, not a string)",
                              spec->min, spec->max);
    case KT_IPV4:
      return g_strdup ("IPv4 address");
    case KT_CIDR:
      return g_strdup ("IPv4 network ADDRESS/PREFIX, prefix 8..30, no host bits");
    case KT_IFNAME:
      return g_strdup ("interface name (1-15 of a-z, 0-9, -, _, .)");
    case KT_LISTEN:
      return g_strdup ("HOST:PORT");
    case KT_BOOL:
      return g_strdup ("boolean (a TOML true or false, not a string)");
    case KT_URL:
      return g_strdup ("http://, https:// or file:/// URL, or absolute path; empty: the built-in");
    }
  g_assert_not_reached ();
}

char *
bgr_config_dup_key_default (const char *key, BgrConfigFlags flags)
{
  return spec_index (key) < 0 ? NULL : default_value (key, flags);
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
  for (gsize i = 0; i < G_N_ELEMENTS (key_specs); i++)
    {
      g_autofree char *def = default_value (key_specs[i].name, flags);
      char *canonical = NULL;
      char *why = NULL;
      gint64 num = 0;
      gboolean ok = check_value (&key_specs[i], def, &canonical, &num, &why);

      g_assert (ok);
      set_entry (self, (int) i, canonical, num, "default", 0);
    }
  return self;
}

static gboolean
cross_check (BgrConfig *self, const char *filename, GError **error)
{
  int ip_i = spec_index ("bridge_ip"), cidr_i = spec_index ("cidr");
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
      int i = spec_index (key);
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
      if (key_specs[i].type == KT_UINT)
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
      else if (key_specs[i].type == KT_BOOL)
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
                           key_specs[i].type == KT_DURATION ? " such as \"30m\"" : "",
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
      if (!check_value (&key_specs[i], text, &canonical, &num, &why))
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
      g_autofree char *dir = systemd_dir ("CONFIGURATION_DIRECTORY", "/etc/banger");
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
 * bgr_config_dup_keys:
 *
 * Returns: (transfer full): every configuration key, in display order
 * Since: 0.1
 */
char **
bgr_config_dup_keys (void)
{
  GStrvBuilder *b = g_strv_builder_new ();
  char **out;

  for (gsize i = 0; i < G_N_ELEMENTS (key_specs); i++)
    g_strv_builder_add (b, key_specs[i].name);
  out = g_strv_builder_end (b);
  g_strv_builder_unref (b);
  return out;
}

/**
 * bgr_config_has_key:
 * @key: a key name
 *
 * Returns: whether @key is a configuration key
 * Since: 0.1
 */
gboolean
bgr_config_has_key (const char *key)
{
  return spec_index (key) >= 0;
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
  int i = spec_index (key);

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
  int i = spec_index (key);

  g_return_val_if_fail (BGR_IS_CONFIG (self), 0);
  return (i < 0 || key_specs[i].type != KT_UINT) ? 0 : self->entries[i].num;
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
  int i = spec_index (key);

  g_return_val_if_fail (BGR_IS_CONFIG (self), 0);
  return (i < 0 || key_specs[i].type != KT_DURATION) ? 0 : self->entries[i].num;
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
  int i = spec_index (key);

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
  for (gsize i = 0; i < G_N_ELEMENTS (key_specs); i++)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "key");
      json_builder_add_string_value (b, key_specs[i].name);
      json_builder_set_member_name (b, "value");
      if (key_specs[i].type == KT_UINT)
        json_builder_add_int_value (b, self->entries[i].num);
      else if (key_specs[i].type == KT_BOOL)
        json_builder_add_boolean_value (b, self->entries[i].num != 0);
      else
        json_builder_add_string_value (b, self->entries[i].value);
      json_builder_set_member_name (b, "source");
      json_builder_add_string_value (b, self->entries[i].source);
      json_builder_set_member_name (b, "description");
      json_builder_add_string_value (b, key_specs[i].doc);
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
      int i = spec_index (key);
      char *canonical = NULL, *why = NULL;
      gint64 num = 0;

      if (i < 0)
        continue; /* a newer daemon may know more keys */
      if (!check_value (&key_specs[i], value, &canonical, &num, &why))
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
  for (gsize i = 0; i < G_N_ELEMENTS (key_specs); i++)
    g_variant_builder_add (&b, "(sss)", key_specs[i].name, self->entries[i].value,
                           self->entries[i].source);
  return g_variant_builder_end (&b);
}

/* ---- ssh key ------------------------------------------------------------ */

/**
 * bgr_config_dup_ssh_key_path:
 * @self: a #BgrConfig
 *
 * Returns: (transfer full): the private key path banger uses for guests
 * Since: 0.1
 */
char *
bgr_config_dup_ssh_key_path (BgrConfig *self)
{
  return g_strdup (bgr_config_get_string (self, "ssh_key_path"));
}

/**
 * bgr_config_ensure_ssh_key:
 * @self: a #BgrConfig
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns the private key banger uses for guests. When `ssh_key_path` is
 * not set in the config and the default key does not exist yet, creates an
 * ed25519 key pair there with ssh-keygen (key 0600, directory 0700). A key
 * path set in the config must exist: banger never writes over or next to a
 * key the user chose.
 *
 * Returns: (transfer full): the private key path, or %NULL
 * Since: 0.1
 */
char *
bgr_config_ensure_ssh_key (BgrConfig *self, GCancellable *cancellable, GError **error)
{
  g_autofree char *path = bgr_config_dup_ssh_key_path (self);
  g_autofree char *dir = NULL;
  g_autofree char *tmpdir = NULL;
  g_autofree char *tmpkey = NULL;
  g_autofree char *tmppub = NULL;
  g_autofree char *pub = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *errout = NULL;
  g_autofree char *lockpath = NULL;
  int lockfd = -1;
  struct stat st;

  g_return_val_if_fail (BGR_IS_CONFIG (self), NULL);
  if (stat (path, &st) == 0)
    return g_steal_pointer (&path);
  if (!g_str_equal (bgr_config_get_source (self, "ssh_key_path"), "default"))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND,
                   "ssh key %s (ssh_key_path, set in %s) does not exist", path,
                   bgr_config_get_source (self, "ssh_key_path"));
      return NULL;
    }
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", dir);
      return NULL;
    }
  if (chmod (dir, 0700) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot set mode 0700 on %s", dir);
      return NULL;
    }
  /* Serialise creators (daemon threads, other processes sharing HOME), then
   * look again: whoever held the lock before us may have made the key. */
  lockpath = g_build_filename (dir, ".keygen.lock", NULL);
  lockfd = open (lockpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (lockfd < 0 || flock (lockfd, LOCK_EX) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot lock %s", lockpath);
      if (lockfd >= 0)
        close (lockfd);
      return NULL;
    }
  if (stat (path, &st) == 0)
    {
      close (lockfd);
      return g_steal_pointer (&path);
    }
  /* Generate next to the final place, then rename: a crash or a racing
   * process never leaves a half-written key at the final path. */
  tmpdir = g_build_filename (dir, ".keygen-XXXXXX", NULL);
  if (g_mkdtemp_full (tmpdir, 0700) == NULL)
    {
      bgr_set_error_errno (error, errno, "cannot create a temporary directory in %s", dir);
      close (lockfd);
      return NULL;
    }
  tmpkey = g_build_filename (tmpdir, "id_ed25519", NULL);
  tmppub = g_strconcat (tmpkey, ".pub", NULL);
  pub = g_strconcat (path, ".pub", NULL);
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                           &local_error, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                           "banger", "-f", tmpkey, NULL);
  if (proc == NULL)
    {
      g_rmdir (tmpdir);
      close (lockfd);
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND,
                   "cannot run ssh-keygen to create %s: %s (install openssh-client)", path,
                   local_error->message);
      return NULL;
    }
  if (!g_subprocess_communicate_utf8 (proc, NULL, cancellable, NULL, &errout, &local_error)
      || !g_subprocess_get_successful (proc))
    {
      g_unlink (tmpkey);
      g_unlink (tmppub);
      g_rmdir (tmpdir);
      close (lockfd);
      if (local_error != NULL)
        bgr_propagate_error (error, g_steal_pointer (&local_error), "ssh-keygen");
      else
        g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "ssh-keygen failed: %s",
                     errout != NULL ? g_strstrip (errout) : "");
      return NULL;
    }
  chmod (tmpkey, 0600);
  /* link() never replaces: a key that appeared meanwhile (made outside
   * banger) wins, and ours is discarded. */
  if (rename (tmppub, pub) != 0 || link (tmpkey, path) != 0)
    {
      int errsv = errno;
      g_unlink (tmpkey);
      g_unlink (tmppub);
      g_rmdir (tmpdir);
      close (lockfd);
      if (errsv == EEXIST)
        return g_steal_pointer (&path);
      bgr_set_error_errno (error, errsv, "cannot move new key to %s", path);
      return NULL;
    }
  g_unlink (tmpkey);
  g_rmdir (tmpdir);
  close (lockfd);
  return g_steal_pointer (&path);
}
