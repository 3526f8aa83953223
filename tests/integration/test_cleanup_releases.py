"""nova-libvirt-cleanup judged by the deployment's own release: on Kolla Ansible 16.7.0 a correct cleanup with
remove_volumes off keeps libvirtd, nova_libvirt_qemu and nova_libvirt_secrets; on 18.8.0 (whose nova_libvirt no
longer mounts nova_libvirt_secrets, a backport) the same cleanup has no such volume, and both pass. The suite
reads those releases' files; a version comparison (the old `< 19.0.0`) failed the correct 18.8.0 host."""

from pathlib import Path

import pytest

from conformance.model import Status
from tests.suite_runner import run_suite

SCENARIOS = Path(__file__).parent / "scenarios"
KEPT = {
    "16.7.0": {"libvirtd", "nova_libvirt_qemu", "nova_libvirt_secrets"},
    "18.8.0": {"libvirtd", "nova_libvirt_qemu"},
}


@pytest.fixture(scope="module", params=sorted(KEPT))
def release_run(request, lab_factory):
    info = lab_factory(SCENARIOS / f"cleanup_{request.param.split('.')[0]}.yml")
    return request.param, run_suite(info.profile_path, "-k", ":cleanup.")


def test_correct_cleanups_pass_and_the_fault_fails(release_run):
    release, result = release_run
    for host in ("c-docker-keep", "c-podman-keep", "c-docker-rm"):
        assert result.status(host, "cleanup.volumes") is Status.PASS, (release, host, result.output[-2000:])
    assert result.status("f-vol-removed", "cleanup.volumes") is Status.FAIL


def test_the_kept_volumes_are_the_releases_own(release_run):
    release, result = release_run
    finding = result.findings[("c-docker-keep", "cleanup.volumes")]
    named = {v for v in ("libvirtd", "nova_libvirt_qemu", "nova_libvirt_secrets") if v in finding.expected}
    assert named == KEPT[release], finding
    removed = result.findings[("f-vol-removed", "cleanup.volumes")]
    assert all(v in removed.actual for v in KEPT[release]), removed
