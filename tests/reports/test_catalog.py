"""The README's check catalog is generated from the registries; this fails when it is stale. Pages as help."""

from pathlib import Path

from conformance import catalog, cli
from conformance.checks import all_checks
from conformance.errors import ExitCode
from conformance.remediation.registry import FixKind, all_fixes
from conformance.report import allure_report

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_catalog_is_current():
    assert catalog.is_current(README), "run `kolla-conformance catalog --write README.md`"


def test_catalog_lists_every_check_with_its_data():
    table = catalog.markdown()
    for check in all_checks():
        row = _row(table, check.id)
        assert check.severity.value in row and check.area_title in row
        assert all(p.value in row for p in check.phases)


def test_only_the_text_between_markers_changes():
    text = f"# Title\n\nintro\n\n{catalog.BEGIN}\nold table\n{catalog.END}\n\n## After\n"
    updated = catalog.updated(text)
    assert updated.startswith("# Title\n\nintro\n\n") and updated.endswith(f"{catalog.END}\n\n## After\n")
    assert "old table" not in updated and catalog.updated(updated) == updated
    assert catalog.updated("# Only a title\n").endswith(catalog.END + "\n")  # markers appended when missing


def test_fix_column_says_auto_manual_or_no_from_the_remediation_registry():
    fixes = all_fixes()
    table = catalog.markdown()
    for check in all_checks():
        row = _row(table, check.id)
        expected = str(fixes[check.id].kind) if check.id in fixes else "no"
        assert row.endswith(f"| {expected} |"), (check.id, row)
    assert "| yes |" not in table
    # The eight certificate, VT and rendered-config fixes only ever explain manual steps: never "auto".
    manual = {c for c, f in fixes.items() if f.kind is FixKind.MANUAL}
    assert manual == {
        "tls.chain",
        "tls.key-match",
        "tls.leaf-not-ca",
        "tls.san-covers-host",
        "tls.validity",
        "virt.cpu-vt-flags",
        "virt.dev-kvm",
        "virt.type-rendered",
    }
    assert all(_row(table, c).endswith("| manual |") for c in manual)


def test_each_check_id_links_to_its_page():
    table = catalog.markdown()
    for check in all_checks():
        link = f"[`{check.id}`]({catalog.PAGES_LINK}/{check.id}.md)"
        assert _row(table, check.id).startswith(f"| {link} |")
        assert (README.parent / catalog.PAGES_LINK / f"{check.id}.md").is_file(), check.id


def test_catalog_prints_a_checks_page(capsys):
    assert cli.main(["catalog", "sasl.mech-list", "virt.dev-kvm"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert out.startswith("# `sasl.mech-list`: ") and "\n# `virt.dev-kvm`: " in out and "## Fix: auto" in out


def test_catalog_refuses_an_unknown_check_id(capsys):
    assert cli.main(["catalog", "sasl.mech-lst"]) == ExitCode.PROFILE_ERROR
    assert "no check has the id sasl.mech-lst" in capsys.readouterr().err
    assert cli.main(["catalog", "--check", str(README), "sasl.mech-list"]) == ExitCode.PROFILE_ERROR


def test_catalog_check_of_a_missing_file_says_not_found(tmp_path, capsys):
    missing = tmp_path / "README.md"
    assert cli.main(["catalog", "--check", str(missing)]) == ExitCode.PROFILE_ERROR
    err = capsys.readouterr().err
    assert f"{missing}: not found" in err and "stale" not in err
    assert not missing.exists()


def test_allure_description_is_the_page(monkeypatch):
    described = []
    monkeypatch.setattr(allure_report.allure.dynamic, "description", described.append)
    check = next(c for c in all_checks() if c.id == "tls.chain")
    allure_report.describe_test(check, "compute01")
    assert described == [check.page] and check.page.startswith("# `tls.chain`: ")


def _row(table: str, check_id: str) -> str:
    return next(line for line in table.splitlines() if line.startswith(f"| [`{check_id}`]("))
