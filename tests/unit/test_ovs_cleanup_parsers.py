"""Parsers of the ovs / libvirt placement / cleanup probes, on output captured from the lab's hosts
(tests/unit/data/ovs_cleanup/, made with the commands the probes run)."""

from pathlib import Path

from conformance.access import CommandResult
from conformance.probes import engine, libvirt_host, ovs

DATA = Path(__file__).parent / "data" / "ovs_cleanup"


def read(name: str) -> str:
    return (DATA / name).read_text()


# -- engine listings: docker prints JSON lines of strings, podman one array of lists ----------------------------
def test_docker_ps_json_lines():
    containers = {c.name: c for c in engine.parse_ps(read("docker_ps.jsonl"))}
    assert {"nova_libvirt", "nova_compute", "openvswitch_db", "openvswitch_vswitchd"} <= set(containers)
    assert containers["nova_libvirt"].running and containers["nova_libvirt"].status.startswith("Up")


def test_podman_ps_json_array():
    containers = {c.name: c for c in engine.parse_ps(read("podman_ps.json"))}
    assert {"nova_libvirt", "nova_compute", "openvswitch_vswitchd"} <= set(containers)
    assert all(c.running for c in containers.values())


def test_podman_ps_shows_an_exited_container():
    vswitchd = {c.name: c for c in engine.parse_ps(read("podman_ps_vswitchd_exited.json"))}["openvswitch_vswitchd"]
    assert vswitchd.state == "exited" and not vswitchd.running
    assert "Exited" in vswitchd.describe()


def test_ps_health_from_status_column():
    line = '{"Names":"nova_libvirt","State":"running","Status":"Up 3 minutes (unhealthy)"}'
    assert engine.parse_ps(line)[0].health == "unhealthy"


def test_volume_listings_of_both_engines_agree():
    docker = {v.name for v in engine.parse_volume_ls(read("docker_volume_ls.jsonl"))}
    podman = {v.name for v in engine.parse_volume_ls(read("podman_volume_ls.json"))}
    kept = {"libvirtd", "nova_libvirt_qemu", "nova_compute", "kolla_logs"}
    assert kept <= docker and kept <= podman


def test_inspect_names_and_volumes_of_both_engines():
    for name in ("docker_inspect_nova_compute.json", "podman_inspect_nova_compute.json"):
        [compute] = engine.parse_inspect(read(name))
        assert compute.name == "nova_compute", name  # docker's leading "/" is gone
        assert {"libvirtd", "nova_compute", "kolla_logs"} <= set(compute.volumes), name
        assert compute.running, name


def test_empty_listing():
    assert engine.parse_ps("") == [] and engine.parse_inspect("[]") == []


# -- libvirt daemons, environment, listeners, qemu processes ------------------------------------------------------
def test_daemons_tell_the_container_libvirtd_from_a_host_one():
    daemons = libvirt_host.parse_daemons(read("daemons_container_and_host.txt"))
    assert [(d.pid, d.on_host) for d in daemons] == [(321, False), (578, True)]


def test_environ_nul_and_newline_separated():
    for name in ("libvirtd_environ.nul", "libvirtd_environ.txt"):
        env = libvirt_host.parse_environ(read(name))
        assert env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", name


def test_ss_listeners_with_processes():
    listeners = libvirt_host.parse_ss(read("ss_host_mode.txt"))
    libvirt = next(ln for ln in listeners if ln.port == 16509)
    assert libvirt.processes == ("libvirtd",) and libvirt.address.startswith("10.77.")
    assert not libvirt.covers("10.0.0.1")


def test_ss_wildcard_and_ipv6_listeners_cover_any_address():
    text = (
        'LISTEN 0 1000 0.0.0.0:16509 0.0.0.0:* users:(("libvirtd",pid=9,fd=3))\n'
        'LISTEN 0 1000 [::]:16514 [::]:* users:(("systemd",pid=1,fd=40))\n'
    )
    tcp, tls = libvirt_host.parse_ss(text)
    assert tcp.covers("10.0.0.5") and tls.covers("10.0.0.5") and tls.port == 16514


def test_pgrep_counts_vms_as_kolla_does():
    assert libvirt_host.parse_pgrep(read("pgrep_qemu.txt")) == [(538, "qemu-system-x86")]
    # Kolla's awk drops the guest agent and image tools.
    assert libvirt_host.parse_pgrep("12 qemu-ga\n13 qemu-img\n14 qemu-kvm\n") == [(14, "qemu-kvm")]
    assert libvirt_host.parse_pgrep("") == []


# -- ovs-vsctl ---------------------------------------------------------------------------------------------------
def test_kolla_wrapper_engine():
    assert ovs.parse_wrapper(read("ovs-vsctl.wrapper")) == "docker"
    assert (
        ovs.parse_wrapper('#!/bin/bash\nexec /usr/bin/podman exec -u root openvswitch_vswitchd ovs-vsctl "$@"\n')
        == "podman"
    )
    assert ovs.parse_wrapper('#!/bin/sh\nexec /usr/lib/openvswitch/ovs-vsctl "$@"\n') is None


def test_host_binary_kinds():
    wrapper = ovs.parse_host_binary("/usr/bin/ovs-vsctl", "owner:\n" + read("ovs-vsctl.wrapper"))
    assert (wrapper.kind, wrapper.wrapper_engine, wrapper.package) == ("wrapper", "docker", "")
    over_package = ovs.parse_host_binary("/usr/bin/ovs-vsctl", "owner:openvswitch-switch\n" + read("ovs-vsctl.wrapper"))
    assert over_package.package == "openvswitch-switch"
    assert ovs.parse_host_binary("/usr/bin/ovs-vsctl", "owner:openvswitch-switch\nELF\n").kind == "elf"
    assert ovs.parse_host_binary("/usr/bin/ovs-vsctl", "MISSING\n").kind == "missing"


def test_version_and_bridges():
    text = read("ovs_vsctl_version_show.txt")
    assert ovs.parse_version(text) == ("3.1.0", "8.3.1")
    assert ovs.parse_bridges(text) == ["br-int"]
    assert ovs.parse_bridges('    Bridge "br-ex"\n        Port "br-ex"\n') == ["br-ex"]


def test_exit_trailer_keeps_the_wrappers_255_off_the_transport():
    failed = ovs.with_exit_trailer(CommandResult("c", 0, "Error: container state improper\nexit=255\n", ""))
    assert (failed.rc, failed.stdout) == (255, "Error: container state improper\n")
    assert ovs.with_exit_trailer(CommandResult("c", 0, "exit=0\n", "")).rc == 0


def test_exit_trailer_is_found_under_what_a_dying_child_printed_after_it():
    """Seen on the lab: `timeout 5 sh -c 'ovs-appctl version'` on a hung vswitchd printed exit=124, then the killed
    ovs-appctl's last words. Taking the last line for the status made that a pass (exit 0 from the exec)."""
    late = "exit=124\n2026-12-02T05:09:57Z|00001|fatal_signal|WARN|terminating with signal 15 (Terminated)\n"
    hung = ovs.with_exit_trailer(CommandResult("c", 0, late, ""))
    assert hung.rc == 124 and "fatal_signal" in hung.stdout and "exit=" not in hung.stdout
    cut = ovs.with_exit_trailer(CommandResult("c", 0, "ovs-vswitchd (Open vSwitch) 3.1.0\n", ""))
    assert cut.rc == 255  # no trailer: the command never reached its end, so nothing says it succeeded


def test_version_mismatch_is_judged_on_real_outputs():
    """ovs.version-match's failing case is judged here, not on a lab host: Debian 12 offers a single Open vSwitch
    build (3.1.0-2+deb12u1) and the lab's containers run the host's /usr, so a real mismatch cannot be produced on
    this machine. The outputs are those of ovs-vsctl 3.1.0 (captured in the lab) and of ovs-vswitchd 2.17.9."""
    from conformance.checks.ovs import judge_versions
    from conformance.model import Status

    client = read("ovs_vsctl_version_show.txt")
    server_217 = "ovs-vswitchd (Open vSwitch) 2.17.9\n"
    mismatch = judge_versions(client, "/usr/bin/ovs-vsctl", server_217, "container openvswitch_vswitchd")
    assert mismatch.status is Status.FAIL
    assert mismatch.actual == "client 3.1.0, server 2.17.9" and "wrapper" in mismatch.hint
    same = judge_versions(client, "/usr/bin/ovs-vsctl", "ovs-vswitchd (Open vSwitch) 3.1.0\n", "host")
    assert same.status is Status.PASS
    unreadable = judge_versions(client, "/usr/bin/ovs-vsctl", "", "host")
    assert unreadable.status is Status.NOT_APPLICABLE
