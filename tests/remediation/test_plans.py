"""Fix planning on real Kolla expectations: risks, manual fixes, drift against globals.yml, secrets kept out."""

import pytest

from conformance import checks
from conformance.remediation import planner
from conformance.remediation.actions import Command, WriteFile
from conformance.remediation.plugin import refuse
from conformance.remediation.registry import REGISTRY, Fix, FixContext, Risk, fix_for
from tests.unit.test_expectations import kolla_tree, resolve

PASSWORD = "pw-123456"


def plan_for(check_id, exp, source_of=lambda name: "Kolla defaults"):
    return planner.make_plan(fix_for(check_id), FixContext("compute01", exp, None, None, source_of))


def test_every_fix_is_keyed_on_a_registered_check():
    checks.all_checks()
    fix_for("virt.dev-kvm")
    assert set(REGISTRY) <= set(checks.REGISTRY), set(REGISTRY) - set(checks.REGISTRY)


def test_mech_list_that_cannot_work_in_globals_is_manual_and_names_the_file(tmp_path):
    config = kolla_tree(tmp_path, "libvirt_sasl_mech_list: ['SCRAM-SHA-256']\n")
    exp = resolve(config)
    variables = config.variables("compute01", [], facts=None)
    plan = plan_for("sasl.mech-matches-tls", exp, variables.source_of)
    assert plan.manual and not plan.actions
    assert "globals.yml" in plan.text() and "libvirt_sasl_mech_list" in plan.text()
    assert "DIGEST-MD5" in plan.text() and refuse(plan, Risk.DESTRUCTIVE, set())


def test_no_vt_names_where_kvm_is_set(tmp_path):
    """The manual plan points at the operator's own setting: fixing it anywhere else, Kolla renders kvm again."""
    exp = resolve(kolla_tree(tmp_path, "nova_compute_virt_type: kvm\n"))
    plan = plan_for("virt.cpu-vt-flags", exp)
    assert f"comes from nova_compute_virt_type ({tmp_path}" in plan.manual and "globals.yml)" in plan.manual


def test_sasl_user_password_only_through_stdin(tmp_path):
    plan = plan_for("sasl.user-exists", resolve(kolla_tree(tmp_path)))
    (action,) = plan.actions
    assert isinstance(action, Command) and action.stdin.reveal() == PASSWORD + "\n"
    assert action.command == "docker exec -i nova_libvirt saslpasswd2 -c -p -a libvirt -- nova"
    assert PASSWORD not in plan.text() + plan.script()
    assert plan.risk is Risk.SAFE


def test_no_vt_and_certificates_are_manual(tmp_path):
    exp = resolve(kolla_tree(tmp_path))
    for check_id in ("virt.cpu-vt-flags", "tls.san-covers-host", "tls.validity"):
        plan = plan_for(check_id, exp)
        assert plan.manual and "never applied" in plan.text()
    assert "kolla-ansible certificates" in plan_for("tls.validity", exp).manual


@pytest.mark.parametrize(
    "risk,max_risk,allowed,refused",
    [
        (Risk.SAFE, Risk.SAFE, set(), ""),
        (Risk.DISRUPTIVE, Risk.SAFE, set(), "--remediate-max-risk disruptive"),
        (Risk.DISRUPTIVE, Risk.DISRUPTIVE, set(), ""),
        (Risk.DESTRUCTIVE, Risk.DESTRUCTIVE, set(), "--remediate-allow cleanup.volumes"),
        (Risk.DESTRUCTIVE, Risk.DESTRUCTIVE, {"cleanup.volumes"}, ""),
        (Risk.DESTRUCTIVE, Risk.DISRUPTIVE, {"cleanup.volumes"}, "--remediate-max-risk destructive"),
    ],
)
def test_apply_acts_up_to_the_maximum_risk_and_destructive_needs_the_check_named(risk, max_risk, allowed, refused):
    plan = planner.Plan("h", Fix("cleanup.volumes", risk, "t", None), [WriteFile("/x", "y")])
    reason = refuse(plan, max_risk, allowed)
    assert (refused in reason) if refused else reason == ""


def test_an_action_riskier_than_its_fix_raises_the_plans_risk():
    plan = planner.Plan(
        "h",
        Fix("sasl.mech-list", Risk.SAFE, "t", None),
        [WriteFile("/x", "y"), Command("docker restart nova_libvirt", "restart", risk=Risk.DISRUPTIVE)],
    )
    assert plan.risk is Risk.DISRUPTIVE and "[disruptive]" in plan.text()


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--remediate-allow", "cleanup.volume"],
            "--remediate-allow cleanup.volume: no destructive fix has this check id "
            "(destructive fixes: cleanup.volumes)",
        ),
        (["--remediate-allow", "sasl.mech-list"], "--remediate-allow sasl.mech-list: no destructive fix"),
        (["--remediate-prune-backups", "0"], "--remediate-prune-backups 0: give a number of days, 1 or more"),
        (["--remediate-lock-wait", "-1"], "--remediate-lock-wait -1: seconds, 0 or more"),
    ],
)
def test_bad_remediation_options_stop_the_run_with_one_line(tmp_path, args, message):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--remediate=apply", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 4
    assert message in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "kolla-remediation").exists()  # stopped before anything was written
