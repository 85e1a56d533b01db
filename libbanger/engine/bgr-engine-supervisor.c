/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bangerd's background work: notice VMM processes that exit (a guest that
 * powers itself off), sample stats, and stop VMs idle for longer than
 * auto_stop_stale_after. Two threads, ticking every second. Each guest
 * sample is announced (on_stats): the web UI shows it as it comes. */
#include "config.h"

#include "bgr-escape-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-agent-private.h"
#include "engine/bgr-engine-claims-private.h"
#include "engine/bgr-engine-guest-private.h"
#include "engine/bgr-engine-reconcile-private.h"
#include "engine/bgr-engine-vm-record-private.h"

/* Guest CPU use (per mille, between two samples) or network bytes per
 * sample that count as activity for auto_stop_stale_after. */
#define ACTIVE_CPU_PERMILLE 100
#define ACTIVE_NET_BYTES (256 * 1024)

struct _BgrEngineSupervisor {
  BgrEngine *engine;
  BgrEngineStatsFunc on_stats;
  gpointer on_stats_data;
  GThread *thread;  /* reconciliation, every second, never blocked by a guest */
  GThread *worker;  /* auto-stop and sampling, which can wait on guests */
  GMutex lock;
  GCond cond;
  gboolean stop;
};

/* Stops VM @name, idle for longer than auto_stop_stale_after, and says so
 * in its reason. */
static void
auto_stop (BgrEngine *engine, const char *name)
{
  const char *idle = bgr_config_get_string (bgr_engine_get_config (engine), "auto_stop_stale_after");
  g_autoptr (GError) error = NULL;
  g_autoptr (BgrVm) vm = NULL;
  g_autoptr (JsonObject) now = NULL;

  g_message ("VM %s: idle for more than %s (auto_stop_stale_after), stopping it", name, idle);
  vm = bgr_engine_stop_vm (engine, name, NULL, &error);
  if (vm == NULL)
    {
      g_autofree char *msg = bgr_log_msg (error->message);
      g_warning ("VM %s: auto-stop failed: %s", name, msg);
      return;
    }
  /* Load and save under the lock: a delete may come in between. */
  bgr_engine_lock (engine);
  now = bgr_store_load (bgr_engine_get_store (engine), BGR_VM_KIND, name, NULL);
  if (now != NULL && g_strcmp0 (bgr_record_str (now, "state"), "stopped") == 0)
    {
      g_autofree char *reason = g_strdup_printf ("auto-stopped after %s without activity; %s",
                                                 idle, bgr_record_str (now, "reason"));
      json_object_set_string_member (now, "reason", reason);
      bgr_store_save (bgr_engine_get_store (engine), BGR_VM_KIND, name, now, NULL);
    }
  bgr_engine_unlock (engine);
}

/* Announces VM @name's stats, the sample just taken. */
static void
announce (BgrEngineSupervisor *sup, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BgrVmStats) stats = NULL;

  if (sup->on_stats == NULL)
    return;
  /* The guest sample is fresh: this reads it, and asks the VMM only when
   * its metrics are not sampled (metrics_poll_interval), never the guest. */
  stats = bgr_engine_vm_stats (sup->engine, name, NULL, &error);
  if (stats == NULL)
    {
      g_autofree char *msg = bgr_log_msg (error->message);
      g_debug ("VM %s: no stats to announce: %s", name, msg);
      return;
    }
  sup->on_stats (name, stats, sup->on_stats_data);
}

/* A guest sample; guest CPU use counts as activity. */
static gboolean
sample_guest (BgrEngine *engine, JsonObject *doc, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) s = bgr_vm_sample_guest (engine, doc, NULL, &error);

  if (s == NULL)
    {
      g_autofree char *msg = bgr_log_msg (error->message); /* may quote the guest */
      g_debug ("VM %s: no guest stats: %s", name, msg);
      return FALSE;
    }
  if (bgr_vm_samples_remember_guest (engine, name, s) >= ACTIVE_CPU_PERMILLE)
    bgr_vm_record_touch (engine, name);
  return TRUE;
}

/* A VMM sample; network traffic counts as activity. */
static void
sample_vmm (BgrEngine *engine, JsonObject *doc, const char *name)
{
  g_autoptr (JsonObject) s = bgr_vm_sample_vmm (doc);

  if (bgr_vm_samples_remember_vmm (engine, name, s) >= ACTIVE_NET_BYTES)
    bgr_vm_record_touch (engine, name);
}

static void
supervise_once (BgrEngineSupervisor *sup, gint64 *next_stats_us, gint64 *next_metrics_us)
{
  BgrEngine *engine = sup->engine;
  BgrConfig *config = bgr_engine_get_config (engine);
  gint64 stale_ms = bgr_config_get_duration_ms (config, "auto_stop_stale_after");
  gint64 stats_ms = bgr_config_get_duration_ms (config, "stats_poll_interval");
  gint64 metrics_ms = bgr_config_get_duration_ms (config, "metrics_poll_interval");
  gint64 now_us = g_get_monotonic_time ();
  gboolean stats = stats_ms > 0 && now_us >= *next_stats_us;
  gboolean metrics = metrics_ms > 0 && now_us >= *next_metrics_us;
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), BGR_VM_KIND, NULL);

  if (stats)
    *next_stats_us = now_us + stats_ms * 1000;
  if (metrics)
    *next_metrics_us = now_us + metrics_ms * 1000;
  for (guint i = 0; i < docs->len; i++)
    {
      JsonObject *doc = docs->pdata[i];
      g_autofree char *name = g_strdup (bgr_record_str (doc, "name"));
      gboolean sampled;

      if (g_strcmp0 (bgr_record_str (doc, "state"), "running") != 0 || bgr_engine_vm_is_busy (engine, name))
        continue;
      if (stale_ms > 0 && bgr_vm_now_s () - bgr_record_int (doc, "last_activity") > stale_ms / 1000
          && !bgr_vm_agent_execs_running (engine, name))
        {
          auto_stop (engine, name);
          continue;
        }
      sampled = stats && sample_guest (engine, doc, name);
      if (metrics)
        sample_vmm (engine, doc, name);
      /* After the VMM sample: the stats announced reuse it rather than
       * take one of their own (which would hide network activity). */
      if (sampled)
        announce (sup, name);
    }
}

static gpointer
supervisor_thread (gpointer data)
{
  BgrEngineSupervisor *sup = data;
  gboolean worker;
  gint64 next_stats_us = 0, next_metrics_us = 0;

  g_mutex_lock (&sup->lock);
  worker = g_thread_self () == sup->worker;
  while (!sup->stop)
    {
      gint64 until = g_get_monotonic_time () + G_USEC_PER_SEC;
      g_mutex_unlock (&sup->lock);
      if (worker)
        supervise_once (sup, &next_stats_us, &next_metrics_us);
      else
        bgr_vm_reconcile_all (sup->engine);
      g_mutex_lock (&sup->lock);
      while (!sup->stop && g_cond_wait_until (&sup->cond, &sup->lock, until))
        ;
    }
  g_mutex_unlock (&sup->lock);
  return NULL;
}

BgrEngineSupervisor *
bgr_engine_supervisor_start (BgrEngine *engine, BgrEngineStatsFunc on_stats, gpointer data)
{
  BgrEngineSupervisor *sup = g_new0 (BgrEngineSupervisor, 1);

  sup->engine = engine;
  sup->on_stats = on_stats;
  sup->on_stats_data = data;
  g_mutex_init (&sup->lock);
  g_cond_init (&sup->cond);
  /* The worker compares g_thread_self() with sup->worker: set it before
   * the thread can look. */
  g_mutex_lock (&sup->lock);
  sup->thread = g_thread_new ("bgr-supervisor", supervisor_thread, sup);
  sup->worker = g_thread_new ("bgr-sampler", supervisor_thread, sup);
  g_mutex_unlock (&sup->lock);
  return sup;
}

void
bgr_engine_supervisor_stop (BgrEngineSupervisor *sup)
{
  if (sup == NULL)
    return;
  g_mutex_lock (&sup->lock);
  sup->stop = TRUE;
  g_cond_broadcast (&sup->cond);
  g_mutex_unlock (&sup->lock);
  g_thread_join (sup->thread);
  g_thread_join (sup->worker);
  g_mutex_clear (&sup->lock);
  g_cond_clear (&sup->cond);
  g_free (sup);
}
