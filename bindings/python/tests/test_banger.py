# SPDX-License-Identifier: LGPL-2.1-or-later
import json
import os
import re
import select
import signal
import subprocess
import time

import pytest

import banger
from banger import BangerError, ErrorCode
from _support import config_file as _config_file


def _source_dir():
    return os.environ["BANGER_SOURCE_DIR"]


def test_version_matches_cli():
    out = subprocess.run([os.environ["BANGER_CLI"], "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "banger " + banger.version()
    assert ".".join(map(str, banger.version_info())) == banger.version()


def test_signatures_match_public_headers():
    """Every ctypes signature has the argument count of its C prototype."""
    inc = os.path.join(_source_dir(), "libbanger", "include", "banger")
    text = ""
    for name in os.listdir(inc):
        with open(os.path.join(inc, name)) as f:
            text += f.read()
    text = re.sub(r"\s+", " ", text)
    for name, _restype, argtypes in banger._SIGNATURES:
        m = re.search(r"\b%s \(([^)]*)\)" % name, text)
        assert m, "%s is not declared in the public headers" % name
        params = m.group(1).strip()
        n = 0 if params in ("", "void") else params.count(",") + 1
        assert n == len(argtypes), "%s: C has %d parameters, binding %d" % (name, n, len(argtypes))


def test_config_values_and_sources():
    cfg = banger.Config.from_string('log_level = "debug"\n\ntap_pool_size = 9\n', "my.toml")
    assert cfg["log_level"] == "debug"
    assert cfg.source("log_level") == "my.toml:1"
    assert cfg["tap_pool_size"] == "9"
    assert cfg.source("tap_pool_size") == "my.toml:3"
    assert cfg.source("cidr") == "default"
    assert "kernel_catalog_url" in cfg.keys()
    entries = {e["key"]: e for e in cfg.to_dict()["keys"]}
    assert entries["tap_pool_size"]["value"] == 9
    with pytest.raises(KeyError):
        cfg["no_such_key"]


def test_config_error_carries_domain_code_message():
    with pytest.raises(BangerError) as info:
        banger.Config.from_string('cidr = "10.0.0.0/24"\nbogus = 1\n', "bad.toml")
    err = info.value
    assert err.domain == "bgr-error-quark"
    assert err.code == ErrorCode.INVALID_CONFIG
    assert err.name == "InvalidConfig"
    assert "bad.toml:2: unknown key 'bogus'" in err.message


def test_config_load_missing_explicit_file():
    with pytest.raises(BangerError) as info:
        banger.Config.load("/nonexistent/banger.toml")
    assert info.value.code == ErrorCode.NOT_FOUND


def test_parse_duration():
    assert banger.parse_duration("1h30m") == 90 * 60 * 1000
    with pytest.raises(BangerError) as info:
        banger.parse_duration("soon")
    assert info.value.code == ErrorCode.INVALID_ARGUMENT


def test_doctor(tmp_path):
    report = banger.doctor()
    names = [c["name"] for c in report["checks"]]
    for expected in ("config", "kvm", "qemu", "hypervisor", "tun", "state-disk"):
        assert expected in names
    assert report["ok"] == all(c["status"] != "FAIL" for c in report["checks"])
    bad = tmp_path / "bad.toml"
    bad.write_text('hypervisor = "qemu"\nqemu_bin = "/nonexistent/qemu"\n')
    report = banger.doctor(str(bad))
    assert report["ok"] is False
    assert report["hypervisor"] == ""


def test_local_client_and_lock(tmp_path):
    cfg = banger.Config.load(_config_file(tmp_path))
    client = banger.Client.local(cfg)
    assert client.is_local
    info = client.daemon_info()
    assert info["pid"] == os.getpid()
    assert info["bus"] == "in-process"
    assert info["state_dir"] == str(tmp_path / "state")
    assert client.config()["tap_pool_size"] == "3"
    with pytest.raises(BangerError) as locked:
        banger.Client.local(cfg)
    assert locked.value.code == ErrorCode.LOCKED
    assert "process %d" % os.getpid() in locked.value.message
    with pytest.raises(BangerError) as stop:
        client.stop_daemon()
    assert stop.value.code == ErrorCode.NOT_SUPPORTED
    with pytest.raises(BangerError) as web:
        client.web_login_url()
    assert web.value.code == ErrorCode.NOT_SUPPORTED and "only bangerd" in web.value.message
    client.close()
    banger.Client.local(cfg).close()  # the lock is free again


def test_local_doctor_uses_the_engine_config(tmp_path):
    # A config that exists only in memory: the doctor checks it, not a file.
    cfg = banger.Config.from_string('state_dir = "%s"\nhypervisor = "qemu"\n'
                                    'qemu_bin = "/nonexistent/qemu"\n' % (tmp_path / "s"),
                                    "memory.toml")
    client = banger.Client.local(cfg)
    report = client.doctor()
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["config"]["status"] == "PASS"
    assert checks["qemu"]["status"] == "FAIL"
    assert "/nonexistent/qemu" in checks["qemu"]["message"]
    assert banger.doctor(config=cfg)["hypervisor"] == ""
    client.close()


def test_system_config_defaults():
    assert banger.Config.default_path(system=True).endswith("/config.toml")
    if not os.path.exists(banger.Config.default_path(system=True)):
        cfg = banger.Config.load(system=True)
        assert cfg.source("state_dir") == "default"
        assert cfg["state_dir"] == os.environ.get("STATE_DIRECTORY", "/var/lib/banger")


_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture
def private_bus(tmp_path):
    # A bus with no service directories: nothing can be started by activation,
    # whatever is installed on this machine.
    conf = tmp_path / "bus.conf"
    conf.write_text(_BUS_CONFIG % tmp_path)
    proc = subprocess.Popen(["dbus-daemon", "--config-file=%s" % conf, "--nofork", "--nopidfile",
                             "--print-address=1"], stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    assert ready, "dbus-daemon printed no address"
    address = proc.stdout.readline().strip()
    yield address
    proc.terminate()
    proc.wait(timeout=30)


def test_dbus_client(tmp_path, private_bus):
    with pytest.raises(BangerError) as unavailable:
        banger.Client.dbus_address(private_bus)
    assert unavailable.value.code == ErrorCode.DAEMON_UNAVAILABLE

    cfg = _config_file(tmp_path, 'ssh_key_path = "%s"\nkernel_catalog_url = "file://%s"\n'
                       'cache_dir = "%s"\nweb_listen_addr = "127.0.0.1:0"\n'
                       % (tmp_path / "missing-key", tmp_path / "catalog.json", tmp_path / "cache"))
    daemon = subprocess.Popen([os.environ["BANGERD"], "--address", private_bus, "--config", cfg])
    try:
        deadline = time.monotonic() + 60
        while True:  # bounded wait for the daemon to own its name
            try:
                client = banger.Client.dbus_address(private_bus)
                break
            except BangerError as exc:
                assert exc.code == ErrorCode.DAEMON_UNAVAILABLE
                assert daemon.poll() is None, "bangerd exited early"
                assert time.monotonic() < deadline, "bangerd did not start"
                time.sleep(0.05)
        assert not client.is_local
        info = client.daemon_info()
        assert info["pid"] == daemon.pid
        assert info["state_dir"] == str(tmp_path / "state")
        assert info["bus"].startswith("address:")
        url, login = client.web_login_url()
        assert url == info["web_ui_address"] and url.startswith("http://127.0.0.1:"), info
        assert login.startswith(url + "login?code=") and login != client.web_login_url()[1]
        config = client.config()
        assert config["tap_pool_size"] == "3"
        assert config.source("tap_pool_size") == cfg + ":2"
        assert "checks" in client.doctor()
        # A daemon-side error keeps its code across the bus.
        with pytest.raises(BangerError) as missing:
            client.ensure_ssh_key()
        assert missing.value.code == ErrorCode.NOT_FOUND
        assert str(tmp_path / "missing-key") in missing.value.message
        # A pull through the daemon reports progress (PullProgress signals).
        k = client.kernel_import("cloud", deb=_kernel_deb())
        import hashlib
        data = open(k["kernel"], "rb").read()
        (tmp_path / "catalog.json").write_text(json.dumps({
            "schema_version": 1,
            "kernels": [{"name": "fromcat", "version": k["version"], "arch": "x86_64",
                         "source": "download",
                         "artifacts": {"kernel": {"url": "file://" + k["kernel"],
                                                  "size": len(data), "format": "bzimage",
                                                  "sha256": hashlib.sha256(data).hexdigest()}}}]}))
        assert [x["name"] for x in client.kernel_list_available()] == ["fromcat"]
        seen = []
        pulled = client.kernel_pull("fromcat", progress=seen.append)
        assert pulled["name"] == "fromcat" and pulled["format"] == "bzimage"
        assert seen and seen[-1].phase == "download", seen
        assert (seen[-1].done, seen[-1].total) == (len(data), len(data)), seen
        assert seen[-1].fraction == 1.0
        assert all(a.done <= b.done for a, b in zip(seen, seen[1:]))
        # An operation cancelled before the call: the pull fails, nothing is kept.
        client.kernel_delete("fromcat")
        op = banger.Operation()
        op.cancel()
        with pytest.raises(BangerError) as cancelled:
            client.kernel_pull("fromcat", operation=op)
        assert cancelled.value.domain == "bgr-error-quark"
        assert cancelled.value.code == ErrorCode.CANCELLED, cancelled.value
        assert [x["name"] for x in client.kernel_list()] == ["cloud"]

        client.stop_daemon()
        assert daemon.wait(timeout=30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


def _kernel_deb():
    deb = os.environ.get("BANGER_TEST_KERNEL_DEB")
    if not deb or not os.path.exists(deb):
        pytest.fail("BANGER_TEST_KERNEL_DEB is missing: run scripts/fetch-test-kernel.sh")
    return deb


def test_kernels_and_images(tmp_path):
    cfg = banger.Config.load(_config_file(tmp_path))
    client = banger.Client.local(cfg)
    try:
        phases = []
        k = client.kernel_import("cloud", deb=_kernel_deb(), progress=phases.append)
        assert k["name"] == "cloud"
        assert phases and phases[0].phase == "import", phases
        assert k["format"] == "bzimage"
        assert k["initrd_generated"] is True
        assert [x["name"] for x in client.kernel_list()] == ["cloud"]
        assert client.kernel_get("cloud")["version"] == k["version"]

        src = tmp_path / "src"
        (src / "sbin").mkdir(parents=True)
        rootfs = tmp_path / "root.ext4"
        subprocess.run(["mkfs.ext4", "-q", "-d", str(src), str(rootfs), "16M"], check=True)
        img = client.image_register("py", rootfs=str(rootfs), kernel_ref="cloud")
        assert img["managed"] is False
        assert img["kernel"] == k["kernel"]
        assert [x["name"] for x in client.image_list()] == ["py"]

        with pytest.raises(BangerError) as busy:
            client.kernel_delete("cloud")
        assert busy.value.code == ErrorCode.BUSY

        promoted = client.image_promote("py")
        assert promoted["managed"] is True
        assert promoted["rootfs"].startswith(str(tmp_path / "state"))
        assert client.image_get("py")["rootfs_origin"] == str(rootfs)

        with pytest.raises(BangerError) as missing:
            client.image_get("nope")
        assert missing.value.code == ErrorCode.NOT_FOUND

        client.image_delete("py")
        client.kernel_delete("cloud")
        assert client.kernel_list() == [] and client.image_list() == []
        assert rootfs.exists()
    finally:
        client.close()


@pytest.mark.parametrize("how", ["kill", "ctrl-c"])
def test_pull_cancelled_when_caller_leaves(tmp_path, private_bus, how):
    """Killing `banger kernel pull` mid-download makes bangerd cancel the
    pull, and so does Ctrl-C, through the operation's Cancel() while the CLI
    waits for the reply (exit status 12, Cancelled): nothing is registered,
    no work directory stays behind."""
    import hashlib
    import http.server
    import threading

    data = open(_kernel_deb(), "rb").read()  # any sizeable bytes will do
    sent_some = threading.Event()
    release = threading.Event()

    class Slow(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:65536])
            self.wfile.flush()
            sent_some.set()
            release.wait(60)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/" % server.server_address[1]
    (tmp_path / "catalog.json").write_text(json.dumps({
        "schema_version": 1,
        "kernels": [{"name": "slow", "version": "1", "arch": "x86_64", "source": "download",
                     "artifacts": {"kernel": {"url": url + "vmlinuz", "size": len(data),
                                              "format": "bzimage",
                                              "sha256": hashlib.sha256(data).hexdigest()}}}]}))
    cfg = _config_file(tmp_path, 'kernel_catalog_url = "file://%s"\ncache_dir = "%s"\n'
                       'log_level = "info"\n' % (tmp_path / "catalog.json", tmp_path / "cache"))
    log = open(tmp_path / "bangerd.log", "w")
    daemon = subprocess.Popen([os.environ["BANGERD"], "--address", private_bus, "--config", cfg],
                              stderr=log)
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=private_bus)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run([os.environ["BANGER_CLI"], "daemon", "status"], env=env,
                             capture_output=True).returncode != 0:
            assert time.monotonic() < deadline and daemon.poll() is None
            time.sleep(0.05)
        cli = subprocess.Popen([os.environ["BANGER_CLI"], "kernel", "pull", "slow"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert sent_some.wait(60), "the download never started"
        if how == "kill":
            cli.kill()
            cli.wait()
            cli.stderr.close()
            said = "cancelling its"  # the caller left the bus
        else:
            cli.send_signal(signal.SIGINT)
            err = cli.communicate(timeout=60)[1].decode()
            assert cli.returncode == 12, (cli.returncode, err)
            assert "cancel" in err.lower(), err
            said = "cancelled by its caller"  # Operation.Cancel()
        # The daemon cancels; then the server may finish (too late: the pull
        # must not complete).
        deadline = time.monotonic() + 60
        while said not in (tmp_path / "bangerd.log").read_text():
            assert time.monotonic() < deadline, "bangerd did not cancel the pull"
            time.sleep(0.05)
        release.set()
        client = banger.Client.dbus_address(private_bus)
        assert client.kernel_list() == []
        kernels_dir = tmp_path / "state" / "kernels"
        assert not kernels_dir.exists() or list(kernels_dir.iterdir()) == []
        client.stop_daemon()
        assert daemon.wait(timeout=60) == 0
    finally:
        release.set()
        server.shutdown()
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        log.close()


def test_options_are_keywords(tmp_path):
    cfg = banger.Config.load(_config_file(tmp_path))
    client = banger.Client.local(cfg)
    try:
        # Keywords go to the library by name ('_' -> '-'): it refuses one it
        # does not know, naming it, and a value of the wrong type.
        with pytest.raises(BangerError) as unknown:
            client.vm_create("x", image="none", memory_mb=512)
        assert unknown.value.code == ErrorCode.INVALID_ARGUMENT
        assert "memory-mb" in unknown.value.message
        with pytest.raises(BangerError) as wrong:
            client.vm_create("x", vcpus="two")
        assert wrong.value.code == ErrorCode.INVALID_ARGUMENT
        assert "vcpus" in wrong.value.message
        with pytest.raises(BangerError) as unknown:
            client.image_pull("127.0.0.1:1/x:latest", kernel_ref="k")
        assert "kernel-ref" in unknown.value.message
        with pytest.raises(BangerError) as unknown:
            client.image_register("img", rootfs="/nonexistent", bogus=None)
        assert "bogus" in unknown.value.message
        with pytest.raises(BangerError) as unknown:
            client.vm_exec("x", ["true"], stdin="x")
        assert "stdin" in unknown.value.message
        assert client.vm_list() == [] and client.image_list() == []
        # None unsets a key: the image register fails on its rootfs, not the key.
        with pytest.raises(BangerError) as missing:
            client.image_register("img", rootfs="/nonexistent.ext4", initrd=None)
        assert missing.value.code != ErrorCode.INVALID_ARGUMENT or \
            "initrd" not in missing.value.message
        # A 0.1 name still works, with a warning.
        with pytest.warns(DeprecationWarning):
            assert client.vms() == []
    finally:
        client.close()


def test_progress_callback_exception_cancels(tmp_path):
    cfg = banger.Config.load(_config_file(tmp_path))
    client = banger.Client.local(cfg)
    try:
        class Stop(Exception):
            pass

        def progress(p):
            raise Stop(p.phase)

        with pytest.raises(Stop):
            client.kernel_import("cloud", deb=_kernel_deb(), progress=progress)
        assert client.kernel_list() == []
        op = banger.Operation()
        assert op.progress is None
        k = client.kernel_import("cloud", deb=_kernel_deb(), operation=op)
        assert k["name"] == "cloud" and not op.cancelled
        assert op.progress is not None and op.progress.phase == "import", op.progress
    finally:
        client.close()


def test_cancel_from_another_thread(tmp_path):
    """Operation.cancel() from another thread stops a blocking pull."""
    import hashlib
    import http.server
    import threading

    data = open(_kernel_deb(), "rb").read()
    sent_some = threading.Event()
    release = threading.Event()

    class Slow(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:65536])
            self.wfile.flush()
            sent_some.set()
            release.wait(60)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "catalog.json").write_text(json.dumps({
        "schema_version": 1,
        "kernels": [{"name": "slow", "version": "1", "arch": "x86_64", "source": "download",
                     "artifacts": {"kernel": {
                         "url": "http://127.0.0.1:%d/vmlinuz" % server.server_address[1],
                         "size": len(data), "format": "bzimage",
                         "sha256": hashlib.sha256(data).hexdigest()}}}]}))
    cfg = banger.Config.load(_config_file(
        tmp_path, 'kernel_catalog_url = "file://%s"\ncache_dir = "%s"\n'
        % (tmp_path / "catalog.json", tmp_path / "cache")))
    client = banger.Client.local(cfg)
    op = banger.Operation()
    seen = []
    result = {}

    def pull():
        try:
            result["kernel"] = client.kernel_pull("slow", progress=seen.append, operation=op)
        except BaseException as exc:  # noqa: BLE001 - checked below
            result["error"] = exc

    try:
        worker = threading.Thread(target=pull)
        worker.start()
        assert sent_some.wait(60), "the download never started"
        op.cancel()
        worker.join(60)
        assert not worker.is_alive(), "the pull did not stop"
        err = result.get("error")
        assert isinstance(err, BangerError) and err.code == ErrorCode.CANCELLED, result
        assert op.cancelled
        assert client.kernel_list() == []
    finally:
        release.set()
        server.shutdown()
        client.close()
