/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-vsock-agent: EXEC with PTY = 1. The command gets a new
 * pseudo-terminal as its controlling terminal and stdin, stdout and stderr;
 * the agent keeps the master side: what the command writes goes out as
 * STDOUT frames, STDIN frames are typed into it (so a Ctrl-C byte becomes
 * SIGINT for the foreground process group), RESIZE sets its window size
 * (the kernel then sends SIGWINCH). */
#include "agent.h"

#include <termios.h>

bool pty_field(struct exec_pty *p, uint16_t tag, const uint8_t *val, uint32_t len)
{
    int64_t v;
    switch (tag) {
    case BGR_AGENT_F_PTY:
        if (bgr_agent_field_int(val, len, &v) < 0 || (v != 0 && v != 1))
            return false;
        p->on = v == 1;
        return true;
    case BGR_AGENT_F_ROWS:
    case BGR_AGENT_F_COLS:
        if (bgr_agent_field_int(val, len, &v) < 0 || v < 0 || v > 65535)
            return false;
        if (tag == BGR_AGENT_F_ROWS)
            p->rows = (int)v;
        else
            p->cols = (int)v;
        return true;
    default: /* not ours: skipped */
        return true;
    }
}

static void set_size(int fd, int rows, int cols)
{
    struct winsize ws = { .ws_row = (unsigned short)(rows > 0 ? rows : 24),
                          .ws_col = (unsigned short)(cols > 0 ? cols : 80) };
    ioctl(fd, TIOCSWINSZ, &ws);
}

/* The master of a new terminal. In a guest the agent's own mount namespace
 * may have no devpts (it was made before the init mounted one): it gets a
 * private instance, whose terminals reach the command as inherited fds. */
static int open_master(void)
{
    int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0 || mode != MODE_GUEST)
        return fd;
    mkdir("/dev/pts", 0755);
    if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "ptmxmode=0666,mode=0620") < 0 &&
        errno != EBUSY)
        return -1;
    return open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
}

bool pty_open(struct exec_pty *p, int *out_fd, int *in_fd, bool want_stdin)
{
    p->slave = p->tty = -1;
    int master = open_master();
    if (master < 0)
        return false;
    if (grantpt(master) < 0 || unlockpt(master) < 0)
        goto fail;
#ifdef TIOCGPTPEER
    p->slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
#endif
    if (p->slave < 0) {
        char name[64];
        if (ptsname_r(master, name, sizeof name) != 0)
            goto fail;
        p->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (p->slave < 0)
            goto fail;
    }
    set_size(p->slave, p->rows, p->cols);
    p->tty = fcntl(master, F_DUPFD_CLOEXEC, 3);
    *in_fd = want_stdin ? fcntl(master, F_DUPFD_CLOEXEC, 3) : -1;
    if (p->tty < 0 || (want_stdin && *in_fd < 0)) {
        int err = errno;
        close_fd(in_fd);
        close_fd(&p->tty);
        close_fd(&p->slave);
        errno = err;
        goto fail;
    }
    *out_fd = master;
    return true;
fail:;
    int err = errno;
    close(master);
    errno = err;
    return false;
}

void pty_child(struct exec_pty *p, int status_fd)
{
    /* child_prepare() made the child a session leader: the first terminal
     * it opens with TIOCSCTTY becomes its controlling terminal. */
    if (ioctl(p->slave, TIOCSCTTY, 0) < 0 || dup2(p->slave, 0) < 0 || dup2(p->slave, 1) < 0 ||
        dup2(p->slave, 2) < 0)
        child_fail(status_fd, STAGE_SETUP);
}

int pty_parent(struct exec_pty *p)
{
    if (!p->on)
        return -1;
    close_fd(&p->slave);
    int tty = p->tty;
    p->tty = -1;
    return tty;
}

void pty_parent_abort(struct exec_pty *p)
{
    if (!p->on)
        return;
    close_fd(&p->slave);
    close_fd(&p->tty);
}

bool stdio_open(uint32_t ch, struct exec_pty *p, bool want_stdin, int status_p[2], int out_p[2],
                int err_p[2], int in_p[2])
{
    if (pipe2(status_p, O_CLOEXEC) < 0) {
        send_error(ch, errno, "cannot create pipes: %s", strerror(errno));
        return false;
    }
    if (p->on) { /* the master reads as out_p[0] and types as in_p[1] */
        if (!pty_open(p, &out_p[0], &in_p[1], want_stdin)) {
            send_error(ch, errno, "cannot create a terminal: %s", strerror(errno));
            return false;
        }
        return true;
    }
    if (pipe2(out_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0 ||
        ((want_stdin || devnull_fd < 0) && pipe2(in_p, O_CLOEXEC) < 0)) {
        send_error(ch, errno, "cannot create pipes: %s", strerror(errno));
        return false;
    }
    /* A stdin pipe that takes a whole frame (1 MiB) at once: fewer turns
     * between the agent and a command that reads a stream (tar -x). Best
     * effort: the default size works too. */
    if (want_stdin)
        (void)fcntl(in_p[1], F_SETPIPE_SZ, (int)STDIN_PIPE_SIZE);
    return true;
}

void stdio_child(struct exec_pty *p, int status_fd, int out_p[2], int err_p[2], int in_p[2])
{
    if (p->on) {
        pty_child(p, status_fd);
        return;
    }
    int in = in_p[0] >= 0 ? in_p[0] : devnull_fd;
    if (dup2(in, 0) < 0 || dup2(out_p[1], 1) < 0 || dup2(err_p[1], 2) < 0)
        child_fail(status_fd, STAGE_SETUP);
}

void pty_resize_request(int fd, uint32_t channel, const uint8_t *payload, size_t len)
{
    if (fd < 0) /* no terminal there, or the command ended an instant ago */
        return;
    struct exec_pty p = { 0 };
    BgrAgentFieldIter it;
    uint16_t tag;
    const uint8_t *val;
    uint32_t vlen;
    bool ok = true;
    bgr_agent_fields_init(&it, payload, len);
    while (bgr_agent_fields_next(&it, &tag, &val, &vlen) > 0)
        if (tag == BGR_AGENT_F_ROWS || tag == BGR_AGENT_F_COLS)
            ok = ok && pty_field(&p, tag, val, vlen);
    if (!ok || p.rows <= 0 || p.cols <= 0) {
        send_error(0, EINVAL, "RESIZE for channel %u: ROWS and COLS must be 1-65535", channel);
        return;
    }
    set_size(fd, p.rows, p.cols);
}
