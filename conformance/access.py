"""Reaching a host: one multiplexed SSH connection per host, per-command timeouts, container exec.

Built on pytest-testinfra's ssh backend. testinfra adds `ControlMaster=auto` but no ControlPath unless one is
given, so by default every command opens a new SSH connection (measured: ~0.3 s each). We always give one.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import shlex
import signal
import subprocess
import tempfile
import threading

import testinfra
from testinfra.backend.ssh import SshBackend

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
        opts = ["-o BatchMode=yes", "-o ServerAliveInterval=5", "-o ServerAliveCountMax=3",
                "-o StrictHostKeyChecking=" + ("yes" if self.strict_host_key_checking else "no")]
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
    exec_error: str = ""   # a container exec that did not run the command to its end: the engine's reason

    @property
    def ok(self) -> bool:
        return self.rc == 0


_REMOTE_255 = "__conformance_remote_exit_255__"
_EXEC_DONE = "__conformance_exec_done__"


class CommandTimeout(Exception):
    pass


class _TimedSshBackend(SshBackend):
    """testinfra's ssh backend whose local ssh process is killed after a deadline."""

    NAME = "conformance-ssh"
    deadline: float | None = None
    stdin: bytes | None = None   # fed to the remote command (secrets go here, never into argv)

    def run_local(self, command, *args):
        cmd = self.quote(command, *args)
        proc = subprocess.Popen(cmd, shell=True, stdin=subprocess.DEVNULL if self.stdin is None else subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(input=self.stdin, timeout=self.deadline)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise CommandTimeout() from None
        return self.result(proc.returncode, self.encode(cmd), stdout, stderr)


class HostConnection:
    """Commands on one host over one SSH master connection, counted for the run's statistics."""

    def __init__(self, name: str, address: str, ssh: SshSettings, control_dir: str | None = None):
        self.name, self.address, self.ssh = name, address, ssh
        self._control_dir = control_dir or tempfile.mkdtemp(prefix="kc-ssh-")
        # ControlPath must stay short (a unix socket path is limited to 108 bytes).
        self.control_path = os.path.join(self._control_dir, hashlib.sha1(f"{name}@{address}".encode()).hexdigest()[:12])
        self.commands = 0
        self.connections = 0   # SSH connections opened (a new master whenever no control socket exists)
        self._lock = threading.Lock()
        user = f"{ssh.user}@" if ssh.user else ""
        port = f":{ssh.port}" if ssh.port else ""
        self._backend = _TimedSshBackend(
            f"{user}{address}{port}", ssh_config=ssh.config, ssh_identity_file=ssh.identity_file,
            timeout=ssh.connect_timeout, controlpath=self.control_path, controlpersist=600,
            ssh_extra_args=ssh.extra_args(), sudo=ssh.sudo)
        self.testinfra = testinfra.host.Host(self._backend)

    def run(self, command: str, timeout: int | None = None, stdin: bytes | str | None = None) -> CommandResult:
        """Run a shell command on the host. Raises HostUnreachable if SSH fails or the command hangs.

        `stdin` goes to the command through the SSH channel: the way to pass a secret without putting it in argv."""
        limit = timeout or self.ssh.command_timeout
        # The remote `timeout` stops the command itself; the local deadline covers a hung connection.
        # ssh exits 255 on its own failures too, so a remote 255 is marked on stderr to tell the two apart.
        wrapped = (f"timeout -k 5 {limit} sh -c {shlex.quote(command)}; "
                   f"r=$?; [ $r -ne 255 ] || echo {_REMOTE_255} >&2; exit $r")
        with self._lock:
            self.commands += 1
            if not os.path.exists(self.control_path):
                self.connections += 1
            self._backend.deadline = limit + 10
            self._backend.stdin = stdin.encode() if isinstance(stdin, str) else stdin
            try:
                out = self._backend.run(wrapped)
            except CommandTimeout:
                raise HostUnreachable(self.name, f"command timed out after {limit}s: {_first_word(command)}")
            except RuntimeError as exc:  # testinfra raises RuntimeError(result) when ssh exits 255
                result = exc.args[0] if exc.args else None
                detail = getattr(result, "stderr", "") or str(exc)
                if _REMOTE_255 not in detail:
                    raise HostUnreachable(self.name, f"ssh to {self.address} failed: {_last_line(detail)}")
                out = result
            finally:
                self._backend.stdin = None
        if out.rc == 124:
            raise HostUnreachable(self.name, f"command timed out after {limit}s: {_first_word(command)}")
        return CommandResult(command, out.rc, out.stdout, out.stderr.replace(_REMOTE_255 + "\n", ""))

    def container_exec(self, engine: str, container: str, command: str,
                       timeout: int | None = None) -> CommandResult:
        """Run a shell command inside a Kolla container with the host's engine (docker or podman).

        A container that is restarting or dies during the exec fails in many wordings per engine and version
        (podman, measured: six in 400 execs, among them "the pid was reused"), sometimes after part of the output.
        So the command prints a last line after it ends, carrying its exit status; without that line the result
        is marked with `exec_error` instead of being taken for the command's own (empty) answer."""
        script = f'( {command}\n); printf "\\n{_EXEC_DONE}%d\\n" "$?"'
        result = self.run(f"{shlex.quote(engine)} exec {shlex.quote(container)} sh -c {shlex.quote(script)}",
                          timeout=timeout)
        body, marker, status = result.stdout.rpartition("\n" + _EXEC_DONE)
        if not marker or not status.strip().isdigit():
            reason = _last_line(result.stderr) if result.stderr.strip() else f"{engine} exec exited {result.rc}"
            return dataclasses.replace(result, exec_error=reason)
        return dataclasses.replace(result, rc=int(status), stdout=body)

    def close(self) -> None:
        subprocess.run(["ssh", "-o", f"ControlPath={self.control_path}", "-O", "exit", "x"],
                       capture_output=True)


def _first_word(command: str) -> str:
    return command.split()[0] if command.split() else command


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
