"""Invariants of the check, fix and fault registries, so that adding or changing one is a conscious edit
(ansible-lint's test/test_rules_collection.py is the model). Fast: no lab, no host.

Every check has a page (conformance/checks/pages/<id>.md) and every page a check; a page says the fix kind the
fix registry says and names the lab faults that fail its check; every check has a lab fault or a reason here why
not; every fix is keyed on a check and does what its kind says on recorded contexts; every Kolla citation
resolves inside the repository.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from conformance import catalog
from conformance.access import CommandResult
from conformance.checks import _ID, AREAS, PAGES, all_checks
from conformance.facts import FileFact
from conformance.model import Phase, Severity
from conformance.probes.libvirt_host import Daemon
from conformance.remediation.registry import FixContext, FixKind, Manual, all_fixes
from fixtures.lab.faults import FAULTS
from tests.unit.test_expectations import kolla_tree, resolve

ROOT = Path(__file__).resolve().parents[2]
PROVENANCE = ROOT / "docs" / "kolla-provenance.md"

# Pinned: a new check, or a fix changing kind, changes one of these on purpose (and its page with it).
CHECKS = 43
FIX_KINDS = {FixKind.AUTO: 4, FixKind.SOME: 7, FixKind.MANUAL: 8}

# Checks no fault in fixtures/lab/faults.py fails, and why. A check that gains a fault leaves this table.
NO_LAB_FAULT = {
    "ovs.version-match": "Debian 12 offers one Open vSwitch build and the lab's containers run the host's /usr: no "
    "client/server mismatch can be made; judged on recorded outputs in "
    "tests/unit/test_ovs_cleanup_parsers.py",
    "virt.kvm-unused": "minor, it only warns: the qemu-vt host of tests/integration/test_virt.py makes it warn",
    "libvirt.canary-guest": "opt-in, so the lab's runs leave it n/a: its canary tests run it on the virt and ovs "
    "faults (tests/integration/test_virt.py, test_ovs_mode_cleanup.py)",
    "libvirt.container-healthy": "the tests make it fail themselves: a SIGSTOPped libvirtd in nova_libvirt "
    "(tests/e2e/test_bounded_hosts.py) and restart loops (tests/e2e/test_container_exec.py)",
}

SECTIONS = ("What it verifies and why", "A passing host", "Evidence", "Fix", "Lab fault")
PAGE_KIND = {None: "none", **{kind: kind.value for kind in FixKind}}


@pytest.fixture(scope="module")
def checks():
    return {check.id: check for check in all_checks()}


@pytest.fixture(scope="module")
def fixes():
    return all_fixes()


def faults_of(check_id: str) -> set[str]:
    return {name for name, fault in FAULTS.items() if check_id in fault.checks}


def sections(page: str) -> dict[str, str]:
    """ "## Heading" -> its text; the Fix heading is "## Fix: <kind>"."""
    parts = re.split(r"^## (.+)$", page, flags=re.M)
    return {head.split(":")[0].strip(): body.strip() for head, body in zip(parts[1::2], parts[2::2])}


# --- the check registry ---------------------------------------------------------------------------------------


def test_counts_are_pinned(checks, fixes):
    assert len(checks) == CHECKS
    kinds = {kind: sum(f.kind is kind for f in fixes.values()) for kind in FixKind}
    assert kinds == FIX_KINDS, kinds


def test_check_ids_match_the_id_pattern(checks):
    for check_id in checks:
        assert _ID.match(check_id) and check_id.split(".")[0] in AREAS, check_id


def test_severities_and_phases_are_valid(checks):
    for check in checks.values():
        assert isinstance(check.severity, Severity), check.id
        assert check.phases and all(isinstance(p, Phase) for p in check.phases), check.id
        assert len(set(check.phases)) == len(check.phases), check.id
        assert check.title and check.rationale and check.doc.startswith("https://"), check.id


def test_every_fix_is_keyed_on_a_check(checks, fixes):
    assert set(fixes) <= set(checks), set(fixes) - set(checks)


# --- pages ----------------------------------------------------------------------------------------------------


def test_every_check_has_a_page_and_every_page_a_check(checks):
    pages = {p.stem for p in PAGES.glob("*.md")}
    assert set(checks) - pages == set(), "checks without a page"
    assert pages - set(checks) == set(), "pages without a check"


def test_pages_are_short_and_shaped_alike(checks):
    for check in checks.values():
        page = check.page
        assert page.splitlines()[0] == f"# `{check.id}`: {check.title}", check.id
        assert tuple(sections(page)) == SECTIONS, (check.id, tuple(sections(page)))
        assert 15 <= len(page.splitlines()) <= 40, (check.id, len(page.splitlines()))
        why = " ".join(sections(page)["What it verifies and why"].split())
        assert "kolla-ansible 23.0.0" in why and "docs/kolla-provenance.md §" in why, check.id


def test_every_page_names_the_fix_kind_of_the_registry(checks, fixes):
    for check in checks.values():
        fix = fixes.get(check.id)
        heading = re.search(r"^## Fix: (.+)$", check.page, flags=re.M)
        assert heading and heading.group(1) == PAGE_KIND[fix.kind if fix else None], check.id


def test_the_catalog_fix_column_is_the_registry_kind(checks, fixes):
    assert {catalog.fix_kind(c) for c in checks} == {"auto", "auto (some cases)", "manual", "no"}
    for check_id in checks:
        assert catalog.fix_kind(check_id) == (str(fixes[check_id].kind) if check_id in fixes else "no")


# --- lab faults -----------------------------------------------------------------------------------------------


def test_every_fault_names_registered_checks(checks):
    for name, fault in FAULTS.items():
        assert fault.checks and fault.checks <= set(checks), (name, fault.checks - set(checks))


def test_every_check_has_a_lab_fault_or_a_reason(checks):
    without = {c for c in checks if not faults_of(c)}
    assert without - set(NO_LAB_FAULT) == set(), "checks no lab fault fails: add a fault or a reason"
    assert set(NO_LAB_FAULT) - without == set(), "these have a lab fault now: remove their reason"


def test_every_page_names_the_lab_faults_that_fail_its_check(checks):
    for check in checks.values():
        text = sections(check.page)["Lab fault"]
        named = set(re.findall(r"`([a-z0-9-]+)`", text)) & set(FAULTS)
        assert named == faults_of(check.id), (check.id, named ^ faults_of(check.id))
        assert text.startswith("None") == (check.id in NO_LAB_FAULT), check.id


# --- citations ------------------------------------------------------------------------------------------------


def test_every_kolla_citation_resolves_inside_the_repository():
    headings = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", PROVENANCE.read_text(), flags=re.M))
    cited = {}
    for folder in ("conformance", "fixtures", "tests", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".md", ".yml") and path.is_file() and path != Path(__file__):
                text = path.read_text(errors="replace")
                assert "KOLLA-FACTS" not in text, f"{path}: cite docs/kolla-provenance.md instead"
                for ref in re.findall(r"docs/kolla-provenance\.md ((?:§[\d.]+(?:-§?[\d.]+)?(?:, )?)+)", text):
                    for number in re.findall(r"(\d+(?:\.\d+)?)", ref):
                        cited.setdefault(number, path)
    assert cited, "no citation found: the pattern is wrong"
    missing = {n: str(p.relative_to(ROOT)) for n, p in cited.items() if n not in headings}
    assert not missing, f"cited sections missing from docs/kolla-provenance.md: {missing}"


# --- fix kinds hold on recorded contexts -----------------------------------------------------------------------


class RecordedFacts:
    """A host as recorded for one plan: probe answers by probe function name; any other probe runs on this host as
    on a real one, where files are missing unless given and a command fails the test unless `run` gives its answer."""

    def __init__(self, probes=None, files=(), run=None):  # run: (rc, stdout, stderr) of every command
        self.probes, self.files, self.answer = dict(probes or {}), {f.path: f for f in files}, run

    def probe(self, fn, *args):
        if fn.__name__ not in self.probes:
            return fn(self, *args)
        value = self.probes[fn.__name__]
        return value(*args) if isinstance(value, By) else value

    def file(self, path, container=None, read=True):
        return self.files.get(path, FileFact(path, exists=False))

    def run(self, template, *args, **kwargs):
        if self.answer is None:
            raise AssertionError(f"unrecorded command {template!r}")
        return CommandResult(template, *self.answer)

    def run_in(self, container, template, *args, **kwargs):
        return self.run(template, *args)


@dataclasses.dataclass
class By:
    """A probe answer that depends on the probe's arguments."""

    fn: object

    def __call__(self, *args):
        return self.fn(*args)


class Refusing(RecordedFacts):
    """A host that refuses every read: a manual fix has nothing to look at."""

    def probe(self, fn, *args):
        raise AssertionError(f"a manual fix asked {fn.__module__}.{fn.__name__}{args}")

    def file(self, path, container=None, read=True):
        raise AssertionError(f"a manual fix read {path}")


@pytest.fixture(scope="module")
def exps(tmp_path_factory):
    def exp(globals_yml=""):
        return resolve(kolla_tree(tmp_path_factory.mktemp("kolla"), globals_yml))

    return {
        "container": exp(),
        "container-tls": exp("libvirt_tls: yes\n"),
        "host": exp("enable_nova_libvirt_container: false\n"),
        "host-tls": exp("enable_nova_libvirt_container: false\nlibvirt_tls: yes\n"),
        "host-remove": exp("enable_nova_libvirt_container: false\nnova_libvirt_cleanup_remove_volumes: true\n"),
        "scram-over-tcp": exp("libvirt_sasl_mech_list: ['SCRAM-SHA-256']\n"),
    }


def plan(check_id, exp, facts):
    return list(all_fixes()[check_id].plan(FixContext("compute01", exp, facts, verdict=None)))


def test_manual_fixes_raise_manual_without_reading_the_host(fixes, exps):
    manual = [c for c, f in fixes.items() if f.kind is FixKind.MANUAL]
    for check_id in manual:
        for exp in exps.values():
            with pytest.raises(Manual):
                plan(check_id, exp, Refusing())


def _containers(**running):
    found = {name: SimpleNamespace(name=name, running=up) for name, up in running.items()}
    return SimpleNamespace(get=found.get)


def _installed(mode):
    return By(
        lambda name, path, container, place: SimpleNamespace(
            fact=FileFact(path, True, mode=mode, owner="root", group="root")
        )
    )


def _wrapper(engine):
    return SimpleNamespace(kind="wrapper", path="/usr/bin/ovs-vsctl", package="", wrapper_engine=engine)


# check id -> (expectation, facts where the fix plans actions, expectation and facts where it is manual or None)
RECORDED = {
    "sasl.user-exists": ("container", RecordedFacts(), None),  # the password goes through stdin: nothing read
    "sasl.mech-list": ("container", RecordedFacts(), None),
    "sasl.auth-conf": ("container", RecordedFacts(run=(3, "", "")), None),
    "virt.kvm-module": ("container", RecordedFacts({"cpuinfo": SimpleNamespace(vt_flags=["vmx"])}), None),
    "sasl.mech-matches-tls": ("container", RecordedFacts(), ("scram-over-tcp", RecordedFacts())),
    "virt.dev-kvm-access": (
        "container",
        RecordedFacts({"dev_kvm": SimpleNamespace(exists=True)}),
        (
            "host",
            RecordedFacts(
                {
                    "dev_kvm": SimpleNamespace(exists=True),
                    "qemu_user": ("libvirt-qemu", [64]),
                    "group_id": By(lambda group: "993"),
                }
            ),
        ),
    ),
    "libvirt.no-host-daemon": (
        "container",
        RecordedFacts({"daemons": [Daemon(4242, "libvirtd", True)], "has_systemd": True}),
        ("container", RecordedFacts({"daemons": [Daemon(4243, "libvirtd", False)]})),
    ),
    "ovs.vsctl-in-libvirt-path": (
        "host",
        RecordedFacts({"containers": _containers(openvswitch_vswitchd=False), "host_binary": _wrapper("docker")}),
        ("container", RecordedFacts()),
    ),
    "ovs.wrapper-engine": (
        "host",
        RecordedFacts(
            {
                "containers": _containers(openvswitch_vswitchd=True),
                "host_binary": _wrapper("podman"),
                "libvirt_vsctl": SimpleNamespace(path="/usr/local/bin:/usr/bin"),
            }
        ),
        ("host", RecordedFacts({"containers": _containers(), "host_binary": _wrapper("podman")})),
    ),
    "tls.installed-files": (
        "container-tls",
        RecordedFacts({"installed_file": _installed(0o644)}),
        (
            "container-tls",
            RecordedFacts(
                {"installed_file": By(lambda name, path, container, place: SimpleNamespace(fact=FileFact(path, False)))}
            ),
        ),
    ),
    "cleanup.volumes": (
        "host-remove",
        RecordedFacts(
            {
                "volumes": SimpleNamespace(names=lambda: {"libvirtd", "nova_compute"}),
                "containers_detail": SimpleNamespace(items=[]),
            }
        ),
        ("host", RecordedFacts()),
    ),
}


def test_every_automatic_fix_has_a_recorded_context():
    assert set(RECORDED) == {c for c, f in all_fixes().items() if f.kind is not FixKind.MANUAL}


# Since 2b6987c the host-mode branch assigns a local `engine`, shadowing the probes module it reads first.
@pytest.mark.parametrize("check_id", sorted(RECORDED))
def test_automatic_fixes_plan_actions_and_partial_ones_also_manual_steps(check_id, exps):
    kind = all_fixes()[check_id].kind
    exp_name, facts, manual = RECORDED[check_id]
    assert plan(check_id, exps[exp_name], facts), f"{check_id}: no action planned on its recorded host"
    assert (manual is not None) == (kind is FixKind.SOME), f"{check_id} is {kind}: record a manual case iff partial"
    if manual:
        with pytest.raises(Manual):
            plan(check_id, exps[manual[0]], manual[1])
