#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The packfile of a metadata workspace (banger writes it itself: whole
objects, no deltas, and its .idx) through the fake VMM, whose "guest" is
this host: the shallow .git that arrives must pass `git fsck --full` and
`git verify-pack`, and the guest's git must tell the same as the host's
(`status`, `diff`, `diff --cached`, `log -1`), commit on top, and export
that commit back, for

- a repository with binary files, a large file, symlinks (one dangling),
  exec bits, an empty file, identical files and identical directories
  (one object each), names with spaces, and a staged blob;
- a repository whose objects are all packed as deltas (`git gc
  --aggressive`), where nothing is a loose object;
- a commit with an empty tree;

and a host object whose content does not hash to its id is refused.

Both ways of sending are used: `vm run` (the pack streamed into the work
disk before the boot, objects stored) and `vm workspace prepare` (the pack
staged on the host, objects deflated where they compress, sent through
the agent). Needs root for the
private mount namespace with a tmpfs on /root (exit 77 otherwise)."""

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workspace_harness  # noqa: E402 - shared with test-workspace

log = workspace_harness.log
workspace_harness.enter_private_root()
h = workspace_harness.Harness("banger-wspack-test-",
                              GIT_AUTHOR_NAME="T", GIT_AUTHOR_EMAIL="t@example.com",
                              GIT_COMMITTER_NAME="T", GIT_COMMITTER_EMAIL="t@example.com")
AGENT = os.environ["BANGER_AGENT"]
work, env, failures = h.work, h.env, h.failures
run, jrun, git, case = h.run, h.jrun, h.git, h.case


def write(path, data, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)


def new_repo(path):
    os.makedirs(path)
    git("init", "-q", "-b", "main", cwd=path)
    return path


def the_pack(guest):
    """The one .pack banger sent, with its .idx."""
    pack_dir = os.path.join(guest, ".git", "objects", "pack")
    packs = sorted(n for n in os.listdir(pack_dir) if n.endswith(".pack"))
    assert len(packs) == 1, os.listdir(pack_dir)
    assert not [n for n in os.listdir(pack_dir) if n.startswith("tmp_")], os.listdir(pack_dir)
    assert not os.path.exists(os.path.join(guest, ".git", "banger-pack.recipe"))
    assert os.path.exists(os.path.join(pack_dir, packs[0][:-5] + ".idx")), os.listdir(pack_dir)
    return os.path.join(pack_dir, packs[0])


def check_guest_git(host, guest, objects=None):
    """What a user checks in the guest: the pack is sound, git tells the
    same as on the host, and a commit made there goes on top."""
    pack = the_pack(guest)
    fsck = subprocess.run(["git", "fsck", "--full", "--strict", "--no-dangling"], cwd=guest,
                          capture_output=True, env=env)
    assert fsck.returncode == 0, fsck.stderr.decode(errors="replace")
    vp = git("verify-pack", "-v", pack, cwd=guest)
    # Whole objects only: no line says it is a delta ("chain length = N").
    assert "chain length" not in vp, vp[-2000:]
    sent = [l.split()[0] for l in vp.splitlines() if len(l.split()) >= 5 and len(l.split()[0]) == 40]
    assert len(sent) == len(set(sent)), "an object is in the pack twice"
    if objects is not None:
        assert set(sent) == objects, (sorted(set(sent) - objects), sorted(objects - set(sent)))
    for args in (["status", "--porcelain"], ["diff"], ["diff", "--cached"],
                 ["log", "-1", "--format=%H %T %s"]):
        assert git(*args, cwd=guest) == git(*args, cwd=host), args
    git("-c", "user.email=g@example.com", "-c", "user.name=G", "commit", "-q", "--allow-empty",
        "-am", "guest work", cwd=guest)
    assert git("rev-list", "--count", "HEAD", cwd=guest).strip() == "2"


def reachable(repo, extra=()):
    """The ids a metadata workspace of @repo must carry: HEAD's commit, its
    trees and blobs, and @extra."""
    ids = {git("rev-parse", "HEAD", cwd=repo).strip()}
    for line in git("ls-tree", "-r", "-t", "HEAD", cwd=repo).splitlines():
        meta = line.split("\t")[0].split()
        if meta[1] in ("blob", "tree"):
            ids.add(meta[2])
    ids.add(git("rev-parse", "HEAD^{tree}", cwd=repo).strip())
    return ids | set(extra)


def main():
    h.register_fake_image(AGENT)

    @case
    def every_kind_of_object_by_vm_run():
        repo = new_repo(os.path.join(work, "kinds"))
        write(os.path.join(repo, "bin", "random.bin"), os.urandom(256 << 10))
        write(os.path.join(repo, "bin", "large.bin"), os.urandom(3 << 20) + b"\0" * (2 << 20))
        write(os.path.join(repo, "bin", "zeros.bin"), b"\0" * 70000)
        write(os.path.join(repo, "text.txt"), "line\n" * 5000)
        write(os.path.join(repo, "empty"), b"")
        write(os.path.join(repo, "run.sh"), "#!/bin/sh\necho hi\n", 0o755)
        for d in ("same one", "same two"):  # identical trees and blobs
            write(os.path.join(repo, d, "a.txt"), "same\n")
            write(os.path.join(repo, d, "deep", "b.txt"), "same\n")
        os.symlink("text.txt", os.path.join(repo, "link"))
        os.symlink("nowhere/at all", os.path.join(repo, "dangling"))
        git("add", "-A", cwd=repo)
        git("commit", "-q", "-m", "first", cwd=repo)
        write(os.path.join(repo, "text.txt"), "line\n" * 4999 + "changed\n")
        write(os.path.join(repo, "staged.txt"), "staged only\n")
        git("add", "staged.txt", cwd=repo)
        staged = git("rev-parse", ":staged.txt", cwd=repo).strip()
        run("vm", "run", "--name", "k1", "--image", "img", repo)
        assert jrun("vm", "workspace", "show", "k1")["written_by"] == "work_disk"
        g = "/root/repo"
        check_guest_git(repo, g, reachable(repo, [staged]))
        assert os.stat(os.path.join(g, "run.sh")).st_mode & 0o111 == 0o111
        assert os.readlink(os.path.join(g, "dangling")) == "nowhere/at all"
        # The guest's commit comes back to the host.
        out = run("vm", "workspace", "export", "k1", "--branch", "from-k1").stdout.decode()
        assert "from-k1" in out, out
        guest_head = git("rev-parse", "HEAD", cwd=g).strip()
        git("merge-base", "--is-ancestor", guest_head, "from-k1", cwd=repo)
        subprocess.run(["git", "fsck", "--no-dangling"], cwd=repo, check=True, env=env,
                       capture_output=True)
        run("vm", "delete", "--force", "k1")

    @case
    def deltified_packs_both_ways():
        repo = new_repo(os.path.join(work, "deltas"))
        base = "".join("line %d of a file that changes a little each time\n" % i
                       for i in range(3000))
        for c in range(6):
            for n in range(4):
                write(os.path.join(repo, "src", "f%d.txt" % n), base + "commit %d\n" % c * (n + 1))
            write(os.path.join(repo, "bin.dat"), os.urandom(1024) + bytes([c]) * 4096)
            git("add", "-A", cwd=repo)
            git("commit", "-q", "-m", "commit %d" % c, cwd=repo)
        git("gc", "-q", "--aggressive", "--prune=now", cwd=repo)
        loose = git("count-objects", "-v", cwd=repo)
        assert "count: 0\n" in loose, loose
        packs = [n for n in os.listdir(os.path.join(repo, ".git", "objects", "pack"))
                 if n.endswith(".pack")]
        vp = git("verify-pack", "-v", os.path.join(repo, ".git", "objects", "pack", packs[0]),
                 cwd=repo)
        assert "chain length" in vp, "the host repository has no deltas to start from"
        write(os.path.join(repo, "src", "f0.txt"), base + "uncommitted\n")
        # vm run streams the pack into the work disk, objects stored ...
        shutil.rmtree("/root/repo", ignore_errors=True)
        run("vm", "run", "--name", "d0", "--image", "img", repo)
        assert jrun("vm", "workspace", "show", "d0")["written_by"] == "work_disk"
        check_guest_git(repo, "/root/repo", reachable(repo))
        run("vm", "delete", "--force", "d0")
        # ... prepare stages it first, objects deflated where they compress.
        run("vm", "create", "--name", "d1", "--image", "img")
        ws = jrun("vm", "workspace", "prepare", "d1", repo, "--guest-path", "/root/deltas")
        assert ws["written_by"] == "agent", ws
        check_guest_git(repo, "/root/deltas", reachable(repo))

    @case
    def prepare_makes_blobs_from_the_files_it_sent():
        # The agent makes the blobs of unchanged files whose content does
        # not compress from the files themselves (a pack recipe): the
        # workspace's bytes are then about the files', not twice them.
        repo = new_repo(os.path.join(work, "recipe"))
        random_bytes = 0
        for name, size in (("one.bin", 5000), ("blocks.bin", 200000), ("big.bin", 1 << 20),
                           ("dir/nested.bin", 70000), ("changed.bin", 90000),
                           ("deleted.bin", 80000), ("same/a.bin", 0)):
            data = os.urandom(size) if size else None
            if name == "same/a.bin":
                data = open(os.path.join(repo, "one.bin"), "rb").read()
            write(os.path.join(repo, name), data, 0o755 if name == "one.bin" else None)
            random_bytes += len(data)
        write(os.path.join(repo, "tail.bin"), os.urandom(8192) + b"\0" * 500000)
        write(os.path.join(repo, "text.txt"), "line\n" * 20000)
        git("add", "-A", cwd=repo)
        git("commit", "-q", "-m", "blobs", cwd=repo)
        # Changed in place, same size: its blob is not the file's.
        with open(os.path.join(repo, "changed.bin"), "r+b") as f:
            f.seek(1000)
            f.write(b"X" * 16)
        os.unlink(os.path.join(repo, "deleted.bin"))
        run("vm", "create", "--name", "r1", "--image", "img")
        ws = jrun("vm", "workspace", "prepare", "r1", repo, "--guest-path", "/root/recipe")
        assert git("status", "--porcelain", cwd=repo) == " M changed.bin\n D deleted.bin\n"
        check_guest_git(repo, "/root/recipe", reachable(repo))
        # Sent once: the files (random ones and the compressible rest),
        # the deleted and the changed file's blobs, a little .git.
        assert ws["bytes"] < random_bytes + 1300000, (ws["bytes"], random_bytes)
        # An agent that did not say it can (a VM booted by an older
        # banger) gets the whole pack.
        record = os.path.join(work, "state", "vm", "r1.json")
        with open(record) as f:
            doc = json.load(f)
        assert "assemble-pack" in doc["guest_agent_tools"], doc
        del doc["guest_agent_tools"]
        with open(record, "w") as f:
            json.dump(doc, f)
        ws = jrun("vm", "workspace", "prepare", "r1", repo, "--guest-path", "/root/recipe2")
        check_guest_git(repo, "/root/recipe2", reachable(repo))
        assert ws["bytes"] > 2 * random_bytes - 100000, (ws["bytes"], random_bytes)
        run("vm", "delete", "--force", "r1")

    @case
    def a_bad_recipe_is_refused():
        # `banger-vsock-agent --assemble-pack` reads what the host sent:
        # anything unexpected fails it, naming what, and leaves no pack.
        ws = os.path.join(work, "badrecipe")
        gitdir = os.path.join(ws, ".git")
        os.makedirs(os.path.join(gitdir, "objects", "pack"))
        write(os.path.join(ws, "f.bin"), b"x" * 10)
        write(os.path.join(work, "outside.bin"), b"y" * 10)

        def raw(data):
            return b"R" + struct.pack("<I", len(data)) + data

        def file(path, size):
            p = path.encode()
            return b"F" + struct.pack("<H", len(p)) + p + struct.pack("<QI", size, 1)

        head = raw(b"PACK\0\0\0\2\0\0\0\1")
        good = b"BGRPACK1" + head + file("f.bin", 10) + raw(b"\0" * 20) + b"E"
        for recipe, needle in ((b"NOTARECIPE", "not a pack recipe"),
                               (b"BGRPACK1" + head, "without its end record"),
                               (b"BGRPACK1" + b"Z", "unknown record type 0x5a"),
                               (b"BGRPACK1R\xff\xff\xff\x7f", "a record of"),
                               (b"BGRPACK1" + raw(b"PACK")[:7], "ends inside"),
                               (b"BGRPACK1" + head + file("../outside.bin", 10) + b"E", "not a path inside"),
                               (b"BGRPACK1" + head + file("/etc/passwd", 10) + b"E", "not a path inside"),
                               (b"BGRPACK1" + head + file("f.bin", 11) + b"E", "not the file of 11 bytes"),
                               (b"BGRPACK1" + head + file("nothere", 1) + b"E", "cannot read nothere"),
                               (good + b"more", "after the recipe's end"),
                               (b"BGRPACK1" + raw(b"NOTAPACK" + b"\0" * 30) + b"E", "makes no pack")):
            with open(os.path.join(gitdir, "banger-pack.recipe"), "wb") as f:
                f.write(recipe)
            p = subprocess.run([AGENT, "--assemble-pack", gitdir], capture_output=True)
            err = p.stderr.decode(errors="replace")
            assert p.returncode == 1 and needle in err, (recipe, p.returncode, err)
            assert os.listdir(os.path.join(gitdir, "objects", "pack")) == [], recipe
            assert os.path.exists(os.path.join(gitdir, "banger-pack.recipe"))
        # The good one makes a pack named by its last 20 bytes, and goes.
        with open(os.path.join(gitdir, "banger-pack.recipe"), "wb") as f:
            f.write(good)
        p = subprocess.run([AGENT, "--assemble-pack", gitdir], capture_output=True)
        assert p.returncode == 0, p.stderr
        assert os.listdir(os.path.join(gitdir, "objects", "pack")) == ["pack-" + "00" * 20 + ".pack"]
        with open(os.path.join(gitdir, "objects", "pack", "pack-" + "00" * 20 + ".pack"), "rb") as f:
            made = f.read()
        assert made == (b"PACK\0\0\0\2\0\0\0\1" + b"\x78\x01\x01\x0a\x00\xf5\xff" + b"x" * 10
                        + b"\0\0\0\x01" + b"\0" * 20), made
        assert not os.path.exists(os.path.join(gitdir, "banger-pack.recipe"))

    @case
    def an_empty_tree():
        repo = new_repo(os.path.join(work, "emptytree"))
        git("commit", "-q", "--allow-empty", "-m", "nothing", cwd=repo)
        write(os.path.join(repo, "untracked.txt"), "new\n")
        ws = jrun("vm", "workspace", "prepare", "d1", repo, "--guest-path", "/root/emptytree")
        assert ws["commit"] == git("rev-parse", "HEAD", cwd=repo).strip(), ws
        check_guest_git(repo, "/root/emptytree", reachable(repo))

    @case
    def a_corrupt_object_is_refused():
        repo = new_repo(os.path.join(work, "corrupt"))
        write(os.path.join(repo, "a.txt"), "the real content\n")
        git("add", "-A", cwd=repo)
        git("commit", "-q", "-m", "one", cwd=repo)
        oid = git("rev-parse", "HEAD:a.txt", cwd=repo).strip()
        loose = os.path.join(repo, ".git", "objects", oid[:2], oid[2:])
        os.chmod(loose, 0o644)
        with open(loose, "wb") as f:
            f.write(zlib.compress(b"blob 16\0not the content\n"))
        p = run("vm", "workspace", "prepare", "d1", repo, "--guest-path", "/root/corrupt", check=False)
        err = p.stderr.decode(errors="replace")
        assert p.returncode != 0 and oid in err and "corrupt" in err, err
        assert not os.path.exists("/root/corrupt")
        # Streamed into a new VM's work disk, it fails the vm run, which
        # leaves no VM behind.
        p = run("vm", "run", "--name", "c1", "--image", "img", repo, check=False)
        err = p.stderr.decode(errors="replace")
        assert p.returncode != 0 and oid in err and "corrupt" in err, err
        assert run("vm", "show", "c1", check=False).returncode != 0
        # A loose object whose header says more than the stream holds (a
        # little, or more than any memory), and one that is not zlib at
        # all: refused too, naming the object.
        for junk in (zlib.compress(b"blob 99\0the real content\n"),
                     zlib.compress(b"blob 1099511627776\0the real content\n"),
                     b"not zlib at all"):
            with open(loose, "wb") as f:
                f.write(junk)
            p = run("vm", "workspace", "prepare", "d1", repo, "--guest-path", "/root/corrupt",
                    check=False)
            err = p.stderr.decode(errors="replace")
            assert p.returncode != 0 and oid in err, err
            assert not os.path.exists("/root/corrupt")
        run("vm", "delete", "--force", "d1")


h.finish(main, "workspace pack")
