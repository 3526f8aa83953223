"""A pytest plugin for tests only (-p tests.reports.crash_plugin): registers a check that crashes, like a suite bug."""

from conformance.checks import check
from conformance.model import Severity


@check(
    "virt.zz-crash-probe",
    title="crashes on purpose",
    severity=Severity.MINOR,
    phases=("predeploy", "postdeploy"),
    rationale="test only",
    doc="tests/reports/crash_plugin.py",
)
def crash(exp, facts):
    raise RuntimeError("boom")
