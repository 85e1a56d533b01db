/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sessions' pipes and the channels that read or attach to them
 * (agent-sessions.h): output goes to the spool whether or not a host
 * listens, and from the spool to every channel following it. */
#include "agent-sessions.h"

#define SESSION_STDIN_MAX (16u * 1024 * 1024)

/* A SESSION_READ with FOLLOW, or an attach. */
struct reader {
    uint32_t channel;
    struct session *s;
    bool attach;
    int stream;      /* read: 1 or 2; attach: both */
    uint64_t off[2]; /* next byte to send, per stream */
};

static struct reader readers[256];
static size_t n_readers;

static struct reader *find_reader(uint32_t channel)
{
    for (size_t i = 0; i < n_readers; i++)
        if (readers[i].channel == channel)
            return &readers[i];
    return NULL;
}

static void drop_reader(struct reader *r)
{
    size_t i = (size_t)(r - readers);
    memmove(&readers[i], &readers[i + 1], (n_readers - i - 1) * sizeof *readers);
    n_readers--;
}

bool session_channel_busy(uint32_t channel)
{
    return channel != 0 && find_reader(channel) != NULL;
}

bool session_attached(const struct session *s)
{
    for (size_t i = 0; i < n_readers; i++)
        if (readers[i].s == s && readers[i].attach)
            return true;
    return false;
}

/* Sends stream @st of @s from *off to its end. */
static void send_spool(uint32_t ch, struct session *s, int st, uint64_t *off)
{
    static uint8_t buf[OUTPUT_CHUNK];
    struct spool *sp = &s->sp[st];
    if (*off < spool_start(sp))
        *off = spool_start(sp);
    while (*off < sp->end && !tr.lost) {
        ssize_t n = spool_read(sp, *off, buf, sizeof buf);
        if (n <= 0) {
            *off = sp->end; /* unreadable: skipped */
            break;
        }
        send_frame(st == 0 ? BGR_AGENT_MSG_STDOUT : BGR_AGENT_MSG_STDERR, ch, buf, (size_t)n);
        *off += (uint64_t)n;
    }
}

static void pump_reader(struct reader *r)
{
    for (int st = 0; st < 2; st++)
        if (r->attach || r->stream == st + 1)
            send_spool(r->channel, r->s, st, &r->off[st]);
}

void session_pump(struct session *s)
{
    for (size_t i = 0; i < n_readers; i++)
        if (readers[i].s == s)
            pump_reader(&readers[i]);
}

static void end_reader(struct reader *r)
{
    BgrAgentBuf b;
    bgr_agent_buf_init(&b);
    if (r->attach) {
        int status = r->s->status;
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_EXIT_CODE, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_SIGNAL, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_TIMED_OUT, 0);
        send_buf(BGR_AGENT_MSG_EXIT, r->channel, &b);
    } else {
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_OFFSET, (int64_t)r->off[r->stream - 1]);
        send_buf(BGR_AGENT_MSG_SESSION_LOG_END, r->channel, &b);
    }
}

void session_ended(struct session *s)
{
    for (size_t i = 0; i < n_readers;) {
        if (readers[i].s == s) {
            pump_reader(&readers[i]);
            end_reader(&readers[i]);
            drop_reader(&readers[i]);
        } else {
            i++;
        }
    }
}

void session_forget_channels(struct session *s)
{
    for (size_t i = 0; i < n_readers;) {
        if (readers[i].s == s)
            drop_reader(&readers[i]);
        else
            i++;
    }
}

void session_channels_drop_all(void)
{
    n_readers = 0;
}

void sessions_host_gone(void)
{
    session_channels_drop_all();
}

static struct reader *new_reader(uint32_t ch, struct session *s)
{
    if (find_reader(ch)) {
        send_error(ch, EBUSY, "channel %u is in use", ch);
        return NULL;
    }
    if (n_readers == sizeof readers / sizeof readers[0]) {
        send_error(ch, EAGAIN, "too many channels follow sessions");
        return NULL;
    }
    struct reader *r = &readers[n_readers++];
    memset(r, 0, sizeof *r);
    r->channel = ch;
    r->s = s;
    return r;
}

void session_read_start(uint32_t ch, const uint8_t *payload, size_t len)
{
    struct session *s = session_from_request(ch, payload, len);
    if (!s)
        return;
    int64_t stream = 0, offset = 0, follow = 0;
    BgrAgentFieldIter it;
    uint16_t tag;
    const uint8_t *val;
    uint32_t vlen;
    bgr_agent_fields_init(&it, payload, len);
    while (bgr_agent_fields_next(&it, &tag, &val, &vlen) > 0) {
        if (tag == BGR_AGENT_F_STREAM)
            bgr_agent_field_int(val, vlen, &stream);
        else if (tag == BGR_AGENT_F_OFFSET)
            bgr_agent_field_int(val, vlen, &offset);
        else if (tag == BGR_AGENT_F_FOLLOW)
            bgr_agent_field_int(val, vlen, &follow);
    }
    if ((stream != 1 && stream != 2) || offset < 0) {
        send_error(ch, EINVAL, "bad SESSION_READ: STREAM must be 1 or 2, OFFSET non-negative");
        return;
    }
    struct spool *sp = &s->sp[stream - 1];
    uint64_t off = (uint64_t)offset > sp->end ? sp->end : (uint64_t)offset;
    uint64_t start = off < spool_start(sp) ? spool_start(sp) : off;
    BgrAgentBuf b;
    bgr_agent_buf_init(&b);
    bgr_agent_buf_put_int(&b, BGR_AGENT_F_OFFSET, (int64_t)start);
    bgr_agent_buf_put_int(&b, BGR_AGENT_F_DROPPED, (int64_t)(start - off));
    send_buf(BGR_AGENT_MSG_SESSION_LOG, ch, &b);
    send_spool(ch, s, (int)stream - 1, &start);
    if (follow && s->running) {
        struct reader *r = new_reader(ch, s);
        if (r) {
            r->stream = (int)stream;
            r->off[stream - 1] = start;
            return;
        }
    }
    bgr_agent_buf_put_int(&b, BGR_AGENT_F_OFFSET, (int64_t)start);
    send_buf(BGR_AGENT_MSG_SESSION_LOG_END, ch, &b);
}

void session_attach_start(uint32_t ch, const uint8_t *payload, size_t len)
{
    struct session *s = session_from_request(ch, payload, len);
    if (!s)
        return;
    if (s->stdin_mode != BGR_AGENT_STDIN_PIPE) {
        send_error(ch, EINVAL, "session '%s' has no stdin to attach to (its stdin mode is detached)", s->name);
        return;
    }
    if (!s->running) {
        send_error(ch, EINVAL, "session '%s' has exited", s->name);
        return;
    }
    for (size_t i = 0; i < n_readers; i++) {
        if (readers[i].s == s && readers[i].attach) {
            send_error(ch, EBUSY, "session '%s' is attached already (channel %u)", s->name, readers[i].channel);
            return;
        }
    }
    struct reader *r = new_reader(ch, s);
    if (!r)
        return;
    r->attach = true;
    r->off[0] = s->sp[0].end;
    r->off[1] = s->sp[1].end;
    BgrAgentBuf b;
    bgr_agent_buf_init(&b);
    bgr_agent_buf_put_int(&b, BGR_AGENT_F_OUT_END, (int64_t)r->off[0]);
    bgr_agent_buf_put_int(&b, BGR_AGENT_F_ERR_END, (int64_t)r->off[1]);
    send_buf(BGR_AGENT_MSG_SESSION_ATTACHED, ch, &b);
}

bool session_channel_frame(const BgrAgentHeader *h, const uint8_t *payload)
{
    struct reader *r = find_reader(h->channel);
    if (!r || h->channel == 0)
        return false;
    switch (h->type) {
    case BGR_AGENT_MSG_STDIN:
        if (r->attach)
            session_stdin(r->s, payload, h->length);
        return true;
    case BGR_AGENT_MSG_WINSIZE: /* only an attach, to a session on a terminal, has a size */
        if (r->attach && r->s->pty)
            pty_resize_request(r->s->tty_fd, r->channel, payload, h->length);
        return true;
    case BGR_AGENT_MSG_DETACH:
        if (r->attach)
            send_frame(BGR_AGENT_MSG_OK, r->channel, NULL, 0);
        else
            end_reader(r);
        drop_reader(r);
        return true;
    default:
        return false;
    }
}

/* ---- the session's own pipes ---- */

static void flush_stdin(struct session *s)
{
    while (s->in_fd >= 0 && s->in_off < s->in_len) {
        ssize_t n = write(s->in_fd, s->in_buf + s->in_off, s->in_len - s->in_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) { /* EPIPE: it closed its stdin */
            session_close_stdin(s);
            return;
        }
        s->in_off += (size_t)n;
    }
    s->in_off = s->in_len = 0;
    if (s->in_eof)
        session_close_stdin(s);
}

void session_stdin(struct session *s, const uint8_t *data, size_t len)
{
    if (s->in_fd < 0 || s->in_eof)
        return;
    if (len == 0) {
        s->in_eof = true;
        flush_stdin(s);
        return;
    }
    size_t pending = s->in_len - s->in_off;
    if (pending + len > SESSION_STDIN_MAX) {
        send_error(0, ENOBUFS, "session '%s' is not reading its stdin; %u bytes dropped", s->name, (unsigned)len);
        return;
    }
    if (s->in_off > 0) {
        memmove(s->in_buf, s->in_buf + s->in_off, pending);
        s->in_off = 0;
        s->in_len = pending;
    }
    if (s->in_len + len > s->in_cap) {
        size_t cap = s->in_cap ? s->in_cap : 65536;
        while (cap < s->in_len + len)
            cap *= 2;
        uint8_t *nb = realloc(s->in_buf, cap);
        if (!nb) {
            send_error(0, ENOMEM, "session '%s': out of memory buffering stdin", s->name);
            return;
        }
        s->in_buf = nb;
        s->in_cap = cap;
    }
    memcpy(s->in_buf + s->in_len, data, len);
    s->in_len += len;
    flush_stdin(s);
}

/* One read from stream @st into the spool; false at EOF or nothing now. */
static bool read_output(struct session *s, int st)
{
    static uint8_t buf[OUTPUT_CHUNK];
    int *fd = st == 0 ? &s->out_fd : &s->err_fd;
    if (*fd < 0)
        return false;
    ssize_t n;
    do
        n = read(*fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return false;
    if (n <= 0) {
        close_fd(fd);
        return false;
    }
    if (spool_write(&s->sp[st], buf, (size_t)n) < 0)
        warn("session %s: cannot write its spool: %s", s->name, strerror(errno));
    return true;
}

void session_exited_io(struct session *s)
{
    for (int st = 0; st < 2; st++) {
        size_t total = 0;
        while (total < DRAIN_LIMIT && read_output(s, st))
            total += OUTPUT_CHUNK;
    }
    close_fd(&s->out_fd);
    close_fd(&s->err_fd);
    close_fd(&s->tty_fd);
    session_close_stdin(s);
}

static void session_ready(void *data, int fd, short revents, int tag)
{
    struct session *s = data;
    (void)revents;
    if (tag == 2) {
        if (fd == s->in_fd)
            flush_stdin(s);
        return;
    }
    if (fd == (tag == 0 ? s->out_fd : s->err_fd) && read_output(s, tag))
        session_pump(s);
}

void sessions_poll(void)
{
    size_t n;
    struct session **all = sessions_all(&n);
    for (size_t i = 0; i < n; i++) {
        struct session *s = all[i];
        if (s->out_fd >= 0)
            agent_poll_add(s->out_fd, POLLIN, session_ready, s, 0);
        if (s->err_fd >= 0)
            agent_poll_add(s->err_fd, POLLIN, session_ready, s, 1);
        if (s->in_fd >= 0 && s->in_off < s->in_len)
            agent_poll_add(s->in_fd, POLLOUT, session_ready, s, 2);
    }
}

/* ---- the table's entries: forgetting them, describing them ---- */

/* Forgets @s (not running): its spool files go too. */
void session_free(struct session *s)
{
    char path[PATH_MAX];
    session_forget_channels(s);
    close_fd(&s->out_fd);
    close_fd(&s->err_fd);
    close_fd(&s->tty_fd);
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
    sessions_detach(s);
    session_free(s);
}

/* Room for one more session: an exited one may be forgotten. */
bool sessions_make_room(uint32_t ch)
{
    size_t n_sessions;
    struct session **sessions = sessions_all(&n_sessions);
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

void session_put(BgrAgentBuf *b, const struct session *s)
{
    BgrAgentBuf in;
    bgr_agent_buf_init(&in);
    bgr_agent_buf_put_str(&in, BGR_AGENT_F_SESSION_NAME, s->name);
    for (size_t i = 0; i < s->argc; i++)
        bgr_agent_buf_put_str(&in, BGR_AGENT_F_ARG, s->argv[i]);
    bgr_agent_buf_put_str(&in, BGR_AGENT_F_CWD, s->cwd);
    bgr_agent_buf_put_int(&in, BGR_AGENT_F_STDIN, s->stdin_mode);
    if (s->pty)
        bgr_agent_buf_put_int(&in, BGR_AGENT_F_PTY, 1);
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
