"""Judging libvirt TLS material: pure functions over PEM bytes, no I/O.

Certificates become evidence as subject, issuer, SANs, validity and fingerprint only. Private keys are loaded
to compare their public half and never leave this module in any other form.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store, VerificationError

CERT_FILES = ("cacert.pem", "servercert.pem", "serverkey.pem", "clientcert.pem", "clientkey.pem")
LEAVES = {"servercert.pem": "serverkey.pem", "clientcert.pem": "clientkey.pem"}  # certificate -> its key


class BadPem(ValueError):
    """The bytes are not the PEM object expected (the message never quotes the bytes)."""


def load_cert(data: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(data)
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


def verify_chain(leaf: x509.Certificate, ca: x509.Certificate, now: dt.datetime) -> tuple[bool, str]:
    """Does `leaf` chain to `ca`? cryptography's X.509 path validation, with two deliberate relaxations:

    - leaf extensions are not judged here (Kolla's leaf has no AKI, KU, EKU or BC, which WebPKI rules demand);
      tls.leaf-not-ca and tls.key-usage judge them with libvirt's rules;
    - dates are tls.validity's business: if the chain fails only on time at `now`, it is validated at a
      moment both certificates are valid, and failing that, by the leaf's signature alone.
    """

    def attempt(at: dt.datetime) -> str | None:
        builder = (
            PolicyBuilder()
            .store(Store([ca]))
            .time(at)
            .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all())
        )
        try:
            builder.build_client_verifier().verify(leaf, [])
            return None
        except VerificationError as exc:
            return str(exc).split(" (encountered processing")[0]

    error = attempt(now)
    if error is None:
        return True, f"verified against {ca.subject.rfc4514_string()}"
    if "not valid at validation time" not in error:
        return False, error
    start = max(leaf.not_valid_before_utc, ca.not_valid_before_utc)
    end = min(leaf.not_valid_after_utc, ca.not_valid_after_utc)
    if start <= end and attempt(start + (end - start) / 2) is None:
        return True, f"verified against {ca.subject.rfc4514_string()} (at a date both are valid; see tls.validity)"
    try:
        leaf.verify_directly_issued_by(ca)
        return True, (
            f"signed by {ca.subject.rfc4514_string()}; their validity periods never overlap (see tls.validity)"
        )
    except Exception as exc:  # ValueError (issuer name), TypeError (key type), InvalidSignature
        return False, f"{error}; direct signature check: {_first_line(exc)}"


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


def usage_problems(cert: x509.Certificate, purposes: tuple[str, ...]) -> list[str]:
    """Key usage / extended key usage that forbid a TLS `purposes` ("server", "client") use, as libvirt
    checks them (virnettlscontext.c): KU, where present, needs digitalSignature and keyEncipherment;
    EKU, where present, needs serverAuth / clientAuth. Absent extensions allow everything."""
    problems = []
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        for name in ("digital_signature", "key_encipherment"):
            if not getattr(ku, name):
                problems.append(f"keyUsage lacks {_camel(name)}")
    except x509.ExtensionNotFound:
        pass
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        wanted = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}
        for purpose in purposes:
            if wanted[purpose] not in eku and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku:
                problems.append(f"extendedKeyUsage lacks {purpose}Auth")
    except x509.ExtensionNotFound:
        pass
    return problems


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)
