"""What a fix does on a host, one reviewable step at a time: write a file, change its mode, run a command.

Every action can describe itself (plan output), write itself as shell (the per-host review script) and apply
itself through a Journal, which backs up files first and remembers how to undo commands.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import secrets

from conformance.command import Shell, comment, container_name, engine_name, script
from conformance.remediation.registry import Risk

# $1 the path, $2 "user:group" or "", $3 octal mode or "": the new content comes on stdin.
_WRITE = r"""set -e
P=$1; d=$(dirname "$P")
t=$(mktemp "$d/.kc-XXXXXX"); trap 'rm -f "$t"' EXIT
cat > "$t"
if [ -e "$P" ]; then chown --reference="$P" "$t"; chmod --reference="$P" "$t"; fi
[ -z "$2" ] || chown -- "$2" "$t"
[ -z "$3" ] || chmod -- "$3" "$t"
mv -f "$t" "$P"; trap - EXIT
"""


def _mode(mode: int | None) -> str:
    return f"{mode:04o}" if mode is not None else ""


def heredoc(command: Shell, body: str) -> list[str]:
    """Review-script lines feeding `body` to `command`, under a terminator that cannot occur in the body."""
    end = "KOLLA_CONFORMANCE_EOF"
    while end in body:
        end += "_" + secrets.token_hex(4)
    return [f"{command} <<'{end}'", body.rstrip("\n"), end]


@dataclasses.dataclass
class WriteFile:
    """Replace a file's content atomically (temp file in the same folder, then rename)."""

    path: str
    content: str
    before: str | None = None  # current content (None: the file does not exist), for the diff
    mode: int | None = None  # None: keep the current file's mode (mktemp's 0600 for a new file)
    owner: str | None = None  # "user:group"; None: keep the current owner
    secret: bool = False  # content holds a secret: the diff and script never show it
    risk: Risk = Risk.SAFE

    def describe(self) -> str:
        attrs = ", ".join(
            filter(
                None,
                [f"mode {self.mode:04o}" if self.mode is not None else "", f"owner {self.owner}" if self.owner else ""],
            )
        )
        verb = "create" if self.before is None else "rewrite"
        return f"{verb} {self.path}" + (f" ({attrs})" if attrs else "")

    def diff(self) -> str:
        if self.secret:
            return f"--- {self.path}\n+++ {self.path}\n(content holds a secret: diff not shown)\n"
        old = (self.before or "").splitlines(keepends=True)
        new = self.content.splitlines(keepends=True)
        return "".join(
            difflib.unified_diff(
                old, new, f"{self.path} (now)" if self.before is not None else "/dev/null", f"{self.path} (fixed)"
            )
        )

    def _command(self) -> Shell:
        return script(_WRITE, self.path, self.owner or "", _mode(self.mode))

    def script(self) -> list[str]:
        if self.secret:
            return comment(f"{self.describe()}: its content holds a secret; render it from passwords.yml by hand")
        return heredoc(self._command(), self.content)

    def apply(self, journal) -> None:
        journal.backup.save(self.path)
        journal.remote.must(self._command(), f"write {self.path}", stdin=self.content)


@dataclasses.dataclass
class SetAttrs:
    """Change a file's or device node's owner and mode (bytes are untouched)."""

    path: str
    mode: int | None = None
    owner: str | None = None  # "user:group", ":group" or "uid:gid"
    risk: Risk = Risk.SAFE

    def describe(self) -> str:
        parts = ([f"owner {self.owner}"] if self.owner else []) + (
            [f"mode {self.mode:04o}"] if self.mode is not None else []
        )
        return f"set {self.path} to " + ", ".join(parts)

    def diff(self) -> str:
        return ""

    def _command(self) -> Shell:
        return script(
            '[ -z "$2" ] || chown -- "$2" "$1"; [ -z "$3" ] || chmod -- "$3" "$1"',
            self.path,
            self.owner or "",
            _mode(self.mode),
        )

    def script(self) -> list[str]:
        return [self._command()]

    def apply(self, journal) -> None:
        journal.backup.save(self.path)
        journal.remote.must(self._command(), self.describe())


@dataclasses.dataclass
class Command:
    """A command on the host. `undo` reverses it on rollback; `stdin` (e.g. a Secret) goes through the SSH
    channel, never into argv; `rerun_on_rollback` repeats it after files are restored (a restart)."""

    command: Shell  # built by conformance.command (quoted arguments)
    what: str
    undo: Shell | None = None
    stdin: object = None
    stdin_hint: str = ""  # how the review script gets stdin, e.g. '< "$SASL_PASSWORD_FILE"'
    rerun_on_rollback: bool = False
    risk: Risk = Risk.SAFE
    irreversible: str = ""  # why there is no undo, shown in the plan
    timeout: int = 180
    shown: str = ""  # a short form of the command for the plan (default: the command)

    def describe(self) -> str:
        note = f" [no undo: {self.irreversible}]" if self.irreversible else ""
        return f"{self.what}: `{self.shown or self.command}`{note}"

    def diff(self) -> str:
        return ""

    def script(self) -> list[str]:
        # A command that ends with `exit` (a wait loop) runs in a subshell: the review script goes on after it.
        body = f"( {self.command} )" if re.search(r"\bexit\b", self.command) else self.command
        return [f"{body} {self.stdin_hint}".rstrip()]

    def apply(self, journal) -> None:
        if self.rerun_on_rollback:
            # Registered before it runs: a restart interrupted half-way may already have started the service on
            # the new files, so a rollback restarts it again on the restored ones.
            journal.after_restore(self.command, f"again after restore: {self.what}")
        journal.remote.must(self.command, self.what, stdin=self.stdin, timeout=self.timeout)
        if self.undo:
            journal.on_rollback(self.undo, f"undo: {self.what}")


# $1 engine, $2 container, $3 the readiness test run inside it.
_RESTART_CONTAINER = (
    '"$1" restart "$2" >/dev/null || exit 1; for i in $(seq 60); do '
    '"$1" exec "$2" sh -c "$3" >/dev/null 2>&1 && exit 0; sleep 1; done; '
    'echo "$2 not ready after 60 s" >&2; exit 1'
)


def restart_container(engine: str, name: str, ready: str = "true") -> Command:
    """Restart a Kolla container and wait until `ready` succeeds inside it (Kolla's handlers wait the same way)."""
    return Command(
        script(_RESTART_CONTAINER, engine_name(engine), container_name(name), ready),
        f"restart the {name} container (Kolla copies its config files in on start)",
        rerun_on_rollback=True,
        risk=Risk.DISRUPTIVE,
        shown=f"{engine} restart {name}",
    )
