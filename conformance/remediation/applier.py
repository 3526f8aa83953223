"""Apply one plan on one host: lock, back up, act, check again; roll back everything if anything fails.

The outcome of the test is the check run again on fresh facts, never the fact that commands exited 0
(OpenSCAP reports rules as fixed when the fix errored; we do not).

Interrupts: SIGINT and SIGTERM during an apply do not cut a remote command off half way (what a restart or a
write cut off has done is unknown): the action in progress ends, then the fix is rolled back (a restart that ran
is repeated after the restore, so the service runs on the restored files) and the run stops. A second signal stops
at once, leaving the lock and its journal on the host. A run killed outright (SIGKILL) leaves them too: the next
run that reaches the host takes the lock over (its process is gone) and rolls the dead run's fix back from the
journal before it judges anything (`recover_stale`), whatever it plans, even nothing.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import signal
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from conformance.command import Shell
from conformance.errors import HostUnreachable
from conformance.model import Status, Verdict
from conformance.remediation import hostlock
from conformance.remediation.backup import BACKUP_ROOT, Backup
from conformance.remediation.hostlock import LOCK_DIR, STALE_AFTER, ForcedStop, HostLock, HostLocked, LockLost
from conformance.remediation.planner import Plan
from conformance.remediation.remote import FAIL_AT_ENV, ActionError, Remote, injected_failure_index


class Journal:
    """What a fix changed so far, and how to take it back; mirrored to the lock's journal on the host (when a
    lock is given) so that a run that dies half way can be rolled back by the next one."""

    def __init__(self, remote: Remote, backup: Backup, lock: HostLock | None = None):
        self.remote, self.backup, self.lock = remote, backup, lock
        self._undo: list[tuple[Shell, str, bool]] = []  # (command, what, sure it is needed)
        self._after_restore: list[tuple[Shell, str]] = []
        self.action = 0  # the action being applied (1-based)
        self._on_host: set[tuple[str, int, str]] = set()  # (kind, action, command) already in the host journal
        self.did: list[str] = []  # what the last rollback did (the recovery says it)

    def on_rollback(self, command: Shell, what: str) -> None:
        self._undo.append((command, what, True))
        self._persist("undo", command, what, sure=True)

    def after_restore(self, command: Shell, what: str) -> None:
        self._after_restore.append((command, what))
        self._persist("rerun", command, what)

    def begin(self, number: int, action) -> list[str]:
        """The host journal's lines for action `number`, written before it starts: its undo (if it has one) and
        the restart it repeats after a restore, known from the action itself. A run killed during the action
        leaves them for the next run, which cannot know whether the action got to its end."""
        self.action = number
        lines = [_line("begin", number, _b64(action.describe()))]
        undo = getattr(action, "undo", None)
        if undo:
            lines.append(_line("undo", number, "0", _b64(undo), _b64(f"undo: {action.what}")))
            self._on_host.add(("undo", number, undo))
        if getattr(action, "rerun_on_rollback", False):
            lines.append(_line("rerun", number, _b64(action.command), _b64(f"again after restore: {action.what}")))
            self._on_host.add(("rerun", number, action.command))
        return lines

    def _persist(self, kind: str, command: str, what: str, sure: bool = False) -> None:
        """Registered during the action, not known before it (e.g. a volume's archive): one more round trip."""
        if self.lock is None or (kind, self.action, command) in self._on_host:
            return
        self._on_host.add((kind, self.action, command))
        fields = (["1" if sure else "0"] if kind == "undo" else []) + [_b64(command), _b64(what)]
        self.lock.heartbeat([_line(kind, self.action, *fields)])

    def rollback(self) -> list[str]:
        """Undo commands (last first), restore files, then repeat restarts so services read the originals."""
        problems = []
        for command, what, sure in reversed(self._undo):
            result = self.remote.run(command)
            if result.ok:
                self.did.append(what)
            elif sure:
                problems.append(f"{what}: exit {result.rc}")
            else:  # its action was cut off: it may never have run, and then its undo has nothing to undo
                self.did.append(f"{what}: exit {result.rc} (its action may not have run)")
        failed = self.backup.restore_all()
        problems += failed
        self.did += [
            f"restored {entry.path} from {self.backup.root}"
            for entry in reversed(list(self.backup.entries.values()))
            if not any(p.startswith(f"{entry.path}: ") for p in failed)
        ]
        for command, what in self._after_restore:
            result = self.remote.run(command)
            if not result.ok:
                problems.append(f"{what}: exit {result.rc}")
            else:
                self.did.append(what)
        if self.lock is not None:
            self.lock.clear_journal()  # nothing is left half done: a later take-over must not do this again
        if not problems:
            self.backup.discard()  # kept when something did not go back: the operator needs it then
        return problems


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> str:
    return base64.b64decode(text.encode()).decode("utf-8", errors="replace")


def _line(kind: str, number: int, *fields: str) -> str:
    return "\t".join([kind, str(number), *fields])


@dataclasses.dataclass
class LeftBehind:
    """What a dead run's journal says about the fix it was applying."""

    check_id: str = ""
    actions: int = 0
    backup: str = ""
    begun: dict[int, str] = dataclasses.field(default_factory=dict)  # action number -> its description
    done: set[int] = dataclasses.field(default_factory=set)
    undo: list[tuple[int, str, str, bool]] = dataclasses.field(default_factory=list)  # (n, command, what, sure)
    rerun: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> LeftBehind:
        left = cls()
        for line in text.splitlines():
            kind, _, rest = line.partition("\t")
            fields = rest.split("\t")
            try:
                if kind == "fix":
                    left.check_id, left.actions = fields[0], int(fields[1])
                elif kind == "backup":
                    left.backup = fields[0]
                elif kind == "begin":
                    left.begun[int(fields[0])] = _unb64(fields[1])
                elif kind == "done":
                    left.done.add(int(fields[0]))
                elif kind == "undo":
                    left.undo.append((int(fields[0]), _unb64(fields[2]), _unb64(fields[3]), fields[1] == "1"))
                elif kind == "rerun":
                    left.rerun.append((int(fields[0]), _unb64(fields[1]), _unb64(fields[2])))
            except (IndexError, ValueError):
                continue  # a line cut off when its run died: the rest still says what to undo
        return left

    def summary(self) -> str:
        if not self.begun:
            return f"the dead run's fix {self.check_id or '(unknown)'} had begun no action: nothing to undo"
        last = max(self.begun)
        state = "done" if last in self.done else "cut off"
        return (
            f"the dead run's fix {self.check_id} had begun {len(self.begun)} of {self.actions} action(s), "
            f"the last one {state}: {self.begun[last]}"
        )


def recover(remote: Remote, lock: HostLock) -> tuple[list[str], list[str]]:
    """Finish the rollback of the fix whose run died holding `lock` (its journal, `lock.inherited`): undo its
    commands, restore its backup, repeat its restarts. Returns (lines for the outcome, problems)."""
    left = LeftBehind.parse(lock.inherited)
    lines = [left.summary()]
    backup = Backup.load(remote, left.backup) if left.backup else Backup(remote, left.check_id or "unknown")
    journal = Journal(remote, backup, lock)
    # Stored as the dead run built them (conformance.command), in a root-only folder on this same host.
    journal._undo = [(Shell(command), what, sure or n in left.done) for n, command, what, sure in left.undo]
    journal._after_restore = [(Shell(command), what) for _, command, what in left.rerun]
    problems = journal.rollback()
    lines += [f"recovered: {what}" for what in journal.did]
    if problems and backup.used:
        lines.append(f"that fix's backup is kept on the host: {backup.root}")
    elif backup.used:
        lines.append("the host is as it was before that fix (its backup was removed)")
    return lines, problems


class State(str, enum.Enum):
    """How a fix ended on a host (the outcome's first word in plans, the summary and Allure)."""

    FIXED = "fixed"
    STILL_FAILING = "still-failing"
    ROLLED_BACK = "rolled-back"
    LOCKED = "locked"
    ALREADY_FIXED = "already-fixed"
    HOST_CHANGED = "host-changed"
    LOCK_LOST = "lock-lost"
    INTERRUPTED = "interrupted"
    RECOVERED = "recovered"
    WOULD_RECOVER = "would recover"
    RECOVERY_FAILED = "recovery failed"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass
class Outcome:
    state: State
    verdict: Verdict | None  # the check run again (None when it was not)
    steps: list[str]
    error: str = ""
    backup: str = ""
    rollback_problems: list[str] = dataclasses.field(default_factory=list)

    def text(self) -> str:
        lines = [f"outcome: {self.state}"] + [f"  {step}" for step in self.steps]
        if self.error:
            lines.append(f"  error: {self.error}")
        if self.backup and (self.state in (State.FIXED, State.LOCK_LOST) or self.rollback_problems):
            lines.append(f"  backup on the host: {self.backup}")
        changed = self.rollback_problems or any(step.startswith(("done: ", "recovered: ")) for step in self.steps)
        if self.state in (State.STILL_FAILING, State.ROLLED_BACK) or (
            self.state in (State.INTERRUPTED, State.RECOVERED) and changed
        ):
            lines.append(
                "  rolled back: "
                + ("; ".join(self.rollback_problems) if self.rollback_problems else "every change reverted")
            )
        elif self.state == State.INTERRUPTED:
            lines.append("  nothing changed on the host")
        return "\n".join(lines)


class Interrupted(KeyboardInterrupt):
    """The run was interrupted (SIGINT, SIGTERM) while a fix was applied; raised once the host is consistent again
    (the action in progress ended, the fix rolled back or proven fixed), so pytest stops the run as for Ctrl-C."""

    def __init__(self, outcome: Outcome, signal_name: str):
        self.outcome, self.signal_name = outcome, signal_name
        super().__init__(f"{signal_name} during a fix: outcome {outcome.state}")


class _Stop(Exception):
    """Internal: an interrupt arrived; raised at the next point where the fix can stop cleanly."""


class Interrupts:
    """Defers SIGINT and SIGTERM while a fix runs (main thread only: Python delivers signals there; elsewhere this
    does nothing). The first signal is noted and acted on between actions; a second one stops at once (ForcedStop):
    no rollback, the lock and its journal stay for the next run."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self):
        self.received = ""
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                number = getattr(signal, name)
                try:
                    self._previous[number] = signal.signal(number, self._note)
                except (ValueError, OSError):
                    pass
        return self

    def _note(self, number, frame) -> None:
        name = signal.Signals(number).name
        if self.received:
            raise ForcedStop(f"{self.received}, then {name}: stopped at once; the next run rolls this fix back")
        self.received = name

    def check(self) -> None:
        if self.received:
            raise _Stop(f"interrupted ({self.received})")

    def __exit__(self, *exc) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous if previous is not None else signal.SIG_DFL)


PASSING = (Status.PASS, Status.WARN)


def apply(
    plan: Plan,
    remote: Remote,
    recheck: Callable[[], Verdict],
    lock_wait: float = 60,
    step: Callable[[str], object] | None = None,
    lock_path: str = LOCK_DIR,
    backup_root: str = BACKUP_ROOT,
    lock_stale_after: float = STALE_AFTER,
    confirm: Callable[[], tuple[Verdict, Plan | None]] | None = None,
) -> Outcome:
    """`recheck` runs the same check on fresh facts; `step(title)` is a context manager (an Allure step).
    `confirm` judges and plans again on fresh facts once the lock is ours: the plan was made before, and another
    run may have fixed or changed the host meanwhile; acting on a stale plan could undo that run's work.
    Raises Interrupted (after the host is consistent again) when SIGINT or SIGTERM arrived meanwhile."""
    step = step or (lambda title: nullcontext())
    with Interrupts() as interrupts:
        outcome = _apply(
            plan, remote, recheck, lock_wait, step, lock_path, backup_root, lock_stale_after, confirm, interrupts
        )
    if interrupts.received:
        raise Interrupted(outcome, interrupts.received)
    return outcome


def _apply(
    plan, remote, recheck, lock_wait, step, lock_path, backup_root, lock_stale_after, confirm, interrupts: Interrupts
) -> Outcome:
    taken: list[str] = []
    try:
        with HostLock(remote, lock_wait, lock_path, lock_stale_after, waiting=interrupts.check) as lock:
            taken = [lock.took_over] if lock.took_over else []
            if lock.inherited:  # a dead run's half-done fix: roll it back before judging the host again
                with step("recover what a dead run left half done"):
                    lines, problems = recover(remote, lock)
                taken += lines + [f"recovery problem: {p}" for p in problems]
            interrupts.check()
            if confirm:
                verdict, fresh = confirm()
                if verdict.status in PASSING:
                    return Outcome(
                        State.ALREADY_FIXED,
                        verdict,
                        taken + ["the check passes now: another run fixed it before this one got the lock"],
                    )
                if fresh is None or fresh.text() != plan.text():
                    why = (
                        "the host changed since this plan was made (another run?)"
                        if verdict.status is Status.FAIL
                        else f"the check cannot judge the host now ({verdict.actual})"
                    )
                    return Outcome(
                        State.HOST_CHANGED,
                        None,
                        taken,
                        error=f"{why}; nothing applied: run again to plan on what is there now",
                    )
            interrupts.check()
            return _apply_locked(
                plan, remote, recheck, step, Backup(remote, plan.check_id, backup_root), lock, taken, interrupts
            )
    except HostLocked as exc:
        return Outcome(State.LOCKED, None, [], error=str(exc))
    except _Stop as stop:  # before any action: nothing of this fix changed the host
        return Outcome(State.INTERRUPTED, None, taken, error=f"{stop} before the fix began; nothing applied")


def _apply_locked(
    plan: Plan, remote: Remote, recheck, step, backup: Backup, lock: HostLock, steps: list[str], interrupts: Interrupts
) -> Outcome:
    journal = Journal(remote, backup, lock)
    fail_at = injected_failure_index()
    try:
        # The host journal first (what, where its backup goes, what the first action will need undone).
        lock.heartbeat(
            ["\t".join(["fix", plan.check_id, str(len(plan.actions))]), "backup\t" + backup.root]
            + (journal.begin(1, plan.actions[0]) if plan.actions else [])
        )
        for number, action in enumerate(plan.actions, 1):
            with step(action.describe()):
                action.apply(journal)
            steps.append(f"done: {action.describe()}")
            following = plan.actions[number] if number < len(plan.actions) else None
            lock.heartbeat([_line("done", number)] + (journal.begin(number + 1, following) if following else []))
            if fail_at == number:
                raise ActionError(f"injected failure after action {number} ({FAIL_AT_ENV}, a test-only hook)")
            interrupts.check()
        with step(f"check {plan.check_id} again"):
            verdict = recheck()
    except LockLost as exc:
        # Another run holds the host now and judged it with this run's changes in place: undoing them under its
        # feet could clobber its work. Stop, keep the backup, and say exactly how far this fix got.
        done = sum(line.startswith("done: ") for line in steps)
        return Outcome(
            State.LOCK_LOST,
            None,
            steps,
            f"{exc}; stopped after {done} of {len(plan.actions)} action(s), "
            "nothing rolled back (the other run judged the host with these changes): check the host and "
            "run again",
            _root(journal),
        )
    except (ActionError, HostUnreachable) as exc:
        with step("roll back"):
            problems = journal.rollback()
        return Outcome(State.ROLLED_BACK, None, steps, str(exc), _root(journal), problems)
    except _Stop as stop:
        # The action in progress ran to its end; the run stops after the rollback (restarts repeated on the
        # restored files, so each service runs on what it has on disk).
        done = sum(line.startswith("done: ") for line in steps)
        with step(f"roll back: {stop}"):
            problems = journal.rollback()
        return Outcome(
            State.INTERRUPTED,
            None,
            steps,
            f"{stop} after {done} of {len(plan.actions)} action(s)",
            _root(journal),
            problems,
        )
    except ForcedStop:
        raise  # the operator insisted: no rollback now, the next run does it from the host journal
    except BaseException:
        # A pytest timeout, a bug, a KeyboardInterrupt raised outside a signal: the host must not be left half
        # fixed. Roll back, then let it go on.
        journal.rollback()
        raise
    if verdict.status not in PASSING:  # failing, or not judged (a container restarting): not proven fixed
        with step("roll back: the check still fails"):
            problems = journal.rollback()
        judged = verdict.status is Status.FAIL  # else not judged: no new verdict to report, only why
        return Outcome(
            State.STILL_FAILING,
            verdict if judged else None,
            steps,
            "" if judged else f"the check run again: {verdict.actual}",
            _root(journal),
            problems,
        )
    return Outcome(State.FIXED, verdict, steps, "", _root(journal))


def recover_stale(
    remote: Remote,
    lock_path: str = LOCK_DIR,
    lock_stale_after: float = STALE_AFTER,
    step: Callable[[str], AbstractContextManager[Any]] | None = None,
) -> Outcome | None:
    """Before a run judges a host: a lock whose run is gone is taken over and the fix that run left half done is
    rolled back from its journal, whatever this run will plan (even nothing). None when the host is not locked or
    its holder may still be working (one read-only command then)."""
    found = hostlock.peek(remote, lock_path)
    if found is None or not found[0].stale_because(lock_stale_after):
        return None
    step = step or (lambda title: nullcontext())
    with Interrupts() as interrupts:
        try:
            with HostLock(remote, 0, lock_path, lock_stale_after) as lock:
                with step("recover what a dead run left half done"):
                    lines, problems = (
                        recover(remote, lock) if lock.inherited else (["it left no journal: nothing was begun"], [])
                    )
                outcome = Outcome(State.RECOVERED, None, [lock.took_over] + lines, "", "", problems)
        except HostLocked as exc:  # taken meanwhile by a live run, or the host lacks flock(1) to take it safely
            outcome = Outcome(State.LOCKED, None, [], error=str(exc))
    if interrupts.received:
        raise Interrupted(outcome, interrupts.received)
    return outcome


def stale_note(remote: Remote, lock_path: str = LOCK_DIR, lock_stale_after: float = STALE_AFTER) -> str:
    """Plan mode: what `--remediate=apply` would recover on this host ("" when nothing). Reads only."""
    found = hostlock.peek(remote, lock_path)
    if found is None:
        return ""
    holder, journal = found
    why = holder.stale_because(lock_stale_after)
    if not why:
        return ""
    return (
        f"a stale lock held by {holder.owner or 'an unknown owner'} ({why}): "
        f"{LeftBehind.parse(journal).summary()}; --remediate=apply takes it over and rolls that fix back"
    )


def _root(journal: Journal) -> str:
    return journal.backup.root if journal.backup.used else ""
