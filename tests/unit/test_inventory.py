"""Kolla's own inventory files parse as Ansible parses them."""

from pathlib import Path

import pytest

from conformance.errors import ProfileError
from conformance.kolla.inventory import expand_host_range, load_inventory

DATA = Path(__file__).parent / "data"


def test_kolla_multinode_compute_group():
    inv = load_inventory(DATA / "multinode")
    assert inv.hosts_of("compute") == ["compute01"]
    # collectd is declared as [collectd:children] compute in Kolla's inventory
    assert inv.hosts_of("collectd") == ["compute01"]
    assert "compute01" in inv.hosts_of("baremetal")
    assert "localhost" in inv.hosts_of("deployment")
    assert inv.hosts["localhost"] == {"ansible_connection": "local"}


def test_kolla_all_in_one_is_localhost_everywhere():
    inv = load_inventory(DATA / "all-in-one")
    assert inv.hosts_of("compute") == ["localhost"]
    assert inv.hosts_of("control") == ["localhost"]


def test_group_order_puts_children_after_parents(tmp_path):
    path = tmp_path / "inv"
    path.write_text("[compute]\nc1\n[hypervisors:children]\ncompute\n[hypervisors:vars]\nx=1\n")
    inv = load_inventory(path)
    assert inv.groups_of("c1") == ["all", "hypervisors", "compute"]
    assert inv.group_vars["hypervisors"] == {"x": "1"}  # [g:vars] values stay strings, as in Ansible


def test_inline_host_vars_are_literals_and_ranges_expand(tmp_path):
    path = tmp_path / "inv"
    path.write_text("[compute]\ncompute[01:03] ansible_port=2222 ansible_host=10.0.0.5 flag=True\n")
    inv = load_inventory(path)
    assert inv.hosts_of("compute") == ["compute01", "compute02", "compute03"]
    assert inv.hosts["compute02"] == {"ansible_port": 2222, "ansible_host": "10.0.0.5", "flag": True}


def test_ranges_letters_and_stride():
    assert expand_host_range("db-[a:c]", "f", "l") == ["db-a", "db-b", "db-c"]
    assert expand_host_range("n[1:7:3]", "f", "l") == ["n1", "n4", "n7"]


def test_yaml_inventory(tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text("""
all:
  vars: {kolla_container_engine: podman}
  children:
    compute:
      hosts:
        compute01: {ansible_host: 10.0.0.11}
        compute02:
      vars: {libvirt_tls: true}
""")
    inv = load_inventory(path)
    assert inv.hosts_of("compute") == ["compute01", "compute02"]
    assert inv.hosts["compute01"] == {"ansible_host": "10.0.0.11"}
    assert inv.group_vars["compute"] == {"libvirt_tls": True}
    assert inv.group_vars["all"] == {"kolla_container_engine": "podman"}


def test_group_vars_and_host_vars_folders(tmp_path):
    (tmp_path / "inv").write_text("[compute]\nc1\n")
    (tmp_path / "group_vars" / "compute").mkdir(parents=True)
    (tmp_path / "group_vars" / "compute" / "libvirt.yml").write_text("libvirt_tls: true\n")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "c1.yml").write_text("migration_interface: eth1\n")
    inv = load_inventory(tmp_path / "inv")
    assert inv.dir_group_vars["compute"] == {"libvirt_tls": True}
    assert inv.dir_host_vars["c1"] == {"migration_interface": "eth1"}


@pytest.mark.parametrize(
    "text, problem",
    [
        ("[compute:bogus]\nc1\n", "unknown section kind"),
        ("[compute:vars]\njustakey\n", "expected key=value"),
        ("[compute]\nc1 novalue\n", "expected key=value"),
        ("[compute]\nc[1:x]\n", "bad host range"),
    ],
)
def test_bad_ini_is_one_line_naming_file_and_line(tmp_path, text, problem):
    path = tmp_path / "inv"
    path.write_text(text)
    with pytest.raises(ProfileError) as err:
        load_inventory(path)
    assert str(path) in str(err.value) and "line " in str(err.value) and problem in str(err.value)
    assert "\n" not in str(err.value)
