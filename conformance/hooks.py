"""Hook specifications other plugins (remediation, reports) implement to extend a conformance run."""
import pytest

hookspec = pytest.hookspec


@hookspec(firstresult=True)
def pytest_conformance_verdict(check, expectation, facts, verdict, node, context):
    """Called after a check judged one host, before the finding is recorded.

    Return a replacement Verdict (e.g. the result of the same check after a fix was applied), or None to keep
    `verdict`. `context` is the host's runtime.HostContext (its `connection` runs commands on the host).
    """


def pytest_conformance_finding(finding, node):
    """Called for every recorded (redacted) Finding, on the process that ran the check."""
