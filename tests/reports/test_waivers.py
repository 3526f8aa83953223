"""Waivers: shown as waived with their reason in every report, expired ones stop waiving, unused ones are reported."""

import datetime
import json
import re
import xml.etree.ElementTree as ET

import pytest
import yaml

from conformance import waivers
from conformance.errors import ExitCode, ProfileError
from conformance.model import Status
from tests.suite_runner import run_suite

FUTURE, PAST = "2099-12-31", "2020-01-01"


def entry(**over):
    return {
        "check": "virt.type-rendered",
        "hosts": "lo*",
        "reason": "image rebuild pending CHG-42",
        "expires": FUTURE,
        "approved_by": "jane.doe",
        **over,
    }


def write(path, entries):
    path.write_text(yaml.safe_dump({"waivers": entries}))
    return path


@pytest.mark.parametrize(
    "bad, where",
    [
        (entry(expires="next week"), "waivers[0].expires: expected a date"),
        ({k: v for k, v in entry().items() if k != "approved_by"}, "waivers[0].approved_by: missing"),
        (entry(owner="x"), "waivers[0].owner: unknown key"),
        (entry(check="virt.no-such-check"), "waivers[0].check: unknown check id"),
    ],
)
def test_bad_entry_is_one_line_naming_file_entry_key(tmp_path, bad, where):
    path = write(tmp_path / "w.yml", [entry(), bad][1:])
    with pytest.raises(ProfileError) as err:
        waivers.load(path, {"virt.type-rendered"})
    assert str(err.value) == f"{path}: {where}" + str(err.value).split(where, 1)[1]
    assert "\n" not in str(err.value)


def test_expiry_is_inclusive(tmp_path):
    today = datetime.date.today()
    (w,) = waivers.load(write(tmp_path / "w.yml", [entry(expires=today.isoformat())]))
    assert not w.expired(today) and w.expired(today + datetime.timedelta(days=1))


def _failing_profile(host, tmp_path, waiver_entries):
    node_config = tmp_path / "etc-kolla"
    (node_config / "nova-compute").mkdir(parents=True)
    (node_config / "nova-compute" / "nova.conf").write_text("[libvirt]\nvirt_type = qemu\n")
    path = write(tmp_path / "waivers.yml", waiver_entries)
    return host.profile(
        tmp_path, extra={"waivers": str(path), "overrides": {"all": {"node_config_directory": str(node_config)}}}
    )


def test_waived_failure_passes_the_gate_and_shows_everywhere(loopback_host, tmp_path):
    unused = entry(check="virt.dev-kvm", hosts="compute-9*", reason="typo in pattern")
    profile = _failing_profile(loopback_host, tmp_path, [entry(), unused])
    junit, alluredir = tmp_path / "junit.xml", tmp_path / "allure"
    # Public pytest API only: clean with pytest 10's removals as errors, and without xdist loaded.
    result = run_suite(
        profile,
        "-k",
        "virt.type-rendered",
        "--junitxml",
        str(junit),
        "--alluredir",
        str(alluredir),
        "-v",
        "-p",
        "no:xdist",
        "-W",
        "error::pytest.PytestRemovedIn10Warning",
    )
    assert result.exit_code == ExitCode.OK, result.output
    assert re.search(r"=+ .*\b1 waived in [\d.]+s", result.output)  # its own word in pytest's own summary line
    # terminal: the matrix counts it as waived, a line gives the reason, the unused waiver is reported
    assert "1 waived" in result.output
    assert "WAIVED loop virt.type-rendered: waived: image rebuild pending CHG-42 (approved by jane.doe" in result.output
    assert "UNUSED waiver #2 (virt.dev-kvm on compute-9*)" in result.output
    # findings JSON: still a FAIL, carrying the active waiver
    finding = result.findings[("loop", "virt.type-rendered")]
    assert (
        finding.status is Status.FAIL and finding.waived and finding.waiver["reason"] == "image rebuild pending CHG-42"
    )
    # JUnit: a skipped test case whose message is the waiver
    case = ET.parse(junit).find(".//testcase[@classname='virt.type-rendered'][@name='loop']")
    assert case.find("skipped").get("message").startswith("waived: image rebuild pending CHG-42")
    # Allure: skipped, message is the waiver, tagged, with a waiver attachment
    (res,) = [json.loads(p.read_text()) for p in alluredir.glob("*-result.json")]
    assert res["status"] == "skipped" and "waived: image rebuild pending CHG-42" in res["statusDetails"]["message"]
    assert {"name": "tag", "value": "waived"} in res["labels"]
    assert any(a["name"] == "waiver" for a in res["attachments"])


def test_expired_waiver_stops_waiving_and_says_so(loopback_host, tmp_path):
    profile = _failing_profile(loopback_host, tmp_path, [entry(expires=PAST)])
    junit = tmp_path / "junit.xml"
    result = run_suite(profile, "-k", "virt.type-rendered", "--junitxml", str(junit))
    assert result.exit_code == ExitCode.CHECK_FAILED, result.output
    assert (
        f"waiver expired on {PAST} (image rebuild pending CHG-42, approved by jane.doe): counts again" in result.output
    )
    finding = result.findings[("loop", "virt.type-rendered")]
    assert not finding.waived and finding.waiver["state"] == "expired"
    failure = ET.parse(junit).find(".//testcase[@name='loop']/failure")
    assert f"waiver expired on {PAST}" in failure.get("message")


def test_waivers_option_overrides_profile_and_bad_file_is_exit_4(loopback_host, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("waivers:\n  - check: virt.type-rendered\n    reason: r\n    approved_by: x\n")
    result = run_suite(loopback_host.profile(tmp_path), "--waivers", str(bad))
    assert result.exit_code == ExitCode.PROFILE_ERROR
    assert f"{bad}: waivers[0].expires: missing" in result.output and "Traceback" not in result.output
