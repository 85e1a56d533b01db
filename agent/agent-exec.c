/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-vsock-agent: EXEC. Commands the host runs, call-scoped: each has a
 * channel, streams stdin/stdout/stderr, and ends with EXIT or ERROR; all of
 * them are killed when the host connection goes away. */
#include "agent.h"

struct exec {
    uint32_t channel;
    pid_t pid;
    bool done;        /* EXIT or ERROR sent, or abandoned; freed at the end of the loop turn */
    bool timed_out;
    int status_fd;    /* status pipe; -1 once the exec is known to have worked */
    int out_fd, err_fd, in_fd;
    int tty_fd;       /* PTY: the terminal's master side (RESIZE); else -1 */
    uint8_t *in_buf;  /* STDIN bytes the child's pipe did not take yet */
    size_t in_off, in_len, in_cap;
    bool in_eof;      /* close stdin once in_buf is written */
    int64_t in_moved; /* when the child last took stdin (or the buffer started) */
    int64_t deadline; /* TIMEOUT_MS; 0: none */
    char *what;       /* argv[0], for messages */
    char *cwd;
};

static struct exec **execs;
static size_t n_execs, cap_execs;
static bool stdin_paused;

static struct exec *find_exec(uint32_t channel)
{
    for (size_t i = 0; i < n_execs; i++)
        if (!execs[i]->done && execs[i]->channel == channel)
            return execs[i];
    return NULL;
}

static bool exec_channel_busy(uint32_t channel)
{
    return find_exec(channel) != NULL;
}

int exec_tty_fd(uint32_t channel)
{
    struct exec *e = find_exec(channel);
    return e ? e->tty_fd : -1;
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
    close_fd(&e->tty_fd);
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

/* Writes STDIN into the child's pipe as far as it takes it now: how many
 * bytes, or -1 once stdin is closed (EPIPE: the child closed its end). */
static ssize_t stdin_write(struct exec *e, const uint8_t *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(e->in_fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            exec_close_stdin(e);
            return -1;
        }
        done += (size_t)n;
        e->in_moved = now_ms();
    }
    return (ssize_t)done;
}

/* Writes buffered STDIN into the child's pipe as far as it goes now. */
static void exec_flush_stdin(struct exec *e)
{
    if (e->in_fd >= 0 && e->in_off < e->in_len) {
        ssize_t n = stdin_write(e, e->in_buf + e->in_off, e->in_len - e->in_off);
        if (n < 0)
            return;
        e->in_off += (size_t)n;
        if (e->in_off < e->in_len)
            return;
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
    if (pending == 0) {
        /* Nothing waiting: straight into the pipe (a copy into the buffer
         * cost an emulated guest as much as the pipe); the rest is buffered. */
        ssize_t n = stdin_write(e, data, len);
        e->in_moved = now_ms();
        if (n < 0 || (size_t)n == len)
            return;
        data += n;
        len -= (size_t)n;
    }
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

void exec_start(uint32_t channel, const uint8_t *payload, size_t len)
{
    if (channel == 0) {
        send_error(0, EINVAL, "EXEC needs a channel above 0");
        return;
    }
    if (error_channel(channel) != channel) {
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
    struct exec_pty pty = { .slave = -1, .tty = -1 };
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
        default: /* unknown fields are skipped; PTY, ROWS, COLS: agent-pty.c */
            if (!pty_field(&pty, tag, val, vlen))
                bad = "PTY, ROWS or COLS is out of range";
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
    if (!stdio_open(channel, &pty, want_stdin != 0, status_p, out_p, err_p, in_p))
        goto close_pipes;
    if (!pty.on && !want_stdin && devnull_fd < 0)
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
        stdio_child(&pty, status_p[1], out_p, err_p, in_p);
        if (chdir(cwd ? cwd : "/") < 0)
            child_fail(status_p[1], STAGE_CWD);
        environ = envp; /* execvp searches the PATH of the new environment */
        execvp(argv[0], argv);
        child_fail(status_p[1], STAGE_EXEC);
    }

    close(status_p[1]);
    close_fd(&out_p[1]);
    close_fd(&err_p[1]);
    close_fd(&in_p[0]);
    e->tty_fd = pty_parent(&pty);
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
    if (e->tty_fd >= 0)
        set_nonblock(e->tty_fd);
    execs[n_execs++] = e;
    goto out;

close_pipes:
    pty_parent_abort(&pty);
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


void handle_signal_request(uint32_t channel, const uint8_t *payload, size_t len)
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


void exec_stdin_frame(uint32_t channel, const uint8_t *data, size_t len)
{
    struct exec *e = find_exec(channel);
    if (e)
        exec_stdin(e, data, len);
}

/* ---- main-loop hooks ---- */

enum exec_slot { SLOT_STATUS, SLOT_OUT, SLOT_ERR, SLOT_IN };

static void exec_ready(void *data, int fd, short revents, int tag)
{
    struct exec *e = data;
    (void)revents;
    if (tr.lost || e->done)
        return;
    switch (tag) {
    case SLOT_STATUS:
        if (fd == e->status_fd)
            exec_check_started(e, false);
        break;
    case SLOT_OUT:
        /* Output can only follow a successful exec, whose status pipe
         * closed first: report STARTED before it. */
        if (fd == e->out_fd && exec_check_started(e, false) > 0)
            exec_read_output(e, &e->out_fd, BGR_AGENT_MSG_STDOUT);
        break;
    case SLOT_ERR:
        if (fd == e->err_fd && exec_check_started(e, false) > 0)
            exec_read_output(e, &e->err_fd, BGR_AGENT_MSG_STDERR);
        break;
    case SLOT_IN:
        if (fd == e->in_fd)
            exec_flush_stdin(e);
        break;
    default:
        break;
    }
}

static void exec_poll(void)
{
    for (size_t i = 0; i < n_execs; i++) {
        struct exec *e = execs[i];
        if (e->done)
            continue;
        if (e->status_fd >= 0)
            agent_poll_add(e->status_fd, POLLIN, exec_ready, e, SLOT_STATUS);
        if (e->out_fd >= 0)
            agent_poll_add(e->out_fd, POLLIN, exec_ready, e, SLOT_OUT);
        if (e->err_fd >= 0)
            agent_poll_add(e->err_fd, POLLIN, exec_ready, e, SLOT_ERR);
        if (e->in_fd >= 0 && e->in_off < e->in_len)
            agent_poll_add(e->in_fd, POLLOUT, exec_ready, e, SLOT_IN);
    }
}

bool exec_stdin_paused(void)
{
    return stdin_paused;
}

/* Flow control: while a command has STDIN_PAUSE_AT bytes of stdin waiting
 * and is taking them, the host's stream is not read, so the host waits
 * (its sends block) instead of the buffer growing to STDIN_BUFFER_MAX. A
 * command that took nothing for STDIN_STALL_MS holds nothing up: the
 * stream is read again and the limit applies. A pause lasts at most
 * STDIN_PAUSE_MAX_MS before the stream is read once more: the other
 * channels' frames get through, and the host, which gives up on a guest
 * that reads nothing for 10 s, sees progress. */
#define STDIN_PAUSE_MAX_MS 2000
static void exec_flow_control(int64_t now)
{
    static int64_t paused_since; /* 0: not paused */
    int64_t wake = 0;
    for (size_t i = 0; i < n_execs; i++) {
        struct exec *e = execs[i];
        if (e->done || e->in_fd < 0 || e->in_len - e->in_off < STDIN_PAUSE_AT)
            continue;
        if (now < e->in_moved + STDIN_STALL_MS && (!wake || e->in_moved + STDIN_STALL_MS < wake))
            wake = e->in_moved + STDIN_STALL_MS;
    }
    if (!wake) {
        stdin_paused = false;
        paused_since = 0;
        return;
    }
    if (!paused_since)
        paused_since = now;
    if (now >= paused_since + STDIN_PAUSE_MAX_MS) {
        stdin_paused = false; /* one turn of reading, then paused again */
        paused_since = now;
        return;
    }
    stdin_paused = true;
    agent_wake_at(wake < paused_since + STDIN_PAUSE_MAX_MS ? wake : paused_since + STDIN_PAUSE_MAX_MS);
}

/* TIMEOUT_MS: the whole group is killed; EXIT says timed_out. */
static void exec_timers(int64_t now)
{
    exec_flow_control(now);
    for (size_t i = 0; i < n_execs; i++) {
        struct exec *e = execs[i];
        if (e->done || !e->deadline)
            continue;
        if (now >= e->deadline) {
            kill_group(e, SIGKILL);
            e->timed_out = true;
            e->deadline = 0;
        } else {
            agent_wake_at(e->deadline);
        }
    }
}

static bool exec_reaped(pid_t pid, int status)
{
    for (size_t i = 0; i < n_execs; i++) {
        if (!execs[i]->done && execs[i]->pid == pid) {
            exec_exited(execs[i], status);
            return true;
        }
    }
    return false;
}

static void exec_host_lost(void)
{
    for (size_t i = 0; i < n_execs; i++) {
        struct exec *e = execs[i];
        if (e->done)
            continue;
        kill_group(e, SIGKILL);
        exec_finish(e); /* reaped later like any unknown child */
    }
}

static void exec_sweep(void)
{
    size_t keep = 0;
    for (size_t i = 0; i < n_execs; i++) {
        if (execs[i]->done)
            exec_free(execs[i]);
        else
            execs[keep++] = execs[i];
    }
    n_execs = keep;
}

const struct agent_module exec_module = {
    .name = "exec",
    .poll = exec_poll,
    .timers = exec_timers,
    .reaped = exec_reaped,
    .host_lost = exec_host_lost,
    .channel_busy = exec_channel_busy,
    .sweep = exec_sweep,
};
