"""Which Kolla Ansible the deployment runs: its files (group_vars, role defaults, templates, filter and action
plugins) are the suite's defaults, so expectations follow that release's own files, backports included.

Where the files come from, first match wins:
  1. the profile's `kolla.ansible_dir` (or --kolla-ansible-dir): a kolla-ansible installation, an unpacked wheel,
     a git checkout, or its `share/kolla-ansible` / `ansible` folder;
  2. $KOLLA_CONFORMANCE_KOLLA_ANSIBLE, the same for a whole machine or CI job;
  3. the kolla-ansible installed beside the suite (the deployment host's own);
  4. the download cache (`kolla-conformance fetch-kolla VERSION` fills it from PyPI).
A profile's `kolla.release` (a version such as 18.8.0, or a series such as 2024.1 or caracal) must agree with
what was found; given alone, it picks the installation or cached copy of that release.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from conformance.errors import ProfileError

ENV = "KOLLA_CONFORMANCE_KOLLA_ANSIBLE"

# OpenStack series -> kolla-ansible major version (kolla-ansible's own ChangeLog and release notes).
SERIES = {
    "yoga": 14,
    "zed": 15,
    "2023.1": 16,
    "antelope": 16,
    "2023.2": 17,
    "bobcat": 17,
    "2024.1": 18,
    "caracal": 18,
    "2024.2": 19,
    "dalmatian": 19,
    "2025.1": 20,
    "epoxy": 20,
    "2025.2": 21,
    "flamingo": 21,
    "2026.1": 22,
    "gazpacho": 22,
    "2026.2": 23,
}
_VERSION = re.compile(r"\d+(\.\d+){0,2}")


@dataclasses.dataclass(frozen=True)
class KollaAnsible:
    """One Kolla Ansible release's files on this machine."""

    ansible_dir: Path  # group_vars/, roles/, filter_plugins/, action_plugins/, site.yml
    package_dir: Path | None  # the folder that holds the `kolla_ansible` Python package its plugins import
    version: str

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def python_cli(self) -> bool:
        """kolla-ansible's Python CLI (kolla_ansible/ansible.py, 19.x on) rather than the bash script of 18.x and
        before: they pass the -e files in different orders."""
        if self.package_dir is not None:
            return (self.package_dir / "kolla_ansible" / "ansible.py").is_file()
        import importlib.util

        return importlib.util.find_spec("kolla_ansible.ansible") is not None

    def file(self, *parts: str) -> Path:
        return self.ansible_dir.joinpath(*parts)


def release_major(release: str, source, key) -> int:
    """`18.8.0` -> 18, `2024.1` / `caracal` -> 18. Series names are names, never compared as numbers."""
    text = str(release).strip().lower()
    if text in SERIES:
        return SERIES[text]
    if _VERSION.fullmatch(text) and not re.fullmatch(r"20\d\d(\.\d+)?", text):
        return int(text.split(".")[0])
    known = ", ".join(k for k in SERIES if k[0].isdigit())
    raise ProfileError(
        source, key, f"unknown release {release!r} (a kolla-ansible version like 18.8.0, or a series: {known})"
    )


def matches(found: KollaAnsible, release: str, source, key) -> bool:
    text = str(release).strip().lower()
    if text in SERIES:
        return found.major == SERIES[text]
    release_major(release, source, key)  # validates
    given = text.split(".")
    return found.version.split(".")[: len(given)] == given


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kolla-conformance" / "kolla-ansible"


def find(path: Path | None, release: str | None, source, key: str = "kolla.ansible_dir") -> KollaAnsible:
    """The Kolla Ansible to read defaults from; a ProfileError (one line) when there is none that fits."""
    if path is not None:
        found = from_path(path, release, source, key)
        _agree(found, release, source)
        return found
    if os.environ.get(ENV):
        found = from_path(Path(os.environ[ENV]), release, f"${ENV}", None)
        _agree(found, release, source)
        return found
    installed = _installed()
    if installed is not None and (release is None or matches(installed, release, source, "kolla.release")):
        return installed
    cached = _cached(release, source) if release else None
    if cached is not None:
        return cached
    hint = f"`kolla-conformance fetch-kolla {release}` downloads it" if release else "install kolla-ansible"
    if installed is not None:
        raise ProfileError(
            source,
            "kolla.release",
            f"Kolla Ansible {release} not found (installed: {installed.version}); {hint}, or set kolla.ansible_dir",
        )
    raise ProfileError(
        source,
        "kolla.release" if release else "kolla",
        f"Kolla Ansible{' ' + release if release else ''} not found: its files are the defaults the hosts are "
        f"judged against; {hint}, or set kolla.ansible_dir (or ${ENV})",
    )


def _agree(found: KollaAnsible, release: str | None, source) -> None:
    if release is not None and not matches(found, release, source, "kolla.release"):
        raise ProfileError(
            source,
            "kolla.release",
            f"{release} disagrees with the Kolla Ansible found ({found.version} in {found.ansible_dir})",
        )


def from_path(path: Path, release: str | None, source, key) -> KollaAnsible:
    """An installation, unpacked wheel, checkout, or their share/kolla-ansible or ansible folder."""
    path = path.expanduser()
    if not path.exists():
        raise ProfileError(source, key, f"not found: {path}")
    for ansible_dir in (path, path / "ansible", path / "share" / "kolla-ansible" / "ansible", *_data_dirs(path)):
        group_vars = ansible_dir / "group_vars"
        if ((group_vars / "all").is_dir() or (group_vars / "all.yml").is_file()) and (
            ansible_dir / "roles" / "nova-cell"
        ).is_dir():
            break
    else:
        raise ProfileError(
            source, key, f"no Kolla Ansible files in {path} (expected ansible/group_vars/all and roles/nova-cell)"
        )
    version, package = _version_and_package(ansible_dir)
    if version is None:
        if release is None or not _VERSION.fullmatch(str(release)):
            raise ProfileError(source, key, f"cannot tell the Kolla Ansible version of {path}: set kolla.release to it")
        version = str(release)
    return KollaAnsible(ansible_dir.resolve(), package, version)


def _data_dirs(path: Path) -> list[Path]:
    return [d / "data" / "share" / "kolla-ansible" / "ansible" for d in sorted(path.glob("kolla_ansible-*.data"))]


def _version_and_package(ansible_dir: Path) -> tuple[str | None, Path | None]:
    """The version from the dist-info beside the files (a wheel, a venv) or a checkout's PKG-INFO."""
    for up in list(ansible_dir.parents)[:6]:
        for info in [
            *up.glob("kolla_ansible-*.dist-info"),
            *up.glob("lib/python3*/site-packages/kolla_ansible-*.dist-info"),
        ]:
            version = info.name[len("kolla_ansible-") : -len(".dist-info")]
            return version, info.parent if (info.parent / "kolla_ansible").is_dir() else None
        pkg_info = up / "PKG-INFO"
        if (up / "kolla_ansible").is_dir() and pkg_info.is_file():
            match = re.search(r"^Version: (\S+)", pkg_info.read_text(errors="replace"), re.M)
            return (match.group(1) if match else None), up
        if (up / "kolla_ansible").is_dir():
            return None, up
    return None, None


def _installed() -> KollaAnsible | None:
    try:
        dist = importlib.metadata.distribution("kolla-ansible")
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if str(file).replace("\\", "/").endswith("share/kolla-ansible/ansible/site.yml"):
            site = Path(str(dist.locate_file(file)))
            return KollaAnsible(site.parent.resolve(), None, dist.version)
    return None


def _cached(release: str, source) -> KollaAnsible | None:
    base = cache_dir()
    if not base.is_dir():
        return None
    versions = sorted(
        (d for d in base.iterdir() if d.is_dir() and _VERSION.fullmatch(d.name)),
        key=lambda d: tuple(int(p) for p in d.name.split(".")),
    )
    for folder in reversed(versions):  # the newest point release of a series
        found = from_path(folder, None, source, "kolla.release")
        if matches(found, release, source, "kolla.release"):
            return found
    return None


def fetch(version: str, cache: Path | None = None) -> KollaAnsible:
    """Download kolla-ansible VERSION's wheel from the package index and unpack it into the cache (files only:
    nothing is installed). Its Python requirement is not ours to meet, so pip is asked for a 3.12 wheel."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise ProfileError("fetch-kolla", None, f"expected a version like 18.8.0, got {version!r}")
    target = (cache or cache_dir()) / version
    if (target / "ok").is_file():
        return from_path(target, version, "fetch-kolla", None)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
        command += ["--python-version", "3.12", "--dest", tmp, f"kolla-ansible=={version}"]
        done = subprocess.run(command, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("kolla_ansible-*.whl"))
        if done.returncode != 0 or not wheels:
            last = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise ProfileError("fetch-kolla", version, f"pip download failed: {last}")
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(wheels[0]) as wheel:
            wheel.extractall(unpacked)
        (unpacked / "ok").write_text(version + "\n")
        if target.exists():  # a half-unpacked copy from an interrupted fetch
            import shutil

            shutil.rmtree(target)
        unpacked.rename(target)
    return from_path(target, version, "fetch-kolla", None)
