# SPDX-License-Identifier: LGPL-2.1-or-later
"""The binding against VMs on the fake VMM (the real guest agent on this
host): exec, sessions, TCP and terminals through a local client."""
import os
import shutil
import threading
import time

import pytest

import banger
from banger import BangerError, ErrorCode
from _support import fake_vmm_client as _fake_vmm_client


def test_vm_on_the_fake_vmm(tmp_path):
    """A VM whose "guest" is the real agent on the host (hypervisor = "fake"):
    its options arrive as keywords (cmdline_append), exec streams to a given
    descriptor, and the VM's public fields hide the engine's internals."""
    client = _fake_vmm_client(tmp_path)
    try:
        vm = client.vm_create("py", image="img", memory_mib=128, cmdline_append="quiet py.test=1")
        assert vm["state"] == "running" and vm["hypervisor"] == "fake", vm
        assert vm["debug"]["kernel_cmdline"].endswith(" quiet py.test=1"), vm
        assert "cmdline" not in vm and "tap" not in vm and "run_dir" not in vm, vm
        assert isinstance(vm["guest_addrs"], list), vm
        out = tmp_path / "out"
        with open(out, "wb") as f:
            status, stdout, stderr = client.vm_exec("py", ["sh", "-c", "echo streamed; echo e >&2"],
                                                    stdout=f)
        assert status == 0 and stdout is None and stderr == b"e\n"
        assert out.read_bytes() == b"streamed\n"
        client.vm_delete("py", force=True)
        assert client.vm_list() == []
    finally:
        client.close()


def test_sessions_on_the_fake_vmm(tmp_path):
    """Sessions through a local client: start with its checks, list, logs,
    attach (input to a pipe-mode session, and a detach that leaves it
    running), stop and kill."""
    client = _fake_vmm_client(tmp_path)
    try:
        client.vm_create("ss", image="img", memory_mib=128)
        s = client.vm_session_start("ss", "hello", ["sh", "-c", "echo $GREETING; echo oops >&2"],
                                    env={"GREETING": "hi"}, cwd="/", require=["sh"])
        assert s["name"] == "hello" and s["vm"] == "ss" and s["stdin_mode"] == "detached", s
        assert client.vm_session_logs("ss", "hello", follow=True) == b"hi\n"
        assert client.vm_session_logs("ss", "hello", stream="stderr") == b"oops\n"
        assert client.vm_session_get("ss", "hello")["state"] == "exited"
        with pytest.raises(BangerError) as e:
            client.vm_session_start("ss", "bad", ["true"], require=["no-such-tool-py"])
        assert "required command 'no-such-tool-py' not found" in str(e.value)
        with pytest.raises(BangerError) as e:
            client.vm_session_get("ss", "ghost")
        assert e.value.code == ErrorCode.NOT_FOUND
        assert [x["name"] for x in client.vm_session_list("ss")] == ["hello"]

        client.vm_session_start("ss", "cat", ["cat"], stdin_mode="pipe")
        status, out, err = client.vm_session_attach("ss", "cat", input=b"through python\n")
        assert (status, out, err) == (0, b"through python\n", b"")

        client.vm_session_start("ss", "cat2", ["cat"], stdin_mode="pipe")
        d = banger.Detach()

        def detach_once_attached():
            deadline = time.monotonic() + 20
            while not client.vm_session_get("ss", "cat2")["attached"]:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            d.detach()
        waiter = threading.Thread(target=detach_once_attached)
        waiter.start()
        status, out, _ = client.vm_session_attach("ss", "cat2", detach=d)
        waiter.join()
        assert status is None
        assert client.vm_session_get("ss", "cat2")["state"] == "running"
        assert client.vm_session_kill("ss", "cat2")["signal"] == 9
        client.vm_session_start("ss", "sleeper", ["sleep", "1000"])
        assert client.vm_session_stop("ss", "sleeper")["signal"] == 15

        # On a terminal: its size, output on stdout only, a resize while
        # attached reaches it (SIGWINCH).
        s = client.vm_session_start("ss", "term", ["sh", "-c", "stty size; echo err >&2; "
                                                   "trap 'stty size; exit 7' WINCH; echo ready; "
                                                   "while :; do sleep 0.05; done"],
                                    stdin_mode="pipe", pty=True, rows=33, cols=90)
        assert s["pty"] is True, s
        deadline = time.monotonic() + 20
        while b"ready" not in client.vm_session_logs("ss", "term"):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert client.vm_session_logs("ss", "term").split(b"\n")[:2] == [b"33 90\r", b"err\r"]
        assert client.vm_session_logs("ss", "term", stream="stderr") == b""
        r, w = os.pipe()
        os.write(w, b"44 101\n")
        try:
            status, out = client.vm_session_attach_terminal("ss", "term", resize_fd=r)
        finally:
            os.close(r)
            os.close(w)
        assert (status, out) == (7, b"44 101\r\n"), (status, out)
        client.vm_delete("ss", force=True)
    finally:
        client.close()


def test_tcp_and_terminal_on_the_fake_vmm(tmp_path):
    """vm_proxy, vm_forward_* and exec with pty=True, against a VM whose
    "guest" is the real agent on this host (hypervisor = "fake"): the
    guest's 127.0.0.1 is ours, so a socket of the test is a guest port."""
    import socket
    import threading
    client = _fake_vmm_client(tmp_path)
    guest = socket.socket()
    guest.bind(("127.0.0.1", 0))
    guest.listen()
    port = guest.getsockname()[1]

    def serve():
        c, _ = guest.accept()
        data = b""
        while True:
            b = c.recv(4096)
            if not b:
                break
            data += b
        c.sendall(b"echo:" + data)
        c.close()

    try:
        client.vm_create("tcp", image="img")
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        ours, theirs = socket.socketpair()
        result = {}
        bridge = threading.Thread(target=lambda: result.update(
            ok=client.vm_proxy("tcp", port, theirs.fileno(), theirs.fileno())), daemon=True)
        bridge.start()
        ours.sendall(b"ping")
        ours.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            b = ours.recv(4096)
            if not b:
                break
            answer += b
        bridge.join(30)
        assert answer == b"echo:ping" and result == {"ok": True}

        with pytest.raises(banger.BangerError) as e:
            client.vm_proxy("tcp", 0, 0, 1)
        assert e.value.code == banger.ErrorCode.INVALID_ARGUMENT

        # A forward from a port that is taken (the "guest" socket) changes nothing.
        with pytest.raises(banger.BangerError) as e:
            client.vm_forward_add("tcp", port, 80)
        assert e.value.code == banger.ErrorCode.BUSY and "already in use" in e.value.message
        assert client.vm_forward_list("tcp") == []
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            free = s.getsockname()[1]
        fw = client.vm_forward_add("tcp", free, port)
        assert (fw["host_address"], fw["host_port"], fw["guest_port"]) == ("127.0.0.1", free, port)
        assert [f["host_port"] for f in client.vm_forward_list("tcp")] == [free]
        assert client.vm_forward_remove("tcp", free)
        assert client.vm_forward_list("tcp") == []

        status, out, _ = client.vm_exec("tcp", ["sh", "-c", "stty size; [ -t 1 ] && exit 3"],
                                        pty=True, rows=12, cols=34)
        assert status == 3 and b"12 34" in out, out

        # vm_ssh_prepare: a server listens on the port (the "guest" socket), so
        # only the key is installed: created, and in root's authorized_keys.
        key = client.vm_ssh_prepare("tcp", port)
        with open(key + ".pub") as f:
            pub = f.read().strip()
        status, out, _ = client.vm_exec("tcp", ["sh", "-c", 'cat "$HOME/.ssh/authorized_keys"'])
        assert status == 0 and out.decode().splitlines() == [pub], out

        # vm_acp: no opencode in this "guest": 127 and a message saying so.
        if shutil.which("opencode") is None:
            r, w = os.pipe()
            with open(os.devnull, "rb") as null_in, open(os.devnull, "wb") as null_out:
                status = client.vm_acp("tcp", null_in.fileno(), null_out.fileno(), w)
            os.close(w)
            with os.fdopen(r) as f:
                assert status == 127 and "opencode is not installed in the guest" in f.read()
        with pytest.raises(banger.BangerError) as e:
            client.vm_acp("tcp", 0, 1, cwd="relative")
        assert e.value.code == banger.ErrorCode.INVALID_ARGUMENT
    finally:
        guest.close()
        try:  # the fake VM's agent is detached on purpose: delete it
            client.vm_delete("tcp", force=True)
        except BangerError:
            pass
        client.close()
