"""Remediation against real lab hosts with faults: plan changes nothing; apply fixes every fixable fault and the
checks pass when run again; a second apply changes nothing; a failure in the middle of an apply, or another
run's lock, leaves the host's files byte-identical; the SASL password appears nowhere."""
import json
from pathlib import Path

import pytest

from conformance.model import Status
from conformance.remediation.remote import FAIL_AT_ENV
from tests.remediation.hoststate import files, fingerprint, ssh
from tests.suite_runner import run_suite


LAB = {"name": "remediate", "hosts": [
    {"name": "a1", "shape": "docker", "faults": ["dev-kvm-wrong-group", "sasl-user-missing", "scram-over-tcp"]},
    {"name": "a2", "shape": "docker", "faults": ["host-libvirtd-in-container-mode", "kvm-module-missing"]},
    {"name": "a3", "shape": "host", "faults": ["ovs-vsctl-missing"]},
    {"name": "a4", "shape": "docker", "tls": True, "faults": ["key-world-readable"]},
    {"name": "a5", "shape": "docker", "state": "cleaned", "remove_volumes": True,
     "faults": ["volumes-left-after-remove"]},
    {"name": "a6", "shape": "podman", "faults": ["dev-kvm-wrong-group", "sasl-user-missing",
                                                 "auth-conf-wrong-password"]},
]}

# fault -> (host, the check that fails, the outcome apply must reach)
TABLE = [
    ("dev-kvm-wrong-group", "a1", "virt.dev-kvm-access", "fixed"),
    ("sasl-user-missing", "a1", "sasl.user-exists", "fixed"),
    ("scram-over-tcp", "a1", "sasl.mech-list", "fixed"),
    ("host-libvirtd-in-container-mode", "a2", "libvirt.no-host-daemon", "fixed"),
    # No module support on this kernel (no /lib/modules): modprobe fails for real, so the fix rolls back.
    ("kvm-module-missing", "a2", "virt.kvm-module", "rolled-back"),
    ("ovs-vsctl-missing", "a3", "ovs.vsctl-in-libvirt-path", "fixed"),
    ("key-world-readable", "a4", "tls.installed-files", "fixed"),
    ("volumes-left-after-remove", "a5", "cleanup.volumes", "fixed"),
    ("dev-kvm-wrong-group", "a6", "virt.dev-kvm-access", "fixed"),
    ("sasl-user-missing", "a6", "sasl.user-exists", "fixed"),
    ("auth-conf-wrong-password", "a6", "sasl.auth-conf", "fixed"),
]
APPLY = ("--remediate-max-risk", "destructive", "--remediate-allow", "cleanup.volumes")
NATIVE_FIREWALL = ("sed -i 's/^firewall_driver = .*/firewall_driver = openvswitch/' "
                   "/etc/kolla/neutron-openvswitch-agent/openvswitch_agent.ini")


@pytest.fixture(scope="module")
def lab(lab_factory):
    info = lab_factory(LAB)
    # a3 as an operator with the native OVS firewall has it: libvirt then plugs ports with ovs-vsctl itself.
    assert ssh(info, "a3", NATIVE_FIREWALL).returncode == 0
    return info


def outcomes(result) -> dict[tuple[str, str], str]:
    found = {}
    for (host, check_id), finding in result.findings.items():
        text = finding.evidence.get("remediation", "")
        if text:
            found[(host, check_id)] = text.splitlines()[0].removeprefix("outcome: ").removeprefix("planned: ")
    return found


def assert_no_password(info, *texts):
    for text in texts:
        assert info.sasl_password not in text


@pytest.fixture(scope="module")
def planned(lab, tmp_path_factory):
    out = tmp_path_factory.mktemp("plan")
    before = {h: fingerprint(lab, h) for h in lab.hosts}
    result = run_suite(lab.profile_path, "--remediate=plan", "--remediate-dir", str(out / "scripts"), *APPLY)
    after = {h: fingerprint(lab, h) for h in lab.hosts}
    return result, before, after, out / "scripts"


def test_plan_lists_every_fix_and_changes_nothing(lab, planned):
    result, before, after, scripts = planned
    assert after == before
    for _, host, check_id, _ in TABLE:
        finding = result.findings[(host, check_id)]
        assert finding.status is Status.FAIL and "remediation plan" in finding.evidence, (host, check_id)
    assert "kolla remediation (plan" in result.output
    assert "+mech_list: DIGEST-MD5" in result.output            # a unified diff of sasl.conf
    for host in ("a1", "a2", "a3", "a4", "a5", "a6"):
        script = (scripts / f"{host}.sh").read_text()
        assert script.startswith("#!/bin/sh")
        assert_no_password(lab, script)
    assert "SASL_PASSWORD_FILE" in (scripts / "a1.sh").read_text()
    assert_no_password(lab, result.output, json.dumps([f.to_json() for f in result.findings.values()]))


@pytest.fixture(scope="module")
def applied(lab, planned, tmp_path_factory):
    out = tmp_path_factory.mktemp("apply")
    first = run_suite(lab.profile_path, "--remediate=apply", "--remediate-dir", str(out / "scripts"),
                      "--alluredir", str(out / "allure"), *APPLY)
    recheck = run_suite(lab.profile_path)
    return first, recheck, out


@pytest.mark.parametrize("fault,host,check_id,outcome", TABLE, ids=[f"{h}-{f}" for f, h, _, _ in TABLE])
def test_apply_fixes_each_fault_and_the_check_passes_again(applied, fault, host, check_id, outcome):
    first, recheck, _ = applied
    assert outcomes(first).get((host, check_id)) == outcome, first.findings[(host, check_id)].evidence
    want = Status.PASS if outcome == "fixed" else Status.FAIL
    assert first.status(host, check_id) is want
    assert (host, check_id) in recheck.findings, recheck.output[-3000:]
    assert recheck.status(host, check_id) is want


def test_the_password_appears_nowhere(lab, applied):
    first, recheck, out = applied
    allure = "".join(p.read_text(errors="replace") for p in (out / "allure").rglob("*") if p.is_file())
    backups = "".join(ssh(lab, h, "ls -R /var/backups/kolla-conformance 2>/dev/null").stdout for h in lab.hosts)
    assert "remediation: create the SASL user" in allure      # the fix is an Allure step
    assert_no_password(lab, first.output, recheck.output, allure, backups,
                       json.dumps([f.to_json() for f in first.findings.values()]))


def test_backups_keep_bytes_owner_and_mode(lab, applied):
    listing = ssh(lab, "a4", "cat /var/backups/kolla-conformance/*-tls.installed-files-*/manifest").stdout
    assert "/etc/kolla/nova-libvirt/serverkey.pem" in listing and "\t644\t" in listing


def test_second_apply_changes_nothing(lab, applied, tmp_path):
    before = {h: fingerprint(lab, h) for h in lab.hosts}
    again = run_suite(lab.profile_path, "--remediate=apply", "--remediate-dir", str(tmp_path), *APPLY)
    assert {h: fingerprint(lab, h) for h in lab.hosts} == before
    assert set(outcomes(again).values()) <= {"rolled-back"}     # only the kvm module, which cannot load here


FAIL_LAB = {"name": "remediate-fail", "hosts": [
    {"name": "b1", "shape": "docker", "faults": ["scram-over-tcp"]},
    {"name": "b2", "shape": "docker", "tls": True, "faults": ["key-world-readable"]},
    {"name": "b3", "shape": "docker", "state": "cleaned", "remove_volumes": True,
     "faults": ["volumes-left-after-remove"]},
]}


@pytest.fixture(scope="module")
def fail_lab(lab_factory):
    return lab_factory(FAIL_LAB)


def test_a_failure_mid_apply_leaves_files_byte_identical(fail_lab, tmp_path, monkeypatch):
    before = {h: files(fail_lab, h) + ssh(fail_lab, h, "docker volume ls -q").stdout for h in fail_lab.hosts}
    monkeypatch.setenv(FAIL_AT_ENV, "2")     # the test-only hook: every fix's 2nd action fails after it ran
    result = run_suite(fail_lab.profile_path, "--remediate=apply", "--remediate-dir", str(tmp_path), *APPLY)
    after = {h: files(fail_lab, h) + ssh(fail_lab, h, "docker volume ls -q").stdout for h in fail_lab.hosts}
    assert after == before
    got = outcomes(result)
    for key in (("b1", "sasl.mech-list"), ("b2", "tls.installed-files"), ("b3", "cleanup.volumes")):
        assert got[key] == "rolled-back", result.findings[key].evidence
        assert "injected failure after action 2" in result.findings[key].evidence["remediation"]


def test_another_runs_lock_keeps_the_host_untouched(fail_lab, tmp_path):
    lock = "/run/lock/kolla-conformance-remediation"
    assert ssh(fail_lab, "b2", f"mkdir {lock} && echo other-run > {lock}/owner").returncode == 0
    try:
        before = fingerprint(fail_lab, "b2")
        result = run_suite(fail_lab.profile_path, "-k", "b2", "--remediate=apply", "--remediate-lock-wait", "1",
                           "--remediate-dir", str(tmp_path))
        assert fingerprint(fail_lab, "b2") == before
        finding = result.findings[("b2", "tls.installed-files")]
        assert finding.status is Status.FAIL and "being remediated by another run (other-run)" in \
            finding.evidence["remediation"]
    finally:
        ssh(fail_lab, "b2", f"rm -rf {lock}")
