"""Certificate shapes operators' PKI really has, each as the five files Kolla copies for libvirt TLS
(cacert.pem, servercert.pem, serverkey.pem, clientcert.pem, clientkey.pem). tests/lab/test_tls_shapes.py gives each
to a real libvirtd and client and to the suite's tls.* checks, and wants the same verdict from both.

The server certificate is for NAME, the name the client connects to (as nova connects to migration_hostname)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conformance.probes import tls as tls_probes
from tests.unit.recorded import DERIVE, TLS, RecordedFacts, expectation, judge

NAME = "shape.lab.test"
CERT_CHECKS = (  # the checks that judge the operator's certificate files
    "tls.files-present",
    "tls.chain",
    "tls.key-match",
    "tls.san-covers-host",
    "tls.leaf-not-ca",
    "tls.validity",
    "tls.key-usage",
)

DAY = dt.timedelta(days=1)


def _rsa():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _ecdsa():
    return ec.generate_private_key(ec.SECP256R1())


def _usage(*names: str) -> x509.KeyUsage:
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    flags.update(dict.fromkeys(names, True))
    return x509.KeyUsage(**flags)


@dataclasses.dataclass
class Issued:
    cert: x509.Certificate
    key: object


def make(
    cn: str,
    issuer: Issued | None = None,
    *,
    key=None,
    ca: bool | None = None,
    bc_critical: bool = True,
    usage: tuple[str, ...] | None = None,
    usage_critical: bool = True,
    eku: tuple | None = None,
    eku_critical: bool = False,
    dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    valid: tuple[int, int] = (-1, 365),
) -> Issued:
    """A certificate for `cn`, self-signed when `issuer` is None. ca None: no basicConstraints at all."""
    key = key or _rsa()
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + valid[0] * DAY)
        .not_valid_after(now + valid[1] * DAY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    if ca is not None:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=bc_critical)
    if usage is not None:
        b = b.add_extension(_usage(*usage), critical=usage_critical)
    if eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=eku_critical)
    if dns or ips:
        names = [x509.DNSName(n) for n in dns] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(b.sign((issuer or Issued(None, key)).key, hashes.SHA256()), key)


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def files(bundle: tuple[Issued, ...], server: Issued, client: Issued) -> dict[str, bytes]:
    return {
        "cacert.pem": _pem(*(i.cert for i in bundle)),
        "servercert.pem": _pem(server.cert),
        "serverkey.pem": _key(server.key),
        "clientcert.pem": _pem(client.cert),
        "clientkey.pem": _key(client.key),
    }


KOLLA_CA = {"ca": True, "usage": ("digital_signature", "key_cert_sign")}  # `kolla-ansible certificates`' root


def _leaves(issuer: Issued, server: dict | None = None, client: dict | None = None) -> tuple[Issued, Issued]:
    return (
        make("server", issuer, **{"dns": (NAME,), **(server or {})}),
        make("client", issuer, **{"dns": (NAME,), **(client or {})}),
    )


def _plain(ca: dict, server: dict | None = None, client: dict | None = None, key=None) -> dict[str, bytes]:
    root = make("Shape Root CA", key=key, **ca)
    return files((root,), *_leaves(root, server, client))


def _v1_root() -> Issued:
    """A version 1 CA, as old `openssl x509 -req -signkey` recipes make it (cryptography writes only v3)."""
    with tempfile.TemporaryDirectory() as tmp:
        key, csr, pem = (Path(tmp) / n for n in ("ca.key", "ca.csr", "ca.pem"))
        subprocess.run(
            ["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-subj", "/CN=Shape v1 CA"]
            + ["-out", csr],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["openssl", "x509", "-req", "-in", csr, "-signkey", key, "-days", "30", "-out", pem],
            check=True,
            capture_output=True,
        )
        cert = x509.load_pem_x509_certificate(pem.read_bytes())
        assert cert.version is x509.Version.v1
        return Issued(cert, serialization.load_pem_private_key(key.read_bytes(), password=None))


def _v1() -> dict[str, bytes]:
    root = _v1_root()
    return files((root,), *_leaves(root))


def _intermediate(in_bundle: bool, inter_valid: tuple[int, int] = (-1, 365)) -> dict[str, bytes]:
    root = make("Shape Root CA", **KOLLA_CA)
    inter = make("Shape Intermediate CA", root, **KOLLA_CA, valid=inter_valid)
    return files((root, inter) if in_bundle else (root,), *_leaves(inter))


SERVER_AUTH, CLIENT_AUTH = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH

# shape -> (what makes its files, does libvirt accept it). The second is what a real libvirtd 9.0 and client do
# with the shape (tests/lab/test_tls_shapes.py measures it every run and fails if it changes).
SHAPES: dict[str, tuple[Callable[[], dict[str, bytes]], bool]] = {
    "kolla": (lambda: _plain(KOLLA_CA), True),
    "ca-without-keyusage": (lambda: _plain({"ca": True}), True),  # `openssl req -x509 -new`
    "ca-basicconstraints-not-critical": (lambda: _plain({**KOLLA_CA, "bc_critical": False}), True),
    "ca-v1": (_v1, False),
    "ca-without-basicconstraints": (lambda: _plain({"usage": ("key_cert_sign",)}), False),
    "ca-keyusage-without-certsign": (lambda: _plain({"ca": True, "usage": ("digital_signature",)}), False),
    "ca-keyusage-without-certsign-not-critical": (
        lambda: _plain({"ca": True, "usage": ("digital_signature",), "usage_critical": False}),
        False,
    ),
    "root-and-intermediate-bundle": (lambda: _intermediate(in_bundle=True), True),
    "intermediate-missing": (lambda: _intermediate(in_bundle=False), False),
    "intermediate-expired": (lambda: _intermediate(in_bundle=True, inter_valid=(-30, -1)), False),
    "ip-only-san": (lambda: _plain(KOLLA_CA, server={"dns": (), "ips": ("127.0.0.1",)}), False),
    "wildcard-san": (lambda: _plain(KOLLA_CA, server={"dns": ("*.lab.test",)}), True),
    "eku-server-and-client": (
        lambda: _plain(
            KOLLA_CA, server={"eku": (SERVER_AUTH, CLIENT_AUTH)}, client={"eku": (SERVER_AUTH, CLIENT_AUTH)}
        ),
        True,
    ),
    "server-eku-client-only-critical": (
        lambda: _plain(KOLLA_CA, server={"eku": (CLIENT_AUTH,), "eku_critical": True}),
        False,
    ),
    "server-eku-client-only-not-critical": (lambda: _plain(KOLLA_CA, server={"eku": (CLIENT_AUTH,)}), True),
    "leaf-keyusage-signature-only-not-critical": (
        lambda: _plain(KOLLA_CA, server={"usage": ("digital_signature",), "usage_critical": False}),
        True,
    ),
    "leaf-keyusage-encipherment-only-not-critical": (
        lambda: _plain(KOLLA_CA, server={"usage": ("key_encipherment",), "usage_critical": False}),
        True,
    ),
    "leaf-is-ca": (lambda: _plain(KOLLA_CA, server={"ca": True}), False),
    "ecdsa": (lambda: _plain(KOLLA_CA, key=_ecdsa(), server={"key": _ecdsa()}, client={"key": _ecdsa()}), True),
}


def static_verdict(files: dict[str, bytes], folder: Path) -> dict:
    """The suite's certificate checks over `files`, put in an operator's Kolla config dir under `folder`."""
    base = folder / "nova" / "nova-libvirt"
    base.mkdir(parents=True)
    for name, data in files.items():
        (base / name).write_bytes(data)
    exp = expectation(**{**TLS, "host": NAME, "migration_hostname": NAME, "operator_config_dir": str(folder)})
    facts = RecordedFacts({tls_probes.operator_cert_set: DERIVE}, host=NAME)
    return {check: judge(check, exp, facts) for check in CERT_CHECKS}
