"""Host versus containerised libvirt: exactly one libvirt, the one enable_nova_libvirt_container chooses
(libvirt guide; docs/kolla-provenance.md §6-§8, §9.9)."""

from __future__ import annotations

import functools

from conformance.checks import GUIDE, check
from conformance.conffiles import parse_sasl_conf
from conformance.errors import ContainerUnavailable, EngineUnavailable, ReadTimedOut
from conformance.model import Severity, Verdict
from conformance.probes import engine, files, libvirt_host
from conformance.probes import sasl as sasl_probes

DOC = f"{GUIDE}#host-vs-containerised-libvirt"
MIGRATION_DOC = f"{GUIDE}#migration-from-container-to-host"
HEALTHCHECK = "virsh version --daemon"  # nova_libvirt's healthcheck in Kolla
HOST_SOCKET = "/var/run/libvirt/libvirt-sock"  # what Kolla's precheck looks for
DEFAULT_SASLDB = "/etc/libvirt/passwd.db"


def _container_mode_only(exp):
    return (
        None if exp.libvirt_container else Verdict.not_applicable("host libvirt (enable_nova_libvirt_container: false)")
    )


def _host_mode_only(exp):
    return (
        Verdict.not_applicable("libvirt runs in nova_libvirt (enable_nova_libvirt_container: true)")
        if exp.libvirt_container
        else None
    )


def _engine_hint(exp) -> str:
    """What to do about an engine whose listing failed (EngineUnavailable): it answered, with an error."""
    if exp.container_engine == "docker":
        return (
            "`docker ps` gets no listing from dockerd: start or restart it (`systemctl restart docker`; with "
            "live-restore its containers keep running) and read `journalctl -u docker`"
        )
    return f"run `{exp.container_engine} ps -a` on the host: its error says why it cannot list (storage, permissions)"


def _daemons_evidence(facts) -> str:
    found = facts.probe(libvirt_host.daemons)
    return (
        "\n".join(f"pid {d.pid} {d.name} ({'host' if d.on_host else 'inside a container'})" for d in found)
        or "no libvirtd/virtqemud process"
    )


@check(
    "libvirt.container-healthy",
    title="nova_libvirt is running and its healthcheck passes",
    severity=Severity.BLOCKER,
    phases=("postdeploy",),
    doc=DOC,
    rationale="In container mode every guest lives under nova_libvirt; Kolla's healthcheck `virsh version "
    "--daemon` proves the daemon answers on its socket.",
)
def container_healthy(exp, facts):
    if skip := _container_mode_only(exp):
        return skip
    expected = f"nova_libvirt running, `{HEALTHCHECK}` passing inside"
    try:
        listing = facts.probe(engine.containers)
    except ReadTimedOut as exc:  # the engine itself is hung: no healthcheck or restart policy acts for it
        return Verdict.failed(
            expected,
            f"{exp.container_engine} does not answer: {exc}",
            hint=f"{exp.container_engine} is hung on this host: restart it (its containers keep "
            "running), and read its log if it happens again",
        )
    except EngineUnavailable as exc:  # the engine answers with an error: nothing is known about nova_libvirt
        return Verdict.failed(
            expected,
            f"{exp.container_engine} cannot list containers: {exc.problem}",
            hint=_engine_hint(exp),
            evidence={f"{exp.container_engine} containers": exc.evidence()},
        )
    container = listing.get("nova_libvirt")
    evidence = {f"{exp.container_engine} containers": listing.evidence()}
    if container is None or not container.running:
        return Verdict.failed(
            expected,
            container.describe() if container else "no nova_libvirt container",
            hint="`kolla-ansible deploy -t nova` (or `"
            f"{exp.container_engine} start nova_libvirt`)"
            " and read /var/log/kolla/libvirt/libvirtd.log",
            evidence=evidence,
        )
    try:
        health = facts.probe(sasl_probes.nova_libvirt_healthcheck)
    except ContainerUnavailable as exc:  # listed as running, gone by the exec: a restart loop
        return Verdict.failed(
            expected,
            f"{container.describe()}, but it stopped before the healthcheck ran: {exc.problem}",
            evidence=evidence,
            hint=f"read /var/log/kolla/libvirt/libvirtd.log "
            f"and `{exp.container_engine} logs nova_libvirt`: libvirtd exits at start",
        )
    except ReadTimedOut as exc:  # the container runs, its libvirtd does not answer: hung (stopped, deadlocked)
        return Verdict.failed(
            expected,
            f"{container.describe()}, but its healthcheck did not answer: {exc}",
            evidence=evidence,
            hint=f"libvirtd in nova_libvirt is hung: "
            f"`{exp.container_engine} restart nova_libvirt`, and read its log if it happens again",
        )
    evidence[f"{HEALTHCHECK} in nova_libvirt"] = health.stdout.strip()
    if not health.ok or container.health == "unhealthy":
        return Verdict.failed(
            expected,
            f"{container.describe()}; healthcheck rc {health.rc}: "
            f"{(health.stdout.strip().splitlines() or ['no output'])[-1]}",
            evidence=evidence,
            hint=f"`{exp.container_engine} restart nova_libvirt` and read /var/log/kolla/libvirt/libvirtd.log",
        )
    return Verdict.passed(expected, container.describe(), evidence)


@check(
    "libvirt.no-host-daemon",
    title="no host libvirt daemon beside nova_libvirt",
    severity=Severity.CRITICAL,
    phases=("predeploy", "postdeploy"),
    doc=DOC,
    rationale="A host libvirtd (e.g. Debian/Ubuntu libvirt-daemon-system) competes for the sockets and port "
    "16509/16514; Kolla's precheck only looks for /var/run/libvirt/libvirt-sock, stale ones included.",
)
def no_host_daemon(exp, facts):
    if skip := _container_mode_only(exp):
        return skip
    host = libvirt_host.host_daemons(facts)
    evidence = {"libvirt daemons": _daemons_evidence(facts)}
    expected = "no libvirtd/virtqemud in the host's mount namespace"
    if host:
        names = ", ".join(f"{d.name} pid {d.pid}" for d in host)
        return Verdict.failed(
            expected,
            f"host daemon running: {names}",
            evidence=evidence,
            hint="stop and disable the host daemon (`systemctl disable --now libvirtd "
            "libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket`) or remove the package",
        )
    try:
        container, failed = facts.probe(engine.containers).get("nova_libvirt"), None
    except EngineUnavailable as exc:  # nova_libvirt may well run: only the socket's absence needs no listing
        container, failed = None, exc
        evidence[f"{exp.container_engine} containers"] = exc.evidence()
    if container is None:
        # With no nova_libvirt at all, a socket at the host path can only be a host daemon's, live or stale
        # (Kolla's precheck). A stopped or restarting nova_libvirt shares /run with the host: the socket is its own.
        socket = facts.probe(files.metadata, HOST_SOCKET)
        evidence[HOST_SOCKET] = socket.describe()
        if socket.exists and failed:  # Kolla's precheck cannot tell either: its container facts fail the same way
            return Verdict.failed(
                f"{expected}, no {HOST_SOCKET} while nova_libvirt is absent",
                f"{HOST_SOCKET} exists, and {exp.container_engine} cannot list containers to tell "
                f"whether it is nova_libvirt's: {failed.problem}",
                hint=f"{_engine_hint(exp)}; then this check tells whose socket it is (see libvirt.container-healthy)",
                evidence=evidence,
            )
        if socket.exists:
            return Verdict.failed(
                f"{expected}, no {HOST_SOCKET} while nova_libvirt is absent",
                f"{HOST_SOCKET} exists with no nova_libvirt container (a stale or host daemon's socket)",
                hint=f"remove {HOST_SOCKET} once no host libvirtd runs; Kolla's precheck fails on it",
                evidence=evidence,
            )
    return Verdict.passed(expected, "none", evidence)


@check(
    "libvirt.no-leftover-container",
    title="no nova_libvirt container left in host mode",
    severity=Severity.CRITICAL,
    phases=("predeploy", "postdeploy"),
    doc=MIGRATION_DOC,
    rationale="Host mode is only supported without an existing nova_libvirt container; a leftover one holds the "
    "port and the guests (Kolla's precheck: 'The nova_libvirt container is running, however it has been "
    "disabled').",
)
def no_leftover_container(exp, facts):
    if skip := _host_mode_only(exp):
        return skip
    try:
        listing = facts.probe(engine.containers)
    except EngineUnavailable as exc:  # a failed listing is no "none"
        return Verdict.failed(
            "no nova_libvirt container",
            f"cannot list containers: {exc.problem}",
            hint=f"check that {exp.container_engine} works on this host: {_engine_hint(exp)}",
            evidence={f"{exp.container_engine} containers": exc.evidence()},
        )
    evidence = {f"{exp.container_engine} containers": listing.evidence()}
    container = listing.get("nova_libvirt")
    if container is None:
        return Verdict.passed("no nova_libvirt container", "none", evidence)
    return Verdict.failed(
        "no nova_libvirt container",
        container.describe(),
        evidence=evidence,
        hint="migrate state to the host libvirt, then `kolla-ansible nova-libvirt-cleanup`",
    )


@check(
    "libvirt.host-daemon-listening",
    title="the host libvirt daemon listens on the migration address and port",
    severity=Severity.BLOCKER,
    phases=("predeploy", "postdeploy"),
    doc=DOC,
    rationale="In host mode nova-compute connects to qemu+tcp://<migration address> or qemu+tls://<migration "
    "hostname> on 16509/16514; Kolla no longer configures the daemon, the operator must.",
)
def host_daemon_listening(exp, facts):
    if skip := _host_mode_only(exp):
        return skip
    expected = f"host libvirtd listening on {exp.migration_address}:{exp.libvirt_port}"
    facts.prefetch(  # the daemons, their sockets and whether libvirtd answers: one batch
        functools.partial(facts.probe, probe)
        for probe in (libvirt_host.host_daemons, libvirt_host.listeners, libvirt_host.host_libvirtd_answers)
    )
    evidence = {"libvirt daemons": _daemons_evidence(facts)}
    if not libvirt_host.host_daemons(facts):
        return Verdict.failed(
            expected,
            "no libvirtd/virtqemud process on the host",
            evidence=evidence,
            hint="install and start the host's libvirt (`systemctl enable --now libvirtd` with "
            "listen_tcp/listen_tls or the libvirtd-tcp/tls.socket units)",
        )
    raw, listeners = facts.probe(libvirt_host.listeners)
    evidence["ss -Hltnp"] = raw.strip()
    on_port = [ln for ln in listeners if ln.port == exp.libvirt_port]
    good = [ln for ln in on_port if ln.covers(exp.migration_address)]
    try:
        answer = facts.probe(libvirt_host.host_libvirtd_answers)
    except ReadTimedOut as exc:  # it listens (the kernel accepts), but nothing serves: hung, stopped, deadlocked
        return Verdict.failed(
            expected + ", answering",
            f"the host libvirtd does not answer: {exc}",
            evidence=evidence,
            hint="the host libvirtd is hung: restart it, and read its log if it happens again",
        )
    evidence["virsh version --daemon"] = answer.detail
    if not answer.answered:
        return Verdict.failed(
            expected + ", answering",
            f"the host libvirtd does not answer: {answer.detail}",
            evidence=evidence,
            hint="read the host libvirtd's log and restart it",
        )
    if good:
        return Verdict.passed(
            expected, ", ".join(f"{ln.address}:{ln.port} {'/'.join(ln.processes)}" for ln in good), evidence
        )
    actual = (
        ", ".join(f"{ln.address}:{ln.port}" for ln in on_port)
        if on_port
        else f"nothing listens on port {exp.libvirt_port}"
    )
    return Verdict.failed(
        expected,
        actual,
        evidence=evidence,
        hint=f"set listen_{'tls' if exp.libvirt_tls else 'tcp'} = 1 and listen_addr = "
        f'"{exp.migration_address}" in /etc/libvirt/libvirtd.conf and start libvirtd with '
        "--listen (or enable the matching .socket unit)",
    )


HOST_PKI = (
    "/etc/pki/CA/cacert.pem",
    "/etc/pki/libvirt/servercert.pem",
    "/etc/pki/libvirt/private/serverkey.pem",
    "/etc/pki/libvirt/clientcert.pem",
    "/etc/pki/libvirt/private/clientkey.pem",
)
ROOT_AUTH_CONF = "/root/.config/libvirt/auth.conf"


@check(
    "libvirt.host-files",
    title="the host provides what Kolla no longer renders in host mode",
    severity=Severity.CRITICAL,
    phases=("predeploy", "postdeploy"),
    doc=DOC,
    rationale="With enable_nova_libvirt_container false Kolla skips sasl.conf, the SASL user and the server "
    "certificates; the host libvirt needs them at its own default paths.",
)
def host_files(exp, facts):
    if skip := _host_mode_only(exp):
        return skip
    missing, evidence = [], {}
    reads = [
        functools.partial(facts.probe, files.metadata, path)
        for path in (HOST_PKI if exp.libvirt_tls else ()) + ((ROOT_AUTH_CONF,) if exp.sasl_enabled else ())
    ]
    if exp.sasl_enabled:  # the default sasldb beside the conf that names it
        reads.append(functools.partial(facts.probe, files.content, "/etc/sasl2/libvirt.conf"))
        reads.append(functools.partial(facts.probe, sasl_probes.sasldb_users, None, DEFAULT_SASLDB))
    facts.prefetch(reads)
    if exp.sasl_enabled:
        conf = facts.probe(files.content, "/etc/sasl2/libvirt.conf")
        evidence[conf.path] = conf.content.strip() if conf.exists else "missing"
        if not conf.exists:
            missing.append(conf.path)
        sasldb = parse_sasl_conf(conf.content).get("sasldb_path", DEFAULT_SASLDB) if conf.exists else DEFAULT_SASLDB
        users = facts.probe(sasl_probes.sasldb_users, None, sasldb)
        evidence[f"sasldblistusers2 -f {sasldb}"] = "\n".join(users.users) or users.error or "(no users)"
        if not any(user.split("@")[0] == exp.sasl_authname for user in users.users):
            missing.append(f"SASL user {exp.sasl_authname} in {sasldb}")
        auth = facts.probe(files.metadata, ROOT_AUTH_CONF)
        evidence[auth.path] = auth.describe()
        if not auth.exists:
            missing.append(f"{auth.path} (client credentials for p2p migration)")
    if exp.libvirt_tls:
        for path in HOST_PKI:
            fact = facts.probe(files.metadata, path)
            evidence[path] = fact.describe()
            if not fact.exists:
                missing.append(path)
    wanted = (["sasl config, sasldb user, root auth.conf"] if exp.sasl_enabled else []) + (
        ["CA, server and client certificates at libvirt's default paths"] if exp.libvirt_tls else []
    )
    if not wanted:
        return Verdict.not_applicable("neither SASL nor TLS is enabled")
    expected = "; ".join(wanted)
    if not missing:
        return Verdict.passed(expected, "all present", evidence)
    return Verdict.failed(
        expected,
        "missing: " + ", ".join(missing),
        evidence=evidence,
        hint="copy sasl.conf to /etc/sasl2/libvirt.conf, run `saslpasswd2 -a libvirt "
        f"{exp.sasl_authname}` on the host, and put the certificates from "
        "/etc/kolla/config/nova/nova-libvirt/ at /etc/pki/... (libvirt guide)",
    )
