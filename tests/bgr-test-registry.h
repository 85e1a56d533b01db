/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A kernel catalog and an OCI registry served on 127.0.0.1 by a libsoup
 * server in a thread of the test (bgr-test-registry.c (tests/test-crash.c, tests/test-pull-local.c),
 * and the files they serve: a fake kernel (a 64-byte x86-64 ELF header,
 * padded so that its download reports progress before it ends), a 16 MiB
 * ext4 rootfs, an image of one uncompressed layer of a few hundred KiB.
 *
 * The catalog is /kernels.json with one kernel, "cat"; the registry holds
 * test/app:latest (bgr_test_registry_ref()). With
 * bgr_test_registry_hold_layer(N), the first download of the layer stops
 * half way until the manifest has been asked for N times. */
#pragma once

#include <libsoup/soup.h>
#include <string.h>

#include "bgr-test-ext4.h"

#define BGR_TEST_KERNEL_SIZE (256 * 1024)
#define BGR_TEST_NOISE_SIZE (300 * 1024)

typedef struct {
  GMainContext *ctx;
  GMainLoop *loop;
  SoupServer *server;
  GThread *thread;
  guint port;
  GHashTable *served; /* path -> GBytes */
  char *layer_path;   /* the layer's blob path */
  GMutex lock;
  guint manifest_requests, layer_requests; /* guarded by lock */
  guint hold_until;                        /* manifest requests; 0: no hold */
  SoupServerMessage *held;                 /* in the server thread only */
} BgrTestServer;

extern BgrTestServer bgr_test_srv;
/* A test's own handler, tried first (in the server thread): TRUE when it
 * answered @msg. */
extern gboolean (*bgr_test_hook) (SoupServerMessage *msg, const char *path);
extern char *bgr_test_kernel_file, *bgr_test_rootfs_file;

/* Serves what bgr_test_serve() added on 127.0.0.1:bgr_test_srv.port, in a
 * thread of its own, until the test ends. */
void bgr_test_server_start (void);
/* Sends the rest of a held download (from any thread), and holds no more. */
void bgr_test_registry_release (void);
/* Holds the next download of the layer half way until the manifest has
 * been asked for @manifest_requests times in all; resets the counters. */
void bgr_test_registry_hold_layer (guint manifest_requests);
/* Downloads of the layer asked for so far. */
guint bgr_test_registry_layer_requests (void);
/* "127.0.0.1:PORT/test/app:latest" */
char *bgr_test_registry_ref (void);
/* PREFIX + the SHA-256 of @b in hex. */
char *bgr_test_digest_of (GBytes *b, const char *prefix);
/* Runs @argv, which must succeed. */
void bgr_test_run_ok (const char *const *argv);
/* Serves @body at @path. */
void bgr_test_serve (const char *path, GBytes *body);
/* The files under @work, and what the server serves. */
void bgr_test_make_files (const char *work);
