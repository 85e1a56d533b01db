# SPDX-License-Identifier: LGPL-2.1-or-later
"""test-vm.py's checks of what outlives bangerd (kept apart to keep that
file short): a kill -9 of bangerd with VMs running and in the middle of a
create, and a VMM that dies while bangerd is down. @t carries test-vm's
helpers and paths (run, jrun, env, work, CLI, BUSYBOX, start_daemon,
kill_daemon)."""
import json
import os
import signal
import subprocess
import time

from vm_dns import dns_query


def kill9_adopts_everything(t):
    run = t.run
    jrun = t.jrun
    before = {v["name"]: v for v in jrun("vm", "list")}
    t.kill_daemon()
    t.start_daemon()
    after = {v["name"]: v for v in jrun("vm", "list")}
    for name in ("alpha", "beta"):
        assert after[name]["state"] == "running", after[name]
        assert after[name]["pid"] == before[name]["pid"], (before[name], after[name])
    assert run("vm", "exec", "alpha", "--", "echo", "still-here").stdout == b"still-here\n"


def kill9_mid_create_then_running(t):
    run = t.run
    env = t.env
    work = t.work
    CLI = t.CLI
    # kill -9 of bangerd 1.5 s into a real create (QEMU booting under
    # TCG): the next bangerd adopts the half-done boot and the VM ends
    # running within the boot timeout (180 s), usable, with one VMM.
    p = subprocess.Popen([CLI, "vm", "create", "--name", "delta", "--image", "bb"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # deliberate: the kill lands mid-create, not on a condition
    t.kill_daemon()
    rc = p.wait(timeout=60)
    assert rc != 0, "vm create succeeded although bangerd was killed under it"
    t.start_daemon()
    deadline = time.monotonic() + 180
    while True:
        s = run("vm", "show", "delta", "--json", check=False)
        assert s.returncode == 0, "VM delta is gone after the restart: %s" % s.stderr
        vm = json.loads(s.stdout)
        if vm["state"] == "running":
            break
        assert vm["state"] == "starting", vm
        assert time.monotonic() < deadline, "delta still %s after 180 s" % vm["state"]
        time.sleep(0.2)
    assert run("vm", "exec", "delta", "--", "echo", "adopted").stdout == b"adopted\n"
    # One VMM for it: the one its record names (its run directory is
    # in the VMM's command line).
    run_dir = os.path.join(work, "state", "run", vm["id"]).encode() + b"/"
    vmms = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if run_dir in open("/proc/%s/cmdline" % pid, "rb").read():
                vmms.append(int(pid))
        except OSError:
            pass  # gone meanwhile
    assert vmms == [vm["pid"]], (vmms, vm["pid"])
    run("vm", "delete", "delta", "--force")


def vmm_death_while_daemon_down(t):
    jrun = t.jrun
    work = t.work
    BUSYBOX = t.BUSYBOX
    pid = jrun("vm", "show", "beta")["pid"]
    t.kill_daemon()
    os.kill(pid, signal.SIGKILL)
    t.start_daemon()
    vm = jrun("vm", "show", "beta")
    assert vm["state"] == "stopped" and vm["reason"], vm
    assert jrun("vm", "show", "alpha")["state"] == "running"
    # As after a host reboot: the bridge, the taps and dnsmasq are gone;
    # starting the VM brings them back.
    pool = [l.split(":")[1].strip().split("@")[0] for l in subprocess.run(
        ["ip", "-o", "link", "show"], capture_output=True, text=True).stdout.splitlines()
        if l.split(":")[1].strip().startswith("bgr-")]
    pid = open(os.path.join(work, "state", "net", "dnsmasq.pid")).read().strip()
    os.kill(int(pid), signal.SIGKILL)
    for tap in pool:
        if tap != jrun("vm", "show", "alpha")["debug"]["tap"]:
            subprocess.run(["ip", "link", "del", tap], check=True)
    vm = jrun("vm", "start", "beta")
    assert vm["state"] == "running", vm
    assert subprocess.run([BUSYBOX, "ping", "-c", "1", "-W", "5", vm["ip"]],
                          capture_output=True).returncode == 0, "beta unreachable after restart"
    deadline = time.monotonic() + 10
    while dns_query("10.77.0.1", "beta.vm") != [vm["ip"]]:
        assert time.monotonic() < deadline, "beta.vm does not resolve after dnsmasq restart"
        time.sleep(0.1)
