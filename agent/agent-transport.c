/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-vsock-agent: the connection to the host. Finding a transport
 * (virtio-serial, vsock, a unix socket in host mode, an inherited fd),
 * sending whole frames, reading and splitting incoming ones, and what
 * happens when the host goes away. */
#include "agent.h"

struct agent_transport tr = { .fd = -1, .listen_fd = -1 };

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
void send_frame(uint16_t type, uint32_t channel, const void *payload, size_t len)
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
void send_buf(uint16_t type, uint32_t channel, BgrAgentBuf *b)
{
    if (b->failed && b->len == 0 && b->data == NULL)
        warn("out of memory building a %s reply", bgr_agent_msg_name(type));
    send_frame(type, channel, b->data, b->len);
    bgr_agent_buf_clear(b);
}

__attribute__((format(printf, 3, 4))) void send_error(uint32_t channel, int err, const char *fmt, ...)
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

void read_transport(void)
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
    exec_drop_all();
    tunnel_drop_all();
    rx_len = 0;
    tr.lost = false;
}

void connection_lost(void)
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
void serial_check(void)
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

void accept_host(void)
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
bool open_unix(const char *path)
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
void find_transport(void)
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

