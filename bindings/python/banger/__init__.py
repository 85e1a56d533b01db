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

# The package's modules, each with one concern: _ffi (loading libbanger and
# the ctypes signatures), _errors (BangerError), _convert (values between
# Python and C), _config (version, Config, doctor), _operations (progress and
# cancellation of long calls), _client (Client and its daemon calls), and the
# Client calls on kernels and images (_images), VMs (_vms), workspaces
# (_workspace) and sessions (_sessions).

from . import _client, _config, _convert, _errors, _ffi, _images, _operations, _sessions, _vms, _workspace
from ._client import Client
from ._config import Config, doctor, parse_duration, version, version_info
from ._errors import BangerError, ErrorCode
from ._operations import Detach, Operation, Progress

__all__ = [
    "BangerError", "Config", "Client", "ErrorCode", "Operation", "Progress", "version",
    "version_info", "doctor", "parse_duration",
]

# The public names say they come from banger (repr, tracebacks, pickle), not
# from the private module that defines them.
for _public in (BangerError, Config, Client, Detach, ErrorCode, Operation, Progress, doctor,
                parse_duration, version, version_info):
    _public.__module__ = __name__
del _public

# The private helpers are also reachable as banger._NAME (the tests check
# banger._SIGNATURES against the C headers).
_load_library, _lib, _glib, _gobject, _gio = (_ffi._load_library, _ffi._lib, _ffi._glib,
                                              _ffi._gobject, _ffi._gio)
_GError, _GErrorP, _GPtrArray, _p, _s = _ffi._GError, _ffi._GErrorP, _ffi._GPtrArray, _ffi._p, _ffi._s
_SIGNATURES, _BGR_ERROR_QUARK = _ffi._SIGNATURES, _ffi._BGR_ERROR_QUARK
_check = _errors._check
_enc, _take_string, _Object, _strv, _options = (_convert._enc, _convert._take_string, _convert._Object,
                                               _convert._strv, _convert._options)
_CONFIG_FLAGS_SYSTEM = _config._CONFIG_FLAGS_SYSTEM
_CHANGED_FUNC, _progress_of, _Collect, _operation = (_operations._CHANGED_FUNC, _operations._progress_of,
                                                     _operations._Collect, _operations._operation)
_G_BUS_TYPE_SYSTEM, _G_BUS_TYPE_SESSION = _client._G_BUS_TYPE_SYSTEM, _client._G_BUS_TYPE_SESSION
_deprecated = _client._deprecated
_VM_DELETE_FLAGS_FORCE = _vms._VM_DELETE_FLAGS_FORCE

# Kernels and images (banger/_images.py).
_images.add_to(Client)

# VMs (banger/_vms.py).
_vms.add_to(Client)

# Workspaces and vm cp (banger/_workspace.py).
_workspace.add_to(Client)

# Sessions (banger/_sessions.py).
_sessions.add_to(Client)
