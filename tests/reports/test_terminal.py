"""The terminal summary: hosts x areas matrix, then one line per problem with its fix hint."""

import datetime

from conformance.model import Finding, Severity, Status
from conformance.report import terminal
from conformance.waivers import Waiver


def f(host, check, status, hint="", waiver=None, actual="a", judged=True):
    return Finding(
        check,
        host,
        status,
        Severity.NORMAL,
        check.split(".")[0],
        "postdeploy",
        "e",
        actual,
        hint,
        waiver=waiver or {},
        judged=judged,
    )


FINDINGS = [
    f("c1", "virt.a", Status.PASS),
    f("c1", "virt.b", Status.FAIL, "set x", actual="x unset"),
    f("c1", "sasl.a", Status.WARN, "rotate"),
    f("c1", "sasl.b", Status.NOT_APPLICABLE),
    f(
        "c1",
        "tls.a",
        Status.FAIL,
        waiver={"state": "active", "reason": "CHG-1", "approved_by": "jo", "expires": "2099-01-01"},
    ),
    f("c2", "virt.a", Status.UNREACHABLE, actual="host c2: ssh refused"),
    f("c2", "virt.b", Status.UNREACHABLE, actual="host c2: ssh refused"),
]


def test_matrix_has_a_cell_per_host_and_area():
    lines = terminal.matrix(FINDINGS)
    assert lines[0].split() == ["host", "sasl", "tls", "virt"]
    assert lines[1].split() == ["c1", "1", "warn", "1", "waived", "1", "pass", "1", "FAIL"]
    assert lines[2].split() == ["c2", "-", "-", "2", "unreachable"]


def test_each_problem_is_one_line_with_its_fix():
    unused = Waiver(1, "virt.a", "x*", "r", datetime.date(2099, 1, 1), "jo")
    lines = terminal.render(FINDINGS, unused=[unused], crashed=["n::id"], exit_code=terminal.ExitCode.CHECK_FAILED)
    assert "FAIL   c1 virt.b: x unset -> fix: set x" in lines
    assert "WARN   c1 sasl.a: a -> fix: rotate" in lines
    assert any(line.startswith("WAIVED c1 tls.a: waived: CHG-1 (approved by jo") for line in lines)
    assert "UNREACHABLE c2: host c2: ssh refused (2 checks not run)" in lines
    assert any(line.startswith("UNUSED waiver #2 (virt.a on x*)") for line in lines)
    assert lines[-1] == "gate: exit 1 (a check failed)"
    assert not any("sasl.b" in line for line in lines[3:])  # n/a is no problem


def test_a_check_not_judged_is_counted_and_listed_but_does_not_fail_the_gate():
    # A container restarting under the check: skipped like n/a, but the operator must see the host was not verified.
    findings = [
        f("c1", "sasl.a", Status.PASS),
        f("c1", "sasl.b", Status.NOT_APPLICABLE, actual="cannot look inside nova_libvirt now: x", judged=False),
        f("c1", "sasl.c", Status.NOT_APPLICABLE, actual="libvirt_tls is false"),
    ]
    lines = terminal.render(findings, exit_code=terminal.ExitCode.OK)
    assert lines[1].split() == ["c1", "1", "pass", "1", "not", "judged"]
    assert "NOT JUDGED c1 sasl.b: cannot look inside nova_libvirt now: x" in lines
    assert not any("sasl.c" in line for line in lines) and lines[-1] == "gate: exit 0 (gate passed)"


def test_an_interrupted_run_never_claims_a_gate_result():
    """Ctrl-C or SIGTERM: the checks judged so far are shown, the gate is not (pytest exits 2)."""
    for findings in ([f("c1", "virt.a", Status.PASS)], FINDINGS):
        lines = terminal.render(findings, exit_code=terminal.ExitCode.OK, interrupted=True)
        assert lines[-1] == "interrupted: no gate result (the run stopped before all its checks ran; exit 2)"
        assert not any(line.startswith("gate:") for line in lines)


def test_an_interrupted_run_with_nothing_judged_yet_still_says_so():
    class Reporter:
        def __init__(self):
            self.lines = []

        def section(self, title):
            self.lines.append(f"== {title}")

        def write_line(self, line):
            self.lines.append(line)

    quiet, interrupted = Reporter(), Reporter()
    terminal.summary(quiet, [], {})
    terminal.summary(interrupted, [], {}, exit_code=terminal.ExitCode.OK, interrupted=True)
    assert quiet.lines == []
    assert interrupted.lines == ["== kolla conformance", "no findings", terminal.INTERRUPTED]
