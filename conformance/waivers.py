"""Waivers: a reviewed, expiring exception for a check on some hosts.

File format (YAML), given by the profile key `waivers:` or `--waivers PATH`:

    waivers:
      - check: virt.dev-kvm-access      # a check id (exact)
        hosts: "compute-0*"             # fnmatch glob over inventory host names; default "*"
        reason: "udev rule lands with the next image, CHG-1234"
        expires: 2025-06-30             # the last day the waiver applies
        approved_by: jane.doe

A waived FAIL or WARN is still reported (as waived, with its reason) but does not count against the gate.
An expired waiver no longer waives: the finding counts again and carries the expired waiver so reports say so.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
from pathlib import Path

from conformance.errors import ProfileError
from conformance.inputs import parse_yaml, read_text
from conformance.model import Finding, Status

REQUIRED = ("check", "reason", "expires", "approved_by")
KEYS = set(REQUIRED) | {"hosts"}
WAIVABLE = (Status.FAIL, Status.WARN)  # a pass needs no waiver; an unreachable host is not a product finding


@dataclasses.dataclass(frozen=True)
class Waiver:
    index: int
    check: str
    hosts: str
    reason: str
    expires: datetime.date
    approved_by: str

    def matches(self, check_id: str, host: str) -> bool:
        return check_id == self.check and fnmatch.fnmatchcase(host, self.hosts)

    def expired(self, today: datetime.date) -> bool:
        return today > self.expires

    def label(self) -> str:
        return f"waiver #{self.index + 1} ({self.check} on {self.hosts})"

    def record(self, today: datetime.date) -> dict[str, str]:
        return {
            "reason": self.reason,
            "approved_by": self.approved_by,
            "expires": self.expires.isoformat(),
            "hosts": self.hosts,
            "state": "expired" if self.expired(today) else "active",
        }


def load(path: str | Path, known_checks: set[str] | None = None) -> tuple[Waiver, ...]:
    """Parse and validate a waiver file; any problem is one ProfileError naming the file, entry and key."""
    path = Path(path)
    if not path.is_file():
        raise ProfileError(path, None, "waiver file not found")
    data = parse_yaml(path, read_text(path), unique_keys=True)  # binary, invalid or repeated keys: one line
    if data is None:
        return ()
    entries = data.get("waivers") if isinstance(data, dict) else data
    if isinstance(data, dict) and set(data) - {"waivers"}:
        raise ProfileError(path, sorted(map(str, set(data) - {"waivers"}))[0], "unknown key (known: waivers)")
    if not isinstance(entries, list):
        raise ProfileError(path, "waivers", "expected a list of waiver entries")
    return tuple(_entry(path, i, item, known_checks) for i, item in enumerate(entries))


def _entry(path: Path, index: int, item, known_checks) -> Waiver:
    where = f"waivers[{index}]"
    if not isinstance(item, dict):
        raise ProfileError(path, where, "expected a mapping with check, hosts, reason, expires, approved_by")
    for key in item:
        if key not in KEYS:
            raise ProfileError(path, f"{where}.{key}", f"unknown key (known: {', '.join(sorted(KEYS))})")
    for key in REQUIRED:
        if item.get(key) in (None, ""):
            raise ProfileError(
                path, f"{where}.{key}", "missing (every waiver needs check, reason, expires, approved_by)"
            )
    for key in ("check", "reason", "approved_by", "hosts"):
        if key in item and not isinstance(item[key], str):
            raise ProfileError(path, f"{where}.{key}", f"expected a string, got {item[key]!r}")
    if known_checks is not None and item["check"] not in known_checks:
        raise ProfileError(path, f"{where}.check", f"unknown check id {item['check']!r}")
    expires = item["expires"]
    if isinstance(expires, str):
        try:
            expires = datetime.date.fromisoformat(expires)
        except ValueError:
            pass
    if not isinstance(expires, datetime.date) or isinstance(expires, datetime.datetime):
        raise ProfileError(path, f"{where}.expires", f"expected a date YYYY-MM-DD, got {item['expires']!r}")
    return Waiver(index, item["check"], item.get("hosts", "*"), item["reason"], expires, item["approved_by"])


def find(waivers, finding: Finding) -> Waiver | None:
    """The waiver for a waivable finding: the first unexpired match, else the first expired one (to report it)."""
    if finding.status not in WAIVABLE:
        return None
    matching = [w for w in waivers if w.matches(finding.check_id, finding.host)]
    today = datetime.date.today()
    return next((w for w in matching if not w.expired(today)), matching[0] if matching else None)


def apply(waivers, finding: Finding) -> Finding:
    waiver = find(waivers, finding)
    if waiver is None:
        return finding
    return dataclasses.replace(finding, waiver=waiver.record(datetime.date.today()))


def unused(waivers, findings) -> list[Waiver]:
    """Waivers that matched no failing or warning finding of this run: stale, or a typo in the host pattern."""
    return [w for w in waivers if not any(f.status in WAIVABLE and w.matches(f.check_id, f.host) for f in findings)]


def describe(finding: Finding) -> str:
    """One phrase for reports: why this finding does (not) count."""
    w = finding.waiver
    if not w:
        return ""
    if finding.waived:
        return f"waived: {w['reason']} (approved by {w['approved_by']}, until {w['expires']})"
    return f"waiver expired on {w['expires']} ({w['reason']}, approved by {w['approved_by']}): counts again"
