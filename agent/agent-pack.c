/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-vsock-agent --assemble-pack GITDIR: makes a workspace's packfile
 * from the recipe banger sent (GITDIR/banger-pack.recipe; the format is
 * in libbanger/git/bgr-git-recipe.c) and the working files next to it,
 * which it frames as zlib streams of stored blocks. Only copies: banger
 * computed the checksums. The pack is written under a temporary name in
 * GITDIR/objects/pack, renamed to pack-<its checksum>.pack once whole;
 * the recipe is removed. Anything unexpected in the recipe fails it with
 * a message naming what, leaving no pack. */
#include "agent.h"

#include "agent-pack.h"

#define RAW_MAX (16u << 20) /* one 'R' record, at most */
#define STORED_MAX 0xffff   /* bytes in a stored block */
#define OUT_SIZE (4u << 20)

struct assembly {
    const char *gitdir;
    char root[PATH_MAX];   /* the workspace: GITDIR/.. */
    FILE *in;
    int out;
    char tmp[PATH_MAX];
    uint8_t *buf;          /* OUT_SIZE */
    size_t len;
    uint8_t first[4];      /* the first 4 bytes written: "PACK" */
    uint8_t last[20];      /* the last 20 bytes written: the pack's checksum at the end */
    uint64_t written;
};

static bool write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static bool fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool fail(const char *fmt, ...)
{
    va_list ap;
    fputs(PROG " --assemble-pack: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return false;
}

static bool flush_out(struct assembly *a)
{
    if (a->len > 0 && !write_all(a->out, a->buf, a->len))
        return fail("cannot write %s: %s", a->tmp, strerror(errno));
    a->len = 0;
    return true;
}

/* Notes @len bytes going into the pack at its end: its first 4 and last
 * 20 bytes are checked and named from. */
static void account(struct assembly *a, const uint8_t *p, size_t len)
{
    for (size_t i = 0; a->written + i < 4 && i < len; i++)
        a->first[a->written + i] = p[i];
    if (len >= 20) {
        memcpy(a->last, p + len - 20, 20);
    } else {
        memmove(a->last, a->last + len, 20 - len);
        memcpy(a->last + 20 - len, p, len);
    }
    a->written += len;
}

static bool emit(struct assembly *a, const void *data, size_t len)
{
    const uint8_t *p = data;
    account(a, p, len);
    while (len > 0) {
        size_t n = len < OUT_SIZE - a->len ? len : OUT_SIZE - a->len;
        memcpy(a->buf + a->len, p, n);
        a->len += n;
        p += n;
        len -= n;
        if (a->len == OUT_SIZE && !flush_out(a))
            return false;
    }
    return true;
}

static bool read_in(struct assembly *a, void *buf, size_t len, const char *what)
{
    if (fread(buf, 1, len, a->in) != len)
        return fail("the recipe ends inside %s", what);
    return true;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static bool raw_record(struct assembly *a)
{
    uint8_t n4[4];
    uint32_t n;
    if (!read_in(a, n4, 4, "a record's length"))
        return false;
    n = (uint32_t)le(n4, 4);
    if (n > RAW_MAX)
        return fail("a record of %u bytes (at most %u)", n, RAW_MAX);
    /* Read straight into the output buffer. */
    while (n > 0) {
        size_t k;
        if (a->len == OUT_SIZE && !flush_out(a))
            return false;
        k = n < OUT_SIZE - a->len ? n : OUT_SIZE - a->len;
        if (!read_in(a, a->buf + a->len, k, "a record"))
            return false;
        account(a, a->buf + a->len, k);
        a->len += k;
        n -= (uint32_t)k;
    }
    return true;
}

/* A path under the workspace: relative, no empty, "." or ".." part. */
static bool path_ok(const char *rel)
{
    const char *p = rel;
    if (*rel == '\0' || *rel == '/')
        return false;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        p += n + (end ? 1 : 0);
    }
    return true;
}

/* The file's bytes as stored blocks between the zlib header and ADLER,
 * each block read straight into the output buffer after its header: in
 * an emulated guest a copy made by this process costs as much as the
 * kernel's, so there is none. */
static bool frame_file(struct assembly *a, int fd, const char *rel, uint64_t size, const uint8_t adler[4])
{
    static const uint8_t zhdr[2] = { 0x78, 0x01 };
    uint64_t left = size;
    uint8_t be[4] = { adler[3], adler[2], adler[1], adler[0] };

    if (!emit(a, zhdr, 2))
        return false;
    do {
        uint16_t n = left < STORED_MAX ? (uint16_t)left : STORED_MAX;
        uint8_t head[5] = { n == left ? 1 : 0, n & 0xff, n >> 8, (uint8_t)~n, (uint8_t)(~n >> 8) };
        size_t got = 0;
        if (OUT_SIZE - a->len < sizeof head + n && !flush_out(a))
            return false;
        if (!emit(a, head, sizeof head))
            return false;
        while (got < n) {
            ssize_t r = read(fd, a->buf + a->len + got, n - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return fail("%s is shorter than the %llu bytes banger sent", rel, (unsigned long long)size);
            got += (size_t)r;
        }
        account(a, a->buf + a->len, n);
        a->len += n;
        left -= n;
    } while (left > 0);
    return emit(a, be, 4);
}

static bool file_record(struct assembly *a)
{
    uint8_t n2[2], tail[12];
    char rel[PATH_MAX], path[2 * PATH_MAX];
    size_t n;
    struct stat st;
    int fd;
    bool ok;

    if (!read_in(a, n2, 2, "a file record"))
        return false;
    n = (size_t)le(n2, 2);
    if (n >= sizeof rel)
        return fail("a path of %zu bytes", n);
    if (!read_in(a, rel, n, "a file record") || !read_in(a, tail, 12, "a file record"))
        return false;
    rel[n] = '\0';
    if (strlen(rel) != n || !path_ok(rel))
        return fail("a file record names '%s', not a path inside the workspace", rel);
    snprintf(path, sizeof path, "%s/%s", a->root, rel);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return fail("cannot read %s: %s", rel, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != le(tail, 8)) {
        close(fd);
        return fail("%s is not the file of %llu bytes banger sent", rel, (unsigned long long)le(tail, 8));
    }
    ok = frame_file(a, fd, rel, le(tail, 8), tail + 8);
    close(fd);
    return ok;
}

static bool assemble(struct assembly *a)
{
    char magic[8];
    int tag;

    if (fread(magic, 1, 8, a->in) != 8 || memcmp(magic, "BGRPACK1", 8) != 0)
        return fail("%s/banger-pack.recipe is not a pack recipe", a->gitdir);
    for (;;) {
        tag = fgetc(a->in);
        if (tag == 'E')
            break;
        if (tag == 'R') {
            if (!raw_record(a))
                return false;
        } else if (tag == 'F') {
            if (!file_record(a))
                return false;
        } else if (tag == EOF) {
            return fail("the recipe ends without its end record");
        } else {
            return fail("unknown record type 0x%02x in the recipe", tag);
        }
    }
    if (fgetc(a->in) != EOF)
        return fail("bytes after the recipe's end record");
    if (a->written < 32 || memcmp(a->first, "PACK", 4) != 0)
        return fail("the recipe makes no pack");
    return flush_out(a);
}

int agent_assemble_pack(const char *gitdir)
{
    struct assembly a = { .gitdir = gitdir, .out = -1 };
    char recipe[PATH_MAX], final[PATH_MAX + 64], hex[41];
    bool ok;

    if (snprintf(a.root, sizeof a.root, "%s/..", gitdir) >= (int)sizeof a.root
        || snprintf(recipe, sizeof recipe, "%s/banger-pack.recipe", gitdir) >= (int)sizeof recipe
        || snprintf(a.tmp, sizeof a.tmp, "%s/objects/pack/tmp_pack_XXXXXX", gitdir) >= (int)sizeof a.tmp) {
        fail("%s: path too long", gitdir);
        return 1;
    }
    a.in = fopen(recipe, "rbe");
    if (!a.in) {
        fail("cannot read %s: %s", recipe, strerror(errno));
        return 1;
    }
    a.out = mkostemp(a.tmp, O_CLOEXEC);
    a.buf = malloc(OUT_SIZE);
    if (a.out < 0 || !a.buf) {
        fail("cannot create %s: %s", a.tmp, a.out < 0 ? strerror(errno) : "out of memory");
        if (a.out >= 0) {
            close(a.out);
            unlink(a.tmp);
        }
        fclose(a.in);
        free(a.buf);
        return 1;
    }
    ok = assemble(&a);
    fclose(a.in);
    free(a.buf);
    if (ok && fchmod(a.out, 0444) != 0)
        ok = fail("cannot write %s: %s", a.tmp, strerror(errno));
    if (close(a.out) != 0 && ok)
        ok = fail("cannot write %s: %s", a.tmp, strerror(errno));
    for (int i = 0; ok && i < 20; i++)
        snprintf(hex + 2 * i, 3, "%02x", a.last[i]);
    if (ok) {
        snprintf(final, sizeof final, "%s/objects/pack/pack-%s.pack", gitdir, hex);
        if (rename(a.tmp, final) != 0)
            ok = fail("cannot rename %s to %s: %s", a.tmp, final, strerror(errno));
    }
    if (!ok) {
        unlink(a.tmp);
        return 1;
    }
    unlink(recipe);
    return 0;
}
