/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-vsock-agent: facts about the guest for the host: READY (kernel,
 * OS, addresses, uptime), listening ports with their owners, and load. */
#include "agent.h"

/* ---- guest facts ---- */

/* /etc/os-release values: KEY=VALUE, VALUE optionally quoted with
 * shell-style backslash escapes inside double quotes. */
static void os_release_value(char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        char q = v[0];
        char *w = v;
        for (char *r = v + 1; r < v + n - 1; r++) {
            if (q == '"' && *r == '\\' && r + 1 < v + n - 1 && strchr("\"\\$`", r[1]))
                r++;
            *w++ = *r;
        }
        *w = '\0';
    }
}

static void put_os_release(BgrAgentBuf *b)
{
    char p1[64], p2[64];
    snprintf(p1, sizeof p1, "%s/etc/os-release", mode == MODE_GUEST ? "/proc/1/root" : "");
    snprintf(p2, sizeof p2, "%s/usr/lib/os-release", mode == MODE_GUEST ? "/proc/1/root" : "");
    /* Tests: host mode (the fake VMM) may read another file, e.g. one
     * with a hostile PRETTY_NAME. A real guest never looks. */
    const char *test_path = mode == MODE_HOST ? getenv("BANGER_AGENT_OS_RELEASE") : NULL;
    FILE *f = test_path && *test_path ? fopen(test_path, "re") : fopen(p1, "re");
    if (!f && !(test_path && *test_path))
        f = fopen(p2, "re");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        chomp(line);
        static const struct {
            const char *key;
            uint16_t tag;
        } keys[] = {
            { "ID=", BGR_AGENT_F_OS_ID },
            { "VERSION_ID=", BGR_AGENT_F_OS_VERSION_ID },
            { "PRETTY_NAME=", BGR_AGENT_F_OS_PRETTY },
        };
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            size_t kl = strlen(keys[i].key);
            if (strncmp(line, keys[i].key, kl) == 0) {
                os_release_value(line + kl);
                bgr_agent_buf_put_str(b, keys[i].tag, line + kl);
            }
        }
    }
    free(line);
    fclose(f);
}

static int prefix_len(const struct sockaddr *mask)
{
    const uint8_t *p;
    size_t n;
    if (!mask)
        return 0;
    if (mask->sa_family == AF_INET) {
        p = (const uint8_t *)&((const struct sockaddr_in *)mask)->sin_addr;
        n = 4;
    } else {
        p = (const uint8_t *)&((const struct sockaddr_in6 *)mask)->sin6_addr;
        n = 16;
    }
    int bits = 0;
    for (size_t i = 0; i < n; i++)
        bits += __builtin_popcount(p[i]);
    return bits;
}

static void put_addresses(BgrAgentBuf *b)
{
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) < 0)
        return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
            continue;
        int fam = i->ifa_addr->sa_family;
        if (fam != AF_INET && fam != AF_INET6)
            continue;
        char addr[INET6_ADDRSTRLEN], line[IF_NAMESIZE + INET6_ADDRSTRLEN + 16];
        const void *a = fam == AF_INET ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
                                       : (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
        if (!inet_ntop(fam, a, addr, sizeof addr))
            continue;
        snprintf(line, sizeof line, "%s %s/%d", i->ifa_name, addr, prefix_len(i->ifa_netmask));
        bgr_agent_buf_put_str(b, BGR_AGENT_F_ADDR, line);
    }
    freeifaddrs(ifs);
}

static int64_t uptime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void send_ready(uint32_t channel)
{
    BgrAgentBuf b;
    struct utsname u;
    bgr_agent_buf_init(&b);
    bgr_agent_buf_put_int(&b, BGR_AGENT_F_VERSION, BGR_AGENT_PROTOCOL_VERSION);
    bgr_agent_buf_put_str(&b, BGR_AGENT_F_AGENT_VERSION, BANGER_AGENT_VERSION);
    if (uname(&u) == 0) {
        char all[sizeof u.sysname * 5 + 8];
        snprintf(all, sizeof all, "%s %s %s %s %s", u.sysname, u.nodename, u.release, u.version, u.machine);
        bgr_agent_buf_put_str(&b, BGR_AGENT_F_KERNEL, u.release);
        bgr_agent_buf_put_str(&b, BGR_AGENT_F_UNAME, all);
        bgr_agent_buf_put_str(&b, BGR_AGENT_F_HOSTNAME, u.nodename);
    }
    put_os_release(&b);
    put_addresses(&b);
    bgr_agent_buf_put_int(&b, BGR_AGENT_F_UPTIME_MS, uptime_ms());
    bgr_agent_buf_put_str(&b, BGR_AGENT_F_TOOL, "assemble-pack");
    send_buf(BGR_AGENT_MSG_READY, channel, &b);
}

/* ---- listening ports ---- */

struct sock {
    char line[160]; /* "PROTO ADDR PORT" */
    unsigned long inode;
    pid_t pid;
};

struct socks {
    struct sock *v;
    size_t n, cap;
};

/* One /proc/net/{tcp,udp}[6]: the sockets in @state. Addresses are the
 * kernel's 32-bit words printed in hex in host order; ports are plain. */
static void read_proc_net(struct socks *s, const char *file, const char *proto, unsigned state, bool v6)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/net/%s", file);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, f) < 0) { /* the column titles */
        free(line);
        fclose(f);
        return;
    }
    while (getline(&line, &cap, f) >= 0) {
        char hex[33];
        unsigned port, st;
        unsigned long inode;
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
        if (sscanf(line, " %*s %32[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %lu", hex, &port, &st,
                   &inode) != 4 ||
            st != state || port == 0 || strlen(hex) != (v6 ? 32u : 8u))
            continue;
        uint32_t words[4];
        for (int i = 0; i < (v6 ? 4 : 1); i++) {
            char w[9];
            memcpy(w, hex + 8 * i, 8);
            w[8] = '\0';
            words[i] = (uint32_t)strtoul(w, NULL, 16);
        }
        char addr[INET6_ADDRSTRLEN];
        if (!inet_ntop(v6 ? AF_INET6 : AF_INET, words, addr, sizeof addr))
            continue;
        if (s->n == s->cap) {
            size_t ncap = s->cap ? s->cap * 2 : 32;
            struct sock *nv = realloc(s->v, ncap * sizeof *nv);
            if (!nv)
                break;
            s->v = nv;
            s->cap = ncap;
        }
        struct sock *k = &s->v[s->n++];
        snprintf(k->line, sizeof k->line, "%s %s %u", proto, addr, port);
        k->inode = inode;
        k->pid = 0;
    }
    free(line);
    fclose(f);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Best effort: the first process found with an fd on each socket. */
static void find_owners(struct socks *s)
{
    size_t unknown = 0;
    for (size_t i = 0; i < s->n; i++)
        unknown += s->v[i].inode != 0;
    DIR *proc = opendir("/proc");
    struct dirent *pe;
    while (unknown > 0 && proc && (pe = readdir(proc))) {
        if (!all_digits(pe->d_name))
            continue;
        char dir[300];
        snprintf(dir, sizeof dir, "/proc/%s/fd", pe->d_name);
        DIR *fds = opendir(dir);
        struct dirent *fe;
        while (unknown > 0 && fds && (fe = readdir(fds))) {
            char link[600], target[64];
            unsigned long inode;
            if (fe->d_name[0] == '.')
                continue;
            snprintf(link, sizeof link, "%s/%s", dir, fe->d_name);
            ssize_t n = readlink(link, target, sizeof target - 1);
            if (n <= 0)
                continue;
            target[n] = '\0';
            if (sscanf(target, "socket:[%lu]", &inode) != 1 || inode == 0)
                continue;
            for (size_t i = 0; i < s->n; i++) {
                if (s->v[i].inode == inode && s->v[i].pid == 0) {
                    s->v[i].pid = (pid_t)atoi(pe->d_name);
                    unknown--;
                }
            }
        }
        if (fds)
            closedir(fds);
    }
    if (proc)
        closedir(proc);
}

void send_ports(uint32_t channel)
{
    struct socks s = { 0 };
    read_proc_net(&s, "tcp", "tcp", 0x0A, false);  /* TCP_LISTEN */
    read_proc_net(&s, "tcp6", "tcp6", 0x0A, true);
    read_proc_net(&s, "udp", "udp", 0x07, false);  /* TCP_CLOSE: bound, not connected */
    read_proc_net(&s, "udp6", "udp6", 0x07, true);
    find_owners(&s);
    BgrAgentBuf b;
    bgr_agent_buf_init(&b);
    for (size_t i = 0; i < s.n; i++) {
        char comm[64] = "-", path[64], line[256];
        if (s.v[i].pid > 0) {
            snprintf(path, sizeof path, "/proc/%d/comm", (int)s.v[i].pid);
            if (read_file(path, comm, sizeof comm) > 0)
                chomp(comm);
            if (!comm[0])
                snprintf(comm, sizeof comm, "-");
        }
        snprintf(line, sizeof line, "%s %d %s", s.v[i].line, (int)s.v[i].pid, comm);
        bgr_agent_buf_put_str(&b, BGR_AGENT_F_PORT, line);
    }
    free(s.v);
    send_buf(BGR_AGENT_MSG_PORTS, channel, &b);
}

/* ---- stats ---- */

/* "1.23" -> 1230 (the kernel prints two decimals). */
static int64_t parse_milli(const char *s)
{
    char *end;
    int64_t v = (int64_t)strtoll(s, &end, 10) * 1000;
    if (*end == '.') {
        int64_t scale = 100;
        for (const char *p = end + 1; *p >= '0' && *p <= '9' && scale > 0; p++, scale /= 10)
            v += (*p - '0') * scale;
    }
    return v;
}

void send_stats(uint32_t channel)
{
    BgrAgentBuf b;
    char text[4096];
    bgr_agent_buf_init(&b);

    unsigned long long user, nice, sys, idle, iowait = 0, irq = 0, softirq = 0;
    long clk = sysconf(_SC_CLK_TCK); /* USER_HZ: /proc/stat counts in these */
    unsigned long long hz = clk > 0 ? (unsigned long long)clk : 100;
    if (read_file("/proc/stat", text, sizeof text) > 0 &&
        sscanf(text, "cpu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iowait, &irq,
               &softirq) >= 4) {
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_CPU_USER_MS, (int64_t)((user + nice) * 1000 / hz));
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_CPU_SYSTEM_MS, (int64_t)((sys + irq + softirq) * 1000 / hz));
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_CPU_IDLE_MS, (int64_t)((idle + iowait) * 1000 / hz));
    }

    if (read_file("/proc/meminfo", text, sizeof text) > 0) {
        long long total = -1, avail = -1, free_ = 0, buffers = 0, cached = 0;
        for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
            sscanf(l, "MemTotal: %lld", &total);
            sscanf(l, "MemAvailable: %lld", &avail);
            sscanf(l, "MemFree: %lld", &free_);
            sscanf(l, "Buffers: %lld", &buffers);
            sscanf(l, "Cached: %lld", &cached);
        }
        if (avail < 0) /* kernels before 3.14 */
            avail = free_ + buffers + cached;
        if (total >= 0) {
            bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_MEM_TOTAL, total * 1024);
            bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_MEM_AVAILABLE, avail * 1024);
        }
    }

    if (read_file("/proc/loadavg", text, sizeof text) > 0)
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_LOAD1_MILLI, parse_milli(text));
    bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_UPTIME_MS, uptime_ms());

    struct statvfs vfs;
    if (statvfs(init_root(), &vfs) == 0) {
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_DISK_TOTAL, (int64_t)(vfs.f_blocks * vfs.f_frsize));
        bgr_agent_buf_put_int(&b, BGR_AGENT_F_STAT_DISK_FREE, (int64_t)(vfs.f_bavail * vfs.f_frsize));
    }
    send_buf(BGR_AGENT_MSG_STATS, channel, &b);
}

