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

/* The payload's bytes (PAYLOAD_SIZE of them). */
const char *payload_data (void);

/* Starts the server thread and waits until it serves; dest and part are
 * in the isolated cache directory. _teardown() stops the server. */
void fixture_setup (Fixture *f, gconstpointer data);

void fixture_teardown (Fixture *f, gconstpointer data);

/* http://127.0.0.1:PORT@path. */
char *url_for (Fixture *f, const char *path);

/* How many requests @path got. */
guint hits (Fixture *f, const char *path);

/* The Range header of the @request-th request, "" for none. */
char *range_of (Fixture *f, guint request);

/* A progress callback that keeps every report in f->progress. */
void record_progress (guint64 done, guint64 total, gpointer user_data);

/* Reports never go backwards and end at (total, total). */
void assert_progress (Fixture *f, guint64 total);

/* dest holds the whole payload and no .part is left. */
void assert_dest_is_payload (Fixture *f);

/* Neither dest nor .part exists. */
void assert_nothing_left (Fixture *f);

/* A .part file as an earlier try would have left it. */
void write_part (Fixture *f, const void *data, gsize len);

/* bgr_download_file() of @path into dest, progress recorded. */
gboolean download (Fixture *f, SoupSession *session, const char *path, gint64 size, const char *sha,
                   GCancellable *cancellable, GError **error);

/* g_test_init() for these tests, and the payload made; _done() frees it. */
void download_test_init (int *argc, char ***argv);
void download_test_done (void);
