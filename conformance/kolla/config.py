"""An operator's Kolla configuration: globals.yml, globals.d, passwords.yml, inventory, /etc/kolla/config overrides.

Variables are layered in Ansible's order of precedence (lowest first), because that is what Kolla deploys:
  role defaults < inventory-file group vars < inventory group_vars/all < Kolla group_vars/all
  < inventory group_vars/<group> < inventory host vars (file, then host_vars/)
  < extra vars (-e @globals.yml, globals.d/*.yml, passwords.yml) < the profile's overrides.
Note the consequence: `[compute:vars] nova_compute_virt_type=qemu` in an INI inventory loses to Kolla's own
group_vars/all default; globals.yml beats the inventory. Ansible does the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from conformance.conffiles import parse_ini
from conformance.errors import ProfileError
from conformance.kolla.inventory import Inventory, load_inventory, read_text, read_yaml_mapping
from conformance.kolla.templar import Variables

_DEFAULTS = yaml.safe_load((Path(__file__).parent / "defaults.yml").read_text())


@dataclasses.dataclass
class KollaConfig:
    config_dir: Path | None
    inventory: Inventory | None
    group: str
    extra_vars: list[tuple[str, dict[str, Any]]]  # globals.yml, globals.d/*.yml, passwords.yml

    @classmethod
    def load(cls, config_dir: Path | None, inventory: Path | None, group: str = "compute") -> KollaConfig:
        extra: list[tuple[str, dict[str, Any]]] = []
        if config_dir is not None:
            if not config_dir.is_dir():
                raise ProfileError(config_dir, None, "Kolla config dir not found")
            globals_file = config_dir / "globals.yml"
            if not globals_file.is_file():
                raise ProfileError(globals_file, None, "not found (the Kolla config dir must hold globals.yml)")
            extra.append((str(globals_file), read_yaml_mapping(globals_file)))
            globals_d = config_dir / "globals.d"
            if globals_d.is_dir():
                for path in sorted(globals_d.glob("*.yml")):
                    extra.append((str(path), read_yaml_mapping(path)))
            passwords = config_dir / "passwords.yml"
            if passwords.is_file():
                extra.append((str(passwords), read_yaml_mapping(passwords)))
        return cls(config_dir, load_inventory(inventory) if inventory else None, group, extra)

    @property
    def custom_config_dir(self) -> Path | None:
        """The operator's override tree (`node_custom_config`, /etc/kolla/config)."""
        return self.config_dir / "config" if self.config_dir else None

    def compute_hosts(self) -> list[str]:
        if self.inventory is None:
            return []
        return self.inventory.hosts_of(self.group)

    def variables(
        self, host: str, overrides: list[tuple[str, Mapping[str, Any]]], facts: Callable[[], Mapping[str, Any]] | None
    ) -> Variables:
        inv = self.inventory
        layers: list[tuple[str, Mapping[str, Any]]] = [("Kolla role defaults", _DEFAULTS["role_defaults"])]
        groups: dict[str, list[str]] = {}
        if inv is not None and host in inv.hosts:
            host_groups = inv.groups_of(host)
            where = str(inv.path)
            layers += [(f"{where} [{g}:vars]", inv.group_vars[g]) for g in host_groups if g in inv.group_vars]
            # group_vars/ and host_vars/ file by file (same precedence as merged), so a value's source is its file
            layers += inv.dir_var_files.get("group_vars/all", [])
            layers.append(("Kolla group_vars/all", _DEFAULTS["group_vars_all"]))
            layers += [
                layer for g in host_groups if g != "all" for layer in inv.dir_var_files.get(f"group_vars/{g}", [])
            ]
            layers.append((f"{where} (host {host})", inv.hosts[host]))
            layers += inv.dir_var_files.get(f"host_vars/{host}", [])
            groups = inv.group_map()
        else:
            layers.append(("Kolla group_vars/all", _DEFAULTS["group_vars_all"]))
        layers += self.extra_vars
        layers += overrides
        return Variables(layers, host=host, groups=groups, facts=facts)

    def nova_compute_overrides(self, host: str) -> list[tuple[str, dict[str, dict[str, str]]]]:
        """The operator's nova.conf override files for nova-compute on `host`, parsed, in Kolla's merge order."""
        base = self.custom_config_dir
        if base is None:
            return []
        candidates = [
            base / "global.conf",
            base / "nova.conf",
            base / "nova" / "nova-compute.conf",
            base / "nova" / host / "nova.conf",
            base / "nova" / host / "nova-compute.conf",
        ]
        return [(str(p), parse_ini(read_text(p))) for p in candidates if p.is_file()]

    def ovs_agent_overrides(self, host: str) -> list[tuple[str, dict[str, dict[str, str]]]]:
        """The operator's openvswitch_agent.ini overrides for `host`, parsed, in Kolla's merge order
        (roles/neutron/tasks/config.yml): there is no Kolla variable for the firewall driver."""
        base = self.custom_config_dir
        if base is None:
            return []
        candidates = [base / "neutron" / "openvswitch_agent.ini", base / "neutron" / host / "openvswitch_agent.ini"]
        return [(str(p), parse_ini(read_text(p))) for p in candidates if p.is_file()]
