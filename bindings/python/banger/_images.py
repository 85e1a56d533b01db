# SPDX-License-Identifier: LGPL-2.1-or-later
"""Client calls on kernels and images (records of `banger kernel show --json`
and `banger image show --json`), added to banger.Client by
banger/__init__.py."""

import ctypes

from ._client import _add_methods
from ._convert import _Object, _enc, _options
from ._errors import _check
from ._ffi import _GErrorP, _lib
from ._operations import _operation


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


def add_to(client_class):
    _add_methods(client_class, (kernel_import, kernel_list, kernel_get, kernel_delete,
                                kernel_list_available, kernel_pull, image_register, image_list,
                                image_get, image_delete, image_promote, image_pull, image_build,
                                image_cache_list, image_cache_prune))
