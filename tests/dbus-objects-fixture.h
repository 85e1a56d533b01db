/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the D-Bus object tests (test-dbus-objects*.c) share: a private bus
 * and bangerd on it with the fake VMM (hypervisor = "fake", see
 * docs/testing.md: no root, KVM or QEMU), clients of it, a kernel and an
 * image to boot, programs run against it, and waits that poll a condition
 * against a deadline. */
#pragma once

#include <gio/gio.h>

#include <banger/banger.h>

#include "bgr-test-util.h"

#define NAME "org.banger.Banger1"
#define ROOT "/org/banger/Banger1"
#define MANAGER_IFACE NAME ".Manager"
#define OPERATION_IFACE NAME ".Operation"
#define WAIT_MS 30000

/* Set by dbus_objects_init(). */
extern const char *bangerd, *banger_cli;

/* Polls @cond every 5 ms, dispatching the default main context (where
 * every signal subscription of the test lives) in between; fails the test
 * after @ms. */
#define WAIT_UNTIL(cond, ms)                                                                    \
  G_STMT_START                                                                                  \
  {                                                                                             \
    gint64 deadline__ = g_get_monotonic_time () + (gint64) (ms) * 1000;                         \
    for (;;)                                                                                    \
      {                                                                                         \
        while (g_main_context_iteration (NULL, FALSE))                                          \
          ;                                                                                     \
        if (cond)                                                                               \
          break;                                                                                \
        if (g_get_monotonic_time () > deadline__)                                               \
          g_error ("%s:%d: still not true after %d ms: %s", __FILE__, __LINE__, (int) (ms),     \
                   #cond);                                                                      \
        g_usleep (5000);                                                                        \
      }                                                                                         \
  }                                                                                             \
  G_STMT_END

/* ---- fixture: a private bus, and bangerd on it with the fake VMM --------- */

typedef struct {
  GTestDBus *bus;
  const char *address;
  GDBusConnection *conn; /* the watcher's: never makes a call to bangerd */
  char *dir;             /* /tmp/bgr-do-XXXXXX: short, for the agents' sockets */
  char *state, *cache, *config;
  GSubprocess *daemon;
} Fixture;

/* g_test_init() with isolated directories, exported for bangerd and gdbus,
 * and the programs' paths from the environment ctest sets. */
void dbus_objects_init (int *argc, char ***argv);

GDBusConnection *connect_bus (Fixture *f);
void fixture_setup (Fixture *f, gconstpointer data);
void fixture_teardown (Fixture *f, gconstpointer data);
gboolean exited (GSubprocess *p);
void start_daemon (Fixture *f);
void stop_daemon (Fixture *f);
void run (BgrRun *r, const char *const *extra_env, const char *const *argv);
BgrClient *new_client (Fixture *f);
void add_kernel_and_image (Fixture *f, BgrClient *c);
