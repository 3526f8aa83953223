"""Shipped profiles are package data, selected by name as well as by path."""

import pytest

from conformance.errors import ProfileError
from conformance.profile import SHIPPED, resolve_profile, shipped_profiles


def test_shipped_names_are_the_package_files():
    assert shipped_profiles() == ["bastion-sudo", "post-cleanup", "post-upgrade", "predeploy-gate", "standard"]
    assert SHIPPED.parent.name == "conformance"  # package data, not the checkout's top level


@pytest.mark.parametrize("name", ["predeploy-gate", "standard", "post-cleanup"])
def test_a_name_selects_the_shipped_file(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside the checkout, as an installed package runs
    assert resolve_profile(name) == SHIPPED / f"{name}.yml"


def test_a_file_of_that_name_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "standard").write_text("hosts: [a]\n")
    assert resolve_profile("standard").resolve() == (tmp_path / "standard").resolve()
    assert resolve_profile(tmp_path / "standard") == tmp_path / "standard"


def test_an_unknown_name_lists_the_shipped_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProfileError) as err:
        resolve_profile("post-upgrad")
    assert str(err.value) == (
        "post-upgrad: profile not found: no such file, nor a shipped profile "
        "(bastion-sudo, post-cleanup, post-upgrade, predeploy-gate, standard)"
    )


@pytest.mark.parametrize("value", ["nope.yml", "../standard", "x/predeploy-gate"])
def test_a_path_that_is_no_file_is_not_a_name(value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProfileError) as err:
        resolve_profile(value)
    assert str(err.value) == f"{value}: profile not found"


def test_the_checkout_keeps_profiles_at_the_top_level():
    top = SHIPPED.parents[1] / "profiles"
    assert sorted(p.name for p in top.glob("*.yml")) == sorted(f"{n}.yml" for n in shipped_profiles())
