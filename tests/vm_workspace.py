# SPDX-License-Identifier: LGPL-2.1-or-later
"""The main flow's check for test-vm.py (kept apart to keep that file
short): a host checkout made with the git CLI, `banger vm run`, and a guest
whose git sees the same; /root on the work disk across stop/start."""

import os
import shutil
import subprocess
import time


def add_git(tree):
    """This host's git and the shared libraries it loads, for the workspace
    checks (git status and log in the guest; nothing when there is none),
    and a dotfile in the image's /root that a fresh work disk must carry."""
    with open(os.path.join(tree, "root", ".profile"), "w") as f:
        f.write("# from the image\n")
    git = shutil.which("git")
    if git is None:
        return
    libs = subprocess.run(["ldd", git], capture_output=True, text=True).stdout.split()
    for path in [git] + [w for w in libs if w.startswith("/")]:
        dest = os.path.join(tree, path.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy(path, dest)  # follows symlinks: the library itself


# vm run writes the workspace into the work disk while the VM boots, and
# the guest's agent waits for it. With test hooks, the daemon holds the
# write at this point until the test sees the guest waiting.
PAUSE_AT = "vm-run.workspace-written"
WAITING = b"waiting for the host to finish writing the work disk"


def pause_env(work):
    """The daemon's environment for the hold (nothing without hooks)."""
    if os.environ.get("BANGER_TEST_HOOKS") != "1":
        return {}
    return {"BANGER_TEST_PAUSE_AT": PAUSE_AT,
            "BANGER_TEST_PAUSE_FILE": os.path.join(work, "vm-run-paused")}


def vm_run_held(cmd, cwd, env, jrun):
    """Runs `banger vm run` (@cmd); with hooks, holds the daemon's disk
    write until the guest's console says its agent waits for the disk, and
    checks that the VM has not answered meanwhile."""
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pause = env.get("BANGER_TEST_PAUSE_FILE")
    if pause is not None:
        deadline = time.monotonic() + 120
        while not os.path.exists(pause):
            assert p.poll() is None, "vm run ended before writing its workspace: %r" % (p.communicate(),)
            assert time.monotonic() < deadline, "vm run never reached " + PAUSE_AT
            time.sleep(0.05)
        console = jrun("vm", "show", "ws1")["console_log"]
        while WAITING not in open(console, "rb").read():
            assert time.monotonic() < deadline, "the guest never waited for its work disk"
            time.sleep(0.1)
        assert jrun("vm", "show", "ws1")["state"] == "starting"
        os.unlink(pause)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err.decode(errors="replace")
    return out.decode()


def work_disk_and_vm_run(run, jrun, env, CLI, work, Skip):
    # The done-when check of the main flow: a host checkout with a
    # modified tracked file, a new untracked file, an ignored file, a
    # symlink and an executable script; `banger vm run` gives a guest
    # whose git sees the same.
    if shutil.which("git") is None:
        raise Skip("no git on this host to build the repository and the guest's git")
    repo = os.path.join(work, "repo")
    os.makedirs(repo)
    genv = dict(env, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1",
                GIT_AUTHOR_NAME="T", GIT_AUTHOR_EMAIL="t@example.com",
                GIT_COMMITTER_NAME="T", GIT_COMMITTER_EMAIL="t@example.com")

    def git(*a):
        return subprocess.run(["git"] + list(a), cwd=repo, env=genv, check=True,
                              capture_output=True).stdout.decode()
    git("init", "-q", "-b", "main")
    with open(os.path.join(repo, "README"), "w") as f:
        f.write("hello\n")
    with open(os.path.join(repo, ".gitignore"), "w") as f:
        f.write("*.log\n")
    with open(os.path.join(repo, "run.sh"), "w") as f:
        f.write("#!/bin/sh\necho ran\n")
    os.chmod(os.path.join(repo, "run.sh"), 0o755)
    os.symlink("README", os.path.join(repo, "link"))
    git("add", "-A")
    git("commit", "-q", "-m", "first")
    with open(os.path.join(repo, "README"), "a") as f:
        f.write("changed on the host\n")
    with open(os.path.join(repo, "notes.txt"), "w") as f:
        f.write("untracked\n")
    with open(os.path.join(repo, "debug.log"), "w") as f:
        f.write("ignored\n")
    out = vm_run_held([CLI, "vm", "run", "--name", "ws1", "--image", "bb"], repo, env, jrun)
    assert "banger vm ssh ws1" in out and "--dir /root/repo" in out, out
    assert "nothing to install" in out, out  # no mise.toml: one line says why
    # A new VM's workspace goes into its work disk (as it boots).
    assert jrun("vm", "workspace", "show", "ws1")["written_by"] == "work_disk"

    def guest(*a):
        return run("vm", "exec", "ws1", "--", *a).stdout.decode()
    assert guest("git", "-C", "/root/repo", "status", "--porcelain") == git("status", "--porcelain")
    assert guest("git", "-C", "/root/repo", "log", "-1", "--format=%H") == git("log", "-1", "--format=%H")
    assert run("vm", "exec", "ws1", "--", "test", "-e", "/root/repo/debug.log", check=False).returncode == 1
    assert guest("readlink", "/root/repo/link") == "README\n"
    assert guest("/root/repo/run.sh") == "ran\n"
    # /root is the work disk (the second drive), and it survives a restart.
    assert guest("cat", "/root/.profile") == "# from the image\n"  # seeded from the image
    mounts = guest("cat", "/proc/mounts")
    assert any(l.split()[:2] == ["/dev/vdb", "/root"] for l in mounts.splitlines()), mounts
    guest("sh", "-c", "echo kept > /root/persist && sync")
    assert jrun("vm", "stop", "ws1")["state"] == "stopped"
    assert jrun("vm", "start", "ws1")["state"] == "running"
    assert guest("cat", "/root/persist") == "kept\n"
    assert guest("git", "-C", "/root/repo", "status", "--porcelain") == git("status", "--porcelain")
    assert jrun("vm", "workspace", "show", "ws1")["changed"] is False
    # Prepared into the running VM, a blob whose content does not compress
    # is made in the guest from its file (a pack recipe): git finds every
    # object sound and sees what the host sees.
    with open(os.path.join(repo, "data.bin"), "wb") as f:
        f.write(os.urandom(150000))
    git("add", "data.bin")
    git("commit", "-q", "-m", "data")
    ws = jrun("vm", "workspace", "prepare", "ws1", repo, "--guest-path", "/root/again")
    assert ws["bytes"] < 2 * 150000, ws
    guest("git", "-C", "/root/again", "fsck", "--full", "--strict", "--no-dangling")
    assert guest("git", "-C", "/root/again", "status", "--porcelain") == git("status", "--porcelain")
    assert guest("git", "-C", "/root/again", "log", "-1", "--format=%H") == git("log", "-1", "--format=%H")
    run("vm", "delete", "--force", "ws1")
