"""Judging libvirt TLS material: pure functions over PEM bytes, no I/O.

Certificates become evidence as subject, issuer, SANs, validity and fingerprint only. Private keys are loaded
to compare their public half and never leave this module in any other form.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

CERT_FILES = ("cacert.pem", "servercert.pem", "serverkey.pem", "clientcert.pem", "clientkey.pem")
LEAVES = {"servercert.pem": "serverkey.pem", "clientcert.pem": "clientkey.pem"}  # certificate -> its key


class BadPem(ValueError):
    """The bytes are not the PEM object expected (the message never quotes the bytes)."""


def load_cert(data: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise BadPem(f"not a PEM certificate ({_first_line(exc)})") from None


def load_certs(data: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle, in order: cacert.pem may hold a root and its intermediates, and libvirt
    (GnuTLS) trusts each of them."""
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise BadPem(f"not a PEM certificate ({_first_line(exc)})") from None


def public_key_of_private(data: bytes):
    """The public half of a PEM private key: the only thing a key file is ever reduced to."""
    try:
        return serialization.load_pem_private_key(data, password=None).public_key()
    except (ValueError, TypeError) as exc:
        raise BadPem(f"not an unencrypted PEM private key ({_first_line(exc)})") from None


def load_public_key(data: bytes):
    try:
        return serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise BadPem(f"not a PEM public key ({_first_line(exc)})") from None


def holds_private_key(data: bytes) -> bool:
    """A PEM block of any private key type (PKCS#8, RSA, EC, encrypted) among the file's blocks."""
    return re.search(rb"-----BEGIN (?:[A-Z0-9 ]+ )?PRIVATE KEY-----", data) is not None


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__


def fingerprint(cert: x509.Certificate) -> str:
    return "SHA256:" + cert.fingerprint(hashes.SHA256()).hex(":").upper()


def dns_sans(cert: x509.Certificate) -> list[str]:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    except x509.ExtensionNotFound:
        return []


def ip_sans(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]


def describe(cert: x509.Certificate) -> str:
    """One evidence line: what an operator needs to recognise the certificate, nothing secret."""
    sans = ", ".join([f"DNS:{n}" for n in dns_sans(cert)] + [f"IP:{a}" for a in ip_sans(cert)]) or "none"
    return (
        f"subject {cert.subject.rfc4514_string() or '(empty)'}; issuer {cert.issuer.rfc4514_string()}; "
        f"SAN {sans}; valid {cert.not_valid_before_utc:%Y-%m-%d %H:%M} "
        f"to {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC; "
        f"{fingerprint(cert)}"
    )


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def same_public_key(a, b) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return a.public_bytes(*fmt) == b.public_bytes(*fmt)


def _extension(cert: x509.Certificate, kind):
    try:
        return cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


def ca_problems(ca: x509.Certificate) -> list[str]:
    """What libvirt refuses in a certificate of cacert.pem, each of which it checks as a CA at start and in every
    client (virnettlscontext.c, virNetTLSContextCheckCert with isCA): basicConstraints present and CA:TRUE,
    critical or not; a critical keyUsage must allow keyCertSign. Dates are tls.validity's."""
    problems = []
    bc = _extension(ca, x509.BasicConstraints)
    if bc is None:
        problems.append("has no basicConstraints (libvirt: 'missing basic constraints for a CA')")
    elif not bc.value.ca:
        problems.append("has basicConstraints CA:FALSE (libvirt: 'basic constraints do not show a CA')")
    ku = _extension(ca, x509.KeyUsage)
    if ku is not None and ku.critical and not ku.value.key_cert_sign:
        problems.append("has a critical keyUsage without keyCertSign")
    return problems


def _may_sign(ca: x509.Certificate) -> str:
    """Why GnuTLS would not take `ca` as an issuer ("" if it would): CA:TRUE, and keyCertSign where keyUsage is
    present (critical or not)."""
    bc, ku = _extension(ca, x509.BasicConstraints), _extension(ca, x509.KeyUsage)
    if bc is None or not bc.value.ca:
        return "it is not a CA (basicConstraints)"
    if ku is not None and not ku.value.key_cert_sign:
        return "its keyUsage does not allow keyCertSign"
    return ""


def verify_chain(leaf: x509.Certificate, bundle: list[x509.Certificate]) -> tuple[bool, str]:
    """Does `leaf` chain to cacert.pem as libvirt verifies it? GnuTLS's list verification with every certificate
    of the file trusted on its own: an issuer there (subject and signature) that may sign is enough, so an
    intermediate in cacert.pem counts and one only elsewhere does not. Leaf extensions are tls.leaf-not-ca's and
    tls.key-usage's; dates are tls.validity's, so the signature alone is judged here."""
    named = [ca for ca in bundle if ca.subject == leaf.issuer]
    if not named:
        held = "; ".join(ca.subject.rfc4514_string() or "(empty subject)" for ca in bundle)
        return False, f"its issuer is not in cacert.pem (which holds {held})"
    error = ""
    for ca in named:
        try:
            leaf.verify_directly_issued_by(ca)
        except InvalidSignature:
            error = f"not signed by the key of {ca.subject.rfc4514_string()} in cacert.pem (another CA of that name)"
            continue
        except (ValueError, TypeError) as exc:  # signature algorithm, key type
            error = f"signature check against {ca.subject.rfc4514_string()}: {_first_line(exc)}"
            continue
        if why := _may_sign(ca):
            return False, f"signed by {ca.subject.rfc4514_string()}, but {why}"
        return True, f"signed by {ca.subject.rfc4514_string()} in cacert.pem"
    return False, error


@dataclasses.dataclass(frozen=True)
class Validity:
    status: str  # "ok", "expired", "not-yet-valid", "expiring"
    detail: str


def validity(cert: x509.Certificate, now: dt.datetime, warning_days: int) -> Validity:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now < start:
        return Validity("not-yet-valid", f"valid only from {start:%Y-%m-%d %H:%M} UTC")
    if now > end:
        return Validity("expired", f"expired {end:%Y-%m-%d %H:%M} UTC ({(now - end).days} days ago)")
    left = end - now
    if left < dt.timedelta(days=warning_days):
        return Validity("expiring", f"expires {end:%Y-%m-%d %H:%M} UTC, in {left.days} days (< {warning_days})")
    return Validity("ok", f"valid until {end:%Y-%m-%d} ({left.days} days left)")


def usage_problems(cert: x509.Certificate, purposes: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(refused, warned): key usage / extended key usage against a TLS `purposes` ("server", "client") use, as
    libvirt checks them (virnettlscontext.c): keyUsage, where present, should allow digitalSignature and
    keyEncipherment, extendedKeyUsage serverAuth / clientAuth. libvirt refuses what a *critical* extension forbids
    and only warns about a non-critical one (a real libvirtd and client then connect). Absent extensions allow all."""
    refused: list[str] = []
    warned: list[str] = []
    ku = _extension(cert, x509.KeyUsage)
    if ku is not None:
        for name in ("digital_signature", "key_encipherment"):
            if not getattr(ku.value, name):
                (refused if ku.critical else warned).append(
                    f"{'critical' if ku.critical else 'non-critical'} keyUsage lacks {_camel(name)}"
                )
    eku = _extension(cert, x509.ExtendedKeyUsage)
    if eku is not None:
        wanted = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}
        for purpose in purposes:
            if wanted[purpose] not in eku.value and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku.value:
                (refused if eku.critical else warned).append(
                    f"{'critical' if eku.critical else 'non-critical'} extendedKeyUsage lacks {purpose}Auth"
                )
    return refused, warned


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)
