"""Result pages an operator reads by host: reshape allure-pytest's *-result.json (a staged copy) before Allure renders.

allure-pytest labels every result with the machine that ran pytest (`host`, `thread`), the module path (`package`,
`suite`, fullName, titlePath: conformance/suite/kolla_conformance.py...) and shows a skip's reason as a pytest
"Skipped: ..." message with a code location. None of that is about the checked host. Here each of our results gets:
the checked host as its only `host` label, suites by host (parentSuite = host, suite = area, subSuite = check), the
host and check id where the internal path was, and n/a / not judged / waived as themselves ("n/a: <reason>").
"""

from __future__ import annotations

import ast
import html
import json
from collections import Counter
from pathlib import Path

TARGET_PARAMETER = "conformance_target"  # allure_report.label_test: "<host>:<check id>", hidden
# allure-pytest's labels that describe the runner or the module, not the checked host
RUNNER_LABELS = {"host", "thread", "package", "testClass", "testMethod", "suite", "parentSuite", "subSuite"}
# What the plugin's skip reasons start with (plugin.judge, results.apply_waiver), and how a page says it.
OUTCOMES = (("waived: ", "waived"), ("not judged: ", "not judged"), ("not applicable: ", "n/a"))
OUTCOME_LABEL = "outcome"


def _value(text: str) -> str:
    """allure-pytest writes parameter values as Python reprs ('compute01')."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, str) else text


def target(result: dict) -> tuple[str, str] | None:
    for parameter in result.get("parameters", []):
        if parameter.get("name") == TARGET_PARAMETER:
            host, _, check_id = _value(parameter.get("value", "")).partition(":")
            if host and check_id:
                return host, check_id
    return None


def outcome(result: dict) -> tuple[str, str] | None:
    """(word, reason) of a skipped result: ("n/a", "effective virt type is qemu"); None otherwise."""
    if result.get("status") != "skipped":
        return None
    message = (result.get("statusDetails") or {}).get("message", "")
    message = message.removeprefix("Skipped: ")
    for prefix, word in OUTCOMES:
        if message.startswith(prefix):
            return word, message[len(prefix) :]
    return None


def reshape(result: dict) -> dict:
    """One result as an operator reads it; results that are not a conformance check are left as they are."""
    found = target(result)
    if found is None:
        return result
    host, check_id = found
    labels = [label for label in result.get("labels", []) if label.get("name") not in RUNNER_LABELS]
    area = next((label["value"] for label in labels if label.get("name") == "epic"), check_id.split(".")[0])
    labels += [
        {"name": "host", "value": host},
        {"name": "parentSuite", "value": host},
        {"name": "suite", "value": area},
        {"name": "subSuite", "value": check_id},
    ]
    result = {**result, "labels": labels, "fullName": f"{host}:{check_id}", "titlePath": [host, area]}
    result["name"] = f"{check_id} on {host}"
    said = outcome(result)
    if said is not None:
        # Allure shows any status message in a box titled "Error" (and a skip's trace is a pytest code location):
        # the outcome is in the title instead, its reason the first step of the test body and the description's
        # first line, and categories match the outcome label.
        word, reason = said
        result["statusDetails"] = {}
        result["name"] = f"{check_id} on {host}: {word}"
        step = {"name": f"{word}: {reason}", "status": "skipped", "stage": "finished"}
        step.update({key: result[key] for key in ("start", "stop") if key in result})
        result["steps"] = [step, *result.get("steps", [])]
        result["description"] = f"**{word}: {reason}**\n\n{result.get('description', '')}"
        labels.append({"name": OUTCOME_LABEL, "value": word})
        if {"name": "tag", "value": word} not in labels:
            labels.append({"name": "tag", "value": word})
    return result


def reshape_folder(folder: Path) -> None:
    """Every *-result.json in a staged results folder, in place (never the run's own folder)."""
    for path in Path(folder).glob("*-result.json"):
        try:
            result = json.loads(path.read_text())
        except ValueError:
            continue  # a truncated file (an interrupted shard): Allure skips it as well
        path.write_text(json.dumps(reshape(result)))


COLUMNS = ("failed", "broken", "waived", "not judged", "n/a", "passed")


def counts(folder: Path) -> dict[str, Counter]:
    """host -> how many results of each kind (COLUMNS), from a reshaped results folder."""
    by_host: dict[str, Counter] = {}
    for path in Path(folder).glob("*-result.json"):
        try:
            result = json.loads(path.read_text())
        except ValueError:
            continue
        found = target(result)
        if found is None:
            continue
        word = next((label["value"] for label in result["labels"] if label["name"] == OUTCOME_LABEL), None)
        by_host.setdefault(found[0], Counter())[word or result.get("status", "unknown")] += 1
    return by_host


def summary_page(name: str, views: dict[str, str], by_host: dict[str, Counter]) -> str:
    """OUTPUT/index.html: links to each view's single file (Allure's own summary links folders, which file://
    shows as a listing) and a count per host. Plain HTML, no script: it opens anywhere."""
    esc = html.escape
    links = "".join(f'<li><a href="{esc(view)}/index.html">{esc(title)}</a></li>' for view, title in views.items())
    head = "".join(f"<th>{esc(column)}</th>" for column in COLUMNS)
    rows = "".join(
        f"<tr><td>{esc(host)}</td>" + "".join(f"<td>{by_host[host][c] or ''}</td>" for c in COLUMNS) + "</tr>"
        for host in sorted(by_host)
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(name)}</title>'
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .8em;text-align:left}</style></head>"
        f"<body><h1>{esc(name)}</h1><ul>{links}</ul>"
        f"<table><tr><th>host</th>{head}</tr>{rows}</table></body></html>\n"
    )
