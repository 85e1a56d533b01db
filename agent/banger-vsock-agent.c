/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-vsock-agent: the program banger talks to inside a VM. It runs
 * commands for the host (exec with stdin/stdout/stderr streaming, signals,
 * timeouts), reports facts about the guest (kernel, OS, addresses, listening
 * ports, load) and shuts the guest down cleanly. The wire format is in
 * libbanger/agent-proto/bgr-agent-proto.h; docs/agent-protocol.md describes
 * the protocol and the rules this program follows.
 *
 * Transports: the virtio-serial port named BGR_AGENT_SERIAL_NAME (QEMU) or
 * an AF_VSOCK listener on BGR_AGENT_VSOCK_PORT (Firecracker), or, for the
 * tests on the host, an inherited socket (--fd N) or a unix socket it listens
 * on (--listen PATH: host mode, where the agent stands in for a whole VM for
 * banger's fake VMM driver).
 *
 * banger starts it with init=/.banger/banger-vsock-agent. As PID 1 it forks:
 * the parent execs the guest's real init (so that stays PID 1 and needs no
 * preparation) and the child becomes the agent. The agent works in a private
 * mount namespace, where it may mount /proc, /sys and /dev without touching
 * the init's view, and runs commands in PID 1's mount namespace.
 *
 * It is a single-threaded poll() loop, plain libc and linked statically: the
 * guest may have no libc we could use, or a different one.
 */
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
/* How long the init gets to shut down before the agent forces it. */
#define SHUTDOWN_GRACE_MS 15000
/* Looking for a transport, and for a host on virtio-serial. */
#define FIND_BACKOFF_MIN_MS 20
#define FIND_BACKOFF_MAX_MS 500
#define SERIAL_BACKOFF_MAX_MS 200

/* ---- logging ---- */

static void vlog(const char *fmt, va_list ap)
{
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

__attribute__((format(printf, 1, 2))) static void warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- global state ---- */

enum mode {
    MODE_GUEST, /* inside a VM */
    MODE_FD,    /* --fd N: tests on the host */
    MODE_HOST,  /* --listen PATH: a stand-in for a whole VM (fake VMM) */
};

static enum mode mode = MODE_GUEST;
/* PID 1's mount namespace (guest mode); commands run there. */
static int init_mntns_fd = -1;
static int devnull_fd = -1;
static int signal_fd = -1;
static int64_t shutdown_at;      /* force the shutdown at this time; 0: none */
static int shutdown_cmd;         /* RB_POWER_OFF or RB_AUTOBOOT */

enum transport_kind { T_FD, T_SERIAL, T_VSOCK, T_UNIX };

static struct {
    enum transport_kind kind;
    int fd;             /* the connection; -1 while there is none */
    int listen_fd;      /* vsock */
    bool lost;          /* the connection went away; the main loop cleans up */
    bool waiting;       /* virtio-serial: no host connected; look again later */
    int backoff_ms;
    int64_t next_check;
    char name[384];     /* for the "ready" line */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* T_UNIX: the socket */
} tr = { .fd = -1, .listen_fd = -1 };

/* Received bytes not yet handled: at most one whole frame plus a little. */
static uint8_t rx[BGR_AGENT_HEADER_SIZE + BGR_AGENT_MAX_PAYLOAD];
static size_t rx_len;

/* ---- sending ---- */

/* Waits until the transport takes more bytes; false when the peer is gone
 * (virtio-serial reports POLLHUP while no host is connected). */
static bool wait_writable(void)
{
    struct pollfd p = { .fd = tr.fd, .events = POLLOUT };
    for (;;) {
        int n = poll(&p, 1, -1);
        if (n < 0 && errno == EINTR)
            continue;
        return n > 0 && (p.revents & POLLOUT) && !(p.revents & (POLLERR | POLLNVAL));
    }
}

/* Whole frames, written blocking. A failed write marks the connection lost;
 * the cleanup happens in the main loop, never in the middle of a handler. */
static void send_frame(uint16_t type, uint32_t channel, const void *payload, size_t len)
{
    if (tr.fd < 0 || tr.lost || tr.waiting)
        return;
    uint8_t hdr[BGR_AGENT_HEADER_SIZE];
    bgr_agent_header_encode(hdr, type, channel, (uint32_t)len);
    struct iovec iov[2] = { { hdr, sizeof hdr }, { (void *)payload, len } };
    struct iovec *v = iov;
    int count = len > 0 ? 2 : 1;
    while (count > 0) {
        ssize_t n = writev(tr.fd, v, count);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN && wait_writable())
                continue;
            tr.lost = true;
            return;
        }
        size_t done = (size_t)n;
        while (count > 0 && done >= v->iov_len) {
            done -= v->iov_len;
            v++;
            count--;
        }
        if (count > 0) {
            v->iov_base = (uint8_t *)v->iov_base + done;
            v->iov_len -= done;
        }
    }
}

/* A field list. If it outgrew the payload limit, what fitted is sent: the
 * buffer stops taking fields once one fails, so it is still well formed. */
static void send_buf(uint16_t type, uint32_t channel, BgrAgentBuf *b)
{
    if (b->failed && b->len == 0 && b->data == NULL)
        warn("out of memory building a %s reply", bgr_agent_msg_name(type));
    send_frame(type, channel, b->data, b->len);
    bgr_agent_buf_clear(b);
}

__attribute__((format(printf, 3, 4))) static void send_error(uint32_t channel, int err, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    BgrAgentBuf b;
    bgr_agent_buf_init(&b);
    bgr_agent_buf_put_str(&b, BGR_AGENT_F_MESSAGE, msg);
    if (err != 0)
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_ERRNO, err);
    send_buf(BGR_AGENT_MSG_ERROR, channel, &b);
}

/* ---- small file helpers ---- */

/* Reads a small file into buf (NUL-terminated); -1 on failure. */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t used = 0;
    while (used < size - 1) {
        ssize_t n = read(fd, buf + used, size - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    buf[used] = '\0';
    return (ssize_t)used;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* The root of PID 1 (which may differ from ours: a private namespace, or an
 * agent started in a service's sandbox); "/" in --fd mode. */
static const char *init_root(void)
{
    return mode == MODE_GUEST ? "/proc/1/root" : "/";
}

/* ---- child processes ---- */

/* What a child could not do, sent through its close-on-exec status pipe. */
enum child_stage { STAGE_SETUP, STAGE_NAMESPACE, STAGE_CWD, STAGE_EXEC };
struct child_failure {
    int stage;
    int err;
};

static void child_fail(int status_fd, int stage)
{
    struct child_failure f = { stage, errno };
    if (status_fd >= 0) {
        ssize_t n = write(status_fd, &f, sizeof f);
        (void)n;
    }
    _exit(127);
}

/* In a new child: undo what the agent changed for itself and move into the
 * init's world (guest mode): its mount namespace and its root. */
static void child_prepare(int status_fd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (mode == MODE_GUEST && init_mntns_fd >= 0) {
        /* Opened before setns: PID 1's root as a path in its namespace,
         * which is also right when the init has chrooted. */
        int root = open("/proc/1/root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (setns(init_mntns_fd, CLONE_NEWNS) < 0)
            child_fail(status_fd, STAGE_NAMESPACE);
        if (root >= 0 && (fchdir(root) < 0 || chroot(".") < 0))
            child_fail(status_fd, STAGE_NAMESPACE);
        if (root >= 0)
            close(root);
    }
    setsid(); /* its own session and process group: SIGNAL and timeouts hit all of it */
}

static char **default_env(void)
{
    static const char *const defaults[] = { DEFAULT_PATH_ENV, "HOME=/root", "LANG=C.UTF-8" };
    size_t n = sizeof defaults / sizeof defaults[0];
    char **env = calloc(n + 1, sizeof *env);
    for (size_t i = 0; env && i < n; i++)
        env[i] = (char *)defaults[i];
    return env;
}

/* A program the agent starts for itself (poweroff): nobody reads its output
 * or waits for it beyond reaping. */
static void run_detached(const char *prog)
{
    pid_t pid = fork();
    if (pid < 0) {
        warn("cannot run %s: fork: %s", prog, strerror(errno));
        return;
    }
    if (pid > 0)
        return;
    child_prepare(-1);
    if (devnull_fd >= 0)
        dup2(devnull_fd, 0);
    if (chdir("/") < 0)
        _exit(127);
    char **env = default_env();
    if (env)
        environ = env;
    execlp(prog, prog, (char *)NULL);
    warn("cannot run %s: %s", prog, strerror(errno));
    _exit(127);
}

/* ---- execs ---- */

struct exec {
    uint32_t channel;
    pid_t pid;
    bool done;        /* EXIT or ERROR sent, or abandoned; freed at the end of the loop turn */
    bool timed_out;
    int status_fd;    /* status pipe; -1 once the exec is known to have worked */
    int out_fd, err_fd, in_fd;
    uint8_t *in_buf;  /* STDIN bytes the child's pipe did not take yet */
    size_t in_off, in_len, in_cap;
    bool in_eof;      /* close stdin once in_buf is written */
    int64_t deadline; /* TIMEOUT_MS; 0: none */
    char *what;       /* argv[0], for messages */
    char *cwd;
};

static struct exec **execs;
static size_t n_execs, cap_execs;

static struct exec *find_exec(uint32_t channel)
{
    for (size_t i = 0; i < n_execs; i++)
        if (!execs[i]->done && execs[i]->channel == channel)
            return execs[i];
    return NULL;
}

/* Where to report a bad request: its channel, unless a command runs there
 * (an ERROR would end that channel for the host), then channel 0. */
static uint32_t error_channel(uint32_t channel)
{
    return find_exec(channel) ? 0 : channel;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void exec_close_stdin(struct exec *e)
{
    close_fd(&e->in_fd);
    free(e->in_buf);
    e->in_buf = NULL;
    e->in_off = e->in_len = e->in_cap = 0;
}

/* The channel is over: nothing more is sent on it and it may be reused. */
static void exec_finish(struct exec *e)
{
    close_fd(&e->status_fd);
    close_fd(&e->out_fd);
    close_fd(&e->err_fd);
    exec_close_stdin(e);
    e->done = true;
}

/* Before the child's setsid() its group does not exist yet: then the child
 * itself is the whole of it. */
static void kill_group(struct exec *e, int sig)
{
    if (kill(-e->pid, sig) < 0 && errno == ESRCH)
        kill(e->pid, sig);
}

static void exec_free(struct exec *e)
{
    exec_finish(e);
    free(e->what);
    free(e->cwd);
    free(e);
}

/* Looks at the status pipe of a starting exec. 1: it runs (STARTED was
 * sent now or before), 0: not known yet, -1: it failed (ERROR sent, the
 * channel is over). @dead: the child is gone, so "not known" means it ran. */
static int exec_check_started(struct exec *e, bool dead)
{
    if (e->status_fd < 0)
        return 1;
    struct child_failure f;
    ssize_t n;
    do
        n = read(e->status_fd, &f, sizeof f);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN && !dead)
        return 0;
    close_fd(&e->status_fd);
    if (n == (ssize_t)sizeof f) {
        switch (f.stage) {
        case STAGE_EXEC:
            send_error(e->channel, f.err, "cannot run '%s': %s", e->what, strerror(f.err));
            break;
        case STAGE_CWD:
            send_error(e->channel, f.err, "cannot change directory to '%s': %s", e->cwd, strerror(f.err));
            break;
        case STAGE_NAMESPACE:
            send_error(e->channel, f.err, "cannot enter the init's mount namespace: %s", strerror(f.err));
            break;
        default:
            send_error(e->channel, f.err, "cannot set up '%s': %s", e->what, strerror(f.err));
            break;
        }
        exec_finish(e); /* the child _exits; it is reaped like any other */
        return -1;
    }
    BgrAgentBuf b;
    bgr_agent_buf_init(&b);
    bgr_agent_buf_put_int(&b, BGR_AGENT_F_PID, e->pid);
    send_buf(BGR_AGENT_MSG_STARTED, e->channel, &b);
    return 1;
}

/* One read from a child's stdout/stderr, forwarded as one frame. Returns
 * the bytes read; 0 at EOF or on an error (the pipe is then closed); -1
 * when nothing is there now. */
static ssize_t exec_read_output(struct exec *e, int *fd, uint16_t type)
{
    static uint8_t buf[OUTPUT_CHUNK];
    if (*fd < 0)
        return 0;
    ssize_t n;
    do
        n = read(*fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return -1;
    if (n <= 0) {
        close_fd(fd);
        return 0;
    }
    send_frame(type, e->channel, buf, (size_t)n);
    return n;
}

/* After the child exited: what is in its pipes now, without waiting for
 * EOF (a background grandchild may hold them open for ever). */
static void exec_drain(struct exec *e, int *fd, uint16_t type)
{
    size_t total = 0;
    ssize_t n;
    while (total < DRAIN_LIMIT && (n = exec_read_output(e, fd, type)) > 0)
        total += (size_t)n;
}

static void exec_exited(struct exec *e, int status)
{
    if (exec_check_started(e, true) < 0)
        return;
    exec_drain(e, &e->out_fd, BGR_AGENT_MSG_STDOUT);
    exec_drain(e, &e->err_fd, BGR_AGENT_MSG_STDERR);
    BgrAgentBuf b;
    bgr_agent_buf_init(&b);
    bgr_agent_buf_put_int(&b, BGR_AGENT_F_EXIT_CODE, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    bgr_agent_buf_put_int(&b, BGR_AGENT_F_SIGNAL, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    bgr_agent_buf_put_int(&b, BGR_AGENT_F_TIMED_OUT, e->timed_out ? 1 : 0);
    exec_finish(e); /* before sending: the host may reuse the channel at once */
    send_buf(BGR_AGENT_MSG_EXIT, e->channel, &b);
}

/* Writes buffered STDIN into the child's pipe as far as it goes now. */
static void exec_flush_stdin(struct exec *e)
{
    while (e->in_fd >= 0 && e->in_off < e->in_len) {
        ssize_t n = write(e->in_fd, e->in_buf + e->in_off, e->in_len - e->in_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) { /* EPIPE: the child closed its stdin; drop the rest */
            exec_close_stdin(e);
            return;
        }
        e->in_off += (size_t)n;
    }
    e->in_off = e->in_len = 0;
    if (e->in_eof)
        exec_close_stdin(e);
}

static void exec_stdin(struct exec *e, const uint8_t *data, size_t len)
{
    if (e->in_fd < 0 || e->in_eof)
        return;
    if (len == 0) {
        e->in_eof = true;
        exec_flush_stdin(e);
        return;
    }
    size_t pending = e->in_len - e->in_off;
    if (pending + len > STDIN_BUFFER_MAX) {
        send_error(0, ENOBUFS, "channel %u: the command is not reading its stdin and %u bytes are waiting; "
                   "stdin closed", e->channel, STDIN_BUFFER_MAX);
        exec_close_stdin(e);
        return;
    }
    if (e->in_off > 0 && e->in_len + len > e->in_cap) {
        memmove(e->in_buf, e->in_buf + e->in_off, pending);
        e->in_off = 0;
        e->in_len = pending;
    }
    if (e->in_len + len > e->in_cap) {
        size_t cap = e->in_cap ? e->in_cap : 65536;
        while (cap < e->in_len + len)
            cap *= 2;
        uint8_t *nb = realloc(e->in_buf, cap);
        if (!nb) {
            send_error(0, ENOMEM, "channel %u: out of memory buffering stdin; stdin closed", e->channel);
            exec_close_stdin(e);
            return;
        }
        e->in_buf = nb;
        e->in_cap = cap;
    }
    memcpy(e->in_buf + e->in_len, data, len);
    e->in_len += len;
    exec_flush_stdin(e);
}

/* A field's value as a string; NULL when it holds a NUL byte. */
static char *field_str(const uint8_t *val, uint32_t len)
{
    if (memchr(val, '\0', len))
        return NULL;
    char *s = malloc((size_t)len + 1);
    if (s) {
        memcpy(s, val, len);
        s[len] = '\0';
    }
    return s;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* Puts "KEY=VALUE" into env (which has room), replacing an entry with the
 * same key. */
static void env_set(char **env, size_t *n, char *kv)
{
    size_t klen = (size_t)(strchr(kv, '=') - kv);
    for (size_t i = 0; i < *n; i++) {
        if (strncmp(env[i], kv, klen) == 0 && env[i][klen] == '=') {
            env[i] = kv;
            return;
        }
    }
    env[(*n)++] = kv;
}

static void exec_start(uint32_t channel, const uint8_t *payload, size_t len)
{
    if (channel == 0) {
        send_error(0, EINVAL, "EXEC needs a channel above 0");
        return;
    }
    if (find_exec(channel)) {
        send_error(channel, EBUSY, "channel %u is in use", channel);
        return;
    }

    BgrAgentFieldIter it;
    uint16_t tag;
    const uint8_t *val;
    uint32_t vlen;
    size_t nargs = 0, nenv = 0;
    bgr_agent_fields_init(&it, payload, len);
    while (bgr_agent_fields_next(&it, &tag, &val, &vlen) > 0) {
        nargs += tag == BGR_AGENT_F_ARG;
        nenv += tag == BGR_AGENT_F_ENV;
    }
    if (nargs == 0) {
        send_error(channel, EINVAL, "EXEC without ARG");
        return;
    }

    char **argv = calloc(nargs + 1, sizeof *argv);
    char **envs = calloc(nenv + 1, sizeof *envs);  /* the ENV strings we own */
    char **envp = calloc(nenv + 4, sizeof *envp);  /* defaults + ENV, borrowed */
    char *cwd = NULL;
    int64_t timeout = 0, want_stdin = 0;
    size_t ia = 0, ie = 0, ne = 0;
    const char *bad = NULL;
    if (!argv || !envs || !envp)
        bad = "out of memory";
    bgr_agent_fields_init(&it, payload, len);
    while (!bad && bgr_agent_fields_next(&it, &tag, &val, &vlen) > 0) {
        switch (tag) {
        case BGR_AGENT_F_ARG:
            if (!(argv[ia++] = field_str(val, vlen)))
                bad = "ARG holds a NUL byte";
            break;
        case BGR_AGENT_F_ENV:
            if (!(envs[ie] = field_str(val, vlen)))
                bad = "ENV holds a NUL byte";
            else if (!strchr(envs[ie], '=') || envs[ie][0] == '=')
                bad = "ENV is not KEY=VALUE";
            ie++;
            break;
        case BGR_AGENT_F_CWD:
            free(cwd);
            if (!(cwd = field_str(val, vlen)) || !*cwd)
                bad = "CWD is empty or holds a NUL byte";
            break;
        case BGR_AGENT_F_TIMEOUT_MS:
            if (bgr_agent_field_int(val, vlen, &timeout) < 0 || timeout < 0)
                bad = "TIMEOUT_MS is not a non-negative integer";
            break;
        case BGR_AGENT_F_STDIN:
            if (bgr_agent_field_int(val, vlen, &want_stdin) < 0 || (want_stdin != 0 && want_stdin != 1))
                bad = "STDIN is not 0 or 1";
            break;
        default: /* unknown fields are skipped */
            break;
        }
    }
    char **defaults = bad ? NULL : default_env();
    if (!bad && !defaults)
        bad = "out of memory";
    if (bad) {
        send_error(channel, EINVAL, "bad EXEC: %s", bad);
        goto out;
    }
    for (char **d = defaults; *d; d++)
        envp[ne++] = *d;
    for (size_t i = 0; i < ie; i++)
        env_set(envp, &ne, envs[i]);

    /* Pipes: [0] read end, [1] write end; all close-on-exec, dup2 onto
     * 0-2 gives the child its copies. */
    int status_p[2] = { -1, -1 }, out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 }, in_p[2] = { -1, -1 };
    if (pipe2(status_p, O_CLOEXEC) < 0 || pipe2(out_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0 ||
        ((want_stdin || devnull_fd < 0) && pipe2(in_p, O_CLOEXEC) < 0)) {
        send_error(channel, errno, "cannot create pipes: %s", strerror(errno));
        goto close_pipes;
    }
    if (!want_stdin && devnull_fd < 0)
        close_fd(&in_p[1]); /* no /dev/null: an empty pipe reads as EOF just the same */

    struct exec *e = calloc(1, sizeof *e);
    if (n_execs == cap_execs) {
        size_t cap = cap_execs ? cap_execs * 2 : 8;
        struct exec **ne_ = realloc(execs, cap * sizeof *execs);
        if (ne_) {
            execs = ne_;
            cap_execs = cap;
        }
    }
    if (!e || n_execs == cap_execs || !(e->what = strdup(argv[0])) || !(e->cwd = strdup(cwd ? cwd : "/"))) {
        if (e) {
            free(e->what);
            free(e);
        }
        send_error(channel, ENOMEM, "out of memory");
        goto close_pipes;
    }

    pid_t pid = fork();
    if (pid < 0) {
        send_error(channel, errno, "cannot fork: %s", strerror(errno));
        free(e->what);
        free(e->cwd);
        free(e);
        goto close_pipes;
    }
    if (pid == 0) {
        child_prepare(status_p[1]);
        int in = in_p[0] >= 0 ? in_p[0] : devnull_fd;
        if (dup2(in, 0) < 0 || dup2(out_p[1], 1) < 0 || dup2(err_p[1], 2) < 0)
            child_fail(status_p[1], STAGE_SETUP);
        if (chdir(cwd ? cwd : "/") < 0)
            child_fail(status_p[1], STAGE_CWD);
        environ = envp; /* execvp searches the PATH of the new environment */
        execvp(argv[0], argv);
        child_fail(status_p[1], STAGE_EXEC);
    }

    close(status_p[1]);
    close(out_p[1]);
    close(err_p[1]);
    close_fd(&in_p[0]);
    e->channel = channel;
    e->pid = pid;
    e->status_fd = status_p[0];
    e->out_fd = out_p[0];
    e->err_fd = err_p[0];
    e->in_fd = in_p[1];
    if (timeout > INT64_MAX / 4)
        timeout = INT64_MAX / 4; /* far enough, and no overflow */
    e->deadline = timeout > 0 ? now_ms() + timeout : 0;
    for (int *fd = &e->status_fd; fd <= &e->in_fd; fd++)
        if (*fd >= 0)
            set_nonblock(*fd);
    execs[n_execs++] = e;
    goto out;

close_pipes:
    for (int i = 0; i < 2; i++) {
        close_fd(&status_p[i]);
        close_fd(&out_p[i]);
        close_fd(&err_p[i]);
        close_fd(&in_p[i]);
    }
out:
    free(defaults);
    free_strv(argv, nargs);
    free_strv(envs, nenv);
    free(envp);
    free(cwd);
}

/* ---- guest facts ---- */

/* /etc/os-release values: KEY=VALUE, VALUE optionally quoted with
 * shell-style backslash escapes inside double quotes. */
static void os_release_value(char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        char q = v[0];
        char *w = v;
        for (char *r = v + 1; r < v + n - 1; r++) {
            if (q == '"' && *r == '\\' && r + 1 < v + n - 1 && strchr("\"\\$`", r[1]))
                r++;
            *w++ = *r;
        }
        *w = '\0';
    }
}

static void put_os_release(BgrAgentBuf *b)
{
    char p1[64], p2[64];
    snprintf(p1, sizeof p1, "%s/etc/os-release", mode == MODE_GUEST ? "/proc/1/root" : "");
    snprintf(p2, sizeof p2, "%s/usr/lib/os-release", mode == MODE_GUEST ? "/proc/1/root" : "");
    /* Tests: host mode (the fake VMM) may read another file, e.g. one
     * with a hostile PRETTY_NAME. A real guest never looks. */
    const char *test_path = mode == MODE_HOST ? getenv("BANGER_AGENT_OS_RELEASE") : NULL;
    FILE *f = test_path && *test_path ? fopen(test_path, "re") : fopen(p1, "re");
    if (!f && !(test_path && *test_path))
        f = fopen(p2, "re");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        chomp(line);
        static const struct {
            const char *key;
            uint16_t tag;
        } keys[] = {
            { "ID=", BGR_AGENT_F_OS_ID },
            { "VERSION_ID=", BGR_AGENT_F_OS_VERSION_ID },
            { "PRETTY_NAME=", BGR_AGENT_F_OS_PRETTY },
        };
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            size_t kl = strlen(keys[i].key);
            if (strncmp(line, keys[i].key, kl) == 0) {
                os_release_value(line + kl);
                bgr_agent_buf_put_str(b, keys[i].tag, line + kl);
            }
        }
    }
    free(line);
    fclose(f);
}

static int prefix_len(const struct sockaddr *mask)
{
    const uint8_t *p;
    size_t n;
    if (!mask)
        return 0;
    if (mask->sa_family == AF_INET) {
        p = (const uint8_t *)&((const struct sockaddr_in *)mask)->sin_addr;
        n = 4;
    } else {
        p = (const uint8_t *)&((const struct sockaddr_in6 *)mask)->sin6_addr;
        n = 16;
    }
    int bits = 0;
    for (size_t i = 0; i < n; i++)
        bits += __builtin_popcount(p[i]);
    return bits;
}

static void put_addresses(BgrAgentBuf *b)
{
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) < 0)
        return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
            continue;
        int fam = i->ifa_addr->sa_family;
        if (fam != AF_INET && fam != AF_INET6)
            continue;
        char addr[INET6_ADDRSTRLEN], line[IF_NAMESIZE + INET6_ADDRSTRLEN + 16];
        const void *a = fam == AF_INET ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
                                       : (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
        if (!inet_ntop(fam, a, addr, sizeof addr))
            continue;
        snprintf(line, sizeof line, "%s %s/%d", i->ifa_name, addr, prefix_len(i->ifa_netmask));
        bgr_agent_buf_put_str(b, BGR_AGENT_F_ADDR, line);
    }
    freeifaddrs(ifs);
}

static int64_t uptime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void send_ready(uint32_t channel)
{
    BgrAgentBuf b;
    struct utsname u;
    bgr_agent_buf_init(&b);
    bgr_agent_buf_put_int(&b, BGR_AGENT_F_VERSION, BGR_AGENT_PROTOCOL_VERSION);
    bgr_agent_buf_put_str(&b, BGR_AGENT_F_AGENT_VERSION, BANGER_AGENT_VERSION);
    if (uname(&u) == 0) {
        char all[sizeof u.sysname * 5 + 8];
        snprintf(all, sizeof all, "%s %s %s %s %s", u.sysname, u.nodename, u.release, u.version, u.machine);
        bgr_agent_buf_put_str(&b, BGR_AGENT_F_KERNEL, u.release);
        bgr_agent_buf_put_str(&b, BGR_AGENT_F_UNAME, all);
        bgr_agent_buf_put_str(&b, BGR_AGENT_F_HOSTNAME, u.nodename);
    }
    put_os_release(&b);
    put_addresses(&b);
    bgr_agent_buf_put_int(&b, BGR_AGENT_F_UPTIME_MS, uptime_ms());
    send_buf(BGR_AGENT_MSG_READY, channel, &b);
}

/* ---- listening ports ---- */

struct sock {
    char line[160]; /* "PROTO ADDR PORT" */
    unsigned long inode;
    pid_t pid;
};

struct socks {
    struct sock *v;
    size_t n, cap;
};

/* One /proc/net/{tcp,udp}[6]: the sockets in @state. Addresses are the
 * kernel's 32-bit words printed in hex in host order; ports are plain. */
static void read_proc_net(struct socks *s, const char *file, const char *proto, unsigned state, bool v6)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/net/%s", file);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, f) < 0) { /* the column titles */
        free(line);
        fclose(f);
        return;
    }
    while (getline(&line, &cap, f) >= 0) {
        char hex[33];
        unsigned port, st;
        unsigned long inode;
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
        if (sscanf(line, " %*s %32[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %lu", hex, &port, &st,
                   &inode) != 4 ||
            st != state || port == 0 || strlen(hex) != (v6 ? 32u : 8u))
            continue;
        uint32_t words[4];
        for (int i = 0; i < (v6 ? 4 : 1); i++) {
            char w[9];
            memcpy(w, hex + 8 * i, 8);
            w[8] = '\0';
            words[i] = (uint32_t)strtoul(w, NULL, 16);
        }
        char addr[INET6_ADDRSTRLEN];
        if (!inet_ntop(v6 ? AF_INET6 : AF_INET, words, addr, sizeof addr))
            continue;
        if (s->n == s->cap) {
            size_t ncap = s->cap ? s->cap * 2 : 32;
            struct sock *nv = realloc(s->v, ncap * sizeof *nv);
            if (!nv)
                break;
            s->v = nv;
            s->cap = ncap;
        }
        struct sock *k = &s->v[s->n++];
        snprintf(k->line, sizeof k->line, "%s %s %u", proto, addr, port);
        k->inode = inode;
        k->pid = 0;
    }
    free(line);
    fclose(f);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Best effort: the first process found with an fd on each socket. */
static void find_owners(struct socks *s)
{
    size_t unknown = 0;
    for (size_t i = 0; i < s->n; i++)
        unknown += s->v[i].inode != 0;
    DIR *proc = opendir("/proc");
    struct dirent *pe;
    while (unknown > 0 && proc && (pe = readdir(proc))) {
        if (!all_digits(pe->d_name))
            continue;
        char dir[300];
        snprintf(dir, sizeof dir, "/proc/%s/fd", pe->d_name);
        DIR *fds = opendir(dir);
        struct dirent *fe;
        while (unknown > 0 && fds && (fe = readdir(fds))) {
            char link[600], target[64];
            unsigned long inode;
            if (fe->d_name[0] == '.')
                continue;
            snprintf(link, sizeof link, "%s/%s", dir, fe->d_name);
            ssize_t n = readlink(link, target, sizeof target - 1);
            if (n <= 0)
                continue;
            target[n] = '\0';
            if (sscanf(target, "socket:[%lu]", &inode) != 1 || inode == 0)
                continue;
            for (size_t i = 0; i < s->n; i++) {
                if (s->v[i].inode == inode && s->v[i].pid == 0) {
                    s->v[i].pid = (pid_t)atoi(pe->d_name);
                    unknown--;
                }
            }
        }
        if (fds)
            closedir(fds);
    }
    if (proc)
        closedir(proc);
}

static void send_ports(uint32_t channel)
{
    struct socks s = { 0 };
    read_proc_net(&s, "tcp", "tcp", 0x0A, false);  /* TCP_LISTEN */
    read_proc_net(&s, "tcp6", "tcp6", 0x0A, true);
    read_proc_net(&s, "udp", "udp", 0x07, false);  /* TCP_CLOSE: bound, not connected */
    read_proc_net(&s, "udp6", "udp6", 0x07, true);
    find_owners(&s);
    BgrAgentBuf b;
    bgr_agent_buf_init(&b);
    for (size_t i = 0; i < s.n; i++) {
        char comm[64] = "-", path[64], line[256];
        if (s.v[i].pid > 0) {
            snprintf(path, sizeof path, "/proc/%d/comm", (int)s.v[i].pid);
            if (read_file(path, comm, sizeof comm) > 0)
                chomp(comm);
            if (!comm[0])
                snprintf(comm, sizeof comm, "-");
        }
        snprintf(line, sizeof line, "%s %d %s", s.v[i].line, (int)s.v[i].pid, comm);
        bgr_agent_buf_put_str(&b, BGR_AGENT_F_PORT, line);
    }
    free(s.v);
    send_buf(BGR_AGENT_MSG_PORTS, channel, &b);
}

/* ---- stats ---- */

/* "1.23" -> 1230 (the kernel prints two decimals). */
static int64_t parse_milli(const char *s)
{
    char *end;
    int64_t v = (int64_t)strtoll(s, &end, 10) * 1000;
    if (*end == '.') {
        int64_t scale = 100;
        for (const char *p = end + 1; *p >= '0' && *p <= '9' && scale > 0; p++, scale /= 10)
            v += (*p - '0') * scale;
    }
    return v;
}

static void send_stats(uint32_t channel)
{
    BgrAgentBuf b;
    char text[4096];
    bgr_agent_buf_init(&b);

    unsigned long long user, nice, sys, idle, iowait = 0, irq = 0, softirq = 0;
    long clk = sysconf(_SC_CLK_TCK); /* USER_HZ: /proc/stat counts in these */
    unsigned long long hz = clk > 0 ? (unsigned long long)clk : 100;
    if (read_file("/proc/stat", text, sizeof text) > 0 &&
        sscanf(text, "cpu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iowait, &irq,
               &softirq) >= 4) {
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_CPU_USER_MS, (int64_t)((user + nice) * 1000 / hz));
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_CPU_SYSTEM_MS, (int64_t)((sys + irq + softirq) * 1000 / hz));
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_CPU_IDLE_MS, (int64_t)((idle + iowait) * 1000 / hz));
    }

    if (read_file("/proc/meminfo", text, sizeof text) > 0) {
        long long total = -1, avail = -1, free_ = 0, buffers = 0, cached = 0;
        for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
            sscanf(l, "MemTotal: %lld", &total);
            sscanf(l, "MemAvailable: %lld", &avail);
            sscanf(l, "MemFree: %lld", &free_);
            sscanf(l, "Buffers: %lld", &buffers);
            sscanf(l, "Cached: %lld", &cached);
        }
        if (avail < 0) /* kernels before 3.14 */
            avail = free_ + buffers + cached;
        if (total >= 0) {
            bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_MEM_TOTAL, total * 1024);
            bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_MEM_AVAILABLE, avail * 1024);
        }
    }

    if (read_file("/proc/loadavg", text, sizeof text) > 0)
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_LOAD1_MILLI, parse_milli(text));
    bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_UPTIME_MS, uptime_ms());

    struct statvfs vfs;
    if (statvfs(init_root(), &vfs) == 0) {
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_DISK_TOTAL, (int64_t)(vfs.f_blocks * vfs.f_frsize));
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_DISK_FREE, (int64_t)(vfs.f_bavail * vfs.f_frsize));
    }
    send_buf(BGR_AGENT_MSG_STATS, channel, &b);
}

/* ---- shutdown ---- */

static void drop_connection_state(void);

/* Host mode: the agent is the whole "VM", so powering off is killing every
 * process it started (as a subreaper, orphans of its commands are its
 * children too) and exiting. The last line is the one a Linux guest's
 * kernel prints, so that the console reads like a real VM's. */
static _Noreturn void host_power_off(bool reboot_)
{
    int64_t give_up = now_ms() + 5000;
    drop_connection_state();
    for (;;) {
        bool any = false;
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char path[64], buf[512];
            long pid = strtol(e->d_name, NULL, 10);
            if (pid <= 0)
                continue;
            snprintf(path, sizeof path, "/proc/%ld/stat", pid);
            if (read_file(path, buf, sizeof buf) < 0)
                continue;
            const char *rp = strrchr(buf, ')');
            char state;
            long ppid;
            if (!rp || sscanf(rp + 1, " %c %ld", &state, &ppid) != 2 || ppid != (long)getpid())
                continue;
            any = true;
            if (state != 'Z') {
                kill(-(pid_t)pid, SIGKILL);
                kill((pid_t)pid, SIGKILL);
            }
        }
        if (d)
            closedir(d);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (!any || now_ms() > give_up)
            break;
        sleep_ms(5);
    }
    if (tr.path[0])
        unlink(tr.path);
    fprintf(stderr, "reboot: %s\n", reboot_ ? "Restarting system" : "Power down");
    exit(0);
}

static void start_shutdown(uint32_t channel, const uint8_t *payload, size_t len)
{
    BgrAgentFieldIter it;
    uint16_t tag;
    const uint8_t *val;
    uint32_t vlen;
    bool reboot_ = false;
    bgr_agent_fields_init(&it, payload, len);
    while (bgr_agent_fields_next(&it, &tag, &val, &vlen) > 0) {
        if (tag != BGR_AGENT_F_MODE)
            continue;
        if (vlen == 6 && memcmp(val, "reboot", 6) == 0)
            reboot_ = true;
        else if (vlen == 8 && memcmp(val, "poweroff", 8) == 0)
            reboot_ = false;
        else {
            send_error(error_channel(channel), EINVAL, "unknown shutdown MODE '%.*s' (poweroff or reboot)",
                       (int)(vlen > 64 ? 64 : vlen), (const char *)val);
            return;
        }
    }
    if (mode == MODE_FD) {
        send_error(error_channel(channel), EPERM, "shutdown is only available inside a VM");
        return;
    }
    send_frame(BGR_AGENT_MSG_OK, channel, NULL, 0);
    warn("%s requested by the host", reboot_ ? "reboot" : "poweroff");
    if (mode == MODE_HOST)
        host_power_off(reboot_);
    sync();

    /* Ask the init the way it understands (systemd(1): SIGRTMIN+4 powers
     * off, SIGRTMIN+5 reboots; busybox init: SIGUSR2 powers off, SIGTERM
     * reboots), else run the distribution's command. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/1/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    if (strstr(base, "systemd"))
        kill(1, SIGRTMIN + (reboot_ ? 5 : 4));
    else if (strcmp(base, "busybox") == 0)
        kill(1, reboot_ ? SIGTERM : SIGUSR2);
    else
        run_detached(reboot_ ? "reboot" : "poweroff");

    int64_t at = now_ms() + SHUTDOWN_GRACE_MS;
    if (!shutdown_at || at < shutdown_at)
        shutdown_at = at;
    shutdown_cmd = reboot_ ? RB_AUTOBOOT : RB_POWER_OFF;
}

/* The init did not manage in time: do it ourselves. */
static void force_shutdown(void)
{
    warn("the init did not shut down within %d s; forcing %s", SHUTDOWN_GRACE_MS / 1000,
         shutdown_cmd == RB_AUTOBOOT ? "a reboot" : "power off");
    sync();
    if (reboot(shutdown_cmd) < 0)
        warn("reboot: %s", strerror(errno));
    shutdown_at = 0;
}

/* ---- incoming frames ---- */

static bool fields_ok(const uint8_t *payload, size_t len)
{
    BgrAgentFieldIter it;
    uint16_t tag;
    const uint8_t *val;
    uint32_t vlen;
    int rc;
    bgr_agent_fields_init(&it, payload, len);
    while ((rc = bgr_agent_fields_next(&it, &tag, &val, &vlen)) > 0)
        ;
    return rc == 0;
}

static void handle_signal_request(uint32_t channel, const uint8_t *payload, size_t len)
{
    struct exec *e = find_exec(channel);
    if (!e) /* it may have exited an instant ago */
        return;
    BgrAgentFieldIter it;
    uint16_t tag;
    const uint8_t *val;
    uint32_t vlen;
    int64_t sig = 0;
    bgr_agent_fields_init(&it, payload, len);
    while (bgr_agent_fields_next(&it, &tag, &val, &vlen) > 0)
        if (tag == BGR_AGENT_F_SIGNAL && bgr_agent_field_int(val, vlen, &sig) < 0)
            sig = 0;
    /* Errors go on channel 0: the exec on this channel carries on. */
    if (sig <= 0 || sig >= 65) {
        send_error(0, EINVAL, "SIGNAL for channel %u: no valid SIGNAL field", channel);
        return;
    }
    kill_group(e, (int)sig);
}

static void handle_frame(const BgrAgentHeader *h, const uint8_t *payload)
{
    uint32_t ch = h->channel;
    switch (h->type) {
    case BGR_AGENT_MSG_STDIN: {
        struct exec *e = find_exec(ch);
        if (e)
            exec_stdin(e, payload, h->length);
        return;
    }
    case BGR_AGENT_MSG_STDOUT:
    case BGR_AGENT_MSG_STDERR:
        send_error(error_channel(ch), EINVAL, "unexpected message type %u (%s) on channel %u", h->type,
                   bgr_agent_msg_name(h->type), ch);
        return;
    default:
        break;
    }

    if (!fields_ok(payload, h->length)) {
        send_error(error_channel(ch), EINVAL, "malformed %s payload on channel %u (a field runs past the end)",
                   bgr_agent_msg_name(h->type), ch);
        return;
    }
    switch (h->type) {
    case BGR_AGENT_MSG_HELLO: /* any VERSION: the host decides what to do with READY */
        send_ready(ch);
        break;
    case BGR_AGENT_MSG_EXEC:
        exec_start(ch, payload, h->length);
        break;
    case BGR_AGENT_MSG_SIGNAL:
        handle_signal_request(ch, payload, h->length);
        break;
    case BGR_AGENT_MSG_SHUTDOWN:
        start_shutdown(ch, payload, h->length);
        break;
    case BGR_AGENT_MSG_PING:
        send_frame(BGR_AGENT_MSG_PONG, ch, NULL, 0);
        break;
    case BGR_AGENT_MSG_PORTS_REQ:
        send_ports(ch);
        break;
    case BGR_AGENT_MSG_STATS_REQ:
        send_stats(ch);
        break;
    case BGR_AGENT_MSG_READY:
    case BGR_AGENT_MSG_STARTED:
    case BGR_AGENT_MSG_EXIT:
    case BGR_AGENT_MSG_ERROR:
    case BGR_AGENT_MSG_OK:
    case BGR_AGENT_MSG_PONG:
    case BGR_AGENT_MSG_PORTS:
    case BGR_AGENT_MSG_STATS:
        send_error(error_channel(ch), EINVAL, "unexpected message type %u (%s) on channel %u", h->type,
                   bgr_agent_msg_name(h->type), ch);
        break;
    default:
        if (error_channel(ch) == ch)
            send_error(ch, EINVAL, "unknown message type %u", h->type);
        else
            send_error(0, EINVAL, "unknown message type %u on channel %u", h->type, ch);
        break;
    }
}

/* Frames out of rx. A bad magic (garbage, or half a frame left from an
 * earlier connection) is skipped by scanning for the next magic; so is the
 * payload of a frame announcing more than BGR_AGENT_MAX_PAYLOAD. */
static void process_input(void)
{
    static const uint8_t magic[4] = { 'B', 'G', 'R', '1' };
    size_t off = 0;
    while (!tr.lost && rx_len - off >= BGR_AGENT_HEADER_SIZE) {
        BgrAgentHeader h;
        int rc = bgr_agent_header_decode(rx + off, &h);
        if (rc == -1) {
            const uint8_t *m = memmem(rx + off + 1, rx_len - off - 1, magic, sizeof magic);
            if (m) {
                off = (size_t)(m - rx);
                continue;
            }
            off = rx_len - (sizeof magic - 1); /* may be the start of a magic */
            break;
        }
        if (rc == -2) {
            send_error(0, EMSGSIZE,
                       "frame on channel %u announces %" PRIu32 " bytes, more than the limit of %u; skipped",
                       h.channel, h.length, BGR_AGENT_MAX_PAYLOAD);
            off += BGR_AGENT_HEADER_SIZE;
            continue;
        }
        if (rx_len - off - BGR_AGENT_HEADER_SIZE < h.length)
            break;
        handle_frame(&h, rx + off + BGR_AGENT_HEADER_SIZE);
        off += BGR_AGENT_HEADER_SIZE + h.length;
    }
    memmove(rx, rx + off, rx_len - off);
    rx_len -= off;
}

static void read_transport(void)
{
    if (rx_len == sizeof rx) /* cannot happen: a whole frame always fits */
        rx_len = 0;
    ssize_t n;
    do
        n = read(tr.fd, rx + rx_len, sizeof rx - rx_len);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) {
        tr.lost = true;
        return;
    }
    rx_len += (size_t)n;
    process_input();
}

/* ---- connections ---- */

/* The host went away (or was replaced): its execs go too. */
static void drop_connection_state(void)
{
    for (size_t i = 0; i < n_execs; i++) {
        struct exec *e = execs[i];
        if (e->done)
            continue;
        kill_group(e, SIGKILL);
        exec_finish(e); /* reaped later like any unknown child */
    }
    rx_len = 0;
    tr.lost = false;
}

static void connection_lost(void)
{
    drop_connection_state();
    switch (tr.kind) {
    case T_FD:
        exit(0);
    case T_SERIAL: {
        /* Throw away what the old host left unread, so that a new host does
         * not get its frames; read() says 0 once nothing is left and no host
         * is connected. */
        uint8_t junk[4096];
        while (read(tr.fd, junk, sizeof junk) > 0)
            ;
        tr.waiting = true;
        tr.backoff_ms = FIND_BACKOFF_MIN_MS;
        tr.next_check = now_ms() + tr.backoff_ms;
        break;
    }
    case T_VSOCK:
    case T_UNIX:
        close_fd(&tr.fd);
        break;
    }
}

/* virtio-serial while no host is connected: poll() says POLLHUP at once, so
 * look again with a growing pause instead of spinning. */
static void serial_check(void)
{
    struct pollfd p = { .fd = tr.fd, .events = POLLIN };
    if (poll(&p, 1, 0) < 0)
        return;
    if ((p.revents & POLLHUP) && !(p.revents & POLLIN)) {
        tr.backoff_ms = tr.backoff_ms * 2 > SERIAL_BACKOFF_MAX_MS ? SERIAL_BACKOFF_MAX_MS : tr.backoff_ms * 2;
        tr.next_check = now_ms() + tr.backoff_ms;
        return;
    }
    tr.waiting = false;
}

static void accept_host(void)
{
    int fd = accept4(tr.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    if (tr.fd >= 0) { /* a new host replaces the old one */
        drop_connection_state();
        close_fd(&tr.fd);
    }
    tr.fd = fd;
}

static bool open_serial(void)
{
    DIR *d = opendir("/sys/class/virtio-ports");
    struct dirent *e;
    bool found = false;
    while (d && !found && (e = readdir(d))) {
        char path[300], name[128];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
        if (read_file(path, name, sizeof name) < 0)
            continue;
        chomp(name);
        if (strcmp(name, BGR_AGENT_SERIAL_NAME) != 0)
            continue;
        snprintf(path, sizeof path, "/dev/%s", e->d_name);
        int fd = open(path, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
            continue;
        tr.kind = T_SERIAL;
        tr.fd = fd;
        tr.waiting = true;
        tr.backoff_ms = FIND_BACKOFF_MIN_MS;
        tr.next_check = now_ms();
        snprintf(tr.name, sizeof tr.name, "virtio-serial %s (%s)", path, BGR_AGENT_SERIAL_NAME);
        found = true;
    }
    if (d)
        closedir(d);
    return found;
}

/* Only with a virtio vsock device: with the vsock modules loaded but no
 * device (QEMU with virtio-serial), listening would work and never see a
 * host. The local CID tells: VMADDR_CID_ANY while there is no device. */
static bool open_vsock(void)
{
    unsigned int cid = VMADDR_CID_ANY;
    int dev = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
    if (dev < 0)
        return false;
    int rc = ioctl(dev, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid);
    close(dev);
    if (rc < 0 || cid == VMADDR_CID_ANY || cid <= VMADDR_CID_HOST)
        return false;
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    struct sockaddr_vm addr = {
        .svm_family = AF_VSOCK,
        .svm_cid = VMADDR_CID_ANY,
        .svm_port = BGR_AGENT_VSOCK_PORT,
    };
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 4) < 0) {
        close(fd);
        return false;
    }
    tr.kind = T_VSOCK;
    tr.listen_fd = fd;
    snprintf(tr.name, sizeof tr.name, "vsock port %d (cid %u)", BGR_AGENT_VSOCK_PORT, cid);
    return true;
}

/* Host mode: a unix socket in the fake VM's run directory. */
static bool open_unix(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof addr.sun_path) {
        warn("--listen %s: too long for a unix socket", path);
        return false;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        warn("socket: %s", strerror(errno));
        return false;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 4) < 0) {
        warn("cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return false;
    }
    tr.kind = T_UNIX;
    tr.listen_fd = fd;
    snprintf(tr.path, sizeof tr.path, "%s", path);
    snprintf(tr.name, sizeof tr.name, "unix socket %s (host mode)", path);
    return true;
}

/* Modules may still be loading: keep looking. */
static void find_transport(void)
{
    int delay = FIND_BACKOFF_MIN_MS;
    int64_t start = now_ms();
    bool told = false;
    while (!open_serial() && !open_vsock()) {
        if (!told && now_ms() - start > 30000) {
            warn("still looking for virtio-serial port %s or a vsock device", BGR_AGENT_SERIAL_NAME);
            told = true;
        }
        sleep_ms(delay);
        delay = delay * 2 > FIND_BACKOFF_MAX_MS ? FIND_BACKOFF_MAX_MS : delay * 2;
    }
    warn("ready on %s", tr.name);
}

/* ---- setup ---- */

/* Something other than the parent's filesystem is mounted on dir. */
static bool is_mount_point(const char *dir)
{
    struct stat a, b;
    char parent[64];
    snprintf(parent, sizeof parent, "%s/..", dir);
    return stat(dir, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

static bool has_fs(const char *dir, long magic)
{
    struct statfs s;
    return statfs(dir, &s) == 0 && (long)s.f_type == magic;
}

/* A private mount namespace, so that mounting /proc, /sys and /dev for
 * ourselves (very early in boot they may not be there yet) never changes
 * what the init sees. */
static void setup_guest_namespace(void)
{
    if (unshare(CLONE_NEWNS) < 0) {
        warn("cannot create a mount namespace (%s); using the current one", strerror(errno));
    } else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        warn("cannot make / private: %s", strerror(errno));
    } else {
        if (!has_fs("/proc", PROC_SUPER_MAGIC) &&
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            warn("cannot mount proc on /proc: %s", strerror(errno));
        if (!has_fs("/sys", SYSFS_MAGIC) &&
            mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            warn("cannot mount sysfs on /sys: %s", strerror(errno));
        if (!is_mount_point("/dev") && mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL) < 0)
            warn("cannot mount devtmpfs on /dev: %s", strerror(errno));
    }
    init_mntns_fd = open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (init_mntns_fd < 0)
        warn("cannot open /proc/1/ns/mnt (%s): commands run in the agent's namespace", strerror(errno));
}

/* Pipes and sockets must not land on 0-2: fill any closed ones. */
static void fill_std_fds(void)
{
    int fd;
    while ((fd = open("/dev/null", O_RDWR | O_NOCTTY)) >= 0 && fd <= 2)
        ;
    if (fd > 2)
        close(fd);
}

static void setup_process(void)
{
    fill_std_fds();
    devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    /* Each exec holds up to four fds. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    if (mode == MODE_HOST) { /* the power button and Ctrl-C */
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
    }
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd < 0) {
        warn("signalfd: %s", strerror(errno));
        exit(1);
    }
}

/* ---- main loop ---- */

static void reap_children(void)
{
    struct signalfd_siginfo si;
    while (read(signal_fd, &si, sizeof si) > 0) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            warn("%s: powering off", strsignal((int)si.ssi_signo));
            host_power_off(false);
        }
    }
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < n_execs; i++) {
            if (!execs[i]->done && execs[i]->pid == pid) {
                exec_exited(execs[i], status);
                break;
            }
        }
    }
}

/* Deadlines that passed; returns the poll() timeout until the next one. */
static int run_timers(void)
{
    int64_t now = now_ms(), next = -1;
    for (size_t i = 0; i < n_execs; i++) {
        struct exec *e = execs[i];
        if (e->done || !e->deadline)
            continue;
        if (now >= e->deadline) {
            kill_group(e, SIGKILL);
            e->timed_out = true;
            e->deadline = 0;
        } else if (next < 0 || e->deadline < next) {
            next = e->deadline;
        }
    }
    if (shutdown_at) {
        if (now >= shutdown_at)
            force_shutdown();
        else if (next < 0 || shutdown_at < next)
            next = shutdown_at;
    }
    if (tr.kind == T_SERIAL && tr.waiting) {
        if (now >= tr.next_check)
            serial_check();
        if (tr.waiting && (next < 0 || tr.next_check < next))
            next = tr.next_check;
    }
    if (next < 0)
        return -1;
    int64_t wait = next - now_ms();
    return wait < 0 ? 0 : wait > INT_MAX ? INT_MAX : (int)wait;
}

enum slot { S_SIGNAL, S_LISTEN, S_CONN, S_STATUS, S_OUT, S_ERR, S_IN };

static void run(void)
{
    struct pollfd *pfd = NULL;
    struct {
        enum slot slot;
        struct exec *e;
    } *what = NULL;
    size_t cap = 0;

    for (;;) {
        int timeout = run_timers();
        size_t need = 3 + 4 * n_execs, n = 0;
        if (need > cap) {
            struct pollfd *np = realloc(pfd, need * sizeof *pfd);
            void *nw = np ? realloc(what, need * sizeof *what) : NULL;
            if (np)
                pfd = np;
            if (!np || !nw) {
                warn("out of memory");
                sleep_ms(100);
                continue;
            }
            what = nw;
            cap = need;
        }
#define ADD(fd_, events_, slot_, e_)                                                                   \
    do {                                                                                               \
        pfd[n] = (struct pollfd){ .fd = (fd_), .events = (events_) };                                  \
        what[n].slot = (slot_);                                                                        \
        what[n].e = (e_);                                                                              \
        n++;                                                                                           \
    } while (0)
        ADD(signal_fd, POLLIN, S_SIGNAL, NULL);
        if (tr.listen_fd >= 0)
            ADD(tr.listen_fd, POLLIN, S_LISTEN, NULL);
        if (tr.fd >= 0 && !tr.waiting)
            ADD(tr.fd, POLLIN, S_CONN, NULL);
        for (size_t i = 0; i < n_execs; i++) {
            struct exec *e = execs[i];
            if (e->done)
                continue;
            if (e->status_fd >= 0)
                ADD(e->status_fd, POLLIN, S_STATUS, e);
            if (e->out_fd >= 0)
                ADD(e->out_fd, POLLIN, S_OUT, e);
            if (e->err_fd >= 0)
                ADD(e->err_fd, POLLIN, S_ERR, e);
            if (e->in_fd >= 0 && e->in_off < e->in_len)
                ADD(e->in_fd, POLLOUT, S_IN, e);
        }
#undef ADD
        if (poll(pfd, n, timeout) < 0) {
            if (errno != EINTR)
                warn("poll: %s", strerror(errno));
            continue;
        }

        /* Exits first: they forward what their pipes hold, then EXIT.
         * Execs ended here are skipped below (done). */
        for (size_t i = 0; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            switch (what[i].slot) {
            case S_SIGNAL:
                reap_children();
                break;
            case S_LISTEN:
                accept_host();
                break;
            case S_CONN:
                if (pfd[i].fd == tr.fd)
                    read_transport();
                break;
            default:
                break;
            }
        }
        for (size_t i = 0; i < n && !tr.lost; i++) {
            struct exec *e = what[i].e;
            if (!pfd[i].revents || !e || e->done)
                continue;
            switch (what[i].slot) {
            case S_STATUS:
                if (pfd[i].fd == e->status_fd)
                    exec_check_started(e, false);
                break;
            case S_OUT:
                /* Output can only follow a successful exec, whose status
                 * pipe closed first: report STARTED before it. */
                if (pfd[i].fd == e->out_fd && exec_check_started(e, false) > 0)
                    exec_read_output(e, &e->out_fd, BGR_AGENT_MSG_STDOUT);
                break;
            case S_ERR:
                if (pfd[i].fd == e->err_fd && exec_check_started(e, false) > 0)
                    exec_read_output(e, &e->err_fd, BGR_AGENT_MSG_STDERR);
                break;
            case S_IN:
                if (pfd[i].fd == e->in_fd)
                    exec_flush_stdin(e);
                break;
            default:
                break;
            }
        }
        if (tr.lost)
            connection_lost();

        size_t keep = 0;
        for (size_t i = 0; i < n_execs; i++) {
            if (execs[i]->done)
                exec_free(execs[i]);
            else
                execs[keep++] = execs[i];
        }
        n_execs = keep;
    }
}

/* ---- entry points ---- */

/* As PID 1: the guest's own init must be PID 1, so it gets this process and
 * the agent continues in a child. */
static _Noreturn void exec_real_init(char **argv)
{
    static const char *const inits[] = { "/sbin/init", "/etc/init", "/bin/init", "/bin/sh" };
    for (size_t i = 0; i < sizeof inits / sizeof inits[0]; i++) {
        argv[0] = (char *)inits[i];
        execv(inits[i], argv);
    }
    warn("no init to run (tried /sbin/init, /etc/init, /bin/init, /bin/sh): %s", strerror(errno));
    sync();
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: " PROG " [--fd N | --listen PATH]\n"
            "\n"
            "banger's in-guest agent. Run as init= (PID 1) it starts the real init and\n"
            "serves in the background; without arguments it serves on virtio-serial port\n"
            "%s or vsock port %d. --fd N serves on an inherited\n"
            "connected socket instead (tests) and exits when the peer closes it.\n"
            "--listen PATH is host mode (banger's fake VMM, for tests): it serves one\n"
            "host at a time on unix socket PATH and stands in for a whole VM; there\n"
            "$BANGER_AGENT_OS_RELEASE, when set, names the os-release file it reports.\n"
            "\n"
            "  --fd N         serve on file descriptor N\n"
            "  --listen PATH  host mode: serve on unix socket PATH\n"
            "  --version      print the version and the protocol version\n"
            "  --help         this text\n",
            BGR_AGENT_SERIAL_NAME, BGR_AGENT_VSOCK_PORT);
}

int main(int argc, char **argv)
{
    const char *listen_path = NULL;

    if (getpid() == 1) {
        pid_t pid = fork();
        if (pid != 0) {
            if (pid < 0)
                warn("cannot start: fork: %s", strerror(errno));
            exec_real_init(argv);
        }
        setsid();
    } else {
        for (int i = 1; i < argc; i++) {
            if (strcmp(argv[i], "--version") == 0) {
                printf(PROG " %s (protocol %d)\n", BANGER_AGENT_VERSION, BGR_AGENT_PROTOCOL_VERSION);
                return 0;
            } else if (strcmp(argv[i], "--help") == 0) {
                usage(stdout);
                return 0;
            } else if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc) {
                char *end;
                long fd = strtol(argv[++i], &end, 10);
                if (*end || end == argv[i] || fd < 0 || fd > INT_MAX || fcntl((int)fd, F_GETFD) < 0) {
                    warn("--fd %s: not an open file descriptor", argv[i]);
                    return 2;
                }
                mode = MODE_FD;
                tr.kind = T_FD;
                tr.fd = (int)fd;
            } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
                mode = MODE_HOST;
                listen_path = argv[++i];
            } else {
                usage(stderr);
                return 2;
            }
        }
        if (listen_path && tr.fd >= 0) {
            warn("--fd and --listen exclude each other");
            return 2;
        }
    }

    if (mode == MODE_FD) {
        fcntl(tr.fd, F_SETFD, FD_CLOEXEC); /* not for the commands we run */
        set_nonblock(tr.fd);
        setup_process();
    } else if (mode == MODE_HOST) {
        /* Orphans of the commands become ours, so that powering off can
         * take them down as a VM's end would. */
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        setup_process();
        if (!open_unix(listen_path))
            return 1;
        warn("ready on %s", tr.name);
    } else {
        setup_guest_namespace();
        setup_process();
        agent_configure_network();
        find_transport();
    }
    run();
}
