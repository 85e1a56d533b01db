#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Terminals and TCP into a VM, through the CLI and bangerd on a private
dbus-daemon, on the fake VMM (hypervisor = "fake": the guest agent runs on
this host in host mode, so "the guest's 127.0.0.1" is the host's):

- vm forward: a guest HTTP server answers on the forwarded host port; a
  taken host port is refused and changes nothing; the forward comes back
  after bangerd restarts; --remove drops it; vm ports shows it;
- vm proxy: bytes both ways with stdio, and a clear error for a port
  nothing listens on;
- vm exec -t, driven through a pty: the window size, a resize, Ctrl-C and
  the exit status reach the guest and come back;
- auth files: the host's logins land under the guest's /root, 0600, and
  nowhere in logs or the VM's record; sync_auth_files = false stops it;
- vm ssh: banger's key lands in the guest's authorized_keys and ssh runs
  with it through `vm proxy` (a stand-in `ssh` checks its arguments and
  talks through the ProxyCommand: this host has no sshd to log in to); no
  server in the guest is a clear error;
- vm acp: opencode's real binary (npm package opencode-linux-x64, cached in
  BANGER_TEST_CACHE) answers an ACP initialize through `banger vm acp`.
  Without npm that check is skipped and the test exits 77.

As root it runs in a private mount namespace with /usr and /etc read-only
(tests/host_guard.py): the fake guest's commands run on this host.

Needs BANGER_CLI and BANGERD (ctest sets them)."""
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
import unittest
import urllib.request

CLI = os.environ.get("BANGER_CLI")
SKIPPED = []
SECRET = "sk-banger-test-secret-0123456789"
BANGERD = os.environ.get("BANGERD")


def wait_for(what, cond, limit=30.0):
    deadline = time.monotonic() + limit
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("still not true after %.0fs: %s" % (limit, what))
        time.sleep(0.02)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Env:
    """A private session bus, bangerd on it with the fake VMM, and a VM."""

    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="bgr-gio-")
        w = self.work
        self.env = dict(os.environ)
        self.env.update(HOME=w + "/home", XDG_CONFIG_HOME=w + "/home/.config",
                        XDG_STATE_HOME=w + "/home/.state", XDG_CACHE_HOME=w + "/home/.cache",
                        XDG_DATA_HOME=w + "/home/.data", XDG_RUNTIME_DIR=w + "/run",
                        DBUS_SESSION_BUS_ADDRESS="unix:path=%s/bus" % w)
        self.env.pop("BANGER_CONFIG", None)
        os.makedirs(w + "/home")
        # The host user's coding-agent logins (two of the three).
        for rel in (".local/share/opencode/auth.json", ".claude/.credentials.json"):
            os.makedirs(os.path.dirname(w + "/home/" + rel), exist_ok=True)
            with open(w + "/home/" + rel, "w") as f:
                f.write('{"token": "%s-%s"}\n' % (SECRET, rel))
        os.makedirs(w + "/run", mode=0o700)
        self.env["PATH"] = self.env.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        with open(w + "/daemon.toml", "w") as f:
            f.write('hypervisor = "fake"\nstate_dir = "%s/state"\ncache_dir = "%s/cache"\n'
                    'log_level = "debug"\n' % (w, w))
        with open(w + "/bus.conf", "w") as f:
            f.write('<busconfig><type>session</type><listen>unix:path=%s/bus</listen>'
                    '<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/>'
                    '</policy></busconfig>' % w)
        self.bus = subprocess.Popen(["dbus-daemon", "--config-file=" + w + "/bus.conf", "--nofork"],
                                    stderr=subprocess.DEVNULL,
                                    env=self.env, stdout=subprocess.DEVNULL)
        wait_for("the bus listens", lambda: os.path.exists(w + "/bus"))
        self.daemon = None
        try:
            self.start()
        except BaseException:
            self.close()
            raise

    def start(self):
        w = self.work
        self.start_daemon()
        subprocess.run(["mkfs.ext4", "-q", "-F", w + "/rootfs.ext4", "16M"], check=True,
                       env=self.env, stdout=subprocess.DEVNULL)
        with open(w + "/vmlinux", "wb") as f:
            f.write(b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00" + bytes(44))
        self.cli("image", "register", "--name", "img", "--rootfs", w + "/rootfs.ext4",
                 "--kernel", w + "/vmlinux")
        self.cli("vm", "create", "--name", "gio", "--image", "img")

    def start_daemon(self):
        with open(self.work + "/bangerd.log", "a") as log:
            self.daemon = subprocess.Popen([BANGERD, "--session", "--config", self.work + "/daemon.toml"],
                                           env=self.env, stdout=log, stderr=log)
        try:
            wait_for("bangerd owns its name", lambda: subprocess.run(
                ["gdbus", "call", "--session", "--dest", "org.freedesktop.DBus", "--object-path",
                 "/org/freedesktop/DBus", "--method", "org.freedesktop.DBus.NameHasOwner",
                 "org.banger.Banger1"], env=self.env, capture_output=True, text=True).stdout.find("true") >= 0,
                60)
        except AssertionError as e:
            stacks = ""
            if self.daemon.poll() is None and shutil.which("gdb"):
                # A daemon that hangs says where.
                stacks = subprocess.run(["gdb", "-p", str(self.daemon.pid), "-batch", "-ex",
                                         "thread apply all bt 12"], capture_output=True, text=True,
                                        errors="replace").stdout[-6000:]
            with open(self.work + "/bangerd.log", errors="replace") as log:
                raise AssertionError("%s (bangerd %s; its log ends:\n%s\n%s)" % (
                    e, "exited %s" % self.daemon.poll() if self.daemon.poll() is not None
                    else "still runs", log.read()[-3000:], stacks)) from None

    def stop_daemon(self):
        self.daemon.terminate()
        self.daemon.wait(60)

    def run(self, *args, **kw):
        return subprocess.run([CLI] + list(args), env=self.env, capture_output=True, **kw)

    def cli(self, *args, **kw):
        r = self.run(*args, text=True, **kw)
        if r.returncode != 0:
            raise AssertionError("banger %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr))
        return r.stdout

    def close(self):
        try:
            self.run("vm", "kill", "gio", timeout=60)
        except Exception:
            pass
        if self.daemon is not None and self.daemon.poll() is None:
            self.stop_daemon()
        self.bus.terminate()
        self.bus.wait()
        # "VMs" a failed run left behind: their command lines name the work dir.
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        if self.work.encode() in f.read():
                            os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        if not os.environ.get("BANGER_TEST_KEEP"):
            shutil.rmtree(self.work, ignore_errors=True)


class GuestIo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.e = Env()
        try:
            cls.start_server()
        except BaseException:
            cls.e.close()
            raise

    @classmethod
    def start_server(cls):
        # The guest's HTTP server, run through the agent (exec), as long as the VM.
        cls.guest_port = free_port()
        os.makedirs(cls.e.work + "/www")
        with open(cls.e.work + "/www/hello.txt", "w") as f:
            f.write("hello from the guest\n")
        # In the background of the guest: it outlives the exec (and bangerd's
        # restart, which ends the calls in flight), until the VM stops.
        cls.e.cli("vm", "exec", "--cwd", cls.e.work + "/www", "gio", "--", "sh", "-c",
                  "%s -m http.server --bind 127.0.0.1 %d >/dev/null 2>&1 &"
                  % (sys.executable, cls.guest_port))
        wait_for("the guest's server listens", lambda: " %d " % cls.guest_port in cls.e.cli(
            "vm", "ports", "gio"))

    @classmethod
    def tearDownClass(cls):
        cls.e.close()

    def get(self, port):
        with urllib.request.urlopen("http://127.0.0.1:%d/hello.txt" % port, timeout=20) as r:
            return r.read().decode()

    def test_forward(self):
        e = self.e
        host_port = free_port()
        out = e.cli("vm", "forward", "gio", "%d:%d" % (host_port, self.guest_port))
        self.assertIn("Forwarding 127.0.0.1:%d to port %d of VM gio" % (host_port, self.guest_port), out)
        self.assertEqual(self.get(host_port), "hello from the guest\n")
        # vm ports lists it after the guest's sockets; --json lists forwards.
        self.assertIn("127.0.0.1:%d" % host_port, e.cli("vm", "ports", "gio"))
        fw = json.loads(e.cli("--json", "vm", "forward", "gio"))
        self.assertEqual([(f["host_address"], f["host_port"], f["guest_port"], f["listening"]) for f in fw],
                         [("127.0.0.1", host_port, self.guest_port, True)])

        # A host port that is taken (here by the guest's own server: the
        # fake VM shares the host's network) is refused, and changes nothing.
        r = e.run("vm", "forward", "gio", "%d:80" % self.guest_port, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot listen on 127.0.0.1:%d: the port is already in use on the host"
                      % self.guest_port, r.stderr)
        r = e.run("vm", "forward", "gio", "%d:81" % host_port, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("already forwards 127.0.0.1:%d" % host_port, r.stderr)
        for bad, why in (("x:80", "forward 'x': the port is not 1-65535"), ("70000:80", "not 1-65535"),
                         ("nohost:1:80", "is not an IPv4 or IPv6 address"), ("1234", "is not [HOST_ADDR")):
            r = e.run("vm", "forward", "gio", bad, text=True)
            self.assertNotEqual(r.returncode, 0, bad)
            self.assertIn(why, r.stderr, bad)
        self.assertEqual(len(json.loads(e.cli("--json", "vm", "forward", "gio"))), 1)

        # bangerd restarts: the forward comes back from the VM's record.
        e.stop_daemon()
        e.start_daemon()
        wait_for("the forward listens again", lambda: json.loads(
            e.cli("--json", "vm", "forward", "gio"))[0]["listening"])
        self.assertEqual(self.get(host_port), "hello from the guest\n")

        out = e.cli("vm", "forward", "gio", str(host_port), "--remove")
        self.assertIn("Removed", out)
        self.assertEqual(json.loads(e.cli("--json", "vm", "forward", "gio")), [])
        with self.assertRaises(OSError):
            self.get(host_port)
        r = e.run("vm", "forward", "gio", str(host_port), "--remove", text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("has no forward from 127.0.0.1:%d" % host_port, r.stderr)

    def test_proxy(self):
        e = self.e
        r = e.run("vm", "proxy", "gio", str(self.guest_port),
                  input=b"GET /hello.txt HTTP/1.0\r\n\r\n", timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(b"HTTP/1.0 200"), r.stdout[:100])
        self.assertTrue(r.stdout.endswith(b"hello from the guest\n"))
        closed = free_port()
        r = e.run("vm", "proxy", "gio", str(closed), input=b"", text=False, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"cannot connect to 127.0.0.1:%d: Connection refused" % closed, r.stderr)
        r = e.run("vm", "proxy", "gio", "0", input=b"", timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"the port is not 1-65535", r.stderr)

    def pty_run(self, args, rows=30, cols=100):
        """banger ARGS on a pty of ours: (master fd, pid)."""
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(CLI, [CLI] + args, self.e.env)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        return fd, pid

    def read_until(self, fd, acc, want, limit=30):
        deadline = time.monotonic() + limit
        while want not in acc[0] and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    break
                if not data:
                    break
                acc[0] += data
        return want in acc[0]

    def finish(self, fd, pid):
        acc = [b""]
        self.read_until(fd, acc, b"\0never", 30)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        return os.waitstatus_to_exitcode(status), acc[0]

    def test_exec_tty(self):
        script = ("stty size; [ -t 0 ] && echo stdin-is-a-tty; trap 'stty size; exit 7' WINCH; "
                  "echo ready; while :; do sleep 0.05; done")
        fd, pid = self.pty_run(["vm", "exec", "-t", "gio", "--", "sh", "-c", script], 30, 100)
        acc = [b""]
        self.assertTrue(self.read_until(fd, acc, b"ready"), acc[0])
        self.assertIn(b"30 100", acc[0])
        self.assertIn(b"stdin-is-a-tty", acc[0])
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 41, 132, 0, 0))
        self.assertTrue(self.read_until(fd, acc, b"41 132"), acc[0])
        code, _ = self.finish(fd, pid)
        self.assertEqual(code, 7)

    def test_exec_tty_ctrl_c(self):
        fd, pid = self.pty_run(["vm", "exec", "-t", "gio", "--", "sh", "-c", "echo ready; exec sleep 60"])
        acc = [b""]
        self.assertTrue(self.read_until(fd, acc, b"ready"), acc[0])
        t0 = time.monotonic()
        # Ctrl-C, again until sleep (exec'ed just after "ready") has it.
        while time.monotonic() - t0 < 20:
            os.write(fd, b"\x03")
            r, _, _ = select.select([fd], [], [], 0.3)
            if r:
                try:
                    if not os.read(fd, 4096):
                        break
                except OSError:
                    break
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        self.assertEqual(os.waitstatus_to_exitcode(status), 130)
        self.assertLess(time.monotonic() - t0, 20)

    def test_session_tty(self):
        # vm session start --tty: a terminal of the default size when
        # banger's own stdin is none; all output on stdout.
        script = ("stty size; [ -t 0 ] && echo stdin-is-a-tty; echo to-stderr >&2; "
                  "trap 'stty size' WINCH; echo ready; while :; do sleep 0.05; done")
        self.e.cli("vm", "session", "start", "gio", "--name", "term", "--tty", "--stdin-mode", "pipe",
                   "--", "sh", "-c", script, stdin=subprocess.DEVNULL)
        logs = wait_for("the session is ready", lambda: (lambda o: o if "ready" in o else None)(
            self.e.cli("vm", "session", "logs", "gio", "term")))
        self.assertIn("24 80\n", logs)  # the terminal's "\r\n", read as text
        self.assertIn("stdin-is-a-tty", logs)
        self.assertIn("to-stderr", logs)
        self.assertEqual(self.e.cli("vm", "session", "logs", "gio", "term", "--stream", "stderr"), "")
        shown = json.loads(self.e.cli("--json", "vm", "session", "show", "gio", "term"))
        self.assertTrue(shown["pty"])
        self.assertIn("on a terminal", self.e.cli("vm", "session", "show", "gio", "term"))

        # attach: a full terminal that takes our size at once and follows
        # it; Ctrl-C reaches the session, whose status comes back.
        fd, pid = self.pty_run(["vm", "session", "attach", "gio", "term"], 30, 100)
        acc = [b""]
        self.assertTrue(self.read_until(fd, acc, b"30 100"), acc[0])
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        self.assertTrue(self.read_until(fd, acc, b"50 160"), acc[0])
        os.write(fd, b"\x03")
        code, _ = self.finish(fd, pid)
        self.assertEqual(code, 130)
        shown = json.loads(self.e.cli("--json", "vm", "session", "show", "gio", "term"))
        self.assertEqual((shown["state"], shown["signal"]), ("exited", 2))

    def test_exec_login_shell(self):
        fd, pid = self.pty_run(["vm", "exec", "gio"])
        acc = [b""]
        self.assertTrue(self.read_until(fd, acc, b"# "), acc[0])  # root's prompt
        os.write(fd, b"echo shell-$((6*7)); exit 5\r")
        self.assertTrue(self.read_until(fd, acc, b"shell-42"), acc[0])
        code, _ = self.finish(fd, pid)
        self.assertEqual(code, 5)


    # ---- auth files ----

    def guest_sh(self, script, **kw):
        return self.e.cli("vm", "exec", "gio", "--", "sh", "-c", script, **kw)

    def test_auth_files(self):
        out = self.guest_sh('cd "$HOME" && for f in .local/share/opencode/auth.json '
                            '.claude/.credentials.json .pi/agent/auth.json; do '
                            'if [ -e "$f" ]; then echo "$f $(stat -c "%a %u" "$f") $(cat "$f")"; '
                            'else echo "$f missing"; fi; done')
        uid = os.getuid()
        self.assertEqual(out.splitlines(), [
            '.local/share/opencode/auth.json 600 %d {"token": "%s-.local/share/opencode/auth.json"}' % (uid, SECRET),
            '.claude/.credentials.json 600 %d {"token": "%s-.claude/.credentials.json"}' % (uid, SECRET),
            ".pi/agent/auth.json missing"])
        # Never in the guest's /root of the host, a log, or the VM's record.
        self.assertNotIn(SECRET, self.e.cli("--json", "vm", "show", "gio"))
        for root, dirs, files in os.walk(self.e.work + "/state"):
            if os.path.basename(root) == "run":
                dirs[:] = []  # the fake guest's own files (its /root) live there
            for name in files:
                if name.endswith(".log") or name.endswith(".json"):
                    with open(os.path.join(root, name), errors="replace") as f:
                        self.assertNotIn(SECRET, f.read(), name)
        with open(self.e.work + "/bangerd.log", errors="replace") as f:
            log = f.read()
        self.assertNotIn(SECRET, log)
        self.assertIn("copied ~/.local/share/opencode/auth.json, ~/.claude/.credentials.json", log)

    def test_auth_files_off(self):
        e = self.e
        cfg = e.work + "/off.toml"
        with open(cfg, "w") as f:
            f.write('hypervisor = "fake"\nstate_dir = "%s/state-off"\ncache_dir = "%s/cache-off"\n'
                    "sync_auth_files = false\n" % (e.work, e.work))
        local = ["--local", "--config", cfg]
        e.cli(*local, "image", "register", "--name", "img", "--rootfs", e.work + "/rootfs.ext4",
              "--kernel", e.work + "/vmlinux")
        e.cli(*local, "vm", "create", "--name", "off", "--image", "img")
        try:
            out = e.cli(*local, "vm", "exec", "off", "--", "sh", "-c",
                        'ls -A "$HOME/.local/share/opencode" "$HOME/.claude" 2>&1; true')
            self.assertNotIn("auth.json", out)
            self.assertNotIn(".credentials.json", out)
        finally:
            e.run(*local, "vm", "delete", "--force", "off")

    # ---- ssh ----

    def test_ssh(self):
        e = self.e
        # The guest's "SSH server": echoes a line back (port of our own).
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]

        def serve():
            c, _ = srv.accept()
            c.sendall(b"echo:" + c.makefile("rb").readline())
            c.close()
        import threading
        threading.Thread(target=serve, daemon=True).start()

        # A stand-in ssh: its arguments as JSON, and one line through the
        # ProxyCommand (which ssh runs with sh -c).
        bindir = e.work + "/bin"
        os.makedirs(bindir, exist_ok=True)
        with open(bindir + "/ssh", "w") as f:
            f.write("#!%s\nimport json, subprocess, sys\nargs = sys.argv[1:]\n"
                    "proxy = [a.split('=', 1)[1] for a in args if a.startswith('ProxyCommand=')][0]\n"
                    "p = subprocess.run(['sh', '-c', proxy], input=b'ping\\n', capture_output=True)\n"
                    "print(json.dumps({'args': args, 'answer': p.stdout.decode(), 'rc': p.returncode}))\n"
                    % sys.executable)
        os.chmod(bindir + "/ssh", 0o755)
        env = dict(e.env, PATH=bindir + ":" + e.env["PATH"])
        r = subprocess.run([CLI, "vm", "ssh", "--port", str(port), "gio", "--", "cat", "/etc/hostname"],
                           env=env, capture_output=True, text=True, timeout=120)
        srv.close()
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        self.assertEqual(got["answer"], "echo:ping\n")
        args = got["args"]
        key = args[args.index("-i") + 1]
        self.assertTrue(os.path.exists(key) and os.path.exists(key + ".pub"), key)
        self.assertEqual(args[-4:], ["gio", "--", "cat", "/etc/hostname"])
        self.assertIn("root", args[args.index("-l") + 1])
        self.assertIn("StrictHostKeyChecking=accept-new", args)
        self.assertIn("UserKnownHostsFile=%s/state/vms/gio/known_hosts" % e.work, args)
        # The real OpenSSH client accepts these arguments (-G: evaluate, connect to nothing).
        if shutil.which("ssh"):
            g = subprocess.run(["ssh", "-G"] + args[:args.index("--")], capture_output=True, text=True)
            self.assertEqual(g.returncode, 0, g.stderr)
            self.assertIn("proxycommand ", g.stdout)
            self.assertIn("stricthostkeychecking accept-new", g.stdout.lower())
            self.assertIn("user root", g.stdout)
        # The key is in the guest's authorized_keys (once, however often).
        with open(key + ".pub") as f:
            pub = f.read().strip()
        subprocess.run([CLI, "vm", "ssh", "--port", str(free_port()), "gio"], env=env,
                       capture_output=True, timeout=120)
        keys = self.guest_sh('cat "$HOME/.ssh/authorized_keys"; stat -c %a "$HOME/.ssh/authorized_keys"')
        self.assertEqual(keys.splitlines(), [pub, "600"])

    def test_ssh_without_server(self):
        closed = free_port()
        r = self.e.run("vm", "ssh", "--port", str(closed), "gio", text=True, timeout=120)
        self.assertNotEqual(r.returncode, 0)
        if os.path.exists("/usr/sbin/sshd"):  # the fake guest is this host
            self.assertIn("nothing listens on port %d in VM 'gio'" % closed, r.stderr)
        else:
            self.assertIn("VM 'gio' has no SSH server: its image has no sshd", r.stderr)
            self.assertIn("banger vm exec -t gio", r.stderr)
        r = self.e.run("vm", "ssh", "--port", "0", "gio", text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--port '0' is not 1-65535", r.stderr)

    # ---- acp ----

    def opencode(self):
        cache = os.environ.get("BANGER_TEST_CACHE") or self.e.work
        os.makedirs(cache, exist_ok=True)
        tgz = [f for f in os.listdir(cache) if f.startswith("opencode-linux-x64-") and f.endswith(".tgz")]
        if not tgz:
            if not shutil.which("npm"):
                return None, "npm is not installed"
            r = subprocess.run(["npm", "pack", "opencode-linux-x64"], cwd=cache, capture_output=True,
                               text=True, timeout=300)
            tgz = [f for f in os.listdir(cache) if f.startswith("opencode-linux-x64-") and f.endswith(".tgz")]
            if r.returncode != 0 or not tgz:
                return None, "npm pack opencode-linux-x64 failed: " + r.stderr.strip()[-200:]
        out = self.e.work + "/opencode"
        os.makedirs(out, exist_ok=True)
        subprocess.run(["tar", "-xzf", os.path.join(cache, sorted(tgz)[-1]), "-C", out,
                        "package/bin/opencode"], check=True)
        return out + "/package/bin/opencode", None

    def test_acp(self):
        binary, why = self.opencode()
        if binary is None:
            SKIPPED.append("vm acp: " + why)
            self.skipTest(why)
        # Installed where opencode's installer puts it, through the agent.
        with open(binary, "rb") as f:
            self.guest_sh('mkdir -p "$HOME/.opencode/bin" && cat > "$HOME/.opencode/bin/opencode" && '
                          'chmod 755 "$HOME/.opencode/bin/opencode"', stdin=f)
        p = subprocess.Popen([CLI, "vm", "acp", "gio"], env=self.e.env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            req = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                   "params": {"protocolVersion": 1, "clientCapabilities": {}}}
            p.stdin.write((json.dumps(req) + "\n").encode())
            p.stdin.flush()
            deadline = time.monotonic() + 120
            answer = None
            while answer is None and time.monotonic() < deadline:
                if not select.select([p.stdout], [], [], 1)[0]:
                    continue
                line = p.stdout.readline()
                if not line:
                    break
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if msg.get("id") == 1:
                    answer = msg
            self.assertIsNotNone(answer, "no answer to initialize")
            self.assertIn("result", answer, answer)
            self.assertIn("agentInfo", answer["result"], answer)
            self.assertIn("opencode", json.dumps(answer["result"]["agentInfo"]).lower())
        finally:
            p.kill()
            p.communicate()
        r = self.e.run("vm", "acp", "--cwd", "relative", "gio", text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--cwd 'relative' is not an absolute path", r.stderr)


if __name__ == "__main__":
    if not CLI or not BANGERD:
        print("BANGER_CLI and BANGERD must be set (run through ctest)")
        sys.exit(77)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import host_guard  # noqa: E402 - beside this file
    host_guard.readonly_system()  # the fake VMM's guest commands run here
    result = unittest.main(verbosity=2, exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    if SKIPPED:
        print("SKIPPED (not run here, so not passed): " + "; ".join(SKIPPED))
        sys.exit(77)
