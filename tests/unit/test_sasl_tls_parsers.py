"""SASL/TLS parsers and judging helpers on real shapes: certificates made the way `kolla-ansible certificates`
makes them, host command output as Debian prints it."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conformance import certs
from conformance.checks.tls import san_matches
from conformance.conffiles import parse_libvirt_conf, parse_sasl_conf
from conformance.libvirt_login import advertised_mechanisms
from conformance.model import Status
from conformance.probes import sasl
from conformance.probes.tls import parse_getent_hosts, parse_ss_listeners
from tests import tls_shapes

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
KOLLA_SUBJECT = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "NC"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "RTP"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "kolla"),
    ]
)


def _key():
    return ec.generate_private_key(ec.SECP256R1())  # EC for speed; Kolla uses RSA, the checks do not care


def _ca(key, start=NOW - dt.timedelta(minutes=5), days=1024):
    """roles/certificates generate-root.yml: CN=KollaTestCA, critical CA:TRUE, keyUsage digitalSignature,keyCertSign."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "KollaTestCA")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, False, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )


def _leaf(
    key, ca_key, ca, names=("compute01", "compute02"), start=NOW - dt.timedelta(minutes=5), days=500, extensions=()
):
    """generate-libvirt.yml: C=US,ST=NC,L=RTP,OU=kolla, DNS SANs only, no KU/EKU/BC, 500 days."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(KOLLA_SUBJECT)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(ca_key, hashes.SHA256())


@pytest.fixture(scope="module")
def kolla():
    ca_key, leaf_key = _key(), _key()
    ca = _ca(ca_key)
    return ca_key, ca, leaf_key, _leaf(leaf_key, ca_key, ca)


# --- certificates ------------------------------------------------------------------------------------------


def test_kolla_certificate_chains_although_it_lacks_webpki_extensions(kolla):
    _, ca, _, leaf = kolla
    ok, detail = certs.verify_chain(leaf, [ca])
    assert ok and "KollaTestCA" in detail
    assert certs.ca_problems(ca) == []


def test_certificate_from_another_ca_does_not_chain(kolla):
    _, ca, leaf_key, _ = kolla
    other_key = _key()
    ok, detail = certs.verify_chain(_leaf(leaf_key, other_key, _ca(other_key)), [ca])
    assert not ok and "not signed by the key of CN=KollaTestCA" in detail


def test_expired_leaf_still_chains_dates_are_judged_elsewhere(kolla):
    ca_key, ca, leaf_key, _ = kolla
    expired = _leaf(leaf_key, ca_key, ca, start=NOW - dt.timedelta(days=600))  # before the CA existed
    ok, _ = certs.verify_chain(expired, [ca])
    assert ok
    assert certs.validity(expired, NOW, 30).status == "expired"


def test_every_certificate_of_a_bundle_is_read(kolla):
    _, ca, _, leaf = kolla
    bundle = certs.load_certs(
        ca.public_bytes(serialization.Encoding.PEM) + leaf.public_bytes(serialization.Encoding.PEM)
    )
    assert bundle == [ca, leaf]
    assert certs.ca_problems(leaf) == ["has no basicConstraints (libvirt: 'missing basic constraints for a CA')"]


@pytest.mark.parametrize("shape", sorted(tls_shapes.SHAPES))
def test_certificate_shapes_judged_as_libvirt_judged_them(shape, tmp_path):
    """What a real libvirtd and client did with each shape (measured by tests/lab/test_tls_shapes.py, every lab
    run), against the suite's verdict on the same files."""
    make, accepted = tls_shapes.SHAPES[shape]
    failed = {c: v.actual for c, v in tls_shapes.static_verdict(make(), tmp_path).items() if v.status is Status.FAIL}
    assert (not failed) is accepted, failed


def test_validity_states(kolla):
    ca_key, ca, leaf_key, leaf = kolla
    assert certs.validity(leaf, NOW, 30).status == "ok"
    assert (
        certs.validity(_leaf(leaf_key, ca_key, ca, start=NOW + dt.timedelta(days=10)), NOW, 30).status
        == "not-yet-valid"
    )
    soon = certs.validity(_leaf(leaf_key, ca_key, ca, days=20), NOW, 30)
    assert soon.status == "expiring" and "< 30" in soon.detail


def test_leaf_ca_flag(kolla):
    ca_key, ca, leaf_key, leaf = kolla
    flagged = _leaf(leaf_key, ca_key, ca, extensions=[(x509.BasicConstraints(ca=True, path_length=None), True)])
    assert certs.is_ca(flagged) and not certs.is_ca(leaf) and certs.is_ca(ca)


def test_key_match_uses_only_the_public_half(kolla):
    _, _, leaf_key, leaf = kolla
    pem = leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    assert certs.same_public_key(leaf.public_key(), certs.public_key_of_private(pem))
    assert not certs.same_public_key(leaf.public_key(), _key().public_key())
    with pytest.raises(certs.BadPem) as raised:
        certs.public_key_of_private(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    assert "not a key" not in str(raised.value)


def test_usage_absent_allows_everything_present_must_allow_tls(kolla):
    ca_key, ca, leaf_key, leaf = kolla
    assert certs.usage_problems(leaf, ("server",)) == ([], [])
    server_only = _leaf(
        leaf_key,
        ca_key,
        ca,
        extensions=[
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (x509.KeyUsage(True, False, False, False, False, False, False, False, False), True),
        ],
    )
    assert certs.usage_problems(server_only, ("server",)) == (["critical keyUsage lacks keyEncipherment"], [])
    refused, warned = certs.usage_problems(server_only, ("client",))
    assert warned == ["non-critical extendedKeyUsage lacks clientAuth"]  # libvirt warns, then connects


def test_evidence_names_the_certificate_and_nothing_secret(kolla):
    _, _, _, leaf = kolla
    text = certs.describe(leaf)
    assert "OU=kolla" in text and "DNS:compute01, DNS:compute02" in text and "SHA256:" in text
    assert "PRIVATE" not in text


def test_san_matching_is_dns_only_and_exact():
    assert san_matches("Compute01", ["compute01"])
    assert san_matches("compute01.example.org", ["*.example.org"])
    assert not san_matches("compute01", ["compute01.example.org"])  # short nodename vs FQDN
    assert not san_matches("a.b.example.org", ["*.example.org"])


# --- SASL and libvirtd config ------------------------------------------------------------------------------

KOLLA_LIBVIRTD_TCP = """listen_tcp = 1
listen_tls = 0
auth_tcp = "sasl"
tcp_port = "16509"
ca_file = ""
log_level = 3
log_outputs = "3:file:/var/log/kolla/libvirt/libvirtd.log"
listen_addr = "10.0.0.11"
max_client_requests = 20
max_workers = 50
"""


def test_listener_settings_fall_back_to_libvirtd_defaults():
    rendered = parse_libvirt_conf(KOLLA_LIBVIRTD_TCP)
    assert sasl.effective(rendered, "listen_tcp") == 1 and sasl.effective(rendered, "auth_tcp") == "sasl"
    bare = parse_libvirt_conf("# host libvirt with defaults\n")
    assert sasl.effective(bare, "listen_tls") == 1 and sasl.effective(bare, "auth_tls") == "none"


def test_mech_list_as_kolla_renders_it_and_the_ssf_rule():
    conf = parse_sasl_conf("mech_list: SCRAM-SHA-256\nsasldb_path: /etc/libvirt/passwd.db\n")
    assert sasl.mech_list(conf) == ["SCRAM-SHA-256"]
    assert sasl.mechs_without_security_layer(["SCRAM-SHA-256", "digest-md5"]) == ["SCRAM-SHA-256"]
    assert sasl.mech_list({"mech_list": "digest-md5, gssapi"}) == ["DIGEST-MD5", "GSSAPI"]


def test_saslpluginviewer_output():
    text = (
        "Installed and properly configured SASL (server side) mechanisms are:\n"
        "  GSS-SPNEGO GSSAPI SCRAM-SHA-512 SCRAM-SHA-256 DIGEST-MD5 EXTERNAL CRAM-MD5 PLAIN LOGIN\n"
        "Available SASL (server side) mechanisms matching your criteria are:\n  GSSAPI\n"
    )
    mechs = sasl.parse_pluginviewer(text)
    assert {"SCRAM-SHA-256", "DIGEST-MD5"} <= mechs and "ANONYMOUS" not in mechs


def test_plugin_files_without_pluginviewer():
    listing = "libdigestmd5.so\nlibdigestmd5.so.2\nlibplain.so\nlibsasldb.so\n"
    assert sasl.parse_plugin_files(listing) == {"DIGEST-MD5", "PLAIN"}
    assert "SCRAM-SHA-256" in sasl.parse_plugin_files("libscram.so.2.0.25\n")


def test_sasldb_users_and_realms():
    assert sasl.parse_sasldblistusers("nova@compute01: userPassword\nnova@compute01: cmusaslsecretOTP\n") == (
        "nova@compute01",
    )
    assert sasl.parse_sasldblistusers("listusers failed\n") == ()


def test_auth_conf_default_credentials():
    sections = {
        "credentials-default": {"authname": "nova", "password": "<masked on the host>"},
        "auth-libvirt-default": {"credentials": "default"},
    }
    assert sasl.auth_conf_credentials(sections)["authname"] == "nova"
    assert sasl.auth_conf_credentials({"credentials-default": {"authname": "nova"}}) == {}


def test_advertised_mechanisms_from_libvirt_client_log():
    log = "2026-11-23 debug : remoteAuthSASL:4391 : Client start negotiation mechlist 'DIGEST-MD5'\n"
    assert advertised_mechanisms(log) == ["DIGEST-MD5"]
    assert advertised_mechanisms("nothing here") == []


# --- name resolution and listeners -------------------------------------------------------------------------


def test_getent_and_ss():
    assert parse_getent_hosts("10.0.0.11       compute01\n10.0.1.11       compute01\n") == ["10.0.0.11", "10.0.1.11"]
    ss = (
        "LISTEN 0 50 10.0.0.11:16514 0.0.0.0:*\nLISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n"
        "LISTEN 0 50 [::]:16509 [::]:*\nLISTEN 0 50 *:16509 *:*\n"
    )
    assert parse_ss_listeners(ss, 16514) == ["10.0.0.11"]
    assert parse_ss_listeners(ss, 16509) == ["::", "0.0.0.0"]


# --- not-applicable reasons (no host needed: decided from the expectation alone) ------------------------------


def _expectation(**changes):
    """A TLS compute host (the shared recorded BASE, tests/unit/recorded.py) with `changes`."""
    from tests.unit.recorded import TLS, expectation

    return expectation(**{**TLS, "migration_hostname": "compute01", "sasl_password": "pw-123456", **changes})


@pytest.mark.parametrize(
    "check_id, changes, reason",
    [
        ("sasl.live-auth", {"live_probes": False}, "live_probes is false in the profile"),
        ("tls.live-handshake", {"live_probes": False}, "live_probes is false in the profile"),
        ("sasl.user-exists", {"sasl_enabled": False}, "libvirt_enable_sasl is false"),
        ("tls.chain", {"libvirt_tls": False}, "libvirt_tls is false"),
        ("tls.files-present", {"operator_config_dir": None}, "no Kolla config dir in the profile"),
    ],
)
def test_not_applicable_says_why(check_id, changes, reason):
    from conformance import checks

    checks.all_checks()
    verdict = checks.REGISTRY[check_id].run(_expectation(**changes), facts=None)
    assert verdict.status.value == "n/a" and verdict.actual.startswith(reason)
