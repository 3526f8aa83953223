"""Commands a fix runs on a host, over the run's one SSH connection: failures become ActionError."""

from __future__ import annotations

import os

from conformance.access import CommandResult, CommandTimedOut, HostConnection
from conformance.command import Shell

# Test-only hook: make the Nth action of every fix applied in this process fail after it ran (1-based), so the
# tests can prove that a failure in the middle of an apply rolls everything back. Never set it in production.
FAIL_AT_ENV = "KOLLA_REMEDIATION_FAIL_AT"


class ActionError(Exception):
    """An action did not do what it should; the fix is rolled back."""


class Remote:
    def __init__(self, connection: HostConnection, redact=lambda text: text):
        self.connection = connection
        self.redact = redact

    @property
    def host(self) -> str:
        return self.connection.name

    def run(self, command: Shell, stdin=None, timeout: int = 120) -> CommandResult:
        """Run a built command (conformance.command). An action's own limit, not the profile's read limit: a
        restart waits for its service. One that outlives it is an ActionError (the fix is rolled back)."""
        data = stdin.reveal() if hasattr(stdin, "reveal") else stdin
        try:
            return self.connection.run(command, timeout=timeout, stdin=data)
        except CommandTimedOut as exc:
            raise ActionError(f"{exc} on {self.host}") from None

    def must(self, command: Shell, what: str, stdin=None, timeout: int = 120) -> str:
        result = self.run(command, stdin, timeout)
        if not result.ok:
            detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
            raise ActionError(self.redact(f"{what}: exit {result.rc}: {detail[-1] if detail else 'no output'}"))
        return result.stdout


def injected_failure_index() -> int | None:
    value = os.environ.get(FAIL_AT_ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None
