"""Wires a checkout for pytest: the lab's fixtures (lab_factory) for the suite's own tests, and the `lab` marker.

Imported rather than listed in `pytest_plugins`: the installed suite lives below this folder in an editable
install, and pytest refuses `pytest_plugins` in a conftest that is not at the top of the run it collects.
"""

import os
from pathlib import Path

import pytest

from conformance.kolla import release
from fixtures.lab.pytest_plugin import lab_factory  # noqa: F401  (a fixture, registered by import)

TESTS = Path(__file__).parent / "tests"
# Fixtures that bring up real hosts (network namespaces, sshd, libvirtd, engines): a test using one is a lab test,
# and so is every test in the folders that exist to drive them (some reach a lab through getfixturevalue).
LAB_FIXTURES = {"lab_factory", "loopback_host"}
LAB_FOLDERS = {TESTS / "integration", TESTS / "lab", TESTS / "e2e"}


LAB_RELEASE = "23.0.0"  # the lab's Kolla Ansible (fixtures/lab/scenarios): the default for profiles naming none


def pytest_configure(config):
    # A profile that names no Kolla Ansible is judged against the lab's release, fetched once into the cache.
    os.environ.setdefault(release.ENV, str(release.fetch(LAB_RELEASE).ansible_dir))
    config.addinivalue_line(
        "markers", "lab: needs real lab hosts (root, the Debian packages); `pytest -m 'not lab'` is the inner loop"
    )


def pytest_collection_modifyitems(items):
    # Only the project's own tests: this conftest also sees suite runs started from a checkout.
    for item in items:
        parents = set(Path(item.fspath).parents)
        if TESTS in parents and (LAB_FOLDERS & parents or LAB_FIXTURES & set(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.lab)
