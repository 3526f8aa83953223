"""The report an operator reads by host (#16), from a real lab run, in headless Chromium: a view per host beside the
one per area, the checked host as the only host label, n/a, not judged and waived shown as themselves, no internal
paths on the pages."""

import datetime
import json
import os
import shutil
import socket
import subprocess

import pytest
import yaml

from conformance.command import shell
from conformance.model import Status
from conformance.report import browser, html
from tests.reports.test_html_report import REPO, _id
from tests.suite_runner import run_suite

pytestmark = pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium")
REASON = "VT comes with the new hardware, CHG-7"
INTERNAL = ("conformance/suite", "kolla_conformance", "test_check[", ".py::")


def _on(info, host, command) -> None:
    subprocess.run(["ssh", "-F", str(info.ssh_config), host, str(command)], capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def by_host(lab_factory, tmp_path_factory):
    """The minimal lab run with compute02's missing VT waived and nova_libvirt stopped on compute01 (its readers
    are not judged), then restarted for the other tests of the lab."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    info = lab_factory(str(REPO / "fixtures/lab/scenarios/minimal.yml"))
    out = tmp_path_factory.mktemp("by-host")
    until = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    waiver = {"check": "virt.cpu-vt-flags", "hosts": "compute02", "reason": REASON, "expires": until}
    (out / "waivers.yml").write_text(yaml.safe_dump({"waivers": [{**waiver, "approved_by": "jane"}]}))
    _on(info, "compute01", shell("docker stop -t 1 %s", "nova_libvirt"))
    try:
        result = run_suite(
            info.profile_path, "--alluredir", str(out / "allure"), "--waivers", str(out / "waivers.yml"), "-n", "2"
        )
    finally:
        _on(info, "compute01", shell("docker start %s", "nova_libvirt"))
    index = html.generate([out / "allure"], out / "html")
    return result, index


def _finding(result, host, *, status, judged=True, waived=False):
    found = [
        f
        for (h, _), f in sorted(result.findings.items())
        if h == host and f.status is status and f.judged == judged and f.waived == waived
    ]
    assert found, f"no {status} (judged={judged}, waived={waived}) finding on {host}"
    return found[0]


def test_summary_links_a_view_by_area_and_one_by_host(by_host):
    _, index = by_host
    summary = browser.read(index, expect="by host")
    assert "by area" in summary and "by host" in summary
    assert "compute01" in summary and "compute02" in summary  # a count per host
    for view in ("area", "hosts"):
        assert html.view_index(index, view).is_file()
        assert f'href="{view}/index.html"' in index.read_text()  # the view's file, not a folder listing


def test_the_view_by_host_lists_each_host_with_its_areas(by_host):
    _, index = by_host
    view = html.view_index(index, "hosts")
    overview = browser.read(view, expect="compute02")
    assert "compute01" in overview and "compute02" in overview
    tree = overview.split("Sort by:")[-1]
    assert tree.index("compute01") < tree.index("Hardware virtualisation")  # hosts first, areas inside them
    categories = browser.read(view, "categories", expect="Waived findings")
    for name in ("Waived findings", "Not judged", "Not applicable (n/a)"):
        assert name in categories


def _page(view, fragment: str, expect: str) -> tuple[str, str]:
    """(DOM, visible text) of a result page; retried with a longer budget on a busy machine, as browser.read."""
    dom = ""
    for attempt in range(3):
        dom = browser.dump_dom(view, fragment, budget_ms=15000 * (attempt + 1))
        if expect in browser.text(dom):
            break
    return dom, browser.text(dom)


@pytest.mark.parametrize("kind", ["waived", "not judged", "n/a"])
def test_each_non_pass_is_shown_as_itself_with_one_host_label_and_no_internal_path(by_host, kind):
    result, index = by_host
    if kind == "waived":
        finding = _finding(result, "compute02", status=Status.FAIL, waived=True)
    elif kind == "not judged":
        finding = _finding(result, "compute01", status=Status.NOT_APPLICABLE, judged=False)
    else:
        finding = _finding(result, "compute02", status=Status.NOT_APPLICABLE)
    view = html.view_index(index, "hosts")
    result_id = _id(index.parent, finding.host, finding.check_id)
    dom, page = _page(view, result_id, expect=finding.check_id)
    assert f"{finding.check_id} on {finding.host}: {kind}" in page  # the title says what it is
    assert f"{kind}: " in page and "Skipped: " not in page  # the reason, as itself
    assert 'data-testid="test-result-error"' not in dom  # not inside a box titled "Error"
    if kind == "waived":
        assert REASON in page
    assert f"{finding.host}:{finding.check_id}" in page  # where the module path was
    for path in INTERNAL:
        assert path not in page
    # the checked host is the only host label: the runner's name is none
    data = json.loads(browser.embedded_data(view)[f"data/test-results/{result_id}.json"])
    assert [label["value"] for label in data["labels"] if label["name"] == "host"] == [finding.host]
    assert f"host {finding.host}" in page and f"host {socket.gethostname()} " not in page
