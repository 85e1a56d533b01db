/* banger-init: PID 1 of the initramfs banger generates for distribution
 * kernels (Debian's cloud kernel, for instance) that build the virtio drivers
 * as modules. Such a kernel cannot see its root disk until virtio_ring,
 * virtio, virtio_mmio/virtio_pci and virtio_blk are loaded, and we do not
 * want to depend on the guest's own initramfs-tools/dracut. So banger packs
 * this program, the few modules it needs and a list of them into a cpio, and
 * this program loads them, mounts the root named on the kernel command line
 * and hands over to the real init.
 *
 * The initramfs must contain: /init (this program, static), /etc/banger-modules
 * (module paths relative to /, one per line, in load order), the modules
 * themselves, the directories /dev /proc /sys /newroot and /dev/console (c 5 1).
 *
 * It is deliberately plain libc, static and free of sanitizers: nothing else
 * exists inside the initramfs. Every fatal error prints one line and powers
 * the VM off, so a broken guest stops with a reason instead of a kernel panic.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4 /* Linux >= 5.17, CONFIG_MODULE_DECOMPRESS */
#endif

#define MODULE_LIST "/etc/banger-modules"
#define NEWROOT "/newroot"
#define DEFAULT_FSTYPES "ext4,ext3,ext2,xfs,btrfs"
#define DEFAULT_ROOT_WAIT_S 30

struct cmdline {
    const char *root;    /* root=: /dev/NAME, UUID=... or LABEL=... */
    const char *fstype;  /* rootfstype=: comma-separated list, NULL = defaults */
    const char *flags;   /* rootflags=: passed to mount(2) as data */
    const char *init;    /* init=: NULL = try the usual places */
    bool rw;             /* ro (default) or rw */
    int rootdelay;       /* rootdelay=: seconds to sleep before looking */
    int rootwait;        /* -1: wait DEFAULT_ROOT_WAIT_S, 0: forever, N: N s */
};

static bool quiet;

static void vlog(const char *fmt, va_list ap)
{
    fputs("banger-init: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

/* Progress lines, silenced by banger.quiet. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!quiet)
        vlog(fmt, ap);
    va_end(ap);
}

/* Errors we carry on after; never silenced. */
__attribute__((format(printf, 1, 2))) static void warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

/* If PID 1 exits the kernel panics, and the message scrolls away or is never
 * seen; powering off makes the VM stop with our reason as the last line. */
__attribute__((format(printf, 1, 2))) static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
    if (getpid() != 1)
        exit(1);
    sync();
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}

/* The kernel opens /dev/console for PID 1 only if the node exists in the
 * initramfs; if it did not, fill whichever of fds 0-2 are closed from the
 * devtmpfs node. open() always returns the lowest free fd, so this loop
 * stops at the first fd above 2, which is then not needed. */
static void open_console(void)
{
    int fd;
    while ((fd = open("/dev/console", O_RDWR | O_NOCTTY)) >= 0 && fd <= 2)
        ;
    if (fd > 2)
        close(fd);
}

static void mount_api_filesystems(void)
{
    /* EBUSY: a kernel with CONFIG_DEVTMPFS_MOUNT may have mounted it already. */
    if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL) < 0 && errno != EBUSY)
        die("cannot mount devtmpfs on /dev: %s", strerror(errno));
    open_console();
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 && errno != EBUSY)
        die("cannot mount proc on /proc: %s", strerror(errno));
    if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 && errno != EBUSY)
        die("cannot mount sysfs on /sys: %s", strerror(errno));
}

/* A failed module is reported but not fatal: the root mount that follows
 * fails with a clearer message ("did not appear") than we could give here. */
static void load_modules(void)
{
    FILE *f = fopen(MODULE_LIST, "re");
    if (!f) {
        if (errno != ENOENT)
            warn("cannot read %s: %s", MODULE_LIST, strerror(errno));
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    int loaded = 0, present = 0, failed = 0;
    while (getline(&line, &cap, f) >= 0) {
        char *p = line, *end;
        while (isspace((unsigned char)*p))
            p++;
        end = p + strlen(p);
        while (end > p && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (*p == '\0' || *p == '#')
            continue;
        /* Paths are relative to /, which is our working directory. Compressed
         * modules need the kernel to decompress them (CONFIG_MODULE_DECOMPRESS). */
        int flags = strstr(p, ".ko.") ? MODULE_INIT_COMPRESSED_FILE : 0; /* .ko.xz, .ko.zst */
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && syscall(SYS_finit_module, fd, "", flags) == 0)
            loaded++;
        else if (fd >= 0 && errno == EEXIST) /* already loaded, or built in */
            present++;
        else {
            /* finit_module says ENOENT for "unknown symbol", which reads like
             * a missing file: name the likely cause, a misordered list. */
            warn("cannot load %s: %s%s", p, strerror(errno),
                 fd >= 0 && errno == ENOENT ? " (unknown symbol: is a dependency listed after it?)" : "");
            failed++;
        }
        if (fd >= 0)
            close(fd);
    }
    free(line);
    fclose(f);
    if (present || failed)
        say("loaded %d modules (%d already present, %d failed)", loaded, present, failed);
    else
        say("loaded %d modules", loaded);
}

/* Split the command line the way the kernel does well enough: words are
 * separated by spaces, double quotes group spaces into a word and are
 * removed ("a=b c" and a="b c" both give key a, value "b c"), and "--" ends
 * the kernel's part. Tokens are rewritten in place in a static buffer, so the
 * returned strings stay valid for the life of the program. */
static void parse_cmdline(struct cmdline *c)
{
    static char buf[8192];
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (n < 0)
        die("cannot read /proc/cmdline: %s", strerror(errno));
    close(fd);
    buf[n] = '\0';

    *c = (struct cmdline){ .rootwait = -1 };
    char *r = buf;
    for (;;) {
        while (isspace((unsigned char)*r))
            r++;
        if (*r == '\0')
            break;
        char *key = r, *w = r;
        bool quoted = false;
        for (; *r && (quoted || !isspace((unsigned char)*r)); r++) {
            if (*r == '"')
                quoted = !quoted;
            else
                *w++ = *r;
        }
        bool more = *r != '\0';
        *w = '\0'; /* w <= r, so this never clobbers unread text */
        if (more)
            r++;
        if (strcmp(key, "--") == 0)
            break;
        char *val = strchr(key, '=');
        if (val)
            *val++ = '\0';

        if (val && strcmp(key, "root") == 0)
            c->root = val;
        else if (val && strcmp(key, "rootfstype") == 0)
            c->fstype = val;
        else if (val && strcmp(key, "rootflags") == 0)
            c->flags = val;
        else if (val && strcmp(key, "init") == 0)
            c->init = val;
        else if (val && strcmp(key, "rootdelay") == 0)
            c->rootdelay = atoi(val);
        else if (strcmp(key, "rootwait") == 0)
            c->rootwait = val ? atoi(val) : 0;
        else if (!val && strcmp(key, "ro") == 0)
            c->rw = false;
        else if (!val && strcmp(key, "rw") == 0)
            c->rw = true;
        else if (strcmp(key, "banger.quiet") == 0)
            quiet = !val || strcmp(val, "0") != 0;
    }
    if (!c->root || !*c->root)
        die("no root= on the kernel command line");
    if (strncmp(c->root, "/dev/", 5) != 0 && strncmp(c->root, "UUID=", 5) != 0 &&
        strncmp(c->root, "LABEL=", 6) != 0)
        die("unsupported root=%s (use /dev/NAME, UUID=... or LABEL=...)", c->root);
}

/* Without udev there are no /dev/disk/by-* links, so for UUID= and LABEL=
 * read the ext2/3/4 superblock ourselves: it sits at byte 1024, with the
 * magic 0xEF53 at 0x38, the UUID at 0x68 and the label at 0x78 (16 bytes
 * each). Other filesystems need root=/dev/NAME. */
static bool ext_id_matches(const char *dev, bool by_uuid, const char *want)
{
    unsigned char sb[1024];
    int fd = open(dev, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* O_NONBLOCK: empty CD drives */
    if (fd < 0)
        return false;
    ssize_t n = pread(fd, sb, sizeof sb, 1024);
    close(fd);
    if (n != (ssize_t)sizeof sb || sb[0x38] != 0x53 || sb[0x39] != 0xEF)
        return false;
    char got[40];
    if (by_uuid) {
        const unsigned char *u = sb + 0x68;
        snprintf(got, sizeof got,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
                 u[12], u[13], u[14], u[15]);
        return strcasecmp(got, want) == 0;
    }
    memcpy(got, sb + 0x78, 16);
    got[16] = '\0';
    return strcmp(got, want) == 0;
}

static bool is_block_device(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISBLK(st.st_mode);
}

/* One look for the root device; on success its node's path is in dev. */
static bool find_root(const char *spec, char *dev, size_t len)
{
    if (strncmp(spec, "/dev/", 5) == 0) {
        snprintf(dev, len, "%s", spec);
        return is_block_device(dev);
    }
    bool by_uuid = strncmp(spec, "UUID=", 5) == 0;
    const char *want = strchr(spec, '=') + 1;
    snprintf(dev, len, "/dev/disk/by-%s/%s", by_uuid ? "uuid" : "label", want);
    if (is_block_device(dev)) /* someone did provide the links */
        return true;
    DIR *d = opendir("/sys/class/block");
    struct dirent *e;
    bool found = false;
    while (d && !found && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(dev, len, "/dev/%s", e->d_name);
        for (char *p = dev; *p; p++) /* sysfs spells cciss/c0d0 as cciss!c0d0 */
            if (*p == '!')
                *p = '/';
        found = ext_id_matches(dev, by_uuid, want);
    }
    if (d)
        closedir(d);
    return found;
}

/* "vda vda1 sr0", or "none": what the kernel did find, for the error line. */
static void list_block_devices(char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    DIR *d = opendir("/sys/class/block");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int n = snprintf(out + used, len - used, "%s%s", used ? " " : "", e->d_name);
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
    if (d)
        closedir(d);
    if (used == 0)
        snprintf(out, len, "none");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Drivers probe asynchronously after finit_module returns, so the node shows
 * up a little later; poll for it every 10 ms rather than sleeping blindly. */
static void wait_for_root(const struct cmdline *c, char *dev, size_t len)
{
    if (c->rootdelay > 0) {
        say("waiting %d s (rootdelay)", c->rootdelay);
        sleep((unsigned)c->rootdelay);
    }
    int limit = c->rootwait < 0 ? DEFAULT_ROOT_WAIT_S : c->rootwait; /* 0: forever */
    double start = now_s();
    const struct timespec tick = { 0, 10 * 1000 * 1000 };
    while (!find_root(c->root, dev, len)) {
        if (limit > 0 && now_s() - start >= limit) {
            char seen[512];
            list_block_devices(seen, sizeof seen);
            die("root device %s did not appear within %d s (block devices: %s)", c->root, limit, seen);
        }
        nanosleep(&tick, NULL);
    }
}

/* Try each candidate type like the kernel's own root mount does. EINVAL means
 * "not this filesystem" and ENODEV "no such driver"; any other error is the
 * real reason and is the one worth reporting. */
static const char *mount_root(const struct cmdline *c, const char *dev)
{
    static char types[256];
    const char *list = c->fstype ? c->fstype : DEFAULT_FSTYPES;
    snprintf(types, sizeof types, "%s", list);
    unsigned long flags = c->rw ? 0 : MS_RDONLY;
    int err = ENODEV;
    char *save = NULL;
    for (char *t = strtok_r(types, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (mount(dev, NEWROOT, t, flags, c->flags) == 0)
            return t;
        if (err == ENODEV || (errno != EINVAL && errno != ENODEV))
            err = errno;
    }
    die("cannot mount %s on %s (tried %s): %s", dev, NEWROOT, list, strerror(err));
}

/* Hand /dev, /proc and /sys to the new root. Creating a missing mount point
 * is not an option on a read-only root, so then drop the mount instead;
 * MNT_DETACH because our console fds keep devtmpfs busy. */
static void move_api_mounts(void)
{
    static const char *const dirs[] = { "/dev", "/proc", "/sys" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char target[64];
        struct stat st;
        const char *why;
        snprintf(target, sizeof target, NEWROOT "%s", dirs[i]);
        if (stat(target, &st) < 0)
            why = strerror(errno);
        else if (!S_ISDIR(st.st_mode))
            why = "not a directory";
        else if (mount(dirs[i], target, NULL, MS_MOVE, NULL) < 0)
            why = strerror(errno);
        else
            continue;
        warn("cannot move %s to %s: %s; unmounting it", dirs[i], target, why);
        umount2(dirs[i], MNT_DETACH);
    }
}

/* The initramfs stays in memory until its files are gone, so delete them.
 * st_dev keeps us on the initramfs: /newroot (and anything still mounted)
 * lives on another device and is skipped. Takes ownership of dirfd. */
static void delete_tree(int dirfd, dev_t rootdev)
{
    DIR *d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != rootdev)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                delete_tree(sub, rootdev);
        }
        unlinkat(dirfd, e->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
    }
    closedir(d);
}

static void delete_initramfs(void)
{
    struct statfs sfs;
    struct stat st;
    /* Never wipe a real filesystem, whatever went wrong to get us here. */
    if (statfs("/", &sfs) < 0 || (sfs.f_type != RAMFS_MAGIC && sfs.f_type != TMPFS_MAGIC) ||
        stat("/", &st) < 0)
        return;
    int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0)
        delete_tree(fd, st.st_dev);
}

/* The classic switch_root dance: pivot_root(2) does not work on the
 * initramfs (it is the rootfs, which cannot be unmounted), so move the new
 * root over / and chroot into it. */
static void switch_root(void)
{
    if (chdir(NEWROOT) < 0)
        die("cannot enter %s: %s", NEWROOT, strerror(errno));
    if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
        die("cannot move %s to /: %s", NEWROOT, strerror(errno));
    if (chroot(".") < 0)
        die("cannot chroot into the new root: %s", strerror(errno));
    if (chdir("/") < 0)
        die("cannot chdir to the new /: %s", strerror(errno));
}

/* argv[1..] are the arguments the kernel gave PID 1 (command-line words it
 * did not recognise); they are passed on, and so is the environment. Only
 * after the chroot can we check the init: /sbin/init is often an absolute
 * symlink (to systemd) that would resolve against the initramfs before. */
static _Noreturn void exec_init(const char *init, char **argv)
{
    static const char *const defaults[] = { "/sbin/init", "/etc/init", "/bin/init", "/bin/sh" };
    if (init) {
        say("switching to %s", init);
        argv[0] = (char *)init;
        execv(init, argv);
        die("cannot run init %s: %s", init, strerror(errno));
    }
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        if (access(defaults[i], X_OK) != 0)
            continue;
        say("switching to %s", defaults[i]);
        argv[0] = (char *)defaults[i];
        execv(defaults[i], argv);
        warn("cannot run %s: %s", defaults[i], strerror(errno));
    }
    die("no init found on the root (tried /sbin/init, /etc/init, /bin/init, /bin/sh)");
}

int main(int argc, char **argv)
{
    (void)argc;
    /* This program deletes the filesystem it runs from; refuse to run as
     * anything but the initramfs's PID 1 (die() only exits then). */
    if (getpid() != 1)
        die("must run as PID 1 of an initramfs");
    if (chdir("/") < 0)
        die("cannot chdir to /: %s", strerror(errno));

    struct cmdline c;
    char dev[512];
    mount_api_filesystems();
    parse_cmdline(&c); /* before loading modules, so banger.quiet applies */
    load_modules();
    wait_for_root(&c, dev, sizeof dev);
    const char *type = mount_root(&c, dev);
    say("mounted %s (%s, %s) on %s", dev, type, c.rw ? "rw" : "ro", NEWROOT);
    move_api_mounts();
    delete_initramfs();
    switch_root();
    exec_init(c.init, argv);
}
