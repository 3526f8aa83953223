"""The operator's package, as an operator gets it: the wheel built from this checkout, installed into a fresh venv,
run from a folder outside the checkout against the lab: a shipped profile by name, the catalog, the HTML report
and the zero-config standard run (KOLLA_CONFIG_PATH and kolla-ansible's default inventory, nothing else).

The venv uses --system-site-packages: libvirt-python compiles against libvirt's headers and ansible-core and the
rest would download, minutes this test does not need to spend; the package itself (code, profiles, pages) comes
only from the wheel, which the test checks by where `conformance` is imported from.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conformance.report import html

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
LAB = {"name": "package", "hosts": [{"name": "pkg01", "shape": "docker"}]}
_NOT_SOURCE = shutil.ignore_patterns(".git", ".lab", ".tools", "__pycache__", "build", "dist", "*.egg-info")


def run(argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300, **kwargs)


def install(work: Path) -> Path:
    """A fresh venv holding only the wheel of this checkout (built from a copy: the checkout stays clean)."""
    shutil.copytree(ROOT, work / "src", ignore=_NOT_SOURCE, symlinks=True)
    venv = work / "venv"
    pip = [venv / "bin" / "python", "-m", "pip", "-q", "--disable-pip-version-check"]
    # pyproject's build backend (setuptools>=77, PEP 639 license metadata) is newer than the system's.
    for step in (
        [sys.executable, "-m", "venv", "--system-site-packages", venv],
        [*pip, "install", "setuptools>=77"],
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", work / "dist", work / "src"],
    ):
        proc = run(step)
        assert proc.returncode == 0, proc.stderr
    (wheel,) = (work / "dist").glob("kolla_libvirt_conformance-*.whl")
    proc = run([*pip, "install", "--no-deps", "--ignore-installed", wheel])  # the system has a copy (editable)
    assert proc.returncode == 0, proc.stderr
    return venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory, lab_factory):
    """The venv is built while the lab comes up: both wait mostly on other processes."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        venv = pool.submit(install, tmp_path_factory.mktemp("package"))
        lab = lab_factory(LAB)
        return venv.result(), lab


@pytest.fixture(scope="module")
def venv(installed) -> Path:
    return installed[0]


@pytest.fixture(scope="module")
def lab(installed):
    return installed[1]


@pytest.fixture(scope="module")
def operator(tmp_path_factory, venv, lab):
    """Runs a command as an operator on a deployment host: from a folder of theirs, with the venv on PATH, the
    lab's names resolving and the lab's key and host keys in ~/.ssh (a private mount namespace: the machine's
    own ~/.ssh and /etc/hosts never change)."""
    tmp_path = tmp_path_factory.mktemp("operator")
    home_ssh = tmp_path / "ssh"
    home_ssh.mkdir(mode=0o700)
    for name in ("id_ed25519", "id_rsa"):  # predeploy-gate names ~/.ssh/id_rsa; ssh's default finds either
        shutil.copy(lab.identity_file, home_ssh / name)
        (home_ssh / name).chmod(0o600)
    shutil.copy(lab.known_hosts, home_ssh / "known_hosts")
    cwd = tmp_path / "operator"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KOLLA_CONFIG_PATH")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    ssh_dir = Path.home() / ".ssh"

    def call(*argv, extra_env=None):
        script = 'mount --bind "$0" "$1" && mount --bind "$2" /etc/hosts && shift 2 && exec "$@"'
        command = ["unshare", "--mount", "sh", "-c", script, home_ssh, ssh_dir, lab.hosts_file, *argv]
        return run(command, cwd=cwd, env={**env, **(extra_env or {})})

    call.cwd = cwd  # type: ignore[attr-defined]
    return call


def test_the_suite_comes_from_the_wheel(operator, venv):
    proc = operator("python", "-c", "import conformance; print(conformance.__file__)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith(str(venv)), proc.stdout
    shipped = venv.glob("lib/python*/site-packages/conformance/profiles/*.yml")
    assert sorted(p.stem for p in shipped) == [
        "bastion-sudo",
        "post-cleanup",
        "post-upgrade",
        "predeploy-gate",
        "standard",
    ]


def test_a_shipped_profile_by_name_against_the_lab(operator, lab):
    proc = operator(
        "kolla-conformance", "run", "--profile", "predeploy-gate",
        "--configdir", lab.kolla_dir, "-i", lab.kolla_dir / "multinode",
        "--alluredir", "allure-results", "--findings-json", "findings.json",
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert (
        out.startswith("profile: ") and "/site-packages/conformance/profiles/predeploy-gate.yml" in out.splitlines()[0]
    )
    assert "phases: predeploy" in out
    findings = json.loads((operator.cwd / "findings.json").read_text())
    assert {f["host"] for f in findings} == {"pkg01"} and len(findings) > 10
    assert {f["check_id"] for f in findings} >= {"virt.dev-kvm", "tls.files-present", "sasl.mech-matches-tls"}
    assert list((operator.cwd / "allure-results").glob("*-result.json"))


def test_catalog_from_the_installed_package(operator):
    proc = operator("kolla-conformance", "catalog")
    assert proc.returncode == 0, proc.stderr
    assert "| [`virt.dev-kvm`](conformance/checks/pages/virt.dev-kvm.md) |" in proc.stdout
    page = operator("kolla-conformance", "catalog", "tls.validity")
    assert page.returncode == 0 and "tls.validity" in page.stdout
    missing = operator("kolla-conformance", "catalog", "--check", "README.md")
    assert missing.returncode == 4
    assert missing.stderr.strip() == "README.md: not found (nothing to compare the check catalog with)"


def test_report_from_the_installed_package(operator, lab):
    try:
        allure = Path(html.allure_command()[0])
    except html.ReportError as exc:
        pytest.skip(f"{exc} (fixtures/setup.sh installs it)")
    results = operator.cwd / "allure-results"  # the shipped profile's run made them; run alone, make some
    if not results.is_dir():
        proc = operator("kolla-conformance", "run", "--profile", "predeploy-gate", "--configdir", lab.kolla_dir,
                        "-i", lab.kolla_dir / "multinode", "-k", ":virt.", "--alluredir", results)  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
    bare = operator(
        "kolla-conformance", "report", results, "-o", "html", extra_env={"XDG_DATA_HOME": str(operator.cwd / "data")}
    )
    if not shutil.which("allure"):  # nothing on PATH yet: the message is the install step, true for this venv
        assert bare.returncode == 4 and "npm install --prefix " in bare.stderr and "site-packages" not in bare.stderr
    # Allure on PATH, as an operator who followed the README has it.
    proc = operator("kolla-conformance", "report", results, "-o", "html",
                    extra_env={"PATH": f"{allure.parent}{os.pathsep}{os.environ['PATH']}"})  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    index = operator.cwd / "html" / "index.html"  # the summary page, linking Allure's two views
    assert 'href="area/index.html"' in index.read_text() and 'href="hosts/index.html"' in index.read_text()
    for view in html.VIEWS:
        assert html.view_index(index, view).stat().st_size > 10_000, view
    # Or where the README's install step puts it (npm --prefix <data>/kolla-conformance/allure), nothing on PATH.
    data = operator.cwd / "data-installed"
    (data / "kolla-conformance").mkdir(parents=True)
    (data / "kolla-conformance" / "allure").symlink_to(allure.parents[2])  # the prefix of node_modules/.bin/allure
    proc = operator("kolla-conformance", "report", results, "-o", "html2", extra_env={"XDG_DATA_HOME": str(data)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (operator.cwd / "html2" / "index.html").is_file()


def test_the_sdist_carries_what_its_tests_need(venv, tmp_path):
    """The sdist builds (with the venv's setuptools, the backend pyproject names) and its own tests run from it."""
    src = venv.parent / "src"
    build = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    proc = run([venv / "bin" / "python", "-c", build, tmp_path], cwd=src)
    assert proc.returncode == 0, proc.stderr
    with tarfile.open(tmp_path / proc.stdout.split()[-1]) as sdist:
        sdist.extractall(tmp_path, filter="data")
        names = {name.split("/", 1)[-1] for name in sdist.getnames()}
    assert {"LICENSE", "README.md", "MANIFEST.in", "conftest.py", "docs/ci.md", "fixtures/lab/lab.py"} <= names
    assert {"profiles/standard.yml", "conformance/profiles/standard.yml", "tests/unit/test_ci_docs.py"} <= names
    (unpacked,) = tmp_path.glob("kolla_libvirt_conformance-*/")
    tests = ["tests/unit/test_profile_names.py", "tests/unit/test_ci_docs.py", "tests/unit/test_shipped_profiles.py"]
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    proc = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=unpacked, env=env)
    assert proc.returncode == 0 and " passed" in proc.stdout, proc.stdout + proc.stderr


def test_zero_config_run_against_the_lab(operator, lab):
    """The standard deployment as kolla-ansible sees it: KOLLA_CONFIG_PATH, its ansible/inventory/all-in-one."""
    default_inventory = lab.kolla_dir / "ansible" / "inventory" / "all-in-one"
    default_inventory.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(lab.kolla_dir / "multinode", default_inventory)
    proc = operator("kolla-conformance", "run", extra_env={"KOLLA_CONFIG_PATH": str(lab.kolla_dir)})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    first = out.splitlines()[:6]
    assert first[0].startswith("profile: ") and first[0].endswith("/site-packages/conformance/profiles/standard.yml")
    assert first[1:4] == [
        f"config dir: {lab.kolla_dir}",
        f"inventory: {default_inventory} (group compute)",
        "hosts: 1: pkg01",
    ], first
    assert first[4].startswith("release: Kolla Ansible 23.0.0 ") and first[5] == "phases: predeploy, postdeploy"
    assert " passed" in out
