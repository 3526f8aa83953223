"""Every branch of the ovs.* checks on recorded probe values. The lab tests prove the real failures (faults
ovs-vsctl-missing, wrapper-stopped-container, wrapper-wrong-engine, libvirt-private-run, br-int-missing); the version
mismatch exists only here and in test_ovs_cleanup_parsers (one Open vSwitch build on this machine)."""

from __future__ import annotations

import dataclasses

import pytest

from conformance.errors import ContainerUnavailable
from conformance.facts import FileFact
from conformance.model import Status
from conformance.probes import engine, files, ovs
from tests.unit.recorded import HOST_MODE, NOT_JUDGED, asked, case, ps, recording, result, text

PASS, WARN, FAIL, NA = Status.PASS, Status.WARN, Status.FAIL, Status.NOT_APPLICABLE
AGENT_INI = "/etc/kolla/neutron-openvswitch-agent/openvswitch_agent.ini"
HYBRID = "neutron.agent.linux.iptables_firewall.OVSHybridIptablesFirewallDriver"
OVN = {"neutron_plugin_agent": "ovn"}
HM = {**HOST_MODE, "host": "compute02"}


def rec(name):
    return recording(name)


def agent_ini(driver=None):
    """The OVS agent's file Kolla rendered on the lab host, its firewall driver changed (None: the recorded hybrid
    one; "" : no [securitygroup] at all)."""
    if driver is None:
        return rec("container_tls").value(ovs.rendered_agent_ini, "/etc/kolla")
    old = f"[securitygroup]\nfirewall_driver = {HYBRID}\n"
    new = f"[securitygroup]\nfirewall_driver = {driver}\n" if driver else ""
    return rec("container_tls").value(ovs.rendered_agent_ini, "/etc/kolla", edit=lambda t: t.replace(old, new))


NATIVE = {ovs.rendered_agent_ini: agent_ini("openvswitch")}


def ct(records=None):
    """compute01 (docker, container mode) as recorded, its OVS agent on the native firewall."""
    return rec("container_tls").facts({**NATIVE, **(records or {})})


def hm(records=None):
    """compute02 (host mode, OVS in containers behind Kolla's wrapper) as recorded, native firewall. Its vswitchd
    runs in a container: its version is the container's, read on compute01 of the same lab."""
    return rec("host_mode").facts(
        {
            **NATIVE,
            (ovs.vswitchd_version, "openvswitch_vswitchd"): rec("container_tls").value(
                ovs.vswitchd_version, "openvswitch_vswitchd"
            ),
            **(records or {}),
        }
    )


def vsctl(where="container"):
    return (
        rec("container_tls").value(ovs.libvirt_vsctl, "nova_libvirt")
        if where == "container"
        else rec("host_mode").value(ovs.libvirt_vsctl, None)
    )


def not_found(where="container"):
    return dataclasses.replace(vsctl(where), resolved=None)


def show_output(edit):
    recorded = rec("container_tls")
    key = "ovs.run_vsctl(\"<ovs.libvirt_vsctl('nova_libvirt')>\", 'show')"
    return recorded.value(ovs.run_vsctl, vsctl(), "show", key=key, edit=edit)


STOPPED_VSWITCHD = rec("vswitchd_stopped")

APPLIES = [  # _not_applicable, through ovs.vsctl-in-libvirt-path
    case(
        "ovs.vsctl-in-libvirt-path",
        "n/a: hybrid plugging (the rendered driver)",
        NA,
        lambda: rec("container_tls").facts(),
        actual=("firewall driver OVSHybridIptablesFirewallDriver", AGENT_INI, "libvirt never runs ovs-vsctl"),
    ),
    case(
        "ovs.vsctl-in-libvirt-path",
        "n/a: not deployed yet, Kolla's template default",
        NA,
        {ovs.rendered_agent_ini: (FileFact(AGENT_INI, False), {})},
        actual="Kolla's openvswitch_agent.ini.j2",
    ),
    case(
        "ovs.vsctl-in-libvirt-path",
        "n/a: rendered file without a driver: the intended one",
        NA,
        {ovs.rendered_agent_ini: agent_ini("")},
        actual="Kolla's openvswitch_agent.ini.j2",
    ),
    case(
        "ovs.vsctl-in-libvirt-path",
        "applies: not deployed, the operator's native driver",
        PASS,
        lambda: ct({ovs.rendered_agent_ini: (FileFact(AGENT_INI, False), {})}),
        exp={
            "ovs_firewall_driver": "openvswitch",
            "ovs_firewall_driver_source": "[securitygroup] in /etc/kolla/config/neutron.conf",
        },
    ),
    case(
        "ovs.vsctl-in-libvirt-path",
        "applies: the OVSFirewallDriver class path",
        PASS,
        lambda: ct({ovs.rendered_agent_ini: agent_ini("neutron.agent.linux.openvswitch_firewall:OVSFirewallDriver")}),
    ),
    case(
        "ovs.vsctl-in-libvirt-path",
        "applies: OVN, whatever the agent file says",
        PASS,
        lambda: rec("container_tls").facts(),
        exp=OVN,
        then=asked(ovs.rendered_agent_ini),
    ),
    case(
        "ovs.vsctl-in-libvirt-path",
        "n/a: no Open vSwitch",
        NA,
        {},
        exp={"openvswitch_enabled": False},
        actual="enable_openvswitch is false",
    ),
]

VSCTL_IN_LIBVIRT_PATH = [
    case(
        "ovs.vsctl-in-libvirt-path",
        "pass: container mode",
        PASS,
        ct,
        expected="ovs-vsctl in libvirt's PATH (container nova_libvirt)",
        actual="/usr/bin/ovs-vsctl answers",
        evidence=("libvirt", "PATH", "ovs-vsctl", "ovs-vsctl show"),
        says={"ovs-vsctl show": "Bridge br-int"},
    ),
    case(
        "ovs.vsctl-in-libvirt-path",
        "pass: host mode, Kolla's wrapper in libvirtd's PATH",
        PASS,
        hm,
        exp=HM,
        expected="host libvirtd pid 304",
        says={"PATH": "/proc/304/environ (libvirtd)"},
    ),
    case(
        "ovs.vsctl-in-libvirt-path",
        "pass: host mode, libvirtd without PATH (libvirt's default search)",
        PASS,
        lambda: hm(
            {
                (ovs.libvirt_vsctl, None): dataclasses.replace(
                    vsctl("host"), path="/bin:/usr/bin", path_source="default search path: libvirtd pid 304 has no PATH"
                ),
                ovs.run_vsctl: hm().probe(ovs.run_vsctl, vsctl("host"), "show"),
            }
        ),
        exp=HM,
        says={"PATH": "default search path"},
    ),
    case(
        "ovs.vsctl-in-libvirt-path",
        "not judged: nova_libvirt stopped",
        NOT_JUDGED,
        lambda: rec("stopped_libvirt").facts(NATIVE),
        actual="nova_libvirt is not running",
        then=asked(ovs.libvirt_vsctl),
    ),
    case(
        "ovs.vsctl-in-libvirt-path",
        "not judged: no nova_libvirt container",
        NOT_JUDGED,
        lambda: hm(),
        actual="see libvirt.container-healthy",
    ),
    case(
        "ovs.vsctl-in-libvirt-path",
        "not judged: no host libvirtd",
        NOT_JUDGED,
        lambda: rec("host_libvirtd_down").facts(NATIVE),
        exp=HM,
        actual=("no libvirtd/virtqemud process runs on the host", "libvirt.host-daemon-listening"),
    ),
    case(
        "ovs.vsctl-in-libvirt-path",
        "fail: container mode, not in PATH",
        FAIL,
        lambda: ct({ovs.libvirt_vsctl: not_found()}),
        actual="no ovs-vsctl in /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        hint="Kolla's nova_libvirt image",
    ),
    case(
        "ovs.vsctl-in-libvirt-path",
        "fail: host mode, not in PATH (ovs-vsctl-missing)",
        FAIL,
        lambda: hm({ovs.libvirt_vsctl: not_found("host")}),
        exp=HM,
        hint=("openvswitch_ovs_vsctl_wrapper_enabled: true", "kolla-ansible deploy -t openvswitch"),
    ),
    case(
        "ovs.vsctl-in-libvirt-path",
        "fail: the wrapper's vswitchd is stopped",
        FAIL,
        lambda: STOPPED_VSWITCHD.facts(NATIVE),
        exp=HM,
        actual=("/usr/bin/ovs-vsctl found, but `ovs-vsctl show` fails (rc 1)", "is not running"),
        hint=("openvswitch_db", "ovs.wrapper-engine"),
    ),
    case(
        "ovs.vsctl-in-libvirt-path",
        "fail: show fails silently",
        FAIL,
        lambda: ct({ovs.run_vsctl: result("", rc=1)}),
        actual="(rc 1): no output",
    ),
]


BR_INT = [
    case("ovs.br-int-present", "pass", PASS, ct, actual="br-int present", evidence="ovs-vsctl show"),
    case(
        "ovs.br-int-present",
        "fail: another bridge only",
        FAIL,
        lambda: ct({ovs.run_vsctl: show_output(lambda t: t.replace("br-int", "br-ex"))}),
        actual="bridges: br-ex",
        hint="neutron-openvswitch-agent",
    ),
    case(
        "ovs.br-int-present",
        "fail: no bridge (br-int-missing)",
        FAIL,
        lambda: ct({ovs.run_vsctl: result('7b5edfda-e8ed-4873-b1ed-73888f568029\n    ovs_version: "3.1.0"\n')}),
        actual="bridges: none",
    ),
    case(
        "ovs.br-int-present",
        "n/a: ovs-vsctl does not answer (judged by vsctl-in-libvirt-path)",
        NA,
        lambda: STOPPED_VSWITCHD.facts(NATIVE),
        exp=HM,
        actual="see ovs.vsctl-in-libvirt-path",
    ),
    case(
        "ovs.br-int-present",
        "n/a: no ovs-vsctl for libvirt",
        NA,
        lambda: ct({ovs.libvirt_vsctl: not_found()}),
        actual="ovs-vsctl does not answer for libvirt",
    ),
    case("ovs.br-int-present", "n/a: hybrid plugging", NA, lambda: rec("container_tls").facts()),
]

SOCKET = ovs.DB_SOCKET
DB_SOCKET = [
    case(
        "ovs.db-socket",
        "pass: container mode",
        PASS,
        ct,
        actual=f"{SOCKET}: socket",
        then=asked(files.metadata, (SOCKET, "nova_libvirt")),
    ),
    case("ovs.db-socket", "pass: host mode", PASS, hm, exp=HM, then=asked(files.metadata, (SOCKET, None))),
    case(
        "ovs.db-socket",
        "fail: a private /run (libvirt-private-run)",
        FAIL,
        lambda: ct({files.metadata: FileFact(SOCKET, False)}),
        actual=f"{SOCKET}: missing",
        expected="(container nova_libvirt)",
        hint=("start openvswitch_db", "/run:/run:shared"),
    ),
    case(
        "ovs.db-socket",
        "fail: not a socket",
        FAIL,
        lambda: ct({files.metadata: FileFact(SOCKET, True, "", 0o644, 0, 0, "root", "root", "regular empty file")}),
        actual="regular empty file",
    ),
    case("ovs.db-socket", "not judged: nova_libvirt stopped", NOT_JUDGED, lambda: rec("stopped_libvirt").facts(NATIVE)),
    case("ovs.db-socket", "n/a: hybrid plugging", NA, lambda: rec("container_tls").facts()),
]

WRAPPER = "/usr/bin/ovs-vsctl"
WRAPPER_ENGINE = [
    case(
        "ovs.wrapper-engine",
        "pass: Kolla's wrapper, docker, vswitchd running",
        PASS,
        hm,
        exp=HM,
        actual=("wrapper calls docker", "openvswitch_vswitchd (Up"),
        evidence=(WRAPPER, "docker containers"),
    ),
    case(
        "ovs.wrapper-engine",
        "n/a: the packaged binary",
        NA,
        ct,
        actual="/usr/bin/ovs-vsctl is not Kolla's wrapper (elf)",
    ),
    case(
        "ovs.wrapper-engine",
        "n/a: no ovs-vsctl at all",
        NA,
        lambda: ct({ovs.host_binary: ovs.parse_host_binary(WRAPPER, "MISSING\n")}),
        actual="(missing)",
    ),
    case(
        "ovs.wrapper-engine",
        "n/a: hybrid plugging",
        NA,
        lambda: rec("host_mode").facts({ovs.rendered_agent_ini: agent_ini()}),
        exp=HM,
    ),
    case(
        "ovs.wrapper-engine",
        "fail: the other engine (wrapper-wrong-engine)",
        FAIL,
        hm,
        exp={**HM, "container_engine": "podman"},
        actual="wrapper calls docker",
        hint=("kolla-ansible deploy -t openvswitch", "kolla_container_engine: podman"),
    ),
    case(
        "ovs.wrapper-engine",
        "fail: vswitchd stopped (wrapper-stopped-container)",
        FAIL,
        lambda: hm({engine.containers: STOPPED_VSWITCHD.value(engine.containers)}),
        exp=HM,
        actual="openvswitch_vswitchd: openvswitch_vswitchd (Exited",
        hint="docker start openvswitch_vswitchd",
    ),
    case(
        "ovs.wrapper-engine",
        "fail: no vswitchd container",
        FAIL,
        lambda: hm(
            {
                engine.containers: ps(
                    text("docker_ps.jsonl").replace(
                        '"Names":"openvswitch_vswitchd"', '"Names":"openvswitch_vswitchd_old"'
                    )
                )
            }
        ),
        exp=HM,
        actual="openvswitch_vswitchd: no such container",
    ),
]

WRAPPER_REPLACED_BINARY = [
    case(
        "ovs.wrapper-replaced-binary",
        "pass: no package owns the wrapper's path",
        PASS,
        hm,
        exp=HM,
        actual="no package owns it",
        evidence="package owning the path",
    ),
    case(
        "ovs.wrapper-replaced-binary",
        "warn: the wrapper over openvswitch-switch's binary",
        WARN,
        lambda: hm(
            {ovs.host_binary: ovs.parse_host_binary(WRAPPER, "owner:openvswitch-switch\n" + text("ovs-vsctl.wrapper"))}
        ),
        exp=HM,
        actual="the wrapper replaced openvswitch-switch's /usr/bin/ovs-vsctl",
        hint="remove the host package openvswitch-switch",
    ),
    case("ovs.wrapper-replaced-binary", "n/a: the packaged binary", NA, ct, actual="is not Kolla's wrapper (elf)"),
]

VERSION_MATCH = [
    case(
        "ovs.version-match",
        "pass: client and containerised server",
        PASS,
        ct,
        actual="client 3.1.0, server 3.1.0",
        evidence=("client (/usr/bin/ovs-vsctl)", "server (container openvswitch_vswitchd)"),
        then=asked(ovs.vswitchd_version, ("openvswitch_vswitchd",)),
    ),
    case(
        "ovs.version-match",
        "pass: host OVS (no vswitchd container)",
        PASS,
        lambda: hm(
            {
                engine.containers: ps(
                    text("docker_ps.jsonl").replace('"Names":"openvswitch_vswitchd"', '"Names":"ovs_old"')
                )
            }
        ),
        exp=HM,
        evidence="server (host)",
        then=asked(ovs.vswitchd_version, (None,)),
    ),
    case(
        "ovs.version-match",
        "fail: client of another release",
        FAIL,
        lambda: ct({ovs.vswitchd_version: "ovs-vswitchd (Open vSwitch) 2.17.9\n"}),
        expected="client 2.17.9 (the server's)",
        actual="client 3.1.0, server 2.17.9",
        hint="openvswitch_ovs_vsctl_wrapper_enabled: true",
    ),
    case(
        "ovs.version-match",
        "not judged: the server's version unreadable",
        NOT_JUDGED,
        lambda: ct({ovs.vswitchd_version: ""}),
        actual="cannot read the running Open vSwitch version (container openvswitch_vswitchd)",
    ),
    case("ovs.version-match", "n/a: ovs-vsctl does not answer", NA, lambda: STOPPED_VSWITCHD.facts(NATIVE), exp=HM),
    case("ovs.version-match", "n/a: hybrid plugging", NA, lambda: rec("container_tls").facts()),
]

# The engine answers every listing with an error (dockerd down or restarting): no claim about any container.
DOCKER_DOWN = ps(
    "",
    ok=False,
    stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
)
ENGINE_DOWN = [
    case(
        "ovs.vsctl-in-libvirt-path",
        "not judged: the engine cannot list containers (container mode)",
        NOT_JUDGED,
        lambda: ct({engine.containers: DOCKER_DOWN}),
        actual=("Cannot connect to the Docker daemon", "see libvirt.container-healthy"),
        lacks={"actual": "nova_libvirt is not running"},
        then=asked(ovs.libvirt_vsctl),
    ),
    case(
        "ovs.wrapper-engine",
        "not judged: the engine cannot list containers, the wrapper's engine right",
        NOT_JUDGED,
        lambda: hm({engine.containers: DOCKER_DOWN}),
        exp=HM,
        actual="Cannot connect to the Docker daemon",
        lacks={"actual": "no such container"},
    ),
    case(
        "ovs.wrapper-engine",
        "fail: the other engine, judged from the wrapper while the engine cannot list",
        FAIL,
        lambda: hm({engine.containers: DOCKER_DOWN}),
        exp={**HM, "container_engine": "podman"},
        actual="wrapper calls docker",
        says={"podman containers": "Cannot connect to the Docker daemon"},
    ),
    case(
        "ovs.version-match",
        "not judged: the engine cannot list containers (no fallback to the host's OVS)",
        NOT_JUDGED,
        lambda: hm({engine.containers: DOCKER_DOWN}),
        exp=HM,
        actual="Cannot connect to the Docker daemon",
        then=asked(ovs.vswitchd_version),
    ),
]

# ovs.daemons-healthy: the answers real lab hosts gave (tests/integration/scenarios/ovs_firewall.yml: ovsdb-stopped,
# ovsdb-restart-loop, vswitchd-hung on docker and podman, and fw-host-ovs with OVS on the host).
DB, VSD = ("openvswitch_db", "ovsdb-client list-dbs"), ("openvswitch_vswitchd", "ovs-appctl version")
DB_OK = result("Open_vSwitch\n_Server\n")
VSD_OK = result("ovs-vswitchd (Open vSwitch) 3.1.0\n")
HUNG = result("2026-12-02T04:35:44Z|00001|fatal_signal|WARN|terminating with signal 15 (Terminated)\n", rc=124)


def listing_with(**states):
    """compute01's recorded listing, some containers in another state ({name: (state, status)}; None: absent)."""
    recorded = rec("container_tls").value(engine.containers)
    items = []
    for item in recorded.items:
        if item.name in states and states[item.name] is None:
            continue
        if item.name in states:
            item = dataclasses.replace(item, state=states[item.name][0], status=states[item.name][1])
        items.append(item)
    return dataclasses.replace(recorded, items=tuple(items))


def daemons(db=DB_OK, vsd=VSD_OK, **states):
    return lambda: rec("container_tls").facts(
        {
            engine.containers: listing_with(**states),
            (ovs.healthcheck, *DB): db,
            (ovs.healthcheck, *VSD): vsd,
        }
    )


DAEMONS = [
    case(
        "ovs.daemons-healthy",
        "n/a: no Open vSwitch",
        NA,
        daemons(),
        exp={"openvswitch_enabled": False},
        actual="enable_openvswitch is false",
    ),
    case(
        "ovs.daemons-healthy",
        "pass: both containers answer their healthchecks",
        PASS,
        daemons(),
        actual=("openvswitch_db (Up About a minute) answers", "openvswitch_vswitchd (Up About a minute) answers"),
        says={"ovsdb-client list-dbs (openvswitch_db)": "Open_vSwitch", "ovs-appctl version": "3.1.0"},
    ),
    case(
        "ovs.daemons-healthy",
        "pass: OVS on the host, not in containers",
        PASS,
        lambda: rec("container_tls").facts(
            {
                engine.containers: listing_with(openvswitch_db=None, openvswitch_vswitchd=None),
                ovs.host_daemon_running: True,
                (ovs.healthcheck, None, DB[1]): DB_OK,
                (ovs.healthcheck, None, VSD[1]): VSD_OK,
            }
        ),
        actual="host ovsdb-server answers; host ovs-vswitchd answers",
    ),
    case(
        "ovs.daemons-healthy",
        "fail: no OVS at all",
        FAIL,
        lambda: rec("container_tls").facts(
            {
                engine.containers: listing_with(openvswitch_db=None, openvswitch_vswitchd=None),
                ovs.host_daemon_running: False,
            }
        ),
        actual="no openvswitch_db container and no ovsdb-server on the host",
        hint="kolla-ansible deploy -t openvswitch",
    ),
    case(
        "ovs.daemons-healthy",
        "fail: openvswitch_db stopped",
        FAIL,
        daemons(openvswitch_db=("exited", "Exited (139) 41 seconds ago")),
        actual="openvswitch_db (Exited (139) 41 seconds ago)",
        hint="`docker start openvswitch_db`",
        lacks={"actual": "openvswitch_vswitchd"},
    ),
    case(
        "ovs.daemons-healthy",
        "fail: openvswitch_db restarting",
        FAIL,
        daemons(openvswitch_db=("restarting", "Restarting (1) 22 seconds ago")),
        actual="openvswitch_db (Restarting (1) 22 seconds ago)",
    ),
    case(
        "ovs.daemons-healthy",
        "fail: listed running, gone by the healthcheck (podman's restart loop)",
        FAIL,
        daemons(db=ContainerUnavailable("openvswitch_db", "fail startup")),
        actual="stopped before its healthcheck: fail startup",
        hint="`docker logs openvswitch_db`",
    ),
    case(
        "ovs.daemons-healthy",
        "fail: ovs-vswitchd hung",
        FAIL,
        daemons(vsd=HUNG),
        actual="openvswitch_vswitchd: `ovs-appctl version` got no answer within 30s (ovs-vswitchd is hung)",
        hint="`docker restart openvswitch_vswitchd`",
        says={"ovs-appctl version (openvswitch_vswitchd)": "exit 124"},
    ),
    case(
        "ovs.daemons-healthy",
        "fail: a healthcheck that answers with an error",
        FAIL,
        daemons(db=result('ovsdb-client: failed to connect to "unix:/var/run/openvswitch/db.sock"\n', rc=1)),
        actual="`ovsdb-client list-dbs` exit 1: ovsdb-client: failed to connect",
    ),
    case(
        "ovs.daemons-healthy",
        "not judged: the engine does not list",
        NOT_JUDGED,
        lambda: rec("container_tls").facts({engine.containers: DOCKER_DOWN}),
        actual="see libvirt.container-healthy",
    ),
]

CASES = (
    ENGINE_DOWN
    + DAEMONS
    + APPLIES
    + VSCTL_IN_LIBVIRT_PATH
    + BR_INT
    + DB_SOCKET
    + WRAPPER_ENGINE
    + WRAPPER_REPLACED_BINARY
    + VERSION_MATCH
)


@pytest.mark.parametrize("c", CASES)
def test_branch(c):
    c.run()
