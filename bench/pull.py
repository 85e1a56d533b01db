#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/pull: `banger image pull` against the standard chain.

Builds a large image (default ~300 MB in ~20k files, several layers, taken
from this host's /usr), pushes it to a docker-registry on 127.0.0.1, then
times, with cold caches each run:
  banger:   banger --local image pull  (download + replay into ext4)
  standard: skopeo copy + umoci unpack --rootless + mkfs.ext4 -d
and prints both times, the ratio and each one's peak memory (max RSS of the
processes involved). With igzip (Debian package isal) it also times `igzip -dc` of the same
layers, and prints the time split banger -v logs (resolve, mkfs, fetch and
replay, close; inflate, hash, waiting for the download and growing the
image within the replay).
Run by hand: python3 bench/pull.py [--runs N] [--banger PATH] [--rootfs DIR-OR-EXT4]
Needs a build in ./build (or --banger: the banger CLI of another build, e.g.
an optimized one) and: docker-registry skopeo umoci e2fsprogs.
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BANGER = os.path.join(ROOT, "build", "cli", "banger")


def run_measured(argv, **kw):
    """Runs argv; returns (seconds, peak RSS in MiB of that process).
    What earlier steps wrote is synced first, untimed: each step would
    otherwise share the disk and CPU with the writeback of the one before
    (the chain's 1 GB of unpacked files and image, banger's image)."""
    os.sync()
    start = time.monotonic()
    kw.setdefault("stdout", subprocess.DEVNULL)
    proc = subprocess.Popen(argv, **kw)
    # wait4 gives this child's own resource usage (RUSAGE_CHILDREN would be
    # a maximum over every child so far).
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    return elapsed, usage.ru_maxrss / 1024.0


def time_split(log):
    """The time split banger -v logs: its pull line, the per-layer replay,
    inflate, hash and download-wait times summed (inflate and hash run in two
    read-ahead threads, beside the tar parsing and ext4 writes; the layers
    download meanwhile), and the times the image grew."""
    pull, replay, inflate, hashing, waiting, grew, grow_s = None, 0.0, 0.0, 0.0, 0.0, 0, 0.0
    with open(log) as f:
        for line in f:
            m = re.search(r"pull \S+: (resolve .*)$", line)
            if m:
                pull = m.group(1).strip()
            m = re.search(r"replayed in ([\d.]+) s; the read-ahead threads spent ([\d.]+) s "
                          r"reading and inflating, ([\d.]+) s hashing, ([\d.]+) s waiting", line)
            if m:
                replay += float(m.group(1))
                inflate += float(m.group(2))
                hashing += float(m.group(3))
                waiting += float(m.group(4))
            m = re.search(r"grew \S+ to \d+ bytes in ([\d.]+) s", line)
            if m:
                grew += 1
                grow_s += float(m.group(1))
    if pull is None:
        return None
    return ("%s (layers replayed in %.2f s, while other threads inflated for %.2f s, "
            "hashed for %.2f s and waited %.2f s for downloads; the image grew %d times, "
            "%.2f s)" % (pull, replay, inflate, hashing, waiting, grew, grow_s))


def igzip_time(blob_dir):
    """Seconds igzip -dc takes over the gzip blobs in blob_dir (best of 3),
    or None without igzip (Debian package isal)."""
    if shutil.which("igzip") is None or not os.path.isdir(blob_dir):
        return None
    blobs = []
    for name in sorted(os.listdir(blob_dir)):
        path = os.path.join(blob_dir, name)
        with open(path, "rb") as f:
            if f.read(2) == b"\x1f\x8b":
                blobs.append(path)
    best = None
    for _ in range(3):
        start = time.monotonic()
        for path in blobs:
            subprocess.run(["igzip", "-dc", path], stdout=subprocess.DEVNULL, check=True)
        elapsed = time.monotonic() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


def make_layers(work, target_bytes, target_files):
    """Splits files from /usr into 4 layer tarballs."""
    picked, total = [], 0
    for top in ("/usr/lib", "/usr/share", "/usr/bin", "/usr/include"):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                try:
                    size = os.path.getsize(path)
                except OSError:
                    continue
                if size > 20 * 1024 * 1024:
                    continue
                picked.append(path)
                total += size
                if total >= target_bytes and len(picked) >= target_files:
                    break
            if total >= target_bytes and len(picked) >= target_files:
                break
        if total >= target_bytes and len(picked) >= target_files:
            break
    layers = []
    per = (len(picked) + 3) // 4
    for i in range(4):
        path = os.path.join(work, "layer%d.tar" % i)
        with tarfile.open(path, "w") as t:
            for f in picked[i * per:(i + 1) * per]:
                try:
                    t.add(f, arcname=f.lstrip("/"), recursive=False)
                except OSError:
                    pass
        layers.append(path)
    return layers, total, len(picked)


def rootfs_layer(work, rootfs):
    """One layer holding a whole root filesystem: a directory, or an ext4
    image copied out with debugfs (e.g. the Debian 12 one
    scripts/run-main.sh makes with debootstrap, build/demo-cache/)."""
    tree = rootfs
    if os.path.isfile(rootfs):
        tree = os.path.join(work, "rootfs")
        os.makedirs(tree)
        subprocess.run(["debugfs", "-R", "rdump / %s" % tree, rootfs], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    total, nfiles = 0, 0
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in filenames:
            path = os.path.join(dirpath, name)
            nfiles += 1
            if not os.path.islink(path):
                total += os.path.getsize(path)
    path = os.path.join(work, "rootfs.tar")
    with tarfile.open(path, "w") as t:
        t.add(tree, arcname=".")
    return [path], total, nfiles


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mb", type=int, default=300)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--banger", default=BANGER, help="the banger CLI to time")
    ap.add_argument("--rootfs", help="pull one layer of this root filesystem (a directory or "
                    "an ext4 image) instead of 4 layers of /usr")
    args = ap.parse_args()
    banger = args.banger
    work = tempfile.mkdtemp(prefix="banger-bench-")
    registry = None
    try:
        if args.rootfs:
            layers, total, nfiles = rootfs_layer(work, args.rootfs)
        else:
            layers, total, nfiles = make_layers(work, args.mb << 20, args.files)
        print("image: %d files, %.0f MB in %d layers" % (nfiles, total / 1e6, len(layers)))
        oci = os.path.join(work, "oci")
        subprocess.run(["umoci", "init", "--layout", oci], check=True)
        subprocess.run(["umoci", "new", "--image", oci + ":bench"], check=True)
        subprocess.run(["umoci", "config", "--image", oci + ":bench", "--os", "linux",
                        "--architecture", "amd64"], check=True)
        for layer in layers:
            subprocess.run(["umoci", "raw", "add-layer", "--image", oci + ":bench", layer], check=True)

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        host = "127.0.0.1:%d" % s.getsockname()[1]
        s.close()
        with open(os.path.join(work, "registry.yml"), "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                    "    rootdirectory: %s/registry\nhttp:\n  addr: %s\n" % (work, host))
        registry = subprocess.Popen(["docker-registry", "serve", os.path.join(work, "registry.yml")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen("http://%s/v2/" % host, timeout=2)
                break
            except Exception:
                if time.monotonic() > deadline:
                    sys.exit("registry did not start")
                time.sleep(0.05)
        subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
                        "oci:%s:bench" % oci, "docker://%s/bench/big:latest" % host], check=True)

        # banger needs a managed kernel to attach: a stand-in vmlinux header.
        state = os.path.join(work, "state")
        cfg = os.path.join(work, "banger.toml")
        with open(cfg, "w") as f:
            f.write('state_dir = "%s"\ncache_dir = "%s/cache"\n' % (state, work))
        vmlinux = os.path.join(work, "vmlinux")
        with open(vmlinux, "wb") as f:
            f.write(b"\x7fELF\x02\x01\x01" + b"\0" * 9 + (2).to_bytes(2, "little")
                    + (62).to_bytes(2, "little") + b"\0" * 44)
        subprocess.run([banger, "--local", "-c", cfg, "kernel", "import", "k", "--vmlinux", vmlinux],
                       check=True, stdout=subprocess.DEVNULL)

        b_times, s_times, b_mem, s_mem = [], [], 0.0, 0.0
        for run in range(args.runs):
            shutil.rmtree(os.path.join(work, "cache"), ignore_errors=True)
            subprocess.run([banger, "--local", "-c", cfg, "image", "delete", "big"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # -v: banger logs where the time went (GLib writes debug lines to
            # stdout).
            log = os.path.join(work, "pull.log")
            with open(log, "w") as out:
                t, m = run_measured([banger, "-v", "--local", "-c", cfg, "image", "pull",
                                     "%s/bench/big:latest" % host, "--name", "big"], stdout=out)
            b_times.append(t)
            b_mem = max(b_mem, m)
            split = time_split(log)

            std = os.path.join(work, "std")
            shutil.rmtree(std, ignore_errors=True)
            os.makedirs(std)
            t1, m1 = run_measured(["skopeo", "--insecure-policy", "copy", "--quiet",
                                   "--src-tls-verify=false", "docker://%s/bench/big:latest" % host,
                                   "oci:%s/layout:big" % std])
            t2, m2 = run_measured(["umoci", "unpack", "--rootless", "--image", "%s/layout:big" % std,
                                   "%s/bundle" % std])
            size = int(total * 1.5) + (256 << 20)
            t3, m3 = run_measured(["mkfs.ext4", "-q", "-F", "-d", "%s/bundle/rootfs" % std,
                                   "%s/root.ext4" % std, str(size // 1024) + "k"])
            s_times.append(t1 + t2 + t3)
            s_mem = max(s_mem, m1, m2, m3)
            print("run %d: banger %.2f s, standard %.2f s (skopeo %.2f + umoci %.2f + mkfs %.2f)"
                  % (run + 1, b_times[-1], s_times[-1], t1, t2, t3))
            if split:
                print("  banger: " + split)
        b, s_ = min(b_times), min(s_times)
        print("best: banger %.2f s, standard chain %.2f s, ratio standard/banger = %.2fx" % (b, s_, s_ / b))
        igz = igzip_time(os.path.join(work, "cache", "oci", "blobs", "sha256"))
        if igz is not None:
            print("igzip -dc of the same layers: %.2f s; banger/igzip = %.2fx" % (igz, b / igz))
        print("peak RSS: banger %.0f MiB, standard chain %.0f MiB (largest single process)" % (b_mem, s_mem))
    finally:
        if registry is not None:
            registry.terminate()
            registry.wait()
        subprocess.run(["chmod", "-R", "u+w", work], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
