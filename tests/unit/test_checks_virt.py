"""Every branch of the virt.* checks on recorded probe values (tests/unit/recorded.py). The lab tests prove the real
failures (fixtures/lab faults no-vt-flags, no-dev-kvm, dev-kvm-wrong-group, kvm-module-missing, virt-type-override)."""

from __future__ import annotations

import dataclasses

import pytest

from conformance.conffiles import parse_ini
from conformance.errors import ContainerUnavailable
from conformance.facts import FileFact
from conformance.model import Status
from conformance.probes import kolla, virt
from tests.unit.recorded import HOST_MODE, NOT_JUDGED, RecordedFacts, asked, case, recording, result, text

PASS, WARN, FAIL, NA = Status.PASS, Status.WARN, Status.FAIL, Status.NOT_APPLICABLE
QEMU = {"virt_type": "qemu", "virt_type_source": "nova_compute_virt_type (globals.yml)"}


def rec(name):
    return recording(name)


# Recorded on lab hosts: a docker host whose CPU view has vmx (container_tls), a host-mode host (host_mode), a host
# without /dev/kvm (faulty), this machine's own CPU, which has no VT flags (paravirtualised kvm_pvm).
def vmx():
    return rec("container_tls").value(virt.cpuinfo)


def no_vt():
    return virt.parse_cpuinfo(text("cpuinfo_no_vt.txt"))


def svm():
    return virt.parse_cpuinfo(text("cpuinfo_no_vt.txt").replace("flags\t\t: fpu", "flags\t\t: svm fpu"))


def dev_kvm():
    return rec("container_tls").value(virt.dev_kvm)  # character device root:42427 0660


def host_dev_kvm():
    return rec("host_mode").value(virt.dev_kvm)  # character device root:kvm (109) 0660


def no_dev_kvm():
    return rec("faulty").value(virt.dev_kvm)


def modules():
    return rec("container_tls").value(virt.kvm_modules)  # ['kvm', 'kvm_pvm']


def nova_conf(virt_type_line):
    """The rendered nova.conf of the docker host, with its [libvirt] virt_type line replaced."""
    fact, _ = rec("container_tls").value(kolla.rendered_nova_compute_conf, "/etc/kolla")
    content = fact.content.replace("virt_type = kvm\n", virt_type_line)
    return dataclasses.replace(fact, content=content), parse_ini(content)


NOT_KVM = [
    case(check, "n/a: virt type qemu", NA, {}, exp=QEMU, actual=("effective virt type is qemu", "globals.yml"))
    for check in (
        "virt.cpu-vt-flags",
        "virt.kvm-module",
        "virt.dev-kvm",
        "virt.dev-kvm-access",
        "virt.libvirt-kvm-domain",
    )
]

TYPE_RENDERED = [
    case(
        "virt.type-rendered",
        "pass: rendered as intended",
        PASS,
        lambda: rec("container_tls").facts(),
        actual="kvm",
        evidence=("intended", "rendered"),
    ),
    case(
        "virt.type-rendered",
        "fail: nova.conf missing",
        FAIL,
        {kolla.rendered_nova_compute_conf: (FileFact("/etc/kolla/nova-compute/nova.conf", False), {})},
        actual="file missing",
        hint="kolla-ansible deploy",
        expected="/etc/kolla/nova-compute/nova.conf",
    ),
    case(
        "virt.type-rendered",
        "fail: override rendered qemu",
        FAIL,
        {kolla.rendered_nova_compute_conf: nova_conf("virt_type = qemu\n")},
        actual=("virt_type = qemu", "/etc/kolla/nova-compute/nova.conf"),
        expected="virt_type = kvm",
        # the config dir already says kvm: the next step is its deploy, not another override
        hint=("kolla-ansible reconfigure -t nova --limit compute01", "if qemu is what you want instead"),
        lacks={"hint": "put the override"},
    ),
    case(
        "virt.type-rendered",
        "fail: virt_type unset",
        FAIL,
        {kolla.rendered_nova_compute_conf: nova_conf("")},
        actual="(unset: nova defaults to kvm)",
    ),
    case(
        "virt.type-rendered",
        "pass: qemu intended and rendered",
        PASS,
        {kolla.rendered_nova_compute_conf: nova_conf("virt_type = qemu\n")},
        exp=QEMU,
        actual="qemu",
    ),
]

CPU_VT_FLAGS = [
    case(
        "virt.cpu-vt-flags",
        "pass: vmx",
        PASS,
        lambda: rec("container_tls").facts(),
        actual="vmx",
        evidence=("cpu", "/proc/cpuinfo flags"),
    ),
    case("virt.cpu-vt-flags", "pass: svm", PASS, {virt.cpuinfo: svm()}, actual="svm"),
    case(
        "virt.cpu-vt-flags",
        "fail: no VT but /dev/kvm (paravirtualised)",
        FAIL,
        {virt.cpuinfo: no_vt(), virt.dev_kvm: dev_kvm(), virt.kvm_modules: modules()},
        actual=("no vmx/svm flag, yet /dev/kvm exists", "kvm kvm_pvm", "paravirtualised or nested"),
        hint=("nova_compute_virt_type: qemu", "cpu_mode"),
        evidence=("/dev/kvm", "kvm modules"),
    ),
    case(
        "virt.cpu-vt-flags",
        "fail: no VT, /dev/kvm, no module listed",
        FAIL,
        {virt.cpuinfo: no_vt(), virt.dev_kvm: dev_kvm(), virt.kvm_modules: []},
        actual="modules: none",
    ),
    case(
        "virt.cpu-vt-flags",
        "fail: no VT, no /dev/kvm",
        FAIL,
        {virt.cpuinfo: no_vt(), virt.dev_kvm: no_dev_kvm(), virt.kvm_modules: []},
        actual="no vmx/svm flag and no /dev/kvm",
        hint=("BIOS/UEFI", "nova_compute_virt_type: qemu"),
    ),
]

KVM_MODULE = [
    case(
        "virt.kvm-module",
        "pass: kvm and a vendor module",
        PASS,
        lambda: rec("container_tls").facts(),
        actual="kvm kvm_pvm",
        expected="kvm and one of kvm_intel, kvm_amd, kvm_pvm",
    ),
    case(
        "virt.kvm-module",
        "fail: vendor module missing (Intel)",
        FAIL,
        {virt.kvm_modules: ["kvm"], virt.cpuinfo: vmx()},
        actual="kvm",
        hint="`modprobe kvm_intel`",
    ),
    case(
        "virt.kvm-module",
        "fail: no kvm module (AMD)",
        FAIL,
        {virt.kvm_modules: [], virt.cpuinfo: svm()},
        actual="no kvm module",
        hint=("`modprobe kvm_amd`", "/etc/modules-load.d/"),
    ),
    case(
        "virt.kvm-module",
        "fail: vendor module without kvm",
        FAIL,
        {virt.kvm_modules: ["kvm_intel"], virt.cpuinfo: vmx()},
        actual="kvm_intel",
    ),
    case(
        "virt.kvm-module",
        "fail: no module, no VT flag",
        FAIL,
        {virt.kvm_modules: [], virt.cpuinfo: no_vt()},
        actual="no kvm module",
        hint="kvm_intel",
    ),
]

DEV_KVM = [
    case(
        "virt.dev-kvm",
        "pass: character device",
        PASS,
        {virt.dev_kvm: dev_kvm()},
        actual=("/dev/kvm: character special file", "42427"),
    ),
    case(
        "virt.dev-kvm",
        "fail: missing",
        FAIL,
        lambda: rec("faulty").facts(),
        actual="/dev/kvm: missing",
        hint="kvm_intel/kvm_amd",
    ),
    case(
        "virt.dev-kvm",
        "fail: not a device",
        FAIL,
        {virt.dev_kvm: FileFact("/dev/kvm", True, "", 0o644, 0, 0, "root", "root", "regular file")},
        actual="regular file",
    ),
]


def kvm(mode, gid=42427, group="kolla"):
    return dataclasses.replace(dev_kvm(), mode=mode, gid=gid, group=group)


DEV_KVM_ACCESS = [
    case(
        "virt.dev-kvm-access",
        "fail: missing",
        FAIL,
        {virt.dev_kvm: no_dev_kvm()},
        actual="missing",
        hint="virt.dev-kvm",
    ),
    # container mode: Kolla's udev rule, group qemu_user_gid 0660
    case(
        "virt.dev-kvm-access",
        "pass: container mode, Kolla's udev rule",
        PASS,
        lambda: rec("container_tls").facts(),
        expected=("group 42427", "mode 0660"),
        actual="mode 0660",
    ),
    case(
        "virt.dev-kvm-access",
        "pass: container mode, world read-write",
        PASS,
        {virt.dev_kvm: kvm(0o666, 0, "root")},
        actual="mode 0666",
    ),
    case(
        "virt.dev-kvm-access",
        "fail: container mode, root:root 0600",
        FAIL,
        {virt.dev_kvm: kvm(0o600, 0, "root")},
        actual="root:root (0:0) mode 0600",
        hint=('GROUP="42427", MODE="0660"', "99-kolla-kvm.rules", "udevadm trigger"),
    ),
    case(
        "virt.dev-kvm-access",
        "fail: container mode, right group, mode 0640",
        FAIL,
        {virt.dev_kvm: kvm(0o640)},
        actual="mode 0640",
    ),
    case(
        "virt.dev-kvm-access",
        "fail: container mode, 0660 of another group",
        FAIL,
        {virt.dev_kvm: host_dev_kvm()},
        actual="root:kvm (0:109) mode 0660",
    ),
    # host mode: the host qemu user (qemu.conf user, else libvirt-qemu) must reach the device
    case(
        "virt.dev-kvm-access",
        "pass: host mode, qemu user in the device's group",
        PASS,
        lambda: rec("host_mode").facts(),
        exp=HOST_MODE,
        expected="host qemu user libvirt-qemu",
        evidence="qemu user",
    ),
    case(
        "virt.dev-kvm-access",
        "fail: host mode, qemu user not in the group",
        FAIL,
        lambda: rec("host_mode").facts({virt.qemu_user: ("libvirt-qemu", [64055])}),
        exp=HOST_MODE,
        actual="root:kvm",
        hint="add libvirt-qemu to group kvm",
    ),
    case(
        "virt.dev-kvm-access",
        "fail: host mode, the device's gid has no name on the host (recorded: stat says UNKNOWN)",
        FAIL,
        {virt.dev_kvm: dev_kvm(), virt.qemu_user: ("libvirt-qemu", [64055])},
        exp=HOST_MODE,
        actual="root:(no name) (0:42427)",
        hint=("gid 42427, which has no name on this host", "groupadd -g 42427", "usermod -aG"),
        lacks={"hint": ("UNKNOWN", "to group "), "actual": "UNKNOWN"},
    ),
    case(
        "virt.dev-kvm-access",
        "pass: host mode, world read-write",
        PASS,
        {virt.dev_kvm: kvm(0o666, 0, "root"), virt.qemu_user: ("libvirt-qemu", [64055])},
        exp=HOST_MODE,
    ),
    case(
        "virt.dev-kvm-access",
        "fail: host mode, group without rw",
        FAIL,
        {virt.dev_kvm: kvm(0o600, 109, "kvm"), virt.qemu_user: ("libvirt-qemu", [109])},
        exp=HOST_MODE,
        actual="mode 0600",
    ),
]


class _Answering(RecordedFacts):
    """A host whose every command answers the same: the probe's own parsing of one answer."""

    def __init__(self, stdout, rc=0):
        super().__init__()
        self._answer = result(stdout, rc=rc)

    def run(self, template, *args, timeout=None):
        return self._answer

    def run_in(self, container, template, *args, timeout=None):
        return self._answer


LIBVIRT_KVM_DOMAIN = [
    case(
        "virt.libvirt-kvm-domain",
        "pass: container mode",
        PASS,
        lambda: rec("container_tls").facts(),
        actual="<domain>kvm</domain>",
        evidence="virsh in container nova_libvirt",
        then=asked(virt.libvirt_kvm_domain, ("nova_libvirt",)),
    ),
    case(
        "virt.libvirt-kvm-domain",
        "pass: host mode",
        PASS,
        lambda: rec("host_mode").facts(),
        exp=HOST_MODE,
        evidence="virsh on the host",
        then=asked(virt.libvirt_kvm_domain, (None,)),
    ),
    case(
        "virt.libvirt-kvm-domain",
        "fail: libvirt answers without kvm (no /dev/kvm)",
        FAIL,
        lambda: rec("faulty").facts({virt.cpuinfo: vmx(), virt.kvm_modules: modules()}),
        actual=("virsh in container nova_libvirt", "the accel 'kvm' is not supported"),
        hint=("fix virt.dev-kvm, virt.dev-kvm-access first", "restart libvirt", "docker restart nova_libvirt"),
        lacks={"hint": ("findings above", "virt.cpu-vt-flags", "virt.kvm-module")},  # only the KVM checks that fail
    ),
    case(
        "virt.libvirt-kvm-domain",
        "fail: libvirt answers without kvm, yet every KVM check passes: no KVM check is named",
        FAIL,
        lambda: rec("container_tls").facts(
            {
                virt.libvirt_kvm_domain: virt.KvmDomainSupport(
                    False, "virsh in container nova_libvirt", "error: the accel 'kvm' is not supported", answered=True
                )
            }
        ),
        actual="the accel 'kvm' is not supported",
        hint=("in order", "restart libvirt", "docker restart nova_libvirt"),
        lacks={"hint": ("virt.cpu-vt-flags", "virt.kvm-module", "virt.dev-kvm", "fix ")},
    ),
    case(
        "virt.libvirt-kvm-domain",
        "not judged: host libvirtd down",
        NOT_JUDGED,
        lambda: rec("host_libvirtd_down").facts(),
        exp=HOST_MODE,
        actual=("libvirtd did not answer", "Failed to connect socket", "libvirt.host-daemon-listening"),
    ),
    case(
        "virt.libvirt-kvm-domain",
        "not judged: libvirtd in nova_libvirt gone mid-call",
        NOT_JUDGED,
        {
            virt.libvirt_kvm_domain: virt.KvmDomainSupport(
                False,
                "virsh in container nova_libvirt",
                "error: End of file while reading data: Input/output error",
                answered=False,
            )
        },
        actual=("libvirtd did not answer", "End of file", "libvirt.container-healthy"),
    ),
    case(
        "virt.libvirt-kvm-domain",
        "not judged: an error that says nothing about kvm (libvirtd starting in a restart loop)",
        NOT_JUDGED,
        lambda: rec("container_tls").facts(
            {
                virt.libvirt_kvm_domain: virt.libvirt_kvm_domain(
                    _Answering("error: no connection driver available for qemu:///system\n", rc=1), "nova_libvirt"
                )
            }
        ),
        actual=("libvirtd did not answer", "no connection driver available", "libvirt.container-healthy"),
    ),
    case(
        "virt.libvirt-kvm-domain",
        "not judged: nova_libvirt stopped",
        NOT_JUDGED,
        lambda: rec("stopped_libvirt").facts(),
        actual=("cannot look inside nova_libvirt now", "is not running"),
    ),
    case(
        "virt.libvirt-kvm-domain",
        "not judged: no answer at all",
        NOT_JUDGED,
        {virt.libvirt_kvm_domain: virt.KvmDomainSupport(False, "virsh on the host", "", answered=False)},
        exp=HOST_MODE,
        actual="no answer",
    ),
]

KVM_UNUSED = [
    case("virt.kvm-unused", "n/a: virt type kvm", NA, {}, actual="effective virt type is kvm"),
    case(
        "virt.kvm-unused",
        "warn: qemu on a host with VT and /dev/kvm",
        WARN,
        lambda: rec("container_tls").facts(),
        exp=QEMU,
        actual=("virt_type qemu (nova_compute_virt_type (globals.yml))", "vmx", "/dev/kvm"),
        hint="nova_compute_virt_type: kvm",
    ),
    case(
        "virt.kvm-unused",
        "pass: qemu without VT",
        PASS,
        {virt.cpuinfo: no_vt(), virt.dev_kvm: dev_kvm()},
        exp=QEMU,
        actual="no usable KVM on this host",
    ),
    case(
        "virt.kvm-unused",
        "pass: qemu with VT but no /dev/kvm",
        PASS,
        {virt.cpuinfo: vmx(), virt.dev_kvm: no_dev_kvm()},
        exp=QEMU,
        actual="no /dev/kvm",
    ),
]

CASES = NOT_KVM + TYPE_RENDERED + CPU_VT_FLAGS + KVM_MODULE + DEV_KVM + DEV_KVM_ACCESS + LIBVIRT_KVM_DOMAIN + KVM_UNUSED


@pytest.mark.parametrize("c", CASES)
def test_branch(c):
    c.run()


def test_container_unavailable_is_not_judged_with_its_cause():
    """Check.run turns a NotRead raised by a probe into not judged: the cause is the verdict's reason."""
    from tests.unit.recorded import RecordedFacts, expectation, judge

    facts = RecordedFacts({virt.libvirt_kvm_domain: ContainerUnavailable("nova_libvirt", "is restarting")})
    verdict = judge("virt.libvirt-kvm-domain", expectation(), facts)
    assert not verdict.judged and verdict.actual == "cannot look inside nova_libvirt now: is restarting"
