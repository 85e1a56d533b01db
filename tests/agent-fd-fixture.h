/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the agent tests on the wire (test-agent-exec.c, test-agent-facts.c,
 * test-agent-wire.c) share: banger-vsock-agent itself on the host, started
 * with --fd 3 on one end of a socketpair, spoken to through the codec like
 * banger does, no VM. Every wait has a deadline, so a broken agent fails a
 * test instead of hanging it. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include <glib.h>

#include "agent-proto/bgr-agent-proto.h"
#include "bgr-test-util.h"

/* Generous: a loaded CI machine is slow, a hang is still caught. */
#define WAIT_MS 20000

typedef struct {
  BgrAgentHeader h;
  GBytes *payload;
} Frame;

void frame_free (Frame *f);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Frame, frame_free)

typedef struct {
  GPid pid;
  int fd;         /* our end of the socketpair, nonblocking */
  GByteArray *rx; /* bytes received, not yet parsed */
  GQueue pending; /* Frame *: received, not yet asked for */
  gboolean closed;
} Agent;

/* What collect() saw on one channel. */
typedef struct {
  int64_t pid;      /* from STARTED; 0 if none */
  GString *out, *err;
  guint out_frames;
  gsize largest_frame;
  gboolean exited;  /* EXIT received */
  int64_t exit_code, signal, timed_out;
  char *error;      /* ERROR's MESSAGE */
  int64_t error_errno;
} Result;

/* Set by agent_fd_init(). */
extern const char *agent_path;

/* g_test_init() with isolated directories, the agent's path from the
 * environment ctest sets, and a variable commands must not inherit. */
void agent_fd_init (int *argc, char ***argv);

/* The fixture: the agent on a socketpair; closing it must end the agent
 * with status 0. */
void agent_start (Agent *a, gconstpointer data);
void agent_stop (Agent *a, gconstpointer data);
int agent_wait (Agent *a, int ms);

/* Frames out. */
void agent_write_raw (Agent *a, const void *data, gsize len);
void agent_send (Agent *a, uint16_t type, uint32_t channel, const void *payload, gsize len);
void agent_send_buf (Agent *a, uint16_t type, uint32_t channel, BgrAgentBuf *b);
void send_exec (Agent *a, uint32_t channel, const char *const *argv, const char *const *env,
                const char *cwd, int64_t timeout_ms, gboolean with_stdin);
void send_stdin (Agent *a, uint32_t channel, const void *data, gsize len);

/* Frames in, and their fields. */
Frame *agent_recv (Agent *a, uint32_t channel, int ms);
Frame *agent_expect (Agent *a, uint32_t channel, uint16_t type);
char *frame_str (const Frame *f, uint16_t tag);
GPtrArray *frame_strs (const Frame *f, uint16_t tag);
int64_t frame_int (const Frame *f, uint16_t tag);

/* A whole exec. */
void result_clear (Result *r);
void collect_rest (Agent *a, uint32_t channel, Result *r, int64_t pid);
void collect (Agent *a, uint32_t channel, Result *r);
void run_exec (Agent *a, uint32_t channel, const char *const *argv, const char *const *env,
               const char *cwd, Result *r);

void assert_alive (Agent *a);
void assert_process_goes (pid_t pid);
