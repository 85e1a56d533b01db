/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <unistd.h>

#include "bgr-daemon-info-private.h"
#include "engine/bgr-engine-core-private.h"

struct _BgrEngine {
  BgrConfig *config;
  BgrStore *store;
  gint64 started_us; /* monotonic */
  GMutex lock;
  BgrEngineParts parts;
};

BgrEngine *
bgr_engine_core_new (BgrConfig *config, BgrStore *store, const BgrEngineParts *parts)
{
  BgrEngine *engine = g_new0 (BgrEngine, 1);

  engine->config = g_object_ref (config);
  engine->store = store;
  engine->started_us = g_get_monotonic_time ();
  g_mutex_init (&engine->lock);
  engine->parts = *parts;
  return engine;
}

void
bgr_engine_core_free (BgrEngine *engine, BgrEngineParts *out_parts)
{
  *out_parts = engine->parts;
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

BgrStore *
bgr_engine_get_store (BgrEngine *engine)
{
  return engine->store;
}

BgrEngineUsage *
bgr_engine_get_usage (BgrEngine *engine)
{
  return engine->parts.usage;
}

BgrVmClaims *
bgr_engine_get_claims (BgrEngine *engine)
{
  return engine->parts.claims;
}

BgrVmAgents *
bgr_engine_get_agents (BgrEngine *engine)
{
  return engine->parts.agents;
}

BgrVmSamples *
bgr_engine_get_samples (BgrEngine *engine)
{
  return engine->parts.samples;
}

BgrVmAdoptions *
bgr_engine_get_adoptions (BgrEngine *engine)
{
  return engine->parts.adoptions;
}

BgrVmForwards *
bgr_engine_get_forwards (BgrEngine *engine)
{
  return engine->parts.forwards;
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
