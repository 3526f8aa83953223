"""Libvirt TLS: certificates as Kolla deploys them, their installed copies, name resolution, a live handshake
(libvirt guide, Libvirt TLS; docs/kolla-provenance.md §3, §9.4-6)."""

from __future__ import annotations

import datetime as dt
import functools

from conformance import certs
from conformance.checks import GUIDE, check
from conformance.errors import ContainerUnavailable
from conformance.model import Severity, Verdict
from conformance.probes import live, sasl
from conformance.probes import tls as tls_probes

DOC = f"{GUIDE}#libvirt-tls"
DOC_CERTS = f"{GUIDE}#externally-managed-certificates"
DOC_USING = f"{GUIDE}#using-libvirt-tls"
REGENERATE = (
    "replace the files in /etc/kolla/config/nova/nova-libvirt/ (or its <host>/ folder): "
    "`kolla-ansible certificates` makes test certificates, then `kolla-ansible reconfigure -t nova`"
)


def _tls_only(exp):
    return None if exp.libvirt_tls else Verdict.not_applicable("libvirt_tls is false")


def _cert_sets(exp, facts) -> list[tls_probes.CertSet]:
    """What to judge: the operator's files Kolla copies, and in host mode the host daemon's own /etc/pki."""
    sets = []
    if exp.operator_config_dir and exp.libvirt_tls_manage_certs:
        sets.append(facts.probe(tls_probes.operator_cert_set, exp.operator_config_dir, exp.host))
    if not exp.libvirt_container:
        sets.append(facts.probe(tls_probes.host_pki_set))
    return sets


def no_client_pki(exp) -> str:
    """Why the live probes have no client certificate to present ("" when the operator's files are the ones):
    they use the operator's files Kolla copies, read where the suite runs; a key on a host is never fetched."""
    if not exp.libvirt_tls_manage_certs:
        return (
            "libvirt_tls_manage_certs is false: Kolla copies no certificates from the operator's config dir, and "
            "the client certificate nova-compute uses stays on the host (its key is never fetched)"
        )
    if not exp.operator_config_dir:
        return "no Kolla config dir in the profile: no CA and client certificate to use"
    return ""


def _cert_check(exp, facts):
    """(sets, None) or (None, not-applicable verdict) for the certificate checks."""
    if skip := _tls_only(exp):
        return None, skip
    sets = _cert_sets(exp, facts)
    if not sets:
        reason = (
            "libvirt_tls_manage_certs is false: Kolla copies no certificates"
            if not exp.libvirt_tls_manage_certs
            else "no Kolla config dir in the profile: the operator's certificates cannot be read"
        )
        return None, Verdict.not_applicable(reason)
    return sets, None


def _describe(cert_set, names=("cacert.pem", "servercert.pem", "clientcert.pem")) -> dict:
    return {f"{cert_set.label}: {n}": certs.describe(cert_set.certs[n]) for n in names if n in cert_set.certs}


def _now():
    return dt.datetime.now(dt.UTC)


def _verdict(expected, problems, evidence, hint, passed, judged=True):
    """The common end of the certificate checks: fail with every problem, n/a if nothing could be judged."""
    if problems:
        return Verdict.failed(expected, "; ".join(problems), hint, evidence)
    if not judged:
        return Verdict.not_applicable("no certificate could be read (see tls.files-present)")
    return Verdict.passed(expected, passed, evidence)


@check(
    "tls.files-present",
    title="The five libvirt TLS files exist and parse",
    severity=Severity.BLOCKER,
    phases=("predeploy", "postdeploy"),
    doc=DOC_CERTS,
    rationale="Kolla copies cacert, servercert, serverkey, clientcert and clientkey.pem found first in "
    "config/nova/nova-libvirt/<host>/ then config/nova/nova-libvirt/; a missing one fails the deploy.",
)
def files_present(exp, facts):
    sets, skip = _cert_check(exp, facts)
    if skip:
        return skip
    evidence = {f"{s.label}: {name}": s.paths[name] for s in sets for name in certs.CERT_FILES}
    problems = [f"{s.label}: {name} {why}" for s in sets for name, why in s.problems.items()]
    expected = "PEM certificates and unencrypted keys: " + ", ".join(certs.CERT_FILES)
    if not problems:
        return Verdict.passed(expected, "all present and parsed", evidence)
    return Verdict.failed(expected, "; ".join(problems), REGENERATE, evidence)


@check(
    "tls.chain",
    title="Server and client certificates chain to cacert.pem",
    severity=Severity.BLOCKER,
    phases=("predeploy", "postdeploy"),
    doc=DOC_CERTS,
    rationale="libvirtd and its clients verify each other against cacert.pem, trusting every certificate in it "
    "(GnuTLS), and refuse to start when one of them is not a CA; a certificate from another CA fails with "
    '"Failed to verify peer\'s certificate".',
)
def chain(exp, facts):
    sets, skip = _cert_check(exp, facts)
    if skip:
        return skip
    evidence, problems, judged, cas = {}, [], 0, 0
    for s in sets:
        bundle = list(s.ca_bundle)
        evidence.update(_describe(s))
        for i, ca in enumerate(bundle, 1):
            cas += 1
            if i > 1:  # the first is the set's cacert.pem, described above
                evidence[f"{s.label}: cacert.pem certificate {i}"] = certs.describe(ca)
            problems += [
                f"{s.label}: cacert.pem certificate {i} ({ca.subject.rfc4514_string()}) {p}"
                for p in certs.ca_problems(ca)
            ]
        for name in certs.LEAVES:
            if not bundle or name not in s.certs:
                continue
            judged += 1
            ok, detail = certs.verify_chain(s.certs[name], bundle)
            evidence[f"{s.label}: {name} chain"] = detail
            if not ok:
                problems.append(f"{s.label}: {name} issued by {s.certs[name].issuer.rfc4514_string()}: {detail}")
    return _verdict(
        "servercert.pem and clientcert.pem signed by a CA in cacert.pem, every certificate there a CA",
        problems,
        evidence,
        "sign the certificates with a CA in cacert.pem, or put the CA that signed them (intermediates too) in "
        "cacert.pem, with basicConstraints CA:TRUE; then " + REGENERATE.split(": ", 1)[1],
        f"{judged} certificate(s) verified",
        judged + cas,
    )


@check(
    "tls.key-match",
    title="Each private key matches its certificate",
    severity=Severity.BLOCKER,
    phases=("predeploy", "postdeploy"),
    doc=DOC_CERTS,
    rationale="libvirtd refuses to start (and a client to connect) when serverkey/clientkey.pem do not belong to "
    "their certificates.",
)
def key_match(exp, facts):
    sets, skip = _cert_check(exp, facts)
    if skip:
        return skip
    evidence, problems, judged = {}, [], 0
    for s in sets:
        for cert_name, key_name in certs.LEAVES.items():
            if cert_name not in s.certs or key_name not in s.public_keys:
                continue
            judged += 1
            same = certs.same_public_key(s.certs[cert_name].public_key(), s.public_keys[key_name])
            evidence[f"{s.label}: {key_name}"] = f"{'matches' if same else 'does not match'} {cert_name}"
            if not same:
                problems.append(f"{s.label}: {key_name} is not the key of {cert_name}")
    return _verdict(
        "serverkey.pem and clientkey.pem are the keys of servercert.pem and clientcert.pem",
        problems,
        evidence,
        "copy the key generated with the certificate (or reissue the certificate for this key); " + REGENERATE,
        f"{judged} pair(s) match",
        judged,
    )


def san_matches(name: str, sans: list[str]) -> bool:
    """RFC 6125 style: case-insensitive, a wildcard only as the whole left-most label."""
    name = name.lower().rstrip(".")
    parent = name.split(".", 1)[1] if "." in name else None
    for san in (s.lower().rstrip(".") for s in sans):
        if san == name or (san.startswith("*.") and parent is not None and san[2:] == parent):
            return True
    return False


@check(
    "tls.san-covers-host",
    title="The server certificate names the host's migration_hostname",
    severity=Severity.BLOCKER,
    phases=("predeploy", "postdeploy"),
    doc=DOC_CERTS,
    rationale="nova connects to qemu+tls://<migration_hostname>/system and libvirt checks that name against the "
    "server certificate's DNS SANs (Kolla makes no IP SANs); a host added after `certificates` is "
    "missing.",
)
def san_covers_host(exp, facts):
    sets, skip = _cert_check(exp, facts)
    if skip:
        return skip
    evidence, problems, judged = {}, [], 0
    for s in sets:
        cert = s.certs.get("servercert.pem")
        if cert is None:
            continue
        judged += 1
        sans = certs.dns_sans(cert)
        evidence[f"{s.label}: servercert.pem SAN"] = (
            ", ".join([f"DNS:{n}" for n in sans] + [f"IP:{a}" for a in certs.ip_sans(cert)]) or "none"
        )
        if not san_matches(exp.migration_hostname, sans):
            problems.append(f"{s.label}: servercert.pem DNS SANs {', '.join(sans) or '(none)'}")
    return _verdict(
        f"DNS:{exp.migration_hostname} in the server certificate's SAN",
        problems,
        evidence,
        f"reissue the certificate with DNS:{exp.migration_hostname} (`kolla-ansible certificates` covers "
        f"every host in [compute]; remove the old libvirt certificate first), then "
        f"`kolla-ansible reconfigure -t nova`",
        f"DNS:{exp.migration_hostname} present",
        judged,
    )


@check(
    "tls.leaf-not-ca",
    title="Server and client certificates are not CA certificates",
    severity=Severity.BLOCKER,
    phases=("predeploy", "postdeploy"),
    doc=DOC_CERTS,
    rationale="libvirt rejects a leaf with basicConstraints CA:TRUE: 'basic constraints show a CA, but we need "
    "one for a server|client'.",
)
def leaf_not_ca(exp, facts):
    sets, skip = _cert_check(exp, facts)
    if skip:
        return skip
    evidence, problems = {}, []
    for s in sets:
        for name in certs.LEAVES:
            if name in s.certs:
                flagged = certs.is_ca(s.certs[name])
                evidence[f"{s.label}: {name}"] = "basicConstraints CA:TRUE" if flagged else "not a CA"
                if flagged:
                    problems.append(f"{s.label}: {name} has basicConstraints CA:TRUE")
    return _verdict(
        "servercert.pem and clientcert.pem without basicConstraints CA:TRUE",
        problems,
        evidence,
        "reissue the leaf certificates without CA:TRUE (use the CA only in cacert.pem); " + REGENERATE,
        "no leaf is a CA",
        bool(evidence),
    )


@check(
    "tls.validity",
    title="No certificate is expired, not yet valid or about to expire",
    severity=Severity.BLOCKER,
    phases=("predeploy", "postdeploy"),
    doc=DOC_CERTS,
    rationale="libvirt enforces activation and expiry dates on both sides; Kolla's test certificates last 500 "
    "days (CA 1024), so expiry is a scheduled outage unless someone is warned in time.",
)
def validity(exp, facts):
    sets, skip = _cert_check(exp, facts)
    if skip:
        return skip
    now, evidence, bad, soon = _now(), {}, [], []
    for s in sets:
        bundle = s.ca_bundle
        named = [
            (f"cacert.pem certificate {i}" if len(bundle) > 1 else "cacert.pem", c) for i, c in enumerate(bundle, 1)
        ]
        named += [(n, s.certs[n]) for n in ("servercert.pem", "clientcert.pem") if n in s.certs]
        for name, cert in named:  # libvirt checks the dates of every CA in cacert.pem, used or not
            state = certs.validity(cert, now, exp.expiry_warning_days)
            evidence[f"{s.label}: {name}"] = state.detail
            if state.status in ("expired", "not-yet-valid"):
                bad.append(f"{s.label}: {name} {state.detail}")
            elif state.status == "expiring":
                soon.append(f"{s.label}: {name} {state.detail}")
    expected = f"valid now and for at least {exp.expiry_warning_days} more days"
    if soon and not bad:
        return Verdict.warning(expected, "; ".join(soon), "renew before expiry; " + REGENERATE, evidence)
    return _verdict(
        expected,
        bad + soon if bad else [],
        evidence,
        "reissue the certificates (check the clock of the issuing machine for 'not yet valid'); " + REGENERATE,
        "all valid",
        bool(evidence),
    )


@check(
    "tls.key-usage",
    title="Key usage and extended key usage allow TLS server and client use",
    severity=Severity.CRITICAL,
    phases=("predeploy", "postdeploy"),
    doc=DOC_CERTS,
    rationale="Where present, keyUsage must allow digitalSignature and keyEncipherment and extendedKeyUsage "
    "serverAuth (server cert) / clientAuth (client cert): libvirt refuses the certificate when the extension is "
    "critical, and warns when it is not.",
)
def key_usage(exp, facts):
    sets, skip = _cert_check(exp, facts)
    if skip:
        return skip
    purposes = {"servercert.pem": ("server",), "clientcert.pem": ("client",)}
    evidence, problems, warnings = {}, [], []
    for s in sets:
        for name, wanted in purposes.items():
            if name not in s.certs:
                continue
            refused, warned = certs.usage_problems(s.certs[name], wanted)
            evidence[f"{s.label}: {name}"] = "; ".join(refused + warned) or "usage allows " + " and ".join(wanted)
            problems += [f"{s.label}: {name} {p}" for p in refused]
            warnings += [f"{s.label}: {name} {p}" for p in warned]
    expected = "keyUsage digitalSignature+keyEncipherment, EKU serverAuth/clientAuth (or no such extensions)"
    fix = (
        "reissue with keyUsage digitalSignature,keyEncipherment and extendedKeyUsage "
        "serverAuth,clientAuth (or without those extensions, as Kolla does); " + REGENERATE
    )
    if warnings and not problems:  # libvirt logs a warning and connects
        return Verdict.warning(expected, "; ".join(warnings) + " (libvirt warns, then connects)", fix, evidence)
    return _verdict(expected, problems, evidence, fix, "usage allows TLS server and client", bool(evidence))


def _libvirt_down(exp, facts) -> str:
    ready = facts.probe(sasl.libvirtd_ready)
    return "" if ready.ready else ready.detail


def _installed_path(directory: str | None, name: str) -> str:
    return f"{directory}/{name}" if directory else tls_probes.LIBVIRT_PKI[name]


@check(
    "tls.installed-files",
    title="Installed certificates and keys: paths, owners, modes, identical to the operator's",
    severity=Severity.CRITICAL,
    phases=("postdeploy",),
    doc=DOC_USING,
    rationale="Kolla installs the files root 0600 (nova_compute: root:nova 0640); a looser private key leaks it, "
    "and a copy that differs from /etc/kolla/config means the host runs other certificates than intended.",
)
def installed_files(exp, facts):
    if skip := _tls_only(exp):
        return skip
    compare = bool(exp.operator_config_dir and exp.libvirt_tls_manage_certs)
    operator = tls_probes.operator_files(exp.operator_config_dir, exp.host) if compare else {}
    evidence, problems, judged, unread = {}, [], 0, []  # judged: the files read; unread: those not
    places = tls_probes.installed_places(exp)
    reads = [
        (n, _installed_path(directory, n), container, place)
        for place, container, directory, names, *_ in places
        for n in names
    ]
    if not exp.libvirt_container:
        reads += [(name, path, None, "host") for name, path in tls_probes.LIBVIRT_PKI.items()]
    facts.prefetch(functools.partial(facts.probe, tls_probes.installed_file, *read) for read in reads)
    for place, container, directory, names, owner, group, mode in places:
        for name in names:
            path = _installed_path(directory, name)
            where = f"{path} {'on the host' if container is None else 'in ' + container}"
            try:
                found = facts.probe(tls_probes.installed_file, name, path, container, place)
            except ContainerUnavailable as exc:  # stopped, or restarting between reads: the others are judged
                evidence[where] = f"not read: {exc.problem}"
                unread.append(f"{where} ({exc.problem})")
                continue
            f = found.fact
            own: list[str] = []
            if not f.exists:
                own.append(f"{where}: missing")
            else:
                evidence[where] = f"{f.owner}:{f.group} {f.mode:04o} sha256 {found.sha256[:16]}"
                if f.owner != owner or (group and f.group != group) or f.mode & ~mode:
                    own.append(f"{where}: {f.owner}:{f.group} {f.mode:04o}")
                source = operator.get(name)
                if compare and source and source.path and source.sha256() != found.sha256:
                    own.append(f"{where}: differs from {source.path}")
            # A nova_libvirt whose libvirtd is down may be mid-start: kolla_set_configs deletes, copies, then sets
            # owner and mode, so a read then proves nothing (libvirt.container-healthy names the cause).
            if own and container == "nova_libvirt" and (down := _libvirt_down(exp, facts)):
                evidence[where] = f"not read: {down}"
                unread.append(f"{where} ({down})")
                continue
            judged += 1
            problems += own
    if not exp.libvirt_container:  # the host daemon's files (docs/kolla-provenance.md §8): keys root-only, same CA
        for name, path in tls_probes.LIBVIRT_PKI.items():
            found = facts.probe(tls_probes.installed_file, name, path, None, "host")
            where = f"{path} on the host"
            judged += 1
            if not found.fact.exists:
                problems.append(f"{where}: missing")
                continue
            f = found.fact
            evidence[where] = f"{f.owner}:{f.group} {f.mode:04o} sha256 {found.sha256[:16]}"
            if name.endswith("key.pem") and (f.owner != "root" or f.mode & 0o077):
                problems.append(f"{where}: {f.owner}:{f.group} {f.mode:04o} (a private key readable beyond root)")
            source = operator.get("cacert.pem")
            if name == "cacert.pem" and compare and source and source.path and source.sha256() != found.sha256:
                problems.append(f"{where}: not the CA of {source.path} that nova-compute trusts")
    expected = "root 0600 in /etc/kolla/nova-{libvirt,compute} and nova_libvirt, root:nova 0640 in nova_compute" + (
        ", byte-identical to /etc/kolla/config/nova/nova-libvirt" if compare else ""
    )
    if not problems:
        return Verdict.passed_unless_unread(expected, f"{judged} file(s) as intended", unread, evidence)
    hint = (
        "run `kolla-ansible reconfigure -t nova` (Kolla copies the files and sets owners and modes on every "
        "container start)"
        if exp.libvirt_container
        else "chmod 0600 the keys in /etc/pki/libvirt/private (owner root) and install Kolla's cacert.pem; "
        "run `kolla-ansible reconfigure -t nova` for nova_compute's copies"
    )
    return Verdict.failed(expected, "; ".join(problems), hint, evidence)


def _listen_addresses(exp, facts) -> tuple[set[str], str]:
    """Addresses libvirtd listens on for its port: the live sockets, else the configured listen_addr."""
    live_sockets = facts.probe(tls_probes.listeners, exp.libvirt_port)
    source = f"ss: listening on port {exp.libvirt_port}"
    addresses = set(live_sockets)
    if not addresses:
        copies = facts.probe(sasl.libvirtd_confs, exp.libvirt_container, exp.node_config_directory)
        configured = sasl.effective(copies[-1].values, "listen_addr") if copies[-1].values else exp.migration_address
        addresses, source = {configured or "0.0.0.0"}, f"listen_addr in {copies[-1].where} (libvirtd not listening)"
    if addresses & {"0.0.0.0", "::"}:
        addresses |= set(facts.probe(tls_probes.host_addresses))
    return addresses, source


@check(
    "tls.migration-hostname-resolves",
    title="migration_hostname resolves to an address libvirtd listens on",
    severity=Severity.CRITICAL,
    phases=("predeploy", "postdeploy"),
    doc=DOC_USING,
    rationale="With TLS, nova connects by migration_hostname; Kolla's /etc/hosts maps the nodename to the API "
    "address while libvirtd listens only on the migration address (connection refused on 16514).",
)
def migration_hostname_resolves(exp, facts):
    if skip := _tls_only(exp):
        return skip
    name = exp.migration_hostname
    facts.prefetch(  # the listeners and the name, side by side
        (
            functools.partial(facts.probe, tls_probes.listeners, exp.libvirt_port),
            functools.partial(facts.probe, tls_probes.host_resolution, name),
        )
    )
    listening, source = _listen_addresses(exp, facts)
    on_host = facts.probe(tls_probes.host_resolution, name)
    evidence = {
        "libvirtd addresses": f"{', '.join(sorted(listening))} ({source})",
        f"getent hosts {name} on the host": ", ".join(on_host) or "does not resolve",
    }
    problems = []
    if not set(on_host) & listening:
        problems.append(f"on the host {name} -> {', '.join(on_host) or 'nothing'}")
    if exp.live_probes:
        from_runner = facts.probe(live.resolve, name)
        evidence[f"{name} from the suite's machine"] = ", ".join(from_runner) or "does not resolve"
        if not set(from_runner) & listening:
            problems.append(f"from the suite's machine {name} -> {', '.join(from_runner) or 'nothing'}")
    expected = f"{name} -> {exp.migration_address} (where libvirtd listens)"
    if not problems:
        return Verdict.passed(expected, f"{name} -> {', '.join(on_host)}", evidence)
    return Verdict.failed(
        expected,
        "; ".join(problems) + f"; libvirtd listens on {', '.join(sorted(listening))}",
        f"map {name} to {exp.migration_address} in DNS or /etc/hosts on every compute host (Kolla's "
        f"etc_hosts role writes the API address), or set migration_hostname to a name that "
        f"resolves to the migration address and reissue the certificate",
        evidence,
    )


@check(
    "tls.live-handshake",
    title="A TLS handshake to libvirtd verifies its certificate; a foreign client is refused",
    severity=Severity.BLOCKER,
    phases=("postdeploy",),
    doc=DOC_USING,
    rationale="The end-to-end proof of the certificates: the server certificate verifies for migration_hostname "
    "against Kolla's CA, libvirtd answers a client presenting Kolla's client certificate, and drops one "
    "from another CA.",
)
def live_handshake(exp, facts):
    if skip := _tls_only(exp):
        return skip
    if not exp.live_probes:
        return Verdict.not_applicable("live_probes is false in the profile")
    if reason := no_client_pki(exp):  # as tls.files-present: nothing of the operator's to judge or use
        return Verdict.not_applicable(reason)
    files = tls_probes.operator_files(exp.operator_config_dir, exp.host)
    missing = [n for n in tls_probes.CLIENT_FILES if files[n].path is None]
    target = f"{exp.migration_hostname}:{exp.libvirt_port}"
    expected = f"TLS to {target} verified for {exp.migration_hostname}; Kolla's client accepted, a foreign one refused"
    if missing:
        return Verdict.failed(expected, f"operator's {' '.join(missing)} not found", "see tls.files-present")
    ca = files["cacert.pem"].read()
    client = tuple((n, files[n].read()) for n in tls_probes.CLIENT_FILES)
    good = facts.probe(live.tls_handshake, exp.migration_hostname, exp.libvirt_port, ca, client)
    evidence = {
        "target": target,
        "server certificate": good.peer or "(none)",
        "TLS version": good.tls_version or "-",
        "Kolla's client certificate": "accepted (libvirtd's acknowledgement byte)"
        if good.server_answered
        else good.error,
    }
    if not good.ok:
        return Verdict.failed(expected, good.error, _handshake_hint(good.error, exp), evidence)
    if not good.server_answered:
        return Verdict.failed(
            expected,
            f"Kolla's client certificate was refused: {good.error}",
            "libvirtd does not accept Kolla's client certificate: see tls.chain and tls.validity "
            "for clientcert.pem and the CA libvirtd uses (/etc/pki/CA/cacert.pem)",
            evidence,
        )
    foreign = facts.probe(live.tls_handshake, exp.migration_hostname, exp.libvirt_port, ca, live.foreign_client_pki(ca))
    evidence["client certificate from another CA"] = (
        "accepted!" if foreign.server_answered else f"refused ({foreign.error or 'connection dropped'})"
    )
    if foreign.server_answered:
        return Verdict.failed(
            expected,
            "libvirtd accepted a client certificate from another CA",
            "libvirtd must verify client certificates: remove tls_no_verify_certificate from "
            "libvirtd.conf and use Kolla's cacert.pem as ca_file",
            evidence,
        )
    return Verdict.passed(expected, f"verified {good.tls_version}; foreign client refused", evidence)


def _handshake_hint(error: str, exp) -> str:
    if "cannot connect" in error:
        return (
            "libvirtd is not reachable there: see tls.migration-hostname-resolves and sasl.libvirtd-listener, "
            "and whether libvirtd runs (it refuses to start with a bad certificate: see its log)"
        )
    if "Hostname mismatch" in error or "hostname" in error.lower():
        return f"see tls.san-covers-host: the server certificate must name {exp.migration_hostname}"
    return "see tls.chain, tls.validity and tls.key-match"
