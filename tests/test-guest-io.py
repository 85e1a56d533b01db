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
  the exit status reach the guest and come back.

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
        wait_for("bangerd owns its name", lambda: subprocess.run(
            ["gdbus", "call", "--session", "--dest", "org.freedesktop.DBus", "--object-path",
             "/org/freedesktop/DBus", "--method", "org.freedesktop.DBus.NameHasOwner",
             "org.banger.Banger1"], env=self.env, capture_output=True, text=True).stdout.find("true") >= 0,
            60)

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

    def test_exec_login_shell(self):
        fd, pid = self.pty_run(["vm", "exec", "gio"])
        acc = [b""]
        self.assertTrue(self.read_until(fd, acc, b"# "), acc[0])  # root's prompt
        os.write(fd, b"echo shell-$((6*7)); exit 5\r")
        self.assertTrue(self.read_until(fd, acc, b"shell-42"), acc[0])
        code, _ = self.finish(fd, pid)
        self.assertEqual(code, 5)


if __name__ == "__main__":
    if not CLI or not BANGERD:
        print("BANGER_CLI and BANGERD must be set (run through ctest)")
        sys.exit(77)
    unittest.main(verbosity=2)
