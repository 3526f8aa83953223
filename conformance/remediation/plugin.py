"""The remediation pytest plugin (its own pytest11 entry point). Off unless --remediate is given.

plan:  for each failed check with a known fix, the actions per host go to the terminal, the finding (and so
       Allure), and a review script per host in --remediate-dir. Nothing on any host changes.
apply: fixes up to --remediate-max-risk (destructive ones also need --remediate-allow CHECK_ID) are applied over
       the run's SSH connection; the test's outcome is the same check run again.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
from pathlib import Path

import allure
import pytest

from conformance.errors import ConformanceError, NotRead
from conformance.facts import Facts
from conformance.model import Status, Verdict
from conformance.plugin import SESSION
from conformance.probes.host import ansible_facts
from conformance.remediation import applier, backup, planner
from conformance.remediation.hostlock import STALE_AFTER
from conformance.remediation.registry import REGISTRY, FixContext, Risk, fix_for
from conformance.remediation.remote import ActionError, Remote

PROPERTY = "kolla_remediation"


def pytest_addoption(parser):
    group = parser.getgroup("kolla-remediation", "Kolla libvirt remediation")
    group.addoption("--remediate", choices=["plan", "apply"], help="plan fixes for failed checks, or apply them")
    group.addoption(
        "--remediate-max-risk",
        choices=[str(r) for r in Risk],
        default="safe",
        help="apply fixes up to this risk (default: safe)",
    )
    group.addoption(
        "--remediate-allow",
        action="append",
        default=[],
        metavar="CHECK_ID",
        help="allow the destructive fix of this check id (repeatable)",
    )
    group.addoption(
        "--remediate-dir",
        default="kolla-remediation",
        metavar="DIR",
        help="where the per-host review scripts are written (default: ./kolla-remediation)",
    )
    group.addoption(
        "--remediate-lock-wait",
        type=float,
        default=60,
        metavar="SECONDS",
        help="how long to wait for another run's lock on a host (default: 60)",
    )
    group.addoption(
        "--remediate-lock-stale",
        type=float,
        default=STALE_AFTER,
        metavar="SECONDS",
        help="a lock whose holder showed no life for this long is taken over "
        f"(default: {STALE_AFTER}; a holder on this machine whose process is gone, at once)",
    )
    group.addoption(
        "--remediate-prune-backups",
        type=int,
        metavar="DAYS",
        help="remove this suite's backup folders older than DAYS on each host remediated "
        "(default: keep them all; plan mode only lists them)",
    )


def pytest_configure(config):
    if config.getoption("remediate"):
        check_options(config)
        config.pluginmanager.register(Remediation(config), "kolla-remediation-session")


def check_options(config) -> None:
    """Bad options stop the run before any host is touched, with one line naming the option."""
    for check_id in config.getoption("remediate_allow"):
        fix = fix_for(check_id)
        if fix is None or fix.risk is not Risk.DESTRUCTIVE:
            known = sorted(c for c, f in REGISTRY.items() if f.risk is Risk.DESTRUCTIVE)
            raise pytest.UsageError(
                f"--remediate-allow {check_id}: no destructive fix has this check id "
                f"(destructive fixes: {', '.join(known)})"
            )
    days = config.getoption("remediate_prune_backups")
    if days is not None and days < 1:
        raise pytest.UsageError(f"--remediate-prune-backups {days}: give a number of days, 1 or more")
    for name in ("remediate_lock_wait", "remediate_lock_stale"):
        if config.getoption(name) < 0:
            raise pytest.UsageError(f"--{name.replace('_', '-')} {config.getoption(name):g}: seconds, 0 or more")


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
        self.lock_stale = config.getoption("remediate_lock_stale")
        self.prune_days = config.getoption("remediate_prune_backups")
        self._pruned: set[str] = set()
        self._looked: set[str] = set()  # hosts whose lock was looked at for a dead run's half-done fix
        self.records: list[dict] = []
        self._scripts: dict[str, dict[str, str]] = {}  # host -> actions already in its script -> check id
        if not hasattr(config, "workerinput"):  # once per run, before any xdist worker writes
            self._remove_old_scripts()

    def _redact(self, text: str) -> str:
        session = self.config.stash.get(SESSION, None)  # the conformance run's declared interface
        return session.run.redact(text) if session else text

    # -- before the first check of each host: a dead run's half-done fix ----------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item):
        """A run killed in the middle of a fix (SIGKILL) left its lock and journal on the host. Before any check
        of that host is judged, apply mode takes the lock over and rolls the fix back (so the checks see the
        host as it is, not half fixed), whatever this run plans for the host, even nothing; plan mode says so."""
        context = getattr(item, "funcargs", {}).get("conformance_host")
        if context is None or context.plan.name in self._looked:
            return
        self._looked.add(context.plan.name)
        remote = Remote(context.connection, self._redact)
        try:
            if self.mode == "plan":
                note = applier.stale_note(remote, lock_stale_after=self.lock_stale)
                outcome = applier.Outcome(applier.State.WOULD_RECOVER, None, [note]) if note else None
            else:
                with allure.step("remediation: a dead run's lock on the host"):
                    outcome = applier.recover_stale(remote, lock_stale_after=self.lock_stale, step=allure.step)
        except applier.Interrupted as exc:  # recovered, then the run stops: no report of this test is logged
            self.records.append(self._record_recovery(item, context.plan.name, exc.outcome))
            raise
        except (ActionError, ConformanceError) as exc:  # the check itself then reports the host's state
            outcome = applier.Outcome(applier.State.RECOVERY_FAILED, None, [], error=str(exc))
        if outcome is not None:
            self._record_recovery(item, context.plan.name, outcome)
            _, facts = context.prepare()
            facts.invalidate()  # the checks must see the host as the recovery left it

    def _record_recovery(self, item, host: str, outcome) -> dict:
        record = {
            "host": host,
            "check": "(lock)",
            "plan": f"{host}: a dead run's lock and half-done fix",
            "outcome": self._redact(outcome.text()),
            "state": str(outcome.state),  # plain text: records travel from xdist workers
        }
        item.user_properties.append((PROPERTY, json.dumps(record)))  # to the summary, through xdist too
        return record

    # -- the hook the conformance plugin calls after each check -----------------------------------------
    @pytest.hookimpl
    def pytest_conformance_verdict(self, check, expectation, facts, verdict, node, context):
        if verdict.status.value != "fail":
            return None
        fix = fix_for(check.id)
        if fix is None:
            return None
        variables = context.profile.variables(context.plan, facts=lambda: facts.probe(ansible_facts))

        def plan_on(host_facts, failing):
            return planner.make_plan(
                fix, FixContext(context.plan.name, expectation, host_facts, failing, variables.source_of)
            )

        try:
            plan = plan_on(facts, verdict)
        except NotRead as exc:  # gone since the check read it, or the engine cannot list: plan on the next run
            return dataclasses.replace(verdict, evidence={**verdict.evidence, "remediation": f"not planned: {exc}"})
        self._write_script(plan)
        remote = Remote(context.connection, self._redact)
        pruned = self._prune(remote)
        refusal = refuse(plan, self.max_risk, self.allowed)
        if self.mode == "plan":
            would = f"apply would leave it: {refusal}" if refusal else "apply would act"
            return self._report(
                node,
                verdict,
                plan,
                f"planned: nothing changed; {would}" + pruned,
                "manual" if plan.manual else "would leave" if refusal else "would apply",
            )
        if refusal:
            return self._report(
                node, verdict, plan, f"not applied: {refusal}" + pruned, "manual" if plan.manual else "not applied"
            )

        def recheck():  # fresh facts on the same connection: the cached ones describe the host before the fix
            return check.run(expectation, Facts(context.connection, engine=facts.engine))

        def confirm():  # under the lock: the same judgement and plan on the host as it is now
            fresh = Facts(context.connection, engine=facts.engine)
            now = check.run(expectation, fresh)
            try:
                return now, (plan_on(fresh, now) if now.status is Status.FAIL else None)
            except NotRead:
                return now, None

        try:
            with allure.step(f"remediation: {fix.title} [{plan.risk}]"):
                outcome = applier.apply(
                    plan,
                    remote,
                    recheck,
                    self.lock_wait,
                    step=allure.step,
                    lock_stale_after=self.lock_stale,
                    confirm=confirm,
                )
        except applier.Interrupted as exc:  # the host is consistent again; the run stops (pytest: exit 2)
            facts.invalidate()
            self._report(node, verdict, plan, exc.outcome.text() + pruned, exc.outcome.state)
            self.records.append(json.loads(node.user_properties[-1][1]))  # an interrupted test is never logged
            raise
        facts.invalidate()  # later checks of this host must see the host as it is now
        result = outcome.verdict or verdict  # the check run again, else (not run, or not judged) the failure
        return self._report(node, result, plan, outcome.text() + pruned, outcome.state)

    def _prune(self, remote: Remote) -> str:
        """Once per host, when asked: old backups go (plan mode only lists them). Returns a line for the outcome."""
        if self.prune_days is None or remote.host in self._pruned:
            return ""
        self._pruned.add(remote.host)
        dry = self.mode == "plan"
        try:
            folders = backup.prune(remote, self.prune_days, dry_run=dry)
        except ActionError as exc:
            return f"\n  backups not pruned: {exc}"
        verb = "would prune" if dry else "pruned"
        return f"\n  {verb} {len(folders)} backup folder(s) older than {self.prune_days} days" + "".join(
            f"\n    {f}" for f in folders
        )

    def _report(self, node, verdict: Verdict, plan, outcome: str, state: applier.State | str) -> Verdict:
        text = self._redact(plan.text())
        outcome = self._redact(outcome)
        node.user_properties.append(
            (
                PROPERTY,
                json.dumps(
                    {"host": plan.host, "check": plan.check_id, "plan": text, "outcome": outcome, "state": str(state)}
                ),
            )
        )
        evidence = {**verdict.evidence, "remediation plan": text, "remediation": outcome}
        return dataclasses.replace(verdict, evidence=evidence)

    def _remove_old_scripts(self) -> None:
        """A review script left by an earlier run describes a host as it was then: running it now could undo
        later changes. Only files this plugin wrote (they start with its header) are removed."""
        marker = planner.script_header("").splitlines()[1].split(" for ")[0]
        for path in self.dir.glob("*.sh"):
            try:
                with open(path, errors="replace") as script:
                    script.readline()
                    if script.readline().startswith(marker):
                        path.unlink()
            except OSError:
                pass

    def _write_script(self, plan) -> None:
        """Append the plan to the host's review script; the first plan of a host in this process starts it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{plan.host}.sh"
        first = plan.host not in self._scripts
        written = self._scripts.setdefault(plan.host, {})
        section = self._redact(plan.script())
        body = section.split("\n", 1)[1]
        if plan.actions and body in written:  # two checks, one cause (e.g. mech-list and mech-matches-tls)
            section = f"# --- {plan.check_id}: the same actions as {written[body]} above; nothing more to run\n"
        elif plan.actions:
            written[body] = plan.check_id
        with open(path, "w" if first else "a") as out:
            if first:
                out.write(planner.script_header(plan.host))
            out.write("\n" + section)
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
        tally = collections.Counter(record["state"] for record in self.records)
        terminalreporter.write_line(
            f"{len(self.records)} plan(s): " + ", ".join(f"{state} {n}" for state, n in sorted(tally.items()))
        )
        changed = sorted({r["host"] for r in self.records if r["state"] == applier.State.FIXED})
        if changed:  # checks that ran before a fix on the same host judged the host as it was
            terminalreporter.write_line(
                f"fixed on {', '.join(changed)}: run the suite again there, since checks "
                "that ran before a fix (e.g. live logins) saw the host unfixed"
            )
        terminalreporter.write_line(f"review scripts: {self.dir.resolve()}/<host>.sh")
