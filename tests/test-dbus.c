/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bangerd's life on a private dbus-daemon, driven by the banger CLI and
 * gdbus: start and ownership, --replace, log rate limits, a bad config,
 * the system bus, stop with calls in flight, activation. Its Manager
 * calls are test-dbus-manager's. */
#include "config.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <banger/banger.h>
#include "bgr-test-util.h"
#include "dbus-fixture.h"

static void
test_cli_and_gdbus (Fixture *f, gconstpointer data)
{
  g_autofree char *keyless = g_build_filename (g_get_user_config_dir (), "nokey", "id", NULL);
  g_autofree char *cfgtext = g_strdup_printf ("log_level = \"debug\"\ntap_pool_size = 7\n"
                                              "ssh_key_path = \"%s\"\nweb_listen_addr = \"\"\n",
                                              keyless);
  g_autofree char *cfg = bgr_test_write_file ("daemon.toml", cfgtext);
  g_autofree char *state = g_build_filename (g_get_user_state_dir (), "banger", NULL);
  g_autoptr (GSubprocess) d = start_daemon (f, cfg, FALSE);
  g_autofree char *pid = owner_pid_text (d);
  g_autofree char *pid_line = g_strdup_printf ("pid:        %s\n", pid);
  g_autofree char *gdbus_pid = g_strdup_printf ("'pid': <int64 %s>", pid);
  g_autofree char *src_line = g_strdup_printf ("('tap_pool_size', '7', '%s:2')", cfg);
  g_autofree char *state_line = g_strdup_printf ("state dir:  %s\n", state);
  BgrRun r;

  wait_for_name (f);

  /* CLI, text and JSON. */
  RUN (f, &r, banger, "daemon", "status");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, pid_line);
  bgr_assert_contains (r.out, "bus:        session\n");
  bgr_assert_contains (r.out, state_line);
  bgr_run_clear (&r);
  {
    g_autoptr (JsonParser) p = json_parser_new ();
    JsonObject *o;
    RUN (f, &r, banger, "daemon", "status", "--json");
    g_assert_cmpint (r.status, ==, 0);
    g_assert_true (json_parser_load_from_data (p, r.out, -1, NULL));
    o = json_node_get_object (json_parser_get_root (p));
    g_assert_cmpint (json_object_get_int_member (o, "pid"), ==, g_ascii_strtoll (pid, NULL, 10));
    g_assert_cmpstr (json_object_get_string_member (o, "version"), ==, BANGER_VERSION);
    bgr_run_clear (&r);
  }
  RUN (f, &r, banger, "config", "show");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, "tap_pool_size");
  {
    g_autofree char *src = g_strdup_printf ("%s:2", cfg);
    bgr_assert_contains (r.out, src);
  }
  bgr_run_clear (&r);
  RUN (f, &r, banger, "doctor");
  g_assert_cmpuint (r.status, <=, 1);
  bgr_assert_contains (r.out, "VMs would run on: ");
  /* The daemon answered: its config file is the one reported, no fallback. */
  {
    g_autofree char *parsed = g_strdup_printf ("PASS  config       %s parsed", cfg);
    bgr_assert_contains (r.out, parsed);
  }
  g_assert_null (strstr (r.err, "not running"));
  bgr_run_clear (&r);
  RUN (f, &r, banger, "doctor", "--json");
  g_assert_cmpuint (r.status, <=, 1);
  bgr_assert_contains (r.out, "\"hypervisor\"");
  bgr_run_clear (&r);

  /* gdbus. */
  GDBUS_CALL (f, &r, "GetStatus");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, gdbus_pid);
  bgr_run_clear (&r);
  GDBUS_CALL (f, &r, "GetConfig");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, src_line);
  bgr_run_clear (&r);

  /* Errors keep their own D-Bus name. */
  GDBUS_CALL (f, &r, "EnsureSshKey");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "org.banger.Banger1.Error.NotFound");
  bgr_assert_contains (r.err, keyless);
  bgr_run_clear (&r);
  RUN (f, &r, banger, "config", "ssh-key");
  g_assert_cmpint (r.status, ==, 3);
  bgr_assert_contains (r.err, keyless);
  bgr_run_clear (&r);

  /* Unknown methods and bad arguments: clear errors, daemon unharmed. */
  GDBUS_CALL (f, &r, "Explode");
  g_assert_cmpint (r.status, !=, 0);
  bgr_assert_contains (r.err, "org.freedesktop.DBus.Error.UnknownMethod");
  bgr_run_clear (&r);
  {
    g_autoptr (GError) err = NULL;
    g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
      f->conn, "org.banger.Banger1", "/org/banger/Banger1", "org.banger.Banger1.Manager",
      "GetStatus", g_variant_new ("(s)", "unexpected"), NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err);
    g_assert_null (reply);
    g_assert_error (err, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
    g_clear_error (&err);
    reply = g_dbus_connection_call_sync (f->conn, "org.banger.Banger1", "/org/banger/Banger1",
                                         "org.banger.Banger1.NoSuchInterface", "GetStatus", NULL,
                                         NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err);
    g_assert_null (reply);
    g_assert_nonnull (err);
  }
  RUN (f, &r, banger, "daemon", "status");
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, pid_line);
  bgr_run_clear (&r);

  /* One engine per state directory. */
  RUN (f, &r, banger, "--local", "config", "show");
  g_assert_cmpint (r.status, ==, 6);
  {
    g_autofree char *who = g_strdup_printf ("process %s", pid);
    bgr_assert_contains (r.err, who);
  }
  bgr_run_clear (&r);
  RUN (f, &r, bangerd, "--session", "--config", cfg);
  g_assert_cmpint (r.status, ==, 6);
  {
    g_autofree char *who = g_strdup_printf ("process %s", pid);
    bgr_assert_contains (r.err, who);
  }
  bgr_run_clear (&r);

  /* Stop: the daemon replies, exits cleanly, and is gone. */
  RUN (f, &r, banger, "daemon", "stop");
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  wait_for_exit (d);
  g_assert_true (g_subprocess_get_if_exited (d));
  g_assert_cmpint (g_subprocess_get_exit_status (d), ==, 0);
  RUN (f, &r, banger, "daemon", "status");
  g_assert_cmpint (r.status, ==, 13);
  bgr_run_clear (&r);
  {
    /* log_level = "debug": every call is logged, with its failures. */
    g_autofree char *log = daemon_log (d);
    bgr_assert_contains (log, "call org.banger.Banger1.Manager.GetStatus() on /org/banger/Banger1 from");
    bgr_assert_contains (log, "EnsureSshKey failed: ");
    bgr_assert_contains (log, "stop requested");
  }
}

/* GetVm of a VM that does not exist, @times times over @conn. */
static void
get_ghost (GDBusConnection *conn, guint times)
{
  for (guint i = 0; i < times; i++)
    {
      g_autoptr (GError) err = NULL;
      g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
        conn, "org.banger.Banger1", "/org/banger/Banger1", "org.banger.Banger1.Manager", "GetVm",
        g_variant_new ("(s)", "ghost"), NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &err);
      g_assert_null (reply);
      g_assert_true (g_dbus_error_is_remote_error (err));
    }
}

static guint
count_lines (const char *text, const char *needle)
{
  guint n = 0;
  for (const char *p = strstr (text, needle); p != NULL; p = strstr (p + 1, needle))
    n++;
  return n;
}

/* A peer repeating a failing call: its first 5 errors are logged, then
 * one line counts the rest; another peer's errors are its own. */
static void
test_log_rate_limit (Fixture *f, gconstpointer data)
{
  g_autofree char *cfg = bgr_test_write_file ("loglimit.toml", "log_level = \"info\"\nweb_listen_addr = \"\"\n");
  g_autoptr (GSubprocess) d = start_daemon (f, cfg, FALSE);
  g_autoptr (GDBusConnection) other = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree char *log = NULL, *suppressed = NULL;
  BgrRun r;

  wait_for_name (f);
  other = g_dbus_connection_new_for_address_sync (
    f->address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, &err);
  g_assert_no_error (err);
  get_ghost (f->conn, 30);
  get_ghost (other, 2);
  RUN (f, &r, banger, "daemon", "stop");
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  wait_for_exit (d);
  g_assert_cmpint (g_subprocess_get_exit_status (d), ==, 0);
  log = daemon_log (d);
  g_assert_cmpuint (count_lines (log, "GetVm failed: no VM named 'ghost'"), ==, 5 + 2 + 1);
  suppressed = g_strdup_printf ("25 similar messages from %s suppressed (5 in 10 s logged): GetVm failed: no VM named 'ghost'",
                                g_dbus_connection_get_unique_name (f->conn));
  bgr_assert_contains (log, suppressed);
  g_assert_null (strstr (log, g_dbus_connection_get_unique_name (other)));
}

static void
test_replace (Fixture *f, gconstpointer data)
{
  g_autofree char *cfg = bgr_test_write_file ("replace.toml", "log_level = \"info\"\nweb_listen_addr = \"\"\n");
  g_autoptr (GSubprocess) first = start_daemon (f, cfg, FALSE);
  g_autoptr (GSubprocess) second = NULL;
  g_autofree char *line = NULL;
  BgrRun r;

  wait_for_name (f);
  second = start_daemon (f, cfg, TRUE);
  /* The first daemon sees NameLost, releases the state lock and exits 0. */
  wait_for_exit (first);
  g_assert_cmpint (g_subprocess_get_exit_status (first), ==, 0);
  line = g_strdup_printf ("pid:        %s\n", g_subprocess_get_identifier (second));
  /* The new one answers once it holds the lock (calls before that get a
   * clear "starting up" error, which the CLI reports as exit 13). */
  for (int tries = 0;; tries++)
    {
      RUN (f, &r, banger, "daemon", "status");
      if (r.status == 0)
        break;
      g_assert_cmpint (r.status, ==, 13);
      g_assert_cmpint (tries, <, 200);
      bgr_run_clear (&r);
      g_usleep (50000);
    }
  bgr_assert_contains (r.out, line);
  bgr_run_clear (&r);
  g_subprocess_send_signal (second, SIGTERM);
  wait_for_exit (second);
  g_assert_cmpint (g_subprocess_get_exit_status (second), ==, 0);
}

static void
test_bad_config (Fixture *f, gconstpointer data)
{
  g_autofree char *cfg = bgr_test_write_file ("broken.toml", "cidr = \"10.0.0.0/24\"\nwat = 1\n");
  g_autofree char *state = g_build_filename (g_get_user_state_dir (), "banger", NULL);
  g_autofree char *where = g_strdup_printf ("%s:2: unknown key 'wat'", cfg);
  BgrRun r;

  g_assert_false (g_file_test (state, G_FILE_TEST_EXISTS));
  RUN (f, &r, bangerd, "--session", "--config", cfg);
  g_assert_cmpint (r.status, ==, 5);
  bgr_assert_contains (r.err, where);
  g_assert_false (g_file_test (state, G_FILE_TEST_EXISTS));
  bgr_run_clear (&r);

  RUN (f, &r, bangerd, "--frobnicate");
  g_assert_cmpint (r.status, ==, 2);
  bgr_run_clear (&r);
}

static void
test_system_bus (Fixture *f, gconstpointer data)
{
  /* GDBus honours DBUS_SYSTEM_BUS_ADDRESS: the private bus stands in for the
   * system bus, for both bangerd --system and banger --system. */
  g_autofree char *cfg = bgr_test_write_file ("system.toml", "log_level = \"warning\"\nweb_listen_addr = \"\"\n");
  g_autofree char *sysenv = g_strdup_printf ("DBUS_SYSTEM_BUS_ADDRESS=%s", f->address);
  const char *env[] = { sysenv, "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus", NULL };
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr (GSubprocess) d = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree char *pid_line = NULL;
  BgrRun r;

  g_subprocess_launcher_setenv (l, "DBUS_SYSTEM_BUS_ADDRESS", f->address, TRUE);
  d = g_subprocess_launcher_spawn (l, &err, bangerd, "--system", "--config", cfg, NULL);
  g_assert_no_error (err);
  wait_for_name (f);
  pid_line = g_strdup_printf ("pid:        %s\n", g_subprocess_get_identifier (d));

  bgr_run_env (&r, env, (const char *const[]){ banger, "--system", "daemon", "status", NULL });
  g_assert_cmpint (r.status, ==, 0);
  bgr_assert_contains (r.out, pid_line);
  bgr_assert_contains (r.out, "bus:        system\n");
  bgr_run_clear (&r);
  /* Without --system the CLI looks on the session bus, where nothing runs. */
  bgr_run_env (&r, env, (const char *const[]){ banger, "daemon", "status", NULL });
  g_assert_cmpint (r.status, ==, 13);
  bgr_run_clear (&r);
  bgr_run_env (&r, env, (const char *const[]){ banger, "--system", "daemon", "stop", NULL });
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  wait_for_exit (d);
  g_assert_cmpint (g_subprocess_get_exit_status (d), ==, 0);
}

static void
test_activation (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonObject *o;
  gint64 pid;
  BgrRun r;

  /* status, stop and doctor never start a daemon just to talk to it. */
  RUN (f, &r, banger, "daemon", "status");
  g_assert_cmpint (r.status, ==, 13);
  bgr_run_clear (&r);
  RUN (f, &r, banger, "daemon", "stop");
  g_assert_cmpint (r.status, ==, 13);
  bgr_run_clear (&r);
  RUN (f, &r, banger, "doctor");
  bgr_assert_contains (r.err, "not running");
  bgr_run_clear (&r);

  /* Other calls start bangerd through D-Bus activation. */
  RUN (f, &r, banger, "config", "show");
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  RUN (f, &r, banger, "daemon", "status", "--json");
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (json_parser_load_from_data (p, r.out, -1, NULL));
  o = json_node_get_object (json_parser_get_root (p));
  pid = json_object_get_int_member (o, "pid");
  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (kill ((pid_t) pid, 0), ==, 0);
  bgr_run_clear (&r);
  RUN (f, &r, banger, "daemon", "stop");
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
}

static void
on_run_done (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) err = NULL;
  char **outs = data;
  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), res, &outs[0], &outs[1], &err);
  g_assert_no_error (err);
  outs[2] = GINT_TO_POINTER (1);
}

/* An HTTP server that answers each GET with the headers and the first
 * SLOW_SENT bytes of a SLOW_SIZE body, then holds the connection: a kernel
 * pull from it stays in flight until it is cancelled. */
#define SLOW_SIZE (1 << 20)
#define SLOW_SENT 65536
#define SLOW_CALLS 3

typedef struct {
  int listen_fd;
  GMutex lock;
  GCond cond;
  guint started; /* connections that got a part of their body */
  guint closed;  /* of those, how many the client closed */
} SlowServer;

static gpointer
slow_server_thread (gpointer data)
{
  SlowServer *s = data;
  g_autofree char *body = g_malloc0 (SLOW_SENT);
  int fds[SLOW_CALLS];

  for (guint i = 0; i < SLOW_CALLS; i++)
    {
      char req[4096];
      gsize got = 0;
      g_autofree char *head =
        g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", SLOW_SIZE);

      fds[i] = accept (s->listen_fd, NULL, NULL);
      g_assert_cmpint (fds[i], >=, 0);
      /* The whole request (it has no body), then the part of the answer. */
      while (got < 4 || memcmp (req + got - 4, "\r\n\r\n", 4) != 0)
        {
          ssize_t n = read (fds[i], req + got, sizeof req - got);
          g_assert_cmpint (n, >, 0);
          got += (gsize) n;
          g_assert_cmpuint (got, <, sizeof req);
        }
      g_assert_cmpint (write (fds[i], head, strlen (head)), ==, (ssize_t) strlen (head));
      g_assert_cmpint (write (fds[i], body, SLOW_SENT), ==, SLOW_SENT);
      g_mutex_lock (&s->lock);
      s->started++;
      g_cond_broadcast (&s->cond);
      g_mutex_unlock (&s->lock);
    }
  /* Hold every body until the client goes away. */
  for (guint i = 0; i < SLOW_CALLS; i++)
    {
      char c;
      while (read (fds[i], &c, 1) > 0)
        ;
      close (fds[i]);
      g_mutex_lock (&s->lock);
      s->closed++;
      g_cond_broadcast (&s->cond);
      g_mutex_unlock (&s->lock);
    }
  return NULL;
}

/* Waits (bounded) until *counter reaches @want. */
static void
slow_server_wait (SlowServer *s, guint *counter, guint want, const char *what)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;

  g_mutex_lock (&s->lock);
  while (*counter < want)
    if (!g_cond_wait_until (&s->cond, &s->lock, deadline))
      g_error ("timed out waiting for %s (%u of %u)", what, *counter, want);
  g_mutex_unlock (&s->lock);
}

/* Three kernel pulls are provably in flight (each has a part of its body
 * and waits for the rest) when Stop arrives: bangerd cancels them, each
 * caller gets its reply (Cancelled: never NoReply, never a dropped
 * connection), the pulls roll back, and only then does bangerd exit 0. */
static void
test_stop_with_calls_in_flight (Fixture *f, gconstpointer data)
{
  g_autofree char *state = g_build_filename (g_get_user_runtime_dir (), "inflight-state", NULL);
  g_autofree char *cache = g_build_filename (g_get_user_runtime_dir (), "inflight-cache", NULL);
  g_autofree char *kernels_dir = g_build_filename (state, "kernels", NULL);
  g_autofree char *catalog_path = NULL, *catalog = NULL, *conf = NULL, *cfg = NULL, *log = NULL;
  g_autofree guchar *bytes = g_malloc (SLOW_SIZE);
  g_autoptr (GSubprocess) d = NULL;
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                 G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GString) kernels = g_string_new (NULL);
  g_autoptr (GError) err = NULL;
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t salen = sizeof sa;
  SlowServer server = { 0 };
  GSubprocess *calls[SLOW_CALLS];
  char *outs[SLOW_CALLS][3] = { { 0 } };
  GThread *thread;
  BgrRun r;

  server.listen_fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (server.listen_fd, >=, 0);
  g_assert_cmpint (bind (server.listen_fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
  g_assert_cmpint (listen (server.listen_fd, SLOW_CALLS), ==, 0);
  g_assert_cmpint (getsockname (server.listen_fd, (struct sockaddr *) &sa, &salen), ==, 0);
  g_mutex_init (&server.lock);
  g_cond_init (&server.cond);
  thread = g_thread_new ("slow-http", slow_server_thread, &server);

  /* Different bytes for each: downloads of one digest take turns. */
  for (guint i = 0; i < SLOW_CALLS; i++)
    {
      g_autofree char *sha = NULL;

      memset (bytes, (int) i + 1, SLOW_SIZE);
      sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, bytes, SLOW_SIZE);
      g_string_append_printf (kernels,
                              "%s{\"name\": \"slow%u\", \"version\": \"1\", \"arch\": \"x86_64\", "
                              "\"source\": \"download\", \"artifacts\": {\"kernel\": {"
                              "\"url\": \"http://127.0.0.1:%u/slow%u/vmlinuz\", \"size\": %d, "
                              "\"format\": \"bzimage\", \"sha256\": \"%s\"}}}",
                              i ? ", " : "", i, ntohs (sa.sin_port), i, SLOW_SIZE, sha);
    }
  catalog = g_strdup_printf ("{\"schema_version\": 1, \"kernels\": [%s]}", kernels->str);
  catalog_path = bgr_test_write_file ("inflight-catalog.json", catalog);
  conf = g_strdup_printf ("log_level = \"info\"\nweb_listen_addr = \"\"\nstate_dir = \"%s\"\ncache_dir = \"%s\"\n"
                          "kernel_catalog_url = \"file://%s\"\n", state, cache, catalog_path);
  cfg = bgr_test_write_file ("inflight.toml", conf);
  d = start_daemon (f, cfg, FALSE);
  wait_for_name (f);

  g_subprocess_launcher_setenv (l, "DBUS_SESSION_BUS_ADDRESS", f->address, TRUE);
  for (guint i = 0; i < SLOW_CALLS; i++)
    {
      g_autofree char *name = g_strdup_printf ("slow%u", i);
      calls[i] = g_subprocess_launcher_spawn (l, &err, "gdbus", "call", "--session", "--dest",
                                              "org.banger.Banger1", "--object-path",
                                              "/org/banger/Banger1", "--method",
                                              "org.banger.Banger1.Manager.PullKernel", name,
                                              "@a{sv} {}", NULL);
      g_assert_no_error (err);
      g_subprocess_communicate_utf8_async (calls[i], NULL, NULL, on_run_done, outs[i]);
    }
  /* Every pull is downloading, and none can finish. */
  slow_server_wait (&server, &server.started, SLOW_CALLS, "the pulls to start downloading");
  for (guint i = 0; i < SLOW_CALLS; i++)
    g_assert_null (outs[i][2]);
  RUN (f, &r, banger, "daemon", "stop");
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  for (guint i = 0; i < SLOW_CALLS; i++)
    {
      guint timeout = g_timeout_add_seconds (60, on_timeout, (gpointer) "a pull's reply");
      while (outs[i][2] == NULL)
        g_main_context_iteration (NULL, TRUE);
      g_source_remove (timeout);
      /* The daemon's own answer: the pull was cancelled. Not a reply
       * lost with the connection (NoReply, Disconnected, a timeout). */
      g_assert_cmpint (g_subprocess_get_exit_status (calls[i]), !=, 0);
      if (strstr (outs[i][1], "org.banger.Banger1.Error.Cancelled") == NULL)
        g_error ("pull %u did not get a clean Cancelled reply: %s", i, outs[i][1]);
      g_free (outs[i][0]);
      g_free (outs[i][1]);
      g_object_unref (calls[i]);
    }
  /* The downloads were closed, and bangerd exits cleanly once every call
   * returned, without giving up on any. */
  slow_server_wait (&server, &server.closed, SLOW_CALLS, "the downloads to be closed");
  g_thread_join (thread);
  close (server.listen_fd);
  g_mutex_clear (&server.lock);
  g_cond_clear (&server.cond);
  wait_for_exit (d);
  log = daemon_log (d);
  g_assert_cmpint (g_subprocess_get_exit_status (d), ==, 0);
  g_assert_null (strstr (log, "still running"));
  /* Rolled back before the exit: no kernel, no staging directory. */
  if (g_file_test (kernels_dir, G_FILE_TEST_IS_DIR))
    {
      g_autoptr (GDir) dir = g_dir_open (kernels_dir, 0, NULL);
      const char *left = dir != NULL ? g_dir_read_name (dir) : NULL;
      if (left != NULL)
        g_error ("left in %s after the cancelled pulls: %s", kernels_dir, left);
    }
}

int
main (int argc, char **argv)
{
  g_autofree char *services = NULL;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  banger = bgr_test_program ("BANGER_CLI");
  bangerd = bgr_test_program ("BANGERD");
  services = g_build_filename (bgr_test_program ("BANGER_BUILD_DIR"), "tests", "services", NULL);
  g_test_add ("/dbus/cli-and-gdbus", Fixture, NULL, fixture_setup, test_cli_and_gdbus, fixture_teardown);
  g_test_add ("/dbus/replace", Fixture, NULL, fixture_setup, test_replace, fixture_teardown);
  g_test_add ("/dbus/log-rate-limit", Fixture, NULL, fixture_setup, test_log_rate_limit,
              fixture_teardown);
  g_test_add ("/dbus/bad-config", Fixture, NULL, fixture_setup, test_bad_config, fixture_teardown);
  g_test_add ("/dbus/system-bus", Fixture, NULL, fixture_setup, test_system_bus, fixture_teardown);
  g_test_add ("/dbus/stop-with-calls-in-flight", Fixture, NULL, fixture_setup,
              test_stop_with_calls_in_flight, fixture_teardown);
  g_test_add ("/dbus/activation", Fixture, services, fixture_setup, test_activation, fixture_teardown);
  return g_test_run ();
}
