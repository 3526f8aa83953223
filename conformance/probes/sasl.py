"""Probes for libvirt's SASL setup: libvirtd.conf listeners, the SASL app config, Cyrus plugins, the sasldb, auth.conf.

Where things live follows docs/kolla-provenance.md §2: in container mode inside nova_libvirt (plus Kolla's
rendered copy in /etc/kolla/nova-libvirt), in host mode the host daemon's own files.
"""

from __future__ import annotations

import dataclasses
import functools
import re

from conformance.access import CommandResult
from conformance.conffiles import parse_ini, parse_libvirt_conf, parse_sasl_conf
from conformance.errors import ContainerUnavailable, ReadTimedOut
from conformance.facts import Facts, FileFact

LIBVIRTD_CONF = "/etc/libvirt/libvirtd.conf"
SASL_CONF = "/etc/sasl2/libvirt.conf"
SASLDB = "/etc/libvirt/passwd.db"
AUTH_CONF = {
    "nova_compute": "/var/lib/nova/.config/libvirt/auth.conf",  # nova-compute, the client
    "nova_libvirt": "/root/.config/libvirt/auth.conf",
}  # libvirtd as p2p migration client

# libvirtd's own defaults (libvirtd.conf comments), so a host daemon relying on them is read right.
LIBVIRTD_DEFAULTS = {
    "listen_tls": 1,
    "listen_tcp": 0,
    "auth_tls": "none",
    "auth_tcp": "sasl",
    "tls_port": "16514",
    "tcp_port": "16509",
    "listen_addr": "",
}

# Mechanisms with a security layer (SSF >= 56): the only ones libvirt accepts on a plain TCP listener
# (remote_daemon_dispatch.c: virNetSASLSessionSecProps(sasl, 56, 100000, false)).
MECHS_WITH_SECURITY_LAYER = frozenset({"DIGEST-MD5", "GSSAPI", "GS2-KRB5", "GS2-IAKERB", "GSS-SPNEGO"})

# Cyrus plugin file (lib<name>.so) per mechanism, for hosts without saslpluginviewer.
PLUGIN_FILES = {
    "DIGEST-MD5": "digestmd5",
    "CRAM-MD5": "crammd5",
    "PLAIN": "plain",
    "LOGIN": "login",
    "ANONYMOUS": "anonymous",
    "NTLM": "ntlm",
    "OTP": "otp",
    "GSSAPI": "gssapiv2",
    "GSS-SPNEGO": "gssapiv2",
    "GS2-KRB5": "gs2",
    "GS2-IAKERB": "gs2",
}


@dataclasses.dataclass(frozen=True)
class ConfCopy:
    """One copy of a config file: where it was read, and its parsed values (empty if missing or unreadable)."""

    where: str
    fact: FileFact
    values: dict
    error: str = ""
    unread: str = ""  # why it could not be read now (its container stopped or restarted meanwhile)


def _conf_copy(facts: Facts, path: str, container: str | None, parse) -> ConfCopy:
    """One copy of a config file, parsed; `unread` when its container could not be looked into now."""
    where = f"{path} {_where(container)}"
    try:
        fact = facts.file(path, container=container)
    except ContainerUnavailable as exc:
        return ConfCopy(where, FileFact(path, False), {}, unread=exc.problem)
    if not fact.exists:
        return ConfCopy(where, fact, {})
    try:
        return ConfCopy(where, fact, parse(fact.content))
    except ValueError as exc:
        return ConfCopy(where, fact, {}, str(exc))


def _where(container: str | None) -> str:
    return f"in {container}" if container else "on the host"


def libvirtd_confs(facts: Facts, container_mode: bool, node_config_directory: str) -> list[ConfCopy]:
    """Every libvirtd.conf that decides the listener: Kolla's rendered file and the one libvirtd reads."""
    places = (
        [(None, f"{node_config_directory}/nova-libvirt/libvirtd.conf"), ("nova_libvirt", LIBVIRTD_CONF)]
        if container_mode
        else [(None, LIBVIRTD_CONF)]
    )
    facts.prefetch(functools.partial(_conf_copy, facts, path, c, parse_libvirt_conf) for c, path in places)
    return [_conf_copy(facts, path, container, parse_libvirt_conf) for container, path in places]


def effective(values: dict, key: str):
    """A libvirtd.conf setting as libvirtd sees it: the file's value, else libvirtd's default."""
    return values.get(key, LIBVIRTD_DEFAULTS[key])


def sasl_conf(facts: Facts, container: str | None, path: str = SASL_CONF) -> ConfCopy:
    return _conf_copy(facts, path, container, parse_sasl_conf)


def mech_list(values: dict) -> list[str]:
    """Cyrus mech_list: separated by spaces or commas, case-insensitive."""
    return [m.upper() for m in re.split(r"[\s,]+", values.get("mech_list", "")) if m]


def mechs_without_security_layer(mechs) -> list[str]:
    return [m for m in mechs if m.upper() not in MECHS_WITH_SECURITY_LAYER]


@dataclasses.dataclass(frozen=True)
class Plugins:
    where: str
    mechanisms: frozenset[str]  # server-side mechanisms Cyrus can load there
    source: str  # how they were found (evidence)
    present: bool = True  # False: the container is absent or not running


def parse_pluginviewer(text: str) -> frozenset[str]:
    """`saslpluginviewer -s`: the mechanisms after 'Installed and properly configured SASL (server side)...'."""
    match = re.search(r"Installed and properly configured SASL \(server side\) mechanisms are:\s*\n(.*)", text)
    return frozenset(match.group(1).split()) if match else frozenset()


def parse_plugin_files(text: str) -> frozenset[str]:
    """File names in Cyrus plugin dirs -> mechanisms they provide (libscram provides every SCRAM-*)."""
    libs = {m.group(1) for m in re.finditer(r"\blib([a-z0-9]+)\.so\b", text)}
    mechs = {mech for mech, lib in PLUGIN_FILES.items() if lib in libs}
    if "scram" in libs:
        mechs |= {"SCRAM-SHA-1", "SCRAM-SHA-224", "SCRAM-SHA-256", "SCRAM-SHA-384", "SCRAM-SHA-512"}
    return frozenset(mechs)


def sasl_plugins(facts: Facts, container: str | None) -> Plugins:
    # saslpluginviewer (Debian) / pluginviewer (RPM) load each plugin, the strongest evidence; else list files.
    command = (
        "v=$(command -v saslpluginviewer || command -v pluginviewer) && $v -s 2>/dev/null "
        "|| ls -1 /usr/lib/sasl2 /usr/lib64/sasl2 /usr/lib/*/sasl2 2>/dev/null"
    )
    try:
        result = facts.run_in(container, command) if container else facts.run(command)
    except ContainerUnavailable as exc:
        return Plugins(_where(container), frozenset(), exc.problem, present=False)
    mechs = parse_pluginviewer(result.stdout)
    if mechs:
        return Plugins(_where(container), mechs, "saslpluginviewer -s")
    return Plugins(_where(container), parse_plugin_files(result.stdout), "plugin files in /usr/lib*/sasl2")


NOVA_LIBVIRT_HEALTHCHECK = "virsh version --daemon 2>&1"  # Kolla's healthcheck of nova_libvirt


def nova_libvirt_healthcheck(facts: Facts) -> CommandResult:
    return facts.run_in("nova_libvirt", NOVA_LIBVIRT_HEALTHCHECK)


@dataclasses.dataclass(frozen=True)
class LibvirtdReady:
    ready: bool
    detail: str


def libvirtd_ready(facts: Facts) -> LibvirtdReady:
    """Whether libvirtd serves in nova_libvirt: Kolla's healthcheck for the container (the same command, so
    libvirt.container-healthy shares the one exec through the facts cache).

    Not Kolla's handler test `ls /run/libvirtd.pid`: /run is shared with the host and libvirtd writes its pid file
    before it fails on a bad certificate, so in a restart loop that test passes while the container's files are
    not in place yet."""
    try:
        result = facts.probe(nova_libvirt_healthcheck)
    except ContainerUnavailable as exc:
        return LibvirtdReady(False, f"nova_libvirt is not running ({exc.problem})")
    except ReadTimedOut as exc:
        return LibvirtdReady(False, f"libvirtd in nova_libvirt does not answer ({exc})")
    if result.ok:
        return LibvirtdReady(True, "libvirtd serves in nova_libvirt")
    reason = (result.stdout.strip().splitlines() or ["virsh version --daemon failed"])[-1]
    return LibvirtdReady(False, f"libvirtd is not running in nova_libvirt ({reason})")


@dataclasses.dataclass(frozen=True)
class SaslDb:
    where: str
    users: tuple[str, ...]  # user@realm
    error: str


def parse_sasldblistusers(text: str) -> tuple[str, ...]:
    """`sasldblistusers2` lines `nova@h1: userPassword` -> ('nova@h1',)."""
    return tuple(dict.fromkeys(m.group(1) for m in re.finditer(r"^(\S+@\S*): \S+", text, re.M)))


def sasldb_users(facts: Facts, container: str | None, path: str) -> SaslDb:
    command = "sasldblistusers2 -f %s 2>&1"
    result = facts.run_in(container, command, path) if container else facts.run(command, path)
    users = parse_sasldblistusers(result.stdout)
    error = "" if users or result.ok else (result.stdout.strip() or result.stderr.strip() or f"exit {result.rc}")
    return SaslDb(_where(container), users, error)


@dataclasses.dataclass(frozen=True)
class AuthConf:
    """A libvirt auth.conf with its password reduced to a hash on the host: the password never travels."""

    where: str
    exists: bool
    sections: dict  # parsed, password values masked
    password_sha256: str  # sha256 of the first password= value, hex ("" if none)


_MASK_PASSWORD = r"s/^\([[:space:]]*password[[:space:]]*=\).*/\1<masked on the host>/"
# `-e SCRIPT -- PATH`: the path is an operand whatever it starts with (a path "-ew ..." is a sed script otherwise).
_AUTH_CONF = (
    "test -f %s || exit 3; sed -e %s -- %s; echo '--sha256--'; "
    "sed -n -e 's/^[[:space:]]*password[[:space:]]*=[[:space:]]*//p' -- %s | head -n1 | tr -d '\\r\\n' "
    "| sha256sum"
)


def auth_conf(facts: Facts, container: str | None, path: str) -> AuthConf:
    args = (path, _MASK_PASSWORD, path, path)
    result = facts.run_in(container, _AUTH_CONF, *args) if container else facts.run(_AUTH_CONF, *args)
    where = f"{path} {_where(container)}"
    if result.rc == 3 or "--sha256--" not in result.stdout:
        return AuthConf(where, False, {}, "")
    text, _, digest = result.stdout.partition("--sha256--")
    sections = parse_ini(text)
    has_password = any("password" in values for values in sections.values())
    return AuthConf(where, True, sections, digest.split()[0] if has_password and digest.split() else "")


def auth_conf_credentials(sections: dict) -> dict:
    """The credentials libvirt uses for its default auth: [auth-libvirt-default] credentials=X -> [credentials-X]."""
    name = sections.get("auth-libvirt-default", {}).get("credentials")
    return sections.get(f"credentials-{name}", {}) if name else {}
