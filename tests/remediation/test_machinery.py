"""Plan, apply, backup, rollback and lock machinery on real files with a real shell (no SSH, no lab)."""

import subprocess
import time

import pytest

from conformance.command import script
from conformance.kolla.expectations import Secret
from conformance.model import Verdict
from conformance.remediation import applier, backup, hostlock
from conformance.remediation.actions import Command, SetAttrs, WriteFile
from conformance.remediation.backup import Backup
from conformance.remediation.hostlock import HostLock, HostLocked, LockLost
from conformance.remediation.planner import Plan
from conformance.remediation.registry import Fix, Risk
from conformance.remediation.remote import FAIL_AT_ENV, Remote
from tests.remediation.local import LocalConnection, snapshot

PASSWORD = "pw-Zq81-never-shown"


def remote():
    return Remote(LocalConnection())


def plan_of(*actions, risk=Risk.SAFE):
    return Plan("localhost", Fix("sasl.mech-list", risk, "test fix", lambda ctx: []), list(actions))


def run_apply(plan, tmp_path, verdict=None, **kw):
    verdict = verdict or Verdict.passed()
    r = remote()
    return applier.apply(
        plan,
        r,
        lambda: verdict,
        lock_wait=0,
        lock_path=str(tmp_path / "lock"),
        backup_root=str(tmp_path / "backups"),
        **kw,
    ), r


def test_write_is_atomic_and_keeps_owner_and_mode(tree, tmp_path):
    path = tree / "sasl.conf"
    outcome, _ = run_apply(plan_of(WriteFile(str(path), "mech_list: DIGEST-MD5\n")), tmp_path)
    assert outcome.state == "fixed"
    assert path.read_text() == "mech_list: DIGEST-MD5\n"
    st = path.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (42427, 42427, 0o660)
    assert not [p for p in tree.iterdir() if p.name.startswith(".kc-")]  # no temp file left
    backups = list((tmp_path / "backups").iterdir())
    assert len(backups) == 1 and (backups[0] / "1").read_text().startswith("mech_list: scram")
    assert "sasl.conf" in (backups[0] / "manifest").read_text()


def test_still_failing_check_rolls_back_byte_identical(tree, tmp_path):
    before = snapshot(tree)
    plan = plan_of(
        WriteFile(str(tree / "sasl.conf"), "mech_list: DIGEST-MD5\n"),
        WriteFile(str(tree / "new.rules"), 'KERNEL=="kvm"\n', mode=0o644),
        SetAttrs(str(tree / "key.pem"), mode=0o600, owner="0:0"),
        Command(f"touch {tree}/made-by-command", "make a file", undo=f"rm -f {tree}/made-by-command"),
    )
    outcome, _ = run_apply(plan, tmp_path, verdict=Verdict.failed("x", "still y"))
    assert outcome.state == "still-failing" and outcome.rollback_problems == []
    assert snapshot(tree) == before


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_injected_failure_mid_apply_leaves_files_byte_identical(tree, tmp_path, monkeypatch, fail_at):
    before = snapshot(tree)
    monkeypatch.setenv(FAIL_AT_ENV, str(fail_at))
    plan = plan_of(
        WriteFile(str(tree / "sasl.conf"), "mech_list: DIGEST-MD5\n"),
        SetAttrs(str(tree / "key.pem"), mode=0o600),
        WriteFile(str(tree / "new.rules"), "x\n"),
    )
    outcome, _ = run_apply(plan, tmp_path)
    assert outcome.state == "rolled-back" and "injected failure" in outcome.error
    assert len(outcome.steps) == fail_at
    assert snapshot(tree) == before
    assert not (tmp_path / "backups").exists()  # a complete rollback leaves no trace, not even its backup


def test_a_failing_action_rolls_back_what_ran_before_it(tree, tmp_path):
    before = snapshot(tree)
    plan = plan_of(WriteFile(str(tree / "sasl.conf"), "changed\n"), Command("exit 3", "an action that fails"))
    outcome, _ = run_apply(plan, tmp_path)
    assert outcome.state == "rolled-back" and "exit 3" in outcome.error
    assert snapshot(tree) == before


def test_secret_goes_through_stdin_only(tree, tmp_path):
    target = tree / "from-stdin"
    action = Command(
        f"cat > {target}", "store a secret", stdin=Secret(PASSWORD + "\n"), stdin_hint='< "$SASL_PASSWORD_FILE"'
    )
    outcome, r = run_apply(plan_of(action), tmp_path)
    assert outcome.state == "fixed" and target.read_text() == PASSWORD + "\n"
    assert not any(PASSWORD in c for c in r.connection.commands)  # never in argv
    shown = plan_of(action).text() + plan_of(action).script() + outcome.text()
    assert PASSWORD not in shown and "SASL_PASSWORD_FILE" in shown


def test_secret_file_content_is_never_shown():
    action = WriteFile("/etc/kolla/nova-compute/auth.conf", f"password={PASSWORD}\n", "password=old\n", secret=True)
    assert PASSWORD not in action.diff() + "\n".join(action.script()) + action.describe()


def test_plan_shows_a_unified_diff_and_the_script_does_the_same_as_apply(tree, tmp_path):
    path = tree / "sasl.conf"
    action = WriteFile(str(path), "mech_list: DIGEST-MD5\nsasldb_path: /etc/libvirt/passwd.db\n", path.read_text())
    plan = plan_of(action)
    assert "-mech_list: scram-sha-256\n" in action.diff() and "+mech_list: DIGEST-MD5" in plan.text()
    script = tmp_path / "review.sh"
    script.write_text("set -eu\n" + plan.script())
    subprocess.run(["sh", str(script)], check=True)  # the reviewable script really works
    assert path.read_text().startswith("mech_list: DIGEST-MD5")
    assert (path.stat().st_uid, path.stat().st_mode & 0o777) == (42427, 0o660)


def test_the_review_script_runs_every_section_even_after_a_wait_loop_that_exits(tree, tmp_path):
    log = tree / "log"
    wait = f"for i in 1 2; do echo waited >> {log} && exit 0; done; exit 1"  # like a restart's readiness wait
    plan = plan_of(Command(wait, "restart"), Command(f"echo after >> {log}", "the next action"))
    script = tmp_path / "review.sh"
    script.write_text("set -eu\n" + plan.script())
    subprocess.run(["sh", str(script)], check=True)
    assert log.read_text().split() == ["waited", "after"]


def test_restore_puts_back_a_device_like_nodes_metadata(tmp_path):
    node = tmp_path / "kvm"
    subprocess.run(["mknod", "-m", "600", str(node), "c", "1", "3"], check=True)
    backup = Backup(remote(), "virt.dev-kvm-access", root=str(tmp_path / "b"))
    assert backup.save(str(node)).kind == "meta"
    subprocess.run(f"chgrp 42427 {node} && chmod 660 {node}", shell=True, check=True)
    assert backup.restore_all() == []
    assert (node.stat().st_gid, node.stat().st_mode & 0o777) == (0, 0o600)


def test_lock_excludes_a_second_run_and_only_its_owner_releases_it(tmp_path):
    path = str(tmp_path / "lock")
    with HostLock(remote(), wait=0, path=path):
        with pytest.raises(HostLocked, match="another run"):
            HostLock(remote(), wait=1, path=path).__enter__()
        HostLock(remote(), wait=0, path=path).__exit__(None, None, None)  # a stranger cannot release it
        assert (tmp_path / "lock").is_dir()
    assert list(tmp_path.iterdir()) == []  # nothing left behind, not even a guard file


def test_apply_on_a_locked_host_changes_nothing(tree, tmp_path):
    before = snapshot(tree)
    with HostLock(remote(), wait=0, path=str(tmp_path / "lock")):
        outcome, _ = run_apply(plan_of(WriteFile(str(tree / "sasl.conf"), "x\n")), tmp_path)
    assert outcome.state == "locked" and snapshot(tree) == before


def test_undo_commands_run_last_first_and_restarts_repeat_after_restore(tree, tmp_path):
    log = tree / "log"
    plan = plan_of(
        WriteFile(str(tree / "sasl.conf"), "new\n"),
        Command(f"echo restart >> {log}", "restart", rerun_on_rollback=True),
        Command(f"echo a >> {log}", "a", undo=f"echo undo-a >> {log}"),
        Command(f"echo b >> {log}", "b", undo=f"echo undo-b >> {log}"),
    )
    outcome, _ = run_apply(plan, tmp_path, verdict=Verdict.failed("x", "y"))
    assert outcome.state == "still-failing"
    assert log.read_text().split() == ["restart", "a", "b", "undo-b", "undo-a", "restart"]


def _held_by(tmp_path, owner: str, age_s: int = 0) -> str:
    lock = tmp_path / "lock"
    lock.mkdir()
    (lock / "owner").write_text(owner + "\n")
    if age_s:
        subprocess.run(["touch", "-d", f"-{age_s} seconds", str(lock / "owner")], check=True)
    return str(lock)


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_lock_whose_run_died_on_this_machine_is_taken_over(tree, tmp_path):
    import socket

    dead = f"abc123 pid {_dead_pid()} on {socket.gethostname()} since 1"
    _held_by(tmp_path, dead)
    outcome, _ = run_apply(plan_of(WriteFile(str(tree / "sasl.conf"), "new\n")), tmp_path)
    assert outcome.state == "fixed" and (tree / "sasl.conf").read_text() == "new\n"
    assert (
        outcome.steps[0] == f"took over a stale lock held by {dead}: its run (pid {dead.split()[2]} on this "
        "machine) is gone"
    )
    assert not (tmp_path / "lock").exists()  # released after the fix like any lock of ours


def test_a_lock_with_a_live_holder_is_respected_even_when_old_enough_to_look_stale_elsewhere(tree, tmp_path):
    import socket

    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        _held_by(tmp_path, f"abc123 pid {sleeper.pid} on {socket.gethostname()} since 1", age_s=60)
        before = snapshot(tree)
        outcome, _ = run_apply(plan_of(WriteFile(str(tree / "sasl.conf"), "x\n")), tmp_path)
        assert outcome.state == "locked" and snapshot(tree) == before
        assert (tmp_path / "lock" / "owner").read_text().startswith("abc123")
    finally:
        sleeper.kill()


@pytest.mark.parametrize("age_s,taken", [(5, False), (3600, True)])
def test_a_lock_from_another_machine_is_stale_only_after_its_heartbeat_stops(tree, tmp_path, age_s, taken):
    _held_by(tmp_path, "abc123 pid 1 on some-other-controller since 1", age_s=age_s)
    outcome, _ = run_apply(plan_of(WriteFile(str(tree / "sasl.conf"), "new\n")), tmp_path, lock_stale_after=900)
    assert (outcome.state == "fixed") is taken
    if taken:
        assert "no heartbeat for" in outcome.steps[0]
    else:
        assert "being remediated by another run (abc123 pid 1 on some-other-controller" in outcome.error


def test_a_stale_lock_changed_meanwhile_is_not_taken_over(tmp_path):
    """Compare-and-swap: the take-over replaces only the owner that was judged stale."""
    lock = HostLock(remote(), wait=0, path=_held_by(tmp_path, "new-owner pid 1 on elsewhere since 1"))
    out = (
        remote().run(script(hostlock._TAKE_OVER, lock.path, lock.token, "old-owner pid 1 on elsewhere since 1")).stdout
    )
    assert out.strip() == "changed"
    assert (tmp_path / "lock" / "owner").read_text() == "new-owner pid 1 on elsewhere since 1\n"


def test_the_holder_heartbeat_touches_only_its_own_lock(tmp_path):
    path = str(tmp_path / "lock")
    with HostLock(remote(), wait=0, path=path) as lock:
        subprocess.run(["touch", "-d", "-1 hour", f"{path}/owner"], check=True)
        with pytest.raises(LockLost):  # a stranger's heartbeat: no effect, and it
            HostLock(remote(), wait=0, path=path).heartbeat()  # learns the lock is not its own
        assert (tmp_path / "lock" / "owner").stat().st_mtime < time.time() - 3000
        lock.heartbeat()
        assert (tmp_path / "lock" / "owner").stat().st_mtime > time.time() - 60


def test_prune_removes_only_this_suites_old_backup_folders(tmp_path):
    root = tmp_path / "backups"
    old, new = root / "20250101T000000Z-sasl.mech-list-abc123", root / "20261122T000000Z-tls.chain-def456"
    foreign = root / "operator-notes"
    for folder in (old, new, foreign):
        folder.mkdir(parents=True)
        (folder / "manifest").write_text("1\tfile\t0:0\t600\t/etc/x\n")
    for folder in (old, foreign):
        subprocess.run(["touch", "-d", "-40 days", str(folder)], check=True)
    subprocess.run(["touch", "-d", "-2 days", str(new)], check=True)
    assert backup.prune(remote(), 30, str(root), dry_run=True) == [str(old)]
    assert old.exists()  # plan mode only lists
    assert backup.prune(remote(), 30, str(root)) == [str(old)]
    assert not old.exists() and new.exists() and foreign.exists()
    assert backup.prune(remote(), 30, str(tmp_path / "none")) == []


class _Waiting(LocalConnection):
    """Sets `event` when this run finds the host's lock held by another run (it then waits for it)."""

    def __init__(self, event):
        super().__init__()
        self.event = event

    def run(self, command, *args, timeout=None, stdin=None):
        result = super().run(command, *args, timeout=timeout, stdin=stdin)
        if result.stdout.startswith("held "):
            self.event.set()
        return result


def test_a_run_that_waited_for_the_lock_judges_again_and_does_not_redo_another_runs_fix(tree, tmp_path):
    """Two real runs on one host: B plans while A holds the lock; once B has the lock, the check passes, so B
    changes nothing (acting on its old plan could undo A's work, e.g. an undo deleting the user A created)."""
    import threading

    conf = tree / "sasl.conf"
    original = conf.read_text()

    def judge():
        return Verdict.passed() if conf.read_text() == "fixed\n" else Verdict.failed("fixed", conf.read_text())

    def confirm():
        verdict = judge()
        return verdict, None if verdict.status.value == "pass" else plan_of(
            WriteFile(str(conf), "fixed\n", conf.read_text())
        )

    b_waits, outcomes = threading.Event(), {}

    def a_recheck():  # A holds the lock until B is seen waiting for it
        assert b_waits.wait(30)
        return judge()

    kw = dict(lock_path=str(tmp_path / "lock"), backup_root=str(tmp_path / "backups"), confirm=confirm)
    plan = plan_of(WriteFile(str(conf), "fixed\n", original))
    b_remote = Remote(_Waiting(b_waits))
    a = threading.Thread(target=lambda: outcomes.update(a=applier.apply(plan, remote(), a_recheck, 0, **kw)))
    a.start()
    while not (tmp_path / "lock").exists():
        time.sleep(0.01)
    outcomes["b"] = applier.apply(plan, b_remote, judge, 30, **kw)
    a.join(30)
    assert outcomes["a"].state == "fixed" and conf.read_text() == "fixed\n"
    assert outcomes["b"].state == "already-fixed" and outcomes["b"].verdict.status.value == "pass"
    assert not any("mktemp" in c for c in b_remote.connection.commands)  # B wrote nothing


def test_a_plan_made_on_a_host_that_changed_since_is_not_applied(tree, tmp_path):
    before = snapshot(tree)
    stale = plan_of(WriteFile(str(tree / "sasl.conf"), "fixed\n", "what the plan saw\n"))
    now = plan_of(WriteFile(str(tree / "sasl.conf"), "fixed\n", (tree / "sasl.conf").read_text()))
    outcome, _ = run_apply(stale, tmp_path, confirm=lambda: (Verdict.failed("x", "y"), now))
    assert outcome.state == "host-changed" and "run again" in outcome.error
    assert snapshot(tree) == before


def test_a_run_whose_lock_was_taken_over_stops_and_leaves_the_other_runs_host_alone(tree, tmp_path):
    """This run was suspended past --remediate-lock-stale and another run took the lock over during action 2.
    The heartbeat after it notices: no further action, no rollback under the other run's feet, the lock stays."""
    lock = tmp_path / "lock"
    takeover = Command(f"echo 'other-run pid 1 on elsewhere since 1' > {lock}/owner", "another run takes over")
    plan = plan_of(
        WriteFile(str(tree / "sasl.conf"), "mech_list: DIGEST-MD5\n"),
        takeover,
        WriteFile(str(tree / "never.conf"), "x\n"),
    )
    outcome, _ = run_apply(plan, tmp_path)
    assert outcome.state == "lock-lost", outcome.text()
    assert "now held by other-run pid 1 on elsewhere" in outcome.error and "stopped after 2 of 3" in outcome.error
    assert (tree / "sasl.conf").read_text() == "mech_list: DIGEST-MD5\n"  # not rolled back
    assert not (tree / "never.conf").exists()  # nothing after the loss
    assert (lock / "owner").read_text().startswith("other-run")  # the other run's lock is kept
    assert "backup on the host" in outcome.text()


NOT_JUDGED = Verdict.not_judged("cannot look inside nova_libvirt now: container state improper")


def test_a_check_that_cannot_judge_after_the_fix_is_not_taken_for_fixed(tree, tmp_path):
    # A container restarting when the check runs again: nothing proves the fix, so it is rolled back.
    before = snapshot(tree)
    outcome, _ = run_apply(
        plan_of(WriteFile(str(tree / "sasl.conf"), "mech_list: DIGEST-MD5\n")), tmp_path, verdict=NOT_JUDGED
    )
    assert outcome.state == "still-failing" and "container state improper" in outcome.error
    assert snapshot(tree) == before


def test_a_check_that_cannot_judge_under_the_lock_is_not_taken_for_already_fixed(tree, tmp_path):
    before = snapshot(tree)
    plan = plan_of(WriteFile(str(tree / "sasl.conf"), "mech_list: DIGEST-MD5\n"))
    outcome, _ = run_apply(plan, tmp_path, confirm=lambda: (NOT_JUDGED, None))
    assert outcome.state == "host-changed" and "cannot judge the host now" in outcome.error
    assert snapshot(tree) == before


class _Interrupt:
    """An action during which the operator presses Ctrl-C."""

    risk = Risk.SAFE

    def describe(self):
        return "an action interrupted"

    def apply(self, journal):
        raise KeyboardInterrupt


def test_ctrl_c_in_the_middle_of_an_apply_rolls_back_before_it_stops_the_run(tree, tmp_path):
    before = snapshot(tree)
    plan = plan_of(
        WriteFile(str(tree / "sasl.conf"), "new\n"), SetAttrs(str(tree / "key.pem"), mode=0o600), _Interrupt()
    )
    with pytest.raises(KeyboardInterrupt):
        run_apply(plan, tmp_path)
    assert snapshot(tree) == before
    assert not (tmp_path / "lock").exists()  # released on the way out too
