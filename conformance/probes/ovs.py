"""Probes for ovs-vsctl as libvirt reaches it: the OVS agent's firewall driver, libvirt's PATH, Kolla's wrapper,
what the binary answers (show, br-int, versions)."""

from __future__ import annotations

import dataclasses
import re

from conformance.access import CommandResult
from conformance.conffiles import parse_ini
from conformance.facts import Facts, FileFact
from conformance.probes import libvirt_host

WRAPPER_PATH = "/usr/bin/ovs-vsctl"  # where roles/openvswitch installs ovs-vsctl.j2
DB_SOCKET = "/run/openvswitch/db.sock"
VSCTL_TIMEOUT = 5  # ovs-vsctl waits forever for a missing db by default


def rendered_agent_ini(facts: Facts, config_directory: str) -> tuple[FileFact, dict[str, dict[str, str]]]:
    fact = facts.file(f"{config_directory}/neutron-openvswitch-agent/openvswitch_agent.ini")
    return fact, (parse_ini(fact.content) if fact.exists else {})


def parse_wrapper(text: str) -> str | None:
    """The engine Kolla's wrapper calls (`exec <engine> exec openvswitch_vswitchd ovs-vsctl "$@"`), or None."""
    match = re.search(r"^\s*exec\s+(\S+)\s+exec\s(?:[^\n]*\s)?openvswitch_vswitchd\s+ovs-vsctl\b", text, re.M)
    return match.group(1).rsplit("/", 1)[-1] if match else None


@dataclasses.dataclass(frozen=True)
class HostBinary:
    """What /usr/bin/ovs-vsctl on the host is: missing, an ELF binary, Kolla's wrapper or another script."""

    path: str
    kind: str  # missing | elf | wrapper | script
    wrapper_engine: str | None = None
    text: str = ""
    package: str = ""  # the package that owns the path (dpkg/rpm), "" if none


def parse_host_binary(path: str, text: str) -> HostBinary:
    """Output of `_HOST_BINARY`: MISSING, or an `owner:` line then ELF or the script's first bytes."""
    if text.startswith("MISSING"):
        return HostBinary(path, "missing")
    owner, _, body = text.partition("\n")
    package = owner.removeprefix("owner:").strip()
    if body.startswith("ELF"):
        return HostBinary(path, "elf", package=package)
    engine = parse_wrapper(body)
    return HostBinary(path, "wrapper" if engine else "script", engine, body, package)


# $1 is the path (sh -c script word, then `_` as $0): one quoted argument used four times.
_HOST_BINARY = (
    "sh -c %s _ %s",
    '[ -e "$1" ] || { echo MISSING; exit 0; }; '
    'echo "owner:$( { dpkg-query -S "$1" 2>/dev/null || rpm -qf "$1" 2>/dev/null; } '
    '| head -1 | cut -d: -f1)"; '
    'if head -c 4 "$1" | grep -q ELF; then echo ELF; else head -c 4096 "$1"; fi',
)


def host_binary(facts: Facts, path: str = WRAPPER_PATH) -> HostBinary:
    template, script = _HOST_BINARY
    return parse_host_binary(path, facts.run(template, script, path).stdout)


@dataclasses.dataclass(frozen=True)
class LibvirtVsctl:
    """ovs-vsctl as libvirt finds it: the PATH libvirt runs with and what it resolves to there."""

    where: str  # "container nova_libvirt" or "host libvirtd pid N"
    container: str | None  # run through the engine inside this container, else on the host
    path: str  # the PATH searched
    path_source: str
    resolved: str | None  # absolute path of ovs-vsctl, None when not found
    problem: str = ""  # why PATH could not be read (no daemon)


# The directories of libvirt's PATH are the script's arguments ($@), each quoted by the builder.
_RESOLVE = (
    "sh -c %s _ %s",
    'IFS=:; for d in $1; do if [ -f "$d/ovs-vsctl" ] && [ -x "$d/ovs-vsctl" ]; then echo "$d/ovs-vsctl"; '
    "break; fi; done",
)


def libvirt_vsctl(facts: Facts, container: str | None) -> LibvirtVsctl:
    if container:
        # `exec` gets the container's configured environment, which is what libvirtd was started with
        # (Kolla's start scripts do not touch PATH).
        out = facts.run_in(container, 'echo "$PATH"; command -v ovs-vsctl || true')
        if not out.ok:
            lines = (out.stderr or out.stdout).strip().splitlines()
            return LibvirtVsctl(
                f"container {container}",
                container,
                "",
                "",
                None,
                problem=lines[-1] if lines else f"{facts.engine} exec {container} failed",
            )
        path, _, resolved = out.stdout.partition("\n")
        return LibvirtVsctl(
            f"container {container}", container, path.strip(), f"environment of {container}", resolved.strip() or None
        )
    daemons = libvirt_host.host_daemons(facts)
    if not daemons:
        return LibvirtVsctl("host", None, "", "", None, problem="no libvirtd/virtqemud process runs on the host")
    daemon = daemons[0]
    env: dict[str, str] = facts.probe(libvirt_host.environ, daemon.pid)
    source = f"/proc/{daemon.pid}/environ ({daemon.name})"
    if "PATH" in env:
        path = env["PATH"]
    else:
        path, source = libvirt_host.DEFAULT_PATH, f"default search path: {daemon.name} pid {daemon.pid} has no PATH"
    template, script = _RESOLVE
    found = facts.run(template, script, path).stdout.strip()
    return LibvirtVsctl(f"host {daemon.name} pid {daemon.pid}", None, path, source, found or None)


def run_vsctl(facts: Facts, vsctl: LibvirtVsctl, *args: str) -> CommandResult:
    """Run ovs-vsctl as libvirt would (with libvirt's PATH: the wrapper needs its engine there). Its exit status
    travels in the output: a failing wrapper exits 255, which the SSH transport would take for a lost connection."""
    timeout = f"--timeout={VSCTL_TIMEOUT}"
    if vsctl.container:
        result = facts.run_in(vsctl.container, "ovs-vsctl %s" + " %s" * len(args) + EXIT_TRAILER, timeout, *args)
    else:
        binary = vsctl.resolved or "ovs-vsctl"
        result = facts.run("env PATH=%s %s %s" + " %s" * len(args) + EXIT_TRAILER, vsctl.path, binary, timeout, *args)
    return with_exit_trailer(result)


EXIT_TRAILER = ' 2>&1; echo "exit=$?"'  # the exit status in the output (see with_exit_trailer)


# Kolla's healthchecks of its OVS containers (docs/kolla-provenance.md §4), with the host daemon each one asks.
HEALTHCHECKS = {
    "openvswitch_db": ("ovsdb-server", "ovsdb-client list-dbs"),
    "openvswitch_vswitchd": ("ovs-vswitchd", "ovs-appctl version"),
}
HEALTH_TIMEOUT = 30  # Kolla's default_container_healthcheck_timeout


def health_limit(facts: Facts) -> int:
    """How long a healthcheck may take: Kolla's limit, within the host's read limit. Enforced inside the command,
    so a hung daemon answers exit 124 and its container stays readable."""
    return max(1, min(HEALTH_TIMEOUT, facts.time_limit() - 1))


def healthcheck(facts: Facts, container: str | None, command: str) -> CommandResult:
    """One of HEALTHCHECKS, in its container (None: on the host), bounded; its exit status in the result."""
    # timeout runs the program itself (no shell between): it returns only once the program is gone, so nothing
    # the program prints as it dies can land after the exit trailer.
    argv = command.split()
    template = "timeout %s" + " %s" * len(argv) + EXIT_TRAILER
    args = (health_limit(facts), *argv)
    return with_exit_trailer(facts.run_in(container, template, *args) if container else facts.run(template, *args))


def host_daemon_running(facts: Facts, daemon: str) -> bool:
    return with_exit_trailer(facts.run("pgrep -x %s >/dev/null" + EXIT_TRAILER, daemon)).rc == 0


def vswitchd_version(facts: Facts, container: str | None) -> str:
    """`ovs-vswitchd --version` where the daemon runs: in its container, else the host's running binary."""
    if container:
        return facts.run_in(container, "ovs-vswitchd --version").stdout
    return facts.run("exe=$(readlink /proc/$(pgrep -xo ovs-vswitchd)/exe) && $exe --version").stdout


def with_exit_trailer(result: CommandResult) -> CommandResult:
    """Move the last `exit=N` line of the output into the result's rc. Lines after it (a killed program's children
    may still print as they die) stay in the output; without the line, the command did not run to its end, and
    nothing says it succeeded: rc 255."""
    lines = result.stdout.rstrip("\n").split("\n")
    at = next((i for i in range(len(lines) - 1, -1, -1) if re.fullmatch(r"exit=\d+", lines[i])), None)
    if at is None:
        return CommandResult(result.command, result.rc or 255, result.stdout, result.stderr)
    body = lines[:at] + lines[at + 1 :]
    return CommandResult(result.command, int(lines[at][5:]), "".join(f"{line}\n" for line in body), result.stderr)


def parse_bridges(show: str) -> list[str]:
    """Bridge names from `ovs-vsctl show` (`    Bridge br-int` or `    Bridge "br-int"`)."""
    return [m.strip('"') for m in re.findall(r"^\s*Bridge\s+(\S+)", show, re.M)]


def parse_version(text: str) -> tuple[str | None, str | None]:
    """(Open vSwitch version, DB schema) from `<ovs program> --version`."""
    version = re.search(r"\(Open vSwitch\)\s+(\S+)", text)
    schema = re.search(r"DB Schema\s+(\S+)", text)
    return (version.group(1) if version else None, schema.group(1) if schema else None)
