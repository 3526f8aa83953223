"""The facts Ansible itself gathers and Kolla's defaults template with (ansible_facts.nodename, interfaces)."""

from __future__ import annotations

import re

from conformance.facts import Facts


def parse_ip_addr(text: str) -> dict[str, str]:
    """`ip -o -4 addr show` -> {interface: first IPv4 address}."""
    interfaces: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"^\d+:\s+([^\s:@]+)(?:@\S+)?\s+inet\s+([\d.]+)/", line)
        if match:
            interfaces.setdefault(match.group(1), match.group(2))
    return interfaces


def ansible_facts(facts: Facts) -> dict:
    out = facts.run("uname -n; ip -o -4 addr show 2>/dev/null").stdout
    nodename, _, addresses = out.partition("\n")
    return {
        "nodename": nodename.strip(),
        "hostname": nodename.strip().split(".")[0],
        "interfaces": parse_ip_addr(addresses),
    }
