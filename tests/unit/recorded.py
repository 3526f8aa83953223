"""Recorded facts: judge a check on probe values a test states, without a host.

`RecordedFacts` is a drop-in for `conformance.facts.Facts` (a subclass with no SSH connection behind it). Its
`probe(fn, *args)` answers from what the test recorded:

    facts = RecordedFacts({
        engine.containers: ps("docker_ps.jsonl"),                        # fn: for any arguments
        (files.metadata, "/etc/kolla/nova-libvirt"): FileFact(...),      # (fn, *args): for exactly these
        sasl.nova_libvirt_healthcheck: ContainerUnavailable("nova_libvirt", "is restarting"),   # raised
        sasl.libvirtd_ready: DERIVE,                                     # the real probe, over these records
    })

A recorded exception instance is raised (a `NotRead` drives a check's not-judged branch). `DERIVE` runs the real
probe function on the recorded facts, for probes that only combine other probes (`sasl.libvirtd_ready` over
`sasl.nova_libvirt_healthcheck`) or read the suite's own files (`tls.operator_cert_set`). A probe nobody recorded
fails the test at once with an AssertionError naming the probe and its arguments: every test states exactly what
the host looked like. Nothing here runs a command or opens a connection.

Values are the probes' own dataclasses. Where a probe parses command output, the value is made by the probe itself:
`recording(name)` holds what the probes read on a lab host (tests/unit/data/recorded/<name>.json, made by
record_lab.py there), and `Recording.value(probe, *args)` replays those outputs through the real probe function
(optionally with one edit: the host as recorded with one fault in a file); `Recording.facts()` is a RecordedFacts
answering every recorded probe as that host did. `ps`, `volume_ls`, `inspect` parse engine listings with the
engine probe's parsers (tests/unit/data/ovs_cleanup/ holds more real output); with ok=False they make the
EngineUnavailable the probe raises for a listing that did not list. `kolla_pki(fault)` writes an operator's TLS
files as `kolla-ansible certificates` makes them (fixtures/lab/certs.py), with one fault.

`expectation(**changes)` is Kolla's defaults for compute01 (BASE) with a case's changes; `case(...)` makes one
parametrized branch case (`Case`): the check, the host, the expected status and the words an operator relies on.
"""

from __future__ import annotations

import ast
import atexit
import dataclasses
import datetime as dt
import functools
import importlib
import json
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conformance.access import CommandResult
from conformance.errors import ContainerUnavailable, EngineUnavailable, NotRead, ReadTimedOut
from conformance.facts import Facts
from conformance.kolla.expectations import Expectation, Secret
from conformance.model import Status, Verdict
from conformance.probes import engine

DATA = Path(__file__).parent / "data"
RECORDED = DATA / "recorded"
OVS_CLEANUP = DATA / "ovs_cleanup"

DERIVE = object()  # recorded value: run the real probe on the recorded facts
NOT_JUDGED = "not judged"  # the expected status of a case whose verdict is not judged (n/a with judged=False)


def _name(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _call(fn: Callable, args: tuple) -> str:
    return f"{_name(fn)}({', '.join(['facts', *map(repr, args)])})"


class RecordedFacts(Facts):
    """A host's facts as a test recorded them: `probe` answers from the record, and nothing reaches a host."""

    def __init__(
        self, records: dict | None = None, *, host: str = "compute01", engine: str = "docker", command_timeout: int = 60
    ):
        # Facts.__init__ wants a connection; a recorded host has none, so set what Facts' public helpers use.
        self.connection = None
        self.engine = engine
        self._host = host
        self._command_timeout = command_timeout
        self._probes: dict[Any, Any] = {}
        self._commands: dict = {}
        self._hung: dict[str, str] = {}
        self.lost = 0.0
        self.hang_budget = 2 * command_timeout
        self._exact: dict[tuple, Any] = {}
        self._any: dict[Callable, Any] = {}
        self.asked: list[tuple[Callable, tuple]] = []  # every probe a check asked for, in order
        for key, value in (records or {}).items():
            if isinstance(key, tuple):
                self.record(key[0], value, args=key[1:])
            else:
                self.record(key, value)

    def record(self, fn: Callable, value: Any, args: tuple | None = None) -> RecordedFacts:
        """Record what `fn` answers: for exactly `args`, or (args=None) for any arguments (replacing what was
        recorded for `fn` before). Returns self."""
        if args is None:
            self._any[fn] = value
            self._exact = {k: v for k, v in self._exact.items() if k[0] is not fn}
        else:
            self._exact[(fn, tuple(args))] = value
        return self

    @property
    def host(self) -> str:
        return self._host

    @property
    def command_timeout(self) -> int:
        return self._command_timeout

    def probe(self, fn, *args):
        self.asked.append((fn, args))
        key = (fn, args)
        if key in self._exact:
            value = self._exact[key]
        elif fn in self._any:
            value = self._any[fn]
        else:
            recorded = sorted({_call(f, a) for f, a in self._exact} | {f"{_name(f)}(facts, *any)" for f in self._any})
            raise AssertionError(
                f"the check asked for {_call(fn, args)}, which this test did not record "
                f"(recorded: {'; '.join(recorded) or 'nothing'})"
            )
        if value is DERIVE:
            if key not in self._probes:
                self._probes[key] = fn(self, *args)
            return self._probes[key]
        if isinstance(value, BaseException):
            raise value
        return value

    def asked_for(self, fn: Callable) -> list[tuple]:
        """The argument tuples `fn` was asked with."""
        return [args for f, args in self.asked if f is fn]

    # A recorded host runs nothing: a probe that reached these was called directly, not recorded.
    def run(self, template, *args, timeout=None):
        raise AssertionError(f"RecordedFacts cannot run a command ({template!r}): record the probe that runs it")

    def run_in(self, container, template, *args, timeout=None):
        raise AssertionError(f"RecordedFacts cannot run a command in {container} ({template!r}): record the probe")

    def file(self, path, container=None, read=True):
        raise AssertionError(f"RecordedFacts cannot read {path}: record the probe that reads it")


# -- values built the way probes build them -----------------------------------------------------------------------


def text(name: str) -> str:
    """A recorded output: tests/unit/data/recorded/<name>, else tests/unit/data/ovs_cleanup/<name>."""
    path = RECORDED / name
    return (path if path.exists() else OVS_CLEANUP / name).read_text()


def result(stdout: str = "", rc: int = 0, stderr: str = "", command: str = "recorded") -> CommandResult:
    return CommandResult(command, rc, stdout, stderr)


class _ReplayFacts(Facts):
    """Facts whose commands answer, in order, with the outputs recorded on a lab host (record_lab.py): the probe
    runs for real over them, so its value is what it made of that host. A probe asking for another command than
    the one recorded fails: the recording no longer fits the probe."""

    def __init__(self, commands: list[dict], engine: str, what: str):
        RecordedFacts.__init__(self, engine=engine)
        self._queue = list(commands)
        self._what = what

    host = RecordedFacts.host
    command_timeout = RecordedFacts.command_timeout

    def _next(self, container, template, args) -> CommandResult:
        assert self._queue, f"{self._what}: the probe ran {template!r} after the recorded commands ended"
        entry = self._queue.pop(0)
        asked = (container, template, [str(a) for a in args])
        assert asked == (entry["container"], entry["template"], entry["args"]), (
            f"{self._what}: the probe ran {asked}, the recording has "
            f"{entry['container'], entry['template'], entry['args']}"
        )
        if entry.get("not_read") == "ContainerUnavailable":
            raise ContainerUnavailable(container, entry["error"].split(" now: ", 1)[-1])
        if entry.get("not_read"):
            raise ReadTimedOut(entry["error"])
        return CommandResult(template, entry["rc"], entry["stdout"], entry["stderr"])

    def run(self, template, *args, timeout=None):
        return self._next(None, template, args)

    def run_in(self, container, template, *args, timeout=None):
        return self._next(container, template, args)

    def finished(self) -> None:
        assert not self._queue, f"{self._what}: the probe left recorded commands unread: {self._queue[:1]}"


_KEY = re.compile(r"^(\w+)\.(\w+)\((.*)\)$", re.S)


class Recording:
    """One lab host's recorded probe reads (tests/unit/data/recorded/<name>.json, made by record_lab.py)."""

    def __init__(self, name: str):
        self.name = name
        data = json.loads((RECORDED / f"{name}.json").read_text())
        self.host, self.engine, self.probes = data["host"], data["engine"], data["probes"]
        self.live = data.get("live", {})  # the live probes' answers (record_lab.record_live), as dicts
        self._values: dict[str, Any] = {}

    def key(self, fn: Callable, args: tuple) -> str:
        return f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__qualname__}({', '.join(map(repr, args))})"

    def value(
        self,
        fn: Callable,
        *args,
        key: str | None = None,
        edit: Callable[[str], str] | None = None,
        only: int | None = None,
    ):
        """What `fn(facts, *args)` made of this host: the probe replayed on the recorded outputs. A NotRead the
        probe raised on the host is returned (record it to have the check see it raised).

        `edit` changes the recorded stdout first (of every command, or of command number `only`): the host as
        recorded with one fault in its files, parsed by the probe as it would parse the real thing."""
        key = key or self.key(fn, args)
        assert key in self.probes, f"{self.name}: no recording of {key} (recorded: {', '.join(sorted(self.probes))})"
        memo = (key, fn, repr(args))
        if edit is None and memo in self._values:  # a replay is deterministic: once per recording and probe
            return self._values[memo]
        commands = self.probes[key]
        if edit:
            commands = [
                dict(c, stdout=edit(c["stdout"])) if only in (None, i) and "stdout" in c else c
                for i, c in enumerate(commands)
            ]
            assert commands != self.probes[key], f"{self.name}: {key}: the edit changed nothing"
        facts = _ReplayFacts(commands, self.engine, f"{self.name}: {key}")
        try:
            value = fn(facts, *args)
        except NotRead as exc:
            value = exc
        facts.finished()
        if edit is None:
            self._values[memo] = value
        return value

    def probes_recorded(self) -> list[tuple[Callable, tuple, str]]:
        """Every recorded (probe, args, key). An argument '<key>' stands for the value of the probe recorded under
        that key (ovs.run_vsctl on the LibvirtVsctl that ovs.libvirt_vsctl found)."""
        found = []
        for key in self.probes:
            fn, values = self._parse(key)
            found.append((fn, tuple(self._placeholder(v) for v in values), key))
        return found

    @staticmethod
    def _parse(key: str) -> tuple[Callable, tuple]:
        module, name, args = _KEY.match(key).groups()
        fn = getattr(importlib.import_module(f"conformance.probes.{module}"), name)
        return fn, (ast.literal_eval(f"({args},)") if args else ())

    def _placeholder(self, value):
        if not (isinstance(value, str) and value.startswith("<") and value.endswith(">")):
            return value
        fn, args = self._parse(value[1:-1])
        return self.value(fn, *args)

    def facts(self, records: dict | None = None, **kw) -> RecordedFacts:
        """RecordedFacts answering every recorded probe as this host did, then `records` (which win)."""
        facts = RecordedFacts(host=self.host, engine=self.engine, **kw)
        for fn, args, key in self.probes_recorded():
            facts.record(fn, self.value(fn, *args, key=key), args=args)
        for key, value in (records or {}).items():
            if isinstance(key, tuple):
                facts.record(key[0], value, args=key[1:])
            else:
                facts.record(key, value)
        return facts


@functools.cache
def recording(name: str) -> Recording:
    return Recording(name)


def listing(
    parse: Callable,
    output: str,
    command: str = "recorded",
    ok: bool = True,
    engine_name: str = "docker",
    stderr: str = "",
) -> engine.Listing | EngineUnavailable:
    """What the engine probe makes of a listing: an engine.Listing of the parsed output when the command succeeded,
    else (ok=False) the EngineUnavailable it raises with the engine's `stderr` (record it: the check sees it raised)."""
    if not ok:
        return engine.not_listed(engine_name, command, result(output, 1, stderr, command))
    return engine.Listing(engine_name, command, tuple(parse(output)), output)


def ps(name_or_text: str, **kw) -> engine.Listing | EngineUnavailable:
    """`docker ps` / `podman ps` listing from a recorded file name, or from output text."""
    return listing(engine.parse_ps, _output(name_or_text), engine.PS["docker"], **kw)


def volume_ls(name_or_text: str, **kw) -> engine.Listing | EngineUnavailable:
    return listing(engine.parse_volume_ls, _output(name_or_text), engine.VOLUME_LS["docker"], **kw)


def inspect(name_or_text: str, **kw) -> engine.Listing | EngineUnavailable:
    return listing(engine.parse_inspect, _output(name_or_text), engine.INSPECT_ALL["docker"], **kw)


def _output(name_or_text: str) -> str:
    stripped = name_or_text.lstrip()
    return name_or_text if not stripped or stripped[0] in "[{" else text(name_or_text)


# -- the expectation ----------------------------------------------------------------------------------------------

# The throwaway libvirt_sasl_password the recording lab generated (lab.py, secrets.token_urlsafe; the lab is gone):
# the auth.conf hashes recorded on its hosts are of this value.
SASL_PASSWORD = "Jl76yrPUiw2wRxiAHoly0pe5"

# Kolla 23.0.0's defaults for compute01 with nodename compute01.example and eth0 10.0.0.11 (container mode, docker,
# kvm, TCP + SASL DIGEST-MD5); test_checks_registry pins it to what expectations.resolve makes of Kolla's defaults.
BASE = Expectation(
    host="compute01",
    release="23.0.0",
    virt_type="kvm",
    virt_type_variable="kvm",
    virt_type_source="nova_compute_virt_type (Kolla Ansible 23.0.0 group_vars/all/nova.yml)",
    qemu_user_gid=42427,
    libvirt_container=True,
    container_engine="docker",
    node_config_directory="/etc/kolla",
    libvirt_tls=False,
    libvirt_tls_manage_certs=True,
    libvirt_port=16509,
    sasl_enabled=True,
    sasl_authname="nova",
    sasl_password=Secret(SASL_PASSWORD),
    sasl_mech_list=("DIGEST-MD5",),
    migration_interface="eth0",
    migration_hostname="compute01.example",
    migration_address="10.0.0.11",
    openvswitch_enabled=True,
    neutron_plugin_agent="openvswitch",
    ovs_vsctl_wrapper_enabled=False,
    cleanup_remove_volumes=False,
    cleanup_running_vms_fatal=True,
)

# libvirt_tls: true switches what Kolla switches with it (port, mechanism).
TLS = {"libvirt_tls": True, "libvirt_port": 16514, "sasl_mech_list": ("SCRAM-SHA-256",)}
HOST_MODE = {"libvirt_container": False}


def expectation(**changes) -> Expectation:
    """BASE with `changes` (field=value); a `sasl_password` given as text becomes a Secret."""
    if isinstance(changes.get("sasl_password"), str):
        changes["sasl_password"] = Secret(changes["sasl_password"])
    return dataclasses.replace(BASE, **changes)


# -- running a check ------------------------------------------------------------------------------------------------


def judge(check_id: str, exp: Expectation, facts: RecordedFacts) -> Verdict:
    """The check's verdict as the plugin gets it (`Check.run`: a NotRead becomes not judged)."""
    from conformance.checks import REGISTRY, all_checks

    all_checks()  # imports every check module (a registry already holding some checks may lack this one)
    return REGISTRY[check_id].run(exp, facts)


def status_of(verdict: Verdict) -> Status | str:
    """The verdict's status, with not judged told apart from n/a."""
    return NOT_JUDGED if not verdict.judged else verdict.status


def _words(words) -> tuple:
    return (words,) if isinstance(words, str) else tuple(words)


def assert_verdict(
    verdict: Verdict, status, actual=(), hint=(), expected=(), evidence=(), says=None, lacks=None
) -> None:
    """Status, then the words an operator relies on: each of `actual`/`hint`/`expected` in that text, each of
    `evidence` among the evidence keys, `says` {evidence key (or part of one): words in its value}, and
    `lacks` {"actual"/"hint"/"expected"/"evidence": words that must not appear there}. The message shows the whole
    verdict."""
    shown = (
        f"\n  status {status_of(verdict)} (judged={verdict.judged})\n  expected {verdict.expected!r}\n"
        f"  actual   {verdict.actual!r}\n  hint     {verdict.hint!r}\n  evidence {sorted(verdict.evidence)}"
    )
    assert status_of(verdict) == status, f"status {status_of(verdict)}, wanted {status}{shown}"
    for field, words in (("actual", actual), ("hint", hint), ("expected", expected)):
        for word in _words(words):
            assert word in getattr(verdict, field), f"{word!r} not in {field}{shown}"
    for key in _words(evidence):
        assert any(key in k for k in verdict.evidence), f"no evidence key with {key!r}{shown}"
    for key, words in (says or {}).items():
        keys = [k for k in verdict.evidence if key in k]
        assert keys, f"no evidence key with {key!r}{shown}"
        for word in _words(words):
            assert any(word in verdict.evidence[k] for k in keys), (
                f"{word!r} not in evidence {key!r}: {[verdict.evidence[k] for k in keys]}{shown}"
            )
    for field, words in (lacks or {}).items():
        text = repr(verdict.evidence) if field == "evidence" else getattr(verdict, field)
        for word in _words(words):
            assert word not in text, f"{word!r} in {field}{shown}"
    if verdict.status is Status.PASS:
        assert not verdict.hint, f"a passing verdict has a hint{shown}"


# -- branch cases -----------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Case:
    """One branch of one check: the expectation's changes, the host as recorded, the verdict's status and words."""

    check: str
    branch: str
    status: Any  # a Status, or NOT_JUDGED
    facts: Any  # a dict of records, or a callable making RecordedFacts (lazily, at test time)
    exp: dict = dataclasses.field(default_factory=dict)
    actual: Any = ()
    hint: Any = ()
    expected: Any = ()
    evidence: Any = ()
    says: dict | None = None  # {evidence key or part of one: words in its value}
    lacks: dict | None = None  # {"actual"/"hint"/"expected"/"evidence": words that must not be there}
    then: Callable | None = None  # more assertions: then(verdict, facts)

    def run(self) -> Verdict:
        facts = self.facts() if callable(self.facts) else RecordedFacts(self.facts)
        verdict = judge(self.check, expectation(**self.exp), facts)
        assert_verdict(
            verdict, self.status, self.actual, self.hint, self.expected, self.evidence, self.says, self.lacks
        )
        if self.then:
            self.then(verdict, facts)
        return verdict


def case(check: str, branch: str, status, facts, *, bug: str | None = None, **kw):
    """A pytest.param of a Case, id "<check>:<branch>"; `bug` marks it xfail(strict) with that reason."""
    import pytest

    marks = [pytest.mark.xfail(strict=True, reason=f"bug: {bug}")] if bug else []
    return pytest.param(Case(check, branch, status, facts, **kw), id=f"{check}:{branch}", marks=marks)


def asked(fn: Callable, *calls: tuple) -> Callable:
    """A Case `then`: the check asked `fn` exactly with these argument tuples, in this order (duplicates aside)."""

    def check(_verdict, facts):
        got = list(dict.fromkeys(facts.asked_for(fn)))
        assert got == list(calls), f"{_name(fn)} asked with {got}, wanted {list(calls)}"

    return check


# -- the operator's TLS files -------------------------------------------------------------------------------------

PKI_ROOT = Path(tempfile.mkdtemp(prefix="kc-recorded-pki-"))
atexit.register(shutil.rmtree, PKI_ROOT, True)
HOSTS = ("compute01", "compute02", "compute03")


@functools.cache
def _keys(name: str):
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())  # EC for speed: Kolla makes RSA keys, the checks do not care


def _leaf(ca_key, ca, names, *, start=None, days=500, is_ca=False, client_only=False, extensions=(), key="leaf"):
    """The libvirt certificate `kolla-ansible certificates` makes (fixtures/lab/certs.py), with a fault's change."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    from fixtures.lab import certs as lab_certs

    if not extensions:
        return lab_certs.make_libvirt_cert(
            _keys(key), ca_key, ca, names, days=days, start=start, is_ca=is_ca, client_only=client_only
        )
    start = start or (lab_certs.now() - dt.timedelta(minutes=5))
    builder = (
        x509.CertificateBuilder()
        .subject_name(lab_certs.KOLLA_SUBJECT)
        .issuer_name(ca.subject)
        .public_key(_keys(key).public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=True)
    return builder.sign(ca_key, hashes.SHA256())


def kolla_pki(fault: str = "", host: str = "compute01", per_host: bool = False) -> str:
    """An operator's Kolla config dir (the `config` folder, /etc/kolla/config) holding the five libvirt TLS files in
    config/nova/nova-libvirt/ as Kolla's `certificates` makes them, with one fault of fixtures/lab (or none):

    missing-serverkey, cacert-holds-key, cert-other-ca, key-mismatch, san-missing-host, san-wildcard, leaf-is-ca,
    cert-expired, cert-not-yet-valid, cert-expiring, cert-client-only, ku-no-encipherment,
    unparsable-servercert, no-certificates, no-client-files. per_host: the set goes to nova-libvirt/<host>/ and a
    good one to nova-libvirt/ (Kolla's first_found takes the host's first). Made once per process and arguments."""
    return _kolla_pki(fault, host, per_host)


@functools.cache
def _kolla_pki(fault: str, host: str, per_host: bool) -> str:
    from cryptography import x509

    from conformance import certs as certs_module
    from fixtures.lab import certs as lab_certs

    now = lab_certs.now()
    ca_key = _keys("ca")
    ca = lab_certs.make_root_ca(ca_key)
    names = list(HOSTS)
    leaf = dict(names=names)
    signer, key = (ca_key, ca), "leaf"
    if fault == "cert-other-ca":
        signer = (_keys("other-ca"), lab_certs.make_root_ca(_keys("other-ca")))
    if fault == "san-missing-host":
        leaf["names"] = [n for n in names if n != host]
    if fault == "san-wildcard":
        leaf["names"] = ["*.example"]
    if fault == "leaf-is-ca":
        leaf["is_ca"] = True
    if fault == "cert-expired":
        leaf.update(start=now - dt.timedelta(days=600))
    if fault == "cert-not-yet-valid":
        leaf.update(start=now + dt.timedelta(days=10))
    if fault == "cert-expiring":
        leaf.update(start=now - dt.timedelta(days=490))
    if fault == "cert-client-only":
        leaf["client_only"] = True
    if fault == "ku-no-encipherment":
        leaf["extensions"] = (x509.KeyUsage(True, False, False, False, False, False, False, False, False),)
    cert = _leaf(*signer, **leaf, key=key)
    server_key = _keys("other-key" if fault == "key-mismatch" else key)
    files = {
        "cacert.pem": lab_certs.cert_pem(ca),
        "servercert.pem": lab_certs.cert_pem(cert),
        "serverkey.pem": lab_certs.key_pem(server_key),
        "clientcert.pem": lab_certs.cert_pem(cert),
        "clientkey.pem": lab_certs.key_pem(_keys(key)),
    }
    if fault == "cacert-holds-key":
        files["cacert.pem"] += lab_certs.key_pem(ca_key)
    if fault == "unparsable-servercert":
        files["servercert.pem"] = b"servercert.pem, as a text editor left it\n"
    if fault == "missing-serverkey":
        del files["serverkey.pem"]
    if fault == "no-client-files":
        for name in ("clientcert.pem", "clientkey.pem"):
            del files[name]
    if fault == "no-certificates":
        files = {}
    config = PKI_ROOT / f"{fault or 'good'}{'-' + host if per_host else ''}" / "config"
    shared = config / "nova" / "nova-libvirt"
    target = shared / host if per_host else shared
    target.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (target / name).write_bytes(data)
    if per_host:  # a good shared set beside it
        for name in certs_module.CERT_FILES:
            (shared / name).write_bytes((Path(kolla_pki()) / "nova" / "nova-libvirt" / name).read_bytes())
    return str(config)


def pki_file(config_dir: str, name: str, host: str | None = None) -> bytes:
    base = Path(config_dir) / "nova" / "nova-libvirt"
    return ((base / host / name) if host and (base / host / name).exists() else base / name).read_bytes()
