/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-vsock-agent: logging, clocks, small file helpers, and what every
 * child process the agent starts goes through. */
#include "agent.h"

static void vlog(const char *fmt, va_list ap)
{
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

__attribute__((format(printf, 1, 2))) void warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}


/* ---- small file helpers ---- */

/* Reads a small file into buf (NUL-terminated); -1 on failure. */
ssize_t read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t used = 0;
    while (used < size - 1) {
        ssize_t n = read(fd, buf + used, size - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    buf[used] = '\0';
    return (ssize_t)used;
}

void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* The root of PID 1 (which may differ from ours: a private namespace, or an
 * agent started in a service's sandbox); "/" in --fd mode. */
const char *init_root(void)
{
    return mode == MODE_GUEST ? "/proc/1/root" : "/";
}

/* ---- child processes ---- */

/* What a child could not do, sent through its close-on-exec status pipe. */
void child_fail(int status_fd, int stage)
{
    struct child_failure f = { stage, errno };
    if (status_fd >= 0) {
        ssize_t n = write(status_fd, &f, sizeof f);
        (void)n;
    }
    _exit(127);
}

/* In a new child: undo what the agent changed for itself and move into the
 * init's world (guest mode): its mount namespace and its root. */
void child_prepare(int status_fd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (mode == MODE_GUEST && init_mntns_fd >= 0) {
        /* Opened before setns: PID 1's root as a path in its namespace,
         * which is also right when the init has chrooted. */
        int root = open("/proc/1/root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (setns(init_mntns_fd, CLONE_NEWNS) < 0)
            child_fail(status_fd, STAGE_NAMESPACE);
        if (root >= 0 && (fchdir(root) < 0 || chroot(".") < 0))
            child_fail(status_fd, STAGE_NAMESPACE);
        if (root >= 0)
            close(root);
    }
    setsid(); /* its own session and process group: SIGNAL and timeouts hit all of it */
}

const char *agent_home;

char **default_env(void)
{
    static char home[PATH_MAX + 8];
    static const char *const defaults[] = { DEFAULT_PATH_ENV, "HOME=/root", "LANG=C.UTF-8" };
    size_t n = sizeof defaults / sizeof defaults[0];
    char **env = calloc(n + 1, sizeof *env);
    for (size_t i = 0; env && i < n; i++)
        env[i] = (char *)defaults[i];
    if (env && agent_home) { /* host mode --home: the "guest's" /root */
        snprintf(home, sizeof home, "HOME=%s", agent_home);
        env[1] = home;
    }
    return env;
}

/* A program the agent starts for itself (poweroff): nobody reads its output
 * or waits for it beyond reaping. */
void run_detached(const char *prog)
{
    pid_t pid = fork();
    if (pid < 0) {
        warn("cannot run %s: fork: %s", prog, strerror(errno));
        return;
    }
    if (pid > 0)
        return;
    child_prepare(-1);
    if (devnull_fd >= 0)
        dup2(devnull_fd, 0);
    if (chdir("/") < 0)
        _exit(127);
    char **env = default_env();
    if (env)
        environ = env;
    execlp(prog, prog, (char *)NULL);
    warn("cannot run %s: %s", prog, strerror(errno));
    _exit(127);
}


void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* A field's value as a string; NULL when it holds a NUL byte. */
char *field_str(const uint8_t *val, uint32_t len)
{
    if (memchr(val, '\0', len))
        return NULL;
    char *s = malloc((size_t)len + 1);
    if (s) {
        memcpy(s, val, len);
        s[len] = '\0';
    }
    return s;
}

void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* Puts "KEY=VALUE" into env (which has room), replacing an entry with the
 * same key. */
void env_set(char **env, size_t *n, char *kv)
{
    size_t klen = (size_t)(strchr(kv, '=') - kv);
    for (size_t i = 0; i < *n; i++) {
        if (strncmp(env[i], kv, klen) == 0 && env[i][klen] == '=') {
            env[i] = kv;
            return;
        }
    }
    env[(*n)++] = kv;
}


bool fields_ok(const uint8_t *payload, size_t len)
{
    BgrAgentFieldIter it;
    uint16_t tag;
    const uint8_t *val;
    uint32_t vlen;
    int rc;
    bgr_agent_fields_init(&it, payload, len);
    while ((rc = bgr_agent_fields_next(&it, &tag, &val, &vlen)) > 0)
        ;
    return rc == 0;
}
