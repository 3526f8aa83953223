"""Ground truth for Kolla's variables: what a real `ansible-playbook` run of kolla-ansible templates them to.

`ansible_truth(tree, facts, reads)` writes a throwaway playbook folder beside Kolla's own files (group_vars/,
roles/, library/, action_plugins/, filter_plugins/, module_utils/ are symlinks into the release), with one play
per role (`hosts: <the hosts>`, `roles: [<role>]`, as site.yml holds them) whose post_task is a `debug` tagged
`conformance`: its msg is `{{ {'name': name, ...} | to_json }}`. The run is `ansible-playbook --tags conformance`,
so Kolla's roles load (their defaults and vars apply) but none of their tasks runs, with the -i/-e/vault/limit
arguments the release's own `kolla-ansible` builds (`kolla_ansible_args`), and the host facts in Ansible's jsonfile
fact cache exactly as the setup module leaves them there (every key `ansible_`-prefixed: `ansible_facts.nodename`
and the top-level `ansible_nodename` both resolve). A tiny stdout callback collects each debug result per host.

`suite_values(tree, facts, reads)` runs the suite's own resolution (KollaConfig / Variables.get_in) on the same
inputs in a child Python (`python -m tests.kolla_resolve`): one Kolla Ansible per process, so one test process can
compare any release. Both return {host: {role: {name: value}}}; a variable that fails to template is an `Error`.
`hosts` (the group's hosts, --limit applied) is compared too: the suite's compute_hosts() and the play's hosts.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from conformance.kolla.release import KollaAnsible

REPO = Path(__file__).resolve().parents[1]
LINKED = ("group_vars", "roles", "library", "action_plugins", "filter_plugins", "module_utils")
ERROR = "__error__"

# The stdout callback: every conformance debug result, per play, task and host, into $CONFORMANCE_TRUTH_OUT.
_CALLBACK = """
import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "conformance_truth"

    def __init__(self):
        super().__init__()
        self.records = []
        self.play = None

    def v2_playbook_on_play_start(self, play):
        self.play = play.get_name()

    def _record(self, result, status):
        res = getattr(result, "result", None)
        res = res if res is not None else result._result
        host = getattr(result, "host", None) or result._host
        task = getattr(result, "task", None) or result._task
        msg = res.get("msg")
        self.records.append(
            {"play": self.play, "task": task.get_name(), "host": host.get_name(), "status": status,
             "msg": msg if isinstance(msg, str) else json.dumps(msg, default=str)}
        )

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        pass

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        with open(os.environ["CONFORMANCE_TRUTH_OUT"], "w") as out:
            json.dump(self.records, out)
"""


@dataclasses.dataclass(frozen=True)
class Error:
    """A variable that does not template (both sides' messages differ: equal to any other Error)."""

    message: str

    def __eq__(self, other) -> bool:
        return isinstance(other, Error)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"Error({' '.join(self.message.split())[:300]!r})"


@dataclasses.dataclass
class Tree:
    """One deployment as `kolla-ansible deploy` takes it."""

    kolla: KollaAnsible
    config_dir: Path | None
    inventories: list[Path]
    extra_vars: list[str] = dataclasses.field(default_factory=list)
    vault_password_file: Path | None = None
    limit: str | None = None
    group: str = "compute"


def reads(extra: tuple[str, ...] = ("libvirt_sasl_password", "node_custom_config")) -> dict[str, list[str]]:
    """Role -> the variables the checks read in its play (expectations._READS), plus `extra` in nova-cell."""
    from conformance.kolla.expectations import _READS

    found: dict[str, list[str]] = {}
    for _, name, *rest in _READS.values():
        role = next((r for r in rest if isinstance(r, str)), "nova-cell")
        found.setdefault(role, []).append(name)
    found["nova-cell"] += [name for name in extra if name not in found["nova-cell"]]
    return found


# -- kolla-ansible's own command line -------------------------------------------------------------------------


def _base_dir(kolla: KollaAnsible) -> Path:
    return kolla.ansible_dir.parent  # share/kolla-ansible: etc_examples/, requirements*.yml


def _bash_script(kolla: KollaAnsible) -> Path | None:
    if kolla.package_dir is None:
        return None
    scripts = sorted(kolla.package_dir.glob("kolla_ansible-*.data/scripts/kolla-ansible"))
    return scripts[0] if scripts else None


# The bash kolla-ansible (up to 18.x / 2024.1): what it runs, as the script spells it.
_BASH_LINES = (
    "EXTRA_GLOBALS=$([ -d \"${GLOBALS_DIR}\" ] && find ${GLOBALS_DIR} -maxdepth 1 -type f -name '*.yml' -printf ' -e @%p' || true 2>/dev/null)",
    'CONFIG_OPTS="-e @${CONFIG_DIR}/globals.yml ${EXTRA_GLOBALS} -e @${PASSWORDS_FILE} -e CONFIG_DIR=${CONFIG_DIR}"',
    'CMD="ansible-playbook $CONFIG_OPTS $EXTRA_OPTS $PLAYBOOK $VERBOSITY"',
    'EXTRA_OPTS="$EXTRA_OPTS -e $2"',
)


def kolla_ansible_args(tree: Tree) -> list[str]:
    """The inventory, -e, vault and --limit arguments the release's `kolla-ansible deploy` passes to
    ansible-playbook. Python CLI releases (19+): their own kolla_ansible.ansible.build_args, run in a child.
    Bash releases: the script's order (checked against its text): globals.yml, globals.d/*.yml only (find's
    order; sorted here), passwords.yml, CONFIG_DIR, then the operator's options (-e, --vault-password-file,
    --limit) in the order given, then the inventories."""
    assert tree.config_dir is not None, "kolla-ansible always has a config dir"
    config = tree.config_dir.absolute()
    cli = tree.kolla.package_dir / "kolla_ansible" / "ansible.py" if tree.kolla.package_dir else None
    if cli is not None and cli.is_file():
        code = (
            "import json, sys, types\n"
            "from kolla_ansible import ansible\n"
            "a = json.load(sys.stdin)\n"
            "ns = types.SimpleNamespace(list_tasks=False, become=False, check=False, diff=False, skip_tags=None,\n"
            "    tags=None, vault_id=[], ask_vault_password=False, **a)\n"
            "print(json.dumps(ansible.build_args(ns, ['PLAYBOOK'])[1]))\n"
        )
        given = {
            "kolla_config_path": str(config),
            "inventory": [str(p) for p in tree.inventories],
            "extra_vars": list(tree.extra_vars),
            "vault_password_file": [str(tree.vault_password_file)] if tree.vault_password_file else [],
            "limit": tree.limit,
        }
        done = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(given),
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(tree.kolla.package_dir)},
            check=True,
        )
        args = json.loads(done.stdout)
        assert args[-1] == "PLAYBOOK", args
        return args[:-1]
    script = _bash_script(tree.kolla)
    assert script is not None, f"no kolla-ansible command line in {tree.kolla.package_dir}"
    text = script.read_text()
    missing = [line for line in _BASH_LINES if line not in text]
    assert not missing, f"{script} does not hold the lines modelled here: {missing}"
    args = ["-e", f"@{config / 'globals.yml'}"]
    globals_d = config / "globals.d"
    if globals_d.is_dir():
        args += [a for p in sorted(globals_d.glob("*.yml")) if p.is_file() for a in ("-e", f"@{p}")]
    args += ["-e", f"@{config / 'passwords.yml'}", "-e", f"CONFIG_DIR={config}"]
    for extra in tree.extra_vars:
        args += ["-e", extra]
    if tree.vault_password_file:
        args += [f"--vault-password-file={tree.vault_password_file}"]
    if tree.limit:
        args += ["--limit", tree.limit]
    for inventory in tree.inventories:
        args += ["--inventory", str(inventory)]
    return args


# -- the ground truth -----------------------------------------------------------------------------------------


def setup_cache_facts(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Setup-shape facts (plain keys, as conformance/probes/host.py parses them) as the setup module leaves them
    in the fact cache: every key `ansible_`-prefixed (ansible/modules/setup.py, prefix='ansible_')."""
    return {k if k.startswith("ansible_") else f"ansible_{k}": v for k, v in facts.items()}


# ansible-core 2.19 keeps each host's facts as {"__payload__": "<its JSON>"} in a file named s<schema>_<host>
# (ansible/_internal/_plugins/_cache.py); older cores as the plain dict in <host>. Ansible's own cache plugin
# writes them, as VariableManager.set_host_facts does after fact gathering.
_WRITE_CACHE = (
    "import json, sys\n"
    "from ansible import constants as C\n"
    "from ansible.plugins.loader import cache_loader, init_plugin_loader\n"
    "init_plugin_loader()\n"
    "cache = cache_loader.get(C.CACHE_PLUGIN)\n"
    "for host, facts in json.load(sys.stdin).items():\n"
    "    cache.set(host, facts)\n"
)


def write_fact_cache(facts: Mapping[str, Mapping[str, Any]], env: Mapping[str, str]) -> None:
    given = {host: setup_cache_facts(host_facts) for host, host_facts in facts.items()}
    subprocess.run([sys.executable, "-c", _WRITE_CACHE], input=json.dumps(given), text=True, env=dict(env), check=True)


def _to_json(names: list[str]) -> str:
    return "{{ {" + ", ".join(f"'{n}': {n}" for n in names) + "} | to_json }}"


def _debug(name: str, names: list[str]) -> dict:
    return {"name": name, "debug": {"msg": _to_json(names)}, "ignore_errors": True, "tags": ["conformance"]}


def _plays(tree: Tree, hosts: list[str], reads_: Mapping[str, list[str]]) -> list[dict]:
    """The group's hosts, then one play per role over the hosts with one debug of all its variables."""
    plays: list[dict] = [
        {
            "name": "conformance hosts",
            "hosts": tree.group,
            "gather_facts": False,
            "tasks": [
                {
                    "name": "conformance hosts",
                    "debug": {"msg": "{{ ansible_play_hosts_all | to_json }}"},
                    "run_once": True,
                    "tags": ["conformance"],
                }
            ],
        }
    ]
    for role, names in reads_.items():
        play = {"name": f"conformance {role}", "hosts": hosts, "gather_facts": False, "roles": [role]}
        plays.append(play | {"post_tasks": [_debug("conformance all", names)]})
    return plays


def _one_by_one(failed: Mapping[str, list[str]], reads_: Mapping[str, list[str]]) -> list[dict]:
    """For the hosts whose batch failed: one debug per variable, to tell which fail and keep the others' values."""
    return [
        {
            "name": f"conformance {role}",
            "hosts": failed[role],
            "gather_facts": False,
            "roles": [role],
            "post_tasks": [_debug(f"conformance one {name}", [name]) for name in reads_[role]],
        }
        for role in failed
    ]


def ansible_truth(
    tree: Tree, facts: Mapping[str, Mapping[str, Any]], reads_: Mapping[str, list[str]], hosts: list[str] | None = None
) -> dict[str, Any]:
    """{"hosts": [...], host: {role: {name: value | Error}}} from a real ansible-playbook run (a second one, over
    the hosts whose batch failed, for their variables one by one)."""
    hosts = list(hosts or facts)
    with tempfile.TemporaryDirectory(prefix="kolla-truth-") as tmp:
        work = Path(tmp)
        book = work / "playbook"
        book.mkdir()
        for name in LINKED:
            if (tree.kolla.ansible_dir / name).exists():
                (book / name).symlink_to(tree.kolla.ansible_dir / name)
        (work / "callbacks").mkdir()
        (work / "callbacks" / "conformance_truth.py").write_text(_CALLBACK)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env |= {
            "PYTHONPATH": str(tree.kolla.package_dir or ""),
            "ANSIBLE_CONFIG": str(work / "none.cfg"),  # no ansible.cfg from the cwd or the home folder
            "ANSIBLE_HOME": str(work / "home"),
            "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
            "ANSIBLE_CACHE_PLUGIN": "jsonfile",
            "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(work / "facts"),
            "ANSIBLE_CALLBACK_PLUGINS": str(work / "callbacks"),
            "ANSIBLE_STDOUT_CALLBACK": "conformance_truth",
            "ANSIBLE_FORKS": str(max(5, min(len(hosts), 32))),  # debug runs on the controller: no host is contacted
            "ANSIBLE_NOCOLOR": "1",
        }
        write_fact_cache(facts, env)
        args = kolla_ansible_args(tree)

        def run(plays: list[dict], label: str) -> list[dict]:
            (book / f"{label}.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
            out = work / f"{label}.json"
            command = ["ansible-playbook", *args, "--tags", "conformance", str(book / f"{label}.yml")]
            done = subprocess.run(
                command,
                cwd=work,
                env=env | {"CONFORMANCE_TRUTH_OUT": str(out)},
                capture_output=True,
                text=True,
                timeout=600,
            )
            if not out.is_file():
                raise AssertionError(
                    f"ansible-playbook failed ({done.returncode}): {command}\n{done.stdout}\n{done.stderr}"
                )
            return json.loads(out.read_text())

        result: dict[str, Any] = {"hosts": []}
        failed: dict[str, list[str]] = {}
        for record in run(_plays(tree, hosts, reads_), "conformance"):
            if record["play"] == "conformance hosts":
                result["hosts"] = json.loads(record["msg"])
                continue
            role = record["play"].removeprefix("conformance ")
            if record["status"] == "ok":
                result.setdefault(record["host"], {})[role] = json.loads(record["msg"])
            else:
                failed.setdefault(role, []).append(record["host"])
        if failed:
            for record in run(_one_by_one(failed, reads_), "one-by-one"):
                role, name = (
                    record["play"].removeprefix("conformance "),
                    record["task"].removeprefix("conformance one "),
                )
                value = json.loads(record["msg"])[name] if record["status"] == "ok" else Error(record["msg"])
                result.setdefault(record["host"], {}).setdefault(role, {})[name] = value
    for host in hosts:
        for role, names in reads_.items():
            missing = [n for n in names if n not in result.get(host, {}).get(role, {})]
            assert not missing, f"ansible-playbook gave no result for {host} {role} {missing}"
    return result


# -- the suite's resolution, in a child Python ------------------------------------------------------------------


def suite_values(
    tree: Tree, facts: Mapping[str, Mapping[str, Any]], reads_: Mapping[str, list[str]], hosts: list[str] | None = None
) -> dict[str, Any]:
    """The same shape as ansible_truth, from KollaConfig.load / variables(host).get_in(name, role)."""
    given = {
        "ansible_dir": str(tree.kolla.ansible_dir),
        "version": tree.kolla.version,
        "config_dir": str(tree.config_dir) if tree.config_dir else None,
        "inventories": [str(p) for p in tree.inventories],
        "extra_vars": list(tree.extra_vars),
        "vault_password_file": str(tree.vault_password_file) if tree.vault_password_file else None,
        "limit": tree.limit,
        "group": tree.group,
        "hosts": list(hosts or facts),
        "facts": {h: dict(f) for h, f in facts.items()},
        "reads": {r: list(n) for r, n in reads_.items()},
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.kolla_resolve"],
        input=json.dumps(given),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
    )
    if done.returncode != 0:
        raise AssertionError(f"tests.kolla_resolve failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return _errors(json.loads(done.stdout))


def encode(value: Any) -> Any:
    """Results as JSON-able data (an Error as {"__error__": message}); `decode` takes them back."""
    if isinstance(value, Error):
        return {ERROR: value.message}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    return _errors(value)


def _errors(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {ERROR}:
            return Error(value[ERROR])
        return {k: _errors(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_errors(v) for v in value]
    return value


def differences(truth: Mapping[str, Any], suite: Mapping[str, Any]) -> list[str]:
    """Every (host, role, name) whose values differ, with both values."""
    found: list[str] = []
    if sorted(truth.get("hosts", [])) != sorted(suite.get("hosts", [])):
        found.append(f"hosts: ansible-playbook {truth.get('hosts')!r} != suite {suite.get('hosts')!r}")
    for host in sorted(set(truth) - {"hosts"}):
        for role, values in truth[host].items():
            theirs = suite.get(host, {}).get(role, {})
            for name, value in values.items():
                mine = theirs.get(name, "<missing>")
                if not same(value, mine):
                    found.append(f"{host} {role} {name}: ansible-playbook {value!r} != suite {mine!r}")
    return found


def same(a: Any, b: Any) -> bool:
    # Types matter: '1' != 1, True != 1 (json.loads keeps them apart; Python's == does not for bool/int).
    if isinstance(a, Error) or isinstance(b, Error):
        return isinstance(a, Error) and isinstance(b, Error)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


# -- Kolla's own sample files -----------------------------------------------------------------------------------


def sample_config(kolla: KollaAnsible, dest: Path, passwords: Path) -> Path:
    """Kolla's sample globals.yml and `passwords` (the release's sample filled by its kolla-genpwd), in `dest`."""
    examples = _base_dir(kolla) / "etc_examples" / "kolla"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(examples / "globals.yml", dest / "globals.yml")
    shutil.copyfile(passwords, dest / "passwords.yml")
    return dest


def sample_inventory(kolla: KollaAnsible, name: str) -> Path:
    return kolla.ansible_dir / "inventory" / name


def vault_string(name: str, value: str, password_file: Path) -> str:
    """`name: !vault |...` as ansible-vault encrypt_string prints it (YAML for a vars file)."""
    done = subprocess.run(
        ["ansible-vault", "encrypt_string", "--vault-password-file", str(password_file), "--name", name, value],
        env={k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "!vault" in done.stdout, done.stdout
    return done.stdout


def vault_encrypt(path: Path, password_file: Path) -> None:
    subprocess.run(
        ["ansible-vault", "encrypt", "--vault-password-file", str(password_file), str(path)],
        env={k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert path.read_text().startswith("$ANSIBLE_VAULT;"), path
