/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bounded spool files (agent-spool.h). */
#include "agent-spool.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int spool_open(struct spool *s, const char *path, uint64_t cap)
{
    s->cap = cap;
    s->end = 0;
    s->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    return s->fd < 0 ? -1 : 0;
}

void spool_close(struct spool *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

uint64_t spool_start(const struct spool *s)
{
    return s->end > s->cap ? s->end - s->cap : 0;
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, off_t at)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
        at += n;
    }
    return 0;
}

int spool_write(struct spool *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    int rc = 0;
    /* Only the last cap bytes of a huge write can be kept. */
    if (len > s->cap) {
        s->end += len - s->cap;
        p += len - s->cap;
        len = (size_t)s->cap;
    }
    while (len > 0) {
        uint64_t at = s->end % s->cap;
        size_t n = len;
        if (at + n > s->cap)
            n = (size_t)(s->cap - at);
        if (s->fd < 0 || pwrite_all(s->fd, p, n, (off_t)at) < 0)
            rc = -1;
        s->end += n;
        p += n;
        len -= n;
    }
    return rc;
}

ssize_t spool_read(const struct spool *s, uint64_t off, void *buf, size_t len)
{
    if (off < spool_start(s) || off >= s->end)
        return 0;
    if (len > s->end - off)
        len = (size_t)(s->end - off);
    uint64_t at = off % s->cap;
    if (at + len > s->cap)
        len = (size_t)(s->cap - at);
    ssize_t n;
    do
        n = pread(s->fd, buf, len, (off_t)at);
    while (n < 0 && errno == EINTR);
    return n;
}
