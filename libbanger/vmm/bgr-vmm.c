/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the VMM drivers: detached processes, liveness checks
 * that survive pid reuse, and unix-socket connects that give up when the
 * VMM dies. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#include "bgr-error-private.h"
#include "bgr-records-private.h"
#include "vmm/bgr-vmm-private.h"

void
bgr_vmm_instance_free (BgrVmmInstance *inst)
{
  if (inst == NULL)
    return;
  g_free (inst->driver);
  g_free (inst->api_socket);
  g_free (inst->agent_socket);
  g_free (inst->metrics_path);
  g_free (inst);
}

const BgrVmmDriver *
bgr_vmm_driver_lookup (const char *name)
{
  if (g_strcmp0 (name, "qemu") == 0)
    return &bgr_vmm_qemu_driver;
  if (g_strcmp0 (name, "firecracker") == 0)
    return &bgr_vmm_firecracker_driver;
  if (g_strcmp0 (name, "fake") == 0)
    return &bgr_vmm_fake_driver;
  return NULL;
}

/* Reads /proc/PID/stat and returns the fields after "(comm)", split. */
static char **
read_stat_fields (gint pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  const char *rparen;

  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  rparen = strrchr (text, ')');
  if (rparen == NULL || rparen[1] == '\0')
    return NULL;
  return g_strsplit (g_strstrip ((char *) rparen + 2), " ", -1);
}

guint64
bgr_vmm_process_start_time (gint pid)
{
  g_auto (GStrv) f = read_stat_fields (pid);

  /* f[0] is field 3 (state); start time is field 22. */
  if (f == NULL || g_strv_length (f) < 20)
    return 0;
  return g_ascii_strtoull (f[19], NULL, 10);
}

gboolean
bgr_vmm_instance_is_alive (const BgrVmmInstance *inst)
{
  g_auto (GStrv) f = NULL;

  if (inst == NULL || inst->pid <= 0)
    return FALSE;
  f = read_stat_fields (inst->pid);
  if (f == NULL || g_strv_length (f) < 20)
    return FALSE;
  if (f[0][0] == 'Z' || f[0][0] == 'X')
    return FALSE;
  if (inst->start_time != 0 && g_ascii_strtoull (f[19], NULL, 10) != inst->start_time)
    return FALSE;
  return TRUE;
}

void
bgr_vmm_process_metrics (gint pid, BgrVmmMetrics *out)
{
  g_auto (GStrv) f = read_stat_fields (pid);
  long hz = sysconf (_SC_CLK_TCK);
  long page = sysconf (_SC_PAGESIZE);

  if (f == NULL || g_strv_length (f) < 22 || hz <= 0)
    return;
  /* utime, stime: fields 14, 15; rss (pages): field 24. */
  out->cpu_time_ms = (gint64) ((g_ascii_strtoull (f[11], NULL, 10) + g_ascii_strtoull (f[12], NULL, 10))
                               * 1000 / (guint64) hz);
  out->rss_bytes = (gint64) g_ascii_strtoll (f[21], NULL, 10) * page;
}

static int
pidfd_open_compat (gint pid)
{
  return (int) syscall (SYS_pidfd_open, (pid_t) pid, 0);
}

gboolean
bgr_vmm_instance_wait_exit (const BgrVmmInstance *inst, gint timeout_ms,
                            GCancellable *cancellable, GError **error)
{
  int fd;
  gint64 deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  GPollFD fds[2];
  guint nfds = 1;

  if (!bgr_vmm_instance_is_alive (inst))
    return TRUE;
  fd = pidfd_open_compat (inst->pid);
  if (fd < 0)
    {
      if (errno == ESRCH)
        return TRUE;
      {
          bgr_set_error_errno (error, errno, "cannot watch process %d", inst->pid);
          return FALSE;
        }
    }
  fds[0].fd = fd;
  fds[0].events = G_IO_IN;
  if (g_cancellable_make_pollfd (cancellable, &fds[1]))
    nfds = 2;
  for (;;)
    {
      gint wait_ms = -1;
      int r;

      if (deadline >= 0)
        {
          gint64 left = deadline - g_get_monotonic_time ();
          if (left <= 0)
            break;
          wait_ms = (gint) MAX (1, left / 1000);
        }
      /* Our own detached children turn into zombies until the reaper thread
       * gets them; a zombie counts as gone. */
      if (!bgr_vmm_instance_is_alive (inst))
        break;
      if (wait_ms < 0 || wait_ms > 200)
        wait_ms = 200;
      fds[0].revents = 0;
      r = g_poll (fds, nfds, wait_ms);
      if (r > 0 && (fds[0].revents & G_IO_IN))
        break;
      if (g_cancellable_is_cancelled (cancellable))
        {
          close (fd);
          if (nfds == 2)
            g_cancellable_release_fd (cancellable);
          return !g_cancellable_set_error_if_cancelled (cancellable, error);
        }
    }
  close (fd);
  if (nfds == 2)
    g_cancellable_release_fd (cancellable);
  if (bgr_vmm_instance_is_alive (inst))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_TIMED_OUT,
                   "process %d is still running after %d ms", inst->pid, timeout_ms);
      return FALSE;
    }
  return TRUE;
}

gboolean
bgr_vmm_instance_kill (const BgrVmmInstance *inst, GError **error)
{
  if (!bgr_vmm_instance_is_alive (inst))
    return TRUE;
  if (kill (inst->pid, SIGKILL) < 0 && errno != ESRCH)
    {
      bgr_set_error_errno (error, errno, "cannot kill process %d", inst->pid);
      return FALSE;
    }
  return bgr_vmm_instance_wait_exit (inst, 10000, NULL, error);
}

/* The command line of process @pid, its arguments joined by spaces. */
static char *
process_cmdline (gint pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/cmdline", pid);
  char *text = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &text, &len, NULL))
    return NULL;
  for (gsize i = 0; i + 1 < len; i++)
    if (text[i] == '\0')
      text[i] = ' ';
  return text;
}

guint
bgr_vmm_kill_strays (const char *run_dir)
{
  g_autoptr (GDir) proc = NULL;
  g_autofree char *needle = NULL;
  const char *entry;
  guint killed = 0;

  if (run_dir == NULL || !g_path_is_absolute (run_dir))
    return 0;
  needle = g_strconcat (run_dir, "/", NULL);
  proc = g_dir_open ("/proc", 0, NULL);
  while (proc != NULL && (entry = g_dir_read_name (proc)) != NULL)
    {
      gint pid = (gint) g_ascii_strtoll (entry, NULL, 10);
      g_autofree char *cmdline = NULL;
      g_autofree char *dir = NULL;
      BgrVmmInstance inst = { 0 };
      GStatBuf st;

      if (pid <= 0 || pid == getpid ())
        continue;
      dir = g_strdup_printf ("/proc/%d", pid);
      /* Only our own processes: a VMM runs as the engine's user. */
      if (g_stat (dir, &st) != 0 || st.st_uid != getuid ())
        continue;
      cmdline = process_cmdline (pid);
      if (cmdline == NULL || strstr (cmdline, needle) == NULL)
        continue;
      inst.pid = pid;
      inst.start_time = bgr_vmm_process_start_time (pid);
      g_message ("killing process %d, a VMM no record knows (it runs from %s)", pid, run_dir);
      if (bgr_vmm_instance_kill (&inst, NULL))
        killed++;
    }
  return killed;
}

static gpointer
reaper_thread (gpointer data)
{
  pid_t pid = GPOINTER_TO_INT (data);
  int status;

  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  return NULL;
}

static void
child_setup_detach (gpointer user_data)
{
  (void) user_data;
  setsid ();
  signal (SIGPIPE, SIG_DFL);
}

gint
bgr_vmm_spawn_detached (const char *const *argv, const char *log_path, GError **error)
{
  GPid pid = 0;
  int log_fd = -1;
  GError *local = NULL;
  guint tries = 0;

  if (log_path != NULL)
    {
      log_fd = open (log_path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (log_fd < 0)
        {
          bgr_set_error_errno (error, errno, "cannot open %s", log_path);
          return -1;
        }
    }
  /* A binary written a moment ago (the fake driver's agent) is "busy"
   * while a child another thread forked meanwhile still holds the fd it was
   * written through, until that child execs: try again shortly, for up to
   * 5 s (parallel creates keep forking). */
  while (!g_spawn_async_with_fds (NULL, (char **) argv, NULL,
                                  G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD
                                    | G_SPAWN_STDIN_FROM_DEV_NULL
                                    | (log_fd < 0 ? G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL : 0),
                                  child_setup_detach, NULL, &pid, -1, log_fd, log_fd, &local))
    {
      if (g_error_matches (local, G_SPAWN_ERROR, G_SPAWN_ERROR_TXTBUSY) && ++tries < 500)
        {
          g_debug ("%s: %s; trying again", argv[0], local->message);
          g_clear_error (&local);
          g_usleep (10000);
          continue;
        }
      if (log_fd >= 0)
        close (log_fd);
      if (g_error_matches (local, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT))
        g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "cannot run %s: %s", argv[0],
                     local->message);
      else
        g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "cannot run %s: %s", argv[0],
                     local->message);
      g_error_free (local);
      return -1;
    }
  if (log_fd >= 0)
    close (log_fd);
  g_thread_unref (g_thread_new ("bgr-reaper", reaper_thread, GINT_TO_POINTER (pid)));
  return pid;
}

GSocketConnection *
bgr_vmm_connect_unix (const char *path, gint pid, gint timeout_ms, GCancellable *cancellable,
                      GError **error)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (path);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;)
    {
      g_autoptr (GError) local = NULL;
      GSocketConnection *conn
        = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (addr), cancellable, &local);

      if (conn != NULL)
        return conn;
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          bgr_propagate_error (error, g_steal_pointer (&local), "cannot connect to %s", path);
          return NULL;
        }
      if (pid > 0)
        {
          BgrVmmInstance probe = { .pid = pid };
          if (!bgr_vmm_instance_is_alive (&probe))
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED,
                           "the VMM (pid %d) exited before %s appeared", pid, path);
              return NULL;
            }
        }
      if (g_get_monotonic_time () >= deadline)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_TIMED_OUT, "cannot connect to %s: %s", path,
                       local->message);
          return NULL;
        }
      g_usleep (10000);
    }
}

JsonObject *
bgr_vmm_instance_to_json (const BgrVmmInstance *inst)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "driver", inst->driver);
  json_object_set_int_member (o, "pid", inst->pid);
  json_object_set_int_member (o, "start_time", (gint64) inst->start_time);
  if (inst->api_socket != NULL)
    json_object_set_string_member (o, "api_socket", inst->api_socket);
  if (inst->agent_socket != NULL)
    json_object_set_string_member (o, "agent_socket", inst->agent_socket);
  if (inst->metrics_path != NULL)
    json_object_set_string_member (o, "metrics_path", inst->metrics_path);
  return o;
}

BgrVmmInstance *
bgr_vmm_instance_from_json (JsonObject *obj)
{
  BgrVmmInstance *inst;

  if (obj == NULL)
    return NULL;
  inst = g_new0 (BgrVmmInstance, 1);
  inst->driver = g_strdup (bgr_record_str (obj, "driver"));
  inst->pid = (gint) json_object_get_int_member_with_default (obj, "pid", 0);
  inst->start_time = (guint64) json_object_get_int_member_with_default (obj, "start_time", 0);
  inst->api_socket = g_strdup (bgr_record_str (obj, "api_socket"));
  inst->agent_socket = g_strdup (bgr_record_str (obj, "agent_socket"));
  inst->metrics_path = g_strdup (bgr_record_str (obj, "metrics_path"));
  if (inst->driver == NULL || bgr_vmm_driver_lookup (inst->driver) == NULL || inst->pid <= 0)
    {
      bgr_vmm_instance_free (inst);
      return NULL;
    }
  return inst;
}
