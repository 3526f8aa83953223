"""`kolla-ansible nova-libvirt-cleanup`: what it must have removed, what it must have kept, and what would make it
refuse or fail before it runs (roles/nova-cell/tasks/libvirt-cleanup.yml; docs/kolla-provenance.md §5, §9.10).

A listing the engine could not make (EngineUnavailable) is never "no container" or "no volume": the checks of what
the engine lists (container, volumes, instance volume, running VMs, volume users) fail with the engine's error, as
the cleanup itself does (its first step is the engine's container facts; it removes containers and volumes through
the engine). cleanup.config-removed needs no listing once the folder exists, and is not judged otherwise."""

from __future__ import annotations

from conformance.checks import GUIDE, check
from conformance.errors import EngineUnavailable
from conformance.model import Severity, Verdict
from conformance.probes import engine, files, libvirt_host

DOC = f"{GUIDE}#migration-from-container-to-host"
UNIT = "/etc/systemd/system/kolla-nova_libvirt-container.service"
LIBVIRT_VOLUMES = ("libvirtd", "nova_libvirt_qemu", "nova_libvirt_secrets")  # what remove_volumes deletes
INSTANCE_VOLUME = "nova_compute"


def _config_dir(exp) -> str:
    return f"{exp.node_config_directory}/nova-libvirt"


def _kept_volumes(exp) -> tuple[str, ...]:
    """What remove_volumes: false leaves: the release's own volumes (nova_libvirt_secrets only where that release
    still mounts it: 15.6.0 and 16.7.0 do, 17.9.0, 18.8.0 and 19.0.0 no longer; LP#2073678)."""
    return exp.libvirt_volumes


def _listed(facts, probe) -> engine.Listing | EngineUnavailable:
    """The engine's listing, or what it said instead of one."""
    try:
        return facts.probe(probe)
    except EngineUnavailable as exc:
        return exc


def _evidence(exp, facts) -> dict[str, str]:
    return {
        f"{exp.container_engine} volumes": _listed(facts, engine.volumes).evidence(),
        f"{exp.container_engine} containers": _listed(facts, engine.containers).evidence(),
    }


def _cannot_list(exp, facts, expected: str, exc: EngineUnavailable, evidence=None) -> Verdict:
    """The verdict of a check of what the engine lists, when the engine did not list it."""
    what = (
        "volumes"
        if " volume ls" in exc.command
        else "containers' volumes"
        if " inspect" in exc.command
        else "containers"
    )
    return Verdict.failed(
        expected,
        f"cannot list {what}: {exc.problem}",
        evidence=evidence or _evidence(exp, facts),
        hint=f"check that {exp.container_engine} works on this host (`{exc.command}` fails); "
        "nova-libvirt-cleanup needs it too: its first step is the engine's container facts",
    )


def _not_applicable(exp, facts) -> Verdict | None:
    """Cleanup only runs in host mode, and only has something to judge where a containerised libvirt once was.
    Raises EngineUnavailable when only a listing that failed could tell (no config folder left)."""
    if exp.libvirt_container:
        return Verdict.not_applicable("enable_nova_libvirt_container is true: nova-libvirt-cleanup refuses to run")
    if facts.probe(files.metadata, _config_dir(exp)).exists:
        return None
    volumes, containers = _listed(facts, engine.volumes), _listed(facts, engine.containers)
    if isinstance(volumes, engine.Listing) and volumes.names() & {*LIBVIRT_VOLUMES, INSTANCE_VOLUME}:
        return None
    if isinstance(containers, engine.Listing) and containers.get("nova_libvirt"):
        return None
    for failed in (volumes, containers):
        if isinstance(failed, EngineUnavailable):
            raise failed  # no trace seen, but the engine did not say what it holds
    return Verdict.not_applicable(
        "no trace of a containerised libvirt (no nova_libvirt container, volumes or "
        "config): a host-mode deployment from the start, nothing to clean up"
    )


@check(
    "cleanup.container-removed",
    title="nova_libvirt and its systemd unit are gone",
    severity=Severity.NORMAL,
    phases=("postcleanup",),
    doc=DOC,
    rationale="Cleanup stops and removes nova_libvirt and kolla-nova_libvirt-container.service; a leftover keeps "
    "the libvirt port and restarts with the host.",
)
def container_removed(exp, facts):
    expected = f"no nova_libvirt container, no {UNIT}"
    try:
        if skip := _not_applicable(exp, facts):
            return skip
    except EngineUnavailable:  # whether it applies is unknown: what it checks may still be listed
        pass
    listing = _listed(facts, engine.containers)
    unit = facts.probe(files.metadata, UNIT)
    evidence = {**_evidence(exp, facts), UNIT: unit.describe()}
    if isinstance(listing, EngineUnavailable):  # never "no nova_libvirt container"
        verdict = _cannot_list(exp, facts, expected, listing, evidence)
        return (
            verdict
            if not unit.exists
            else Verdict.failed(expected, f"left: {UNIT}; {verdict.actual}", verdict.hint, verdict.evidence)
        )
    container = listing.get("nova_libvirt")
    left = ([container.describe()] if container else []) + ([UNIT] if unit.exists else [])
    if not left:
        return Verdict.passed(expected, "both gone", evidence)
    return Verdict.failed(
        expected,
        "left: " + ", ".join(left),
        evidence=evidence,
        hint="re-run `kolla-ansible nova-libvirt-cleanup` (see cleanup.running-vms if it refused), "
        f"or `{exp.container_engine} rm -f nova_libvirt` and remove the unit",
    )


@check(
    "cleanup.config-removed",
    title="/etc/kolla/nova-libvirt is gone",
    severity=Severity.MINOR,
    phases=("postcleanup",),
    doc=DOC,
    rationale="Cleanup deletes the container's rendered config (SASL password and server key included); a "
    "leftover copy keeps secrets on disk that nothing uses.",
)
def config_removed(exp, facts):
    if skip := _not_applicable(exp, facts):
        return skip
    fact = facts.probe(files.metadata, _config_dir(exp))
    evidence = {fact.path: fact.describe()}
    if not fact.exists:
        return Verdict.passed(f"no {fact.path}", "gone", evidence)
    return Verdict.failed(
        f"no {fact.path}",
        fact.describe(),
        evidence=evidence,
        hint=f"`rm -rf {fact.path}` (or re-run `kolla-ansible nova-libvirt-cleanup`)",
    )


@check(
    "cleanup.volumes",
    title="libvirt volumes kept or removed as nova_libvirt_cleanup_remove_volumes says",
    severity=Severity.NORMAL,
    phases=("postcleanup",),
    doc=DOC,
    rationale="remove_volumes: false keeps libvirtd, nova_libvirt_qemu (and nova_libvirt_secrets before 19.0.0) "
    "for migrating state to the host; true deletes all three.",
)
def volumes(exp, facts):
    try:
        if skip := _not_applicable(exp, facts):
            return skip
        listing = facts.probe(engine.volumes)
    except EngineUnavailable as exc:
        return _cannot_list(exp, facts, "a volume listing", exc)
    evidence = _evidence(exp, facts)
    present = listing.names()
    if exp.cleanup_remove_volumes:
        expected = f"absent: {', '.join(LIBVIRT_VOLUMES)} (nova_libvirt_cleanup_remove_volumes: true)"
        wrong = [v for v in LIBVIRT_VOLUMES if v in present]
        actual = f"still present: {', '.join(wrong)}"
        hint = f"`{exp.container_engine} volume rm {' '.join(wrong)}` once no container uses them"
    else:
        expected = f"present: {', '.join(_kept_volumes(exp))} (nova_libvirt_cleanup_remove_volumes: false)"
        wrong = [v for v in _kept_volumes(exp) if v not in present]
        actual = f"missing: {', '.join(wrong)}"
        hint = (
            "the libvirt state (domain XML in nova_libvirt_qemu, secrets) is gone: restore it from a backup "
            "before migrating guests to the host libvirt"
        )
    if not wrong:
        return Verdict.passed(expected, "as expected", evidence)
    return Verdict.failed(expected, actual, hint, evidence)


@check(
    "cleanup.instance-data-intact",
    title="the nova_compute volume (instance disks) survived the cleanup",
    severity=Severity.CRITICAL,
    phases=("postcleanup",),
    doc=DOC,
    rationale="Cleanup never touches nova_compute, which holds the instances' disks; if it is gone, guest data "
    "is lost.",
)
def instance_data_intact(exp, facts):
    try:
        if skip := _not_applicable(exp, facts):
            return skip
        listing = facts.probe(engine.volumes)
    except EngineUnavailable as exc:  # the instance disks are unverified, never "nothing to check"
        return _cannot_list(exp, facts, f"volume {INSTANCE_VOLUME}", exc)
    volume = listing.get(INSTANCE_VOLUME)
    evidence = _evidence(exp, facts)
    if volume is not None:
        return Verdict.passed(f"volume {INSTANCE_VOLUME}", f"{volume.name} at {volume.mountpoint or '?'}", evidence)
    return Verdict.failed(
        f"volume {INSTANCE_VOLUME}",
        "missing",
        evidence=evidence,
        hint="restore the instance disks from a backup; cleanup never removes "
        "this volume, so look for a manual `volume rm` or `volume prune`",
    )


@check(
    "cleanup.running-vms",
    title="no running VMs would make nova-libvirt-cleanup refuse",
    severity=Severity.NORMAL,
    phases=("predeploy", "postcleanup"),
    doc=DOC,
    rationale="Cleanup lists qemu processes on the host (`pgrep -l qemu` minus qemu-ga/qemu-img) and refuses "
    "with 'Refusing to remove nova_libvirt container with running VMs' when running_vms_fatal.",
)
def running_vms(exp, facts):
    if exp.libvirt_container:
        return Verdict.not_applicable("enable_nova_libvirt_container is true: nova-libvirt-cleanup refuses to run")
    try:
        container = facts.probe(engine.containers).get("nova_libvirt")
    except EngineUnavailable as exc:  # the cleanup's first step, the engine's container facts, fails the same way
        return _cannot_list(
            exp,
            facts,
            "a container listing, and no qemu process if nova_libvirt is listed",
            exc,
            {f"{exp.container_engine} containers": exc.evidence()},
        )
    if container is None:
        return Verdict.not_applicable("no nova_libvirt container: cleanup does not look for running VMs")
    raw, vms = facts.probe(libvirt_host.qemu_processes)
    evidence = {"pgrep -l qemu": raw.strip() or "(none)"}
    if not vms:
        return Verdict.passed("no qemu process", "none", evidence)
    pids = " ".join(str(pid) for pid, _ in vms)
    hint = (
        "live-migrate or stop the instances on this host (`openstack server migrate --live-migration`), then run "
        "the cleanup"
    )
    if exp.cleanup_running_vms_fatal:
        return Verdict.failed(
            "no qemu process (nova_libvirt_cleanup_running_vms_fatal: true)",
            f"running VMs: {pids}: cleanup will refuse",
            hint,
            evidence,
        )
    return Verdict.warning(
        "no qemu process",
        f"running VMs: {pids}: cleanup will remove nova_libvirt under them "
        "(nova_libvirt_cleanup_running_vms_fatal: false)",
        hint,
        evidence,
    )


@check(
    "cleanup.volumes-in-use",
    title="no other container holds a volume the cleanup will remove",
    severity=Severity.NORMAL,
    phases=("predeploy", "postcleanup"),
    doc=DOC,
    rationale="With remove_volumes: true, cleanup fails with \"Volume named 'libvirtd' is currently in-use\" "
    "while nova_compute still mounts it (until nova-compute is reconfigured for host libvirt).",
)
def volumes_in_use(exp, facts):
    if exp.libvirt_container:
        return Verdict.not_applicable("enable_nova_libvirt_container is true: nova-libvirt-cleanup refuses to run")
    if not exp.cleanup_remove_volumes:
        return Verdict.not_applicable("nova_libvirt_cleanup_remove_volumes is false: no volume is removed")
    expected = "no container but nova_libvirt mounts " + ", ".join(LIBVIRT_VOLUMES)
    try:
        detail = facts.probe(engine.containers_detail)
    except EngineUnavailable as exc:  # no container seen is not "no container uses them"
        return _cannot_list(
            exp,
            facts,
            expected,
            exc,
            {
                "volume users": f"unknown: {exc.problem}",
                **_evidence(exp, facts),
                f"{exp.container_engine} container inspect": exc.evidence(),
            },
        )
    # nova_libvirt itself is removed before its volumes; any other user blocks the removal.
    users = {
        v: sorted(c.name for c in detail.items if v in c.volumes and c.name != "nova_libvirt") for v in LIBVIRT_VOLUMES
    }
    busy = {v: names for v, names in users.items() if names}
    evidence = {
        "volume users": "\n".join(f"{v}: {', '.join(n) or '-'}" for v, n in users.items()),
        **_evidence(exp, facts),
    }
    if not busy:
        return Verdict.passed(expected, "none", evidence)
    actual = "; ".join(f"{v} used by {', '.join(n)}" for v, n in busy.items())
    return Verdict.failed(
        expected,
        actual,
        hint="reconfigure nova-compute for the host libvirt first (`kolla-ansible deploy -t nova` "
        "with enable_nova_libvirt_container: false), then run the cleanup",
        evidence=evidence,
    )
