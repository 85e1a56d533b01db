# SPDX-License-Identifier: LGPL-2.1-or-later
"""test-vm.py's checks of the other ways in (kept apart to keep that file
short): the Python binding over D-Bus, and the Firecracker driver against
its stand-in. @t carries test-vm's helpers and paths (run, jrun, env, work,
start_daemon, stop_daemon, Skip)."""
import json
import os


def python_binding_over_dbus(t):
    env = t.env
    Skip = t.Skip
    if os.environ.get("BANGER_SANITIZED"):
        raise Skip("an uninstrumented python cannot load the ASan build")
    import banger
    client = banger.Client.dbus_address(env["DBUS_SESSION_BUS_ADDRESS"])
    # Options are keywords, checked by the library: an unknown one is
    # refused naming its key, and nothing is created.
    try:
        client.vm_create("pyvm", image="bb", memory_mb=256)
        raise AssertionError("unknown option accepted")
    except banger.BangerError as e:
        assert e.code == banger.ErrorCode.INVALID_ARGUMENT and "memory-mb" in e.message, e
    phases = []
    vm = client.vm_create("pyvm", image="bb", memory_mib=256, network="none",
                          progress=phases.append)
    assert vm["state"] == "running" and vm["memory_mib"] == 256, vm
    assert vm["network"].startswith("none") and not vm.get("ip"), vm
    # The daemon sends at most one update per 100 ms per phase: the steps
    # seen only grow, and the boot ends on its last step.
    steps = [p.done for p in phases]
    assert steps and steps == sorted(steps), phases
    assert phases[-1].total > 0 and phases[-1].done == phases[-1].total, phases
    status, out, err = client.vm_exec("pyvm", ["sh", "-c", "cat; echo $X >&2; exit 9"],
                                      input=b"x" * 200000, env={"X": "from-python"})
    assert status == 9 and out == b"x" * 200000 and err == b"from-python\n", (status, len(out), err)
    try:
        client.vm_exec("pyvm", ["sleep", "30"], timeout=0.5)
        raise AssertionError("no timeout")
    except banger.BangerError as e:
        assert e.code == banger.ErrorCode.TIMED_OUT, e
    assert any(p["name"] == "pyvm" for p in client.vm_list())
    assert client.vm_stats("pyvm")["mem_total"] > 0
    assert b"banger-init" in client.vm_logs("pyvm")
    assert client.vm_stop("pyvm")["state"] == "stopped"
    # Cancelled from another thread, a start fails and leaves the VM down.
    import threading
    op = banger.Operation()
    booting = threading.Event()
    canceller = threading.Thread(target=lambda: booting.wait(60) and op.cancel())
    canceller.start()
    try:
        client.vm_start("pyvm", operation=op, progress=lambda p: booting.set())
        raise AssertionError("the start was not cancelled")
    except banger.BangerError as e:
        assert e.code == banger.ErrorCode.CANCELLED, e
    canceller.join()
    assert client.vm_get("pyvm")["state"] in ("stopped", "error"), client.vm_get("pyvm")
    client.vm_delete("pyvm")
    try:
        client.vm_get("pyvm")
        raise AssertionError("pyvm still there")
    except banger.BangerError as e:
        assert e.name == "NotFound", e


def firecracker_driver_end_to_end(t):
    run = t.run
    jrun = t.jrun
    env = t.env
    work = t.work
    Skip = t.Skip
    # The whole engine path with hypervisor = "firecracker", against the
    # stand-in that checks every API request against Firecracker's spec
    # and runs the real agent (on this host) behind its hybrid vsock.
    fake = os.environ.get("BANGER_FAKE_FIRECRACKER")
    if not fake or not os.environ.get("BANGER_AGENT") or not os.path.exists(os.path.join(os.environ.get("BANGER_SPEC_DIR", ""),
                                                   "firecracker-api.yaml")):
        raise Skip("no fake firecracker, agent or firecracker-api.yaml (BANGER_SPEC_DIR)")
    fclog = os.path.join(work, "fc-requests.jsonl")
    env["BANGER_FAKE_FC_LOG"] = fclog
    t.stop_daemon()
    with open(os.path.join(work, "banger.toml"), "a") as f:
        f.write('hypervisor = "firecracker"\nfirecracker_bin = "%s"\n' % fake)
    t.start_daemon()
    # Any x86-64 ELF executable passes for a vmlinux: the stand-in boots nothing.
    run("image", "register", "--name", "fcimg", "--rootfs", os.path.join(work, "rootfs.ext4"),
        "--kernel", os.environ["BANGER_AGENT"])
    vm = jrun("vm", "create", "--name", "fc1", "--image", "fcimg", "--vcpus", "2")
    assert vm["hypervisor"] == "firecracker" and vm["state"] == "running", vm
    cmdline = vm["debug"]["kernel_cmdline"]
    assert "root=/dev/vda" not in cmdline and "pci=off" in cmdline, cmdline
    p = run("vm", "exec", "fc1", "--", "uname", "-r")
    assert p.stdout.decode().strip() == os.uname().release, p.stdout
    vm = jrun("vm", "stop", "fc1")
    assert vm["state"] == "stopped" and "power button" in vm["reason"], vm
    run("vm", "delete", "fc1")
    bases = os.path.join(work, "cache", "vm-bases")
    before = len(os.listdir(bases))
    run("image", "delete", "fcimg")
    # image delete took fcimg's base with it: what is left is the base
    # of the one image still there (bb), and prune finds nothing more.
    after = os.listdir(bases)
    assert len(after) == 1 and len(after) == before - 1, (before, after)
    out = jrun("image", "cache", "prune")
    assert out["removed"] == 0 and os.listdir(bases) == after, (out, after)
    reqs = [json.loads(l) for l in open(fclog)]
    bad = [r for r in reqs if r.get("verdict") != "ok"]
    assert not bad, "requests the spec does not allow: %s" % bad
    paths = [(r["method"], r["path"]) for r in reqs]
    for want in [("PUT", "/machine-config"), ("PUT", "/boot-source"), ("PUT", "/drives/rootfs"),
                 ("PUT", "/network-interfaces/eth0"), ("PUT", "/vsock"), ("PUT", "/actions")]:
        assert want in paths, "no %s %s in %s" % (want + (paths,))
    mc = [r for r in reqs if r["path"] == "/machine-config"][0]["body"]
    assert mc["vcpu_count"] == 2 and mc["mem_size_mib"] == 512, mc
