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
from fixtures.lab.faults import FAULTS
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
    "f-wrap-stopped": {"ovs.vsctl-in-libvirt-path", "ovs.wrapper-engine"},
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


def test_every_check_passes_somewhere(lab_run):
    _, result = lab_run
    ours = {c for (_, c) in result.findings if c.startswith(AREAS)}
    passed = {c for (_, c), f in result.findings.items() if f.status is Status.PASS}
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
