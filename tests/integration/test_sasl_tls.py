"""SASL and TLS checks against real lab hosts: every sasl.*/tls.* check passes (or is n/a for the right reason) on
correct hosts of each shape, and each fault host fails exactly the checks its fault is aimed at, under docker and
podman. One lab, one suite run; secrets must appear in none of the run's outputs.

Host names avoid the words "sasl" and "tls" so `-k "sasl or tls"` selects checks, not hosts.
"""

from __future__ import annotations

import concurrent.futures
import json
from pathlib import Path

import pytest

from conformance import checks
from conformance.libvirt_helper import HELPER
from conformance.model import Status
from tests.suite_runner import run_suite

AREAS = ("sasl.", "tls.")
FAULTS = {  # fault -> short host-name stem
    "scram-over-tcp": "scram-tcp",
    "sasl-user-missing": "user-missing",
    "auth-conf-wrong-password": "authconf-pw",
    "digest-with-tls": "digest-x509",
    "san-missing-host": "san-missing",
    "cert-expired": "expired",
    "cert-not-yet-valid": "notyet",
    "key-mismatch": "key-mismatch",
    "cert-other-ca": "other-ca",
    "leaf-is-ca": "leaf-ca",
    "key-world-readable": "key-readable",
    "migration-hostname-wrong-address": "mig-addr",
    "serverkey-not-found": "skey-absent",
    "cert-client-only": "client-eku",
    "sasl-plugin-missing": "no-plugin",
    "cacert-holds-key": "ca-key",
    "libvirtd-override-before-sasl": "old-template",
}
TCP_FAULTS = {"scram-over-tcp", "sasl-user-missing", "auth-conf-wrong-password", "libvirtd-override-before-sasl"}

GOOD = [
    {"name": "good-tcp-dock", "shape": "docker"},
    {"name": "good-x509-podm", "shape": "podman", "tls": True},
    {"name": "good-x509-dock", "shape": "docker", "tls": True},
    {"name": "good-x509-host", "shape": "host", "tls": True},
    {"name": "good-tcp-host", "shape": "host", "engine": "podman"},
    {"name": "nosecret-dock", "shape": "docker", "sasl": False},
]
LAB = {
    "name": "sasl-tls",
    "hosts": GOOD
    + [
        {"name": f"{stem}-{shape[0]}", "shape": shape, "tls": fault not in TCP_FAULTS, "faults": [fault]}
        for fault, stem in FAULTS.items()
        for shape in ("docker", "podman")
    ],
}
IDS = {c.id for c in checks.all_checks() if c.id.startswith(AREAS)}
N_A_REASONS = {"libvirt_tls is false", "libvirt_enable_sasl is false"}


@pytest.fixture(scope="module")
def run(lab_factory, tmp_path_factory):
    info = lab_factory(LAB)
    out = tmp_path_factory.mktemp("sasl-tls-run")
    result = run_suite(
        info.profile_path,
        "-k",
        "sasl or tls",
        "-n",
        "2",
        f"--junitxml={out / 'junit.xml'}",
        f"--alluredir={out / 'allure'}",
        hosts_file=info.hosts_file,
        timeout=1500,
    )
    return info, result, out


def _ours(ids):
    return {i for i in ids if i.startswith(AREAS)}


@pytest.mark.parametrize("host", [h["name"] for h in GOOD])
def test_correct_hosts_pass_every_check(run, host):
    _, result, _ = run
    for check_id in sorted(IDS):
        finding = result.findings[(host, check_id)]
        assert finding.status in (Status.PASS, Status.NOT_APPLICABLE), finding.summary()
        if finding.status is Status.NOT_APPLICABLE:
            assert finding.actual in N_A_REASONS, finding.summary()


@pytest.mark.parametrize("host", [h["name"] for h in LAB["hosts"] if h.get("faults")])
def test_fault_hosts_fail_exactly_their_checks(run, host):
    info, result, _ = run
    expected = _ours(info.expected_failures[host])
    assert expected, f"fault {info.faults[host]} trips no sasl/tls check"
    assert _ours(result.failing(host)) == expected, "\n".join(
        result.findings[(host, c)].summary() for c in sorted(_ours(result.failing(host)) | expected)
    )


def test_failures_say_expected_actual_and_fix(run):
    _, result, _ = run
    for finding in result.findings.values():
        if finding.check_id in IDS and finding.status is Status.FAIL:
            assert finding.expected and finding.actual and finding.hint, finding.summary()


def test_scram_over_tcp_names_the_rule(run):
    _, result, _ = run
    finding = result.findings[("scram-tcp-d", "sasl.mech-matches-tls")]
    assert "SCRAM-SHA-256" in finding.actual and "SSF >= 56" in finding.actual
    assert "SCRAM-SHA-256" in result.findings[("good-x509-podm", "sasl.live-auth")].evidence["advertised mechanisms"]


def test_live_auth_quotes_libvirt(run):
    _, result, _ = run
    finding = result.findings[("user-missing-p", "sasl.live-auth")]
    assert "authentication failed" in finding.actual
    evidence = result.findings[("good-tcp-dock", "sasl.live-auth")].evidence
    assert evidence["login with a wrong password"].startswith("refused: authentication failed")


def test_old_override_is_rendered_the_kolla_way(run):
    """The operator's per-host libvirtd.conf.j2 (config/nova/<host>/) is what both copies of libvirtd.conf say."""
    info, result, _ = run
    assert 'auth_tcp = "none"' in (info.kolla_dir / "config/nova/old-template-p/libvirtd.conf.j2").read_text()
    finding = result.findings[("old-template-p", "sasl.libvirtd-listener")]
    assert "auth_tcp = 'none'" in finding.evidence["/etc/kolla/nova-libvirt/libvirtd.conf on the host"]
    assert "auth_tcp = 'none'" in finding.evidence["/etc/libvirt/libvirtd.conf in nova_libvirt"]
    assert result.findings[("old-template-d", "sasl.live-auth")].actual == "a wrong password was accepted"


def test_secrets_appear_in_no_output(run):
    info, result, out = run
    password = info.sasl_password
    key_line = next(
        line
        for line in (info.kolla_dir / "config/nova/nova-libvirt/clientkey.pem").read_text().splitlines()
        if line and not line.startswith("-----")
    )
    texts = {"output": result.output, "findings": "\n".join(f.to_json() for f in result.findings.values())}
    texts.update({str(p): p.read_text(errors="replace") for p in Path(out).rglob("*") if p.is_file()})
    assert any("allure" in name for name in texts) and any(name.endswith("junit.xml") for name in texts)
    for name, text in texts.items():
        assert password not in text, f"SASL password in {name}"
        assert key_line not in text, f"a private key line in {name}"


def test_logins_side_by_side_in_the_one_helper_each_get_their_own_hosts_mechanisms(run):
    """The run's libvirt client is one child (conformance.libvirt_helper): logins to several hosts at once, each
    attributed the mechanisms its own server advertised (DIGEST-MD5, or none where sasl.conf lists only SCRAM on
    plain TCP), one wrong password refused among them, and one port where nothing listens answering at once. (The
    suite's own runs check SCRAM-SHA-256 over TLS: test_scram_over_tcp_names_the_rule.)"""
    info, _, _ = run
    password = info.sasl_password
    cases = {  # host -> (password, whether the login succeeds, the mechanisms its libvirtd advertises)
        "good-tcp-dock": (password, True, ["DIGEST-MD5"]),
        "good-tcp-host": (password, True, ["DIGEST-MD5"]),
        # SCRAM has no security layer: on plain TCP libvirtd (SSF >= 56) offers no mechanism at all
        "scram-tcp-d": (password, False, []),
        "user-missing-p": ("wrong", False, ["DIGEST-MD5"]),
    }
    uris = {h: f"qemu+tcp://{info.details[h]['migration_address']}:{info.details[h]['port']}/system" for h in cases}
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(cases) * 3) as pool:
        futures = {pool.submit(HELPER.login, uris[h], "nova", cases[h][0], 30): h for h in list(cases) * 3}
        refused = pool.submit(HELPER.login, "qemu+tcp://127.0.0.1:1/system", "nova", "x", 30)
        answers = [(futures[f], f.result()) for f in concurrent.futures.as_completed(futures)]
    for host, answer in answers:
        _, ok, mechanisms = cases[host]
        assert answer is not None and answer["ok"] is ok, (host, answer)
        assert answer["mechanisms"] == mechanisms, (host, answer)
    assert refused.result() is not None and "Connection refused" in refused.result()["error"]
    assert all(password not in json.dumps(a) for _, a in answers)
