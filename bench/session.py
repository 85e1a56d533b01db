#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/session: how fast commands and sessions talk to a VM.

Runs the in-process engine as root with a private state and cache dir, QEMU
under TCG, in its own network and pid namespace (like bench/boot.py, whose
helpers it uses), against one busybox VM. Measured in the same run:

  1. `vm exec true` round trip: through the C API (the Python binding's
     local client, one engine for every call), through the CLI (`banger
     --local vm exec`, a process and an engine per call), and, when this
     host has ssh and the guest an sshd (the busybox image has none), ssh.
  2. guest-to-host stream throughput of a session's output: a pipe-mode
     session that writes --mb MB of zeros once attached, read through
     `vm session attach` to /dev/null; and `vm exec cat` of the same amount
     for comparison.
  3. attach latency: from the attach call to the first byte of a session's
     output (a session that echoes a line when its stdin gets one).

Run by hand as root: python3 bench/session.py [--runs 10] [--mb 200] [--json]
Needs a build in ./build, qemu-system-x86_64, busybox, e2fsprogs.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402

note = boot.note


def parse_args():
    ap = argparse.ArgumentParser(
        description="vm exec round trips (C API, CLI), session output throughput and attach "
        "latency against one VM, in the same run. Runs as root inside a private network+pid "
        "namespace it creates itself. Never run by the test suite.")
    ap.add_argument("--runs", type=int, default=10, help="round trips and attaches (default 10)")
    ap.add_argument("--mb", type=int, default=200, help="MB streamed from the guest (default 200)")
    ap.add_argument("--kernel-deb", default=os.path.join(boot.ROOT, ".test-cache", "cloud-kernel.deb"),
                    help="Debian linux-image .deb (default .test-cache/cloud-kernel.deb)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    return ap.parse_args()


def load_binding():
    os.environ.setdefault("BANGER_LIBRARY",
                          os.path.join(boot.ROOT, "build", "libbanger", "libbanger.so.1"))
    sys.path.insert(0, os.path.join(boot.ROOT, "bindings", "python"))
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


def main():
    args = parse_args()
    boot.QUIET = args.json
    boot.start_bench("session.py", args.kernel_deb)
    work = tempfile.mkdtemp(prefix="banger-bench-session-")
    note("importing the kernel and building the image...")
    b, cfg = boot.busybox_engine(work, "bgrsess0", 81, args.kernel_deb, "sync_auth_files = false\n")
    b.run("vm", "create", "--name", "s", "--image", "bb", "--memory", "1G")
    res = {"runs": args.runs, "mb": args.mb}
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
        cmd = "read x; dd if=/dev/zero bs=1M count=%d 2>/dev/null" % args.mb
        client.vm_session_start("s", "stream", ["sh", "-c", cmd], stdin_mode="pipe")
        with open(os.devnull, "wb") as null:
            res["session_stream_s"] = timed(lambda: client.vm_session_attach(
                "s", "stream", input=b"go\n", stdout=null))
            res["exec_stream_s"] = timed(lambda: client.vm_exec(
                "s", ["sh", "-c", "dd if=/dev/zero bs=1M count=%d 2>/dev/null" % args.mb],
                stdout=null))
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
    boot.reap_orphans()
    med = statistics.median
    res["exec_api_median_ms"] = med(res["exec_api_s"]) * 1000
    res["exec_cli_median_ms"] = med(res["exec_cli_s"]) * 1000
    res["session_stream_mb_s"] = args.mb / res["session_stream_s"]
    res["exec_stream_mb_s"] = args.mb / res["exec_stream_s"]
    res["attach_first_byte_median_ms"] = med(lat) * 1000
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print("one busybox VM under QEMU/TCG:")
    print("  vm exec true, C API (one engine)       median %7.1f ms" % res["exec_api_median_ms"])
    print("  vm exec true, CLI --local (a process)  median %7.1f ms" % res["exec_cli_median_ms"])
    print("  session output via attach, %d MB       %7.1f MB/s" % (args.mb, res["session_stream_mb_s"]))
    print("  vm exec output, %d MB                  %7.1f MB/s" % (args.mb, res["exec_stream_mb_s"]))
    print("  attach to first byte of output         median %7.1f ms" % res["attach_first_byte_median_ms"])
    print("  (no ssh anchor: the test image has no sshd)")


if __name__ == "__main__":
    main()
