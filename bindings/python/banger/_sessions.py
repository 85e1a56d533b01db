# SPDX-License-Identifier: LGPL-2.1-or-later
"""Client calls on sessions (bgr-session.h, docs/vms.md), added to
banger.Client by banger/__init__.py."""

import ctypes
import os
import threading

from ._convert import _Object, _enc, _options, _strv
from ._errors import _check
from ._ffi import _GErrorP, _lib, _p, _s
from ._operations import _Collect

_SIGNATURES = [
    ("bgr_session_spec_new", _p, [_s, _p]),
    ("bgr_vm_session_to_json", _p, [_p]),
    ("bgr_client_vm_session_start", _p, [_p, _s, _p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_session_list", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_session_get", _p, [_p, _s, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_session_logs", ctypes.c_int, [_p, _s, _s, ctypes.c_int, ctypes.c_uint, ctypes.c_int,
                                                  ctypes.c_int, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_session_attach", ctypes.c_int, [_p, _s, _s, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                                    ctypes.POINTER(ctypes.c_int), _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_session_attach_terminal", ctypes.c_int, [_p, _s, _s, ctypes.c_int, ctypes.c_int,
                                                             ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                                                             _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_session_stop", _p, [_p, _s, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_session_kill", _p, [_p, _s, _s, _p, ctypes.POINTER(_GErrorP)]),
]
for _name, _restype, _argtypes in _SIGNATURES:
    _fn = getattr(_lib, _name)
    _fn.restype = _restype
    _fn.argtypes = _argtypes


def vm_session_start(self, vm, name, argv, env=None, cwd=None, stdin_mode=None, require=None,
                     pty=None, rows=None, cols=None):
    """Starts a session in VM VM; returns its record (see bgr_vm_session_to_json()).

    The guest agent owns it: it outlives this client and bangerd. ENV: dict
    or list of "KEY=VALUE"; CWD; STDIN_MODE: "detached" (default) or "pipe"
    (attachable); REQUIRE: commands that must be in the guest's PATH; PTY:
    on a pseudo-terminal of ROWS x COLS (default 24x80), its output all on
    stdout (attach with vm_session_attach_terminal). A failed check raises
    BangerError naming it and starts nothing."""
    if isinstance(env, dict):
        env = ["%s=%s" % kv for kv in env.items()]
    argv_c = _strv([a.decode() if isinstance(a, bytes) else a for a in argv])
    spec = _Object(_lib.bgr_session_spec_new(_enc(name), ctypes.cast(argv_c, _p)))
    _options(spec, {"env": list(env) if env is not None else None, "cwd": cwd,
                    "stdin_mode": stdin_mode,
                    "require": list(require) if require is not None else None,
                    "pty": pty, "rows": rows, "cols": cols})
    err = _GErrorP()
    return self._record(_lib.bgr_client_vm_session_start(self._ptr, _enc(vm), spec._ptr, None,
                                                         ctypes.byref(err)),
                        err, _lib.bgr_vm_session_to_json)


def vm_session_list(self, vm):
    """The VM's sessions, running and exited: a list of records."""
    err = _GErrorP()
    return self._records(_lib.bgr_client_vm_session_list(self._ptr, _enc(vm), None,
                                                         ctypes.byref(err)),
                         err, _lib.bgr_vm_session_to_json)


def vm_session_get(self, vm, name):
    err = _GErrorP()
    return self._record(_lib.bgr_client_vm_session_get(self._ptr, _enc(vm), _enc(name), None,
                                                       ctypes.byref(err)),
                        err, _lib.bgr_vm_session_to_json)


def vm_session_stop(self, vm, name):
    """SIGTERM, then SIGKILL 10 s later; returns the exited session's record."""
    err = _GErrorP()
    return self._record(_lib.bgr_client_vm_session_stop(self._ptr, _enc(vm), _enc(name), None,
                                                        ctypes.byref(err)),
                        err, _lib.bgr_vm_session_to_json)


def vm_session_kill(self, vm, name):
    """SIGKILL; returns the exited session's record."""
    err = _GErrorP()
    return self._record(_lib.bgr_client_vm_session_kill(self._ptr, _enc(vm), _enc(name), None,
                                                        ctypes.byref(err)),
                        err, _lib.bgr_vm_session_to_json)


def vm_session_logs(self, vm, name, stream="stdout", tail=0, follow=False, output=None,
                    detach=None):
    """A session's spooled output (bytes): STREAM "stdout" or "stderr", the
    last TAIL lines when not 0; FOLLOW: until the session exits (or
    DETACH, a Detach, is detached). OUTPUT: a fd or file to stream it to
    instead (None is then returned)."""
    streams = {"stdout": 1, "stderr": 2}
    if stream not in streams:
        raise ValueError("stream must be 'stdout' or 'stderr'")
    out = _Collect(output)
    err = _GErrorP()
    try:
        ok = _lib.bgr_client_vm_session_logs(self._ptr, _enc(vm), _enc(name), streams[stream],
                                             tail, 1 if follow else 0, out.fd,
                                             detach._ptr if detach else None, ctypes.byref(err))
    finally:
        data = out.result()
    _check(ok, err)
    return data


def vm_session_attach(self, vm, name, input=None, stdout=None, stderr=None, detach=None):
    """Attaches to a pipe-mode session; returns (status, stdout, stderr).

    INPUT: bytes written to its stdin, whose end then closes the
    session's stdin (None: nothing is written, stdin stays open). Its new
    output is collected as bytes, or streamed to STDOUT/STDERR (a fd or a
    file; that one is then None). STATUS: the exit status when the
    session ended, None when DETACH (a Detach) detached. A session someone
    else is attached to raises BangerError BUSY naming them."""
    def call(in_r, outs, status, cancellable, err):
        return _lib.bgr_client_vm_session_attach(self._ptr, _enc(vm), _enc(name), in_r,
                                                 outs[0].fd, outs[1].fd, status, cancellable, err)
    return _attach(call, input, [_Collect(stdout), _Collect(stderr)], detach)


def vm_session_attach_terminal(self, vm, name, input=None, stdout=None, resize_fd=-1,
                               detach=None):
    """vm_session_attach() for a session started with pty=True; returns
    (status, stdout). Each "ROWS COLS\\n" line written to RESIZE_FD (a fd
    this call reads) while attached resizes the session's terminal."""
    def call(in_r, outs, status, cancellable, err):
        return _lib.bgr_client_vm_session_attach_terminal(self._ptr, _enc(vm), _enc(name), in_r,
                                                          outs[0].fd, resize_fd, status,
                                                          cancellable, err)
    status, out, _ = _attach(call, input, [_Collect(stdout)], detach)
    return status, out


def _attach(call, input, outs, detach):
    """Feeds INPUT to CALL's stdin from a thread, collects OUTS; DETACH (a
    Detach or None) detaches."""
    in_r = in_w = -1
    feeder = None
    if input is not None:
        in_r, in_w = os.pipe()

        def feed():
            try:
                view = memoryview(input)
                while view:
                    view = view[os.write(in_w, view):]
            except OSError:
                pass
            finally:
                os.close(in_w)
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
    status = ctypes.c_int(-1)
    err = _GErrorP()
    try:
        ok = call(in_r, outs, ctypes.byref(status), detach._ptr if detach else None,
                  ctypes.byref(err))
    finally:
        if feeder is not None:
            os.close(in_r)
            feeder.join()
        data = [o.result() for o in outs] + [None]
    _check(ok, err)
    return (status.value if status.value >= 0 else None), data[0], data[1]


def add_to(client_class):
    for fn in (vm_session_start, vm_session_list, vm_session_get, vm_session_stop, vm_session_kill,
               vm_session_logs, vm_session_attach, vm_session_attach_terminal):
        setattr(client_class, fn.__name__, fn)
