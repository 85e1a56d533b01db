/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sessions: the table of sessions and where their output is spooled
 * (agent-sessions.h). Calls no other session file. */
#include "agent-sessions.h"

static struct session *sessions[BGR_AGENT_SESSIONS_MAX];
static size_t n_sessions;
static char spool_root[PATH_MAX];
static bool spool_ready; /* spool_root exists */

void sessions_set_spool_root(const char *dir)
{
    snprintf(spool_root, sizeof spool_root, "%s", dir);
}

bool sessions_spool_exists(void)
{
    return spool_ready;
}

void sessions_detach(struct session *s)
{
    for (size_t i = 0; i < n_sessions; i++) {
        if (sessions[i] == s) {
            memmove(&sessions[i], &sessions[i + 1], (n_sessions - i - 1) * sizeof *sessions);
            n_sessions--;
            return;
        }
    }
}

const char *session_spool_root(void)
{
    return spool_root;
}

struct session *session_find(const char *name)
{
    for (size_t i = 0; i < n_sessions; i++)
        if (strcmp(sessions[i]->name, name) == 0)
            return sessions[i];
    return NULL;
}

void session_spool_path(char *out, size_t size, const char *name, const char *file)
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

/* Creates the spool directory on first use (outside a guest, an agent
 * that never starts a session leaves nothing behind, even when killed). */
int sessions_spool_ready(void)
{
    if (spool_ready)
        return 0;
    if (mkdir_p(spool_root) < 0) {
        warn("cannot create the session spool %s: %s", spool_root, strerror(errno));
        return -1;
    }
    spool_ready = true;
    /* In a guest, spools live in memory, in the agent's own mount
     * namespace: the guest's disk and its processes never see them. */
    if (mode == MODE_GUEST && mount("tmpfs", spool_root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                    "mode=0700,size=50%") < 0)
        warn("cannot mount a tmpfs on %s (%s); session spools go to its disk", spool_root, strerror(errno));
    return 0;
}

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

struct session **sessions_all(size_t *n)
{
    *n = n_sessions;
    return sessions;
}

void sessions_add(struct session *s)
{
    sessions[n_sessions++] = s;
}
