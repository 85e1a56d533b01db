/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the download tests (test-download*.c) share: a 1 MiB random payload,
 * a libsoup server on 127.0.0.1 in its own thread that serves it whole,
 * cut short, stalled, by ranges or with errors (the path says which), and
 * checks of what bgr_download left behind. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "bgr-test-util.h"
#include "bgr-error-private.h"
#include "net/bgr-download-private.h"

#define PAYLOAD_SIZE (1024 * 1024)

#define HALF (PAYLOAD_SIZE / 2)

extern GBytes *payload;

extern char *payload_sha256;

typedef struct {
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *server;
  char *base; /* http://127.0.0.1:PORT */

  GMutex lock;
  GCond cond;
  gboolean ready;
  /* Under lock, written by the server thread. */
  GPtrArray *ranges;  /* the Range header of each request, "" for none */
  GPtrArray *agents;  /* the User-Agent of each request */
  GHashTable *hits;   /* path -> number of requests */
  /* Only touched by the server thread. */
  GPtrArray *held;    /* stalled connections, closed at teardown */

  /* The client side. */
  char *dir;
  char *dest;
  char *part;
  GArray *progress; /* pairs of guint64: done, total */
} Fixture;

const char *payload_data (void);

void fixture_setup (Fixture *f, gconstpointer data);

void fixture_teardown (Fixture *f, gconstpointer data);

char *url_for (Fixture *f, const char *path);

guint hits (Fixture *f, const char *path);

char *range_of (Fixture *f, guint request);

void record_progress (guint64 done, guint64 total, gpointer user_data);

/* Reports never go backwards and end at (total, total). */
void assert_progress (Fixture *f, guint64 total);

void assert_dest_is_payload (Fixture *f);

void assert_nothing_left (Fixture *f);

void write_part (Fixture *f, const void *data, gsize len);

gboolean download (Fixture *f, SoupSession *session, const char *path, gint64 size, const char *sha,
                   GCancellable *cancellable, GError **error);

/* g_test_init() for these tests, and the payload made; _done() frees it. */
void download_test_init (int *argc, char ***argv);
void download_test_done (void);
