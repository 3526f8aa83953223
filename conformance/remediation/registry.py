"""The fix registry: what remediation knows for a check id, as data (risk, title) plus a planning function.

A planning function takes a FixContext and returns the actions that bring the host back to what Kolla would
make, or raises Manual when no automatic fix is safe (the plan then explains the manual steps).
"""
from __future__ import annotations

import dataclasses
import enum
import importlib
from collections.abc import Callable

FIX_MODULES = tuple(f"conformance.remediation.fixes.{name}"
                    for name in ("sasl", "tls", "virt", "ovs", "libvirt_mode", "cleanup"))


class Risk(enum.IntEnum):
    SAFE = 0          # file modes, config content, a missing SASL user: nothing running is interrupted
    DISRUPTIVE = 1    # restarts a container or daemon, loads a module, replaces a host binary
    DESTRUCTIVE = 2   # deletes data (volumes, containers): also needs --remediate-allow CHECK_ID

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> "Risk":
        return cls[text.upper()]


class Manual(Exception):
    """Raised by a planning function: no automatic fix; the message explains what the operator does."""


@dataclasses.dataclass(frozen=True)
class FixContext:
    host: str
    expectation: object        # conformance.kolla.expectations.Expectation
    facts: object              # conformance.facts.Facts (the run's cached facts of this host)
    verdict: object            # the failing Verdict
    source_of: Callable[[str], str] = lambda name: "Kolla defaults"   # where a Kolla variable was set
    notes: list[str] = dataclasses.field(default_factory=list)        # the plan's remarks (e.g. globals.yml drift)


@dataclasses.dataclass(frozen=True)
class Fix:
    check_id: str
    risk: Risk
    title: str
    plan: Callable = dataclasses.field(repr=False, compare=False)


REGISTRY: dict[str, Fix] = {}


def fix(check_id: str, *, risk: Risk, title: str):
    """Register a planning function as the fix of a check id (the id a check module registers)."""
    def register(fn):
        if check_id in REGISTRY:
            raise ValueError(f"duplicate fix for {check_id}")
        REGISTRY[check_id] = Fix(check_id, risk, title, fn)
        return fn
    return register


def fix_for(check_id: str) -> Fix | None:
    for module in FIX_MODULES:   # imported lazily: a run without --remediate never loads them
        importlib.import_module(module)
    return REGISTRY.get(check_id)
