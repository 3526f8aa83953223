"""The end-of-run summary: a hosts x areas matrix, then one line per problem with its fix hint.

`render` is pure (findings in, lines out) so `kolla-conformance merge` prints the same summary as a run.
"""

from __future__ import annotations

from collections import Counter

from conformance import waivers as waiver_rules
from conformance.errors import ExitCode
from conformance.model import NOT_JUDGED, Finding, Status

# Cell columns, in the order an operator scans them; "waived" is a FAIL/WARN under an active waiver.
COLUMNS = ("pass", "fail", "warn", "waived", "not judged", "unreachable")
MEANING = {
    ExitCode.OK: "gate passed",
    ExitCode.CHECK_FAILED: "a check failed",
    ExitCode.INTERNAL_ERROR: "a check crashed",
    ExitCode.HOSTS_UNREACHABLE: "hosts unreachable",
}


def column(finding: Finding) -> str | None:
    if finding.waived:
        return "waived"
    if finding.not_judged:
        return "not judged"
    return {Status.PASS: "pass", Status.FAIL: "fail", Status.WARN: "warn", Status.UNREACHABLE: "unreachable"}.get(
        finding.status
    )  # n/a is not counted


def _cell(counts: Counter) -> str:
    return " ".join(f"{counts[c]} {c if c != 'fail' else 'FAIL'}" for c in COLUMNS if counts[c]) or "n/a"


def matrix(findings: list[Finding]) -> list[str]:
    hosts = sorted({f.host for f in findings})
    areas = sorted({f.area for f in findings})
    cells: dict[tuple[str, str], Counter] = {}
    for f in findings:  # one pass: at fleet size, a pass per cell was hosts x areas x findings
        cells.setdefault((f.host, f.area), Counter())[column(f)] += 1
    rows = [["host", *areas]] + [[h, *(_cell(cells[h, a]) if (h, a) in cells else "-" for a in areas)] for h in hosts]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(text.ljust(w) for text, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def problems(findings: list[Finding]) -> list[str]:
    lines = []
    unreachable: dict[str, list[Finding]] = {}
    for f in sorted(findings, key=lambda f: (f.host, f.check_id)):
        if f.status is Status.UNREACHABLE:
            unreachable.setdefault(f.host, []).append(f)
        elif f.waived:
            lines.append(f"WAIVED {f.host} {f.check_id}: {waiver_rules.describe(f)}")
        elif f.status in (Status.FAIL, Status.WARN):
            expired = f" [{waiver_rules.describe(f)}]" if f.waiver else ""
            fix = f" -> fix: {f.hint}" if f.hint else ""
            lines.append(f"{f.status.value.upper():<6} {f.host} {f.check_id}: {f.actual}{fix}{expired}")
        elif f.not_judged:  # passes the gate like n/a, but this host was not verified on this point
            lines.append(f"NOT JUDGED {f.host} {f.check_id}: {f.actual.removeprefix(NOT_JUDGED)}")
    for host, items in unreachable.items():
        lines.append(f"UNREACHABLE {host}: {items[0].actual} ({len(items)} checks not run)")
    return lines


INTERRUPTED = "interrupted: no gate result (the run stopped before all its checks ran; exit 2)"


def render(
    findings: list[Finding], stats: dict | None = None, unused=(), crashed=(), exit_code=None, interrupted: bool = False
) -> list[str]:
    """`interrupted`: the run was stopped (Ctrl-C, SIGTERM); what it judged is shown, but no gate result."""
    lines = matrix(findings) if findings else ["no findings"]
    if stats:
        lines += [
            f"ssh {h}: {s['connections']} connection(s), {s['commands']} commands in {s['round_trips']} round "
            f"trip(s), gathered in {s['gather_seconds']:.1f} s"
            for h, s in sorted(stats.items())
        ]
    lines += problems(findings)
    lines += [
        f"UNUSED {w.label()}: matched no failing or warning finding (remove it, or fix its host pattern)"
        for w in unused
    ]
    lines += [f"ERROR  {nodeid}: the check crashed (a suite bug); see the traceback above" for nodeid in crashed]
    if interrupted:
        lines.append(INTERRUPTED)
    elif exit_code is not None:
        lines.append(f"gate: exit {int(exit_code)} ({MEANING.get(exit_code, exit_code.name.lower())})")
    return lines


def summary(reporter, findings: list[Finding], stats: dict, **extra) -> None:
    if not findings and not extra.get("crashed") and not extra.get("interrupted"):
        return
    reporter.section("kolla conformance")
    for line in render(findings, stats, **extra):
        reporter.write_line(line)
