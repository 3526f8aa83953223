"""The fix registry: what remediation knows for a check id, as data (risk, title, kind) plus a planning function.

A planning function takes a FixContext and returns the actions that bring the host back to what Kolla would
make, or raises Manual when no automatic fix is safe (the plan then explains the manual steps). Its kind says
which of the two it can do; the catalog's fix column and each check's page show it, and
tests/unit/test_registry.py holds every fix to its kind on recorded contexts.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conformance.facts import Facts
    from conformance.kolla.expectations import Expectation
    from conformance.model import Verdict

FIX_MODULES = tuple(
    f"conformance.remediation.fixes.{name}" for name in ("sasl", "tls", "virt", "ovs", "libvirt_mode", "cleanup")
)


class Risk(enum.IntEnum):
    SAFE = 0  # file modes, config content, a missing SASL user: nothing running is interrupted
    DISRUPTIVE = 1  # restarts a container or daemon, loads a module, replaces a host binary
    DESTRUCTIVE = 2  # deletes data (volumes, containers): also needs --remediate-allow CHECK_ID

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Risk:
        return cls[text.upper()]


class FixKind(str, enum.Enum):
    """What a planning function can do for the failures its check reports."""

    AUTO = "auto"  # plans actions (Manual only when an input is missing or another check's fault
    # comes first: no password in passwords.yml, no VT, a process gone while planning)
    SOME = "auto (some cases)"  # plans actions for some of the check's failures; the others get manual steps
    MANUAL = "manual"  # always raises Manual: the plan is steps for the operator, never applied

    def __str__(self) -> str:
        return self.value


class Manual(Exception):
    """Raised by a planning function: no automatic fix; the message explains what the operator does."""


@dataclasses.dataclass(frozen=True)
class FixContext:
    host: str
    expectation: Expectation
    facts: Facts  # the run's cached facts of this host
    verdict: Verdict  # the failing one
    source_of: Callable[[str], str] = lambda name: "Kolla defaults"  # where a Kolla variable was set
    notes: list[str] = dataclasses.field(default_factory=list)  # the plan's remarks (e.g. globals.yml drift)


@dataclasses.dataclass(frozen=True)
class Fix:
    check_id: str
    risk: Risk
    title: str
    plan: Callable = dataclasses.field(repr=False, compare=False)
    kind: FixKind = FixKind.AUTO


REGISTRY: dict[str, Fix] = {}


def fix(check_id: str, *, risk: Risk, title: str, kind: FixKind | str = FixKind.AUTO):
    """Register a planning function as the fix of a check id (the id a check module registers).

    kind: "auto" (the default), "auto (some cases)" or "manual" (a function that always raises Manual)."""
    kind = FixKind(kind)

    def register(fn):
        if check_id in REGISTRY:
            raise ValueError(f"duplicate fix for {check_id}")
        REGISTRY[check_id] = Fix(check_id, risk, title, fn, kind)
        return fn

    return register


def fix_for(check_id: str) -> Fix | None:
    for module in FIX_MODULES:  # imported lazily: a run without --remediate never loads them
        importlib.import_module(module)
    return REGISTRY.get(check_id)


def all_fixes() -> dict[str, Fix]:
    """Every registered fix by check id (importing the fix modules registers them)."""
    fix_for("")
    return dict(REGISTRY)
