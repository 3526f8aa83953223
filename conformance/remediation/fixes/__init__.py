"""Fixes per area, one module each (sasl, tls, virt, ovs, libvirt_mode, cleanup); importing one registers them.

Containerised files are fixed at their Kolla source on the host (node_config_directory/<service>/), which Kolla
copies into the container on every start, and the container is restarted: a later reconfigure keeps the fix.
"""

from __future__ import annotations

from conformance.probes import files
from conformance.remediation.registry import FixContext

RECONFIGURE = "a later `kolla-ansible reconfigure` would put it back"


def kolla_source(exp, service: str, name: str) -> str:
    """Where Kolla renders a service's file on the host: /etc/kolla/<service>/<name>."""
    return f"{exp.node_config_directory}/{service}/{name}"


def current(ctx: FixContext, path: str) -> str | None:
    """A file's content now (None if missing), read through the run's facts: planning never changes the host."""
    fact = ctx.facts.probe(files.content, path)
    return fact.content if fact.exists else None


def drift_note(ctx: FixContext, variable: str, value, host_value) -> None:
    """Say where the operator's config disagrees with what the host needs, since Kolla would re-apply it."""
    ctx.notes.append(
        f"{variable} = {value!r} (set in {ctx.source_of(variable)}) disagrees with the fix "
        f"({host_value!r}): change it there, or {RECONFIGURE}"
    )
