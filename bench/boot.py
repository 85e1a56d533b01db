#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/boot: how long `banger vm create` takes, and where the time goes.

Runs the in-process engine (banger --local) as root with a private state and
cache dir, QEMU under TCG by default, inside its own network and pid namespace
(it re-executes itself under `unshare`; the bridge, taps, nftables rules and
dnsmasq banger sets up die with it). Guest: Debian's cloud kernel (imported
from its .deb, with the initramfs banger generates) and a busybox rootfs.

Measures, in one run:
  1. create-to-ready, --runs times: the wall time of `banger --local vm create`
     (process start to "agent answered") and the phases from the VM record:
     clone (disk copy + grow for the modules), install (agent + modules via
     libext2fs), vmm (QEMU start), kernel (VMM start to the kernel's "Run ...
     as init process", which with an initramfs is the initramfs's /init) and
     agent (from there to the agent's READY); "other" is the rest (process
     and engine start, network set-up, record writes).
  2. clone cost: the same content (busybox + --data-mb of random files) as a
     1 GiB and an 8 GiB sparse ext4 (mkfs.ext4 -d); boot_clone_ms of VMs made
     from each, next to `cp --sparse=always` (alone and + fsync, as banger
     fsyncs) and `cp --reflink=auto` of each image, on the state dir's
     filesystem, so one can see that the clone follows the data, not the size.
  3. ratio against bare QEMU: the same kernel, initrd, QEMU machine and
     command line booting a copy of the same rootfs with init=/bench-init (a
     script that prints a marker and powers off); timed from spawning QEMU to
     the marker on the serial console. The bare side has no network device, no
     agent channel, no daemonize, no disk clone/agent install.

Run by hand as root: python3 bench/boot.py [--runs N] [--json]
Needs a build in ./build, qemu-system-x86_64, busybox, e2fsprogs, unshare.
"""
import argparse
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import (BANGER, MARKER, NETNS_ENV, ROOT, Banger, add_data,  # noqa: E402
                      allocated, download_kernel_deb, enter_namespaces, fs_type, make_tree,
                      mkfs, note, reflink_works, sh, stats, timed)

PHASES = ("clone", "install", "vmm", "kernel", "agent")


def parse_args():
    ap = argparse.ArgumentParser(
        description="Benchmark `banger vm create` (create-to-ready and its phases), the disk "
        "clone cost against image size, and the overhead against a bare QEMU boot of the same "
        "kernel, initrd and rootfs. Runs as root, inside a private network+pid namespace it "
        "creates itself. Never run by the test suite.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Phases: install = preparing the image's base once (copy, grow, agent + modules "
        "written with libext2fs; 0 when the base exists), clone = copy of the base, vmm = QEMU start, kernel = VMM start to the kernel's 'Run ... as "
        "init process' (the initramfs /init), agent = from there to the agent's READY, other = "
        "wall time minus those (process/engine start, network set-up, record writes).")
    ap.add_argument("--runs", type=int, default=5, help="create-to-ready and bare QEMU runs (default 5)")
    ap.add_argument("--clone-runs", type=int, default=3,
                    help="VMs created from each of the 1 GiB and 8 GiB images (default 3; 0 skips part 2)")
    ap.add_argument("--data-mb", type=int, default=200,
                    help="random data in the clone-test images, MB (default 200)")
    ap.add_argument("--accel", default="tcg", help="qemu_accel for banger and -accel for bare QEMU (default tcg)")
    ap.add_argument("--vcpus", type=int, default=1, help="vCPUs on both sides (default 1)")
    ap.add_argument("--memory-mib", type=int, default=512, help="guest memory on both sides (default 512)")
    ap.add_argument("--kernel-deb", default=os.path.join(ROOT, ".test-cache", "cloud-kernel.deb"),
                    help="Debian linux-image .deb (default .test-cache/cloud-kernel.deb; when missing, "
                    "`apt-get download linux-image-cloud-amd64`)")
    ap.add_argument("--tmpdir", default=None,
                    help="where the work dir (state_dir, images, copies) goes; its filesystem decides "
                    "reflink (default: $TMPDIR or /tmp)")
    ap.add_argument("--no-bare", action="store_true", help="skip part 3 (bare QEMU)")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    return ap.parse_args()


# ---- measurements ------------------------------------------------------------


def create_once(b, name, image, args, created):
    created.add(name)
    os.sync()  # no writeback of earlier work competes with what is timed
    t0 = time.monotonic()
    p = b.run("vm", "create", "--name", name, "--image", image, "--vcpus", str(args.vcpus),
              "--memory", "%dM" % args.memory_mib, "--json", check=False)
    wall = (time.monotonic() - t0) * 1000.0
    if p.returncode != 0:
        logs = b.run("vm", "logs", "--tail", "3K", name, check=False).stdout.decode(errors="replace")
        raise RuntimeError("vm create %s failed (exit %d):\n%s\nconsole tail:\n%s" % (
            name, p.returncode, p.stderr.decode(errors="replace").strip(), logs))
    vm = json.loads(p.stdout)
    return wall, vm


def delete(b, name, created):
    b.run("vm", "delete", "--force", name)
    created.discard(name)


INIT_RE = re.compile(r"\[\s*([0-9]+\.[0-9]+)\] Run (\S+) as init process")


def guest_init_ms(console):
    """The guest kernel's own clock (printk time) at 'Run ... as init process'."""
    m = INIT_RE.search(console)
    return float(m.group(1)) * 1000.0 if m else None


def phase_row(wall, vm):
    row = {"wall": wall}
    for ph in PHASES:
        row[ph] = float(vm.get("debug", {}).get("boot_%s_ms" % ph, 0))
    row["other"] = wall - sum(row[ph] for ph in PHASES)
    return row


def bare_qemu(kernel, initrd, rootfs, cmdline, args, timeout=180):
    """Boots the bare QEMU; returns ms from spawn to the kernel's init line,
    to the marker, and to QEMU's exit."""
    argv = ["qemu-system-x86_64", "-M", "microvm,acpi=on", "-accel", args.accel,
            "-m", "%dM" % args.memory_mib, "-smp", str(args.vcpus), "-nodefaults", "-no-user-config",
            "-display", "none", "-no-reboot", "-kernel", kernel]
    if initrd:
        argv += ["-initrd", initrd]
    argv += ["-append", cmdline, "-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console",
             "-drive", "id=rootfs,file=%s,format=raw,if=none,discard=unmap" % rootfs,
             "-device", "virtio-blk-device,drive=rootfs"]
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    t_init = t_marker = None
    buf, text = b"", []
    try:
        fd = proc.stdout.fileno()
        while t_marker is None:
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                raise RuntimeError("bare QEMU: no marker within %d s; console tail:\n%s"
                                   % (timeout, "".join(text)[-2000:]))
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 65536)
            now = time.monotonic()
            if not chunk:
                raise RuntimeError("bare QEMU exited (%s) before the marker; console tail:\n%s"
                                   % (proc.wait(), "".join(text)[-2000:]))
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                s = line.decode(errors="replace")
                text.append(s + "\n")
                if t_init is None and "as init process" in s:
                    t_init = now
                if MARKER in s and not s.startswith("echo"):
                    t_marker = now
        proc.stdout.close()
        proc.wait(timeout=60)
        t_exit = time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    ms = lambda t: (t - t0) * 1000.0 if t is not None else None  # noqa: E731
    return {"to_kernel_init": ms(t_init), "to_marker": ms(t_marker), "to_exit": ms(t_exit),
            "guest_clock_at_init": guest_init_ms("".join(text))}


# ---- output ------------------------------------------------------------------


def fmt(v):
    return "%8.0f" % v if v is not None else "       -"


def print_report(res):
    env = res["environment"]
    print("banger boot benchmark (%s, accel=%s, %d vCPU, %d MiB, %d host CPUs)"
          % (env["hypervisor"], env["accel"], env["vcpus"], env["memory_mib"], env["host_cpus"]))
    print("guest kernel %s, initrd %s" % (env["kernel_version"], "yes (banger-generated)" if env["initrd"] else "no"))
    print("state dir on %s (reflink %s)" % (env["state_fs"], "works" if env["reflink"] else "not available"))
    print()
    c = res["create"]
    if c["runs"]:
        cols = ("wall",) + PHASES + ("other",)
        print("1. create-to-ready (`banger --local vm create`, ms), image %s (%.0f MiB, %.1f MiB data)"
              % (c["image"], c["image_size"] / 2**20, c["image_allocated"] / 2**20))
        print("   %-6s" % "run" + "".join("%9s" % k for k in cols))
        for i, r in enumerate(c["runs"]):
            print("   %-6s" % (i + 1) + "".join(" " + fmt(r[k]) for k in cols))
        for s in ("median", "min", "max"):
            print("   %-6s" % s + "".join(" " + fmt(c["summary"][k][s]) for k in cols))
        print("   (install = the image's base, made by the first VM only (copy, grow, agent + modules);"
              "\n    clone = copy of that base; vmm = QEMU"
              " -daemonize start;\n    kernel = VMM start to 'Run /init as init process' (initramfs);"
              " agent = module load, root mount,\n    switch to the agent, hand-over, READY;"
              " other = process/engine start, network, record writes)")
        print()
    cl = res.get("clone")
    if cl:
        print("2. clone cost (same content, different image size), ms; %d VM(s) per image"
              % cl["runs"])
        print("   %-7s %9s %9s %11s %11s %12s %12s %12s" % (
            "image", "size MiB", "data MiB", "banger clone", "(min-max)", "cp --sparse", "cp+fsync",
            "cp --reflink"))
        for img in cl["images"]:
            bc = img["boot_clone_ms"]
            print("   %-7s %9.0f %9.1f %11.0f %12s %12.0f %12.0f %12.0f" % (
                img["label"], img["size"] / 2**20, img["allocated"] / 2**20, bc["median"],
                "(%.0f-%.0f)" % (bc["min"], bc["max"]), img["cp_sparse_ms"]["median"],
                img["cp_sparse_fsync_ms"]["median"], img["cp_reflink_auto_ms"]["median"]))
        a, b = cl["images"]
        print("   8 GiB / 1 GiB: size x%.1f, data x%.2f, banger clone x%.2f, cp --sparse x%.2f, "
              "cp --reflink=auto x%.2f" % (
                  b["size"] / a["size"], b["allocated"] / a["allocated"],
                  b["boot_clone_ms"]["median"] / max(a["boot_clone_ms"]["median"], 1),
                  b["cp_sparse_ms"]["median"] / max(a["cp_sparse_ms"]["median"], 1e-3),
                  b["cp_reflink_auto_ms"]["median"] / max(a["cp_reflink_auto_ms"]["median"], 1e-3)))
        print("   VM disk after the grow: %s" % ", ".join(
            "%s %.0f MiB" % (img["label"], (img["disk_size"][0] or 0) / 2**20) for img in cl["images"]))
        print("   (banger clone = sparse copy or reflink + fsync of the image's prepared base (made"
              " once per\n    image: the image grown for the modules, agent and modules added);"
              " medians; cp times: the\n    images themselves, same filesystem, page cache warm,"
              " `sync` before each timed step)")
        print()
    br = res.get("bare")
    if br:
        print("3. banger vs bare QEMU (same kernel, initrd, machine, cmdline but init=), ms")
        cols = (("banger_ready", "b:ready"), ("banger_to_kernel_init", "b:to-init"),
                ("banger_vmm_to_kernel_init", "b:vmm+kern"), ("banger_guest_clock_at_init", "b:guest@init"),
                ("to_kernel_init", "q:to-init"), ("guest_clock_at_init", "q:guest@init"),
                ("to_marker", "q:marker"), ("to_exit", "q:exit"))
        print("   %-6s" % "run" + "".join("%13s" % c[1] for c in cols))
        for i, r in enumerate(br["runs"]):
            print("   %-6s" % (i + 1) + "".join(
                "%13s" % ("%.0f" % r[k] if r.get(k) is not None else "-") for k, _ in cols))
        s = br["summary"]
        for st in ("median", "min", "max"):
            print("   %-6s" % st + "".join(
                "%13s" % ("%.0f" % s[k][st] if s.get(k) else "-") for k, _ in cols))
        print("   ratio banger create-to-ready / bare QEMU spawn-to-init-marker: %.2fx (median), "
              "%.2fx (best vs best)" % (br["ratio_median"], br["ratio_best"]))
        if br.get("ratio_kernel_init_median"):
            print("   ratio banger create-to-kernel-init / bare spawn-to-kernel-init: %.2fx (median)"
                  % br["ratio_kernel_init_median"])
        print("   b:ready = the whole `vm create` (process start, clone, install, network, daemonized"
              " QEMU,\n     boot, initramfs, agent hand-over to busybox init, READY); b:to-init = that"
              " minus boot_agent_ms\n     (ends at the kernel's 'Run /init' line, seen by 100 ms polling);"
              " b:vmm+kern = boot_vmm_ms +\n     boot_kernel_ms; guest@init = the guest kernel's own"
              " clock (printk time) at that line.\n   q: = bare qemu-system-x86_64 (no network device,"
              " no agent channel, no -daemonize), from\n     spawn to the 'Run /init' line, to"
              " /bench-init's marker on the real root, to QEMU's exit\n     (poweroff -f); the rootfs"
              " copy it boots (%.0f ms cp) is not included." % br["rootfs_copy_ms"])
        print()
    if res.get("notes"):
        print("notes:")
        for n in res["notes"]:
            print("   - " + n)


# ---- main --------------------------------------------------------------------


def main():
    args = parse_args()
    benchlib.QUIET = args.json
    if os.geteuid() != 0:
        sys.exit("bench/boot.py needs root (it creates a network namespace, a bridge and taps)")
    if not os.access(BANGER, os.X_OK):
        sys.exit("no banger CLI at %s: build first" % BANGER)
    if NETNS_ENV not in os.environ and not os.path.exists(args.kernel_deb):
        deb, d = download_kernel_deb()
        os.environ["BANGER_BENCH_REMOVE"] = d
        sys.argv += ["--kernel-deb", deb]
    enter_namespaces()
    sh(["ip", "link", "set", "lo", "up"])

    work = tempfile.mkdtemp(prefix="banger-bench-boot-", dir=args.tmpdir)
    cfg = os.path.join(work, "banger.toml")
    b = Banger(cfg)
    created = set()
    res = {"notes": []}
    failed = False
    try:
        with open(cfg, "w") as f:
            f.write('state_dir = "%s/state"\ncache_dir = "%s/cache"\nhypervisor = "qemu"\n'
                    'qemu_accel = "%s"\nbridge_name = "bgrbench0"\nbridge_ip = "10.78.0.1"\n'
                    'cidr = "10.78.0.0/24"\ntap_pool_size = 2\ndefault_dns = "10.78.0.254"\n'
                    % (work, work, args.accel))
        os.makedirs(os.path.join(work, "state"))
        note("importing the kernel...")
        b.run("kernel", "import", "cloud", "--deb", args.kernel_deb)
        kern = b.json("kernel", "show", "cloud")
        kpath = kern.get("kernel") or kern.get("kernel_path") or kern.get("path")
        initrd = kern.get("initrd") or kern.get("initrd_path")
        note("building images...")
        tree = make_tree(work)
        base = os.path.join(work, "bb.ext4")
        mkfs(tree, base, 64 << 20)
        b.run("image", "register", "--name", "bb", "--rootfs", base, "--kernel-ref", "cloud")
        res["environment"] = {
            "hypervisor": "qemu", "accel": args.accel, "vcpus": args.vcpus,
            "memory_mib": args.memory_mib, "host_cpus": os.cpu_count(),
            "kernel_version": kern.get("version"), "kernel": kpath, "initrd": initrd,
            "state_fs": fs_type(os.path.join(work, "state")),
            "reflink": reflink_works(os.path.join(work, "state")),
            "qemu": subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                                   text=True).stdout.splitlines()[0],
        }
        if not (kpath and os.path.exists(kpath)):
            raise RuntimeError("kernel show gave no usable kernel path: %r" % kern)

        # Parts 1 and 3, interleaved so that both see the same host.
        rows, bare_rows, cmdline = [], [], None
        bare_root = os.path.join(work, "bare-rootfs.ext4")
        rootfs_copy_ms = None
        for i in range(args.runs):
            name = "boot%d" % (i + 1)
            note("run %d/%d: banger vm create..." % (i + 1, args.runs))
            wall, vm = create_once(b, name, "bb", args, created)
            if vm.get("state") != "running":
                raise RuntimeError("VM %s is %s after create: %s" % (name, vm.get("state"), vm))
            row = phase_row(wall, vm)
            row["guest_clock_at_init"] = guest_init_ms(
                b.run("vm", "logs", name, check=False).stdout.decode(errors="replace"))
            rows.append(row)
            cmdline = vm.get("debug", {}).get("kernel_cmdline", cmdline)
            if vm.get("accel") != args.accel:
                res["notes"].append("run %d: VM record says accel=%s" % (i + 1, vm.get("accel")))
            delete(b, name, created)
            if args.no_bare:
                continue
            note("run %d/%d: bare QEMU..." % (i + 1, args.runs))
            if os.path.exists(bare_root):
                os.unlink(bare_root)
            rootfs_copy_ms = timed(["cp", "--sparse=always", base, bare_root])
            bare_cmd = re.sub(r"\binit=\S+", "init=/bench-init", cmdline)
            bare_cmd = re.sub(r"\s*\bip=\S+", "", bare_cmd)
            r = bare_qemu(kpath, initrd, bare_root, bare_cmd, args)
            r["banger_ready"] = wall
            r["banger_to_kernel_init"] = row["wall"] - row["agent"]
            r["banger_vmm_to_kernel_init"] = row["vmm"] + row["kernel"]
            r["banger_guest_clock_at_init"] = row["guest_clock_at_init"]
            bare_rows.append(r)
        summary = {k: stats([r[k] for r in rows]) for k in ("wall",) + PHASES + ("other",)}
        summary["guest_clock_at_init"] = stats([r["guest_clock_at_init"] for r in rows
                                                if r["guest_clock_at_init"] is not None])
        res["create"] = {"image": "bb", "image_size": os.path.getsize(base),
                         "image_allocated": allocated(base), "runs": rows, "summary": summary,
                         "cmdline": cmdline}
        if bare_rows:
            bs = {k: stats([r[k] for r in bare_rows if r[k] is not None])
                  for k in ("banger_ready", "banger_to_kernel_init", "banger_vmm_to_kernel_init",
                            "banger_guest_clock_at_init", "to_kernel_init", "guest_clock_at_init",
                            "to_marker", "to_exit")}
            res["bare"] = {
                "runs": bare_rows, "summary": bs, "cmdline": bare_cmd, "rootfs_copy_ms": rootfs_copy_ms,
                "ratio_median": bs["banger_ready"]["median"] / bs["to_marker"]["median"],
                "ratio_best": bs["banger_ready"]["min"] / bs["to_marker"]["min"],
                "ratio_kernel_init_median": (bs["banger_to_kernel_init"]["median"]
                                             / bs["to_kernel_init"]["median"])
                if bs["to_kernel_init"] else None,
            }

        # Part 2: clone cost against image size.
        if args.clone_runs > 0:
            note("building the 1 GiB and 8 GiB images (%d MB of data)..." % args.data_mb)
            add_data(tree, args.data_mb)
            images = []
            for label, size in (("1GiB", 1 << 30), ("8GiB", 8 << 30)):
                path = os.path.join(work, "big-%s.ext4" % label)
                mkfs(tree, path, size)
                b.run("image", "register", "--name", "big" + label.lower(), "--rootfs", path,
                      "--kernel-ref", "cloud")
                images.append({"label": label, "path": path, "name": "big" + label.lower(),
                               "size": os.path.getsize(path), "allocated": allocated(path),
                               "boot_clone_ms": [], "disk_size": [], "cp_sparse_ms": [],
                               "cp_sparse_fsync_ms": [], "cp_reflink_auto_ms": []})
            copy = os.path.join(work, "state", "cp-test.ext4")
            for i in range(args.clone_runs):
                for img in (images if i % 2 == 0 else images[::-1]):  # alternate the order
                    name = "clone-%s-%d" % (img["label"].lower(), i + 1)
                    note("clone run %d/%d: %s" % (i + 1, args.clone_runs, img["label"]))
                    _, vm = create_once(b, name, img["name"], args, created)
                    img["boot_clone_ms"].append(float(vm["debug"]["boot_clone_ms"]))
                    img["disk_size"].append(vm.get("disk_size"))
                    delete(b, name, created)
                    for key, argv in (("cp_sparse_ms", ["cp", "--sparse=always"]),
                                      ("cp_reflink_auto_ms", ["cp", "--reflink=auto"])):
                        img[key].append(timed(argv + [img["path"], copy]))
                        os.unlink(copy)
                    os.sync()
                    t0 = time.monotonic()
                    sh(["cp", "--sparse=always", img["path"], copy])
                    sh(["sync", copy])
                    img["cp_sparse_fsync_ms"].append((time.monotonic() - t0) * 1000.0)
                    os.unlink(copy)
            for img in images:
                for k in ("boot_clone_ms", "cp_sparse_ms", "cp_sparse_fsync_ms", "cp_reflink_auto_ms"):
                    img[k + "_runs"] = img[k]
                    img[k] = stats(img[k])
                del img["path"]
            res["clone"] = {"runs": args.clone_runs, "data_mb": args.data_mb, "images": images}

        s = res["create"]["summary"]["wall"]
        if s["max"] > 1.5 * s["min"]:
            res["notes"].append("create-to-ready varies a lot (%.0f-%.0f ms): a busy host under TCG"
                                % (s["min"], s["max"]))
    except BaseException as e:  # noqa: BLE001 - report, clean up, exit non-zero
        failed = True
        if isinstance(e, KeyboardInterrupt):
            res["error"] = "interrupted"
        elif isinstance(e, SystemExit):
            res["error"] = "terminated (exit %s)" % e.code
        else:
            res["error"] = str(e)
        print("bench/boot: FAILED: %s" % res["error"], file=sys.stderr, flush=True)
    finally:
        for name in sorted(created):
            b.run("vm", "delete", "--force", name, check=False)
        subprocess.run(["chmod", "-R", "u+w", work], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
        if os.environ.get("BANGER_BENCH_REMOVE"):
            shutil.rmtree(os.environ["BANGER_BENCH_REMOVE"], ignore_errors=True)
    if args.json:
        json.dump(res, sys.stdout, indent=2, default=str)
        print()
    elif "environment" in res and "create" in res:
        print_report(res)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
