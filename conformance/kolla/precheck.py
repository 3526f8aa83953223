"""The operator's files, read once before Ansible sees them: what ansible-core would report without the file's
name (binary or non-UTF-8 text), spend minutes on (an alias bomb, a range of millions of hosts) or die of
(an alias that contains itself) is one ProfileError naming the file. Values are never taken from here:
Ansible parses the files itself afterwards.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import yaml

from conformance.errors import ProfileError
from conformance.inputs import check_yaml_shape, read_text, yaml_line_and_problem

MAX_RANGE_HOSTS = 100_000  # more hosts than any compute group; Ansible would expand it in memory
_YAML_SUFFIXES = (".yml", ".yaml", ".json")
_RANGE = re.compile(r"\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::(-?\d+))?\]")


class _TolerantLoader(yaml.SafeLoader):
    """safe_load that accepts Ansible's tags (!vault, !unsafe) as plain scalars: only the shape is checked."""


_TolerantLoader.add_multi_constructor(
    "!", lambda loader, suffix, node: loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None
)


def check_yaml(path: Path) -> None:
    text = read_text(path)
    try:
        data = yaml.load(text, Loader=_TolerantLoader)
    except yaml.YAMLError as exc:
        line, problem = yaml_line_and_problem(exc, text)
        raise ProfileError(path, f"line {line}" if line else None, f"invalid YAML: {problem}") from None
    except RecursionError:
        raise ProfileError(path, None, "invalid YAML: nested too deeply") from None
    check_yaml_shape(path, data)


def check_ini_inventory(path: Path) -> None:
    text = read_text(path)
    for number, line in enumerate(text.splitlines(), 1):
        hosts = 1
        for match in _RANGE.finditer(line.split("#", 1)[0]):
            start, end, step = match.groups()
            if step is not None and int(step) == 0:
                raise ProfileError(path, f"line {number}", f"host range {match.group(0)}: a step of 0 never ends")
            if start.isdigit() and end.isdigit():
                hosts *= max(int(end) - int(start) + 1, 1) // max(abs(int(step or 1)), 1)
        if hosts > MAX_RANGE_HOSTS:
            raise ProfileError(path, f"line {number}", f"host range of more than {MAX_RANGE_HOSTS} hosts")


def _var_files(folder: Path) -> Iterable[Path]:
    if folder.is_dir():
        yield from sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def check_tree(extra_var_files: list[Path], inventories: list[Path]) -> None:
    for path in extra_var_files:
        check_yaml(path)
    for inventory in inventories:
        files = list(_var_files(inventory)) if inventory.is_dir() else [inventory]
        base = inventory if inventory.is_dir() else inventory.parent
        var_files = {*_var_files(base / "group_vars"), *_var_files(base / "host_vars")}
        for path in files:
            if path in var_files or os.access(path, os.X_OK):  # a dynamic inventory script: Ansible runs it
                continue
            check_yaml(path) if path.suffix in _YAML_SUFFIXES else check_ini_inventory(path)
        for path in sorted(var_files):
            check_yaml(path)
