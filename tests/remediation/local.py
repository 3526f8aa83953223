"""A HostConnection-shaped runner for this machine: real sh, real files, no SSH. The machinery tests use it
on files under a temporary folder; the lab tests use real hosts over SSH."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from conformance.access import CommandResult
from conformance.command import shell


class LocalConnection:
    name = "localhost"

    def __init__(self):
        self.commands: list[str] = []

    def run(self, template: str, *args, timeout: int | None = None, stdin=None) -> CommandResult:
        command = shell(template, *args)
        self.commands.append(command)
        data = stdin.encode() if isinstance(stdin, str) else stdin
        proc = subprocess.run(["sh", "-c", command], input=data, capture_output=True, timeout=timeout or 60)
        return CommandResult(command, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path below root with its bytes' hash, owner and mode: equal snapshots mean nothing changed."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
            out[str(path.relative_to(root))] = (digest, st.st_uid, st.st_gid, st.st_mode)
    return out
