"""The remediation pytest plugin (its own pytest11 entry point). Off unless --remediate is given.

plan:  for each failed check with a known fix, the actions per host go to the terminal, the finding (and so
       Allure), and a review script per host in --remediate-dir. Nothing on any host changes.
apply: fixes up to --remediate-max-risk (destructive ones also need --remediate-allow CHECK_ID) are applied over
       the run's SSH connection; the test's outcome is the same check run again.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import allure
import pytest

from conformance.facts import Facts
from conformance.model import Verdict
from conformance.probes.host import ansible_facts
from conformance.remediation import applier, planner
from conformance.remediation.registry import FixContext, Risk, fix_for
from conformance.remediation.remote import Remote

PROPERTY = "kolla_remediation"


def pytest_addoption(parser):
    group = parser.getgroup("kolla-remediation", "Kolla libvirt remediation")
    group.addoption("--remediate", choices=["plan", "apply"], help="plan fixes for failed checks, or apply them")
    group.addoption("--remediate-max-risk", choices=[str(r) for r in Risk], default="safe",
                    help="apply fixes up to this risk (default: safe)")
    group.addoption("--remediate-allow", action="append", default=[], metavar="CHECK_ID",
                    help="allow the destructive fix of this check id (repeatable)")
    group.addoption("--remediate-dir", default="kolla-remediation", metavar="DIR",
                    help="where the per-host review scripts are written (default: ./kolla-remediation)")
    group.addoption("--remediate-lock-wait", type=float, default=60, metavar="SECONDS",
                    help="how long to wait for another run's lock on a host (default: 60)")


def pytest_configure(config):
    if config.getoption("remediate"):
        config.pluginmanager.register(Remediation(config), "kolla-remediation-session")


def refuse(plan, max_risk: Risk, allowed: set[str]) -> str:
    """Why apply leaves this plan alone ("" when it may go ahead): never by surprise."""
    if plan.manual:
        return "no automatic fix (manual steps in the plan)"
    if not plan.actions:
        return "nothing to change"
    if plan.risk > max_risk:
        return f"{plan.risk} fix; allow it with --remediate-max-risk {plan.risk}"
    if plan.risk is Risk.DESTRUCTIVE and plan.check_id not in allowed:
        return f"destructive fix; name it with --remediate-allow {plan.check_id}"
    return ""


class Remediation:
    def __init__(self, config):
        self.config = config
        self.mode = config.getoption("remediate")
        self.max_risk = Risk.parse(config.getoption("remediate_max_risk"))
        self.allowed = set(config.getoption("remediate_allow"))
        self.dir = Path(config.getoption("remediate_dir"))
        self.lock_wait = config.getoption("remediate_lock_wait")
        self.records: list[dict] = []
        self._scripts: set[str] = set()

    def _redact(self, text: str) -> str:
        session = self.config.pluginmanager.get_plugin("kolla-conformance-session")
        return session.run.redact(text) if session else text

    # -- the hook the conformance plugin calls after each check -----------------------------------------
    @pytest.hookimpl
    def pytest_conformance_verdict(self, check, expectation, facts, verdict, node, context):
        if verdict.status.value != "fail":
            return None
        fix = fix_for(check.id)
        if fix is None:
            return None
        variables = context.profile.variables(context.plan, facts=lambda: facts.probe(ansible_facts))
        ctx = FixContext(context.plan.name, expectation, facts, verdict, variables.source_of)
        plan = planner.make_plan(fix, ctx)
        self._write_script(plan)
        if self.mode == "plan":
            return self._report(node, verdict, plan, "planned: nothing changed")
        refusal = refuse(plan, self.max_risk, self.allowed)
        if refusal:
            return self._report(node, verdict, plan, f"not applied: {refusal}")
        remote = Remote(context.connection, self._redact)

        def recheck():   # fresh facts on the same connection: the cached ones describe the host before the fix
            return check.run(expectation, Facts(context.connection, engine=facts.engine))

        with allure.step(f"remediation: {fix.title} [{plan.risk}]"):
            outcome = applier.apply(plan, remote, recheck, self.lock_wait, step=allure.step)
        facts.invalidate()   # later checks of this host must see the host as it is now
        result = outcome.verdict if outcome.state in ("fixed", "still-failing") else verdict
        return self._report(node, result, plan, outcome.text())

    def _report(self, node, verdict: Verdict, plan, outcome: str) -> Verdict:
        text = self._redact(plan.text())
        outcome = self._redact(outcome)
        node.user_properties.append((PROPERTY, json.dumps(
            {"host": plan.host, "check": plan.check_id, "plan": text, "outcome": outcome})))
        evidence = {**verdict.evidence, "remediation plan": text, "remediation": outcome}
        return dataclasses.replace(verdict, evidence=evidence)

    def _write_script(self, plan) -> None:
        """Append the plan to the host's review script; the first plan of a host in this process starts it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{plan.host}.sh"
        first = plan.host not in self._scripts
        self._scripts.add(plan.host)
        with open(path, "w" if first else "a") as out:
            if first:
                out.write(planner.script_header(plan.host))
            out.write("\n" + self._redact(plan.script()))
        os.chmod(path, 0o700)

    # -- results, on the controller under xdist ---------------------------------------------------------
    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            self.records += [json.loads(value) for name, value in report.user_properties if name == PROPERTY]

    def pytest_terminal_summary(self, terminalreporter):
        if hasattr(self.config, "workeroutput") or not self.records:
            return
        terminalreporter.section(f"kolla remediation ({self.mode}, max risk {self.max_risk})")
        for record in sorted(self.records, key=lambda r: (r["host"], r["check"])):
            terminalreporter.write_line(record["plan"])
            for line in record["outcome"].splitlines():
                terminalreporter.write_line("  " + line)
        terminalreporter.write_line(f"review scripts: {self.dir.resolve()}/<host>.sh")
