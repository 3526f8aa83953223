"""Cleanup leftovers: libvirt volumes that `nova-libvirt-cleanup` was to remove (remove_volumes: true).

Destructive, so it also needs --remediate-allow; each volume's content is still archived into the fix's backup
folder on the host first, so a rollback (or an operator) can bring it back.
"""

from __future__ import annotations

import dataclasses

from conformance.checks.cleanup import LIBVIRT_VOLUMES  # the check's own list: fix what it judges
from conformance.command import engine_name, script, shell
from conformance.probes import engine
from conformance.remediation.registry import Manual, Risk, fix


@dataclasses.dataclass
class RemoveVolume:
    engine: str
    name: str
    risk: Risk = Risk.DESTRUCTIVE

    def describe(self) -> str:
        return f"remove volume {self.name} (its content is archived in the backup folder first)"

    def diff(self) -> str:
        return ""

    def script(self) -> list[str]:
        return [shell("%s volume rm %s", engine_name(self.engine), self.name)]

    def apply(self, journal) -> None:
        archive = f"{journal.backup.folder()}/volume-{self.name}.tar"
        engine = engine_name(self.engine)
        journal.remote.must(script(_ARCHIVE, engine, self.name, archive), f"archive volume {self.name}")
        journal.remote.must(shell("%s volume rm %s", engine, self.name), f"remove volume {self.name}")
        journal.on_rollback(script(_RESTORE, engine, self.name, archive), f"re-create volume {self.name}")


# $1 engine, $2 volume, $3 archive on the host.
_MOUNTPOINT = 'm=$("$1" volume inspect --format "{{.Mountpoint}}" "$2") && [ -n "$m" ]'
_ARCHIVE = _MOUNTPOINT + ' && tar -C "$m" -cpf "$3" .'
_RESTORE = '"$1" volume create "$2" >/dev/null && ' + _MOUNTPOINT + ' && tar -C "$m" -xpf "$3"'


@fix(
    "cleanup.volumes",
    risk=Risk.DESTRUCTIVE,
    title="remove the libvirt volumes the cleanup left behind",
    kind="auto (some cases)",
)
def volumes(ctx):
    exp, facts = ctx.expectation, ctx.facts
    if not exp.cleanup_remove_volumes:
        raise Manual(
            "nova_libvirt_cleanup_remove_volumes is false, so the volumes should still exist: if they are "
            "gone, their content is lost; re-create them empty only if a rollback to the container needs them"
        )
    present = facts.probe(engine.volumes).names()
    leftovers = [v for v in LIBVIRT_VOLUMES if v in present]
    users = {v for c in facts.probe(engine.containers_detail).items for v in c.volumes}
    busy = [v for v in leftovers if v in users]
    if busy:
        raise Manual(
            f"volume(s) {' '.join(busy)} in use by a container (nova_compute still mounts libvirtd until "
            f"it is reconfigured for host libvirt): run `kolla-ansible reconfigure -t nova` first"
        )
    return [RemoveVolume(exp.container_engine, v) for v in leftovers]
