/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-vsock-agent: the process and the guest around it: setting up the
 * agent's own namespace and signals, and powering the guest off or
 * rebooting it for the host. */
#include "agent.h"

/* ---- shutdown ---- */

/* Host mode: the agent is the whole "VM", so powering off is killing every
 * process it started (as a subreaper, orphans of its commands are its
 * children too) and exiting. The last line is the one a Linux guest's
 * kernel prints, so that the console reads like a real VM's. */
_Noreturn void host_power_off(bool reboot_)
{
    int64_t give_up = now_ms() + 5000;
    exec_drop_all();
    tunnel_drop_all();
    for (;;) {
        bool any = false;
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char path[64], buf[512];
            long pid = strtol(e->d_name, NULL, 10);
            if (pid <= 0)
                continue;
            snprintf(path, sizeof path, "/proc/%ld/stat", pid);
            if (read_file(path, buf, sizeof buf) < 0)
                continue;
            const char *rp = strrchr(buf, ')');
            char state;
            long ppid;
            if (!rp || sscanf(rp + 1, " %c %ld", &state, &ppid) != 2 || ppid != (long)getpid())
                continue;
            any = true;
            if (state != 'Z') {
                kill(-(pid_t)pid, SIGKILL);
                kill((pid_t)pid, SIGKILL);
            }
        }
        if (d)
            closedir(d);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (!any || now_ms() > give_up)
            break;
        sleep_ms(5);
    }
    if (tr.path[0])
        unlink(tr.path);
    fprintf(stderr, "reboot: %s\n", reboot_ ? "Restarting system" : "Power down");
    exit(0);
}

void start_shutdown(uint32_t channel, const uint8_t *payload, size_t len)
{
    BgrAgentFieldIter it;
    uint16_t tag;
    const uint8_t *val;
    uint32_t vlen;
    bool reboot_ = false;
    bgr_agent_fields_init(&it, payload, len);
    while (bgr_agent_fields_next(&it, &tag, &val, &vlen) > 0) {
        if (tag != BGR_AGENT_F_MODE)
            continue;
        if (vlen == 6 && memcmp(val, "reboot", 6) == 0)
            reboot_ = true;
        else if (vlen == 8 && memcmp(val, "poweroff", 8) == 0)
            reboot_ = false;
        else {
            send_error(error_channel(channel), EINVAL, "unknown shutdown MODE '%.*s' (poweroff or reboot)",
                       (int)(vlen > 64 ? 64 : vlen), (const char *)val);
            return;
        }
    }
    if (mode == MODE_FD) {
        send_error(error_channel(channel), EPERM, "shutdown is only available inside a VM");
        return;
    }
    send_frame(BGR_AGENT_MSG_OK, channel, NULL, 0);
    warn("%s requested by the host", reboot_ ? "reboot" : "poweroff");
    if (mode == MODE_HOST)
        host_power_off(reboot_);
    sync();

    /* Ask the init the way it understands (systemd(1): SIGRTMIN+4 powers
     * off, SIGRTMIN+5 reboots; busybox init: SIGUSR2 powers off, SIGTERM
     * reboots), else run the distribution's command. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/1/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    if (strstr(base, "systemd"))
        kill(1, SIGRTMIN + (reboot_ ? 5 : 4));
    else if (strcmp(base, "busybox") == 0)
        kill(1, reboot_ ? SIGTERM : SIGUSR2);
    else
        run_detached(reboot_ ? "reboot" : "poweroff");

    int64_t at = now_ms() + SHUTDOWN_GRACE_MS;
    if (!shutdown_at || at < shutdown_at)
        shutdown_at = at;
    shutdown_cmd = reboot_ ? RB_AUTOBOOT : RB_POWER_OFF;
}

/* The init did not manage in time: do it ourselves. */
void force_shutdown(void)
{
    warn("the init did not shut down within %d s; forcing %s", SHUTDOWN_GRACE_MS / 1000,
         shutdown_cmd == RB_AUTOBOOT ? "a reboot" : "power off");
    sync();
    if (reboot(shutdown_cmd) < 0)
        warn("reboot: %s", strerror(errno));
    shutdown_at = 0;
}


/* ---- setup ---- */

/* Something other than the parent's filesystem is mounted on dir. */
static bool is_mount_point(const char *dir)
{
    struct stat a, b;
    char parent[64];
    snprintf(parent, sizeof parent, "%s/..", dir);
    return stat(dir, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

static bool has_fs(const char *dir, long magic)
{
    struct statfs s;
    return statfs(dir, &s) == 0 && (long)s.f_type == magic;
}

/* A private mount namespace, so that mounting /proc, /sys and /dev for
 * ourselves (very early in boot they may not be there yet) never changes
 * what the init sees. */
void setup_guest_namespace(void)
{
    if (unshare(CLONE_NEWNS) < 0) {
        warn("cannot create a mount namespace (%s); using the current one", strerror(errno));
    } else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        warn("cannot make / private: %s", strerror(errno));
    } else {
        if (!has_fs("/proc", PROC_SUPER_MAGIC) &&
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            warn("cannot mount proc on /proc: %s", strerror(errno));
        if (!has_fs("/sys", SYSFS_MAGIC) &&
            mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            warn("cannot mount sysfs on /sys: %s", strerror(errno));
        if (!is_mount_point("/dev") && mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL) < 0)
            warn("cannot mount devtmpfs on /dev: %s", strerror(errno));
    }
    init_mntns_fd = open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (init_mntns_fd < 0)
        warn("cannot open /proc/1/ns/mnt (%s): commands run in the agent's namespace", strerror(errno));
}

/* Pipes and sockets must not land on 0-2: fill any closed ones. */
static void fill_std_fds(void)
{
    int fd;
    while ((fd = open("/dev/null", O_RDWR | O_NOCTTY)) >= 0 && fd <= 2)
        ;
    if (fd > 2)
        close(fd);
}

void setup_process(void)
{
    fill_std_fds();
    devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    /* Each exec holds up to four fds. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    if (mode == MODE_HOST) { /* the power button and Ctrl-C */
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
    }
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd < 0) {
        warn("signalfd: %s", strerror(errno));
        exit(1);
    }
}

