"""One run against the hosts of a profile: per-host connection, facts and expectation, created on first use."""

from __future__ import annotations

import dataclasses
import shutil
import threading

from conformance.access import HostConnection, new_control_dir
from conformance.facts import Facts
from conformance.kolla import expectations
from conformance.probes import host as host_probes
from conformance.profile import HostPlan, Profile
from conformance.redact import Redactor, secret_leaves


class HostContext:
    def __init__(self, profile: Profile, plan: HostPlan, control_dir: str):
        self.profile, self.plan = profile, plan
        self.connection = HostConnection(plan.name, plan.address, plan.ssh, control_dir)
        self._facts: Facts | None = None
        self._expectation: expectations.Expectation | None = None
        self._failure: Exception | None = None
        self._host_facts: Facts | None = None
        self.gather_seconds = 0.0  # wall time spent resolving and gathering this host (conformance.gather)

    def prepare(self) -> tuple[expectations.Expectation, Facts]:
        """Connect, gather Ansible-like facts, resolve the expectation. A failure is remembered for the host,
        so every later check of an unreachable host fails at once instead of waiting for its own timeout."""
        if self._failure is not None:
            raise self._failure
        if self._expectation is None or self._facts is None:
            try:
                variables = self.profile.variables(self.plan, facts=self.ansible_facts)
                kolla = self.profile.kolla
                expectation = expectations.resolve(
                    variables,
                    kolla=kolla.kolla,
                    nova_conf=kolla.nova_compute(variables),
                    ovs_agent=kolla.ovs_agent(variables),
                )
                self._expectation = dataclasses.replace(
                    expectation,
                    operator_config_dir=str(kolla.custom_config_dir(variables)) if kolla.config_dir else None,
                    live_probes=self.profile.live_probes,
                    canary=self.profile.canary,
                    expiry_warning_days=self.profile.expiry_warning_days,
                )
                self._facts = Facts(self.connection, engine=self._expectation.container_engine)
            except Exception as exc:
                self._failure = exc
                raise
        return self._expectation, self._facts

    @property
    def gathered(self) -> bool:
        """Resolved, and every read of its checks gathered (until a fix invalidates the facts)."""
        return self._facts is not None and self._facts.gathered

    def ansible_facts(self) -> dict:
        """What resolution may need from the host (Ansible's facts), read once, before the engine is known. A
        gatherer reads them before it resolves, so that no host's SSH round trip is made under the lock that
        resolution takes (ansible-core is not made for threads)."""
        if self._host_facts is None:
            self._host_facts = Facts(self.connection, engine=None)
        return self._host_facts.probe(host_probes.ansible_facts)

    def stats(self) -> dict:
        connection = self.connection
        return {
            "commands": connection.commands,
            "round_trips": connection.round_trips,
            "connections": connection.connections,
            "gather_seconds": round(self.gather_seconds, 2),
        }


class Run:
    """Everything one pytest process knows about the run (under xdist, one per worker)."""

    def __init__(self, profile: Profile):
        self.profile = profile
        self.redact = Redactor(self._secrets())
        self._control_dir = new_control_dir()
        self._hosts: dict[str, HostContext] = {}
        self._lock = threading.Lock()
        self._closed = False

    def _secrets(self) -> list[str]:
        found = []
        for source, layer in self.profile.kolla.extra_vars:
            if source.endswith("passwords.yml"):
                found += secret_leaves(layer)
            else:
                found += [v for k, v in layer.items() if "password" in str(k) and isinstance(v, str)]
        return found

    def host(self, name: str) -> HostContext:
        with self._lock:
            if name not in self._hosts:
                plan = next(p for p in self.profile.hosts if p.name == name)
                self._hosts[name] = HostContext(self.profile, plan, self._control_dir)
            return self._hosts[name]

    def stats(self) -> dict[str, dict]:
        return {name: ctx.stats() for name, ctx in self._hosts.items()}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        closing = [ctx.connection.start_closing() for ctx in self._hosts.values()]
        for ctx, process in zip(self._hosts.values(), closing, strict=True):
            ctx.connection.finish_closing(process)
        shutil.rmtree(self._control_dir, ignore_errors=True)  # the sockets are gone with their masters
