/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bangerd on a private dbus-daemon (a GTestDBus), for test-dbus and
 * test-dbus-manager (dbus-fixture.c). */
#pragma once

#include <gio/gio.h>

#include "bgr-test-util.h"

/* The CLI and bangerd under test; each test's main() sets them. */
extern const char *banger, *bangerd;

typedef struct {
  GTestDBus *bus;
  const char *address;
  char *env_bus; /* "DBUS_SESSION_BUS_ADDRESS=..." */
  const char *env[2];
  GDBusConnection *conn;
} Fixture;

/* @data: NULL, or a directory of D-Bus service files for activation. */
void fixture_setup (Fixture *f, gconstpointer data);
void fixture_teardown (Fixture *f, gconstpointer data);
/* A GSourceFunc that fails the test: "timed out waiting for @data". */
gboolean on_timeout (gpointer data);
/* Waits (event-driven, bounded) until org.banger.Banger1 has an owner. */
void wait_for_name (Fixture *f);
/* Waits (bounded) for @proc to exit. */
void wait_for_exit (GSubprocess *proc);
/* bangerd --session on the fixture's bus with @config (and --replace). */
GSubprocess *start_daemon (Fixture *f, const char *config, gboolean replace);
/* Everything the daemon wrote on stderr (call after it exited). */
char *daemon_log (GSubprocess *p);
/* The daemon's pid as text. */
char *owner_pid_text (GSubprocess *p);

#define RUN(f, r, ...) bgr_run_env ((r), (f)->env, (const char *const[]){ __VA_ARGS__, NULL })
/* gdbus call of a method of org.banger.Banger1.Manager on the private bus. */
#define GDBUS_CALL(f, r, method)                                                      \
  RUN (f, r, "gdbus", "call", "--session", "--dest", "org.banger.Banger1", "--object-path", \
       "/org/banger/Banger1", "--method", "org.banger.Banger1.Manager." method)
