"""The check registry: every check is data (id, area, severity, phases, rationale, doc) plus a judging function.

A check function takes (expectation, facts) and returns a Verdict. It must not know how facts were fetched.
Ids are stable: reports, waivers and fixes refer to them. Never rename one silently.
Every check has a page, pages/<check id>.md: what it verifies and why, a passing host, the evidence keys, the
fix, the lab fault; `Check.page` is the check's help (Allure description, `kolla-conformance catalog ID`).
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from collections.abc import Callable
from pathlib import Path

from conformance.errors import NotRead
from conformance.model import Phase, Severity, Verdict

GUIDE = "https://docs.openstack.org/kolla-ansible/latest/reference/compute/libvirt-guide.html"

AREAS = {  # id prefix -> the guide's area (Allure epic)
    "virt": "Hardware virtualisation",
    "sasl": "SASL authentication",
    "tls": "Libvirt TLS",
    "libvirt": "Host vs containerised libvirt",
    "ovs": "ovs-vsctl for libvirt",
    "cleanup": "nova-libvirt-cleanup",
}

# Modules that define checks; importing one registers its checks.
CHECK_MODULES = tuple(
    f"conformance.checks.{name}" for name in ("virt", "sasl", "tls", "libvirt_mode", "ovs", "cleanup", "canary")
)

_ID = re.compile(r"^[a-z]+\.[a-z0-9]+(-[a-z0-9]+)*$")
PAGES = Path(__file__).with_name("pages")  # one markdown page per check: pages/<check id>.md


@dataclasses.dataclass(frozen=True)
class Check:
    id: str
    title: str
    severity: Severity
    phases: tuple[Phase, ...]
    rationale: str
    doc: str
    judge: Callable = dataclasses.field(repr=False, compare=False)

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def area_title(self) -> str:
        return AREAS[self.area]

    @property
    def page_path(self) -> Path:
        return PAGES / f"{self.id}.md"

    @property
    def page(self) -> str:
        """The check's help, its markdown page; the rationale and the guide's link while it has none."""
        try:
            return self.page_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return f"# {self.id}: {self.title}\n\n{self.rationale}\n\nKolla documentation: {self.doc}\n"

    def run(self, expectation, facts) -> Verdict:
        try:
            return self.judge(expectation, facts)
        except NotRead as exc:
            # A container that stops or restarts between two reads, or a read that never answered: what it holds
            # is unknown now, and judging from an empty answer would invent a fault. The check made for that
            # container or daemon (libvirt.container-healthy for nova_libvirt) fails for the real cause.
            return Verdict.not_judged(str(exc))


REGISTRY: dict[str, Check] = {}


def check(id: str, *, title: str, severity: Severity, phases, rationale: str, doc: str):
    """Register a check function under a stable id."""
    if not _ID.match(id) or id.split(".")[0] not in AREAS:
        raise ValueError(f"bad check id {id!r}: use <area>.<kebab-slug> with a known area")

    def register(fn):
        if id in REGISTRY:
            raise ValueError(f"duplicate check id {id}")
        REGISTRY[id] = Check(id, title, severity, tuple(Phase(p) for p in phases), rationale, doc, fn)
        return fn

    return register


def all_checks() -> list[Check]:
    for module in CHECK_MODULES:
        importlib.import_module(module)
    return sorted(REGISTRY.values(), key=lambda c: c.id)
