"""The suite resolves every variable the checks read exactly as a real `ansible-playbook` run of kolla-ansible does.

Each tree is a deployment (config dir, inventories, -e, vault) built once per Kolla Ansible release; one real
ansible-playbook run (tests/kolla_truth.py) and one run of the suite's resolution, side by side, resolve every
variable of expectations._READS (plus libvirt_sasl_password and node_custom_config) for all of its hosts. Each
case then compares its hosts (and, for a few, its variables) and checks that the truth is what the case is about,
so a case that silently stopped exercising its edge (a fact cache Ansible did not read: every value an error on
both sides) fails rather than passing as "equal".

Trees are shared between the cases that read them: computed once per run (one file lock per tree, so xdist
workers share them), under the run's temporary folder.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from conformance.kolla import release
from conformance.kolla.release import KollaAnsible
from conformance.probes import host as host_probe
from fixtures.lab import kolla_deploy
from tests import kolla_truth as kt

# 2026.2 (Python CLI, group_vars/all/ a folder), 2025.1 Epoxy (Python CLI, group_vars/all.yml) and 2023.1 Antelope
# (bash CLI, group_vars/all.yml). KOLLA_PARITY_RELEASES="18.8.0 22.2.0" runs others (fetched into the cache if need be).
RELEASES = tuple(os.environ.get("KOLLA_PARITY_RELEASES", "23.0.0 20.6.0 16.7.0").split())
VAULT_PASSWORD = "parity-vault-pw\n"
SASL_PASSWORD = "sasl-from-vaulted-passwords"


def bash_cli(kolla: KollaAnsible) -> bool:
    """Releases up to 18.x run ansible-playbook from the bash `kolla-ansible`, 19+ from the Python CLI."""
    return not (kolla.package_dir and (kolla.package_dir / "kolla_ansible" / "ansible.py").is_file())


def facts(name: str, n: int, *, vip6: str | None = None) -> dict:
    """A compute host's facts as the suite's probe parses them: eth0 (v4 + global v6), eth1, br-ex."""
    lines = [
        "1: lo    inet 127.0.0.1/8 scope host lo",
        f"2: eth0    inet 10.0.0.{n}/24 brd 10.0.0.255 scope global eth0",
    ]
    if vip6:  # keepalived's VIP sits on the interface before the host's own address
        lines.append(f"2: eth0    inet6 {vip6}/128 scope global")
    lines += [
        f"2: eth0    inet6 fd00::{n:x}/64 scope global",
        f"2: eth0    inet6 fe80::{n:x}/64 scope link",
        f"3: eth1    inet 192.168.9.{n}/24 brd 192.168.9.255 scope global eth1",
        f"3: eth1    inet6 fd09::{n:x}/64 scope global",
        f"4: br-ex    inet 172.16.0.{n}/24 scope global br-ex",
    ]
    text = (
        f"@@nodename\n{name}\n@@machine\nx86_64\n@@fqdn\n{name}.example.net\n@@os-release\nID=debian\n"
        "@@addresses\n" + "\n".join(lines) + f"\n@@route4\n8.8.8.8 via 10.0.0.1 dev eth0 src 10.0.0.{n} uid 0\n"
        f"@@route6\n2001:4860:4860::8888 via fd00::1 dev eth0 src fd00::{n:x} metric 1024\n"
    )
    return host_probe.parse(text)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def genpwd_once(kolla: KollaAnsible, root: Path) -> Path:
    """The release's sample passwords.yml filled by its kolla-genpwd, once per run (it makes SSH keys: seconds)."""
    return kolla_deploy.passwords(kolla, root)


def config_dir(folder: Path, kolla: KollaAnsible, globals_yml: str = "", sasl_password: str | None = None) -> Path:
    """Kolla's sample globals.yml (plus `globals_yml`) and kolla-genpwd's passwords.yml."""
    config = kt.sample_config(kolla, folder / "etc-kolla", genpwd_once(kolla, folder.parent))
    if globals_yml:
        with (config / "globals.yml").open("a") as out:
            out.write("\n" + textwrap.dedent(globals_yml).lstrip("\n"))
    if sasl_password is not None:
        data = yaml.safe_load((config / "passwords.yml").read_text())
        data["libvirt_sasl_password"] = sasl_password
        (config / "passwords.yml").write_text(yaml.safe_dump(data))
    return config


# -- the trees: (Tree, {host: facts}, extra variable names) -----------------------------------------------------

Built = tuple[kt.Tree, dict[str, dict], tuple[str, ...]]


def tree_sample_multinode(folder: Path, kolla: KollaAnsible) -> Built:
    tree = kt.Tree(kolla, config_dir(folder, kolla), [kt.sample_inventory(kolla, "multinode")])
    return tree, {"compute01": facts("compute01", 11)}, ()


def tree_sample_all_in_one(folder: Path, kolla: KollaAnsible) -> Built:
    tree = kt.Tree(kolla, config_dir(folder, kolla), [kt.sample_inventory(kolla, "all-in-one")])
    return tree, {"localhost": facts("aio", 5)}, ()


def tree_config(folder: Path, kolla: KollaAnsible) -> Built:
    """Vault (passwords.yml encrypted, inline !vault in globals.yml and host_vars, an encrypted host_vars file)
    and every kind of -e."""
    pw = write(folder / "vault.pass", VAULT_PASSWORD)
    globals_yml = kt.vault_string("nova_compute_virt_type", "qemu", pw)
    config = config_dir(folder, kolla, globals_yml, sasl_password=SASL_PASSWORD)
    kt.vault_encrypt(config / "passwords.yml", pw)
    inventory = write(folder / "inventory" / "hosts", "[compute]\ncompute01\ncompute02\ncompute03\n")
    write(
        inventory.parent / "host_vars" / "compute01.yml",
        kt.vault_string("migration_hostname", "vault-inline-host", pw) + "fatal: no\n",
    )
    vaulted = write(
        inventory.parent / "host_vars" / "compute02.yml", "migration_hostname: vault-file-host\nqemu_user_gid: 1\n"
    )
    kt.vault_encrypt(vaulted, pw)
    extra = write(folder / "extra.yml", "nova_libvirt_cleanup_running_vms_fatal: \"{{ fatal | default('yes') }}\"\n")
    tree = kt.Tree(
        kolla,
        config,
        [inventory],
        extra_vars=[
            "libvirt_tls_manage_certs=no",  # key=value: a string
            '{"nova_libvirt_cleanup_remove_volumes":true,"qemu_user_gid":42600}',  # JSON: typed (no spaces: bash CLI)
            f"@{extra}",
            "CONFIG_DIR=/srv/kolla-elsewhere",  # kolla-ansible adds its own CONFIG_DIR: before or after this one
        ],
        vault_password_file=pw,
    )
    return tree, {f"compute0{i}": facts(f"compute0{i}", 20 + i) for i in (1, 2, 3)}, ("keystone_admin_password",)


def tree_globals_d(folder: Path, kolla: KollaAnsible) -> Built:
    """globals.d: .yml, .yaml, .json in name order, other files and sub-folders not read; node_custom_config set."""
    config = config_dir(
        folder,
        kolla,
        """
        node_custom_config: "{{ node_config }}/overrides"
        libvirt_sasl_authname: from-globals
        """,
        sasl_password="sasl-from-passwords",
    )
    d = config / "globals.d"
    write(d / "05-pw.yml", "libvirt_sasl_password: sasl-from-globals-d\n")
    write(d / "10-a.yml", "libvirt_sasl_authname: from-yml\nmigration_interface: eth1\n")
    write(d / "20-b.yaml", "libvirt_sasl_authname: from-yaml\n")
    write(d / "30-c.json", '{"migration_interface": "br-ex", "kolla_container_engine": "podman"}\n')
    write(d / "40-d.txt", "nova_compute_virt_type: bogus\n")
    write(d / "sub" / "50-e.yml", "nova_compute_virt_type: bogus\n")
    inventory = write(folder / "multinode", "[compute]\ncompute01\n")
    return kt.Tree(kolla, config, [inventory]), {"compute01": facts("compute01", 31)}, ()


def tree_inventory_dir(folder: Path, kolla: KollaAnsible) -> Built:
    """An inventory folder: an INI and a YAML inventory, a README it skips, group_vars/ and host_vars/ inside."""
    inv = folder / "inventory"
    write(inv / "00-hosts.ini", "[compute]\nini01\nini02\n\n[grp-dir]\nini02\n")
    write(
        inv / "10-hosts.yml",
        """
        all:
          children:
            compute:
              hosts:
                yaml01:
                  qemu_user_gid: 42501
                  libvirt_tls: "yes"
                  libvirt_sasl_mech_list: [SCRAM-SHA-256, PLAIN]
                yaml02:2233:
              children:
                grp-yaml:
            grp-yaml:
              hosts:
                yaml03:
              vars:
                libvirt_tls_manage_certs: false
                nova_libvirt_cleanup_running_vms_fatal: "no"
        """,
    )
    write(inv / "README.md", "Not an inventory: Ansible skips .md files in an inventory folder.\n")
    write(inv / "group_vars" / "compute.yml", "nova_compute_virt_type: qemu\n")
    write(inv / "group_vars" / "grp-dir" / "10-a.yml", "migration_interface: eth1\nkolla_container_engine: podman\n")
    write(
        inv / "group_vars" / "grp-dir" / "30-c.json", '{"kolla_container_engine": "docker", "qemu_user_gid": 42503}\n'
    )
    write(inv / "group_vars" / "grp-dir" / "sub" / "20-b.yaml", "qemu_user_gid: 42502\n")
    write(inv / "host_vars" / "ini01" / "a.yml", "migration_hostname: from-a\nlibvirt_sasl_authname: from-a\n")
    write(inv / "host_vars" / "ini01" / "b" / "c.yaml", "migration_hostname: from-b-c\n")
    write(inv / "host_vars" / "yaml01", "migration_interface: br-ex\n")  # no extension: read too
    write(inv / "host_vars" / "yaml02.yaml", 'migration_hostname: "{{ inventory_hostname }}-{{ ansible_port }}"\n')
    hosts = {name: facts(name, 41 + i) for i, name in enumerate(["ini01", "ini02", "yaml01", "yaml02", "yaml03"])}
    return kt.Tree(kolla, config_dir(folder, kolla), [inv]), hosts, ()


def tree_two_inventories(folder: Path, kolla: KollaAnsible) -> Built:
    """-i twice: a host in both (the later inventory's vars win), each with its own group_vars/; --limit."""
    a = write(folder / "inv-a" / "hosts", "[compute]\ncompute01\ncompute02 nova_compute_virt_type=qemu\n")
    write(a.parent / "group_vars" / "compute.yml", "migration_interface: eth1\nlibvirt_sasl_authname: from-a\n")
    b = write(
        folder / "inv-b" / "hosts.yml",
        """
        compute:
          hosts:
            compute02:
              nova_compute_virt_type: kvm
            compute03:
            compute04:
        """,
    )
    write(b.parent / "group_vars" / "compute.yml", "libvirt_sasl_authname: from-b\n")
    write(b.parent / "host_vars" / "compute03.yml", "migration_interface: br-ex\n")
    tree = kt.Tree(kolla, config_dir(folder, kolla), [a, b], limit="all:!compute04")
    return tree, {f"compute0{i}": facts(f"compute0{i}", 50 + i) for i in (1, 2, 3)}, ()


# The edge tree: one INI inventory with host_vars/ and group_vars/ beside it, one host per edge case.
EDGE_INVENTORY = """
[compute]
c-plain
c-port:2222
c-portvar ansible_port=2201
c-inline qemu_user_gid=42500 nova_libvirt_port="16600" libvirt_tls=False libvirt_sasl_mech_list="['PLAIN']"
c-range[01:03]
c-gvars
c-prio
c-migvars
c-custom
c-gvdir
c-hvdir
c-fqdn
c-toplevel
c-defroute
c-dash
c-v6
c-v6api
c-v6vip
c-quoted
c-float
c-ternary
c-unsafe
c-anchor
c-hostvars
c-tls
c-podman
c-ovn
c-native
c-anshost ansible_host=10.9.9.9
c-magic.example.org
c-tags
c-jinja
c-lookup
c-recursive
c-undefined

[compute:children]
compute-sub

[compute-sub]
c-child

[grp-parent:children]
compute-sub

[grp-parent:vars]
libvirt_tls_manage_certs=yes

[compute-sub:vars]
libvirt_tls_manage_certs=no

[all:vars]
migration_interface=eth1
nova_libvirt_cleanup_remove_volumes=yes

[grp-strings]
c-gvars

[grp-strings:vars]
libvirt_tls=no
qemu_user_gid=42428
nova_libvirt_port=16600
libvirt_sasl_mech_list=['SCRAM-SHA-256']

[prio-a]
c-prio

[prio-b]
c-prio

[prio-a:vars]
ansible_group_priority=10
libvirt_tls_manage_certs=no

[prio-b:vars]
libvirt_tls_manage_certs=yes

[grp-mig]
c-migvars

[grp-mig:vars]
migration_interface=br-ex

[grp-custom]
c-custom

[grp-dir]
c-gvdir
"""

EDGE_HOSTS = [
    line.split()[0].split(":")[0] for line in EDGE_INVENTORY.split("[compute:children]")[0].splitlines()[2:] if line
]
EDGE_HOSTS = [h for h in EDGE_HOSTS if "[" not in h] + ["c-range01", "c-range02", "c-range03", "c-child"]


def edge_n(host: str) -> int:
    """The host's number in its addresses: 10.0.0.<n>, fd00::<n in hex>, 172.16.0.<n> (br-ex)."""
    return 100 + EDGE_HOSTS.index(host)


EDGE_HOST_VARS = {
    "c-plain": "sasl_flag: yes\n",
    "c-port": 'migration_hostname: "{{ inventory_hostname }}-{{ ansible_port }}"\nnova_libvirt_port: "{{ ansible_port + 14287 }}"\n',
    "c-portvar": 'migration_hostname: "{{ inventory_hostname }}-{{ ansible_port }}"\nnova_libvirt_port: "{{ ansible_port | int + 1 }}"\n',
    "c-range02": "nova_compute_virt_type: qemu\n",
    "c-fqdn": 'migration_hostname: "{{ ansible_facts.fqdn }}"\n',
    "c-toplevel": 'migration_hostname: "{{ ansible_hostname }}"\nmigration_interface: "{{ ansible_default_ipv4.interface }}"\n',
    "c-defroute": 'migration_hostname: "{{ ansible_facts.hostname }}.{{ ansible_facts.domain }}"\n'
    'migration_interface: "{{ ansible_facts.default_ipv4.interface }}"\n',
    "c-dash": "migration_interface: br-ex\n",
    "c-v6": "migration_interface: eth0\nmigration_address_family: ipv6\n",
    "c-v6api": "api_address_family: ipv6\nenable_haproxy: no\n",
    "c-v6vip": "api_address_family: ipv6\nkolla_internal_vip_address: fd00::250\n",
    "c-quoted": "qemu_user_gid: \"42427\"\nnova_libvirt_port: '16509'\nlibvirt_tls: 'false'\n",
    "c-float": 'nova_libvirt_port: 1e3\nqemu_user_gid: 4.2427e+4\nlibvirt_sasl_mech_list: [1.0e+3, 4.2e4]\nnova_libvirt_cleanup_remove_volumes: "{{ 1e3 | int > 999 }}"\n',
    "c-ternary": "libvirt_tls: \"{{ 'no' | ternary('yes', 'no') }}\"\n"
    "nova_libvirt_cleanup_running_vms_fatal: \"{{ ' yes ' | bool }}\"\n"
    "enable_nova_libvirt_container: \"{{ 'no' | bool | ternary('yes', 'no') }}\"\n",
    "c-unsafe": 'migration_hostname: !unsafe "{{ not_a_template }}"\nlibvirt_sasl_mech_list: [!unsafe "{% raw %}"]\n',
    "c-anchor": "base: &base\n  qemu_user_gid: 42999\n  libvirt_tls: true\n<<: *base\nlibvirt_tls: false\n",
    "c-hostvars": "sasl_user: operator\n",
    "c-tls": "libvirt_tls: yes\nmigration_interface: eth1\n",
    "c-podman": "kolla_container_engine: podman\n",
    "c-ovn": "neutron_plugin_agent: ovn\nopenvswitch_ovs_vsctl_wrapper_enabled: \"{{ neutron_plugin_agent == 'ovn' }}\"\n",
    "c-native": 'nova_libvirt_port: "{{ 16509 }}"\nqemu_user_gid: "{{ \'42427\' }}"\n'
    "libvirt_sasl_mech_list: \"{{ ['SCRAM-SHA-256'] + ['GSSAPI'] }}\"\nmigration_hostname: \"[ 'x' ]\"\n",
    "c-anshost": 'migration_hostname: "{{ ansible_host }}"\n',
    "c-magic.example.org": "migration_hostname: \"{{ inventory_hostname_short }}-{{ group_names | join(',') }}\"\n"
    "nova_libvirt_port: \"{{ 16000 + groups['compute'] | length }}\"\n",
    "c-tags": 'qemu_user_gid: !!str 42427\nnova_libvirt_port: !!int "16509"\nlibvirt_tls: !!bool "true"\n',
    "c-jinja": "libvirt_sasl_mech_list: \"{% if true %}['A']{% endif %}\"\n"
    'nova_libvirt_port: "{{ 165 }}{{ 10 }}"\n'
    'migration_hostname: "  {{ inventory_hostname }}  "\n',
    "c-lookup": "migration_hostname: \"{{ lookup('file', inventory_dir + '/name.txt') }}\"\n"
    "libvirt_sasl_mech_list: \"{{ lookup('items', ['A', 'B'], wantlist=True) }}\"\n",
    "c-recursive": 'migration_interface: "{{ migration_interface }}"\n',
    "c-undefined": 'migration_interface: "{{ no_such_variable }}"\n',
}


def tree_edge(folder: Path, kolla: KollaAnsible) -> Built:
    config = config_dir(
        folder,
        kolla,
        """
        libvirt_sasl_authname: "{{ hostvars[inventory_hostname]['sasl_user'] | default('nova') }}"
        libvirt_enable_sasl: "{{ hostvars[groups['compute'] | first].sasl_flag | default(true) }}"
        """,
    )
    inventory = write(folder / "inventory" / "hosts", EDGE_INVENTORY)
    beside = inventory.parent
    for name, text in EDGE_HOST_VARS.items():
        write(beside / "host_vars" / f"{name}.yml", text)
    write(beside / "host_vars" / "c-hvdir" / "10.yml", "migration_hostname: hv-10\nqemu_user_gid: 42010\n")
    write(beside / "host_vars" / "c-hvdir" / "20.json", '{"migration_hostname": "hv-20"}\n')
    write(beside / "host_vars" / "c-hvdir" / "sub" / "30.yaml", "qemu_user_gid: 42030\n")
    write(beside / "name.txt", "from-a-lookup\n")
    write(beside / "group_vars" / "all.yml", "node_custom_config: /srv/loses-to-kolla\nqemu_user_gid: 42001\n")
    write(beside / "group_vars" / "grp-custom.yml", 'node_custom_config: "/srv/custom/{{ inventory_hostname }}"\n')
    write(beside / "group_vars" / "grp-dir" / "a.yml", "nova_compute_virt_type: qemu\nlibvirt_tls: true\n")
    write(beside / "group_vars" / "grp-dir" / "z" / "b.yml", "libvirt_tls: false\n")
    host_facts = {h: facts(h, edge_n(h), vip6="fd00::250" if h == "c-v6vip" else None) for h in EDGE_HOSTS}
    return kt.Tree(kolla, config, [inventory]), host_facts, ()


TREES: dict[str, Callable[[Path, KollaAnsible], Built]] = {
    "sample-multinode": tree_sample_multinode,
    "sample-all-in-one": tree_sample_all_in_one,
    "config": tree_config,
    "globals-d": tree_globals_d,
    "inventory-dir": tree_inventory_dir,
    "two-inventories": tree_two_inventories,
    "edge": tree_edge,
}

# -- the cases ---------------------------------------------------------------------------------------------------


class Case:
    def __init__(
        self,
        id: str,
        tree: str,
        hosts: tuple[str, ...],
        expect: dict | None = None,
        *,
        names: tuple[str, ...] | None = None,
        skip_names: tuple[str, ...] = (),
        group_hosts: list[str] | None = None,
        expect_bash: dict | None = None,
        errors: tuple[str, ...] = (),
        xfail: dict[str, str] | None = None,
    ):
        self.id, self.tree, self.hosts = id, tree, hosts
        self.expect = expect or {}  # name -> value in the truth, for every host of the case
        self.expect_bash = expect_bash or {}  # the same, where the bash kolla-ansible (<= 18) differs
        self.names, self.skip_names = names, skip_names  # the variables compared (default: all but skip_names)
        self.group_hosts = group_hosts  # the group's hosts (--limit applied), when the case is about them
        self.errors = errors  # variables that fail to template in the truth, on purpose
        self.xfail = xfail or {}  # release -> the difference found (a suite bug, reported)


# In the config tree, node_custom_config depends on which CONFIG_DIR wins, and nova_compute_virt_type (and what
# follows from it) is an inline !vault in globals.yml: each has its own case.
CONFIG_SKIP = ("node_custom_config", "nova_compute_virt_type", "enable_nova_libvirt_container")
# In the globals-d tree, the .yaml/.json files and the order of globals.d and passwords.yml depend on the CLI.
GLOBALS_D_ORDERED = (
    "libvirt_sasl_authname",
    "migration_interface",
    "migration_interface_address",
    "kolla_container_engine",
)

# Differences found so far, all fixed in the suite (each case below shows one): top-level facts (ansible_hostname,
# INJECT_FACTS_AS_VARS), inline !vault values (ansible-core's vault context), the bash CLI's -e order (<= 18.x).
# A new difference is a strict xfail on the releases it shows on (Case.xfail), naming both values.

CASES = [
    # Kolla's own samples
    Case(
        "kolla-sample-multinode",
        "sample-multinode",
        ("compute01",),
        {"migration_hostname": "compute01", "migration_interface_address": "10.0.0.11", "nova_libvirt_port": "16509"},
        group_hosts=["compute01"],
    ),
    Case(
        "kolla-sample-all-in-one",
        "sample-all-in-one",
        ("localhost",),
        {"migration_hostname": "aio", "migration_interface_address": "10.0.0.5"},
        group_hosts=["localhost"],
    ),
    # vault
    Case(
        "vault-encrypted-passwords-yml",
        "config",
        ("compute03",),
        {"libvirt_sasl_password": SASL_PASSWORD},
        skip_names=CONFIG_SKIP,
    ),
    Case(
        "vault-inline-string-in-host-vars",
        "config",
        ("compute01",),
        {"migration_hostname": "vault-inline-host"},
        skip_names=CONFIG_SKIP,
    ),
    Case(
        "vault-encrypted-host-vars-file",
        "config",
        ("compute02",),
        {"migration_hostname": "vault-file-host"},
        skip_names=CONFIG_SKIP,
    ),
    Case(
        "vault-inline-string-in-globals-yml",
        "config",
        ("compute01", "compute03"),
        {"nova_compute_virt_type": "qemu"},
        names=("nova_compute_virt_type", "enable_nova_libvirt_container"),
    ),
    # extra vars
    Case(
        "extra-vars-key-value-is-a-string",
        "config",
        ("compute03",),
        {"libvirt_tls_manage_certs": "no"},
        skip_names=CONFIG_SKIP,
    ),
    Case(
        "extra-vars-json-is-typed",
        "config",
        ("compute03",),
        {"nova_libvirt_cleanup_remove_volumes": True},
        skip_names=CONFIG_SKIP,
    ),
    Case(
        "extra-vars-file-templates-host-vars",
        "config",
        ("compute01", "compute03"),
        names=("nova_libvirt_cleanup_running_vms_fatal",),
    ),
    Case("extra-vars-beat-host-vars", "config", ("compute02",), {"qemu_user_gid": 42600}, skip_names=CONFIG_SKIP),
    Case(
        "extra-vars-config-dir-vs-kolla-config-dir",
        "config",
        ("compute01", "compute02", "compute03"),
        names=("node_custom_config",),
    ),
    # globals.d
    Case(
        "globals-d-yml-yaml-json-in-name-order",
        "globals-d",
        ("compute01",),
        {"libvirt_sasl_authname": "from-yaml", "migration_interface": "br-ex", "kolla_container_engine": "podman"},
        names=GLOBALS_D_ORDERED,
        expect_bash={
            "libvirt_sasl_authname": "from-yml",
            "migration_interface": "eth1",
            "kolla_container_engine": "docker",
        },
    ),
    Case(
        "globals-d-vs-passwords-yml",
        "globals-d",
        ("compute01",),
        {"libvirt_sasl_password": "sasl-from-globals-d"},
        names=("libvirt_sasl_password",),
        expect_bash={"libvirt_sasl_password": "sasl-from-passwords"},
    ),
    Case(
        "globals-d-skips-other-files-and-node-custom-config-set",
        "globals-d",
        ("compute01",),
        {"nova_compute_virt_type": "kvm"},
        skip_names=GLOBALS_D_ORDERED + ("libvirt_sasl_password",),
    ),
    # inventory folders and several inventories
    Case(
        "inventory-dir-ini-file-and-host-vars-folder",
        "inventory-dir",
        ("ini01",),
        {"migration_hostname": "from-b-c", "libvirt_sasl_authname": "from-a", "nova_compute_virt_type": "qemu"},
    ),
    Case(
        "inventory-dir-group-vars-folder-nesting",
        "inventory-dir",
        ("ini02",),
        {"qemu_user_gid": 42502, "kolla_container_engine": "docker"},
    ),
    Case(
        "inventory-dir-yaml-file-typed-vars",
        "inventory-dir",
        ("yaml01",),
        {"qemu_user_gid": 42501, "libvirt_tls": "yes", "nova_libvirt_port": "16514", "migration_interface": "br-ex"},
        group_hosts=["ini01", "ini02", "yaml01", "yaml02", "yaml03"],
    ),
    Case(
        "two-inventories-later-wins",
        "two-inventories",
        ("compute02",),
        {"nova_compute_virt_type": "kvm", "libvirt_sasl_authname": "from-b"},
    ),
    Case("two-inventories-group-vars-beside-each", "two-inventories", ("compute01",), {"migration_interface": "eth1"}),
    Case(
        "two-inventories-host-vars-beside-second", "two-inventories", ("compute03",), {"migration_interface": "br-ex"}
    ),
    Case("yaml-inventory-host-colon-port", "inventory-dir", ("yaml02",), {"migration_hostname": "yaml02-2233"}),
    Case(
        "yaml-inventory-children-group-vars",
        "inventory-dir",
        ("yaml03",),
        {"libvirt_tls_manage_certs": False, "nova_libvirt_cleanup_running_vms_fatal": "no"},
    ),
    Case("limit", "two-inventories", (), group_hosts=["compute01", "compute02", "compute03"]),
    # the edge tree: INI forms, group precedence, facts, types
    Case(
        "inventory-all-vars-vs-kolla-group-vars-all",
        "edge",
        ("c-plain",),
        {"migration_interface": "eth0", "nova_libvirt_cleanup_remove_volumes": "yes", "qemu_user_gid": 42001},
    ),
    Case("inventory-group-vars-all-file-vs-kolla", "edge", ("c-plain",), names=("node_custom_config", "qemu_user_gid")),
    # Ansible's group precedence: the inventory file's [group:vars] come before any group_vars/ folder, Kolla's too.
    Case(
        "inventory-file-group-vars-lose-to-kolla-group-vars-all",
        "edge",
        ("c-migvars",),
        {"migration_interface": "eth0"},
    ),
    Case("node-custom-config-in-group-vars", "edge", ("c-custom",), {"node_custom_config": "/srv/custom/c-custom"}),
    Case("ini-host-colon-port", "edge", ("c-port",), {"migration_hostname": "c-port-2222", "nova_libvirt_port": 16509}),
    Case(
        "ini-ansible-port-var",
        "edge",
        ("c-portvar",),
        {"migration_hostname": "c-portvar-2201", "nova_libvirt_port": 2202},
    ),
    Case(
        "ini-inline-host-vars-literals",
        "edge",
        ("c-inline",),
        {
            "qemu_user_gid": 42500,
            "nova_libvirt_port": 16600,
            "libvirt_tls": False,
            "libvirt_sasl_mech_list": ["PLAIN"],
        },
    ),
    Case(
        "ini-group-vars-literals-and-strings",
        "edge",
        ("c-gvars",),
        # qemu_user_gid=42428 loses to group_vars/all.yml beside the inventory (a group_vars folder)
        {
            "libvirt_tls": "no",
            "nova_libvirt_port": 16600,
            "qemu_user_gid": 42001,
            "libvirt_sasl_mech_list": ["SCRAM-SHA-256"],
        },
    ),
    Case("host-range-and-children-in-group", "edge", ("c-range01", "c-range02", "c-range03"), group_hosts=EDGE_HOSTS),
    Case("children-group-deeper-wins", "edge", ("c-child",), {"libvirt_tls_manage_certs": "no"}),
    Case("ansible-group-priority", "edge", ("c-prio",), {"libvirt_tls_manage_certs": "no"}),
    Case(
        "group-vars-folder-and-sub-folder",
        "edge",
        ("c-gvdir",),
        {"nova_compute_virt_type": "qemu", "libvirt_tls": False},
    ),
    Case(
        "host-vars-folder-and-sub-folder", "edge", ("c-hvdir",), {"migration_hostname": "hv-20", "qemu_user_gid": 42030}
    ),
    Case("fqdn-in-host-vars", "edge", ("c-fqdn",), {"migration_hostname": "c-fqdn.example.net"}),
    Case(
        "top-level-facts",
        "edge",
        ("c-toplevel",),
        {"migration_hostname": "c-toplevel", "migration_interface": "eth0"},
    ),
    Case(
        "ansible-facts-default-route-and-domain",
        "edge",
        ("c-defroute",),
        {"migration_hostname": "c-defroute.example.net", "migration_interface": "eth0"},
    ),
    Case(
        "interface-name-with-dash", "edge", ("c-dash",), {"migration_interface_address": f"172.16.0.{edge_n('c-dash')}"}
    ),
    Case(
        "ipv6-migration-address-family", "edge", ("c-v6",), {"migration_interface_address": f"fd00::{edge_n('c-v6'):x}"}
    ),
    Case(
        "ipv6-api-address-family-no-haproxy",
        "edge",
        ("c-v6api",),
        {"migration_interface_address": f"fd00::{edge_n('c-v6api'):x}"},
    ),
    Case(
        "ipv6-vip-on-interface-skipped",
        "edge",
        ("c-v6vip",),
        {"migration_interface_address": f"fd00::{edge_n('c-v6vip'):x}"},
    ),
    Case(
        "quoted-numbers-and-booleans",
        "edge",
        ("c-quoted",),
        {"qemu_user_gid": "42427", "nova_libvirt_port": "16509", "libvirt_tls": "false"},
    ),
    Case(
        "1e3-and-floats",
        "edge",
        ("c-float",),
        {
            "nova_libvirt_port": "1e3",
            "qemu_user_gid": 42427.0,
            "libvirt_sasl_mech_list": [1000.0, "4.2e4"],
            "nova_libvirt_cleanup_remove_volumes": True,
        },
    ),
    Case(
        "no-ternary-and-spaced-yes-bool",
        "edge",
        ("c-ternary",),
        {"libvirt_tls": "yes", "nova_libvirt_cleanup_running_vms_fatal": False, "enable_nova_libvirt_container": "no"},
    ),
    Case(
        "unsafe-strings",
        "edge",
        ("c-unsafe",),
        {"migration_hostname": "{{ not_a_template }}", "libvirt_sasl_mech_list": ["{% raw %}"]},
    ),
    Case("yaml-merge-key", "edge", ("c-anchor",), {"qemu_user_gid": 42999, "libvirt_tls": False}),
    Case(
        "hostvars-in-globals-yml",
        "edge",
        ("c-hostvars", "c-plain"),
        {"libvirt_enable_sasl": True},
        names=("libvirt_sasl_authname", "libvirt_enable_sasl"),
    ),
    Case(
        "tls-switches-dependent-defaults",
        "edge",
        ("c-tls",),
        {"nova_libvirt_port": "16514", "libvirt_sasl_mech_list": ["SCRAM-SHA-256"]},
    ),
    Case("podman", "edge", ("c-podman",), {"kolla_container_engine": "podman"}),
    Case("ovn", "edge", ("c-ovn",), {"neutron_plugin_agent": "ovn", "openvswitch_ovs_vsctl_wrapper_enabled": True}),
    Case(
        "native-types-from-templates",
        "edge",
        ("c-native",),
        {"nova_libvirt_port": 16509, "qemu_user_gid": "42427", "libvirt_sasl_mech_list": ["SCRAM-SHA-256", "GSSAPI"]},
    ),
    Case("ansible-host", "edge", ("c-anshost",), {"migration_hostname": "10.9.9.9"}),
    Case(
        "magic-vars-short-name-group-names-groups",
        "edge",
        ("c-magic.example.org",),
        {"migration_hostname": "c-magic-compute", "nova_libvirt_port": 16000 + len(EDGE_HOSTS)},
    ),
    Case(
        "yaml-explicit-tags",
        "edge",
        ("c-tags",),
        {"qemu_user_gid": "42427", "nova_libvirt_port": 16509, "libvirt_tls": True},
    ),
    Case("jinja-blocks-concatenation-whitespace", "edge", ("c-jinja",)),
    Case(
        "lookups", "edge", ("c-lookup",), {"migration_hostname": "from-a-lookup", "libvirt_sasl_mech_list": ["A", "B"]}
    ),
    Case(
        "recursive-template-fails-on-both",
        "edge",
        ("c-recursive",),
        errors=("migration_interface", "migration_interface_address"),
    ),
    Case(
        "undefined-variable-fails-on-both",
        "edge",
        ("c-undefined",),
        errors=("migration_interface", "migration_interface_address"),
    ),
]


def _params():
    for version in RELEASES:
        for case in CASES:
            reason = case.xfail.get(version) or case.xfail.get("*")
            marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)] if reason else []
            yield pytest.param(version, case, id=f"{version}-{case.id}", marks=marks)


# -- running the trees, once per run -----------------------------------------------------------------------------


def _compute(root: Path, tree_name: str, version: str, blocking: bool) -> None:
    """Build one tree and resolve it both ways into <root>/<tree>-<version>.json, unless done or (not blocking)
    another process is at it."""
    folder, done = root / f"{tree_name}-{version}", root / f"{tree_name}-{version}.json"
    with open(root / f"{tree_name}-{version}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            return
        if done.is_file():
            return
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        kolla = release.fetch(version)
        start = time.monotonic()
        tree, host_facts, extra = TREES[tree_name](folder, kolla)
        reads = kt.reads()
        reads["nova-cell"] += list(extra)
        built = time.monotonic()
        with ThreadPoolExecutor(2) as pool:  # the two sides in parallel: separate processes
            truth = pool.submit(kt.ansible_truth, tree, host_facts, reads)
            suite = pool.submit(kt.suite_values, tree, host_facts, reads)
            result = {"truth": kt.encode(truth.result()), "suite": kt.encode(suite.result())}
        result |= {"bash": bash_cli(kolla), "build_s": built - start, "resolve_s": time.monotonic() - built}
        done.write_text(json.dumps(result))


@pytest.fixture(scope="module")
def resolved(tmp_path_factory, request):
    """get(tree, release) -> {"truth", "suite", "bash", ...}. Each tree is computed once per run: a worker that
    needs one first computes every tree this run's tests need that no other worker is at (xdist workers share the
    folder, one lock per tree), then waits for the one it needs."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of one run
    root = root / "ansible-parity"
    root.mkdir(exist_ok=True)
    needed = []
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if isinstance(params.get("case"), Case) and (params["case"].tree, params["version"]) not in needed:
            needed.append((params["case"].tree, params["version"]))
    memo: dict[tuple[str, str], dict] = {}

    def get(tree_name: str, version: str) -> dict:
        key = (tree_name, version)
        if key not in memo:
            for other in [key, *needed]:
                try:
                    _compute(root, *other, blocking=False)
                except Exception:
                    if other == key:
                        raise
                    # another tree's failure is for its own tests to report
            _compute(root, tree_name, version, blocking=True)
            memo[key] = json.loads((root / f"{tree_name}-{version}.json").read_text())
        return memo[key]

    return get


def _only(result: dict, hosts: tuple[str, ...], names: set[str] | None, skip: tuple[str, ...]) -> dict:
    picked: dict = {}
    for host in hosts:
        picked[host] = {
            role: {n: v for n, v in values.items() if (names is None or n in names) and n not in skip}
            for role, values in result.get(host, {}).items()
        }
    return picked


@pytest.mark.parametrize("version, case", _params())
def test_suite_resolves_as_ansible_playbook(resolved, version: str, case: Case):
    result = resolved(case.tree, version)
    truth, suite = kt.decode(result["truth"]), kt.decode(result["suite"])
    names = set(case.names) if case.names else None
    mine_truth = _only(truth, case.hosts, names, case.skip_names)
    mine_suite = _only(suite, case.hosts, names, case.skip_names)
    if case.group_hosts is not None:
        mine_truth["hosts"], mine_suite["hosts"] = truth["hosts"], suite["hosts"]
        if sorted(truth["hosts"]) != sorted(case.group_hosts):
            pytest.fail(f"ansible-playbook's {case.tree} hosts: {truth['hosts']}, the case expects {case.group_hosts}")

    # The truth is what the case is about (else both sides could agree on nothing at all). pytest.fail, not an
    # assertion: a case that stopped meaning anything is no expected difference (xfail takes AssertionError only).
    expect = case.expect | (case.expect_bash if result["bash"] else {})
    for host in case.hosts:
        values = {n: v for role_values in truth[host].values() for n, v in role_values.items()}
        wrong = {n: values.get(n) for n, v in expect.items() if not kt.same(values.get(n), v)}
        if wrong:
            pytest.fail(f"{host}: ansible-playbook gives {wrong}, the case expects {expect}")
        failed = sorted(n for n, v in values.items() if isinstance(v, kt.Error))
        if failed != sorted(n for n in case.errors if n in values):
            pytest.fail(f"{host}: ansible-playbook fails on {failed}: " + "; ".join(repr(values[n]) for n in failed))

    differences = kt.differences(mine_truth, mine_suite)
    assert not differences, "the suite resolves differently from ansible-playbook:\n" + "\n".join(differences)
