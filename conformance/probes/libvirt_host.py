"""Probes of where libvirt runs: libvirt daemon processes (host or container), listeners, qemu processes."""

from __future__ import annotations

import dataclasses
import re

from conformance.facts import Facts

# The monolithic daemon and the modular one that runs QEMU guests.
DAEMON_NAMES = ("libvirtd", "virtqemud")
# What libvirt searches when the daemon has no PATH at all (glib's g_find_program_in_path fallback).
DEFAULT_PATH = "/bin:/usr/bin"


@dataclasses.dataclass(frozen=True)
class Daemon:
    pid: int
    name: str
    on_host: bool  # runs on the host's root filesystem, not inside a container's


def parse_daemons(text: str) -> list[Daemon]:
    """Lines `<pid> <root dev:inode> <comm>` and one `self <root dev:inode>`.

    Containers with pid_mode: host (nova_libvirt) show their libvirtd in the host's process list, so the name alone
    cannot tell a host daemon from the containerised one; the root directory can (a container pivots to its own,
    while a host daemon in a private mount namespace, as systemd sandboxing makes, keeps the host's).
    """
    own = re.search(r"^self (\S+)", text, re.M)
    daemons = []
    for match in re.finditer(r"^(\d+) (\S+) (\S+)$", text, re.M):
        pid, root, name = match.groups()
        daemons.append(Daemon(int(pid), name, own is not None and root == own.group(1)))
    return daemons


def daemons(facts: Facts) -> list[Daemon]:
    out = facts.run(
        'for p in $(pgrep -x %s); do echo "$p $(stat -Lc %%d:%%i /proc/$p/root/.) $(cat /proc/$p/comm)"; '
        'done; echo "self $(stat -Lc %%d:%%i /)"',
        "|".join(DAEMON_NAMES),
    ).stdout
    return parse_daemons(out)


@dataclasses.dataclass(frozen=True)
class Answer:
    answered: bool
    detail: str


def host_libvirtd_answers(facts: Facts) -> Answer:
    """Whether the host's libvirtd serves its unix socket (Kolla's nova_libvirt healthcheck, run on the host).
    A socket that demands SASL (auth_unix_rw = "sasl") refuses virsh without credentials: only a daemon that
    answered can refuse, so that counts as answering. Raises ReadTimedOut when it never answers."""
    result = facts.run("virsh -c qemu:///system version --daemon 2>&1 </dev/null")
    detail = (result.stdout.strip().splitlines() or [f"exit {result.rc}"])[-1]
    return Answer(result.ok or "authentication failed" in result.stdout, detail)


def has_systemd(facts: Facts) -> bool:
    return facts.run("test -d /run/systemd/system").ok


def host_daemons(facts: Facts) -> list[Daemon]:
    return [d for d in facts.probe(daemons) if d.on_host]


def parse_environ(text: str) -> dict[str, str]:
    """/proc/<pid>/environ: NUL separated (or newline separated after `tr '\\0' '\\n'`)."""
    sep = "\0" if "\0" in text else "\n"
    env = {}
    for item in text.split(sep):
        key, eq, value = item.partition("=")
        if eq and key:
            env[key] = value
    return env


def environ(facts: Facts, pid: int) -> dict[str, str]:
    return parse_environ(facts.run("tr '\\0' '\\n' < %s", f"/proc/{int(pid)}/environ").stdout)


def cmdline(facts: Facts, pid: int) -> list[str]:
    """A process's exact argv (empty when it is gone), e.g. to start a daemon again as it was started."""
    return [arg for arg in facts.run("tr '\\0' '\\n' < %s", f"/proc/{int(pid)}/cmdline").stdout.split("\n") if arg]


@dataclasses.dataclass(frozen=True)
class Listener:
    address: str
    port: int
    processes: tuple[str, ...]  # process names from ss -p

    def covers(self, address: str) -> bool:
        return self.address in (address, "0.0.0.0", "::", "*")


def parse_ss(text: str) -> list[Listener]:
    """`ss -Hltnp`: State Recv-Q Send-Q Local:Port Peer:Port [users:(("libvirtd",pid=1,fd=3))]."""
    listeners = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] != "LISTEN":
            continue
        address, _, port = fields[3].rpartition(":")
        address = address.strip("[]").split("%")[0]
        if port.isdigit():
            listeners.append(Listener(address, int(port), tuple(re.findall(r'\("([^"]+)"', line))))
    return listeners


def listeners(facts: Facts) -> tuple[str, list[Listener]]:
    out = facts.run("ss -Hltnp").stdout
    return out, parse_ss(out)


def parse_pgrep(text: str) -> list[tuple[int, str]]:
    """Kolla's running-VM test: `pgrep -l qemu` minus qemu-ga and qemu-img
    (roles/nova-cell/tasks/libvirt-cleanup.yml)."""
    found = []
    for line in text.splitlines():
        pid, _, name = line.strip().partition(" ")
        if pid.isdigit() and "qemu-ga" not in name and "qemu-img" not in name:
            found.append((int(pid), name.strip()))
    return found


def qemu_processes(facts: Facts) -> tuple[str, list[tuple[int, str]]]:
    out = facts.run("pgrep -l qemu || true").stdout
    return out, parse_pgrep(out)
