"""A host's time is bounded by the profile, and a login shell's noise changes no verdict (issue 12, items 2 and 3).

One lab, one suite run over every host (sequential, as operators run it), with command_timeout 6 s:
- `hung-dockerd`: dockerd SIGSTOPped (the engine's socket accepts, nothing answers);
- `hung-libvirtd`, `hung-libvirtd-pm`: libvirtd in nova_libvirt SIGSTOPped, docker and podman (TCP and unix sockets
  accept, nothing answers);
- `hung-hostlv`: a host-mode libvirtd SIGSTOPped;
- `noisy`: root's .bashrc and .profile print on stdout and stderr for every command;
- `ok`: a correct host of the same shape, the reference verdicts.
Each hung host must finish within 3 x command_timeout, name the cause, and leave the other hosts judged. The run
includes the canary guest (--canary): it too is bounded on a hung host, and passes on the correct ones (TLS).
Time per host: its gathering (the summary's "gathered in", hosts side by side) plus the JUnit report's sum of its
test cases' times (judging; a read gathering did not foresee would be made there).
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from conformance.model import Status
from tests.suite_runner import run_suite

COMMAND_TIMEOUT = 6
LAB = {
    "name": "bound",
    "tls": True,
    "hosts": [
        {"name": "ok", "shape": "docker"},
        {"name": "noisy", "shape": "docker"},
        {"name": "hung-dockerd", "shape": "docker"},
        {"name": "hung-libvirtd", "shape": "docker"},
        {"name": "hung-libvirtd-pm", "shape": "podman"},
        {"name": "hung-hostlv", "shape": "host"},
        {"name": "ok-host", "shape": "host"},
    ],
}
HUNG = {
    "hung-dockerd": "dockerd",
    "hung-libvirtd": "libvirtd",
    "hung-libvirtd-pm": "libvirtd",
    "hung-hostlv": "libvirtd",
}
NOISE = 'echo "NOISE-FROM-{0} : (-1:-1) mode 0000|x|1|2"; echo "NOISE-ERR-{0}" >&2\n'
HANG_WORDS = ("did not answer", "no answer", "not read", "not tried", "stopped answering", "does not answer")


def _ssh(lab, host: str, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-F", str(lab.ssh_config), host, command], capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def result(lab_factory, tmp_path_factory):
    lab = lab_factory(LAB)
    for host, daemon in HUNG.items():
        assert _ssh(lab, host, f"pkill -STOP -x {daemon}").returncode == 0, host
    for name in (".bashrc", ".profile"):
        assert _ssh(lab, "noisy", f"printf '%s' '{NOISE.format(name)}' >> /root/{name}").returncode == 0
    assert "NOISE-FROM" in _ssh(lab, "noisy", "true").stdout, "the noise must reach ssh's output"
    profile = yaml.safe_load(Path(lab.profile_path).read_text())
    profile["ssh"]["command_timeout"] = COMMAND_TIMEOUT
    # One host gathered at a time: the lab's hosts share this machine's cores, and with a 6 s limit the reads of
    # six hosts started at once can keep a correct host's healthcheck waiting past it (seen: `ok` failing
    # libvirt.container-healthy in 2 of 4 runs). A real fleet has a machine per host.
    profile["forks"] = 1
    for key in ("config_dir", "inventory"):
        profile["kolla"][key] = str(Path(lab.profile_path).parent / profile["kolla"][key])
    for key in ("identity_file", "known_hosts"):
        profile["ssh"][key] = str(Path(lab.profile_path).parent / profile["ssh"][key])
    folder = tmp_path_factory.mktemp("bound")
    path = folder / "profile.yml"
    path.write_text(yaml.safe_dump(profile))
    junit = folder / "junit.xml"
    try:
        suite = run_suite(path, "--canary", "--junitxml", str(junit), hosts_file=lab.hosts_file)
        yield lab, suite, _host_times(junit, suite.output)
    finally:
        for host, daemon in HUNG.items():
            _ssh(lab, host, f"pkill -CONT -x {daemon}")


def _host_times(junit: Path, output: str) -> dict[str, float]:
    times = {h: float(s) for h, s in re.findall(r"^ssh (\S+): .*, gathered in ([0-9.]+) s$", output, re.M)}
    assert set(times) == {h["name"] for h in LAB["hosts"]}, output[-3000:]
    for case in ET.parse(junit).getroot().iter("testcase"):
        host = case.get("name", "")  # the suite names each JUnit case by its host (classname: the check id)
        times[host] = times.get(host, 0.0) + float(case.get("time", 0))
    return times


@pytest.mark.parametrize("host", sorted(HUNG))
def test_a_hung_host_finishes_within_three_timeouts_with_the_cause_named(result, host):
    _, suite, times = result
    assert times.get(host, 0) <= 3 * COMMAND_TIMEOUT, (host, times)
    findings = {c: f for (h, c), f in suite.findings.items() if h == host}
    assert findings, f"{host} was never judged"
    failed = [f for f in findings.values() if f.status is Status.FAIL]
    unjudged = [f for f in findings.values() if f.not_judged]
    assert failed, f"the hang on {host} failed no check: it would pass the gate"
    for finding in failed + unjudged:
        assert any(word in finding.actual for word in HANG_WORDS), (finding.check_id, finding.actual)
    # Only what needs the hung daemon is left unjudged: the host's own reads still answer.
    assert findings["virt.cpu-vt-flags"].status is Status.PASS
    assert not [f for f in findings.values() if f.status is Status.UNREACHABLE], "a hang is not a lost host"


@pytest.mark.parametrize(
    "host, check_id",
    [
        ("hung-libvirtd", "libvirt.container-healthy"),
        ("hung-libvirtd-pm", "libvirt.container-healthy"),
        ("hung-hostlv", "libvirt.host-daemon-listening"),
    ],
)
def test_the_check_made_for_the_hung_daemon_fails_and_names_it(result, host, check_id):
    _, suite, _ = result
    finding = suite.findings[(host, check_id)]
    # Which read meets the hang first (virsh, or a live login gathered beside it) decides the wording, not the verdict.
    assert finding.status is Status.FAIL and any(word in finding.actual for word in HANG_WORDS), finding.actual
    assert "libvirt" in finding.actual, finding.actual


def test_the_other_hosts_are_judged_as_if_nothing_hung(result):
    _, suite, _ = result
    for host in ("ok", "ok-host"):
        statuses = {c: f.status for (h, c), f in suite.findings.items() if h == host}
        assert statuses and Status.FAIL not in statuses.values(), (host, suite.failing(host))
        assert not any(f.not_judged for (h, _), f in suite.findings.items() if h == host)


def test_the_canary_passes_on_correct_hosts_and_never_on_a_hung_one(result):
    _, suite, _ = result
    for host in ("ok", "ok-host", "noisy"):
        assert suite.status(host, "libvirt.canary-guest") is Status.PASS, suite.findings[(host, "libvirt.canary-guest")]
    for host in HUNG:
        assert suite.status(host, "libvirt.canary-guest") is not Status.PASS, host


def test_a_noisy_login_shell_changes_no_verdict(result):
    _, suite, _ = result
    ok = {c: f.status for (h, c), f in suite.findings.items() if h == "ok"}
    noisy = {c: f.status for (h, c), f in suite.findings.items() if h == "noisy"}
    assert noisy == ok
    assert not any(
        "NOISE" in f.actual + "".join(f.evidence.values()) for (h, _), f in suite.findings.items() if h == "noisy"
    )
