"""Every branch of the tls.* checks on recorded probe values and real certificates (made as `kolla-ansible
certificates` makes them, with fixtures/lab/certs.py; one fault each). The operator's certificate set is read by the
probe itself (`tls.operator_cert_set` reads local files: recorded as DERIVE). The host-mode /etc/pki set, the installed
files and the resolution/listener reads were recorded on lab hosts; the live handshakes too (live_*.json). The lab
tests prove the real failures (faults san-missing-host, cert-expired, key-mismatch, cert-other-ca, leaf-is-ca, ...)."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from conformance import certs
from conformance.errors import ContainerUnavailable, ReadTimedOut
from conformance.facts import FileFact
from conformance.model import Status
from conformance.probes import live, sasl
from conformance.probes import tls as tls_probes
from tests.tls_shapes import CERT_CHECKS
from tests.unit.recorded import (
    DERIVE,
    HOST_MODE,
    NOT_JUDGED,
    TLS,
    RecordedFacts,
    asked,
    case,
    kolla_pki,
    pki_file,
    recording,
    result,
)

PASS, WARN, FAIL, NA = Status.PASS, Status.WARN, Status.FAIL, Status.NOT_APPLICABLE
# host_tls.json: compute01 in host mode with TLS (10.77.3.11), its keys mode 0644 (lab fault key-world-readable).
HOST_TLS = {**TLS, **HOST_MODE, "migration_hostname": "compute01", "migration_address": "10.77.3.11"}


def rec(name):
    return recording(name)


def operator(fault="", **kw):
    """The expectation with an operator's config dir holding the certificates of `fault`."""
    return {**TLS, "operator_config_dir": kolla_pki(fault, **kw)}


OPERATOR = {tls_probes.operator_cert_set: DERIVE}  # the probe reads the operator's files itself
LABEL = "operator's Kolla config"


def host_pki(**changes):
    return dataclasses.replace(rec("host_tls").value(tls_probes.host_pki_set), **changes)


NOT_TLS = (
    [case(check, "n/a: TLS off", NA, {}, actual="libvirt_tls is false") for check in CERT_CHECKS]
    + [
        case(
            check,
            "n/a: externally managed certificates",
            NA,
            {},
            exp={**operator(), "libvirt_tls_manage_certs": False},
            actual="Kolla copies no certificates",
        )
        for check in CERT_CHECKS
    ]
    + [
        case(check, "n/a: no Kolla config dir", NA, {}, exp=TLS, actual="the operator's certificates cannot be read")
        for check in CERT_CHECKS
    ]
)

FILES_PRESENT = [
    case(
        "tls.files-present",
        "pass: Kolla's five files",
        PASS,
        OPERATOR,
        exp=operator(),
        actual="all present and parsed",
        evidence=[f"{LABEL}" + f" ({kolla_pki()}/nova/nova-libvirt): {name}" for name in certs.CERT_FILES],
        then=asked(tls_probes.operator_cert_set, (kolla_pki(), "compute01")),
    ),
    case(
        "tls.files-present",
        "pass: the host's own folder wins",
        PASS,
        OPERATOR,
        exp=operator("cert-other-ca", per_host=True),
        says={": servercert.pem": "/nova-libvirt/compute01/servercert.pem", ": cacert.pem": "/nova-libvirt/compute01/"},
    ),
    case(
        "tls.files-present",
        "fail: serverkey.pem missing",
        FAIL,
        OPERATOR,
        exp=operator("missing-serverkey"),
        actual=("serverkey.pem missing (searched", "nova-libvirt/compute01/serverkey.pem, then"),
        hint=("kolla-ansible certificates", "kolla-ansible reconfigure -t nova"),
    ),
    case(
        "tls.files-present",
        "fail: cacert.pem holds a private key",
        FAIL,
        OPERATOR,
        exp=operator("cacert-holds-key"),
        actual="cacert.pem holds private key material",
        lacks={"actual": "BEGIN", "evidence": "BEGIN"},
    ),
    case(
        "tls.files-present",
        "fail: servercert.pem is no certificate",
        FAIL,
        OPERATOR,
        exp=operator("unparsable-servercert"),
        actual="servercert.pem not a PEM certificate",
    ),
    case(
        "tls.files-present",
        "pass: host mode, the host's /etc/pki",
        PASS,
        lambda: rec("host_tls").facts(),
        exp=HOST_TLS,
        evidence="host libvirt's /etc/pki: serverkey.pem",
        then=asked(tls_probes.host_pki_set, ()),
    ),
    case(
        "tls.files-present",
        "fail: host mode, a key root cannot read",
        FAIL,
        {
            tls_probes.host_pki_set: host_pki(
                problems={"serverkey.pem": "unreadable key: /etc/pki/libvirt/private/serverkey.pem on the host"}
            )
        },
        exp=HOST_TLS,
        actual="host libvirt's /etc/pki: serverkey.pem unreadable key",
    ),
    case(
        "tls.files-present",
        "fail: host mode and the operator's set, both judged",
        FAIL,
        {**OPERATOR, tls_probes.host_pki_set: host_pki()},
        exp={**HOST_TLS, **operator("missing-serverkey")},
        actual="operator's Kolla config",
        evidence=("host libvirt's /etc/pki", LABEL),
    ),
]


CHAIN = [
    case(
        "tls.chain",
        "pass: both leaves chain",
        PASS,
        OPERATOR,
        exp=operator(),
        actual="2 certificate(s) verified",
        evidence=("servercert.pem chain", "clientcert.pem chain"),
    ),
    case(
        "tls.chain",
        "pass: host mode, the lab's real certificates",
        PASS,
        lambda: rec("host_tls").facts(),
        exp=HOST_TLS,
        actual="2 certificate(s) verified",
    ),
    case(
        "tls.chain",
        "fail: signed by another CA",
        FAIL,
        OPERATOR,
        exp=operator("cert-other-ca"),
        actual=("servercert.pem issued by CN=KollaTestCA", "clientcert.pem", "not signed by the key of CN=KollaTestCA"),
        hint="sign the certificates with a CA in cacert.pem",
    ),
    case(
        "tls.chain",
        "pass: a not-yet-valid leaf chains (dates are tls.validity's)",
        PASS,
        OPERATOR,
        exp=operator("cert-not-yet-valid"),
        says={"servercert.pem chain": "signed by CN=KollaTestCA in cacert.pem"},
    ),
    case(
        "tls.chain",
        "pass: an expired leaf, made before the CA: its signature is checked",
        PASS,
        OPERATOR,
        exp=operator("cert-expired"),
        says={"servercert.pem chain": "signed by CN=KollaTestCA in cacert.pem"},
    ),
    case(
        "tls.chain",
        "n/a: nothing could be read",
        NA,
        OPERATOR,
        exp=operator("no-certificates"),
        actual="no certificate could be read (see tls.files-present)",
    ),
]

KEY_MATCH = [
    case("tls.key-match", "pass", PASS, OPERATOR, exp=operator(), actual="2 pair(s) match"),
    case(
        "tls.key-match",
        "pass: host mode, keys reduced to their public half on the host",
        PASS,
        lambda: rec("host_tls").facts(),
        exp=HOST_TLS,
        actual="2 pair(s) match",
    ),
    case(
        "tls.key-match",
        "fail: serverkey.pem of another certificate",
        FAIL,
        OPERATOR,
        exp=operator("key-mismatch"),
        actual="serverkey.pem is not the key of servercert.pem",
        hint="copy the key generated with the certificate",
        lacks={"actual": "clientkey.pem is not"},
    ),
    case(
        "tls.key-match",
        "n/a: no pair readable",
        NA,
        OPERATOR,
        exp=operator("no-certificates"),
        actual="no certificate could be read",
    ),
]

SAN = [
    case(
        "tls.san-covers-host",
        "pass",
        PASS,
        OPERATOR,
        exp={**operator(), "migration_hostname": "compute01"},
        actual="DNS:compute01 present",
        says={"servercert.pem SAN": "DNS:compute01, DNS:compute02"},
    ),
    case(
        "tls.san-covers-host",
        "pass: case and trailing dot do not matter",
        PASS,
        OPERATOR,
        exp={**operator(), "migration_hostname": "Compute01."},
    ),
    case(
        "tls.san-covers-host",
        "fail: a host added after `certificates`",
        FAIL,
        OPERATOR,
        exp={**operator("san-missing-host"), "migration_hostname": "compute01"},
        actual="servercert.pem DNS SANs compute02, compute03",
        hint=("reissue the certificate with DNS:compute01", "kolla-ansible certificates"),
    ),
    case(
        "tls.san-covers-host",
        "fail: the default migration_hostname (nodename) is not in it",
        FAIL,
        OPERATOR,
        exp=operator(),
        actual="DNS SANs compute01, compute02, compute03",
        expected="DNS:compute01.example",
    ),
    case(
        "tls.san-covers-host",
        "pass: a wildcard covers the left-most label",
        PASS,
        OPERATOR,
        exp=operator("san-wildcard"),
    ),
    case(
        "tls.san-covers-host",
        "fail: a wildcard does not cover a bare name",
        FAIL,
        OPERATOR,
        exp={**operator("san-wildcard"), "migration_hostname": "compute01"},
        actual="DNS SANs *.example",
    ),
    case(
        "tls.san-covers-host",
        "fail: a wildcard covers one label only",
        FAIL,
        OPERATOR,
        exp={**operator("san-wildcard"), "migration_hostname": "compute01.rack1.example"},
    ),
    case(
        "tls.san-covers-host",
        "pass: host mode, the lab's certificate",
        PASS,
        lambda: rec("host_tls").facts(),
        exp=HOST_TLS,
    ),
    case(
        "tls.san-covers-host",
        "n/a: no server certificate",
        NA,
        OPERATOR,
        exp=operator("unparsable-servercert"),
        actual="no certificate could be read",
    ),
]

LEAF_NOT_CA = [
    case("tls.leaf-not-ca", "pass", PASS, OPERATOR, exp=operator(), actual="no leaf is a CA"),
    case(
        "tls.leaf-not-ca",
        "fail: basicConstraints CA:TRUE",
        FAIL,
        OPERATOR,
        exp=operator("leaf-is-ca"),
        actual=("servercert.pem has basicConstraints CA:TRUE", "clientcert.pem has"),
        hint="without CA:TRUE",
    ),
    case("tls.leaf-not-ca", "n/a: no leaf readable", NA, OPERATOR, exp=operator("no-certificates")),
]

VALIDITY = [
    case(
        "tls.validity", "pass", PASS, OPERATOR, exp=operator(), actual="all valid", expected="for at least 30 more days"
    ),
    case(
        "tls.validity",
        "warn: expires within the warning days",
        WARN,
        OPERATOR,
        exp=operator("cert-expiring"),
        actual=("servercert.pem expires", "(< 30)"),
        hint="renew before expiry",
    ),
    case(
        "tls.validity",
        "pass: a shorter warning",
        PASS,
        OPERATOR,
        exp={**operator("cert-expiring"), "expiry_warning_days": 5},
    ),
    case(
        "tls.validity",
        "fail: expired",
        FAIL,
        OPERATOR,
        exp=operator("cert-expired"),
        actual=("servercert.pem expired", "days ago"),
        hint="check the clock",
    ),
    case(
        "tls.validity",
        "fail: not yet valid",
        FAIL,
        OPERATOR,
        exp=operator("cert-not-yet-valid"),
        actual="servercert.pem valid only from",
    ),
    case(
        "tls.validity",
        "fail: expired, and the CA expiring",
        FAIL,
        OPERATOR,
        exp={**operator("cert-expired"), "expiry_warning_days": 2000},
        actual=("servercert.pem expired", "cacert.pem expires"),
    ),
    case("tls.validity", "n/a: nothing readable", NA, OPERATOR, exp=operator("no-certificates")),
]

KEY_USAGE = [
    case(
        "tls.key-usage",
        "pass: no KU/EKU, as Kolla makes them",
        PASS,
        OPERATOR,
        exp=operator(),
        actual="usage allows TLS server and client",
    ),
    case(
        "tls.key-usage",
        "fail: client-only EKU on the server certificate",
        FAIL,
        OPERATOR,
        exp=operator("cert-client-only"),
        actual="servercert.pem critical extendedKeyUsage lacks serverAuth",
        hint="extendedKeyUsage serverAuth,clientAuth",
        lacks={"actual": "clientcert.pem"},
    ),
    case(
        "tls.key-usage",
        "fail: keyUsage without keyEncipherment",
        FAIL,
        OPERATOR,
        exp=operator("ku-no-encipherment"),
        actual=("servercert.pem critical keyUsage lacks keyEncipherment",),
    ),
    case("tls.key-usage", "n/a: nothing readable", NA, OPERATOR, exp=operator("no-certificates")),
]


# -- installed files ------------------------------------------------------------------------------------------------


def installed(name, path, container, place, owner="root", group="root", mode=0o600, data=b"", config=None):
    digest = hashlib.sha256(data or pki_file(config or kolla_pki(), name)).hexdigest()
    return tls_probes.InstalledFile(
        name,
        place,
        FileFact(path, True, "", mode, 0, 0 if group == "root" else 42436, owner, group, "regular file"),
        digest,
    )


def places(host_mode=False):
    """(name, path, container, place, owner, group, mode) of every file tls.installed-files reads, as Kolla installs
    them (docs/kolla-provenance.md §3)."""
    found = []
    if not host_mode:
        found += [(n, f"/etc/kolla/nova-libvirt/{n}", None, "host", "root", "root", 0o600) for n in certs.CERT_FILES]
        found += [
            (n, tls_probes.LIBVIRT_PKI[n], "nova_libvirt", "nova_libvirt", "root", "root", 0o600)
            for n in certs.CERT_FILES
        ]
    found += [(n, f"/etc/kolla/nova-compute/{n}", None, "host", "root", "root", 0o600) for n in tls_probes.CLIENT_FILES]
    found += [
        (n, tls_probes.LIBVIRT_PKI[n], "nova_compute", "nova_compute", "root", "nova", 0o640)
        for n in tls_probes.CLIENT_FILES
    ]
    return found


def deployed(changes=None, host_mode=False, config=None):
    """RecordedFacts with every installed file as Kolla installs it from the operator's files; `changes`
    {(path, container): InstalledFile | exception} replace some. The libvirtd_ready derivation is real."""
    facts = RecordedFacts(
        {
            sasl.libvirtd_ready: DERIVE,
            sasl.nova_libvirt_healthcheck: rec("container_tls").value(sasl.nova_libvirt_healthcheck),
        }
    )
    for name, path, container, place, owner, group, mode in places(host_mode):
        facts.record(
            tls_probes.installed_file,
            installed(name, path, container, place, owner, group, mode, config=config),
            args=(name, path, container, place),
        )
    for (path, container), value in (changes or {}).items():
        name = path.rsplit("/", 1)[-1]
        place = container or "host"
        facts.record(tls_probes.installed_file, value, args=(name, path, container, place))
    return facts


SERVERKEY = "/etc/kolla/nova-libvirt/serverkey.pem"
IN_LIBVIRT = tls_probes.LIBVIRT_PKI["serverkey.pem"]
COMPUTE_KEY = tls_probes.LIBVIRT_PKI["clientkey.pem"]


def missing(path, container=None):
    return tls_probes.InstalledFile(path.rsplit("/", 1)[-1], container or "host", FileFact(path, False), "")


def RESTARTING():
    return deployed({(IN_LIBVIRT, "nova_libvirt"): ContainerUnavailable("nova_libvirt", "container is restarting")})


INSTALLED_FILES = [
    case("tls.installed-files", "n/a: TLS off", NA, {}),
    case(
        "tls.installed-files",
        "pass: container mode, identical to the operator's",
        PASS,
        deployed,
        exp=operator(),
        actual="16 file(s) as intended",
        expected="byte-identical to /etc/kolla/config/nova/nova-libvirt",
    ),
    case(
        "tls.installed-files",
        "pass: no operator dir, nothing to compare",
        PASS,
        deployed,
        exp=TLS,
        lacks={"expected": "byte-identical"},
    ),
    case(
        "tls.installed-files",
        "fail: a key readable by its group",
        FAIL,
        lambda: deployed({(SERVERKEY, None): installed("serverkey.pem", SERVERKEY, None, "host", mode=0o640)}),
        exp=operator(),
        actual="/etc/kolla/nova-libvirt/serverkey.pem on the host: root:root 0640",
        hint="kolla-ansible reconfigure -t nova",
    ),
    case(
        "tls.installed-files",
        "fail: nova_compute's copy not group nova",
        FAIL,
        lambda: deployed(
            {
                (COMPUTE_KEY, "nova_compute"): installed(
                    "clientkey.pem", COMPUTE_KEY, "nova_compute", "nova_compute", mode=0o640
                )
            }
        ),
        exp=operator(),
        actual="/etc/pki/libvirt/private/clientkey.pem in nova_compute: root:root 0640",
    ),
    case(
        "tls.installed-files",
        "fail: owned by another user",
        FAIL,
        lambda: deployed(
            {
                (IN_LIBVIRT, "nova_libvirt"): installed(
                    "serverkey.pem", IN_LIBVIRT, "nova_libvirt", "nova_libvirt", owner="nova"
                )
            }
        ),
        exp=operator(),
        actual="in nova_libvirt: nova:root 0600",
    ),
    case(
        "tls.installed-files",
        "fail: the host runs other certificates than the operator's",
        FAIL,
        lambda: deployed(
            {
                (IN_LIBVIRT, "nova_libvirt"): installed(
                    "serverkey.pem", IN_LIBVIRT, "nova_libvirt", "nova_libvirt", data=b"an older key"
                )
            }
        ),
        exp=operator(),
        actual=f"{IN_LIBVIRT} in nova_libvirt: differs from {kolla_pki()}/nova/nova-libvirt/",
    ),
    case(
        "tls.installed-files",
        "fail: a file missing",
        FAIL,
        lambda: deployed({(SERVERKEY, None): missing(SERVERKEY)}),
        exp=operator(),
        actual="/etc/kolla/nova-libvirt/serverkey.pem on the host: missing",
    ),
    case(
        "tls.installed-files",
        "fail: missing in a running nova_libvirt",
        FAIL,
        lambda: deployed({(IN_LIBVIRT, "nova_libvirt"): missing(IN_LIBVIRT, "nova_libvirt")}),
        exp=operator(),
        actual="in nova_libvirt: missing",
    ),
    case(
        "tls.installed-files",
        "not judged: nova_libvirt restarting between reads (the others judged, no pass)",
        NOT_JUDGED,
        RESTARTING,
        exp=operator(),
        says={f"{IN_LIBVIRT} in nova_libvirt": "not read: container is restarting"},
    ),
    case(
        "tls.installed-files",
        "not judged: the count names only the files judged",
        NOT_JUDGED,
        RESTARTING,
        exp=operator(),
        actual="15 file(s) as intended",
    ),
    case(
        "tls.installed-files",
        "not judged: nova_libvirt stopped, its files unread",
        NOT_JUDGED,
        lambda: deployed({(IN_LIBVIRT, "nova_libvirt"): missing(IN_LIBVIRT, "nova_libvirt")}).record(
            sasl.nova_libvirt_healthcheck, result("error: failed to connect to the hypervisor\n", rc=1)
        ),
        exp=operator(),
        says={f"{IN_LIBVIRT} in nova_libvirt": "not read: libvirtd is not running in nova_libvirt"},
    ),
    # host mode: the host daemon's /etc/pki as recorded (lab fault key-world-readable: keys 0644)
    case(
        "tls.installed-files",
        "fail: host mode, keys world-readable",
        FAIL,
        lambda: _host_pki_facts(),
        exp=HOST_TLS,
        actual=(
            "/etc/pki/libvirt/private/serverkey.pem on the host: root:root 0644 (a private key readable beyond root)",
            "/etc/pki/libvirt/private/clientkey.pem on the host",
        ),
        hint=("chmod 0600 the keys in /etc/pki/libvirt/private", "install Kolla's cacert.pem"),
        lacks={"actual": "cacert.pem on the host:"},
    ),
    case(
        "tls.installed-files",
        "fail: host mode, the host trusts another CA than nova-compute",
        FAIL,
        lambda: _host_pki_facts(modes=0o600),
        exp={**HOST_TLS, **operator()},
        actual=f"/etc/pki/CA/cacert.pem on the host: not the CA of {kolla_pki()}/nova/nova-libvirt/cacert.pem",
    ),
    case(
        "tls.installed-files",
        "pass: host mode, keys root-only, Kolla's CA",
        PASS,
        lambda: _host_pki_facts(modes=0o600, same_ca=True),
        exp={**HOST_TLS, **operator()},
    ),
    case(
        "tls.installed-files",
        "fail: host mode, /etc/pki file missing",
        FAIL,
        lambda: _host_pki_facts(modes=0o600, gone="/etc/pki/libvirt/servercert.pem"),
        exp=HOST_TLS,
        actual="/etc/pki/libvirt/servercert.pem on the host: missing",
    ),
]


def _host_pki_facts(modes=None, same_ca=False, gone=None):
    """Host mode: nova-compute's copies as Kolla installs them, the host's /etc/pki as recorded on host_tls."""
    facts = deployed(host_mode=True)
    for name, path in tls_probes.LIBVIRT_PKI.items():
        value = rec("host_tls").value(tls_probes.installed_file, name, path, None, "host")
        if modes is not None and name.endswith("key.pem"):
            value = dataclasses.replace(value, fact=dataclasses.replace(value.fact, mode=modes))
        if same_ca and name == "cacert.pem":
            value = dataclasses.replace(value, sha256=hashlib.sha256(pki_file(kolla_pki(), name)).hexdigest())
        if path == gone:
            value = missing(path)
        facts.record(tls_probes.installed_file, value, args=(name, path, None, "host"))
    return facts


# -- migration_hostname resolution ----------------------------------------------------------------------------------

CT = {**TLS, "migration_hostname": "compute01", "migration_address": "10.77.4.11"}  # container_tls.json
WRONG = {
    **TLS,
    "host": "compute02",
    "migration_hostname": "compute02",
    "migration_address": "10.77.3.132",
    "migration_interface": "eth1",
}  # wrong_address.json


def ct(records=None):
    return rec("container_tls").facts({live.resolve: ["10.77.4.11"], **(records or {})})


MIGRATION_HOSTNAME = [
    case("tls.migration-hostname-resolves", "n/a: TLS off", NA, {}),
    case(
        "tls.migration-hostname-resolves",
        "pass: on the host and from the suite's machine",
        PASS,
        ct,
        exp=CT,
        actual="compute01 -> 10.77.4.11",
        evidence=("libvirtd addresses", "getent hosts compute01 on the host", "compute01 from the suite's machine"),
        then=asked(tls_probes.listeners, (16514,)),
    ),
    case(
        "tls.migration-hostname-resolves",
        "fail: the nodename resolves to the API address",
        FAIL,
        lambda: rec("wrong_address").facts({live.resolve: ["10.77.3.12"]}),
        exp=WRONG,
        actual=(
            "on the host compute02 -> 10.77.3.12",
            "from the suite's machine compute02 -> 10.77.3.12",
            "libvirtd listens on 10.77.3.132",
        ),
        hint=("map compute02 to 10.77.3.132", "etc_hosts", "reissue the certificate"),
    ),
    case(
        "tls.migration-hostname-resolves",
        "fail: live probes off, the host alone judged",
        FAIL,
        lambda: rec("wrong_address").facts(),
        exp={**WRONG, "live_probes": False},
        lacks={"actual": "suite's machine", "evidence": "suite's machine"},
        then=asked(live.resolve),
    ),
    case(
        "tls.migration-hostname-resolves",
        "fail: does not resolve from the suite's machine",
        FAIL,
        lambda: ct({live.resolve: []}),
        exp=CT,
        actual="from the suite's machine compute01 -> nothing",
        lacks={"actual": "on the host"},
    ),
    case(
        "tls.migration-hostname-resolves",
        "pass: libvirtd not listening, its listen_addr judged",
        PASS,
        lambda: ct({tls_probes.listeners: []}),
        exp=CT,
        says={
            "libvirtd addresses": "listen_addr in /etc/libvirt/libvirtd.conf in nova_libvirt (libvirtd not listening)"
        },
    ),
    case(
        "tls.migration-hostname-resolves",
        "pass: not listening, listen_addr unset: every host address",
        PASS,
        lambda: ct(
            {
                tls_probes.listeners: [],
                sasl.libvirtd_confs: rec("container_tls").value(
                    sasl.libvirtd_confs,
                    True,
                    "/etc/kolla",
                    edit=lambda t: t.replace('listen_addr = "10.77.4.11"\n', ""),
                ),
            }
        ),
        exp=CT,
        says={"libvirtd addresses": "0.0.0.0, 10.77.4.11"},
    ),
    case(
        "tls.migration-hostname-resolves",
        "pass: not listening, the copy unread: the migration address",
        PASS,
        lambda: ct(
            {
                tls_probes.listeners: [],
                sasl.libvirtd_confs: [
                    sasl.ConfCopy(
                        "/etc/libvirt/libvirtd.conf in nova_libvirt",
                        FileFact("/etc/libvirt/libvirtd.conf", False),
                        {},
                        unread="container is restarting",
                    )
                ],
            }
        ),
        exp=CT,
        says={"libvirtd addresses": "10.77.4.11 (listen_addr in"},
    ),
    case(
        "tls.migration-hostname-resolves",
        "pass: listening on the wildcard",
        PASS,
        lambda: rec("wrong_address").facts({tls_probes.listeners: ["0.0.0.0"], live.resolve: ["10.77.3.12"]}),
        exp=WRONG,
        then=asked(tls_probes.host_addresses, ()),
    ),
    case(
        "tls.migration-hostname-resolves",
        "pass: host mode (host_tls)",
        PASS,
        lambda: rec("host_tls").facts({live.resolve: ["10.77.3.11"]}),
        exp=HOST_TLS,
    ),
]


# -- the live handshake -----------------------------------------------------------------------------------------------

GOOD = kolla_pki()
LIVE = {**TLS, "host": "compute05", "migration_hostname": "compute05", "operator_config_dir": GOOD}
CA = pki_file(GOOD, "cacert.pem")
CLIENT = tuple((n, pki_file(GOOD, n)) for n in tls_probes.CLIENT_FILES)


def shake(name, which):
    return live.Handshake(**rec(name).live[f"handshake_{which}"])


def handshakes(good, foreign=None, hostname="compute05"):
    """live.tls_handshake as recorded: Kolla's client for exactly the operator's files, the foreign one for any."""

    def make():
        facts = RecordedFacts()
        facts.record(live.tls_handshake, foreign or good)
        facts.record(live.tls_handshake, good, args=(hostname, 16514, CA, CLIENT))
        return facts

    return make


LIVE_HANDSHAKE = [
    case("tls.live-handshake", "n/a: TLS off", NA, {}),
    case(
        "tls.live-handshake",
        "n/a: live probes off",
        NA,
        {},
        exp={**LIVE, "live_probes": False},
        actual="live_probes is false",
    ),
    case(
        "tls.live-handshake",
        "n/a: no Kolla config dir",
        NA,
        {},
        exp={**LIVE, "operator_config_dir": None},
        actual="no Kolla config dir in the profile",
    ),
    case(
        "tls.live-handshake",
        "pass: verified, Kolla's client accepted, a foreign one refused",
        PASS,
        handshakes(shake("live_tls", "good"), shake("live_tls", "foreign")),
        exp=LIVE,
        actual=("verified TLSv1.3", "foreign client refused"),
        evidence=(
            "target",
            "server certificate",
            "TLS version",
            "Kolla's client certificate",
            "client certificate from another CA",
        ),
        says={"client certificate from another CA": "refused (libvirtd closed the connection"},
    ),
    case(
        "tls.live-handshake",
        "fail: the server certificate lacks the name (san-missing-host)",
        FAIL,
        handshakes(shake("live_san_missing", "good"), hostname="compute04"),
        exp={**LIVE, "migration_hostname": "compute04"},
        actual="server certificate rejected: Hostname mismatch",
        hint="see tls.san-covers-host",
    ),
    case(
        "tls.live-handshake",
        "fail: nothing listens there",
        FAIL,
        handshakes(live.Handshake(False, "cannot connect to compute05:16514: Connection refused")),
        exp=LIVE,
        hint=("libvirtd is not reachable there", "tls.migration-hostname-resolves"),
    ),
    case(
        "tls.live-handshake",
        "fail: another TLS failure",
        FAIL,
        handshakes(live.Handshake(False, "TLS handshake failed: [SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca")),
        exp=LIVE,
        hint="see tls.chain, tls.validity and tls.key-match",
    ),
    case(
        "tls.live-handshake",
        "fail: Kolla's client certificate refused",
        FAIL,
        handshakes(shake("live_tls", "foreign")),
        exp=LIVE,
        actual="Kolla's client certificate was refused: libvirtd closed the connection",
        hint="clientcert.pem",
    ),
    case(
        "tls.live-handshake",
        "fail: a foreign client accepted",
        FAIL,
        handshakes(shake("live_tls", "good"), shake("live_tls", "good")),
        exp=LIVE,
        actual="libvirtd accepted a client certificate from another CA",
        hint="tls_no_verify_certificate",
    ),
    case(
        "tls.live-handshake",
        "fail: the operator's client files missing",
        FAIL,
        {},
        exp={**LIVE, "operator_config_dir": kolla_pki("no-client-files")},
        actual="operator's clientcert.pem clientkey.pem not found",
    ),
    case(
        "tls.live-handshake",
        "externally managed certificates: no client files is no host failure",
        NA,
        {},
        exp={**LIVE, "libvirt_tls_manage_certs": False, "operator_config_dir": kolla_pki("no-certificates")},
    ),
    case(
        "tls.live-handshake",
        "not judged: libvirtd hung",
        NOT_JUDGED,
        {live.tls_handshake: ReadTimedOut("a TLS handshake with compute05:16514 got no answer within 10s")},
        exp=LIVE,
        actual="got no answer",
    ),
]

CASES = (
    NOT_TLS
    + FILES_PRESENT
    + CHAIN
    + KEY_MATCH
    + SAN
    + LEAF_NOT_CA
    + VALIDITY
    + KEY_USAGE
    + INSTALLED_FILES
    + MIGRATION_HOSTNAME
    + LIVE_HANDSHAKE
)


@pytest.mark.parametrize("c", CASES)
def test_branch(c):
    c.run()


@pytest.mark.parametrize(
    "name, sans, hit",
    [
        ("compute01", ["compute01"], True),
        ("COMPUTE01.", ["compute01"], True),
        ("a.example", ["*.example"], True),
        ("a.b.example", ["*.example"], False),
        ("example", ["*.example"], False),
        ("compute01", [], False),
        ("compute01.example", ["*.EXAMPLE."], True),
    ],
)
def test_san_matches(name, sans, hit):
    from conformance.checks.tls import san_matches

    assert san_matches(name, sans) is hit
