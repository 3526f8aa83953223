"""Probes for the files Kolla renders onto a host (under node_config_directory, /etc/kolla)."""

from __future__ import annotations

from conformance.conffiles import parse_ini
from conformance.facts import Facts, FileFact


def rendered_nova_compute_conf(facts: Facts, config_directory: str) -> tuple[FileFact, dict[str, dict[str, str]]]:
    """The nova.conf Kolla rendered for nova-compute; operator overrides are already merged into it."""
    fact = facts.file(f"{config_directory}/nova-compute/nova.conf")
    return fact, (parse_ini(fact.content) if fact.exists else {})
