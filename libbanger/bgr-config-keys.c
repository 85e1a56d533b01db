/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configuration keys: the table every key is declared in once, how a
 * value is checked, the built-in defaults, and the documentation generated
 * from them (banger-config(5), `config show`). */
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

static const char *const log_levels[] = { "error", "warning", "info", "debug", NULL };
/* "fake" runs the guest agent on the host instead of a VM: for tests only. */
static const char *const hypervisors[] = { "auto", "firecracker", "qemu", "fake", NULL };
static const char *const accels[] = { "auto", "kvm", "tcg", NULL };

const BgrConfigKeySpec bgr_config_key_specs[BGR_CONFIG_N_KEYS] = {
  { "log_level", KT_ENUM, log_levels, 0, 0, "daemon log verbosity" },
  { "web_listen_addr", KT_LISTEN, NULL, 0, 0, "address of bangerd's web UI (empty: no web UI)" },
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
  { "sync_auth_files", KT_BOOL, NULL, 0, 0, "copy the host's coding-agent logins (opencode, Claude Code, pi) into each VM's /root when it starts" },
  { "memory_reclaim", KT_BOOL, NULL, 0, 0, "give memory a guest frees back to the host (virtio-balloon free page reporting) and bound QEMU's TCG code cache" },
  { "vm_to_vm", KT_BOOL, NULL, 0, 0, "whether VMs may reach each other over the network (false: each VM sees only the host's DNS and the outside)" },
  { "state_dir", KT_PATH, NULL, 0, 0, "where banger keeps its state (private: made 0700; one others can write to is refused)" },
  { "cache_dir", KT_PATH, NULL, 0, 0, "where downloads and blobs are cached (private, like state_dir)" },
  { "kernel_catalog_url", KT_URL, NULL, 0, 0, "kernel catalog (empty: built-in)" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (bgr_config_key_specs) == BGR_CONFIG_N_KEYS);

int
bgr_config_spec_index (const char *key)
{
  if (key == NULL)
    return -1;
  for (gsize i = 0; i < G_N_ELEMENTS (bgr_config_key_specs); i++)
    if (g_strcmp0 (bgr_config_key_specs[i].name, key) == 0)
      return (int) i;
  return -1;
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
gboolean
bgr_config_check_value (const BgrConfigKeySpec *spec, const char *text, char **canonical,
                        gint64 *num, char **why)
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
      if (*text != '\0' && !valid_listen (text))
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
char *
bgr_config_systemd_dir (const char *var, const char *fallback)
{
  const char *v = g_getenv (var);
  if (v != NULL && *v == '/')
    {
      const char *colon = strchr (v, ':');
      return colon != NULL ? g_strndup (v, colon - v) : g_strdup (v);
    }
  return g_strdup (fallback);
}

char *
bgr_config_default_value (const char *key, BgrConfigFlags flags)
{
  if (flags & BGR_CONFIG_FLAGS_SYSTEM)
    {
      if (g_str_equal (key, "state_dir"))
        return bgr_config_systemd_dir ("STATE_DIRECTORY", "/var/lib/banger");
      if (g_str_equal (key, "cache_dir"))
        return bgr_config_systemd_dir ("CACHE_DIRECTORY", "/var/cache/banger");
      if (g_str_equal (key, "ssh_key_path"))
        {
          g_autofree char *state = bgr_config_systemd_dir ("STATE_DIRECTORY", "/var/lib/banger");
          return g_build_filename (state, "ssh", "id_ed25519", NULL);
        }
    }
  if (g_str_equal (key, "log_level"))
    return g_strdup ("info");
  if (g_str_equal (key, "web_listen_addr"))
    return g_strdup ("127.0.0.1:7777");
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
  if (g_str_equal (key, "memory_reclaim"))
    return g_strdup ("true");
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

/* What banger-config(5) says about each key comes from bgr_config_key_specs[] and
 * default_value() too, so the manual cannot drift from the parser. */

const char *
bgr_config_get_key_doc (const char *key)
{
  int i = bgr_config_spec_index (key);
  return i < 0 ? NULL : bgr_config_key_specs[i].doc;
}

char *
bgr_config_dup_key_type_doc (const char *key)
{
  int i = bgr_config_spec_index (key);
  const BgrConfigKeySpec *spec;

  if (i < 0)
    return NULL;
  spec = &bgr_config_key_specs[i];
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
      return g_strdup ("HOST:PORT, or empty for none");
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
  return bgr_config_spec_index (key) < 0 ? NULL : bgr_config_default_value (key, flags);
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

  for (gsize i = 0; i < G_N_ELEMENTS (bgr_config_key_specs); i++)
    g_strv_builder_add (b, bgr_config_key_specs[i].name);
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
  return bgr_config_spec_index (key) >= 0;
}
