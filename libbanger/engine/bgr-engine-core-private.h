/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine's shared context (bgr-engine-core.c): what every module of
 * the engine reaches through the BgrEngine it is given. That is the
 * configuration, the store, the lock that serialises changes to the
 * records, and the in-memory state of the modules that keep some. The
 * composition root (bgr-engine.c) makes those states and hands them over;
 * this file calls no module, so that every module can depend on it. */
#pragma once

#include "engine/bgr-engine-private.h"

G_BEGIN_DECLS

typedef struct _BgrEngineUsage BgrEngineUsage; /* bgr-engine-usage.c */
typedef struct _BgrVmClaims BgrVmClaims;       /* bgr-engine-claims.c */
typedef struct _BgrVmAgents BgrVmAgents;       /* bgr-engine-agent.c */
typedef struct _BgrVmSamples BgrVmSamples;     /* bgr-engine-guest.c */
typedef struct _BgrVmAdoptions BgrVmAdoptions; /* bgr-engine-adopt.c */
typedef struct _BgrVmForwards BgrVmForwards;   /* bgr-engine-forward.c */

/* The modules' in-memory states. The engine only holds them: the root
 * makes them before the engine and frees them after it. */
typedef struct {
  BgrEngineUsage *usage;
  BgrVmClaims *claims;
  BgrVmAgents *agents;
  BgrVmSamples *samples;
  BgrVmAdoptions *adoptions;
  BgrVmForwards *forwards;
} BgrEngineParts;

/* Takes a reference on @config and ownership of @store. */
BgrEngine *bgr_engine_core_new (BgrConfig *config, BgrStore *store, const BgrEngineParts *parts);
/* Frees @engine and closes its store; @out_parts gets the parts back. */
void bgr_engine_core_free (BgrEngine *engine, BgrEngineParts *out_parts);

BgrEngineUsage *bgr_engine_get_usage (BgrEngine *engine);
BgrVmClaims *bgr_engine_get_claims (BgrEngine *engine);
BgrVmAgents *bgr_engine_get_agents (BgrEngine *engine);
BgrVmSamples *bgr_engine_get_samples (BgrEngine *engine);
BgrVmAdoptions *bgr_engine_get_adoptions (BgrEngine *engine);
BgrVmForwards *bgr_engine_get_forwards (BgrEngine *engine);

/* Serialises changes to the records. Taken for short moments only (a
 * load, a check, a save); never held across a guest or a VMM. */
void bgr_engine_lock (BgrEngine *engine);
void bgr_engine_unlock (BgrEngine *engine);

G_END_DECLS
