"""Kolla's variables as ansible-playbook resolves them, by ansible-core itself.

`kolla-ansible deploy` runs `ansible-playbook -i INV... -e @globals.yml -e @passwords.yml -e @globals.d/*
-e EXTRA... -e CONFIG_DIR=... site.yml` (kolla_ansible/ansible.py). The same parts are used here: Ansible's
InventoryManager (INI/YAML files and folders, ranges, host:port, group_vars/ and host_vars/), its DataLoader
(vault secrets), VariableManager and Templar (precedence, filters, tests, lookups, hostvars), with the Kolla
Ansible release's own playbook group_vars and role defaults underneath (a play over the compute group holding
the role, as site.yml has). Host facts are set the way Ansible's fact gathering sets them.

Only `source_of` (which file a value comes from, for messages) is the suite's own reading: ansible-core keeps
a value's origin in internal tags only. It never changes a value.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from conformance.errors import ProfileError
from conformance.kolla.release import KollaAnsible

# Set before ansible.constants is read. An inventory Ansible cannot parse is an error here, not a warning
# followed by "no hosts"; Kolla's group names with '-' are legal and need no warning.
_ANSIBLE_ENV = {
    "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
    "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
    "ANSIBLE_TRANSFORM_INVALID_GROUP_CHARS": "ignore",
    "ANSIBLE_LOCALHOST_WARNING": "False",
    "ANSIBLE_INVENTORY_ENABLED": "host_list,script,auto,yaml,ini,toml",
}
ROLES = ("nova-cell", "openvswitch")
_CONNECTION_VARS = {
    "ansible_host",
    "ansible_port",
    "ansible_user",
    "inventory_file",
    "inventory_dir",
}  # the roles whose defaults hold what the checks read

_loaded: KollaAnsible | None = None  # Ansible's plugin loader is process-wide: one Kolla Ansible per process


@contextlib.contextmanager
def quiet(into: list[str] | None = None):
    """Ansible's display writes warnings and deprecations to stderr: here they would break the one-line error
    and the suite's own output. They are kept (`into`) instead; errors still arrive as exceptions."""
    sink_out, sink_err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(sink_out), contextlib.redirect_stderr(sink_err):
            yield
    finally:
        if into is not None:
            for line in (sink_out.getvalue() + sink_err.getvalue()).splitlines():
                if line.strip() and line not in into:
                    into.append(line)


class NeedsHostFacts(Exception):
    """A variable cannot be resolved until the host's facts are gathered."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _problem(exc: BaseException) -> str:
    """Ansible's message, its cause included, on one line."""
    parts = [_one_line(getattr(exc, "message", None) or str(exc))]
    cause = exc.__cause__
    while cause is not None and len(parts) < 4:
        text = _one_line(getattr(cause, "message", None) or str(cause))
        if text and text not in " ".join(parts):
            parts.append(
                f"{type(cause).__name__}: {text}"
                if not isinstance(cause, Exception) or "Ansible" not in type(cause).__name__
                else text
            )
        cause = cause.__cause__
    return ": ".join(p for p in parts if p) or type(exc).__name__


# Without the host's facts, a value that reads them fails as undefined (or in kolla_address): those are judged
# once the facts are in; any other error (a type error, a division by zero) is the profile's, at load.
_FACT_HINTS = ("ansible_facts", "'ansible_", "has no attribute", "kolla_address", "not present on host")


def _needs_facts(problem: str) -> bool:
    return any(hint in problem for hint in _FACT_HINTS)


def _plain(value: Any) -> Any:
    """ansible-core's tagged str/int/list/dict as plain Python values."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return value


def _load_plugins(kolla: KollaAnsible) -> None:
    global _loaded
    if _loaded is not None:
        if _loaded.ansible_dir != kolla.ansible_dir:
            raise ProfileError(
                kolla.ansible_dir,
                None,
                f"one Kolla Ansible per run: {_loaded.version} ({_loaded.ansible_dir}) is already loaded",
            )
        return
    for key, value in _ANSIBLE_ENV.items():
        os.environ.setdefault(key, value)
    if kolla.package_dir is not None and str(kolla.package_dir) not in sys.path:
        sys.path.append(str(kolla.package_dir))  # Kolla's filter plugins import the kolla_ansible package
    from ansible.plugins.loader import add_all_plugin_dirs, init_plugin_loader

    init_plugin_loader()
    add_all_plugin_dirs(str(kolla.ansible_dir))  # library/, action_plugins/, filter_plugins/ beside the playbooks
    _loaded = kolla


class AnsibleTree:
    """One deployment as ansible-playbook sees it: inventories, extra vars, vault, Kolla's files."""

    def __init__(
        self,
        kolla: KollaAnsible,
        inventories: list[Path],
        extra_vars: list[str],
        vault_secret: Any,
        group: str,
        source,
    ):
        self.warnings: list[str] = []  # what Ansible displayed while loading and templating
        with quiet(self.warnings):
            self._load(kolla, inventories, extra_vars, vault_secret, group, source)

    def _load(self, kolla, inventories, extra_vars, vault_secret, group, source) -> None:
        _load_plugins(kolla)
        from ansible import context
        from ansible.errors import AnsibleError
        from ansible.inventory.manager import InventoryManager
        from ansible.module_utils.common.collections import ImmutableDict
        from ansible.parsing.dataloader import DataLoader
        from ansible.parsing.vault import VaultSecret
        from ansible.playbook.play import Play
        from ansible.vars.hostvars import HostVars
        from ansible.vars.manager import VariableManager

        self.kolla, self.group, self.inventories, self.extra_vars = kolla, group, inventories, extra_vars
        self.loader = DataLoader()
        self.loader.set_basedir(str(kolla.ansible_dir))  # the playbooks' folder: group_vars/ and roles/ beside them
        if vault_secret is not None:  # bytes, or an Ansible VaultSecret (a password file or a prompt)
            secret = VaultSecret(vault_secret) if isinstance(vault_secret, bytes) else vault_secret
            self.loader.set_vault_secrets([("default", secret)])
        _vault_context([("default", secret)] if vault_secret is not None else [])
        previous = context.CLIARGS
        context.CLIARGS = ImmutableDict(extra_vars=tuple(extra_vars))  # what `ansible-playbook -e` fills
        from ansible.utils.vars import load_extra_vars

        # ansible-core memoises the -e values on the function for its one CLI run; a process here may load
        # several deployments (the suite's tests, a before/after pair), so each starts from its own -e.
        load_extra_vars.__dict__.pop("extra_vars", None)
        try:
            load_extra_vars(self.loader)  # each -e on its own first: a bad one is named, not an inventory failure
        except AnsibleError as exc:
            context.CLIARGS = previous
            raise ProfileError(self._failing_extra(extra_vars) or _file_of(exc, source), None, _problem(exc)) from None
        try:
            # No inventory: an empty host list (","), so "nothing parsed" stays an error for a real one.
            sources = [str(p) for p in inventories] or [","]
            shown: list[str] = []
            try:
                with quiet(shown):
                    self.inventory = InventoryManager(loader=self.loader, sources=sources)
            except AnsibleError as exc:
                raise _inventory_error(exc, inventories, shown, source) from None
            finally:
                self.warnings += shown
            self.manager = VariableManager(loader=self.loader, inventory=self.inventory)
        except AnsibleError as exc:
            raise ProfileError(_file_of(exc, source), None, _problem(exc)) from None
        finally:
            context.CLIARGS = previous
        HostVars(inventory=self.inventory, variable_manager=self.manager, loader=self.loader)  # `hostvars`
        try:
            self.plays = {
                role: Play.load(
                    {"name": f"conformance: {role}", "hosts": group, "gather_facts": False, "roles": [role]},
                    variable_manager=self.manager,
                    loader=self.loader,
                )
                for role in ROLES
            }
        except AnsibleError as exc:
            raise ProfileError(kolla.ansible_dir, None, f"Kolla Ansible's roles do not load: {_problem(exc)}") from None
        self._facts_set: set[str] = set()

    def _failing_extra(self, extra_vars: list[str]) -> str | None:
        """Which -e file Ansible could not load (its error does not always say)."""
        for item in extra_vars:
            if item.startswith("@"):
                try:
                    self.loader.load_from_file(item[1:])
                except Exception:
                    return item[1:]
        return None

    def variable_signature(self, host: str, has_overrides: bool) -> tuple:
        """What makes a host's variables its own: its groups, and any host variable except how to reach it
        (those are checked per host anyway). A host with host_vars files or profile overrides is its own."""
        h = self.inventory.get_host(host)
        if h is None or has_overrides:
            return (host,)
        for inventory in self.inventories:
            folder = (inventory if inventory.is_dir() else inventory.parent) / "host_vars"
            if folder.is_dir() and any(p.name == host or p.stem == host for p in folder.iterdir()):
                return (host,)
        own = {k: v for k, v in h.vars.items() if k not in _CONNECTION_VARS}
        try:
            return (tuple(sorted(g.name for g in h.get_groups())), json.dumps(_plain(own), sort_keys=True))
        except TypeError:
            return (host,)

    def hosts(self, pattern: str) -> list[str]:
        return [h.name for h in self.inventory.get_hosts(pattern)]

    def set_facts(self, host: str, facts: Mapping[str, Any]) -> None:
        # As the setup module returns them (ansible_-prefixed): Ansible then has both ansible_facts.nodename
        # and the top-level ansible_nodename (INJECT_FACTS_AS_VARS).
        prefixed = {k if k.startswith("ansible_") else f"ansible_{k}": v for k, v in facts.items()}
        self.manager.set_host_facts(host, prefixed)
        self._facts_set.add(host)

    def raw_vars(self, host: str, role: str) -> dict[str, Any]:
        from ansible.errors import AnsibleError

        h = self.inventory.get_host(host)
        if h is None:  # a profile's host that no inventory lists: one of the group it checks
            self.inventory.add_group(self.group)
            self.inventory.add_host(host, group=self.group)
            h = self.inventory.get_host(host)
        try:
            with quiet(self.warnings):
                return self.manager.get_vars(play=self.plays[role], host=h)
        except AnsibleError as exc:
            raise ProfileError(_file_of(exc, "ansible"), None, _problem(exc)) from None

    @functools.cached_property
    def extra_layers(self) -> list[tuple[str, Mapping[str, Any]]]:
        """Each `-e` source with its variables, in Ansible's order (for secrets and messages), read once."""
        layers: list[tuple[str, Mapping[str, Any]]] = []
        for item in self.extra_vars:
            if item.startswith("@"):
                data = self.loader.load_from_file(item[1:])
                layers.append((item[1:], _plain(data) if isinstance(data, Mapping) else {}))
            else:
                data = self.loader.load(item) if item.lstrip().startswith(("{", "[")) else _key_values(item)
                layers.append(("-e " + item.split("=", 1)[0], _plain(data) if isinstance(data, Mapping) else {}))
        return layers


def _inventory_error(exc: BaseException, inventories: list[Path], warnings: list[str], source) -> ProfileError:
    """Ansible says which source failed in its error and why in each plugin's warning: the one line names the
    file and gives the reason of the plugin made for its kind (ini for INI files, yaml for YAML)."""
    text = " ".join(str(exc).split())
    failed = next((p for p in inventories if str(p) in text), inventories[0] if len(inventories) == 1 else None)
    if failed is None:
        return ProfileError(_file_of(exc, source), None, _problem(exc))
    kind = "yaml" if failed.suffix in (".yml", ".yaml", ".json") else "ini"
    reasons = [w for w in warnings if f"with '{kind}' plugin:" in w] or [w for w in warnings if "plugin:" in w]
    if not reasons:
        return ProfileError(failed, None, _problem(exc))
    reason = reasons[0].split("plugin:", 1)[1].strip()
    reason = reason.replace(f"{failed}:", "line ").replace(str(failed), "").strip(" :")
    return ProfileError(failed, None, f"not an inventory Ansible can parse: {_one_line(reason)}")


def _vault_context(secrets: list) -> None:
    """Inline `!vault` values decrypt through ansible-core's process-wide vault context, which its CLI sets up
    once; here each deployment loaded sets its own secrets."""
    from ansible.parsing.vault import VaultSecretsContext

    current = VaultSecretsContext.current(optional=True)
    if current is None:
        VaultSecretsContext.initialize(VaultSecretsContext(secrets))
    else:
        current.secrets = secrets


def _key_values(item: str) -> dict[str, Any]:
    from ansible.parsing.splitter import parse_kv

    return parse_kv(item)


def _file_of(exc: BaseException, default) -> str:
    """The file an Ansible error names, when it names one."""
    obj = getattr(exc, "obj", None)
    origin = getattr(obj, "ansible_pos", None) if obj is not None else None
    if origin:
        return str(origin[0])
    text = str(exc)
    for token in text.replace("'", " ").replace('"', " ").split():
        if token.startswith("/") and Path(token.rstrip(".,:")).is_file():
            return token.rstrip(".,:")
    return str(default)


class Variables(Mapping):
    """One host's variables: `v[name]` is the value Ansible would template for it, in plain Python types.

    Profile overrides beat everything, -e included, as the profile's last word on what the host should be.
    `facts` gathers the host's facts; without it, a variable that needs them raises NeedsHostFacts.
    """

    def __init__(
        self,
        tree: AnsibleTree,
        host: str,
        overrides: list[tuple[str, Mapping[str, Any]]],
        facts: Callable[[], Mapping[str, Any]] | None,
    ):
        self.tree, self.host, self.overrides, self._facts = tree, host, overrides, facts
        self._raw: dict[str, dict[str, Any]] = {}
        self._values: dict[tuple[str, str], Any] = {}
        if overrides:
            from ansible.template import trust_as_template

            for _, layer in overrides:
                for key, value in layer.items():  # for hostvars[host] lookups; the top-level dict gets them below
                    tree.manager.set_host_variable(host, key, _trusted(value, trust_as_template))

    def _ready(self) -> None:
        if self._facts is not None and self.host not in self.tree._facts_set:
            self.tree.set_facts(self.host, self._facts())
            self._raw.clear()

    def raw(self, role: str = ROLES[0]) -> dict[str, Any]:
        self._ready()
        if role not in self._raw:
            from ansible.template import trust_as_template

            variables = dict(self.tree.raw_vars(self.host, role))
            for _, layer in self.overrides:
                variables.update({k: _trusted(v, trust_as_template) for k, v in layer.items()})
            self._raw[role] = variables
        return self._raw[role]

    def __contains__(self, name) -> bool:
        return name in self.raw()

    def __iter__(self):
        return iter(self.raw())

    def __len__(self) -> int:
        return len(self.raw())

    def __getitem__(self, name: str) -> Any:
        return self.get_in(name, ROLES[0])

    def get_in(self, name: str, role: str) -> Any:
        key = (role, name)
        if key not in self._values:
            variables = self.raw(role)
            if name not in variables:
                raise ProfileError(self.source_of(name), name, "undefined (not set by Kolla Ansible or the operator)")
            self._values[key] = self._template(variables[name], variables, name)
        return self._values[key]

    def template(self, text: str, source: str, role: str = ROLES[0]) -> str:
        """An operator's file templated with the host's variables, as Kolla's merge_configs action does."""
        from ansible.errors import AnsibleError
        from ansible.template import Templar, trust_as_template

        variables = self.raw(role)
        try:
            with quiet(self.tree.warnings):
                rendered = Templar(loader=self.tree.loader, variables=variables).template(
                    trust_as_template(text), overrides=dict(lstrip_blocks=True)
                )
            # ansible-core gives None for a file that renders empty; merge_configs reads StringIO(None): nothing.
            return "" if rendered is None else str(rendered)
        except AnsibleError as exc:
            problem = _problem(exc)
            if self._facts is None and _needs_facts(problem):
                raise NeedsHostFacts(problem) from None
            raise ProfileError(source, None, f"host {self.host}: {problem}") from None

    def _template(self, raw: Any, variables: dict[str, Any], name: str) -> Any:
        from ansible.errors import AnsibleError
        from ansible.template import Templar

        if _is_literal(raw):  # what Ansible would return unchanged: skip its per-call set-up
            return _plain(raw)
        try:
            with quiet(self.tree.warnings):
                return _plain(Templar(loader=self.tree.loader, variables=variables).template(raw))
        except AnsibleError as exc:
            problem = _problem(exc)
            if self._facts is None and _needs_facts(problem):
                raise NeedsHostFacts(problem) from None
            where = "" if self._host_level(name) else f"host {self.host}: "
            source = self.source_of(name)
            if _is_secret(name, source):  # Ansible's message quotes the template, and so the secret
                problem = (
                    f"cannot evaluate the value ({type(exc).__name__}; the message is withheld: it shows the value)"
                )
            raise ProfileError(source, name, where + problem) from None

    def _host_level(self, name: str) -> bool:
        return f"(host {self.host})" in self.source_of(name) or self.source_of(name).endswith(f"host_vars/{self.host}")

    # -- where a value comes from (messages only) ------------------------------------------------------------
    def source_of(self, name: str) -> str:
        for label, layer in reversed(self.overrides):
            if name in layer:
                return label
        for label, layer in reversed(self.tree.extra_layers):
            if name in layer:
                return label
        host = self.tree.inventory.get_host(self.host)
        if host is not None:
            groups = sorted(host.get_groups(), key=lambda g: (g.depth, g.priority, g.name), reverse=True)
            owners = [("host_vars", host, f"(host {self.host})")]
            owners += [("group_vars", group, f"[{group.name}:vars]") for group in groups]
            for folder_name, owner, inline in owners:  # the host, then its groups, most specific first
                for folder in self._inventory_dirs():
                    found = _var_file(folder / folder_name, owner.name, name, self.tree.loader)
                    if found:
                        return found
                if name in owner.vars:
                    return f"{self._inventory_label()} {inline}"
        kolla = self.tree.kolla
        found = _var_file(kolla.file("group_vars"), "all", name, self.tree.loader)
        if found:
            return f"Kolla Ansible {kolla.version} {Path(found).relative_to(kolla.ansible_dir)}"
        for role in ROLES:
            defaults = kolla.file("roles", role, "defaults", "main.yml")
            if name in (_load(defaults, self.tree.loader) or {}):
                return f"Kolla Ansible {kolla.version} roles/{role}/defaults/main.yml"
        return "Ansible (a fact or magic variable)"

    def _inventory_dirs(self) -> list[Path]:
        return [p if p.is_dir() else p.parent for p in self.tree.inventories]

    def _inventory_label(self) -> str:
        return ", ".join(str(p) for p in self.tree.inventories)


def _is_literal(value: Any) -> bool:
    """Plain data without Jinja's markers: Ansible would return it unchanged. Anything else (a template, an
    inline !vault value to decrypt) goes through the Templar."""
    if isinstance(value, str):
        return not ("{{" in value or "{%" in value or "{#" in value)
    if isinstance(value, Mapping):
        return all(_is_literal(k) and _is_literal(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_literal(v) for v in value)
    return value is None or isinstance(value, (bool, int, float))


def _is_secret(name: str, source: str) -> bool:
    return "password" in name or "secret" in name or Path(source.split(" ")[0]).name == "passwords.yml"


def _trusted(value: Any, trust: Callable[[Any], Any]) -> Any:
    if isinstance(value, str):
        return trust(value)
    if isinstance(value, list):
        return [_trusted(v, trust) for v in value]
    if isinstance(value, dict):
        return {k: _trusted(v, trust) for k, v in value.items()}
    return value


def _load(path: Path, loader) -> Any:
    try:
        return loader.load_from_file(str(path)) if path.is_file() else None
    except Exception:  # a label lookup never turns into an error of its own
        return None


def _var_file(folder: Path, name: str, key: str, loader) -> str | None:
    """The last file of Ansible's host_group_vars layout for `name` that sets `key`."""
    files = [folder / f"{name}{ext}" for ext in ("", ".yml", ".yaml", ".json")]
    found = [f for f in files if f.is_file()]
    if (folder / name).is_dir():
        found += sorted(
            p for p in (folder / name).rglob("*") if p.is_file() and p.suffix in ("", ".yml", ".yaml", ".json")
        )
    for path in reversed(found):
        data = _load(path, loader)
        if isinstance(data, Mapping) and key in data:
            return str(path)
    return None
