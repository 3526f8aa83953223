"""Virtualisation checks against real lab hosts: each passes on correct hosts of every shape and fails on the
lab fault aimed at it, and on no other host."""

import pytest

from conformance.model import Status
from tests.canary_lab import assert_canary, canary_run, left_behind
from tests.suite_runner import run_suite

VIRT_CHECKS = {
    "virt.type-rendered",
    "virt.cpu-vt-flags",
    "virt.kvm-module",
    "virt.dev-kvm",
    "virt.dev-kvm-access",
    "virt.libvirt-kvm-domain",
}

KVM_LAB = {
    "name": "virt-kvm",
    "hosts": [
        {"name": "good-docker", "shape": "docker"},
        {"name": "good-podman", "shape": "podman"},
        {"name": "good-host", "shape": "host"},
        {"name": "novt", "shape": "docker", "faults": ["no-vt-flags"]},
        {"name": "nokvm", "shape": "podman", "faults": ["no-dev-kvm"]},
        {"name": "kvmgroup", "shape": "docker", "faults": ["dev-kvm-wrong-group"]},
        {"name": "kvmgroup-host", "shape": "host", "faults": ["dev-kvm-wrong-group"]},
        {"name": "nomodule", "shape": "docker", "faults": ["kvm-module-missing"]},
        {"name": "override", "shape": "podman", "faults": ["virt-type-override"]},
    ],
}

QEMU_LAB = {
    "name": "virt-qemu",
    "virt_type": "qemu",
    "hosts": [
        {"name": "qemu-vt", "shape": "docker"},  # KVM available: warn
        {"name": "qemu-novt", "shape": "docker", "faults": ["no-vt-flags"]},  # qemu is right here
    ],
}


@pytest.fixture(scope="module")
def kvm_run(lab_factory):
    info = lab_factory(KVM_LAB)
    return info, run_suite(info.profile_path, "-k", ":virt.")


@pytest.fixture(scope="module")
def qemu_run(lab_factory):
    info = lab_factory(QEMU_LAB)
    return info, run_suite(info.profile_path, "-k", ":virt.")


@pytest.mark.parametrize("host", [h["name"] for h in KVM_LAB["hosts"]])
def test_each_kvm_host_fails_exactly_its_faults(kvm_run, host):
    info, result = kvm_run
    expected = {c for c in info.expected_failures.get(host, set()) if c.startswith("virt.")}
    assert result.failing(host) == expected, result.output[-3000:]
    for check_id in VIRT_CHECKS - expected:
        assert result.status(host, check_id) is Status.PASS
    assert result.status(host, "virt.kvm-unused") is Status.NOT_APPLICABLE


def test_pvm_like_host_says_what_is_there(kvm_run):
    _, result = kvm_run
    finding = result.findings[("novt", "virt.cpu-vt-flags")]
    assert "no vmx/svm flag, yet /dev/kvm exists" in finding.actual
    assert "modules: kvm" in finding.actual and finding.hint


def test_override_names_the_rendered_file(kvm_run):
    _, result = kvm_run
    finding = result.findings[("override", "virt.type-rendered")]
    assert finding.expected.startswith("[libvirt] virt_type = kvm")
    assert "virt_type = qemu in /etc/kolla/nova-compute/nova.conf" in finding.actual


def test_failures_make_exit_code_1(kvm_run):
    assert kvm_run[1].exit_code == 1


def test_qemu_where_kvm_is_available_warns(qemu_run):
    _, result = qemu_run
    assert result.status("qemu-vt", "virt.kvm-unused") is Status.WARN
    assert result.status("qemu-novt", "virt.kvm-unused") is Status.PASS
    for host in ("qemu-vt", "qemu-novt"):
        assert result.status(host, "virt.type-rendered") is Status.PASS
        assert result.status(host, "virt.cpu-vt-flags") is Status.NOT_APPLICABLE
    assert qemu_run[1].exit_code == 0  # warnings pass the gate


# The canary guest (opt-in) on the same labs: libvirt itself creates a paused guest of the expected type. Faults that
# change only what a check reads (the CPU flags and the kvm module as the host shows them) do not stop libvirt, and
# the canary passes there, as a real boot would; without a usable /dev/kvm, QEMU refuses in its own words.
CANARY_KVM = {
    "good-docker": None,
    "good-podman": None,
    "good-host": None,
    "novt": None,
    "nomodule": None,
    "override": None,
    "nokvm": "could not get preferred machine for /usr/bin/qemu-system-x86_64 type=kvm",
    "kvmgroup": "Could not access KVM kernel module: Permission denied",
    "kvmgroup-host": "Could not access KVM kernel module: Permission denied",
}
SHAPES = {h["name"]: h["shape"] for h in KVM_LAB["hosts"] + QEMU_LAB["hosts"]}


@pytest.fixture(scope="module")
def kvm_canary(kvm_run):
    info, _ = kvm_run
    return info, canary_run(info)


@pytest.mark.parametrize("host", sorted(CANARY_KVM))
def test_canary_starts_a_kvm_guest_where_qemu_can(kvm_canary, host):
    info, result = kvm_canary
    assert_canary(result, host, CANARY_KVM[host])
    assert left_behind(info, host, SHAPES[host]) == []


def test_canary_of_a_qemu_lab_is_a_qemu_guest(qemu_run):
    info, _ = qemu_run
    result = canary_run(info)
    for host in ("qemu-vt", "qemu-novt"):
        assert_canary(result, host, None)
        assert "(qemu, paused)" in result.findings[(host, "libvirt.canary-guest")].evidence["created"]
        assert left_behind(info, host, SHAPES[host]) == []
