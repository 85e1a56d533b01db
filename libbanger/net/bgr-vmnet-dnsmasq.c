/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VM network's dnsmasq: NAME.vm answers and forwarding, its pid file
 * and its hosts file. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-config-private.h"
#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "net/bgr-vmnet-internal.h"

/* ---- dnsmasq ---------------------------------------------------------------- */

/* dnsmasq rereads the hosts file (on SIGHUP) after dropping root for its
 * own user ("dnsmasq" or "nobody"): that user must be able to reach it. */
static gboolean
readable_by_others (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  GStatBuf st;

  if (g_stat (path, &st) != 0 || (st.st_mode & S_IROTH) == 0)
    return FALSE;
  for (;;)
    {
      char *parent;

      if (g_stat (dir, &st) != 0 || (st.st_mode & S_IXOTH) == 0)
        return FALSE;
      if (g_str_equal (dir, "/") || g_str_equal (dir, "."))
        return TRUE;
      parent = g_path_get_dirname (dir);
      g_free (dir);
      dir = parent;
    }
}

/* The full command line our dnsmasq runs with. Only bridge_ip:53 is
 * listened on: --interface would add the loopback interface too. */
static GPtrArray *
dnsmasq_argv (BgrVmnet *net, const char *binary, gboolean as_root)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (argv, g_strdup (binary));
  g_ptr_array_add (argv, g_strdup ("--conf-file=/dev/null"));
  g_ptr_array_add (argv, g_strdup_printf ("--pid-file=%s", net->pid_file));
  g_ptr_array_add (argv, g_strdup_printf ("--log-facility=%s", net->log_file));
  g_ptr_array_add (argv, g_strdup ("--bind-interfaces"));
  g_ptr_array_add (argv, g_strdup_printf ("--listen-address=%s", net->bridge_ip));
  g_ptr_array_add (argv, g_strdup ("--no-resolv"));
  g_ptr_array_add (argv, g_strdup ("--no-hosts"));
  g_ptr_array_add (argv, g_strdup_printf ("--addn-hosts=%s", net->hosts_file));
  g_ptr_array_add (argv, g_strdup_printf ("--server=%s", net->dns));
  g_ptr_array_add (argv, g_strdup ("--local=/vm/"));
  if (as_root)
    g_ptr_array_add (argv, g_strdup ("--user=root"));
  g_ptr_array_add (argv, NULL);
  return argv;
}

static GPid
read_pid_file (const char *path)
{
  g_autofree char *text = NULL;
  char *end = NULL;
  guint64 pid;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  g_strstrip (text);
  pid = g_ascii_strtoull (text, &end, 10);
  if (text[0] == '\0' || *end != '\0' || pid <= 1 || pid > G_MAXINT)
    return 0;
  return (GPid) pid;
}

/* Gone, or a zombie nobody reaped yet (dnsmasq is not our child). */
static gboolean
process_is_dead (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  const char *paren;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return TRUE;
  paren = strrchr (stat, ')');
  return paren == NULL || paren[1] == '\0' || paren[2] == 'Z' || paren[2] == 'X';
}

/* /proc/PID/cmdline as a vector, NULL when unreadable. */
static GStrv
process_cmdline (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/cmdline", (int) pid);
  g_autofree char *data = NULL;
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, NULL) || len == 0)
    return NULL;
  for (gsize off = 0; off < len; off += strlen (data + off) + 1)
    g_strv_builder_add (b, data + off);
  return g_strv_builder_end (b);
}

static gboolean
same_netns (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/ns/net", (int) pid);
  GStatBuf mine, theirs;

  /* Unreadable (not root): the other checks have to do. */
  if (g_stat ("/proc/self/ns/net", &mine) != 0 || g_stat (path, &theirs) != 0)
    return TRUE;
  return mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino;
}

/* The pid of our dnsmasq: the pid file's process, alive, a dnsmasq with our
 * pid file, in our network namespace; 0 when there is none. With @want,
 * *@matches tells whether its arguments are exactly @want's. */
GPid
vmnet_dnsmasq_find (BgrVmnet *net, GPtrArray *want, gboolean *matches)
{
  GPid pid = read_pid_file (net->pid_file);
  g_auto (GStrv) argv = NULL;
  g_autofree char *base = NULL;
  g_autofree char *pid_arg = g_strdup_printf ("--pid-file=%s", net->pid_file);

  if (matches != NULL)
    *matches = FALSE;
  if (pid <= 0 || process_is_dead (pid) || (argv = process_cmdline (pid)) == NULL)
    return 0;
  base = g_path_get_basename (argv[0]);
  if (!g_str_equal (base, "dnsmasq") || !g_strv_contains ((const char *const *) argv, pid_arg)
      || !same_netns (pid))
    return 0;
  if (want != NULL && matches != NULL)
    {
      guint n = g_strv_length (argv);
      *matches = n == want->len - 1;
      /* argv[0] may differ (/sbin vs /usr/sbin): compare the options. */
      for (guint i = 1; *matches && i < n; i++)
        *matches = g_str_equal (argv[i], g_ptr_array_index (want, i));
    }
  return pid;
}

gboolean
vmnet_dnsmasq_stop (GPid pid, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + STOP_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  gboolean killed = FALSE;

  if (kill (pid, SIGTERM) != 0 && errno != ESRCH)
    {
      bgr_set_error_errno (error, errno, "cannot stop dnsmasq (pid %d)", (int) pid);
      return FALSE;
    }
  while (!process_is_dead (pid))
    {
      if (g_get_monotonic_time () > deadline)
        {
          if (killed)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_TIMED_OUT,
                           "dnsmasq (pid %d) did not exit after SIGKILL", (int) pid);
              return FALSE;
            }
          kill (pid, SIGKILL);
          killed = TRUE;
          deadline = g_get_monotonic_time () + G_TIME_SPAN_SECOND;
        }
      g_usleep (10 * 1000);
    }
  return TRUE;
}

/* Writes @data to @path through a temporary file in the same directory,
 * mode 0644 whatever the umask, and renames it into place. */
static gboolean
write_file_atomic (const char *path, const char *data, gsize len, GError **error)
{
  g_autofree char *tmp = g_strdup_printf ("%s.XXXXXX", path);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0644);

  if (fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot write %s", path);
      return FALSE;
    }
  if (fchmod (fd, 0644) != 0 || !bgr_write_all (fd, data, len) || fsync (fd) != 0)
    {
      int errsv = errno;
      close (fd);
      g_unlink (tmp);
      bgr_set_error_errno (error, errsv, "cannot write %s", tmp);
      return FALSE;
    }
  if (close (fd) != 0 || g_rename (tmp, path) != 0)
    {
      int errsv = errno;
      g_unlink (tmp);
      bgr_set_error_errno (error, errsv, "cannot write %s", path);
      return FALSE;
    }
  return TRUE;
}

/* run_dir may be on a tmpfs (/run) that a reboot emptied. */
static gboolean
ensure_run_dir (BgrVmnet *net, GError **error)
{
  /* 0755: dnsmasq reads the hosts file after dropping its privileges. */
  return bgr_ensure_private_dir (net->run_dir, 0755, "network run directory", error);
}

gboolean
vmnet_ensure_dnsmasq (BgrVmnet *net, gboolean restart, GError **error)
{
  g_autofree char *binary = vmnet_find_tool ("dnsmasq");
  g_autoptr (GPtrArray) argv = NULL;
  gboolean matches = FALSE;
  GPid pid;

  if (binary == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "cannot start the VMs' DNS server: dnsmasq is not installed "
                   "(install the dnsmasq-base package)");
      return FALSE;
    }
  if (!ensure_run_dir (net, error))
    return FALSE;
  if (!g_file_test (net->hosts_file, G_FILE_TEST_EXISTS)
      && !write_file_atomic (net->hosts_file, "", 0, error))
    return FALSE;
  argv = dnsmasq_argv (net, binary, !readable_by_others (net->hosts_file));
  pid = vmnet_dnsmasq_find (net, argv, &matches);
  if (pid > 0 && matches && !restart)
    return TRUE;
  if (pid > 0)
    {
      g_debug ("restarting dnsmasq (pid %d) for bridge %s", (int) pid, net->bridge);
      if (!vmnet_dnsmasq_stop (pid, error))
        return FALSE;
    }
  g_unlink (net->pid_file);
  /* dnsmasq forks into the background: its first process exits once the
   * daemon listens (0) or with what went wrong on stderr. */
  if (!vmnet_run_tool ((const char *const *) argv->pdata, NULL, NULL, error,
                 "cannot start dnsmasq on %s:53", net->bridge_ip))
    return FALSE;
  if (vmnet_dnsmasq_find (net, NULL, NULL) == 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED,
                   "dnsmasq started on %s:53 but is not running; see %s", net->bridge_ip,
                   net->log_file);
      return FALSE;
    }
  return TRUE;
}

GPid
bgr_vmnet_get_dnsmasq_pid (BgrVmnet *net)
{
  G_GNUC_UNUSED g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&net->lock);

  return vmnet_dnsmasq_find (net, NULL, NULL);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

gboolean
bgr_vmnet_set_hosts (BgrVmnet *net, GHashTable *name_to_ip, GError **error)
{
  G_GNUC_UNUSED g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&net->lock);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  g_autoptr (GString) text = g_string_new ("# Written by banger: VM name -> address. Do not edit.\n");
  GHashTableIter iter;
  gpointer key, value;
  GPid pid;

  if (name_to_ip != NULL)
    {
      g_hash_table_iter_init (&iter, name_to_ip);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          guint32 addr;
          if (!vmnet_valid_label (key))
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                           "invalid VM name \"%s\" for DNS: 1 to 63 of A-Z a-z 0-9 -, not "
                           "starting or ending with -", (const char *) key);
              return FALSE;
            }
          if (!bgr_config_parse_ipv4 (value, &addr) || !vmnet_is_host_address (net, addr) || addr == net->ip)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                           "invalid address \"%s\" for VM %s: not a VM address of %s",
                           value != NULL ? (const char *) value : "", (const char *) key,
                           net->cidr);
              return FALSE;
            }
          g_ptr_array_add (names, key);
        }
    }
  g_ptr_array_sort (names, compare_strings);
  if (!ensure_run_dir (net, error))
    return FALSE;
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_string_append_printf (text, "%s %s.vm %s\n",
                              (const char *) g_hash_table_lookup (name_to_ip, name), name, name);
    }
  if (!write_file_atomic (net->hosts_file, text->str, text->len, error))
    return FALSE;
  pid = vmnet_dnsmasq_find (net, NULL, NULL);
  if (pid > 0 && kill (pid, SIGHUP) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot tell dnsmasq (pid %d) to reread %s", (int) pid,
                           net->hosts_file);
      return FALSE;
    }
  return TRUE;
}
