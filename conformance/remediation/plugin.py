"""The remediation pytest plugin (its own pytest11 entry point). Off unless --remediate is given."""


def pytest_addoption(parser):
    group = parser.getgroup("kolla-remediation", "Kolla libvirt remediation")
    group.addoption("--remediate", choices=["plan", "apply"], help="plan fixes for failed checks, or apply them")
