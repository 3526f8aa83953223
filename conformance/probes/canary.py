"""The canary guest: will nova-compute be able to start a guest here, plugged into br-int?

Through the URI and credentials nova-compute uses, a transient guest is created paused (it never runs guest code:
tiny memory, no disk), with one interface on br-int of type openvswitch where libvirt plugs ports itself, so that
libvirt runs ovs-vsctl from its own PATH as it does for every VM. The port is looked up in OVS as libvirt added it,
the guest is destroyed, and the port and its tap must be gone. Nothing persistent is made: a transient domain has
no definition, and a canary left by a run that died (its name has PREFIX) is removed by the next one.

libvirt's side runs in the libvirt client child (conformance.libvirt_login, action `canary`): the child creates,
answers, waits for one line and destroys. The host's side (OVS, the tap) is read here, between the two, with
reads made at once even while the host is being gathered (Facts.immediately): the steps must not stop halfway.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import select
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET

from conformance.errors import NotRead
from conformance.probes import ovs
from conformance.probes.live import LIBVIRT_CHILD, LOGIN_TIMEOUT, libvirt_client, live_limit, no_answer

PREFIX = "kolla-conformance-canary-"
BRIDGE = "br-int"  # neutron's integration bridge (the OVS agent's integration_bridge, OVN's too)
MEMORY_MIB = 16
QEMU_LOG_DIR = "/var/log/libvirt/qemu"  # libvirt's QEMU log per guest, where libvirtd runs


@dataclasses.dataclass(frozen=True)
class Canary:
    ok: bool
    stage: str  # where it stopped: connect, leftover, create, port, destroy, port-left, tap-left, log-left; "": passed
    error: str  # libvirt's or OVS's own words
    steps: tuple[tuple[str, str], ...]  # (step, what happened), in order: the evidence
    seconds: float = 0.0


def domain_xml(name: str, virt_type: str, tap: str | None, interface_id: str) -> str:
    """A guest that can be created but never runs: paused at creation, no disk, 16 MiB, the host's default arch.
    `tap`: plug one interface into br-int the way nova does without hybrid plugging; None: no interface."""
    domain = ET.Element("domain", type=virt_type)
    ET.SubElement(domain, "name").text = name
    ET.SubElement(domain, "description").text = "kolla-conformance canary: transient and paused, removed at once"
    ET.SubElement(domain, "memory", unit="MiB").text = str(MEMORY_MIB)
    ET.SubElement(domain, "vcpu").text = "1"
    ET.SubElement(ET.SubElement(domain, "os"), "type").text = "hvm"
    devices = ET.SubElement(domain, "devices")
    if tap:
        interface = ET.SubElement(devices, "interface", type="bridge")
        ET.SubElement(interface, "source", bridge=BRIDGE)
        port = ET.SubElement(interface, "virtualport", type="openvswitch")
        ET.SubElement(port, "parameters", interfaceid=interface_id)
        ET.SubElement(interface, "target", dev=tap)
        ET.SubElement(interface, "model", type="virtio")
    return ET.tostring(domain, encoding="unicode")


class _Child:
    """The libvirt client child of one canary, read line by line within deadlines."""

    def __init__(self, argv, env, request: dict):
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        self.send(json.dumps(request))

    def send(self, line: str) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the child ended: its answer (or its absence) says why

    def answer(self, limit: float) -> dict | None:
        """The child's next JSON line, or None if none came within `limit` seconds."""
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], limit)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            return None
        try:
            return json.loads(line)
        except ValueError:
            return {"ok": False, "error": f"libvirt client said: {line.strip()[:200]}"}

    def crash(self) -> str:
        """Why the child gave no answer: its last line of stderr (it has ended)."""
        assert self.proc.stderr is not None
        return (self.proc.stderr.read().strip().splitlines() or ["no answer"])[-1]

    def close(self, guest_exists: bool, limit: float) -> None:
        """End the child. While its guest exists (an error or an interrupt between create and destroy), the end of
        its stdin makes it destroy the guest first, within `limit`; otherwise it is killed at once."""
        assert self.proc.stdin is not None and self.proc.stdout is not None and self.proc.stderr is not None
        if self.proc.poll() is None and guest_exists:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=limit)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            pipe.close()


def run_canary(
    facts,
    uri: str,
    authname: str,
    password,
    client_pki: tuple | None,
    virt_type: str,
    plugs: bool,
    vsctl: ovs.LibvirtVsctl | None,
    container: str | None,
) -> Canary:
    """One canary on this host. `plugs`: libvirt plugs ports into br-int here, so the guest gets an interface;
    `vsctl`: the ovs-vsctl libvirt uses, to look at the port (None: it could not be found); `container`: where
    libvirtd runs (nova_libvirt, or None for the host), whose QEMU log of each canary is removed. Each wait is bounded
    by the host's read limit; a libvirtd that does not answer is recorded as hung (the canary is not judged, and
    libvirt's own check fails for it)."""
    started = time.monotonic()
    steps: list[tuple[str, str]] = []
    token = secrets.token_hex(4)
    name, tap = PREFIX + token, (f"kcc{token}" if plugs else None)
    interface_id = str(uuid.uuid4())

    def done(stage: str, error: str) -> Canary:
        return Canary(not stage, stage, error, tuple(steps), round(time.monotonic() - started, 2))

    limit = live_limit(facts, LOGIN_TIMEOUT)
    xml = domain_xml(name, virt_type, tap, interface_id)
    with facts.immediately(), libvirt_client(uri, client_pki) as (uri, env, tmp):
        request = {
            "action": "canary",
            "uri": uri,
            "authname": authname,
            "password": password.reveal(),
            "xml": xml,
            "prefix": PREFIX,
        }
        child = _Child(LIBVIRT_CHILD, env, request)
        guest_exists = False
        try:
            created = child.answer(limit)
            if created is None:
                if child.proc.poll() is None:
                    raise no_answer(facts, limit, f"creating a canary guest through {uri.split('?')[0]}")
                return done("create", f"libvirt client crashed: {child.crash()}")
            error = created.get("error", "").replace(f"{tmp}/", "pkipath ")
            if created.get("removed"):
                steps.append(("left by an earlier run, removed", ", ".join(created["removed"])))
            if not created.get("ok"):
                if tap and "unable to add port" in error.lower():  # libvirt's words hide ovs-vsctl's: ask it
                    steps.append(("ovs-vsctl as libvirt runs it", _vsctl_says(facts, vsctl)))
                    error += f" (ovs-vsctl as libvirt runs it: {steps[-1][1]})"
                if created.get("stage") == "create":  # QEMU may have started, and logged, before it failed
                    steps.append(("QEMU logs", _remove_logs(facts, container)))
                return done(created.get("stage", "create"), error)
            guest_exists = True
            steps.append(("created", f"{name} ({virt_type}, {created.get('state')}), uuid {created['uuid']}"))
            if tap and vsctl is None:
                problem = "not looked up: the ovs-vsctl libvirt uses is unknown (see ovs.vsctl-in-libvirt-path)"
                steps.append((f"port {tap} in OVS", problem))
            elif tap and vsctl is not None:
                seen = _port(facts, vsctl, tap)
                steps.append((f"port {tap} in OVS", seen.get("problem") or _describe(seen)))
                problem = seen.get("problem") or _port_mismatch(seen, created["uuid"], interface_id)
            else:
                problem = ""
            child.send("destroy")
            destroyed = child.answer(limit)
            if destroyed is None:
                raise no_answer(facts, limit, f"destroying canary guest {name}")
            if not destroyed.get("ok"):
                steps.append(("destroyed", f"no: {destroyed.get('error')}"))
                return done("destroy", destroyed.get("error", ""))
            guest_exists = False
            steps.append(("destroyed", "yes, no canary defined"))
            log = _remove_logs(facts, container)
            steps.append(("QEMU logs", log))
            if problem:
                return done("port", problem)
            if tap and vsctl is not None:
                left = _left_behind(facts, vsctl, tap)
                steps.append(("left behind", left or "nothing (no port, no tap)"))
                if left:
                    return done("port-left" if "port" in left else "tap-left", left)
            if not log.startswith("removed"):
                return done("log-left", log)
            return done("", "")
        finally:
            child.close(guest_exists, limit)


def _port(facts, vsctl: ovs.LibvirtVsctl, tap: str) -> dict:
    """The OVS port `tap` as libvirt added it: its bridge and the interface's external ids."""
    result = ovs.run_vsctl(facts, vsctl, "iface-to-br", tap, "--", "get", "Interface", tap, "external_ids")
    lines = result.stdout.strip().splitlines()
    if result.rc != 0 or len(lines) < 2:
        return {"problem": lines[-1] if lines else f"ovs-vsctl exited {result.rc}"}
    return {"bridge": lines[0].strip(), "external_ids": lines[1].strip()}


def _remove_logs(facts, container: str | None) -> str:
    """libvirt keeps a QEMU log per guest name after the guest is gone: every canary's goes (this run's, and any a
    killed run left). The template is a constant: the glob is the canary prefix, no value reaches the shell."""
    template = "rm -f -- " + QEMU_LOG_DIR + "/" + PREFIX + "*.log" + ovs.EXIT_TRAILER
    try:
        result = facts.run_in(container, template) if container else facts.run(template)
    except NotRead as exc:
        return f"not removed: {exc}"
    result = ovs.with_exit_trailer(result)
    where = f"in {container}" if container else "on the host"
    return f"removed {where}" if result.rc == 0 else f"not removed {where}: {result.stdout.strip()}"


def _vsctl_says(facts, vsctl: ovs.LibvirtVsctl | None) -> str:
    """Why the ovs-vsctl libvirt runs fails: libvirt reports only that the port could not be added."""
    if vsctl is None:
        return "unknown: the ovs-vsctl libvirt uses could not be found (see ovs.vsctl-in-libvirt-path)"
    if not vsctl.resolved:
        return f"not found in libvirt's PATH {vsctl.path} ({vsctl.path_source})"
    show = ovs.run_vsctl(facts, vsctl, "show")
    lines = show.stdout.strip().splitlines()
    if show.rc == 0:  # ovsdb answers: add-port timed out waiting for ovs-vswitchd to take the port
        return "`ovs-vsctl show` answers, so ovsdb is up: ovs-vswitchd did not take the port"
    return f"exit {show.rc}: {lines[-1] if lines else '(no output)'}"


def _describe(seen: dict) -> str:
    return f"on {seen['bridge']}, external_ids {seen['external_ids']}"


def _port_mismatch(seen: dict, domain_uuid: str, interface_id: str) -> str:
    if seen["bridge"] != BRIDGE:
        return f"the port is on {seen['bridge']}, not {BRIDGE}"
    ids = seen["external_ids"]
    if domain_uuid not in ids or interface_id not in ids:
        return f"the port does not carry the guest's vm-id and iface-id: {ids}"
    return ""


def _left_behind(facts, vsctl: ovs.LibvirtVsctl, tap: str) -> str:
    ports = ovs.run_vsctl(facts, vsctl, "list-ports", BRIDGE)
    left = []
    if ports.rc == 0 and tap in ports.stdout.split():
        left.append(f"port {tap} still on {BRIDGE}")
    link = ovs.with_exit_trailer(facts.run("ip -o link show dev %s >/dev/null" + ovs.EXIT_TRAILER, tap))
    if link.rc == 0:
        left.append(f"tap {tap} still exists")
    return "; ".join(left)
