"""ovs-vsctl for libvirt: with the native OVS firewall or OVN, libvirt itself adds each VM's tap to br-int by running
`ovs-vsctl` from its PATH (libvirt guide, host vs containerised libvirt; docs/kolla-provenance.md §4, §9.7)."""

from __future__ import annotations

import functools

from conformance.checks import GUIDE, check
from conformance.errors import ContainerUnavailable, EngineUnavailable
from conformance.model import Severity, Verdict
from conformance.probes import engine, files, ovs

DOC = f"{GUIDE}#host-vs-containerised-libvirt"
# Firewall drivers that make neutron bind ports without hybrid plugging (no qbr bridge): libvirt plugs into br-int.
NATIVE_FIREWALL_DRIVERS = (
    "openvswitch",
    "neutron.agent.linux.openvswitch_firewall:OVSFirewallDriver",
    "neutron.agent.linux.openvswitch_firewall.OVSFirewallDriver",
)
VSWITCHD = "openvswitch_vswitchd"


def firewall_driver(exp, facts) -> tuple[str, str]:
    """The driver the OVS agent runs with: the rendered file once deployed, else the operator's intent."""
    fact, conf = facts.probe(ovs.rendered_agent_ini, exp.node_config_directory)
    rendered = conf.get("securitygroup", {}).get("firewall_driver")
    if rendered:
        return rendered, f"[securitygroup] firewall_driver in {fact.path}"
    return exp.ovs_firewall_driver, exp.ovs_firewall_driver_source


def not_plugged_by_libvirt(exp, facts) -> Verdict | None:
    if exp.neutron_plugin_agent == "ovn":
        return None
    if not exp.openvswitch_enabled:
        return Verdict.not_applicable("enable_openvswitch is false: no Open vSwitch on this host")
    driver, source = firewall_driver(exp, facts)
    if driver in NATIVE_FIREWALL_DRIVERS:
        return None
    return Verdict.not_applicable(
        f"firewall driver {driver.rsplit('.', 1)[-1]} ({source}) uses hybrid plugging: "
        f"VM taps go to a qbr Linux bridge and libvirt never runs ovs-vsctl"
    )


def libvirt_vsctl_or_skip(exp, facts) -> tuple[ovs.LibvirtVsctl | None, Verdict | None]:
    """ovs-vsctl as libvirt finds it, or the n/a verdict when there is no libvirt to ask (reported elsewhere)."""
    if skip := not_plugged_by_libvirt(exp, facts):
        return None, skip
    if exp.libvirt_container:
        try:
            container = facts.probe(engine.containers).get("nova_libvirt")
        except EngineUnavailable as exc:  # nothing is known about nova_libvirt: the engine's error is the cause
            return None, Verdict.not_judged(f"{exc} (see libvirt.container-healthy)")
        if container is None or not container.running:
            return None, Verdict.not_judged("nova_libvirt is not running (see libvirt.container-healthy)")
        return facts.probe(ovs.libvirt_vsctl, "nova_libvirt"), None
    vsctl = facts.probe(ovs.libvirt_vsctl, None)
    if vsctl.problem:
        return None, Verdict.not_judged(f"{vsctl.problem} (see libvirt.host-daemon-listening)")
    return vsctl, None


def _answering_vsctl(exp, facts) -> tuple[ovs.LibvirtVsctl | None, Verdict | None]:
    """Like _libvirt_vsctl, for checks that need ovs-vsctl to answer: one cause is reported once."""
    vsctl, skip = libvirt_vsctl_or_skip(exp, facts)
    if skip is None and vsctl is not None and (not vsctl.resolved or not _show(facts, vsctl).ok):
        skip = Verdict.not_applicable("ovs-vsctl does not answer for libvirt (see ovs.vsctl-in-libvirt-path)")
    return vsctl, skip


def _show(facts, vsctl):
    return facts.probe(ovs.run_vsctl, vsctl, "show")


def _evidence(vsctl) -> dict[str, str]:
    return {
        "libvirt": vsctl.where,
        "PATH": f"{vsctl.path} (from {vsctl.path_source})",
        "ovs-vsctl": vsctl.resolved or "not found",
    }


@check(
    "ovs.vsctl-in-libvirt-path",
    title="libvirt finds a working ovs-vsctl in its own PATH",
    severity=Severity.CRITICAL,
    phases=("predeploy", "postdeploy"),
    doc=DOC,
    rationale="libvirt runs ovs-vsctl from the PATH it was started with to plug VM taps into br-int; without it "
    "VMs fail with 'Unable to add port tapX to OVS bridge br-int' (LP#1995409).",
)
def vsctl_in_libvirt_path(exp, facts):
    vsctl, skip = libvirt_vsctl_or_skip(exp, facts)
    if skip:
        return skip
    evidence = _evidence(vsctl)
    expected = f"ovs-vsctl in libvirt's PATH ({vsctl.where}) and `ovs-vsctl show` succeeding"
    if not vsctl.resolved:
        hint = (
            "install Kolla's wrapper (openvswitch_ovs_vsctl_wrapper_enabled: true, then `kolla-ansible deploy "
            "-t openvswitch`) or the host's openvswitch package, in a directory of libvirtd's PATH"
            if not exp.libvirt_container
            else "use Kolla's nova_libvirt image, which ships openvswitch"
        )
        return Verdict.failed(expected, f"no ovs-vsctl in {vsctl.path}", hint, evidence)
    show = _show(facts, vsctl)
    evidence["ovs-vsctl show"] = show.stdout.strip()[-1500:] or show.stderr.strip()
    if show.ok:
        return Verdict.passed(expected, f"{vsctl.resolved} answers", evidence)
    return Verdict.failed(
        expected,
        f"{vsctl.resolved} found, but `ovs-vsctl show` fails (rc {show.rc}): {_last_line(show.stdout or show.stderr)}",
        hint="make the OVS database reachable for that binary: openvswitch_db and "
        f"{VSWITCHD} running, or the wrapper calling the right engine (see ovs.wrapper-engine)",
        evidence=evidence,
    )


@check(
    "ovs.br-int-present",
    title="the integration bridge br-int exists",
    severity=Severity.CRITICAL,
    phases=("postdeploy",),
    doc=DOC,
    rationale="libvirt adds every non-hybrid port to br-int (Kolla has no variable for it); without the bridge "
    "no VM gets a network port.",
)
def br_int_present(exp, facts):
    vsctl, skip = _answering_vsctl(exp, facts)
    if skip:
        return skip
    show = _show(facts, vsctl)
    bridges = ovs.parse_bridges(show.stdout)
    evidence = {**_evidence(vsctl), "ovs-vsctl show": show.stdout.strip()[-1500:]}
    if "br-int" in bridges:
        return Verdict.passed("bridge br-int", "br-int present", evidence)
    return Verdict.failed(
        "bridge br-int",
        f"bridges: {', '.join(bridges) or 'none'}",
        evidence=evidence,
        hint="start neutron-openvswitch-agent (it creates br-int) or OVN's setup; "
        "`kolla-ansible deploy -t neutron,openvswitch`",
    )


@check(
    "ovs.db-socket",
    title="/run/openvswitch/db.sock is reachable where libvirt runs",
    severity=Severity.CRITICAL,
    phases=("postdeploy",),
    doc=DOC,
    rationale="ovs-vsctl talks to ovsdb-server over unix:/run/openvswitch/db.sock, shared from openvswitch_db "
    "(/run mounted :shared); a private /run leaves libvirt without it.",
)
def db_socket(exp, facts):
    vsctl, skip = libvirt_vsctl_or_skip(exp, facts)
    if skip:
        return skip
    fact = facts.probe(files.metadata, ovs.DB_SOCKET, vsctl.container)
    evidence = {vsctl.where: fact.describe()}
    if fact.exists and fact.kind == "socket":
        return Verdict.passed(f"socket {ovs.DB_SOCKET}", fact.describe(), evidence)
    return Verdict.failed(
        f"socket {ovs.DB_SOCKET} ({vsctl.where})",
        fact.describe(),
        evidence=evidence,
        hint="start openvswitch_db; in container mode re-create nova_libvirt so it mounts /run "
        "(docker: /run:/run:shared; podman: /run/openvswitch:/run/openvswitch:shared)",
    )


def _kolla_wrapper(exp, facts):
    """The host's ovs-vsctl if it is Kolla's wrapper, else the not-applicable verdict saying what it is."""
    if skip := not_plugged_by_libvirt(exp, facts):
        return None, skip
    binary = facts.probe(ovs.host_binary)
    if binary.kind != "wrapper":
        return None, Verdict.not_applicable(f"{binary.path} is not Kolla's wrapper ({binary.kind})")
    return binary, None


@check(
    "ovs.wrapper-engine",
    title="Kolla's ovs-vsctl wrapper calls the configured engine and a running vswitchd",
    severity=Severity.CRITICAL,
    phases=("postdeploy",),
    doc=DOC,
    rationale="The wrapper runs `exec <engine> exec openvswitch_vswitchd ovs-vsctl`; the wrong engine or a "
    "stopped openvswitch_vswitchd makes every port plug fail.",
)
def wrapper_engine(exp, facts):
    binary, skip = _kolla_wrapper(exp, facts)
    if skip:
        return skip
    try:
        listing: engine.Listing | EngineUnavailable = facts.probe(engine.containers)
    except EngineUnavailable as exc:
        listing = exc
    evidence = {binary.path: binary.text.strip(), f"{exp.container_engine} containers": listing.evidence()}
    expected = f"wrapper calling {exp.container_engine}, {VSWITCHD} running under it"
    if binary.wrapper_engine != exp.container_engine:  # judged from the wrapper alone
        return Verdict.failed(
            expected,
            f"wrapper calls {binary.wrapper_engine}",
            evidence=evidence,
            hint="re-install the wrapper for this engine: `kolla-ansible deploy -t openvswitch` "
            f"(kolla_container_engine: {exp.container_engine})",
        )
    if isinstance(listing, EngineUnavailable):  # whether vswitchd runs is unknown, never "no such container"
        raise listing
    vswitchd = listing.get(VSWITCHD)
    if vswitchd is None or not vswitchd.running:
        state = vswitchd.describe() if vswitchd else "no such container"
        return Verdict.failed(
            expected,
            f"{VSWITCHD}: {state}",
            evidence=evidence,
            hint=f"`{exp.container_engine} start {VSWITCHD}` (or `kolla-ansible deploy -t openvswitch`)",
        )
    return Verdict.passed(expected, f"wrapper calls {binary.wrapper_engine}; {vswitchd.describe()}", evidence)


@check(
    "ovs.wrapper-replaced-binary",
    title="Kolla's wrapper did not overwrite a packaged ovs-vsctl",
    severity=Severity.NORMAL,
    phases=("predeploy", "postdeploy"),
    doc=DOC,
    rationale="The wrapper is installed over /usr/bin/ovs-vsctl unconditionally; the package's next update puts "
    "its own client back, silently switching libvirt to a client that may not match the server.",
)
def wrapper_replaced_binary(exp, facts):
    binary, skip = _kolla_wrapper(exp, facts)
    if skip:
        return skip
    evidence = {binary.path: binary.text.strip(), "package owning the path": binary.package or "none"}
    if not binary.package:
        return Verdict.passed("wrapper at a path no package owns", "no package owns it", evidence)
    return Verdict.warning(
        "wrapper at a path no package owns",
        f"the wrapper replaced {binary.package}'s {binary.path}",
        evidence=evidence,
        hint=f"remove the host package {binary.package} (OVS runs in containers) or disable the "
        "wrapper and rely on the host's OVS",
    )


@check(
    "ovs.version-match",
    title="ovs-vsctl client and running Open vSwitch have the same version",
    severity=Severity.NORMAL,
    phases=("postdeploy",),
    doc=DOC,
    rationale="The wrapper exists so that libvirt's client matches the containerised server (LP#1995409); a host "
    "client of another version can misread a newer schema.",
)
def version_match(exp, facts):
    vsctl, skip = _answering_vsctl(exp, facts)
    if skip:
        return skip
    client_out = facts.probe(ovs.run_vsctl, vsctl, "--version")
    server_where, server_out = _server_version(facts)
    return judge_versions(client_out.stdout, vsctl.resolved, server_out, server_where)


def judge_versions(client_text: str, client_where: str, server_text: str, server_where: str) -> Verdict:
    """ovs.version-match's judgement on the `--version` outputs of the client libvirt runs and of ovs-vswitchd."""
    client, _ = ovs.parse_version(client_text)
    server, _ = ovs.parse_version(server_text)
    evidence = {f"client ({client_where})": client_text.strip(), f"server ({server_where})": server_text.strip()}
    if not server:
        return Verdict.not_judged(f"cannot read the running Open vSwitch version ({server_where})")
    if client == server:
        return Verdict.passed(f"client {server}", f"client {client}, server {server}", evidence)
    return Verdict.failed(
        f"client {server} (the server's)",
        f"client {client}, server {server}",
        evidence=evidence,
        hint="use Kolla's wrapper (openvswitch_ovs_vsctl_wrapper_enabled: true) or the same OVS "
        "release on the host as in the openvswitch images",
    )


def _server_version(facts) -> tuple[str, str]:
    """ovs-vswitchd's version where it runs: in openvswitch_vswitchd, else the host's daemon."""
    vswitchd = facts.probe(engine.containers).get(VSWITCHD)
    if vswitchd is not None and vswitchd.running:
        return f"container {VSWITCHD}", facts.probe(ovs.vswitchd_version, VSWITCHD)
    return "host", facts.probe(ovs.vswitchd_version, None)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


@check(
    "ovs.daemons-healthy",
    title="openvswitch_db and openvswitch_vswitchd run and answer",
    severity=Severity.CRITICAL,
    phases=("postdeploy",),
    doc=DOC,
    rationale="Every port plug needs ovsdb-server, and `ovs-vsctl add-port` waits for ovs-vswitchd to take the "
    "port: with either stopped, restarting or hung, the other ovs checks can pass while no new VM gets a "
    "network. Kolla's own healthchecks (`ovsdb-client list-dbs`, `ovs-appctl version`), bounded by Kolla's 30 s.",
)
def daemons_healthy(exp, facts):
    if not exp.openvswitch_enabled:
        return Verdict.not_applicable("enable_openvswitch is false: no Open vSwitch on this host")
    # Kolla runs Open vSwitch in containers: their healthchecks go in the listing's batch, taken as answers only
    # once the listing shows the containers running (a host OVS costs its reads one more round trip).
    facts.prefetch(
        [functools.partial(facts.probe, engine.containers)]
        + [
            functools.partial(facts.probe, ovs.healthcheck, name, command)
            for name, (_, command) in ovs.HEALTHCHECKS.items()
        ]
    )
    try:
        listing = facts.probe(engine.containers)
    except EngineUnavailable as exc:
        return Verdict.not_judged(f"{exc} (see libvirt.container-healthy)")
    in_containers = any(listing.get(name) for name in ovs.HEALTHCHECKS)
    expected = " and ".join(
        f"{name if in_containers else daemon} answering `{command}`"
        for name, (daemon, command) in ovs.HEALTHCHECKS.items()
    )
    evidence = {f"{exp.container_engine} containers": listing.evidence()}
    if not in_containers:  # Open vSwitch on the host: whether each daemon runs beside its healthcheck, one batch
        facts.prefetch(
            read
            for daemon, command in ovs.HEALTHCHECKS.values()
            for read in (
                functools.partial(facts.probe, ovs.host_daemon_running, daemon),
                functools.partial(facts.probe, ovs.healthcheck, None, command),
            )
        )
    problems, fine, hints = [], [], []
    for name, (daemon, command) in ovs.HEALTHCHECKS.items():
        container = listing.get(name)
        where = name if in_containers else f"host {daemon}"
        if in_containers and (container is None or not container.running):
            problems.append(container.describe() if container else f"no {name} container")
            hints.append(f"`{exp.container_engine} start {name}` and read /var/log/kolla/openvswitch/")
            continue
        if not in_containers and not facts.probe(ovs.host_daemon_running, daemon):
            problems.append(f"no {name} container and no {daemon} on the host")
            hints.append("deploy Open vSwitch (`kolla-ansible deploy -t openvswitch`) or start the host's")
            continue
        try:
            health = facts.probe(ovs.healthcheck, name if in_containers else None, command)
        except ContainerUnavailable as exc:  # listed as running, gone by the exec: a restart loop
            problems.append(
                f"{container.describe() if container else name} stopped before its healthcheck: {exc.problem}"
            )
            hints.append(f"`{exp.container_engine} logs {name}`: {daemon} exits at start")
            continue
        said = (health.stdout.strip().splitlines() or ["(no output)"])[-1]
        evidence[f"{command} ({where})"] = f"exit {health.rc}: {health.stdout.strip() or '(no output)'}"
        if health.rc == 124:
            problems.append(f"{where}: `{command}` got no answer within {ovs.health_limit(facts)}s ({daemon} is hung)")
            hints.append(
                f"`{exp.container_engine} restart {name}`" if in_containers else f"restart the host's {daemon}"
            )
        elif health.rc != 0:
            problems.append(f"{where}: `{command}` exit {health.rc}: {said}")
            hints.append(f"read /var/log/kolla/openvswitch/ and `{exp.container_engine} logs {name}`")
        elif container is not None and container.health == "unhealthy":
            problems.append(f"{container.describe()}: the engine reports its healthcheck failing")
            hints.append(f"`{exp.container_engine} inspect {name}` shows the healthcheck's last output")
        else:
            fine.append(f"{container.describe() if container else where} answers")
    if problems:
        return Verdict.failed(expected, "; ".join(problems), "; ".join(dict.fromkeys(hints)), evidence)
    return Verdict.passed(expected, "; ".join(fine), evidence)
