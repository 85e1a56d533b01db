# SPDX-License-Identifier: LGPL-2.1-or-later
"""Client calls on workspaces and vm cp (docs/workspaces.md), added to
banger.Client by banger/__init__.py."""

import ctypes

from ._convert import _Object, _enc, _options, _take_string
from ._errors import _check
from ._ffi import _GErrorP, _lib, _p, _s
from ._operations import _operation

_SIGNATURES = [
    ("bgr_workspace_spec_new", _p, [_s]),
    ("bgr_workspace_to_json", _p, [_p]),
    ("bgr_client_vm_workspace_prepare", _p, [_p, _s, _p, _p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_workspace_get", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_workspace_bootstrap", _p, [_p, _s, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_run", _p, [_p, _p, _p, _p, _p, ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_workspace_export", _p, [_p, _s, _s, ctypes.c_int, _p, _p,
                                             ctypes.POINTER(_GErrorP)]),
    ("bgr_client_vm_copy", ctypes.c_int, [_p, _s, ctypes.c_int, _s, _s, _p, _p,
                                          ctypes.POINTER(_GErrorP)]),
]
for _name, _restype, _argtypes in _SIGNATURES:
    _fn = getattr(_lib, _name)
    _fn.restype = _restype
    _fn.argtypes = _argtypes

_COPY_TO_VM = 0
_COPY_FROM_VM = 1


def vm_workspace_prepare(self, name, repo, progress=None, operation=None, **options):
    """Puts the git repository enclosing REPO (an absolute path, read by the
    process doing the work) into running VM NAME; returns the workspace
    record. PROGRESS gets the bytes sent. Keywords (BgrWorkspaceSpec):
    guest_path (default /root/repo), mode ("metadata" or "full_copy"),
    readonly, branch, from_ (or **{"from": REV})."""
    if "from_" in options:
        options["from"] = options.pop("from_")
    spec = _options(_Object(_lib.bgr_workspace_spec_new(_enc(repo))), options)
    err = _GErrorP()
    with _operation(progress, operation) as op:
        ptr = _lib.bgr_client_vm_workspace_prepare(self._ptr, _enc(name), spec._ptr, op, None,
                                                   ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_workspace_to_json)


def vm_workspace_get(self, name):
    """VM NAME's workspace record ("changed" checked now on a running VM)."""
    err = _GErrorP()
    return self._record(_lib.bgr_client_vm_workspace_get(self._ptr, _enc(name), None,
                                                         ctypes.byref(err)),
                        err, _lib.bgr_workspace_to_json)


def vm_workspace_bootstrap(self, name):
    """Starts mise install in the guest's workspace when it can; returns the
    line saying what it did."""
    err = _GErrorP()
    return _take_string(_check(_lib.bgr_client_vm_workspace_bootstrap(
        self._ptr, _enc(name), None, ctypes.byref(err)), err))


def vm_run(self, name, repo, progress=None, operation=None, vm=None, **options):
    """Creates VM NAME, puts REPO's checkout in it and starts the bootstrap;
    returns the workspace record. VM: a dict of vm_create keywords (image,
    work_size...); other keywords as for vm_workspace_prepare."""
    vm_spec = _options(_Object(_lib.bgr_vm_spec_new(_enc(name))), dict(vm or {}))
    if "from_" in options:
        options["from"] = options.pop("from_")
    spec = _options(_Object(_lib.bgr_workspace_spec_new(_enc(repo))), options)
    err = _GErrorP()
    with _operation(progress, operation) as op:
        ptr = _lib.bgr_client_vm_run(self._ptr, vm_spec._ptr, spec._ptr, op, None, ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_workspace_to_json)


def vm_copy(self, name, src, dest, from_vm=False, progress=None, operation=None):
    """Copies host path SRC to guest path DEST in VM NAME (like cp -a), or
    with FROM_VM guest path SRC to host path DEST."""
    host, guest = (dest, src) if from_vm else (src, dest)
    err = _GErrorP()
    with _operation(progress, operation) as op:
        _check(_lib.bgr_client_vm_copy(self._ptr, _enc(name), _COPY_FROM_VM if from_vm else _COPY_TO_VM,
                                       _enc(host), _enc(guest), op, None, ctypes.byref(err)), err)


def vm_workspace_export(self, name, branch=None, force=False, dry_run=False, progress=None,
                        operation=None):
    """Brings VM NAME's guest commits and uncommitted work back as host branch
    BRANCH (default banger/NAME); returns the workspace record, whose
    "export" member says what was (or with DRY_RUN would be) exported."""
    flags = (1 if force else 0) | (2 if dry_run else 0)
    err = _GErrorP()
    with _operation(progress, operation) as op:
        ptr = _lib.bgr_client_vm_workspace_export(self._ptr, _enc(name), _enc(branch), flags, op,
                                                  None, ctypes.byref(err))
        return self._record(ptr, err, _lib.bgr_workspace_to_json)


def add_to(client_class):
    for fn in (vm_workspace_prepare, vm_workspace_get, vm_workspace_bootstrap, vm_run, vm_copy,
               vm_workspace_export):
        setattr(client_class, fn.__name__, fn)
