"""Exit codes for a gate (conformance/report/gate.py): real runs against a loopback sshd, plus the precedence table."""

from pathlib import Path

import pytest

from conformance.errors import ExitCode
from conformance.model import Finding, Severity, Status
from conformance.report import gate
from tests.suite_runner import run_suite

ONLY_RENDERED = ("-k", "virt.type-rendered")  # a check whose outcome the test controls through nova.conf


def finding(status, host="h1", check="virt.dev-kvm", waiver=None):
    return Finding(check, host, status, Severity.BLOCKER, "virt", "postdeploy", "e", "a", waiver=waiver or {})


@pytest.mark.parametrize(
    "statuses, strict, crashed, expected",
    [
        ([Status.PASS, Status.WARN, Status.NOT_APPLICABLE], False, 0, ExitCode.OK),
        ([Status.PASS, Status.WARN], True, 0, ExitCode.CHECK_FAILED),
        ([Status.FAIL, Status.UNREACHABLE], False, 0, ExitCode.CHECK_FAILED),  # a defect beats unreachable
        ([Status.FAIL], False, 1, ExitCode.CHECK_FAILED),  # ... and a crash
        ([Status.PASS, Status.UNREACHABLE], False, 1, ExitCode.INTERNAL_ERROR),  # a crash beats unreachable
        ([Status.PASS, Status.UNREACHABLE], False, 0, ExitCode.HOSTS_UNREACHABLE),
    ],
)
def test_precedence(statuses, strict, crashed, expected):
    findings = [finding(s, check=f"virt.c{i}") for i, s in enumerate(statuses)]
    assert gate.exit_code(findings, strict, crashed) == expected


def test_waived_failure_and_expired_waiver():
    assert gate.exit_code([finding(Status.FAIL, waiver={"state": "active"})]) == ExitCode.OK
    assert gate.exit_code([finding(Status.FAIL, waiver={"state": "expired"})]) == ExitCode.CHECK_FAILED
    assert gate.exit_code([finding(Status.WARN, waiver={"state": "active"})], strict_warnings=True) == ExitCode.OK


def test_all_passed_is_0(loopback_host, tmp_path):
    result = run_suite(loopback_host.profile(tmp_path), *ONLY_RENDERED)
    assert result.exit_code == ExitCode.OK, result.output
    assert result.status("loop", "virt.type-rendered") is Status.PASS
    assert "gate: exit 0 (gate passed)" in result.output


def test_failed_check_is_1(loopback_host, tmp_path):
    node_config = tmp_path / "etc-kolla"
    (node_config / "nova-compute").mkdir(parents=True)
    (node_config / "nova-compute" / "nova.conf").write_text("[libvirt]\nvirt_type = qemu\n")
    profile = loopback_host.profile(tmp_path, extra={"overrides": {"all": {"node_config_directory": str(node_config)}}})
    result = run_suite(profile, *ONLY_RENDERED)
    assert result.exit_code == ExitCode.CHECK_FAILED, result.output
    assert "gate: exit 1 (a check failed)" in result.output


def test_unreachable_host_is_6_and_failure_wins(loopback_host, tmp_path):
    result = run_suite(loopback_host.profile(tmp_path / "a", unreachable=True), *ONLY_RENDERED)
    assert result.exit_code == ExitCode.HOSTS_UNREACHABLE, result.output
    assert result.status("gone", "virt.type-rendered") is Status.UNREACHABLE
    assert "UNREACHABLE gone:" in result.output

    node_config = tmp_path / "etc-kolla"
    (node_config / "nova-compute").mkdir(parents=True)
    (node_config / "nova-compute" / "nova.conf").write_text("[libvirt]\nvirt_type = qemu\n")
    profile = loopback_host.profile(
        tmp_path / "b", unreachable=True, extra={"overrides": {"all": {"node_config_directory": str(node_config)}}}
    )
    mixed = run_suite(profile, *ONLY_RENDERED)
    assert mixed.exit_code == ExitCode.CHECK_FAILED, mixed.output


def test_profile_error_is_4_in_one_line(loopback_host, tmp_path):
    profile = loopback_host.profile(tmp_path, extra={"waivers": "missing.yml"})
    result = run_suite(profile)
    assert result.exit_code == ExitCode.PROFILE_ERROR
    assert "waivers: file not found" in result.output and "Traceback" not in result.output


def test_crashed_check_is_3_not_a_pass(loopback_host, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    result = run_suite(
        loopback_host.profile(tmp_path),
        "-p",
        "tests.reports.crash_plugin",
        "-k",
        "virt.type-rendered or zz-crash-probe",
    )
    assert result.exit_code == ExitCode.INTERNAL_ERROR, result.output
    assert "the check crashed" in result.output and "gate: exit 3 (a check crashed)" in result.output


def test_cli_run_is_pytest_with_the_gate(loopback_host, tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "run",
            "--profile",
            str(loopback_host.profile(tmp_path, unreachable=True)),
            "-k",
            "virt.type-rendered",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == ExitCode.HOSTS_UNREACHABLE, proc.stdout + proc.stderr
