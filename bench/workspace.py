#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/workspace: how long putting a repository into a VM takes.

Runs the in-process engine (banger --local) as root with a private state and
cache dir, QEMU under TCG, in its own network and pid namespace (like
bench/benchlib.py, whose helpers it uses). A generated repository (--files
files, --mb MB in all, --commits commits of history, plus an uncommitted
edit and an untracked file) is measured, in the same run:

  1. `banger vm workspace prepare VM REPO` (metadata mode: a shallow .git,
     the working files with their uncommitted changes) against
     `git archive HEAD | ssh root@VM tar -x -C DIR` (the committed tree
     alone, over the bridge to the image's sshd: Debian's, as in
     tests/vm_sshd.py) and against `git archive HEAD | banger vm exec VM --
     tar -x -C DIR` (the same, through banger's agent channel).
     The guest has GNU tar, as Debian images do (the busybox image's own
     `tar` applet is bypassed by calling /usr/bin/tar).
  2. `banger vm run REPO` from start to workspace present against
     `banger vm create` alone.

Each measurement runs --runs times; medians are printed.

Run by hand as root: python3 bench/workspace.py [--runs 3] [--json]
Needs a build in ./build, qemu-system-x86_64, busybox, git, e2fsprogs,
openssh-server and openssh-client.
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
import benchlib  # noqa: E402
import session  # noqa: E402 - its ssh anchor
import vm_sshd  # noqa: E402 - the test image's sshd

note = benchlib.note


def parse_args():
    ap = argparse.ArgumentParser(
        description="vm workspace prepare against git archive | vm exec tar -x, and vm run "
        "against vm create, in the same run. Runs as root inside a private network+pid "
        "namespace it creates itself. Never run by the test suite.")
    ap.add_argument("--files", type=int, default=10000, help="files in the repository (default 10000)")
    ap.add_argument("--mb", type=int, default=200, help="MB of file content (default 200)")
    ap.add_argument("--commits", type=int, default=3, help="commits of history (default 3)")
    ap.add_argument("--content", choices=("random", "text"), default="random",
                    help="file content: random bytes (incompressible: the worst case for the "
                    ".git banger sends) or source-like text (compresses about 3x, as code "
                    "does); default random")
    ap.add_argument("--runs", type=int, default=3, help="runs of each measurement (default 3)")
    ap.add_argument("--only", choices=("prepare", "run"),
                    help="measure only prepare against its anchors, or only vm run against vm "
                    "create (default: both)")
    ap.add_argument("--kernel-deb", default=os.path.join(benchlib.ROOT, ".test-cache", "cloud-kernel.deb"),
                    help="Debian linux-image .deb (default .test-cache/cloud-kernel.deb)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    return ap.parse_args()


WORDS = ("static const char int void return if else for while struct char unsigned size_t "
         "gboolean NULL TRUE FALSE error self data len buf path name value count index "
         "result status flags options g_free g_strdup g_autoptr GError GList guint64 "
         "= == != < > + - * / ( ) { } ; , -> . & | ! 0 1 2 16 64 256").split()


def text_content(rng, size):
    """About @size bytes of source-like lines (indentation, words, symbols)."""
    lines, n = [], 0
    while n < size:
        line = "  " * rng.randrange(4) + " ".join(rng.choice(WORDS)
                                                for _ in range(rng.randrange(3, 12))) + "\n"
        lines.append(line)
        n += len(line)
    return "".join(lines).encode()[:size]


def make_repo(work, args):
    repo = os.path.join(work, "repo")
    os.makedirs(repo)
    env = dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="B", GIT_AUTHOR_EMAIL="b@example.com",
               GIT_COMMITTER_NAME="B", GIT_COMMITTER_EMAIL="b@example.com")

    def git(*a):
        subprocess.run(["git"] + list(a), cwd=repo, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    git("init", "-q", "-b", "main")
    per_file = max(1, (args.mb << 20) // args.files)
    rng = random.Random(1)
    for c in range(args.commits):
        # Each commit rewrites a share of the files, so history has weight.
        for i in range(args.files):
            if c > 0 and i % args.commits != c:
                continue
            d = os.path.join(repo, "src", "d%03d" % (i // 100))
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "f%05d.bin" % i), "wb") as f:
                f.write(os.urandom(per_file) if args.content == "random"
                        else text_content(rng, per_file))
        git("add", "-A")
        git("commit", "-q", "-m", "commit %d" % c)
    with open(os.path.join(repo, "src", "d000", "f00000.bin"), "ab") as f:
        f.write(b"uncommitted\n")
    with open(os.path.join(repo, "untracked.txt"), "w") as f:
        f.write("new\n")
    return repo


def add_sshd_and_tar(tree):
    """Debian's sshd and GNU tar in the guest image, with their libraries."""
    vm_sshd.add_sshd(tree)
    vm_sshd.copy_with_libs(tree, "/usr/bin/tar")


def archive_into(repo, via, dest):
    """git archive HEAD | VIA sh -c 'mkdir DEST && /usr/bin/tar -x -C DEST'."""
    arch = subprocess.Popen(["git", "archive", "HEAD"], cwd=repo, stdout=subprocess.PIPE)
    script = "mkdir -p %s && /usr/bin/tar -x -C %s" % (dest, dest)
    p = subprocess.run(via + ["sh", "-c", "'%s'" % script] if via[0] == "ssh" else
                       via + ["sh", "-c", script],
                       stdin=arch.stdout, capture_output=True, timeout=600)
    arch.stdout.close()
    if arch.wait() != 0 or p.returncode != 0:
        raise RuntimeError("git archive | %s tar failed: %s" % (via[0], p.stderr))


def timed(fn):
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def median(xs):
    return statistics.median(xs) if xs else None


def main():
    args = parse_args()
    benchlib.QUIET = args.json
    if vm_sshd.missing():
        sys.exit("bench/workspace.py: " + vm_sshd.missing())
    benchlib.start_bench("workspace.py", args.kernel_deb)
    work = tempfile.mkdtemp(prefix="banger-bench-workspace-")
    try:
        measure(args, work)
    finally:
        # The repository, the image and the VMs' disks: hundreds of MB.
        subprocess.run(["chmod", "-R", "u+w", work], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


def measure(args, work):
    note("importing the kernel, building the image and a %d-file, %d MB repository..."
         % (args.files, args.mb))
    key = os.path.join(work, "id_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    b, cfg = benchlib.busybox_engine(work, "bgrws0", 80, args.kernel_deb,
                                 'sync_auth_files = false\nssh_key_path = "%s"\n' % key,
                                 add=add_sshd_and_tar)
    repo = make_repo(work, args)
    res = {"files": args.files, "mb": args.mb, "content": args.content, "commits": args.commits,
           "runs": args.runs, "prepare_s": [], "archive_ssh_s": [], "archive_exec_s": [], "create_s": [],
           "run_s": []}

    if args.only != "run":
        measure_prepare(args, b, cfg, key, repo, res)
    if args.only != "prepare":
        measure_run(args, b, repo, res)
    benchlib.reap_orphans()
    report(args, res)


def measure_prepare(args, b, cfg, key, repo, res):
    vm = b.json("vm", "create", "--name", "ws", "--image", "bb", "--memory", "1G")
    ssh_base = session.ssh_command(key, vm["ip"])
    try:
        for i in range(args.runs):
            note("run %d/%d: workspace prepare, then git archive | ssh / vm exec tar -x..."
                 % (i + 1, args.runs))
            # Each side writes a fresh directory: the previous run's copy
            # goes untimed, as the anchors' do (a prepare over an existing
            # workspace would also pay for removing the old one).
            b.run("vm", "exec", "ws", "--", "rm", "-rf", "/root/repo")
            res["prepare_s"].append(timed(lambda: b.run(
                "vm", "workspace", "prepare", "ws", repo, "--guest-path", "/root/repo")))
            for key_, via in (("archive_ssh_s", ssh_base),
                              ("archive_exec_s", [benchlib.BANGER, "--local", "-c", cfg, "vm", "exec",
                                                  "ws", "--"])):
                dest = "/root/archive%d" % i
                res[key_].append(timed(lambda: archive_into(repo, via, dest)))
                b.run("vm", "exec", "ws", "--", "rm", "-rf", dest)
    finally:
        b.run("vm", "delete", "--force", "ws", check=False)


def measure_run(args, b, repo, res):
    for i in range(args.runs):
        note("run %d/%d: vm create, then vm run..." % (i + 1, args.runs))
        res["create_s"].append(timed(lambda: b.run("vm", "create", "--name", "c%d" % i,
                                                   "--image", "bb")))
        b.run("vm", "delete", "--force", "c%d" % i)
        res["run_s"].append(timed(lambda: b.run("vm", "run", repo, "--name", "r%d" % i,
                                                "--image", "bb")))
        b.run("vm", "delete", "--force", "r%d" % i)


def report(args, res):
    for k in ("prepare_s", "archive_ssh_s", "archive_exec_s", "create_s", "run_s"):
        res[k + "_median"] = median(res[k])
    if res["prepare_s"]:
        res["prepare_vs_ssh"] = res["archive_ssh_s_median"] / res["prepare_s_median"]
        res["prepare_vs_archive"] = res["archive_exec_s_median"] / res["prepare_s_median"]
    if res["run_s"]:
        res["run_minus_create_s"] = res["run_s_median"] - res["create_s_median"]
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print("repository: %d files, %d MB of %s content, %d commits, plus an uncommitted edit and an "
          "untracked file" % (args.files, args.mb, args.content, args.commits))
    if res["prepare_s"]:
        report_prepare(res)
    if res["run_s"]:
        report_run(res)


def report_prepare(res):
    print("  vm workspace prepare (metadata)         median %.2f s  (%s)" % (
        res["prepare_s_median"], ", ".join("%.2f" % x for x in res["prepare_s"])))
    print("  git archive HEAD | ssh VM tar -x        median %.2f s  (%s)" % (
        res["archive_ssh_s_median"], ", ".join("%.2f" % x for x in res["archive_ssh_s"])))
    print("  git archive HEAD | vm exec tar -x       median %.2f s  (%s)" % (
        res["archive_exec_s_median"], ", ".join("%.2f" % x for x in res["archive_exec_s"])))
    print("  ssh anchor / prepare: %.2fx (goal >= 2x: %s); vm exec anchor / prepare: %.2fx"
          % (res["prepare_vs_ssh"], "met" if res["prepare_vs_ssh"] >= 2 else "NOT met",
             res["prepare_vs_archive"]))
    print("  (prepare also carries .git, HEAD's blobs included, and the uncommitted work)")


def report_run(res):
    print("  vm create                               median %.2f s" % res["create_s_median"])
    print("  vm run (create + workspace + bootstrap) median %.2f s  (+%.2f s; goal <= +1 s: %s)" % (
        res["run_s_median"], res["run_minus_create_s"],
        "met" if res["run_minus_create_s"] <= 1 else "NOT met"))


if __name__ == "__main__":
    main()
