"""What a run resolved, before any host is read: the first lines a run prints, so an operator who gave no
profile (the zero-config standard run) sees which config dir, inventory, hosts, release and phases it took."""

from __future__ import annotations

from conformance.profile import Profile


def lines(profile: Profile) -> list[str]:
    kolla = profile.kolla
    inventories = ", ".join(str(p) for p in kolla.inventories)
    inventories = f"{inventories} (group {kolla.group})" if inventories else "none (the profile lists the hosts)"
    limit = f" (--limit {kolla.limit})" if kolla.limit else ""
    names = [h.name for h in profile.hosts]
    hosts = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return [
        f"profile: {profile.path}",
        f"config dir: {kolla.config_dir or 'none'}",
        f"inventory: {inventories}",
        f"hosts: {len(names)}{limit}: {hosts}",
        f"release: Kolla Ansible {kolla.kolla.version} ({kolla.kolla.ansible_dir})",
        f"phases: {', '.join(profile.phases)}",
    ]
