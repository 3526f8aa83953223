"""The zero-config run: the shipped `standard` profile over the config dir and inventory kolla-ansible would take."""

import os
import subprocess
import sys

import pytest

from conformance import cli
from conformance.errors import ProfileError
from conformance.profile import SHIPPED, load_profile
from conformance.report import resolved


def deployment(folder, hosts=("c1", "c2")):
    """A Kolla config dir as `kolla-ansible` leaves it, its default inventory included."""
    (folder / "ansible" / "inventory").mkdir(parents=True)
    (folder / "globals.yml").write_text("network_interface: eth0\n")
    (folder / "passwords.yml").write_text("libvirt_sasl_password: pw\n")
    lines = "".join(f"{h} ansible_host=10.0.0.{i + 1}\n" for i, h in enumerate(hosts))
    (folder / "ansible" / "inventory" / "all-in-one").write_text("[compute]\n" + lines + "[control]\nctl\n")
    return folder


@pytest.fixture
def env_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KOLLA_CONFIG_PATH", str(deployment(tmp_path / "kolla")))
    return tmp_path / "kolla"


def test_standard_reads_kolla_config_path_and_its_default_inventory(env_config):
    profile = load_profile("standard")
    assert profile.path == SHIPPED / "standard.yml"
    assert profile.kolla.config_dir == env_config
    assert profile.kolla.inventories == [env_config / "ansible" / "inventory" / "all-in-one"]
    assert [(h.name, h.address) for h in profile.hosts] == [("c1", "10.0.0.1"), ("c2", "10.0.0.2")]
    assert profile.phases == ("predeploy", "postdeploy")


def test_configdir_and_inventory_options_win(env_config, tmp_path):
    other = deployment(tmp_path / "other", hosts=("c7",))
    profile = load_profile("standard", {"config_dir": str(other)})
    assert profile.kolla.config_dir == other and [h.name for h in profile.hosts] == ["c7"]
    (tmp_path / "multinode").write_text("[compute]\nc9 ansible_host=10.0.0.9\n")
    profile = load_profile("standard", {"inventory": ["multinode"]})
    assert profile.kolla.config_dir == env_config
    assert profile.kolla.inventories == [tmp_path / "multinode"] and [h.name for h in profile.hosts] == ["c9"]


def test_no_default_inventory_says_which_it_looked_for(env_config):
    (env_config / "ansible" / "inventory" / "all-in-one").unlink()
    with pytest.raises(ProfileError) as err:
        load_profile("standard")
    assert str(err.value) == (
        f"{SHIPPED / 'standard.yml'}: kolla.inventory: kolla-ansible's default "
        f"{env_config}/ansible/inventory/all-in-one not found (give -i/--inventory)"
    )


def test_no_config_dir_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("KOLLA_CONFIG_PATH", str(tmp_path / "empty"))
    with pytest.raises(ProfileError) as err:
        load_profile("standard")
    assert str(err.value) == (
        f"{SHIPPED / 'standard.yml'}: kolla.config_dir: no Kolla config dir: {tmp_path / 'empty'} has no "
        "globals.yml (give --configdir, or set KOLLA_CONFIG_PATH)"
    )


def test_the_first_lines_say_what_was_resolved(env_config):
    lines = resolved.lines(load_profile("standard", {"limit": "c1"}))
    assert lines[0] == f"profile: {SHIPPED / 'standard.yml'}"
    assert lines[1] == f"config dir: {env_config}"
    assert lines[2] == f"inventory: {env_config}/ansible/inventory/all-in-one (group compute)"
    assert lines[3] == "hosts: 1 (--limit c1): c1"
    assert lines[4].startswith("release: Kolla Ansible ")
    assert lines[5] == "phases: predeploy, postdeploy"


def test_run_without_profile_is_the_standard_profile(monkeypatch):
    seen = []
    monkeypatch.setattr("pytest.main", lambda args: seen.append(args) or 0)
    assert cli.main(["run", "--configdir", "/srv/kolla", "-i", "a", "-i", "b", "--limit", "c1", "-x"]) == 0
    assert seen[-1] == [
        "--conformance-profile",
        "standard",
        "--kolla-configdir=/srv/kolla",
        "--kolla-inventory=a",
        "--kolla-inventory=b",
        "--kolla-limit=c1",
        "-x",
    ]
    assert cli.main(["run", "--profile", "predeploy-gate"]) == 0
    assert seen[-1] == ["--conformance-profile", "predeploy-gate"]


def test_pytest_options_are_not_taken_for_ours(monkeypatch):
    """--co is pytest's --collect-only, not an abbreviation of --configdir; --lf is not --limit."""
    seen = []
    monkeypatch.setattr("pytest.main", lambda args: seen.append(args) or 0)
    assert cli.main(["run", "--co", "--lf", "-q"]) == 0
    assert seen[-1] == ["--conformance-profile", "standard", "--co", "--lf", "-q"]


def test_a_zero_config_run_says_first_what_it_resolved(env_config, tmp_path):
    """Through the real CLI and plugin (collection only: no host is contacted), quiet or not."""
    env = {**os.environ, "KOLLA_CONFIG_PATH": str(env_config)}
    command = [sys.executable, "-m", "conformance.cli", "run", "--co", "-q", "-p", "no:cacheprovider"]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:4] == [
        f"profile: {SHIPPED / 'standard.yml'}",
        f"config dir: {env_config}",
        f"inventory: {env_config}/ansible/inventory/all-in-one (group compute)",
        "hosts: 2: c1, c2",
    ]
    assert lines[4].startswith("release: Kolla Ansible ") and lines[5] == "phases: predeploy, postdeploy"
    assert "kolla_conformance.py::test_check[c1:virt.dev-kvm]" in lines
