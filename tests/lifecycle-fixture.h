/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the lifecycle tests (test-lifecycle*.c) share: an engine on the
 * fake VMM driver (hypervisor = "fake", libbanger/vmm/bgr-vmm-fake.c)
 * with its own state directory and a tiny registered image, VMs created
 * and commands run in them, and waits that poll a condition against a
 * deadline.
 *
 * The image is a tiny ext4 (mkfs.ext4) and a 64-byte ELF header as its
 * "kernel": the engine installs the agent into the rootfs as usual; the
 * fake driver runs that same embedded agent binary on the host. */
#pragma once

#include <banger/banger.h>

#include "engine/bgr-engine-private.h"
#include "engine/bgr-engine-claims-private.h"
#include "vmm/bgr-vmm-private.h"
#include "bgr-test-util.h"

#define IMAGE "img"
#define WAIT_MS 20000

typedef struct {
  char *dir;   /* /tmp/bgr-lc-XXXXXX: short, for the agents' unix sockets */
  char *state;
  BgrConfig *config;
  BgrEngine *engine;
} Fixture;

/* Polls @cond every 5 ms until it holds; fails the test after @ms. */
#define WAIT_UNTIL(cond, ms)                                                                    \
  G_STMT_START                                                                                  \
  {                                                                                             \
    gint64 deadline__ = g_get_monotonic_time () + (gint64) (ms) * 1000;                         \
    while (!(cond))                                                                             \
      {                                                                                         \
        if (g_get_monotonic_time () > deadline__)                                               \
          g_error ("%s:%d: still not true after %d ms: %s", __FILE__, __LINE__, (int) (ms),     \
                   #cond);                                                                      \
        g_usleep (5000);                                                                        \
      }                                                                                         \
  }                                                                                             \
  G_STMT_END

/* ---- processes ---------------------------------------------------------------- */

BgrVm *spec_create (BgrEngine *engine, const char *name, BgrOperation *op, GError **error);
guint n_agents (Fixture *f);
gboolean pid_alive (gint pid, guint64 start_time);

/* ---- fixture ------------------------------------------------------------------- */

BgrEngine *new_engine (Fixture *f);
void fixture_setup (Fixture *f, gconstpointer data);
void fixture_teardown (Fixture *f, gconstpointer data);

/* ---- engine helpers ----------------------------------------------------------- */

BgrVm *create_vm (Fixture *f, const char *name);
BgrVm *get_vm (Fixture *f, const char *name);
gboolean vm_state_is (Fixture *f, const char *name, const char *state);
gint exec_in (BgrEngine *engine, const char *name, const char *const *argv, char **out,
              char **err_out, GError **error);
void assert_exec_works (BgrEngine *engine, const char *name);
