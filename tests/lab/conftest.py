"""The lab's own tests need root and the packages in fixtures/lab/debian-packages.txt."""

import os
import shutil

import pytest


def pytest_collection_modifyitems(config, items):
    missing = [
        b
        for b in ("dockerd", "podman", "libvirtd", "sshd", "tini", "ovsdb-server")
        if not shutil.which(b) and not os.path.exists(f"/usr/sbin/{b}")
    ]
    if os.geteuid() != 0 or missing:
        skip = pytest.mark.skip(reason=f"lab needs root and {', '.join(missing) or 'root'}")
        for item in items:
            if "tests/lab" in str(item.fspath) and "needs_lab" in item.keywords:
                item.add_marker(skip)


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_lab: test brings up real lab hosts (root, Debian packages)")
