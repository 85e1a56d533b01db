# SPDX-License-Identifier: LGPL-2.1-or-later
"""Debian's OpenSSH server (package openssh-server) for a busybox test
rootfs: this host's sshd and the shared libraries ldd lists, host keys made
with ssh-keygen at build time, an sshd_config that lets root in with a key
only, the privilege separation directory and the passwd entries sshd needs.
Used by test-vm.py and bench/session.py (which imports it from here)."""

import os
import shutil
import subprocess

SSHD = "/usr/sbin/sshd"

SSHD_CONFIG = """\
# The banger test image's sshd: root with a key, nothing else.
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PidFile /run/sshd.pid
"""


def missing():
    """Why this host cannot put an sshd into an image, or None."""
    if not os.access(SSHD, os.X_OK):
        return "no %s on this host (install openssh-server)" % SSHD
    if shutil.which("ssh-keygen") is None or shutil.which("ssh") is None:
        return "no ssh or ssh-keygen on this host (install openssh-client)"
    return None


def copy_with_libs(tree, binary):
    """BINARY and every shared library ldd lists, at the same paths in TREE."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    for path in [binary] + [w for w in out.split() if w.startswith("/")]:
        dest = os.path.join(tree, path.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy(path, dest)  # follows symlinks: the library itself


def add_sshd(tree):
    """Adds sshd to the busybox TREE (see the module's docstring)."""
    copy_with_libs(tree, SSHD)
    etc_ssh = os.path.join(tree, "etc", "ssh")
    os.makedirs(etc_ssh, exist_ok=True)
    key = os.path.join(etc_ssh, "ssh_host_ed25519_key")
    if not os.path.exists(key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "banger-test-host",
                        "-f", key], check=True)
    with open(os.path.join(etc_ssh, "sshd_config"), "w") as f:
        f.write(SSHD_CONFIG)
    # The privilege separation directory: root's, not writable by others.
    os.makedirs(os.path.join(tree, "run", "sshd"), mode=0o755, exist_ok=True)
    os.chmod(os.path.join(tree, "run", "sshd"), 0o755)
    with open(os.path.join(tree, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n"
                "sshd:x:100:65534:sshd privilege separation:/run/sshd:/bin/false\n")
    with open(os.path.join(tree, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    with open(os.path.join(tree, "etc", "shadow"), "w") as f:
        f.write("root:*:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\n")
    os.chmod(os.path.join(tree, "etc", "shadow"), 0o640)


def host_key_line(tree):
    """The image's public host key (type and key), to check what ssh saw."""
    with open(os.path.join(tree, "etc", "ssh", "ssh_host_ed25519_key.pub")) as f:
        return " ".join(f.read().split()[:2])
