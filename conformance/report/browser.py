"""Read a generated report the way a person does: Debian's chromium, headless, from file://, no network.

Used by the tests (text of a rendered page) and for the README screenshot (docs/report.png).
"""

from __future__ import annotations

import base64
import html
import re
import shutil
import subprocess
from pathlib import Path

from conformance.errors import ConformanceError

# No first-run, sync, updates or background fetches: the page must render from the file alone.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--hide-scrollbars",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise ConformanceError("chromium not found: apt-get install chromium (see conformance/report/REQUIREMENTS.md)")
    return found


def dump_dom(index: Path, fragment: str = "", budget_ms: int = 15000) -> str:
    """The DOM after the report's scripts ran; `fragment` selects a page (e.g. a test result id)."""
    url = Path(index).resolve().as_uri() + (f"#{fragment}" if fragment else "")
    proc = subprocess.run(
        [chromium(), *FLAGS, f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.stdout


def text(dom: str) -> str:
    """Visible text of a DOM dump, whitespace collapsed."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom))).strip()


def screenshot(index: Path, png: Path, fragment: str = "", size: str = "1400,900") -> Path:
    url = Path(index).resolve().as_uri() + (f"#{fragment}" if fragment else "")
    subprocess.run(
        [
            chromium(),
            *FLAGS,
            "--virtual-time-budget=15000",
            f"--window-size={size}",
            f"--screenshot={Path(png).resolve()}",
            url,
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return Path(png)


def embedded_data(index: Path) -> dict[str, bytes]:
    """The single-file report's data files (base64 inside index.html), decoded: what a grep must look at."""
    page = Path(index).read_text()
    return {name: base64.b64decode(data) for name, data in re.findall(r'd\("([^"]+)","([A-Za-z0-9+/=]*)"\)', page)}


def read(index: Path, fragment: str = "", expect: str = "", attempts: int = 3) -> str:
    """Visible text of a page; on a busy machine the app may not have rendered within the budget, so retry
    (with a longer budget) until `expect` shows."""
    page = ""
    for attempt in range(attempts):
        page = text(dump_dom(index, fragment, budget_ms=15000 * (attempt + 1)))
        if expect in page:
            break
    return page
