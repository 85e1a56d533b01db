/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sessions as a module of the agent's loop: the requests (list, signal,
 * stop, kill) and the hooks (timers, reaping, the host going away), on top
 * of agent-session-core.c, -io.c and -start.c (agent-sessions.h). */
#include "agent-sessions.h"

#define DEFAULT_GRACE_MS 10000

static void kill_session(struct session *s, int sig)
{
    if (kill(-s->pid, sig) < 0 && errno == ESRCH)
        kill(s->pid, sig);
}

/* At exit (--fd, or host mode powering off): nothing is left behind. */
static void sessions_cleanup(void)
{
    size_t n;
    struct session **all;
    while ((all = sessions_all(&n)), n > 0) {
        struct session *s = all[n - 1];
        sessions_detach(s);
        if (s->running)
            kill_session(s, SIGKILL);
        session_free(s);
    }
    if (sessions_spool_exists())
        rmdir(session_spool_root());
}

void sessions_init(const char *dir)
{
    if (dir) {
        sessions_set_spool_root(dir);
    } else if (mode == MODE_HOST) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s.sessions", tr.path);
        sessions_set_spool_root(path);
    } else if (mode == MODE_FD) {
        const char *tmp = getenv("TMPDIR");
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/banger-agent-sessions-%ld", tmp && *tmp ? tmp : "/tmp",
                 (long)getpid());
        sessions_set_spool_root(path);
    } else {
        sessions_set_spool_root("/.banger/sessions");
    }
    if (mode != MODE_GUEST)
        atexit(sessions_cleanup);
}

static int64_t request_int(const uint8_t *payload, size_t len, uint16_t want, int64_t dflt)
{
    BgrAgentFieldIter it;
    uint16_t tag;
    const uint8_t *val;
    uint32_t vlen;
    int64_t v = dflt;
    bgr_agent_fields_init(&it, payload, len);
    while (bgr_agent_fields_next(&it, &tag, &val, &vlen) > 0)
        if (tag == want && bgr_agent_field_int(val, vlen, &v) < 0)
            v = dflt;
    return v;
}

static void session_list(uint32_t ch, const uint8_t *payload, size_t len)
{
    BgrAgentFieldIter it;
    uint16_t tag;
    const uint8_t *val;
    uint32_t vlen;
    bool named = false;
    bgr_agent_fields_init(&it, payload, len);
    while (bgr_agent_fields_next(&it, &tag, &val, &vlen) > 0)
        named |= tag == BGR_AGENT_F_SESSION_NAME;
    if (named) {
        struct session *s = session_from_request(ch, payload, len);
        if (s)
            session_send_one(ch, s);
        return;
    }
    BgrAgentBuf b;
    bgr_agent_buf_init(&b);
    size_t n_sessions;
    struct session **sessions = sessions_all(&n_sessions);
    for (size_t i = 0; i < n_sessions; i++)
        session_put(&b, sessions[i]);
    send_buf(BGR_AGENT_MSG_SESSIONS, ch, &b);
}

static void session_signal(uint32_t ch, const uint8_t *payload, size_t len, bool stop)
{
    struct session *s = session_from_request(ch, payload, len);
    if (!s)
        return;
    int64_t sig = stop ? SIGTERM : request_int(payload, len, BGR_AGENT_F_SIGNAL, 0);
    int64_t grace = request_int(payload, len, BGR_AGENT_F_GRACE_MS, DEFAULT_GRACE_MS);
    if (sig <= 0 || sig >= 65) {
        send_error(ch, EINVAL, "no valid SIGNAL");
        return;
    }
    if (grace < 0 || grace > 24 * 3600 * 1000) {
        send_error(ch, EINVAL, "GRACE_MS is out of range");
        return;
    }
    if (s->running) {
        kill_session(s, (int)sig);
        if (stop && (!s->kill_at || now_ms() + grace < s->kill_at))
            s->kill_at = now_ms() + grace;
    }
    send_frame(BGR_AGENT_MSG_OK, ch, NULL, 0);
}

bool sessions_frame(const BgrAgentHeader *h, const uint8_t *payload)
{
    uint32_t ch = h->channel;
    if (session_channel_frame(h, payload))
        return true;
    switch (h->type) {
    case BGR_AGENT_MSG_SESSION_START:
    case BGR_AGENT_MSG_SESSION_LIST:
    case BGR_AGENT_MSG_SESSION_READ:
    case BGR_AGENT_MSG_SESSION_ATTACH:
    case BGR_AGENT_MSG_SESSION_SIGNAL:
    case BGR_AGENT_MSG_SESSION_STOP:
        break;
    default:
        return false;
    }
    if (!fields_ok(payload, h->length)) {
        send_error(error_channel(ch), EINVAL, "malformed %s payload on channel %u (a field runs past the end)",
                   bgr_agent_msg_name(h->type), ch);
        return true;
    }
    if (ch == 0 || error_channel(ch) != ch) {
        send_error(error_channel(ch), EINVAL, "%s needs a free channel above 0", bgr_agent_msg_name(h->type));
        return true;
    }
    switch (h->type) {
    case BGR_AGENT_MSG_SESSION_START: session_start(ch, payload, h->length); break; /* agent-session-start.c */
    case BGR_AGENT_MSG_SESSION_LIST: session_list(ch, payload, h->length); break;
    case BGR_AGENT_MSG_SESSION_READ: session_read_start(ch, payload, h->length); break;
    case BGR_AGENT_MSG_SESSION_ATTACH: session_attach_start(ch, payload, h->length); break;
    case BGR_AGENT_MSG_SESSION_SIGNAL: session_signal(ch, payload, h->length, false); break;
    case BGR_AGENT_MSG_SESSION_STOP: session_signal(ch, payload, h->length, true); break;
    default: break;
    }
    return true;
}

void sessions_timers(int64_t now)
{
    size_t n_sessions;
    struct session **sessions = sessions_all(&n_sessions);
    for (size_t i = 0; i < n_sessions; i++) {
        struct session *s = sessions[i];
        if (!s->running || !s->kill_at)
            continue;
        if (now >= s->kill_at) {
            kill_session(s, SIGKILL);
            s->kill_at = 0;
        } else {
            agent_wake_at(s->kill_at);
        }
    }
}

bool sessions_reaped(pid_t pid, int status)
{
    size_t n_sessions;
    struct session **sessions = sessions_all(&n_sessions);
    for (size_t i = 0; i < n_sessions; i++) {
        struct session *s = sessions[i];
        if (s->running && s->pid == pid) {
            s->running = false;
            s->status = status;
            s->kill_at = 0;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            s->ended_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
            session_exited_io(s);
            session_ended(s);
            return true;
        }
    }
    return false;
}

const struct agent_module sessions_module = {
    .name = "sessions",
    .poll = sessions_poll,
    .timers = sessions_timers,
    .reaped = sessions_reaped,
    .host_lost = sessions_host_gone,
    .channel_busy = session_channel_busy,
};
