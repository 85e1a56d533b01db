/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SESSION_START: the request's fields, the checks against the guest before
 * anything starts (working directory, argv[0] and REQUIRE in PATH), and
 * the fork and exec of the session (agent-sessions.h). */
#include "agent-sessions.h"

#define ARGS_MAX 4096 /* ARG, ENV or REQUIRE fields of one SESSION_START */


struct start_req {
    char name[BGR_AGENT_SESSION_NAME_MAX + 1];
    char **argv, **envs, **req;
    size_t nargs, nenv, nreq;
    char *cwd;
    int64_t stdin_mode, log_max;
    struct exec_pty pty;
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
        case BGR_AGENT_F_ROWS:
        case BGR_AGENT_F_COLS:
            if (!pty_field(&r->pty, tag, val, vlen))
                return "PTY is not 0 or 1, or ROWS or COLS is not 0-65535";
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


/* Forks and execs @r into @s; false after sending an ERROR. */
static bool spawn(uint32_t ch, struct session *s, struct start_req *r, char **envp)
{
    int status_p[2] = { -1, -1 }, out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 }, in_p[2] = { -1, -1 };
    bool ok = false;
    r->pty.slave = r->pty.tty = -1;
    if (!stdio_open(ch, &r->pty, r->stdin_mode == BGR_AGENT_STDIN_PIPE, status_p, out_p, err_p, in_p))
        goto out;
    pid_t pid = fork();
    if (pid < 0) {
        send_error(ch, errno, "cannot fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        child_prepare(status_p[1]);
        stdio_child(&r->pty, status_p[1], out_p, err_p, in_p);
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
    s->pty = r->pty.on;
    s->tty_fd = pty_parent(&r->pty);
    s->out_fd = out_p[0], out_p[0] = -1;
    s->err_fd = err_p[0], err_p[0] = -1;
    s->in_fd = r->stdin_mode == BGR_AGENT_STDIN_PIPE ? in_p[1] : -1;
    if (s->in_fd >= 0)
        in_p[1] = -1;
    set_nonblock(s->out_fd);
    if (s->err_fd >= 0)
        set_nonblock(s->err_fd);
    if (s->in_fd >= 0)
        set_nonblock(s->in_fd);
    ok = true;
out:
    pty_parent_abort(&r->pty); /* what is left of the terminal's child side */
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
    s->out_fd = s->err_fd = s->in_fd = s->tty_fd = s->sp[0].fd = s->sp[1].fd = -1;
    s->stdin_mode = (int)r->stdin_mode;
    s->argv = r->argv, s->argc = r->nargs, r->argv = NULL, r->nargs = 0;
    s->cwd = r->cwd, r->cwd = NULL;
    session_spool_path(path, sizeof path, s->name, NULL);
    sessions_spool_ready();
    bool ok = mkdir(path, 0700) == 0 || errno == EEXIST;
    session_spool_path(path, sizeof path, s->name, "stdout");
    ok = ok && spool_open(&s->sp[0], path, (uint64_t)r->log_max) == 0;
    session_spool_path(path, sizeof path, s->name, "stderr");
    ok = ok && spool_open(&s->sp[1], path, (uint64_t)r->log_max) == 0;
    if (!ok) {
        send_error(ch, errno, "cannot create the spool of session '%s' in %s: %s", s->name, session_spool_root(),
                   strerror(errno));
        session_free(s);
        return NULL;
    }
    return s;
}

void session_start(uint32_t ch, const uint8_t *payload, size_t len)
{
    struct start_req r = { .name = "" };
    char **defaults = NULL, **envp = NULL;
    size_t ne = 0;
    const char *bad = start_req_parse(&r, payload, len);
    if (bad) {
        send_error(ch, EINVAL, "bad SESSION_START: %s", bad);
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
    if (!sessions_make_room(ch))
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
    sessions_add(s);
    session_send_one(ch, s);
out:
    free(defaults);
    free(envp);
    start_req_free(&r);
}

