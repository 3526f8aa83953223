"""The host facts Kolla's variables template with, in the shape Ansible's setup module reports them
(ansible_facts.nodename, .fqdn, .<interface>.ipv4.address, .ipv6, ...), read in one command."""

from __future__ import annotations

import ipaddress
import re

from conformance.facts import Facts

_SECTIONS = ("nodename", "machine", "fqdn", "os-release", "addresses", "route4", "route6")
_SCRIPT = (
    "echo @@nodename; uname -n; echo @@machine; uname -m; echo @@fqdn; hostname -f 2>/dev/null; "
    "echo @@os-release; cat /etc/os-release 2>/dev/null; echo @@addresses; ip -o addr show 2>/dev/null; "
    "echo @@route4; ip -4 route get 8.8.8.8 2>/dev/null; "
    "echo @@route6; ip -6 route get 2001:4860:4860::8888 2>/dev/null"
)  # `ip route get` only looks the route up in the host's table: nothing is sent
_FAMILIES = {"debian": "Debian", "ubuntu": "Debian", "rhel": "RedHat", "centos": "RedHat", "rocky": "RedHat"}
_FAMILIES |= {"almalinux": "RedHat", "fedora": "RedHat", "ol": "RedHat"}
_DISTRIBUTIONS = {"debian": "Debian", "ubuntu": "Ubuntu", "rhel": "RedHat", "centos": "CentOS", "rocky": "Rocky"}


def _sections(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {name: [] for name in _SECTIONS}
    current = None
    for line in text.splitlines():
        if line.startswith("@@") and line[2:] in found:
            current = line[2:]
        elif current is not None:
            found[current].append(line)
    return found


def _interfaces(lines: list[str]) -> dict[str, dict]:
    """`ip -o addr show` as Ansible's per-interface facts: ipv4 (the primary), ipv4_secondaries, ipv6."""
    interfaces: dict[str, dict] = {}
    for line in lines:
        match = re.match(r"^\d+:\s+([^\s@]+?)(?:@\S+)?\s+(inet6?)\s+(\S+)(.*)$", line)
        if not match:
            continue
        name, family, cidr, rest = match.groups()
        entry = interfaces.setdefault(name, {"device": name, "active": True})
        network = ipaddress.ip_interface(cidr)
        scope = re.search(r"\bscope (\w+)", rest)
        if family == "inet":
            fact = {
                "address": str(network.ip),
                "netmask": str(network.netmask),
                "network": str(network.network.network_address),
                "prefix": str(network.network.prefixlen),
            }
            broadcast = re.search(r"\bbrd (\S+)", rest)
            if broadcast:
                fact["broadcast"] = broadcast.group(1)
            if "ipv4" in entry:
                entry.setdefault("ipv4_secondaries", []).append(fact)
            else:
                entry["ipv4"] = fact
        else:
            entry.setdefault("ipv6", []).append(
                {
                    "address": str(network.ip),
                    "prefix": str(network.network.prefixlen),
                    "scope": scope.group(1) if scope else "global",
                }
            )
    return interfaces


def _default(lines: list[str], interfaces: dict[str, dict], family: str) -> dict:
    text = " ".join(lines)
    device = re.search(r"\bdev (\S+)", text)
    source = re.search(r"\bsrc (\S+)", text)
    if not device or device.group(1) not in interfaces:
        return {}
    entry = interfaces[device.group(1)]
    found = {"interface": device.group(1), "alias": device.group(1)}
    if family == "ipv4" and "ipv4" in entry:
        found |= entry["ipv4"]
    elif family == "ipv6" and entry.get("ipv6"):
        found |= next((a for a in entry["ipv6"] if source and a["address"] == source.group(1)), entry["ipv6"][0])
    if source:
        found["address"] = source.group(1)
    return found


def parse(text: str) -> dict:
    parts = _sections(text)
    nodename = (parts["nodename"] or [""])[0].strip()
    fqdn = (parts["fqdn"] or [""])[0].strip() or nodename
    release = dict((k, v.strip().strip('"')) for k, _, v in (line.partition("=") for line in parts["os-release"]) if v)
    ids = [release.get("ID", "").lower(), *release.get("ID_LIKE", "").lower().split()]
    interfaces = _interfaces(parts["addresses"])
    facts: dict = {
        "nodename": nodename,
        "hostname": nodename.split(".")[0],
        "fqdn": fqdn,
        "domain": fqdn.partition(".")[2],
        "architecture": (parts["machine"] or [""])[0].strip(),
        "machine": (parts["machine"] or [""])[0].strip(),
        "os_family": next((_FAMILIES[i] for i in ids if i in _FAMILIES), release.get("ID", "").capitalize()),
        "distribution": _DISTRIBUTIONS.get(ids[0], release.get("NAME", "").split(" ")[0]),
        "distribution_version": release.get("VERSION_ID", ""),
        "interfaces": list(interfaces),
        "all_ipv4_addresses": [
            e["ipv4"]["address"]
            for e in interfaces.values()
            if "ipv4" in e and not e["ipv4"]["address"].startswith("127.")
        ]
        + [s["address"] for e in interfaces.values() for s in e.get("ipv4_secondaries", [])],
        "all_ipv6_addresses": [
            a["address"] for e in interfaces.values() for a in e.get("ipv6", []) if a["address"] != "::1"
        ],
        "default_ipv4": _default(parts["route4"], interfaces, "ipv4"),
        "default_ipv6": _default(parts["route6"], interfaces, "ipv6"),
    }
    for name, entry in interfaces.items():  # Ansible's key for an interface: '-' and ':' become '_'
        facts[name.replace("-", "_").replace(":", "_")] = entry
    return facts


def ansible_facts(facts: Facts) -> dict:
    return parse(facts.run(_SCRIPT).stdout)
