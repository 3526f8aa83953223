"""ovs-vsctl reachability, host versus containerised libvirt and nova-libvirt-cleanup against real lab hosts
(docker, podman, host libvirt with Kolla's wrapper or host OVS, after cleanup with remove_volumes off and on):
each check fails on the lab fault aimed at it and on no correct host."""
from pathlib import Path

import pytest
import yaml

from conformance.model import Status
from fixtures.lab.faults import FAULTS
from tests.suite_runner import run_suite

SCENARIO = Path(__file__).parent / "scenarios" / "ovs_mode_cleanup.yml"
AREAS = ("ovs.", "libvirt.", "cleanup.")

# What each host must fail, written out (and compared with the fault registry below, so neither drifts).
FAILING = {
    "ok-docker": set(), "ok-podman": set(), "ok-host-wrap": set(), "ok-host-wrap-pm": set(), "ok-host-ovs": set(),
    "c-docker-keep": set(), "c-docker-rm": set(), "c-podman-keep": set(), "c-podman-rm": set(),
    "f-vsctl-missing": {"ovs.vsctl-in-libvirt-path"},
    "f-wrap-stopped": {"ovs.vsctl-in-libvirt-path", "ovs.wrapper-engine"},
    "f-wrap-engine": {"ovs.vsctl-in-libvirt-path", "ovs.wrapper-engine"},
    "f-brint-missing": {"ovs.br-int-present"},
    "f-host-libvirtd": {"libvirt.no-host-daemon"},
    "f-leftover": {"libvirt.no-leftover-container", "cleanup.container-removed"},
    "f-wrap-over-pkg": {"ovs.wrapper-replaced-binary"},
    "f-vol-removed": {"cleanup.volumes"},
    "f-vol-left": {"cleanup.volumes"},
}


@pytest.fixture(scope="module")
def lab_run(lab_factory):
    info = lab_factory(SCENARIO)
    return info, run_suite(info.profile_path, "-n", "4", "-k", " or ".join(f":{a}" for a in AREAS))


def _ours(ids):
    return {c for c in ids if c.startswith(AREAS)}


@pytest.mark.parametrize("host", sorted(FAILING))
def test_each_host_fails_exactly_its_faults(lab_run, host):
    info, result = lab_run
    assert _ours(result.failing(host)) == FAILING[host], result.output[-3000:]
    assert _ours(info.expected_failures[host]) == FAILING[host]   # the registry's `trips` say the same
    assert not result.with_status(host, Status.UNREACHABLE)


def test_every_fault_of_these_areas_is_on_a_host():
    used = {f for h in yaml.safe_load(SCENARIO.read_text())["hosts"] for f in h.get("faults", [])}
    assert {name for name, fault in FAULTS.items() if _ours(fault.checks)} <= used


@pytest.mark.parametrize("host, check_id, reason", [
    ("ok-docker", "libvirt.host-daemon-listening", "libvirt runs in nova_libvirt"),
    ("ok-host-wrap", "libvirt.container-healthy", "host libvirt"),
    ("ok-host-ovs", "ovs.wrapper-engine", "not Kolla's wrapper (elf)"),
    ("ok-host-ovs", "cleanup.volumes", "no trace of a containerised libvirt"),
    ("ok-podman", "cleanup.volumes", "nova-libvirt-cleanup refuses to run"),
    ("c-docker-keep", "cleanup.volumes-in-use", "remove_volumes is false"),
    ("f-vsctl-missing", "ovs.br-int-present", "see ovs.vsctl-in-libvirt-path"),
])
def test_not_applicable_says_why(lab_run, host, check_id, reason):
    _, result = lab_run
    finding = result.findings[(host, check_id)]
    assert finding.status is Status.NOT_APPLICABLE and reason in finding.actual


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
