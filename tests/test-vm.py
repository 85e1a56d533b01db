#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End to end VM test: real bangerd on a private bus, real QEMU (TCG) booting
Debian's cloud kernel with a busybox rootfs, bridge networking with dnsmasq,
all inside a network (and pid) namespace this test creates, so nothing is
configured on the machine's own network and every process dies with it.

What a user would check: create -> ready -> exec -> stop -> start -> exec ->
delete; the guest answers ping and TCP over the bridge (from the host; not from another VM); NAME.vm resolves;
two VMs get different addresses; ssh into the guest's real sshd (vm ssh
over the bridge and on a VM made with --network none, plain ssh to NAME.vm)
and a session in a real guest (vm_ssh.py; the image carries Debian's sshd,
vm_sshd.py); kill -9 of bangerd loses nothing, even 1.5 s
into a create (the next bangerd finishes the boot); a VMM that
died while bangerd was down shows as stopped with the reason; bad input
gives clear errors and changes nothing.

Needs root (exit 77 = skipped otherwise). A check that cannot run here (the
Python binding under ASan, the Firecracker path without its spec) is reported
as "ok - NAME # SKIP why" and the test exits 77 even if every other check
passed, so it never counts as a pass. Environment: BANGER_CLI, BANGERD,
BANGER_TEST_KERNEL_DEB."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vm_daemon_loss  # noqa: E402 - what outlives bangerd
import vm_other_ways  # noqa: E402 - the Python binding, the Firecracker driver
import vm_workspace  # noqa: E402 - the main flow's check, kept beside this file
import vm_ssh  # noqa: E402 - ssh and sessions in a real guest
import vm_sshd  # noqa: E402 - Debian's sshd for the test image
from vm_dns import dns_query  # noqa: E402

SKIP = 77

# The checks below are assert statements, which python3 -O and PYTHONOPTIMIZE
# remove: refuse to run rather than pass without checking anything.
if not __debug__:
    print("FAIL: test-vm.py needs its asserts: run it without -O / PYTHONOPTIMIZE", flush=True)
    sys.exit(1)


def log(*a):
    print(*a, flush=True)


if os.geteuid() != 0:
    log("SKIP: needs root (network namespace, bridge, taps)")
    sys.exit(SKIP)

if os.environ.get("BANGER_TEST_NETNS") != "1":
    # Our own network and pid namespace: everything started inside dies
    # with the test, and nothing touches the host's network.
    os.environ["BANGER_TEST_NETNS"] = "1"
    try:
        # A shell as the namespace's PID 1 reaps the orphans (daemonized
        # QEMU, dnsmasq) once they exit.
        os.execvp("unshare", ["unshare", "--net", "--pid", "--fork", "--mount-proc",
                              "--kill-child", "/bin/sh", "-c", '"$0" "$@"; exit $?',
                              sys.executable] + sys.argv)
    except OSError as e:
        log("SKIP: cannot unshare: %s" % e)
        sys.exit(SKIP)

# Inside the namespaces. Refuse to run if this is somehow the host's netns.
if os.getppid() != 1 or not os.path.exists("/proc/1/comm") or \
        open("/proc/1/comm").read().strip() != "sh":
    log("FAIL: not in a private network namespace")
    sys.exit(1)

CLI = os.environ["BANGER_CLI"]
BANGERD = os.environ["BANGERD"]
KERNEL_DEB = os.environ["BANGER_TEST_KERNEL_DEB"]
BUSYBOX = shutil.which("busybox") or "/bin/busybox"

work = tempfile.mkdtemp(prefix="banger-vm-test-")
failures = []
skipped = []
daemon = None
bus = None
# Nothing of the user's: HOME (~/.docker/config.json for pulls), the XDG
# directories and any banger config. This process's own environment too,
# since the Python binding runs in it.
for _d in ("home", "home/.config", "home/.cache", "home/.state", "home/.data"):
    os.makedirs(os.path.join(work, _d), mode=0o700, exist_ok=True)
os.environ.update(HOME=os.path.join(work, "home"),
                  XDG_CONFIG_HOME=os.path.join(work, "home/.config"),
                  XDG_CACHE_HOME=os.path.join(work, "home/.cache"),
                  XDG_STATE_HOME=os.path.join(work, "home/.state"),
                  XDG_DATA_HOME=os.path.join(work, "home/.data"))
for _v in ("BANGER_CONFIG", "REGISTRY_AUTH_FILE", "DOCKER_CONFIG"):
    os.environ.pop(_v, None)
env = dict(os.environ)
env.update(vm_workspace.pause_env(work))  # held there by work_disk_and_vm_run


class Skip(Exception):
    """Raised by a check that cannot run here; never reported as a pass."""


def run(*args, check=True, input=None, timeout=300):
    p = subprocess.run([CLI] + list(args), input=input, capture_output=True, timeout=timeout,
                       env=env)
    if check and p.returncode != 0:
        raise AssertionError("banger %s failed (%d): %s" % (" ".join(args), p.returncode,
                                                           p.stderr.decode(errors="replace")))
    return p


def jrun(*args):
    return json.loads(run(*args, "--json").stdout)


def expect_error(args, needle, code=None):
    """banger ARGS must exit with an error status (not die of a signal) and
    an error message that contains NEEDLE."""
    assert needle, "expect_error needs a non-empty needle: any message would match"
    p = run(*args, check=False)
    err = p.stderr.decode(errors="replace")
    assert p.returncode >= 0, "banger %s was killed by signal %d: %s" % (
        " ".join(args), -p.returncode, err)
    assert p.returncode != 0, "banger %s should have failed" % " ".join(args)
    assert needle in err, "banger %s: error %r does not mention %r" % (" ".join(args), err, needle)
    if code is not None:
        assert p.returncode == code, "banger %s: exit %d, expected %d (%s)" % (
            " ".join(args), p.returncode, code, err)


def start_daemon():
    global daemon
    logf = open(os.path.join(work, "bangerd.log"), "ab")
    daemon = subprocess.Popen([BANGERD, "--session", "--config", os.path.join(work, "banger.toml")],
                              stderr=logf, env=env)
    deadline = time.monotonic() + 30
    while run("daemon", "status", check=False).returncode != 0:
        assert daemon.poll() is None, "bangerd exited: " + open(os.path.join(work, "bangerd.log")).read()
        assert time.monotonic() < deadline, "bangerd did not start"
        time.sleep(0.05)


def stop_daemon():
    """banger daemon stop; bangerd must exit 0 (under ASan: without leaks)."""
    run("daemon", "stop")
    rc = daemon.wait(timeout=120)
    assert rc == 0, "bangerd exited %d: %s" % (
        rc, open(os.path.join(work, "bangerd.log"), errors="replace").read()[-3000:])


def kill_daemon():
    """kill -9 of bangerd; start_daemon() starts the next one."""
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()


ONLY = [c for c in os.environ.get("BANGER_VM_TEST_CASES", "").split(",") if c]


def case(fn):
    """Runs one check; a failure is recorded and the next check still runs.
    $BANGER_VM_TEST_CASES (comma-separated names) runs only those; the
    others are then reported as skipped, so the run never counts as a pass."""
    name = fn.__name__
    if ONLY and name not in ONLY:
        log("ok - %s # SKIP not in BANGER_VM_TEST_CASES" % name)
        skipped.append(name)
        return fn
    t0 = time.monotonic()
    try:
        fn()
        log("ok - %s (%.1f s)" % (name, time.monotonic() - t0))
    except Skip as e:
        log("ok - %s # SKIP %s" % (name, e))
        skipped.append(name)
    except Exception as e:  # noqa: BLE001 - report and go on
        log("not ok - %s: %s" % (name, e))
        failures.append(name)
    return fn


def make_rootfs():
    tree = os.path.join(work, "tree")
    for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "run", "var/tmp"):
        os.makedirs(os.path.join(tree, d), exist_ok=True)
    shutil.copy(BUSYBOX, os.path.join(tree, "bin/busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True).stdout.split()
    for a in applets:
        if a != "busybox":
            p = os.path.join(tree, "bin", a)
            if not os.path.exists(p):
                os.symlink("busybox", p)
    os.symlink("../bin/busybox", os.path.join(tree, "sbin/init"))
    with open(os.path.join(tree, "etc/inittab"), "w") as f:
        f.write("::sysinit:/bin/mount -t proc proc /proc\n"
                "::sysinit:/bin/mount -t tmpfs tmpfs /tmp\n"
                "::respawn:/bin/sleep 1000000\n")
    with open(os.path.join(tree, "etc/os-release"), "w") as f:
        f.write('PRETTY_NAME="banger test busybox"\nID=bangertest\nVERSION_ID=1\n')
    vm_workspace.add_git(tree)
    if vm_sshd.missing() is None:
        vm_sshd.add_sshd(tree)
    image = os.path.join(work, "rootfs.ext4")
    subprocess.run(["truncate", "-s", "96M", image], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-d", tree, image], check=True)
    return image


def main():
    global bus
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with open(os.path.join(work, "banger.toml"), "w") as f:
        f.write('state_dir = "%s/state"\ncache_dir = "%s/cache"\nqemu_accel = "tcg"\n'
                'bridge_name = "bgrtest0"\nbridge_ip = "10.77.0.1"\ncidr = "10.77.0.0/24"\n'
                'tap_pool_size = 2\ndefault_dns = "10.77.0.254"\nstats_poll_interval = "1h"\n'
                % (work, work))
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().decode().strip()
    start_daemon()
    run("kernel", "import", "cloud", "--deb", KERNEL_DEB)
    kversion = jrun("kernel", "show", "cloud")["version"]
    run("image", "register", "--name", "bb", "--rootfs", make_rootfs(), "--kernel-ref", "cloud")
    # What the checks kept in other files use.
    t = types.SimpleNamespace(run=run, jrun=jrun, env=env, work=work, CLI=CLI, BUSYBOX=BUSYBOX,
                              start_daemon=start_daemon, stop_daemon=stop_daemon,
                              kill_daemon=kill_daemon, Skip=Skip)

    @case
    def bad_input_changes_nothing():
        expect_error(["vm", "create", "--name", "Bad_Name", "--image", "bb"], "DNS label", 2)
        expect_error(["vm", "create", "--name", "-x", "--image", "bb"], "DNS label")
        expect_error(["vm", "create", "--name", "ok1", "--image", "nosuch"], "no image named 'nosuch'")
        expect_error(["vm", "create", "--name", "ok1", "--image", "bb", "--memory", "100000G"],
                     "more than this host has")
        expect_error(["vm", "create", "--name", "ok1", "--image", "bb", "--vcpus", "0"],
                     "invalid --vcpus \"0\"", 2)
        expect_error(["vm", "create", "--name", "ok1", "--image", "bb", "--disk-size", "1M"],
                     "smaller than image")
        expect_error(["vm", "create", "--name", "ok1", "--image", "bb", "--network", "wifi"],
                     "\"wifi\" is not bridge or none")
        expect_error(["vm", "show", "ghost"], "no VM named 'ghost'")
        expect_error(["vm", "exec", "ghost", "--", "true"], "no VM named 'ghost'")
        assert jrun("vm", "list") == [], "bad input left a VM behind"
        assert not os.listdir(os.path.join(work, "state", "vms")) if os.path.isdir(
            os.path.join(work, "state", "vms")) else True, "bad input left files"

    @case
    def create_exec_stop_start_delete():
        vm = jrun("vm", "create", "--name", "alpha", "--image", "bb")
        assert vm["state"] == "running", vm
        assert vm["guest_kernel"] == kversion, vm
        assert vm["guest_os"] == "banger test busybox", vm
        p = run("vm", "exec", "alpha", "--", "uname", "-r")
        assert p.stdout.decode().strip() == kversion, p.stdout
        p = run("vm", "exec", "alpha", "--", "sh", "-c", "cat; echo oops >&2; exit 3",
                input=b"from stdin\n", check=False)
        assert p.returncode == 3 and p.stdout == b"from stdin\n" and p.stderr == b"oops\n", p
        run("vm", "exec", "alpha", "--", "sh", "-c", "echo kept > /root/marker; sync")
        expect_error(["vm", "create", "--name", "alpha", "--image", "bb"], "already exists")
        expect_error(["image", "delete", "bb"], "used by VM(s) alpha")
        vm = jrun("vm", "stop", "alpha")
        assert vm["state"] == "stopped" and "powered off" in vm["reason"], vm
        assert jrun("vm", "show", "alpha")["pid"] == 0
        expect_error(["vm", "stop", "alpha"], "not running")
        expect_error(["vm", "exec", "alpha", "--", "true"], "not running")
        vm = jrun("vm", "start", "alpha")
        assert vm["state"] == "running", vm
        p = run("vm", "exec", "alpha", "--", "cat", "/root/marker")
        assert p.stdout == b"kept\n", p.stdout
        logs = run("vm", "logs", "alpha").stdout.decode(errors="replace")
        assert logs.count("---- banger:") == 2 and "banger-init" in logs, logs[-500:]

    @case
    def failed_boot_names_the_phase_and_keeps_the_console():
        # An image without any init: the guest powers off during boot.
        empty = os.path.join(work, "empty.ext4")
        os.makedirs(os.path.join(work, "empty"), exist_ok=True)
        subprocess.run(["truncate", "-s", "32M", empty], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-d", os.path.join(work, "empty"), empty], check=True)
        run("image", "register", "--name", "noinit", "--rootfs", empty, "--kernel-ref", "cloud")
        expect_error(["vm", "create", "--name", "broken", "--image", "noinit"], "failed while booting")
        p = run("vm", "create", "--name", "broken2", "--image", "noinit", check=False)
        err = p.stderr.decode(errors="replace")
        assert "console log:" in err and "no init" in err.lower(), err
        vm = jrun("vm", "show", "broken")
        assert vm["state"] == "error" and vm["reason"], vm
        assert vm["pid"] == 0
        logs = run("vm", "logs", "broken").stdout.decode(errors="replace")
        assert "banger" in logs and "init" in logs, logs[-300:]
        expect_error(["vm", "exec", "broken", "--", "true"], "not running")
        run("vm", "delete", "broken")
        run("vm", "delete", "broken2")
        run("image", "delete", "noinit")

    @case
    def exec_timeout_and_missing_command():
        p = run("vm", "exec", "alpha", "--timeout", "1s", "--", "sleep", "30", check=False)
        assert p.returncode == 124 and b"timed out" in p.stderr, p
        expect_error(["vm", "exec", "alpha", "--", "no-such-command"], "No such file")

    @case
    def network_bridge_ping_tcp_dns():
        vm = jrun("vm", "show", "alpha")
        ip = vm["ip"]
        assert ip.startswith("10.77.0.") and vm["dns_name"] == "alpha.vm", vm
        assert subprocess.run([BUSYBOX, "ping", "-c", "1", "-W", "5", ip],
                              capture_output=True).returncode == 0, \
            "no ping reply from " + ip
        # TCP: a one-shot server in the guest, a client here.
        server = subprocess.Popen([CLI, "vm", "exec", "alpha", "--", "sh", "-c",
                                   "echo hello-tcp | nc -l -p 7777"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        got = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not got:
            try:
                with socket.create_connection((ip, 7777), timeout=2) as s:
                    got = s.recv(100)
            except OSError:
                time.sleep(0.1)
        server.wait(timeout=30)
        assert got == b"hello-tcp\n", got
        deadline = time.monotonic() + 10
        while dns_query("10.77.0.1", "alpha.vm") != [ip]:
            assert time.monotonic() < deadline, "alpha.vm does not resolve to " + ip
            time.sleep(0.1)
        assert dns_query("10.77.0.1", "nobody.vm") is None

    @case
    def ssh_into_bridged_vm():
        vm_ssh.ssh_into_bridged_vm(run, jrun, env, CLI, work, Skip, "alpha", "10.77.0.1")

    @case
    def session_in_real_guest():
        vm_ssh.session_in_real_guest(run, jrun, "alpha")

    @case
    def ssh_without_network():
        vm_ssh.ssh_without_network(run, jrun, env, CLI, Skip, "nonet")

    @case
    def two_vms_get_different_addresses():
        beta = jrun("vm", "create", "--name", "beta", "--image", "bb", "--disk-size", "512M",
                    "--vcpus", "2", "--memory", "256M")
        alpha = jrun("vm", "show", "alpha")
        assert beta["vcpus"] == 2 and beta["memory_mib"] == 256, beta
        # --disk-size grew the VM's ext4: the guest sees it.
        df = run("vm", "exec", "beta", "--", "df", "-k", "/").stdout.decode().split("\n")[1].split()
        assert int(df[1]) > 400 * 1024, df
        nproc = run("vm", "exec", "beta", "--", "sh", "-c", "grep -c ^processor /proc/cpuinfo")
        assert nproc.stdout.strip() == b"2", nproc.stdout
        assert beta["ip"] != alpha["ip"] and beta["debug"]["tap"] != alpha["debug"]["tap"], (alpha, beta)
        # VMs cannot reach each other (vm_to_vm = false, the default) ...
        p = run("vm", "exec", "beta", "--", "ping", "-c", "1", "-W", "2", alpha["ip"], check=False)
        assert p.returncode != 0, "beta reached alpha"
        # ... nor a host service listening on every address, through the bridge.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind(("0.0.0.0", 18080))
            srv.listen(4)
            p = run("vm", "exec", "beta", "--", "nc", "-w", "2", "10.77.0.1", "18080", check=False)
            assert p.returncode != 0, "beta reached a host service"
        deadline = time.monotonic() + 10
        while dns_query("10.77.0.1", "beta.vm") != [beta["ip"]]:
            assert time.monotonic() < deadline, "beta.vm does not resolve"
            time.sleep(0.1)

    @case
    def work_disk_and_vm_run():
        vm_workspace.work_disk_and_vm_run(run, jrun, env, CLI, work, Skip)

    @case
    def ports_and_stats():
        run("vm", "exec", "alpha", "--", "sh", "-c", "nc -l -p 4242 </dev/null >/dev/null 2>&1 &")
        deadline = time.monotonic() + 10
        while True:
            ports = jrun("vm", "ports", "alpha")
            mine = [p for p in ports if p["port"] == 4242]
            if mine:
                break
            assert time.monotonic() < deadline, "port 4242 never listed: %s" % ports
            time.sleep(0.1)
        assert mine[0]["protocol"].startswith("tcp") and mine[0]["process"] == "nc", mine
        st = jrun("vm", "stats", "alpha")
        assert st["mem_total"] > 64 << 20 and st["guest_uptime_ms"] > 0, st
        # Within stats_poll_interval the daemon answers with its latest sample.
        assert jrun("vm", "stats", "alpha")["sampled_at"] == st["sampled_at"]
        assert st["vmm_rss"] > 0 and st["disk_read_bytes"] > 0, st
        assert st["net_rx_bytes"] > 0, st  # the pings and TCP above
        expect_error(["vm", "stats", "ghost"], "no VM named")

    @case
    def freed_guest_memory_returns_to_the_host():
        # memory_reclaim (on by default): a balloon with free page reporting.
        drv = run("vm", "exec", "alpha", "--", "ls", "/sys/bus/virtio/drivers/virtio_balloon")
        assert b"virtio" in drv.stdout, "no balloon device bound in the guest: %r" % drv.stdout
        pid = jrun("vm", "show", "alpha")["pid"]

        def rss():
            with open("/proc/%d/status" % pid) as f:
                return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))
        run("vm", "exec", "alpha", "--", "sh", "-c",
            "mkdir -p /mnt/t && mount -t tmpfs -o size=220m t /mnt/t && "
            "dd if=/dev/zero of=/mnt/t/fill bs=1M count=200 2>/dev/null")
        full = rss()
        run("vm", "exec", "alpha", "--", "sh", "-c", "rm /mnt/t/fill && umount /mnt/t")
        deadline = time.monotonic() + 60
        while rss() > full - (120 << 20):
            assert time.monotonic() < deadline, \
                "QEMU kept its memory: %d MiB with 200 MB in the guest's tmpfs, %d MiB a " \
                "minute after the guest freed it" % (full >> 20, rss() >> 20)
            time.sleep(0.5)

    @case
    def image_build_keeps_what_the_steps_did():
        # The build VM gets no key, logins, sshd or hostname from banger:
        # the image would keep them.
        img = jrun("image", "build", "bbuilt", "--from", "bb",
                   "--run", "test ! -e /root/.ssh && ! test -e /run/sshd.pid && "
                            "! grep -qs build- /etc/hostname",
                   "--run", "echo built-by-banger > /etc/built-marker",
                   "--run", "mkdir -p /opt/tool && echo step-two-output")
        assert img["source"] == "built" and img["managed"], img
        with open(img["build_log"]) as f:
            log_text = f.read()
        assert "step 3/3" in log_text and "step-two-output" in log_text, log_text
        vm = jrun("vm", "create", "--name", "fromb", "--image", "bbuilt")
        assert vm["state"] == "running", vm
        p = run("vm", "exec", "fromb", "--", "sh", "-c", "cat /etc/built-marker; test -d /opt/tool")
        assert p.stdout == b"built-by-banger\n", p.stdout
        run("vm", "delete", "--force", "fromb")
        # A failing step: its number, status and output are named; nothing stays.
        p = run("image", "build", "broken", "--from", "bb",
                "--run", "true", "--run", "echo failing-output; exit 7", check=False)
        err = p.stderr.decode(errors="replace")
        assert p.returncode != 0 and "step 2" in err and "exit status 7" in err \
            and "failing-output" in err, (p.returncode, err)
        assert all(i["name"] != "broken" for i in jrun("image", "list"))
        assert not [v for v in jrun("vm", "list") if v["name"].startswith("build-")], jrun("vm", "list")
        expect_error(["image", "build", "x2", "--from", "nosuch", "--run", "true"], "no image named")
        expect_error(["image", "build", "bbuilt", "--from", "bb"], "already exists")
        expect_error(["image", "build", "x3", "--run", "true"], "--from IMAGE is required", 2)
        if not os.environ.get("BANGER_SANITIZED"):
            import banger
            client = banger.Client.dbus_address(env["DBUS_SESSION_BUS_ADDRESS"])
            phases = []
            img = client.image_build("pybuilt", from_="bb", run=["touch /etc/py-marker"],
                                     progress=phases.append)
            assert img["source"] == "built" and img["built_from"] == "bb", img
            assert any(p.phase == "run" and "step 1/1" in p.message for p in phases), phases
            run("image", "delete", "pybuilt")
        run("image", "delete", "bbuilt")

    @case
    def delete_while_starting_is_refused():
        p = subprocess.Popen([CLI, "vm", "create", "--name", "gamma", "--image", "bb"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while True:
            s = run("vm", "show", "gamma", "--json", check=False)
            if s.returncode == 0 and json.loads(s.stdout)["state"] == "starting":
                break
            assert p.poll() is None and time.monotonic() < deadline, "never saw gamma starting"
            time.sleep(0.02)
        expect_error(["vm", "delete", "gamma", "--force"], "busy")
        assert p.wait(timeout=120) == 0, p.stderr.read()
        run("vm", "delete", "gamma", "--force")
        # Ctrl-C on a create: bangerd sees its caller leave, cancels, and
        # nothing is left of the VM.
        p = subprocess.Popen([CLI, "vm", "create", "--name", "eps", "--image", "bb"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            s = run("vm", "show", "eps", "--json", check=False)
            if s.returncode == 0 and json.loads(s.stdout)["state"] == "starting":
                break
            assert p.poll() is None and time.monotonic() < deadline, "never saw eps starting"
            time.sleep(0.02)
        p.send_signal(signal.SIGINT)
        p.wait(timeout=30)
        deadline = time.monotonic() + 60
        while run("vm", "show", "eps", check=False).returncode == 0:
            assert time.monotonic() < deadline, "cancelled create left VM eps behind"
            time.sleep(0.1)
        assert not os.path.exists(os.path.join(work, "state", "vms", "eps"))

    @case
    def daemon_kill9_adopts_everything():
        vm_daemon_loss.kill9_adopts_everything(t)

    @case
    def daemon_kill9_mid_create_then_running():
        vm_daemon_loss.kill9_mid_create_then_running(t)

    @case
    def vmm_death_while_daemon_down():
        vm_daemon_loss.vmm_death_while_daemon_down(t)

    @case
    def delete_refuses_running_then_forces():
        expect_error(["vm", "delete", "alpha"], "is running")
        run("vm", "delete", "alpha", "--force")
        run("vm", "delete", "beta", "--force")
        assert jrun("vm", "list") == [], "VMs left after delete"
        left_files = os.listdir(os.path.join(work, "state", "vms"))
        assert left_files == [], "files left after delete: %s" % left_files
        left = subprocess.run(["pgrep", "-f", "qemu-system.*" + work], capture_output=True)
        assert left.returncode != 0, "QEMU left running: " + left.stdout.decode()

    @case
    def python_binding_over_dbus():
        vm_other_ways.python_binding_over_dbus(t)

    @case
    def guest_poweroff_and_auto_stop():
        # The daemon notices a guest that powers itself off...
        run("vm", "create", "--name", "delta", "--image", "bb")
        run("vm", "exec", "delta", "--", "poweroff", check=False)
        deadline = time.monotonic() + 60
        while jrun("vm", "show", "delta")["state"] != "stopped":
            assert time.monotonic() < deadline, "delta never showed stopped"
            time.sleep(0.2)
        assert "powered off" in jrun("vm", "show", "delta")["reason"]
        # ...and stops VMs idle for longer than auto_stop_stale_after, but
        # not one whose guest keeps its CPU busy.
        stop_daemon()
        path = os.path.join(work, "banger.toml")
        conf = open(path).read().replace('stats_poll_interval = "1h"', 'stats_poll_interval = "1s"')
        with open(path, "w") as f:
            f.write(conf + 'auto_stop_stale_after = "4s"\n')
        start_daemon()
        run("vm", "create", "--name", "busy", "--image", "bb")
        run("vm", "exec", "busy", "--", "sh", "-c", "while :; do :; done </dev/null >/dev/null 2>&1 &")
        run("vm", "start", "delta")
        deadline = time.monotonic() + 60
        while jrun("vm", "show", "delta")["state"] != "stopped":
            assert time.monotonic() < deadline, "delta was not auto-stopped"
            time.sleep(0.2)
        assert "auto-stopped" in jrun("vm", "show", "delta")["reason"]
        busy = jrun("vm", "show", "busy")
        assert busy["state"] == "running", busy
        assert time.time() - busy["last_activity"] < 4, busy
        run("vm", "delete", "delta")
        run("vm", "delete", "busy", "--force")

    @case
    def firecracker_driver_end_to_end():
        vm_other_ways.firecracker_driver_end_to_end(t)

    @case
    def daemon_stops_cleanly():
        stop_daemon()


try:
    main()
except Exception as e:  # noqa: BLE001
    log("not ok - setup: %s" % e)
    failures.append("setup")
finally:
    if daemon is not None and daemon.poll() is None:
        daemon.kill()
    if bus is not None:
        bus.kill()
    if failures:
        log("bangerd log:\n" + open(os.path.join(work, "bangerd.log"), errors="replace").read()[-4000:])
    shutil.rmtree(work, ignore_errors=True)

if failures:
    log("FAILED: " + ", ".join(failures))
    sys.exit(1)
if skipped:
    log("SKIPPED (not run here, so not passed): " + ", ".join(skipped))
    sys.exit(SKIP)
log("all VM checks passed")
