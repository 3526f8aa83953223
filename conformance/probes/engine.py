"""Probes of the container engine (docker or podman): its container and volume listings, as Kolla's tasks see them.

docker and podman print different JSON for the same listing: docker `--format '{{json .}}'` gives one object per
line with strings ("Names": "a,b"), podman `--format json` gives one array with lists ("Names": ["a"]), and
`inspect` names start with "/" under docker only. The parsers below take either shape.

A listing that did not list (the command exited non-zero: dockerd down or restarting, a broken podman store, a user
the engine refuses) raises EngineUnavailable with the engine's own words: an empty listing would read as "no such
container" or "no such volume", and a check would pass or say n/a on an answer that never came. Check.run makes it
not judged; the checks made for what the engine lists catch it and fail with that error.
"""

from __future__ import annotations

import dataclasses
import json
import re

from conformance.errors import EngineUnavailable
from conformance.facts import Facts


@dataclasses.dataclass(frozen=True)
class Container:
    name: str
    state: str  # running, exited, created, ... (lower case in both engines)
    status: str = ""  # the human column: "Up 5 minutes (healthy)"
    health: str = ""  # healthy / unhealthy / starting, "" without a healthcheck
    volumes: tuple[str, ...] = ()  # named volumes mounted (inspect only)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def describe(self) -> str:
        return f"{self.name} ({self.status or self.state})"


@dataclasses.dataclass(frozen=True)
class Listing:
    """One engine listing that listed: what was parsed, and the raw text for evidence (a failed listing raises
    EngineUnavailable instead)."""

    engine: str
    command: str
    items: tuple
    raw: str

    def names(self) -> set[str]:
        return {item.name for item in self.items}

    def get(self, name: str):
        return next((item for item in self.items if item.name == name), None)

    def evidence(self) -> str:
        return f"$ {self.command}\n{self.raw.strip() or '(empty)'}"


@dataclasses.dataclass(frozen=True)
class Volume:
    name: str
    driver: str = ""
    mountpoint: str = ""


def _json_objects(text: str) -> list[dict]:
    """A JSON array (podman) or one JSON object per line (docker)."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        return [item for item in json.loads(text) if isinstance(item, dict)]
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


def _first_name(names) -> str:
    if isinstance(names, list):
        return names[0] if names else ""
    return str(names or "").split(",")[0]


def parse_ps(text: str) -> list[Container]:
    """`docker ps -a --format '{{json .}}'` or `podman ps -a --format json`."""
    containers = []
    for obj in _json_objects(text):
        state = str(obj.get("State", "")).lower()
        status = str(obj.get("Status", ""))
        health = "unhealthy" if "(unhealthy)" in status else "healthy" if "(healthy)" in status else ""
        containers.append(Container(_first_name(obj.get("Names")), state, status, health))
    return containers


def parse_inspect(text: str) -> list[Container]:
    """`<engine> container inspect ...`: a JSON array in both engines; docker prefixes names with '/'."""
    containers = []
    for obj in _json_objects(text):
        state = obj.get("State") or {}
        health = state.get("Health") or state.get("Healthcheck") or {}
        volumes = tuple(m.get("Name", "") for m in obj.get("Mounts") or [] if m.get("Type") == "volume")
        containers.append(
            Container(
                str(obj.get("Name", "")).lstrip("/"),
                str(state.get("Status", "")).lower(),
                health=str(health.get("Status", "") or ""),
                volumes=volumes,
            )
        )
    return containers


def parse_volume_ls(text: str) -> list[Volume]:
    """`docker volume ls --format '{{json .}}'` or `podman volume ls --format json`."""
    return [
        Volume(str(o.get("Name", "")), str(o.get("Driver", "")), str(o.get("Mountpoint", "")))
        for o in _json_objects(text)
    ]


# Old docker CLIs print the word "json" for `--format json`; the Go template works in every version.
PS = {"podman": "podman ps -a --format json", "docker": "docker ps -a --no-trunc --format '{{json .}}'"}
VOLUME_LS = {"podman": "podman volume ls --format json", "docker": "docker volume ls --format '{{json .}}'"}
# A failed `ps -aq` leaves no id, and the template then answers '[]' with exit 0: its error on stderr is the sign.
INSPECT_ALL = {
    engine: f"ids=$({engine} ps -aq); [ -z \"$ids\" ] && echo '[]' || {engine} container inspect $ids"
    for engine in ("docker", "podman")
}
# A container removed between `ps -aq` and `inspect`: inspect lists the others and exits non-zero, naming only it.
_VANISHED = re.compile(r"no such (container|object)", re.I)


def not_listed(engine: str, command: str, result) -> EngineUnavailable:
    """What a listing that did not list raises: the engine's own reason as the operator would see it (its last line
    of stderr, or stdout), and all it said for evidence."""
    said = result.stderr if result.stderr.strip() else result.stdout
    lines = [line.strip() for line in said.splitlines() if line.strip()]
    return EngineUnavailable(engine, command, lines[-1] if lines else f"exited {result.rc} with no output", said)


def _listing(facts: Facts, command: str, parse) -> Listing:
    """The engine's listing; EngineUnavailable when the command did not list (see the module's docstring)."""
    engine = facts.require_engine()
    result = facts.run(command)
    if not result.ok:
        raise not_listed(engine, command, result)
    return Listing(engine, command, tuple(parse(result.stdout)), result.stdout)


def containers(facts: Facts) -> Listing:
    """All containers of the engine Kolla is configured with (`ps -a`: stopped ones too)."""
    return _listing(facts, PS[facts.require_engine()], parse_ps)


def containers_detail(facts: Facts) -> Listing:
    """`inspect` of every container: health and the named volumes each one mounts."""
    engine = facts.require_engine()
    command = INSPECT_ALL[engine]
    result = facts.run(command)
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    if result.ok and result.stdout.strip() == "[]" and errors:  # `ps -aq` failed: no id is not "no container"
        raise not_listed(engine, command, result)
    if not result.ok and not (
        result.stdout.strip().startswith("[") and errors and all(_VANISHED.search(line) for line in errors)
    ):
        raise not_listed(engine, command, result)
    return Listing(engine, command, tuple(parse_inspect(result.stdout)), result.stdout)


def volumes(facts: Facts) -> Listing:
    return _listing(facts, VOLUME_LS[facts.require_engine()], parse_volume_ls)
