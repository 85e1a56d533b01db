/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The work disk: as PID 1, before the image's init runs, the agent mounts
 * the device named by $banger_work (the kernel hands the command line's
 * banger_work=/dev/vdb to init as an environment variable) on /root, so
 * that /root lives on the VM's own disk and survives stop/start. A fresh,
 * empty work disk first gets a copy of what the image has in /root
 * (dotfiles, ~/.ssh), so mounting it hides nothing; so does one the host
 * wrote a workspace into before the boot (it leaves
 * BGR_AGENT_WORK_SEED_MARKER there to say so). When the host is still
 * writing the disk (BGR_AGENT_WORK_BUSY_MARK at its start), the agent
 * waits for it to finish, then drops what the kernel cached of the disk
 * before it mounts it. Every failure is one line on the console and the
 * boot goes on without it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "banger-agent-work.h"
#include "bgr-agent-proto.h"

#define WORK_MOUNT "/root"

static void say(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "banger-vsock-agent: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
}

/* TRUE when the directory holds nothing but lost+found. */
static bool dir_is_fresh(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    bool fresh = true;

    if (!d)
        return false;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "lost+found")) {
            fresh = false;
            break;
        }
    }
    closedir(d);
    return fresh;
}

/* Copies what the image's /root held (open as @old_fd, now hidden under
 * the mount) into the mounted work disk with the guest's own cp -a, run
 * from inside the hidden directory. */
static void seed_from(int old_fd)
{
    pid_t pid;
    int status;

    pid = fork();
    if (pid == 0) {
        if (fchdir(old_fd) < 0)
            _exit(126);
        execl("/bin/cp", "cp", "-a", ".", WORK_MOUNT "/", (char *)NULL);
        execlp("cp", "cp", "-a", ".", WORK_MOUNT "/", (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        say("could not copy the image's %s onto the new work disk%s", WORK_MOUNT, " (cp -a failed)");
}

/* Whether the disk still starts with the host's busy mark; read around
 * the page cache, which may hold what the kernel read at its probe. */
static bool still_busy(int fd, unsigned char *buf)
{
    if (pread(fd, buf, 4096, 0) != 4096)
        return false;
    return memcmp(buf, BGR_AGENT_WORK_BUSY_MARK, sizeof BGR_AGENT_WORK_BUSY_MARK - 1) == 0;
}

/* Waits while the host writes @dev (vm run's workspace, written as the
 * guest boots; the host kills the VM if it fails), then drops the
 * kernel's cached blocks of it, so that the mount reads what the host
 * wrote. */
static void wait_for_host(const char *dev)
{
    const struct timespec tick = { 0, 10 * 1000 * 1000 };
    unsigned char *buf = NULL;
    int fd = open(dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
    long waited = 0;

    if (fd < 0 || posix_memalign((void **)&buf, 4096, 4096) != 0) {
        say("cannot read the work disk %s: %s", dev, strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    while (still_busy(fd, buf)) {
        if (waited % 3000 == 0)
            say("waiting for the host to finish writing the work disk %s%s", dev, "");
        nanosleep(&tick, NULL);
        waited++;
    }
    if (waited > 0)
        say("the host finished writing the work disk %s%s", dev, "");
    if (ioctl(fd, BLKFLSBUF, 0) < 0)
        say("cannot drop the cached blocks of %s: %s", dev, strerror(errno));
    free(buf);
    close(fd);
}

void agent_mount_work_disk(void)
{
    const char *dev = getenv(BGR_AGENT_WORK_ENV);
    struct stat st;
    int old_fd;
    bool fresh;

    if (!dev || !*dev)
        return;
    if (stat(dev, &st) < 0 || !S_ISBLK(st.st_mode)) {
        /* No devtmpfs yet (a kernel booted without banger's initramfs
         * and without CONFIG_DEVTMPFS_MOUNT): mount one for the init. */
        if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL) < 0 && errno != EBUSY)
            say("cannot mount devtmpfs to find the work disk %s%s", dev, "");
    }
    if (mkdir(WORK_MOUNT, 0700) < 0 && errno != EEXIST) {
        say("cannot create %s: %s", WORK_MOUNT, strerror(errno));
        return;
    }
    wait_for_host(dev);
    old_fd = open(WORK_MOUNT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (mount(dev, WORK_MOUNT, "ext4", MS_NOATIME, NULL) < 0) {
        say("cannot mount the work disk %s on " WORK_MOUNT ": %s", dev, strerror(errno));
        if (old_fd >= 0)
            close(old_fd);
        return;
    }
    fresh = dir_is_fresh(WORK_MOUNT) || unlink(WORK_MOUNT "/" BGR_AGENT_WORK_SEED_MARKER) == 0;
    if (fresh && old_fd >= 0)
        seed_from(old_fd);
    if (fresh)
        chmod(WORK_MOUNT, 0700);
    if (old_fd >= 0)
        close(old_fd);
    say("mounted the work disk %s on %s", dev, WORK_MOUNT);
    unsetenv(BGR_AGENT_WORK_ENV);
}
