/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-vsock-agent: the main loop's poll() set and its modules. The loop
 * itself (banger-vsock-agent.c) knows no module: each registers its hooks
 * here, adds its fds to every turn's set, and is told about deadlines,
 * exited children and the host going away through them. */
#include "agent.h"

#define MAX_MODULES 8

static const struct agent_module *modules[MAX_MODULES];
static size_t n_modules;

/* This turn's poll() set: the fds and who handles each. */
static struct {
    struct pollfd *pfd;
    struct {
        AgentReadyFn fn;
        void *data;
        int tag;
    } *slot;
    size_t n, cap;
    bool failed;     /* out of memory: the turn is retried */
    int64_t wake_at; /* the earliest deadline; -1: none */
} ps = { .wake_at = -1 };

void agent_register(const struct agent_module *m)
{
    if (n_modules == MAX_MODULES) {
        warn("too many modules; %s is left out", m->name);
        return;
    }
    modules[n_modules++] = m;
}

void agent_poll_add(int fd, short events, AgentReadyFn fn, void *data, int tag)
{
    if (ps.n == ps.cap) {
        size_t cap = ps.cap ? ps.cap * 2 : 16;
        struct pollfd *np = realloc(ps.pfd, cap * sizeof *ps.pfd);
        if (np)
            ps.pfd = np;
        void *ns = np ? realloc(ps.slot, cap * sizeof *ps.slot) : NULL;
        if (!np || !ns) {
            ps.failed = true;
            return;
        }
        ps.slot = ns;
        ps.cap = cap;
    }
    ps.pfd[ps.n] = (struct pollfd){ .fd = fd, .events = events };
    ps.slot[ps.n].fn = fn;
    ps.slot[ps.n].data = data;
    ps.slot[ps.n].tag = tag;
    ps.n++;
}

void agent_wake_at(int64_t at)
{
    if (ps.wake_at < 0 || at < ps.wake_at)
        ps.wake_at = at;
}

int agent_loop_timers(int64_t now)
{
    for (size_t i = 0; i < n_modules; i++)
        if (modules[i]->timers)
            modules[i]->timers(now);
    if (ps.wake_at < 0)
        return -1;
    int64_t wait = ps.wake_at - now_ms();
    ps.wake_at = -1;
    return wait < 0 ? 0 : wait > INT_MAX ? INT_MAX : (int)wait;
}

void agent_loop_begin(void)
{
    ps.n = 0;
    ps.failed = false;
}

bool agent_loop_poll(int timeout)
{
    for (size_t i = 0; i < n_modules; i++)
        if (modules[i]->poll)
            modules[i]->poll();
    if (ps.failed) {
        warn("out of memory");
        sleep_ms(100);
        return false;
    }
    if (poll(ps.pfd, ps.n, timeout) < 0) {
        if (errno != EINTR)
            warn("poll: %s", strerror(errno));
        return false;
    }
    return true;
}

void agent_loop_dispatch(void)
{
    /* The set is fixed for this turn: callbacks add nothing to it. */
    size_t n = ps.n;
    for (size_t i = 0; i < n; i++)
        if (ps.pfd[i].revents)
            ps.slot[i].fn(ps.slot[i].data, ps.pfd[i].fd, ps.pfd[i].revents, ps.slot[i].tag);
    for (size_t i = 0; i < n_modules; i++)
        if (modules[i]->sweep)
            modules[i]->sweep();
}

void agent_child_exited(pid_t pid, int status)
{
    for (size_t i = 0; i < n_modules; i++)
        if (modules[i]->reaped && modules[i]->reaped(pid, status))
            return;
    /* else: an orphan, or a program of the agent's own */
}

void agent_host_lost(void)
{
    for (size_t i = 0; i < n_modules; i++)
        if (modules[i]->host_lost)
            modules[i]->host_lost();
}

uint32_t error_channel(uint32_t channel)
{
    for (size_t i = 0; i < n_modules; i++)
        if (modules[i]->channel_busy && modules[i]->channel_busy(channel))
            return 0;
    return channel;
}
