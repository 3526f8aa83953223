"""The one place where remote shell text is made: templates plus quoted arguments, and the frame around output.

Every command that reaches a host (probes, fixes, review scripts, the lab) is `shell(template, *args)`: the
template is a literal of the code (tests/unit/test_command_builder.py enforces that no call site interpolates),
each argument is quoted with shlex, as pytest-testinfra's `run(command, *args)` does. A value read from a profile,
a Kolla variable or the host's own files therefore stays one word, whatever it holds.

Output comes back framed: the command's exit status, stdout and stderr, base64 encoded between markers that carry
a random nonce (testinfra's safe-ssh shape). A login shell that prints something (an `echo` in .bashrc) lands
outside the frame and cannot shift a parse.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import secrets
import shlex


class Shell(str):
    """Shell text built by `shell()`: the only kind of command the access layer sends."""


def shell(template: str, *args: object) -> Shell:
    """`template` with each `%s` replaced by one quoted argument (no arguments: the template as it is)."""
    if isinstance(template, Shell) and not args:
        return template
    if not args:
        return Shell(template)
    return Shell(template % tuple(shlex.quote(str(arg)) for arg in args))


def script(body: str, *args: object) -> Shell:
    """A literal sh script whose values arrive as positional parameters ($1, $2, ...), each quoted: for values a
    script uses several times or in loops. `sh -c BODY _ ARG...`."""
    return shell("sh -c %s _" + " %s" * len(args), body, *args)


def join(*commands: str) -> Shell:
    """Built commands run one after another (`a; b`), for scripts made of several steps."""
    for command in commands:
        _require_built(command)
    return Shell("; ".join(commands))


def parallel(commands: list[Shell]) -> Shell:
    """Built commands run side by side, then their outputs one after another: a batch of reads in one round trip.

    Each command's output goes to a file of its own, so outputs never interleave; each should be framed (Frame.wrap,
    a nonce of its own), which also bounds its time, so `wait` returns once the slowest has answered or timed out."""
    for command in commands:
        _require_built(command)
    lines = ["d=$(mktemp -d) || exit 97"]
    lines += [shell('sh -c %s >"$d/"%s 2>/dev/null &', command, index) for index, command in enumerate(commands)]
    lines.append('wait; cat "$d"/* 2>/dev/null; rm -rf "$d"')
    return Shell("\n".join(lines))


def with_status_line(command: Shell, marker: str) -> Shell:
    """`command` in a subshell, then a last line `<marker><exit status>`: proof that it ran to its end."""
    _require_built(command)
    return Shell("( " + command + "\n); printf '\\n%s%d\\n' " + shlex.quote(marker) + ' "$?"')


def comment(text: str, prefix: str = "") -> list[str]:
    """Script comment lines: every line of `text` commented, whatever it holds. A value with a newline (a path, a
    user name from the operator's config) must never end the comment and become a command."""
    return [f"# {prefix}{line}" for line in text.replace("\r", "\n").splitlines() or [""]]


def _require_built(command: str) -> None:
    if not isinstance(command, Shell):
        raise TypeError(f"not built by conformance.command.shell(): {command[:60]!r}")


# Names that go into a command line as words of their own (container names, engines): never options, never shell.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
ENGINES = ("docker", "podman")


def container_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise ValueError(f"not a container name: {name!r}")
    return name


def engine_name(engine: str) -> str:
    if engine not in ENGINES:
        raise ValueError(f"unknown container engine {engine!r} (docker or podman)")
    return engine


@dataclasses.dataclass(frozen=True)
class Framed:
    """What a framed command returned, parsed from inside its frame only."""

    rc: int
    stdout: str
    stderr: str


class Frame:
    """Wraps a command so that its status and output travel base64 encoded between nonce-carrying markers.

    The command runs under the remote `timeout` (its own deadline), from temp files so that stdin still reaches it
    (a secret fed through the SSH channel)."""

    def __init__(self) -> None:
        nonce = secrets.token_hex(8)
        self.begin, self.end = f"KCF{nonce}B", f"KCF{nonce}E"
        self._pattern = re.compile(
            re.escape(self.begin) + r":(\d+):([A-Za-z0-9+/=]*):([A-Za-z0-9+/=]*):" + re.escape(self.end)
        )

    def wrap(self, command: Shell, limit: int) -> Shell:
        _require_built(command)
        # -k: a command that ignores SIGTERM is killed 2 s later. Exit 124/137 mean the deadline struck.
        return shell(
            'o=$(mktemp) && e=$(mktemp) || exit 97; timeout -k 2 %s sh -c %s >"$o" 2>"$e"; r=$?; '
            'printf \'\\n%%s:%%d:\' %s "$r"; base64 -w0 "$o"; printf :; base64 -w0 "$e"; '
            'printf \':%%s\\n\' %s; rm -f "$o" "$e"',
            int(limit),
            command,
            self.begin,
            self.end,
        )

    def parse(self, text: str) -> Framed | None:
        """The frame's content, or None when the output holds no (complete) frame."""
        frames = list(self._pattern.finditer(text))  # the last one wins: noise cannot make one (no nonce)
        if not frames:
            return None
        rc, out, err = frames[-1].groups()
        return Framed(int(rc), _decode(out), _decode(err))


def _decode(data: str) -> str:
    return base64.b64decode(data).decode("utf-8", errors="replace")


TIMED_OUT = 124  # timeout(1): the command ran out of time
KILLED_AFTER_TIMEOUT = 137  # timeout(1) -k: it ignored SIGTERM (also any command killed by SIGKILL: check the clock)
