"""An operator's Kolla deployment as kolla-ansible takes it: the config dir (`--configdir`, $KOLLA_CONFIG_PATH,
default /etc/kolla) with globals.yml, passwords.yml and globals.d/, one or more inventories (`-i`, repeatable),
extra vars (`-e`), a vault password, a host pattern (`--limit`), and the Kolla Ansible release whose files are
the defaults. Variables are Ansible's (conformance/kolla/ansible_vars.py); override files are Kolla's merge.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from conformance.errors import ProfileError
from conformance.kolla import overrides, precheck
from conformance.kolla.ansible_vars import AnsibleTree, Variables
from conformance.kolla.release import KollaAnsible

CONFIG_PATH_ENV = "KOLLA_CONFIG_PATH"  # kolla-ansible's own variable for --configdir


def default_config_dir() -> Path:
    return Path(os.environ.get(CONFIG_PATH_ENV) or "/etc/kolla")


def extra_var_args(config_dir: Path | None, extra_vars: list[str], python_cli: bool = True) -> list[str]:
    """The -e arguments as the release's kolla-ansible passes them. Its Python CLI (kolla_ansible/ansible.py):
    globals.yml, passwords.yml, globals.d/*.{yml,yaml,json} sorted, the operator's -e, CONFIG_DIR. The bash
    script of 18.x and before: globals.yml, globals.d/*.yml, passwords.yml, CONFIG_DIR, then the operator's -e
    (in EXTRA_OPTS; its `find` lists globals.d unsorted, taken here in name order)."""
    if config_dir is None:
        return list(extra_vars)
    config_dir = config_dir.absolute()
    globals_d = config_dir / "globals.d"
    suffixes = (".yml", ".yaml", ".json") if python_cli else (".yml",)
    found = [p for p in globals_d.iterdir() if p.is_file() and p.suffix in suffixes] if globals_d.is_dir() else []
    layered = [f"@{p}" for p in sorted(found, key=lambda p: str(p))]
    globals_yml = f"@{config_dir / 'globals.yml'}"
    passwords = [f"@{config_dir / 'passwords.yml'}"] if (config_dir / "passwords.yml").is_file() else []
    if python_cli:
        return [globals_yml, *passwords, *layered, *extra_vars, f"CONFIG_DIR={config_dir}"]
    return [globals_yml, *layered, *passwords, f"CONFIG_DIR={config_dir}", *extra_vars]


@dataclasses.dataclass
class KollaConfig:
    config_dir: Path | None
    inventories: list[Path]
    group: str
    kolla: KollaAnsible
    tree: AnsibleTree
    limit: str | None = None

    @classmethod
    def load(
        cls,
        config_dir: Path | None,
        inventories: list[Path],
        group: str,
        kolla: KollaAnsible,
        *,
        extra_vars: list[str] = (),  # type: ignore[assignment]
        vault_secret: Any = None,
        limit: str | None = None,
        source="profile",
    ) -> KollaConfig:
        if config_dir is not None:
            if not config_dir.is_dir():
                raise ProfileError(config_dir, None, "Kolla config dir not found")
            if not (config_dir / "globals.yml").is_file():
                raise ProfileError(
                    config_dir / "globals.yml", None, "not found (the Kolla config dir must hold globals.yml)"
                )
        for extra in extra_vars:
            if extra.startswith("@") and not Path(extra[1:]).is_file():
                raise ProfileError(source, "kolla.extra_vars", f"file not found: {extra[1:]}")
        arguments = extra_var_args(config_dir, list(extra_vars), kolla.python_cli)
        precheck.check_tree([Path(a[1:]) for a in arguments if a.startswith("@")], inventories)
        tree = AnsibleTree(kolla, inventories, arguments, vault_secret, group, source)
        config = cls(config_dir, inventories, group, kolla, tree, limit)
        if limit:
            tree.inventory.subset(limit)
        return config

    @property
    def extra_vars(self) -> list[tuple[str, Mapping[str, Any]]]:
        """Each -e source with its variables (passwords.yml decrypted when vaulted): what must never be shown."""
        return self.tree.extra_layers

    def compute_hosts(self) -> list[str]:
        if not self.inventories:
            return []
        return self.tree.hosts(self.group)

    def variables(
        self, host: str, overrides_: list[tuple[str, Mapping[str, Any]]], facts: Callable[[], Mapping[str, Any]] | None
    ) -> Variables:
        return Variables(self.tree, host, overrides_, facts)

    @staticmethod
    def custom_config_dir(variables: Variables) -> Path:
        """The operator's override tree: `node_custom_config` as Kolla resolves it (default <config dir>/config)."""
        return Path(str(variables["node_custom_config"]))

    def _base(self, variables: Variables) -> Path | None:
        # Without a config dir there is no operator side to read (not the runner's own /etc/kolla/config).
        return self.custom_config_dir(variables) if self.config_dir is not None else None

    def nova_compute(self, variables: Variables) -> overrides.Merged:
        """nova-compute's nova.conf overrides, in roles/nova-cell/tasks/config.yml's merge order."""
        base, host = self._base(variables), variables.host
        if base is None:
            return overrides.Merged({}, (), {})
        files = [
            base / "global.conf",
            base / "nova.conf",
            base / "nova" / "nova-compute.conf",
            base / "nova" / host / "nova.conf",
            base / "nova" / host / "nova-compute.conf",
        ]
        return overrides.merge(variables, self.kolla, files)

    def ovs_agent(self, variables: Variables) -> overrides.Merged:
        """openvswitch_agent.ini overrides (roles/neutron/tasks/config.yml): no Kolla variable sets the driver."""
        base, host = self._base(variables), variables.host
        if base is None:
            return overrides.Merged({}, (), {})
        files = [base / "neutron" / "openvswitch_agent.ini", base / "neutron" / host / "openvswitch_agent.ini"]
        return overrides.merge(variables, self.kolla, files)
