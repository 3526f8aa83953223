"""The gate: one exit code from a run's findings (also from merged runs), with a documented precedence.

    0  OK                 every check passed or was waived; warnings allowed (unless strict_warnings)
    1  CHECK_FAILED       a check failed on a reachable host (or warned, with strict_warnings)
    3  INTERNAL_ERROR     a check crashed (a bug in the suite): the verdict is unknown, so the gate cannot pass
    4  PROFILE_ERROR      bad profile, waiver file, Kolla config or command line (raised before any host is touched)
    6  HOSTS_UNREACHABLE  nothing failed, but some hosts could not be checked

Precedence when they mix: 1 > 3 > 6 > 0. A product defect on a reachable host is the most useful signal and is
true whatever happened elsewhere; the terminal summary still lists every unreachable host and crash.
"""

from __future__ import annotations

from collections.abc import Iterable

from conformance.errors import ExitCode
from conformance.model import Finding, Status


def counts_as_failure(finding: Finding, strict_warnings: bool = False) -> bool:
    if finding.waived:
        return False
    return finding.status is Status.FAIL or (strict_warnings and finding.status is Status.WARN)


def exit_code(findings: Iterable[Finding], strict_warnings: bool = False, crashed: int = 0) -> ExitCode:
    findings = list(findings)
    if any(counts_as_failure(f, strict_warnings) for f in findings):
        return ExitCode.CHECK_FAILED
    if crashed:
        return ExitCode.INTERNAL_ERROR
    if any(f.status is Status.UNREACHABLE for f in findings):
        return ExitCode.HOSTS_UNREACHABLE
    return ExitCode.OK
