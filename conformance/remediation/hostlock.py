"""One remediation at a time per host: a lock directory on the host (mkdir is atomic), owned by a token.

A directory rather than flock(1) alone: flock holds only while one process lives, and a fix spans many SSH
commands. The holder touches its owner file after every action (a heartbeat), so a lock whose run died can be
told apart from a busy one: it is stale when its run's process is gone (same controller machine) or its heartbeat
is older than `stale_after`. A stale lock is taken over by compare-and-swap under flock(1) on the lock's parent
directory (no guard file left behind), so two runs that both saw it stale cannot both take it; without flock(1)
it is never taken over, only reported.

The holder also keeps a journal in the lock (`journal`): the fix's backup folder, which actions began and ended,
their undo commands and the restarts to repeat after a restore, written before each action starts (in the
heartbeat after the previous one, no extra round trip). A run that was killed (SIGKILL, a lost controller) leaves
lock and journal behind; the run that takes the lock over inherits the journal and finishes the dead run's
rollback from it before anything else (applier.recover). Taking over keeps the journal; release removes both.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import time
import uuid
from collections.abc import Sequence

from conformance.command import script, shell
from conformance.remediation.remote import Remote

LOCK_DIR = "/run/lock/kolla-conformance-remediation"
STALE_AFTER = 900  # seconds without a heartbeat; far above one action's timeout (at most 180 s)

_OWNER = re.compile(r"^\S+ pid (?P<pid>\d+) on (?P<machine>\S+) since \d+$")

# Scripts get the lock path as $1, this run's token as $2 and (take-over) the owner judged stale as $3.
# flock(1) on the parent directory serialises the check-and-take; the mkdir path stays atomic without it.
_GUARD = 'if command -v flock >/dev/null 2>&1; then exec 9<"$(dirname "$L")"; flock -w 30 9 || exit 3; guarded=1; fi'
# Under the guard: take a free lock, or report who holds it and how old its heartbeat is.
_ACQUIRE = (
    """L=$1
mkdir -p "$(dirname "$L")"
"""
    + _GUARD
    + """
if mkdir -m 0700 "$L" 2>/dev/null; then printf '%s\\n' "$2" > "$L/owner"; echo acquired; exit 0; fi
now=$(date +%s); beat=$(stat -c %Y "$L/owner" 2>/dev/null || stat -c %Y "$L")
echo "held $((now - beat)) ${guarded:-0}"; head -n1 "$L/owner" 2>/dev/null || true
"""
)
# Under the guard: replace the lock's owner only if it still is the one we judged stale. The dead run's journal
# stays where it is (the new owner finishes that run's rollback from it) and is printed after `acquired`.
_TAKE_OVER = (
    """L=$1
"""
    + _GUARD
    + """
[ "$(head -n1 "$L/owner" 2>/dev/null)" = "$3" ] || { echo changed; exit 0; }
printf '%s\\n' "$2" > "$L/owner.new" && mv -f "$L/owner.new" "$L/owner" || exit 1
echo acquired; cat "$L/journal" 2>/dev/null || true
"""
)
# Our own lock only: show life, and append journal lines ($3, may be empty) in the same round trip.
_HEARTBEAT = (
    '[ "$(head -n1 "$1/owner" 2>/dev/null)" = "$2" ] && touch "$1/owner" && '
    '{ [ -z "$3" ] || printf \'%s\\n\' "$3" >> "$1/journal"; } && echo ours'
)
_CLEAR_JOURNAL = '[ "$(head -n1 "$1/owner" 2>/dev/null)" = "$2" ] && rm -f "$1/journal"'
# Read only: is there a lock, who holds it, how old is its heartbeat, what did its holder leave in the journal.
_PEEK = """L=$1; [ -d "$L" ] || { echo free; exit 0; }
now=$(date +%s); beat=$(stat -c %Y "$L/owner" 2>/dev/null || stat -c %Y "$L")
g=0; command -v flock >/dev/null 2>&1 && g=1
echo "held $((now - beat)) $g"; head -n1 "$L/owner" 2>/dev/null || echo
cat "$L/journal" 2>/dev/null || true
"""
_RELEASE = '[ "$(head -n1 "$1/owner" 2>/dev/null)" = "$2" ] && rm -rf "$1"'  # only our own lock


class HostLocked(Exception):
    pass


class LockLost(Exception):
    """Another run took this run's lock over (it saw no heartbeat for `stale_after`: this run was suspended)."""


class ForcedStop(KeyboardInterrupt):
    """A second interrupt during a fix: stop at once, without rollback. The lock and its journal stay on the host
    (the run's process is gone after this), so the next run takes them over and finishes the rollback."""


@dataclasses.dataclass(frozen=True)
class Holder:
    owner: str  # the holder's token ("" when its owner file is unreadable)
    heartbeat_age: int  # seconds since the holder last showed life
    guarded: bool  # the host has flock(1): a stale lock can be taken over safely

    @classmethod
    def parse(cls, lines: list[str]) -> Holder:
        """The acquire script's answer: `held <age> <guarded>`, then the owner's line."""
        head = lines[0].split() if lines and lines[0].startswith("held ") else ["held", "0", "0"]
        return cls(lines[1].strip() if len(lines) > 1 else "", int(head[1]), head[2:] == ["1"])

    def stale_because(self, stale_after: float) -> str:
        """Why this lock's run is gone ("" when it may still be working): never guess in the dangerous direction."""
        match = _OWNER.match(self.owner)
        if match and match["machine"] == socket.gethostname() and not _pid_alive(int(match["pid"])):
            return f"its run (pid {match['pid']} on this machine) is gone"
        if self.heartbeat_age > stale_after:
            return f"no heartbeat for {self.heartbeat_age} s (more than {stale_after:g})"
        return ""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def peek(remote: Remote, path: str = LOCK_DIR) -> tuple[Holder, str] | None:
    """Read only: the holder of the host's lock and its journal, or None when the host is not locked."""
    lines = remote.run(script(_PEEK, path)).stdout.splitlines()
    if not lines or lines[0].strip() == "free":
        return None
    return Holder.parse(lines[:2]), "\n".join(lines[2:])


class HostLock:
    def __init__(
        self,
        remote: Remote,
        wait: float = 60,
        path: str = LOCK_DIR,
        stale_after: float = STALE_AFTER,
        waiting=lambda: None,
    ):
        """`waiting()` is called before each second of waiting for another run's lock (it may raise to stop)."""
        self.remote, self.wait, self.path, self.stale_after = remote, wait, path, stale_after
        self.waiting = waiting
        self.token = f"{uuid.uuid4().hex[:12]} pid {os.getpid()} on {socket.gethostname()} since {int(time.time())}"
        self.took_over = ""  # set when a stale lock was replaced: whose, and why (the outcome reports it)
        self.inherited = ""  # the journal the replaced holder left (its half-done fix), "" when none

    def __enter__(self) -> HostLock:
        deadline = time.monotonic() + self.wait
        while True:
            lines = self.remote.run(script(_ACQUIRE, self.path, self.token)).stdout.strip().splitlines()
            if lines and lines[0] == "acquired":
                return self
            holder = Holder.parse(lines)
            stale = holder.stale_because(self.stale_after)
            if stale and holder.guarded:
                out = self.remote.run(script(_TAKE_OVER, self.path, self.token, holder.owner)).stdout
                if out.startswith("acquired"):
                    self.took_over = f"took over a stale lock held by {holder.owner or 'an unknown owner'}: {stale}"
                    self.inherited = out.partition("\n")[2].strip()
                    return self
                continue  # the holder changed meanwhile: judge the new one
            if time.monotonic() >= deadline:
                why = f"; it looks stale ({stale}), but the host lacks flock(1) to take it over safely" if stale else ""
                raise HostLocked(
                    f"{self.remote.host} is being remediated by another run "
                    f"({holder.owner or 'owner unknown'}){why}; if that run is gone, remove "
                    f"{self.path} on the host"
                )
            self.waiting()
            time.sleep(1)

    def heartbeat(self, journal: Sequence[str] = ()) -> None:
        """Show this run is alive (after each action) and append `journal` lines: only our own lock is touched.
        Raises LockLost when the lock is no longer ours: nothing more may be done on the host."""
        result = self.remote.run(script(_HEARTBEAT, self.path, self.token, "\n".join(journal)))
        if "ours" not in result.stdout:
            holder = self.remote.run(shell("head -n1 %s 2>/dev/null", f"{self.path}/owner")).stdout.strip() or "nobody"
            raise LockLost(f"this run's lock on the host is gone, now held by {holder}")

    def clear_journal(self) -> None:
        """The fix was rolled back (or a dead run's recovered): nothing on the host is left half done."""
        self.remote.run(script(_CLEAR_JOURNAL, self.path, self.token))

    def __exit__(self, exc_type=None, *exc) -> None:
        if exc_type is not None and issubclass(exc_type, ForcedStop):
            return  # kept with its journal: the next run finishes what this one leaves half done
        # Remove only our own lock, never one another run took over.
        self.remote.run(script(_RELEASE, self.path, self.token))
