"""Files as checks need them: metadata only, or metadata and text, on the host or inside a container."""

from __future__ import annotations

from conformance.facts import Facts, FileFact


def metadata(facts: Facts, path: str, container: str | None = None) -> FileFact:
    """Whether `path` exists, its kind, owner and mode (its bytes are not read)."""
    return facts.file(path, container=container, read=False)


def content(facts: Facts, path: str, container: str | None = None) -> FileFact:
    return facts.file(path, container=container)
