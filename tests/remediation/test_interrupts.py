"""Interrupts in the middle of a fix (issue 12, item 4): SIGINT and SIGTERM let the action in progress end, roll
the fix back (restarts repeated on the restored files) and stop the run; a second signal or SIGKILL leaves the
lock and its journal, and the next run, whatever it plans, takes the lock over and rolls the dead run's fix back.

First the machinery on real files with a real shell (signals sent to this process by the action's own command),
then a lab of three docker hosts: every signal at every step of the mech-list fix (write sasl.conf, restart
nova_libvirt), the host checked over SSH afterwards and the suite run again to see what it recovers."""

from __future__ import annotations

import base64
import concurrent.futures
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conformance.model import Verdict
from conformance.remediation import applier, hostlock
from conformance.remediation.actions import Command, WriteFile
from conformance.remediation.hostlock import ForcedStop
from tests.remediation.hoststate import files, ssh
from tests.remediation.local import snapshot
from tests.remediation.test_machinery import _dead_pid, plan_of, remote

# -- machinery -----------------------------------------------------------------------------------------------


def _paths(tmp_path):
    return dict(lock_path=str(tmp_path / "lock"), backup_root=str(tmp_path / "backups"))


def _restart(tree, signals: int = 1) -> Command:
    """A 'restart' that logs itself and, the first time only, sends `signals` SIGINTs to this process while it
    runs (as an operator pressing Ctrl-C during it), then goes on for a moment."""
    log, flag = tree / "log", tree / "signalled"
    kills = "; sleep 0.2; ".join(["kill -INT $PPID"] * signals)
    body = f"echo begin >> {log}; [ -e {flag} ] || {{ touch {flag}; {kills}; }}; sleep 0.3; echo end >> {log}"
    return Command(body, "restart the service", rerun_on_rollback=True)


def test_sigint_during_a_restart_lets_it_end_then_rolls_back_and_restarts_on_the_restored_file(tree, tmp_path):
    before = snapshot(tree)
    handler = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN when started as a background job
    plan = plan_of(WriteFile(str(tree / "sasl.conf"), "mech_list: DIGEST-MD5\n"), _restart(tree))
    with pytest.raises(applier.Interrupted) as caught:
        applier.apply(plan, remote(), lambda: Verdict.passed(), lock_wait=0, **_paths(tmp_path))
    outcome = caught.value.outcome
    assert caught.value.signal_name == "SIGINT" and outcome.state == "interrupted"
    assert "interrupted (SIGINT) after 2 of 2 action(s)" in outcome.error
    assert "rolled back: every change reverted" in outcome.text()
    # The restart in flight ran to its end, then the file came back and the restart ran again on it.
    assert (tree / "log").read_text().split() == ["begin", "end", "begin", "end"]
    (tree / "log").unlink()
    (tree / "signalled").unlink()
    assert snapshot(tree) == before
    assert not (tmp_path / "lock").exists() and not (tmp_path / "backups").exists()
    assert signal.getsignal(signal.SIGINT) is handler  # the handler from before the run is back


def test_sigint_while_waiting_for_another_runs_lock_stops_the_wait_and_changes_nothing(tree, tmp_path):
    before = snapshot(tree)
    with hostlock.HostLock(remote(), wait=0, path=str(tmp_path / "lock")):
        timer = subprocess.Popen(["sh", "-c", f"sleep 0.5; kill -INT {os.getpid()}"])
        started = time.monotonic()
        with pytest.raises(applier.Interrupted) as caught:
            applier.apply(
                plan_of(WriteFile(str(tree / "sasl.conf"), "x\n")),
                remote(),
                Verdict.passed,
                lock_wait=30,
                **_paths(tmp_path),
            )
        timer.wait()
        assert time.monotonic() - started < 5
        assert (tmp_path / "lock").is_dir()  # the other run's lock is untouched
    assert caught.value.outcome.state == "interrupted" and "nothing applied" in caught.value.outcome.error
    assert "nothing changed on the host" in caught.value.outcome.text()
    assert snapshot(tree) == before


def test_an_interrupt_during_the_recheck_of_a_working_fix_keeps_the_fix(tree, tmp_path):
    def recheck():  # the signal arrives while the check runs again: the host is fixed, so it stays fixed
        os.kill(os.getpid(), signal.SIGTERM)
        return Verdict.passed()

    with pytest.raises(applier.Interrupted) as caught:
        applier.apply(
            plan_of(WriteFile(str(tree / "sasl.conf"), "fixed\n")), remote(), recheck, lock_wait=0, **_paths(tmp_path)
        )
    assert caught.value.signal_name == "SIGTERM" and caught.value.outcome.state == "fixed"
    assert (tree / "sasl.conf").read_text() == "fixed\n" and not (tmp_path / "lock").exists()


def _as_if_dead(tmp_path) -> None:
    """The run that holds the lock is gone (a SIGKILL, a lost controller): its owner names a dead pid here."""
    import socket

    owner = tmp_path / "lock" / "owner"
    owner.write_text(f"0123abcd pid {_dead_pid()} on {socket.gethostname()} since 1\n")


def test_a_second_signal_stops_at_once_and_the_next_run_rolls_the_fix_back_from_the_host_journal(tree, tmp_path):
    before = snapshot(tree)
    undo = Command(f"touch {tree}/made", "make a file", undo=f"rm -f {tree}/made")
    plan = plan_of(WriteFile(str(tree / "sasl.conf"), "mech_list: DIGEST-MD5\n"), undo, _restart(tree, signals=2))
    with pytest.raises(ForcedStop):
        applier.apply(plan, remote(), Verdict.passed, lock_wait=0, **_paths(tmp_path))
    assert (tree / "sasl.conf").read_text() == "mech_list: DIGEST-MD5\n" and (tree / "made").exists()
    journal = (tmp_path / "lock" / "journal").read_text()  # left on the host for the next run
    assert "fix\tsasl.mech-list\t3" in journal and "begin\t3\t" in journal and "done\t3" not in journal
    _as_if_dead(tmp_path)
    outcome = applier.recover_stale(remote(), str(tmp_path / "lock"))  # the next run, before it judges anything
    assert outcome.state == "recovered", outcome.text()
    text = outcome.text()
    assert "its run (pid" in text and "had begun 3 of 3 action(s), the last one cut off: restart the service" in text
    assert "recovered: undo: make a file" in text and "recovered: restored " in text
    assert "recovered: again after restore: restart the service" in text
    assert "the host is as it was before that fix" in text and "rolled back: every change reverted" in text
    assert (tree / "log").read_text().split()[-2:] == ["begin", "end"]  # restarted on the restored file
    for made in ("log", "signalled"):
        (tree / made).unlink()
    assert snapshot(tree) == before
    assert not (tmp_path / "lock").exists() and not (tmp_path / "backups").exists()


def test_an_apply_that_takes_a_dead_runs_lock_over_rolls_its_fix_back_first(tree, tmp_path):
    original = (tree / "sasl.conf").read_text()
    with pytest.raises(ForcedStop):
        applier.apply(
            plan_of(WriteFile(str(tree / "sasl.conf"), "half\n"), _restart(tree, signals=2)),
            remote(),
            Verdict.passed,
            lock_wait=0,
            **_paths(tmp_path),
        )
    _as_if_dead(tmp_path)
    seen = []

    def recheck():
        seen.append((tree / "sasl.conf").read_text())
        return Verdict.passed()

    outcome = applier.apply(
        plan_of(WriteFile(str(tree / "key.pem"), "k\n")), remote(), recheck, lock_wait=0, **_paths(tmp_path)
    )
    assert outcome.state == "fixed" and "recovered: restored " in outcome.text()
    assert "recovered: again after restore: restart the service" in outcome.text()
    assert seen == [original] == [(tree / "sasl.conf").read_text()]  # judged after the dead run's fix went
    assert not (tmp_path / "lock").exists()


def test_a_lock_of_a_live_run_is_left_alone_and_a_free_host_costs_one_read(tree, tmp_path):
    r = remote()
    assert applier.recover_stale(r, str(tmp_path / "lock")) is None and len(r.connection.commands) == 1
    with hostlock.HostLock(remote(), wait=0, path=str(tmp_path / "lock")):
        assert applier.recover_stale(remote(), str(tmp_path / "lock")) is None
        assert (tmp_path / "lock").is_dir()
        assert applier.stale_note(remote(), str(tmp_path / "lock")) == ""


def test_plan_mode_only_says_what_apply_would_recover(tree, tmp_path):
    with pytest.raises(ForcedStop):
        applier.apply(
            plan_of(WriteFile(str(tree / "sasl.conf"), "new\n"), _restart(tree, signals=2)),
            remote(),
            Verdict.passed,
            lock_wait=0,
            **_paths(tmp_path),
        )
    _as_if_dead(tmp_path)
    host = snapshot(tmp_path)
    note = applier.stale_note(remote(), str(tmp_path / "lock"))
    assert "had begun 2 of 2 action(s), the last one cut off: restart the service" in note
    assert "--remediate=apply takes it over and rolls that fix back" in note
    assert snapshot(tmp_path) == host


def test_a_journal_cut_off_mid_line_still_says_what_to_undo():
    rerun = base64.b64encode(b"systemctl restart libvirtd").decode()
    what = base64.b64encode(b"again after restore: restart").decode()
    left = applier.LeftBehind.parse(
        f"fix\tsasl.mech-list\t2\nbackup\t/b/1\nbegin\t1\tZQ==\ndone\t1\n"
        f"begin\t2\tcg==\nrerun\t2\t{rerun}\t{what}\nundo\t2\t0\tcm0"
    )
    assert left.backup == "/b/1" and left.done == {1} and sorted(left.begun) == [1, 2]
    assert left.rerun == [(2, "systemctl restart libvirtd", "again after restore: restart")] and left.undo == []


# -- the lab -------------------------------------------------------------------------------------------------

LAB = {
    "name": "remediate-interrupts",
    "hosts": [{"name": name, "shape": "docker", "faults": ["scram-over-tcp"]} for name in ("k1", "k2", "k3")],
}
SOURCE = "/etc/kolla/nova-libvirt/sasl.conf"  # the Kolla source the mech-list fix rewrites
COPY = "/etc/sasl2/libvirt.conf"  # nova_libvirt's copy, made by kolla_start when it starts
LOCK = "/run/lock/kolla-conformance-remediation"
ORIGINAL = "/root/sasl.conf.before-the-fix"  # outside what files() fingerprints: to reset a fixed host
# What the host shows at each step of the fix (the journal is the lock's own, written before each action).
STEPS = {
    "reading": None,  # the run's SSH master is up: checks read
    "locked": f"test -d {LOCK} && ! test -e {LOCK}/journal",  # lock taken, judging again under it
    "written": f"grep -q '^done\t1$' {LOCK}/journal",  # sasl.conf rewritten, the restart begins
    "restarting": "pgrep -f '[d]ocker restart nova_libvirt' >/dev/null",
    "rechecking": f"grep -q '^done\t2$' {LOCK}/journal",  # restarted; the check runs again
}
SERIES = {
    "k1": ("SIGINT", list(STEPS)),
    "k2": ("SIGTERM", list(STEPS)),
    "k3": ("SIGKILL", [s for s in STEPS if s != "reading"]),
}  # SIGKILL: the steps of the fix itself
STATE = (
    f"sha256sum < {SOURCE}; docker exec nova_libvirt sh -c 'sha256sum < {COPY}'; "
    "docker inspect -f '{{.State.Status}}' nova_libvirt; "
    f"test -d {LOCK} && echo locked || echo free; ls /var/backups/kolla-conformance 2>/dev/null | wc -l"
)
APPLY = ("--remediate=apply", "--remediate-max-risk", "disruptive")


@pytest.fixture(scope="module")
def lab(lab_factory):
    info = lab_factory(LAB)
    for host in info.hosts:
        assert ssh(info, host, f"mkdir -p /run/lock && cp -a {SOURCE} {ORIGINAL}").returncode == 0
    return info


class Poller:
    """Fast questions to one lab host over the test's own SSH master (a few ms each)."""

    def __init__(self, info, host, folder):
        self.base = [
            "ssh",
            "-F",
            str(info.ssh_config),
            "-o",
            "ControlMaster=auto",
            "-o",
            f"ControlPath={folder}/poll-{host}",
            "-o",
            "ControlPersist=300",
            host,
        ]

    def ok(self, command: str) -> bool:
        return subprocess.run(self.base + [command], capture_output=True, timeout=30).returncode == 0

    def close(self) -> None:
        subprocess.run(self.base[:-1] + ["-O", "exit", self.base[-1]], capture_output=True, timeout=30)


def _state(info, host) -> dict:
    lines = ssh(info, host, STATE).stdout.split("\n")
    return {
        "source": lines[0].split()[0],
        "copy": lines[1].split()[0] if lines[1].strip() else "",
        "container": lines[2].strip(),
        "lock": lines[3].strip(),
        "backups": int(lines[4]),
    }


def _masters(folder: str) -> list[str]:
    """ssh processes of the run (its master renames itself `ssh: <control path> [mux]`)."""
    out = subprocess.run(["pgrep", "-af", f"{folder}/kc-"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "ssh" in line]


def _suite(info, host, folder, select, *extra) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--profile",
        str(info.profile_path),
        "-p",
        "no:cacheprovider",
        "-q",
        "-k",
        f"{host} and ({select})",
        "--remediate-dir",
        str(Path(folder) / "scripts"),
        *extra,
    ]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=folder,
        env={**os.environ, "TMPDIR": folder},
        start_new_session=True,
    )


def _interrupt(info, host, folder, poller, sig_name, step) -> dict:
    """One suite run, sent `sig_name` once the host shows `step`; the host as the run left it."""
    started = time.monotonic()
    # sasl.auth-conf passes before the fix runs: the interrupted run has a finding a summary could gate on.
    run = _suite(info, host, folder, "sasl.auth-conf or sasl.mech-list", *APPLY)
    seen = False
    while run.poll() is None and time.monotonic() - started < 90:
        if STEPS[step] is None:
            seen = any(name.startswith("kc-") and os.listdir(Path(folder) / name) for name in os.listdir(folder))
            time.sleep(0.01)
        else:
            seen = poller.ok(STEPS[step])
        if seen:
            break
    seen_after = time.monotonic() - started
    run.send_signal(getattr(signal, sig_name))
    out, _ = run.communicate(timeout=240)
    outcome = next((line.strip() for line in out.splitlines() if line.strip().startswith("outcome: ")), "")
    return {
        "rc": run.returncode,
        "output": out,
        "seen": seen,
        "seen_after": round(seen_after, 2),
        "outcome": outcome,
        "masters": _masters(folder),
        "state": _state(info, host),
    }


def _reset(info, host) -> None:
    """Back to the fault, byte for byte (after a case that ended fixed, or a step the run passed unseen)."""
    ssh(
        info,
        host,
        f"rm -rf {LOCK} /var/backups/kolla-conformance; cp -a {ORIGINAL} {SOURCE}; "
        "docker restart nova_libvirt >/dev/null; for i in $(seq 60); do "
        "docker exec nova_libvirt virsh version --daemon >/dev/null 2>&1 && break; sleep 1; done",
    )


def _case(info, host, sig_name, step, original_sha) -> dict:
    folder = tempfile.mkdtemp(prefix="kir-", dir="/tmp")  # short: the run's control sockets live here
    poller = Poller(info, host, folder)
    try:
        started = time.monotonic()
        attempts = 0
        while attempts < 2:  # a step the run went past before a poll saw it: once more
            attempts += 1
            before = files(info, host)
            interrupted = _interrupt(info, host, folder, poller, sig_name, step)
            if interrupted["seen"]:
                break
            _reset(info, host)
        case = {
            "before": before,
            "original": original_sha,
            "interrupted": interrupted,
            "attempts": attempts,
            "killed": files(info, host) if sig_name == "SIGKILL" else "",
        }
        if sig_name == "SIGKILL":
            for sock in Path(folder).glob("kc-*/*"):  # the killed run could not close its master: the test does
                subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True)
            if step == "restarting":  # plan mode only says what apply would recover, and changes nothing
                plan = _suite(info, host, folder, "virt.dev-kvm", "--remediate=plan")
                plan_out, _ = plan.communicate(timeout=240)
                case["plan"] = {
                    "rc": plan.returncode,
                    "output": plan_out,
                    "files": files(info, host),
                    "state": _state(info, host),
                }
            # The next run has nothing to fix on this host (virt.dev-kvm passes): whatever it plans, it recovers.
            nxt = _suite(info, host, folder, "virt.dev-kvm", *APPLY)
            next_out, _ = nxt.communicate(timeout=240)
            case["next"] = {"rc": nxt.returncode, "output": next_out, "state": _state(info, host)}
        case["files"] = files(info, host)
        state = case.get("next", interrupted)["state"]
        if state["source"] != original_sha or state["lock"] != "free":
            _reset(info, host)
        case["seconds"] = round(time.monotonic() - started, 1)
        return case
    finally:
        poller.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cases(lab):
    """Every (signal, step) case; the three hosts' series run side by side (one signal per host)."""
    originals = {host: _state(lab, host)["source"] for host in lab.hosts}

    def series(host):
        sig_name, steps = SERIES[host]
        return {(sig_name, step): _case(lab, host, sig_name, step, originals[host]) for step in steps}

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(SERIES)) as pool:
        results = {}
        for found in pool.map(series, SERIES):
            results.update(found)
    results["seconds"] = round(time.monotonic() - started, 1)
    print(
        f"\n{len(results) - 1} interrupt cases in {results['seconds']} s (case: seconds, rc, step seen after s, "
        "outcome of the interrupted run / of the next run):"
    )
    for (sig_name, step), case in ((k, v) for k, v in results.items() if k != "seconds"):
        run = case["interrupted"]
        nxt = next(
            (
                line.strip()
                for line in case.get("next", {}).get("output", "").splitlines()
                if line.strip().startswith("outcome: ")
            ),
            "-",
        )
        print(
            f"  {sig_name} {step}: {case['seconds']} s ({case['attempts']} run(s)), rc {run['rc']}, "
            f"seen {run['seen_after']} s, "
            f"{run['outcome'] or '(no fix begun)'} / {nxt}; after it: {_brief(run['state'], case['original'])}"
        )
    return results


def _brief(state: dict, original: str) -> str:
    source = "original" if state["source"] == original else "fixed"
    copy = "copy = source" if state["copy"] == state["source"] else "copy differs from source"
    return (
        f"source {source}, {copy}, nova_libvirt {state['container']}, lock {state['lock']}, backups {state['backups']}"
    )


def _soft_cases():
    return [(sig, step) for host, (sig, steps) in SERIES.items() if sig != "SIGKILL" for step in steps]


@pytest.mark.parametrize("sig_name,step", _soft_cases(), ids=[f"{s}-{st}" for s, st in _soft_cases()])
def test_sigint_and_sigterm_leave_the_host_consistent_the_run_closed_and_no_gate_claimed(cases, sig_name, step):
    case = cases[(sig_name, step)]
    run, state = case["interrupted"], case["interrupted"]["state"]
    assert run["seen"], f"the run ended before step {step} was seen: {run['output'][-2000:]}"
    assert run["rc"] == 2, run["output"][-3000:]
    # The service runs on the file it has on disk, the lock is released, no SSH master outlives the run.
    assert state["container"] == "running" and state["copy"] == state["source"], state
    assert state["lock"] == "free" and run["masters"] == [], (state, run["masters"])
    if state["source"] == case["original"]:  # rolled back (or never begun): byte-identical, no backup left
        assert case["files"] == case["before"] and state["backups"] == 0
    else:  # the interrupt came while the check ran again on a working fix
        assert step == "rechecking" and "outcome: fixed" in run["output"], run["output"][-3000:]
    # An interrupted run never claims a gate result.
    assert "interrupted: no gate result" in run["output"] and "gate: exit" not in run["output"], run["output"]
    if step != "reading":
        assert f"1 plan(s): {'fixed' if state['source'] != case['original'] else 'interrupted'} 1" in run["output"]


def test_ctrl_c_during_the_restart_leaves_nova_libvirt_on_the_restored_file(cases):
    """Issue 12: the restart in flight started the container on the fixed file and none followed the restore."""
    case = cases[("SIGINT", "restarting")]
    state = case["interrupted"]["state"]
    assert state["source"] == state["copy"] == case["original"] and state["container"] == "running"
    assert "rolled back: every change reverted" in case["interrupted"]["output"]


@pytest.mark.parametrize("step", SERIES["k3"][1])
def test_sigkill_at_each_step_is_recovered_by_the_next_run_which_says_so(cases, step):
    case = cases[("SIGKILL", step)]
    run, nxt = case["interrupted"], case["next"]
    assert run["seen"] and run["rc"] == -signal.SIGKILL, run["output"][-2000:]
    assert run["state"]["lock"] == "locked"  # the killed run could not release it
    # The next run has nothing to fix here; it still took the lock over and rolled the dead run's fix back.
    assert nxt["rc"] == 0, nxt["output"][-3000:]
    out = nxt["output"]
    assert (
        "outcome: recovered" in out and "took over a stale lock held by" in out and "on this machine) is gone" in out
    ), out[-3000:]
    if step != "locked":
        assert f"recovered: restored {SOURCE} from /var/backups/kolla-conformance/" in out
        assert "recovered: again after restore: restart the nova_libvirt container" in out
        assert "the host is as it was before that fix (its backup was removed)" in out
    state = nxt["state"]
    assert state["lock"] == "free" and state["backups"] == 0
    assert state["source"] == state["copy"] == case["original"] and state["container"] == "running"
    assert case["files"] == case["before"]  # byte-identical (owner, mode, sha256 of every file)


def test_plan_mode_after_a_sigkill_says_what_apply_would_recover_and_changes_nothing(cases):
    case = cases[("SIGKILL", "restarting")]
    plan = case["plan"]
    assert plan["rc"] == 0 and "outcome: would recover" in plan["output"], plan["output"][-3000:]
    assert "had begun 2 of 2 action(s)" in plan["output"] and "--remediate=apply takes it over" in plan["output"]
    assert plan["files"] == case["killed"] and plan["state"]["lock"] == "locked"
