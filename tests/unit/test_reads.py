"""Framing and the per-host hang accounting, in milliseconds. The real cases (a SIGSTOPped dockerd and libvirtd,
a noisy .bashrc) run on lab hosts in tests/e2e/test_bounded_hosts.py; here a stand-in connection times out on
demand, so every branch of the accounting is pinned down."""

from __future__ import annotations

import subprocess

import pytest

from conformance.access import EXEC_MARGIN, BatchRead, BatchScript, CommandResult, CommandTimedOut, SshSettings
from conformance.command import Frame, shell
from conformance.errors import ContainerUnavailable, ReadTimedOut
from conformance.facts import Facts
from conformance.gather import gather_host


def _sh(text: str) -> str:
    return subprocess.run(["sh", "-c", text], capture_output=True, text=True, timeout=10).stdout


@pytest.mark.parametrize("noise", ["", "NOISE\n", "a:1:b:c:\n", "KCF0000000000000000B:0:eA==::KCF0000000000000000E\n"])
def test_a_frame_is_read_whatever_the_login_shell_prints_around_it(noise):
    frame = Frame()
    out = _sh(
        f"echo '{noise}'; echo err-noise >&2; "
        + frame.wrap(shell("printf '%%s|%%s' %s %s; echo e >&2; exit 3", "a b", "$(x)"), 10)
        + "; echo trailing"
    )
    framed = frame.parse(noise + out)
    assert (framed.rc, framed.stdout, framed.stderr) == (3, "a b|$(x)", "e\n")


def test_no_frame_is_no_answer_and_the_deadline_shows_as_124():
    frame = Frame()
    assert frame.parse("NOISE only\n") is None
    assert frame.parse(_sh(frame.wrap(shell("sleep 5"), 1))).rc == 124


class _Connection:
    """Answers every command at once, except those containing a word in `hangs`, which time out."""

    def __init__(self, hangs=(), command_timeout=6):
        self.name, self.hangs, self.sent, self.batches = "h1", set(hangs), [], []
        self.ssh = SshSettings(command_timeout=command_timeout)

    def run(self, command, *args, timeout=None, stdin=None):
        self.sent.append((command, timeout))
        if any(word in command for word in self.hangs):
            raise CommandTimedOut(self.name, command, timeout)
        return CommandResult(command, 0, "ok\n", "")

    def container_exec(self, engine, container, command, timeout=None):
        self.sent.append((f"{engine} exec {container} {command}", timeout))
        if any(word in command or word == container for word in self.hangs):
            raise CommandTimedOut(self.name, command, timeout)
        return CommandResult(command, 0, "ok\n", "")

    def run_batch(self, reads):
        """As HostConnection.run_batch: one round trip, each read's answer or its CommandTimedOut."""
        self.batches.append([r.command for r in reads])
        answers = []
        for r in reads:
            try:
                answers.append(
                    self.container_exec(r.engine, r.container, r.command, r.timeout)
                    if r.container
                    else self.run(r.command, timeout=r.timeout)
                )
            except CommandTimedOut as exc:
                answers.append(exc)
        return answers


def test_a_hung_daemon_is_waited_for_once_and_named():
    conn = _Connection(hangs={"virsh"})
    facts = Facts(conn, engine="docker")
    with pytest.raises(ReadTimedOut, match="did not answer within 6s on h1"):
        facts.run_in("nova_libvirt", "virsh version --daemon")
    with pytest.raises(ReadTimedOut, match="not read: .*virsh"):
        facts.run("virsh -c qemu:///system domcapabilities")  # libvirtd again, from the host: not waited for
    with pytest.raises(ReadTimedOut):
        facts.run_in("nova_libvirt", "cat /etc/libvirt/libvirtd.conf")  # the same container: not waited for
    assert facts.run("sed -n 1p /proc/cpuinfo").stdout == "ok\n"  # the host itself still answers
    assert facts.run_in("nova_compute", "cat /x").ok  # so does another container
    assert [t for c, t in conn.sent if "virsh" in c] == [6]
    assert facts.lost == 6


def test_a_hung_engine_blocks_every_exec_but_not_the_host():
    facts = Facts(_Connection(hangs={"docker ps"}), engine="docker")
    with pytest.raises(ReadTimedOut):
        facts.run("docker ps -a")
    with pytest.raises(ReadTimedOut, match="not read"):
        facts.run_in("nova_libvirt", "true")
    assert facts.run("id -G -- %s", "libvirt-qemu").ok


def test_no_read_waits_longer_than_the_profile_or_the_host_has_left():
    conn = _Connection(hangs={"a-", "b-"}, command_timeout=6)
    facts = Facts(conn, engine="docker")
    facts.run("x", timeout=120)  # a probe's wish never beats the profile
    assert conn.sent[-1] == ("x", 6)
    for name in ("a-1", "b-1"):
        with pytest.raises(ReadTimedOut):
            facts.run(name)
    assert facts.lost == 12 == facts.hang_budget
    with pytest.raises(ReadTimedOut, match="stopped answering: 12s lost"):
        facts.run("y")  # the budget is spent: nothing more is waited for
    assert conn.sent[-1][0] == "b-1"


def test_a_timeout_is_remembered_until_the_host_is_read_again():
    conn = _Connection(hangs={"virsh"})
    facts = Facts(conn, engine="docker")
    for _ in range(3):
        with pytest.raises(ReadTimedOut):
            facts.run("virsh version")
    assert len(conn.sent) == 1
    facts.invalidate()  # after a fix: read again, the budget spent stays spent
    conn.hangs.clear()
    assert facts.run("virsh version").ok and facts.lost == 6


def test_an_exec_that_did_not_end_is_not_an_answer():
    class Dying(_Connection):
        def container_exec(self, engine, container, command, timeout=None):
            return CommandResult(command, 137, "partial", "", exec_error="container stopped")

    with pytest.raises(ContainerUnavailable, match="container stopped"):
        Facts(Dying(), engine="docker").run_in("nova_libvirt", "ls")


# -- gathering (conformance/gather.py): the reads of every check, in batches, before judging -------------------------


class _Check:
    def __init__(self, judge):
        self.judge = judge


def _listing_then_exec(exp, facts):
    """A read that depends on an earlier answer: what the second command is depends on the first one's output."""
    first = facts.run("docker ps -a").stdout.strip()
    return facts.run_in("nova_libvirt", "cat %s", f"/etc/{first}")


def _loop_of_independent_reads(exp, facts):
    paths = ("/a", "/b", "/c")
    facts.prefetch(lambda p=p: facts.file(p) for p in paths)
    return [facts.file(p) for p in paths]


def test_gathering_batches_each_round_and_judging_reads_only_the_cache():
    conn = _Connection()
    facts = Facts(conn, engine="docker")
    checks = [_Check(_listing_then_exec), _Check(lambda e, f: f.run("uname -m")), _Check(_loop_of_independent_reads)]
    assert gather_host(None, facts, checks) == 2  # round 1: ps, uname, the three files; round 2: the exec
    assert [len(b) for b in conn.batches] == [5, 1] and facts.gathered
    sent = len(conn.sent)
    for check in checks:
        check.judge(None, facts)
    assert len(conn.sent) == sent  # judged from what was gathered, nothing read twice


def test_reads_that_hang_side_by_side_cost_the_host_one_wait_and_block_what_needs_them():
    conn = _Connection(hangs={"virsh", "docker ps"})
    facts = Facts(conn, engine="docker")
    checks = [
        _Check(lambda e, f: f.run("virsh version")),
        _Check(lambda e, f: f.run("docker ps -a")),
        _Check(lambda e, f: f.run("sed -n 1p /proc/cpuinfo")),
    ]
    gather_host(None, facts, checks)
    assert facts.lost == 6  # they waited together: one command_timeout, not two
    with pytest.raises(ReadTimedOut, match="did not answer"):
        facts.run("virsh version")
    with pytest.raises(ReadTimedOut, match="not read"):
        facts.run_in("nova_libvirt", "cat /x")  # the engine hung: no exec is tried
    assert facts.run("sed -n 1p /proc/cpuinfo").ok
    assert len(conn.batches) == 1


def test_a_read_that_raises_while_gathered_is_met_again_when_judged():
    conn = _Connection()
    facts = Facts(conn, engine="docker")

    def broken(exp, facts):
        facts.run("uname -m")
        raise ValueError("a check bug")

    gather_host(None, facts, [_Check(broken)])
    with pytest.raises(ValueError, match="a check bug"):
        broken(None, facts)


def test_a_fix_makes_the_host_gathered_again():
    conn = _Connection()
    facts = Facts(conn, engine="docker")
    gather_host(None, facts, [_Check(lambda e, f: f.run("uname -m"))])
    facts.invalidate()  # what remediation does after changing the host
    assert not facts.gathered
    gather_host(None, facts, [_Check(lambda e, f: f.run("uname -m"))])
    assert len(conn.batches) == 2  # read again, not judged from the facts before the fix


# -- one round trip's script (access.BatchScript): one exec per container, run here by sh with a stand-in engine ------

_ENGINE = """#!/bin/sh
# A stand-in for `docker exec CONTAINER sh -c SCRIPT`: runs SCRIPT here; "gone" does not exist, "hung" never answers.
case "$2" in
  gone) echo "Error response from daemon: No such container: gone" >&2; exit 1 ;;
  hung) sleep 30 ;;
esac
shift 4
exec sh -c "$1"
"""


def _run_batch_script(tmp_path, reads, limits):
    engine = tmp_path / "docker"
    engine.write_text(_ENGINE)
    engine.chmod(0o755)
    batch = BatchScript(reads, limits)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    out = subprocess.run(["sh", "-c", batch.script], capture_output=True, text=True, timeout=30, env=env).stdout
    return batch, batch.answers(out)


def test_a_batch_runs_one_exec_per_container_and_frames_each_read_inside_it(tmp_path):
    reads = [
        BatchRead(shell("echo host")),
        BatchRead(shell("echo %s; exit 3", "a'b $(x)"), engine="docker", container="nova_libvirt"),
        BatchRead(shell("echo two >&2"), engine="docker", container="nova_libvirt"),
        BatchRead(shell("echo other"), engine="docker", container="nova_compute"),
    ]
    batch, answers = _run_batch_script(tmp_path, reads, [5] * 4)
    assert batch.script.count(" exec ") == 2  # one per container, not one per read
    assert [(a.rc, a.stdout, a.stderr) for a, _ in answers] == [
        (0, "host\n", ""),
        (3, "a'b $(x)\n", ""),
        (0, "", "two\n"),
        (0, "other\n", ""),
    ]
    assert [why for _, why in answers] == ["", "", "", ""]
    assert batch.limit == 5 + EXEC_MARGIN


def test_an_exec_the_engine_refused_marks_each_of_its_reads_and_no_other(tmp_path):
    reads = [
        BatchRead(shell("cat /x"), engine="docker", container="gone"),
        BatchRead(shell("ls"), engine="docker", container="gone"),
        BatchRead(shell("echo ok")),
    ]
    _, answers = _run_batch_script(tmp_path, reads, [5] * 3)
    assert [why for _, why in answers[:2]] == ["Error response from daemon: No such container: gone"] * 2
    assert answers[2] == (answers[2][0], "") and answers[2][0].stdout == "ok\n"


def test_a_hung_exec_times_its_reads_out_within_their_limit_and_the_margin(tmp_path):
    reads = [BatchRead(shell("true"), engine="docker", container="hung"), BatchRead(shell("echo ok"))]
    _, answers = _run_batch_script(tmp_path, reads, [1, 1])
    assert answers[0][0].rc == 124  # the exec's own deadline: 1 s + EXEC_MARGIN
    assert answers[1][0].stdout == "ok\n"


def test_a_read_that_hangs_inside_a_container_is_its_own_timeout(tmp_path):
    reads = [
        BatchRead(shell("sleep 20"), engine="docker", container="nova_libvirt"),
        BatchRead(shell("echo fine"), engine="docker", container="nova_libvirt"),
    ]
    _, answers = _run_batch_script(tmp_path, reads, [1, 5])
    assert answers[0][0].rc == 124 and answers[1][0].stdout == "fine\n"
