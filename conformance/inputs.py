"""Reading the operator's files and validating what reaches ssh: every problem is one ProfileError naming the
file and key. Kolla's own semantics (inventories, variables, templates) are Ansible's: see conformance/kolla."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import yaml

from conformance.errors import ProfileError


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
    check_yaml_shape(path, data)
    return data


def check_yaml_shape(path: Path, data: Any) -> None:
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


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    data = parse_yaml(path, read_text(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProfileError(path, None, f"expected a mapping of variables, got {type(data).__name__}")
    return data
