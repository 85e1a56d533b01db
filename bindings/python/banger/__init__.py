# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python bindings for libbanger, through ctypes.

    import banger
    print(banger.version())
    cfg = banger.Config.load()             # $XDG_CONFIG_HOME/banger/config.toml
    print(cfg["cidr"], cfg.source("cidr"))
    report = banger.doctor()               # host checks, as a dict
    client = banger.Client.dbus()          # or banger.Client.local(cfg)
    print(client.daemon_info()["pid"])
    vm = client.vm_create("dev", image="bb", memory_mib=512,   # options are keywords
                          progress=lambda p: print(p.phase, p.done, p.total))
    status, out, err = client.vm_exec("dev", ["uname", "-r"])

Every libbanger error is raised as banger.BangerError, carrying the GError
domain, code, code name and message.
"""

import collections
import contextlib
import ctypes
import ctypes.util
import json
import os
import threading
import warnings

__all__ = [
    "BangerError", "Config", "Client", "ErrorCode", "Operation", "Progress", "version",
    "version_info", "doctor", "parse_duration",
]


def _load_library():
    candidates = []
    if os.environ.get("BANGER_LIBRARY"):
        candidates.append(os.environ["BANGER_LIBRARY"])
    candidates.append("libbanger.so.1")
    found = ctypes.util.find_library("banger")
    if found:
        candidates.append(found)
    last = None
    for name in candidates:
        try:
            return ctypes.CDLL(name)
        except OSError as exc:  # try the next candidate
            last = exc
    raise ImportError("cannot load libbanger (set BANGER_LIBRARY): %s" % last)


_lib = _load_library()
_glib = ctypes.CDLL("libglib-2.0.so.0")
_gobject = ctypes.CDLL("libgobject-2.0.so.0")
_gio = ctypes.CDLL("libgio-2.0.so.0")
_gio.g_cancellable_new.restype = ctypes.c_void_p
_gio.g_cancellable_new.argtypes = []
_gio.g_cancellable_cancel.restype = None
_gio.g_cancellable_cancel.argtypes = [ctypes.c_void_p]


class _GError(ctypes.Structure):
    _fields_ = [("domain", ctypes.c_uint32), ("code", ctypes.c_int),
                ("message", ctypes.c_char_p)]


_GErrorP = ctypes.POINTER(_GError)
_p = ctypes.c_void_p
_s = ctypes.c_char_p

_glib.g_free.argtypes = [_p]
_glib.g_free.restype = None
_glib.g_error_free.argtypes = [_GErrorP]
_glib.g_error_free.restype = None
_glib.g_quark_to_string.argtypes = [ctypes.c_uint32]
_glib.g_quark_to_string.restype = _s
_glib.g_strfreev.argtypes = [_p]
_glib.g_strfreev.restype = None
_glib.g_ptr_array_unref.argtypes = [_p]
_glib.g_ptr_array_unref.restype = None
_glib.g_bytes_get_data.argtypes = [_p, ctypes.POINTER(ctypes.c_size_t)]
_glib.g_bytes_get_data.restype = _p
_glib.g_bytes_unref.argtypes = [_p]
_glib.g_bytes_unref.restype = None


class _GPtrArray(ctypes.Structure):
    _fields_ = [("pdata", ctypes.POINTER(ctypes.c_void_p)), ("len", ctypes.c_uint)]
_gobject.g_object_unref.argtypes = [_p]
_gobject.g_object_unref.restype = None

# (name, restype, argtypes); the table is checked against the C headers by
# the test suite, so a signature change fails the build.
_SIGNATURES = [
    ("bgr_error_quark", ctypes.c_uint32, []),
    ("bgr_error_code_to_name", _s, [ctypes.c_int]),
    ("bgr_error_code_to_exit_status", ctypes.c_int, [ctypes.c_int]),
    ("bgr_get_version_string", _s, []),
    ("bgr_get_major_version", ctypes.c_uint, []),
    ("bgr_get_minor_version", ctypes.c_uint, []),
    ("bgr_get_micro_version", ctypes.c_uint, []),
    ("bgr_parse_duration", ctypes.c_int, [_s, ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(_GErrorP)]),
    ("bgr_config_new_default", _p, []),
    ("bgr_config_load", _p, [_s, ctypes.POINTER(_GErrorP)]),
    ("bgr_config_load_full", _p, [_s, ctypes.c_int, ctypes.POINTER(_GErrorP)]),
    ("bgr_config_dup_default_path_full", _p, [ctypes.c_int]),
    ("bgr_config_load_from_data", _p, [_s, ctypes.c_ssize_t, _s, ctypes.POINTER(_GErrorP)]),
    ("bgr_config_dup_default_path", _p, []),
    ("bgr_config_get_path", _s, [_p]),
    ("bgr_config_get_string", _s, [_p, _s]),
    ("bgr_config_get_source", _s, [_p, _s]),
    ("bgr_config_to_json", _p, [_p]),
    ("bgr_config_ensure_ssh_key", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_doctor_run", _p, [_s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_doctor_run_for_config", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_doctor_report_to_json", _p, [_p]),
    ("bgr_daemon_info_to_json", _p, [_p]),
    ("bgr_client_new_local", _p, [_p, ctypes.c_int, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_new_dbus", _p, [ctypes.c_int, ctypes.c_int, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_new_dbus_for_address", _p, [_s, ctypes.c_int, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_is_local", ctypes.c_int, [_p]),
    ("bgr_client_get_config", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_get_daemon_info", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_stop_daemon", ctypes.c_int, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_ensure_ssh_key", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_web_login_url", _p, [_p, ctypes.POINTER(_p), _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_doctor", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_kernel_to_json", _p, [_p]),
    ("bgr_image_to_json", _p, [_p]),
    ("bgr_catalog_kernel_to_json", _p, [_p]),
    ("bgr_cache_blob_to_json", _p, [_p]),
    ("bgr_vm_to_json", _p, [_p]),
    ("bgr_vm_port_to_json", _p, [_p]),
    ("bgr_vm_stats_to_json", _p, [_p]),
    ("bgr_vm_forward_to_json", _p, [_p]),
    # Options objects (bgr-options.h).
    ("bgr_options_set_json", ctypes.c_int, [_p, _s, _s, ctypes.POINTER(_GErrorP)]),
    ("bgr_vm_spec_new", _p, [_s]),
    ("bgr_pull_options_new", _p, []),
    ("bgr_build_options_new", _p, [_s]),
    ("bgr_exec_spec_new", _p, [_p]),
    ("bgr_exec_spec_set_stdio", None, [_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]),
    ("bgr_exec_spec_set_resize_fd", None, [_p, ctypes.c_int]),
    ("bgr_image_spec_new", _p, [_s]),
    ("bgr_kernel_spec_new", _p, [_s]),
    # Operations (bgr-operation.h).
    ("bgr_operation_new", _p, []),
    ("bgr_operation_dup_phase", _p, [_p]),
    ("bgr_operation_dup_message", _p, [_p]),
    ("bgr_operation_get_done", ctypes.c_uint64, [_p]),
    ("bgr_operation_get_total", ctypes.c_uint64, [_p]),
    ("bgr_operation_get_fraction", ctypes.c_double, [_p]),
    ("bgr_operation_dup_object_path", _p, [_p]),
    ("bgr_operation_cancel", None, [_p]),
    ("bgr_operation_is_cancelled", ctypes.c_int, [_p]),
    # Kernels.
    ("bgr_client_kernel_import", _p, [_p, _p, _p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_kernel_list", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_kernel_get", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_kernel_delete", ctypes.c_int, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_kernel_list_available", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_kernel_pull", _p, [_p, _s, _p, _p, ctypes.POINTER(_GErrorP)]),
    # Images.
    ("bgr_client_image_register", _p, [_p, _p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_image_list", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_image_get", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_image_delete", ctypes.c_int, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_image_promote", _p, [_p, _s, _p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_image_pull", _p, [_p, _s, _p, _p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_image_build", _p, [_p, _s, _p, _p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_image_cache_list", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_image_cache_prune", ctypes.c_int, [_p, ctypes.POINTER(ctypes.c_uint64),
                                                    ctypes.POINTER(ctypes.c_uint), _p, ctypes.POINTER(_GErrorP)]),
    # VMs.
    ("bgr_client_vm_create", _p, [_p, _p, _p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_start", _p, [_p, _s, _p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_stop", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_kill", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_delete", ctypes.c_int, [_p, _s, ctypes.c_int, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_list", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_get", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_logs", _p, [_p, _s, ctypes.c_uint64, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_ports", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_stats", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_exec", ctypes.c_int, [_p, _s, _p, ctypes.POINTER(ctypes.c_int), _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_proxy", ctypes.c_int, [_p, _s, _s, ctypes.c_uint, ctypes.c_int, ctypes.c_int, _p,
                                           ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_forward_add", _p, [_p, _s, _s, ctypes.c_uint, ctypes.c_uint, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_forward_remove", ctypes.c_int, [_p, _s, _s, ctypes.c_uint, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_forward_list", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_ssh_prepare", _p, [_p, _s, ctypes.c_uint, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_acp", ctypes.c_int, [_p, _s, _s, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                         ctypes.POINTER(ctypes.c_int), _p, ctypes.POINTER(_GErrorP)]),
]

for _name, _restype, _argtypes in _SIGNATURES:
    _fn = getattr(_lib, _name)
    _fn.restype = _restype
    _fn.argtypes = _argtypes

# Registers BGR_ERROR's D-Bus error names before any call can fail.
_BGR_ERROR_QUARK = _lib.bgr_error_quark()


class ErrorCode:
    """BGR_ERROR codes (docs/errors.md)."""
    FAILED = 0
    INVALID_ARGUMENT = 1
    NOT_FOUND = 2
    EXISTS = 3
    INVALID_CONFIG = 4
    LOCKED = 5
    CORRUPT = 6
    NOT_SUPPORTED = 7
    PERMISSION_DENIED = 8
    IO = 9
    NETWORK = 10
    CANCELLED = 11
    DAEMON_UNAVAILABLE = 12
    TIMED_OUT = 13
    INVALID_DATA = 14
    NOTHING_TO_DO = 15
    BUSY = 16
    NO_SPACE = 17
    PROTOCOL = 18


class BangerError(Exception):
    """A libbanger GError: .domain (e.g. "bgr-error-quark"), .code, .name, .message."""

    def __init__(self, domain, code, message):
        self.domain = domain
        self.code = code
        self.message = message
        if domain == "bgr-error-quark":
            self.name = _lib.bgr_error_code_to_name(code).decode()
        else:
            self.name = "Unknown"
        super().__init__("%s (%s)" % (message, self.name))


def _check(result, err):
    if err:
        e = err.contents
        exc = BangerError(_glib.g_quark_to_string(e.domain).decode(), e.code,
                          e.message.decode("utf-8", "replace"))
        _glib.g_error_free(err)
        raise exc
    return result


def _enc(s):
    return s.encode() if s is not None else None


def _take_string(ptr):
    """Decodes and frees an owned gchar*."""
    if not ptr:
        return None
    try:
        return ctypes.cast(ptr, ctypes.c_char_p).value.decode("utf-8", "replace")
    finally:
        _glib.g_free(ptr)


class _Object:
    """Owns one GObject reference."""

    def __init__(self, ptr):
        self._ptr = ptr

    def __del__(self):
        if getattr(self, "_ptr", None):
            _gobject.g_object_unref(self._ptr)
            self._ptr = None


def version():
    """The version of the loaded libbanger, e.g. "0.2.0"."""
    return _lib.bgr_get_version_string().decode()


def version_info():
    """(major, minor, micro) of the loaded libbanger."""
    return (_lib.bgr_get_major_version(), _lib.bgr_get_minor_version(),
            _lib.bgr_get_micro_version())


def parse_duration(text):
    """Parses a config duration ("30m", "1h30m", "0") into milliseconds."""
    out = ctypes.c_int64()
    err = _GErrorP()
    ok = _lib.bgr_parse_duration(text.encode(), ctypes.byref(out), ctypes.byref(err))
    _check(ok, err)
    return out.value


_CONFIG_FLAGS_SYSTEM = 1


class Config(_Object):
    """banger's effective configuration; values remember where they came from."""

    @classmethod
    def default(cls):
        return cls(_lib.bgr_config_new_default())

    @classmethod
    def load(cls, path=None, system=False):
        """Loads PATH, or the default file when None: $XDG_CONFIG_HOME/banger/config.toml,
        or with system=True /etc/banger/config.toml (system-wide defaults, as bangerd --system)."""
        err = _GErrorP()
        ptr = _lib.bgr_config_load_full(path.encode() if path else None,
                                        _CONFIG_FLAGS_SYSTEM if system else 0, ctypes.byref(err))
        return cls(_check(ptr, err))

    @classmethod
    def from_string(cls, text, filename="config.toml"):
        data = text.encode()
        err = _GErrorP()
        ptr = _lib.bgr_config_load_from_data(data, len(data), filename.encode(), ctypes.byref(err))
        return cls(_check(ptr, err))

    @staticmethod
    def default_path(system=False):
        return _take_string(_lib.bgr_config_dup_default_path_full(
            _CONFIG_FLAGS_SYSTEM if system else 0))

    @property
    def path(self):
        p = _lib.bgr_config_get_path(self._ptr)
        return p.decode() if p is not None else None

    def __getitem__(self, key):
        v = _lib.bgr_config_get_string(self._ptr, key.encode())
        if v is None:
            raise KeyError(key)
        return v.decode()

    def source(self, key):
        """ "default" or "FILE:LINE"."""
        v = _lib.bgr_config_get_source(self._ptr, key.encode())
        if v is None:
            raise KeyError(key)
        return v.decode()

    def to_dict(self):
        """{key: {"value", "source", "description"}} plus the file in "path"."""
        doc = json.loads(_take_string(_lib.bgr_config_to_json(self._ptr)))
        return doc

    def keys(self):
        return [e["key"] for e in self.to_dict()["keys"]]

    def ensure_ssh_key(self):
        err = _GErrorP()
        return _take_string(_check(_lib.bgr_config_ensure_ssh_key(self._ptr, None, ctypes.byref(err)), err))


def doctor(config_path=None, config=None):
    """Checks this host in-process against CONFIG_PATH (or the default file), or against
    a Config object; returns the report as a dict
    {"ok", "hypervisor", "checks": [{"name", "status", "message", "fix"}]}."""
    err = _GErrorP()
    if config is not None:
        ptr = _lib.bgr_doctor_run_for_config(config._ptr, None, ctypes.byref(err))
    else:
        ptr = _lib.bgr_doctor_run(config_path.encode() if config_path else None, None,
                                  ctypes.byref(err))
    report = _Object(_check(ptr, err))
    return json.loads(_take_string(_lib.bgr_doctor_report_to_json(report._ptr)))


# ---- options and operations ----------------------------------------------

_gobject.g_signal_connect_data.argtypes = [_p, _s, _p, _p, _p, ctypes.c_int]
_gobject.g_signal_connect_data.restype = ctypes.c_ulong
_gobject.g_signal_handler_disconnect.argtypes = [_p, ctypes.c_ulong]
_gobject.g_signal_handler_disconnect.restype = None

# void (*) (BgrOperation *self, gpointer user_data): BgrOperation::changed
_CHANGED_FUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


def _options(obj, options):
    """Sets each keyword of OPTIONS on the options object OBJ (an _Object)
    through bgr_options_set_json(): "memory_mib" is the key "memory-mib", None
    unsets a key. An unknown key or a value of the wrong type raises the
    library's BangerError INVALID_ARGUMENT, which names the key."""
    for key, value in options.items():
        err = _GErrorP()
        _check(_lib.bgr_options_set_json(obj._ptr, key.replace("_", "-").encode(),
                                         json.dumps(value).encode(), ctypes.byref(err)), err)
    return obj


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


def _strv(items):
    """A NULL-terminated char** for ITEMS (kept alive by the returned array)."""
    if items is None:
        return None
    arr = (ctypes.c_char_p * (len(items) + 1))()
    for i, item in enumerate(items):
        arr[i] = item.encode() if isinstance(item, str) else item
    arr[len(items)] = None
    return arr


_G_BUS_TYPE_SYSTEM = 1
_G_BUS_TYPE_SESSION = 2
_VM_DELETE_FLAGS_FORCE = 1


def _deprecated(old, new):
    """Client.OLD, a deprecated alias of Client.NEW (same arguments)."""
    def alias(self, *args, **kwargs):
        warnings.warn("Client.%s is deprecated, use Client.%s" % (old, new),
                      DeprecationWarning, stacklevel=2)
        return getattr(self, new)(*args, **kwargs)
    alias.__name__ = old
    alias.__doc__ = "Deprecated alias of %s()." % new
    return alias


class Client(_Object):
    """The same API in-process (Client.local) or through bangerd (Client.dbus).

    Methods are named noun_verb like the C calls (vm_create for
    bgr_client_vm_create). Options are keyword arguments, set by name on the
    call's options object: memory_mib is the key "memory-mib"; an unknown one
    raises BangerError INVALID_ARGUMENT naming it. Long calls take
    progress=f(Progress) (called in the calling thread) and operation=Operation()
    (to cancel from another thread). Records come back as dicts, the same as
    the CLI's --json."""

    @classmethod
    def local(cls, config=None):
        """Runs the engine in this process; holds the state directory's lock."""
        config = config or Config.load()
        err = _GErrorP()
        return cls(_check(_lib.bgr_client_new_local(config._ptr, 0, ctypes.byref(err)), err))

    @classmethod
    def dbus(cls, system=False):
        err = _GErrorP()
        bus = _G_BUS_TYPE_SYSTEM if system else _G_BUS_TYPE_SESSION
        return cls(_check(_lib.bgr_client_new_dbus(bus, 0, None, ctypes.byref(err)), err))

    @classmethod
    def dbus_address(cls, address):
        err = _GErrorP()
        return cls(_check(_lib.bgr_client_new_dbus_for_address(address.encode(), 0, None,
                                                               ctypes.byref(err)), err))

    @property
    def is_local(self):
        return bool(_lib.bgr_client_is_local(self._ptr))

    def config(self):
        err = _GErrorP()
        return Config(_check(_lib.bgr_client_get_config(self._ptr, None, ctypes.byref(err)), err))

    def daemon_info(self):
        """{"pid", "version", "bus", "state_dir", "web_ui_address", "uptime_seconds"}"""
        err = _GErrorP()
        info = _Object(_check(_lib.bgr_client_get_daemon_info(self._ptr, None, ctypes.byref(err)), err))
        return json.loads(_take_string(_lib.bgr_daemon_info_to_json(info._ptr)))

    def doctor(self):
        err = _GErrorP()
        report = _Object(_check(_lib.bgr_client_doctor(self._ptr, None, ctypes.byref(err)), err))
        return json.loads(_take_string(_lib.bgr_doctor_report_to_json(report._ptr)))

    def ensure_ssh_key(self):
        err = _GErrorP()
        return _take_string(_check(_lib.bgr_client_ensure_ssh_key(self._ptr, None, ctypes.byref(err)), err))

    def web_login_url(self):
        """(url, login_url): bangerd's web UI and a URL that logs a browser
        in to it once, within a minute (experimental; docs/web.md)."""
        err = _GErrorP()
        url = _p()
        login = _check(_lib.bgr_client_web_login_url(self._ptr, ctypes.byref(url), None,
                                                     ctypes.byref(err)), err)
        return _take_string(url.value), _take_string(login)

    def stop_daemon(self):
        err = _GErrorP()
        _check(_lib.bgr_client_stop_daemon(self._ptr, None, ctypes.byref(err)), err)

    def close(self):
        """Releases the client now (a local client frees its state lock)."""
        self.__del__()

    def _record(self, ptr, err, to_json):
        obj = _Object(_check(ptr, err))
        return json.loads(_take_string(to_json(obj._ptr)))

    def _records(self, ptr, err, to_json):
        array = _check(ptr, err)
        try:
            arr = ctypes.cast(array, ctypes.POINTER(_GPtrArray)).contents
            return [json.loads(_take_string(to_json(arr.pdata[i]))) for i in range(arr.len)]
        finally:
            _glib.g_ptr_array_unref(array)

    # ---- kernels ----

    def kernel_import(self, name=None, progress=None, operation=None, **options):
        """Imports a kernel into banger's state; returns its record.

        Keywords (BgrKernelSpec): kernel (a vmlinux or bzImage), modules (a
        modules tree; with virtio as modules and no initrd an initramfs is
        generated), initrd, deb (a linux-image-*.deb instead of files; NAME
        unset: the package's version). Paths are absolute."""
        spec = _options(_Object(_lib.bgr_kernel_spec_new(_enc(name))), options)
        err = _GErrorP()
        with _operation(progress, operation) as op:
            ptr = _lib.bgr_client_kernel_import(self._ptr, spec._ptr, op, None, ctypes.byref(err))
            return self._record(ptr, err, _lib.bgr_kernel_to_json)

    def kernel_list(self):
        err = _GErrorP()
        return self._records(_lib.bgr_client_kernel_list(self._ptr, None, ctypes.byref(err)), err,
                             _lib.bgr_kernel_to_json)

    def kernel_get(self, name):
        err = _GErrorP()
        ptr = _lib.bgr_client_kernel_get(self._ptr, _enc(name), None, ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_kernel_to_json)

    def kernel_delete(self, name):
        err = _GErrorP()
        _check(_lib.bgr_client_kernel_delete(self._ptr, _enc(name), None, ctypes.byref(err)), err)

    def kernel_list_available(self):
        """What the kernel catalog offers (kernel_catalog_url, or the built-in one)."""
        err = _GErrorP()
        return self._records(_lib.bgr_client_kernel_list_available(self._ptr, None,
                                                                   ctypes.byref(err)),
                             err, _lib.bgr_catalog_kernel_to_json)

    def kernel_pull(self, name, progress=None, operation=None):
        """Downloads and imports catalog kernel NAME. PROGRESS gets phase
        "download" and done/total in bytes."""
        err = _GErrorP()
        with _operation(progress, operation) as op:
            ptr = _lib.bgr_client_kernel_pull(self._ptr, _enc(name), op, None, ctypes.byref(err))
            return self._record(ptr, err, _lib.bgr_kernel_to_json)

    # ---- images ----

    def image_register(self, name, **options):
        """Registers an image from your own files; returns its record.

        Keywords (BgrImageSpec): rootfs (required), work_seed, kernel (a kernel
        file), kernel_ref (a managed kernel instead of files), initrd, modules.
        Paths are absolute."""
        spec = _options(_Object(_lib.bgr_image_spec_new(_enc(name))), options)
        err = _GErrorP()
        ptr = _lib.bgr_client_image_register(self._ptr, spec._ptr, None, ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_image_to_json)

    def image_list(self):
        err = _GErrorP()
        return self._records(_lib.bgr_client_image_list(self._ptr, None, ctypes.byref(err)), err,
                             _lib.bgr_image_to_json)

    def image_get(self, name):
        err = _GErrorP()
        ptr = _lib.bgr_client_image_get(self._ptr, _enc(name), None, ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_image_to_json)

    def image_delete(self, name):
        err = _GErrorP()
        _check(_lib.bgr_client_image_delete(self._ptr, _enc(name), None, ctypes.byref(err)), err)

    def image_promote(self, name, progress=None, operation=None):
        """Copies an unmanaged image's files into banger's state."""
        err = _GErrorP()
        with _operation(progress, operation) as op:
            ptr = _lib.bgr_client_image_promote(self._ptr, _enc(name), op, None, ctypes.byref(err))
            return self._record(ptr, err, _lib.bgr_image_to_json)

    def image_pull(self, reference, progress=None, operation=None, **options):
        """Pulls REFERENCE from an OCI registry into a new managed image (see
        docs/images.md). PROGRESS gets phase "pulling", message "layer I of N"
        and done/total in bytes over all layers.

        Keywords (BgrPullOptions): name (unset: derived from the reference),
        kernel (a managed kernel to boot it with; unset: default_kernel),
        platform (e.g. "linux/amd64"), size (the ext4 image's size in bytes;
        0: from the content), insecure (allow plain http to a registry not on
        loopback)."""
        opts = _options(_Object(_lib.bgr_pull_options_new()), options)
        err = _GErrorP()
        with _operation(progress, operation) as op:
            ptr = _lib.bgr_client_image_pull(self._ptr, _enc(reference), opts._ptr, op, None,
                                             ctypes.byref(err))
            return self._record(ptr, err, _lib.bgr_image_to_json)

    def image_build(self, name, progress=None, operation=None, **options):
        """Builds the managed image NAME: boots a VM from the image `from_`
        (a keyword: `from` is Python's), runs each command of `run` (a list
        of shell commands) in it, stops it and keeps its disks (see
        docs/images.md). PROGRESS gets the build VM's boot phases, then phase
        "run" with message "step I/N: CMD". A failing command raises
        BangerError FAILED naming the step and its exit status; nothing is
        left behind.

        Keywords (BgrBuildOptions): from_, run, vcpus, memory_mib, disk_size."""
        if "from_" in options:
            options["from"] = options.pop("from_")
        opts = _options(_Object(_lib.bgr_build_options_new(None)), options)
        err = _GErrorP()
        with _operation(progress, operation) as op:
            ptr = _lib.bgr_client_image_build(self._ptr, _enc(name), opts._ptr, op, None,
                                              ctypes.byref(err))
            return self._record(ptr, err, _lib.bgr_image_to_json)

    def image_cache_list(self):
        """The layer cache, partial downloads and VM bases: [{"name", "category" ("blob",
        "partial" or "vm-base"), "digest", "path", "size", "images", "in_use"}]."""
        err = _GErrorP()
        return self._records(_lib.bgr_client_image_cache_list(self._ptr, None, ctypes.byref(err)),
                             err, _lib.bgr_cache_blob_to_json)

    def image_cache_prune(self):
        """Removes unused layer blobs; returns (blobs removed, bytes freed)."""
        err = _GErrorP()
        freed = ctypes.c_uint64()
        removed = ctypes.c_uint()
        _check(_lib.bgr_client_image_cache_prune(self._ptr, ctypes.byref(freed), ctypes.byref(removed),
                                                 None, ctypes.byref(err)), err)
        return removed.value, freed.value

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

    # Deprecated names of 0.1 whose arguments did not change.
    kernels = _deprecated("kernels", "kernel_list")
    kernel = _deprecated("kernel", "kernel_get")
    delete_kernel = _deprecated("delete_kernel", "kernel_delete")
    available_kernels = _deprecated("available_kernels", "kernel_list_available")
    images = _deprecated("images", "image_list")
    image = _deprecated("image", "image_get")
    delete_image = _deprecated("delete_image", "image_delete")
    image_cache = _deprecated("image_cache", "image_cache_list")
    prune_image_cache = _deprecated("prune_image_cache", "image_cache_prune")
    stop_vm = _deprecated("stop_vm", "vm_stop")
    kill_vm = _deprecated("kill_vm", "vm_kill")
    delete_vm = _deprecated("delete_vm", "vm_delete")
    vms = _deprecated("vms", "vm_list")
    vm = _deprecated("vm", "vm_get")



# Workspaces and vm cp (banger/_workspace.py).
from . import _workspace  # noqa: E402 - needs the names above

_workspace.add_to(Client)

# Sessions (banger/_sessions.py).
from . import _sessions  # noqa: E402 - needs the names above

_sessions.add_to(Client)
