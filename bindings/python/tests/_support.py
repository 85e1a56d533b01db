# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the binding's test files share (not collected: no test_ prefix)."""


def config_file(tmp_path, extra=""):
    """A config with its state under @tmp_path, plus @extra lines."""
    path = tmp_path / "config.toml"
    path.write_text('state_dir = "%s"\ntap_pool_size = 3\n%s' % (tmp_path / "state", extra))
    return str(path)
