/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sessions: starting, listing, signalling and reaping them, their pipes
 * and spools (agent-sessions.h). */
#include "agent-sessions.h"

#define ARGS_MAX 4096 /* ARG or ENV fields of one SESSION_START */
#define DEFAULT_GRACE_MS 10000

static struct session *sessions[BGR_AGENT_SESSIONS_MAX];
static size_t n_sessions;
static char spool_root[PATH_MAX];

struct session *session_find(const char *name)
{
    for (size_t i = 0; i < n_sessions; i++)
        if (strcmp(sessions[i]->name, name) == 0)
            return sessions[i];
    return NULL;
}

static void spool_path(char *out, size_t size, const char *name, const char *file)
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
static void session_free(struct session *s)
{
    char path[PATH_MAX];
    session_forget_channels(s);
    close_fd(&s->out_fd);
    close_fd(&s->err_fd);
    session_close_stdin(s);
    spool_close(&s->sp[0]);
    spool_close(&s->sp[1]);
    spool_path(path, sizeof path, s->name, "stdout");
    unlink(path);
    spool_path(path, sizeof path, s->name, "stderr");
    unlink(path);
    spool_path(path, sizeof path, s->name, NULL);
    rmdir(path);
    free_strv(s->argv, s->argc);
    free(s->cwd);
    free(s);
}

static void session_remove(struct session *s)
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

int sessions_init(const char *dir)
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
    if (mkdir_p(spool_root) < 0) {
        warn("cannot create the session spool %s: %s", spool_root, strerror(errno));
        return -1;
    }
    /* In a guest, spools live in memory, in the agent's own mount
     * namespace: the guest's disk and its processes never see them. */
    if (mode == MODE_GUEST && mount("tmpfs", spool_root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                    "mode=0700,size=50%") < 0)
        warn("cannot mount a tmpfs on %s (%s); session spools go to its disk", spool_root, strerror(errno));
    if (mode != MODE_GUEST)
        atexit(sessions_cleanup);
    return 0;
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

static void send_one(uint32_t channel, const struct session *s)
{
    BgrAgentBuf b;
    bgr_agent_buf_init(&b);
    session_put(&b, s);
    send_buf(BGR_AGENT_MSG_SESSIONS, channel, &b);
}

/* ---- starting ---- */

struct start_req {
    char name[BGR_AGENT_SESSION_NAME_MAX + 1];
    char **argv, **envs, **req;
    size_t nargs, nenv, nreq;
    char *cwd;
    int64_t stdin_mode, log_max, pty;
};

static void start_req_free(struct start_req *r)
{
    free_strv(r->argv, r->nargs);
    free_strv(r->envs, r->nenv);
    free_strv(r->req, r->nreq);
    free(r->cwd);
}

/* Collects the fields; a message for the host when they are bad. */
static const char *start_req_parse(struct start_req *r, const uint8_t *payload, size_t len)
{
    BgrAgentFieldIter it;
    uint16_t tag;
    const uint8_t *val;
    uint32_t vlen;
    size_t na = 0, ne = 0, nr = 0;
    bool named = false;

    r->log_max = BGR_AGENT_LOG_MAX_DEFAULT;
    bgr_agent_fields_init(&it, payload, len);
    while (bgr_agent_fields_next(&it, &tag, &val, &vlen) > 0) {
        na += tag == BGR_AGENT_F_ARG;
        ne += tag == BGR_AGENT_F_ENV;
        nr += tag == BGR_AGENT_F_REQUIRE;
    }
    if (na == 0)
        return "no ARG";
    if (na > ARGS_MAX || ne > ARGS_MAX || nr > ARGS_MAX)
        return "more than 4096 ARG, ENV or REQUIRE fields";
    r->argv = calloc(na + 1, sizeof *r->argv);
    r->envs = calloc(ne + 1, sizeof *r->envs);
    r->req = calloc(nr + 1, sizeof *r->req);
    if (!r->argv || !r->envs || !r->req)
        return "out of memory";
    bgr_agent_fields_init(&it, payload, len);
    while (bgr_agent_fields_next(&it, &tag, &val, &vlen) > 0) {
        switch (tag) {
        case BGR_AGENT_F_SESSION_NAME:
            if (vlen > BGR_AGENT_SESSION_NAME_MAX || memchr(val, '\0', vlen))
                return "SESSION_NAME is not a valid session name";
            memcpy(r->name, val, vlen);
            r->name[vlen] = '\0';
            if (!bgr_agent_session_name_valid(r->name))
                return "SESSION_NAME is not a valid session name";
            named = true;
            break;
        case BGR_AGENT_F_ARG:
            if (!(r->argv[r->nargs++] = field_str(val, vlen)))
                return "ARG holds a NUL byte";
            break;
        case BGR_AGENT_F_ENV:
            if (!(r->envs[r->nenv++] = field_str(val, vlen)))
                return "ENV holds a NUL byte";
            if (!strchr(r->envs[r->nenv - 1], '=') || r->envs[r->nenv - 1][0] == '=')
                return "ENV is not KEY=VALUE";
            break;
        case BGR_AGENT_F_REQUIRE:
            if (!(r->req[r->nreq++] = field_str(val, vlen)) || !*r->req[r->nreq - 1])
                return "REQUIRE is empty or holds a NUL byte";
            break;
        case BGR_AGENT_F_CWD:
            free(r->cwd);
            if (!(r->cwd = field_str(val, vlen)) || r->cwd[0] != '/')
                return "CWD is not an absolute path";
            break;
        case BGR_AGENT_F_STDIN:
            if (bgr_agent_field_int(val, vlen, &r->stdin_mode) < 0 ||
                (r->stdin_mode != BGR_AGENT_STDIN_DETACHED && r->stdin_mode != BGR_AGENT_STDIN_PIPE))
                return "STDIN is not 0 (detached) or 1 (pipe)";
            break;
        case BGR_AGENT_F_LOG_MAX:
            if (bgr_agent_field_int(val, vlen, &r->log_max) < 0 || r->log_max < BGR_AGENT_LOG_MAX_MIN ||
                r->log_max > BGR_AGENT_LOG_MAX_MAX)
                return "LOG_MAX is out of range";
            break;
        case BGR_AGENT_F_PTY:
            if (bgr_agent_field_int(val, vlen, &r->pty) < 0)
                return "PTY is not an integer";
            break;
        default:
            break;
        }
    }
    if (!named)
        return "no SESSION_NAME";
    if (!r->cwd && !(r->cwd = strdup("/")))
        return "out of memory";
    return NULL;
}

/* The value of PATH in @envp. */
static const char *env_path(char **envp)
{
    for (char **e = envp; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            return *e + 5;
    return "";
}

/* Whether @cmd runs in the init's root: a path (relative to @cwd), or a
 * name found in @path. */
static bool command_found(const char *cmd, const char *path, const char *cwd)
{
    const char *root = init_root();
    char full[PATH_MAX];
    struct stat st;
    if (strchr(cmd, '/')) {
        snprintf(full, sizeof full, "%s%s%s%s", strcmp(root, "/") ? root : "", cmd[0] == '/' ? "" : cwd,
                 cmd[0] == '/' || strcmp(cwd, "/") == 0 ? "" : "/", cmd);
        return stat(full, &st) == 0 && !S_ISDIR(st.st_mode) && access(full, X_OK) == 0;
    }
    const char *p = path;
    while (*p) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        snprintf(full, sizeof full, "%s%.*s/%s", strcmp(root, "/") ? root : "", (int)n, n ? p : ".", cmd);
        if (stat(full, &st) == 0 && !S_ISDIR(st.st_mode) && access(full, X_OK) == 0)
            return true;
        p += n + (colon ? 1 : 0);
    }
    return false;
}

/* The checks before anything starts; false after sending an ERROR. */
static bool preflight(uint32_t ch, struct start_req *r, char **envp)
{
    const char *root = init_root();
    char full[PATH_MAX];
    struct stat st;
    const char *path = env_path(envp);

    snprintf(full, sizeof full, "%s%s", strcmp(root, "/") ? root : "", r->cwd);
    if (stat(full, &st) < 0) {
        send_error(ch, errno, "working directory '%s' does not exist in the guest: %s", r->cwd, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        send_error(ch, ENOTDIR, "working directory '%s' is not a directory in the guest", r->cwd);
        return false;
    }
    if (!command_found(r->argv[0], path, r->cwd)) {
        send_error(ch, ENOENT, "command '%s' not found in the guest (PATH=%s)", r->argv[0], path);
        return false;
    }
    for (size_t i = 0; i < r->nreq; i++) {
        if (!command_found(r->req[i], path, r->cwd)) {
            send_error(ch, ENOENT, "required command '%s' not found in the guest (PATH=%s)", r->req[i], path);
            return false;
        }
    }
    return true;
}

/* Room for one more session: an exited one may be forgotten. */
static bool make_room(uint32_t ch)
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

/* Forks and execs @r into @s; false after sending an ERROR. */
static bool spawn(uint32_t ch, struct session *s, struct start_req *r, char **envp)
{
    int status_p[2] = { -1, -1 }, out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 }, in_p[2] = { -1, -1 };
    bool ok = false;
    if (pipe2(status_p, O_CLOEXEC) < 0 || pipe2(out_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0 ||
        ((r->stdin_mode == BGR_AGENT_STDIN_PIPE || devnull_fd < 0) && pipe2(in_p, O_CLOEXEC) < 0)) {
        send_error(ch, errno, "cannot create pipes: %s", strerror(errno));
        goto out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        send_error(ch, errno, "cannot fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        child_prepare(status_p[1]);
        int in = in_p[0] >= 0 ? in_p[0] : devnull_fd;
        if (dup2(in, 0) < 0 || dup2(out_p[1], 1) < 0 || dup2(err_p[1], 2) < 0)
            child_fail(status_p[1], STAGE_SETUP);
        if (chdir(s->cwd) < 0)
            child_fail(status_p[1], STAGE_CWD);
        environ = envp;
        execvp(s->argv[0], s->argv);
        child_fail(status_p[1], STAGE_EXEC);
    }
    close_fd(&status_p[1]);
    /* The exec happens within milliseconds: wait for it here, so that the
     * answer says whether the session runs. */
    struct child_failure f;
    ssize_t n;
    do
        n = read(status_p[0], &f, sizeof f);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof f) {
        if (f.stage == STAGE_EXEC)
            send_error(ch, f.err, "cannot run '%s': %s", s->argv[0], strerror(f.err));
        else if (f.stage == STAGE_CWD)
            send_error(ch, f.err, "cannot change directory to '%s': %s", s->cwd, strerror(f.err));
        else
            send_error(ch, f.err, "cannot set up '%s': %s", s->argv[0], strerror(f.err));
        goto out; /* the child _exits and is reaped as an unknown one */
    }
    s->pid = pid;
    s->running = true;
    s->out_fd = out_p[0], out_p[0] = -1;
    s->err_fd = err_p[0], err_p[0] = -1;
    s->in_fd = r->stdin_mode == BGR_AGENT_STDIN_PIPE ? in_p[1] : -1;
    if (s->in_fd >= 0)
        in_p[1] = -1;
    set_nonblock(s->out_fd);
    set_nonblock(s->err_fd);
    if (s->in_fd >= 0)
        set_nonblock(s->in_fd);
    ok = true;
out:
    for (int i = 0; i < 2; i++) {
        close_fd(&status_p[i]);
        close_fd(&out_p[i]);
        close_fd(&err_p[i]);
        close_fd(&in_p[i]);
    }
    return ok;
}

static struct session *session_new(struct start_req *r, uint32_t ch)
{
    char path[PATH_MAX];
    struct session *s = calloc(1, sizeof *s);
    if (!s) {
        send_error(ch, ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(s->name, sizeof s->name, "%s", r->name);
    s->out_fd = s->err_fd = s->in_fd = s->sp[0].fd = s->sp[1].fd = -1;
    s->stdin_mode = (int)r->stdin_mode;
    s->argv = r->argv, s->argc = r->nargs, r->argv = NULL, r->nargs = 0;
    s->cwd = r->cwd, r->cwd = NULL;
    spool_path(path, sizeof path, s->name, NULL);
    bool ok = mkdir(path, 0700) == 0 || errno == EEXIST;
    spool_path(path, sizeof path, s->name, "stdout");
    ok = ok && spool_open(&s->sp[0], path, (uint64_t)r->log_max) == 0;
    spool_path(path, sizeof path, s->name, "stderr");
    ok = ok && spool_open(&s->sp[1], path, (uint64_t)r->log_max) == 0;
    if (!ok) {
        send_error(ch, errno, "cannot create the spool of session '%s' in %s: %s", s->name, spool_root,
                   strerror(errno));
        session_free(s);
        return NULL;
    }
    return s;
}

static void session_start(uint32_t ch, const uint8_t *payload, size_t len)
{
    struct start_req r = { .name = "" };
    char **defaults = NULL, **envp = NULL;
    size_t ne = 0;
    const char *bad = start_req_parse(&r, payload, len);
    if (bad) {
        send_error(ch, EINVAL, "bad SESSION_START: %s", bad);
        goto out;
    }
    if (r.pty) {
        send_error(ch, ENOTSUP, "sessions with a pty are not supported by this agent");
        goto out;
    }
    struct session *old = session_find(r.name);
    if (old && old->running) {
        send_error(ch, EEXIST, "session '%s' is already running (pid %ld)", r.name, (long)old->pid);
        goto out;
    }
    if (!(defaults = default_env()) || !(envp = calloc(r.nenv + 4, sizeof *envp))) {
        send_error(ch, ENOMEM, "out of memory");
        goto out;
    }
    for (char **d = defaults; *d; d++)
        envp[ne++] = *d;
    for (size_t i = 0; i < r.nenv; i++)
        env_set(envp, &ne, r.envs[i]);
    if (!preflight(ch, &r, envp))
        goto out;
    if (old)
        session_remove(old); /* an exited one of that name: replaced */
    if (!make_room(ch))
        goto out;
    struct session *s = session_new(&r, ch);
    if (!s)
        goto out;
    s->started_ms = (int64_t)time(NULL) * 1000;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
        s->started_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (!spawn(ch, s, &r, envp)) {
        session_free(s);
        goto out;
    }
    sessions[n_sessions++] = s;
    send_one(ch, s);
out:
    free(defaults);
    free(envp);
    start_req_free(&r);
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
            send_one(ch, s);
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
    case BGR_AGENT_MSG_SESSION_START: session_start(ch, payload, h->length); break;
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

/* For agent-session-io.c. */
struct session **sessions_all(size_t *n)
{
    *n = n_sessions;
    return sessions;
}
