"""Ansible inventories as Kolla ships them: INI (`multinode`, `all-in-one`) and YAML, plus group_vars/host_vars.

Parsed as Ansible parses them: `[g:children]`, `[g:vars]` (string values), inline host vars (Python literals),
host ranges (`compute[01:10]`), the implicit groups `all` and `ungrouped`.
"""
from __future__ import annotations

import ast
import dataclasses
import re
import shlex
import string
from pathlib import Path
from typing import Any

import yaml

from conformance.errors import ProfileError


@dataclasses.dataclass
class Inventory:
    path: Path
    hosts: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)   # host -> inline vars
    groups: dict[str, set[str]] = dataclasses.field(default_factory=dict)        # group -> direct hosts
    children: dict[str, set[str]] = dataclasses.field(default_factory=dict)      # group -> child groups
    group_vars: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)    # from the file
    dir_group_vars: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # group_vars/
    dir_host_vars: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)   # host_vars/

    def _group(self, name: str) -> None:
        self.groups.setdefault(name, set())
        self.children.setdefault(name, set())

    def hosts_of(self, group: str) -> list[str]:
        """All hosts of a group and its descendants, in inventory order."""
        if group == "all":
            return list(self.hosts)
        if group not in self.groups:
            return []
        members, stack, seen = set(), [group], set()
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            members |= self.groups.get(current, set())
            stack.extend(self.children.get(current, ()))
        return [h for h in self.hosts if h in members]

    def groups_of(self, host: str) -> list[str]:
        """The host's groups ordered as Ansible applies their vars: by depth, then name ('all' first)."""
        depth = self._depths()
        mine = [g for g in self.groups if host in self.hosts_of(g)]
        return ["all"] + sorted((g for g in mine if g != "all"), key=lambda g: (depth.get(g, 1), g))

    def group_map(self) -> dict[str, list[str]]:
        return {g: self.hosts_of(g) for g in list(self.groups) + ["all"]}

    def _depths(self) -> dict[str, int]:
        parents: dict[str, set[str]] = {}
        for parent, kids in self.children.items():
            for kid in kids:
                parents.setdefault(kid, set()).add(parent)

        def depth(group: str, trail=()) -> int:
            if group in trail:
                return 0
            return 1 + max((depth(p, trail + (group,)) for p in parents.get(group, ())), default=0)

        return {g: depth(g) for g in self.groups}


def load_inventory(path: Path) -> Inventory:
    if not path.is_file():
        raise ProfileError(path, None, "inventory file not found")
    text = path.read_text()
    inventory = Inventory(path)
    looks_yaml = path.suffix in (".yml", ".yaml") or re.match(r"^\s*[\w.-]+\s*:\s*$", _first_content_line(text))
    if looks_yaml:
        _parse_yaml(inventory, text)
    else:
        _parse_ini(inventory, text)
    _load_var_dirs(inventory)
    return inventory


def _first_content_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith(("#", ";", "---")):
            return line
    return ""


# -- INI -------------------------------------------------------------------------------------------------
_SECTION = re.compile(r"^\[([^\]:]+)(?::(\w+))?\]\s*$")


def _parse_ini(inv: Inventory, text: str) -> None:
    group, kind = "ungrouped", "hosts"
    inv._group("all")
    inv._group("ungrouped")
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        where = f"line {number}"
        match = _SECTION.match(line)
        if match:
            group, kind = match.group(1).strip(), match.group(2) or "hosts"
            if kind not in ("hosts", "children", "vars"):
                raise ProfileError(inv.path, where, f"unknown section kind ':{kind}'")
            inv._group(group)
            if group != "all":
                inv.children["all"].add(group)
            continue
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            raise ProfileError(inv.path, where, f"cannot parse {line!r}: {exc}") from None
        if not tokens:
            continue
        if kind == "vars":
            key, sep, value = line.partition("=")
            if not sep:
                raise ProfileError(inv.path, where, f"expected key=value in [{group}:vars], got {line!r}")
            inv.group_vars.setdefault(group, {})[key.strip()] = _unquote(value.strip())
        elif kind == "children":
            inv._group(tokens[0])
            inv.children[group].add(tokens[0])
        else:
            host_vars = {}
            for token in tokens[1:]:
                key, sep, value = token.partition("=")
                if not sep:
                    raise ProfileError(inv.path, where, f"expected key=value after the host name, got {token!r}")
                host_vars[key] = _literal(value)
            for host in expand_host_range(tokens[0], inv.path, where):
                inv.hosts.setdefault(host, {}).update(host_vars)
                inv.groups[group].add(host)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _literal(value: str) -> Any:
    """Inline INI host vars are Python literals in Ansible (`ansible_port=22` is an int)."""
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


_RANGE = re.compile(r"\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::(\d+))?\]")


def expand_host_range(pattern: str, source, where) -> list[str]:
    match = _RANGE.search(pattern)
    if not match:
        return [pattern]
    start, end, stride = match.group(1), match.group(2), int(match.group(3) or 1)
    head, tail = pattern[:match.start()], pattern[match.end():]
    if start.isdigit() and end.isdigit():
        width = len(start) if start.startswith("0") else 0
        values = [str(i).zfill(width) for i in range(int(start), int(end) + 1, stride)]
    elif len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        letters = string.ascii_letters
        values = list(letters[letters.index(start):letters.index(end) + 1:stride])
    else:
        raise ProfileError(source, where, f"bad host range in {pattern!r}")
    return [name for value in values for name in expand_host_range(head + value + tail, source, where)]


# -- YAML ------------------------------------------------------------------------------------------------
def _parse_yaml(inv: Inventory, text: str) -> None:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ProfileError(inv.path, None, f"invalid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise ProfileError(inv.path, None, "a YAML inventory must be a mapping of groups")
    inv._group("all")
    inv._group("ungrouped")
    for name, body in data.items():
        _yaml_group(inv, str(name), body, f"{name}")


def _yaml_group(inv: Inventory, group: str, body: Any, key: str) -> None:
    inv._group(group)
    if group != "all":
        inv.children["all"].add(group)
    if body is None:
        return
    if not isinstance(body, dict):
        raise ProfileError(inv.path, key, "a group must be a mapping with hosts, children or vars")
    unknown = set(body) - {"hosts", "children", "vars"}
    if unknown:
        raise ProfileError(inv.path, f"{key}.{sorted(unknown)[0]}", "unknown key (expected hosts, children, vars)")
    for pattern, host_vars in (body.get("hosts") or {}).items():
        if host_vars is not None and not isinstance(host_vars, dict):
            raise ProfileError(inv.path, f"{key}.hosts.{pattern}", "host vars must be a mapping")
        for host in expand_host_range(str(pattern), inv.path, f"{key}.hosts"):
            inv.hosts.setdefault(host, {}).update(host_vars or {})
            inv.groups[group].add(host)
    if body.get("vars"):
        if not isinstance(body["vars"], dict):
            raise ProfileError(inv.path, f"{key}.vars", "group vars must be a mapping")
        inv.group_vars.setdefault(group, {}).update(body["vars"])
    for child, child_body in (body.get("children") or {}).items():
        inv.children[group].add(str(child))
        _yaml_group(inv, str(child), child_body, f"{key}.children.{child}")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"line {mark.line + 1}: {problem}" if mark else problem


# -- group_vars/ and host_vars/ beside the inventory ----------------------------------------------------
def read_var_files(base: Path, name: str) -> dict[str, Any]:
    """`<base>/<name>.yml|.yaml|<name>` or every YAML file in `<base>/<name>/`, merged in name order."""
    files = [base / f"{name}{ext}" for ext in ("", ".yml", ".yaml")]
    found = [f for f in files if f.is_file()]
    folder = base / name
    if folder.is_dir():
        found += sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())
    merged: dict[str, Any] = {}
    for path in found:
        merged.update(read_yaml_mapping(path))
    return merged


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ProfileError(path, None, f"invalid YAML: {_yaml_problem(exc)}") from None
    except OSError as exc:
        raise ProfileError(path, None, exc.strerror or str(exc)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProfileError(path, None, f"expected a mapping of variables, got {type(data).__name__}")
    return data


def _load_var_dirs(inv: Inventory) -> None:
    base = inv.path.parent
    if (base / "group_vars").is_dir():
        for group in list(inv.groups) + ["all"]:
            values = read_var_files(base / "group_vars", group)
            if values:
                inv.dir_group_vars[group] = values
    if (base / "host_vars").is_dir():
        for host in inv.hosts:
            values = read_var_files(base / "host_vars", host)
            if values:
                inv.dir_host_vars[host] = values
