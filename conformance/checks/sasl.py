"""SASL authentication of libvirt's TCP/TLS listener (libvirt guide, SASL authentication;
docs/kolla-provenance.md §2, §9.1-3)."""

from __future__ import annotations

import functools
import hashlib

from conformance.checks import GUIDE, check
from conformance.checks.tls import no_client_pki
from conformance.kolla.expectations import Secret
from conformance.model import Severity, Verdict
from conformance.probes import live, sasl
from conformance.probes import tls as tls_probes

DOC = f"{GUIDE}#sasl-authentication"
RECREATE_USER = (
    "recreate the user: `echo <libvirt_sasl_password> | {engine} exec -i nova_libvirt saslpasswd2 "
    "-c -p -a libvirt {user}` (or restart nova_libvirt through `kolla-ansible deploy`)"
)


def _sasl_only(exp):
    return None if exp.sasl_enabled else Verdict.not_applicable("libvirt_enable_sasl is false")


def _libvirt_container(exp):
    return "nova_libvirt" if exp.libvirt_container else None


def _where_libvirtd(exp):
    return "in nova_libvirt" if exp.libvirt_container else "on the host (host libvirt)"


def _not_running(exp, facts):
    """In container mode, why nova_libvirt's own files cannot be read now ("" if they can)."""
    if not exp.libvirt_container:
        return ""
    ready = facts.probe(sasl.libvirtd_ready)
    return "" if ready.ready else ready.detail


def _sasl_conf(exp, facts) -> sasl.ConfCopy:
    """The SASL config libvirtd uses; while nova_libvirt's libvirtd is down, Kolla's source copy, which the
    container installs at its next start. The container's own copy is not judged then: in a restart loop it is read
    in the middle of kolla_set_configs (deleted, copied, then given its owner and mode), seen in the lab as an
    empty mech_list."""
    facts.prefetch((lambda: facts.probe(sasl.sasl_conf, _libvirt_container(exp)), lambda: _not_running(exp, facts)))
    conf = facts.probe(sasl.sasl_conf, _libvirt_container(exp))
    if not conf.unread and not _not_running(exp, facts):
        return conf
    return facts.probe(sasl.sasl_conf, None, f"{exp.node_config_directory}/nova-libvirt/sasl.conf")


def _source_note(exp, facts) -> str:
    """What a pass judged from Kolla's source copy (nova_libvirt not serving) says, so it never reads as a pass
    of the container's own files."""
    down = _not_running(exp, facts)
    return f" (judged from Kolla's source copy, installed at nova_libvirt's next start: {down})" if down else ""


def _restart_hint(exp):
    if exp.libvirt_container:
        return "run `kolla-ansible reconfigure -t nova` (it re-renders the file and restarts nova_libvirt)"
    return "fix the host libvirt's own file, then restart libvirtd"


@check(
    "sasl.libvirtd-listener",
    title="libvirtd.conf enables the listener and authentication Kolla intends",
    severity=Severity.BLOCKER,
    phases=("postdeploy",),
    doc=DOC,
    rationale="nova-compute connects to qemu+tcp (16509) or qemu+tls (16514) on the migration address; "
    "the listener, its port, its address and auth = sasl must match libvirt_tls and libvirt_enable_sasl.",
)
def libvirtd_listener(exp, facts):
    copies = facts.probe(sasl.libvirtd_confs, exp.libvirt_container, exp.node_config_directory)
    transport, other = ("tls", "tcp") if exp.libvirt_tls else ("tcp", "tls")
    wanted = {
        f"listen_{transport}": 1,
        f"listen_{other}": 0,
        f"{transport}_port": str(exp.libvirt_port),
        f"auth_{transport}": "sasl" if exp.sasl_enabled else "none",
        "listen_addr": exp.migration_address,
    }
    expected = ", ".join(f"{k} = {v!r}" for k, v in wanted.items())
    evidence, problems, unread = {}, [], []
    down = _not_running(exp, facts)
    for copy in copies:
        if copy.unread or (not copy.fact.exists and down and "nova_libvirt" in copy.where):
            evidence[copy.where] = f"not read: {copy.unread or down}"
            unread.append(f"{copy.where} ({copy.unread or down})")
            continue
        if not copy.fact.exists or copy.error:
            problems.append(f"{copy.where}: {copy.error or 'missing'}")
            continue
        seen = {key: sasl.effective(copy.values, key) for key in wanted}
        evidence[copy.where] = ", ".join(f"{k} = {v!r}" for k, v in seen.items())
        wrong = [
            f"{k} = {seen[k]!r}"
            for k, want in wanted.items()
            if str(seen[k]) != str(want)
            and not (k == "listen_addr" and not exp.libvirt_container and seen[k] in ("", "0.0.0.0", "::"))
        ]
        if wrong:
            problems.append(f"{copy.where}: " + ", ".join(wrong))
    if not problems:
        read = ", ".join(c.where for c in copies if c.values)
        return Verdict.passed_unless_unread(expected, f"as intended in {read}", unread, evidence)
    return Verdict.failed(expected, "; ".join(problems), _restart_hint(exp), evidence)


@check(
    "sasl.mech-list",
    title="The SASL mechanism list libvirtd uses is the intended one",
    severity=Severity.CRITICAL,
    phases=("postdeploy",),
    doc=DOC,
    rationale="Kolla renders /etc/sasl2/libvirt.conf with libvirt_sasl_mech_list (SCRAM-SHA-256 with TLS, "
    "DIGEST-MD5 without) and sasldb_path /etc/libvirt/passwd.db; a drifted copy breaks authentication.",
)
def mech_list(exp, facts):
    if skip := _sasl_only(exp):
        return skip
    conf = _sasl_conf(exp, facts)
    want_mechs = [m.upper() for m in exp.sasl_mech_list]
    expected = f"mech_list: {' '.join(exp.sasl_mech_list)}, sasldb_path: {sasl.SASLDB}"
    if not conf.fact.exists:
        return Verdict.failed(expected, f"{conf.where}: missing", _restart_hint(exp))
    evidence = {conf.where: conf.fact.content.strip()}
    problems = []
    if sorted(sasl.mech_list(conf.values)) != sorted(want_mechs):
        problems.append(f"mech_list: {conf.values.get('mech_list', '(unset: every installed mechanism)')}")
    if conf.values.get("sasldb_path") != sasl.SASLDB:
        problems.append(f"sasldb_path: {conf.values.get('sasldb_path', '(unset: Cyrus default /etc/sasldb2)')}")
    if not problems:
        actual = conf.fact.content.strip().replace("\n", ", ") + _source_note(exp, facts)
        return Verdict.passed(expected, actual, evidence)
    return Verdict.failed(
        expected,
        f"{conf.where}: " + ", ".join(problems),
        "set libvirt_sasl_mech_list in globals.yml if the list is deliberate, then " + _restart_hint(exp),
        evidence,
    )


@check(
    "sasl.mech-matches-tls",
    title="Every SASL mechanism can work on the listener's transport",
    severity=Severity.BLOCKER,
    phases=("predeploy", "postdeploy"),
    doc=DOC,
    rationale="Without TLS libvirt demands a SASL security layer (SSF >= 56): SCRAM-* on plain TCP can never "
    "authenticate ('No worthy mechs found'); DIGEST-MD5 (RFC 6331, not FIPS) is only Kolla's non-TLS "
    "choice.",
)
def mech_matches_tls(exp, facts):
    if skip := _sasl_only(exp):
        return skip
    transport = "TLS" if exp.libvirt_tls else "plain TCP"
    sources = [
        (
            f"libvirt_sasl_mech_list (intended, with libvirt_tls {str(exp.libvirt_tls).lower()})",
            [m.upper() for m in exp.sasl_mech_list],
        )
    ]
    conf = _sasl_conf(exp, facts)
    if conf.fact.exists and sasl.mech_list(conf.values):
        sources.append((conf.where, sasl.mech_list(conf.values)))
    evidence = {where: " ".join(mechs) for where, mechs in sources}
    expected = (
        "mechanisms with a security layer (DIGEST-MD5, GSSAPI) on plain TCP"
        if not exp.libvirt_tls
        else "SCRAM-SHA-256 (or another SCRAM) over TLS"
    )
    dead, weak = [], []
    for where, mechs in sources:
        if exp.libvirt_tls:
            if mechs and all(m == "DIGEST-MD5" for m in mechs):
                weak.append(f"{where}: DIGEST-MD5 over TLS")
        else:
            unusable = sasl.mechs_without_security_layer(mechs)
            if unusable and len(unusable) == len(mechs):
                dead.append(f"{where}: {' '.join(unusable)} on {transport}")
            elif unusable:
                weak.append(f"{where}: {' '.join(unusable)} can never be used on {transport}")
    if dead:
        return Verdict.failed(
            expected,
            "; ".join(dead) + " -- libvirt requires SSF >= 56 without TLS, SCRAM has no security layer, "
            "so every login fails with 'No worthy mechs found'",
            "either set libvirt_tls: true (SCRAM-SHA-256 is Kolla's TLS default) or set libvirt_sasl_mech_list: "
            "['DIGEST-MD5'], then run `kolla-ansible reconfigure -t nova`",
            evidence,
        )
    if weak:
        return Verdict.warning(
            expected,
            "; ".join(weak),
            "drop DIGEST-MD5 (obsolete, RFC 6331; fails under FIPS): use SCRAM-SHA-256 with TLS "
            "(Kolla's default: remove libvirt_sasl_mech_list from globals.yml)",
            evidence,
        )
    note = _source_note(exp, facts) if len(sources) > 1 else ""
    return Verdict.passed(expected, f"{' '.join(sources[-1][1])} on {transport}{note}", evidence)


@check(
    "sasl.plugins-installed",
    title="Cyrus SASL plugins are installed for every listed mechanism",
    severity=Severity.BLOCKER,
    phases=("predeploy", "postdeploy"),
    doc=DOC,
    rationale="A mechanism without its Cyrus plugin (cyrus-sasl-md5/-scram, libsasl2-modules) where libvirtd "
    "or nova-compute runs fails every login with 'authentication failed'.",
)
def plugins_installed(exp, facts):
    if skip := _sasl_only(exp):
        return skip
    places = (_libvirt_container(exp), "nova_compute")  # the server, and the client nova-compute
    facts.prefetch(functools.partial(facts.probe, sasl.sasl_plugins, container) for container in places)
    conf = _sasl_conf(exp, facts)
    mechs = list(dict.fromkeys([m.upper() for m in exp.sasl_mech_list] + sasl.mech_list(conf.values)))
    evidence, missing, unread = {}, [], []
    for container in places:
        found = facts.probe(sasl.sasl_plugins, container)
        label = f"{container or 'host'} ({found.source})"
        if not found.present:
            if container == "nova_libvirt":  # the server side cannot be judged
                return Verdict.not_judged(
                    f"{_not_running(exp, facts) or 'no nova_libvirt container'}: its Cyrus plugins cannot be listed"
                )
            evidence[label] = "container not running"
            unread.append(f"nova_compute's plugins ({found.source})")
            continue
        evidence[label] = " ".join(sorted(found.mechanisms)) or "none"
        lacking = [m for m in mechs if m not in found.mechanisms]
        if lacking:
            missing.append(f"{' '.join(lacking)} {found.where}")
    expected = f"plugins for {' '.join(mechs)} where libvirtd and nova-compute run"
    if not missing:
        return Verdict.passed_unless_unread(expected, "all installed", unread, evidence)
    hint = "install the Cyrus plugins (Debian/Ubuntu: libsasl2-modules; RHEL: cyrus-sasl-md5, cyrus-sasl-scram)" + (
        "; in container mode rebuild or update the Kolla images" if exp.libvirt_container else ""
    )
    return Verdict.failed(expected, "missing: " + "; ".join(missing), hint, evidence)


@check(
    "sasl.user-exists",
    title="The SASL user exists in libvirt's sasldb",
    severity=Severity.BLOCKER,
    phases=("postdeploy",),
    doc=DOC,
    rationale="nova-compute logs in as libvirt_sasl_authname; the sasldb is not on a volume, so a container "
    "recreated outside Kolla (or LP#2015589) loses the user: 'SASL(-13): user not found'.",
)
def user_exists(exp, facts):
    if skip := _sasl_only(exp):
        return skip
    # The default sasldb beside the conf that names it: one batch, unless the conf names another.
    facts.prefetch(
        (
            functools.partial(_sasl_conf, exp, facts),
            functools.partial(facts.probe, sasl.sasldb_users, _libvirt_container(exp), sasl.SASLDB),
        )
    )
    conf = _sasl_conf(exp, facts)
    path = conf.values.get("sasldb_path", sasl.SASLDB)
    if down := _not_running(exp, facts):
        return Verdict.not_judged(
            f"{down}: Kolla creates the SASL user only once libvirtd runs (see libvirt.container-healthy)"
        )
    db = facts.probe(sasl.sasldb_users, _libvirt_container(exp), path)
    evidence = {f"sasldblistusers2 -f {path} {db.where}": " ".join(db.users) or db.error or "no users"}
    expected = f"user {exp.sasl_authname} in {path} {_where_libvirtd(exp)}"
    if any(user.split("@")[0] == exp.sasl_authname for user in db.users):
        return Verdict.passed(expected, " ".join(db.users), evidence)
    actual = f"users: {' '.join(db.users)}" if db.users else (db.error or "no users")
    return Verdict.failed(
        expected,
        actual,
        RECREATE_USER.format(engine=exp.container_engine, user=exp.sasl_authname)
        if exp.libvirt_container
        else f"`saslpasswd2 -c -a libvirt {exp.sasl_authname}` on the host (password from passwords.yml)",
        evidence,
    )


@check(
    "sasl.auth-conf",
    title="auth.conf of nova_compute and nova_libvirt holds the intended credentials",
    severity=Severity.BLOCKER,
    phases=("postdeploy",),
    doc=DOC,
    rationale="nova-compute (and libvirtd for p2p migration) log in with libvirt's auth.conf; a stale password "
    "keeps nova-compute from connecting. Compared by hash on the host: the password never travels.",
)
def auth_conf(exp, facts):
    if skip := _sasl_only(exp):
        return skip
    want_hash = hashlib.sha256(exp.sasl_password.reveal().encode()).hexdigest()
    places = [("nova_compute", sasl.AUTH_CONF["nova_compute"])]
    if exp.libvirt_container:
        places.append(("nova_libvirt", sasl.AUTH_CONF["nova_libvirt"]))
    expected = f"authname={exp.sasl_authname} and the libvirt_sasl_password of passwords.yml"
    evidence, problems = {}, []
    facts.prefetch(
        [lambda: _not_running(exp, facts)]
        + [functools.partial(facts.probe, sasl.auth_conf, container, path) for container, path in places]
    )
    for container, path in places:
        if container == "nova_libvirt" and _not_running(exp, facts):  # Kolla's source, installed at start
            container, path = None, f"{exp.node_config_directory}/nova-libvirt/auth.conf"
        conf = facts.probe(sasl.auth_conf, container, path)
        if not conf.exists:
            problems.append(f"{conf.where}: missing")
            continue
        creds = sasl.auth_conf_credentials(conf.sections)
        match = bool(conf.password_sha256) and conf.password_sha256 == want_hash
        evidence[conf.where] = (
            f"authname={creds.get('authname', '(none)')}, password "
            f"{'matches passwords.yml' if match else 'differs from passwords.yml'}"
        )
        if creds.get("authname") != exp.sasl_authname:
            problems.append(f"{conf.where}: authname {creds.get('authname', '(none)')!r}")
        if not exp.sasl_password:
            problems.append("libvirt_sasl_password is not in passwords.yml")
        elif not match:
            problems.append(f"{conf.where}: password differs from passwords.yml")
    if not problems:
        return Verdict.passed(expected, "as intended" + _source_note(exp, facts), evidence)
    return Verdict.failed(
        expected,
        "; ".join(problems),
        "run `kolla-ansible reconfigure -t nova` so Kolla re-renders auth.conf from passwords.yml "
        "(and recreates the SASL user with the same password)",
        evidence,
    )


def _live_only(exp):
    if not exp.live_probes:
        return Verdict.not_applicable("live_probes is false in the profile")
    return None


def client_pki(exp):
    """The client material nova-compute uses, from the operator's Kolla config (TLS only, and only where
    tls.no_client_pki finds it is there: see live_auth)."""
    if not exp.libvirt_tls:
        return None, ""
    files = tls_probes.operator_files(exp.operator_config_dir, exp.host)
    missing = [name for name in tls_probes.CLIENT_FILES if files[name].path is None]
    if missing:
        return None, f"operator's {' '.join(missing)} not found (see tls.files-present)"
    return {name: files[name].read() for name in tls_probes.CLIENT_FILES}, ""


@check(
    "sasl.live-auth",
    title="libvirt accepts nova's credentials and refuses a wrong password",
    severity=Severity.BLOCKER,
    phases=("postdeploy",),
    doc=DOC,
    rationale="The end-to-end proof: from the suite's machine, libvirt-python opens the URI nova-compute uses "
    "with the passwords.yml credentials (and, with TLS, Kolla's client certificate).",
)
def live_auth(exp, facts):
    if skip := _sasl_only(exp) or _live_only(exp):
        return skip
    if exp.libvirt_tls and (reason := no_client_pki(exp)):  # as tls.live-handshake and tls.files-present
        return Verdict.not_applicable(f"{reason}: no TLS login from the suite's machine")
    pki, problem = client_pki(exp)
    if problem:
        return Verdict.failed(f"a SASL login to {exp.libvirt_uri}", problem, "see tls.files-present")
    good = facts.probe(live.libvirt_login, exp.libvirt_uri, exp.sasl_authname, exp.sasl_password, frozen_pki(pki))
    evidence = {
        "URI": exp.libvirt_uri,
        "advertised mechanisms": " ".join(good.mechanisms) or "(none seen)",
        "login with passwords.yml credentials": "accepted" if good.ok else good.error,
    }
    expected = f"{exp.sasl_authname} logs in to {exp.libvirt_uri}; a wrong password is refused"
    if not good.ok:
        return Verdict.failed(expected, f"login refused: {good.error}", _login_hint(good.error), evidence)
    wrong = Secret(exp.sasl_password.reveal() + "-wrong")
    bad = facts.probe(live.libvirt_login, exp.libvirt_uri, exp.sasl_authname, wrong, frozen_pki(pki))
    evidence["login with a wrong password"] = "accepted" if bad.ok else f"refused: {bad.error}"
    if bad.ok:
        return Verdict.failed(
            expected,
            "a wrong password was accepted",
            f'set auth_{"tls" if exp.libvirt_tls else "tcp"} = "sasl" in libvirtd.conf '
            "(libvirt_enable_sasl: true) and reconfigure",
            evidence,
        )
    return Verdict.passed(
        expected, f"login as {exp.sasl_authname} accepted ({good.hostname}); wrong password refused", evidence
    )


def frozen_pki(pki):
    return tuple(sorted(pki.items())) if pki else None


def _login_hint(error: str) -> str:
    text = error.lower()
    if "no worthy mechs" in text or "no mechanism available" in text:
        return "see sasl.mech-matches-tls: the mechanism cannot work on this transport"
    if "user not found" in text:
        return "see sasl.user-exists"
    if "certificate" in text or "tls" in text:
        return "see tls.live-handshake and the certificate checks"
    if "connection refused" in text or "unable to connect" in text:
        return "libvirtd does not listen there: see sasl.libvirtd-listener and tls.migration-hostname-resolves"
    return "compare sasl.user-exists, sasl.mech-list and sasl.plugins-installed; libvirtd's log has the server side"
