"""Facts: what a host is, read over its one SSH connection, each at most once per run.

Probes (conformance/probes/*) are plain functions `probe(facts) -> value`; `Facts.probe` caches their results, so
many checks can share one read. Probes know how to fetch; checks only judge.
"""
from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Callable
from typing import Any, TypeVar

from conformance.access import CommandResult, HostConnection
from conformance.errors import ContainerUnavailable

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class FileFact:
    path: str
    exists: bool
    content: str = ""
    mode: int = 0          # permission bits, e.g. 0o600
    uid: int = -1
    gid: int = -1
    owner: str = ""
    group: str = ""
    kind: str = ""         # stat's %F: "regular file", "character special file", ...

    def describe(self) -> str:
        if not self.exists:
            return f"{self.path}: missing"
        return f"{self.path}: {self.kind}, {self.owner}:{self.group} ({self.uid}:{self.gid}) mode {self.mode:04o}"


_STAT = "stat -L -c '%F|%a|%u|%g|%U|%G' {path} 2>/dev/null"


class Facts:
    def __init__(self, connection: HostConnection, engine: str = "docker"):
        self.connection = connection
        self.engine = engine
        self._probes: dict[Any, Any] = {}
        self._commands: dict[tuple, CommandResult] = {}

    @property
    def host(self) -> str:
        return self.connection.name

    def invalidate(self) -> None:
        """Forget everything read so far: after remediation changed the host, later checks must read it again."""
        self._probes.clear()
        self._commands.clear()

    def probe(self, fn: Callable[["Facts"], T], *args) -> T:
        key = (fn, args)
        if key not in self._probes:
            self._probes[key] = fn(self, *args)
        return self._probes[key]

    def run(self, command: str, timeout: int | None = None) -> CommandResult:
        key = ("host", command)
        if key not in self._commands:
            self._commands[key] = self.connection.run(command, timeout=timeout)
        return self._commands[key]

    def run_in(self, container: str, command: str, timeout: int | None = None) -> CommandResult:
        """A command inside a Kolla container, through the host's container engine.

        Raises ContainerUnavailable when the command did not run to its end; a probe that can say something
        useful about a missing container catches it, otherwise the check is not judged (see Check.run)."""
        key = (container, command)
        if key not in self._commands:
            self._commands[key] = self.connection.container_exec(self.engine, container, command, timeout)
        result = self._commands[key]
        if result.exec_error:
            raise ContainerUnavailable(container, result.exec_error)
        return result

    def file(self, path: str, container: str | None = None, read: bool = True) -> FileFact:
        """Metadata (and text, unless read=False) of a file on the host or inside a container, in one command."""
        quoted = shlex.quote(path)
        command = _STAT.format(path=quoted) + (f" && echo && cat {quoted}" if read else "")
        result = self.run_in(container, command) if container else self.run(command)
        if not result.ok and not result.stdout:
            return FileFact(path, exists=False)
        head, _, body = result.stdout.partition("\n")
        kind, mode, uid, gid, owner, group = (head.split("|") + [""] * 6)[:6]
        return FileFact(path, True, body[1:] if body.startswith("\n") else body, int(mode or "0", 8),
                        int(uid or -1), int(gid or -1), owner, group, kind)
