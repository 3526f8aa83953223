"""The canary guest on lab hosts: a suite run with --canary, and what a host holds of canaries afterwards."""

from __future__ import annotations

import subprocess

from conformance.model import Status
from conformance.probes.canary import PREFIX, QEMU_LOG_DIR
from tests.suite_runner import SuiteResult, run_suite


def canary_run(info, *hosts: str) -> SuiteResult:
    """libvirt.canary-guest on `hosts` (all of the lab's when none), names resolved as a real runner's DNS would."""
    select = "canary-guest" + (f" and ({' or '.join(f'{h}:' for h in hosts)})" if hosts else "")
    return run_suite(info.profile_path, "--canary", "-k", select, hosts_file=info.hosts_file)


def on_host(info, host: str, script: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-F", str(info.ssh_config), host, script], input=stdin, capture_output=True, text=True, timeout=120
    )


def virsh(where: str) -> str:
    """virsh against the libvirtd of a host whose libvirt runs `where`: docker, podman (nova_libvirt) or host."""
    if where == "host":
        return "virsh -c qemu:///system"
    return f"{where} exec -i nova_libvirt virsh -c qemu:///system"


def left_behind(info, host: str, where: str) -> list[str]:
    """Every trace of a canary on the host: guests, OVS ports, tap devices, QEMU logs."""
    inside = "" if where == "host" else f"{where} exec nova_libvirt "
    script = (
        f"{virsh(where)} list --all --name | grep '^{PREFIX}'; "
        "ovs-vsctl --timeout=5 list-ports br-int 2>/dev/null | grep '^kcc'; "
        "ls /sys/class/net | grep '^kcc'; "
        f"{inside}sh -c 'ls {QEMU_LOG_DIR}' | grep '^{PREFIX}'; true"
    )
    if where != "host":  # OVS of a containerised host: in openvswitch_vswitchd
        script = script.replace("ovs-vsctl ", f"{where} exec openvswitch_vswitchd ovs-vsctl ")
    return on_host(info, host, script).stdout.split()


def assert_canary(result: SuiteResult, host: str, cause: str | None) -> None:
    """None: the canary passed; else it failed and its verdict names `cause`."""
    finding = result.findings[(host, "libvirt.canary-guest")]
    if cause is None:
        assert finding.status is Status.PASS, finding.summary()
    else:
        assert finding.status is Status.FAIL and cause in finding.summary(), finding.summary()


def plant_leftover(info, host: str, where: str, name: str) -> None:
    """A canary as a run that died would leave it: created paused, never destroyed."""
    xml = (
        f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>16</memory><vcpu>1</vcpu>"
        "<os><type>hvm</type></os><devices/></domain>"
    )
    made = on_host(info, host, f"{virsh(where)} create --paused /dev/stdin", stdin=xml)
    assert made.returncode == 0, made.stderr
