"""The operator's INI overrides under node_custom_config, as Kolla renders them: each file templated with the
host's variables and merged by Kolla Ansible's own merge_configs action (its OverrideConfigParser, built on
oslo.config's INI parser: `key: value` accepted, surrounding quotes stripped, repeated keys kept, later files
replacing a key of an earlier one). Only the operator's files are merged: what Kolla's role template would
set is known from the variables (virt_type = nova_compute_virt_type; the OVS firewall driver is hard-coded).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
from pathlib import Path
from types import ModuleType

from oslo_config import iniparser

from conformance.errors import ProfileError
from conformance.inputs import read_text
from conformance.kolla.ansible_vars import Variables
from conformance.kolla.release import KollaAnsible

_merge_modules: dict[Path, ModuleType] = {}


def _merge_configs(kolla: KollaAnsible) -> ModuleType:
    path = kolla.file("action_plugins", "merge_configs.py")
    if path not in _merge_modules:
        spec = importlib.util.spec_from_file_location(f"kolla_merge_configs_{len(_merge_modules)}", path)
        if spec is None or spec.loader is None or not path.is_file():
            raise ProfileError(path, None, "Kolla Ansible's merge_configs action plugin not found")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _merge_modules[path] = module
    return _merge_modules[path]


class _Reader(iniparser.BaseParser):
    """Reads merge_configs' output back: section -> key -> value, the last assignment of a key winning, as
    oslo.config reads a single-valued option."""

    def __init__(self, source: str):
        super().__init__()
        self.source = source
        self.sections: dict[str, dict[str, str]] = {}
        self._section: dict[str, str] | None = None

    def new_section(self, section):
        self._section = self.sections.setdefault(section, {})

    def assignment(self, key, value):
        if self._section is None:
            self._section = self.sections.setdefault("DEFAULT", {})
        self._section[key] = "\n".join(value)

    def parse_exc(self, msg, lineno, line=None):  # oslo.config's hook for a line it cannot read
        raise ProfileError(self.source, f"line {lineno}", f"{msg}: {line!r}" if line else msg)


@dataclasses.dataclass(frozen=True)
class Merged:
    sections: dict[str, dict[str, str]]
    files: tuple[str, ...]  # the override files that exist, in merge order
    setters: dict[tuple[str, str], str]  # (section, key) -> the last file that sets it

    def get(self, section: str, key: str) -> tuple[str | None, str | None]:
        value = self.sections.get(section, {}).get(key)
        return value, self.setters.get((section, key))


def merge(variables: Variables, kolla: KollaAnsible, files: list[Path]) -> Merged:
    """The files that exist, templated for the host and merged as merge_configs merges them."""
    module = _merge_configs(kolla)
    merged = module.OverrideConfigParser()
    setters: dict[tuple[str, str], str] = {}
    present = []
    for path in files:
        if not path.is_file():
            continue
        present.append(str(path))
        rendered = variables.template(read_text(path), str(path))
        one = _Reader(str(path))
        try:
            one.parse(io.StringIO(rendered))
            merged.parse(io.StringIO(rendered))
        except iniparser.ParseError as exc:
            raise ProfileError(path, f"line {exc.lineno}", f"not INI as Kolla reads it: {exc.msg}") from None
        for section, keys in one.sections.items():
            for key in keys:
                setters[(section, key)] = str(path)
    out = io.StringIO()
    merged.write(out)
    reader = _Reader("merged overrides")
    reader.parse(io.StringIO(out.getvalue()))
    return Merged(reader.sections, tuple(present), setters)
