"""Live probes from the machine running the suite: a libvirt SASL login and a raw TLS handshake.

Client key material is written only to a private temporary directory (0700, files 0600) that is removed at
once; results carry libvirt's or OpenSSL's messages and certificate descriptions, never a key or password.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import socket
import ssl
import sys
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conformance import certs
from conformance.errors import ReadTimedOut
from conformance.facts import LIBVIRTD
from conformance.kolla.expectations import Secret
from conformance.libvirt_helper import HELPER

LOGIN_TIMEOUT = 30


@contextlib.contextmanager
def private_pki(files: dict[str, bytes]):
    """A 0700 directory holding `files` (0600), libvirt's pkipath layout; removed on exit."""
    with tempfile.TemporaryDirectory(prefix="kc-pki-") as tmp:
        os.chmod(tmp, 0o700)
        for name, data in files.items():
            path = Path(tmp) / name
            path.touch(mode=0o600)
            path.write_bytes(data)
        yield Path(tmp)


@dataclasses.dataclass(frozen=True)
class Login:
    ok: bool
    error: str
    mechanisms: tuple[str, ...]  # what the server advertised, as libvirt's client logged it
    hostname: str = ""


def live_limit(facts, wanted: float) -> int:
    """The time a live probe may take: the host's read limit (profile), not a constant of ours. A libvirtd that
    hung earlier in this run is not waited for again: the probe is not judged."""
    why = facts.blocked(LIBVIRTD)
    if why:
        raise ReadTimedOut(f"not tried: {why}")
    return facts.time_limit(int(wanted))


def no_answer(facts, seconds: int, what: str) -> ReadTimedOut:
    """libvirtd accepted the connection and never served it: not judged here (the daemon's own check,
    libvirt.container-healthy or libvirt.host-daemon-listening, fails for it), and not waited for again."""
    reason = f"{what} got no answer within {seconds}s (libvirtd accepts connections but does not serve)"
    facts.hung((LIBVIRTD,), seconds, reason)
    return ReadTimedOut(f"{reason} on {facts.host}")


LIBVIRT_CHILD = (sys.executable, "-m", "conformance.libvirt_login")


@contextlib.contextmanager
def with_pkipath(uri: str, client_pki: tuple | None):
    """(uri, private dir): the client PKI in a private pkipath that the uri names, removed on exit."""
    files = dict(client_pki or ())
    with private_pki(files) as tmp:
        yield (uri + ("&" if "?" in uri else "?") + f"pkipath={tmp}" if files else uri), tmp


@contextlib.contextmanager
def libvirt_client(uri: str, client_pki: tuple | None):
    """(uri, environment, private dir) for a libvirt client child of its own (the canary's): the client PKI in a
    private pkipath and an empty auth file (only the request's credentials count)."""
    with with_pkipath(uri, client_pki) as (uri, tmp):
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIBVIRT_")}
        (tmp / "auth.conf").touch(mode=0o600)
        env["LIBVIRT_AUTH_FILE"] = str(tmp / "auth.conf")
        yield uri, env, tmp


def libvirt_login(facts, uri: str, authname: str, password: Secret, client_pki: tuple | None) -> Login:
    """openAuth(uri) with these credentials, in the run's libvirt client child (conformance.libvirt_helper).

    A probe (cached per host through Facts.probe) although it runs here: `client_pki` is a tuple of
    (file name, bytes) so it can be part of the cache key."""
    limit = live_limit(facts, LOGIN_TIMEOUT)
    with with_pkipath(uri, client_pki) as (uri, tmp):
        answer = HELPER.login(uri, authname, password.reveal(), limit)
    if answer is None:
        raise no_answer(facts, limit, f"a libvirt login to {uri.split('?')[0]}")
    error = answer.get("error", "").replace(f"{tmp}/", "pkipath ")  # the temporary dir is gone: name the file
    return Login(answer["ok"], error, tuple(answer.get("mechanisms", ())), answer.get("hostname", ""))


@dataclasses.dataclass(frozen=True)
class Handshake:
    ok: bool  # TLS established and the server certificate verified for the hostname
    error: str
    peer: str = ""  # the server certificate, described
    tls_version: str = ""
    server_answered: bool = False  # libvirtd acknowledged the client certificate after the handshake


def tls_handshake(
    facts, hostname: str, port: int, ca_pem: bytes, client_pki: tuple, timeout: float = 10.0
) -> Handshake:
    """TLS to hostname:port verifying the server cert for `hostname` against `ca_pem`, presenting the client cert.

    libvirtd checks the client certificate after the handshake, then sends one byte 0x01 if it accepts it and
    drops the connection if not (virNetClientTLSHandshake waits for that byte): the handshake alone proves
    nothing about the client side.
    """
    timeout = live_limit(facts, timeout)
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca_pem.decode())
    with private_pki(dict(client_pki)) as tmp:
        try:
            context.load_cert_chain(tmp / "clientcert.pem", tmp / "clientkey.pem")
        except ssl.SSLError as exc:
            return Handshake(False, f"the client certificate and key do not load together: {exc.reason or exc}")
    try:
        raw = socket.create_connection((hostname, port), timeout=timeout)
    except TimeoutError:  # nothing accepted the connection: a firewall dropping it, not a hung daemon
        return Handshake(False, f"cannot connect to {hostname}:{port}: no answer within {timeout}s")
    except OSError as exc:
        return Handshake(False, f"cannot connect to {hostname}:{port}: {exc.strerror or exc}")
    except UnicodeError as exc:  # a name no resolver accepts (a label over 63 characters)
        return Handshake(False, f"cannot resolve {hostname!r}: {exc}")
    with raw:
        try:
            tls = context.wrap_socket(raw, server_hostname=hostname)
        except ssl.SSLCertVerificationError as exc:
            return Handshake(False, f"server certificate rejected: {exc.verify_message or exc.reason}")
        except TimeoutError:
            raise no_answer(facts, timeout, f"a TLS handshake with {hostname}:{port}") from None
        except (ssl.SSLError, OSError) as exc:
            return Handshake(False, f"TLS handshake failed: {exc}")
        with tls:
            peer = certs.describe(x509.load_der_x509_certificate(tls.getpeercert(binary_form=True) or b""))
            version = tls.version() or ""
            try:
                ack = tls.recv(1)
                answered = ack == b"\x01"
                error = "" if answered else f"libvirtd closed the connection after the handshake ({ack!r})"
            except (ssl.SSLError, OSError) as exc:
                answered, error = False, f"libvirtd dropped the connection after the handshake: {exc}"
    return Handshake(True, error, peer, version, answered)


def foreign_client_pki(ca_pem: bytes) -> tuple:
    """A client certificate from a throwaway CA (EC P-256, made now): libvirtd must refuse it.
    `ca_pem` is the real CA, kept so the client still verifies the server."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "conformance-foreign-ca")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "conformance-foreign-client")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return (
        ("cacert.pem", ca_pem),
        ("clientcert.pem", cert.public_bytes(serialization.Encoding.PEM)),
        ("clientkey.pem", key_pem),
    )


def resolve(_facts, name: str) -> list[str]:
    """What the runner resolves `name` to (IPv4 and IPv6), or [] if it does not resolve."""
    try:
        return list(dict.fromkeys(str(info[4][0]) for info in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)))
    except (socket.gaierror, UnicodeError):  # UnicodeError: a name no resolver accepts (a label over 63)
        return []
