# SPDX-License-Identifier: LGPL-2.1-or-later
"""The loaded libbanger and GLib libraries, and the ctypes signatures of the
C calls the binding makes."""

import ctypes
import ctypes.util
import os


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
