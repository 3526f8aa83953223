"""`kolla-conformance report` finds Allure from an installed package, and says how to get it in words true there."""

import os

import pytest

from conformance.report import html


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """An installed package: no checkout around it, no Allure anywhere yet."""
    monkeypatch.setattr(html, "_CHECKOUT", tmp_path / "site-packages")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv(html.ALLURE_ENV, raising=False)
    return tmp_path


def executable(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


def test_not_found_names_a_working_install_step(nowhere):
    with pytest.raises(html.ReportError) as err:
        html.allure_command()
    prefix = nowhere / "data" / "kolla-conformance" / "allure"
    assert str(err.value) == (
        f"allure not found (Allure Report 3, on Node 20+): install it with "
        f"`npm install --prefix {prefix} allure@3.18.0`, or put `allure` on PATH, "
        f"or set KOLLA_CONFORMANCE_ALLURE to its path"
    )
    assert "site-packages" not in str(err.value) and "REQUIREMENTS" not in str(err.value)


def test_the_install_step_is_where_it_looks(nowhere):
    found = executable(html.user_tools_dir() / "node_modules" / ".bin" / "allure")
    assert html.allure_command() == [found]


def test_allure_on_path(nowhere):
    found = executable(nowhere / "bin" / "allure")
    assert html.allure_command() == [found]


def test_the_environment_wins_and_a_wrong_one_says_so(nowhere):
    executable(nowhere / "bin" / "allure")
    mine = executable(nowhere / "mine" / "allure")
    os.environ[html.ALLURE_ENV] = mine
    assert html.allure_command() == [mine]
    os.environ[html.ALLURE_ENV] = str(nowhere / "gone")
    with pytest.raises(html.ReportError, match=r"^\$KOLLA_CONFORMANCE_ALLURE: file not found: .*/gone$"):
        html.allure_command()


def test_a_checkout_tools_folder_only_in_a_checkout(nowhere):
    checkout = nowhere / "site-packages"
    local = executable(checkout / ".tools" / "allure" / "node_modules" / ".bin" / "allure")
    with pytest.raises(html.ReportError):  # site-packages/.tools is nothing an operator was told to make
        html.allure_command()
    (checkout / "pyproject.toml").write_text("")
    assert html.allure_command() == [local]
