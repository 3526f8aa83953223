"""The resolved intended settings for one compute host: what the checks compare the host against."""

from __future__ import annotations

import builtins
import dataclasses
from typing import NoReturn

from conformance.errors import ProfileError
from conformance.kolla.ansible_vars import NeedsHostFacts, Variables
from conformance.kolla.overrides import Merged
from conformance.kolla.release import KollaAnsible


class Secret:
    """A value that must never be printed: repr and str are masked; `reveal()` is explicit."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None):
        self._value = "" if value is None else str(value)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('******')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


OVS_TEMPLATE_FIREWALL_DRIVER = "neutron.agent.linux.iptables_firewall.OVSHybridIptablesFirewallDriver"


@dataclasses.dataclass(frozen=True)
class Expectation:
    host: str
    release: str | None
    # virtualisation
    virt_type: str  # effective: the operator's nova.conf override if any, else the variable
    virt_type_variable: str  # nova_compute_virt_type
    virt_type_source: str  # where the effective value comes from
    qemu_user_gid: int
    # libvirt placement
    libvirt_container: bool  # enable_nova_libvirt_container
    container_engine: str  # kolla_container_engine
    node_config_directory: str  # /etc/kolla on the host
    # transport and authentication
    libvirt_tls: bool
    libvirt_tls_manage_certs: bool
    libvirt_port: int
    sasl_enabled: bool
    sasl_authname: str
    sasl_password: Secret
    sasl_mech_list: tuple[str, ...]
    # networking
    migration_interface: str
    migration_hostname: str
    migration_address: str
    openvswitch_enabled: bool
    neutron_plugin_agent: str
    ovs_vsctl_wrapper_enabled: bool
    # cleanup
    cleanup_remove_volumes: bool
    cleanup_running_vms_fatal: bool
    # The named volumes nova_libvirt mounts in this release that nova-libvirt-cleanup would remove: the release's
    # own nova_libvirt_default_volumes and libvirt-cleanup.yml (nova_libvirt_secrets went in 17.9.0/18.8.0/19.0.0).
    libvirt_volumes: tuple[str, ...] = ("libvirtd", "nova_libvirt_qemu")
    # The OVS agent's firewall driver has no Kolla variable: Kolla's template value unless the operator overrides it.
    ovs_firewall_driver: str = OVS_TEMPLATE_FIREWALL_DRIVER
    ovs_firewall_driver_source: str = "Kolla's openvswitch_agent.ini.j2"
    # Run settings from the profile (runtime.HostContext.prepare fills them): the operator's /etc/kolla/config,
    # read locally for pre-deployment certificate checks; whether live probes may reach the migration network.
    operator_config_dir: str | None = None
    live_probes: bool = True
    canary: bool = False  # the canary guest (conformance.probes.canary) is opt-in
    expiry_warning_days: int = 30

    @property
    def libvirt_uri(self) -> str:
        """The URI nova-compute uses (docs/kolla-provenance.md §2, nova.conf [libvirt] connection_uri)."""
        if self.libvirt_tls:
            return f"qemu+tls://{self.migration_hostname}/system"
        return f"qemu+tcp://{self.migration_address}/system"


class _Reader:
    def __init__(self, variables: Variables):
        self.v = variables

    def _fail(self, name: builtins.str, problem: builtins.str) -> NoReturn:
        raise ProfileError(self.v.source_of(name), name, problem)

    # Named after the types they read (the _READS table names them): inside the class, spell the builtins out.
    def str(
        self, name: builtins.str, role: builtins.str, choices: tuple[builtins.str, ...] | None = None
    ) -> builtins.str:
        value = self.v.get_in(name, role)
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            self._fail(name, f"expected a string, got {value!r}")
        value = str(value)
        if choices and value not in choices:
            self._fail(name, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def bool(self, name: builtins.str, role: builtins.str) -> builtins.bool:
        from ansible.module_utils.parsing.convert_bool import boolean

        value = self.v.get_in(name, role)
        try:  # what Kolla's `| bool` takes, strictly: a value it would silently read as false is a finding
            return boolean(value, strict=True)
        except TypeError:
            self._fail(name, f"expected a boolean, got {value!r}")

    def int(self, name: builtins.str, role: builtins.str) -> builtins.int:
        value = self.v.get_in(name, role)
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):  # int() would take them
            self._fail(name, f"expected an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError, OverflowError):
            self._fail(name, f"expected an integer, got {value!r}")

    def list(self, name: builtins.str, role: builtins.str) -> tuple[builtins.str, ...]:
        value = self.v.get_in(name, role)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self._fail(name, f"expected a list of strings, got {value!r}")
        return tuple(value)


# What `resolve` reads, in its order: Expectation field -> (reader, Kolla variable, allowed values).
_READS = {
    "virt_type_variable": ("str", "nova_compute_virt_type", ("kvm", "qemu")),
    "qemu_user_gid": ("int", "qemu_user_gid"),
    "libvirt_container": ("bool", "enable_nova_libvirt_container"),
    "container_engine": ("str", "kolla_container_engine", ("docker", "podman")),
    "node_config_directory": ("str", "node_config_directory"),
    "libvirt_tls": ("bool", "libvirt_tls"),
    "libvirt_tls_manage_certs": ("bool", "libvirt_tls_manage_certs"),
    "libvirt_port": ("int", "nova_libvirt_port"),
    "sasl_enabled": ("bool", "libvirt_enable_sasl"),
    "sasl_authname": ("str", "libvirt_sasl_authname"),
    "sasl_mech_list": ("list", "libvirt_sasl_mech_list"),
    "migration_interface": ("str", "migration_interface"),
    "migration_hostname": ("str", "migration_hostname"),
    "migration_address": ("str", "migration_interface_address"),
    "openvswitch_enabled": ("bool", "enable_openvswitch"),
    "neutron_plugin_agent": ("str", "neutron_plugin_agent"),
    "ovs_vsctl_wrapper_enabled": ("bool", "openvswitch_ovs_vsctl_wrapper_enabled", "openvswitch"),
    "cleanup_remove_volumes": ("bool", "nova_libvirt_cleanup_remove_volumes"),
    "cleanup_running_vms_fatal": ("bool", "nova_libvirt_cleanup_running_vms_fatal"),
}


def _read(read: _Reader, field: str):
    """Each variable read in the play of the role that uses it (its defaults), nova-cell unless named."""
    method, name, *rest = _READS[field]
    role = next((r for r in rest if isinstance(r, str)), "nova-cell")
    choices = [r for r in rest if isinstance(r, tuple)]
    return getattr(read, str(method))(name, role, *choices)


def validate_static(variables: Variables) -> None:
    """Evaluate every variable the checks need, except those that need host facts; raises ProfileError.

    Each variable on its own: one that needs the host (migration_hostname) does not hide errors in the others,
    and a template that fails without facts (`{{ 1 // 0 }}`) fails here, before any host is touched."""
    read = _Reader(variables)
    for field in _READS:
        try:
            _read(read, field)
        except NeedsHostFacts:
            continue  # judged when the host's facts are gathered
    if "libvirt_sasl_password" in variables:
        try:
            variables["libvirt_sasl_password"]
        except NeedsHostFacts:
            pass


def libvirt_volumes(variables: Variables, kolla: KollaAnsible) -> tuple[str, ...]:
    """The named volumes the release's nova_libvirt mounts (nova_libvirt_default_volumes, read raw: the names
    are literal) among those its libvirt-cleanup.yml removes. Kolla's files, not version numbers: the removal
    of nova_libvirt_secrets was backported to point releases."""
    mounts = variables.raw("nova-cell").get("nova_libvirt_default_volumes") or []
    names = [str(m).split(":", 1)[0] for m in mounts if isinstance(m, str) and ":" in m]
    path = str(kolla.file("roles", "nova-cell", "tasks", "libvirt-cleanup.yml"))
    if path not in _CLEANUP_REMOVES:  # the release's file, the same for every host: parsed once per run
        removed: list[str] = []
        for task in variables.tree.loader.load_from_file(path) or []:
            if isinstance(task, dict) and "remove_volume" in str(task) and isinstance(task.get("loop"), list):
                removed += [str(item) for item in task["loop"]]
        _CLEANUP_REMOVES[path] = tuple(removed)
    return tuple(name for name in _CLEANUP_REMOVES[path] if name in names)


_CLEANUP_REMOVES: dict[str, tuple[str, ...]] = {}  # libvirt-cleanup.yml -> the volumes it removes


def resolve(
    variables: Variables,
    *,
    kolla: KollaAnsible,
    nova_conf: Merged,
    ovs_agent: Merged,
) -> Expectation:
    """The full expectation for one host. Needs host facts for migration_hostname/address (unless set).

    `nova_conf` holds the operator's nova.conf overrides as Kolla merges them; their `[libvirt] virt_type`
    wins over nova_compute_virt_type in the nova.conf Kolla renders (docs/kolla-provenance.md §2).
    """
    read = _Reader(variables)
    values = {field: _read(read, field) for field in _READS}
    virt_variable = values["virt_type_variable"]
    virt_type, virt_source = virt_variable, f"nova_compute_virt_type ({variables.source_of('nova_compute_virt_type')})"
    override, path = nova_conf.get("libvirt", "virt_type")
    if override:
        virt_type, virt_source = override, f"[libvirt] virt_type in {path}"
    password = variables["libvirt_sasl_password"] if "libvirt_sasl_password" in variables else None
    firewall, firewall_source = OVS_TEMPLATE_FIREWALL_DRIVER, "Kolla's openvswitch_agent.ini.j2"
    override, path = ovs_agent.get("securitygroup", "firewall_driver")
    if override:
        firewall, firewall_source = override, f"[securitygroup] in {path}"
    return Expectation(
        host=variables.host,
        release=kolla.version,
        virt_type=virt_type,
        virt_type_source=virt_source,
        sasl_password=Secret(password),
        **values,
        libvirt_volumes=libvirt_volumes(variables, kolla),
        ovs_firewall_driver=firewall,
        ovs_firewall_driver_source=firewall_source,
    )
