"""Remediation against real lab hosts with faults: plan changes nothing; apply fixes every fixable fault and the
checks pass when run again; a second apply changes nothing; a failure in the middle of an apply, or another
run's lock, leaves the host's files byte-identical; the SASL password appears nowhere."""

import json
import socket
import subprocess

import pytest

from conformance.model import Status
from conformance.remediation.planner import script_header
from conformance.remediation.remote import FAIL_AT_ENV
from tests.remediation.hoststate import files, fingerprint, ssh
from tests.suite_runner import run_suite

LAB = {
    "name": "remediate",
    "hosts": [
        {"name": "a1", "shape": "docker", "faults": ["dev-kvm-wrong-group", "sasl-user-missing", "scram-over-tcp"]},
        {"name": "a2", "shape": "docker", "faults": ["host-libvirtd-in-container-mode", "kvm-module-missing"]},
        {"name": "a3", "shape": "host", "faults": ["ovs-vsctl-missing", "scram-over-tcp"]},
        {"name": "a4", "shape": "docker", "tls": True, "faults": ["key-world-readable", "san-missing-host"]},
        {
            "name": "a5",
            "shape": "docker",
            "state": "cleaned",
            "remove_volumes": True,
            "faults": ["volumes-left-after-remove"],
        },
        {
            "name": "a6",
            "shape": "podman",
            "faults": ["dev-kvm-wrong-group", "sasl-user-missing", "auth-conf-wrong-password"],
        },
        {"name": "a7", "shape": "host", "faults": ["wrapper-wrong-engine"]},
        {"name": "a8", "shape": "host", "faults": ["wrapper-stopped-container", "no-vt-flags"]},
    ],
}

# fault -> (host, the check that fails, the outcome apply must reach)
TABLE = [
    ("dev-kvm-wrong-group", "a1", "virt.dev-kvm-access", "fixed"),
    ("sasl-user-missing", "a1", "sasl.user-exists", "fixed"),
    ("scram-over-tcp", "a1", "sasl.mech-list", "fixed"),
    ("host-libvirtd-in-container-mode", "a2", "libvirt.no-host-daemon", "fixed"),
    # No module support on this kernel (no /lib/modules): modprobe fails for real, so the fix rolls back.
    ("kvm-module-missing", "a2", "virt.kvm-module", "rolled-back"),
    ("ovs-vsctl-missing", "a3", "ovs.vsctl-in-libvirt-path", "fixed"),
    ("scram-over-tcp", "a3", "sasl.mech-list", "fixed"),  # host libvirtd: its file, then a restart
    ("key-world-readable", "a4", "tls.installed-files", "fixed"),
    ("volumes-left-after-remove", "a5", "cleanup.volumes", "fixed"),
    ("dev-kvm-wrong-group", "a6", "virt.dev-kvm-access", "fixed"),
    ("sasl-user-missing", "a6", "sasl.user-exists", "fixed"),
    ("auth-conf-wrong-password", "a6", "sasl.auth-conf", "fixed"),
    # libvirt's own ovs-vsctl fails first: re-render the wrapper for docker (a7), start openvswitch_vswitchd (a8).
    ("wrapper-wrong-engine", "a7", "ovs.vsctl-in-libvirt-path", "fixed"),
    ("wrapper-stopped-container", "a8", "ovs.vsctl-in-libvirt-path", "fixed"),
]
# fault -> (host, the check that fails, what the manual plan tells the operator): apply leaves these alone.
MANUAL = [
    ("san-missing-host", "a4", "tls.san-covers-host", "kolla-ansible certificates"),
    ("no-vt-flags", "a8", "virt.cpu-vt-flags", "enable VT-x/AMD-V in the firmware"),
]
APPLY = ("--remediate-max-risk", "destructive", "--remediate-allow", "cleanup.volumes")
NATIVE_FIREWALL = (
    "sed -i 's/^firewall_driver = .*/firewall_driver = openvswitch/' "
    "/etc/kolla/neutron-openvswitch-agent/openvswitch_agent.ini"
)


@pytest.fixture(scope="module")
def lab(lab_factory):
    info = lab_factory(LAB)
    # a3, a7 and a8 as an operator with the native OVS firewall has them: libvirt then plugs ports with ovs-vsctl
    # itself.
    for host in ("a3", "a7", "a8"):
        assert ssh(info, host, NATIVE_FIREWALL).returncode == 0
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
        assert outcomes(result)[(host, check_id)] == "nothing changed; apply would act", (host, check_id)
    assert "kolla remediation (plan" in result.output
    # One cause, two failing checks: the review script runs its actions once.
    assert "# --- sasl.mech-matches-tls: the same actions as sasl.mech-list above" in (scripts / "a1.sh").read_text()
    assert "+mech_list: DIGEST-MD5" in result.output  # a unified diff of sasl.conf
    for host in lab.hosts:
        script = (scripts / f"{host}.sh").read_text()
        assert script.startswith("#!/bin/sh")
        assert_no_password(lab, script)
    assert "SASL_PASSWORD_FILE" in (scripts / "a1.sh").read_text()
    assert_no_password(lab, result.output, json.dumps([f.to_json() for f in result.findings.values()]))


@pytest.fixture(scope="module")
def planned_in_parallel(lab, planned, tmp_path_factory):
    out = tmp_path_factory.mktemp("plan-n2")
    (out / "gone-host.sh").write_text(script_header("gone-host") + "chmod 0644 /etc/x\n")  # an earlier run's
    (out / "notes.sh").write_text("#!/bin/sh\n# the operator's own file\n")
    before = {h: fingerprint(lab, h) for h in lab.hosts}
    result = run_suite(lab.profile_path, "-n", "2", "--remediate=plan", "--remediate-dir", str(out), *APPLY)
    return result, before, {h: fingerprint(lab, h) for h in lab.hosts}, out


def test_plan_under_xdist_matches_the_sequential_plan_and_changes_nothing(lab, planned, planned_in_parallel):
    """Each host stays on one worker, which writes its script; the controller prints every worker's plans."""
    sequential, _, _, scripts = planned
    result, before, after, parallel_scripts = planned_in_parallel
    assert after == before
    assert not (parallel_scripts / "gone-host.sh").exists()  # a stale plan is never left to be run
    assert (parallel_scripts / "notes.sh").exists()
    assert "bringing up nodes" in result.output and "kolla remediation (plan" in result.output
    for host in lab.hosts:
        assert (parallel_scripts / f"{host}.sh").read_text() == (scripts / f"{host}.sh").read_text(), host
    for _, host, check_id, _ in TABLE:
        plan = result.findings[(host, check_id)].evidence["remediation plan"]
        assert plan == sequential.findings[(host, check_id)].evidence["remediation plan"]
        assert plan.splitlines()[0] in result.output  # the terminal section, gathered on the controller


@pytest.fixture(scope="module")
def applied(lab, planned, planned_in_parallel, tmp_path_factory):
    out = tmp_path_factory.mktemp("apply")
    # Under xdist (each host on one worker); the second apply and the failure lab run sequentially.
    first = run_suite(
        lab.profile_path,
        "-n",
        "2",
        "--remediate=apply",
        "--remediate-dir",
        str(out / "scripts"),
        "--alluredir",
        str(out / "allure"),
        *APPLY,
    )
    recheck = run_suite(lab.profile_path, hosts_file=lab.hosts_file)  # live probes resolve lab names
    return first, recheck, out


@pytest.mark.parametrize("fault,host,check_id,outcome", TABLE, ids=[f"{h}-{f}" for f, h, _, _ in TABLE])
def test_apply_fixes_each_fault_and_the_check_passes_again(applied, fault, host, check_id, outcome):
    first, recheck, _ = applied
    assert outcomes(first).get((host, check_id)) == outcome, first.findings[(host, check_id)].evidence
    want = Status.PASS if outcome == "fixed" else Status.FAIL
    assert first.status(host, check_id) is want
    assert (host, check_id) in recheck.findings, recheck.output[-3000:]
    assert recheck.status(host, check_id) is want


def test_wrapper_plans_name_the_engine_and_the_container_and_apply_clears_both_ovs_checks(planned, applied):
    """ovs.wrapper-engine fails beside ovs.vsctl-in-libvirt-path: plan shows both fixes; applying the first one
    fixes the second too, so it passes when it runs (no second fix is applied)."""
    result = planned[0]
    wrong_engine = result.findings[("a7", "ovs.wrapper-engine")].evidence["remediation plan"]
    assert "-exec podman exec openvswitch_vswitchd" in wrong_engine and "+exec docker exec" in wrong_engine
    stopped = result.findings[("a8", "ovs.wrapper-engine")].evidence["remediation plan"]
    assert "start openvswitch_vswitchd: `docker start openvswitch_vswitchd`" in stopped
    first, recheck, _ = applied
    for host in ("a7", "a8"):
        assert first.status(host, "ovs.wrapper-engine") is Status.PASS
        assert "remediation" not in first.findings[(host, "ovs.wrapper-engine")].evidence
        assert recheck.status(host, "ovs.wrapper-engine") is Status.PASS


@pytest.mark.parametrize("fault,host,check_id,advice", MANUAL, ids=[f"{h}-{f}" for f, h, _, _ in MANUAL])
def test_problems_without_a_safe_fix_get_a_manual_plan_and_apply_leaves_them_alone(
    planned, applied, fault, host, check_id, advice
):
    plan = planned[0].findings[(host, check_id)].evidence["remediation plan"]
    assert "(manual only: never applied)" in plan and advice in plan
    first, recheck, _ = applied
    assert (
        first.findings[(host, check_id)].evidence["remediation"]
        == "not applied: no automatic fix (manual steps in the plan)"
    )
    assert first.status(host, check_id) is recheck.status(host, check_id) is Status.FAIL


@pytest.mark.parametrize("host", ["a1", "a3"])
def test_a_fixed_mech_list_is_live_after_the_restart(applied, host):
    """The daemon reads the mech list when it starts: a rewritten file alone would pass the file check while
    nova-compute still cannot log in. a1 restarts nova_libvirt, a3 the host libvirtd."""
    first, recheck, _ = applied
    assert "restart" in first.findings[(host, "sasl.mech-list")].evidence["remediation"]
    assert recheck.status(host, "sasl.live-auth") is Status.PASS, recheck.findings[(host, "sasl.live-auth")]


def test_the_summary_counts_outcomes_and_asks_for_a_second_look_at_fixed_hosts(applied):
    first = applied[0]
    counts = dict(part.rsplit(" ", 1) for part in first.output.split(" plan(s): ", 1)[1].splitlines()[0].split(", "))
    assert counts["fixed"] == str(sum(1 for *_, outcome in TABLE if outcome == "fixed"))
    assert counts["manual"] == str(len(MANUAL)) and counts["rolled-back"] == "1"
    assert "fixed on a1, a2, a3, a4, a5, a6, a7, a8: run the suite again there" in first.output


def test_the_password_appears_nowhere(lab, applied):
    first, recheck, out = applied
    allure = "".join(p.read_text(errors="replace") for p in (out / "allure").rglob("*") if p.is_file())
    backups = "".join(ssh(lab, h, "ls -R /var/backups/kolla-conformance 2>/dev/null").stdout for h in lab.hosts)
    assert "remediation: create the SASL user" in allure  # the fix is an Allure step
    assert "remediation plan" in allure  # and the plan an attachment
    assert_no_password(
        lab, first.output, recheck.output, allure, backups, json.dumps([f.to_json() for f in first.findings.values()])
    )


def test_backups_keep_bytes_owner_and_mode(lab, applied):
    listing = ssh(lab, "a4", "cat /var/backups/kolla-conformance/*-tls.installed-files-*/manifest").stdout
    assert "/etc/kolla/nova-libvirt/serverkey.pem" in listing and "\t644\t" in listing


def test_second_apply_changes_nothing(lab, applied, tmp_path):
    before = {h: fingerprint(lab, h) for h in lab.hosts}
    again = run_suite(lab.profile_path, "--remediate=apply", "--remediate-dir", str(tmp_path), *APPLY)
    assert {h: fingerprint(lab, h) for h in lab.hosts} == before
    # Only the kvm module, which cannot load here, and the problems that have manual plans.
    assert set(outcomes(again).values()) <= {"rolled-back", "not applied: no automatic fix (manual steps in the plan)"}


FAIL_LAB = {
    "name": "remediate-fail",
    "hosts": [
        {"name": "b1", "shape": "docker", "faults": ["scram-over-tcp"]},
        {"name": "b2", "shape": "docker", "tls": True, "faults": ["key-world-readable"]},
        {
            "name": "b3",
            "shape": "docker",
            "state": "cleaned",
            "remove_volumes": True,
            "faults": ["volumes-left-after-remove"],
        },
        {"name": "b4", "shape": "host", "faults": ["scram-over-tcp"]},
    ],
}


@pytest.fixture(scope="module")
def fail_lab(lab_factory):
    return lab_factory(FAIL_LAB)


def test_a_failure_mid_apply_leaves_files_byte_identical(fail_lab, tmp_path, monkeypatch):
    before = {h: files(fail_lab, h) + ssh(fail_lab, h, "docker volume ls -q").stdout for h in fail_lab.hosts}
    monkeypatch.setenv(FAIL_AT_ENV, "2")  # the test-only hook: every fix's 2nd action fails after it ran
    result = run_suite(fail_lab.profile_path, "--remediate=apply", "--remediate-dir", str(tmp_path), *APPLY)
    after = {h: files(fail_lab, h) + ssh(fail_lab, h, "docker volume ls -q").stdout for h in fail_lab.hosts}
    assert after == before
    got = outcomes(result)
    for key in (
        ("b1", "sasl.mech-list"),
        ("b2", "tls.installed-files"),
        ("b3", "cleanup.volumes"),
        ("b4", "sasl.mech-list"),
    ):
        assert got[key] == "rolled-back", result.findings[key].evidence
        assert "injected failure after action 2" in result.findings[key].evidence["remediation"]
    # b4's second action restarted the host libvirtd; the rollback restarted it again on the restored file.
    assert "restart host libvirtd" in result.findings[("b4", "sasl.mech-list")].evidence["remediation"]
    assert ssh(fail_lab, "b4", "virsh -c qemu:///system version --daemon").returncode == 0
    assert "mech_list: SCRAM-SHA-256" in ssh(fail_lab, "b4", "cat /etc/sasl2/libvirt.conf").stdout


def test_another_runs_lock_keeps_the_host_untouched(fail_lab, tmp_path):
    lock = "/run/lock/kolla-conformance-remediation"
    assert ssh(fail_lab, "b2", f"mkdir {lock} && echo other-run > {lock}/owner").returncode == 0
    try:
        before = fingerprint(fail_lab, "b2")
        result = run_suite(
            fail_lab.profile_path,
            "-k",
            "b2",
            "--remediate=apply",
            "--remediate-lock-wait",
            "1",
            "--remediate-dir",
            str(tmp_path),
        )
        assert fingerprint(fail_lab, "b2") == before
        finding = result.findings[("b2", "tls.installed-files")]
        assert (
            finding.status is Status.FAIL
            and "being remediated by another run (other-run)" in finding.evidence["remediation"]
        )
    finally:
        ssh(fail_lab, "b2", f"rm -rf {lock}")


def test_a_stale_lock_from_a_dead_run_is_taken_over(fail_lab, tmp_path):
    """A run that died mid-fix (its process gone on this controller) does not block the host forever."""
    lock = "/run/lock/kolla-conformance-remediation"
    dead = subprocess.Popen(["true"])
    dead.wait()
    owner = f"0123abcd pid {dead.pid} on {socket.gethostname()} since 1"
    assert ssh(fail_lab, "b2", f"mkdir {lock} && echo '{owner}' > {lock}/owner").returncode == 0
    result = run_suite(
        fail_lab.profile_path,
        "-k",
        "b2",
        "--remediate=apply",
        "--remediate-lock-wait",
        "1",
        "--remediate-dir",
        str(tmp_path),
    )
    finding = result.findings[("b2", "tls.installed-files")]
    assert finding.status is Status.PASS, finding.evidence["remediation"]
    # Taken over before the host's first check (whatever the run plans there), and said in the summary.
    assert (
        f"took over a stale lock held by {owner}: its run (pid {dead.pid} on this machine) is gone" in result.output
        and "outcome: recovered" in result.output
    )
    assert ssh(fail_lab, "b2", f"test -e {lock}").returncode == 1  # released when the fix ended


def test_old_backups_are_pruned_only_when_asked(fail_lab, tmp_path):
    root = "/var/backups/kolla-conformance"
    old, new = f"{root}/20250101T000000Z-sasl.mech-list-0a0a0a", f"{root}/20261120T000000Z-sasl.mech-list-0b0b0b"
    assert (
        ssh(fail_lab, "b1", f"mkdir -p {old} {new} && touch -d '-40 days' {old} && touch -d '-1 day' {new}").returncode
        == 0
    )
    run_suite(fail_lab.profile_path, "-k", "b1", "--remediate=apply", "--remediate-dir", str(tmp_path))
    assert ssh(fail_lab, "b1", f"test -d {old}").returncode == 0  # default: every backup is kept
    listed = run_suite(
        fail_lab.profile_path,
        "-k",
        "b1",
        "--remediate=plan",
        "--remediate-prune-backups",
        "30",
        "--remediate-dir",
        str(tmp_path),
    )
    assert ssh(fail_lab, "b1", f"test -d {old}").returncode == 0  # plan mode only lists
    assert (
        f"would prune 1 backup folder(s) older than 30 days\n    {old}"
        in listed.findings[("b1", "sasl.mech-list")].evidence["remediation"]
    )
    pruned = run_suite(
        fail_lab.profile_path,
        "-k",
        "b1",
        "--remediate=apply",
        "--remediate-prune-backups",
        "30",
        "--remediate-dir",
        str(tmp_path),
    )
    assert (
        f"pruned 1 backup folder(s) older than 30 days\n    {old}"
        in pruned.findings[("b1", "sasl.mech-list")].evidence["remediation"]
    )
    assert ssh(fail_lab, "b1", f"! test -d {old} && test -d {new} && echo new-kept").stdout.strip() == "new-kept"


UNIX_SASL_LAB = {
    "name": "remediate-unix-sasl",
    "hosts": [{"name": "c1", "shape": "host", "faults": ["scram-over-tcp"]}],
}
# The host libvirtd demands SASL on its unix socket too, and root has no libvirt auth.conf to answer it with.
UNIX_SASL = (
    "echo 'auth_unix_rw = \"sasl\"' >> /etc/libvirt/libvirtd.conf && rm /root/.config/libvirt/auth.conf && "
    "P=$(pgrep -xo libvirtd) && kill $P && while kill -0 $P 2>/dev/null; do sleep 0.2; done && "
    "/usr/sbin/libvirtd -d -l && sleep 1"
)


def test_a_host_libvirtd_demanding_sasl_on_its_unix_socket_counts_as_up_after_the_restart(lab_factory, tmp_path):
    """The restart waits until the daemon answers; an authentication refusal is an answer. Before, the wait ran
    out after 60 s and the mech-list fix was rolled back although it worked."""
    info = lab_factory(UNIX_SASL_LAB)
    assert ssh(info, "c1", UNIX_SASL).returncode == 0
    refused = ssh(info, "c1", "timeout 5 virsh -c qemu:///system version --daemon </dev/null")
    assert refused.returncode != 0 and "authentication failed" in refused.stderr, refused  # the case is real
    result = run_suite(
        info.profile_path,
        "-k",
        "sasl.mech-list",
        "--remediate=apply",
        "--remediate-max-risk",
        "disruptive",
        "--remediate-dir",
        str(tmp_path),
    )
    assert outcomes(result)[("c1", "sasl.mech-list")] == "fixed", result.findings[("c1", "sasl.mech-list")].evidence
    again = run_suite(info.profile_path, "-k", "sasl.live-auth", hosts_file=info.hosts_file)
    assert again.status("c1", "sasl.live-auth") is Status.PASS, again.findings[("c1", "sasl.live-auth")]


def test_after_a_fix_later_checks_of_the_host_are_judged_from_the_host_as_it_is_now(fail_lab, tmp_path):
    """Sequential, the default: every host is gathered before its first check. sasl.mech-list's fix rewrites
    b1's sasl.conf; sasl.mech-matches-tls, judged after it, failed on what was gathered before the fix. It must
    read the host again and pass, with no fix of its own (not a verdict from stale facts)."""
    selected = ("-k", "b1 and sasl.mech")
    before = run_suite(fail_lab.profile_path, *selected)
    assert before.status("b1", "sasl.mech-matches-tls") is Status.FAIL, before.output[-2000:]
    result = run_suite(fail_lab.profile_path, *selected, "--remediate=apply", "--remediate-dir", str(tmp_path), *APPLY)
    assert outcomes(result)[("b1", "sasl.mech-list")] == "fixed", result.findings[("b1", "sasl.mech-list")].evidence
    later = result.findings[("b1", "sasl.mech-matches-tls")]
    assert later.status is Status.PASS and "remediation" not in later.evidence, later
    assert later.actual.startswith("DIGEST-MD5 on plain TCP"), later.actual  # the rewritten file, read again
