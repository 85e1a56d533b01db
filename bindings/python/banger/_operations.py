# SPDX-License-Identifier: LGPL-2.1-or-later
"""Long calls: progress (Progress, Operation), cancellation (Operation,
Detach) and the output of a call collected or streamed (_Collect)."""

import collections
import contextlib
import ctypes
import os
import threading

from ._convert import _Object, _take_string
from ._errors import BangerError
from ._ffi import _gio, _gobject, _lib, _p, _s

_gobject.g_signal_connect_data.argtypes = [_p, _s, _p, _p, _p, ctypes.c_int]
_gobject.g_signal_connect_data.restype = ctypes.c_ulong
_gobject.g_signal_handler_disconnect.argtypes = [_p, ctypes.c_ulong]
_gobject.g_signal_handler_disconnect.restype = None

# void (*) (BgrOperation *self, gpointer user_data): BgrOperation::changed
_CHANGED_FUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


Progress = collections.namedtuple("Progress", "phase message done total fraction")
Progress.__doc__ = """Where a long call is: PHASE ("download", "pulling", a VM boot phase...),
MESSAGE (e.g. "layer 1 of 2"), DONE of TOTAL units (bytes for transfers, steps
for VM boots; TOTAL 0: unknown) and FRACTION (0.0 to 1.0)."""


def _progress_of(ptr):
    return Progress(_take_string(_lib.bgr_operation_dup_phase(ptr)),
                    _take_string(_lib.bgr_operation_dup_message(ptr)),
                    _lib.bgr_operation_get_done(ptr), _lib.bgr_operation_get_total(ptr),
                    _lib.bgr_operation_get_fraction(ptr))


class Detach:
    """Ends an attach (vm_session_attach) or a follow (vm_session_logs with
    follow=True) from another thread: pass it as detach=, call detach().
    The session keeps running. One Detach serves one call."""

    def __init__(self):
        self._ptr = _gio.g_cancellable_new()

    def detach(self):
        _gio.g_cancellable_cancel(self._ptr)

    def __del__(self):
        if getattr(self, "_ptr", None):
            _gobject.g_object_unref(self._ptr)
            self._ptr = None


class _Collect:
    """The descriptor an output goes to: TARGET's (a fd or a file with
    fileno(), streamed), or a pipe drained into bytes by a thread."""

    def __init__(self, target):
        self.chunks, self.read_end, self.thread = [], None, None
        if target is not None:
            self.fd = target if isinstance(target, int) else target.fileno()
            return
        self.read_end, self.fd = os.pipe()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        while True:
            b = os.read(self.read_end, 65536)
            if not b:
                break
            self.chunks.append(b)

    def result(self):
        """Closes the pipe; the bytes collected (None when streamed)."""
        if self.read_end is None:
            return None
        os.close(self.fd)
        self.thread.join()
        os.close(self.read_end)
        return b"".join(self.chunks)


class Operation:
    """The progress and cancellation of one long call (a BgrOperation).

    Pass it as operation= to a call that takes progress= (kernel_import,
    kernel_pull, image_promote, image_pull, vm_create, vm_start), and call
    cancel() from another thread: the call then raises BangerError CANCELLED
    and leaves nothing behind. cancel() before the call makes it fail at once.

    The BgrOperation is made when the call starts, in the thread that makes
    the call (where libbanger emits its progress), so an Operation may be
    created in any thread. One Operation serves one call at a time."""

    def __init__(self):
        self._lock = threading.Lock()
        self._op = None
        self._cancelled = False
        self._last = None

    def cancel(self):
        """Asks the call to stop (thread-safe)."""
        with self._lock:
            self._cancelled = True
            op = self._op
        if op is not None:
            _lib.bgr_operation_cancel(op._ptr)

    @property
    def cancelled(self):
        return self._cancelled

    @property
    def progress(self):
        """The latest Progress of the call (None before it started)."""
        with self._lock:
            op = self._op
        return _progress_of(op._ptr) if op is not None else self._last

    @property
    def object_path(self):
        """Through D-Bus, the daemon's operation object (None otherwise or before it is known)."""
        with self._lock:
            op = self._op
        return _take_string(_lib.bgr_operation_dup_object_path(op._ptr)) if op is not None else None

    def _bind(self, op):
        with self._lock:
            if self._op is not None:
                raise RuntimeError("this Operation is already in use by another call")
            self._op = op
            cancelled = self._cancelled
        if cancelled:
            _lib.bgr_operation_cancel(op._ptr)

    def _unbind(self):
        with self._lock:
            op, self._op = self._op, None
        if op is not None:
            self._last = _progress_of(op._ptr)


@contextlib.contextmanager
def _operation(progress, operation):
    """Yields the BgrOperation pointer for one call (None when neither
    PROGRESS nor OPERATION is given). PROGRESS(Progress) is called on every
    BgrOperation::changed, in this thread; an exception it raises cancels the
    call and is raised in place of the call's result."""
    if progress is None and operation is None:
        yield None
        return
    op = _Object(_lib.bgr_operation_new())
    failure = []
    handler = 0
    callback = None
    if progress is not None:
        def changed(_self, _data):
            if failure:
                return
            try:
                progress(_progress_of(op._ptr))
            except BaseException as exc:  # noqa: BLE001 - raised after the call
                failure.append(exc)
                _lib.bgr_operation_cancel(op._ptr)
        callback = _CHANGED_FUNC(changed)  # alive until disconnected below
        handler = _gobject.g_signal_connect_data(op._ptr, b"changed",
                                                 ctypes.cast(callback, _p), None, None, 0)
    if operation is not None:
        operation._bind(op)
    try:
        yield op._ptr
    except BangerError as exc:
        if failure:
            raise failure[0] from exc
        raise
    finally:
        if handler:
            # A change queued for later must not reach a freed callback.
            _gobject.g_signal_handler_disconnect(op._ptr, handler)
        if operation is not None:
            operation._unbind()
        del callback
    if failure:
        raise failure[0]
