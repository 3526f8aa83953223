"""Ansible inventories as Kolla ships them: INI (`multinode`, `all-in-one`) and YAML, plus group_vars/host_vars.

Parsed as Ansible parses them: `[g:children]`, `[g:vars]` (string values), inline host vars (Python literals),
host ranges (`compute[01:10]`), the implicit groups `all` and `ungrouped`.
"""

from __future__ import annotations

import ast
import dataclasses
import ipaddress
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
    hosts: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # host -> inline vars
    groups: dict[str, set[str]] = dataclasses.field(default_factory=dict)  # group -> direct hosts
    children: dict[str, set[str]] = dataclasses.field(default_factory=dict)  # group -> child groups
    group_vars: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # from the file
    dir_group_vars: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # group_vars/
    dir_host_vars: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # host_vars/
    # The same, file by file ("group_vars/compute" -> [(file, vars)]): errors and evidence name the very file.
    dir_var_files: dict[str, list[tuple[str, dict[str, Any]]]] = dataclasses.field(default_factory=dict)

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
    text = read_text(path)
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
_SECTION = re.compile(r"^\[([^\]:]+)(?::(\w+))?\]\s*(?:#.*)?$")  # a trailing comment is allowed, as in Ansible


def _parse_ini(inv: Inventory, text: str) -> None:
    group, kind = "ungrouped", "hosts"
    inv._group("all")
    inv._group("ungrouped")
    listed: dict[tuple[str, str], int] = {}  # (group, host) -> the line that listed it
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        where = f"line {number}"
        match = _SECTION.match(line)
        if not match and line.startswith("["):  # `[compute` would otherwise become a host named "[compute"
            raise ProfileError(inv.path, where, f"malformed section header {line!r} (expected [group] or [group:kind])")
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
                if not sep or not key:
                    raise ProfileError(inv.path, where, f"expected key=value after the host name, got {token!r}")
                host_vars[key] = _literal(value)
            for host in expand_host_range(tokens[0], inv.path, where):
                check_host_name(host, inv.path, where)
                if (group, host) in listed:  # two definitions of one host in one group: which one is meant?
                    raise ProfileError(
                        inv.path,
                        where,
                        f"host {host!r} is listed twice in [{group}] (also on line {listed[(group, host)]})",
                    )
                listed[(group, host)] = number
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


_MAX_RANGE = 100_000  # hosts from one pattern; `compute[1:99999999]` is a typo, not a fleet


def expand_host_range(pattern: str, source, where) -> list[str]:
    match = _RANGE.search(pattern)
    if not match:
        return [pattern]
    start, end, stride = match.group(1), match.group(2), int(match.group(3) or 1)
    head, tail = pattern[: match.start()], pattern[match.end() :]
    if stride < 1:
        raise ProfileError(source, where, f"bad host range in {pattern!r}: the step must be 1 or more")
    if start.isdigit() and end.isdigit():
        if (int(end) - int(start)) // stride >= _MAX_RANGE:
            raise ProfileError(source, where, f"host range {pattern!r} makes more than {_MAX_RANGE} hosts")
        width = len(start) if start.startswith("0") else 0
        values = [str(i).zfill(width) for i in range(int(start), int(end) + 1, stride)]
    elif len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        letters = string.ascii_letters
        values = list(letters[letters.index(start) : letters.index(end) + 1 : stride])
    else:
        raise ProfileError(source, where, f"bad host range in {pattern!r}")
    names: list[str] = []
    for value in values:
        names += expand_host_range(head + value + tail, source, where)
        if len(names) > _MAX_RANGE:  # several ranges in one pattern multiply
            raise ProfileError(source, where, f"host range {pattern!r} makes more than {_MAX_RANGE} hosts")
    return names


# -- YAML ------------------------------------------------------------------------------------------------
def _parse_yaml(inv: Inventory, text: str) -> None:
    data = parse_yaml(inv.path, text, unique_keys=True) or {}  # a host key given twice would silently lose one
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
            check_host_name(host, inv.path, f"{key}.hosts")
            inv.hosts.setdefault(host, {}).update(host_vars or {})
            inv.groups[group].add(host)
    if body.get("vars"):
        if not isinstance(body["vars"], dict):
            raise ProfileError(inv.path, f"{key}.vars", "group vars must be a mapping")
        inv.group_vars.setdefault(group, {}).update(body["vars"])
    for child, child_body in (body.get("children") or {}).items():
        inv.children[group].add(str(child))
        _yaml_group(inv, str(child), child_body, f"{key}.children.{child}")


def yaml_line_and_problem(exc: yaml.YAMLError, text: str = "") -> tuple[int | None, str]:
    """Where and what, on one line: PyYAML's own str() spans several lines."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return mark.line + 1, _one_line(problem)
    position = getattr(exc, "position", None)  # a ReaderError (a control character) has only an offset
    if isinstance(position, int) and text:
        return text.count("\n", 0, position) + 1, _one_line(problem)
    return None, _one_line(problem)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# -- reading files: every problem is one ProfileError naming the file ------------------------------------
_MAX_DEPTH, _MAX_NODES = 100, 1_000_000


def read_text(path: Path) -> str:
    """A configuration file's text. Binary or non-UTF-8 content is refused here, not as a traceback later."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProfileError(path, None, f"cannot read: {exc.strerror or exc}") from None
    nul = data.find(b"\0")
    if nul >= 0:
        raise ProfileError(path, None, f"binary file (NUL byte at offset {nul}), expected text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError(path, None, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base class reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        return super().construct_mapping(node, deep)


def parse_yaml(path: Path, text: str, *, unique_keys: bool = False, line_as_key: bool = False) -> Any:
    """yaml.safe_load of a file's text; invalid, too deeply nested or self-referencing YAML is one ProfileError.
    `line_as_key`: name the line as the key (`p.yml: line 2: invalid YAML: ...`), as the profile does."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader if unique_keys else yaml.SafeLoader)
    except yaml.YAMLError as exc:
        line, problem = yaml_line_and_problem(exc, text)
        if line_as_key:
            raise ProfileError(path, f"line {line}" if line else None, f"invalid YAML: {problem}") from None
        raise ProfileError(path, None, f"invalid YAML: {f'line {line}: ' if line else ''}{problem}") from None
    except RecursionError:
        raise ProfileError(path, None, "invalid YAML: nested too deeply") from None
    _check_shape(path, data)
    return data


def _check_shape(path: Path, data: Any) -> None:
    """Refuse what every later walk over the data would choke on: an alias that contains itself (endless
    recursion) or aliases that expand to millions of values (a "billion laughs" file)."""
    count = 0

    def walk(value, depth):
        nonlocal count
        count += 1
        if depth > _MAX_DEPTH:
            raise ProfileError(path, None, f"nested deeper than {_MAX_DEPTH} levels (or an alias that contains itself)")
        if count > _MAX_NODES:
            raise ProfileError(path, None, f"more than {_MAX_NODES} values once aliases are expanded")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
        for child in children:
            walk(child, depth + 1)

    walk(data, 0)


# -- host names, addresses, users and ports: validated before any of them reaches ssh --------------------
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*")  # no leading '-', whitespace, shell or path characters
# RFC 1123 labels; '_' is accepted too, as ssh_config aliases and /etc/hosts names often use it.
_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\$?")


def check_host_name(name: str, source, where) -> str:
    """An inventory host name: it names files (host_vars/<name>) and is the address when none is given."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ProfileError(
            source, where, f"invalid host name {name!r} (letters, digits, '.', '_', ':', '-'; not starting with '-')"
        )
    return name


def is_address(text: str) -> bool:
    """A host name (RFC 1123 labels, optionally with a trailing dot), an IPv4 or an IPv6 address."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    labels = text[:-1] if text.endswith(".") else text
    return 0 < len(labels) <= 253 and all(_LABEL.fullmatch(label) for label in labels.split("."))


def is_user(text: str) -> bool:
    return bool(_USER.fullmatch(text))


def as_port(value) -> int | None:
    """A TCP port from an int or a string of digits; None when it is neither or out of range (booleans too)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return value
    return None


# -- group_vars/ and host_vars/ beside the inventory ----------------------------------------------------
def read_var_files(base: Path, name: str) -> dict[str, Any]:
    """`<base>/<name>.yml|.yaml|<name>` or every YAML file in `<base>/<name>/`, merged in name order."""
    merged: dict[str, Any] = {}
    for _, values in read_var_file_list(base, name):
        merged.update(values)
    return merged


def read_var_file_list(base: Path, name: str) -> list[tuple[str, dict[str, Any]]]:
    """The files `read_var_files` merges, in merge order, each with its variables."""
    files = [base / f"{name}{ext}" for ext in ("", ".yml", ".yaml")]
    found = [f for f in files if f.is_file()]
    folder = base / name
    if folder.is_dir():
        found += sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())
    return [(str(path), read_yaml_mapping(path)) for path in found]


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    data = parse_yaml(path, read_text(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProfileError(path, None, f"expected a mapping of variables, got {type(data).__name__}")
    return data


def _load_var_dirs(inv: Inventory) -> None:
    base = inv.path.parent
    for kind, names, merged in (
        ("group_vars", list(inv.groups) + ["all"], inv.dir_group_vars),
        ("host_vars", list(inv.hosts), inv.dir_host_vars),
    ):
        if not (base / kind).is_dir():
            continue
        for name in names:
            files = [(path, values) for path, values in read_var_file_list(base / kind, name) if values]
            if files:
                inv.dir_var_files[f"{kind}/{name}"] = files
                merged[name] = {key: value for _, values in files for key, value in values.items()}
