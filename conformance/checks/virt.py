"""Hardware virtualisation: nova_compute_virt_type against what the host offers (libvirt guide, first section)."""

from __future__ import annotations

import functools

from conformance.checks import GUIDE, REGISTRY, check
from conformance.model import Severity, Status, Verdict
from conformance.probes import kolla, virt

DOC = f"{GUIDE}#hardware-virtualisation"
KOLLA_KVM_MODE = 0o660  # Kolla's udev rule (LP#1681461): KERNEL=="kvm", GROUP="42427", MODE="0660"
KVM_PREREQUISITES = ("virt.cpu-vt-flags", "virt.kvm-module", "virt.dev-kvm", "virt.dev-kvm-access")


def _kvm_only(exp):
    return (
        None
        if exp.virt_type == "kvm"
        else Verdict.not_applicable(f"effective virt type is {exp.virt_type} ({exp.virt_type_source})")
    )


def _libvirt_container(exp):
    return "nova_libvirt" if exp.libvirt_container else None


@check(
    "virt.type-rendered",
    title="nova.conf on the host uses the intended virt type",
    severity=Severity.CRITICAL,
    phases=("postdeploy",),
    doc=DOC,
    rationale="An operator override of [libvirt] virt_type wins over nova_compute_virt_type; drift between the "
    "intended and the rendered value means the host does not run what the deployment says.",
)
def type_rendered(exp, facts):
    fact, conf = facts.probe(kolla.rendered_nova_compute_conf, exp.node_config_directory)
    if not fact.exists:
        return Verdict.failed(
            f"{fact.path} with [libvirt] virt_type = {exp.virt_type}",
            "file missing",
            hint="run `kolla-ansible deploy` (or reconfigure) for this host",
        )
    rendered = conf.get("libvirt", {}).get("virt_type")
    evidence = {
        "intended": f"{exp.virt_type} from {exp.virt_type_source}",
        "rendered": f"{fact.path}: [libvirt] virt_type = {rendered}",
    }
    if rendered == exp.virt_type:
        return Verdict.passed(exp.virt_type, rendered, evidence)
    return Verdict.failed(
        f"[libvirt] virt_type = {exp.virt_type} ({exp.virt_type_source})",
        f"[libvirt] virt_type = {rendered or '(unset: nova defaults to kvm)'} in {fact.path}",
        # The config dir already says what is intended: the host lacks its deploy (the override may exist, unrendered).
        hint=f"deploy what {exp.virt_type_source} says: `kolla-ansible reconfigure -t nova --limit {exp.host}`; "
        f"if {rendered or 'kvm'} is what you want instead, change {exp.virt_type_source} first",
        evidence=evidence,
    )


@check(
    "virt.cpu-vt-flags",
    title="CPU exposes hardware virtualisation (vmx or svm)",
    severity=Severity.BLOCKER,
    phases=("predeploy", "postdeploy"),
    doc=DOC,
    rationale="virt_type kvm needs Intel VT-x (vmx) or AMD-V (svm); without them guests cannot use KVM "
    "and Kolla has no precheck for it.",
)
def cpu_vt_flags(exp, facts):
    if skip := _kvm_only(exp):
        return skip
    cpu = facts.probe(virt.cpuinfo)
    evidence = {"cpu": cpu.model, "/proc/cpuinfo flags": " ".join(sorted(cpu.flags))}
    if cpu.vt_flags:
        return Verdict.passed("vmx or svm in /proc/cpuinfo", " ".join(cpu.vt_flags), evidence)
    dev = facts.probe(virt.dev_kvm)
    modules = facts.probe(virt.kvm_modules)
    evidence.update({"/dev/kvm": dev.describe(), "kvm modules": " ".join(modules) or "none"})
    if dev.exists:
        # Paravirtualised or nested KVM (e.g. kvm_pvm): /dev/kvm works for simple guests, but libvirt's
        # host-model/host-passthrough CPUs fail. Never pass this silently.
        actual = (
            f"no vmx/svm flag, yet /dev/kvm exists (modules: {' '.join(modules) or 'none'}): "
            f"paravirtualised or nested KVM without VT exposed"
        )
        hint = (
            "expose VT to this machine (nested virtualisation / firmware), or set nova_compute_virt_type: qemu; "
            "if you keep kvm here, set [libvirt] cpu_mode to a named model, since host-model fails without VT"
        )
    else:
        actual = "no vmx/svm flag and no /dev/kvm"
        hint = "enable VT-x/AMD-V in the firmware (BIOS/UEFI), or set nova_compute_virt_type: qemu"
    return Verdict.failed("vmx or svm in /proc/cpuinfo", actual, hint, evidence)


@check(
    "virt.kvm-module",
    title="KVM kernel modules are loaded",
    severity=Severity.BLOCKER,
    phases=("predeploy", "postdeploy"),
    doc=DOC,
    rationale="With virt_type kvm, libvirt needs the kvm module and its vendor module (kvm_intel, kvm_amd); "
    "otherwise it fails with 'could not find capabilities for domaintype=kvm'.",
)
def kvm_module(exp, facts):
    if skip := _kvm_only(exp):
        return skip
    modules = facts.probe(virt.kvm_modules)
    vendor = [m for m in modules if m in virt.KVM_VENDOR_MODULES]
    evidence = {"kvm modules (/proc/modules, /sys/module)": " ".join(modules) or "none"}
    expected = "kvm and one of " + ", ".join(virt.KVM_VENDOR_MODULES)
    if "kvm" in modules and vendor:
        return Verdict.passed(expected, " ".join(modules), evidence)
    cpu = facts.probe(virt.cpuinfo)
    module = {"vmx": "kvm_intel", "svm": "kvm_amd"}.get((cpu.vt_flags or ["vmx"])[0])
    return Verdict.failed(
        expected,
        " ".join(modules) or "no kvm module",
        evidence=evidence,
        hint=f"`modprobe {module}` and add it to /etc/modules-load.d/ so it loads at boot",
    )


@check(
    "virt.dev-kvm",
    title="/dev/kvm exists",
    severity=Severity.BLOCKER,
    phases=("predeploy", "postdeploy"),
    doc=DOC,
    rationale="QEMU opens /dev/kvm for every kvm guest; without the device node no guest starts.",
)
def dev_kvm(exp, facts):
    if skip := _kvm_only(exp):
        return skip
    if not exp.libvirt_container:  # the device and the qemu user's groups in one batch
        facts.prefetch((functools.partial(facts.probe, virt.dev_kvm), functools.partial(facts.probe, virt.qemu_user)))
    dev = facts.probe(virt.dev_kvm)
    evidence = {"/dev/kvm": dev.describe()}
    if dev.exists and dev.kind == "character special file":
        return Verdict.passed("character device /dev/kvm", dev.describe(), evidence)
    return Verdict.failed(
        "character device /dev/kvm",
        dev.describe(),
        evidence=evidence,
        hint="load kvm_intel/kvm_amd (the device appears with them) and check that udev runs",
    )


@check(
    "virt.dev-kvm-access",
    title="/dev/kvm is read-write for the user QEMU runs as",
    severity=Severity.BLOCKER,
    phases=("postdeploy",),
    doc=DOC,
    rationale="Kolla's udev rule gives /dev/kvm group 42427 (qemu_user_gid) mode 0660 so QEMU in nova_libvirt "
    "can open it (LP#1681461); a host libvirt needs its qemu user in the device's group.",
)
def dev_kvm_access(exp, facts):
    if skip := _kvm_only(exp):
        return skip
    dev = facts.probe(virt.dev_kvm)
    evidence = {"/dev/kvm": dev.describe()}
    if not dev.exists:
        return Verdict.failed("/dev/kvm accessible", "missing", evidence=evidence, hint="see virt.dev-kvm")
    world_rw = dev.mode & 0o006 == 0o006
    group_rw = dev.mode & 0o060 == 0o060
    if exp.libvirt_container:
        expected = f"group {exp.qemu_user_gid}, mode {KOLLA_KVM_MODE:04o} (Kolla's udev rule)"
        ok = world_rw or (group_rw and dev.gid == exp.qemu_user_gid)
        hint = (
            f'write KERNEL=="kvm", GROUP="{exp.qemu_user_gid}", MODE="0660" to '
            f"/etc/udev/rules.d/99-kolla-kvm.rules and run `udevadm trigger`, or re-run `kolla-ansible deploy`"
        )
    else:
        user, groups = facts.probe(virt.qemu_user)
        evidence["qemu user"] = f"{user} groups {groups}"
        expected = f"read-write for the host qemu user {user}"
        ok = world_rw or (group_rw and dev.gid in groups)
        hint = (
            f"add {user} to group {dev.group}, or give /dev/kvm mode 0660 with a group {user} is in"
            if dev.group
            else f"/dev/kvm's group is gid {dev.gid}, which has no name on this host: create a group with that id "
            f"(`groupadd -g {dev.gid} NAME`) and add {user} to it (`usermod -aG NAME {user}`), "
            f"or give /dev/kvm a group {user} is in, mode 0660"
        )
    if ok:
        return Verdict.passed(expected, dev.describe(), evidence)
    return Verdict.failed(expected, dev.describe(), hint, evidence)


@check(
    "virt.libvirt-kvm-domain",
    title="libvirt offers domain type kvm",
    severity=Severity.BLOCKER,
    phases=("postdeploy",),
    doc=DOC,
    rationale="What nova-compute will actually get: libvirt's domain capabilities for virttype kvm, asked where "
    "libvirtd runs (inside nova_libvirt in container mode).",
)
def libvirt_kvm_domain(exp, facts):
    if skip := _kvm_only(exp):
        return skip
    support = facts.probe(virt.libvirt_kvm_domain, _libvirt_container(exp))
    evidence = {support.where: support.detail}
    last = support.detail.splitlines()[-1] if support.detail else "no answer"
    if support.offered:
        return Verdict.passed("domain type kvm offered", support.detail, evidence)
    if not support.answered:  # a daemon that is down says nothing about KVM; its own check fails for it
        daemon_check = "libvirt.container-healthy" if exp.libvirt_container else "libvirt.host-daemon-listening"
        return Verdict.not_judged(f"libvirtd did not answer ({support.where}: {last}); see {daemon_check}")
    restart = (
        f"`{exp.container_engine} restart nova_libvirt`" if exp.libvirt_container else "`systemctl restart libvirtd`"
    )
    # Name a KVM check only when it fails on this host's facts: pointing at passing checks sends the operator
    # nowhere. They read what this host already gathered, so judging them here costs no round trip of its own.
    failing = [c for c in KVM_PREREQUISITES if REGISTRY[c].run(exp, facts).status is Status.FAIL]
    hint = (
        f"fix {', '.join(failing)} first (failed on this host), then restart libvirt so that it sees /dev/kvm "
        f"({restart})"
        if failing
        else f"VT flags, kvm modules and /dev/kvm are in order: restart libvirt so that it sees /dev/kvm ({restart}), "
        "then read its log for why kvm is refused"
    )
    return Verdict.failed("domain type kvm offered", f"{support.where}: {last}", hint=hint, evidence=evidence)


@check(
    "virt.kvm-unused",
    title="qemu is not chosen where KVM is available",
    severity=Severity.MINOR,
    phases=("predeploy", "postdeploy"),
    doc=DOC,
    rationale="Software emulation (qemu) is far slower than KVM; on a host with VT flags and /dev/kvm, "
    "virt_type qemu leaves performance on the table.",
)
def kvm_unused(exp, facts):
    if exp.virt_type != "qemu":
        return Verdict.not_applicable(f"effective virt type is {exp.virt_type}")
    cpu = facts.probe(virt.cpuinfo)
    dev = facts.probe(virt.dev_kvm)
    evidence = {"/proc/cpuinfo VT flags": " ".join(cpu.vt_flags) or "none", "/dev/kvm": dev.describe()}
    if cpu.vt_flags and dev.exists:
        return Verdict.warning(
            "virt_type qemu only where KVM is unavailable",
            f"virt_type qemu ({exp.virt_type_source}) on a host with {' '.join(cpu.vt_flags)} and /dev/kvm",
            hint="set nova_compute_virt_type: kvm for this host",
            evidence=evidence,
        )
    return Verdict.passed(
        "virt_type qemu only where KVM is unavailable",
        "no usable KVM on this host" if not cpu.vt_flags else "no /dev/kvm",
        evidence,
    )
