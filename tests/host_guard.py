# SPDX-License-Identifier: LGPL-2.1-or-later
"""For tests on the fake VMM, whose "guest" is this host: its commands and
banger's guest scripts run here, as root when the test is root. readonly_system()
goes on in a private mount namespace where /usr and /etc are read-only, so a bug
in such a script cannot damage the system."""
import os
import subprocess
import sys


def readonly_system():
    """As root: re-runs this script in a private mount namespace (unshare),
    then makes /usr and /etc read-only there and fails if they stay
    writable. Nothing for another user, who cannot write them anyway."""
    if os.geteuid() != 0:
        return
    if os.environ.get("BANGER_TEST_MOUNTNS") != "1":
        os.environ["BANGER_TEST_MOUNTNS"] = "1"
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable]
                  + sys.argv)
    for where in ("/usr", "/etc"):
        subprocess.run(["mount", "--bind", "-o", "ro", where, where], check=True)
        if os.access(where, os.W_OK):
            print("FAIL: %s is still writable in the test's mount namespace" % where, flush=True)
            sys.exit(1)
