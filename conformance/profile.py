"""Host profiles: which deployment, which hosts, how to reach them, which phases. Validated before any SSH.

Schema (see README "Profiles"); relative paths resolve against the profile file's folder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance.access import SshSettings
from conformance.errors import ProfileError
from conformance.kolla.config import KollaConfig
from conformance.kolla.expectations import validate_static
from conformance.kolla.inventory import as_port, check_host_name, is_address, is_user, parse_yaml, read_text
from conformance.kolla.templar import NeedsHostFacts
from conformance.model import Phase

_PATH, _STR, _BOOL, _INT = "path", "string", "boolean", "integer"

SCHEMA: dict[str, Any] = {
    "kolla": {"config_dir": _PATH, "inventory": _PATH, "group": _STR, "release": _STR},
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
    "tls": {"expiry_warning_days": _INT},
    "overrides": dict,
    "waivers": _PATH,  # a waiver file (conformance/waivers.py); its entries are validated when a run starts
}
HOST_KEYS = {"name": _STR, "address": _STR, "user": _STR, "port": _INT}


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

    def variables(self, host: HostPlan, facts=None):
        return self.kolla.variables(host.name, list(host.overrides), facts)


def load_profile(path: str | Path) -> Profile:
    path = Path(path)
    if not path.is_file():
        raise ProfileError(path, None, "profile not found")
    data = parse_yaml(path, read_text(path), unique_keys=True, line_as_key=True)  # a key twice: one would be lost
    if not isinstance(data, dict):
        raise ProfileError(path, None, "a profile must be a YAML mapping")
    _validate(path, data, SCHEMA, "")
    base = path.parent

    kolla = data.get("kolla") or {}
    for key, kind in (("config_dir", "folder"), ("inventory", "file")):
        target = _path(base, kolla.get(key))
        if target is not None and not (target.is_dir() if kind == "folder" else target.is_file()):
            raise ProfileError(path, f"kolla.{key}", f"{kind} not found: {target}")
    config = KollaConfig.load(
        _path(base, kolla.get("config_dir")), _path(base, kolla.get("inventory")), kolla.get("group", "compute")
    )

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

    waivers = _path(base, data.get("waivers"))
    if waivers is not None and not waivers.is_file():
        raise ProfileError(path, "waivers", f"file not found: {waivers}")

    hosts = _hosts(path, data.get("hosts"), config, ssh, overrides)
    profile = Profile(
        path=path,
        kolla=config,
        release=kolla.get("release"),
        hosts=hosts,
        phases=phases,
        live_probes=data.get("live_probes", True),
        expiry_warning_days=days,
        waivers=waivers,
    )
    for host in hosts:  # every host-independent Kolla variable must evaluate before any host is touched
        validate_static(profile.variables(host))
        config.nova_compute_overrides(host.name)  # and the override files it reads must be text
        config.ovs_agent_overrides(host.name)
    return profile


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
        if config.inventory is None:
            raise ProfileError(path, "hosts", "no hosts: give a host list or kolla.inventory")
        entries = [{"name": name} for name in config.compute_hosts()]
        keys = [f"host {e['name']}" for e in entries]
        if not entries:
            raise ProfileError(config.inventory.path, config.group, "inventory group has no hosts")
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
            where = (
                (path, f"{key}.name")
                if listed is not None or config.inventory is None
                else (config.inventory.path, key)
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
