#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/session: how fast commands and sessions talk to a VM.

Runs the in-process engine as root with a private state and cache dir, QEMU
under TCG, in its own network and pid namespace (like bench/benchlib.py, whose
helpers it uses), against one busybox VM whose image carries Debian's sshd
(tests/vm_sshd.py). Measured in the same run, against the same VM:

  1. `vm exec true` round trip: through the C API (the Python binding's
     local client, one engine for every call), through the CLI (`banger
     --local vm exec`, a process and an engine per call), and the anchor:
     `ssh root@VM true` over the bridge (the host's OpenSSH client, a new
     connection per call, as a user types it). Goal: C API <= 1/5 of ssh.
  2. guest-to-host stream throughput: a pipe-mode session that cats a
     --mb MB file (random bytes, in the guest's tmpfs) once attached, read
     through `vm session attach` to /dev/null; `vm exec cat` of it; and the
     anchor `ssh root@VM cat FILE`. Goal: the session >= 2x ssh.
  3. attach latency: from the attach call to the first byte of a session's
     output (a session that echoes a line when its stdin gets one).

Run by hand as root: python3 bench/session.py [--runs 10] [--mb 200] [--json]
Needs a build in ./build, qemu-system-x86_64, busybox, e2fsprogs, and
openssh-server and openssh-client on the host (their sshd goes into the
guest).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
import benchlib  # noqa: E402
import vm_sshd  # noqa: E402 - the test image's sshd

note = benchlib.note


def parse_args():
    ap = argparse.ArgumentParser(
        description="vm exec round trips (C API, CLI), session output throughput and attach "
        "latency against one VM, in the same run. Runs as root inside a private network+pid "
        "namespace it creates itself. Never run by the test suite.")
    ap.add_argument("--runs", type=int, default=10, help="round trips and attaches (default 10)")
    ap.add_argument("--mb", type=int, default=200, help="MB streamed from the guest (default 200)")
    ap.add_argument("--kernel-deb", default=os.path.join(benchlib.ROOT, ".test-cache", "cloud-kernel.deb"),
                    help="Debian linux-image .deb (default .test-cache/cloud-kernel.deb)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    return ap.parse_args()


def load_binding():
    os.environ.setdefault("BANGER_LIBRARY",
                          os.path.join(benchlib.ROOT, "build", "libbanger", "libbanger.so.1"))
    sys.path.insert(0, os.path.join(benchlib.ROOT, "bindings", "python"))
    import banger  # noqa: E402
    return banger


def timed(fn):
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def first_byte_latency(client, vm, name):
    """Attaches to session NAME (which echoes a line per input line) and
    returns the seconds from the attach call to the first output byte."""
    r, w = os.pipe()
    seen = {}

    def watch():
        os.read(r, 1)
        seen["t"] = time.monotonic()
    t = threading.Thread(target=watch)
    t.start()
    t0 = time.monotonic()
    client.vm_session_attach(vm, name, input=b"ping\n", stdout=w)
    t.join()
    os.close(r)
    os.close(w)
    return seen["t"] - t0


def ssh_command(key, ip):
    """`ssh root@IP` as a user would run it (a new connection each time);
    the host key is not checked (a throwaway VM in a private namespace)."""
    return ["ssh", "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "root@" + ip]


def ssh_anchor(key, ip):
    """A function running `ssh root@IP CMD...` (ssh_command)."""
    base = ssh_command(key, ip)

    def ssh(*cmd, stdout=subprocess.DEVNULL):
        subprocess.run(base + list(cmd), check=True, stdin=subprocess.DEVNULL, stdout=stdout,
                       timeout=600)
    return ssh


def main():
    args = parse_args()
    benchlib.QUIET = args.json
    if vm_sshd.missing():
        sys.exit("bench/session.py: " + vm_sshd.missing())
    benchlib.start_bench("session.py", args.kernel_deb)
    work = tempfile.mkdtemp(prefix="banger-bench-session-")
    note("importing the kernel and building the image...")
    # A key of the bench's own (a key path set in the config must exist).
    key = os.path.join(work, "id_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    b, cfg = benchlib.busybox_engine(work, "bgrsess0", 81, args.kernel_deb,
                                 'sync_auth_files = false\nssh_key_path = "%s"\n' % key,
                                 add=vm_sshd.add_sshd)
    vm = b.json("vm", "create", "--name", "s", "--image", "bb", "--memory", "1G")
    res = {"runs": args.runs, "mb": args.mb}
    ssh = ssh_anchor(key, vm["ip"])
    note("ssh round trips...")
    ssh("true")  # sshd up (banger started it at create) and its files cached
    res["ssh_true_s"] = [timed(lambda: ssh("true")) for _ in range(args.runs)]
    note("exec round trips...")
    # The CLI first: a local client holds the state directory while it lives.
    res["exec_cli_s"] = [timed(lambda: b.run("vm", "exec", "s", "--", "true"))
                         for _ in range(args.runs)]
    banger = load_binding()
    client = banger.Client.local(banger.Config.load(cfg))
    try:
        client.vm_exec("s", ["true"])  # the agent connection is made once
        res["exec_api_s"] = [timed(lambda: client.vm_exec("s", ["true"])) for _ in range(args.runs)]
        note("streaming %d MB..." % args.mb)
        big = "/tmp/bench-stream"
        client.vm_exec("s", ["sh", "-c", "dd if=/dev/urandom of=%s bs=1M count=%d 2>/dev/null"
                             % (big, args.mb)])
        client.vm_session_start("s", "stream", ["sh", "-c", "read x; cat " + big],
                                stdin_mode="pipe")
        with open(os.devnull, "wb") as null:
            res["session_stream_s"] = timed(lambda: client.vm_session_attach(
                "s", "stream", input=b"go\n", stdout=null))
            res["exec_stream_s"] = timed(lambda: client.vm_exec("s", ["cat", big], stdout=null))
            res["ssh_stream_s"] = timed(lambda: ssh("cat", big, stdout=null))
        note("attach latency...")
        lat = []
        for i in range(args.runs):
            name = "echo%d" % i
            client.vm_session_start("s", name, ["head", "-n", "1"], stdin_mode="pipe")
            lat.append(first_byte_latency(client, "s", name))
        res["attach_first_byte_s"] = lat
    finally:
        client.close()
    b.run("vm", "delete", "--force", "s", check=False)
    benchlib.reap_orphans()
    shutil.rmtree(work, ignore_errors=True)  # its images: some 400 MB
    med = statistics.median
    res["exec_api_median_ms"] = med(res["exec_api_s"]) * 1000
    res["exec_cli_median_ms"] = med(res["exec_cli_s"]) * 1000
    res["ssh_true_median_ms"] = med(res["ssh_true_s"]) * 1000
    res["session_stream_mb_s"] = args.mb / res["session_stream_s"]
    res["exec_stream_mb_s"] = args.mb / res["exec_stream_s"]
    res["ssh_stream_mb_s"] = args.mb / res["ssh_stream_s"]
    res["attach_first_byte_median_ms"] = med(lat) * 1000
    res["exec_api_vs_ssh"] = res["exec_api_median_ms"] / res["ssh_true_median_ms"]
    res["session_vs_ssh_stream"] = res["session_stream_mb_s"] / res["ssh_stream_mb_s"]
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print("one busybox VM under QEMU/TCG, %d runs, %d MB:" % (args.runs, args.mb))
    print("  vm exec true, C API (one engine)       median %7.1f ms" % res["exec_api_median_ms"])
    print("  vm exec true, CLI --local (a process)  median %7.1f ms" % res["exec_cli_median_ms"])
    print("  ssh root@VM true (bridge, anchor)      median %7.1f ms" % res["ssh_true_median_ms"])
    print("    C API / ssh: %.2f (goal <= 0.20: %s)" % (
        res["exec_api_vs_ssh"], "met" if res["exec_api_vs_ssh"] <= 0.2 else "NOT met"))
    print("  session output via attach (cat FILE)   %7.1f MB/s" % res["session_stream_mb_s"])
    print("  vm exec cat FILE                       %7.1f MB/s" % res["exec_stream_mb_s"])
    print("  ssh root@VM cat FILE (bridge, anchor)  %7.1f MB/s" % res["ssh_stream_mb_s"])
    print("    session / ssh: %.2fx (goal >= 2x: %s)" % (
        res["session_vs_ssh_stream"], "met" if res["session_vs_ssh_stream"] >= 2 else "NOT met"))
    print("  attach to first byte of output         median %7.1f ms" % res["attach_first_byte_median_ms"])


if __name__ == "__main__":
    main()
