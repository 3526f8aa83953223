"""Shards (CI jobs split by host group) merge into one summary, exit code and HTML report."""

import json
import shutil
import subprocess
import sys

import pytest

from conformance.errors import ExitCode
from conformance.report import html
from tests.suite_runner import run_suite


def cli(*args):
    return subprocess.run([sys.executable, "-m", "conformance.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def shards(loopback_host, tmp_path_factory):
    """Two runs of one deployment, split by host: 'loop' (reachable) and 'gone' (unreachable)."""
    root = tmp_path_factory.mktemp("shards")
    out = {}
    for name in ("loop", "gone"):
        profile = loopback_host.profile(root / name, unreachable=True, hosts=[name])
        result = run_suite(profile, "-k", "virt.type-rendered", "--alluredir", str(root / name / "allure"))
        (root / f"{name}.json").write_text("[" + ",".join(f.to_json() for f in result.findings.values()) + "]")
        out[name] = result
    return root, out


def test_shards_merge_into_one_summary_and_exit_code(shards):
    root, runs = shards
    assert runs["loop"].exit_code == ExitCode.OK and runs["gone"].exit_code == ExitCode.HOSTS_UNREACHABLE
    merged = cli("merge", str(root / "loop.json"), str(root / "gone.json"), "-o", str(root / "all.json"))
    assert merged.returncode == ExitCode.HOSTS_UNREACHABLE, merged.stdout + merged.stderr
    assert "loop  1 pass" in merged.stdout and "gone  1 unreachable" in merged.stdout
    assert {(f["host"], f["check_id"]) for f in json.loads((root / "all.json").read_text())} == {
        ("loop", "virt.type-rendered"),
        ("gone", "virt.type-rendered"),
    }


def test_merge_later_input_wins_and_bad_input_is_exit_4(shards, tmp_path):
    root, _ = shards
    fixed = json.loads((root / "gone.json").read_text())
    fixed[0]["status"] = "pass"
    (tmp_path / "rerun.json").write_text(json.dumps(fixed))
    assert cli("merge", str(root / "gone.json"), str(tmp_path / "rerun.json")).returncode == ExitCode.OK
    bad = cli("merge", str(tmp_path / "missing.json"))
    assert bad.returncode == ExitCode.PROFILE_ERROR and "missing.json: findings file not found" in bad.stderr


@pytest.mark.skipif(not shutil.which("node"), reason="needs node for Allure 3")
def test_allure_results_of_shards_make_one_report(shards, tmp_path):
    root, _ = shards
    done = cli("report", str(root / "loop" / "allure"), str(root / "gone" / "allure"), "-o", str(tmp_path / "html"))
    assert done.returncode == 0, done.stderr
    tests = json.loads((tmp_path / "html" / "test-results.json").read_text())["byId"].values()
    assert {t["status"] for t in tests} == {"passed", "broken"} and len(tests) == 2
    environment = (root / "loop" / "allure" / "environment.properties").read_text()
    assert "hosts=loop" in environment
    merged = html.merge_properties([environment, (root / "gone" / "allure" / "environment.properties").read_text()])
    assert merged["hosts"] == "loop, gone" and merged["hosts.unreachable"] == "gone"
