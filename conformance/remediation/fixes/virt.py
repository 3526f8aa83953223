"""Hardware virtualisation fixes: /dev/kvm group and mode with Kolla's udev rule, loading the kvm module.
No VT in the CPU and a drifted virt_type are manual."""

from __future__ import annotations

from conformance.command import shell
from conformance.probes import virt as virt_probes
from conformance.remediation.actions import Command, SetAttrs, WriteFile
from conformance.remediation.fixes import current
from conformance.remediation.registry import Manual, Risk, fix

UDEV_RULE = "/etc/udev/rules.d/99-kolla-kvm.rules"  # roles/nova-cell/tasks/config-host.yml (LP#1681461)
MODULES_LOAD = "/etc/modules-load.d/kvm.conf"


@fix(
    "virt.dev-kvm-access", risk=Risk.SAFE, title="give /dev/kvm the group and mode QEMU needs", kind="auto (some cases)"
)
def dev_kvm_access(ctx):
    exp, facts = ctx.expectation, ctx.facts
    dev = facts.probe(virt_probes.dev_kvm)
    if not dev.exists:
        raise Manual("/dev/kvm is missing: load the kvm modules first (see virt.kvm-module / virt.dev-kvm)")
    if exp.libvirt_container:
        # Kolla's rule for the future (udev re-applies it on every boot), chgrp/chmod for now.
        rule = f'KERNEL=="kvm", GROUP="{int(exp.qemu_user_gid)}", MODE="0660"\n'
        before = current(ctx, UDEV_RULE)
        actions = [WriteFile(UDEV_RULE, rule, before, mode=0o644, owner="root:root")] if before != rule else []
        return actions + [SetAttrs("/dev/kvm", mode=0o660, owner=f":{int(exp.qemu_user_gid)}")]
    user, groups = facts.probe(virt_probes.qemu_user)
    kvm_gid = facts.probe(virt_probes.group_id, "kvm")
    if not kvm_gid.isdigit():
        # No group to name: say to create one, never "add to group UNKNOWN" or a group that is not there.
        owner = dev.group_label()
        raise Manual(
            f"host libvirt: /dev/kvm's group is {owner} and this host has no kvm group: create it "
            f"(`groupadd --system kvm`), add {user} to it (`usermod -aG kvm {user}`) and give /dev/kvm that "
            "group, mode 0660 (the kvm group's udev rule does so at boot)"
        )
    if int(kvm_gid) not in groups:
        raise Manual(
            f"host libvirt: add {user} to group kvm (gid {kvm_gid}): `usermod -aG kvm {user}`, then restart "
            "libvirtd so QEMU runs with the group; the kvm group's udev rule gives /dev/kvm to it"
        )
    return [SetAttrs("/dev/kvm", mode=0o660, owner=f":{kvm_gid}")]


@fix("virt.kvm-module", risk=Risk.DISRUPTIVE, title="load the KVM modules now and at boot")
def kvm_module(ctx):
    cpu = ctx.facts.probe(virt_probes.cpuinfo)
    if not cpu.vt_flags:
        raise Manual("no vmx/svm in /proc/cpuinfo: enable VT in the firmware first (see virt.cpu-vt-flags)")
    vendor = {"vmx": "kvm_intel", "svm": "kvm_amd"}[cpu.vt_flags[0]]
    content = f"kvm\n{vendor}\n"
    before = current(ctx, MODULES_LOAD)
    actions = [WriteFile(MODULES_LOAD, content, before, mode=0o644, owner="root:root")] if before != content else []
    return actions + [
        Command(
            shell("modprobe %s", vendor),
            f"load {vendor} (and kvm)",
            undo=shell("modprobe -r %s", vendor),
            risk=Risk.DISRUPTIVE,
        )
    ]


@fix("virt.cpu-vt-flags", risk=Risk.SAFE, title="hardware virtualisation (manual)", kind="manual")
def cpu_vt_flags(ctx):
    # Name where kvm comes from: the operator changes it there, or the next reconfigure renders kvm again.
    raise Manual(
        "enable VT-x/AMD-V in the firmware (BIOS/UEFI) or expose it to this VM (nested virtualisation); "
        f"or, since virt_type {ctx.expectation.virt_type} comes from {ctx.expectation.virt_type_source}, set "
        "it to qemu there for this host (host_vars, or [libvirt] virt_type in "
        "/etc/kolla/config/nova/<host>/nova-compute.conf) and run `kolla-ansible reconfigure -t nova`"
    )


@fix("virt.dev-kvm", risk=Risk.SAFE, title="/dev/kvm missing (manual)", kind="manual")
def dev_kvm(ctx):
    raise Manual(
        "/dev/kvm appears when kvm_intel/kvm_amd loads: fix virt.cpu-vt-flags and virt.kvm-module first; "
        "if the module is loaded, check that udev runs (`udevadm trigger --subsystem-match=misc`)"
    )


@fix("virt.type-rendered", risk=Risk.SAFE, title="rendered virt_type (manual)", kind="manual")
def type_rendered(ctx):
    # The intended value is already in the Kolla config (an override, globals.yml or Kolla's defaults): what the host
    # lacks is its deploy, so the next step is the deploy, never "put the override in" a file that already has it.
    exp = ctx.expectation
    raise Manual(
        f"the Kolla config already says virt_type {exp.virt_type} ({exp.virt_type_source}) and this host runs "
        f"an older rendering: deploy it with `kolla-ansible reconfigure -t nova --limit {ctx.host}` (or "
        "`kolla-ansible deploy -t nova`); editing the rendered nova.conf by hand would be undone by that run; "
        f"if the rendered value is the one you want, change {exp.virt_type_source} first"
    )
