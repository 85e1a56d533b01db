/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A bounded spool file for one output stream of a session: a ring of
 * `cap` bytes on disk. Offsets count every byte the stream ever produced;
 * once more than `cap` were written, the oldest are overwritten (dropped)
 * and `start` tells where what is kept begins. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct spool {
    int fd;
    uint64_t cap;
    uint64_t end; /* bytes written since the session started */
};

/* Creates (truncates) @path. 0, or -1 with errno. */
int spool_open(struct spool *s, const char *path, uint64_t cap);
void spool_close(struct spool *s);
/* Appends; returns 0, or -1 with errno (the bytes are then lost, but
 * counted as written and so as dropped). */
int spool_write(struct spool *s, const void *data, size_t len);
/* The first offset still kept (= bytes dropped so far). */
uint64_t spool_start(const struct spool *s);
/* Up to @len bytes from @off (>= spool_start, < end). Returns the count,
 * 0 at the end, -1 on an error. */
ssize_t spool_read(const struct spool *s, uint64_t off, void *buf, size_t len);
