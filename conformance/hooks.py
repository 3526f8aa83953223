"""Hook specifications other plugins (remediation, reports) implement to extend a conformance run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conformance.checks import Check
    from conformance.facts import Facts
    from conformance.kolla.expectations import Expectation
    from conformance.model import Verdict
    from conformance.runtime import HostContext

hookspec = pytest.hookspec


@hookspec(firstresult=True)
def pytest_conformance_verdict(
    check: Check, expectation: Expectation, facts: Facts, verdict: Verdict, node: pytest.Item, context: HostContext
) -> Verdict | None:
    """Called after a check judged one host, before the finding is recorded.

    Return a replacement Verdict (e.g. the result of the same check after a fix was applied), or None to keep
    `verdict`. `context` is the host's runtime.HostContext (its `connection` runs commands on the host).
    """
