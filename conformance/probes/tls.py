"""Probes for libvirt TLS: the operator's certificate files, the copies installed on a host, name resolution.

Operator files are read locally (the machine running the suite holds the Kolla config dir). Host-side private
keys are never fetched: only their sha256 (to compare with the operator's) or their public half.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from pathlib import Path

from conformance import certs
from conformance.certs import CERT_FILES
from conformance.facts import STAT, Facts, FileFact, stat_fact

# docs/kolla-provenance.md §3: where Kolla installs each file, with owner and mode.
LIBVIRT_PKI = {
    "cacert.pem": "/etc/pki/CA/cacert.pem",
    "servercert.pem": "/etc/pki/libvirt/servercert.pem",
    "serverkey.pem": "/etc/pki/libvirt/private/serverkey.pem",
    "clientcert.pem": "/etc/pki/libvirt/clientcert.pem",
    "clientkey.pem": "/etc/pki/libvirt/private/clientkey.pem",
}
CLIENT_FILES = ("cacert.pem", "clientcert.pem", "clientkey.pem")


@dataclasses.dataclass(frozen=True)
class OperatorFile:
    name: str
    path: Path | None  # the first found in Kolla's search order, None if neither exists
    searched: tuple[str, ...]

    def read(self) -> bytes:
        return self.path.read_bytes() if self.path else b""

    def sha256(self) -> str:
        return hashlib.sha256(self.read()).hexdigest() if self.path else ""


def operator_files(custom_config_dir: str, host: str) -> dict[str, OperatorFile]:
    """roles/nova-cell/tasks/config-libvirt-tls.yml first_found: nova-libvirt/<host>/<f>, then nova-libvirt/<f>."""
    base = Path(custom_config_dir) / "nova" / "nova-libvirt"
    found = {}
    for name in CERT_FILES:
        candidates = (base / host / name, base / name)
        path = next((c for c in candidates if c.is_file()), None)
        found[name] = OperatorFile(name, path, tuple(str(c) for c in candidates))
    return found


@dataclasses.dataclass(frozen=True)
class InstalledFile:
    """A certificate or key file on a host: metadata and content hash, never the content of a key."""

    name: str  # cacert.pem, serverkey.pem, ...
    place: str  # "/etc/kolla/nova-libvirt on the host", "nova_compute", ...
    fact: FileFact
    sha256: str


def installed_file(facts: Facts, name: str, path: str, container: str | None, place: str) -> InstalledFile:
    command = STAT + " && sha256sum -- %s"
    result = facts.run_in(container, command, path, path) if container else facts.run(command, path, path)
    lines = result.stdout.splitlines()
    if not result.ok or not lines:
        return InstalledFile(name, place, FileFact(path, exists=False), "")
    digest = lines[1].split()[0] if len(lines) > 1 and lines[1].split() else ""
    return InstalledFile(name, place, stat_fact(path, lines[0]), digest)


def host_certificate(facts: Facts, path: str) -> bytes:
    """A certificate (public) file from the host, as bytes."""
    fact = facts.file(path)
    return fact.content.encode() if fact.exists else b""


def host_public_key(facts: Facts, key_path: str) -> bytes:
    """The public half of a private key on the host, computed there: the key itself never leaves the host."""
    result = facts.run("openssl pkey -in %s -pubout 2>/dev/null", key_path)
    return result.stdout.encode() if result.ok else b""


def parse_getent_hosts(text: str) -> list[str]:
    """`getent ahostsv4 NAME` / `getent hosts NAME` -> addresses, first-seen order."""
    return list(dict.fromkeys(m.group(1) for m in re.finditer(r"^(\S+)\s", text, re.M)))


def host_resolution(facts: Facts, name: str) -> list[str]:
    return parse_getent_hosts(facts.run("getent hosts -- %s", name).stdout)


def parse_ss_listeners(text: str, port: int) -> list[str]:
    """`ss -Hltn` -> local addresses listening on `port` ('0.0.0.0' / '::' for wildcards)."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        local = next((f for f in fields if f.endswith(f":{port}")), None)
        if local:
            address = local.rsplit(":", 1)[0].strip("[]")
            found.append("0.0.0.0" if address == "*" else address.split("%")[0])
    return list(dict.fromkeys(found))


def listeners(facts: Facts, port: int) -> list[str]:
    return parse_ss_listeners(facts.run("ss -Hltn 2>/dev/null").stdout, port)


def host_addresses(facts: Facts) -> list[str]:
    out = facts.run("ip -o addr show 2>/dev/null").stdout
    return [m.group(1) for m in re.finditer(r"\binet6? ([0-9a-fA-F.:]+)/", out)]


@dataclasses.dataclass(frozen=True)
class CertSet:
    """The five TLS files from one place, parsed. Keys are held only as their public half."""

    label: str
    paths: dict  # file name -> where it was (or would have been) found
    certs: dict  # certificate file name -> x509.Certificate
    public_keys: dict  # key file name -> public key
    problems: dict  # file name -> "missing ..." / "unparsable ..."
    ca_bundle: tuple = ()  # every certificate of cacert.pem (certs["cacert.pem"] is the first): libvirt trusts each


def _parse(
    name: str, data: bytes, certs_out: dict, keys_out: dict, problems: dict, bundle_out: list, public: bool = False
) -> None:
    if not name.endswith("key.pem") and certs.holds_private_key(data):
        # Kolla copies cacert.pem (and the certificates) to every compute host, readable by nova: a key there is
        # a leaked key, whatever else the file holds. The bytes are never quoted.
        problems[name] = "holds private key material (a PRIVATE KEY block): remove it; this file is public"
    try:
        if name.endswith("key.pem"):
            keys_out[name] = certs.load_public_key(data) if public else certs.public_key_of_private(data)
        elif name == "cacert.pem":
            bundle_out[:] = certs.load_certs(data)
            certs_out[name] = bundle_out[0]
        else:
            certs_out[name] = certs.load_cert(data)
    except certs.BadPem as exc:
        problems[name] = str(exc)


def operator_cert_set(_facts, custom_config_dir: str, host: str) -> CertSet:
    """The files `kolla-ansible deploy` would copy to `host`, read locally in Kolla's search order."""
    found = operator_files(custom_config_dir, host)
    paths: dict[str, str] = {}
    parsed_certs: dict = {}
    keys: dict = {}
    problems: dict[str, str] = {}
    bundle: list = []
    for name, file in found.items():
        paths[name] = str(file.path) if file.path else " or ".join(file.searched)
        if file.path is None:
            problems[name] = "missing (searched " + ", then ".join(file.searched) + ")"
        else:
            _parse(name, file.read(), parsed_certs, keys, problems, bundle)
    return CertSet(
        f"operator's Kolla config ({Path(custom_config_dir) / 'nova' / 'nova-libvirt'})",
        paths,
        parsed_certs,
        keys,
        problems,
        tuple(bundle),
    )


def _host_pki_file(facts: Facts, name: str, path: str) -> bytes:
    return host_public_key(facts, path) if name.endswith("key.pem") else host_certificate(facts, path)


def host_pki_set(facts: Facts) -> CertSet:
    """A host libvirt's own files at libvirt's default paths; keys reduced to their public half on the host."""
    paths: dict[str, str] = dict(LIBVIRT_PKI)
    parsed_certs: dict = {}
    keys: dict = {}
    problems: dict[str, str] = {}
    bundle: list = []
    facts.prefetch(functools.partial(_host_pki_file, facts, name, path) for name, path in LIBVIRT_PKI.items())
    for name, path in LIBVIRT_PKI.items():
        data = _host_pki_file(facts, name, path)
        if not data:
            exists = facts.file(path, read=False).exists
            problems[name] = f"{'unreadable key' if exists else 'missing'}: {path} on the host"
        else:
            _parse(name, data, parsed_certs, keys, problems, bundle, public=True)
    return CertSet("host libvirt's /etc/pki", paths, parsed_certs, keys, problems, tuple(bundle))


# (place, container, directory or None for libvirt's pki paths, files, owner, group, mode)
# per docs/kolla-provenance.md §3.
def installed_places(exp) -> list[tuple]:
    """Where Kolla installs the TLS files on a host, and how (the check judges them, the fix restores them)."""
    kolla = exp.node_config_directory
    places: list[tuple] = []
    if exp.libvirt_container:
        places += [
            ("host", None, f"{kolla}/nova-libvirt", certs.CERT_FILES, "root", None, 0o600),
            ("nova_libvirt", "nova_libvirt", None, certs.CERT_FILES, "root", "root", 0o600),
        ]
    places += [
        ("host", None, f"{kolla}/nova-compute", CLIENT_FILES, "root", None, 0o600),
        ("nova_compute", "nova_compute", None, CLIENT_FILES, "root", "nova", 0o640),
    ]
    return places
