#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""examples/vm-exec.py: create a VM, run a command in it with its output
streamed to ours, and delete it, through banger's Python bindings.

    PYTHONPATH=bindings/python ./examples/vm-exec.py [--local] [--name VM] IMAGE COMMAND...

By default it talks to bangerd on the session bus; --local runs the engine
in this process (config from $BANGER_CONFIG or the default path). The exit
status is the command's. Ctrl-C cancels the create, or the command; the VM
is deleted either way.
"""
import argparse
import sys
import threading

import banger


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--local", action="store_true", help="run the engine in this process")
    parser.add_argument("--name", default="py-example", help="the VM's name")
    parser.add_argument("image")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if not args.command:
        parser.error("no command given")

    client = banger.Client.local() if args.local else banger.Client.dbus()

    # Progress of the create, one line per boot phase.
    def progress(p):
        print("  (%d/%d) %s" % (p.done, p.total, p.phase), file=sys.stderr)

    # The create runs in a thread so that Ctrl-C can cancel it through the
    # operation: the call then fails with CANCELLED and leaves nothing.
    op = banger.Operation()
    result = {}

    def create():
        try:
            result["vm"] = client.vm_create(args.name, image=args.image, progress=progress,
                                            operation=op)
        except banger.BangerError as e:
            result["error"] = e

    creator = threading.Thread(target=create)
    creator.start()
    try:
        while creator.is_alive():
            creator.join(0.1)
    except KeyboardInterrupt:
        op.cancel()
        creator.join()
    if "error" in result:
        print("vm-exec.py: create: %s" % result["error"], file=sys.stderr)
        return 1
    vm = result["vm"]
    print("VM %s is %s (%s)" % (vm["name"], vm["state"], vm["hypervisor"]), file=sys.stderr)

    status = 1
    try:
        # stdout/stderr given: the command's output streams straight to ours.
        status, _, _ = client.vm_exec(args.name, args.command, stdout=sys.stdout,
                                      stderr=sys.stderr)
    except banger.BangerError as e:
        print("vm-exec.py: exec: %s" % e, file=sys.stderr)
    except KeyboardInterrupt:
        print("vm-exec.py: interrupted", file=sys.stderr)
    finally:
        sys.stdout.flush()
        client.vm_delete(args.name, force=True)
        print("deleted VM %s" % args.name, file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
