# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python bindings for libbanger, through ctypes.

    import banger
    print(banger.version())
    cfg = banger.Config.load()             # $XDG_CONFIG_HOME/banger/config.toml
    print(cfg["cidr"], cfg.source("cidr"))
    report = banger.doctor()               # host checks, as a dict
    client = banger.Client.dbus()          # or banger.Client.local(cfg)
    print(client.daemon_info()["pid"])

Every libbanger error is raised as banger.BangerError, carrying the GError
domain, code, code name and message.
"""

import ctypes
import ctypes.util
import json
import os

__all__ = [
    "BangerError", "Config", "Client", "ErrorCode", "version", "version_info",
    "doctor", "parse_duration",
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
    ("bgr_client_doctor", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_kernel_to_json", _p, [_p]),
    ("bgr_image_to_json", _p, [_p]),
    ("bgr_client_import_kernel", _p, [_p, _s, _s, _s, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_import_kernel_deb", _p, [_p, _s, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_list_kernels", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_get_kernel", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_delete_kernel", ctypes.c_int, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_catalog_kernel_to_json", _p, [_p]),
    ("bgr_client_list_available_kernels", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_pull_kernel", _p, [_p, _s, _p, _p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_pull_image", _p, [_p, _s, _s, _s, _s, ctypes.c_uint64, ctypes.c_int, _p, _p, _p,
                                   ctypes.POINTER(_GErrorP)]),
    ("bgr_cache_blob_to_json", _p, [_p]),
    ("bgr_client_list_image_cache", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_prune_image_cache", ctypes.c_int, [_p, ctypes.POINTER(ctypes.c_uint64),
                                                    ctypes.POINTER(ctypes.c_uint), _p,
                                                    ctypes.POINTER(_GErrorP)]),
    ("bgr_client_register_image", _p, [_p, _s, _s, _s, _s, _s, _s, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_list_images", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_get_image", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_delete_image", ctypes.c_int, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_promote_image", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_vm_to_json", _p, [_p]),
    ("bgr_client_create_vm", _p, [_p, _s, _s, ctypes.c_uint, ctypes.c_uint64, ctypes.c_uint64, _p,
                                  _p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_start_vm", _p, [_p, _s, _p, _p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_stop_vm", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_kill_vm", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_delete_vm", ctypes.c_int, [_p, _s, ctypes.c_int, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_list_vms", _p, [_p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_get_vm", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_get_vm_logs", _p, [_p, _s, ctypes.c_uint64, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_vm_port_to_json", _p, [_p]),
    ("bgr_vm_stats_to_json", _p, [_p]),
    ("bgr_client_vm_ports", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_stats", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_exec", ctypes.c_int, [_p, _s, _p, _p, _s, ctypes.c_uint, ctypes.c_int,
                                          ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                                          _p, ctypes.POINTER(_GErrorP)]),
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


_PROGRESS_FUNC = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p)

_PULL_PROGRESS_FUNC = ctypes.CFUNCTYPE(None, ctypes.c_uint, ctypes.c_uint, ctypes.c_uint64,
                                       ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64,
                                       ctypes.c_void_p)

_VM_PROGRESS_FUNC = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint,
                                     ctypes.c_void_p)


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


class Client(_Object):
    """The same API in-process (Client.local) or through bangerd (Client.dbus)."""

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

    def stop_daemon(self):
        err = _GErrorP()
        _check(_lib.bgr_client_stop_daemon(self._ptr, None, ctypes.byref(err)), err)

    def close(self):
        """Releases the client now (a local client frees its state lock)."""
        self.__del__()

    # Kernels and images come back as dicts (the records of `--json`).

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

    def import_kernel(self, name, kernel, modules=None, initrd=None):
        """Imports a vmlinux or bzImage KERNEL (absolute paths), generating an
        initramfs when MODULES build virtio as modules and no INITRD is given."""
        err = _GErrorP()
        ptr = _lib.bgr_client_import_kernel(self._ptr, name.encode(), _enc(kernel), _enc(modules),
                                            _enc(initrd), None, ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_kernel_to_json)

    def import_kernel_deb(self, deb, name=None):
        """Imports a Debian kernel package (linux-image-*.deb)."""
        err = _GErrorP()
        ptr = _lib.bgr_client_import_kernel_deb(self._ptr, _enc(name), _enc(deb), None,
                                                ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_kernel_to_json)

    def kernels(self):
        err = _GErrorP()
        return self._records(_lib.bgr_client_list_kernels(self._ptr, None, ctypes.byref(err)), err,
                             _lib.bgr_kernel_to_json)

    def kernel(self, name):
        err = _GErrorP()
        ptr = _lib.bgr_client_get_kernel(self._ptr, name.encode(), None, ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_kernel_to_json)

    def available_kernels(self):
        """What the kernel catalog offers (kernel_catalog_url, or the built-in one)."""
        err = _GErrorP()
        return self._records(_lib.bgr_client_list_available_kernels(self._ptr, None,
                                                                    ctypes.byref(err)),
                             err, _lib.bgr_catalog_kernel_to_json)

    def pull_kernel(self, name, progress=None):
        """Downloads and imports catalog kernel NAME. PROGRESS(done, total) is
        called as bytes arrive (possibly from another thread)."""
        err = _GErrorP()
        cb = _PROGRESS_FUNC(lambda done, total, _data: progress(done, total)) if progress else None
        ptr = _lib.bgr_client_pull_kernel(self._ptr, name.encode(),
                                          ctypes.cast(cb, ctypes.c_void_p) if cb else None, None,
                                          None, ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_kernel_to_json)

    def delete_kernel(self, name):
        err = _GErrorP()
        _check(_lib.bgr_client_delete_kernel(self._ptr, name.encode(), None, ctypes.byref(err)), err)

    def register_image(self, name, rootfs, kernel=None, kernel_ref=None, initrd=None,
                       modules=None, work_seed=None):
        err = _GErrorP()
        ptr = _lib.bgr_client_register_image(self._ptr, name.encode(), _enc(rootfs), _enc(work_seed),
                                             _enc(kernel), _enc(kernel_ref), _enc(initrd),
                                             _enc(modules), None, ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_image_to_json)

    def pull_image(self, reference, name=None, kernel_ref=None, platform=None, size=0,
                   insecure=False, progress=None, layer_progress=None):
        """Pulls REFERENCE from an OCI registry into a new managed image (see
        docs/images.md). PROGRESS(done, total) gets the totals;
        LAYER_PROGRESS(layer, n_layers, layer_done, layer_total, done, total)
        the layer being fetched too."""
        err = _GErrorP()
        if layer_progress is not None:
            cb = _PULL_PROGRESS_FUNC(lambda l, n, ld, lt, d, t, _data: layer_progress(l, n, ld, lt, d, t))
        elif progress is not None:
            cb = _PULL_PROGRESS_FUNC(lambda _l, _n, _ld, _lt, d, t, _data: progress(d, t))
        else:
            cb = None
        ptr = _lib.bgr_client_pull_image(self._ptr, _enc(reference), _enc(name), _enc(kernel_ref),
                                         _enc(platform), size, 1 if insecure else 0,
                                         ctypes.cast(cb, ctypes.c_void_p) if cb else None, None,
                                         None, ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_image_to_json)

    def image_cache(self):
        """The OCI layer cache: [{"digest", "size", "images"}]."""
        err = _GErrorP()
        return self._records(_lib.bgr_client_list_image_cache(self._ptr, None, ctypes.byref(err)),
                             err, _lib.bgr_cache_blob_to_json)

    def prune_image_cache(self):
        """Removes unused layer blobs; returns (blobs removed, bytes freed)."""
        err = _GErrorP()
        freed = ctypes.c_uint64()
        removed = ctypes.c_uint()
        _check(_lib.bgr_client_prune_image_cache(self._ptr, ctypes.byref(freed), ctypes.byref(removed),
                                                 None, ctypes.byref(err)), err)
        return removed.value, freed.value

    def images(self):
        err = _GErrorP()
        return self._records(_lib.bgr_client_list_images(self._ptr, None, ctypes.byref(err)), err,
                             _lib.bgr_image_to_json)

    def image(self, name):
        err = _GErrorP()
        ptr = _lib.bgr_client_get_image(self._ptr, name.encode(), None, ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_image_to_json)

    def delete_image(self, name):
        err = _GErrorP()
        _check(_lib.bgr_client_delete_image(self._ptr, name.encode(), None, ctypes.byref(err)), err)

    def promote_image(self, name):
        err = _GErrorP()
        ptr = _lib.bgr_client_promote_image(self._ptr, name.encode(), None, ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_image_to_json)

    # VMs come back as dicts too (the records of `banger vm show --json`).

    def create_vm(self, name, image=None, vcpus=0, memory_mib=0, disk_size=0, progress=None):
        """Creates VM NAME from IMAGE (default: the default_image_name setting) and
        boots it; returns once its guest agent answered. PROGRESS(phase, step,
        n_steps) is called at each phase (possibly from another thread)."""
        err = _GErrorP()
        cb = _VM_PROGRESS_FUNC(lambda ph, st, n, _d: progress(ph.decode(), st, n)) if progress else None
        ptr = _lib.bgr_client_create_vm(self._ptr, _enc(name), _enc(image), vcpus, memory_mib,
                                        disk_size, ctypes.cast(cb, ctypes.c_void_p) if cb else None,
                                        None, None, ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_vm_to_json)

    def start_vm(self, name, progress=None):
        err = _GErrorP()
        cb = _VM_PROGRESS_FUNC(lambda ph, st, n, _d: progress(ph.decode(), st, n)) if progress else None
        ptr = _lib.bgr_client_start_vm(self._ptr, _enc(name),
                                       ctypes.cast(cb, ctypes.c_void_p) if cb else None, None, None,
                                       ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_vm_to_json)

    def stop_vm(self, name):
        """Graceful stop (guest poweroff, then power button, then kill)."""
        err = _GErrorP()
        return self._record(_lib.bgr_client_stop_vm(self._ptr, _enc(name), None, ctypes.byref(err)),
                            err, _lib.bgr_vm_to_json)

    def kill_vm(self, name):
        err = _GErrorP()
        return self._record(_lib.bgr_client_kill_vm(self._ptr, _enc(name), None, ctypes.byref(err)),
                            err, _lib.bgr_vm_to_json)

    def delete_vm(self, name, force=False):
        err = _GErrorP()
        _check(_lib.bgr_client_delete_vm(self._ptr, _enc(name), 1 if force else 0, None,
                                         ctypes.byref(err)), err)

    def vms(self):
        err = _GErrorP()
        return self._records(_lib.bgr_client_list_vms(self._ptr, None, ctypes.byref(err)), err,
                             _lib.bgr_vm_to_json)

    def vm(self, name):
        err = _GErrorP()
        return self._record(_lib.bgr_client_get_vm(self._ptr, _enc(name), None, ctypes.byref(err)),
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
        ptr = _check(_lib.bgr_client_get_vm_logs(self._ptr, _enc(name), max_bytes, None,
                                                 ctypes.byref(err)), err)
        try:
            size = ctypes.c_size_t()
            data = _glib.g_bytes_get_data(ptr, ctypes.byref(size))
            return ctypes.string_at(data, size.value) if size.value else b""
        finally:
            _glib.g_bytes_unref(ptr)

    def vm_exec(self, name, argv, env=None, cwd=None, timeout=None, input=None):
        """Runs ARGV in VM NAME; returns (status, stdout bytes, stderr bytes).
        ENV: dict or list of "KEY=VALUE"; TIMEOUT: seconds (raises BangerError
        TIMED_OUT); INPUT: bytes fed to stdin (else stdin is /dev/null). STATUS is
        the exit status, or 128 + the signal that killed the command."""
        import threading

        if isinstance(env, dict):
            env = ["%s=%s" % kv for kv in env.items()]
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r = in_w = -1
        if input is not None:
            in_r, in_w = os.pipe()
        chunks = {out_r: [], err_r: []}

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

        threads = [threading.Thread(target=drain, args=(out_r,), daemon=True),
                   threading.Thread(target=drain, args=(err_r,), daemon=True)]
        if input is not None:
            threads.append(threading.Thread(target=feed, daemon=True))
        for t in threads:
            t.start()
        argv_c = _strv(list(argv))
        env_c = _strv(env)
        status = ctypes.c_int()
        err = _GErrorP()
        try:
            ok = _lib.bgr_client_vm_exec(self._ptr, _enc(name), ctypes.cast(argv_c, _p),
                                         ctypes.cast(env_c, _p) if env_c is not None else None,
                                         _enc(cwd), int((timeout or 0) * 1000), in_r, out_w, err_w,
                                         ctypes.byref(status), None, ctypes.byref(err))
        finally:
            os.close(out_w)
            os.close(err_w)
            if in_r >= 0:
                os.close(in_r)
            for t in threads:
                t.join()
            os.close(out_r)
            os.close(err_r)
        _check(ok, err)
        return status.value, b"".join(chunks[out_r]), b"".join(chunks[err_r])
