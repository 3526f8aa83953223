"""The pytest plugin (entry point `pytest11`): `pytest --profile PROFILE.yml [--alluredir DIR] [-n N]`.

Data flows one way: profile -> expectations (per host) -> facts (per host, cached) -> checks -> findings -> reports.
Without --profile the plugin only registers its options and markers.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.metadata
import time
import warnings
from pathlib import Path

import pytest

from conformance import checks as check_registry
from conformance import gather
from conformance import waivers as waiver_rules
from conformance.errors import ConformanceError, ExitCode, HostUnreachable, ProfileError
from conformance.model import Finding, Phase, Status
from conformance.profile import KOLLA_OPTIONS, load_profile
from conformance.report import allure_report, resolved, results, terminal
from conformance.runtime import Run

SUITE = Path(__file__).parent / "suite" / "kolla_conformance.py"
FINDING_PROPERTY = results.FINDING_PROPERTY
SESSION = pytest.StashKey["ConformanceSession"]()  # the run's session, for the suite's fixtures


class ConformanceWarning(UserWarning):
    """A check that passed the gate with a warning (Status.WARN)."""


@dataclasses.dataclass(frozen=True)
class Target:
    host: str
    check_id: str

    def __str__(self) -> str:
        return f"{self.host}:{self.check_id}"


_PROFILING = "pytest-profiling"  # its --profile (a switch) is older than ours: where it is installed, it keeps it


def _profiling_installed() -> bool:
    try:
        importlib.metadata.distribution(_PROFILING)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _profile_flags() -> tuple[str, ...]:
    """`--conformance-profile` always; `--profile` too unless pytest-profiling owns it (two plugins adding one
    option make every pytest command, `--help` included, fail)."""
    return ("--conformance-profile",) if _profiling_installed() else ("--profile", "--conformance-profile")


# pytest-testinfra's own options (it is installed beside the suite) and what the suite reads instead.
TESTINFRA_OPTIONS = (
    ("--hosts", "hosts", "the hosts are the profile's `hosts:` or Kolla's inventory; narrow them with --kolla-limit"),
    ("--connection", "connection", "the suite connects over ssh as the profile's `ssh:` says"),
    ("--ssh-config", "ssh_config", "set `ssh.config` in the profile"),
    ("--ssh-identity-file", "ssh_identity_file", "set `ssh.identity_file` in the profile"),
    ("--ssh-extra-args", "ssh_extra_args", "use the profile's `ssh:` keys (jump_host, port, config, ...)"),
    ("--sudo", "sudo", "set `ssh.sudo: true` in the profile"),
    ("--sudo-user", "sudo_user", "the suite runs as the ssh user, with `ssh.sudo` to root"),
    ("--ansible-inventory", "ansible_inventory", "set `kolla.inventory` in the profile, or --kolla-inventory"),
    ("--force-ansible", "force_ansible", "the suite reads hosts over ssh, not through Ansible's connection"),
    ("--nagios", "nagios", "use --findings-json, --junitxml or --alluredir for machine-readable results"),
)


def pytest_addhooks(pluginmanager):
    from conformance import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser):
    group = parser.getgroup("kolla-conformance", "Kolla libvirt conformance")
    group.addoption(
        *_profile_flags(),
        dest="conformance_profile",
        metavar="PROFILE.yml",
        help="host profile to check, a file or a shipped profile's name, e.g. predeploy-gate (enables the suite)",
    )
    group.addoption(
        "--phase",
        action="append",
        choices=[p.value for p in Phase],
        help="run the checks of this phase (repeatable); default: the profile's phases",
    )
    group.addoption(
        "--findings-json",
        metavar="PATH",
        help="write every finding (redacted) as a JSON list to PATH, for CI and other tools",
    )
    group.addoption(
        "--waivers",
        metavar="WAIVERS.yml",
        help="waiver file (check, hosts, reason, expires, approved_by); overrides the profile's `waivers`",
    )
    kolla = parser.getgroup(
        "kolla-conformance-kolla", "Kolla deployment (kolla-ansible's own flags; each beats the profile)"
    )
    kolla.addoption(
        "--kolla-configdir",
        dest="kolla_config_dir",
        metavar="DIR",
        help="kolla-ansible --configdir (default $KOLLA_CONFIG_PATH, /etc/kolla)",
    )
    kolla.addoption(
        "--kolla-inventory",
        dest="kolla_inventory",
        action="append",
        metavar="PATH",
        help="kolla-ansible -i (repeatable)",
    )
    kolla.addoption(
        "--kolla-extra-vars",
        dest="kolla_extra_vars",
        action="append",
        metavar="VARS",
        help="kolla-ansible -e (repeatable)",
    )
    kolla.addoption("--kolla-vault-password-file", dest="kolla_vault_password_file", metavar="FILE")
    kolla.addoption(
        "--kolla-ask-vault-pass", dest="kolla_ask_vault_pass", action="store_true", help="prompt for the vault password"
    )
    kolla.addoption(
        "--kolla-limit", dest="kolla_limit", metavar="PATTERN", help="an Ansible host pattern, as kolla-ansible --limit"
    )
    kolla.addoption(
        "--kolla-release", dest="kolla_release", metavar="VERSION", help="kolla-ansible version or series (2024.1)"
    )
    kolla.addoption(
        "--kolla-ansible-dir", dest="kolla_ansible_dir", metavar="DIR", help="Kolla Ansible's files for that release"
    )
    group.addoption(
        "--canary",
        action="store_true",
        help="run the canary guest on each host: a transient, paused guest created and removed through nova's "
        "URI (libvirt.canary-guest); overrides the profile's `canary`",
    )
    group.addoption(
        "--strict-warnings",
        action="store_true",
        help="warnings fail the gate (exit 1) like failed checks; waived warnings still pass",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    # Keep every check of one host on one xdist worker: facts are read once per host, over one SSH connection.
    if config.getoption("conformance_profile") and getattr(config.option, "numprocesses", None):
        if getattr(config.option, "dist", "no") in ("no", "load"):
            config.option.dist = "loadgroup"


def pytest_configure(config):
    for phase in Phase:
        config.addinivalue_line("markers", f"{phase.value}: conformance checks of the {phase.value} phase")
    path = config.getoption("conformance_profile")
    if not path:
        if _profiling_installed() and config.getoption("profile", None) is True:
            given = next((a for a in config.invocation_params.args if str(a).endswith((".yml", ".yaml"))), None)
            if given:  # `--profile x.yml` went to pytest-profiling, and x.yml would be collected as a test
                raise pytest.UsageError(f"--profile is pytest-profiling's here: use --conformance-profile {given}")
        return
    for flag, dest, instead in TESTINFRA_OPTIONS:  # never ignored: a run that silently went elsewhere
        if getattr(config.option, dest, None):
            raise pytest.UsageError(f"{flag} is pytest-testinfra's and this suite does not read it: {instead}")
    try:
        options = {key: config.getoption(f"kolla_{key}") for key in KOLLA_OPTIONS}
        profile = load_profile(path, options, ask_vault_pass=config.getoption("kolla_ask_vault_pass"))
    except ProfileError as exc:  # one line, exit code 4, before any host is touched
        raise pytest.UsageError(_one_line(str(exc))) from None
    if config.getoption("phase"):
        profile = dataclasses.replace(profile, phases=tuple(config.getoption("phase")))
    if config.getoption("canary"):
        profile = dataclasses.replace(profile, canary=True)
    # xdist workers re-parse the original command line, so the controller's switch to loadgroup reaches
    # them only through workerinput; without it they never tag items with their host group.
    if getattr(config, "workerinput", {}).get("conformance_loadgroup"):
        config.option.loadgroup = True
    session = ConformanceSession(config, Run(profile))
    # What is loaded now (ansible-core, the resolved inventory) lives until the process ends: out of the cyclic
    # collector's way, else every collection walks it again (measured: pytest's closing gc alone took 0.35 s).
    gc.freeze()
    config.stash[SESSION] = session
    config.pluginmanager.register(session, "kolla-conformance-session")
    xmlpath = config.getoption("xmlpath", None)
    if xmlpath and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_JunitNames(Path(xmlpath).absolute()), "kolla-conformance-junit")
    # The checks live in the installed package; collect them whatever the current directory is.
    # Collected through its folder so node ids read `kolla_conformance.py::test_check[<host>:<check id>]`.
    config.addinivalue_line("python_files", SUITE.name)
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args = [str(SUITE.parent)]
    elif not any(str(Path(arg.split("::")[0]).resolve()).startswith(str(SUITE.parent)) for arg in config.args):
        config.args.append(str(SUITE.parent))


class _JunitNames:
    """Names each JUnit case by check and host once pytest's junitxml wrote the file (trylast: after it)."""

    def __init__(self, path: Path):
        self.path = path

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session):
        results.name_junit_cases(self.path)


def _one_line(message: str) -> str:
    """A path or value with a newline in it (`--profile $'a\\nb'`) must not split the one error line."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    # A user-caused problem (unreachable host, config error) is one line, never a traceback.
    if call.excinfo is not None and isinstance(call.excinfo.value, ConformanceError):
        outcome.get_result().longrepr = str(call.excinfo.value)


class ConformanceSession:
    """Hooks and fixtures of a run with a profile; one instance per pytest process (controller or worker)."""

    def __init__(self, config, run: Run):
        self.config = config
        self.run = run
        self.worker_stats: dict[str, dict] = {}
        self.results = results.Results(config, self._waivers(config, run.profile), config.getoption("strict_warnings"))
        self.findings = self.results.findings  # (host, check id) -> Finding, waivers applied
        self._wanted: dict[str, list] = {}  # host -> the checks selected for it, in collection order
        run.redact.install_logging_filter("testinfra", "conformance")

    @staticmethod
    def _waivers(config, profile):
        path = config.getoption("waivers") or profile.waivers
        if not path:
            return ()
        try:
            return waiver_rules.load(path, {c.id for c in check_registry.all_checks()})
        except ConformanceError as exc:
            raise pytest.UsageError(_one_line(str(exc))) from None  # one line, exit code 4

    @pytest.hookimpl(optionalhook=True)  # an xdist hook: absent with -p no:xdist
    def pytest_configure_node(self, node):
        """xdist controller, once per worker: tell it whether tests are grouped by host."""
        node.workerinput["conformance_loadgroup"] = self.config.getoption("dist", "no") == "loadgroup"

    # -- collection -----------------------------------------------------------------------------------
    def pytest_generate_tests(self, metafunc):
        if "conformance_target" not in metafunc.fixturenames:
            return
        params = []
        for plan in self.run.profile.hosts:
            for check in check_registry.all_checks():
                phases = self._phases(check)
                if not phases:
                    continue
                marks = [getattr(pytest.mark, p) for p in phases] + [pytest.mark.xdist_group(name=plan.name)]
                params.append(pytest.param(Target(plan.name, check.id), marks=marks, id=f"{plan.name}:{check.id}"))
        metafunc.parametrize("conformance_target", params)

    def _phases(self, check) -> list[str]:
        return [p.value for p in check.phases if p.value in self.run.profile.phases]

    def pytest_collection_finish(self, session):
        for item in session.items:
            target = getattr(getattr(item, "callspec", None), "params", {}).get("conformance_target")
            if isinstance(target, Target):
                self._wanted.setdefault(target.host, []).append(check_registry.REGISTRY[target.check_id])
        gc.freeze()  # the items too live until the end (at 512 hosts, gc passes over them were 35 s of a run)

    # -- gathering (conformance/gather.py): every host's reads in a few batches, before its checks ----------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        """The process that runs the checks (not an xdist controller) gathers every selected host at once, as a
        phase of its own before the first check; an xdist worker gathers each host it is given on first use."""
        option = self.config.option
        if hasattr(self.config, "workerinput") or getattr(option, "numprocesses", None):
            return None
        if option.collectonly or session.testsfailed:
            return None
        gather.gather_hosts(list(self._wanted), self._gather_one, self.run.profile.forks)
        return None  # pytest's own loop then runs the checks

    def _gather_one(self, host: str) -> None:
        """Resolve the host's expectation and gather its facts, unless done (again after a fix invalidated them)."""
        context = self.run.host(host)
        if context.gathered:
            return
        started = time.monotonic()
        try:
            context.ansible_facts()  # one round trip, outside the lock (resolution asks for them)
        except Exception:  # noqa: BLE001 - an unreachable host: prepare meets it again and reports it
            pass
        try:
            waited = time.monotonic()
            with gather.RESOLVING:
                started += time.monotonic() - waited  # the host's own time: not the wait for another host's turn
                expectation, facts = context.prepare()
        except Exception:  # noqa: BLE001 - remembered by the context; prepare_host reports it for each check
            return
        gather.gather_host(expectation, facts, self._wanted.get(host, ()))
        context.gather_seconds += time.monotonic() - started

    # -- setup (the suite's fixtures call these: conformance/suite/kolla_conformance.py) -------------------
    def prepare_host(self, target: Target, node):
        """The host's context, prepared in setup: an unreachable host is an error, not a failed check."""
        check = check_registry.REGISTRY[target.check_id]
        allure_report.label_test(check, target.host, self._phases(check))
        self._gather_one(target.host)
        context = self.run.host(target.host)
        try:
            context.prepare()
        except ConformanceError as exc:
            status = Status.UNREACHABLE if isinstance(exc, HostUnreachable) else Status.FAIL
            self._record(node, check, target.host, status, "a reachable host with a resolvable expectation", str(exc))
            raise
        return context

    # -- judging --------------------------------------------------------------------------------------
    def judge(self, context, target: Target, node) -> None:
        check = check_registry.REGISTRY[target.check_id]
        allure_report.describe_test(check, target.host)
        expectation, facts = context.prepare()
        try:
            verdict = check.run(expectation, facts)
        except HostUnreachable as exc:
            self._record(node, check, target.host, Status.UNREACHABLE, "a reachable host", str(exc))
            raise
        verdict = (
            self.config.hook.pytest_conformance_verdict(
                check=check, expectation=expectation, facts=facts, verdict=verdict, node=node, context=context
            )
            or verdict
        )
        finding = self._record(
            node,
            check,
            target.host,
            verdict.status,
            verdict.expected,
            verdict.actual,
            verdict.hint,
            verdict.evidence,
            judged=verdict.judged,
        )
        if verdict.status is Status.FAIL:
            pytest.fail(finding.summary(), pytrace=False)
        if verdict.status is Status.WARN:
            warnings.warn(ConformanceWarning(finding.summary()), stacklevel=1)  # the finding, not a code location
        if verdict.status is Status.NOT_APPLICABLE:
            pytest.skip(f"{'not applicable' if verdict.judged else 'not judged'}: {finding.actual}")

    def _record(self, node, check, host, status, expected, actual, hint="", evidence=None, judged=True) -> Finding:
        redact = self.run.redact
        finding = Finding(
            check_id=check.id,
            host=host,
            status=status,
            severity=check.severity,
            area=check.area,
            phase=",".join(self._phases(check)),
            expected=redact(expected),
            actual=redact(actual),
            hint=redact(hint),
            evidence={redact(k): redact(v) for k, v in (evidence or {}).items()},
            judged=judged,
        )
        allure_report.attach_finding(finding)
        node.user_properties.append((FINDING_PROPERTY, finding.to_json()))
        return finding

    # -- results (on the controller under xdist: reports carry the findings over) -----------------------
    # trylast: the innermost wrapper, so allure's and junit's hooks see the waived outcome.
    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_makereport(self, item, call):
        waived = results.apply_waiver(item, call, self.results.waivers)
        report = yield
        if waived is not None:
            results.show_waiver(item, report, waived)
        return report

    def pytest_report_teststatus(self, report, config):
        """WAIVED and NOT JUDGED as their own words, beside PASSED, FAILED and SKIPPED (n/a)."""
        return results.teststatus(report)

    @pytest.hookimpl(tryfirst=True)  # before junitxml records the report, so the readable names stick
    def pytest_runtest_logreport(self, report):
        self.results.logreport(report)

    @pytest.hookimpl(optionalhook=True)  # an xdist hook: absent with -p no:xdist
    def pytest_testnodedown(self, node, error):
        self.worker_stats.update(getattr(node, "workeroutput", {}).get("conformance_stats", {}))

    def pytest_sessionstart(self, session):
        """SIGTERM (a CI cancel, systemd, kill) stops the run the way Ctrl-C does: KeyboardInterrupt in the main
        thread, so a fix in progress rolls back, the session finishes and Run.close() closes the SSH masters."""
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._sigterm = signal.signal(signal.SIGTERM, _terminate)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and not hasattr(session.config, "workerinput"):  # before any host is read
            for line in resolved.lines(self.run.profile):
                reporter.write_line(line)

    def pytest_unconfigure(self, config):
        import signal

        self.run.close()  # also when no check ran (interrupted while gathering); closing twice is harmless
        if getattr(self, "_sigterm", None) is not None:
            signal.signal(signal.SIGTERM, self._sigterm)

    def pytest_sessionfinish(self, session, exitstatus):
        if hasattr(self.config, "workeroutput"):  # xdist worker: hand SSH statistics to the controller
            self.config.workeroutput["conformance_stats"] = self.run.stats()
            return
        path = self.config.getoption("findings_json")
        if path:
            self.results.write_json(path)
        alluredir = getattr(self.config.option, "allure_report_dir", None)
        if alluredir and Path(alluredir).is_dir():
            results.write_properties(
                Path(alluredir) / "environment.properties",
                results.environment(self.run.profile, self.findings.values()),
            )
        if exitstatus in (ExitCode.OK, ExitCode.CHECK_FAILED):  # the gate (report/gate.py documents precedence)
            session.exitstatus = self.results.exit_code()

    def pytest_terminal_summary(self, terminalreporter, exitstatus):
        if hasattr(self.config, "workeroutput"):
            return
        stats = {**self.run.stats(), **self.worker_stats}
        # An interrupted run judged only part of its checks: it has no gate result, whatever those said.
        terminal.summary(
            terminalreporter,
            self.results.ordered(),
            stats,
            unused=self.results.unused_waivers(),
            crashed=self.results.crashed,
            exit_code=self.results.exit_code(),
            interrupted=exitstatus == ExitCode.INTERRUPTED,
        )


def _terminate(signum, frame):
    raise KeyboardInterrupt("SIGTERM")
