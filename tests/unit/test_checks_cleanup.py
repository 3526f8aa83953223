"""Every branch of the cleanup.* checks on recorded probe values: lab hosts after `kolla-ansible nova-libvirt-cleanup`
(cleaned_podman: remove_volumes false; cleaned_volumes_in_use: remove_volumes true, cleanup stopped at the in-use
volume), a host-mode host with a leftover nova_libvirt running a guest (leftover_running_vm), and one deployed in host
mode from the start (host_mode). The lab tests prove the real failures (faults volumes-removed-unexpectedly,
volumes-left-after-remove, cleanup-before-compute-reconfigure, running-vm-in-leftover-container)."""

from __future__ import annotations

import json

import pytest

from conformance.errors import EngineUnavailable, NotRead
from conformance.facts import FileFact
from conformance.model import Status
from conformance.probes import engine, files, libvirt_host
from tests.unit.recorded import (
    HOST_MODE,
    NOT_JUDGED,
    _ReplayFacts,
    asked,
    case,
    inspect,
    ps,
    recording,
    volume_ls,
)

PASS, WARN, FAIL, NA = Status.PASS, Status.WARN, Status.FAIL, Status.NOT_APPLICABLE
CONFIG = "/etc/kolla/nova-libvirt"
UNIT = "/etc/systemd/system/kolla-nova_libvirt-container.service"
PODMAN = {**HOST_MODE, "container_engine": "podman"}  # cleaned_podman.json
REMOVE = {**HOST_MODE, "cleanup_remove_volumes": True}  # cleaned_volumes_in_use.json
KEEP = HOST_MODE


def rec(name):
    return recording(name)


def podman_volumes(without=()):
    """`podman volume ls --format json` as recorded after the cleanup, some volumes taken out."""
    raw = rec("cleaned_podman").probes["engine.volumes()"][0]["stdout"]
    kept = [v for v in json.loads(raw) if v["Name"] not in without]
    return volume_ls(json.dumps(kept), engine_name="podman")


def cleaned(records=None):
    return rec("cleaned_podman").facts(records)


NOT_CLEANED = ("cleanup.container-removed", "cleanup.config-removed", "cleanup.volumes", "cleanup.instance-data-intact")
NO_TRACE = {
    engine.volumes: rec("host_mode").value(engine.volumes),
    engine.containers: rec("host_mode").value(engine.containers),
    (files.metadata, CONFIG): rec("host_mode").value(files.metadata, CONFIG),
}

APPLIES = (
    [
        case(
            check,
            "n/a: container mode (cleanup refuses)",
            NA,
            {},
            actual="enable_nova_libvirt_container is true: nova-libvirt-cleanup refuses to run",
        )
        for check in NOT_CLEANED + ("cleanup.running-vms", "cleanup.volumes-in-use")
    ]
    + [
        case(
            check, "n/a: host mode from the start", NA, NO_TRACE, exp=KEEP, actual="no trace of a containerised libvirt"
        )
        for check in NOT_CLEANED
    ]
    + [
        case(
            "cleanup.config-removed",
            "applies: only the leftover config dir",
            FAIL,
            {**NO_TRACE, (files.metadata, CONFIG): rec("cleaned_volumes_in_use").value(files.metadata, CONFIG)},
            exp=KEEP,
        ),
        case(
            "cleanup.config-removed",
            "applies: only a leftover container",
            PASS,
            {**NO_TRACE, engine.containers: rec("leftover_running_vm").value(engine.containers)},
            exp=KEEP,
        ),
    ]
)

CONTAINER_REMOVED = [
    case(
        "cleanup.container-removed",
        "pass: container and unit gone",
        PASS,
        cleaned,
        exp=PODMAN,
        actual="both gone",
        evidence=("podman volumes", "podman containers", UNIT),
    ),
    case(
        "cleanup.container-removed",
        "fail: nova_libvirt left",
        FAIL,
        lambda: rec("leftover_running_vm").facts(),
        exp=KEEP,
        actual="left: nova_libvirt (Up",
        hint=("kolla-ansible nova-libvirt-cleanup", "docker rm -f nova_libvirt"),
    ),
    case(
        "cleanup.container-removed",
        "fail: the systemd unit left",
        FAIL,
        lambda: cleaned(
            {(files.metadata, UNIT): FileFact(UNIT, True, "", 0o644, 0, 0, "root", "root", "regular file")}
        ),
        exp=PODMAN,
        actual=f"left: {UNIT}",
        hint="podman rm -f",
    ),
]

CONFIG_REMOVED = [
    case("cleanup.config-removed", "pass", PASS, cleaned, exp=PODMAN, actual="gone"),
    case(
        "cleanup.config-removed",
        "fail: left by a cleanup that stopped early",
        FAIL,
        lambda: rec("cleaned_volumes_in_use").facts(),
        exp=REMOVE,
        actual=f"{CONFIG}: directory",
        hint=f"`rm -rf {CONFIG}`",
    ),
]

VOLUMES = [
    case(
        "cleanup.volumes",
        "pass: kept (remove_volumes false)",
        PASS,
        cleaned,
        exp=PODMAN,
        actual="as expected",
        expected="present: libvirtd, nova_libvirt_qemu (nova_libvirt_cleanup_remove_volumes: false)",
    ),
    case(
        "cleanup.volumes",
        "fail: removed unexpectedly",
        FAIL,
        lambda: cleaned({engine.volumes: podman_volumes(("libvirtd", "nova_libvirt_qemu"))}),
        exp=PODMAN,
        actual="missing: libvirtd, nova_libvirt_qemu",
        hint="restore it from a backup",
    ),
    case(
        "cleanup.volumes",
        "fail: a release that mounts the secrets volume keeps it too (16.7.0's own defaults)",
        FAIL,
        cleaned,
        exp={
            **PODMAN,
            "release": "16.7.0",
            "libvirt_volumes": ("libvirtd", "nova_libvirt_qemu", "nova_libvirt_secrets"),
        },
        expected="nova_libvirt_secrets",
        actual="missing: nova_libvirt_secrets",
    ),
    case(
        "cleanup.volumes",
        "fail: left although remove_volumes is true",
        FAIL,
        lambda: rec("cleaned_volumes_in_use").facts(),
        exp=REMOVE,
        expected="absent: libvirtd, nova_libvirt_qemu, nova_libvirt_secrets",
        actual="still present: libvirtd",
        hint="`docker volume rm libvirtd`",
    ),
    case(
        "cleanup.volumes",
        "pass: removed (remove_volumes true)",
        PASS,
        lambda: cleaned({engine.volumes: podman_volumes(("libvirtd", "nova_libvirt_qemu"))}),
        exp={**PODMAN, "cleanup_remove_volumes": True},
    ),
    case(
        "cleanup.volumes",
        "fail: volumes cannot be listed",
        FAIL,
        lambda: rec("leftover_running_vm").facts(
            {
                engine.volumes: volume_ls(
                    "",
                    ok=False,
                    stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
                    "Is the docker daemon running?\n",
                )
            }
        ),
        exp=KEEP,
        expected="a volume listing",
        actual="Cannot connect to the Docker daemon",
        hint="check that docker works",
    ),
]

INSTANCE_DATA = [
    case(
        "cleanup.instance-data-intact",
        "pass",
        PASS,
        cleaned,
        exp=PODMAN,
        actual="nova_compute at /var/lib/containers/storage/volumes/nova_compute/_data",
    ),
    case(
        "cleanup.instance-data-intact",
        "fail: the nova_compute volume is gone",
        FAIL,
        lambda: cleaned({engine.volumes: podman_volumes(("nova_compute",))}),
        exp=PODMAN,
        actual="missing",
        hint=("restore the instance disks from a backup", "volume prune"),
    ),
    case(
        "cleanup.instance-data-intact",
        "fail: volumes cannot be listed",
        FAIL,
        lambda: rec("leftover_running_vm").facts(
            {
                engine.volumes: volume_ls(
                    "", ok=False, stderr="permission denied while trying to connect to the Docker daemon socket\n"
                )
            }
        ),
        exp=KEEP,
        actual="permission denied",
    ),
]

RUNNING_VMS = [
    case(
        "cleanup.running-vms",
        "n/a: no nova_libvirt to clean up",
        NA,
        cleaned,
        exp=PODMAN,
        actual="no nova_libvirt container: cleanup does not look for running VMs",
        then=asked(libvirt_host.qemu_processes),
    ),
    case(
        "cleanup.running-vms",
        "fail: a guest runs, running_vms_fatal",
        FAIL,
        lambda: rec("leftover_running_vm").facts(),
        exp=KEEP,
        actual="running VMs: 456: cleanup will refuse",
        hint="openstack server migrate --live-migration",
        evidence="pgrep -l qemu",
    ),
    case(
        "cleanup.running-vms",
        "warn: a guest runs, not fatal",
        WARN,
        lambda: rec("leftover_running_vm").facts(),
        exp={**KEEP, "cleanup_running_vms_fatal": False},
        actual=("running VMs: 456", "cleanup will remove nova_libvirt under them"),
    ),
    case(
        "cleanup.running-vms",
        "pass: no guest (qemu-ga and qemu-img do not count)",
        PASS,
        lambda: rec("leftover_running_vm").facts(
            {
                libvirt_host.qemu_processes: (
                    "12 qemu-ga\n13 qemu-img\n",
                    libvirt_host.parse_pgrep("12 qemu-ga\n13 qemu-img\n"),
                )
            }
        ),
        exp=KEEP,
        actual="none",
    ),
    case(
        "cleanup.running-vms",
        "pass: no qemu at all",
        PASS,
        lambda: rec("leftover_running_vm").facts(
            {libvirt_host.qemu_processes: rec("cleaned_podman").value(libvirt_host.qemu_processes)}
        ),
        exp=KEEP,
        says={"pgrep -l qemu": "(none)"},
    ),
]


VOLUMES_IN_USE = [
    case(
        "cleanup.volumes-in-use",
        "n/a: remove_volumes false",
        NA,
        {},
        exp=KEEP,
        actual="nova_libvirt_cleanup_remove_volumes is false",
    ),
    case(
        "cleanup.volumes-in-use",
        "fail: nova_compute still mounts libvirtd",
        FAIL,
        lambda: rec("cleaned_volumes_in_use").facts(),
        exp=REMOVE,
        actual="libvirtd used by nova_compute",
        hint="reconfigure nova-compute for the host libvirt first",
        evidence="volume users",
    ),
    case(
        "cleanup.volumes-in-use",
        "pass: only nova_libvirt mounts them",
        PASS,
        lambda: rec("leftover_running_vm").facts(),
        exp=REMOVE,
        actual="none",
        says={"volume users": ("libvirtd: -", "nova_libvirt_qemu: -")},
    ),
]

# The engine cannot list anything (dockerd down), as `docker` says it; the cleanup already removed the config dir.
DOCKER_DOWN_TEXT = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
DOCKER_DOWN = {
    engine.volumes: volume_ls("", ok=False, stderr=DOCKER_DOWN_TEXT),
    engine.containers: ps("", ok=False, stderr=DOCKER_DOWN_TEXT),
    engine.containers_detail: inspect("", ok=False, stderr=DOCKER_DOWN_TEXT),
    (files.metadata, CONFIG): FileFact(CONFIG, False),
    (files.metadata, UNIT): FileFact(UNIT, False),
    libvirt_host.qemu_processes: ("", []),
}
UNIT_LEFT = FileFact(UNIT, True, "", 0o644, 0, 0, "root", "root", "regular file")
ENGINE_DOWN = [
    case(
        "cleanup.container-removed",
        "fail: the engine cannot list containers",
        FAIL,
        DOCKER_DOWN,
        exp=KEEP,
        actual="cannot list containers: Cannot connect to the Docker daemon",
        hint="check that docker works",
        says={"docker containers": "Cannot connect to the Docker daemon", UNIT: "missing"},
        lacks={"actual": "both gone"},
    ),
    case(
        "cleanup.container-removed",
        "fail: the unit left, the engine cannot list containers",
        FAIL,
        {**DOCKER_DOWN, (files.metadata, UNIT): UNIT_LEFT},
        exp=KEEP,
        actual=(f"left: {UNIT}", "Cannot connect to the Docker daemon"),
    ),
    case(
        "cleanup.config-removed",
        "not judged: the folder gone, the engine cannot list (applies?)",
        NOT_JUDGED,
        DOCKER_DOWN,
        exp=KEEP,
        actual="Cannot connect to the Docker daemon",
    ),
    case(
        "cleanup.config-removed",
        "fail: the folder left is a trace, whatever the engine says",
        FAIL,
        {**DOCKER_DOWN, (files.metadata, CONFIG): rec("cleaned_volumes_in_use").value(files.metadata, CONFIG)},
        exp=KEEP,
        actual=f"{CONFIG}: directory",
    ),
    case(
        "cleanup.volumes",
        "fail: the engine cannot list volumes",
        FAIL,
        DOCKER_DOWN,
        exp=REMOVE,
        actual="Cannot connect to the Docker daemon",
    ),
    case(
        "cleanup.instance-data-intact",
        "fail: the engine cannot list volumes",
        FAIL,
        DOCKER_DOWN,
        exp=REMOVE,
        actual="Cannot connect to the Docker daemon",
    ),
    case(
        "cleanup.running-vms",
        "fail: the engine cannot list containers",
        FAIL,
        DOCKER_DOWN,
        exp=KEEP,
        actual="Cannot connect to the Docker daemon",
        lacks={"actual": "no nova_libvirt container"},
    ),
    case(
        "cleanup.volumes-in-use",
        "fail: the engine cannot inspect containers",
        FAIL,
        DOCKER_DOWN,
        exp=REMOVE,
        actual="Cannot connect to the Docker daemon",
        says={"volume users": "unknown"},
    ),
]

CASES = (
    ENGINE_DOWN + APPLIES + CONTAINER_REMOVED + CONFIG_REMOVED + VOLUMES + INSTANCE_DATA + RUNNING_VMS + VOLUMES_IN_USE
)


@pytest.mark.parametrize("c", CASES)
def test_branch(c):
    c.run()


# -- the engine probes: a listing that did not list raises, with the engine's own words -----------------------------


def _replay(template, rc=0, stdout="", stderr="", engine_name="docker"):
    return _ReplayFacts(
        [{"container": None, "template": template, "args": [], "rc": rc, "stdout": stdout, "stderr": stderr}],
        engine_name,
        "engine probe",
    )


@pytest.mark.parametrize(
    "probe, command",
    [
        (engine.containers, engine.PS["docker"]),
        (engine.volumes, engine.VOLUME_LS["docker"]),
        (engine.containers_detail, engine.INSPECT_ALL["docker"]),
    ],
)
def test_a_failed_listing_raises_the_engines_error(probe, command):
    with pytest.raises(EngineUnavailable) as raised:
        probe(_replay(command, rc=1, stderr=DOCKER_DOWN_TEXT))
    assert isinstance(raised.value, NotRead)  # Check.run: not judged, unless the check judges the engine
    assert raised.value.problem == DOCKER_DOWN_TEXT.strip() and command in raised.value.evidence()


def test_inspect_all_when_ps_fails_is_no_empty_listing():
    """The template echoes '[]' with exit 0 when `ps -aq` gives no id, failed or not: its error is on stderr."""
    with pytest.raises(EngineUnavailable, match="Cannot connect to the Docker daemon"):
        engine.containers_detail(_replay(engine.INSPECT_ALL["docker"], stdout="[]\n", stderr=DOCKER_DOWN_TEXT))
    assert engine.containers_detail(_replay(engine.INSPECT_ALL["docker"], stdout="[]\n")).items == ()


def test_inspect_all_with_a_container_removed_meanwhile_lists_the_others():
    detail = rec("cleaned_volumes_in_use").probes["engine.containers_detail()"][0]["stdout"]
    listing = engine.containers_detail(
        _replay(engine.INSPECT_ALL["docker"], rc=1, stdout=detail, stderr="Error: No such object: 0123abcd\n")
    )
    assert "nova_compute" in listing.names()
    with pytest.raises(EngineUnavailable):  # any other error is not a listing
        engine.containers_detail(
            _replay(
                engine.INSPECT_ALL["docker"],
                rc=1,
                stdout=detail,
                stderr="Error: No such object: 0123abcd\nerror during connect\n",
            )
        )
