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


def extra_var_args(config_dir: Path | None, extra_vars: list[str]) -> list[str]:
    """The -e arguments in kolla_ansible/ansible.py's order: globals.yml, passwords.yml, globals.d/*.{yml,yaml,json}
    (sorted), the operator's -e, then CONFIG_DIR."""
    args: list[str] = []
    if config_dir is not None:
        config_dir = config_dir.absolute()
        args += [f"@{config_dir / 'globals.yml'}"]
        if (config_dir / "passwords.yml").is_file():
            args += [f"@{config_dir / 'passwords.yml'}"]
        globals_d = config_dir / "globals.d"
        if globals_d.is_dir():
            files = [p for p in globals_d.iterdir() if p.is_file() and p.suffix in (".yml", ".yaml", ".json")]
            args += [f"@{p}" for p in sorted(files, key=lambda p: str(p))]
    args += list(extra_vars)
    if config_dir is not None:
        args += [f"CONFIG_DIR={config_dir}"]
    return args


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
        arguments = extra_var_args(config_dir, list(extra_vars))
        precheck.check_tree([Path(a[1:]) for a in arguments if a.startswith("@")], inventories)
        tree = AnsibleTree(kolla, inventories, arguments, vault_secret, group, source)
        config = cls(config_dir, inventories, group, kolla, tree, limit)
        if limit:
            tree.inventory.subset(limit)
        return config

    @property
    def extra_vars(self) -> list[tuple[str, Mapping[str, Any]]]:
        """Each -e source with its variables (passwords.yml decrypted when vaulted): what must never be shown."""
        return self.tree.extra_layers()

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
