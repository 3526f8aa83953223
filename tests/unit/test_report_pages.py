"""Result pages by host (conformance/report/pages.py) on results as allure-pytest writes them for the suite."""

from __future__ import annotations

import json

from conformance.report import pages

SUITE_PATH = "conformance/suite/kolla_conformance.py"


def written(status="passed", message=None, host="compute02", check_id="virt.cpu-vt-flags", labels=()):
    """A *-result.json as allure-pytest writes it for one check on one host (runner labels included)."""
    result = {
        "name": f"{check_id} on {host}",
        "status": status,
        "fullName": "conformance.suite.kolla_conformance#test_check",
        "titlePath": [SUITE_PATH],
        "start": 1,
        "stop": 2,
        "description": "# page",
        "parameters": [
            {"name": "host", "value": repr(host)},
            {"name": "conformance_target", "value": repr(f"{host}:{check_id}"), "mode": "hidden"},
        ],
        "labels": [
            {"name": "epic", "value": "Hardware virtualisation"},
            {"name": "story", "value": check_id},
            {"name": "host", "value": "runner-machine"},
            {"name": "thread", "value": "123-MainThread"},
            {"name": "suite", "value": "conformance.suite.kolla_conformance"},
            {"name": "package", "value": "conformance.suite.kolla_conformance"},
            *labels,
        ],
    }
    if message:
        result["statusDetails"] = {"message": message, "trace": f"('{SUITE_PATH}', 80, '{message}')"}
    return result


def label_values(result, name):
    return [label["value"] for label in result["labels"] if label["name"] == name]


def test_the_checked_host_is_the_only_host_label_and_suites_are_by_host():
    page = pages.reshape(written())
    assert label_values(page, "host") == ["compute02"]
    assert label_values(page, "thread") == [] and label_values(page, "package") == []
    assert label_values(page, "parentSuite") == ["compute02"]
    assert label_values(page, "suite") == ["Hardware virtualisation"]
    assert label_values(page, "subSuite") == ["virt.cpu-vt-flags"]


def test_no_internal_path_on_the_page():
    page = pages.reshape(written())
    assert page["fullName"] == "compute02:virt.cpu-vt-flags" and page["name"] == "virt.cpu-vt-flags on compute02"
    assert "conformance" not in json.dumps([page["fullName"], page["titlePath"], page["labels"]])


def test_n_a_not_judged_and_waived_are_shown_as_themselves_not_as_an_error():
    cases = {
        "n/a": "Skipped: not applicable: effective virt type is qemu",
        "not judged": "Skipped: not judged: cannot look inside nova_libvirt now: is not running",
        "waived": "Skipped: waived: udev rule ships next (approved by jane, until 2099-12-31) [FAIL ...]",
    }
    for word, message in cases.items():
        page = pages.reshape(written("skipped", message))
        reason = message.split(": ", 2)[2]
        assert page["name"] == f"virt.cpu-vt-flags on compute02: {word}"
        assert page["steps"][0]["name"] == f"{word}: {reason}"
        assert page["statusDetails"] == {}  # no "Error" box, no pytest code location
        assert page["description"].startswith(f"**{word}: {reason}**")
        assert label_values(page, pages.OUTCOME_LABEL) == [word] and word in label_values(page, "tag")


def test_a_waived_result_keeps_one_waived_tag():
    tagged = written("skipped", "Skipped: waived: r [x]", labels=[{"name": "tag", "value": "waived"}])
    assert label_values(pages.reshape(tagged), "tag") == ["waived"]


def test_failures_and_other_results_keep_their_message_and_foreign_results_are_untouched():
    failed = pages.reshape(written("failed", "FAIL compute02 virt.cpu-vt-flags: no vmx/svm flag"))
    assert failed["statusDetails"]["message"].startswith("FAIL compute02")
    foreign = {"name": "test_other", "status": "passed", "labels": [{"name": "host", "value": "runner"}]}
    assert pages.reshape(foreign) == foreign


def test_reshape_folder_rewrites_results_and_skips_truncated_files(tmp_path):
    (tmp_path / "a-result.json").write_text(json.dumps(written()))
    (tmp_path / "b-result.json").write_text('{"name": ')
    pages.reshape_folder(tmp_path)
    assert json.loads((tmp_path / "a-result.json").read_text())["fullName"] == "compute02:virt.cpu-vt-flags"
    assert (tmp_path / "b-result.json").read_text() == '{"name": '


def test_summary_page_links_each_views_file_and_counts_per_host(tmp_path):
    results = [
        written(),
        written("failed", "FAIL", check_id="virt.dev-kvm"),
        written("skipped", "Skipped: not applicable: qemu", host="<b>c3</b>"),
    ]
    for number, result in enumerate(results):
        (tmp_path / f"{number}-result.json").write_text(json.dumps(pages.reshape(result)))
    by_host = pages.counts(tmp_path)
    assert by_host["compute02"] == {"passed": 1, "failed": 1} and by_host["<b>c3</b>"] == {"n/a": 1}
    page = pages.summary_page("R", {"area": "R: by area", "hosts": "R: by host"}, by_host)
    assert '<a href="area/index.html">R: by area</a>' in page and '<a href="hosts/index.html">' in page
    assert "&lt;b&gt;c3&lt;/b&gt;" in page and "<b>c3" not in page and "<script" not in page
