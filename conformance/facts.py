"""Facts: what a host is, read over its one SSH connection, each at most once per run.

Probes (conformance/probes/*) are plain functions `probe(facts) -> value`; `Facts.probe` caches their results, so
many checks can share one read. Probes know how to fetch; checks only judge.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from conformance.access import BatchRead, CommandResult, CommandTimedOut, HostConnection
from conformance.command import shell
from conformance.errors import ContainerUnavailable, NotRead, ReadTimedOut

T = TypeVar("T")


class Deferred(BaseException):
    """What a read raises while reads are deferred (Facts.deferring): the read is noted for the next batch and the
    probe that asked stops there. A BaseException, so that no probe's `except Exception` can take it for an answer."""


@dataclasses.dataclass(frozen=True)
class FileFact:
    path: str
    exists: bool
    content: str = ""
    mode: int = 0  # permission bits, e.g. 0o600
    uid: int = -1
    gid: int = -1
    owner: str = ""
    group: str = ""
    kind: str = ""  # stat's %F: "regular file", "character special file", ...

    def describe(self) -> str:
        if not self.exists:
            return f"{self.path}: missing"
        names = f"{self.owner or '(no name)'}:{self.group or '(no name)'}"
        return f"{self.path}: {self.kind}, {names} ({self.uid}:{self.gid}) mode {self.mode:04o}"

    def group_label(self) -> str:
        """The group as an operator can act on it: its name, or its gid when the host has no name for it."""
        return self.group or f"gid {self.gid} (no group of that id exists on the host)"


# `--`: a path is never an option, whatever it starts with.
STAT = "stat -L -c '%%F|%%a|%%u|%%g|%%U|%%G' -- %s 2>/dev/null"


def stat_fact(path: str, line: str, content: str = "") -> FileFact:
    """A FileFact from one line of STAT's output. stat prints UNKNOWN for an id without a name: that is no name."""
    kind, mode, uid, gid, owner, group = (line.split("|") + [""] * 6)[:6]
    owner, group = ("" if n == "UNKNOWN" else n for n in (owner, group))
    return FileFact(path, True, content, int(mode or "0", 8), int(uid or -1), int(gid or -1), owner, group, kind)


# What a read depends on besides the shell, by the programs its template calls: a hang of one of these is not
# waited for twice. libvirt's clients (virsh, and the live probes' logins) all wait on libvirtd.
_DAEMONS = (
    (re.compile(r"\b(docker|podman)\b"), None),
    (re.compile(r"\bvirsh\b"), "libvirtd"),
    (re.compile(r"\bovs-(vsctl|appctl|ofctl)\b"), "ovsdb"),
)
LIBVIRTD = "libvirtd"


def _daemons(template: str) -> tuple[str, ...]:
    return tuple(daemon or match.group(1) for pattern, daemon in _DAEMONS if (match := pattern.search(template)))


class Facts:
    """One host's reads, each made at most once, within the host's time budget.

    A read that does not answer within command_timeout is not judged, and so is every later read that needs the
    same thing (the same container, the engine, the daemon its program talks to): a hung dockerd or libvirtd costs
    one timeout, not one per check. Once the host has lost `hang_budget` seconds to such reads, its remaining reads
    are not judged at once. So a hung host costs at most about 2 x command_timeout, whatever hangs."""

    _deferring = False  # see deferring()

    def __init__(self, connection: HostConnection, engine: str | None):
        self.connection = connection
        self.engine = engine
        self._probes: dict[Any, Any] = {}
        self._commands: dict[tuple, CommandResult | NotRead] = {}
        self._hung: dict[str, str] = {}
        self.lost = 0.0  # seconds this host has lost to reads that never answered
        self.hang_budget = 2 * connection.ssh.command_timeout
        self._pending: dict[tuple, tuple[BatchRead, tuple[str, ...], tuple[str, ...]]] = {}
        self.gathered = False  # every read the checks asked for was fetched in batches (conformance.gather)

    @property
    def host(self) -> str:
        return self.connection.name

    def require_engine(self) -> str:
        """The container engine Kolla uses on this host (known once the expectation is resolved)."""
        if self.engine is None:
            raise ValueError("container reads need the engine: make Facts after the expectation is resolved")
        return self.engine

    @property
    def command_timeout(self) -> int:
        return self.connection.ssh.command_timeout

    def invalidate(self) -> None:
        """Forget everything read so far: after remediation changed the host, later checks must read it again.
        (Time lost to hangs stays lost: the budget covers the whole run.)"""
        self._probes.clear()
        self._commands.clear()
        self._hung.clear()
        self._pending.clear()
        self.gathered = False

    @contextlib.contextmanager
    def deferring(self):
        """Within: a read not made yet raises Deferred instead of running; fetch_pending() then makes them all."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False

    @contextlib.contextmanager
    def immediately(self):
        """Within: reads are made at once, even while the host is being gathered. For a sequence that changes the
        host and must not stop halfway to wait for a batch (the canary guest: create, look, destroy)."""
        deferring, self._deferring = self._deferring, False
        try:
            yield
        finally:
            self._deferring = deferring

    @property
    def pending(self) -> int:
        return len(self._pending)

    def fetch_pending(self) -> None:
        """Make the deferred reads in one round trip, side by side on the host. Reads that time out cost the host
        the time the batch waited for them, once, and block the later reads that need what they needed, as if
        they had been made one by one. Raises HostUnreachable if SSH fails."""
        batch = []
        for key, (read, needs, blames) in self._pending.items():
            why = self.blocked(*needs)
            if why:
                self._commands[key] = ReadTimedOut(f"not read: {why}")
            else:
                batch.append((key, dataclasses.replace(read, timeout=self.time_limit(read.timeout)), blames))
        self._pending.clear()
        answers = self.connection.run_batch([read for _, read, _ in batch])
        waited = 0
        for (key, _, blames), answer in zip(batch, answers, strict=True):
            if isinstance(answer, CommandTimedOut):
                self.hung(blames, 0, str(answer))
                waited = max(waited, answer.limit)
                self._commands[key] = ReadTimedOut(f"{answer} on {self.host}")
            else:
                self._commands[key] = answer
        self.lost += waited

    def probe(self, fn: Callable[..., T], *args: Any) -> T:
        key = (fn, args)
        if key not in self._probes:
            self._probes[key] = fn(self, *args)
        return self._probes[key]

    def prefetch(self, reads: Iterable[Callable[[], object]]) -> None:
        """While reads are deferred, try every one of `reads` (each a call that reads) before stopping, so that
        the independent reads a check or probe makes in a loop share one batch instead of costing a round trip
        each. Otherwise nothing: the loop itself then reads, from the cache."""
        if not self._deferring:
            return
        deferred = False
        for read in reads:
            try:
                read()
            except Deferred:
                deferred = True
            except Exception:  # noqa: BLE001 - the loop meets it again and handles it as it does
                pass
        if deferred:
            raise Deferred()

    def time_limit(self, wanted: int | None = None) -> int:
        """The limit for one read: what the probe wants, never more than the profile's command_timeout nor more
        than the host has left of its hang budget."""
        limit = min(wanted or self.command_timeout, self.command_timeout)
        return max(1, min(limit, int(self.hang_budget - self.lost) or 1))

    def blocked(self, *needs: str) -> str | None:
        """Why a read that needs `needs` is not tried, or None."""
        if self.lost >= self.hang_budget:
            return (
                f"the host stopped answering: {self.lost:.0f}s lost to reads that never answered "
                f"({'; '.join(self._hung.values())}); its remaining reads are not waited for"
            )
        return next((self._hung[need] for need in needs if need in self._hung), None)

    def hung(self, needs: tuple[str, ...], seconds: float, reason: str) -> None:
        """Record that something the host offers (a program, a container, a daemon) did not answer."""
        self.lost += seconds
        for need in needs:
            self._hung.setdefault(need, f"{reason} on {self.host}")

    def run(self, template: str, *args: object, timeout: int | None = None) -> CommandResult:
        """`shell(template, *args)` on the host (see conformance.command). Raises ReadTimedOut when it does not
        answer in time, or when what it needs hung earlier."""
        command = shell(template, *args)
        needs = _daemons(template) or tuple(template.split()[:1])
        return self._read(
            ("host", command),
            needs,
            needs,
            lambda limit: self.connection.run(command, timeout=limit),
            BatchRead(command, timeout),
        )

    def run_in(self, container: str, template: str, *args: object, timeout: int | None = None) -> CommandResult:
        """A command inside a Kolla container, through the host's container engine.

        Raises ContainerUnavailable when the command did not run to its end; a probe that can say something
        useful about a missing container catches it, otherwise the check is not judged (see Check.run)."""
        engine = self.require_engine()
        command = shell(template, *args)
        # A hung exec blames the container and what its command talks to, not the engine: `ps` answered.
        inside = (f"container {container}",) + tuple(d for d in _daemons(template) if d not in ("docker", "podman"))
        result = self._read(
            (container, command),
            (engine,) + inside,
            inside,
            lambda limit: self.connection.container_exec(engine, container, command, timeout=limit),
            BatchRead(command, timeout, engine, container),
        )
        if result.exec_error:
            raise ContainerUnavailable(container, result.exec_error)
        return result

    def _read(
        self,
        key: tuple,
        needs: tuple[str, ...],
        blames: tuple[str, ...],
        do: Callable[[int], CommandResult],
        batched: BatchRead,
    ) -> CommandResult:
        if key not in self._commands:
            why = self.blocked(*needs)
            if why:
                raise ReadTimedOut(f"not read: {why}")
            if self._deferring:
                self._pending.setdefault(key, (batched, needs, blames))
                raise Deferred()
            limit = self.time_limit(batched.timeout)
            try:
                self._commands[key] = do(limit)
            except CommandTimedOut as exc:
                self.hung(blames, limit, str(exc))
                self._commands[key] = ReadTimedOut(f"{exc} on {self.host}")
        answer = self._commands[key]
        if isinstance(answer, NotRead):
            raise answer
        return answer

    def file(self, path: str, container: str | None = None, read: bool = True) -> FileFact:
        """Metadata (and text, unless read=False) of a file on the host or inside a container, in one command."""
        template = STAT + (" && echo && cat -- %s" if read else "")
        args = (path, path) if read else (path,)
        result = self.run_in(container, template, *args) if container else self.run(template, *args)
        if not result.ok and not result.stdout:
            return FileFact(path, exists=False)
        head, _, body = result.stdout.partition("\n")
        return stat_fact(path, head, body[1:] if body.startswith("\n") else body)
