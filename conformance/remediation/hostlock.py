"""One remediation at a time per host: a lock directory on the host (mkdir is atomic), owned by a token.

A directory rather than flock(1) alone: flock holds only while one process lives, and a fix spans many SSH
commands. The holder touches its owner file after every action (a heartbeat), so a lock whose run died can be
told apart from a busy one: it is stale when its run's process is gone (same controller machine) or its heartbeat
is older than `stale_after`. A stale lock is taken over by compare-and-swap under flock(1) on the lock's parent
directory (no guard file left behind), so two runs that both saw it stale cannot both take it; without flock(1)
it is never taken over, only reported.
"""
from __future__ import annotations

import dataclasses
import os
import re
import socket
import time
import uuid

from conformance.command import script, shell
from conformance.remediation.remote import Remote

LOCK_DIR = "/run/lock/kolla-conformance-remediation"
STALE_AFTER = 900    # seconds without a heartbeat; far above one action's timeout (at most 180 s)

_OWNER = re.compile(r"^\S+ pid (?P<pid>\d+) on (?P<machine>\S+) since \d+$")

# Scripts get the lock path as $1, this run's token as $2 and (take-over) the owner judged stale as $3.
# flock(1) on the parent directory serialises the check-and-take; the mkdir path stays atomic without it.
_GUARD = ('if command -v flock >/dev/null 2>&1; then exec 9<"$(dirname "$L")"; flock -w 30 9 || exit 3; '
          'guarded=1; fi')
# Under the guard: take a free lock, or report who holds it and how old its heartbeat is.
_ACQUIRE = """L=$1
mkdir -p "$(dirname "$L")"
""" + _GUARD + """
if mkdir -m 0700 "$L" 2>/dev/null; then printf '%s\\n' "$2" > "$L/owner"; echo acquired; exit 0; fi
now=$(date +%s); beat=$(stat -c %Y "$L/owner" 2>/dev/null || stat -c %Y "$L")
echo "held $((now - beat)) ${guarded:-0}"; head -n1 "$L/owner" 2>/dev/null || true
"""
# Under the guard: replace the lock only if it still has the owner we judged stale.
_TAKE_OVER = """L=$1
""" + _GUARD + """
[ "$(head -n1 "$L/owner" 2>/dev/null)" = "$3" ] || { echo changed; exit 0; }
rm -rf "$L" && mkdir -m 0700 "$L" && printf '%s\\n' "$2" > "$L/owner" && echo acquired
"""
_HEARTBEAT = '[ "$(head -n1 "$1/owner" 2>/dev/null)" = "$2" ] && touch "$1/owner" && echo ours'
_RELEASE = '[ "$(head -n1 "$1/owner" 2>/dev/null)" = "$2" ] && rm -rf "$1"'   # only our own lock


class HostLocked(Exception):
    pass


class LockLost(Exception):
    """Another run took this run's lock over (it saw no heartbeat for `stale_after`: this run was suspended)."""


@dataclasses.dataclass(frozen=True)
class Holder:
    owner: str           # the holder's token ("" when its owner file is unreadable)
    heartbeat_age: int   # seconds since the holder last showed life
    guarded: bool        # the host has flock(1): a stale lock can be taken over safely

    @classmethod
    def parse(cls, lines: list[str]) -> "Holder":
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


class HostLock:
    def __init__(self, remote: Remote, wait: float = 60, path: str = LOCK_DIR, stale_after: float = STALE_AFTER):
        self.remote, self.wait, self.path, self.stale_after = remote, wait, path, stale_after
        self.token = f"{uuid.uuid4().hex[:12]} pid {os.getpid()} on {socket.gethostname()} since {int(time.time())}"
        self.took_over = ""      # set when a stale lock was replaced: whose, and why (the outcome reports it)


    def __enter__(self) -> "HostLock":
        deadline = time.monotonic() + self.wait
        while True:
            lines = self.remote.run(script(_ACQUIRE, self.path, self.token)).stdout.strip().splitlines()
            if lines and lines[0] == "acquired":
                return self
            holder = Holder.parse(lines)
            stale = holder.stale_because(self.stale_after)
            if stale and holder.guarded:
                out = self.remote.run(script(_TAKE_OVER, self.path, self.token, holder.owner)).stdout.strip()
                if out == "acquired":
                    self.took_over = f"took over a stale lock held by {holder.owner or 'an unknown owner'}: {stale}"
                    return self
                continue      # the holder changed meanwhile: judge the new one
            if time.monotonic() >= deadline:
                why = (f"; it looks stale ({stale}), but the host lacks flock(1) to take it over safely"
                       if stale else "")
                raise HostLocked(f"{self.remote.host} is being remediated by another run "
                                 f"({holder.owner or 'owner unknown'}){why}; if that run is gone, remove "
                                 f"{self.path} on the host")
            time.sleep(1)

    def heartbeat(self) -> None:
        """Show this run is alive (after each action): only our own lock's owner file is touched. Raises
        LockLost when the lock is no longer ours: nothing more may be done on the host."""
        result = self.remote.run(script(_HEARTBEAT, self.path, self.token))
        if "ours" not in result.stdout:
            holder = self.remote.run(shell("head -n1 %s 2>/dev/null", f"{self.path}/owner")).stdout.strip() or "nobody"
            raise LockLost(f"this run's lock on the host is gone, now held by {holder}")

    def __exit__(self, *exc) -> None:
        # Remove only our own lock, never one another run took over.
        self.remote.run(script(_RELEASE, self.path, self.token))
