"""docs/ci.md stays true: its YAML examples parse, and every command they run exists in the CLI with its options."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conformance import cli
from fixtures.lab import cli as lab_cli

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "ci.md"
_FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
_COMMAND = re.compile(r"(?<![\w/.-])(kolla-conformance|python3 -m fixtures\.lab) (.*)")
_TEMPLATED = re.compile(r"\$?\{\{.*?\}\}")  # Zuul/Ansible {{ x }} and GitHub ${{ x }}: one word each
_SHELL_OPERATORS = {";", "&&", "||", "|"}


def blocks(language):
    return [body for lang, body in _FENCE.findall(PAGE.read_text()) if lang == language]


def yaml_documents():
    return [yaml.safe_load(body) for body in blocks("yaml")]


def strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def commands():
    """(program, argv) of every command the examples run: YAML values (scripts) and the sh blocks."""
    scripts = [s for doc in yaml_documents() for s in strings(doc)] + blocks("sh")
    found = []
    for script in scripts:
        for line in script.replace("\\\n", " ").splitlines():
            for program, rest in _COMMAND.findall(line):
                words = shlex.split(_TEMPLATED.sub("X", rest), comments=True)
                cut = next((i for i, w in enumerate(words) if w in _SHELL_OPERATORS), len(words))
                found.append((program, words[:cut]))
                if words[:3] == ["run", "--", "kolla-conformance"]:  # the lab's name view runs the suite
                    found.append(("kolla-conformance", words[3:cut]))
    return found


@pytest.fixture(scope="module")
def pytest_help():
    proc = subprocess.run([sys.executable, "-m", "pytest", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_yaml_examples_parse():
    documents = yaml_documents()
    assert len(documents) >= 6  # .zuul.yaml, the shard's and merge job's playbooks, GitHub's workflow
    assert all(documents)


def test_every_kolla_conformance_command_exists_with_its_options(pytest_help):
    used = [argv for program, argv in commands() if program == "kolla-conformance"]
    assert {argv[0] for argv in used} >= {"run", "merge", "report"}
    for argv in used:
        args, rest = cli.parser().parse_known_args(argv)  # an unknown command or option exits 4
        if args.command != "run":
            assert not rest, argv
        for word in rest:  # what `run` hands to pytest: its options must be pytest's or the plugin's
            if word.startswith("--"):
                assert re.search(rf"^\s+(-\w, )?{re.escape(word.split('=')[0])}\b", pytest_help, re.M), word


def test_lab_commands_exist_and_name_real_scenarios():
    used = [argv for program, argv in commands() if program == "python3 -m fixtures.lab"]
    assert used
    for argv in used:
        assert argv[0] in ("up", "down", "status", "run") and f"{argv[0]} " in lab_cli.__doc__, argv
        for word in argv:
            if word.startswith("fixtures/lab/scenarios/"):
                assert (ROOT / word).is_file(), word


def test_the_shards_are_merged_after_they_ran():
    documents = yaml_documents()
    zuul = next(doc for doc in documents if isinstance(doc, list) and any("project" in item for item in doc))
    jobs = {item["job"]["name"]: item["job"] for item in zuul if "job" in item}
    pipeline = next(item["project"] for item in zuul if "project" in item)["check"]["jobs"]
    merge = next(entry for entry in pipeline if isinstance(entry, dict))
    ((name, settings),) = merge.items()
    assert set(settings["dependencies"]) == {entry for entry in pipeline if isinstance(entry, str)} <= set(jobs)
    assert name in jobs
    github = next(doc for doc in documents if isinstance(doc, dict) and "jobs" in doc)
    assert github["jobs"]["merge"]["needs"] == "shard" and "!cancelled()" in github["jobs"]["merge"]["if"]
    assert len(github["jobs"]["shard"]["strategy"]["matrix"]["slice"]) > 1
