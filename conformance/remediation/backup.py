"""Backups on the host, before anything changes: bytes, owner and mode of each file a fix touches.

Kept in BACKUP_ROOT/<stamp>-<check id>-<token>/ (mode 0700, since keys are backed up too), with a manifest an
operator can read to restore by hand. Names are numbers: no path or content of a secret appears in them.
"""

from __future__ import annotations

import dataclasses
import time
import uuid

from conformance.command import Shell, script, shell
from conformance.remediation.remote import Remote

BACKUP_ROOT = "/var/backups/kolla-conformance"

_SAVE = r"""set -e
B=$1; P=$2; N=$3
mkdir -p -m 0700 "$B"
if [ -L "$P" ] || [ -f "$P" ]; then cp -a "$P" "$B/$N"; kind=file
elif [ -e "$P" ]; then kind=meta
else printf '%s\tabsent\t-\t-\t%s\n' "$N" "$P" >> "$B/manifest"; echo absent; exit 0; fi
meta=$(stat -c '%u:%g %a' "$P")
printf '%s\t%s\t%s\t%s\n' "$N" "$kind" "$(echo $meta | tr ' ' '\t')" "$P" >> "$B/manifest"
echo "$kind $meta"
"""


@dataclasses.dataclass(frozen=True)
class Entry:
    path: str
    kind: str  # file (bytes kept) | meta (device node, directory: owner and mode kept) | absent
    number: int
    owner: str = ""  # uid:gid
    mode: str = ""  # octal


# Only folders this suite made (named <stamp>-<check>-<token>) and older than the limit; never anything else.
_PRUNE = r"""R=$1; [ -d "$R" ] || exit 0
find "$R" -mindepth 1 -maxdepth 1 -type d -name "$2-*" -mmin "+$3" | sort | while read -r d; do
  [ "$4" = dry ] || rm -rf "$d" || continue
  printf '%s
' "$d"
done
"""
_STAMP_GLOB = "[0-9]" * 8 + "T" + "[0-9]" * 6 + "Z"


def prune(remote: Remote, days: int, root: str = BACKUP_ROOT, dry_run: bool = False) -> list[str]:
    """Remove this suite's backup folders older than `days` (only when the operator asked for it).
    Returns the folders removed (or, with dry_run, those that would be)."""
    out = remote.must(
        script(_PRUNE, root, _STAMP_GLOB, int(days * 1440), "dry" if dry_run else "remove"),
        f"prune backups older than {days} days",
    )
    return out.split()


class Backup:
    def __init__(self, remote: Remote, check_id: str, root: str = BACKUP_ROOT):
        self.remote = remote
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self.root = f"{root}/{stamp}-{check_id}-{uuid.uuid4().hex[:6]}"
        self.entries: dict[str, Entry] = {}
        self.used = False  # the folder exists on the host (files saved, or archives put there)

    @classmethod
    def load(cls, remote: Remote, root: str) -> Backup:
        """The backup folder another run made (it died before it could restore it), with the entries of its
        manifest: restore_all() then puts back what that run saved. A line is in the manifest only once its copy
        is complete, and a fix changes a path only after its line is there."""
        backup = cls(remote, "")
        backup.root = root
        result = remote.run(script('[ -d "$1" ] || exit 3; cat "$1/manifest" 2>/dev/null || true', root))
        backup.used = result.rc != 3
        for line in result.stdout.splitlines() if result.ok else []:
            fields = line.split("\t", 4)
            if len(fields) == 5 and fields[0].isdigit() and fields[1] in ("file", "meta", "absent"):
                number, kind, owner, mode, path = fields
                owner, mode = ("", "") if kind == "absent" else (owner, mode)
                backup.entries.setdefault(path, Entry(path, kind, int(number), owner, mode))
        return backup

    def folder(self) -> str:
        """The backup folder, made on first use (for actions that archive more than files, e.g. volumes)."""
        if not self.used:
            self.remote.must(shell("mkdir -p -m 0700 %s", self.root), "make the backup folder")
            self.used = True
        return self.root

    def discard(self) -> None:
        """After a complete rollback the backup holds nothing the host lacks: remove it, leaving no trace."""
        if self.used:
            self.remote.run(shell("rm -rf %s; rmdir %s 2>/dev/null || true", self.root, self.root.rsplit("/", 1)[0]))

    def save(self, path: str) -> Entry:
        """Keep `path` as it is now; only the first save of a path in one fix counts."""
        if path in self.entries:
            return self.entries[path]
        number = len(self.entries) + 1
        self.used = True
        out = self.remote.must(script(_SAVE, self.root, path, number), f"back up {path}").split()
        entry = Entry(path, out[0], number, *(out[1:3] if len(out) >= 3 else ("", "")))
        self.entries[path] = entry
        return entry

    def restore_all(self) -> list[str]:
        """Put every saved path back, last saved first. Returns the problems (empty when all went back)."""
        problems = []
        for entry in reversed(list(self.entries.values())):
            result = self.remote.run(self._restore_command(entry))
            if not result.ok:
                problems.append(f"{entry.path}: {result.stderr.strip() or result.stdout.strip()}")
        return problems

    def _restore_command(self, entry: Entry) -> Shell:
        if entry.kind == "absent":
            return shell("rm -f -- %s", entry.path)
        if entry.kind == "meta":
            return shell("chown -- %s %s && chmod -- %s %s", entry.owner, entry.path, entry.mode, entry.path)
        # Copy next to the target, then rename: the original comes back atomically with its owner and mode.
        return script(
            't=$(dirname "$2")/.kc-restore.$$ && cp -a "$1" "$t" && mv -f "$t" "$2"',
            f"{self.root}/{entry.number}",
            entry.path,
        )
