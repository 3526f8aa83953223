"""The README's check catalog is generated from the registry; this fails when it is stale."""
from pathlib import Path

from conformance import catalog
from conformance.checks import all_checks

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_catalog_is_current():
    assert catalog.is_current(README), "run `kolla-conformance catalog --write README.md`"


def test_catalog_lists_every_check_with_its_data():
    table = catalog.markdown()
    for check in all_checks():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{check.id}` |"))
        assert check.severity.value in row and check.area_title in row
        assert all(p.value in row for p in check.phases)


def test_only_the_text_between_markers_changes():
    text = f"# Title\n\nintro\n\n{catalog.BEGIN}\nold table\n{catalog.END}\n\n## After\n"
    updated = catalog.updated(text)
    assert updated.startswith("# Title\n\nintro\n\n") and updated.endswith(f"{catalog.END}\n\n## After\n")
    assert "old table" not in updated and catalog.updated(updated) == updated
    assert catalog.updated("# Only a title\n").endswith(catalog.END + "\n")   # markers appended when missing


def test_fix_column_follows_the_remediation_registry():
    fixable = catalog.fixes()
    for check in all_checks():
        row = next(line for line in catalog.markdown().splitlines() if line.startswith(f"| `{check.id}` |"))
        assert row.endswith("| yes |") == (check.id in fixable)
