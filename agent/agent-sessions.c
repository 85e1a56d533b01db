/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sessions: starting, listing, signalling and reaping them, their pipes
 * and spools (agent-sessions.h). */
#include "agent-sessions.h"

#define DEFAULT_GRACE_MS 10000

static struct session *sessions[BGR_AGENT_SESSIONS_MAX];
static size_t n_sessions;
static char spool_root[PATH_MAX];
static bool spool_ready; /* spool_root exists */

const char *session_spool_root(void)
{
    return spool_root;
}

struct session *session_find(const char *name)
{
    for (size_t i = 0; i < n_sessions; i++)
        if (strcmp(sessions[i]->name, name) == 0)
            return sessions[i];
    return NULL;
}

void session_spool_path(char *out, size_t size, const char *name, const char *file)
{
    if (snprintf(out, size, "%s/%s%s%s", spool_root, name, file ? "/" : "", file ? file : "") >= (int)size)
        out[0] = '\0'; /* too long: every use then fails cleanly */
}

void session_close_stdin(struct session *s)
{
    close_fd(&s->in_fd);
    free(s->in_buf);
    s->in_buf = NULL;
    s->in_off = s->in_len = s->in_cap = 0;
}

/* Forgets @s (not running): its spool files go too. */
void session_free(struct session *s)
{
    char path[PATH_MAX];
    session_forget_channels(s);
    close_fd(&s->out_fd);
    close_fd(&s->err_fd);
    session_close_stdin(s);
    spool_close(&s->sp[0]);
    spool_close(&s->sp[1]);
    session_spool_path(path, sizeof path, s->name, "stdout");
    unlink(path);
    session_spool_path(path, sizeof path, s->name, "stderr");
    unlink(path);
    session_spool_path(path, sizeof path, s->name, NULL);
    rmdir(path);
    free_strv(s->argv, s->argc);
    free(s->cwd);
    free(s);
}

void session_remove(struct session *s)
{
    for (size_t i = 0; i < n_sessions; i++) {
        if (sessions[i] == s) {
            memmove(&sessions[i], &sessions[i + 1], (n_sessions - i - 1) * sizeof *sessions);
            n_sessions--;
            break;
        }
    }
    session_free(s);
}

static void kill_session(struct session *s, int sig)
{
    if (kill(-s->pid, sig) < 0 && errno == ESRCH)
        kill(s->pid, sig);
}

/* At exit (--fd, or host mode powering off): nothing is left behind. */
static void sessions_cleanup(void)
{
    while (n_sessions > 0) {
        struct session *s = sessions[--n_sessions];
        if (s->running)
            kill_session(s, SIGKILL);
        session_free(s);
    }
    if (spool_ready)
        rmdir(spool_root);
}

static int mkdir_p(const char *dir)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
    return mkdir(tmp, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Creates the spool directory on first use (outside a guest, an agent
 * that never starts a session leaves nothing behind, even when killed). */
int sessions_spool_ready(void)
{
    if (spool_ready)
        return 0;
    if (mkdir_p(spool_root) < 0) {
        warn("cannot create the session spool %s: %s", spool_root, strerror(errno));
        return -1;
    }
    spool_ready = true;
    /* In a guest, spools live in memory, in the agent's own mount
     * namespace: the guest's disk and its processes never see them. */
    if (mode == MODE_GUEST && mount("tmpfs", spool_root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                    "mode=0700,size=50%") < 0)
        warn("cannot mount a tmpfs on %s (%s); session spools go to its disk", spool_root, strerror(errno));
    return 0;
}

void sessions_init(const char *dir)
{
    if (dir) {
        snprintf(spool_root, sizeof spool_root, "%s", dir);
    } else if (mode == MODE_HOST) {
        snprintf(spool_root, sizeof spool_root, "%s.sessions", tr.path);
    } else if (mode == MODE_FD) {
        const char *tmp = getenv("TMPDIR");
        snprintf(spool_root, sizeof spool_root, "%s/banger-agent-sessions-%ld", tmp && *tmp ? tmp : "/tmp",
                 (long)getpid());
    } else {
        snprintf(spool_root, sizeof spool_root, "/.banger/sessions");
    }
    if (mode != MODE_GUEST)
        atexit(sessions_cleanup);
}

/* ---- describing ---- */

void session_put(BgrAgentBuf *b, const struct session *s)
{
    BgrAgentBuf in;
    bgr_agent_buf_init(&in);
    bgr_agent_buf_put_str(&in, BGR_AGENT_F_SESSION_NAME, s->name);
    for (size_t i = 0; i < s->argc; i++)
        bgr_agent_buf_put_str(&in, BGR_AGENT_F_ARG, s->argv[i]);
    bgr_agent_buf_put_str(&in, BGR_AGENT_F_CWD, s->cwd);
    bgr_agent_buf_put_int(&in, BGR_AGENT_F_STDIN, s->stdin_mode);
    bgr_agent_buf_put_str(&in, BGR_AGENT_F_STATE, s->running ? "running" : "exited");
    bgr_agent_buf_put_int(&in, BGR_AGENT_F_PID, s->pid);
    bgr_agent_buf_put_int(&in, BGR_AGENT_F_STARTED_MS, s->started_ms);
    if (!s->running) {
        bgr_agent_buf_put_int(&in, BGR_AGENT_F_ENDED_MS, s->ended_ms);
        bgr_agent_buf_put_int(&in, BGR_AGENT_F_EXIT_CODE, WIFEXITED(s->status) ? WEXITSTATUS(s->status) : -1);
        bgr_agent_buf_put_int(&in, BGR_AGENT_F_SIGNAL, WIFSIGNALED(s->status) ? WTERMSIG(s->status) : 0);
    }
    bgr_agent_buf_put_int(&in, BGR_AGENT_F_OUT_END, (int64_t)s->sp[0].end);
    bgr_agent_buf_put_int(&in, BGR_AGENT_F_OUT_DROPPED, (int64_t)spool_start(&s->sp[0]));
    bgr_agent_buf_put_int(&in, BGR_AGENT_F_ERR_END, (int64_t)s->sp[1].end);
    bgr_agent_buf_put_int(&in, BGR_AGENT_F_ERR_DROPPED, (int64_t)spool_start(&s->sp[1]));
    bgr_agent_buf_put_int(&in, BGR_AGENT_F_ATTACHED, session_attached(s) ? 1 : 0);
    if (in.failed)
        b->failed = 1;
    else
        bgr_agent_buf_put_bytes(b, BGR_AGENT_F_SESSION, in.data, in.len);
    bgr_agent_buf_clear(&in);
}

void session_send_one(uint32_t channel, const struct session *s)
{
    BgrAgentBuf b;
    bgr_agent_buf_init(&b);
    session_put(&b, s);
    send_buf(BGR_AGENT_MSG_SESSIONS, channel, &b);
}

/* Room for one more session: an exited one may be forgotten. */
bool sessions_make_room(uint32_t ch)
{
    if (n_sessions < BGR_AGENT_SESSIONS_MAX)
        return true;
    struct session *oldest = NULL;
    for (size_t i = 0; i < n_sessions; i++)
        if (!sessions[i]->running && (!oldest || sessions[i]->ended_ms < oldest->ended_ms))
            oldest = sessions[i];
    if (oldest) {
        session_remove(oldest);
        return true;
    }
    send_error(ch, EAGAIN, "%d sessions are running already; stop one first", BGR_AGENT_SESSIONS_MAX);
    return false;
}

/* ---- other requests ---- */

struct session *session_from_request(uint32_t ch, const uint8_t *payload, size_t len)
{
    BgrAgentFieldIter it;
    uint16_t tag;
    const uint8_t *val;
    uint32_t vlen;
    char name[BGR_AGENT_SESSION_NAME_MAX + 1] = "";
    bgr_agent_fields_init(&it, payload, len);
    while (bgr_agent_fields_next(&it, &tag, &val, &vlen) > 0) {
        if (tag == BGR_AGENT_F_SESSION_NAME && vlen <= BGR_AGENT_SESSION_NAME_MAX && !memchr(val, '\0', vlen)) {
            memcpy(name, val, vlen);
            name[vlen] = '\0';
        }
    }
    if (!bgr_agent_session_name_valid(name)) {
        send_error(ch, EINVAL, "no valid SESSION_NAME");
        return NULL;
    }
    struct session *s = session_find(name);
    if (!s)
        send_error(ch, ENOENT, "no session '%s'", name);
    return s;
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

/* ---- main-loop hooks ---- */

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

struct session **sessions_all(size_t *n)
{
    *n = n_sessions;
    return sessions;
}

void sessions_add(struct session *s)
{
    sessions[n_sessions++] = s;
}

const struct agent_module sessions_module = {
    .name = "sessions",
    .poll = sessions_poll,
    .timers = sessions_timers,
    .reaped = sessions_reaped,
    .host_lost = sessions_host_gone,
    .channel_busy = session_channel_busy,
};
