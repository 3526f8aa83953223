"""JUnit: one readable test case per check per host; no output of a run carries the SASL password."""

import xml.etree.ElementTree as ET

from conformance.errors import ExitCode
from conformance.report import html
from tests.suite_runner import run_suite


def test_one_case_per_check_per_host_named_for_people(loopback_host, tmp_path):
    junit = tmp_path / "junit.xml"
    result = run_suite(
        loopback_host.profile(tmp_path, unreachable=True),
        "-k",
        "virt.dev-kvm or virt.type-rendered",
        "--junitxml",
        str(junit),
    )
    cases = ET.parse(junit).findall(".//testcase")
    names = sorted((c.get("classname"), c.get("name")) for c in cases)
    assert names == sorted({(f.check_id, f.host) for f in result.findings.values()})
    assert ("virt.type-rendered", "loop") in names and ("virt.type-rendered", "gone") in names
    gone = [c for c in cases if c.get("name") == "gone"]
    assert all(c.find("error") is not None for c in gone)  # unreachable: an error, not a product failure


def test_sasl_password_never_leaves(loopback_host, tmp_path):
    secret = loopback_host.sasl_password
    node_config = tmp_path / "etc-kolla"
    (node_config / "nova-compute").mkdir(parents=True)
    # a file the checks read on the host carries the secret, so it reaches a finding's actual and evidence
    (node_config / "nova-compute" / "nova.conf").write_text(f"[libvirt]\nvirt_type = kvm{secret}\n")
    assert secret in (loopback_host.kolla_dir / "passwords.yml").read_text()
    profile = loopback_host.profile(tmp_path, extra={"overrides": {"all": {"node_config_directory": str(node_config)}}})
    out = tmp_path / "out"
    out.mkdir()
    result = run_suite(
        profile,
        "-k",
        "virt.type-rendered",
        "-rA",
        "-o",
        "log_level=DEBUG",
        "--junitxml",
        str(out / "junit.xml"),
        "--alluredir",
        str(out / "allure"),
    )
    assert result.exit_code == ExitCode.CHECK_FAILED, result.output
    assert "******" in result.findings[("loop", "virt.type-rendered")].actual  # it was there, and masked
    html.generate([out / "allure"], out / "html")
    (out / "terminal.txt").write_text(result.output)
    (out / "findings.json").write_text("\n".join(f.to_json() for f in result.findings.values()))
    leaks = [p for p in out.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert leaks == []
    assert len(list(out.rglob("*"))) > 5
