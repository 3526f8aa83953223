"""The vocabulary of the suite as data: phases, severities, statuses, findings."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any


class Phase(str, enum.Enum):
    PREDEPLOY = "predeploy"  # before `kolla-ansible deploy`: hardware, staged certificates, host daemons
    POSTDEPLOY = "postdeploy"  # after deploy or upgrade: the running libvirt matches the intended config
    POSTCLEANUP = "postcleanup"  # after `kolla-ansible nova-libvirt-cleanup`


class Severity(str, enum.Enum):
    # Allure's severity names, so reports need no translation table.
    BLOCKER = "blocker"  # the compute host cannot work (no VMs start, nova-compute does not start)
    CRITICAL = "critical"  # a main function breaks (migration, networking of new VMs)
    NORMAL = "normal"  # a latent fault: breaks on the next restart, reconfigure or new host
    MINOR = "minor"  # hygiene, performance left on the table
    TRIVIAL = "trivial"


class Status(str, enum.Enum):
    PASS = "pass"
    WARN = "warn"  # passes the gate, but an operator should look
    FAIL = "fail"
    NOT_APPLICABLE = "n/a"  # the check does not apply to this host's expectations
    UNREACHABLE = "unreachable"


NOT_JUDGED = "not judged: "  # how reports introduce the reason of a verdict that is not judged


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What a check function returns: the judgement, before it is tied to a check and host."""

    status: Status
    expected: str = ""
    actual: str = ""
    evidence: dict[str, str] = dataclasses.field(default_factory=dict)
    hint: str = ""  # what an operator would do about it
    judged: bool = True  # False: the check applies, but what it reads did not answer (status n/a, not a pass)

    @classmethod
    def passed(cls, expected="", actual="", evidence=None):
        return cls(Status.PASS, expected, actual, evidence or {})

    @classmethod
    def failed(cls, expected, actual, hint="", evidence=None):
        return cls(Status.FAIL, expected, actual, evidence or {}, hint)

    @classmethod
    def warning(cls, expected, actual, hint="", evidence=None):
        return cls(Status.WARN, expected, actual, evidence or {}, hint)

    @classmethod
    def not_applicable(cls, reason):
        return cls(Status.NOT_APPLICABLE, actual=reason)

    @classmethod
    def not_judged(cls, reason, expected="", evidence=None):
        """The check applies, but what it reads did not answer now (a container or daemon restarting): skipped
        like n/a, yet listed in the summary, because the host was not verified."""
        return cls(Status.NOT_APPLICABLE, expected, reason, evidence or {}, judged=False)

    @classmethod
    def passed_unless_unread(cls, expected, actual, unread: list[str], evidence=None):
        """What a check that judges several places says when what it read is as intended: a pass only if it read
        them all. A place it could not read (its container stopped or restarting) is never taken as a pass."""
        if unread:
            return cls.not_judged("not read: " + "; ".join(unread) + f" (the rest: {actual})", expected, evidence)
        return cls.passed(expected, actual, evidence)


@dataclasses.dataclass(frozen=True)
class Finding:
    """One check's verdict for one host: what reports, waivers and remediation consume.

    Evidence is already redacted when a Finding is made; a Finding may be written anywhere.
    """

    check_id: str
    host: str
    status: Status
    severity: Severity
    area: str
    phase: str
    expected: str
    actual: str
    hint: str = ""
    evidence: dict[str, str] = dataclasses.field(default_factory=dict)
    # The waiver that matched a FAIL/WARN (conformance.waivers): reason, approved_by, expires, state "active"|"expired".
    waiver: dict[str, str] = dataclasses.field(default_factory=dict)
    judged: bool = True  # False: skipped like n/a, but the host was not verified on this point (see Verdict)

    @property
    def not_judged(self) -> bool:
        return not self.judged

    @property
    def waived(self) -> bool:
        """An active waiver: the finding is shown, with its reason, but does not count against the gate."""
        return self.waiver.get("state") == "active"

    def summary(self) -> str:
        text = f"{self.check_id} on {self.host}: expected {self.expected}; actual {self.actual}"
        return f"{text}. Fix: {self.hint}" if self.hint else text

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Finding:
        data: dict[str, Any] = json.loads(text)
        data["status"] = Status(data["status"])
        data["severity"] = Severity(data["severity"])
        return cls(**data)
