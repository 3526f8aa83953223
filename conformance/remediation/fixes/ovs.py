"""ovs-vsctl for a host libvirt with OVS in containers: Kolla's wrapper (roles/openvswitch/templates/ovs-vsctl.j2)."""

from __future__ import annotations

from conformance.command import engine_name, shell
from conformance.probes import engine
from conformance.probes import ovs as ovs_probes
from conformance.remediation.actions import Command, WriteFile
from conformance.remediation.fixes import current, drift_note
from conformance.remediation.registry import Manual, Risk, fix

VSWITCHD = "openvswitch_vswitchd"


def render_wrapper(container_engine: str) -> str:
    return f'#!/bin/bash\n\nexec {engine_name(container_engine)} exec {VSWITCHD} ovs-vsctl "$@"\n'


def _wrapper(ctx) -> list:
    exp, facts = ctx.expectation, ctx.facts
    if exp.libvirt_container:
        raise Manual("nova_libvirt uses its image's own ovs-vsctl: use Kolla's nova_libvirt image")
    if facts.probe(engine.containers).get(VSWITCHD) is None:
        raise Manual(f"Open vSwitch does not run in {VSWITCHD} here: install the host's openvswitch package")
    vsctl = facts.probe(ovs_probes.libvirt_vsctl, None)
    path = ovs_probes.WRAPPER_PATH
    if vsctl.path and path.rsplit("/", 1)[0] not in vsctl.path.split(":"):
        raise Manual(f"libvirtd's PATH ({vsctl.path}) lacks /usr/bin, where Kolla installs the wrapper")
    binary = facts.probe(ovs_probes.host_binary)
    if binary.kind == "elf":
        ctx.notes.append(f"the wrapper replaces the packaged binary {path} ({binary.package or 'no package'})")
    if not exp.ovs_vsctl_wrapper_enabled:
        drift_note(ctx, "openvswitch_ovs_vsctl_wrapper_enabled", False, True)
    content = render_wrapper(exp.container_engine)
    before = current(ctx, path) if binary.kind in ("wrapper", "script") else None
    return [WriteFile(path, content, before, mode=0o755, owner="root:root", risk=Risk.DISRUPTIVE)]


@fix(
    "ovs.vsctl-in-libvirt-path",
    risk=Risk.DISRUPTIVE,
    title="install Kolla's ovs-vsctl wrapper for the host libvirt",
    kind="auto (some cases)",
)
def vsctl_in_libvirt_path(ctx):
    exp, facts = ctx.expectation, ctx.facts
    if not exp.libvirt_container:
        vswitchd = facts.probe(engine.containers).get(VSWITCHD)
        binary = facts.probe(ovs_probes.host_binary)
        if binary.kind == "wrapper" and vswitchd is not None and not vswitchd.running:
            cli = engine_name(exp.container_engine)
            return [
                Command(
                    shell("%s start %s", cli, VSWITCHD),
                    f"start {VSWITCHD}",
                    undo=shell("%s stop %s", cli, VSWITCHD),
                    risk=Risk.DISRUPTIVE,
                )
            ]
    return _wrapper(ctx)


@fix(
    "ovs.wrapper-engine",
    risk=Risk.DISRUPTIVE,
    title="make Kolla's wrapper call the configured engine",
    kind="auto (some cases)",
)
def wrapper_engine(ctx):
    binary = ctx.facts.probe(ovs_probes.host_binary)
    if binary.wrapper_engine == ctx.expectation.container_engine:
        return vsctl_in_libvirt_path(ctx)  # right engine: the container is what is down
    return _wrapper(ctx)
