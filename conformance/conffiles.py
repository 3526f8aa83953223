"""Parsers for the text of the configuration files the checks read. Pure functions: text in, data out."""

from __future__ import annotations

import re


def parse_ini(text: str) -> dict[str, dict[str, str]]:
    """oslo.config style INI (nova.conf, openvswitch_agent.ini, libvirt auth.conf).

    Unlike configparser, [DEFAULT] is an ordinary section and keys keep their case; a repeated key's last value wins,
    as in Kolla's merge_configs.
    """
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    last_key = None
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            current = sections.setdefault(stripped[1:-1].strip(), {})
            last_key = None
            continue
        if current is None:
            current = sections.setdefault("DEFAULT", {})
        if raw[:1] in (" ", "\t") and last_key is not None:  # continuation line
            current[last_key] = (current[last_key] + "\n" + stripped).strip()
            continue
        key, sep, value = stripped.partition("=")
        if not sep:
            continue
        last_key = key.strip()
        current[last_key] = value.strip()
    return sections


def merge_ini(*texts: str) -> dict[str, dict[str, str]]:
    """Kolla's merge_configs: later sources win key by key."""
    merged: dict[str, dict[str, str]] = {}
    for text in texts:
        for section, values in parse_ini(text).items():
            merged.setdefault(section, {}).update(values)
    return merged


_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+)|(?P<open>\[)|(?P<close>\])|(?P<comma>,))')


def parse_libvirt_conf(text: str) -> dict[str, object]:
    """libvirt's own conf format (libvirtd.conf, qemu.conf): `key = 1`, `key = "s"`, `key = [ "a", "b" ]`."""
    values: dict[str, object] = {}
    clean = "\n".join(_strip_comment(line) for line in text.splitlines())
    pos = 0
    assignment = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")
    while True:
        match = assignment.match(clean, pos)
        if not match:
            break
        key, pos = match.group(1), match.end()
        value, pos = _libvirt_value(clean, pos)
        values[key] = value
    return values


def _strip_comment(line: str) -> str:
    in_string = False
    for index, char in enumerate(line):
        if char == '"':
            in_string = not in_string
        elif char == "#" and not in_string:
            return line[:index]
    return line


def _libvirt_value(text: str, pos: int):
    token = _TOKEN.match(text, pos)
    if not token:
        raise ValueError(f"cannot parse libvirt config near {text[pos : pos + 30]!r}")
    if token.group("str") is not None:
        return token.group("str")[1:-1].replace('\\"', '"'), token.end()
    if token.group("num") is not None:
        return int(token.group("num")), token.end()
    if token.group("open"):
        items: list = []
        pos = token.end()
        while True:
            closing = _TOKEN.match(text, pos)
            if closing and closing.group("close"):
                return items, closing.end()
            if closing and closing.group("comma"):
                pos = closing.end()
                continue
            item, pos = _libvirt_value(text, pos)
            items.append(item)
    raise ValueError(f"unexpected token near {text[pos : pos + 30]!r}")


def parse_sasl_conf(text: str) -> dict[str, str]:
    """Cyrus SASL application config (/etc/sasl2/libvirt.conf): `key: value` lines."""
    values = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition(":")
        if sep:
            values[key.strip()] = value.strip()
    return values
