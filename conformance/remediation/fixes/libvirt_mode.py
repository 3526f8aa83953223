"""Host vs containerised libvirt: stop a host libvirt daemon that runs beside nova_libvirt (container mode), and
restart a host libvirt daemon so it reads configuration a fix changed (host mode)."""

from __future__ import annotations

from conformance.command import script, shell
from conformance.probes import libvirt_host
from conformance.remediation.actions import Command
from conformance.remediation.registry import Manual, Risk, fix

SYSTEMD_UNITS = (
    "libvirtd.service libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket libvirtd-tcp.socket "
    "libvirtd-tls.socket virtqemud.service virtqemud.socket"
)


def _has_systemd(facts) -> bool:
    return facts.probe(libvirt_host.has_systemd)


# $1 the systemctl verb ("disable --now" is two words: split on purpose), then the units.
_EACH_UNIT = 'verb=$1; shift; for u in "$@"; do systemctl $verb "$u" 2>/dev/null || true; done'


@fix(
    "libvirt.no-host-daemon",
    risk=Risk.DISRUPTIVE,
    title="stop the host libvirt daemon beside nova_libvirt",
    kind="auto (some cases)",
)
def no_host_daemon(ctx):
    facts = ctx.facts
    daemons = libvirt_host.host_daemons(facts)  # the check's own test: same mount namespace as the login shell
    if not daemons:
        raise Manual(
            "only a stale /var/run/libvirt/libvirt-sock is left: remove it once you are sure no host libvirtd runs"
        )
    if _has_systemd(facts):
        ctx.notes.append(
            "also remove the host package (Debian/Ubuntu: libvirt-daemon-system) so an upgrade "
            "does not bring the daemon back"
        )
        # One unit at a time: units a distribution does not ship make a combined call fail.
        units = SYSTEMD_UNITS.split()
        return [
            Command(
                script(_EACH_UNIT, "disable --now", *units),
                "stop and disable the host libvirt",
                undo=script(_EACH_UNIT, "enable --now", *units),
                risk=Risk.DISRUPTIVE,
                shown=f"systemctl disable --now {SYSTEMD_UNITS}",
            )
        ]
    actions = []
    for daemon in daemons:
        # No systemd: stop the process, and keep its exact command line so a rollback can start it again.
        argv = libvirt_host.cmdline(facts, daemon.pid)
        if not argv:
            raise Manual(f"{daemon.name} pid {daemon.pid} vanished while planning: run the checks again")
        restart = shell(" ".join(["%s"] * len(argv)), *argv)
        actions.append(
            Command(
                script(_STOP_PID, int(daemon.pid)),
                f"stop host {daemon.name} pid {daemon.pid}",
                undo=restart,
                risk=Risk.DISRUPTIVE,
                shown=f"kill {daemon.pid}  # {restart}",
            )
        )
    ctx.notes.append("no systemd on this host: make sure whatever started the daemon does not start it again")
    return actions


_STOP_PID = (
    'kill "$1" && for i in $(seq 50); do kill -0 "$1" 2>/dev/null || exit 0; sleep 0.2; done; '
    'echo "pid $1 still running" >&2; exit 1'
)
# $1 the daemon's name, then its exact argv. The host's own daemon of that name (same root directory as the
# login shell, as libvirt_host.daemons tells them apart from nova_libvirt's), found when the command runs: a
# restart repeated on rollback finds the new pid.
_HOST_PID = (
    'name=$1; shift; P=; for p in $(pgrep -x "$name"); do '
    '[ "$(stat -Lc %d:%i /proc/$p/root/.)" = "$(stat -Lc %d:%i /)" ] && P=$p; done; '
    '[ -n "$P" ] || { echo "no host $name running" >&2; exit 1; }'
)
# Ready when the daemon answers on its unix socket. A socket that demands SASL (auth_unix_rw = "sasl") refuses
# virsh without credentials, but only a daemon that answered can refuse: that counts as up too.
_RESTART = (
    _HOST_PID + "; kill $P && for i in $(seq 100); do kill -0 $P 2>/dev/null || break; sleep 0.2; done; "
    'kill -0 $P 2>/dev/null && { echo "$name did not stop" >&2; exit 1; }; "$@" </dev/null >/dev/null '
    "2>&1; for i in $(seq 60); do out=$(timeout 5 virsh -c qemu:///system version --daemon </dev/null 2>&1) "
    "&& exit 0; case $out in *'authentication failed'*) exit 0;; esac; sleep 1; done; "
    'echo "$name not answering after 60 s" >&2; exit 1'
)


def restart_host_libvirt(ctx, why: str) -> list:
    """Host mode: restart the host's libvirt daemon so it reads what the fix changed (Kolla does not manage it).
    With systemd its unit; without, the same command line again, only when the daemon forks itself (-d)."""
    facts = ctx.facts
    daemons = libvirt_host.host_daemons(facts)
    if _has_systemd(facts):
        units = [f"{d.name}.service" for d in daemons] or ["libvirtd.service"]
        return [
            Command(
                shell("systemctl restart" + " %s" * len(units), *units),
                f"restart the host libvirt ({why})",
                rerun_on_rollback=True,
                risk=Risk.DISRUPTIVE,
            )
        ]
    actions = []
    for daemon in daemons:
        argv = libvirt_host.cmdline(facts, daemon.pid)
        if not argv:
            raise Manual(f"{daemon.name} pid {daemon.pid} vanished while planning: run the checks again")
        if not {"-d", "--daemon"} & set(argv):
            ctx.notes.append(f"{daemon.name} runs in the foreground under a supervisor: restart it there ({why})")
            continue
        actions.append(
            Command(
                script(_RESTART, daemon.name, *argv),
                f"restart host {daemon.name} ({why})",
                rerun_on_rollback=True,
                risk=Risk.DISRUPTIVE,
                shown=f"kill {daemon.name}; {shell(' '.join(['%s'] * len(argv)), *argv)}",
            )
        )
    return actions
