"""Broken profiles are refused with one line naming the file, the key and the problem."""

import pytest

from conformance.errors import ProfileError
from conformance.profile import load_profile


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "kolla").mkdir()
    (tmp_path / "kolla" / "globals.yml").write_text("network_interface: eth0\n")
    (tmp_path / "kolla" / "passwords.yml").write_text("libvirt_sasl_password: pw\n")
    (tmp_path / "kolla" / "multinode").write_text("[compute]\nc1 ansible_host=10.0.0.1 ansible_user=ops\nc2\n")
    (tmp_path / "id").write_text("key")
    return tmp_path


def write(tree, text):
    path = tree / "profile.yml"
    path.write_text(text)
    return path


def test_good_profile_resolves_hosts_from_inventory(tree):
    profile = load_profile(
        write(
            tree,
            "kolla: {config_dir: kolla, inventory: kolla/multinode}\n"
            "ssh: {user: root, identity_file: id, port: 2222}\nphases: [predeploy]\n",
        )
    )
    c1, c2 = profile.hosts
    assert (c1.name, c1.address, c1.ssh.user, c1.ssh.port) == ("c1", "10.0.0.1", "ops", 2222)
    assert (c2.address, c2.ssh.user) == ("c2", "root")
    assert c1.ssh.identity_file == str(tree / "id") and c1.ssh.strict_host_key_checking
    assert profile.phases == ("predeploy",)


def test_explicit_hosts_and_overrides(tree):
    profile = load_profile(
        write(
            tree,
            "kolla: {config_dir: kolla}\nhosts: [c9, {name: c8, address: 10.1.1.8}]\n"
            "overrides: {c8: {nova_compute_virt_type: qemu}}\n",
        )
    )
    assert [h.address for h in profile.hosts] == ["c9", "10.1.1.8"]
    assert profile.variables(profile.hosts[1])["nova_compute_virt_type"] == "qemu"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("kolla: [1\n", "profile.yml: line 2: invalid YAML"),
        ("- a\n", "profile.yml: a profile must be a YAML mapping"),
        ("kolla: {config_dir: kolla}\nhostz: [a]\n", "profile.yml: hostz: unknown key"),
        (
            "kolla: {config_dir: kolla, inventory: kolla/multinode}\nssh: {port: x}\n",
            "profile.yml: ssh.port: expected an integer",
        ),
        (
            "kolla: {config_dir: kolla, inventory: kolla/multinode}\nssh: {identity_file: nope}\n",
            "profile.yml: ssh.identity_file: file not found",
        ),
        ("kolla: {config_dir: nowhere}\nhosts: [a]\n", "profile.yml: kolla.config_dir: folder not found"),
        (
            "kolla: {config_dir: kolla, inventory: kolla/multinode, group: control}\n",
            "multinode: control: inventory group has no hosts",
        ),
        ("kolla: {config_dir: kolla}\nhosts: []\n", "profile.yml: hosts: the host list is empty"),
        (
            "kolla: {config_dir: kolla}\n",
            "profile.yml: kolla.inventory: kolla-ansible's default /",  # no hosts, no -i: kolla-ansible's own
        ),
        ("kolla: {config_dir: kolla}\nhosts: [a]\nphases: [someday]\n", "profile.yml: phases: unknown phase 'someday'"),
        ("kolla: {config_dir: kolla}\nhosts: [a]\noverrides: {b: {x: 1}}\n", "profile.yml: overrides.b: not a host"),
        ("kolla: {config_dir: kolla}\nhosts: [{address: x}]\n", "profile.yml: hosts[0]: expected a host name"),
        (
            "kolla: {config_dir: kolla}\nhosts: [a]\noverrides: {all: {libvirt_tls: perhaps}}\n",
            "profile.yml overrides.all: libvirt_tls: expected a boolean",
        ),
    ],
)
def test_broken_profiles(tree, text, expected):
    with pytest.raises(ProfileError) as err:
        load_profile(write(tree, text))
    message = str(err.value)
    assert expected in message and "\n" not in message


def test_missing_profile(tmp_path):
    with pytest.raises(ProfileError, match="profile not found"):
        load_profile(tmp_path / "nope.yml")
