"""Reaching a host: one multiplexed SSH connection per host, per-command timeouts, container exec.

Built on pytest-testinfra's ssh backend. testinfra adds `ControlMaster=auto` but no ControlPath unless one is
given, so by default every command opens a new SSH connection (measured: ~0.3 s each). We always give one.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import shlex
import signal
import subprocess
import tempfile
import threading
import time

from testinfra.backend.ssh import SshBackend

from conformance.command import (
    KILLED_AFTER_TIMEOUT,
    TIMED_OUT,
    Frame,
    Framed,
    Shell,
    container_name,
    engine_name,
    parallel,
    shell,
    with_status_line,
)
from conformance.errors import HostUnreachable


@dataclasses.dataclass(frozen=True)
class SshSettings:
    user: str | None = None
    port: int | None = None
    identity_file: str | None = None
    config: str | None = None
    known_hosts: str | None = None
    strict_host_key_checking: bool = True
    jump_host: str | None = None
    sudo: bool = False
    connect_timeout: int = 10
    command_timeout: int = 60

    def extra_args(self) -> str:
        opts = [
            "-o BatchMode=yes",
            "-o ServerAliveInterval=5",
            "-o ServerAliveCountMax=3",
            "-o StrictHostKeyChecking=" + ("yes" if self.strict_host_key_checking else "no"),
        ]
        if self.known_hosts:
            opts.append("-o UserKnownHostsFile=" + shlex.quote(self.known_hosts))
        if self.jump_host:
            opts.append("-J " + shlex.quote(self.jump_host))
        return " ".join(opts)


@dataclasses.dataclass(frozen=True)
class CommandResult:
    command: str
    rc: int
    stdout: str
    stderr: str
    exec_error: str = ""  # a container exec that did not run the command to its end: the engine's reason

    @property
    def ok(self) -> bool:
        return self.rc == 0


_EXEC_DONE = "__conformance_exec_done__"
# ssh appends ".XXXXXXXXXXXXXXXX" to the ControlPath while it binds; a unix socket path holds 107 bytes.
_SOCKET_PATH_MAX = 107 - 17


def new_control_dir() -> str:
    """A private folder for the run's ssh control sockets, short enough whatever TMPDIR is."""
    for base in (tempfile.gettempdir(), "/tmp", "/dev/shm"):
        if len(os.path.join(base, "kc-XXXXXXXX", "0" * 12)) <= _SOCKET_PATH_MAX and os.access(base, os.W_OK):
            return tempfile.mkdtemp(prefix="kc-", dir=base)
    raise OSError("no writable folder with a path short enough for ssh control sockets (TMPDIR, /tmp, /dev/shm)")


def exec_command(engine: str, container: str, command: Shell) -> Shell:
    """`command` inside a container through the engine, ending with a status line (see container_exec)."""
    script = with_status_line(command, _EXEC_DONE)
    return shell("%s exec %s sh -c %s", engine_name(engine), container_name(container), script)


def exec_batch_command(engine: str, container: str, script: Shell) -> Shell:
    """As exec_command, the script handed over base64 encoded: a batch of framed reads nests its quoting a level
    deeper per wrapper, and quoted once more it outgrew the kernel's 128 KiB limit for one argument."""
    encoded = base64.b64encode(with_status_line(script, _EXEC_DONE).encode()).decode()
    return shell(
        '%s exec %s sh -c "$(printf %%s %s | base64 -d)"', engine_name(engine), container_name(container), encoded
    )


class CommandTimedOut(Exception):
    """The command did not finish within its limit (the remote `timeout` struck, or the connection stalled)."""

    def __init__(self, host: str, command: str, limit: int):
        self.host, self.command, self.limit = host, command, limit
        super().__init__(f"`{_first_words(command)}` did not answer within {limit}s")


@dataclasses.dataclass(frozen=True)
class BatchRead:
    """One read of a batch: a built command on the host, or inside `container` through `engine`."""

    command: Shell
    timeout: int | None = None
    engine: str = ""
    container: str = ""

    def host_command(self) -> Shell:
        """The read as the host's shell runs it (inside its container through the engine, as container_exec)."""
        return exec_command(self.engine, self.container, self.command) if self.container else self.command


EXEC_MARGIN = 3  # seconds a container's exec may take beyond its slowest read: the engine's own start and stop


class BatchScript:
    """The script of one round trip: host reads side by side, and the reads inside each container as one exec.

    Each read is framed where it runs (its own nonce and deadline, inside the container for a container read);
    a container's exec is framed again on the host, bounded by its slowest read plus EXEC_MARGIN, and ends with the
    status line that tells an exec the engine cut short from the commands' own answers (see container_exec).
    One exec per container instead of one per read: measured on podman, 12 execs side by side 1.9 s, one exec
    running the same 12 reads 0.3 s."""

    def __init__(self, reads: list[BatchRead], limits: list[int]):
        self.frames = [Frame() for _ in reads]
        self._execs: dict[tuple[str, str], tuple[Frame, list[int]]] = {}
        parts: list[Shell] = []
        for index, read in enumerate(reads):
            if read.container:
                self._execs.setdefault((read.engine, read.container), (Frame(), []))[1].append(index)
            else:
                parts.append(self.frames[index].wrap(read.command, limits[index]))
        self.limit = max(limits)
        for (engine, container), (frame, indexes) in self._execs.items():
            inside = parallel([self.frames[i].wrap(reads[i].command, limits[i]) for i in indexes])
            limit = max(limits[i] for i in indexes) + EXEC_MARGIN
            parts.append(frame.wrap(exec_batch_command(engine, container, inside), limit))
            self.limit = max(self.limit, limit)
        self.script = parallel(parts)

    def answers(self, stdout: str) -> list[tuple[Framed | None, str]]:
        """Per read: what its frame holds (None: it never answered) and, for a container read, why the exec did
        not run to its end ("" when it did)."""
        found: list[tuple[Framed | None, str]] = [(frame.parse(stdout), "") for frame in self.frames]
        for (engine, _), (frame, indexes) in self._execs.items():
            outer = frame.parse(stdout)
            if outer is None or outer.rc in (TIMED_OUT, KILLED_AFTER_TIMEOUT):
                answer: tuple[Framed | None, str] = (outer, "")  # the exec itself ran out of time
                for i in indexes:
                    found[i] = answer
                continue
            body, marker, status = outer.stdout.rpartition("\n" + _EXEC_DONE)
            if not marker or not status.strip().isdigit():
                reason = _last_line(outer.stderr) if outer.stderr.strip() else f"{engine} exec exited {outer.rc}"
                for i in indexes:
                    found[i] = (outer, reason)
                continue
            for i in indexes:
                found[i] = (self.frames[i].parse(body), "")
        return found


class _TimedSshBackend(SshBackend):
    """testinfra's ssh backend whose local ssh process is killed after a deadline."""

    NAME = "conformance-ssh"
    deadline: float | None = None
    stdin: bytes | None = None  # fed to the remote command (secrets go here, never into argv)

    def run_local(self, command, *args):
        cmd = self.quote(command, *args)
        proc = subprocess.Popen(
            cmd,
            shell=True,
            stdin=subprocess.DEVNULL if self.stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(input=self.stdin, timeout=self.deadline)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise _LocalDeadline() from None
        return self.result(proc.returncode, self.encode(cmd), stdout, stderr)


class _LocalDeadline(Exception):
    pass


class HostConnection:
    """Commands on one host over one SSH master connection, counted for the run's statistics.

    Every command is a `conformance.command.Shell` (built with quoted arguments) and comes back framed, so neither
    a hostile value nor a noisy login shell can change what runs or what is parsed. Once ssh itself fails, the
    host is unreachable for the rest of the run: later commands fail at once instead of waiting again."""

    def __init__(self, name: str, address: str, ssh: SshSettings, control_dir: str | None = None):
        self.name, self.address, self.ssh = name, address, ssh
        if address.startswith("-") or not address.strip() or any(c.isspace() for c in address):
            raise ValueError(f"host {name}: not an address: {address!r}")
        self._control_dir = control_dir or new_control_dir()
        # ControlPath must stay short (a unix socket path is limited to 108 bytes).
        self.control_path = os.path.join(self._control_dir, hashlib.sha1(f"{name}@{address}".encode()).hexdigest()[:12])
        self.commands = 0
        self.round_trips = 0  # SSH sessions on the master: one per command, or one per batch of reads
        self.connections = 0  # SSH connections opened (a new master whenever no control socket exists)
        self.unreachable: HostUnreachable | None = None
        self._frame = Frame()
        self._lock = threading.Lock()
        user = f"{ssh.user}@" if ssh.user else ""
        port = f":{ssh.port}" if ssh.port else ""
        host = f"[{address}]" if ":" in address else address  # an IPv6 literal: testinfra's hostspec brackets it
        # ControlPersist bounds how long a master outlives a run that was killed before it could close it.
        self._backend = _TimedSshBackend(
            f"{user}{host}{port}",
            ssh_config=ssh.config,
            ssh_identity_file=ssh.identity_file,
            timeout=ssh.connect_timeout,
            controlpath=self.control_path,
            controlpersist=CONTROL_PERSIST,
            ssh_extra_args=ssh.extra_args(),
            sudo=ssh.sudo,
        )

    def run(
        self, template: str, *args: object, timeout: int | None = None, stdin: bytes | str | None = None
    ) -> CommandResult:
        """Run `shell(template, *args)` on the host. Raises HostUnreachable if SSH fails, CommandTimedOut if the
        command outlives `timeout` (default: the profile's command_timeout).

        `stdin` goes to the command through the SSH channel: the way to pass a secret without putting it in argv."""
        command = shell(template, *args)
        limit = self._limit(timeout)
        out, started = self._send(self._frame.wrap(command, limit), limit, 1, stdin, self._frame)
        framed = self._frame.parse(out.stdout)
        if framed is None:
            raise HostUnreachable(
                self.name,
                f"no answer from the remote shell (exit {out.rc}): "
                f"{_last_line(out.stderr)}; is sh, mktemp, timeout and base64 there?",
            )
        return self._result(command, framed, limit, started)

    def run_batch(self, reads: list[BatchRead]) -> list[CommandResult | CommandTimedOut]:
        """Several reads in one round trip: they run side by side on the host, each framed and bounded by its own
        limit, so the batch takes as long as its slowest read; the reads inside one container share one exec
        (BatchScript). Each answer comes back as `run` and
        `container_exec` give it, or as the CommandTimedOut that read would have raised. Raises HostUnreachable
        if SSH fails."""
        if not reads:
            return []
        limits = [self._limit(r.timeout) for r in reads]
        batch = BatchScript(reads, limits)
        out, started = self._send(batch.script, batch.limit, len(reads), None, None)
        answers: list[CommandResult | CommandTimedOut] = []
        for read, limit, (framed, exec_error) in zip(reads, limits, batch.answers(out.stdout), strict=True):
            command = read.host_command()
            if framed is None:  # killed with the batch (the local deadline) or never started on the host
                answers.append(CommandTimedOut(self.name, command, limit))
                continue
            try:
                result = self._result(command, framed, limit, started)
            except CommandTimedOut as exc:
                answers.append(exc)
                continue
            answers.append(dataclasses.replace(result, exec_error=exec_error) if exec_error else result)
        return answers

    def container_exec(
        self, engine: str, container: str, template: str, *args: object, timeout: int | None = None
    ) -> CommandResult:
        """Run `shell(template, *args)` inside a Kolla container with the host's engine (docker or podman).

        A container that is restarting or dies during the exec fails in many wordings per engine and version
        (podman, measured: six in 400 execs, among them "the pid was reused"), sometimes after part of the output.
        So the command prints a last line after it ends, carrying its exit status; without that line the result
        is marked with `exec_error` instead of being taken for the command's own (empty) answer."""
        result = self.run(exec_command(engine, container, shell(template, *args)), timeout=timeout)
        return self._exec_result(engine, result)

    @staticmethod
    def _exec_result(engine: str, result: CommandResult) -> CommandResult:
        body, marker, status = result.stdout.rpartition("\n" + _EXEC_DONE)
        if not marker or not status.strip().isdigit():
            reason = _last_line(result.stderr) if result.stderr.strip() else f"{engine} exec exited {result.rc}"
            return dataclasses.replace(result, exec_error=reason)
        return dataclasses.replace(result, rc=int(status), stdout=body)

    def _limit(self, timeout: int | None) -> int:
        return max(1, int(timeout or self.ssh.command_timeout))

    def _send(self, script: Shell, limit: int, commands: int, stdin: bytes | str | None, frame: Frame | None):
        """One round trip: `script` over the master connection, the local ssh killed after `limit` plus margins.
        Returns testinfra's result and when the script was sent. With `frame`, an ssh exit 255 whose output still
        holds that frame is the command's own answer."""
        if self.unreachable is not None:
            raise self.unreachable
        with self._lock:
            self.commands += commands
            self.round_trips += 1
            if not os.path.exists(self.control_path):
                self.connections += 1
            self._backend.deadline = limit + 5 + self.ssh.connect_timeout
            self._backend.stdin = stdin.encode() if isinstance(stdin, str) else stdin
            started = time.monotonic()
            try:
                return self._backend.run(script), started
            except _LocalDeadline:
                # The remote `timeout` should have answered: the command is stuck where even SIGKILL waits
                # (a hung mount) or the connection stalled. Either way this command's answer never comes.
                raise CommandTimedOut(self.name, script, limit) from None
            except RuntimeError as exc:  # testinfra raises RuntimeError(result) when ssh exits 255
                result = exc.args[0] if exc.args else None
                if result is not None and frame is not None and frame.parse(getattr(result, "stdout", "")):
                    return result, started
                detail = getattr(result, "stderr", "") or str(exc)
                self.unreachable = HostUnreachable(self.name, f"ssh to {self.address} failed: {_last_line(detail)}")
                raise self.unreachable from None
            finally:
                self._backend.stdin = None

    def _result(self, command: Shell, framed, limit: int, started: float) -> CommandResult:
        if framed.rc == TIMED_OUT or (framed.rc == KILLED_AFTER_TIMEOUT and time.monotonic() - started >= limit):
            raise CommandTimedOut(self.name, command, limit)
        return CommandResult(command, framed.rc, framed.stdout, framed.stderr)

    def close(self) -> None:
        self.finish_closing(self.start_closing())

    def start_closing(self) -> subprocess.Popen | None:
        """Ask the master to exit, without waiting: a run closes all its hosts' masters side by side."""
        if not os.path.exists(self.control_path):
            return None  # no master (never connected, or it already went)
        return subprocess.Popen(
            ["ssh", "-o", f"ControlPath={self.control_path}", "-O", "exit", "x"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @staticmethod
    def finish_closing(closing: subprocess.Popen | None) -> None:
        if closing is None:
            return
        try:
            closing.wait(timeout=10)
        except subprocess.TimeoutExpired:
            closing.kill()
            closing.wait()


CONTROL_PERSIST = 60


def _first_words(command: str, n: int = 4) -> str:
    words = command.split()
    return " ".join(words[:n]) + (" ..." if len(words) > n else "")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
