# SPDX-License-Identifier: LGPL-2.1-or-later
"""Client calls on VMs (records of `banger vm show --json`), added to
banger.Client by banger/__init__.py."""

import ctypes
import os
import threading

from ._client import _add_methods
from ._convert import _Object, _enc, _options, _strv, _take_string
from ._errors import _check
from ._ffi import _GErrorP, _glib, _lib, _p
from ._operations import _operation

_VM_DELETE_FLAGS_FORCE = 1


# ---- VMs (records of `banger vm show --json`) ----


def vm_create(self, name, progress=None, operation=None, **options):
    """Creates VM NAME and boots it; returns once its guest agent answered.
    PROGRESS gets each boot phase, with done/total in steps.

    Keywords (BgrVmSpec): image (unset: the default_image setting), vcpus
    (0 or unset: the config's default), memory_mib, disk_size (bytes; 0:
    the image's size), cmdline_append (added to the guest kernel's
    command line at every boot), network ("bridge", the default, or
    "none": no network device; the agent still reaches the guest)."""
    spec = _options(_Object(_lib.bgr_vm_spec_new(_enc(name))), options)
    err = _GErrorP()
    with _operation(progress, operation) as op:
        ptr = _lib.bgr_client_vm_create(self._ptr, spec._ptr, op, None, ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_vm_to_json)


def vm_start(self, name, progress=None, operation=None):
    """Boots stopped VM NAME; PROGRESS as for vm_create."""
    err = _GErrorP()
    with _operation(progress, operation) as op:
        ptr = _lib.bgr_client_vm_start(self._ptr, _enc(name), op, None, ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_vm_to_json)


def vm_stop(self, name):
    """Graceful stop (guest poweroff, then power button, then kill)."""
    err = _GErrorP()
    return self._record(_lib.bgr_client_vm_stop(self._ptr, _enc(name), None, ctypes.byref(err)),
                        err, _lib.bgr_vm_to_json)


def vm_kill(self, name):
    err = _GErrorP()
    return self._record(_lib.bgr_client_vm_kill(self._ptr, _enc(name), None, ctypes.byref(err)),
                        err, _lib.bgr_vm_to_json)


def vm_delete(self, name, force=False):
    """Deletes VM NAME; a running one only with FORCE (killed first)."""
    err = _GErrorP()
    _check(_lib.bgr_client_vm_delete(self._ptr, _enc(name),
                                     _VM_DELETE_FLAGS_FORCE if force else 0, None,
                                     ctypes.byref(err)), err)


def vm_list(self):
    err = _GErrorP()
    return self._records(_lib.bgr_client_vm_list(self._ptr, None, ctypes.byref(err)), err,
                         _lib.bgr_vm_to_json)


def vm_get(self, name):
    err = _GErrorP()
    return self._record(_lib.bgr_client_vm_get(self._ptr, _enc(name), None, ctypes.byref(err)),
                        err, _lib.bgr_vm_to_json)


def vm_ports(self, name):
    """Sockets listening in the guest: [{"protocol", "address", "port", "pid", "process"}]."""
    err = _GErrorP()
    return self._records(_lib.bgr_client_vm_ports(self._ptr, _enc(name), None, ctypes.byref(err)),
                         err, _lib.bgr_vm_port_to_json)


def vm_stats(self, name):
    """A resource sample taken now (see docs/vms.md for the members)."""
    err = _GErrorP()
    return self._record(_lib.bgr_client_vm_stats(self._ptr, _enc(name), None, ctypes.byref(err)),
                        err, _lib.bgr_vm_stats_to_json)


def vm_logs(self, name, max_bytes=0):
    """The VM's serial console log (bytes), the last MAX_BYTES when not 0."""
    err = _GErrorP()
    ptr = _check(_lib.bgr_client_vm_logs(self._ptr, _enc(name), max_bytes, None,
                                         ctypes.byref(err)), err)
    try:
        size = ctypes.c_size_t()
        data = _glib.g_bytes_get_data(ptr, ctypes.byref(size))
        return ctypes.string_at(data, size.value) if size.value else b""
    finally:
        _glib.g_bytes_unref(ptr)


def vm_proxy(self, name, port, input_fd, output_fd, address=None):
    """Bridges a TCP connection to ADDRESS (default 127.0.0.1) port PORT in
    the guest to two descriptors (they may be one socket) until both sides
    end; see bgr_client_vm_proxy()."""
    err = _GErrorP()
    return bool(_check(_lib.bgr_client_vm_proxy(self._ptr, _enc(name), _enc(address), port,
                                                input_fd, output_fd, None, ctypes.byref(err)), err))


def vm_forward_add(self, name, host_port, guest_port, host_address=None):
    """Forwards HOST_ADDRESS (default 127.0.0.1):HOST_PORT to GUEST_PORT in the
    guest while bangerd runs; returns {"name", "host_address", "host_port",
    "guest_port", "listening"}."""
    err = _GErrorP()
    return self._record(_lib.bgr_client_vm_forward_add(self._ptr, _enc(name), _enc(host_address),
                                                       host_port, guest_port, None, ctypes.byref(err)),
                        err, _lib.bgr_vm_forward_to_json)


def vm_forward_remove(self, name, host_port, host_address=None):
    """Stops and drops the forward from HOST_ADDRESS:HOST_PORT."""
    err = _GErrorP()
    return bool(_check(_lib.bgr_client_vm_forward_remove(self._ptr, _enc(name), _enc(host_address),
                                                         host_port, None, ctypes.byref(err)), err))


def vm_forward_list(self, name):
    """The VM's forwards (see vm_forward_add())."""
    err = _GErrorP()
    return self._records(_lib.bgr_client_vm_forward_list(self._ptr, _enc(name), None,
                                                         ctypes.byref(err)),
                         err, _lib.bgr_vm_forward_to_json)


def vm_ssh_prepare(self, name, port=22):
    """Installs banger's SSH key (created when missing) for root in the guest
    and makes sure a server listens on PORT; returns the private key's path.
    Connect with ssh -i KEY -o ProxyCommand="banger vm proxy NAME PORT"."""
    err = _GErrorP()
    return _take_string(_check(_lib.bgr_client_vm_ssh_prepare(self._ptr, _enc(name), port, None,
                                                              ctypes.byref(err)), err))


def vm_acp(self, name, stdin, stdout, stderr=-1, cwd=None):
    """Runs `opencode acp` in the guest on the descriptors STDIN and STDOUT (an
    ACP client's pipes or socket) until it exits; returns its status.
    CWD: default /root/repo when it exists, else /root."""
    status = ctypes.c_int()
    err = _GErrorP()
    _check(_lib.bgr_client_vm_acp(self._ptr, _enc(name), _enc(cwd), stdin, stdout, stderr,
                                  ctypes.byref(status), None, ctypes.byref(err)), err)
    return status.value


def vm_exec(self, name, argv, input=None, env=None, cwd=None, timeout=None, stdout=None,
            stderr=None, resize_fd=None, **options):
    """Runs ARGV in VM NAME; returns (status, stdout bytes, stderr bytes).

    INPUT: bytes fed to stdin (else stdin reads EOF); ENV: dict or list of
    "KEY=VALUE" added to the agent's environment; CWD; TIMEOUT: seconds
    (raises BangerError TIMED_OUT). STDOUT, STDERR: a file descriptor or
    a file with fileno() to stream that output to as the command writes
    it (that stream is then returned as None); by default it is
    collected. STATUS is the exit status, or 128 + the signal that killed
    the command. Other keywords are BgrExecSpec keys (argv, env, cwd,
    timeout_ms, pty, rows, cols); ENV, CWD and TIMEOUT set env, cwd and
    timeout-ms. With pty=True the command runs on a terminal in the guest
    (its output all comes as stdout); RESIZE_FD: a descriptor that gets
    "ROWS COLS\\n" lines to resize it."""
    if isinstance(env, dict):
        env = ["%s=%s" % kv for kv in env.items()]
    if env is not None:
        options["env"] = list(env)
    if cwd is not None:
        options["cwd"] = cwd
    if timeout is not None:
        options["timeout_ms"] = int(timeout * 1000)
    argv_c = _strv([a.decode() if isinstance(a, bytes) else a for a in argv])
    spec = _options(_Object(_lib.bgr_exec_spec_new(ctypes.cast(argv_c, _p))), options)

    # Each output stream: the caller's descriptor (streamed), or a pipe
    # drained into a buffer by a thread.
    chunks = {}
    readers, writers, fds = [], [], []
    for target in (stdout, stderr):
        if target is not None:
            fds.append(target if isinstance(target, int) else target.fileno())
            readers.append(None)
            continue
        r, w = os.pipe()
        chunks[r] = []
        readers.append(r)
        writers.append(w)
        fds.append(w)
    in_r = in_w = -1
    if input is not None:
        in_r, in_w = os.pipe()

    def drain(fd):
        while True:
            b = os.read(fd, 65536)
            if not b:
                break
            chunks[fd].append(b)

    def feed():
        try:
            view = memoryview(input)
            while view:
                n = os.write(in_w, view)
                view = view[n:]
        except OSError:  # the command did not read it all
            pass
        finally:
            os.close(in_w)

    threads = [threading.Thread(target=drain, args=(r,), daemon=True)
               for r in readers if r is not None]
    if input is not None:
        threads.append(threading.Thread(target=feed, daemon=True))
    for t in threads:
        t.start()
    _lib.bgr_exec_spec_set_stdio(spec._ptr, in_r, fds[0], fds[1])
    if resize_fd is not None:
        _lib.bgr_exec_spec_set_resize_fd(spec._ptr, resize_fd)
    status = ctypes.c_int()
    err = _GErrorP()
    try:
        ok = _lib.bgr_client_vm_exec(self._ptr, _enc(name), spec._ptr, ctypes.byref(status),
                                     None, ctypes.byref(err))
    finally:
        for w in writers:
            os.close(w)
        if in_r >= 0:
            os.close(in_r)
        for t in threads:
            t.join()
        for r in readers:
            if r is not None:
                os.close(r)
    _check(ok, err)
    out = [None if r is None else b"".join(chunks[r]) for r in readers]
    return status.value, out[0], out[1]


def add_to(client_class):
    _add_methods(client_class, (vm_create, vm_start, vm_stop, vm_kill, vm_delete, vm_list, vm_get,
                                vm_ports, vm_stats, vm_logs, vm_proxy, vm_forward_add,
                                vm_forward_remove, vm_forward_list, vm_ssh_prepare, vm_acp,
                                vm_exec))
