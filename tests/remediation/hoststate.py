"""What a lab host is, read over SSH as one text: files (hash, owner, mode), /dev/kvm, volumes, containers,
libvirt daemons, the SASL users. Equal fingerprints mean remediation changed nothing there."""

from __future__ import annotations

import subprocess

FILES = (
    "/etc/kolla /etc/udev/rules.d /etc/modules-load.d /etc/sasl2 /etc/pki /etc/libvirt /usr/bin/ovs-vsctl "
    "/var/backups/kolla-conformance /run/lock"
)

_FILES = (
    f"for p in {FILES}; do [ -e $p ] && find $p -xdev \\( -type f -o -type l -o -type d \\) "
    "-printf '%p %U:%G %m\\n'; done | sort; "
    f"for p in {FILES}; do [ -e $p ] && find $p -xdev -type f -exec sha256sum {{}} +; done | sort; "
    "stat -c '/dev/kvm %u:%g %a' /dev/kvm 2>&1"
)
_RUNTIME = (
    "E=$(command -v docker >/dev/null && docker ps >/dev/null 2>&1 && echo docker || echo podman); "
    "$E volume ls -q | sort; "
    "$E ps -aq | xargs -r $E inspect -f '{{.Name}} {{.State.Status}} {{.State.StartedAt}}' | sort; "
    "pgrep -x libvirtd | sort; "
    "$E exec nova_libvirt sasldblistusers2 -f /etc/libvirt/passwd.db 2>/dev/null | sort"
)


def ssh(info, host: str, command: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-F", str(info.ssh_config), host, command], input=stdin, capture_output=True, text=True, timeout=120
    )


def files(info, host: str) -> str:
    """Every file remediation may touch, with bytes' hash, owner and mode."""
    return ssh(info, host, _FILES).stdout


def fingerprint(info, host: str) -> str:
    """files() plus runtime state: volumes, containers and their start times, libvirt daemons, SASL users."""
    return files(info, host) + "\n--runtime--\n" + ssh(info, host, _RUNTIME).stdout
