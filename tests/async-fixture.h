/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What test-async.c and test-async-vm.c share (async-fixture.c). */
#pragma once

#include <banger/banger.h>

#define WAIT_S 30
#define OS_NAME "Async Test OS"

/* $BANGER_AGENT_OS_RELEASE of every fake VM. */
extern char *os_release;

typedef struct {
  gboolean dbus;
  char *dir, *state, *config_path, *kernel, *rootfs;
  GTestDBus *bus;
  GSubprocess *daemon;
  BgrClient *client;
  GMainLoop *loop;
  GAsyncResult *result;
} Fixture;

/* The progress a BgrOperation showed: never back within a phase. */
typedef struct {
  guint n;
  char *phase;
  guint64 done, total;
  gboolean steps; /* done counts steps over all phases (VM boots) */
} Progress;

/* The GAsyncReadyCallback of every call: keeps the result. */
void on_done (GObject *source, GAsyncResult *res, gpointer data);
/* Runs the loop until on_done() has the call's result. */
GAsyncResult *wait_result (Fixture *f);
gulong progress_watch (BgrOperation *op, Progress *p, gboolean steps);
void progress_unwatch (BgrOperation *op, Progress *p, gulong id);
/* bgr_operation_cancel() from an idle. */
gboolean cancel_idle (gpointer op);
/* Every path under the state directory, sorted, one a line. */
char *state_tree (Fixture *f);
guint n_vm_processes (Fixture *f);
void assert_no_vms (Fixture *f);
BgrKernel *import_kernel_async (Fixture *f, const char *name, GCancellable *cancellable,
                                GError **error);
void register_image (Fixture *f, const char *name);
/* Kernel "k" (imported async) and image "img" that boots with it. */
void add_kernel_and_image (Fixture *f);
BgrVmSpec *vm_spec (const char *name);
/* The async result is the VM the sync getter shows. */
void assert_same_vm (Fixture *f, BgrVm *got);
/* Runs `sh -c SCRIPT` in @name, async or not, stdout to a pipe; returns
 * its output. */
char *exec_sh (Fixture *f, const char *name, const char *script, gboolean async, gint *status);

typedef struct {
  const char *name;
  void (*func) (Fixture *, gconstpointer);
} AsyncTest;

/* Sets up the process (directories, the fake VMs' os-release, the catalog
 * and registry) and runs @tests, each through a local client and through
 * bangerd, as /async/local/NAME and /async/dbus/NAME. */
int async_test_main (int argc, char **argv, const AsyncTest *tests, guint n_tests);
