/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the Firecracker driver tests (test-vmm-firecracker*.c) share: a
 * fixture with a short temporary directory, the files a VM needs and the
 * stand-in binary (tests/fake-firecracker.py) whose recorded requests and
 * verdicts are read back as JSON. */
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>

#include "agent-proto/bgr-agent-proto.h"
#include "bgr-error-private.h"
#include "vmm/bgr-vmm-firecracker-private.h"
#include "bgr-test-util.h"

/* What the stand-in's FlushMetrics adds per device (fake-firecracker.py). */
#define FAKE_BLOCK_READ_BYTES 4096

#define FAKE_BLOCK_WRITE_BYTES 512

#define FAKE_NET_RX_BYTES 1500

#define FAKE_NET_TX_BYTES 700

typedef struct {
  char *dir;      /* /tmp/bgr-fc-XXXXXX: short enough for unix sockets */
  char *run_dir;
  char *kernel, *initrd, *rootfs, *work, *console, *record;
  char *fake;
  BgrVmmConfig config;
} Fixture;

/* Writes @name in the fixture's directory; its path. */
char *put_file (Fixture *f, const char *name, const void *data, gsize len);

/* The stand-in runs as the `firecracker` binary; without its executable bit
 * (a checkout that lost it) a wrapper runs it with python3. */
char *fake_binary (Fixture *f);

/* A short temporary directory with a fake kernel, initrd, rootfs and work
 * disk, the stand-in, and a config that uses them; _teardown() cleans up. */
void fixture_setup (Fixture *f, gconstpointer data);

/* No stand-in process of this fixture is left. */
void assert_nothing_running (Fixture *f);

void fixture_teardown (Fixture *f, gconstpointer data);

/* The stand-in's record: one JSON object per request. */
GPtrArray *read_records (Fixture *f);

/* The record of @method @path, NULL when there is none. */
JsonObject *find_record (GPtrArray *records, const char *method, const char *path);

/* The body of the record of @method @path, which must exist. */
JsonObject *record_body (GPtrArray *records, const char *method, const char *path);

/* The members of @o, sorted and joined, to compare key sets exactly. */
char *member_names (JsonObject *o);

/* @o has exactly the keys @expected (sorted, comma-separated). */
void assert_members (JsonObject *o, const char *expected);

/* Whether the file at @path contains @text. */
gboolean file_has (const char *path, const char *text);

/* g_test_init() for these tests; FALSE (with the skipped test
 * /vmm-firecracker/no-spec added) when BANGER_SPEC_DIR does not hold
 * firecracker-api.yaml, which the stand-in reads: nothing can run then. */
gboolean fc_test_init (int *argc, char ***argv);
