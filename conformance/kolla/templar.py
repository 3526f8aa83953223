"""Evaluate Ansible variables the way Ansible does: lazily, Jinja templates rendered on use, native types kept.

Only what Kolla's nova/libvirt variables need is supported; anything else is a clear error naming the variable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import jinja2
from jinja2.nativetypes import NativeEnvironment, native_concat
from jinja2.sandbox import ImmutableSandboxedEnvironment

from conformance.errors import ProfileError


class _SandboxedNativeEnvironment(ImmutableSandboxedEnvironment, NativeEnvironment):
    """Jinja as Kolla's variables need it (native types: a list stays a list), sandboxed: a value in the operator's
    files is data, and no template may reach Python's internals (`cycler.__init__.__globals__`...) on the runner."""


def to_bool(value: Any) -> bool:
    """Ansible's `bool` filter."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1
    return str(value).strip().lower() in ("yes", "on", "1", "true", "t", "y")


def _ternary(value, true_value, false_value, none_value=None):
    if value is None and none_value is not None:
        return none_value
    return true_value if to_bool(value) else false_value


def _ipwrap(value):
    text = str(value)
    return f"[{text}]" if ":" in text and not text.startswith("[") else text


class Variables(Mapping):
    """One host's variables: a stack of layers (lowest first) evaluated lazily through Jinja.

    `facts` is a callable returning Ansible-like facts ({"nodename": ..., "interfaces": {name: ipv4}});
    it is called only when a template needs `ansible_facts`, so variables that do not need the host resolve offline.
    """

    def __init__(
        self,
        layers: list[tuple[str, Mapping[str, Any]]],
        *,
        host: str,
        groups: Mapping[str, list[str]],
        facts: Callable[[], Mapping[str, Any]] | None = None,
    ):
        self.layers = layers
        self.host = host
        self.groups = groups
        self._facts = facts
        self._cache: dict[str, Any] = {}
        self._resolving: list[str] = []
        self._host_error: BaseException | None = None  # what the facts callable raised: the host's, not Jinja's
        self._env = _SandboxedNativeEnvironment(undefined=jinja2.StrictUndefined)
        self._env.filters.update(
            bool=to_bool,
            ternary=_ternary,
            ipwrap=_ipwrap,
            put_address_in_context=lambda a, _ctx="url": _ipwrap(a),
            kolla_address=self._kolla_address,
        )

    # -- Mapping protocol (what Jinja's context looks names up in) --------------------------------------
    def _raw(self, name: str) -> tuple[str, Any]:
        for source, layer in reversed(self.layers):
            if name in layer:
                return source, layer[name]
        raise KeyError(name)

    def __contains__(self, name) -> bool:
        if name in ("inventory_hostname", "groups", "ansible_facts", "hostvars"):
            return True
        return any(name in layer for _, layer in self.layers)

    def __getitem__(self, name: str) -> Any:
        special = self._special(name)
        if special is not None:
            return special
        if name in self._cache:
            return self._cache[name]
        source, raw = self._raw(name)
        if name in self._resolving:
            chain = " -> ".join(self._resolving + [name])
            raise ProfileError(source, name, f"variable refers to itself: {chain}")
        self._resolving.append(name)
        try:
            value = self._render(raw, source, name)
        finally:
            self._resolving.pop()
        self._cache[name] = value
        return value

    def __iter__(self):
        seen = set()
        for _, layer in self.layers:
            for key in layer:
                if key not in seen:
                    seen.add(key)
                    yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def source_of(self, name: str) -> str:
        """Which file (or layer) the winning value of `name` comes from: evidence for findings."""
        return self._raw(name)[0]

    # -- rendering ------------------------------------------------------------------------------------
    def _special(self, name: str):
        if name == "inventory_hostname":
            return self.host
        if name == "groups":
            return self.groups
        if name == "ansible_facts":
            if self._facts is None:
                raise NeedsHostFacts(name)
            try:
                return self._facts()
            except Exception as exc:  # unreachable, timed out: passed on as it is, never as a config error
                self._host_error = exc
                raise
        return None

    def _render(self, raw: Any, source: str, name: str) -> Any:
        if isinstance(raw, str) and ("{{" in raw or "{%" in raw):
            try:
                template = self._env.from_string(raw)
                context = template.new_context(cast(dict, self), shared=True)  # a Mapping is all it reads
                value = native_concat(template.root_render_func(context))
                if isinstance(value, jinja2.Undefined):  # native rendering returns a lone Undefined unraised
                    value._fail_with_undefined_error()
                return value
            except (NeedsHostFacts, ProfileError):
                raise
            except Exception as exc:
                if exc is self._host_error:
                    raise
                if _secret(source, name):  # the error text may quote parts of the value: name only its kind
                    raise ProfileError(source, name, f"cannot evaluate the value: {type(exc).__name__}") from None
                raise ProfileError(source, name, f"cannot evaluate {raw!r}: {_problem(exc)}") from None
        if isinstance(raw, list):
            return [self._render(item, source, name) for item in raw]
        if isinstance(raw, dict):
            return {key: self._render(value, source, name) for key, value in raw.items()}
        return raw

    def _kolla_address(self, network: str, hostname: str | None = None) -> str:
        """Kolla's `kolla_address` filter: the IPv4 address of `<network>_interface` on this host."""
        interface = self[f"{network}_interface"]
        facts = self["ansible_facts"]
        address = facts.get("interfaces", {}).get(str(interface))
        if not address:
            known = ", ".join(sorted(facts.get("interfaces", {}))) or "none"
            raise ProfileError(
                f"host {self.host}",
                f"{network}_interface",
                f"interface {interface!r} has no IPv4 address on the host (interfaces: {known})",
            )
        return address


def _secret(source: str, name: str) -> bool:
    return "password" in name or "secret" in name or source.endswith("passwords.yml")


def _problem(exc: Exception) -> str:
    """One line for any error a template can raise at runtime (1 // 0, 'a' + 1, a failing filter, deep recursion)."""
    if isinstance(exc, jinja2.UndefinedError):
        text = exc.message or str(exc)
    elif isinstance(exc, jinja2.TemplateError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(str(text).split())


class NeedsHostFacts(Exception):
    """A variable needs facts gathered from the host (e.g. migration_hostname); raised when none were given."""
