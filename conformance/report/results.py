"""Run results on the controller: findings (waivers applied), crashed checks, JUnit names, the gate's exit code.

ConformanceSession (plugin.py) delegates its results hooks here, so reporting stays one concern in one place.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import allure
import pytest

from conformance import waivers as waiver_rules
from conformance.model import Finding, Status
from conformance.report import gate, merge

FINDING_PROPERTY = "conformance_finding"


def _finding_of(properties) -> tuple[int, Finding] | None:
    for index, (name, value) in enumerate(properties):
        if name == FINDING_PROPERTY:
            return index, Finding.from_json(value)
    return None


def apply_waiver(item, call, waivers) -> Finding | None:
    """Before the report is built (makereport, call phase): a waived FAIL becomes a skip whose reason is the waiver,
    so pytest, JUnit and Allure all show it as waived; an expired waiver stays a failure and says so. Returns the
    finding with its waiver when one matched (show_waiver finishes the report), else None."""
    if call.when != "call" or not waivers:
        return None
    found = _finding_of(item.user_properties)
    if found is None:
        return None
    index, finding = found
    finding = waiver_rules.apply(waivers, finding)
    if not finding.waiver:
        return None
    item.user_properties[index] = (FINDING_PROPERTY, finding.to_json())
    note = waiver_rules.describe(finding)
    allure.dynamic.tag("waived" if finding.waived else "waiver-expired")
    allure.attach(note, name="waiver", attachment_type=allure.attachment_type.TEXT)
    if finding.status is Status.FAIL:
        outcome = (
            pytest.skip.Exception(_waived_reason(finding))
            if finding.waived
            else pytest.fail.Exception(f"{finding.summary()} [{note}]", pytrace=False)
        )
        call.excinfo = _raised(outcome)
    return finding


def _raised(exc: BaseException) -> pytest.ExceptionInfo:
    try:
        raise exc
    except BaseException:
        return pytest.ExceptionInfo.from_current()


def _waived_reason(finding: Finding) -> str:
    return f"{waiver_rules.describe(finding)} [{finding.summary()}]"


def show_waiver(item, report, finding: Finding) -> None:
    """A waived failure's report points at the check's test, not at the code that waived it."""
    if finding.waived and finding.status is Status.FAIL and report.skipped:
        path, line, _ = item.location
        report.longrepr = (path, (line or 0) + 1, f"Skipped: {_waived_reason(finding)}")


def teststatus(report):
    """pytest_report_teststatus: (category, letter, word) for waived and not-judged results, else None."""
    if report.when != "call":
        return None
    found = _finding_of(report.user_properties)
    if found is None:
        return None
    finding = found[1]
    if finding.waived and report.skipped:
        return "waived", "w", "WAIVED"
    if finding.not_judged and report.skipped:
        return "not judged", "j", "NOT JUDGED"
    return None


class Results:
    def __init__(self, config, waivers=(), strict_warnings=False):
        self.config = config
        self.waivers = tuple(waivers)
        self.strict_warnings = strict_warnings
        self.findings: dict[tuple[str, str], Finding] = {}
        self.crashed: list[str] = []

    def logreport(self, report) -> None:
        found = _finding_of(report.user_properties)
        if found is not None:
            finding = found[1]
            self.findings[(finding.host, finding.check_id)] = finding
        if report.failed and (found is None or found[1].status not in (Status.FAIL, Status.UNREACHABLE)):
            if report.nodeid not in self.crashed:
                self.crashed.append(report.nodeid)

    def ordered(self) -> list[Finding]:
        return sorted(self.findings.values(), key=lambda f: (f.host, f.check_id))

    def unused_waivers(self):
        return waiver_rules.unused(self.waivers, self.findings.values())

    def exit_code(self):
        return gate.exit_code(self.findings.values(), self.strict_warnings, crashed=len(self.crashed))

    def write_json(self, path: str | Path) -> None:
        merge.write(self.ordered(), Path(path))


def environment(profile, findings) -> dict[str, str]:
    """Allure's Environment widget: what was checked, against which release, with which engine and phase."""
    engines, releases = set(), set()
    for plan in profile.hosts:
        try:
            variables = profile.variables(plan)
            engines.add(str(variables.get("kolla_container_engine")))
            releases.add(str(profile.release or variables.get("openstack_release") or "unknown"))
        except Exception:  # a value that needs host facts: leave it out rather than fail the report
            continue
    return {
        "kolla.release": ", ".join(sorted(releases)) or "unknown",
        "profile": str(profile.path),
        "container.engine": ", ".join(sorted(engines)) or "unknown",
        "hosts": ", ".join(p.name for p in profile.hosts),
        "phase": ", ".join(profile.phases),
        "hosts.unreachable": ", ".join(sorted({f.host for f in findings if f.status is Status.UNREACHABLE})) or "none",
    }


def write_properties(path: Path, values: dict[str, str]) -> None:
    """Java .properties: escape what the format treats specially, one key per line."""

    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("\n", "\\n").replace("=", "\\=").replace(":", "\\:")

    path.write_text("".join(f"{esc(k)}={esc(v)}\n" for k, v in values.items()))


__all__ = ["Results", "apply_waiver", "environment", "write_properties", "FINDING_PROPERTY"]


_TEST_ID = re.compile(r"\[(?P<host>[^\[\]:]+):(?P<check>[a-z]+\.[a-z0-9-]+)\]$")


def name_junit_cases(path: str | Path) -> None:
    """One <testcase> per check per host, named for people: classname = the check id (CI tools group by its area
    prefix), name = the host. Done on the file pytest's junitxml wrote (at the end of the session, on the
    controller, under xdist too): its own names come from the test id `test_check[<host>:<check id>]`."""
    path = Path(path)
    if not path.is_file():
        return
    tree = ET.parse(path)
    changed = False
    for case in tree.getroot().iter("testcase"):
        match = _TEST_ID.search(case.get("name", ""))
        if match:
            case.set("classname", match["check"])
            case.set("name", match["host"])
            changed = True
    if changed:
        tree.write(path, encoding="utf-8", xml_declaration=True)
