#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/memory: host memory (RSS) of idle VMs, with and without
memory_reclaim.

Runs the in-process engine (banger --local) as root with a private state and
cache dir, QEMU under TCG, inside its own network and pid namespace (like
bench/benchlib.py, whose helpers it uses). For each setting of memory_reclaim
(false: QEMU's defaults, as banger did before; true: a virtio-balloon with
free page reporting and a bounded TCG translation cache) it:

  1. creates --vms VMs of --memory-mib each from a busybox image;
  2. in each guest, writes --touch-mb MB to a tmpfs and removes it again (the
     guest touched that memory once and freed it, as a build or a test run
     does);
  3. waits --settle seconds, then reads VmRSS of every QEMU process.

Both settings run in the same invocation, one after the other, on the same
host. Prints the RSS per VM and in total, and the ratio.

Run by hand as root: python3 bench/memory.py [--vms 5] [--json]
Needs a build in ./build, qemu-system-x86_64, busybox, e2fsprogs, unshare.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402  (the shared helpers: namespaces, images, the CLI)

note = benchlib.note


def parse_args():
    ap = argparse.ArgumentParser(
        description="Host RSS of idle VMs with memory_reclaim off and on, measured in the same "
        "run. Runs as root inside a private network+pid namespace it creates itself. Never run by "
        "the test suite.")
    ap.add_argument("--vms", type=int, default=5, help="VMs per setting (default 5)")
    ap.add_argument("--memory-mib", type=int, default=1024, help="guest memory (default 1024)")
    ap.add_argument("--touch-mb", type=int, default=300,
                    help="MB each guest writes to a tmpfs and frees again (default 300)")
    ap.add_argument("--settle", type=float, default=20.0,
                    help="seconds to wait after the guests freed the memory (default 20)")
    ap.add_argument("--kernel-deb", default=os.path.join(benchlib.ROOT, ".test-cache", "cloud-kernel.deb"),
                    help="Debian linux-image .deb (default .test-cache/cloud-kernel.deb)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    return ap.parse_args()


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def measure(work, kernel_deb, reclaim, args):
    """One setting in its own state dir: returns the per-VM RSS list."""
    d = os.path.join(work, "reclaim-%s" % ("on" if reclaim else "off"))
    b, _ = benchlib.busybox_engine(d, "bgrmem%d" % reclaim, 79 if reclaim else 78, kernel_deb,
                               "memory_reclaim = %s\n" % ("true" if reclaim else "false"),
                               tree_parent=work)
    names = ["mem%d" % i for i in range(args.vms)]
    create_ms = []
    try:
        for n in names:
            note("reclaim=%s: creating %s..." % (reclaim, n))
            t0 = time.monotonic()
            b.run("vm", "create", "--name", n, "--image", "bb", "--memory",
                  "%dM" % args.memory_mib)
            create_ms.append((time.monotonic() - t0) * 1000.0)
        for n in names:
            b.run("vm", "exec", n, "--", "sh", "-c",
                  "mkdir -p /mnt/t && mount -t tmpfs -o size=%dm t /mnt/t && "
                  "dd if=/dev/zero of=/mnt/t/fill bs=1M count=%d 2>/dev/null && "
                  "rm /mnt/t/fill && umount /mnt/t" % (args.touch_mb + 16, args.touch_mb))
        note("reclaim=%s: letting the guests settle for %.0f s..." % (reclaim, args.settle))
        time.sleep(args.settle)  # the quantity measured is what idle VMs hold after a while
        out = []
        for n in names:
            vm = b.json("vm", "show", n)
            pid = vm.get("pid")
            if not pid:
                raise RuntimeError("no VMM pid in `vm show %s`: %s" % (n, vm))
            out.append(rss_bytes(int(pid)))
        return out, create_ms
    finally:
        for n in names:
            b.run("vm", "delete", "--force", n, check=False)


def main():
    args = parse_args()
    benchlib.QUIET = args.json
    benchlib.start_bench("memory.py", args.kernel_deb)
    work = tempfile.mkdtemp(prefix="banger-bench-memory-")
    res = {"vms": args.vms, "memory_mib": args.memory_mib, "touch_mb": args.touch_mb,
           "settle_s": args.settle}
    for reclaim in (False, True):
        rss, create_ms = measure(work, args.kernel_deb, reclaim, args)
        res["reclaim_on" if reclaim else "reclaim_off"] = {
            "rss_bytes": rss, "total_bytes": sum(rss), "median_bytes": statistics.median(rss),
            "create_ms": create_ms, "create_median_ms": statistics.median(create_ms)}
    off, on = res["reclaim_off"]["total_bytes"], res["reclaim_on"]["total_bytes"]
    res["ratio_off_to_on"] = off / on if on else None
    if args.json:
        print(json.dumps(res, indent=2))
        return
    mib = 1024 * 1024
    print("%d idle VMs of %d MiB, each after touching and freeing %d MB:" % (
        args.vms, args.memory_mib, args.touch_mb))
    for key, label in (("reclaim_off", "memory_reclaim = false"), ("reclaim_on", "memory_reclaim = true")):
        r = res[key]
        print("  %-24s total %7.1f MiB   per VM median %6.1f MiB   (%s)   vm create median %.2f s" % (
            label, r["total_bytes"] / mib, r["median_bytes"] / mib,
            ", ".join("%.0f" % (x / mib) for x in r["rss_bytes"]), r["create_median_ms"] / 1000))
    print("  off / on: %.2fx" % res["ratio_off_to_on"])


if __name__ == "__main__":
    main()
