"""The branch tests cover the registry: every check has recorded cases, a passing one and a failing (or warning) one;
the shared expectation is Kolla's defaults; the fake refuses what nobody recorded."""

from __future__ import annotations

import collections
import dataclasses
import os
from pathlib import Path

import pytest

from conformance.checks import all_checks
from conformance.errors import ContainerUnavailable
from conformance.kolla import expectations, release
from conformance.kolla.config import KollaConfig
from conformance.model import Status
from conformance.probes import engine, host, libvirt_host, virt
from tests.unit import (
    test_checks_canary,
    test_checks_cleanup,
    test_checks_libvirt_mode,
    test_checks_ovs,
    test_checks_sasl,
    test_checks_tls,
    test_checks_virt,
)
from tests.unit.recorded import BASE, DERIVE, SASL_PASSWORD, RecordedFacts, recording

MODULES = (
    test_checks_virt,
    test_checks_sasl,
    test_checks_tls,
    test_checks_libvirt_mode,
    test_checks_ovs,
    test_checks_cleanup,
    test_checks_canary,
)


def cases():
    return [(param.values[0], bool(param.marks)) for module in MODULES for param in module.CASES]


def test_every_check_has_branch_cases():
    ids = {check.id for check in all_checks()}
    covered = {case.check for case, _ in cases()}
    assert covered == ids, f"no cases: {sorted(ids - covered)}; unknown: {sorted(covered - ids)}"


@pytest.mark.parametrize("check_id", sorted(c.id for c in all_checks()))
def test_every_check_is_seen_passing_and_not_passing(check_id):
    statuses = {case.status for case, xfail in cases() if case.check == check_id and not xfail}
    assert Status.PASS in statuses, check_id
    assert statuses & {Status.FAIL, Status.WARN}, check_id


def test_case_ids_are_unique():
    ids = collections.Counter(f"{case.check}:{case.branch}" for case, _ in cases())
    assert not [i for i, n in ids.items() if n > 1]


def test_base_expectation_is_kollas_defaults(tmp_path):
    """BASE is what expectations.resolve makes of Kolla's defaults for compute01 (nodename compute01.example, eth0
    10.0.0.11), so a case states only how its host differs."""
    (tmp_path / "globals.yml").write_text("---\nworkaround_ansible_issue_8743: true\n")  # as Kolla's sample
    (tmp_path / "passwords.yml").write_text(f"libvirt_sasl_password: {SASL_PASSWORD}\n")
    (tmp_path / "multinode").write_text("[compute]\ncompute01\n")
    kolla = release.from_path(Path(os.environ[release.ENV]), None, "test", None)
    config = KollaConfig.load(tmp_path, [tmp_path / "multinode"], "compute", kolla)
    facts = host.parse("@@nodename\ncompute01.example\n@@addresses\n2: eth0    inet 10.0.0.11/24 scope global eth0\n")
    variables = config.variables("compute01", [], facts=lambda: facts)
    resolved = expectations.resolve(
        variables, kolla=kolla, nova_conf=config.nova_compute(variables), ovs_agent=config.ovs_agent(variables)
    )
    assert dataclasses.asdict(resolved) == dataclasses.asdict(BASE)
    assert resolved.sasl_password == BASE.sasl_password


# -- the fake itself ------------------------------------------------------------------------------------------------


def test_unrecorded_probe_fails_loudly_naming_probe_and_args():
    facts = RecordedFacts({virt.cpuinfo: recording("container_tls").value(virt.cpuinfo)})
    with pytest.raises(
        AssertionError,
        match=r"conformance\.probes\.virt\.libvirt_kvm_domain\(facts, 'nova_libvirt'\)"
        r".*did not record.*virt\.cpuinfo",
    ):
        facts.probe(virt.libvirt_kvm_domain, "nova_libvirt")


def test_exact_arguments_win_over_any_and_exceptions_are_raised():
    facts = RecordedFacts({virt.libvirt_kvm_domain: "any", (virt.libvirt_kvm_domain, None): "host"})
    assert facts.probe(virt.libvirt_kvm_domain, None) == "host"
    assert facts.probe(virt.libvirt_kvm_domain, "nova_libvirt") == "any"
    facts.record(virt.libvirt_kvm_domain, ContainerUnavailable("nova_libvirt", "is restarting"))
    with pytest.raises(ContainerUnavailable):
        facts.probe(virt.libvirt_kvm_domain, None)  # a later record for any arguments replaces the exact one


def test_derive_runs_a_combining_probe_on_the_records():
    facts = RecordedFacts(
        {
            libvirt_host.daemons: libvirt_host.parse_daemons(
                "321 3145753:5693829 libvirtd\n578 65024:2 libvirtd\nself 65024:2\n"
            )
        }
    )
    assert [d.pid for d in libvirt_host.host_daemons(facts)] == [578]
    facts.record(engine.containers, DERIVE)
    with pytest.raises(AssertionError, match="cannot run a command"):
        facts.probe(engine.containers)  # a probe that runs commands cannot be derived


def test_a_replay_fails_when_the_probe_no_longer_asks_what_was_recorded():
    recorded = recording("container_tls")
    with pytest.raises(AssertionError, match="the recording has"):
        recorded.value(virt.libvirt_kvm_domain, None, key="virt.libvirt_kvm_domain('nova_libvirt')")


# -- the registry's own branches ------------------------------------------------------------------------------------


def test_registry_refuses_bad_and_duplicate_ids():
    from conformance.checks import REGISTRY, check

    before = dict(REGISTRY)
    with pytest.raises(ValueError, match="bad check id 'virt.Bad_Id'"):
        check("virt.Bad_Id", title="t", severity=Status.PASS, phases=(), rationale="r", doc="d")
    with pytest.raises(ValueError, match="bad check id 'nope.thing'"):
        check("nope.thing", title="t", severity=Status.PASS, phases=(), rationale="r", doc="d")
    with pytest.raises(ValueError, match="duplicate check id virt.dev-kvm"):
        check("virt.dev-kvm", title="t", severity=Status.PASS, phases=(), rationale="r", doc="d")(lambda e, f: None)
    assert REGISTRY == before


def test_check_help_is_its_page_or_the_rationale():
    from conformance.checks import REGISTRY

    dev_kvm = REGISTRY["virt.dev-kvm"]
    assert dev_kvm.area_title == "Hardware virtualisation"
    assert dev_kvm.page_path.name == "virt.dev-kvm.md" and dev_kvm.page == dev_kvm.page_path.read_text()
    pageless = dataclasses.replace(dev_kvm, id="virt.no-page-yet")
    assert pageless.page.startswith("# virt.no-page-yet: /dev/kvm exists") and dev_kvm.rationale in pageless.page
