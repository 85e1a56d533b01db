# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the web UI tests share: a bangerd on a private dbus-daemon with the
fake VMM (VMs are the guest agent run on the host), its web UI on a port
the kernel picks, and small HTTP helpers that send exactly the headers a
test names. As root the test runs in a network namespace of its own (only
its loopback is up). Environment: BANGER_CLI, BANGERD."""

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

SKIP = 77


def log(*a):
    print(*a, flush=True)


def enter_own_netns(argv):
    """As root: re-runs this test in a new network namespace with lo up."""
    if os.geteuid() != 0 or os.environ.get("BANGER_TEST_NETNS") == "1":
        return
    os.environ["BANGER_TEST_NETNS"] = "1"
    script = 'ip link set lo up && exec "$0" "$@"'
    try:
        os.execvp("unshare", ["unshare", "--net", "--", "/bin/sh", "-c", script,
                              sys.executable] + argv)
    except OSError as e:
        log("note: no network namespace (%s): using the host's loopback" % e)


def wait_for(what, check, limit=30.0):
    deadline = time.monotonic() + limit
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("still not true after %ss: %s" % (limit, what))
        time.sleep(0.02)


def read_until(proc, what, match, limit=30.0):
    """Reads @proc's stdout (a pipe) until @match(all of it, as text) is
    true; fails after @limit seconds or when it ends."""
    import select
    text, deadline = b"", time.monotonic() + limit
    while not match(text.decode(errors="replace")):
        left = deadline - time.monotonic()
        ready = select.select([proc.stdout], [], [], max(left, 0))[0] if left > 0 else []
        if not ready:
            raise AssertionError("still not seen after %ss: %s" % (limit, what))
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            raise AssertionError("the output ended before: " + what)
        text += chunk


class Daemon:
    """bangerd with the fake VMM on a private bus; web UI on 127.0.0.1:0
    unless @web_listen_addr says otherwise."""

    def __init__(self, web_listen_addr="127.0.0.1:0", wait_web=True, daemon_env=None,
                 config=""):
        self.work = tempfile.mkdtemp(prefix="bgr-web-")
        w = self.work
        self.env = dict(os.environ)
        self.env.update({
            "HOME": w + "/home", "XDG_CONFIG_HOME": w + "/home/.config",
            "XDG_STATE_HOME": w + "/home/.state", "XDG_CACHE_HOME": w + "/home/.cache",
            "XDG_DATA_HOME": w + "/home/.data", "XDG_RUNTIME_DIR": w + "/run",
            "DBUS_SESSION_BUS_ADDRESS": "unix:path=" + w + "/bus",
        })
        for k in ("BANGER_CONFIG", "DISPLAY", "WAYLAND_DISPLAY"):
            self.env.pop(k, None)
        os.makedirs(w + "/home")
        os.makedirs(w + "/run", mode=0o700)
        self.bus = self.daemon = None
        self.have_image = False
        subprocess.run(["mkfs.ext4", "-q", "-F", w + "/rootfs.ext4", "16M"], check=True,
                       env=dict(self.env, PATH=self.env.get("PATH", "") + ":/usr/sbin:/sbin"),
                       stdout=subprocess.DEVNULL)
        with open(w + "/vmlinux", "wb") as f:
            f.write(b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\0\x3e\0" + b"\0" * 44)
        with open(w + "/daemon.toml", "w") as f:
            f.write('hypervisor = "fake"\nstate_dir = "%s/state"\ncache_dir = "%s/cache"\n'
                    'log_level = "debug"\nweb_listen_addr = "%s"\n%s'
                    % (w, w, web_listen_addr, config))
        with open(w + "/bus.conf", "w") as f:
            f.write('<busconfig><type>session</type><listen>unix:path=%s/bus</listen>'
                    '<policy context="default"><allow send_destination="*"/><allow receive_sender="*"/>'
                    '<allow own="*"/>'
                    '</policy></busconfig>' % w)
        with open(w + "/bus.address", "w") as out:
            self.bus = subprocess.Popen(["dbus-daemon", "--config-file=" + w + "/bus.conf",
                                         "--nofork", "--print-address=1"],
                                        stdout=out, stderr=subprocess.DEVNULL)
        # Listening once it printed its address.
        wait_for("dbus-daemon listens", lambda: os.path.getsize(w + "/bus.address") > 0)
        self.log = open(w + "/bangerd.log", "w")
        self.daemon = subprocess.Popen([os.environ["BANGERD"], "--session", "--config",
                                        w + "/daemon.toml"],
                                       env=dict(self.env, **(daemon_env or {})),
                                       stdout=self.log, stderr=subprocess.STDOUT)
        status = wait_for("bangerd answers", self.status)
        self.url = status["web_ui_address"]
        if wait_web:
            assert self.url.startswith("http://127.0.0.1:"), status
            parsed = urllib.parse.urlsplit(self.url)
            self.host, self.port = parsed.hostname, parsed.port
            self.origin = "http://%s:%d" % (self.host, self.port)
            with open(w + "/run/banger/web-token") as f:
                self.token = f.read().strip()

    def status(self):
        r = self.cli("--json", "daemon", "status")
        return json.loads(r.stdout) if r.returncode == 0 else None

    def cli(self, *args, env=None):
        return subprocess.run([os.environ["BANGER_CLI"]] + list(args), env=env or self.env,
                              capture_output=True, text=True)

    def make_vm(self, name):
        if not self.have_image:
            r = self.cli("image", "register", "--name", "img", "--rootfs",
                         self.work + "/rootfs.ext4", "--kernel", self.work + "/vmlinux")
            assert r.returncode == 0, r.stderr
            self.have_image = True
        r = self.cli("vm", "create", "--name", name, "--image", "img")
        assert r.returncode == 0, r.stderr

    def log_text(self):
        with open(self.work + "/bangerd.log", errors="replace") as f:
            return f.read()

    def close(self):
        """Stops bangerd; returns its exit status (an ASan report makes it
        non-zero)."""
        status = None
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                status = self.daemon.wait(60)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        elif self.daemon is not None:
            status = self.daemon.returncode
        if self.bus is not None:
            self.bus.kill()
            self.bus.wait()
        self.log.close()
        # VMs (agents on the host) a failed run left behind name the work dir.
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        if self.work.encode() in f.read():
                            os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        return status

    def cleanup(self):
        shutil.rmtree(self.work, ignore_errors=True)

    # ---- HTTP ----------------------------------------------------------

    def request(self, method, path, headers=None, body=None, host=None, auth=True, cookie=None):
        """One request with exactly these headers (plus Host, the token as
        Bearer when @auth, and Content-Length for a body). Returns
        (status, headers dict (lower-case names), body bytes)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host if host is not None else "%s:%d" % (self.host, self.port))
        if auth:
            conn.putheader("Authorization", "Bearer " + self.token)
        if cookie:
            conn.putheader("Cookie", cookie)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        hdrs = {}
        for k, v in r.getheaders():
            hdrs.setdefault(k.lower(), []).append(v)
        conn.close()
        return r.status, hdrs, data

    def json(self, method, path, **kw):
        status, hdrs, data = self.request(method, path, **kw)
        return status, json.loads(data) if data else None


class Events:
    """A reader of /api/v1/events."""

    def __init__(self, daemon, path="/api/v1/events"):
        self.conn = http.client.HTTPConnection(daemon.host, daemon.port, timeout=30)
        self.conn.request("GET", path,
                          headers={"Authorization": "Bearer " + daemon.token})
        self.response = self.conn.getresponse()
        assert self.response.status == 200, self.response.status
        assert self.response.getheader("Content-Type").startswith("text/event-stream")

    def next(self):
        """The next event as (type, data as JSON)."""
        kind, data = None, []
        while True:
            line = self.response.readline()
            if not line:
                raise AssertionError("the event stream ended")
            line = line.decode().rstrip("\n")
            if line == "":
                if kind is not None:
                    return kind, json.loads("\n".join(data))
                continue
            if line.startswith("event: "):
                kind = line[len("event: "):]
            elif line.startswith("data: "):
                data.append(line[len("data: "):])

    def wait(self, what, match, limit=30.0):
        """Reads events until @match(type, data) is true."""
        self.conn.sock.settimeout(limit)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            kind, data = self.next()
            if match(kind, data):
                return data
        raise AssertionError("no event: " + what)

    def close(self):
        self.conn.close()


class Registry:
    """A docker-registry (scripts/install-deps.sh) on 127.0.0.1, a port the
    kernel picks, that @push() fills over its HTTP API."""

    def __init__(self, work):
        self.proc = None
        assert shutil.which("docker-registry"), "no docker-registry: run scripts/install-deps.sh"
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.host = "127.0.0.1:%d" % port
        os.makedirs(work + "/registry")
        with open(work + "/registry.yml", "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                    "    rootdirectory: %s/registry\nhttp:\n  addr: %s\n" % (work, self.host))
        self.log = open(work + "/registry.log", "w")
        self.proc = subprocess.Popen(["docker-registry", "serve", work + "/registry.yml"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for("the registry answers", lambda: self._get("/v2/") == 200)

    def _get(self, path):
        try:
            conn = http.client.HTTPConnection(self.host, timeout=5)
            conn.request("GET", path)
            status = conn.getresponse().status
            conn.close()
            return status
        except OSError:
            return None

    def _send(self, method, path, body=b"", headers=None):
        conn = http.client.HTTPConnection(self.host, timeout=30)
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        r.read()
        conn.close()
        assert r.status in (201, 202), (method, path, r.status)
        return r

    def _blob(self, repo, data):
        import hashlib
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        r = self._send("POST", "/v2/%s/blobs/uploads/" % repo)
        location = urllib.parse.urlsplit(r.getheader("Location"))
        path = location.path + "?" + (location.query + "&" if location.query else "")
        self._send("PUT", path + "digest=" + digest, data,
                   {"Content-Type": "application/octet-stream"})
        return {"digest": digest, "size": len(data)}

    def push(self, repo, tag, files):
        """Pushes a one-layer image whose layer holds @files (path ->
        bytes); returns its reference."""
        import gzip
        import hashlib
        import io
        import tarfile
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            for path, data in sorted(files.items()):
                info = tarfile.TarInfo(path)
                info.size, info.mode, info.mtime = len(data), 0o644, 1000000000
                tar.addfile(info, io.BytesIO(data))
        layer = gzip.compress(raw.getvalue(), mtime=0)
        config = json.dumps({
            "architecture": "amd64", "os": "linux", "config": {},
            "rootfs": {"type": "layers",
                       "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]},
        }).encode()
        manifest = {
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": dict(self._blob(repo, config),
                           mediaType="application/vnd.oci.image.config.v1+json"),
            "layers": [dict(self._blob(repo, layer),
                            mediaType="application/vnd.oci.image.layer.v1.tar+gzip")],
        }
        self._send("PUT", "/v2/%s/manifests/%s" % (repo, tag), json.dumps(manifest).encode(),
                   {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        return "%s/%s:%s" % (self.host, repo, tag)

    def close(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.log.close()
