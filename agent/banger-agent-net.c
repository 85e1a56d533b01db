/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Brings up loopback, and applies the kernel command line's ip= argument
 * when the kernel did not
 * (Debian's cloud kernel is built without CONFIG_IP_PNP): address, netmask,
 * default route and hostname of the named interface, with plain ioctls so
 * that no tool has to exist in the guest. Format (nfsroot.rst):
 *   ip=CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:AUTOCONF[:DNS0[:DNS1]]
 * An interface that already has an IPv4 address is left alone. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "banger-agent-net.h"
#include "bgr-agent-proto.h"

static void say(const char *fmt, const char *a, const char *b, const char *c)
{
    fprintf(stderr, "banger-vsock-agent: ");
    fprintf(stderr, fmt, a, b, c);
    fputc('\n', stderr);
}

static int set_addr(int s, const char *ifname, unsigned long req, const char *ip)
{
    struct ifreq ifr;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    sin->sin_family = AF_INET;
    if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1)
        return -1;
    return ioctl(s, req, &ifr);
}

static int bring_up(int s, const char *ifname)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return -1;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(s, SIOCSIFFLAGS, &ifr);
}

static int has_ipv4(int s, const char *ifname)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    ifr.ifr_addr.sa_family = AF_INET;
    return ioctl(s, SIOCGIFADDR, &ifr) == 0;
}

/* Splits the ip= value at ':' into at most @max fields (empty ones kept). */
static int split(char *v, char **f, int max)
{
    int n = 0;
    f[n++] = v;
    for (char *p = v; *p && n < max; p++)
        if (*p == ':') {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

void agent_configure_network(void)
{
    static char cmdline[4096];
    char *arg = NULL, *f[9] = { 0 };
    const char *ifname;
    int fd, s, n;
    ssize_t len;

    /* Loopback first, with or without a network: services in the guest
     * (sshd for `vm ssh`, anything `vm proxy` reaches) listen on it. */
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s >= 0) {
        bring_up(s, "lo");
        close(s);
    }
    fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    len = read(fd, cmdline, sizeof cmdline - 1);
    close(fd);
    if (len <= 0)
        return;
    cmdline[len] = '\0';
    for (char *tok = strtok(cmdline, " \n"); tok; tok = strtok(NULL, " \n"))
        if (strncmp(tok, "ip=", 3) == 0)
            arg = tok + 3;
    if (arg == NULL || strchr(arg, ':') == NULL)
        return; /* none, or ip=dhcp and the like: not ours */
    n = split(arg, f, 9);
    if (n < 4 || !*f[0])
        return;
    ifname = (n > 5 && *f[5]) ? f[5] : "eth0";

    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return;
    /* The driver may still be probing: wait for the interface (5 s). */
    for (int i = 0; i < 500 && if_nametoindex(ifname) == 0; i++) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    if (if_nametoindex(ifname) == 0) {
        say("ip=: no interface %s%s%s", ifname, "", "");
        close(s);
        return;
    }
    if (has_ipv4(s, ifname)) {
        close(s); /* the kernel configured it */
        return;
    }
    if (set_addr(s, ifname, SIOCSIFADDR, f[0]) < 0 ||
        (*f[3] && set_addr(s, ifname, SIOCSIFNETMASK, f[3]) < 0) || bring_up(s, ifname) < 0) {
        say("ip=: cannot configure %s: %s%s", ifname, strerror(errno), "");
        close(s);
        return;
    }
    if (*f[2]) {
        struct rtentry rt;
        struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
        struct sockaddr_in *gw = (struct sockaddr_in *)&rt.rt_gateway;
        struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;

        memset(&rt, 0, sizeof rt);
        dst->sin_family = gw->sin_family = mask->sin_family = AF_INET;
        if (inet_pton(AF_INET, f[2], &gw->sin_addr) == 1) {
            rt.rt_flags = RTF_UP | RTF_GATEWAY;
            rt.rt_dev = (char *)ifname;
            if (ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST)
                say("ip=: cannot add the default route via %s: %s%s", f[2], strerror(errno), "");
        }
    }
    close(s);
    if (n > 4 && *f[4]) {
        char cur[256] = "";
        gethostname(cur, sizeof cur - 1);
        if (!*cur || strcmp(cur, "(none)") == 0 || strcmp(cur, "localhost") == 0)
            sethostname(f[4], strlen(f[4]));
    }
    say("%s: %s (gateway %s) from ip=", ifname, f[0], *f[2] ? f[2] : "none");
}

/* A DNS label, as banger names VMs: 1-63 of A-Z a-z 0-9 and '-'. */
static int valid_label(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-'))
            return 0;
    return 1;
}

void agent_set_hostname(void)
{
    const char *name = getenv(BGR_AGENT_HOSTNAME_ENV);
    char line[72], cur[72] = "";
    ssize_t len = 0;
    int fd;

    if (!name || !valid_label(name))
        return;
    if (sethostname(name, strlen(name)) < 0)
        say("cannot set the hostname %s: %s%s", name, strerror(errno), "");
    /* The image's init may set the hostname from /etc/hostname (systemd
     * does): it has to say the same. Rewritten only when it differs. */
    snprintf(line, sizeof line, "%s\n", name);
    fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        len = read(fd, cur, sizeof cur - 1);
        close(fd);
    }
    if (len != (ssize_t)strlen(line) || memcmp(cur, line, (size_t)len) != 0) {
        fd = open("/etc/hostname", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line))
            say("cannot write /etc/hostname: %s%s%s", strerror(errno), "", "");
        if (fd >= 0)
            close(fd);
    }
    unsetenv(BGR_AGENT_HOSTNAME_ENV);
}
