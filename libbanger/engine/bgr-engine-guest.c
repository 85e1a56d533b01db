/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "bgr-error-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-agent-private.h"
#include "engine/bgr-engine-guest-private.h"
#include "engine/bgr-engine-reconcile-private.h"
#include "engine/bgr-engine-vm-record-private.h"

/* ---- exec and ports --------------------------------------------------------- */

static gboolean
check_command (const char *const *argv, const char *const *env, GError **error)
{
  if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "no command given");
      return FALSE;
    }
  for (const char *const *e = env; e != NULL && *e != NULL; e++)
    if (strchr (*e, '=') == NULL || **e == '=')
      {
        g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                     "environment entry '%s' is not KEY=VALUE", *e);
        return FALSE;
      }
  return TRUE;
}

/* The command's output would be lost on @fd (a directory, a descriptor
 * open for reading only, a closed one): refuse before it runs. */
static gboolean
check_output_fd (const char *what, int fd, GError **error)
{
  struct stat st;
  int flags;

  if (fd < 0)
    return TRUE;
  if ((flags = fcntl (fd, F_GETFL)) < 0 || fstat (fd, &st) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "cannot deliver the command's %s: descriptor %d is not open", what, fd);
      return FALSE;
    }
  if (S_ISDIR (st.st_mode) || (flags & O_ACCMODE) == O_RDONLY)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "cannot deliver the command's %s: descriptor %d is %s", what, fd,
                   S_ISDIR (st.st_mode) ? "a directory" : "open for reading only");
      return FALSE;
    }
  return TRUE;
}

gboolean
bgr_engine_vm_exec (BgrEngine *engine, const char *name, const char *const *argv,
                    const char *const *env, const char *cwd, guint timeout_ms, int stdin_fd,
                    int stdout_fd, int stderr_fd, gint *out_status, GCancellable *cancellable,
                    GError **error)
{
  return bgr_engine_vm_exec_terminal (engine, name, argv, env, cwd, timeout_ms, NULL, stdin_fd,
                                      stdout_fd, stderr_fd, out_status, cancellable, error);
}

gboolean
bgr_engine_vm_exec_terminal (BgrEngine *engine, const char *name, const char *const *argv,
                             const char *const *env, const char *cwd, guint timeout_ms,
                             const BgrAgentTerminal *terminal, int stdin_fd, int stdout_fd,
                             int stderr_fd, gint *out_status, GCancellable *cancellable,
                             GError **error)
{
  g_autoptr (JsonObject) doc = bgr_vm_record_load (engine, name, error);
  g_autoptr (BgrAgentConn) conn = NULL;
  gboolean ok;

  if (doc == NULL || !check_command (argv, env, error)
      || !check_output_fd ("output", stdout_fd, error)
      || !check_output_fd ("error output", stderr_fd, error))
    return FALSE;
  bgr_vm_reconcile (engine, doc, FALSE);
  if (bgr_vm_in_flight (engine, doc, error))
    return FALSE;
  if (g_strcmp0 (bgr_record_str (doc, "state"), "running") != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "VM '%s' is not running (state: %s)%s", name, bgr_record_str (doc, "state"),
                   bgr_vm_state_is_live (bgr_record_str (doc, "state")) ? "" : "; start it with `banger vm start`");
      return FALSE;
    }
  conn = bgr_vm_agent_get (engine, doc, cancellable, error);
  if (conn == NULL)
    return FALSE;
  /* A running exec is activity (auto-stop), at its start and its end. */
  bgr_vm_record_touch (engine, name);
  bgr_vm_agent_exec_begin (engine, name);
  ok = bgr_agent_conn_exec_terminal (conn, argv, env, cwd, timeout_ms, terminal, stdin_fd,
                                     stdout_fd, stderr_fd, out_status, cancellable, error);
  bgr_vm_agent_exec_end (engine, name);
  /* Record activity (auto-stop looks at it); a failure here is not the
   * command's. */
  bgr_vm_record_touch (engine, name);
  return ok;
}

GPtrArray *
bgr_engine_vm_ports (BgrEngine *engine, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) doc = bgr_vm_load_running (engine, name, error);
  g_autoptr (BgrAgentConn) conn = NULL;
  g_auto (GStrv) lines = NULL;
  static const char *const protocols[] = { "tcp", "tcp6", "udp", "udp6", NULL };
  guint skipped = 0;
  GPtrArray *out;

  if (doc == NULL || (conn = bgr_vm_agent_get (engine, doc, cancellable, error)) == NULL)
    return NULL;
  lines = bgr_agent_conn_ports (conn, BGR_VM_AGENT_TIMEOUT_MS, cancellable, error);
  if (lines == NULL)
    return NULL;
  out = g_ptr_array_new_with_free_func (g_object_unref);
  for (char **l = lines; *l != NULL; l++)
    {
      /* "PROTO ADDR PORT PID COMMAND" (COMMAND may hold spaces). The
       * guest wrote it: a line that does not parse is skipped, and only
       * COMMAND is free text (shown escaped). */
      g_auto (GStrv) f = g_strsplit (*l, " ", 5);
      g_autoptr (JsonObject) p = NULL;
      g_autoptr (GInetAddress) addr = NULL;
      guint64 port, pid;
      if (g_strv_length (f) < 5 || !g_strv_contains (protocols, f[0])
          || (addr = g_inet_address_new_from_string (f[1])) == NULL
          || !g_ascii_string_to_unsigned (f[2], 10, 1, 65535, &port, NULL)
          || !g_ascii_string_to_unsigned (f[3], 10, 0, G_MAXINT32, &pid, NULL))
        {
          skipped++;
          continue;
        }
      p = json_object_new ();
      json_object_set_string_member (p, "name", name);
      json_object_set_string_member (p, "protocol", f[0]);
      json_object_set_string_member (p, "address", f[1]);
      json_object_set_int_member (p, "port", (gint64) port);
      json_object_set_int_member (p, "pid", (gint64) pid);
      json_object_set_string_member (p, "process", f[4]);
      g_ptr_array_add (out, bgr_vm_port_new_from_json (p));
    }
  if (skipped > 0)
    g_info ("VM %s: skipped %u port line(s) from the guest that do not parse", name, skipped);
  return out;
}

/* ---- samples and stats ------------------------------------------------------- */

typedef struct {
  JsonObject *last_guest, *prev_guest; /* the last two guest samples */
  JsonObject *last_vmm;                /* the last VMM sample */
} Samples;

struct _BgrVmSamples {
  GMutex lock;
  GHashTable *vms; /* name -> Samples */
};

static void
samples_free (gpointer p)
{
  Samples *s = p;
  g_clear_pointer (&s->last_guest, json_object_unref);
  g_clear_pointer (&s->prev_guest, json_object_unref);
  g_clear_pointer (&s->last_vmm, json_object_unref);
  g_free (s);
}

BgrVmSamples *
bgr_vm_samples_new (void)
{
  BgrVmSamples *samples = g_new0 (BgrVmSamples, 1);
  g_mutex_init (&samples->lock);
  samples->vms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, samples_free);
  return samples;
}

void
bgr_vm_samples_free (BgrVmSamples *samples)
{
  if (samples == NULL)
    return;
  g_hash_table_unref (samples->vms);
  g_mutex_clear (&samples->lock);
  g_free (samples);
}

/* The samples of VM @name; called with the lock held. */
static Samples *
samples_of (BgrVmSamples *samples, const char *name)
{
  Samples *s = g_hash_table_lookup (samples->vms, name);
  if (s == NULL)
    {
      s = g_new0 (Samples, 1);
      g_hash_table_insert (samples->vms, g_strdup (name), s);
    }
  return s;
}

void
bgr_vm_samples_forget (BgrEngine *engine, const char *name)
{
  BgrVmSamples *samples = bgr_engine_get_samples (engine);

  g_mutex_lock (&samples->lock);
  g_hash_table_remove (samples->vms, name);
  g_mutex_unlock (&samples->lock);
}

/* Byte counters of interface @ifname from /proc/net/dev (which, unlike
 * /sys, always shows our own network namespace). */
static gboolean
read_counters (const char *ifname, gint64 *rx, gint64 *tx)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/net/dev", &text, NULL, NULL))
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      char *colon = strchr (*l, ':');
      g_auto (GStrv) f = NULL;
      if (colon == NULL)
        continue;
      *colon = '\0';
      if (!g_str_equal (g_strstrip (*l), ifname))
        continue;
      f = g_strsplit_set (g_strstrip (colon + 1), " \t", -1);
      {
        /* Fields: rx bytes packets errs drop fifo frame compressed multicast, tx bytes ... */
        gint64 v[16];
        guint n = 0;
        for (char **p = f; *p != NULL && n < 16; p++)
          if (**p != '\0')
            v[n++] = g_ascii_strtoll (*p, NULL, 10);
        if (n < 9)
          return FALSE;
        *rx = v[0];
        *tx = v[8];
        return TRUE;
      }
    }
  return FALSE;
}

JsonObject *
bgr_vm_sample_guest (BgrEngine *engine, JsonObject *doc, GCancellable *cancellable, GError **error)
{
  static const char *const agent_keys[] = { "cpu_user_ms", "cpu_system_ms", "cpu_idle_ms",
                                            "mem_total", "mem_available", "load1_milli",
                                            "uptime_ms", "disk_total", "disk_free", NULL };
  g_autoptr (BgrAgentConn) conn = bgr_vm_agent_get (engine, doc, cancellable, error);
  g_autoptr (GHashTable) guest = NULL;
  JsonObject *s;

  if (conn == NULL)
    return NULL;
  guest = bgr_agent_conn_stats (conn, BGR_VM_AGENT_TIMEOUT_MS, cancellable, error);
  if (guest == NULL)
    return NULL;
  s = json_object_new ();
  json_object_set_int_member (s, "sampled_at", g_get_real_time () / 1000);
  for (const char *const *k = agent_keys; *k != NULL; k++)
    {
      gint64 *v = g_hash_table_lookup (guest, *k);
      if (v != NULL)
        json_object_set_int_member (s, g_str_equal (*k, "uptime_ms") ? "guest_uptime_ms" : *k, *v);
    }
  return s;
}

JsonObject *
bgr_vm_sample_vmm (JsonObject *doc)
{
  g_autoptr (BgrVmmInstance) inst = bgr_vm_record_instance (doc);
  BgrVmmMetrics m = { -1, -1, -1, -1, -1, -1 };
  const char *tap = bgr_record_str (doc, "tap");
  JsonObject *s = json_object_new ();

  if (inst != NULL)
    {
      const BgrVmmDriver *driver = bgr_vmm_driver_lookup (inst->driver);
      if (!driver->metrics (inst, &m, NULL))
        bgr_vmm_process_metrics (inst->pid, &m);
    }
  /* The tap's receive counter is what the guest sent. */
  if (tap != NULL && m.net_rx_bytes < 0)
    {
      gint64 rx, tx;
      if (read_counters (tap, &rx, &tx))
        {
          m.net_rx_bytes = tx;
          m.net_tx_bytes = rx;
        }
    }
  json_object_set_int_member (s, "metrics_at", g_get_real_time () / 1000);
#define PUT(key, val) if ((val) >= 0) json_object_set_int_member (s, key, val)
  PUT ("vmm_cpu_ms", m.cpu_time_ms);
  PUT ("vmm_rss", m.rss_bytes);
  PUT ("disk_read_bytes", m.disk_read_bytes);
  PUT ("disk_write_bytes", m.disk_write_bytes);
  PUT ("net_rx_bytes", m.net_rx_bytes);
  PUT ("net_tx_bytes", m.net_tx_bytes);
#undef PUT
  return s;
}

/* Guest CPU use between two guest samples, per mille; -1 when unknown. */
static gint64
cpu_busy_permille (JsonObject *last, JsonObject *prev)
{
#define D(k) (json_object_get_int_member_with_default (last, k, 0) - json_object_get_int_member_with_default (prev, k, 0))
  gint64 busy = D ("cpu_user_ms") + D ("cpu_system_ms");
  gint64 all = busy + D ("cpu_idle_ms");
#undef D
  return all > 0 && busy >= 0 ? busy * 1000 / all : -1;
}

gint64
bgr_vm_samples_remember_guest (BgrEngine *engine, const char *name, JsonObject *sample)
{
  BgrVmSamples *samples = bgr_engine_get_samples (engine);
  Samples *s;
  gint64 busy = -1;

  g_mutex_lock (&samples->lock);
  s = samples_of (samples, name);
  g_clear_pointer (&s->prev_guest, json_object_unref);
  s->prev_guest = s->last_guest;
  s->last_guest = json_object_ref (sample);
  if (s->prev_guest != NULL)
    busy = cpu_busy_permille (s->last_guest, s->prev_guest);
  g_mutex_unlock (&samples->lock);
  return busy;
}

static gint64
net_bytes (JsonObject *sample)
{
  return json_object_get_int_member_with_default (sample, "net_rx_bytes", 0)
         + json_object_get_int_member_with_default (sample, "net_tx_bytes", 0);
}

gint64
bgr_vm_samples_remember_vmm (BgrEngine *engine, const char *name, JsonObject *sample)
{
  BgrVmSamples *samples = bgr_engine_get_samples (engine);
  Samples *s;
  gint64 moved = 0;

  g_mutex_lock (&samples->lock);
  s = samples_of (samples, name);
  if (s->last_vmm != NULL)
    moved = net_bytes (sample) - net_bytes (s->last_vmm);
  g_clear_pointer (&s->last_vmm, json_object_unref);
  s->last_vmm = json_object_ref (sample);
  g_mutex_unlock (&samples->lock);
  return moved;
}

static JsonObject *
fresh (JsonObject *sample, const char *at, gint64 max_age_ms)
{
  gint64 t;
  if (sample == NULL || max_age_ms <= 0)
    return NULL;
  t = json_object_get_int_member_with_default (sample, at, 0);
  return g_get_real_time () / 1000 - t <= max_age_ms ? json_object_ref (sample) : NULL;
}

/* The supervisor's samples of VM @name when they are recent enough, else
 * NULL. */
static void
recent_samples (BgrEngine *engine, const char *name, JsonObject **out_guest, JsonObject **out_vmm)
{
  BgrConfig *config = bgr_engine_get_config (engine);
  BgrVmSamples *samples = bgr_engine_get_samples (engine);
  Samples *s;

  g_mutex_lock (&samples->lock);
  s = samples_of (samples, name);
  *out_guest = fresh (s->last_guest, "sampled_at", bgr_config_get_duration_ms (config, "stats_poll_interval"));
  *out_vmm = fresh (s->last_vmm, "metrics_at", bgr_config_get_duration_ms (config, "metrics_poll_interval"));
  g_mutex_unlock (&samples->lock);
}

/* The guest sample before @guest, when @guest is still the latest. */
static JsonObject *
previous_guest (BgrEngine *engine, const char *name, JsonObject *guest)
{
  BgrVmSamples *samples = bgr_engine_get_samples (engine);
  JsonObject *prev = NULL;
  Samples *s;

  g_mutex_lock (&samples->lock);
  s = samples_of (samples, name);
  if (s->prev_guest != NULL && s->last_guest == guest)
    prev = json_object_ref (s->prev_guest);
  g_mutex_unlock (&samples->lock);
  return prev;
}

static void
copy_members (JsonObject *to, JsonObject *from)
{
  GList *members = json_object_get_members (from);
  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (to, l->data, json_node_copy (json_object_get_member (from, l->data)));
  g_list_free (members);
}

BgrVmStats *
bgr_engine_vm_stats (BgrEngine *engine, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) doc = bgr_vm_load_running (engine, name, error);
  g_autoptr (JsonObject) guest = NULL, vmm = NULL, prev = NULL;
  g_autoptr (JsonObject) out = json_object_new ();

  if (doc == NULL)
    return NULL;
  recent_samples (engine, name, &guest, &vmm);
  if (guest == NULL)
    {
      guest = bgr_vm_sample_guest (engine, doc, cancellable, error);
      if (guest == NULL)
        return NULL;
      bgr_vm_samples_remember_guest (engine, name, guest);
    }
  /* Taken, not remembered: the supervisor's own VMM samples measure the
   * network activity that auto_stop_stale_after looks at. */
  if (vmm == NULL)
    vmm = bgr_vm_sample_vmm (doc);
  prev = previous_guest (engine, name, guest);

  json_object_set_string_member (out, "name", name);
  copy_members (out, guest);
  copy_members (out, vmm);
  /* Guest CPU use between the last two samples. */
  if (prev != NULL)
    {
      gint64 busy = cpu_busy_permille (guest, prev);
      if (busy >= 0)
        {
          json_object_set_int_member (out, "cpu_busy_permille", busy);
          json_object_set_int_member (out, "cpu_interval_ms",
                                      json_object_get_int_member_with_default (guest, "sampled_at", 0)
                                      - json_object_get_int_member_with_default (prev, "sampled_at", 0));
        }
    }
  return bgr_vm_stats_new_from_json (out);
}
