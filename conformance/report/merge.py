"""Merge the findings of several runs or shards (xdist workers, CI jobs split by host group) into one result.

The same (host, check) in two inputs: the later input wins, so a re-run after a fix replaces the first verdict.
"""

from __future__ import annotations

import json
from pathlib import Path

from conformance import waivers as waiver_rules
from conformance.errors import ConformanceError
from conformance.model import Finding


def read(path: Path) -> list[Finding]:
    path = Path(path)
    try:
        return [Finding.from_json(json.dumps(item)) for item in json.loads(path.read_text())]
    except FileNotFoundError:
        raise ConformanceError(f"{path}: findings file not found") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ConformanceError(f"{path}: not a findings JSON list ({exc})") from None


def merge(paths, waivers=()) -> list[Finding]:
    merged: dict[tuple[str, str], Finding] = {}
    for path in paths:
        for finding in read(path):
            merged[(finding.host, finding.check_id)] = finding
    # A waiver file given at merge time applies to findings that no run waived yet.
    findings = [f if f.waiver else waiver_rules.apply(waivers, f) for f in merged.values()]
    return sorted(findings, key=lambda f: (f.host, f.check_id))


def write(findings: list[Finding], path: Path) -> None:
    Path(path).write_text("[\n" + ",\n".join(f.to_json() for f in findings) + "\n]\n")
