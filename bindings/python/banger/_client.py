# SPDX-License-Identifier: LGPL-2.1-or-later
"""banger.Client: making a client, the daemon's calls and the helpers the
other Client calls share. The calls on kernels and images (_images.py), VMs
(_vms.py), workspaces (_workspace.py) and sessions (_sessions.py) are added
to it by banger/__init__.py."""

import ctypes
import json
import warnings

from ._config import Config
from ._convert import _Object, _take_string
from ._errors import _check
from ._ffi import _GErrorP, _GPtrArray, _glib, _lib, _p


_G_BUS_TYPE_SYSTEM = 1
_G_BUS_TYPE_SESSION = 2


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


def _add_methods(client_class, fns):
    """Makes each function of FNS a method of CLIENT_CLASS, named as if it
    were written in the class."""
    for fn in fns:
        fn.__qualname__ = "%s.%s" % (client_class.__qualname__, fn.__name__)
        setattr(client_class, fn.__name__, fn)
