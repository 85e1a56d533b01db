/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bangerd: owns the state directory and exports libbanger on D-Bus.
 *
 * Handlers are thin: unpack, call one libbanger function, reply. They run in
 * GDBus worker threads (HANDLE_METHOD_INVOCATIONS_IN_THREAD) so a long call
 * never blocks the main loop. bangerd uses only libbanger's public API: its
 * engine is a local BgrClient. */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include <gio/gunixfdlist.h>

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <banger/banger.h>

#include "bangerd-options.h"
#include "bangerd-private.h"
#include "bangerd-web.h"
#include "bgr-escape-private.h"

static Daemon daemon_state;

/* ---- logging ------------------------------------------------------------ */

static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  Daemon *d = user_data;

  /* GLib's levels grow more verbose as the flag value grows. */
  if ((level & G_LOG_LEVEL_MASK) > d->max_level && !(level & G_LOG_FLAG_FATAL))
    return G_LOG_WRITER_HANDLED;
  /* A message whose call site did not escape what it quotes (a guest's
   * words, a caller's arguments) still never puts control characters into
   * the log: journald keeps them raw. */
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0
        && bgr_escape_needed (fields[i].value, BGR_ESCAPE_DEFAULT))
      {
        g_autofree GLogField *copy = g_memdup2 (fields, n_fields * sizeof *fields);
        g_autofree char *escaped = bgr_escape (fields[i].value, -1, BGR_ESCAPE_DEFAULT);
        copy[i].value = escaped;
        return log_writer (level, copy, n_fields, user_data);
      }
  if (g_log_writer_is_journald (fileno (stderr)))
    return g_log_writer_journald (level, fields, n_fields, NULL);
  /* Not g_log_writer_standard_streams(): it would drop info and debug
   * messages unless G_MESSAGES_DEBUG is set, and log_level decides here. */
  {
    g_autofree char *line = g_log_writer_format_fields (level, fields, n_fields, FALSE);
    fprintf (stderr, "%s\n", line);
    fflush (stderr);
  }
  return G_LOG_WRITER_HANDLED;
}

static void
on_suppressed (const char *peer, const char *what, guint count, gpointer data)
{
  g_info ("%u similar messages from %s suppressed (%u in %d s logged): %s", count, peer,
          BGRD_LOG_BURST, BGRD_LOG_INTERVAL_S, what);
}

static gboolean
on_log_limit_tick (gpointer data)
{
  Daemon *d = data;
  bgrd_log_limit_expire (d->log_limit, g_get_monotonic_time ());
  return G_SOURCE_CONTINUE;
}

static GLogLevelFlags
level_from_config (const char *name)
{
  if (g_strcmp0 (name, "error") == 0)
    return G_LOG_LEVEL_CRITICAL;
  if (g_strcmp0 (name, "warning") == 0)
    return G_LOG_LEVEL_WARNING;
  if (g_strcmp0 (name, "debug") == 0)
    return G_LOG_LEVEL_DEBUG;
  return G_LOG_LEVEL_INFO;
}


static void
on_name_owner_changed (GDBusConnection *c, const char *sender_name, const char *path,
                       const char *iface, const char *signal, GVariant *params, gpointer data)
{
  const char *name, *old_owner, *new_owner;

  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(sss)")))
    return;
  g_variant_get (params, "(&s&s&s)", &name, &old_owner, &new_owner);
  if (name[0] == ':' && *new_owner == '\0')
    bgrd_cancel_calls_of (data, name);
}

/* ---- start-up ----------------------------------------------------------- */

static gboolean
try_start_engine (Daemon *d, GError **error)
{
  BgrClient *client = bgr_client_new_local (d->config, BGR_CLIENT_FLAGS_SUPERVISE, error);

  if (client == NULL)
    return FALSE;
  g_mutex_lock (&d->calls_lock);
  d->client = client;
  g_mutex_unlock (&d->calls_lock);
  if (d->connection != NULL)
    bgrd_objects_start (d);
  /* Without the UI (port taken, bad address) bangerd carries on. */
  d->web = bgrd_web_start (d, d->system);
  g_message ("bangerd %s ready on the %s bus, state in %s", bgr_get_version_string (),
             d->bus_description, bgr_config_get_string (d->config, "state_dir"));
  return TRUE;
}

/* With --replace the old daemon holds the state lock until it has seen
 * NameLost and exited. Poll for the lock from the main loop (signals and
 * D-Bus keep being served meanwhile), for at most 15 s. */
static gboolean
retry_lock (gpointer data)
{
  Daemon *d = data;
  g_autoptr (GError) error = NULL;

  if (d->client != NULL || try_start_engine (d, &error))
    {
      d->lock_retry_id = 0;
      return G_SOURCE_REMOVE;
    }
  if (g_error_matches (error, BGR_ERROR, BGR_ERROR_LOCKED)
      && g_get_monotonic_time () < d->lock_deadline)
    return G_SOURCE_CONTINUE;
  g_printerr ("bangerd: %s\n", error->message);
  d->exit_status = bgr_error_code_to_exit_status (error->code);
  d->lock_retry_id = 0;
  g_main_loop_quit (d->loop);
  return G_SOURCE_REMOVE;
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer data)
{
  Daemon *d = data;

  d->name_acquired = TRUE;
  g_info ("owning %s on the %s bus", name, d->bus_description);
  if (d->client == NULL && d->lock_retry_id == 0)
    {
      d->lock_deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
      d->lock_retry_id = g_timeout_add (50, retry_lock, d);
    }
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer data)
{
  Daemon *d = data;

  if (connection == NULL)
    return; /* the bus went away: on_bus_closed() says so and ends */
  if (d->name_acquired)
    g_message ("another bangerd replaced this one; exiting");
  else
    {
      g_printerr ("bangerd: %s is already owned on the %s bus by another bangerd "
                  "(use --replace to take over)\n", name, d->bus_description);
      d->exit_status = bgr_error_code_to_exit_status (BGR_ERROR_LOCKED);
    }
  g_main_loop_quit (d->loop);
}

/* Without its bus bangerd serves nothing: it ends as on SIGTERM (running
 * calls cancelled, the engine closed), not by GDBus's exit(1). */
static void
on_bus_closed (GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
               gpointer data)
{
  Daemon *d = data;

  g_warning ("bangerd lost its connection to the %s bus (%s); exiting", d->bus_description,
             error != NULL ? error->message : "closed");
  d->exit_status = 1; /* a failure: a service manager starts it again */
  g_main_loop_quit (d->loop);
}

static gboolean
on_signal (gpointer data)
{
  Daemon *d = data;
  g_message ("signal received; exiting");
  g_main_loop_quit (d->loop);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  Daemon *d = &daemon_state;
  g_auto (BangerdOptions) opts = { 0 };
  g_autofree GOptionEntry *entries = bangerd_options_new_entries (&opts);
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = NULL;

  /* Vm.Exec writes to descriptors its callers passed: a caller that went
   * away must cost an EPIPE, not the daemon. */
  signal (SIGPIPE, SIG_IGN);
  guint owner_id;
  guint name_flags;
  guint log_tick;
  gboolean drained = TRUE;

  ctx = g_option_context_new (bangerd_parameter_string);
  g_option_context_set_summary (ctx, bangerd_summary);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("bangerd: %s (see bangerd --help)\n", error->message);
      return 2;
    }
  if (opts.version)
    {
      g_print ("bangerd %s\n", bgr_get_version_string ());
      return 0;
    }
  if ((opts.system ? 1 : 0) + (opts.session ? 1 : 0) + (opts.address != NULL ? 1 : 0) > 1)
    {
      g_printerr ("bangerd: --session, --system and --address exclude each other\n");
      return 2;
    }
  if (argc > 1)
    {
      g_printerr ("bangerd: unexpected argument '%s' (see bangerd --help)\n", argv[1]);
      return 2;
    }

  if (opts.config == NULL && g_getenv ("BANGER_CONFIG") != NULL)
    opts.config = g_strdup (g_getenv ("BANGER_CONFIG"));
  /* The system daemon has system-wide defaults: /etc/banger/config.toml,
   * state in /var/lib/banger, cache in /var/cache/banger. */
  d->config = bgr_config_load_full (opts.config,
                                    opts.system ? BGR_CONFIG_FLAGS_SYSTEM : BGR_CONFIG_FLAGS_NONE,
                                    &error);
  if (d->config == NULL)
    {
      g_printerr ("bangerd: %s\n", error->message);
      return bgr_error_code_to_exit_status (error->code);
    }
  d->max_level = opts.verbose ? G_LOG_LEVEL_DEBUG
                             : level_from_config (bgr_config_get_string (d->config, "log_level"));
  g_log_set_writer_func (log_writer, d, NULL);
  d->log_limit = bgrd_log_limit_new (BGRD_LOG_BURST, BGRD_LOG_INTERVAL_S * G_USEC_PER_SEC,
                                     on_suppressed, d);
  d->replace = opts.replace;
  d->system = opts.system;
  d->loop = g_main_loop_new (NULL, FALSE);

  d->bus_description = opts.address != NULL ? g_strdup_printf ("address:%s", opts.address)
                                             : g_strdup (opts.system ? "system" : "session");
  /* Without --replace, take the state lock before touching the bus, so a
   * second daemon fails at once with the holder's pid. */
  if (!opts.replace && !try_start_engine (d, &error))
    {
      g_printerr ("bangerd: %s\n", error->message);
      return bgr_error_code_to_exit_status (error->code);
    }

  if (opts.address != NULL)
    {
      d->connection = g_dbus_connection_new_for_address_sync (
        opts.address,
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
        NULL, NULL, &error);
    }
  else
    d->connection = g_bus_get_sync (opts.system ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, NULL, &error);
  if (d->connection == NULL)
    {
      g_printerr ("bangerd: cannot connect to the %s bus: %s\n",
                  opts.address != NULL ? opts.address : (opts.system ? "system" : "session"),
                  error->message);
      return bgr_error_code_to_exit_status (BGR_ERROR_DAEMON_UNAVAILABLE);
    }
  g_dbus_connection_set_exit_on_close (d->connection, FALSE);
  g_signal_connect (d->connection, "closed", G_CALLBACK (on_bus_closed), d);
  d->cancellables = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) g_ptr_array_unref);
  g_dbus_connection_signal_subscribe (d->connection, "org.freedesktop.DBus", "org.freedesktop.DBus",
                                      "NameOwnerChanged", "/org/freedesktop/DBus", NULL,
                                      G_DBUS_SIGNAL_FLAGS_NONE, on_name_owner_changed, d, NULL);
  if (d->client != NULL)
    bgrd_objects_start (d);
  if (!bgrd_export_manager (d, &error))
    {
      g_printerr ("bangerd: cannot export %s: %s\n", BGR_DBUS_PATH, error->message);
      return 1;
    }

  name_flags = G_BUS_NAME_OWNER_FLAGS_ALLOW_REPLACEMENT | G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE;
  if (opts.replace)
    name_flags |= G_BUS_NAME_OWNER_FLAGS_REPLACE;
  owner_id = g_bus_own_name_on_connection (d->connection, BGR_DBUS_NAME, name_flags,
                                           on_name_acquired, on_name_lost, d, NULL);
  g_unix_signal_add (SIGTERM, on_signal, d);
  g_unix_signal_add (SIGINT, on_signal, d);
  log_tick = g_timeout_add_seconds (BGRD_LOG_INTERVAL_S, on_log_limit_tick, d);

  g_main_loop_run (d->loop);
  g_source_remove (log_tick);

  /* Refuse new calls, leave the bus, then let running handlers finish before
   * the engine (and its state lock) goes away. */
  g_mutex_lock (&d->calls_lock);
  d->shutting_down = TRUE;
  g_mutex_unlock (&d->calls_lock);
  bgrd_cancel_calls_of (d, NULL); /* long calls roll back instead of running on */
  bgrd_web_cancel_all (d->web);
  if (d->lock_retry_id != 0)
    g_source_remove (d->lock_retry_id);
  g_bus_unown_name (owner_id);
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (d->skeleton));
  bgrd_objects_stop (d);
  {
    gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
    g_mutex_lock (&d->calls_lock);
    while (d->calls_in_flight > 0)
      if (!g_cond_wait_until (&d->calls_cond, &d->calls_lock, deadline))
        {
          g_warning ("%u calls still running after 60 s; exiting anyway", d->calls_in_flight);
          drained = FALSE;
          /* Do not free the engine under them: exiting releases the lock. */
          d->client = NULL;
          break;
        }
    g_mutex_unlock (&d->calls_lock);
  }
  /* The web calls that ended reply from the main loop: let them, then stop
   * serving. */
  for (int i = 0; i < 1000 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_clear_pointer (&d->web, bgrd_web_free);
  g_dbus_connection_flush_sync (d->connection, NULL, NULL);
  /* What is still suppressed is said before the end (the limit itself
   * stays for handlers that may still run after the 60 s). */
  bgrd_log_limit_expire (d->log_limit, G_MAXINT64);
  if (drained)
    g_clear_pointer (&d->log_limit, bgrd_log_limit_free);
  g_clear_object (&d->skeleton);
  g_clear_object (&d->client); /* releases the state lock */
  g_clear_object (&d->connection);
  g_clear_object (&d->config);
  g_main_loop_unref (d->loop);
  g_free (d->bus_description);
  return d->exit_status;
}
