"""The offline HTML report, read in headless Chromium: a lab run with faults, and a loopback run with a lost host."""

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from conformance.report import browser, html
from tests.suite_runner import run_suite

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium")


def _id(report_dir: Path, host: str, check: str) -> str:
    """The Allure test result id of (host, check), from the report's own index (names differ under xdist)."""
    by_id = json.loads((report_dir / "test-results.json").read_text())["byId"]
    words = lambda name: set(re.split(r"[\s\[\]:]", name))  # "x on h" or "test_check[h:x]"
    (found,) = [k for k, v in by_id.items() if {host, check} <= words(v["name"])]
    return found


@pytest.fixture(scope="module")
def lab_report(lab_factory, tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    info = lab_factory(str(REPO / "fixtures/lab/scenarios/minimal.yml"))
    out = tmp_path_factory.mktemp("lab-report")
    result = run_suite(info.profile_path, "--alluredir", str(out / "allure"), "-n", "2")
    index = html.generate([out / "allure"], out / "html")
    return info, result, index


def test_lab_run_with_faults_reads_in_chromium(lab_report):
    info, result, index = lab_report
    assert result.exit_code == 1, result.output
    assert "compute02" in result.output.split("kolla conformance")[-1]  # the summary's matrix, under xdist
    assert "FAIL   compute02 virt.cpu-vt-flags: no vmx/svm flag" in result.output
    area = html.view_index(index, "area")
    for page in (index, area, html.view_index(index, "hosts")):
        assert "googletagmanager" not in page.read_text()  # offline: no analytics call
    overview = browser.read(area, expect="compute02")
    for word in ("virt.cpu-vt-flags", "Hardware virtualisation", "compute01", "compute02"):
        assert word in overview
    assert "Product defects (failed checks)" in browser.read(area, "categories", expect="Product defects")
    page = browser.read(area, _id(index.parent, "compute02", "virt.cpu-vt-flags"), expect="compute02")
    assert "Failed" in page and "host 'compute02'" in page
    assert "no vmx/svm flag" in page and "/proc/cpuinfo flags" in page  # the failure's evidence
    environment = browser.embedded_data(area)
    assert any(b"23.0.0" in data for name, data in environment.items() if "env" in name.lower())


def test_history_is_kept_from_run_to_run(lab_report, tmp_path):
    _, _, index = lab_report
    allure_dir = tmp_path / "allure"
    shutil.copytree(index.parent.parent / "allure", allure_dir)
    first = html.generate([allure_dir], tmp_path / "html")
    html.generate([allure_dir], tmp_path / "html")
    assert len((tmp_path / "html" / html.HISTORY_FILE).read_text().splitlines()) == 2
    assert first.is_file()


def test_unreachable_host_is_its_own_category(loopback_host, tmp_path):
    result = run_suite(
        loopback_host.profile(tmp_path, unreachable=True),
        "-k",
        "virt.type-rendered",
        "--alluredir",
        str(tmp_path / "allure"),
    )
    assert result.exit_code == 6, result.output
    index = html.generate([tmp_path / "allure"], tmp_path / "html")
    area = html.view_index(index, "area")
    categories = browser.read(area, "categories", expect="Hosts unreachable")
    assert "Hosts unreachable" in categories and "Product defects" not in categories
    page = browser.read(area, _id(index.parent, "gone", "virt.type-rendered"), expect="Category")
    assert "Category: Hosts unreachable" in page and "ssh to 127.0.0.1 failed" in page
