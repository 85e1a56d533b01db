/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the commands share: the client an invocation asks for (with the
 * in-process fallback when no session bus can be reached), JSON output,
 * sizes and paths from the command line. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "banger-cli.h"
#include "bgr-escape-private.h"

G_LOCK_DEFINE_STATIC (shown);
static GPtrArray *shown_copies; /* the escaped copies, kept until exit */

static const char *
shown (const char *s, BgrEscapeFlags flags)
{
  char *copy;

  if (s == NULL || !bgr_escape_needed (s, flags))
    return s;
  copy = bgr_escape (s, -1, flags);
  G_LOCK (shown);
  if (shown_copies == NULL)
    shown_copies = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (shown_copies, copy);
  G_UNLOCK (shown);
  return copy;
}

const char *
banger_shown (const char *s)
{
  return shown (s, BGR_ESCAPE_DEFAULT);
}

const char *
banger_shown_message (const char *s)
{
  return shown (s, BGR_ESCAPE_KEEP_NEWLINES);
}

void
banger_print_json_builder (JsonBuilder *builder)
{
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = json_to_string (root, TRUE);
  banger_print_json (text);
}

void
banger_print_json_list (GPtrArray *list, BangerToJson to_json)
{
  g_autoptr (GString) out = g_string_new ("[");

  for (guint i = 0; i < list->len; i++)
    {
      g_autofree char *json = to_json (list->pdata[i]);
      g_string_append_printf (out, "%s\n%s", i > 0 ? "," : "", json);
    }
  g_string_append (out, "\n]");
  banger_print_json (out->str);
}

void
banger_print_json (const char *json)
{
  /* json-glib writes C0 controls as \u00NN already; DEL, C1 controls and
   * bidi characters may stand raw in JSON strings, and only in strings. */
  g_autofree char *escaped = bgr_escape_needed (json, BGR_ESCAPE_JSON)
                               ? bgr_escape (json, -1, BGR_ESCAPE_JSON) : NULL;
  fputs (escaped != NULL ? escaped : json, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

gboolean
banger_parse_size (const char *option, const char *text, guint64 bare_unit, guint64 *out,
                   GError **error)
{
  char *end = NULL;
  guint64 v;
  guint64 mult = bare_unit;

  if (!g_ascii_isdigit (text[0]))
    goto bad;
  v = g_ascii_strtoull (text, &end, 10);
  switch (g_ascii_toupper (*end))
    {
    case '\0': break;
    case 'K': mult = 1ull << 10; end++; break;
    case 'M': mult = 1ull << 20; end++; break;
    case 'G': mult = 1ull << 30; end++; break;
    case 'T': mult = 1ull << 40; end++; break;
    default: goto bad;
    }
  if (*end == 'i' || *end == 'B')
    end++;
  if (*end == 'B')
    end++;
  if (*end != '\0' || v == 0 || v > G_MAXUINT64 / mult)
    goto bad;
  *out = v * mult;
  return TRUE;
bad:
  if (option == NULL)
    g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                 "invalid size \"%s\" (e.g. 4G, 512M, or bytes)", text);
  else
    g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                 "invalid %s \"%s\" (e.g. 512M, 2G)", option, text);
  return FALSE;
}

char *
banger_ascii_spaces (const char *text)
{
  g_autoptr (GString) s = g_string_new (text);

  if (!g_get_charset (NULL))
    g_string_replace (s, "\u00a0", " ", 0);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

char *
banger_format_size (guint64 bytes)
{
  g_autofree char *text = g_format_size (bytes);
  return banger_ascii_spaces (text);
}

/* The flag of @cmd that sets option key @key, or NULL. Keys and flags have
 * the same names but for these. */
static char *
flag_for_key (const BangerCommand *cmd, const char *key)
{
  static const struct { const char *command, *key, *flags; } renamed[] = {
    { "vm create", "memory-mib", "--memory" },
    { "image pull", "kernel", "--kernel-ref" },
    { "kernel import", "kernel", "--vmlinux or --bzimage" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (renamed); i++)
    if (g_str_equal (cmd->name, renamed[i].command) && g_str_equal (key, renamed[i].key))
      return g_strdup (renamed[i].flags);
  for (const GOptionEntry *e = cmd->options; e != NULL && e->long_name != NULL; e++)
    if (g_str_equal (e->long_name, key))
      return g_strdup_printf ("--%s", key);
  return NULL;
}

char *
banger_error_for_cli (const BangerCommand *cmd, const char *message)
{
  g_autoptr (GString) out = g_string_new (NULL);
  const char *p = message, *hit;

  /* "option 'KEY'" -> "--FLAG"; "options 'A' ... 'B'" are left as they are. */
  while ((hit = strstr (p, "option '")) != NULL)
    {
      const char *key = hit + strlen ("option '");
      const char *end = strchr (key, '\'');
      g_autofree char *k = NULL, *flag = NULL;

      if (end == NULL)
        break;
      k = g_strndup (key, (gsize) (end - key));
      flag = flag_for_key (cmd, k);
      g_string_append_len (out, p, (gssize) (hit - p));
      if (flag != NULL)
        g_string_append (out, flag);
      else
        g_string_append_len (out, hit, (gssize) (end + 1 - hit));
      p = end + 1;
    }
  g_string_append (out, p);
  return banger_ascii_spaces (out->str);
}

/* Paths go to a daemon with another working directory: make them absolute. */
char *
banger_absolute_path (const char *path)
{
  return path != NULL ? g_canonicalize_filename (path, NULL) : NULL;
}

BgrConfig *
banger_invocation_load_config (BangerInvocation *inv, GError **error)
{
  return bgr_config_load (inv->config_path, error);
}

/* Connects to the session bus (GLib's shared connection, which the D-Bus
 * client then uses: keep the reference until it is made). When that fails,
 * returns NULL and sets @problem to why, in words a user can act on.
 * Without DBUS_SESSION_BUS_ADDRESS (and no $XDG_RUNTIME_DIR/bus) GLib tries
 * to autolaunch a bus and fails with "Cannot autolaunch D-Bus without X11
 * $DISPLAY", which says nothing useful here (over ssh, in a container, on a
 * server): that goes to the debug log only. */
static GDBusConnection *
get_session_bus (char **problem)
{
  g_autoptr (GError) error = NULL;
  const char *address = g_getenv ("DBUS_SESSION_BUS_ADDRESS");
  GDBusConnection *bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);

  if (bus != NULL)
    return bus;
  g_debug ("no session bus: %s", error->message);
  if (address == NULL || *address == '\0')
    *problem = g_strdup ("DBUS_SESSION_BUS_ADDRESS is not set");
  else
    *problem = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s: %s", address, error->message);
  return NULL;
}

/* When bangerd holds @config's state directory (the lock file names the
 * holder, docs/state.md), the session bus address in its environment, or
 * NULL. */
static char *
bangerd_bus_address (BgrConfig *config)
{
  g_autofree char *lock = g_build_filename (bgr_config_get_string (config, "state_dir"), "lock",
                                            NULL);
  g_autofree char *text = NULL;
  g_autofree char *comm_path = NULL;
  g_autofree char *comm = NULL;
  g_autofree char *environ_path = NULL;
  g_autofree char *env = NULL;
  gint64 pid;
  gsize len = 0;
  static const char *const vars[] = { "DBUS_SESSION_BUS_ADDRESS=", "DBUS_STARTER_ADDRESS=" };

  if (!g_file_get_contents (lock, &text, NULL, NULL))
    return NULL;
  pid = g_ascii_strtoll (text, NULL, 10);
  comm_path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/comm", pid);
  if (pid <= 0 || !g_file_get_contents (comm_path, &comm, NULL, NULL)
      || !g_str_equal (g_strstrip (comm), "bangerd"))
    return NULL;
  environ_path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/environ", pid);
  if (!g_file_get_contents (environ_path, &env, &len, NULL))
    return NULL;
  for (gsize v = 0; v < G_N_ELEMENTS (vars); v++)
    for (gsize i = 0; i < len; i += strlen (env + i) + 1)
      if (g_str_has_prefix (env + i, vars[v]) && env[i + strlen (vars[v])] != '\0')
        return g_strdup (env + i + strlen (vars[v]));
  return NULL;
}

/* No session bus: run the engine in this process, as --local would, and say
 * so. That is safe because the engine takes the state directory's lock: if a
 * bangerd (on a bus this shell cannot see) or another --local command holds
 * it, this fails with BGR_ERROR_LOCKED, explained here. */
static BgrClient *
get_fallback_client (BangerInvocation *inv, const char *problem, GError **error)
{
  g_autoptr (BgrConfig) config = banger_invocation_load_config (inv, error);
  g_autoptr (GError) local_error = NULL;
  BgrClient *client;

  if (config == NULL)
    return NULL;
  client = bgr_client_new_local (config, BGR_CLIENT_FLAGS_NONE, &local_error);
  if (client != NULL)
    {
      if (!inv->json)
        g_printerr ("banger: no D-Bus session bus (%s): running the engine in this process, "
                    "as with --local (--system talks to the system bangerd)\n", problem);
      return client;
    }
  if (g_error_matches (local_error, BGR_ERROR, BGR_ERROR_LOCKED))
    {
      g_autofree char *address = bangerd_bus_address (config);
      g_autofree char *how = address != NULL
        ? g_strdup_printf ("export DBUS_SESSION_BUS_ADDRESS='%s' to reach it, or stop it", address)
        : g_strdup ("if that is a bangerd, point DBUS_SESSION_BUS_ADDRESS at its bus; else wait "
                    "for it to finish");

      g_set_error (error, BGR_ERROR, BGR_ERROR_LOCKED,
                   "no D-Bus session bus (%s), and the engine cannot run in this process: %s; "
                   "%s", problem, local_error->message, how);
      return NULL;
    }
  g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

static BgrClient *
get_client (BangerInvocation *inv, BgrClientFlags flags, GError **error)
{
  g_autoptr (GDBusConnection) session_bus = NULL;

  if (inv->local)
    {
      g_autoptr (BgrConfig) config = banger_invocation_load_config (inv, error);
      if (config == NULL)
        return NULL;
      return bgr_client_new_local (config, BGR_CLIENT_FLAGS_NONE, error);
    }
  if (inv->config_from_option)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "--config applies to the in-process engine: add --local, or start the "
                   "daemon with `bangerd --config %s`", inv->config_path);
      return NULL;
    }
  if (!inv->system)
    {
      g_autofree char *problem = NULL;

      session_bus = get_session_bus (&problem);
      if (session_bus == NULL && (flags & BGR_CLIENT_FLAGS_NO_AUTO_START))
        {
          /* Asking for the daemon itself (daemon status, doctor): no fallback. */
          g_set_error (error, BGR_ERROR, BGR_ERROR_DAEMON_UNAVAILABLE,
                       "no D-Bus session bus to find bangerd on: %s", problem);
          return NULL;
        }
      if (session_bus == NULL)
        return get_fallback_client (inv, problem, error);
    }
  return bgr_client_new_dbus (inv->system ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, flags, NULL,
                              error);
}

BgrClient *
banger_invocation_get_client (BangerInvocation *inv, GError **error)
{
  return get_client (inv, BGR_CLIENT_FLAGS_NONE, error);
}

BgrClient *
banger_invocation_get_running_client (BangerInvocation *inv, GError **error)
{
  return get_client (inv, BGR_CLIENT_FLAGS_NO_AUTO_START, error);
}
