# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the binding's test files share (not collected: no test_ prefix)."""
import os
import subprocess

import banger


def config_file(tmp_path, extra=""):
    """A config with its state under @tmp_path, plus @extra lines."""
    path = tmp_path / "config.toml"
    path.write_text('state_dir = "%s"\ntap_pool_size = 3\n%s' % (tmp_path / "state", extra))
    return str(path)


def fake_vmm_client(tmp_path):
    """A local client on the fake VMM (each VM's "guest" is the real agent
    on this host) with image "img" registered: an empty ext4 and a fake
    ELF kernel under @tmp_path."""
    kernel = tmp_path / "vmlinux"
    kernel.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e" + bytes(45))
    rootfs = tmp_path / "rootfs.ext4"
    subprocess.run(["mkfs.ext4", "-q", "-F", str(rootfs), "16M"], check=True,
                   env=dict(os.environ, PATH=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"))
    client = banger.Client.local(banger.Config.load(config_file(tmp_path, 'hypervisor = "fake"\n')))
    try:
        client.image_register("img", rootfs=str(rootfs), kernel=str(kernel))
    except BaseException:
        client.close()
        raise
    return client
