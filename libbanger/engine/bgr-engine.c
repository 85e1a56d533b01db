/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <unistd.h>

#include "bgr-daemon-info-private.h"
#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "engine/bgr-engine-private.h"

struct _BgrEngine {
  BgrConfig *config;
  BgrStore *store;
  gint64 started_us; /* monotonic */
  GMutex lock;
  BgrEngineVms *vms;
};

/* Work directories an engine that died mid-operation left behind. Only
 * the engine holding the state lock can be using them, and that is us. */
static void
sweep_leftovers (const char *dir, const char *const *prefixes)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    for (const char *const *p = prefixes; *p != NULL; p++)
      if (g_str_has_prefix (name, *p))
        {
          g_autofree char *path = g_build_filename (dir, name, NULL);
          g_info ("removing leftover %s", path);
          bgr_rm_rf (path, NULL);
          break;
        }
}

static void
sweep (BgrConfig *config)
{
  static const char *const staging[] = { ".staging-", ".deleting-", NULL };
  static const char *const modules[] = { ".modules-", NULL };
  static const char *const apt[] = { ".download-", NULL };
  const char *state = bgr_config_get_string (config, "state_dir");
  const char *cache = bgr_config_get_string (config, "cache_dir");
  g_autofree char *kernels = g_build_filename (state, "kernels", NULL);
  g_autofree char *images = g_build_filename (state, "images", NULL);
  g_autofree char *vms = g_build_filename (state, "vms", NULL);
  static const char *const deleting[] = { ".deleting-", NULL };
  g_autofree char *aptdir = g_build_filename (cache, "apt", NULL);

  sweep_leftovers (kernels, staging);
  sweep_leftovers (images, staging);
  sweep_leftovers (vms, deleting);
  sweep_leftovers (cache, modules);
  sweep_leftovers (aptdir, apt);
}

BgrEngine *
bgr_engine_new (BgrConfig *config, GError **error)
{
  g_autoptr (BgrStore) store = NULL;
  BgrEngine *engine;

  store = bgr_store_open (bgr_config_get_string (config, "state_dir"), error);
  if (store == NULL)
    return NULL;
  sweep (config);
  engine = g_new0 (BgrEngine, 1);
  engine->config = g_object_ref (config);
  engine->store = g_steal_pointer (&store);
  engine->started_us = g_get_monotonic_time ();
  g_mutex_init (&engine->lock);
  engine->vms = bgr_engine_vms_new ();
  g_debug ("engine owns %s", bgr_store_get_dir (engine->store));
  bgr_engine_adopt_vms (engine);
  return engine;
}

void
bgr_engine_free (BgrEngine *engine)
{
  if (engine == NULL)
    return;
  bgr_engine_vms_free (engine->vms);
  bgr_store_close (engine->store);
  g_object_unref (engine->config);
  g_mutex_clear (&engine->lock);
  g_free (engine);
}

BgrConfig *
bgr_engine_get_config (BgrEngine *engine)
{
  return engine->config;
}

BgrEngineVms *
bgr_engine_get_vms (BgrEngine *engine)
{
  return engine->vms;
}

BgrStore *
bgr_engine_get_store (BgrEngine *engine)
{
  return engine->store;
}

BgrDaemonInfo *
bgr_engine_get_info (BgrEngine *engine)
{
  return bgr_daemon_info_new ((gint64) getpid (), BGR_VERSION_STRING, "in-process",
                              bgr_store_get_dir (engine->store), "",
                              (g_get_monotonic_time () - engine->started_us) / G_USEC_PER_SEC);
}

void
bgr_engine_lock (BgrEngine *engine)
{
  g_mutex_lock (&engine->lock);
}

void
bgr_engine_unlock (BgrEngine *engine)
{
  g_mutex_unlock (&engine->lock);
}
