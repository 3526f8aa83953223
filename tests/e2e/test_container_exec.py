"""Commands inside containers on real lab hosts: an exec that did not run to its end is never read as an answer.

The CI failure this guards against: podman's nova_libvirt in a restart loop (an expired certificate) answered one
exec with an empty listing and an unknown error wording, and sasl.plugins-installed reported every plugin missing.
"""

import dataclasses
import threading
import time

import pytest

from conformance import checks
from conformance.access import HostConnection
from conformance.errors import ContainerUnavailable
from conformance.facts import Facts
from conformance.model import Status
from conformance.probes import canary
from conformance.profile import load_profile
from conformance.runtime import Run

LAB = {
    "name": "exec",
    "hosts": [
        {"name": "exec-d", "shape": "docker"},
        {"name": "exec-p", "shape": "podman"},
        # libvirtd exits at every start: docker shows nova_libvirt "Restarting", podman mostly "Up" between deaths.
        {"name": "loop-p", "shape": "podman", "tls": True, "faults": ["cert-expired"]},
        {"name": "loop-d", "shape": "docker", "tls": True, "faults": ["cert-expired"]},
        {"name": "gone-d", "shape": "docker"},
    ],
}
LIVE = {"sasl.live-auth", "tls.live-handshake"}
ENGINES = {"exec-d": "docker", "exec-p": "podman"}


@pytest.fixture(scope="module")
def lab(lab_factory):
    return lab_factory(LAB)


@pytest.fixture(scope="module")
def run(lab):
    run = Run(load_profile(lab.profile_path))
    yield run
    run.close()


@pytest.fixture
def facts_on(run):
    """Fresh facts (nothing cached) on the host's one connection, with its expectation's engine."""

    def make(host):
        _, facts = run.host(host).prepare()
        return Facts(run.host(host).connection, engine=facts.engine)

    return make


@pytest.fixture
def control(run):
    """A second connection to a host, for acting on it while the first one is busy."""
    opened = []

    def make(host):
        plan = run.host(host).plan
        opened.append(HostConnection(plan.name, plan.address, plan.ssh))
        return opened[-1]

    yield make
    for connection in opened:
        connection.close()


@pytest.mark.parametrize("host", ENGINES)
def test_output_and_exit_status_come_through_unchanged(facts_on, host):
    facts = facts_on(host)
    result = facts.run_in("nova_compute", "printf 'a\\nb'; echo err >&2; exit 7")
    assert (result.rc, result.stdout, result.stderr) == (7, "a\nb", "err\n")
    assert facts.run_in("nova_compute", "echo one # a comment ends the command").stdout == "one\n"
    assert facts.run_in("nova_compute", "true").stdout == ""
    missing = facts.file("/etc/no-such-file", container="nova_compute")  # the command ran: a real "missing"
    assert not missing.exists


@pytest.mark.parametrize("host", ENGINES)
def test_a_stopped_container_is_unavailable_not_empty(facts_on, control, host):
    engine, facts, control = ENGINES[host], facts_on(host), control(host)
    control.run(f"{engine} stop -t 1 nova_compute")
    try:
        with pytest.raises(ContainerUnavailable, match="cannot look inside nova_compute now"):
            facts.run_in("nova_compute", "ls /etc")
        with pytest.raises(ContainerUnavailable):
            facts.file("/etc/hostname", container="nova_compute")
    finally:
        control.run(f"{engine} start nova_compute")


@pytest.mark.parametrize("host", ENGINES)
def test_a_container_killed_during_the_command_is_unavailable(facts_on, control, host):
    engine, facts, control = ENGINES[host], facts_on(host), control(host)
    killer = threading.Timer(1.5, lambda: control.run(f"{engine} kill nova_compute"))
    killer.start()
    try:
        # Output before the kill comes back, but the command did not end: no answer to judge from.
        with pytest.raises(ContainerUnavailable):
            facts.run_in("nova_compute", "echo partial; sleep 10; echo done")
    finally:
        killer.join()
        control.run(f"{engine} start nova_compute")


def test_a_restart_loop_never_reads_as_missing_plugins(run, facts_on):
    """40 fresh reads of a podman nova_libvirt that dies at every start: each either sees the plugins or is not
    judged; the container's own check names the cause."""
    expectation, _ = run.host("loop-p").prepare()
    registry = {check.id: check for check in checks.all_checks()}
    plugins = registry["sasl.plugins-installed"]
    statuses = []
    for _ in range(40):
        statuses.append(plugins.run(expectation, facts_on("loop-p")).status)
        time.sleep(0.1)
    assert Status.FAIL not in statuses, statuses
    assert Status.NOT_APPLICABLE in statuses, "the loop was never caught between starts: the test proved nothing"
    healthy = registry["libvirt.container-healthy"].run(expectation, facts_on("loop-p"))
    assert healthy.status is Status.FAIL


@pytest.mark.parametrize("host", ["loop-p", "loop-d"])
def test_a_restart_loop_fails_only_its_cause_however_often_it_is_judged(lab, run, facts_on, host):
    """Every check, 12 times on fresh facts, on a host whose only fault is an expired certificate: only the
    fault's checks and libvirt.container-healthy fail; nothing read from the dying container is called a fault."""
    expectation, _ = run.host(host).prepare()
    expectation = dataclasses.replace(expectation, live_probes=False)  # they need the lab's names resolved here
    allowed = set(lab.expected_failures[host]) - LIVE | {"libvirt.container-healthy"}
    failed, not_judged = set(), 0
    for _ in range(12):
        facts = facts_on(host)
        for check in checks.all_checks():
            verdict = check.run(expectation, facts)
            failed |= {check.id} if verdict.status is Status.FAIL else set()
            not_judged += not verdict.judged
    assert failed == allowed, failed
    assert not_judged, "the loop was never caught mid-read: the test proved nothing"


def test_a_socket_left_by_a_removed_nova_libvirt_fails_but_a_killed_ones_does_not(control, facts_on, run):
    """Kolla's precheck: /var/run/libvirt/libvirt-sock with no nova_libvirt container is a host daemon's or
    stale. A stopped nova_libvirt shares /run with the host, so the socket is its own."""
    expectation, _ = run.host("gone-d").prepare()
    no_host_daemon = {check.id: check for check in checks.all_checks()}["libvirt.no-host-daemon"]
    host = control("gone-d")
    # Killed, libvirtd cannot remove its socket: a stopped nova_libvirt with its socket still in /run.
    assert host.run("docker kill nova_libvirt && sleep 1 && test -S /var/run/libvirt/libvirt-sock").ok
    assert no_host_daemon.run(expectation, facts_on("gone-d")).status is Status.PASS
    stale = "import socket; socket.socket(socket.AF_UNIX).bind('/var/run/libvirt/libvirt-sock')"
    assert host.run(f'docker rm nova_libvirt && rm -f /var/run/libvirt/libvirt-sock && python3 -c "{stale}"').ok
    verdict = no_host_daemon.run(expectation, facts_on("gone-d"))
    assert verdict.status is Status.FAIL and "stale or host daemon's socket" in verdict.actual, verdict


class _Recording(Facts):
    """Facts that note the containers their reads went into."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.containers: set[str] = set()

    def run_in(self, container, template, *args, timeout=None):
        self.containers.add(container)
        return super().run_in(container, template, *args, timeout=timeout)


# Each service container's config dir on the host (Kolla's node_config_directory/<service>), with its config.json.
CONFIG_DIRS = {
    "nova_compute": "nova-compute",
    "nova_libvirt": "nova-libvirt",
    "openvswitch_db": "openvswitch-db-server",
    "openvswitch_vswitchd": "openvswitch-vswitchd",
}


def _break(control, engine: str, container: str, how: str) -> None:
    """Stop the container, or send it into a restart loop: a config.json kolla_start cannot parse makes it exit
    at every start, and its restart policy starts it again."""
    if how == "stopped":
        assert control.run(f"{engine} stop {container}").ok
        return
    config = f"/etc/kolla/{CONFIG_DIRS[container]}/config.json"
    assert control.run(
        f"cp -p {config} {config}.kept && printf '{{' > {config} && {engine} restart -t 1 {container}"
    ).ok
    deadline = time.monotonic() + 60
    while not control.run(f"{engine} logs --tail 20 {container} 2>&1 | grep -q JSONDecodeError").ok:
        assert time.monotonic() < deadline, f"{container} never failed its start"
        time.sleep(1)


def _mend(control, engine: str, container: str, how: str) -> None:
    if how == "restart-loop":
        config = f"/etc/kolla/{CONFIG_DIRS[container]}/config.json"
        assert control.run(f"mv {config}.kept {config}").ok
    assert control.run(f"{engine} restart -t 1 {container}").ok
    check = "virsh version --daemon" if container == "nova_libvirt" else "true"
    deadline = time.monotonic() + 90
    while not control.run(f"{engine} exec {container} {check}").ok:
        assert time.monotonic() < deadline, f"{container} did not come back"
        time.sleep(1)


@pytest.mark.parametrize("host", ENGINES)
@pytest.mark.parametrize("container", list(CONFIG_DIRS))
@pytest.mark.parametrize("how", ["stopped", "restart-loop"])
def test_a_stopped_service_container_passes_no_check_that_reads_it(run, control, host, container, how):
    """Issue 14: a check reported "16 file(s) as intended" although the files in a stopped container were never
    read. Every check that reads from the container while it runs must, once it is stopped or restarting in a
    loop, fail or be not judged and name it; none may pass on what it could not read. (A SASL check may pass on
    Kolla's source copy, which nova_libvirt installs when it starts, if it says so.)"""
    expectation, facts = run.host(host).prepare()
    expectation = dataclasses.replace(expectation, live_probes=False)
    connection = run.host(host).connection
    readers, healthy = [], {}
    for check in checks.all_checks():
        recording = _Recording(connection, engine=facts.engine)
        verdict = check.run(expectation, recording)
        if verdict.status is Status.PASS and container in recording.containers:
            readers.append(check)
            healthy[check.id] = verdict.actual
    assert readers, f"no check reads {container}: the test proves nothing"
    engine = ENGINES[host]
    _break(control(host), engine, container, how)
    try:
        verdicts = {check.id: check.run(expectation, Facts(connection, engine=facts.engine)) for check in readers}
        # In a restart loop podman's container is up between deaths: a read made then is a real read, and its pass
        # is the running container's own verdict. Any other pass would be a pass on what was not read.
        real = {c for c, v in verdicts.items() if how == "restart-loop" and v.actual == healthy[c]}
        passed = {
            c: v.actual
            for c, v in verdicts.items()
            if v.status is Status.PASS and "Kolla's source copy" not in v.actual and c not in real
        }
        unnamed = {c: v.actual for c, v in verdicts.items() if container not in v.actual and c not in real}
        assert not passed and not unnamed, (passed, unnamed)
    finally:
        _mend(control(host), engine, container, how)


@pytest.mark.parametrize("host", ENGINES)
def test_an_interrupted_canary_leaves_no_guest_and_the_next_run_no_log(run, control, host, monkeypatch):
    """Ctrl-C between creating the canary guest and destroying it: the libvirt child destroys the guest when its
    stdin ends, before it is let go. The guest's QEMU log is removed by the next canary."""
    expectation, facts = run.host(host).prepare()
    engine = ENGINES[host]
    args = (
        expectation.libvirt_uri,
        expectation.sasl_authname,
        expectation.sasl_password,
        None,
        expectation.virt_type,
        False,
        None,
        "nova_libvirt",
    )
    send = canary._Child.send

    def interrupted(child, line):
        if line == "destroy":
            raise KeyboardInterrupt
        return send(child, line)

    monkeypatch.setattr(canary._Child, "send", interrupted)
    with pytest.raises(KeyboardInterrupt):
        canary.run_canary(Facts(run.host(host).connection, engine=facts.engine), *args)
    guests = control(host).run(f"{engine} exec nova_libvirt virsh -c qemu:///system list --all --name")
    assert guests.ok and canary.PREFIX not in guests.stdout, guests.stdout
    logs = f"{engine} exec nova_libvirt ls {canary.QEMU_LOG_DIR}"
    assert canary.PREFIX in control(host).run(logs).stdout  # the interrupted one's log: left for the next run
    monkeypatch.setattr(canary._Child, "send", send)
    again = canary.run_canary(Facts(run.host(host).connection, engine=facts.engine), *args)
    assert again.ok, again
    assert canary.PREFIX not in control(host).run(logs).stdout
