# SPDX-License-Identifier: LGPL-2.1-or-later
"""Calls that need no client: the library's version, durations, the
configuration (Config) and the host checks (doctor)."""

import ctypes
import json

from ._convert import _Object, _take_string
from ._errors import _check
from ._ffi import _GErrorP, _lib


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
