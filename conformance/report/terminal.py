"""The end-of-run summary in the terminal: per host counts, each failure on one line with its fix."""
from __future__ import annotations

from collections import Counter

from conformance.model import Finding, Status

ORDER = (Status.PASS, Status.WARN, Status.FAIL, Status.NOT_APPLICABLE, Status.UNREACHABLE)


def summary(reporter, findings: list[Finding], stats: dict[str, dict]) -> None:
    if not findings:
        return
    reporter.section("kolla conformance")
    hosts = sorted({f.host for f in findings})
    width = max(len(h) for h in hosts)
    for host in hosts:
        counts = Counter(f.status for f in findings if f.host == host)
        cells = "  ".join(f"{s.value} {counts[s]}" for s in ORDER if counts[s])
        ssh = stats.get(host)
        ssh_text = f"   [ssh: {ssh['connections']} connection, {ssh['commands']} commands]" if ssh else ""
        reporter.write_line(f"{host:<{width}}  {cells}{ssh_text}")
    problems = [f for f in findings if f.status in (Status.FAIL, Status.WARN, Status.UNREACHABLE)]
    for finding in sorted(problems, key=lambda f: (f.host, f.status.value, f.check_id)):
        reporter.write_line(f"{finding.status.value.upper():<5} {finding.summary()}")
