"""One remediation at a time per host: a lock directory on the host (mkdir is atomic), owned by a token.

A directory rather than flock(1): flock holds only while one process lives, and a fix spans many SSH commands.
A run that died leaves the lock behind; the message names its owner so an operator can remove it knowingly.
"""
from __future__ import annotations

import os
import shlex
import socket
import time
import uuid

from conformance.remediation.remote import Remote

LOCK_DIR = "/run/lock/kolla-conformance-remediation"


class HostLocked(Exception):
    pass


class HostLock:
    def __init__(self, remote: Remote, wait: float = 60, path: str = LOCK_DIR):
        self.remote, self.wait, self.path = remote, wait, path
        self.token = f"{uuid.uuid4().hex[:12]} pid {os.getpid()} on {socket.gethostname()} since {int(time.time())}"

    def __enter__(self) -> "HostLock":
        lock, owner = shlex.quote(self.path), shlex.quote(self.token)
        command = (f"mkdir -p $(dirname {lock}) && if mkdir -m 0700 {lock} 2>/dev/null; then "
                   f"printf '%s\\n' {owner} > {lock}/owner; echo acquired; else cat {lock}/owner 2>/dev/null; fi")
        deadline = time.monotonic() + self.wait
        while True:
            out = self.remote.run(command).stdout.strip()
            if out == "acquired":
                return self
            if time.monotonic() >= deadline:
                raise HostLocked(f"{self.remote.host} is being remediated by another run ({out or 'owner unknown'}); "
                                 f"if that run is gone, remove {self.path} on the host")
            time.sleep(1)

    def __exit__(self, *exc) -> None:
        lock = shlex.quote(self.path)
        # Remove only our own lock, never one another run took over.
        self.remote.run(f"[ \"$(head -n1 {lock}/owner 2>/dev/null)\" = {shlex.quote(self.token)} ] && rm -rf {lock}")
