"""ovs-vsctl reachability, host versus containerised libvirt and nova-libvirt-cleanup against real lab hosts
(docker, podman, host libvirt with Kolla's wrapper or host OVS, after cleanup with remove_volumes off and on):
each check fails on the lab fault aimed at it and on no correct host. Two labs: OVN (the ovs checks apply on every
host), and the OVS agent with firewall_driver = openvswitch set the Kolla way (operator override file), one host
overridden back to the hybrid driver."""

import subprocess
from pathlib import Path

import pytest
import yaml

from conformance.model import Status
from conformance.probes import canary
from fixtures.lab.faults import FAULTS
from tests.canary_lab import assert_canary, canary_run, left_behind, on_host, plant_leftover
from tests.suite_runner import run_suite

SCENARIO = Path(__file__).parent / "scenarios" / "ovs_mode_cleanup.yml"
FW_SCENARIO = Path(__file__).parent / "scenarios" / "ovs_firewall.yml"
AREAS = ("ovs.", "libvirt.", "cleanup.")

# What each host must fail, written out (and compared with the fault registry below, so neither drifts).
FAILING = {
    "ok-docker": set(),
    "ok-podman": set(),
    "ok-host-wrap": set(),
    "ok-host-wrap-pm": set(),
    "ok-host-ovs": set(),
    "c-docker-keep": set(),
    "c-docker-rm": set(),
    "c-podman-keep": set(),
    "c-podman-rm": set(),
    "f-vsctl-missing": {"ovs.vsctl-in-libvirt-path"},
    "f-wrap-stopped": {"ovs.vsctl-in-libvirt-path", "ovs.wrapper-engine", "ovs.daemons-healthy"},
    "f-wrap-engine": {"ovs.vsctl-in-libvirt-path", "ovs.wrapper-engine"},
    "f-brint-missing": {"ovs.br-int-present"},
    "f-host-libvirtd": {"libvirt.no-host-daemon"},
    "f-leftover": {"libvirt.no-leftover-container", "cleanup.container-removed"},
    "f-wrap-over-pkg": {"ovs.wrapper-replaced-binary"},
    "f-vol-removed": {"cleanup.volumes"},
    "f-vol-left": {"cleanup.volumes"},
    "f-vm-running": {"cleanup.running-vms", "libvirt.no-leftover-container", "cleanup.container-removed"},
    "f-vol-in-use": {"cleanup.volumes-in-use", "cleanup.volumes", "cleanup.config-removed"},
    "f-vol-in-use-d": {"cleanup.volumes-in-use", "cleanup.volumes", "cleanup.config-removed"},
    "f-no-listen": {"libvirt.host-daemon-listening"},
    "f-root-authconf": {"libvirt.host-files"},
    "f-inst-vol": {"cleanup.instance-data-intact"},
}
FW_FAILING = {
    "fw-docker": set(),
    "fw-podman": set(),
    "fw-host-wrap": set(),
    "fw-host-ovs": set(),
    "hybrid-docker": set(),
    "f-db-socket": {"ovs.db-socket", "ovs.vsctl-in-libvirt-path"},
    "f-db-socket-pm": {"ovs.db-socket", "ovs.vsctl-in-libvirt-path"},
    "f-db-stopped": {"ovs.daemons-healthy", "ovs.db-socket", "ovs.vsctl-in-libvirt-path"},
    "f-db-stopped-pm": {"ovs.daemons-healthy", "ovs.db-socket", "ovs.vsctl-in-libvirt-path"},
    "f-db-loop": {"ovs.daemons-healthy", "ovs.db-socket", "ovs.vsctl-in-libvirt-path"},
    "f-db-loop-pm": {"ovs.daemons-healthy", "ovs.db-socket", "ovs.vsctl-in-libvirt-path"},
    "f-vsd-hung": {"ovs.daemons-healthy"},
    "f-vsd-hung-pm": {"ovs.daemons-healthy"},
    "f-db-hung": {"ovs.daemons-healthy", "ovs.vsctl-in-libvirt-path"},
    "f-db-hung-pm": {"ovs.daemons-healthy", "ovs.vsctl-in-libvirt-path"},
}


@pytest.fixture(scope="module")
def lab_run(lab_factory):
    info = lab_factory(SCENARIO)
    return info, run_suite(info.profile_path, "-n", "4", "-k", " or ".join(f":{a}" for a in AREAS))


@pytest.fixture(scope="module")
def fw_run(lab_factory):
    info = lab_factory(FW_SCENARIO)
    return info, run_suite(info.profile_path, "-n", "4", "-k", " or ".join(f":{a}" for a in AREAS))


def _ours(ids):
    return {c for c in ids if c.startswith(AREAS)}


def _assert_exact(run, host, failing):
    info, result = run
    assert _ours(result.failing(host)) == failing, result.output[-3000:]
    assert _ours(info.expected_failures[host]) == failing  # the registry's `trips` say the same
    assert not result.with_status(host, Status.UNREACHABLE)


@pytest.mark.parametrize("host", sorted(FAILING))
def test_each_host_fails_exactly_its_faults(lab_run, host):
    _assert_exact(lab_run, host, FAILING[host])


@pytest.mark.parametrize("host", sorted(FW_FAILING))
def test_native_firewall_hosts_fail_exactly_their_faults(fw_run, host):
    _assert_exact(fw_run, host, FW_FAILING[host])


def test_every_fault_of_these_areas_is_on_a_host():
    used = {
        f
        for sc in (SCENARIO, FW_SCENARIO)
        for h in yaml.safe_load(sc.read_text())["hosts"]
        for f in h.get("faults", [])
    }
    assert {name for name, fault in FAULTS.items() if _ours(fault.checks)} <= used


HYBRID = (
    "firewall driver iptables_hybrid ([securitygroup] firewall_driver in "
    "/etc/kolla/neutron-openvswitch-agent/openvswitch_agent.ini) uses hybrid plugging"
)


@pytest.mark.parametrize(
    "run, host, check_id, reason",
    [
        ("lab_run", "ok-docker", "libvirt.host-daemon-listening", "libvirt runs in nova_libvirt"),
        ("lab_run", "ok-host-wrap", "libvirt.container-healthy", "host libvirt"),
        ("lab_run", "ok-host-ovs", "ovs.wrapper-engine", "not Kolla's wrapper (elf)"),
        ("lab_run", "ok-host-ovs", "cleanup.volumes", "no trace of a containerised libvirt"),
        ("lab_run", "ok-podman", "cleanup.volumes", "nova-libvirt-cleanup refuses to run"),
        ("lab_run", "c-docker-keep", "cleanup.volumes-in-use", "remove_volumes is false"),
        ("lab_run", "f-vsctl-missing", "ovs.br-int-present", "see ovs.vsctl-in-libvirt-path"),
        ("fw_run", "f-db-socket", "ovs.br-int-present", "see ovs.vsctl-in-libvirt-path"),
        ("fw_run", "f-db-socket-pm", "ovs.version-match", "see ovs.vsctl-in-libvirt-path"),
    ]
    + [
        ("fw_run", "hybrid-docker", check_id, HYBRID)
        for check_id in ("ovs.vsctl-in-libvirt-path", "ovs.db-socket", "ovs.br-int-present", "ovs.version-match")
    ],
)
def test_not_applicable_says_why(request, run, host, check_id, reason):
    _, result = request.getfixturevalue(run)
    finding = result.findings[(host, check_id)]
    assert finding.status is Status.NOT_APPLICABLE and reason in finding.actual


def test_native_firewall_is_set_the_kolla_way(fw_run):
    """Operator override files in kolla/config (global, and per host back to hybrid), rendered on each host; the ovs
    checks apply (and pass) on the native-firewall hosts because of them, not because of OVN."""
    info, result = fw_run
    config = info.kolla_dir / "config" / "neutron"
    assert "firewall_driver = openvswitch" in (config / "openvswitch_agent.ini").read_text()
    assert "firewall_driver = iptables_hybrid" in (config / "hybrid-docker" / "openvswitch_agent.ini").read_text()
    assert "neutron_plugin_agent: openvswitch" in (info.kolla_dir / "globals.yml").read_text()  # no OVN
    for host, driver in (("fw-podman", "openvswitch"), ("hybrid-docker", "iptables_hybrid")):
        rendered = subprocess.run(
            [
                "ssh",
                "-F",
                str(info.ssh_config),
                host,
                "grep ^firewall_driver /etc/kolla/neutron-openvswitch-agent/openvswitch_agent.ini",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert rendered.stdout.strip() == f"firewall_driver = {driver}", rendered.stderr
    for host in ("fw-docker", "fw-podman", "fw-host-wrap", "fw-host-ovs"):
        for check_id in ("ovs.vsctl-in-libvirt-path", "ovs.db-socket", "ovs.br-int-present", "ovs.version-match"):
            assert result.status(host, check_id) is Status.PASS, result.findings[(host, check_id)].summary()


def test_running_vm_is_a_real_qemu_process(lab_run):
    _, result = lab_run
    finding = result.findings[("f-vm-running", "cleanup.running-vms")]
    assert "qemu-system-x86" in finding.evidence["pgrep -l qemu"] and "cleanup will refuse" in finding.actual


def test_every_check_passes_somewhere(lab_run, ovn_canary):
    _, result = lab_run
    ours = {c for (_, c) in result.findings if c.startswith(AREAS)}
    passed = {c for run in (result, ovn_canary[1]) for (_, c), f in run.findings.items() if f.status is Status.PASS}
    assert ours - passed == set()


def test_host_mode_path_comes_from_the_daemon_not_the_login(lab_run):
    _, result = lab_run
    finding = result.findings[("f-vsctl-missing", "ovs.vsctl-in-libvirt-path")]
    assert "/proc/" in finding.evidence["PATH"] and "environ" in finding.evidence["PATH"]
    assert finding.hint


def test_cleanup_evidence_is_the_engine_listings(lab_run):
    _, result = lab_run
    for host, engine in (("f-vol-removed", "docker"), ("f-vol-left", "podman")):
        evidence = result.findings[(host, "cleanup.volumes")].evidence
        assert f"{engine} volume ls" in evidence[f"{engine} volumes"]
        assert f"{engine} ps -a" in evidence[f"{engine} containers"]


# The canary guest (opt-in) on the same labs. Where libvirt plugs ports (OVN, the native firewall) its guest has an
# interface on br-int, and each ovs fault stops libvirt in its own words; the hybrid host's canary has none.
CANARY_OVN = {
    "ok-docker": None,
    "ok-podman": None,
    "ok-host-wrap": None,
    "ok-host-wrap-pm": None,
    "ok-host-ovs": None,
    "f-vsctl-missing": "not found in libvirt's PATH",
    "f-wrap-stopped": "ovs-vsctl as libvirt runs it: exit",
    "f-wrap-engine": "no such container",
    "f-brint-missing": "Cannot get interface MTU on 'br-int'",
}
CANARY_FW = {
    "fw-docker": None,
    "fw-podman": None,
    "fw-host-wrap": None,
    "fw-host-ovs": None,
    "hybrid-docker": None,
    "f-db-socket": "db.sock: database connection failed",
    "f-db-socket-pm": "db.sock: database connection failed",
    "f-db-stopped": "db.sock: database connection failed",
    "f-db-stopped-pm": "db.sock: database connection failed",
    "f-db-loop": "db.sock: database connection failed",
    "f-db-loop-pm": "db.sock: database connection failed",
    "f-vsd-hung": "ovs-vswitchd did not take the port",
    "f-vsd-hung-pm": "ovs-vswitchd did not take the port",
    "f-db-hung": "exit 142: Alarm clock",
    "f-db-hung-pm": "exit 142: Alarm clock",
}


def _where(scenario, host):
    spec = next(h for h in yaml.safe_load(scenario.read_text())["hosts"] if h["name"] == host)
    return "host" if spec["shape"] == "host" else spec["shape"]


@pytest.fixture(scope="module")
def ovn_canary(lab_run):
    info, _ = lab_run
    return info, canary_run(info, *CANARY_OVN)


@pytest.fixture(scope="module")
def fw_canary(fw_run):
    info, _ = fw_run
    return info, canary_run(info)


@pytest.mark.parametrize("host", sorted(CANARY_OVN))
def test_canary_plugs_into_br_int_or_names_the_ovs_fault(ovn_canary, host):
    info, result = ovn_canary
    assert_canary(result, host, CANARY_OVN[host])
    assert left_behind(info, host, _where(SCENARIO, host)) == []
    if CANARY_OVN[host] is None:
        evidence = result.findings[(host, "libvirt.canary-guest")].evidence
        port = next(v for k, v in evidence.items() if k.startswith("port kcc"))
        assert port.startswith("on br-int") and "vm-id=" in port and "iface-id=" in port


@pytest.mark.parametrize("host", sorted(CANARY_FW))
def test_canary_on_the_native_firewall(fw_canary, host):
    info, result = fw_canary
    assert_canary(result, host, CANARY_FW[host])
    assert left_behind(info, host, _where(FW_SCENARIO, host)) == []
    plugged = any(k.startswith("port kcc") for k in result.findings[(host, "libvirt.canary-guest")].evidence)
    assert plugged == (CANARY_FW[host] is None and host != "hybrid-docker"), host


def test_canary_removes_what_a_dead_run_left(fw_canary):
    """Last on this lab (it changes hosts): a canary a killed run left is removed, with its log, by the next."""
    info, _ = fw_canary
    for host in ("fw-docker", "fw-host-wrap"):
        plant_leftover(info, host, _where(FW_SCENARIO, host), canary.PREFIX + "deadrun1")
    result = canary_run(info, "fw-docker", "fw-host-wrap")
    for host in ("fw-docker", "fw-host-wrap"):
        assert_canary(result, host, None)
        evidence = result.findings[(host, "libvirt.canary-guest")].evidence
        assert evidence["left by an earlier run, removed"] == canary.PREFIX + "deadrun1"
        assert evidence["QEMU logs"].startswith("removed")
        assert left_behind(info, host, _where(FW_SCENARIO, host)) == []


def test_canary_of_a_stopped_nova_libvirt_names_libvirtd(fw_canary):
    info, _ = fw_canary
    for host, engine in (("fw-docker", "docker"), ("fw-podman", "podman")):
        assert on_host(info, host, f"{engine} stop nova_libvirt").returncode == 0
    try:
        result = canary_run(info, "fw-docker", "fw-podman")
        for host in ("fw-docker", "fw-podman"):
            finding = result.findings[(host, "libvirt.canary-guest")]
            assert finding.status is Status.FAIL and "cannot open nova's URI" in finding.actual, finding.summary()
            assert "libvirt.container-healthy" in finding.hint
    finally:
        for host, engine in (("fw-docker", "docker"), ("fw-podman", "podman")):
            on_host(info, host, f"{engine} start nova_libvirt")
