"""A plan: the actions one fix takes on one host, as text for people (terminal, Allure) and as a shell script.

Planning only reads (through the run's cached facts); nothing on the host changes.
"""

from __future__ import annotations

import dataclasses
import shlex

from conformance.command import comment
from conformance.remediation.registry import Fix, FixContext, Manual, Risk


@dataclasses.dataclass
class Plan:
    host: str
    fix: Fix
    actions: list = dataclasses.field(default_factory=list)
    manual: str = ""  # set when there is no automatic fix: the steps an operator takes
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def check_id(self) -> str:
        return self.fix.check_id

    @property
    def risk(self) -> Risk:
        return max([self.fix.risk] + [a.risk for a in self.actions])

    def text(self) -> str:
        head = f"{self.check_id} on {self.host}: {self.fix.title} [{self.risk}]"
        if self.manual:
            lines = [head + " (manual only: never applied)", f"  {self.manual}"]
        elif not self.actions:
            lines = [head, "  nothing to change"]
        else:
            lines = [head] + [
                f"  {n}. {a.describe()}" + (f" [{a.risk}]" if a.risk > self.fix.risk else "")
                for n, a in enumerate(self.actions, 1)
            ]
            lines += ["    " + line for a in self.actions for line in a.diff().splitlines()]
        return "\n".join(lines + [f"  note: {note}" for note in self.notes])

    def script(self) -> str:
        """This plan as a section of the host's review script (run on the host by hand, as root)."""
        out = comment(f"--- {self.check_id}: {self.fix.title} [{self.risk}]")
        out += [line for note in self.notes for line in comment(note, "note: ")]
        if self.manual:
            return "\n".join(out + comment(self.manual, "manual: ")) + "\n"
        for action in self.actions:
            out += comment(action.describe()) + action.script()
        return "\n".join(out) + "\n"


def make_plan(fix: Fix, context: FixContext) -> Plan:
    try:
        actions = list(fix.plan(context))
    except Manual as exc:
        return Plan(context.host, fix, manual=str(exc), notes=list(context.notes))
    return Plan(context.host, fix, actions, notes=list(context.notes))


SCRIPT_HEADER = """#!/bin/sh
# Remediation plan for {host}, written by the Kolla conformance suite (--remediate=plan). Review before running.
# Run as root on {host}. Each section is one fix; backups are yours to take (apply mode takes them itself).
# Inputs: SASL_PASSWORD_FILE, a file holding libvirt_sasl_password from passwords.yml (never put it in argv).
set -eu
"""


def script_header(host: str) -> str:
    return SCRIPT_HEADER.format(host=shlex.quote(host))
