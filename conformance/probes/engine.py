"""Probes of the container engine (docker or podman): its container and volume listings, as Kolla's tasks see them.

docker and podman print different JSON for the same listing: docker `--format '{{json .}}'` gives one object per
line with strings ("Names": "a,b"), podman `--format json` gives one array with lists ("Names": ["a"]), and
`inspect` names start with "/" under docker only. The parsers below take either shape.
"""
from __future__ import annotations

import dataclasses
import json

from conformance.facts import Facts


@dataclasses.dataclass(frozen=True)
class Container:
    name: str
    state: str                  # running, exited, created, ... (lower case in both engines)
    status: str = ""            # the human column: "Up 5 minutes (healthy)"
    health: str = ""            # healthy / unhealthy / starting, "" without a healthcheck
    volumes: tuple[str, ...] = ()   # named volumes mounted (inspect only)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def describe(self) -> str:
        return f"{self.name} ({self.status or self.state})"


@dataclasses.dataclass(frozen=True)
class Listing:
    """One engine listing: what was parsed, and the raw text for evidence."""

    engine: str
    command: str
    ok: bool
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
        containers.append(Container(str(obj.get("Name", "")).lstrip("/"), str(state.get("Status", "")).lower(),
                                    health=str(health.get("Status", "") or ""), volumes=volumes))
    return containers


def parse_volume_ls(text: str) -> list[Volume]:
    """`docker volume ls --format '{{json .}}'` or `podman volume ls --format json`."""
    return [Volume(str(o.get("Name", "")), str(o.get("Driver", "")), str(o.get("Mountpoint", "")))
            for o in _json_objects(text)]


# Old docker CLIs print the word "json" for `--format json`; the Go template works in every version.
PS = {"podman": "podman ps -a --format json", "docker": "docker ps -a --no-trunc --format '{{json .}}'"}
VOLUME_LS = {"podman": "podman volume ls --format json", "docker": "docker volume ls --format '{{json .}}'"}
INSPECT_ALL = {engine: f"ids=$({engine} ps -aq); [ -z \"$ids\" ] && echo '[]' || {engine} container inspect $ids"
               for engine in ("docker", "podman")}


def _listing(facts: Facts, command: str, parse) -> Listing:
    result = facts.run(command)
    items = tuple(parse(result.stdout)) if result.ok else ()
    return Listing(facts.require_engine(), command, result.ok, items, result.stdout if result.ok else result.stderr)


def containers(facts: Facts) -> Listing:
    """All containers of the engine Kolla is configured with (`ps -a`: stopped ones too)."""
    return _listing(facts, PS[facts.require_engine()], parse_ps)


def containers_detail(facts: Facts) -> Listing:
    """`inspect` of every container: health and the named volumes each one mounts."""
    return _listing(facts, INSPECT_ALL[facts.require_engine()], parse_inspect)


def volumes(facts: Facts) -> Listing:
    return _listing(facts, VOLUME_LS[facts.require_engine()], parse_volume_ls)
