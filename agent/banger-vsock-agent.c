/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-vsock-agent: the program banger talks to inside a VM. It runs
 * commands for the host (exec with stdin/stdout/stderr streaming, signals,
 * timeouts), reports facts about the guest (kernel, OS, addresses, listening
 * ports, load) and shuts the guest down cleanly. The wire format is in
 * libbanger/agent-proto/bgr-agent-proto.h; docs/agent-protocol.md describes
 * the protocol and the rules this program follows.
 *
 * Transports: the virtio-serial port named BGR_AGENT_SERIAL_NAME (QEMU) or
 * an AF_VSOCK listener on BGR_AGENT_VSOCK_PORT (Firecracker), or, for the
 * tests on the host, an inherited socket (--fd N) or a unix socket it listens
 * on (--listen PATH: host mode, where the agent stands in for a whole VM for
 * banger's fake VMM driver).
 *
 * banger starts it with init=/.banger/banger-vsock-agent. As PID 1 it forks:
 * the parent execs the guest's real init (so that stays PID 1 and needs no
 * preparation) and the child becomes the agent. The agent works in a private
 * mount namespace, where it may mount /proc, /sys and /dev without touching
 * the init's view, and runs commands in PID 1's mount namespace.
 *
 * It is a single-threaded poll() loop, plain libc and linked statically: the
 * guest may have no libc we could use, or a different one.
 */
#include "agent.h"
#include "agent-pack.h"
#include "banger-agent-work.h"
#include "agent-sessions.h"

/* ---- global state ---- */

enum mode mode = MODE_GUEST;
/* PID 1's mount namespace (guest mode); commands run there. */
int init_mntns_fd = -1;
int devnull_fd = -1;
int signal_fd = -1;
int64_t shutdown_at;      /* force the shutdown at this time; 0: none */
int shutdown_cmd;         /* RB_POWER_OFF or RB_AUTOBOOT */

/* ---- incoming frames ---- */

static void handle_frame(const BgrAgentHeader *h, const uint8_t *payload)
{
    uint32_t ch = h->channel;
    if (sessions_frame(h, payload))
        return;
    switch (h->type) {
    case BGR_AGENT_MSG_STDIN:
        exec_stdin_frame(ch, payload, h->length);
        return;
    case BGR_AGENT_MSG_TCP_DATA:
        tunnel_data_frame(ch, payload, h->length);
        return;
    case BGR_AGENT_MSG_STDOUT:
    case BGR_AGENT_MSG_STDERR:
        send_error(error_channel(ch), EINVAL, "unexpected message type %u (%s) on channel %u", h->type,
                   bgr_agent_msg_name(h->type), ch);
        return;
    default:
        break;
    }

    if (!fields_ok(payload, h->length)) {
        send_error(error_channel(ch), EINVAL, "malformed %s payload on channel %u (a field runs past the end)",
                   bgr_agent_msg_name(h->type), ch);
        return;
    }
    switch (h->type) {
    case BGR_AGENT_MSG_HELLO: /* any VERSION: the host decides what to do with READY */
        send_ready(ch);
        break;
    case BGR_AGENT_MSG_EXEC:
        exec_start(ch, payload, h->length);
        break;
    case BGR_AGENT_MSG_SIGNAL:
        handle_signal_request(ch, payload, h->length);
        break;
    case BGR_AGENT_MSG_SHUTDOWN:
        start_shutdown(ch, payload, h->length);
        break;
    case BGR_AGENT_MSG_PING:
        send_frame(BGR_AGENT_MSG_PONG, ch, NULL, 0);
        break;
    case BGR_AGENT_MSG_PORTS_REQ:
        send_ports(ch);
        break;
    case BGR_AGENT_MSG_STATS_REQ:
        send_stats(ch);
        break;
    case BGR_AGENT_MSG_TCP_CONNECT:
        tunnel_start(ch, payload, h->length);
        break;
    case BGR_AGENT_MSG_TCP_CLOSE:
        tunnel_close_request(ch);
        break;
    case BGR_AGENT_MSG_RESIZE:
        pty_resize_request(exec_tty_fd(ch), ch, payload, h->length);
        break;
    case BGR_AGENT_MSG_TCP_CONNECTED:
    case BGR_AGENT_MSG_READY:
    case BGR_AGENT_MSG_STARTED:
    case BGR_AGENT_MSG_EXIT:
    case BGR_AGENT_MSG_ERROR:
    case BGR_AGENT_MSG_OK:
    case BGR_AGENT_MSG_PONG:
    case BGR_AGENT_MSG_PORTS:
    case BGR_AGENT_MSG_STATS:
        send_error(error_channel(ch), EINVAL, "unexpected message type %u (%s) on channel %u", h->type,
                   bgr_agent_msg_name(h->type), ch);
        break;
    default:
        if (error_channel(ch) == ch)
            send_error(ch, EINVAL, "unknown message type %u", h->type);
        else
            send_error(0, EINVAL, "unknown message type %u on channel %u", h->type, ch);
        break;
    }
}

/* ---- main loop ---- */

static void reap_children(void)
{
    struct signalfd_siginfo si;
    while (read(signal_fd, &si, sizeof si) > 0) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            warn("%s: powering off", strsignal((int)si.ssi_signo));
            host_power_off(false);
        }
    }
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        agent_child_exited(pid, status);
}

/* The loop's own deadlines; the modules' come from agent_loop_timers(). */
static void own_timers(int64_t now)
{
    if (shutdown_at) {
        if (now >= shutdown_at)
            force_shutdown();
        else
            agent_wake_at(shutdown_at);
    }
    if (tr.kind == T_SERIAL && tr.waiting) {
        if (now >= tr.next_check)
            serial_check();
        if (tr.waiting)
            agent_wake_at(tr.next_check);
    }
}

static void signal_ready(void *data, int fd, short revents, int tag)
{
    (void)data, (void)fd, (void)revents, (void)tag;
    reap_children();
}

static void listen_ready(void *data, int fd, short revents, int tag)
{
    (void)data, (void)fd, (void)revents, (void)tag;
    accept_host();
}

static void conn_ready(void *data, int fd, short revents, int tag)
{
    (void)data, (void)revents, (void)tag;
    if (fd == tr.fd)
        read_transport();
}

static _Noreturn void run(void)
{
    transport_set_frame_handler(handle_frame);
    agent_register(&exec_module);
    agent_register(&sessions_module);
    agent_register(&tunnel_module);
    for (;;) {
        int64_t now = now_ms();
        own_timers(now);
        int timeout = agent_loop_timers(now);
        /* The loop's own fds come first, so exits and the host are seen
         * before the modules' fds: an exit forwards what its pipes hold,
         * then EXIT, and the modules skip what ended (or lost its host)
         * in this turn. */
        agent_loop_begin();
        agent_poll_add(signal_fd, POLLIN, signal_ready, NULL, 0);
        if (tr.listen_fd >= 0)
            agent_poll_add(tr.listen_fd, POLLIN, listen_ready, NULL, 0);
        /* Not read while a command works through a full stdin buffer
         * (flow control, agent-exec.c). */
        if (tr.fd >= 0 && !tr.waiting && !exec_stdin_paused())
            agent_poll_add(tr.fd, POLLIN, conn_ready, NULL, 0);
        if (!agent_loop_poll(timeout))
            continue;
        agent_loop_dispatch();
        if (tr.lost)
            connection_lost();
    }
}

/* ---- entry points ---- */

/* As PID 1: the guest's own init must be PID 1, so it gets this process and
 * the agent continues in a child. */
static _Noreturn void exec_real_init(char **argv)
{
    static const char *const inits[] = { "/sbin/init", "/etc/init", "/bin/init", "/bin/sh" };
    for (size_t i = 0; i < sizeof inits / sizeof inits[0]; i++) {
        argv[0] = (char *)inits[i];
        execv(inits[i], argv);
    }
    warn("no init to run (tried /sbin/init, /etc/init, /bin/init, /bin/sh): %s", strerror(errno));
    sync();
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: " PROG " [--fd N | --listen PATH] [--spool-dir DIR]\n"
            "\n"
            "banger's in-guest agent. Run as init= (PID 1) it starts the real init and\n"
            "serves in the background; without arguments it serves on virtio-serial port\n"
            "%s or vsock port %d. --fd N serves on an inherited\n"
            "connected socket instead (tests) and exits when the peer closes it.\n"
            "--listen PATH is host mode (banger's fake VMM, for tests): it serves one\n"
            "host at a time on unix socket PATH and stands in for a whole VM; there\n"
            "$BANGER_AGENT_OS_RELEASE, when set, names the os-release file it reports.\n"
            "\n"
            "  --fd N         serve on file descriptor N\n"
            "  --listen PATH  host mode: serve on unix socket PATH\n"
            "  --spool-dir DIR  where sessions' output is spooled (default: a tmpfs on\n"
            "                 /.banger/sessions in a guest, PATH.sessions in host mode)\n"
            "  --home DIR     host mode: HOME of the commands (default /root)\n"
            "  --assemble-pack GITDIR  a tool, run by banger in the guest: makes the\n"
            "                 packfile of a workspace from GITDIR/banger-pack.recipe\n"
            "  --version      print the version and the protocol version\n"
            "  --help         this text\n",
            BGR_AGENT_SERIAL_NAME, BGR_AGENT_VSOCK_PORT);
}

int main(int argc, char **argv)
{
    const char *listen_path = NULL, *spool_dir = NULL;

    if (getpid() == 1) {
        pid_t pid;
        agent_mount_work_disk(); /* before the init: it sees /root on the work disk */
        agent_set_hostname();
        pid = fork();
        if (pid != 0) {
            if (pid < 0)
                warn("cannot start: fork: %s", strerror(errno));
            exec_real_init(argv);
        }
        setsid();
    } else {
        for (int i = 1; i < argc; i++) {
            if (strcmp(argv[i], "--version") == 0) {
                printf(PROG " %s (protocol %d)\n", BANGER_AGENT_VERSION, BGR_AGENT_PROTOCOL_VERSION);
                return 0;
            } else if (strcmp(argv[i], "--assemble-pack") == 0 && i == 1 && argc == 3) {
                return agent_assemble_pack(argv[2]);
            } else if (strcmp(argv[i], "--help") == 0) {
                usage(stdout);
                return 0;
            } else if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc) {
                char *end;
                long fd = strtol(argv[++i], &end, 10);
                if (*end || end == argv[i] || fd < 0 || fd > INT_MAX || fcntl((int)fd, F_GETFD) < 0) {
                    warn("--fd %s: not an open file descriptor", argv[i]);
                    return 2;
                }
                mode = MODE_FD;
                tr.kind = T_FD;
                tr.fd = (int)fd;
            } else if (strcmp(argv[i], "--spool-dir") == 0 && i + 1 < argc) {
                spool_dir = argv[++i];
            } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
                mode = MODE_HOST;
                listen_path = argv[++i];
            } else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc && argv[i + 1][0] == '/') {
                agent_home = argv[++i];
            } else {
                usage(stderr);
                return 2;
            }
        }
        if (listen_path && tr.fd >= 0) {
            warn("--fd and --listen exclude each other");
            return 2;
        }
        if (agent_home && mode != MODE_HOST) {
            warn("--home is for host mode (--listen) only");
            return 2;
        }
        if (agent_home)
            mkdir(agent_home, 0700);
    }

    if (mode == MODE_FD) {
        fcntl(tr.fd, F_SETFD, FD_CLOEXEC); /* not for the commands we run */
        set_nonblock(tr.fd);
        setup_process();
    } else if (mode == MODE_HOST) {
        /* Orphans of the commands become ours, so that powering off can
         * take them down as a VM's end would. */
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        setup_process();
        if (!open_unix(listen_path))
            return 1;
        warn("ready on %s", tr.name);
    } else {
        setup_guest_namespace();
        setup_process();
        agent_configure_network();
    }
    sessions_init(spool_dir);
    if (mode == MODE_GUEST)
        find_transport();
    run();
}
