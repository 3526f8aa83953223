"""Expectations resolved from Kolla's defaults and an operator's files, in Ansible's precedence."""

import os
from pathlib import Path

import pytest

from conformance.errors import ProfileError
from conformance.kolla import expectations, release
from conformance.kolla.ansible_vars import NeedsHostFacts
from conformance.kolla.config import KollaConfig
from conformance.probes import host

# What the facts command prints on a compute host, parsed as the suite parses it (Ansible's setup shape).
FACTS = host.parse(
    "@@nodename\ncompute01.example\n@@machine\nx86_64\n@@fqdn\ncompute01.example.net\n@@os-release\nID=debian\n"
    "@@addresses\n1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 10.0.0.11/24 brd 10.0.0.255 scope global eth0\n"
    "3: eth1    inet 192.168.9.11/24 scope global eth1\n3: eth1    inet6 fd00::11/64 scope global\n"
    "3: eth1    inet6 fe80::1/64 scope link\n@@route4\n@@route6\n"
)


def kolla_tree(
    tmp_path, globals_yml="", inventory="[compute]\ncompute01\n", passwords="libvirt_sasl_password: pw-123456\n"
):
    # As Kolla's sample globals.yml: Ansible refuses an -e file that holds no mapping.
    (tmp_path / "globals.yml").write_text("---\nworkaround_ansible_issue_8743: true\n" + globals_yml)
    (tmp_path / "passwords.yml").write_text(passwords)
    (tmp_path / "multinode").write_text(inventory)
    kolla = release.from_path(Path(os.environ[release.ENV]), None, "test", None)
    return KollaConfig.load(tmp_path, [tmp_path / "multinode"], "compute", kolla)


def resolve(config, host="compute01", overrides=()):
    variables = config.variables(host, list(overrides), facts=lambda: FACTS)
    return expectations.resolve(
        variables, kolla=config.kolla, nova_conf=config.nova_compute(variables), ovs_agent=config.ovs_agent(variables)
    )


def test_kolla_defaults(tmp_path):
    exp = resolve(kolla_tree(tmp_path))
    assert (exp.virt_type, exp.libvirt_container, exp.container_engine) == ("kvm", True, "docker")
    assert (exp.libvirt_tls, exp.libvirt_port, exp.sasl_enabled, exp.sasl_authname) == (False, 16509, True, "nova")
    assert exp.sasl_mech_list == ("DIGEST-MD5",)
    assert exp.migration_hostname == "compute01.example"  # ansible_facts.nodename
    assert exp.migration_address == "10.0.0.11"  # 'migration' | kolla_address via eth0
    assert exp.libvirt_uri == "qemu+tcp://10.0.0.11/system"
    assert exp.sasl_password.reveal() == "pw-123456" and "pw-123456" not in repr(exp)
    assert exp.libvirt_volumes == ("libvirtd", "nova_libvirt_qemu")  # 23.0.0 has no nova_libvirt_secrets


def test_tls_switches_port_mech_and_uri(tmp_path):
    exp = resolve(kolla_tree(tmp_path, "libvirt_tls: yes\nmigration_interface: eth1\n"))
    assert (exp.libvirt_port, exp.sasl_mech_list) == (16514, ("SCRAM-SHA-256",))
    assert exp.migration_address == "192.168.9.11"
    assert exp.libvirt_uri == "qemu+tls://compute01.example/system"


def test_virt_type_qemu_and_host_mode(tmp_path):
    exp = resolve(kolla_tree(tmp_path, "nova_compute_virt_type: qemu\nenable_nova_libvirt_container: false\n"))
    assert exp.virt_type == "qemu" and exp.libvirt_container is False


def test_globals_beat_inventory_host_vars(tmp_path):
    # globals.yml is passed as extra vars (-e @globals.yml): it wins over everything in the inventory.
    config = kolla_tree(tmp_path, "libvirt_tls: false\n", "[compute]\ncompute01 libvirt_tls=True\n")
    assert resolve(config).libvirt_tls is False


def test_inventory_host_vars_beat_kolla_group_vars_all(tmp_path):
    config = kolla_tree(tmp_path, "", "[compute]\ncompute01 kolla_container_engine=podman\n")
    assert resolve(config).container_engine == "podman"


def test_inventory_file_group_vars_lose_to_kolla_group_vars_all(tmp_path):
    # Ansible ranks playbook group_vars/all above inventory *file* group vars: a classic trap.
    config = kolla_tree(
        tmp_path, "", "[compute]\ncompute01\n[compute:vars]\nnova_compute_virt_type=qemu\nlibvirt_tls=yes\n"
    )
    exp = resolve(config)
    assert exp.virt_type == "kvm"  # Kolla's group_vars/all default wins
    assert exp.libvirt_tls is True  # but a role default loses to the inventory group var


def test_profile_overrides_win(tmp_path):
    config = kolla_tree(tmp_path, "nova_compute_virt_type: kvm\n")
    exp = resolve(config, overrides=[("profile", {"nova_compute_virt_type": "qemu"})])
    assert exp.virt_type == "qemu"


def test_operator_nova_conf_override_wins_over_variable(tmp_path):
    config = kolla_tree(tmp_path, "nova_compute_virt_type: kvm\n")
    override = tmp_path / "config" / "nova" / "compute01"
    override.mkdir(parents=True)
    (override / "nova-compute.conf").write_text("[libvirt]\nvirt_type = qemu\n")
    exp = resolve(config)
    assert exp.virt_type == "qemu" and exp.virt_type_variable == "kvm"
    assert "config/nova/compute01/nova-compute.conf" in exp.virt_type_source


def test_static_validation_needs_no_host(tmp_path):
    config = kolla_tree(tmp_path)
    variables = config.variables("compute01", [], facts=None)
    expectations.validate_static(variables)  # no SSH needed
    with pytest.raises(NeedsHostFacts):
        variables["migration_hostname"]


@pytest.mark.parametrize(
    "globals_yml, key, problem",
    [
        ("nova_compute_virt_type: xen\n", "nova_compute_virt_type", "'xen' is not one of kvm, qemu"),
        ("libvirt_tls: maybe\n", "libvirt_tls", "expected a boolean"),
        ("libvirt_sasl_mech_list: 5\n", "libvirt_sasl_mech_list", "expected a list of strings"),
        ('kolla_container_engine: "{{ nope }}"\n', "kolla_container_engine", "'nope' is undefined"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path, globals_yml, key, problem):
    config = kolla_tree(tmp_path, globals_yml)
    with pytest.raises(ProfileError) as err:
        expectations.validate_static(config.variables("compute01", [], facts=None))
    assert str(err.value).startswith(f"{tmp_path / 'globals.yml'}: {key}: ") and problem in str(err.value)


def test_missing_interface_is_clear(tmp_path):
    config = kolla_tree(tmp_path, "migration_interface: bond9\n")
    with pytest.raises(ProfileError) as err:
        resolve(config)
    assert "Interface 'bond9' not present on host 'compute01'" in str(err.value)  # Kolla's kolla_address says so


def test_self_reference_is_reported(tmp_path):
    config = kolla_tree(
        tmp_path, 'api_interface: "{{ migration_interface }}"\nmigration_interface: "{{ api_interface }}"\n'
    )
    with pytest.raises(ProfileError, match="Recursive loop detected"):
        resolve(config)
