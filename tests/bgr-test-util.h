/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the tests that run banger's programs. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  int status; /* exit status, or -1 when killed by a signal */
  char *out;
  char *err;
} BgrRun;

static inline void
bgr_run_clear (BgrRun *r)
{
  g_free (r->out);
  g_free (r->err);
  memset (r, 0, sizeof *r);
}

/* GLib's isolated test directories are not in the environment: export
 * them so the programs a test runs use the same ones. */
static inline void
bgr_test_export_dirs (void)
{
  g_setenv ("HOME", g_get_home_dir (), TRUE);
  g_setenv ("XDG_CONFIG_HOME", g_get_user_config_dir (), TRUE);
  g_setenv ("XDG_STATE_HOME", g_get_user_state_dir (), TRUE);
  g_setenv ("XDG_CACHE_HOME", g_get_user_cache_dir (), TRUE);
  g_setenv ("XDG_DATA_HOME", g_get_user_data_dir (), TRUE);
  g_setenv ("XDG_RUNTIME_DIR", g_get_user_runtime_dir (), TRUE);
}

/* Runs argv (NULL-terminated) with the test's environment plus @extra_env
 * ("NAME=value" strings, may be NULL) and captures everything. */
static inline void
bgr_run_env (BgrRun *r, const char *const *extra_env, const char *const *argv)
{
  g_auto (GStrv) env = NULL;
  g_autoptr (GError) err = NULL;
  int wait_status = 0;

  bgr_test_export_dirs ();
  env = g_get_environ ();

  for (const char *const *e = extra_env; e != NULL && *e != NULL; e++)
    {
      g_auto (GStrv) kv = g_strsplit (*e, "=", 2);
      env = g_environ_setenv (env, kv[0], kv[1] != NULL ? kv[1] : "", TRUE);
    }
  memset (r, 0, sizeof *r);
  if (!g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_SEARCH_PATH, NULL, NULL, &r->out, &r->err,
                     &wait_status, &err))
    g_error ("cannot run %s: %s", argv[0], err->message);
  r->status = WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1;
  g_test_message ("$ %s -> %d\nstdout: %s\nstderr: %s", argv[0], r->status, r->out, r->err);
}

static inline const char *
bgr_test_program (const char *env_name)
{
  const char *p = g_getenv (env_name);
  if (p == NULL)
    g_error ("%s is not set (run the tests through ctest)", env_name);
  return p;
}

/* DIR/NAME.toml: an engine whose state is DIR/NAME and whose cache is
 * @cache (engines sharing a cache). Its path. */
static inline char *
bgr_test_write_engine_config (const char *dir, const char *name, const char *cache)
{
  g_autofree char *state = g_build_filename (dir, name, NULL);
  g_autofree char *path = g_strdup_printf ("%s/%s.toml", dir, name);
  g_autofree char *text = g_strdup_printf ("state_dir = \"%s\"\ncache_dir = \"%s\"\n", state, cache);
  g_autoptr (GError) err = NULL;

  g_file_set_contents (path, text, -1, &err);
  g_assert_no_error (err);
  return g_steal_pointer (&path);
}

/* banger --local --config=@config [--json] ARGS... (@args: strings up to
 * NULL), which must succeed: its output. */
static inline char *
bgr_test_banger_local (const char *config, gboolean json, va_list args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) err = NULL;
  g_autofree char *err_text = NULL, *line = NULL;
  char *out = NULL;
  gint status = -1;
  const char *a;

  g_ptr_array_add (argv, g_strdup (bgr_test_program ("BANGER_CLI")));
  g_ptr_array_add (argv, g_strdup ("--local"));
  g_ptr_array_add (argv, g_strdup_printf ("--config=%s", config));
  if (json)
    g_ptr_array_add (argv, g_strdup ("--json"));
  while ((a = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (a));
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err_text,
                &status, &err);
  g_assert_no_error (err);
  if (!g_spawn_check_wait_status (status, NULL))
    {
      line = g_strjoinv (" ", (char **) argv->pdata);
      g_error ("%s failed (%d): %s", line, status, err_text);
    }
  return out;
}

static inline char *
bgr_test_write_file (const char *name, const char *contents)
{
  char *path = g_build_filename (g_get_user_config_dir (), name, NULL);
  g_mkdir_with_parents (g_get_user_config_dir (), 0700);
  if (!g_file_set_contents (path, contents, -1, NULL))
    g_error ("cannot write %s", path);
  return path;
}

static inline gboolean
bgr_test_quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/* Stops a server thread's loop from inside it: a g_main_loop_quit() from
 * here could come before that thread reaches g_main_loop_run(), which
 * would then run forever. */
static inline void
bgr_test_stop_loop (GMainContext *context, GMainLoop *loop)
{
  g_autoptr (GSource) idle = g_idle_source_new ();

  g_source_set_callback (idle, bgr_test_quit_loop, loop, NULL);
  g_source_attach (idle, context);
}

#define bgr_assert_contains(hay, needle)                                                \
  G_STMT_START                                                                          \
  {                                                                                     \
    const char *h__ = (hay), *n__ = (needle);                                           \
    if (h__ == NULL || strstr (h__, n__) == NULL)                                       \
      g_error ("%s:%d: \"%s\" does not contain \"%s\"", __FILE__, __LINE__,             \
               h__ != NULL ? h__ : "(null)", n__);                                      \
  }                                                                                     \
  G_STMT_END

/* Live processes (other than this one) whose command line mentions
 * @needle: e.g. the fake VMs' agents, whose argv holds a socket path
 * inside the state directory. */
static inline GArray *
bgr_test_processes_mentioning (const char *needle)
{
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (gint));
  g_autoptr (GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *entry;

  while (proc != NULL && (entry = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *path = NULL, *cmdline = NULL;
      gint pid = (gint) g_ascii_strtoll (entry, NULL, 10);
      gsize len = 0;

      if (pid <= 0 || pid == getpid ())
        continue;
      path = g_strdup_printf ("/proc/%d/cmdline", pid);
      if (!g_file_get_contents (path, &cmdline, &len, NULL))
        continue;
      for (gsize i = 0; i + 1 < len; i++)
        if (cmdline[i] == '\0')
          cmdline[i] = ' ';
      if (len > 0 && strstr (cmdline, needle) != NULL)
        g_array_append_val (pids, pid);
    }
  return pids;
}
