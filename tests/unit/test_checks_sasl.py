"""Every branch of the sasl.* checks on recorded probe values. The lab tests prove the real failures (faults
scram-over-tcp, digest-with-tls, sasl-user-missing, auth-conf-wrong-password, sasl-plugin-missing; restart loops).

Live logins are recorded too (tests/unit/data/recorded/live_*.json: `live.libvirt_login` from this machine against lab
hosts): libvirt's real error texts decide which hint an operator gets."""

from __future__ import annotations

import dataclasses

import pytest

from conformance.errors import ContainerUnavailable, ReadTimedOut
from conformance.facts import FileFact
from conformance.kolla.expectations import Secret
from conformance.model import Status
from conformance.probes import live, sasl
from tests.unit.recorded import (
    DERIVE,
    HOST_MODE,
    NOT_JUDGED,
    SASL_PASSWORD,
    TLS,
    asked,
    case,
    kolla_pki,
    pki_file,
    recording,
    result,
)

PASS, WARN, FAIL, NA = Status.PASS, Status.WARN, Status.FAIL, Status.NOT_APPLICABLE
# The recorded hosts: compute01 (docker, TLS, 10.77.4.11: container_tls.json), compute02 (host mode, TCP, 10.77.4.12:
# host_mode.json); the stopped_libvirt.json host is compute01 after `docker stop nova_libvirt`.
CT = {**TLS, "migration_hostname": "compute01", "migration_address": "10.77.4.11"}
HM = {**HOST_MODE, "host": "compute02", "migration_hostname": "compute02", "migration_address": "10.77.4.12"}
NO_SASL = {"sasl_enabled": False}
SOURCE_SASL = (sasl.sasl_conf, None, "/etc/kolla/nova-libvirt/sasl.conf")
SOURCE_AUTH = "/etc/kolla/nova-libvirt/auth.conf"


def rec(name):
    return recording(name)


def ct(records=None):
    """compute01 as recorded, libvirtd serving in nova_libvirt."""
    return rec("container_tls").facts({sasl.libvirtd_ready: DERIVE, **(records or {})})


def stopped(records=None):
    """compute01 with nova_libvirt stopped: what could be read then, and Kolla's source files on the host."""
    return rec("stopped_libvirt").facts(
        {sasl.libvirtd_ready: DERIVE, SOURCE_SASL: ct_value(*SOURCE_SASL), **(records or {})}
    )


def hm(records=None):
    return rec("host_mode").facts(records)


def ct_value(fn, *args, **kw):
    return rec("container_tls").value(fn, *args, **kw)


def confs(edit, only=None, name="container_tls", mode=(True, "/etc/kolla")):
    return rec(name).value(sasl.libvirtd_confs, *mode, edit=edit, only=only)


def drop(line):
    return lambda text: text.replace(line, "")


def sub(old, new):
    return lambda text: text.replace(old, new)


UNREAD = "Error response from daemon: Container 59804d09ce60 is not running"


LIBVIRTD_LISTENER = [
    case(
        "sasl.libvirtd-listener",
        "pass: container mode, TLS, both copies",
        PASS,
        ct,
        exp=CT,
        expected=(
            "listen_tls = 1",
            "listen_tcp = 0",
            "tls_port = '16514'",
            "auth_tls = 'sasl'",
            "listen_addr = '10.77.4.11'",
        ),
        actual=("/etc/kolla/nova-libvirt/libvirtd.conf on the host", "/etc/libvirt/libvirtd.conf in nova_libvirt"),
    ),
    case(
        "sasl.libvirtd-listener",
        "pass: host mode, TCP",
        PASS,
        hm,
        exp=HM,
        actual="/etc/libvirt/libvirtd.conf on the host",
    ),
    case(
        "sasl.libvirtd-listener",
        "pass: host mode listens on all addresses (listen_addr default)",
        PASS,
        lambda: hm(
            {
                sasl.libvirtd_confs: confs(
                    drop('listen_addr = "10.77.4.12"\n'), name="host_mode", mode=(False, "/etc/kolla")
                )
            }
        ),
        exp=HM,
        says={"/etc/libvirt/libvirtd.conf on the host": "listen_addr = ''"},
    ),
    case(
        "sasl.libvirtd-listener",
        "fail: container mode listens on all addresses",
        FAIL,
        lambda: ct({sasl.libvirtd_confs: confs(sub('listen_addr = "10.77.4.11"', 'listen_addr = "0.0.0.0"'))}),
        exp=CT,
        actual=(
            "/etc/kolla/nova-libvirt/libvirtd.conf on the host: listen_addr = '0.0.0.0'",
            "/etc/libvirt/libvirtd.conf in nova_libvirt: listen_addr = '0.0.0.0'",
        ),
        hint="kolla-ansible reconfigure -t nova",
    ),
    case(
        "sasl.libvirtd-listener",
        "fail: the copy in nova_libvirt drifted (TCP listener on)",
        FAIL,
        lambda: ct({sasl.libvirtd_confs: confs(sub("listen_tcp = 0", "listen_tcp = 1"), only=1)}),
        exp=CT,
        actual="/etc/libvirt/libvirtd.conf in nova_libvirt: listen_tcp = 1",
        lacks={"actual": "on the host"},
    ),
    case(
        "sasl.libvirtd-listener",
        "fail: auth_tls none (libvirtd's default) while SASL is on",
        FAIL,
        lambda: ct({sasl.libvirtd_confs: confs(drop('auth_tls = "sasl"\n'))}),
        exp=CT,
        actual="auth_tls = 'none'",
    ),
    case(
        "sasl.libvirtd-listener",
        "fail: SASL on while libvirt_enable_sasl is false",
        FAIL,
        ct,
        exp={**CT, **NO_SASL},
        expected="auth_tls = 'none'",
        actual="auth_tls = 'sasl'",
    ),
    case(
        "sasl.libvirtd-listener",
        "fail: TLS listener while libvirt_tls is false",
        FAIL,
        ct,
        exp={"migration_address": "10.77.4.11"},
        actual=("/etc/kolla/nova-libvirt/libvirtd.conf on the host: listen_tcp = 0, listen_tls = 1",),
    ),
    case(
        "sasl.libvirtd-listener",
        "fail: host mode, own file wrong",
        FAIL,
        lambda: hm(
            {
                sasl.libvirtd_confs: confs(
                    sub('tcp_port = "16509"', 'tcp_port = "16510"'), name="host_mode", mode=(False, "/etc/kolla")
                )
            }
        ),
        exp=HM,
        actual="tcp_port = '16510'",
        hint=("fix the host libvirt's own file", "restart libvirtd"),
    ),
    case(
        "sasl.libvirtd-listener",
        "not judged: the copy in a restarting nova_libvirt unread",
        NOT_JUDGED,
        lambda: ct(
            {
                sasl.libvirtd_confs: [
                    ct_value(sasl.libvirtd_confs, True, "/etc/kolla")[0],
                    sasl.ConfCopy(
                        "/etc/libvirt/libvirtd.conf in nova_libvirt",
                        FileFact("/etc/libvirt/libvirtd.conf", False),
                        {},
                        unread=UNREAD,
                    ),
                ]
            }
        ),
        exp=CT,
        actual="as intended in /etc/kolla/nova-libvirt/libvirtd.conf on the host",
        says={"/etc/libvirt/libvirtd.conf in nova_libvirt": f"not read: {UNREAD}"},
    ),
    case(
        "sasl.libvirtd-listener",
        "not judged: nova_libvirt stopped, its copy absent",
        NOT_JUDGED,
        lambda: stopped(
            {
                sasl.libvirtd_confs: [
                    ct_value(sasl.libvirtd_confs, True, "/etc/kolla")[0],
                    sasl.ConfCopy(
                        "/etc/libvirt/libvirtd.conf in nova_libvirt", FileFact("/etc/libvirt/libvirtd.conf", False), {}
                    ),
                ]
            }
        ),
        exp=CT,
        says={"/etc/libvirt/libvirtd.conf in nova_libvirt": "not read: nova_libvirt is not running"},
    ),
    case(
        "sasl.libvirtd-listener",
        "fail: the copy in a running nova_libvirt missing",
        FAIL,
        lambda: ct(
            {
                sasl.libvirtd_confs: [
                    ct_value(sasl.libvirtd_confs, True, "/etc/kolla")[0],
                    sasl.ConfCopy(
                        "/etc/libvirt/libvirtd.conf in nova_libvirt", FileFact("/etc/libvirt/libvirtd.conf", False), {}
                    ),
                ]
            }
        ),
        exp=CT,
        actual="/etc/libvirt/libvirtd.conf in nova_libvirt: missing",
    ),
    case(
        "sasl.libvirtd-listener",
        "fail: Kolla's rendered copy missing, nova_libvirt stopped",
        FAIL,
        lambda: stopped(
            {
                sasl.libvirtd_confs: [
                    sasl.ConfCopy(
                        "/etc/kolla/nova-libvirt/libvirtd.conf on the host",
                        FileFact("/etc/kolla/nova-libvirt/libvirtd.conf", False),
                        {},
                    ),
                    ct_value(sasl.libvirtd_confs, True, "/etc/kolla")[1],
                ]
            }
        ),
        exp=CT,
        actual="/etc/kolla/nova-libvirt/libvirtd.conf on the host: missing",
    ),
    case(
        "sasl.libvirtd-listener",
        "fail: unparsable file",
        FAIL,
        lambda: ct({sasl.libvirtd_confs: confs(sub("listen_tls = 1", "listen_tls = yes"), only=0)}),
        exp=CT,
        actual="/etc/kolla/nova-libvirt/libvirtd.conf on the host: cannot parse libvirt config near ' yes",
    ),
]


def sasl_conf(edit, name="container_tls", container="nova_libvirt"):
    return rec(name).value(sasl.sasl_conf, container, edit=edit)


MISSING_SASL_CONF = sasl.ConfCopy(
    "/etc/sasl2/libvirt.conf in nova_libvirt", FileFact("/etc/sasl2/libvirt.conf", False), {}
)
HOST_SASL_MISSING = sasl.ConfCopy("/etc/sasl2/libvirt.conf on the host", FileFact("/etc/sasl2/libvirt.conf", False), {})
HEALTHCHECK_FAILS = result("error: failed to connect to the hypervisor\n", rc=1)

MECH_LIST = [
    case("sasl.mech-list", "n/a: SASL off", NA, {}, exp=NO_SASL, actual="libvirt_enable_sasl is false"),
    case(
        "sasl.mech-list",
        "pass: SCRAM-SHA-256 with TLS",
        PASS,
        ct,
        exp=CT,
        expected=("mech_list: SCRAM-SHA-256", "sasldb_path: /etc/libvirt/passwd.db"),
        actual="mech_list: SCRAM-SHA-256, sasldb_path: /etc/libvirt/passwd.db",
        then=asked(sasl.sasl_conf, ("nova_libvirt",)),
    ),
    case("sasl.mech-list", "pass: host mode DIGEST-MD5", PASS, hm, exp=HM, then=asked(sasl.sasl_conf, (None,))),
    case(
        "sasl.mech-list",
        "fail: another mechanism",
        FAIL,
        lambda: ct({sasl.sasl_conf: sasl_conf(sub("SCRAM-SHA-256", "DIGEST-MD5"))}),
        exp=CT,
        actual="/etc/sasl2/libvirt.conf in nova_libvirt: mech_list: DIGEST-MD5",
        hint=("libvirt_sasl_mech_list", "kolla-ansible reconfigure -t nova"),
    ),
    case(
        "sasl.mech-list",
        "pass: same mechanisms, other case and order",
        PASS,
        lambda: ct({sasl.sasl_conf: sasl_conf(sub("SCRAM-SHA-256", "scram-sha-256"))}),
        exp=CT,
    ),
    case(
        "sasl.mech-list",
        "fail: mech_list unset",
        FAIL,
        lambda: ct({sasl.sasl_conf: sasl_conf(drop("mech_list: SCRAM-SHA-256\n"))}),
        exp=CT,
        actual="mech_list: (unset: every installed mechanism)",
    ),
    case(
        "sasl.mech-list",
        "fail: sasldb_path unset",
        FAIL,
        lambda: ct({sasl.sasl_conf: sasl_conf(drop("sasldb_path: /etc/libvirt/passwd.db\n"))}),
        exp=CT,
        actual="sasldb_path: (unset: Cyrus default /etc/sasldb2)",
    ),
    case(
        "sasl.mech-list",
        "fail: host mode file missing",
        FAIL,
        {sasl.sasl_conf: HOST_SASL_MISSING},
        exp=HM,
        actual="/etc/sasl2/libvirt.conf on the host: missing",
        hint="fix the host libvirt's own file",
    ),
    case(
        "sasl.mech-list",
        "fail: missing in a running nova_libvirt",
        FAIL,
        lambda: ct({(sasl.sasl_conf, "nova_libvirt"): MISSING_SASL_CONF}),
        exp=CT,
        actual="in nova_libvirt: missing",
        then=asked(sasl.sasl_conf, ("nova_libvirt",)),
    ),
    case(
        "sasl.mech-list",
        "pass: nova_libvirt stopped, Kolla's source copy judged",
        PASS,
        stopped,
        exp=CT,
        actual="mech_list: SCRAM-SHA-256",
        evidence="/etc/kolla/nova-libvirt/sasl.conf on the host",
        then=asked(sasl.sasl_conf, ("nova_libvirt",), SOURCE_SASL[1:]),
    ),
    case(
        "sasl.mech-list",
        "pass: nova_libvirt's libvirtd down, its copy absent: the source",
        PASS,
        lambda: ct(
            {(sasl.sasl_conf, "nova_libvirt"): MISSING_SASL_CONF, sasl.nova_libvirt_healthcheck: HEALTHCHECK_FAILS}
        ),
        exp=CT,
        then=asked(sasl.sasl_conf, ("nova_libvirt",), SOURCE_SASL[1:]),
    ),
    case(
        "sasl.mech-list",
        "pass: nova_libvirt in a restart loop, its copy read mid-start (empty): the source is judged",
        PASS,
        lambda: ct(
            {
                (sasl.sasl_conf, "nova_libvirt"): sasl.ConfCopy(
                    "/etc/sasl2/libvirt.conf in nova_libvirt", FileFact("/etc/sasl2/libvirt.conf", True, ""), {}
                ),
                sasl.nova_libvirt_healthcheck: HEALTHCHECK_FAILS,
            }
        ),
        exp=CT,
        actual="mech_list: SCRAM-SHA-256",
        evidence="/etc/kolla/nova-libvirt/sasl.conf on the host",
        then=asked(sasl.sasl_conf, ("nova_libvirt",), SOURCE_SASL[1:]),
    ),
]

SCRAM_ON_TCP = sub("DIGEST-MD5", "SCRAM-SHA-256")  # the lab's scram-over-tcp fault
MECH_MATCHES_TLS = [
    case("sasl.mech-matches-tls", "n/a: SASL off", NA, {}, exp=NO_SASL),
    case(
        "sasl.mech-matches-tls",
        "pass: DIGEST-MD5 on plain TCP",
        PASS,
        hm,
        exp=HM,
        actual="DIGEST-MD5 on plain TCP",
        evidence=("libvirt_sasl_mech_list (intended", "/etc/sasl2/libvirt.conf"),
    ),
    case("sasl.mech-matches-tls", "pass: SCRAM-SHA-256 over TLS", PASS, ct, exp=CT, actual="SCRAM-SHA-256 on TLS"),
    case(
        "sasl.mech-matches-tls",
        "fail: SCRAM on plain TCP (rendered)",
        FAIL,
        lambda: hm({sasl.sasl_conf: sasl_conf(SCRAM_ON_TCP, "host_mode", None)}),
        exp=HM,
        actual=("/etc/sasl2/libvirt.conf on the host: SCRAM-SHA-256 on plain TCP", "No worthy mechs found"),
        hint=("libvirt_tls: true", "libvirt_sasl_mech_list: ['DIGEST-MD5']"),
    ),
    case(
        "sasl.mech-matches-tls",
        "fail: SCRAM on plain TCP (intended)",
        FAIL,
        {sasl.sasl_conf: HOST_SASL_MISSING},
        exp={**HM, "sasl_mech_list": ("SCRAM-SHA-256",)},
        actual="libvirt_sasl_mech_list (intended, with libvirt_tls false): SCRAM-SHA-256 on plain TCP",
    ),
    case(
        "sasl.mech-matches-tls",
        "warn: SCRAM beside DIGEST-MD5 on plain TCP",
        WARN,
        lambda: hm({sasl.sasl_conf: sasl_conf(sub("DIGEST-MD5", "DIGEST-MD5 SCRAM-SHA-256"), "host_mode", None)}),
        exp=HM,
        actual="SCRAM-SHA-256 can never be used on plain TCP",
        hint="drop DIGEST-MD5",
    ),
    case(
        "sasl.mech-matches-tls",
        "warn: DIGEST-MD5 over TLS",
        WARN,
        lambda: ct({sasl.sasl_conf: sasl_conf(sub("SCRAM-SHA-256", "DIGEST-MD5"))}),
        exp=CT,
        actual="/etc/sasl2/libvirt.conf in nova_libvirt: DIGEST-MD5 over TLS",
        hint=("RFC 6331", "remove libvirt_sasl_mech_list"),
    ),
    case(
        "sasl.mech-matches-tls",
        "pass: rendered file without mech_list: the intended list judged",
        PASS,
        lambda: ct({sasl.sasl_conf: sasl_conf(drop("mech_list: SCRAM-SHA-256\n"))}),
        exp=CT,
        evidence="libvirt_sasl_mech_list (intended",
        lacks={"evidence": "/etc/sasl2/libvirt.conf"},
    ),
    case(
        "sasl.mech-matches-tls",
        "pass: TLS with an empty intended list",
        PASS,
        {sasl.sasl_conf: HOST_SASL_MISSING},
        exp={**HM, **TLS, "sasl_mech_list": ()},
    ),
]


def plugins(name, container):
    return rec(name).value(sasl.sasl_plugins, container)


# Debian's libsasl2-modules without libdigestmd5 (what `ls -1 /usr/lib/*/sasl2` prints there), parsed by the probe.
PLUGIN_FILES_NO_DIGEST = sasl.Plugins(
    "on the host",
    sasl.parse_plugin_files(
        "/usr/lib/x86_64-linux-gnu/sasl2:\nlibanonymous.so\nlibanonymous.so.2\nlibanonymous.so.2.0.25\nlibcrammd5.so\n"
        "libcrammd5.so.2\nlibcrammd5.so.2.0.25\nliblogin.so\nliblogin.so.2\nlibplain.so\nlibplain.so.2\nlibscram.so\n"
        "libscram.so.2\nlibscram.so.2.0.25\n"
    ),
    "plugin files in /usr/lib*/sasl2",
)

PLUGINS_INSTALLED = [
    case("sasl.plugins-installed", "n/a: SASL off", NA, {}, exp=NO_SASL),
    case(
        "sasl.plugins-installed",
        "pass: container mode, server and client",
        PASS,
        ct,
        exp=CT,
        actual="all installed",
        expected="plugins for SCRAM-SHA-256",
        evidence=("nova_libvirt (saslpluginviewer -s)", "nova_compute (saslpluginviewer -s)"),
        then=asked(sasl.sasl_plugins, ("nova_libvirt",), ("nova_compute",)),
    ),
    case(
        "sasl.plugins-installed",
        "fail: nova_libvirt lacks DIGEST-MD5",
        FAIL,
        lambda: rec("plugin_missing").facts(
            {
                sasl.libvirtd_ready: DERIVE,
                sasl.nova_libvirt_healthcheck: ct_value(sasl.nova_libvirt_healthcheck),
                (sasl.sasl_plugins, "nova_compute"): plugins("container_tls", "nova_compute"),
            }
        ),
        exp={"container_engine": "podman"},
        actual="missing: DIGEST-MD5 in nova_libvirt",
        hint=("libsasl2-modules", "cyrus-sasl-md5", "rebuild or update the Kolla images"),
    ),
    case(
        "sasl.plugins-installed",
        "fail: host mode, the host lacks DIGEST-MD5",
        FAIL,
        lambda: hm(
            {
                (sasl.sasl_plugins, None): PLUGIN_FILES_NO_DIGEST,
                (sasl.sasl_plugins, "nova_compute"): plugins("container_tls", "nova_compute"),
            }
        ),
        exp=HM,
        actual="missing: DIGEST-MD5 on the host",
        evidence="host (plugin files in /usr/lib*/sasl2)",
        lacks={"hint": "Kolla images"},
    ),
    case(
        "sasl.plugins-installed",
        "fail: the mechanism sasl.conf adds is missing in nova_compute",
        FAIL,
        lambda: ct({sasl.sasl_conf: sasl_conf(sub("SCRAM-SHA-256", "SCRAM-SHA-256 GSSAPI"))}),
        exp=CT,
        expected="plugins for SCRAM-SHA-256 GSSAPI",
        actual=("GSSAPI in nova_libvirt", "GSSAPI in nova_compute"),
    ),
    case(
        "sasl.plugins-installed",
        "not judged: nova_compute not running: its plugins unread",
        NOT_JUDGED,
        lambda: ct(
            {(sasl.sasl_plugins, "nova_compute"): sasl.Plugins("in nova_compute", frozenset(), UNREAD, present=False)}
        ),
        exp=CT,
        says={f"nova_compute ({UNREAD})": "container not running"},
    ),
    case(
        "sasl.plugins-installed",
        "not judged: nova_libvirt stopped",
        NOT_JUDGED,
        lambda: stopped({(sasl.sasl_plugins, "nova_compute"): plugins("container_tls", "nova_compute")}),
        exp=CT,
        actual=("nova_libvirt is not running", "is not running", "its Cyrus plugins cannot be listed"),
    ),
    case(
        "sasl.plugins-installed",
        "not judged: nova_libvirt gone between healthcheck and listing",
        NOT_JUDGED,
        lambda: ct({(sasl.sasl_plugins, "nova_libvirt"): plugins("stopped_libvirt", "nova_libvirt")}),
        exp=CT,
        actual="no nova_libvirt container: its Cyrus plugins cannot be listed",
    ),
]


def users(*names, error=""):
    return sasl.SaslDb("in nova_libvirt", tuple(names), error)


USER_EXISTS = [
    case("sasl.user-exists", "n/a: SASL off", NA, {}, exp=NO_SASL),
    case(
        "sasl.user-exists",
        "pass: container mode",
        PASS,
        ct,
        exp=CT,
        actual="nova@compute01",
        expected="user nova in /etc/libvirt/passwd.db in nova_libvirt",
        then=asked(sasl.sasldb_users, ("nova_libvirt", "/etc/libvirt/passwd.db")),
    ),
    case(
        "sasl.user-exists",
        "pass: host mode",
        PASS,
        hm,
        exp=HM,
        expected="on the host (host libvirt)",
        then=asked(sasl.sasldb_users, (None, "/etc/libvirt/passwd.db")),
    ),
    case(
        "sasl.user-exists",
        "fail: the user never created (sasl-user-missing)",
        FAIL,
        lambda: rec("faulty").facts(
            {sasl.libvirtd_ready: DERIVE, sasl.nova_libvirt_healthcheck: ct_value(sasl.nova_libvirt_healthcheck)}
        ),
        actual="no users",
        hint=("docker exec -i nova_libvirt saslpasswd2 -c -p -a libvirt nova", "kolla-ansible deploy"),
    ),
    case(
        "sasl.user-exists",
        "fail: other users only",
        FAIL,
        lambda: ct({sasl.sasldb_users: users("admin@compute01")}),
        exp={**CT, "container_engine": "podman"},
        actual="users: admin@compute01",
        hint="podman exec -i nova_libvirt saslpasswd2",
    ),
    case(
        "sasl.user-exists",
        "pass: the same name in another realm",
        PASS,
        lambda: ct({sasl.sasldb_users: users("nova@compute01.example")}),
        exp=CT,
    ),
    case(
        "sasl.user-exists",
        "fail: the sasldb cannot be read",
        FAIL,
        lambda: ct({sasl.sasldb_users: users(error="sasldblistusers2: cannot open /etc/libvirt/passwd.db")}),
        exp=CT,
        actual="cannot open /etc/libvirt/passwd.db",
    ),
    case(
        "sasl.user-exists",
        "fail: host mode, no user",
        FAIL,
        lambda: hm({sasl.sasldb_users: sasl.SaslDb("on the host", (), "")}),
        exp=HM,
        actual="no users",
        hint="`saslpasswd2 -c -a libvirt nova` on the host",
    ),
    case(
        "sasl.user-exists",
        "pass: the sasldb sasl.conf names",
        PASS,
        lambda: ct(
            {
                sasl.sasl_conf: sasl_conf(sub("/etc/libvirt/passwd.db", "/var/lib/libvirt/sasl.db")),
                sasl.sasldb_users: ct_value(sasl.sasldb_users, "nova_libvirt", sasl.SASLDB),
            }
        ),
        exp=CT,
        then=asked(sasl.sasldb_users, ("nova_libvirt", "/var/lib/libvirt/sasl.db")),
    ),
    case(
        "sasl.user-exists",
        "not judged: nova_libvirt stopped",
        NOT_JUDGED,
        stopped,
        exp=CT,
        actual=(
            "nova_libvirt is not running",
            "Kolla creates the SASL user only once libvirtd runs",
            "libvirt.container-healthy",
        ),
        then=asked(sasl.sasldb_users),
    ),
]


def auth(container, path, **changes):
    return dataclasses.replace(ct_value(sasl.auth_conf, container, path), **changes)


COMPUTE_AUTH = ("nova_compute", sasl.AUTH_CONF["nova_compute"])
LIBVIRT_AUTH = ("nova_libvirt", sasl.AUTH_CONF["nova_libvirt"])

AUTH_CONF = [
    case("sasl.auth-conf", "n/a: SASL off", NA, {}, exp=NO_SASL),
    case(
        "sasl.auth-conf",
        "pass: nova_compute and nova_libvirt",
        PASS,
        ct,
        exp=CT,
        actual="as intended",
        says={
            "/var/lib/nova/.config/libvirt/auth.conf in nova_compute": (
                "authname=nova",
                "password matches passwords.yml",
            ),
            "/root/.config/libvirt/auth.conf in nova_libvirt": "password matches",
        },
    ),
    case(
        "sasl.auth-conf",
        "pass: host mode, nova_compute only",
        PASS,
        lambda: hm({sasl.auth_conf: ct_value(sasl.auth_conf, *COMPUTE_AUTH)}),
        exp=HM,
        then=asked(sasl.auth_conf, COMPUTE_AUTH),
    ),
    case(
        "sasl.auth-conf",
        "pass: nova_libvirt stopped, Kolla's source copy judged",
        PASS,
        lambda: stopped(
            {
                (sasl.auth_conf, *COMPUTE_AUTH): ct_value(sasl.auth_conf, *COMPUTE_AUTH),
                (sasl.auth_conf, None, SOURCE_AUTH): auth(*LIBVIRT_AUTH, where=f"{SOURCE_AUTH} on the host"),
            }
        ),
        exp=CT,
        evidence=f"{SOURCE_AUTH} on the host",
        then=asked(sasl.auth_conf, COMPUTE_AUTH, (None, SOURCE_AUTH)),
    ),
    case(
        "sasl.auth-conf",
        "fail: stale password (auth-conf-wrong-password)",
        FAIL,
        ct,
        exp={**CT, "sasl_password": "a-newer-password"},
        actual=(
            "/var/lib/nova/.config/libvirt/auth.conf in nova_compute: password differs from passwords.yml",
            "/root/.config/libvirt/auth.conf in nova_libvirt: password differs",
        ),
        hint="kolla-ansible reconfigure -t nova",
        lacks={"actual": "a-newer-password", "evidence": "a-newer-password"},
    ),
    case(
        "sasl.auth-conf",
        "fail: missing in nova_compute",
        FAIL,
        lambda: ct(
            {
                (sasl.auth_conf, *COMPUTE_AUTH): sasl.AuthConf(
                    "/var/lib/nova/.config/libvirt/auth.conf in nova_compute", False, {}, ""
                )
            }
        ),
        exp=CT,
        actual="/var/lib/nova/.config/libvirt/auth.conf in nova_compute: missing",
    ),
    case(
        "sasl.auth-conf",
        "fail: another authname",
        FAIL,
        lambda: ct(
            {
                (sasl.auth_conf, *COMPUTE_AUTH): auth(
                    *COMPUTE_AUTH,
                    sections={
                        "credentials-default": {"authname": "admin", "password": "<masked on the host>"},
                        "auth-libvirt-default": {"credentials": "default"},
                    },
                )
            }
        ),
        exp=CT,
        actual="authname 'admin'",
    ),
    case(
        "sasl.auth-conf",
        "fail: no credentials section",
        FAIL,
        lambda: ct({(sasl.auth_conf, *COMPUTE_AUTH): auth(*COMPUTE_AUTH, sections={}, password_sha256="")}),
        exp=CT,
        actual=("authname '(none)'", "password differs"),
    ),
    case(
        "sasl.auth-conf",
        "fail: no password in passwords.yml",
        FAIL,
        ct,
        exp={**CT, "sasl_password": ""},
        actual="libvirt_sasl_password is not in passwords.yml",
    ),
]

LIVE_TCP = {"migration_address": "10.77.7.11", "host": "compute01"}  # live_tcp.json: a lab host's real logins


def login(name, which):
    return live.Login(
        **{**rec(name).live[f"login_{which}"], "mechanisms": tuple(rec(name).live[f"login_{which}"]["mechanisms"])}
    )


def logins(name, good=None, wrong=None, pki=None, uri=None):
    """live.libvirt_login as recorded: the good login for the passwords.yml credentials, the wrong one for any other."""
    uri = uri or rec(name).live["uri"]
    good = good or login(name, "good")
    return lambda: RecordedLogin(uri, good, wrong or login(name, "wrong"), pki)


def RecordedLogin(uri, good, wrong, pki):
    from tests.unit.recorded import RecordedFacts

    facts = RecordedFacts()
    facts.record(live.libvirt_login, wrong)
    facts.record(live.libvirt_login, good, args=(uri, "nova", Secret(SASL_PASSWORD), pki))
    return facts


def libvirt_error(text):
    return live.Login(False, text, ("DIGEST-MD5",))


LIVE_TLS_PKI = kolla_pki()
LIVE_TLS = {**TLS, "host": "compute05", "migration_hostname": "compute05", "operator_config_dir": LIVE_TLS_PKI}
CLIENT_PKI = tuple(sorted((n, pki_file(LIVE_TLS_PKI, n)) for n in ("cacert.pem", "clientcert.pem", "clientkey.pem")))

LIVE_AUTH = [
    case("sasl.live-auth", "n/a: SASL off", NA, {}, exp=NO_SASL),
    case(
        "sasl.live-auth",
        "n/a: live probes off",
        NA,
        {},
        exp={"live_probes": False},
        actual="live_probes is false in the profile",
    ),
    case(
        "sasl.live-auth",
        "pass: TCP, wrong password refused",
        PASS,
        logins("live_tcp"),
        exp=LIVE_TCP,
        actual=("login as nova accepted (compute01)", "wrong password refused"),
        evidence=(
            "URI",
            "advertised mechanisms",
            "login with passwords.yml credentials",
            "login with a wrong password",
        ),
        says={"advertised mechanisms": "DIGEST-MD5", "login with a wrong password": "refused: authentication failed"},
    ),
    case(
        "sasl.live-auth",
        "pass: TLS with Kolla's client certificate",
        PASS,
        logins("live_tls", pki=CLIENT_PKI),
        exp=LIVE_TLS,
        actual="accepted (compute05)",
    ),
    case(
        "sasl.live-auth",
        "fail: a wrong password accepted",
        FAIL,
        logins("live_tcp", wrong=login("live_tcp", "good")),
        exp=LIVE_TCP,
        actual="a wrong password was accepted",
        hint='auth_tcp = "sasl"',
    ),
    # The refusals libvirt really gave on lab hosts, and the hint each leads to.
    case(
        "sasl.live-auth",
        "fail: SCRAM on TCP (real libvirt text)",
        FAIL,
        logins("live_scram_over_tcp", uri="qemu+tcp://10.77.7.12/system"),
        exp={"migration_address": "10.77.7.12"},
        actual="login refused: authentication failed: authentication failed",
        hint="compare sasl.user-exists, sasl.mech-list and sasl.plugins-installed",
    ),
    case(
        "sasl.live-auth",
        "fail: SASL user missing (real libvirt text)",
        FAIL,
        logins("live_user_missing", uri="qemu+tcp://10.77.7.13/system"),
        exp={"migration_address": "10.77.7.13"},
        actual="authentication failed",
        hint="sasl.user-exists",
    ),
    case(
        "sasl.live-auth",
        "fail: server certificate rejected (real libvirt text)",
        FAIL,
        logins("live_san_missing", pki=CLIENT_PKI),
        exp={**LIVE_TLS, "migration_hostname": "compute04"},
        actual="Failed to verify peer's certificate",
        hint="see tls.live-handshake",
    ),
    case(
        "sasl.live-auth",
        "fail: no worthy mechanism",
        FAIL,
        logins(
            "live_tcp",
            good=libvirt_error(
                "authentication failed: Failed to start SASL negotiation: -4 (SASL(-4): "
                "no mechanism available: No worthy mechs found)"
            ),
        ),
        exp=LIVE_TCP,
        hint="see sasl.mech-matches-tls",
    ),
    case(
        "sasl.live-auth",
        "fail: user not found",
        FAIL,
        logins(
            "live_tcp",
            good=libvirt_error(
                "authentication failed: Failed to step SASL negotiation: -20 "
                "(SASL(-13): user not found: no secret in database)"
            ),
        ),
        exp=LIVE_TCP,
        hint="see sasl.user-exists",
    ),
    case(
        "sasl.live-auth",
        "fail: connection refused",
        FAIL,
        logins("live_tcp", good=libvirt_error("unable to connect to server at '10.77.7.11:16509': Connection refused")),
        exp=LIVE_TCP,
        hint=("sasl.libvirtd-listener", "tls.migration-hostname-resolves"),
    ),
    case(
        "sasl.live-auth",
        "fail: TLS, the operator's client files missing",
        FAIL,
        {},
        exp={**TLS, "operator_config_dir": kolla_pki("no-client-files")},
        actual="operator's clientcert.pem clientkey.pem not found",
        hint="see tls.files-present",
    ),
    case(
        "sasl.live-auth",
        "no Kolla config dir: as tls.live-handshake, not a host failure",
        NA,
        {},
        exp={**TLS, "operator_config_dir": None},
    ),
    case(
        "sasl.live-auth",
        "externally managed certificates: no client files to present is no host failure",
        NA,
        {},
        exp={**TLS, "libvirt_tls_manage_certs": False, "operator_config_dir": kolla_pki("no-certificates")},
    ),
    case(
        "sasl.live-auth",
        "not judged: libvirtd hung earlier",
        NOT_JUDGED,
        {live.libvirt_login: ReadTimedOut("not tried: a libvirt login got no answer within 30s on compute01")},
        exp=LIVE_TCP,
        actual="not tried",
    ),
]

CASES = LIBVIRTD_LISTENER + MECH_LIST + MECH_MATCHES_TLS + PLUGINS_INSTALLED + USER_EXISTS + AUTH_CONF + LIVE_AUTH


@pytest.mark.parametrize("c", CASES)
def test_branch(c):
    c.run()


def test_the_password_never_reaches_the_verdict():
    """auth-conf compares hashes; live-auth logs in with the password: neither verdict may carry it."""
    from tests.unit.recorded import expectation, judge

    for check_id, facts in (("sasl.auth-conf", ct()), ("sasl.live-auth", logins("live_tcp")())):
        verdict = judge(
            check_id, expectation(**{**CT, **LIVE_TCP}) if check_id == "sasl.live-auth" else expectation(**CT), facts
        )
        assert SASL_PASSWORD not in repr(verdict), check_id


def test_restart_between_reads_is_not_judged():
    """A nova_libvirt that stops between the healthcheck and a read: Check.run makes the NotRead not judged."""
    from tests.unit.recorded import expectation, judge

    facts = ct({sasl.sasldb_users: ContainerUnavailable("nova_libvirt", "container is restarting")})
    verdict = judge("sasl.user-exists", expectation(**CT), facts)
    assert not verdict.judged and "container is restarting" in verdict.actual
