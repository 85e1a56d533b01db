# SPDX-License-Identifier: LGPL-2.1-or-later
import os
import tempfile

# GLib reads HOME and the XDG directories once per process: point them at a
# private directory before libbanger is loaded.
_home = tempfile.mkdtemp(prefix="banger-pytest-")
os.environ["HOME"] = _home
for _var, _sub in (("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state"),
                   ("XDG_CACHE_HOME", "cache"), ("XDG_RUNTIME_DIR", "runtime")):
    os.environ[_var] = os.path.join(_home, _sub)
    os.makedirs(os.environ[_var], mode=0o700, exist_ok=True)
