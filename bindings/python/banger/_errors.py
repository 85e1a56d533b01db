# SPDX-License-Identifier: LGPL-2.1-or-later
"""libbanger's errors: ErrorCode, BangerError, and _check() that raises a
GError as BangerError."""

from ._ffi import _glib, _lib


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
