# SPDX-License-Identifier: LGPL-2.1-or-later
"""Values between Python and C: strings, string vectors, options objects and
GObject references."""

import ctypes
import json

from ._errors import _check
from ._ffi import _GErrorP, _glib, _gobject, _lib


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


def _strv(items):
    """A NULL-terminated char** for ITEMS (kept alive by the returned array)."""
    if items is None:
        return None
    arr = (ctypes.c_char_p * (len(items) + 1))()
    for i, item in enumerate(items):
        arr[i] = item.encode() if isinstance(item, str) else item
    arr[len(items)] = None
    return arr


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
