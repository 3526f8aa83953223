"""Bad input of every kind is refused at load: one line naming the file (and the key), exit code 4, no traceback.

Each case starts from a tree that loads (test_the_base_tree_loads) and breaks one thing. Most cases call the loaders
the plugin calls; a handful run pytest as a user does, and must stop before any host is contacted.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest
import yaml

from conformance import waivers
from conformance.errors import ExitCode, ProfileError
from conformance.profile import load_profile

PASSWORD = "Sekrit-pw-4711"
BASE_PROFILE = {
    "kolla": {"config_dir": "kolla", "inventory": "kolla/multinode"},
    # Any ssh at all would run this ProxyCommand and leave the marker: proof that a refused run touched no host.
    "ssh": {"user": "root", "connect_timeout": 1, "config": "ssh_config"},
}
BASE_FILES = {
    "ssh_config": "Host *\n  ProxyCommand sh -c 'touch ssh-was-tried; exit 1'\n",
    "kolla/globals.yml": "network_interface: eth0\nlibvirt_tls: false\n",
    "kolla/passwords.yml": f"libvirt_sasl_password: {PASSWORD}\n",
    "kolla/multinode": "[compute]\nc1 ansible_host=192.0.2.11\nc2 ansible_host=192.0.2.12 ansible_port=2222\n",
    "kolla/group_vars/compute.yml": "libvirt_enable_sasl: true\n",
    "kolla/host_vars/c1.yml": "migration_interface: eth1\n",
    "w.yml": "waivers: []\n",
}
BINARY = b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe"
LATIN1 = "network_interface: eth0\ncomment: caf\xe9\n".encode("latin-1")


def inventory(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def p(**changes):
    """A profile: the base one with `changes` merged in (a value of None removes the key)."""
    data = copy.deepcopy(BASE_PROFILE)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        elif value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return yaml.safe_dump(data)


# (id, files written over the base tree, substrings the one error line must contain: the file, then the key)
CASES = [
    # -- binary / undecodable files ---------------------------------------------------------------------
    ("binary-profile", {"profile.yml": BINARY}, ["profile.yml", "binary file"]),
    (
        "non-utf8-profile",
        {"profile.yml": b"kolla: {config_dir: kolla}\nhosts: [caf\xe9]\n"},
        ["profile.yml", "not UTF-8"],
    ),
    (
        "control-char-profile",
        {"profile.yml": b"kolla: {config_dir: kolla}\nhosts: [a\x01]\n"},
        ["profile.yml", "line 2", "unacceptable character"],
    ),
    ("binary-globals", {"kolla/globals.yml": BINARY}, ["globals.yml", "binary file"]),
    ("latin1-globals", {"kolla/globals.yml": LATIN1}, ["globals.yml", "not UTF-8 text (byte 0xe9"]),
    ("binary-globals.d", {"kolla/globals.d/extra.yml": BINARY}, ["globals.d/extra.yml", "binary file"]),
    ("binary-passwords", {"kolla/passwords.yml": b"libvirt_sasl_password: \x00\x01"}, ["passwords.yml", "binary file"]),
    ("binary-inventory", {"kolla/multinode": BINARY}, ["multinode", "binary file"]),
    (
        "non-utf8-yaml-inventory",
        {"kolla/inv.yml": b"compute:\n  hosts:\n    c\xff1:\n", "profile.yml": p(kolla={"inventory": "kolla/inv.yml"})},
        ["inv.yml", "not UTF-8"],
    ),
    ("binary-group_vars", {"kolla/group_vars/compute.yml": BINARY}, ["group_vars/compute.yml", "binary file"]),
    ("binary-host_vars", {"kolla/host_vars/c1.yml": BINARY}, ["host_vars/c1.yml", "binary file"]),
    ("binary-waiver-file", {"w.yml": BINARY, "profile.yml": p(waivers="w.yml")}, ["w.yml", "binary file"]),
    ("binary-nova.conf-override", {"kolla/config/nova.conf": BINARY}, ["config/nova.conf", "binary file"]),
    (
        "recursive-yaml-alias",
        {"kolla/globals.yml": "network_interface: eth0\nloop: &a [*a]\n"},
        ["globals.yml", "alias that contains itself"],
    ),
    (
        "yaml-alias-bomb",
        {
            "kolla/globals.yml": "\n".join(
                ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
                + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 8)]
            )
            + "\n"
        },
        ["globals.yml", "once aliases are expanded"],
    ),
    ("deeply-nested-profile", {"profile.yml": "kolla: " + "[" * 1200 + "\n"}, ["profile.yml", "nested"]),
    ("duplicate-key-profile", {"profile.yml": p() + "ssh: {user: ops}\n"}, ["profile.yml", "duplicate key 'ssh'"]),
    (
        "duplicate-key-waivers",
        {"w.yml": "waivers: []\nwaivers: []\n", "profile.yml": p(waivers="w.yml")},
        ["w.yml", "duplicate key 'waivers'"],
    ),
    # -- Jinja that raises while variables are resolved -----------------------------------------------
    (
        "jinja-zero-division",
        {"kolla/globals.yml": 'nova_compute_virt_type: "{{ 1 // 0 }}"\n'},
        ["globals.yml", "nova_compute_virt_type", "integer division or modulo by zero"],
    ),
    (
        "jinja-str-plus-int",
        {"kolla/globals.yml": "libvirt_tls: \"{{ 'a' + 1 }}\"\n"},
        ["globals.yml", "libvirt_tls", "can only concatenate str"],
    ),
    (
        "jinja-undefined",
        {"kolla/group_vars/compute.yml": 'libvirt_enable_sasl: "{{ no_such_var }}"\n'},
        ["group_vars/compute", "libvirt_enable_sasl", "'no_such_var' is undefined"],
    ),
    (
        "jinja-filter-raises",
        {"kolla/globals.yml": "libvirt_sasl_mech_list: \"{{ 5 | join(',') }}\"\n"},
        ["globals.yml", "libvirt_sasl_mech_list", "not iterable"],
    ),
    (
        "jinja-length-of-none",
        {"kolla/globals.yml": 'qemu_user_gid: "{{ none | length }}"\n'},
        ["globals.yml", "qemu_user_gid", "has no len()"],
    ),
    (
        "jinja-unknown-filter",
        {"kolla/globals.yml": "kolla_container_engine: \"{{ 'x' | nosuchfilter }}\"\n"},
        ["globals.yml", "kolla_container_engine", "nosuchfilter"],
    ),
    (
        "jinja-syntax-error",
        {"kolla/globals.yml": 'node_config_directory: "{{ 1 + }}"\n'},
        ["globals.yml", "node_config_directory", "Syntax error in template"],
    ),
    (
        "jinja-variable-loop",
        {"kolla/globals.yml": 'libvirt_tls: "{{ a }}"\na: "{{ b }}"\nb: "{{ libvirt_tls }}"\n'},
        ["globals.yml", "Recursive loop detected"],
    ),
    (
        "jinja-macro-recursion",
        {"kolla/globals.yml": 'neutron_plugin_agent: "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"\n'},
        ["globals.yml", "neutron_plugin_agent", "Recursive loop detected"],
    ),
    (
        "jinja-error-in-referenced-var",
        {"kolla/globals.yml": 'migration_interface: "{{ bond }}"\nbond: "{{ 1 // 0 }}"\n'},
        ["globals.yml", "migration_interface", "integer division or modulo by zero"],
    ),
    (
        "jinja-error-without-facts-in-host-var",
        {"kolla/globals.yml": 'migration_hostname: "{{ [] | first | upper }}"\n'},
        ["globals.yml", "migration_hostname"],
    ),
    (
        "jinja-error-in-password",
        {"kolla/passwords.yml": 'libvirt_sasl_password: "{{ ' + PASSWORD + ' // 0 }}"\n'},
        ["passwords.yml", "libvirt_sasl_password", "cannot evaluate the value (AnsibleUndefinedVariable"],
    ),
    (
        "jinja-error-in-profile-override",
        {"profile.yml": p(overrides={"all": {"libvirt_tls": "{{ 'a' + 1 }}"}})},
        ["profile.yml overrides.all", "libvirt_tls", "can only concatenate str"],
    ),
    (
        "jinja-error-in-ansible_host",
        {"kolla/host_vars/c1.yml": 'ansible_host: "{{ 1 // 0 }}"\n'},
        ["host_vars/c1.yml", "ansible_host", "integer division or modulo by zero"],
    ),
    (
        "ansible_host-needs-facts",
        {"kolla/host_vars/c1.yml": 'ansible_host: "{{ ansible_facts.nodename }}"\n'},
        ["host_vars/c1.yml", "ansible_host", "needs facts from the host"],
    ),
    # -- duplicate hosts (in an inventory, Ansible merges them: kolla-ansible takes such a file) ----------
    ("duplicate-host-in-profile", {"profile.yml": p(hosts=["c1", "c1"])}, ["profile.yml", "hosts[1]", "listed twice"]),
    (
        "duplicate-host-name-and-mapping",
        {"profile.yml": p(hosts=["c1", {"name": "c1", "address": "192.0.2.99"}])},
        ["profile.yml", "hosts[1]", "listed twice (also hosts[0])"],
    ),
    # -- ports, timeouts, integers --------------------------------------------------------------------
    (
        "ansible_port-abc",
        {"kolla/multinode": inventory("[compute]", "c1 ansible_port=abc")},
        ["multinode (host c1)", "ansible_port", "expected a port 1-65535, got 'abc'"],
    ),
    ("ansible_port-0", {"kolla/multinode": inventory("[compute]", "c1 ansible_port=0")}, ["multinode", "ansible_port"]),
    (
        "ansible_port-70000",
        {"kolla/multinode": inventory("[compute]", "c1 ansible_port=70000")},
        ["multinode", "ansible_port", "70000"],
    ),
    (
        "ansible_port-bool",
        {"kolla/multinode": inventory("[compute]", "c1 ansible_port=True")},
        ["multinode", "ansible_port", "True"],
    ),
    (
        "ansible_port-in-group_vars",
        {"kolla/group_vars/compute.yml": "ansible_port: 22.5\n"},
        ["group_vars/compute.yml", "ansible_port", "host c1: expected a port"],
    ),
    ("profile-host-port-0", {"profile.yml": p(hosts=[{"name": "c1", "port": 0}])}, ["profile.yml", "hosts[0].port"]),
    ("ssh-port-70000", {"profile.yml": p(ssh={"port": 70000})}, ["profile.yml", "ssh.port", "70000"]),
    ("ssh-port-bool", {"profile.yml": p(ssh={"port": True})}, ["profile.yml", "ssh.port", "expected an integer"]),
    (
        "command_timeout-0",
        {"profile.yml": p(ssh={"command_timeout": 0})},
        ["profile.yml", "ssh.command_timeout", "1 or more"],
    ),
    (
        "connect_timeout-negative",
        {"profile.yml": p(ssh={"connect_timeout": -5})},
        ["profile.yml", "ssh.connect_timeout"],
    ),
    (
        "connect_timeout-bool",
        {"profile.yml": p(ssh={"connect_timeout": False})},
        ["profile.yml", "ssh.connect_timeout", "expected an integer"],
    ),
    (
        "expiry_warning_days-negative",
        {"profile.yml": p(tls={"expiry_warning_days": -1})},
        ["profile.yml", "tls.expiry_warning_days"],
    ),
    (
        "expiry_warning_days-bool",
        {"profile.yml": p(tls={"expiry_warning_days": True})},
        ["profile.yml", "tls.expiry_warning_days", "expected an integer"],
    ),
    (
        "kolla-port-bool",
        {"kolla/globals.yml": "nova_libvirt_port: true\n"},
        ["globals.yml", "nova_libvirt_port", "expected an integer, got True"],
    ),
    (
        "kolla-gid-infinite",
        {"kolla/globals.d/gid.yml": "qemu_user_gid: .inf\n"},
        ["globals.d/gid.yml", "qemu_user_gid", "expected an integer"],
    ),
    # -- malformed inventory lines --------------------------------------------------------------------
    (
        "ini-missing-bracket",
        {"kolla/multinode": inventory("[compute", "c1")},
        ["multinode", "not an inventory Ansible can parse"],
    ),
    (
        "ini-vars-missing-bracket",
        {"kolla/multinode": inventory("[compute]", "c1", "[compute:vars", "x=1")},
        ["multinode", "not an inventory Ansible can parse"],
    ),
    (
        "ini-range-step-0",
        {"kolla/multinode": inventory("[compute]", "c[01:10:0]")},
        ["multinode", "line 2", "a step of 0"],
    ),
    (
        "ini-range-too-large",
        {"kolla/multinode": inventory("[compute]", "c[1:99999999]")},
        ["multinode", "line 2", "more than 100000 hosts"],
    ),
    (
        "ini-unbalanced-quote",
        {"kolla/multinode": inventory("[compute]", "c1 ansible_host='192.0.2.1")},
        ["multinode", "not an inventory Ansible can parse", "No closing quotation"],
    ),
    # -- host names, addresses, users, jump host -------------------------------------------------------
    (
        "ansible_host-option",
        {"kolla/multinode": inventory("[compute]", "c1 ansible_host=-oProxyCommand=id")},
        ["multinode (host c1)", "ansible_host", "'-oProxyCommand=id'"],
    ),
    (
        "ansible_host-semicolon",
        {"kolla/multinode": inventory("[compute]", "c1 'ansible_host=192.0.2.1;reboot'")},
        ["multinode", "ansible_host"],
    ),
    (
        "ansible_host-space",
        {"kolla/host_vars/c1.yml": "ansible_host: 'c1 -oProxyCommand=id'\n"},
        ["host_vars/c1.yml", "ansible_host"],
    ),
    (
        "ansible_host-newline",
        {"kolla/host_vars/c1.yml": 'ansible_host: "c1\\nid"\n'},
        ["host_vars/c1.yml", "ansible_host"],
    ),
    (
        "ansible_user-option",
        {"kolla/multinode": inventory("[compute]", "c1 ansible_user=-oops")},
        ["multinode", "ansible_user", "expected a user name"],
    ),
    (
        "ansible_user-shell",
        {"kolla/group_vars/compute.yml": "ansible_user: 'root;id'\n"},
        ["group_vars/compute.yml", "ansible_user", "host c1"],
    ),
    (
        "profile-address-option",
        {"profile.yml": p(hosts=[{"name": "c1", "address": "-oProxyCommand=touch /x"}])},
        ["profile.yml", "hosts[0].address"],
    ),
    (
        "profile-address-subshell",
        {"profile.yml": p(hosts=[{"name": "c1", "address": "$(reboot)"}])},
        ["profile.yml", "hosts[0].address"],
    ),
    (
        "profile-address-newline",
        {"profile.yml": p(hosts=[{"name": "c1", "address": "c1\nreboot"}])},
        ["profile.yml", "hosts[0].address"],
    ),
    (
        "profile-address-bad-label",
        {"profile.yml": p(hosts=[{"name": "c1", "address": "-c1.example.net"}])},
        ["profile.yml", "hosts[0].address"],
    ),
    (
        "profile-user-backticks",
        {"profile.yml": p(hosts=[{"name": "c1", "user": "ops`id`"}])},
        ["profile.yml", "hosts[0].user"],
    ),
    ("ssh-user-control-char", {"profile.yml": p(ssh={"user": "root\x1b[31m"})}, ["profile.yml", "ssh.user"]),
    ("jump_host-option", {"profile.yml": p(ssh={"jump_host": "-oProxyCommand=id"})}, ["profile.yml", "ssh.jump_host"]),
    ("jump_host-shell", {"profile.yml": p(ssh={"jump_host": "ops@bastion;reboot"})}, ["profile.yml", "ssh.jump_host"]),
    ("jump_host-space", {"profile.yml": p(ssh={"jump_host": "ops@bas tion"})}, ["profile.yml", "ssh.jump_host"]),
    (
        "jump_host-bad-port",
        {"profile.yml": p(ssh={"jump_host": "ops@bastion:99999"})},
        ["profile.yml", "ssh.jump_host"],
    ),
    ("profile-host-name-option", {"profile.yml": p(hosts=["-oProxyCommand=id"])}, ["profile.yml", "hosts[0].name"]),
    ("profile-host-name-space", {"profile.yml": p(hosts=["c1 c2"])}, ["profile.yml", "hosts[0].name"]),
    (
        "inventory-host-name-subshell",
        {"kolla/multinode": inventory("[compute]", "c$(id)")},
        ["multinode", "host c$(id)", "invalid host name"],
    ),
    (
        "inventory-host-name-path",
        {"kolla/multinode": inventory("[compute]", "../etc")},
        ["multinode", "host ../etc", "invalid host name"],
    ),
    (
        "yaml-inventory-host-name-option",
        {
            "kolla/inv.yml": "compute:\n  hosts:\n    '-oProxyCommand=id':\n",
            "profile.yml": p(kolla={"inventory": "kolla/inv.yml"}),
        },
        ["inv.yml", "host -oProxyCommand=id", "invalid host name"],
    ),
    # -- unknown keys (already refused; kept) ----------------------------------------------------------
    ("unknown-profile-key", {"profile.yml": p(sshh={"user": "root"})}, ["profile.yml", "sshh", "unknown key"]),
    (
        "control-char-in-path",
        {"profile.yml": p(kolla={"config_dir": "kolla\nx"})},
        ["profile.yml", "kolla.config_dir", "control characters"],
    ),
    (
        "unknown-host-key",
        {"profile.yml": p(hosts=[{"name": "c1", "adress": "192.0.2.1"}])},
        ["profile.yml", "hosts[0].adress", "unknown key"],
    ),
]


def write_tree(root, files):
    for name, content in {**BASE_FILES, "profile.yml": p(), **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root / "profile.yml"


def load_like_the_plugin(profile_path):
    """What pytest_configure loads before any host is touched: the profile (with its Kolla tree) and its waivers."""
    profile = load_profile(profile_path)
    if profile.waivers:
        waivers.load(profile.waivers)
    return profile


def test_the_base_tree_loads(tmp_path):
    profile = load_like_the_plugin(write_tree(tmp_path, {}))
    assert [(h.name, h.address, h.ssh.port) for h in profile.hosts] == [
        ("c1", "192.0.2.11", None),
        ("c2", "192.0.2.12", 2222),
    ]


def test_there_are_at_least_40_cases():
    assert len(CASES) >= 40 and len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("files, expected", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_one_line_naming_file_and_key(tmp_path, files, expected):
    with pytest.raises(ProfileError) as err:
        load_like_the_plugin(write_tree(tmp_path, files))
    message = str(err.value)
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(str(tmp_path)), message  # the file, with its full path, comes first
    for part in expected:
        assert part in message, message
    assert PASSWORD.split("-")[0] not in message  # not even a piece of the password


@pytest.mark.parametrize(
    "files",
    [
        {
            "profile.yml": p(
                hosts=[
                    {"name": "c1", "address": "2001:db8::11"},
                    {"name": "c2", "address": "c2.example.net."},
                    {"name": "c_3", "address": "192.0.2.13", "user": "svc-nova$", "port": 65535},
                ],
                ssh={"jump_host": "ops@bastion:2222,[2001:db8::1]:22", "command_timeout": 1},
            )
        },
        {
            "kolla/multinode": inventory(
                "[compute]  # the hypervisors",
                "c1 ansible_host=192.0.2.11 ansible_port='2222'",
                "[compute:vars]",
                "ansible_user=ops.admin",
            ),
            "kolla/globals.d/extra.yml": "libvirt_tls: \"{{ 'yes' if network_interface == 'eth0' else 'no' }}\"\n",
        },
        {"kolla/group_vars/compute.yml": 'migration_hostname: "{{ ansible_facts.nodename }}.example.net"\n'},
        # Ansible's own syntax: host c1 on port 2222, a host listed twice is one host, `c1 =x` a variable "".
        {"kolla/multinode": inventory("[compute]", "c1:2222", "c1 ansible_host=192.0.2.11", "c[1:2]", "c2 =x")},
        {
            "kolla/inv.yml": "compute:\n  hosts:\n    c1:\n    c1: {ansible_port: 22}\n",
            "profile.yml": p(kolla={"inventory": "kolla/inv.yml"}),
        },
    ],
    ids=[
        "ipv6-trailing-dot-underscore-dollar-user-jump-list",
        "comment-after-section-string-port",
        "facts-needed-later",
        "ansible-ini-host-port-duplicates",
        "ansible-yaml-duplicate-host",
    ],
)
def test_unusual_but_valid_input_still_loads(tmp_path, files):
    load_like_the_plugin(write_tree(tmp_path, files))


# The run as users start it: refused in pytest_configure, before collection and before any ssh.
SUBPROCESS_CASES = [
    "binary-profile",
    "binary-globals",
    "jinja-zero-division",
    "jinja-str-plus-int",
    "duplicate-host-in-profile",
    "ansible_port-abc",
    "ini-missing-bracket",
    "binary-waiver-file",
    "ansible_host-option",
]


@pytest.mark.parametrize("case", SUBPROCESS_CASES)
def test_a_refused_run_exits_4_with_one_line_before_any_host(tmp_path, case):
    files, expected = next(c[1:] for c in CASES if c[0] == case)
    profile = write_tree(tmp_path, files)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--profile", str(profile), "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == ExitCode.PROFILE_ERROR, out
    assert "Traceback" not in out and "INTERNALERROR" not in out, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"ERROR: {tmp_path}"), out
    for part in expected:
        assert part in lines[0], out
    assert not (tmp_path / "ssh-was-tried").exists()


def test_a_newline_in_the_profile_path_does_not_split_the_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--profile", "no\nsuch.yml", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert proc.returncode == ExitCode.PROFILE_ERROR and lines == ["ERROR: no\\nsuch.yml: profile not found"], lines


def test_pytest_profiling_keeps_its_profile_switch_and_ours_is_conformance_profile(tmp_path):
    """pytest-profiling (from PyPI) adds `--profile` too: two plugins adding one option made every pytest command,
    `--help` included, exit 3. Where it is installed, ours is `--conformance-profile` only, and `--profile x.yml`
    says so instead of collecting x.yml as a test."""
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--target", str(site), "pytest-profiling"]
    assert subprocess.run(pip, capture_output=True, timeout=300).returncode == 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}

    def pytest_run(*args):
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)

    help_text = pytest_run("--help")
    assert help_text.returncode == 0, help_text.stderr
    assert (
        "--conformance-profile=PROFILE.yml" in help_text.stdout and "generate profiling information" in help_text.stdout
    )
    profile = tmp_path / "missing.yml"
    wrong = pytest_run("--profile", str(profile))
    assert wrong.returncode == ExitCode.PROFILE_ERROR, wrong.stdout + wrong.stderr  # pytest's usage error, 4
    assert f"use --conformance-profile {profile}" in wrong.stdout + wrong.stderr
    right = pytest_run("--conformance-profile", str(profile))
    assert right.returncode == ExitCode.PROFILE_ERROR, right.stdout + right.stderr
    assert f"ERROR: {profile}: profile not found" in right.stdout + right.stderr  # ours read it


@pytest.mark.parametrize(
    "args", [["--hosts", "ssh://compute01"], ["--sudo"], ["--ssh-config", "x"], ["--connection", "paramiko"]]
)
def test_testinfras_own_options_are_refused_not_ignored(tmp_path, args):
    """pytest-testinfra's options reach every pytest run here; the suite does not read them, so a run given one
    would have checked other hosts, or as another user, than the operator asked. One line, exit 4, no host."""
    profile = tmp_path / "profile.yml"
    profile.write_text("hosts: [compute01]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--profile", str(profile), "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert proc.returncode == ExitCode.PROFILE_ERROR and len(lines) == 1, lines
    assert lines[0].startswith(f"ERROR: {args[0]} is pytest-testinfra's") and "profile" in lines[0], lines
