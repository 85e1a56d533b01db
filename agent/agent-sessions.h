/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sessions (docs/agent-protocol.md, "Sessions"): processes the agent
 * starts and keeps whether or not a host is connected, their output
 * spooled per stream in bounded files. agent-sessions.c owns the sessions,
 * agent-session-io.c the channels that read or attach to them. */
#ifndef BANGER_AGENT_SESSIONS_H
#define BANGER_AGENT_SESSIONS_H

#include "agent.h"
#include "agent-spool.h"

struct session {
    char name[BGR_AGENT_SESSION_NAME_MAX + 1];
    char **argv;
    size_t argc;
    char *cwd;
    int stdin_mode;          /* BGR_AGENT_STDIN_* */
    pid_t pid;
    bool running;
    int status;              /* wait status, once exited */
    int64_t started_ms, ended_ms;
    int out_fd, err_fd, in_fd;
    bool pty;                /* on a terminal: out_fd is its master, no stderr */
    int tty_fd;              /* a spare master for WINSIZE; -1 without pty */
    uint8_t *in_buf;         /* stdin bytes the process has not taken yet */
    size_t in_off, in_len, in_cap;
    bool in_eof;             /* close stdin once in_buf is written */
    struct spool sp[2];      /* stdout, stderr */
    int64_t kill_at;         /* SESSION_STOP: SIGKILL then; 0: none */
};

/* ---- agent-sessions.c: what the rest of the agent calls ---- */

/* The loop's hooks (struct agent_module). */
extern const struct agent_module sessions_module;
/* @dir: where spools go; NULL: the mode's default. */
void sessions_init(const char *dir);
/* Creates the spool directory when it is first needed: 0, or -1 (warned). */
int sessions_spool_ready(void);
/* true when the frame was a session's (handled). */
bool sessions_frame(const BgrAgentHeader *h, const uint8_t *payload);
void sessions_poll(void);
void sessions_timers(int64_t now);
bool sessions_reaped(pid_t pid, int status);
/* The host went away: its reads and attaches end; sessions run on. */
void sessions_host_gone(void);
/* A read or attach runs on the channel. */
bool session_channel_busy(uint32_t channel);

/* ---- shared between the two files ---- */

struct session *session_find(const char *name);
/* Appends one SESSION field describing @s. */
void session_put(BgrAgentBuf *b, const struct session *s);
/* Queues @data for the session's stdin; empty: close it once written. */
void session_stdin(struct session *s, const uint8_t *data, size_t len);
void session_close_stdin(struct session *s);
struct session **sessions_all(size_t *n);
/* Takes @s out of the table without freeing it. */
void sessions_detach(struct session *s);
void sessions_set_spool_root(const char *dir);
/* The spool directory was created (sessions_spool_ready()). */
bool sessions_spool_exists(void);
void sessions_add(struct session *s);
/* false after sending an ERROR: BGR_AGENT_SESSIONS_MAX are running. */
bool sessions_make_room(uint32_t ch);
void session_free(struct session *s);
void session_remove(struct session *s);
void session_send_one(uint32_t channel, const struct session *s);
/* SPOOL/NAME[/FILE]; "" when too long. */
void session_spool_path(char *out, size_t size, const char *name, const char *file);
const char *session_spool_root(void);

/* ---- agent-session-start.c ---- */

void session_start(uint32_t channel, const uint8_t *payload, size_t len);

/* ---- agent-session-io.c ---- */

void session_read_start(uint32_t channel, const uint8_t *payload, size_t len);
void session_attach_start(uint32_t channel, const uint8_t *payload, size_t len);
/* STDIN, DETACH, WINSIZE for a read or attach channel; false: not one. */
bool session_channel_frame(const BgrAgentHeader *h, const uint8_t *payload);
/* @s exited: what its pipes hold goes to the spool, then they close. */
void session_exited_io(struct session *s);
/* New output in @s: sent to its readers. */
void session_pump(struct session *s);
/* @s exited and its pipes are drained: its channels end. */
void session_ended(struct session *s);
/* @s is going away: its channels end without a word (host gone or replaced). */
void session_forget_channels(struct session *s);
bool session_attached(const struct session *s);
void session_channels_drop_all(void);
/* The session named in a request, or NULL after an ERROR was sent. */
struct session *session_from_request(uint32_t channel, const uint8_t *payload, size_t len);

#endif
