"""Wires a checkout for pytest: the lab's fixtures (lab_factory) for the suite's own tests."""
pytest_plugins = ["fixtures.lab.pytest_plugin"]
