"""The suite's resolution of Kolla variables for tests/kolla_truth.py, in its own process (one Kolla Ansible
per process): JSON arguments on stdin, JSON {"hosts": [...], host: {role: {name: value | {"__error__": ...}}}}
on stdout. The vault password file is read as the profile reads it (ansible's get_file_vault_secret)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    given = json.load(sys.stdin)
    from conformance.kolla import release
    from conformance.kolla.config import KollaConfig

    kolla = release.from_path(Path(given["ansible_dir"]), given["version"], "kolla_resolve", None)
    secret = None
    if given["vault_password_file"]:
        from ansible.parsing.dataloader import DataLoader
        from ansible.parsing.vault import get_file_vault_secret

        secret = get_file_vault_secret(filename=given["vault_password_file"], loader=DataLoader())
        secret.load()
    config = KollaConfig.load(
        Path(given["config_dir"]) if given["config_dir"] else None,
        [Path(p) for p in given["inventories"]],
        given["group"],
        kolla,
        extra_vars=given["extra_vars"],
        vault_secret=secret,
        limit=given["limit"],
    )
    facts = given["facts"]
    result: dict = {"hosts": config.compute_hosts()}
    for host in given["hosts"]:
        variables = config.variables(host, [], facts=lambda host=host: facts[host])
        for role, names in given["reads"].items():
            values = result.setdefault(host, {}).setdefault(role, {})
            for name in names:
                try:
                    value = variables.get_in(name, role)
                except Exception as exc:  # ProfileError, NeedsHostFacts: compared as "does not template"
                    values[name] = {"__error__": f"{type(exc).__name__}: {exc}"}
                    continue
                try:
                    json.dumps(value)
                except (TypeError, ValueError):  # not a plain value (an ansible-core object): shown, never equal
                    value = f"<not a plain value: {type(value).__name__}>"
                values[name] = value
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
