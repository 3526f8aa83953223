"""The deployment as kolla-ansible takes it: config dir conventions, several inventories, --limit, globals.d,
vault, the release whose files are the defaults, and the operator's override files as Kolla merges them.
(What every value resolves to is compared with ansible-playbook itself in test_ansible_parity.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conformance.errors import ProfileError
from conformance.kolla import expectations, release
from conformance.probes import host
from conformance.profile import load_profile

HEADER = "---\nworkaround_ansible_issue_8743: true\n"  # Kolla's sample globals.yml starts so
FACTS = host.parse(
    "@@nodename\nc1\n@@fqdn\nc1.example.net\n@@addresses\n"
    "2: eth0    inet 10.0.0.11/24 brd 10.0.0.255 scope global eth0\n"
    "2: eth0    inet6 2001:db8::11/64 scope global\n2: eth0    inet6 fe80::11/64 scope link\n"
)


def tree(tmp_path, files: dict[str, str], profile: dict | None = None) -> Path:
    base = {
        "kolla/globals.yml": HEADER,
        "kolla/passwords.yml": "libvirt_sasl_password: pw-1\n",
        "kolla/multinode": "[compute]\nc1 ansible_host=192.0.2.11\nc2 ansible_host=192.0.2.12\n",
    }
    for name, text in {**base, **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    data = {"kolla": {"config_dir": "kolla", "inventory": "kolla/multinode"}, **(profile or {})}
    (tmp_path / "profile.yml").write_text(yaml.safe_dump(data))
    return tmp_path / "profile.yml"


def expectation(profile, name="c1"):
    plan = next(p for p in profile.hosts if p.name == name)
    variables = profile.variables(plan, facts=lambda: FACTS)
    config = profile.kolla
    return expectations.resolve(
        variables, kolla=config.kolla, nova_conf=config.nova_compute(variables), ovs_agent=config.ovs_agent(variables)
    )


# -- override files: templated for the host, merged as Kolla's merge_configs merges them --------------------
@pytest.mark.parametrize(
    "files, virt_type, source",
    [
        (
            {"kolla/config/nova.conf": "[libvirt]\nvirt_type = {{ nova_compute_virt_type }}\n"},
            "kvm",
            "config/nova.conf",
        ),
        ({"kolla/config/nova.conf": '[libvirt]\nvirt_type = "qemu"\n'}, "qemu", "config/nova.conf"),
        ({"kolla/config/nova.conf": "[libvirt]\nvirt_type: qemu\n"}, "qemu", "config/nova.conf"),
        ({"kolla/config/nova.conf": "[libvirt]\nvirt_type = kvm\nvirt_type = qemu\n"}, "qemu", "config/nova.conf"),
        (
            {
                "kolla/config/global.conf": "[libvirt]\nvirt_type = qemu\n",
                "kolla/config/nova/c1/nova-compute.conf": "[libvirt]\nvirt_type = {{ 'k' ~ 'vm' }}\n",
            },
            "kvm",
            "config/nova/c1/nova-compute.conf",
        ),
        (
            {"kolla/config/nova/c2/nova.conf": "[libvirt]\nvirt_type = qemu\n"},  # another host's file
            "kvm",
            "nova_compute_virt_type",
        ),
        (
            {"kolla/config/nova.conf": "{% if inventory_hostname == 'c1' %}[libvirt]\nvirt_type = qemu\n{% endif %}\n"},
            "qemu",
            "config/nova.conf",
        ),
    ],
    ids=["jinja", "quoted", "colon", "repeated-key", "host-file-last", "other-host", "jinja-block"],
)
def test_override_files_as_kolla_merges_them(tmp_path, files, virt_type, source):
    exp = expectation(load_profile(tree(tmp_path, files)))
    assert exp.virt_type == virt_type and source in exp.virt_type_source


def test_node_custom_config_elsewhere_is_where_overrides_and_certificates_are_read(tmp_path):
    elsewhere = tmp_path / "site-config"
    files = {
        "kolla/globals.yml": HEADER + f"node_custom_config: {elsewhere}\n",
        "kolla/config/nova.conf": "[libvirt]\nvirt_type = qemu\n",  # the default place: not read any more
        "site-config/nova/nova-compute.conf": "[libvirt]\nvirt_type = kvm\ncpu_mode = none\n",
        "site-config/neutron/openvswitch_agent.ini": "[securitygroup]\nfirewall_driver = openvswitch\n",
    }
    profile = load_profile(tree(tmp_path, files))
    exp = expectation(profile)
    assert exp.virt_type == "kvm" and "site-config/nova/nova-compute.conf" in exp.virt_type_source
    assert exp.ovs_firewall_driver == "openvswitch"
    variables = profile.variables(profile.hosts[0], facts=lambda: FACTS)
    assert profile.kolla.custom_config_dir(variables) == elsewhere  # tls.files-present looks here


def test_a_broken_override_names_its_file(tmp_path):
    files = {"kolla/config/nova.conf": "[libvirt]\nvirt_type = {{ 1 // 0 }}\n"}
    with pytest.raises(ProfileError, match=r"config/nova.conf: host c1: .*division"):
        load_profile(tree(tmp_path, files))


# -- kolla-ansible's conventions ----------------------------------------------------------------------------
def test_two_inventories_a_folder_and_limit(tmp_path):
    files = {
        "kolla/multinode": "[compute]\nc1 ansible_host=192.0.2.11\n",
        "inv.d/10-more.ini": "[compute]\nc2 ansible_host=192.0.2.12\nc3 ansible_host=192.0.2.13\n",
        "inv.d/group_vars/compute.yml": "libvirt_tls: true\n",
    }
    profile = load_profile(
        tree(tmp_path, files, {"kolla": {"config_dir": "kolla", "inventory": ["kolla/multinode", "inv.d"]}})
    )
    assert [h.name for h in profile.hosts] == ["c1", "c2", "c3"]
    assert expectation(profile, "c3").libvirt_tls is True  # group_vars beside the folder inventory
    limited = load_profile(tmp_path / "profile.yml", {"limit": "c*:!c2"})
    assert [h.name for h in limited.hosts] == ["c1", "c3"]


def test_globals_d_yml_yaml_and_json_after_passwords_in_name_order(tmp_path):
    files = {
        "kolla/globals.d/a.json": '{"kolla_container_engine": "podman", "libvirt_tls": true}',
        "kolla/globals.d/b.yaml": "libvirt_tls: false\n",
        "kolla/globals.d/c.txt": "libvirt_tls: true\n",  # not a vars file: kolla-ansible skips it
    }
    exp = expectation(load_profile(tree(tmp_path, files)))
    assert (exp.container_engine, exp.libvirt_tls) == ("podman", False)


def test_extra_vars_as_kolla_ansible_e(tmp_path):
    files = {"more.yml": "libvirt_sasl_authname: ops\n"}
    profile = load_profile(
        tree(
            tmp_path,
            files,
            {
                "kolla": {
                    "config_dir": "kolla",
                    "inventory": "kolla/multinode",
                    "extra_vars": ["@more.yml", "libvirt_tls=yes"],
                }
            },
        )
    )
    exp = expectation(profile)
    assert (exp.sasl_authname, exp.libvirt_tls) == ("ops", True)


def test_kolla_config_path_is_the_default_config_dir(tmp_path, monkeypatch):
    path = tree(tmp_path, {"kolla/globals.yml": HEADER + "libvirt_tls: yes\n"})
    data = yaml.safe_load(path.read_text())
    del data["kolla"]["config_dir"]
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("KOLLA_CONFIG_PATH", str(tmp_path / "kolla"))
    assert expectation(load_profile(path)).libvirt_tls is True


def test_vault_encrypted_passwords_with_a_password_file(tmp_path):
    path = tree(tmp_path, {"vault-pass": "s3cret-vault\n"})
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ansible.cli.vault",
            "encrypt",
            "--vault-password-file",
            str(tmp_path / "vault-pass"),
            str(tmp_path / "kolla/passwords.yml"),
        ],
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "kolla/passwords.yml").read_text().startswith("$ANSIBLE_VAULT")
    with pytest.raises(ProfileError, match="passwords.yml.*(vault|decrypt)"):
        load_profile(path)  # no secret given: one line naming the file
    profile = load_profile(path, {"vault_password_file": str(tmp_path / "vault-pass")})
    assert expectation(profile).sasl_password.reveal() == "pw-1"
    (tmp_path / "wrong").write_text("nope\n")
    with pytest.raises(ProfileError) as err:
        expectation(load_profile(path, {"vault_password_file": str(tmp_path / "wrong")}))
    assert "passwords.yml" in str(err.value) and "s3cret" not in str(err.value) and "\n" not in str(err.value)


# -- the release -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("given, major", [("18.8.0", 18), ("2024.1", 18), ("caracal", 18), ("2023.1", 16), ("23", 23)])
def test_release_names_map_to_kolla_ansible_majors(given, major):
    assert release.release_major(given, "p", "kolla.release") == major


@pytest.mark.parametrize("given", ["2024.3", "banana", "2030.1"])
def test_unknown_release_is_one_line(given):
    with pytest.raises(ProfileError, match="unknown release"):
        release.release_major(given, "p.yml", "kolla.release")


def test_release_must_agree_with_the_kolla_ansible_found(tmp_path):
    path = tree(tmp_path, {}, {"kolla": {"config_dir": "kolla", "inventory": "kolla/multinode", "release": "2024.1"}})
    with pytest.raises(ProfileError, match=r"kolla.release: 2024.1 disagrees with the Kolla Ansible found \(23.0.0"):
        load_profile(path)
    assert load_profile(path, {"release": "2026.2"}).release == "23.0.0"


def test_a_folder_without_kolla_files_is_one_line(tmp_path):
    path = tree(tmp_path, {}, {"kolla": {"config_dir": "kolla", "ansible_dir": "kolla"}, "hosts": ["c1"]})
    with pytest.raises(ProfileError, match="kolla.ansible_dir: no Kolla Ansible files in"):
        load_profile(path)


def test_the_releases_own_volumes(tmp_path):
    """16.7.0 mounts nova_libvirt_secrets, 18.8.0 no longer (a backport): read from each release's defaults,
    each in a process of its own (Ansible's plugin loader is process-wide)."""
    path = tree(tmp_path, {})
    script = (
        "import sys; from conformance.profile import load_profile; from conformance.kolla import expectations;"
        "p = load_profile(sys.argv[1]); v = p.variables(p.hosts[0]);"
        "print(','.join(expectations.libvirt_volumes(v, p.kolla.kolla)))"
    )
    seen = {}
    for version in ("16.7.0", "18.8.0"):
        env = {**os.environ, release.ENV: str(release.fetch(version).ansible_dir)}
        done = subprocess.run(
            [sys.executable, "-c", script, str(path)], capture_output=True, text=True, env=env, check=True
        )
        seen[version] = done.stdout.strip()
    assert seen == {"16.7.0": "libvirtd,nova_libvirt_qemu,nova_libvirt_secrets", "18.8.0": "libvirtd,nova_libvirt_qemu"}


# -- host facts in Ansible's shape --------------------------------------------------------------------------
def test_facts_in_ansible_setup_shape_and_ipv6_kolla_address(tmp_path):
    assert FACTS["eth0"]["ipv4"]["address"] == "10.0.0.11" and FACTS["fqdn"] == "c1.example.net"
    assert FACTS["eth0"]["ipv6"][0] == {"address": "2001:db8::11", "prefix": "64", "scope": "global"}
    files = {
        "kolla/globals.yml": HEADER + "network_address_family: ipv6\nenable_haproxy: no\n",
        "kolla/host_vars/c1.yml": 'migration_hostname: "{{ ansible_facts.fqdn }}"\n',
    }
    exp = expectation(load_profile(tree(tmp_path, files)))
    assert (exp.migration_address, exp.migration_hostname) == ("2001:db8::11", "c1.example.net")
