# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the workspace tests (test-workspace.py, test-workspace-pack.py)
share: the fake VMM's "guest" is this host, so they re-execute themselves
in a private mount namespace with a tmpfs on /root; a private HOME, config
and git identity; `banger` runs (--local unless `mode` says otherwise);
cases that report "ok"/"not ok" and go on."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import host_guard  # the same directory: on sys.path as the test's own

SKIP = 77

def log(*a):
    print(*a, flush=True)

def enter_private_root(extra_tmpfs=()):
    """Skips (77) without root or git, then goes on in a private mount
    namespace with /usr and /etc read-only and a tmpfs on /root and on each
    of EXTRA_TMPFS."""
    if not __debug__:
        print("FAIL: needs its asserts: run it without -O", flush=True)
        sys.exit(1)
    if os.geteuid() != 0:
        log("SKIP: needs root (a private mount namespace with a tmpfs on /root)")
        sys.exit(SKIP)
    if shutil.which("git") is None:
        log("SKIP: no git to make the host repositories with")
        sys.exit(SKIP)
    host_guard.readonly_system()
    for where in ("/root",) + tuple(extra_tmpfs):
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", where], check=True)

class Harness:
    def __init__(self, prefix, **extra_env):
        self.cli = os.environ["BANGER_CLI"]
        self.work = tempfile.mkdtemp(prefix=prefix)
        self.failures = []
        self.mode = ["--local"]
        for d in ("home", "home/.config", "home/.cache", "home/.state"):
            os.makedirs(os.path.join(self.work, d), exist_ok=True)
        self.env = dict(os.environ, HOME=os.path.join(self.work, "home"),
                        XDG_CONFIG_HOME=os.path.join(self.work, "home/.config"),
                        XDG_CACHE_HOME=os.path.join(self.work, "home/.cache"),
                        XDG_STATE_HOME=os.path.join(self.work, "home/.state"),
                        BANGER_CONFIG=os.path.join(self.work, "banger.toml"),
                        GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1",
                        # The fake guest's /root starts as what its work disk
                        # holds, as a real guest mounts it there (vm run
                        # writes it before the boot).
                        BANGER_FAKE_WORK_ROOT="/root", **extra_env)
        self.env.pop("DBUS_SESSION_BUS_ADDRESS", None)

    def register_fake_image(self, agent):
        """Writes a config for the fake VMM (no web UI: bangerd would run in
        the machine's network namespace) and registers image "img": an
        empty ext4 rootfs, the agent as its kernel. Returns the rootfs."""
        tree = os.path.join(self.work, "tree")
        os.makedirs(os.path.join(tree, "root"))
        image = os.path.join(self.work, "rootfs.ext4")
        subprocess.run(["truncate", "-s", "32M", image], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-d", tree, image], check=True)
        with open(self.env["BANGER_CONFIG"], "w") as f:
            f.write('state_dir = "%s/state"\ncache_dir = "%s/cache"\nhypervisor = "fake"\n'
                    'web_listen_addr = ""\n' % (self.work, self.work))
        self.run("image", "register", "--name", "img", "--rootfs", image, "--kernel", agent)
        return image

    def run(self, *args, check=True, cwd=None, input=None):
        p = subprocess.run([self.cli] + self.mode + list(args), capture_output=True, env=self.env,
                           cwd=cwd, input=input, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError("banger %s failed (%d): %s" % (" ".join(args), p.returncode,
                                                               p.stderr.decode(errors="replace")))
        return p

    def jrun(self, *args, cwd=None):
        return json.loads(self.run(*args, "--json", cwd=cwd).stdout)

    def expect_error(self, args, needle, cwd=None):
        p = self.run(*args, check=False, cwd=cwd)
        err = p.stderr.decode(errors="replace")
        assert p.returncode > 0, "banger %s should have failed: %s" % (" ".join(args), err)
        assert needle in err, "banger %s: %r does not mention %r" % (" ".join(args), err, needle)

    def git(self, *args, cwd):
        p = subprocess.run(["git"] + list(args), cwd=cwd, capture_output=True, env=self.env)
        if p.returncode != 0:
            raise RuntimeError("git %s: %s" % (" ".join(args), p.stderr.decode(errors="replace")))
        return p.stdout.decode(errors="replace")

    def case(self, fn):
        t0 = time.monotonic()
        try:
            fn()
            log("ok - %s (%.1f s)" % (fn.__name__, time.monotonic() - t0))
        except Exception as e:  # noqa: BLE001 - report and go on
            where = traceback.extract_tb(e.__traceback__)[-1]
            log("not ok - %s: %s (%s:%d: %s)" % (fn.__name__, e, os.path.basename(where.filename),
                                                where.lineno, where.line))
            self.failures.append(fn.__name__)
        return fn

    def finish(self, main, what):
        """Runs MAIN, removes the work directory, exits 1 on any failure."""
        try:
            main()
        except Exception as e:  # noqa: BLE001
            log("not ok - setup: %s" % e)
            self.failures.append("setup")
        finally:
            shutil.rmtree(self.work, ignore_errors=True)
        if self.failures:
            log("FAILED: " + ", ".join(self.failures))
            sys.exit(1)
        log("all %s checks passed" % what)
