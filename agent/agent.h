/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-vsock-agent's internal interface: what its modules share. The
 * agent is one single-threaded poll() loop (banger-vsock-agent.c); each
 * module adds its fds to the loop's set with a callback, and its deadlines
 * with agent_wake_at(). */
#ifndef BANGER_AGENT_H
#define BANGER_AGENT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/vm_sockets.h>

#include "banger-agent-net.h"
#include "bgr-agent-proto.h"

#ifndef BANGER_AGENT_VERSION
#define BANGER_AGENT_VERSION "unknown"
#endif

#define PROG "banger-vsock-agent"
#define DEFAULT_PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* The largest STDOUT/STDERR frame. */
#define OUTPUT_CHUNK (64 * 1024)
/* After a child exits, at most this much is still read from each of its
 * pipes: more than any pipe holds, so only a grandchild that keeps writing
 * is cut short. */
#define DRAIN_LIMIT (4u * 1024 * 1024)
/* STDIN bytes the child has not taken yet, per exec. */
#define STDIN_BUFFER_MAX (64u * 1024 * 1024)
/* Flow control of STDIN: with this much waiting for a child that took some
 * within STDIN_STALL_MS, the agent stops reading the host's stream. */
#define STDIN_PAUSE_AT (8u * 1024 * 1024)
/* The size asked for a command's stdin pipe (F_SETPIPE_SZ). */
#define STDIN_PIPE_SIZE (1024u * 1024)
#define STDIN_STALL_MS 10000
/* How long the init gets to shut down before the agent forces it. */
#define SHUTDOWN_GRACE_MS 15000
/* Looking for a transport, and for a host on virtio-serial. */
#define FIND_BACKOFF_MIN_MS 20
#define FIND_BACKOFF_MAX_MS 500
#define SERIAL_BACKOFF_MAX_MS 200

/* ---- process-wide state (banger-vsock-agent.c) ---- */

enum mode {
    MODE_GUEST, /* inside a VM */
    MODE_FD,    /* --fd N: tests on the host */
    MODE_HOST,  /* --listen PATH: a stand-in for a whole VM (fake VMM) */
};

extern enum mode mode;
/* PID 1's mount namespace (guest mode); commands run there. */
extern int init_mntns_fd;
extern int devnull_fd;
extern int signal_fd;
extern int64_t shutdown_at; /* force the shutdown at this time; 0: none */
extern int shutdown_cmd;    /* RB_POWER_OFF or RB_AUTOBOOT */
/* Host mode --home DIR: HOME of the commands instead of /root (agent-util.c). */
extern const char *agent_home;

/* ---- the main loop and its modules (agent-loop.c) ---- */

/* A part of the agent with fds, deadlines, children or channels of its
 * own. Every hook may be NULL. */
struct agent_module {
    const char *name;
    void (*poll)(void);                     /* add this turn's fds (agent_poll_add) */
    void (*timers)(int64_t now);            /* act on deadlines passed; agent_wake_at the next */
    bool (*reaped)(pid_t pid, int status);  /* a child exited: true when it was this module's */
    void (*host_lost)(void);                /* the host connection went away */
    bool (*channel_busy)(uint32_t channel); /* a stream of this module runs on the channel */
    void (*sweep)(void);                    /* free what ended during this turn */
};
void agent_register(const struct agent_module *m);

/* Called when fd is ready; data and tag are what the module passed. */
typedef void (*AgentReadyFn)(void *data, int fd, short revents, int tag);
/* Adds fd to this turn's poll() set. */
void agent_poll_add(int fd, short events, AgentReadyFn fn, void *data, int tag);
/* This turn's poll() returns by @at (now_ms() time) at the latest. */
void agent_wake_at(int64_t at);

/* One turn of the loop: agent_loop_timers (the poll() timeout),
 * agent_loop_begin, the loop's own fds, agent_loop_poll (the modules' fds,
 * then poll(); false: retry the turn), agent_loop_dispatch (every ready
 * fd's callback in the order added, then the modules' sweep). */
int agent_loop_timers(int64_t now);
void agent_loop_begin(void);
bool agent_loop_poll(int timeout);
void agent_loop_dispatch(void);
/* A reaped child, handed to the module it belongs to. */
void agent_child_exited(pid_t pid, int status);
/* The host went away: modules drop what was bound to its connection. */
void agent_host_lost(void);
/* Where to report a bad request: its channel, or 0 when a module's stream
 * runs there (an ERROR would end that channel for the host). */
uint32_t error_channel(uint32_t channel);

/* ---- utilities (agent-util.c) ---- */

__attribute__((format(printf, 1, 2))) void warn(const char *fmt, ...);
int64_t now_ms(void);
void sleep_ms(int ms);
/* Reads a small file into buf (NUL-terminated); -1 on failure. */
ssize_t read_file(const char *path, char *buf, size_t size);
void chomp(char *s);
void set_nonblock(int fd);
void close_fd(int *fd);
/* The root of PID 1; "/" outside a guest. */
const char *init_root(void);
/* A field's value as a string; NULL when it holds a NUL byte. */
char *field_str(const uint8_t *val, uint32_t len);
void free_strv(char **v, size_t n);
/* Puts "KEY=VALUE" into env (which has room), replacing the same key. */
void env_set(char **env, size_t *n, char *kv);
/* The payload is a well-formed field list. */
bool fields_ok(const uint8_t *payload, size_t len);

/* What a child could not do, sent through its close-on-exec status pipe. */
enum child_stage { STAGE_SETUP, STAGE_NAMESPACE, STAGE_CWD, STAGE_EXEC };
struct child_failure {
    int stage;
    int err;
};
_Noreturn void child_fail(int status_fd, int stage);
/* In a new child: undo the agent's own settings, enter the init's world,
 * and start a new session (so signals reach the whole group). */
void child_prepare(int status_fd);
/* PATH, HOME and LANG; the strings are static, the array is malloc'ed. */
char **default_env(void);
/* Runs a program of the agent's own (poweroff), reaped like any child. */
void run_detached(const char *prog);

/* ---- the host connection (agent-transport.c) ---- */

enum transport_kind { T_FD, T_SERIAL, T_VSOCK, T_UNIX };

struct agent_transport {
    enum transport_kind kind;
    int fd;             /* the connection; -1 while there is none */
    int listen_fd;      /* vsock */
    bool lost;          /* the connection went away; the main loop cleans up */
    bool waiting;       /* virtio-serial: no host connected; look again later */
    int backoff_ms;
    int64_t next_check;
    char name[384];     /* for the "ready" line */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* T_UNIX: the socket */
};
extern struct agent_transport tr;

/* Whole frames, written blocking; a failure marks the connection lost. */
void send_frame(uint16_t type, uint32_t channel, const void *payload, size_t len);
/* Sends a field list and clears it. */
void send_buf(uint16_t type, uint32_t channel, BgrAgentBuf *b);
__attribute__((format(printf, 3, 4))) void send_error(uint32_t channel, int err, const char *fmt, ...);
/* Reads what the host sent and handles every whole frame (handle_frame). */
void read_transport(void);
void connection_lost(void);
void serial_check(void);
void accept_host(void);
bool open_unix(const char *path);
/* Guest mode: waits for virtio-serial or vsock to appear. */
void find_transport(void);
/* Who handles each frame from the host (banger-vsock-agent.c sets it). */
typedef void (*AgentFrameFn)(const BgrAgentHeader *h, const uint8_t *payload);
void transport_set_frame_handler(AgentFrameFn fn);

/* ---- EXEC (agent-exec.c) ---- */

extern const struct agent_module exec_module;
void exec_start(uint32_t channel, const uint8_t *payload, size_t len);
void exec_stdin_frame(uint32_t channel, const uint8_t *data, size_t len);
/* Whether the loop leaves the host's stream unread this turn (set by the
 * exec module's timers): a command is working through a full stdin buffer. */
bool exec_stdin_paused(void);
void handle_signal_request(uint32_t channel, const uint8_t *payload, size_t len);
/* PTY: the master side of the terminal of the command on channel; -1: none. */
int exec_tty_fd(uint32_t channel);

/* ---- EXEC with PTY (agent-pty.c) ---- */

struct exec_pty {
    bool on;
    int rows, cols;  /* 0: 24x80 */
    int slave, tty;  /* the child's side; a spare master for RESIZE */
};
/* Takes PTY, ROWS and COLS from an EXEC (false: out of range). */
bool pty_field(struct exec_pty *p, uint16_t tag, const uint8_t *val, uint32_t len);
/* A new terminal: *out_fd reads it, *in_fd (with stdin) types into it. */
bool pty_open(struct exec_pty *p, int *out_fd, int *in_fd, bool want_stdin);
/* In the child: the terminal becomes its controlling terminal and 0-2. */
void pty_child(struct exec_pty *p, int status_fd);
/* In the agent after fork: the fd kept for RESIZE (-1 without PTY). */
int pty_parent(struct exec_pty *p);
void pty_parent_abort(struct exec_pty *p);
/* A command's pipes, or its terminal when @p->on ([0] read end, [1] write
 * end, close-on-exec; out_p[0] and in_p[1] stay with the agent; in_p only
 * with @want_stdin or without /dev/null): false after an ERROR on @ch. */
bool stdio_open(uint32_t ch, struct exec_pty *p, bool want_stdin, int status_p[2], int out_p[2],
                int err_p[2], int in_p[2]);
/* In the child: its 0-2 from those pipes, or the terminal. */
void stdio_child(struct exec_pty *p, int status_fd, int out_p[2], int err_p[2], int in_p[2]);
/* RESIZE for the command on @channel, whose terminal is @fd (-1: none). */
void pty_resize_request(int fd, uint32_t channel, const uint8_t *payload, size_t len);

/* ---- TCP_CONNECT (agent-tunnel.c) ---- */

extern const struct agent_module tunnel_module;
bool tunnel_in_use(uint32_t channel);
void tunnel_start(uint32_t channel, const uint8_t *payload, size_t len);
void tunnel_data_frame(uint32_t channel, const uint8_t *data, size_t len);
void tunnel_close_request(uint32_t channel);
void tunnel_poll(void);
void tunnel_timers(int64_t now);
void tunnel_drop_all(void);
void tunnel_sweep(void);

/* ---- guest facts (agent-facts.c) ---- */

void send_ready(uint32_t channel);
void send_ports(uint32_t channel);
void send_stats(uint32_t channel);

/* ---- the guest system (agent-system.c) ---- */

_Noreturn void host_power_off(bool reboot_);
void start_shutdown(uint32_t channel, const uint8_t *payload, size_t len);
void force_shutdown(void);
void setup_guest_namespace(void);
void setup_process(void);

#endif
