/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-crash's operations (crash-ops.c): for each operation that has
 * crash points, what must be there before it runs, its CLI call and how
 * it is redone through a fresh engine; and one point's directories and
 * engine. */
#pragma once

#include "engine/bgr-engine-private.h"

#define WAIT_MS 20000

typedef struct {
  char *dir;   /* /tmp/bgr-cr-XXXXXX: short, for the agents' unix sockets */
  char *state, *cache, *config_path;
  BgrConfig *config;
  BgrEngine *engine;
} Fixture;

/* A fresh engine on @f's directories (closed by engine_close()). */
BgrEngine *engine_open (Fixture *f);
void engine_close (Fixture *f);
/* A state and cache directory of their own, the fake VMM, the test's
 * catalog and registry; torn down with every process left. */
void fixture_setup (Fixture *f);
void fixture_teardown (Fixture *f);

typedef struct {
  const char *operation;
  void (*prepare) (Fixture *f);
  const char *argv[10]; /* after `banger --local --config FILE`; "@REF" is the registry's */
  void (*redo) (Fixture *f);
} Operation;

/* The operation crash points named OPERATION.STEP belong to, or NULL. */
const Operation *operation_for (const char *name);
/* How many operations there are. */
gsize operations_count (void);
