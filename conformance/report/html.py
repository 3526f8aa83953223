"""Offline HTML report: allure-results dirs (one run or many shards) -> one single-file Allure Report 3.

Why Allure 3 (npm `allure`): no JVM start (1.1-1.5 s per report against ~4.2 s for Allure 2 commandline here),
and its single-file mode gives one index.html that a browser opens from file:// with no server and no network.
History lives in a JSON-lines file that Allure 3 appends to; by default it is kept beside the report
(HTML_DIR/history.jsonl), so regenerating into the same folder (or restoring that one file in CI) keeps trends.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from conformance.errors import ConformanceError
from conformance.report import pages

ALLURE_PACKAGE = "allure@3.18.0"  # pinned: the version the report's config and the analytics strip are made for
ALLURE_ENV = "KOLLA_CONFORMANCE_ALLURE"
_CHECKOUT = Path(__file__).resolve().parents[2]  # a checkout's top (fixtures/setup.sh installs into .tools/ there)
HISTORY_FILE = "history.jsonl"
# Allure 3.18 hard-codes a Google Analytics tag into index.html; an offline report must make no network call.
_ANALYTICS = re.compile(
    r'<script async src="https://www\.googletagmanager\.com/[^"]*"></script>\s*<script>.*?</script>', re.S
)

# Categories separate what the operator must fix on a host from hosts that were not checked at all, and name each
# kind of skip as itself (by the outcome label pages.py gives it: waived, not judged, n/a).
CATEGORIES = [
    {"name": "Product defects (failed checks)", "matchedStatuses": ["failed"]},
    {"name": "Hosts unreachable", "matchedStatuses": ["broken"], "messageRegex": ".*HostUnreachable.*"},
    {"name": "Waived findings", "matchers": {"statuses": ["skipped"], "labels": {pages.OUTCOME_LABEL: "^waived$"}}},
    {
        "name": "Not judged (a container or daemon did not answer)",
        "matchers": {"statuses": ["skipped"], "labels": {pages.OUTCOME_LABEL: "^not judged$"}},
    },
    {
        "name": "Not applicable (n/a) on this host",
        "matchers": {"statuses": ["skipped"], "labels": {pages.OUTCOME_LABEL: "^n/a$"}},
    },
    {"name": "Suite errors (check crashed)", "matchedStatuses": ["broken"]},
]
# Two views of one run, each an Allure report of its own (the suites tree shows one hierarchy): by area, the way the
# checks are written, and by host, the way operators think. Allure writes each into OUTPUT/<id>/; OUTPUT/index.html
# is a small summary page linking both (pages.summary_page).
# A level with one leaf is only a click more: by area the results of a check are its hosts; by host, an area's
# results are its checks (each titled "<check id> on <host>"; subSuite = the check, for tools that read suites).
VIEWS = {
    "area": ("by area", ["epic", "story"]),
    "hosts": ("by host", ["parentSuite", "suite"]),
}


class ReportError(ConformanceError):
    pass


def user_tools_dir() -> Path:
    """Where an installed suite looks for its own Allure (an npm prefix): a user's data folder, never site-packages."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kolla-conformance" / "allure"


def tools_dirs() -> list[Path]:
    """npm prefixes searched: a checkout's .tools/allure (only in a checkout), then the user's data folder."""
    checkout = [_CHECKOUT / ".tools" / "allure"] if (_CHECKOUT / "pyproject.toml").is_file() else []
    return [*checkout, user_tools_dir()]


def allure_command() -> list[str]:
    """The Allure 3 CLI: $KOLLA_CONFORMANCE_ALLURE, an npm prefix of tools_dirs(), or `allure` on PATH."""
    given = os.environ.get(ALLURE_ENV)
    if given:
        if not Path(given).is_file():
            raise ReportError(f"${ALLURE_ENV}: file not found: {given}")
        return [given]
    candidates = [str(d / "node_modules" / ".bin" / "allure") for d in tools_dirs()] + [shutil.which("allure")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return [candidate]
    raise ReportError(
        f"allure not found (Allure Report 3, on Node 20+): install it with "
        f"`npm install --prefix {user_tools_dir()} {ALLURE_PACKAGE}`, or put `allure` on PATH, "
        f"or set {ALLURE_ENV} to its path"
    )


def merge_properties(texts: list[str]) -> dict[str, str]:
    """environment.properties of several shards -> one: values that differ are joined (e.g. host groups)."""
    merged: dict[str, list[str]] = {}
    for text in texts:
        for line in text.splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                for part in (v.strip() for v in value.split(", ")):
                    if part and part not in merged.setdefault(key.strip(), []):
                        merged[key.strip()].append(part)
    if "hosts.unreachable" in merged and len(merged["hosts.unreachable"]) > 1:
        merged["hosts.unreachable"] = [v for v in merged["hosts.unreachable"] if v != "none"]
    return {key: ", ".join(values) for key, values in merged.items()}


def stage(results_dirs: list[Path], staging: Path) -> int:
    """Copy every shard's results into one folder (result files are uuid-named, so they never collide).
    Categories come from our config, not from a shard's categories.json."""
    props, count = [], 0
    for folder in results_dirs:
        if not folder.is_dir():
            raise ReportError(f"{folder}: allure results folder not found")
        for item in folder.iterdir():
            if item.name == "environment.properties":
                props.append(item.read_text())
            elif item.is_file() and item.name not in ("categories.json", "executor.json"):
                shutil.copy2(item, staging / item.name)
                count += item.name.endswith("-result.json")
    if props:
        (staging / "environment.properties").write_text(
            "".join(f"{k}={v}\n" for k, v in merge_properties(props).items())
        )
    return count


def view_index(index: Path, view: str) -> Path:
    """The single file of one view (VIEWS) beside the summary page `index`."""
    return Path(index).parent / view / "index.html"


def generate(
    results_dirs: list[Path],
    output: Path,
    history: Path | None = None,
    name: str = "Kolla libvirt conformance",
    timeout: int = 300,
) -> Path:
    """Build OUTPUT/index.html, a summary page linking OUTPUT/area/index.html and OUTPUT/hosts/index.html (each one
    self-contained file); returns the summary's path."""
    output = Path(output).resolve()
    history = Path(history).resolve() if history else output / HISTORY_FILE
    command = allure_command()
    with tempfile.TemporaryDirectory(prefix="kc-report-") as tmp:
        staging = Path(tmp) / "results"
        staging.mkdir()
        if stage([Path(d) for d in results_dirs], staging) == 0:
            raise ReportError(f"no test results in {', '.join(map(str, results_dirs))}")
        pages.reshape_folder(staging)  # the copy only: the run's own results stay as allure-pytest wrote them
        kept = Path(tmp) / HISTORY_FILE  # allure may clear OUTPUT: keep the history outside while it works
        if history.is_file():
            shutil.copy2(history, kept)
        config = {
            "name": name,
            "output": str(output),
            "historyPath": str(kept),
            "categories": CATEGORIES,
            "plugins": {
                view: {
                    "import": "@allurereport/plugin-awesome",
                    "options": {
                        "singleFile": True,
                        "reportLanguage": "en",
                        "reportName": f"{name}: {title}",
                        "groupBy": group_by,
                    },
                }
                for view, (title, group_by) in VIEWS.items()
            },
        }
        (Path(tmp) / "allurerc.json").write_text(json.dumps(config))
        proc = subprocess.run(
            [*command, "generate", str(staging), "--config", str(Path(tmp) / "allurerc.json")],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        index = output / "index.html"
        if proc.returncode != 0 or not index.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ReportError(f"allure generate failed (exit {proc.returncode}): {tail[0]}")
        for view in VIEWS:
            page = view_index(index, view)
            if not page.is_file():
                raise ReportError(f"allure generate wrote no {page}")
            page.write_text(_ANALYTICS.sub("", page.read_text()))
        views = {view: f"{name}: {title}" for view, (title, _) in VIEWS.items()}
        index.write_text(pages.summary_page(name, views, pages.counts(staging)))
        if kept.is_file():
            history.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(kept, history)
    return index
