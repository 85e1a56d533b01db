/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Named crash points: the steps of every operation that changes state
 * (image register, promote, pull, build, delete; kernel import, pull, delete; VM
 * create, start, stop, kill, delete), each a place where a process may die
 * and the next engine must still find a consistent state.
 *
 * In a build with test hooks (the CMake option BANGER_TEST_HOOKS, on in
 * Debug builds, which the test builds are), bgr_crash_point() ends the
 * process with _exit(BGR_CRASH_EXIT_STATUS) when $BANGER_TEST_CRASH_AT
 * names the point; tests/test-crash.c runs every point of the table below.
 * With $BANGER_TEST_PAUSE_AT naming the point instead, it creates the file
 * $BANGER_TEST_PAUSE_FILE there and waits until the test removes it.
 * In other builds it compiles to nothing and the variables are never read. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define BGR_CRASH_ENV "BANGER_TEST_CRASH_AT"
#define BGR_CRASH_EXIT_STATUS 86
#define BGR_PAUSE_ENV "BANGER_TEST_PAUSE_AT"
#define BGR_PAUSE_FILE_ENV "BANGER_TEST_PAUSE_FILE"

typedef struct {
  const char *name;      /* OPERATION.STEP */
  const char *operation; /* e.g. "image-pull" */
  const char *where;     /* what is done when the process dies there */
} BgrCrashPoint;

/* Every point, ending with a NULL name. */
extern const BgrCrashPoint bgr_crash_points[];

#ifdef BANGER_TEST_HOOKS
/* Dies here when $BANGER_TEST_CRASH_AT is @name. @name must be in the
 * table (a name missing from it is a programming error, and aborts). */
void bgr_crash_point (const char *name);
/* The same for "PREFIX.STEP" (operations sharing a step's code). */
void bgr_crash_point2 (const char *prefix, const char *step);
#else
#define bgr_crash_point(name) ((void) (name))
#define bgr_crash_point2(prefix, step) ((void) (prefix), (void) (step))
#endif

G_END_DECLS
