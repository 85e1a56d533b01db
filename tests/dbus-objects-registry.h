/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A registry that stalls a layer, for the D-Bus operation tests
 * (test-dbus-objects-operation.c): a libsoup server on 127.0.0.1 in its
 * own thread. */
#pragma once

#include <libsoup/soup.h>

/* One image: a config and one 1 MiB layer. The layer's first 64 KiB are
 * sent, then nothing more: the pull sits in its download until cancelled. */
#define LAYER_SIZE (1024 * 1024)
#define FIRST_CHUNK (64 * 1024)

typedef struct {
  GMainContext *ctx;
  GMainLoop *loop;
  SoupServer *server;
  GThread *thread;
  guint port;
  GBytes *layer, *config;
  char *layer_digest, *config_digest, *manifest, *manifest_digest;
  GMutex lock;
  guint layer_requests; /* guarded by lock */
  GPtrArray *stalled;   /* stalled connections, in the server thread only */
} Registry;

Registry *registry_start (void);
guint registry_layer_requests (Registry *reg);
void registry_stop (Registry *reg);
/* "127.0.0.1:PORT/test/app:latest": the image's reference. */
char *registry_ref (Registry *reg);
