/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-vsock-agent: TCP_CONNECT. A TCP connection from the agent to an
 * address in the guest (127.0.0.1:PORT by default), its bytes carried both
 * ways as TCP_DATA frames on the host's channel: what banger's `vm proxy`
 * and `vm forward` ride on. Each side ends its direction with an empty
 * TCP_DATA (a half-close); TCP_CLOSE ends the channel. Like execs, every
 * connection goes when the host connection goes. */
#include "agent.h"

#include <netinet/tcp.h>

/* How long a connect may take before it fails with ETIMEDOUT. */
#define CONNECT_TIMEOUT_MS 10000
/* TCP_DATA bytes the guest socket has not taken yet, per connection. */
#define TUNNEL_BUFFER_MAX (64u * 1024 * 1024)

struct tunnel {
    uint32_t channel;
    int fd;
    bool connecting;  /* connect() in progress */
    bool done;        /* TCP_CLOSE or ERROR sent, or abandoned; freed at the end of the turn */
    bool rd_eof;      /* the guest side sent its last byte (empty TCP_DATA sent) */
    bool wr_eof;      /* the host sent its last byte */
    bool wr_shut;     /* ... and it was written and shutdown(SHUT_WR) done */
    uint8_t *buf;     /* host bytes the socket did not take yet */
    size_t off, len, cap;
    int64_t deadline; /* connect timeout */
    char what[96];    /* "ADDR:PORT", for messages */
};

static struct tunnel **tunnels;
static size_t n_tunnels, cap_tunnels;

static struct tunnel *find_tunnel(uint32_t channel)
{
    for (size_t i = 0; i < n_tunnels; i++)
        if (!tunnels[i]->done && tunnels[i]->channel == channel)
            return tunnels[i];
    return NULL;
}

bool tunnel_in_use(uint32_t channel)
{
    return find_tunnel(channel) != NULL;
}

static void tunnel_finish(struct tunnel *t)
{
    close_fd(&t->fd);
    free(t->buf);
    t->buf = NULL;
    t->off = t->len = t->cap = 0;
    t->done = true;
}

/* Ends the channel: TCP_CLOSE, with the reason when it is an error. */
static void tunnel_close(struct tunnel *t, int err)
{
    BgrAgentBuf b;
    bgr_agent_buf_init(&b);
    if (err) {
        char msg[256];
        snprintf(msg, sizeof msg, "connection to %s: %s", t->what, strerror(err));
        bgr_agent_buf_put_str(&b, BGR_AGENT_F_MESSAGE, msg);
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_ERRNO, err);
    }
    tunnel_finish(t); /* before sending: the host may reuse the channel at once */
    send_buf(BGR_AGENT_MSG_TCP_CLOSE, t->channel, &b);
}

/* Both directions are over: the connection is too. */
static void tunnel_check_over(struct tunnel *t)
{
    if (!t->done && t->rd_eof && t->wr_shut)
        tunnel_close(t, 0);
}

static bool parse_target(const uint8_t *payload, size_t len, struct sockaddr_storage *sa,
                         socklen_t *salen, char *what, size_t what_size, const char **bad)
{
    BgrAgentFieldIter it;
    uint16_t tag;
    const uint8_t *val;
    uint32_t vlen;
    char *addr = NULL;
    int64_t port = 0;
    bool ok = false;

    bgr_agent_fields_init(&it, payload, len);
    while (bgr_agent_fields_next(&it, &tag, &val, &vlen) > 0) {
        if (tag == BGR_AGENT_F_TCP_ADDR) {
            free(addr);
            if (!(addr = field_str(val, vlen))) {
                *bad = "TCP_ADDR holds a NUL byte";
                return false;
            }
        } else if (tag == BGR_AGENT_F_TCP_PORT && bgr_agent_field_int(val, vlen, &port) < 0) {
            port = 0;
        }
    }
    const char *a = addr && *addr ? addr : "127.0.0.1";
    struct sockaddr_in *in4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
    memset(sa, 0, sizeof *sa);
    if (port < 1 || port > 65535) {
        *bad = "TCP_PORT is missing or not 1-65535";
    } else if (strcmp(a, "localhost") == 0 || inet_pton(AF_INET, a, &in4->sin_addr) == 1) {
        if (strcmp(a, "localhost") == 0)
            in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *salen = sizeof *in4;
        snprintf(what, what_size, "%s:%d", a, (int)port);
        ok = true;
    } else if (inet_pton(AF_INET6, a, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *salen = sizeof *in6;
        snprintf(what, what_size, "[%s]:%d", a, (int)port);
        ok = true;
    } else {
        *bad = "TCP_ADDR is not an IPv4 or IPv6 address";
    }
    free(addr);
    return ok;
}

void tunnel_start(uint32_t channel, const uint8_t *payload, size_t len)
{
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    char what[96];
    const char *bad = NULL;

    if (channel == 0) {
        send_error(0, EINVAL, "TCP_CONNECT needs a channel above 0");
        return;
    }
    if (find_tunnel(channel) || error_channel(channel) != channel) {
        send_error(channel, EBUSY, "channel %u is in use", channel);
        return;
    }
    if (!parse_target(payload, len, &sa, &salen, what, sizeof what, &bad)) {
        send_error(channel, EINVAL, "bad TCP_CONNECT: %s", bad);
        return;
    }
    if (n_tunnels == cap_tunnels) {
        size_t cap = cap_tunnels ? cap_tunnels * 2 : 8;
        struct tunnel **nt = realloc(tunnels, cap * sizeof *tunnels);
        if (!nt) {
            send_error(channel, ENOMEM, "out of memory");
            return;
        }
        tunnels = nt;
        cap_tunnels = cap;
    }
    struct tunnel *t = calloc(1, sizeof *t);
    if (!t) {
        send_error(channel, ENOMEM, "out of memory");
        return;
    }
    t->channel = channel;
    snprintf(t->what, sizeof t->what, "%s", what);
    t->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (t->fd < 0) {
        send_error(channel, errno, "cannot connect to %s: %s", what, strerror(errno));
        free(t);
        return;
    }
    int one = 1;
    setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(t->fd, (struct sockaddr *)&sa, salen) < 0 && errno != EINPROGRESS) {
        send_error(channel, errno, "cannot connect to %s: %s", what, strerror(errno));
        close(t->fd);
        free(t);
        return;
    }
    t->connecting = true;
    t->deadline = now_ms() + CONNECT_TIMEOUT_MS;
    tunnels[n_tunnels++] = t;
}

/* The connect finished (or failed). */
static void tunnel_connected(struct tunnel *t)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        send_error(t->channel, err, "cannot connect to %s: %s", t->what, strerror(err));
        tunnel_finish(t);
        return;
    }
    t->connecting = false;
    t->deadline = 0;
    send_frame(BGR_AGENT_MSG_TCP_CONNECTED, t->channel, NULL, 0);
}

/* Writes buffered host bytes into the socket as far as it goes now; then
 * the half-close, once the host's last byte is out. */
static void tunnel_flush(struct tunnel *t)
{
    while (t->fd >= 0 && !t->connecting && t->off < t->len) {
        ssize_t n = send(t->fd, t->buf + t->off, t->len - t->off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            tunnel_close(t, errno);
            return;
        }
        t->off += (size_t)n;
    }
    if (t->off == t->len)
        t->off = t->len = 0;
    if (!t->done && !t->connecting && t->wr_eof && !t->wr_shut && t->len == 0) {
        shutdown(t->fd, SHUT_WR);
        t->wr_shut = true;
        tunnel_check_over(t);
    }
}

static void tunnel_buffer(struct tunnel *t, const uint8_t *data, size_t len)
{
    size_t pending = t->len - t->off;
    if (pending + len > TUNNEL_BUFFER_MAX) {
        send_error(0, ENOBUFS, "channel %u: the guest side of %s is not reading and %u bytes are "
                   "waiting; connection closed", t->channel, t->what, TUNNEL_BUFFER_MAX);
        tunnel_close(t, ENOBUFS);
        return;
    }
    if (t->off > 0 && t->len + len > t->cap) {
        memmove(t->buf, t->buf + t->off, pending);
        t->off = 0;
        t->len = pending;
    }
    if (t->len + len > t->cap) {
        size_t cap = t->cap ? t->cap : 65536;
        while (cap < t->len + len)
            cap *= 2;
        uint8_t *nb = realloc(t->buf, cap);
        if (!nb) {
            tunnel_close(t, ENOMEM);
            return;
        }
        t->buf = nb;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, data, len);
    t->len += len;
}

void tunnel_data_frame(uint32_t channel, const uint8_t *data, size_t len)
{
    struct tunnel *t = find_tunnel(channel);
    if (!t || t->wr_eof) /* it may have ended an instant ago */
        return;
    if (len == 0)
        t->wr_eof = true;
    else
        tunnel_buffer(t, data, len);
    if (!t->done)
        tunnel_flush(t);
}

void tunnel_close_request(uint32_t channel)
{
    struct tunnel *t = find_tunnel(channel);
    if (!t)
        return;
    /* An abort: unsent bytes are dropped and the peer sees a reset. */
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    tunnel_close(t, 0);
}

/* One read from the socket, forwarded as one TCP_DATA frame. */
static void tunnel_read(struct tunnel *t)
{
    static uint8_t buf[OUTPUT_CHUNK];
    ssize_t n;
    do
        n = recv(t->fd, buf, sizeof buf, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n < 0) {
        tunnel_close(t, errno);
        return;
    }
    if (n == 0) {
        t->rd_eof = true;
        send_frame(BGR_AGENT_MSG_TCP_DATA, t->channel, NULL, 0);
        tunnel_check_over(t);
        return;
    }
    send_frame(BGR_AGENT_MSG_TCP_DATA, t->channel, buf, (size_t)n);
}

/* ---- main-loop hooks ---- */

static void tunnel_ready(void *data, int fd, short revents, int tag)
{
    struct tunnel *t = data;
    (void)tag;
    if (tr.lost || t->done || fd != t->fd)
        return;
    if (t->connecting) {
        tunnel_connected(t);
        if (!t->done)
            tunnel_flush(t); /* STDIN that came before the connection was up */
        return;
    }
    if (revents & POLLOUT)
        tunnel_flush(t);
    if (!t->done && !t->rd_eof && (revents & (POLLIN | POLLHUP | POLLERR)))
        tunnel_read(t);
}

void tunnel_poll(void)
{
    for (size_t i = 0; i < n_tunnels; i++) {
        struct tunnel *t = tunnels[i];
        if (t->done)
            continue;
        short ev = 0;
        if (t->connecting)
            ev = POLLOUT;
        else {
            if (!t->rd_eof)
                ev |= POLLIN;
            if (t->off < t->len)
                ev |= POLLOUT;
        }
        if (ev)
            agent_poll_add(t->fd, ev, tunnel_ready, t, 0);
    }
}

void tunnel_timers(int64_t now)
{
    for (size_t i = 0; i < n_tunnels; i++) {
        struct tunnel *t = tunnels[i];
        if (t->done || !t->deadline)
            continue;
        if (now >= t->deadline) {
            send_error(t->channel, ETIMEDOUT, "cannot connect to %s: %s", t->what, strerror(ETIMEDOUT));
            tunnel_finish(t);
        } else {
            agent_wake_at(t->deadline);
        }
    }
}

void tunnel_drop_all(void)
{
    for (size_t i = 0; i < n_tunnels; i++)
        if (!tunnels[i]->done)
            tunnel_finish(tunnels[i]);
}

void tunnel_sweep(void)
{
    size_t keep = 0;
    for (size_t i = 0; i < n_tunnels; i++) {
        if (tunnels[i]->done)
            free(tunnels[i]);
        else
            tunnels[keep++] = tunnels[i];
    }
    n_tunnels = keep;
}

const struct agent_module tunnel_module = {
    .name = "tunnels",
    .poll = tunnel_poll,
    .timers = tunnel_timers,
    .host_lost = tunnel_drop_all,
    .channel_busy = tunnel_in_use,
    .sweep = tunnel_sweep,
};
