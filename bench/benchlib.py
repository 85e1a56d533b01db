# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the VM benches share (bench/boot.py, memory.py, session.py,
workspace.py): their own network and pid namespace, the banger CLI with a
private engine, the busybox image and Debian's cloud kernel, timing and
progress helpers."""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BANGER = os.path.join(ROOT, "build", "cli", "banger")
NETNS_ENV = "BANGER_BENCH_NETNS"
MARKER = "BANGER-BENCH-INIT-REACHED"
QUIET = False


def note(msg):
    """Progress goes to stderr, so that --json output stays clean."""
    if not QUIET:
        print(msg, file=sys.stderr, flush=True)


def enter_namespaces():
    """Re-executes the running script (this one, or a bench that imports
    it) under unshare, unless already inside."""
    own = os.readlink("/proc/self/ns/net")
    marker = os.environ.get(NETNS_ENV)
    if marker is None:
        os.environ[NETNS_ENV] = own
        try:
            os.execvp("unshare", ["unshare", "--net", "--pid", "--fork", "--mount-proc",
                                  "--kill-child", sys.executable, os.path.abspath(sys.argv[0])]
                      + sys.argv[1:])
        except OSError as e:
            sys.exit("cannot unshare: %s" % e)
    if own == marker:
        sys.exit("refusing to run: still in the network namespace this was started from")


# ---- helpers -----------------------------------------------------------------


def sh(argv, **kw):
    kw.setdefault("check", True)
    kw.setdefault("stdout", subprocess.DEVNULL)
    return subprocess.run(argv, **kw)


def timed(argv):
    os.sync()  # no writeback of earlier work competes with what is timed
    t0 = time.monotonic()
    sh(argv)
    return (time.monotonic() - t0) * 1000.0


def stats(values):
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def allocated(path):
    return os.stat(path).st_blocks * 512


def fs_type(path):
    p = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", path], capture_output=True, text=True)
    if p.returncode == 0 and p.stdout.strip():
        return p.stdout.strip().splitlines()[0]
    return subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True,
                          text=True).stdout.strip()


def reflink_works(d):
    a, b = os.path.join(d, ".reflink-a"), os.path.join(d, ".reflink-b")
    with open(a, "wb") as f:
        f.write(os.urandom(65536))
    ok = subprocess.run(["cp", "--reflink=always", a, b], stderr=subprocess.DEVNULL).returncode == 0
    for p in (a, b):
        if os.path.exists(p):
            os.unlink(p)
    return ok


def reap_orphans():
    """We are PID 1 of the pid namespace: QEMU's and dnsmasq's daemonizing
    parents, and QEMUs that banger killed, end up as our zombies. Only called
    when no subprocess of ours is running, so nothing else's status is taken."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Banger:
    def __init__(self, cfg):
        self.cfg = cfg

    def run(self, *args, check=True, timeout=600):
        p = subprocess.run([BANGER, "--local", "-c", self.cfg] + list(args), capture_output=True,
                           timeout=timeout)
        reap_orphans()
        if check and p.returncode != 0:
            raise RuntimeError("banger %s failed (exit %d):\n%s" % (
                " ".join(args), p.returncode, p.stderr.decode(errors="replace").strip()))
        return p

    def json(self, *args):
        return json.loads(self.run(*args, "--json").stdout)


def start_bench(script, kernel_deb):
    """What every VM bench checks and does first: root, the kernel .deb,
    then its own network and pid namespace with loopback up."""
    if os.geteuid() != 0:
        sys.exit("bench/%s needs root (network namespace, bridge, taps)" % script)
    if not os.path.exists(kernel_deb):
        sys.exit("no kernel .deb at %s (run the test suite once, or pass --kernel-deb)"
                 % kernel_deb)
    enter_namespaces()
    sh(["ip", "link", "set", "lo", "up"])


def busybox_engine(d, bridge, subnet, kernel_deb, extra="", tree_parent=None, add=None):
    """A private engine in D (state, cache, banger.toml; QEMU under TCG,
    bridge BRIDGE on 10.SUBNET.0.0/24, no web UI, plus the EXTRA config
    lines) with Debian's cloud kernel imported and a busybox image "bb"
    registered (its tree made once under TREE_PARENT, default D, and given
    to ADD, when set, to put more into it)."""
    os.makedirs(os.path.join(d, "state"))
    cfg = os.path.join(d, "banger.toml")
    with open(cfg, "w") as f:
        f.write('state_dir = "%s/state"\ncache_dir = "%s/cache"\nhypervisor = "qemu"\n'
                'qemu_accel = "tcg"\nbridge_name = "%s"\nbridge_ip = "10.%d.0.1"\n'
                'cidr = "10.%d.0.0/24"\ntap_pool_size = 2\ndefault_dns = "10.%d.0.254"\n'
                'web_listen_addr = ""\n%s' % (d, d, bridge, subnet, subnet, subnet, extra))
    b = Banger(cfg)
    b.run("kernel", "import", "cloud", "--deb", kernel_deb)
    tree_parent = tree_parent or d
    tree = os.path.join(tree_parent, "tree")
    if not os.path.isdir(tree):
        make_tree(tree_parent)
        if add is not None:
            add(tree)
    base = os.path.join(d, "bb.ext4")
    mkfs(tree, base, 64 << 20)
    b.run("image", "register", "--name", "bb", "--rootfs", base, "--kernel-ref", "cloud")
    return b, cfg


# ---- images ------------------------------------------------------------------


def make_tree(work):
    busybox = shutil.which("busybox") or "/bin/busybox"
    tree = os.path.join(work, "tree")
    for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "run", "var/tmp"):
        os.makedirs(os.path.join(tree, d), exist_ok=True)
    shutil.copy(busybox, os.path.join(tree, "bin/busybox"))
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True).stdout.split()
    for a in applets:
        p = os.path.join(tree, "bin", a)
        if a != "busybox" and not os.path.exists(p):
            os.symlink("busybox", p)
    os.symlink("../bin/busybox", os.path.join(tree, "sbin/init"))
    with open(os.path.join(tree, "etc/inittab"), "w") as f:
        f.write("::sysinit:/bin/mount -t proc proc /proc\n"
                "::sysinit:/bin/mount -t tmpfs tmpfs /tmp\n"
                "::respawn:/bin/sleep 1000000\n")
    with open(os.path.join(tree, "etc/os-release"), "w") as f:
        f.write('PRETTY_NAME="banger bench busybox"\nID=bangerbench\nVERSION_ID=1\n')
    # The bare-QEMU side's init: proves userspace on the real root runs.
    with open(os.path.join(tree, "bench-init"), "w") as f:
        f.write("#!/bin/sh\necho %s\n/bin/poweroff -f || /bin/reboot -f\n" % MARKER)
    os.chmod(os.path.join(tree, "bench-init"), 0o755)
    return tree


def mkfs(tree, path, size):
    sh(["truncate", "-s", str(size), path])
    sh(["mkfs.ext4", "-q", "-F", "-d", tree, path])


def add_data(tree, data_mb):
    """data_mb MB of incompressible files, 10 MB each."""
    d = os.path.join(tree, "data")
    os.makedirs(d)
    left, i = data_mb << 20, 0
    while left > 0:
        n = min(left, 10 << 20)
        with open(os.path.join(d, "blob%03d" % i), "wb") as f:
            f.write(os.urandom(n))
        left -= n
        i += 1


def download_kernel_deb():
    """apt-get download of Debian's cloud kernel, done before entering the
    network namespace (which has no network). Returns (path, dir)."""
    d = tempfile.mkdtemp(prefix="banger-bench-deb-")
    note("no kernel .deb given; apt-get download linux-image-cloud-amd64 into %s" % d)
    sh(["apt-get", "download", "linux-image-cloud-amd64"], cwd=d)
    meta = [f for f in os.listdir(d) if f.endswith(".deb")][0]
    # The meta package depends on the versioned one: fetch that.
    dep = subprocess.run(["dpkg-deb", "-f", os.path.join(d, meta), "Depends"], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"(linux-image-[0-9][^\s,]*)", dep)
    if m is None:
        sys.exit("cannot find the versioned kernel package in %r" % dep)
    sh(["apt-get", "download", m.group(1)], cwd=d)
    for f in os.listdir(d):
        if f.startswith(m.group(1) + "_"):
            return os.path.join(d, f), d
    sys.exit("apt-get download %s gave no .deb" % m.group(1))
