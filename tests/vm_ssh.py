# SPDX-License-Identifier: LGPL-2.1-or-later
"""SSH and sessions in a real guest, for test-vm.py (kept apart to keep that
file short). The test image carries Debian's sshd (vm_sshd.py); banger
installs its key and starts that sshd at every create and start.

- on a bridged VM: the key banger made at create is in the guest's
  authorized_keys and sshd listens; `banger vm ssh VM -- cat /etc/hostname`
  prints the VM's name and records the image's host key; plain `ssh -i KEY
  root@NAME.vm` (resolved by banger's dnsmasq) logs in too, checking the
  host key strictly;
- on a VM created with --network none: `vm ssh` through the agent (its
  ProxyCommand is `banger vm proxy VM 22`); a session that ticks every
  0.2 s shows in `session logs` and ends with `session stop`; a guest
  without sshd is a clear error that suggests `vm exec -t`."""

import os
import subprocess
import time

import vm_sshd


def wait_until(what, cond, limit=60.0):
    deadline = time.monotonic() + limit
    while True:
        v = cond()
        if v:
            return v
        assert time.monotonic() < deadline, "still not true after %.0f s: %s" % (limit, what)
        time.sleep(0.1)


def banger_ssh(CLI, env, name, *cmd, timeout=120):
    return subprocess.run([CLI, "vm", "ssh", name, "--"] + list(cmd), env=env, capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def check_key_and_server(run, jrun, name, pub):
    """banger's key in NAME's authorized_keys (0600, once), sshd on 22."""
    got = run("vm", "exec", name, "--", "sh", "-c",
              "cat /root/.ssh/authorized_keys; stat -c %a /root/.ssh/authorized_keys").stdout
    assert got.decode().splitlines() == [pub, "600"], got
    ports = wait_until("sshd listening on 22 in %s" % name,
                       lambda: [p for p in jrun("vm", "ports", name) if p["port"] == 22])
    assert ports[0]["process"] == "sshd", ports


def ssh_into_bridged_vm(run, jrun, env, CLI, work, Skip, name, dns_server):
    if vm_sshd.missing():
        raise Skip(vm_sshd.missing())
    tree = os.path.join(work, "tree")
    vm = jrun("vm", "show", name)
    # Nothing asked for a key before: creating the VM made it.
    key = os.path.join(env["XDG_CONFIG_HOME"], "banger", "ssh", "id_ed25519")
    assert os.path.exists(key) and os.path.exists(key + ".pub"), "no key made at create: " + key
    assert run("config", "ssh-key").stdout.decode().strip() == key
    with open(key + ".pub") as f:
        pub = f.read().strip()
    check_key_and_server(run, jrun, name, pub)

    p = banger_ssh(CLI, env, name, "cat", "/etc/hostname")
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert p.stdout == (name + "\n").encode(), p.stdout
    # ssh recorded the image's host key in the VM's own known_hosts.
    host_key = vm_sshd.host_key_line(tree)
    with open(os.path.join(work, "state", "vms", name, "known_hosts")) as f:
        known = f.read()
    assert host_key in known, (host_key, known)

    # Plain OpenSSH over the bridge, NAME.vm resolved by banger's dnsmasq
    # (a resolv.conf of this test's own, in its own mount namespace), and
    # the host key checked strictly against the image's.
    resolv = os.path.join(work, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver %s\n" % dns_server)
    kh = os.path.join(work, "plain_known_hosts")
    with open(kh, "w") as f:
        f.write("%s.vm,%s %s\n" % (name, vm["ip"], host_key))
    plain = ["ssh", "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + kh,
             "-o", "ConnectTimeout=30"]
    p = subprocess.run(plain + ["root@" + vm["ip"], "cat", "/etc/hostname"], env=env,
                       capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    assert p.returncode == 0 and p.stdout == (name + "\n").encode(), p
    subprocess.run(["mount", "--bind", resolv, "/etc/resolv.conf"], check=True)
    try:
        p = subprocess.run(plain + ["root@%s.vm" % name, "id", "-u"], env=env,
                           capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    finally:
        subprocess.run(["umount", "/etc/resolv.conf"], check=True)
    assert p.returncode == 0 and p.stdout == b"0\n", p


def session_in_real_guest(run, jrun, name):
    run("vm", "session", "start", name, "--name", "ticker", "--", "sh", "-c",
        "while :; do echo tick; sleep 0.2; done")

    def ticks():
        return run("vm", "session", "logs", name, "ticker").stdout.decode().splitlines()
    wait_until("three ticks in the session's logs", lambda: len(ticks()) >= 3)
    assert set(ticks()) == {"tick"}, ticks()
    s = jrun("vm", "session", "show", name, "ticker")
    assert s["state"] == "running" and s["pid"] > 0, s
    assert any(x["name"] == "ticker" for x in jrun("vm", "session", "list", name))
    run("vm", "session", "stop", name, "ticker")
    s = jrun("vm", "session", "show", name, "ticker")
    assert s["state"] == "exited", s
    # Its process is gone from the guest, and it writes no more.
    gone = run("vm", "exec", name, "--", "kill", "-0", str(s["pid"]), check=False)
    assert gone.returncode != 0, "the session's shell still runs in the guest"
    n = len(ticks())
    time.sleep(0.6)  # deliberate: three tick periods in which nothing may be written
    assert len(ticks()) == n, "the stopped session still writes"


def ssh_without_network(run, jrun, env, CLI, Skip, name):
    """On a new VM NAME created with --network none, deleted at the end."""
    if vm_sshd.missing():
        raise Skip(vm_sshd.missing())
    try:
        network_off_vm(run, jrun, env, CLI, name)
        without_sshd_is_a_clear_error(run, jrun, env, CLI, name)
    finally:
        run("vm", "delete", "--force", name, check=False)


def network_off_vm(run, jrun, env, CLI, name):
    vm = jrun("vm", "create", "--name", name, "--image", "bb", "--network", "none")
    assert vm["network"].startswith("none") and not vm.get("ip"), vm
    p = run("vm", "exec", name, "--", "sh", "-c", "ls /sys/class/net")
    assert p.stdout.split() == [b"lo"], p.stdout
    with open(os.path.join(env["XDG_CONFIG_HOME"], "banger", "ssh", "id_ed25519.pub")) as f:
        check_key_and_server(run, jrun, name, f.read().strip())
    p = banger_ssh(CLI, env, name, "cat", "/etc/hostname")
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert p.stdout == (name + "\n").encode(), p.stdout
    assert run("vm", "exec", name, "--", "hostname").stdout == (name + "\n").encode()


def without_sshd_is_a_clear_error(run, jrun, env, CLI, name):
    # The guest loses its sshd: as with an image that has none.
    run("vm", "exec", name, "--", "sh", "-c", "kill $(cat /run/sshd.pid) && rm /usr/sbin/sshd")
    wait_until("sshd gone", lambda: not [p for p in jrun("vm", "ports", name) if p["port"] == 22], 30)
    p = banger_ssh(CLI, env, name, "true")
    err = p.stderr.decode(errors="replace")
    assert p.returncode not in (0, 255), (p.returncode, err)  # banger's error, not ssh's
    assert "VM '%s' has no SSH server: its image has no sshd" % name in err, err
    assert "banger vm exec -t %s" % name in err, err
