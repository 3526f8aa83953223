"""Host profiles: which deployment, which hosts, how to reach them, which phases. Validated before any SSH.

Schema (see README "Profiles"); relative paths resolve against the profile file's folder.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance.access import SshSettings
from conformance.errors import ProfileError
from conformance.inputs import as_port, check_host_name, is_address, is_user, parse_yaml, read_text
from conformance.kolla import release as kolla_release
from conformance.kolla.ansible_vars import NeedsHostFacts
from conformance.kolla.config import KollaConfig, default_config_dir
from conformance.kolla.expectations import validate_static
from conformance.model import Phase

_PATH, _STR, _BOOL, _INT, _PATHS = "path", "string", "boolean", "integer", "path or list of paths"

SCHEMA: dict[str, Any] = {
    "kolla": {
        "config_dir": _PATH,  # kolla-ansible --configdir; default $KOLLA_CONFIG_PATH, else /etc/kolla if it is one
        "inventory": _PATHS,  # -i, one path or a list (files or folders)
        "group": _STR,
        "release": _STR,  # a version (18.8.0) or a series (2024.1): must match the Kolla Ansible found
        "ansible_dir": _PATH,  # Kolla Ansible's files (an installation, unpacked wheel or checkout)
        "extra_vars": list,  # -e, as kolla-ansible passes them: "@file.yml", "key=value", JSON
        "vault_password_file": _PATH,
        "limit": _STR,  # an Ansible host pattern, as --limit
    },
    "hosts": list,
    "ssh": {
        "user": _STR,
        "port": _INT,
        "identity_file": _PATH,
        "config": _PATH,
        "known_hosts": _PATH,
        "strict_host_key_checking": _BOOL,
        "jump_host": _STR,
        "sudo": _BOOL,
        "connect_timeout": _INT,
        "command_timeout": _INT,
    },
    "phases": list,
    "live_probes": _BOOL,
    "canary": _BOOL,  # the canary guest: creates and removes a paused guest on each host (opt-in)
    "forks": _INT,  # hosts gathered at once, as Ansible's forks
    "tls": {"expiry_warning_days": _INT},
    "overrides": dict,
    "waivers": _PATH,  # a waiver file (conformance/waivers.py); its entries are validated when a run starts
}
HOST_KEYS = {"name": _STR, "address": _STR, "user": _STR, "port": _INT}

SHIPPED = Path(__file__).parent / "profiles"  # package data: the profiles an installed suite selects by name
STANDARD = "standard"  # the default deployment, as kolla-ansible runs with no options: the zero-config run
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


@dataclasses.dataclass(frozen=True)
class HostPlan:
    """One host to check: its inventory name, where SSH goes, and the profile overrides for it."""

    name: str
    address: str
    ssh: SshSettings
    overrides: tuple[tuple[str, Mapping[str, Any]], ...]


@dataclasses.dataclass(frozen=True)
class Profile:
    path: Path
    kolla: KollaConfig
    release: str | None
    hosts: tuple[HostPlan, ...]
    phases: tuple[str, ...]
    live_probes: bool
    expiry_warning_days: int
    waivers: Path | None = None
    forks: int = 64
    canary: bool = False

    def variables(self, host: HostPlan, facts=None):
        return self.kolla.variables(host.name, list(host.overrides), facts)


# Command-line options that stand in for profile keys (kolla-ansible's own flags, prefixed): the option wins.
KOLLA_OPTIONS = ("config_dir", "inventory", "release", "ansible_dir", "extra_vars", "vault_password_file", "limit")


def shipped_profiles() -> list[str]:
    return sorted(p.stem for p in SHIPPED.glob("*.yml"))


def resolve_profile(value: str | Path) -> Path:
    """A profile is a file or the name of a shipped one (`--profile predeploy-gate`); a file of that name wins."""
    path = Path(value)
    if path.is_file():
        return path
    name = str(value)
    if _NAME.fullmatch(name):
        if (SHIPPED / f"{name}.yml").is_file():
            return SHIPPED / f"{name}.yml"
        raise ProfileError(
            name, None, f"profile not found: no such file, nor a shipped profile ({', '.join(shipped_profiles())})"
        )
    raise ProfileError(path, None, "profile not found")


def load_profile(path: str | Path, options: Mapping[str, Any] | None = None, ask_vault_pass: bool = False) -> Profile:
    """`path`: a file or a shipped profile's name. `options`: kolla.* values given on the command line (paths
    relative to the current folder)."""
    path = resolve_profile(path)
    data = parse_yaml(path, read_text(path), unique_keys=True, line_as_key=True)  # a key twice: one would be lost
    if not isinstance(data, dict):
        raise ProfileError(path, None, "a profile must be a YAML mapping")
    _validate(path, data, SCHEMA, "")
    base = path.parent

    kolla = dict(data.get("kolla") or {})
    sources: dict[str, Any] = {key: path for key in kolla}
    for key, value in (options or {}).items():
        if value not in (None, [], ()):
            kolla[key] = [str(Path(v).absolute()) for v in value] if key == "inventory" else value
            if key in ("config_dir", "ansible_dir", "vault_password_file"):
                kolla[key] = str(Path(value).absolute())
            sources[key] = f"--kolla-{key.replace('_', '-')}"
    config = _kolla_config(path, base, kolla, sources, ask_vault_pass, needs_inventory=data.get("hosts") is None)

    ssh_data = data.get("ssh") or {}
    for key in ("identity_file", "config", "known_hosts"):
        if key in ssh_data:
            file = _path(base, ssh_data[key])
            if file is None or not file.is_file():
                raise ProfileError(path, f"ssh.{key}", f"file not found: {file}")
            ssh_data = {**ssh_data, key: str(file)}
    _check_ssh(path, ssh_data)
    ssh = SshSettings(**ssh_data)

    phases = tuple(data.get("phases") or [Phase.PREDEPLOY.value, Phase.POSTDEPLOY.value])
    known = [p.value for p in Phase]
    for phase in phases:
        if phase not in known:
            raise ProfileError(path, "phases", f"unknown phase {phase!r} (known: {', '.join(known)})")

    overrides = data.get("overrides") or {}
    for key, value in overrides.items():
        if not str(key).isprintable():
            raise ProfileError(path, "overrides", f"control characters in key {key!r}")
        if not isinstance(value, dict):
            raise ProfileError(path, f"overrides.{key}", "expected a mapping of Kolla variables")

    days = (data.get("tls") or {}).get("expiry_warning_days", 30)
    if days < 0:
        raise ProfileError(path, "tls.expiry_warning_days", f"expected 0 or more, got {days}")

    forks = data.get("forks", Profile.forks)
    if forks < 1:
        raise ProfileError(path, "forks", f"expected 1 or more, got {forks}")

    waivers = _path(base, data.get("waivers"))
    if waivers is not None and not waivers.is_file():
        raise ProfileError(path, "waivers", f"file not found: {waivers}")

    hosts = _hosts(path, data.get("hosts"), config, ssh, overrides)
    profile = Profile(
        path=path,
        kolla=config,
        release=config.kolla.version,
        hosts=hosts,
        phases=phases,
        live_probes=data.get("live_probes", True),
        canary=data.get("canary", False),
        expiry_warning_days=days,
        waivers=waivers,
        forks=forks,
    )
    # Every host-independent Kolla variable must evaluate before any host is touched. Hosts Ansible would give
    # the same variables (same groups, no host vars of their own but how to reach them) are checked once.
    checked: set = set()
    for host in hosts:
        signature = config.tree.variable_signature(host.name, bool(host.overrides))
        if signature in checked:
            continue
        checked.add(signature)
        variables = profile.variables(host)
        validate_static(variables)
        try:  # and the override files Kolla would merge must template and parse
            config.nova_compute(variables)
            config.ovs_agent(variables)
        except NeedsHostFacts:
            pass
    return profile


def _kolla_config(
    path: Path, base: Path, kolla: dict, sources: dict, ask_vault_pass: bool, needs_inventory: bool
) -> KollaConfig:
    """The deployment as kolla-ansible would run it, from the profile's `kolla` keys (options win)."""
    config_dir = _path(base, kolla.get("config_dir"))
    fallback = default_config_dir()
    if config_dir is None:
        config_dir = fallback if (fallback / "globals.yml").is_file() else None
    elif not config_dir.is_dir():
        raise ProfileError(sources["config_dir"], "kolla.config_dir", f"folder not found: {config_dir}")
    listed = kolla.get("inventory")
    inventories = [_path(base, v) for v in ([listed] if isinstance(listed, (str, int)) else listed or [])]
    for inventory in inventories:
        assert inventory is not None
        if not inventory.exists():
            raise ProfileError(sources["inventory"], "kolla.inventory", f"not found: {inventory}")
    if not inventories and needs_inventory:  # no hosts named: the inventory kolla-ansible itself would use
        if config_dir is None:
            raise ProfileError(
                path,
                "kolla.config_dir",
                f"no Kolla config dir: {fallback} has no globals.yml (give --configdir, or set KOLLA_CONFIG_PATH)",
            )
        default = default_inventory(config_dir)
        if not default.exists():
            raise ProfileError(
                path, "kolla.inventory", f"kolla-ansible's default {default} not found (give -i/--inventory)"
            )
        inventories = [default]
    extra = kolla.get("extra_vars") or []
    for index, item in enumerate(extra):
        if not isinstance(item, str) or not item.isprintable():
            raise ProfileError(sources["extra_vars"], f"kolla.extra_vars[{index}]", f"expected a string, got {item!r}")
    extra = [f"@{_path(base, item[1:])}" if item.startswith("@") else item for item in extra]
    found = kolla_release.find(
        _path(base, kolla.get("ansible_dir")),
        kolla.get("release"),
        sources.get("release", sources.get("ansible_dir", path)),
    )
    vault = _vault_secret(
        _path(base, kolla.get("vault_password_file")), sources.get("vault_password_file", path), ask_vault_pass
    )
    return KollaConfig.load(
        config_dir,
        [p for p in inventories if p is not None],
        str(kolla.get("group", "compute")),
        found,
        extra_vars=extra,
        vault_secret=vault,
        limit=kolla.get("limit"),
        source=path,
    )


def default_inventory(config_dir: Path) -> Path:
    """kolla-ansible's default -i (kolla_ansible/ansible.py, _get_inventory_paths): <configdir>/ansible/inventory/
    all-in-one."""
    return config_dir.absolute() / "ansible" / "inventory" / "all-in-one"


def _vault_secret(file: Path | None, source, ask: bool):
    """Ansible's own vault secrets: a password file (or script), or a prompt when asked and interactive."""
    if file is None and not ask:
        return None
    from ansible.errors import AnsibleError
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import PromptVaultSecret, get_file_vault_secret

    try:
        if file is not None:
            if not file.is_file():
                raise ProfileError(source, "kolla.vault_password_file", f"file not found: {file}")
            secret = get_file_vault_secret(filename=str(file), loader=DataLoader())
        else:
            import sys

            if not sys.stdin.isatty():
                raise ProfileError(
                    source, "--kolla-ask-vault-pass", "no terminal to ask on: give a vault password file"
                )
            secret = PromptVaultSecret(prompt_formats=["Vault password: "])
        secret.load()
    except AnsibleError as exc:
        raise ProfileError(file or source, None, f"vault password: {' '.join(str(exc).split())}") from None
    return secret


def _path(base: Path, value) -> Path | None:
    if value is None:
        return None
    candidate = Path(str(value)).expanduser()
    return candidate if candidate.is_absolute() else base / candidate


def _validate(path: Path, data: dict, schema: dict, prefix: str) -> None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if not str(key).isprintable():
            raise ProfileError(path, prefix.rstrip(".") or None, f"control characters in key {key!r}")
        if key not in schema:
            raise ProfileError(path, dotted, f"unknown key (known: {', '.join(sorted(schema))})")
        kind = schema[key]
        if isinstance(kind, dict):
            if not isinstance(value, dict):
                raise ProfileError(path, dotted, f"expected a mapping, got {type(value).__name__}")
            _validate(path, value, kind, dotted + ".")
        elif not _is(value, kind):
            name = kind if isinstance(kind, str) else {list: "list", dict: "mapping"}[kind]
            article = "an" if name[0] in "aeiou" else "a"
            raise ProfileError(path, dotted, f"expected {article} {name}, got {value!r}")
        elif kind in (_STR, _PATH) and not str(value).isprintable():  # a newline here would split the error line
            raise ProfileError(path, dotted, f"control characters in {value!r}")


def _is(value, kind) -> bool:
    if kind is list:
        return isinstance(value, list)
    if kind is dict:
        return isinstance(value, dict)
    if kind == _BOOL:
        return isinstance(value, bool)
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _PATHS:
        return _is(value, _PATH) or (isinstance(value, list) and bool(value) and all(_is(v, _PATH) for v in value))
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)  # _STR, _PATH


def _check_ssh(path: Path, ssh: dict) -> None:
    """What reaches the ssh command line is checked here, so no value can turn into an option or a shell word."""
    if "user" in ssh and not is_user(str(ssh["user"])):
        raise ProfileError(path, "ssh.user", f"not a user name: {ssh['user']!r}")
    if "port" in ssh and as_port(ssh["port"]) is None:
        raise ProfileError(path, "ssh.port", f"expected a port 1-65535, got {ssh['port']!r}")
    for key in ("connect_timeout", "command_timeout"):
        if key in ssh and ssh[key] <= 0:
            raise ProfileError(path, f"ssh.{key}", f"expected seconds, 1 or more, got {ssh[key]!r}")
    if "jump_host" in ssh:
        problem = _jump_host_problem(str(ssh["jump_host"]))
        if problem:
            raise ProfileError(path, "ssh.jump_host", f"{problem} (expected [user@]host[:port], comma-separated)")


def _jump_host_problem(spec: str) -> str | None:
    """ssh -J takes [user@]host[:port], several separated by commas; IPv6 addresses in brackets."""
    for hop in spec.split(","):
        user, at, hostport = hop.rpartition("@")
        if at and not is_user(user):
            return f"{user!r} is not a user name"
        host, port = hostport, None
        if hostport.startswith("["):
            host, _, rest = hostport[1:].partition("]")
            if rest:
                port = rest[1:] if rest.startswith(":") else rest
            if ":" not in host:
                return f"{host!r} in brackets is not an IPv6 address"
        elif hostport.count(":") == 1:
            host, port = hostport.split(":")
        if not is_address(host):
            return f"{host!r} is not a host name or IP address"
        if port is not None and (not port.isdigit() or as_port(port) is None):
            return f"{port!r} is not a port 1-65535"
    return None


def _hosts(path: Path, listed, config: KollaConfig, ssh: SshSettings, overrides: dict) -> tuple[HostPlan, ...]:
    entries: list[dict] = []
    keys: list[str] = []  # where each entry comes from, for errors
    if listed is not None:
        first: dict[str, str] = {}
        for index, item in enumerate(listed):
            key = f"hosts[{index}]"
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, dict) or "name" not in item:
                raise ProfileError(path, key, "expected a host name or a mapping with 'name'")
            _validate(path, item, HOST_KEYS, key + ".")
            name = check_host_name(str(item["name"]), path, key + ".name")
            if name in first:  # one host twice would be checked (and fixed) twice, its findings mixed up
                raise ProfileError(path, key, f"host {name!r} is listed twice (also {first[name]})")
            first[name] = key
            for field, valid, what in (
                ("address", is_address, "a host name or IP address"),
                ("user", is_user, "a user name"),
            ):
                if field in item and not valid(str(item[field])):
                    raise ProfileError(path, f"{key}.{field}", f"not {what}: {item[field]!r}")
            if "port" in item and as_port(item["port"]) is None:
                raise ProfileError(path, f"{key}.port", f"expected a port 1-65535, got {item['port']!r}")
            entries.append(item)
            keys.append(key)
    else:
        if not config.inventories:
            raise ProfileError(path, "hosts", "no hosts: give a host list or kolla.inventory")
        entries = [{"name": name} for name in config.compute_hosts()]
        keys = [f"host {e['name']}" for e in entries]
        if not entries:
            listed_in = ", ".join(str(p) for p in config.inventories)
            limit = f" within --limit {config.limit}" if config.limit else ""
            raise ProfileError(listed_in, config.group, f"inventory group has no hosts{limit}")
        for entry, key in zip(entries, keys):
            check_host_name(str(entry["name"]), ", ".join(str(p) for p in config.inventories), key)
    if not entries:
        raise ProfileError(path, "hosts", "the host list is empty")
    names = [str(e["name"]) for e in entries]
    for key in overrides:
        if key != "all" and key not in names:
            raise ProfileError(path, f"overrides.{key}", "not a host of this profile (use a host name or 'all')")

    plans = []
    for entry, key in zip(entries, keys):
        name = str(entry["name"])
        layers = tuple((f"{path} overrides.{k}", overrides[k]) for k in ("all", name) if k in overrides)
        variables = config.variables(name, list(layers), facts=None)
        ansible = {var: _ansible_var(variables, var) for var in ("ansible_host", "ansible_user", "ansible_port")}
        address = entry.get("address") or ansible["ansible_host"] or name
        if not entry.get("address") and not ansible["ansible_host"] and not is_address(name):
            where: tuple[Any, Any] = (
                (path, f"{key}.name")
                if listed is not None or not config.inventories
                else (", ".join(str(p) for p in config.inventories), key)
            )
            raise ProfileError(
                *where,
                f"{name!r} is not a host name or IP address: give it an address "
                f"(ansible_host; a port goes in ansible_port)",
            )
        port = entry.get("port") or ansible["ansible_port"] or ssh.port
        host_ssh = dataclasses.replace(
            ssh,
            user=entry.get("user") or ansible["ansible_user"] or ssh.user,
            port=as_port(port) if port is not None else None,
        )
        plans.append(HostPlan(name=name, address=str(address), ssh=host_ssh, overrides=layers))
    return tuple(plans)


def _ansible_var(variables, name: str):
    """ansible_host/user/port as Ansible resolves them, checked: they become ssh's arguments."""
    if name not in variables:
        return None
    source = variables.source_of(name)
    host = "" if f"(host {variables.host})" in source else f"host {variables.host}: "  # group vars: say which host
    try:
        value = variables[name]
    except NeedsHostFacts:
        raise ProfileError(source, name, f"{host}needs facts from the host, but is needed to reach it") from None
    if value is None or value == "":
        return value
    valid, what = {
        "ansible_host": (lambda v: isinstance(v, str) and is_address(v), "a host name or IP address"),
        "ansible_user": (lambda v: isinstance(v, str) and is_user(v), "a user name"),
        "ansible_port": (lambda v: as_port(v) is not None, "a port 1-65535"),
    }[name]
    if not valid(value):
        raise ProfileError(source, name, f"{host}expected {what}, got {value!r}")
    return value
