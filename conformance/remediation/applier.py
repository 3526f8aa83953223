"""Apply one plan on one host: lock, back up, act, check again; roll back everything if anything fails.

The outcome of the test is the check run again on fresh facts, never the fact that commands exited 0
(OpenSCAP reports rules as fixed when the fix errored; we do not).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import nullcontext

from conformance.errors import HostUnreachable
from conformance.model import Status, Verdict
from conformance.remediation.backup import BACKUP_ROOT, Backup
from conformance.remediation.hostlock import LOCK_DIR, STALE_AFTER, HostLock, HostLocked, LockLost
from conformance.remediation.planner import Plan
from conformance.remediation.remote import FAIL_AT_ENV, ActionError, Remote, injected_failure_index


class Journal:
    """What a fix changed so far, and how to take it back."""

    def __init__(self, remote: Remote, backup: Backup):
        self.remote, self.backup = remote, backup
        self._undo: list[tuple[str, str]] = []
        self._after_restore: list[tuple[str, str]] = []

    def on_rollback(self, command: str, what: str) -> None:
        self._undo.append((command, what))

    def after_restore(self, command: str, what: str) -> None:
        self._after_restore.append((command, what))

    def rollback(self) -> list[str]:
        """Undo commands (last first), restore files, then repeat restarts so services read the originals."""
        problems = []
        for command, what in reversed(self._undo):
            result = self.remote.run(command)
            if not result.ok:
                problems.append(f"{what}: exit {result.rc}")
        problems += self.backup.restore_all()
        for command, what in self._after_restore:
            result = self.remote.run(command)
            if not result.ok:
                problems.append(f"{what}: exit {result.rc}")
        if not problems:
            self.backup.discard()   # kept when something did not go back: the operator needs it then
        return problems


@dataclasses.dataclass
class Outcome:
    state: str                        # fixed | still-failing | rolled-back | locked | already-fixed | host-changed
                                      # | lock-lost
    verdict: Verdict | None           # the check run again (None when it was not)
    steps: list[str]
    error: str = ""
    backup: str = ""
    rollback_problems: list[str] = dataclasses.field(default_factory=list)

    def text(self) -> str:
        lines = [f"outcome: {self.state}"] + [f"  {step}" for step in self.steps]
        if self.error:
            lines.append(f"  error: {self.error}")
        if self.backup and (self.state in ("fixed", "lock-lost") or self.rollback_problems):
            lines.append(f"  backup on the host: {self.backup}")
        if self.state in ("still-failing", "rolled-back"):
            lines.append("  rolled back: " + ("; ".join(self.rollback_problems) if self.rollback_problems
                                             else "every change reverted"))
        return "\n".join(lines)


PASSING = (Status.PASS, Status.WARN)


def apply(plan: Plan, remote: Remote, recheck: Callable[[], Verdict], lock_wait: float = 60,
          step: Callable[[str], object] | None = None, lock_path: str = LOCK_DIR,
          backup_root: str = BACKUP_ROOT, lock_stale_after: float = STALE_AFTER,
          confirm: Callable[[], tuple[Verdict, Plan | None]] | None = None) -> Outcome:
    """`recheck` runs the same check on fresh facts; `step(title)` is a context manager (an Allure step).
    `confirm` judges and plans again on fresh facts once the lock is ours: the plan was made before, and another
    run may have fixed or changed the host meanwhile; acting on a stale plan could undo that run's work."""
    step = step or (lambda title: nullcontext())
    try:
        with HostLock(remote, lock_wait, lock_path, lock_stale_after) as lock:
            taken = [lock.took_over] if lock.took_over else []
            if confirm:
                verdict, fresh = confirm()
                if verdict.status in PASSING:
                    return Outcome("already-fixed", verdict, taken + ["the check passes now: another run fixed it "
                                                                      "before this one got the lock"])
                if fresh is None or fresh.text() != plan.text():
                    why = "the host changed since this plan was made (another run?)" if verdict.status is Status.FAIL \
                        else f"the check cannot judge the host now ({verdict.actual})"
                    return Outcome("host-changed", None, taken, error=f"{why}; nothing applied: run again to plan on "
                                   "what is there now")
            return _apply_locked(plan, remote, recheck, step, Backup(remote, plan.check_id, backup_root), lock,
                                 taken)
    except HostLocked as exc:
        return Outcome("locked", None, [], error=str(exc))


def _apply_locked(plan: Plan, remote: Remote, recheck, step, backup: Backup, lock: HostLock,
                  steps: list[str]) -> Outcome:
    journal = Journal(remote, backup)
    fail_at = injected_failure_index()
    try:
        for number, action in enumerate(plan.actions, 1):
            with step(action.describe()):
                action.apply(journal)
            steps.append(f"done: {action.describe()}")
            lock.heartbeat()
            if fail_at == number:
                raise ActionError(f"injected failure after action {number} ({FAIL_AT_ENV}, a test-only hook)")
        with step(f"check {plan.check_id} again"):
            verdict = recheck()
    except LockLost as exc:
        # Another run holds the host now and judged it with this run's changes in place: undoing them under its
        # feet could clobber its work. Stop, keep the backup, and say exactly how far this fix got.
        done = sum(line.startswith("done: ") for line in steps)
        return Outcome("lock-lost", None, steps, f"{exc}; stopped after {done} of {len(plan.actions)} action(s), "
                       "nothing rolled back (the other run judged the host with these changes): check the host and "
                       "run again", _root(journal))
    except (ActionError, HostUnreachable) as exc:
        with step("roll back"):
            problems = journal.rollback()
        return Outcome("rolled-back", None, steps, str(exc), _root(journal), problems)
    except BaseException:
        # Ctrl-C, a pytest timeout, a bug: the host must not be left half fixed. Roll back, then let it go on.
        journal.rollback()
        raise
    if verdict.status not in PASSING:   # failing, or not judged (a container restarting): not proven fixed
        with step("roll back: the check still fails"):
            problems = journal.rollback()
        judged = verdict.status is Status.FAIL   # else not judged: no new verdict to report, only why
        return Outcome("still-failing", verdict if judged else None, steps,
                       "" if judged else f"the check run again: {verdict.actual}", _root(journal), problems)
    return Outcome("fixed", verdict, steps, "", _root(journal))


def _root(journal: Journal) -> str:
    return journal.backup.root if journal.backup.used else ""
