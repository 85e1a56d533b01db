/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What test-oci-registry.c builds on: two docker-registry processes on
 * 127.0.0.1 (anonymous, and htpasswd auth), started once with the test
 * images (tests/oci-registry.sh: umoci, skopeo) pushed to them and stopped
 * at the end, and registry client calls against them. */
#pragma once

#include <glib/gstdio.h>
#include <string.h>

#include "bgr-error-private.h"
#include "oci/bgr-oci-private.h"

#define USER "tester"

#define PASSWORD "s3cret-pw"

#define READY_TIMEOUT_S 30

typedef struct {
  GSubprocess *proc;
  guint16 port;
  char *host; /* 127.0.0.1:PORT */
  char *dir;
  char *log;
} Registry;

extern char *work_dir;

extern char *layout;

extern char *script;

extern char *digest_amd64, *digest_arm64, *digest_multi;

extern Registry anon_reg, auth_reg;

/* Runs @argv, which must succeed; its output. */
char *run_checked (const char *const *argv);

/* Starts docker-registry @name on a free port of 127.0.0.1 (with htpasswd
 * auth for USER and PASSWORD when @with_auth) and waits until it answers;
 * _stop() ends it. */
void registry_start (Registry *reg, const char *name, gboolean with_auth);

void registry_stop (Registry *reg);

/* A containers-auth.json in the work directory with @user and @password
 * for @host; its path. */
char *write_auth_file (const char *name, const char *host, const char *user, const char *password);

/* The digest of the manifest tagged @tag in the layout's index. */
char *layout_digest (JsonArray *manifests, const char *tag);

/* A registry client for @host/@name; *ref gets the parsed reference. */
BgrOciRegistry *open_ref (const char *host, const char *name, BgrOciRef *ref);

/* @host/@name resolved for @platform. */
BgrOciImage *resolve (const char *host, const char *name, const char *platform, GError **error);

/* @a and @b have the same layers. */
void assert_layer_digests_equal (const BgrOciImage *a, const BgrOciImage *b);

/* Builds the test images, starts both registries and pushes the images to
 * them (aborts the test program when a tool is missing). */
void setup (void);

/* Stops the registries and removes the work directory (kept with
 * BANGER_TEST_KEEP). */
void teardown (void);
