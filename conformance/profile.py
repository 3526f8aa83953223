"""Host profiles: which deployment, which hosts, how to reach them, which phases. Validated before any SSH.

Schema (see README "Profiles"); relative paths resolve against the profile file's folder.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from conformance.access import SshSettings
from conformance.errors import ProfileError
from conformance.kolla.config import KollaConfig
from conformance.kolla.expectations import validate_static
from conformance.kolla.templar import NeedsHostFacts
from conformance.model import Phase

_PATH, _STR, _BOOL, _INT = "path", "string", "boolean", "integer"

SCHEMA: dict[str, Any] = {
    "kolla": {"config_dir": _PATH, "inventory": _PATH, "group": _STR, "release": _STR},
    "hosts": list,
    "ssh": {"user": _STR, "port": _INT, "identity_file": _PATH, "config": _PATH, "known_hosts": _PATH,
            "strict_host_key_checking": _BOOL, "jump_host": _STR, "sudo": _BOOL,
            "connect_timeout": _INT, "command_timeout": _INT},
    "phases": list,
    "live_probes": _BOOL,
    "tls": {"expiry_warning_days": _INT},
    "overrides": dict,
    "waivers": _PATH,   # a waiver file (conformance/waivers.py); its entries are validated when a run starts
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
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise ProfileError(path, where, f"invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(path, None, "a profile must be a YAML mapping")
    _validate(path, data, SCHEMA, "")
    base = path.parent

    kolla = data.get("kolla") or {}
    for key, kind in (("config_dir", "folder"), ("inventory", "file")):
        target = _path(base, kolla.get(key))
        if target is not None and not (target.is_dir() if kind == "folder" else target.is_file()):
            raise ProfileError(path, f"kolla.{key}", f"{kind} not found: {target}")
    config = KollaConfig.load(_path(base, kolla.get("config_dir")), _path(base, kolla.get("inventory")),
                              kolla.get("group", "compute"))

    ssh_data = data.get("ssh") or {}
    for key in ("identity_file", "config", "known_hosts"):
        if key in ssh_data:
            file = _path(base, ssh_data[key])
            if not file.is_file():
                raise ProfileError(path, f"ssh.{key}", f"file not found: {file}")
            ssh_data = {**ssh_data, key: str(file)}
    ssh = SshSettings(**ssh_data)

    phases = tuple(data.get("phases") or [Phase.PREDEPLOY.value, Phase.POSTDEPLOY.value])
    known = [p.value for p in Phase]
    for phase in phases:
        if phase not in known:
            raise ProfileError(path, "phases", f"unknown phase {phase!r} (known: {', '.join(known)})")

    overrides = data.get("overrides") or {}
    for key, value in overrides.items():
        if not isinstance(value, dict):
            raise ProfileError(path, f"overrides.{key}", "expected a mapping of Kolla variables")

    waivers = _path(base, data.get("waivers"))
    if waivers is not None and not waivers.is_file():
        raise ProfileError(path, "waivers", f"file not found: {waivers}")

    hosts = _hosts(path, data.get("hosts"), config, ssh, overrides)
    profile = Profile(path=path, kolla=config, release=kolla.get("release"), hosts=hosts, phases=phases,
                      live_probes=data.get("live_probes", True),
                      expiry_warning_days=(data.get("tls") or {}).get("expiry_warning_days", 30), waivers=waivers)
    for host in hosts:   # every host-independent Kolla variable must evaluate before any host is touched
        try:
            validate_static(profile.variables(host))
        except NeedsHostFacts:
            pass
    return profile


def _path(base: Path, value) -> Path | None:
    if value is None:
        return None
    candidate = Path(str(value)).expanduser()
    return candidate if candidate.is_absolute() else base / candidate


def _validate(path: Path, data: dict, schema: dict, prefix: str) -> None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
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


def _is(value, kind) -> bool:
    if kind is list:
        return isinstance(value, list)
    if kind is dict:
        return isinstance(value, dict)
    if kind == _BOOL:
        return isinstance(value, bool)
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)   # _STR, _PATH


def _hosts(path: Path, listed, config: KollaConfig, ssh: SshSettings, overrides: dict) -> tuple[HostPlan, ...]:
    entries: list[dict] = []
    if listed is not None:
        for index, item in enumerate(listed):
            key = f"hosts[{index}]"
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, dict) or "name" not in item:
                raise ProfileError(path, key, "expected a host name or a mapping with 'name'")
            _validate(path, item, HOST_KEYS, key + ".")
            entries.append(item)
    else:
        if config.inventory is None:
            raise ProfileError(path, "hosts", "no hosts: give a host list or kolla.inventory")
        entries = [{"name": name} for name in config.compute_hosts()]
        if not entries:
            raise ProfileError(config.inventory.path, config.group, "inventory group has no hosts")
    if not entries:
        raise ProfileError(path, "hosts", "the host list is empty")
    names = [str(e["name"]) for e in entries]
    for key in overrides:
        if key != "all" and key not in names:
            raise ProfileError(path, f"overrides.{key}", "not a host of this profile (use a host name or 'all')")

    plans = []
    for entry in entries:
        name = str(entry["name"])
        layers = tuple((f"{path} overrides.{k}", overrides[k]) for k in ("all", name) if k in overrides)
        variables = config.variables(name, list(layers), facts=None)
        address = entry.get("address") or variables.get("ansible_host") or name
        host_ssh = dataclasses.replace(
            ssh, user=entry.get("user") or variables.get("ansible_user") or ssh.user,
            port=entry.get("port") or variables.get("ansible_port") or ssh.port)
        plans.append(HostPlan(name=name, address=str(address), ssh=host_ssh, overrides=layers))
    return tuple(plans)
