"""Wires a checkout for pytest: the lab's fixtures (lab_factory) for the suite's own tests.

Imported rather than listed in `pytest_plugins`: the installed suite lives below this folder in an editable
install, and pytest refuses `pytest_plugins` in a conftest that is not at the top of the run it collects.
"""
from fixtures.lab.pytest_plugin import lab_factory  # noqa: F401  (a fixture, registered by import)
