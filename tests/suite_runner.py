"""Run the conformance suite the way a user does (a separate pytest process) and read its findings back."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from conformance.model import Finding, Status
from fixtures.lab.client import resolving_lab_names


@dataclasses.dataclass
class SuiteResult:
    exit_code: int
    output: str
    findings: dict[tuple[str, str], Finding]  # (host, check id) -> finding

    def status(self, host: str, check_id: str) -> Status:
        return self.findings[(host, check_id)].status

    def failing(self, host: str) -> set[str]:
        """Check ids that did not pass on `host` (fail or warn)."""
        return {c for (h, c), f in self.findings.items() if h == host and f.status in (Status.FAIL, Status.WARN)}

    def with_status(self, host: str, status: Status) -> set[str]:
        return {c for (h, c), f in self.findings.items() if h == host and f.status is status}


def run_suite(profile: str | Path, *args: str, timeout: int = 900, hosts_file: str | Path | None = None) -> SuiteResult:
    """`hosts_file`: run the suite as if /etc/hosts were this file (a private mount namespace), so live probes
    resolve the lab's host names the way a real runner's DNS would."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "findings.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "--profile",
            str(profile),
            "--findings-json",
            str(out),
            "-p",
            "no:cacheprovider",
            "-q",
            *args,
        ]
        if hosts_file:
            command = resolving_lab_names(command, hosts_file)
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=tmp)
        findings = [Finding.from_json(json.dumps(item)) for item in json.loads(out.read_text())] if out.exists() else []
    return SuiteResult(proc.returncode, proc.stdout + proc.stderr, {(f.host, f.check_id): f for f in findings})
