"""The canary guest (opt-in): nova-compute's own path to a guest on this host, tried end to end and undone."""

from __future__ import annotations

from conformance.checks import GUIDE, check
from conformance.checks.ovs import libvirt_vsctl_or_skip, not_plugged_by_libvirt
from conformance.checks.sasl import client_pki, frozen_pki
from conformance.checks.tls import no_client_pki
from conformance.kolla.expectations import Secret
from conformance.model import Severity, Verdict
from conformance.probes import canary

# libvirt's (and OVS's) words for the usual causes, lowercased, and the check that says more about each.
HINTS = (
    ("could not access kvm kernel module", "no usable /dev/kvm for QEMU: see virt.dev-kvm and virt.dev-kvm-access"),
    ("/dev/kvm", "QEMU cannot open /dev/kvm: see virt.dev-kvm-access"),
    (
        "could not get preferred machine",
        "libvirt finds no KVM for QEMU here: see virt.dev-kvm and virt.libvirt-kvm-domain",
    ),
    ("kvm is not supported", "no KVM here: see virt.libvirt-kvm-domain, or set nova_compute_virt_type: qemu"),
    ("unsupported configuration: domain requires kvm", "no KVM here: see virt.libvirt-kvm-domain"),
    ("cannot find 'ovs-vsctl'", "libvirt finds no ovs-vsctl in its PATH: see ovs.vsctl-in-libvirt-path"),
    ("no bridge named", "the integration bridge is missing: see ovs.br-int-present"),
    ("cannot get interface mtu on 'br-int'", "the integration bridge is missing: see ovs.br-int-present"),
    ("not found in libvirt's path", "libvirt finds no ovs-vsctl in its PATH: see ovs.vsctl-in-libvirt-path"),
    ("database connection failed", "ovsdb does not answer where libvirt runs: see ovs.db-socket"),
    ("db.sock", "ovsdb does not answer where libvirt runs: see ovs.db-socket"),
    ("is not running", "a container libvirt needs is stopped: see ovs.wrapper-engine and libvirt.container-healthy"),
    ("alarm clock", "ovs-vsctl timed out: ovsdb-server does not answer, see ovs.daemons-healthy"),
    ("ovs-vswitchd did not take the port", "ovs-vswitchd does not answer: see ovs.daemons-healthy"),
    ("no such container", "the container Kolla's ovs-vsctl wrapper calls is missing: see ovs.wrapper-engine"),
    ("unable to add port", "libvirt could not plug the port: see ovs.vsctl-in-libvirt-path and ovs.wrapper-engine"),
    ("authentication failed", "nova's credentials are refused: see sasl.live-auth"),
    ("certificate", "TLS to libvirtd fails: see tls.live-handshake and the certificate checks"),
    (
        "connection refused",
        "libvirtd does not listen there: see libvirt.container-healthy or libvirt.host-daemon-listening",
    ),
    ("unable to connect", "libvirtd cannot be reached: see libvirt.container-healthy or libvirt.host-daemon-listening"),
)


def canary_hint(error: str) -> str:
    text = error.lower()
    return next((hint for words, hint in HINTS if words in text), "libvirtd's log on the host has the server side")


STAGES = {
    "connect": "cannot open nova's URI",
    "leftover": "cannot remove a canary left by an earlier run",
    "create": "libvirt refused to create the guest",
    "port": "libvirt created the guest, but its port is not in OVS as libvirt adds it",
    "destroy": "the canary guest could not be destroyed",
    "port-left": "destroying the guest left its port in OVS",
    "tap-left": "destroying the guest left its tap device",
    "log-left": "the guest's QEMU log could not be removed",
}


@check(
    "libvirt.canary-guest",
    title="a paused canary guest starts through nova's URI, plugs into br-int and leaves nothing behind",
    severity=Severity.BLOCKER,
    phases=("postdeploy",),
    doc=GUIDE,
    rationale="The proof the other checks approach from the side: through the URI and credentials nova-compute "
    "uses, libvirt creates a transient, paused guest (no disk, never runs guest code) of the expected virt type, "
    "plugs its port into br-int with its own ovs-vsctl where it plugs ports itself, and removes it all again. "
    "Opt-in (--canary or `canary: true`).",
)
def canary_guest(exp, facts):
    if not exp.canary:
        return Verdict.not_applicable("the canary is opt-in: --canary, or `canary: true` in the profile")
    if not exp.live_probes:
        return Verdict.not_applicable("live_probes is false in the profile")
    if exp.virt_type not in ("kvm", "qemu"):
        return Verdict.not_applicable(f"virt type {exp.virt_type!r}: the canary knows kvm and qemu guests")
    if exp.libvirt_tls and (reason := no_client_pki(exp)):
        return Verdict.not_applicable(f"{reason}: no TLS connection from the suite's machine")
    pki, problem = client_pki(exp)
    if problem:
        return Verdict.failed(f"a canary guest through {exp.libvirt_uri}", problem, "see tls.files-present")
    plugs = not_plugged_by_libvirt(exp, facts) is None
    container = "nova_libvirt" if exp.libvirt_container else None
    vsctl = libvirt_vsctl_or_skip(exp, facts)[0] if plugs else None
    password = exp.sasl_password if exp.sasl_enabled else Secret("")
    authname = exp.sasl_authname if exp.sasl_enabled else ""
    result = facts.probe(
        canary.run_canary, exp.libvirt_uri, authname, password, frozen_pki(pki), exp.virt_type, plugs, vsctl, container
    )
    expected = (
        f"a paused {exp.virt_type} guest created through {exp.libvirt_uri}"
        + (f", its port on {canary.BRIDGE} as libvirt adds it" if plugs else "")
        + ", then nothing left behind"
    )
    evidence = {"URI": exp.libvirt_uri, **dict(result.steps), "seconds": str(result.seconds)}
    if not plugs:
        evidence["interface"] = "none: ports are plugged by os-vif here (hybrid plugging), not by libvirt"
    if not result.ok:
        return Verdict.failed(
            expected, f"{STAGES.get(result.stage, result.stage)}: {result.error}", canary_hint(result.error), evidence
        )
    return Verdict.passed(expected, f"guest created, {'plugged, ' if plugs else ''}destroyed, nothing left", evidence)
