"""The manual steps of remediation plans name the real next step (#16), on recorded facts: a gid without a name is
named and created, an override already in the Kolla config is deployed, not put there again."""

from __future__ import annotations

import pytest

from conformance.model import Verdict
from conformance.probes import virt
from conformance.remediation.registry import FixContext, Manual, fix_for
from tests.unit.recorded import HOST_MODE, RecordedFacts, expectation, recording


def manual_step(check_id: str, exp, facts) -> str:
    ctx = FixContext("compute01", exp, facts, Verdict.failed("x", "y"))
    with pytest.raises(Manual) as raised:
        fix_for(check_id).plan(ctx)
    return str(raised.value)


def nameless_gid_facts(kvm_gid: str) -> RecordedFacts:
    dev = recording("container_tls").value(virt.dev_kvm)  # root:42427 0660, and stat had no name for 42427
    return RecordedFacts(
        {virt.dev_kvm: dev, virt.qemu_user: ("libvirt-qemu", [64055]), (virt.group_id, "kvm"): kvm_gid}
    )


def test_dev_kvm_group_without_a_name_is_named_by_gid_and_created():
    step = manual_step("virt.dev-kvm-access", expectation(**HOST_MODE), nameless_gid_facts(""))
    assert "gid 42427" in step and "groupadd --system kvm" in step and "usermod -aG kvm libvirt-qemu" in step
    assert "UNKNOWN" not in step and "to a group," not in step


def test_dev_kvm_user_outside_the_kvm_group_is_added_to_it_by_name():
    step = manual_step("virt.dev-kvm-access", expectation(**HOST_MODE), nameless_gid_facts("109"))
    assert "add libvirt-qemu to group kvm (gid 109)" in step and "usermod -aG kvm libvirt-qemu" in step


def test_rendered_virt_type_with_an_override_in_the_config_is_deployed_not_put_there_again():
    source = "/etc/kolla/config/nova/compute01/nova-compute.conf"
    exp = expectation(virt_type="qemu", virt_type_source=source)
    step = manual_step("virt.type-rendered", exp, RecordedFacts({}))
    assert "kolla-ansible reconfigure -t nova --limit compute01" in step and source in step
    assert "put [libvirt] virt_type" not in step and "put the override" not in step
