r"""Injection battery (issue 12, item 1): hostile values through every Kolla variable, host var and host-file value
that reaches a command on a host. On real lab hosts: nothing runs, nothing changes, in the checks, in
`--remediate plan`, in `--remediate apply` with its undo and rollback (KOLLA_REMEDIATION_FAIL_AT=1: each fix's first
action runs, then fails, so every undo and restore runs), and in the plan's review script.

Where each value reaches a command (read from every `shell(`, `script(`, `facts.run(`, `run_in(`, `facts.file(`,
`Command(` call site; `-- ` means the value follows `--`, "quoted" that it is one shlex-quoted word):

| Source (how the battery sets it) | Value | Remote commands it reaches | In the battery |
|---|---|---|---|
| libvirt_sasl_authname (host_vars / profile overrides) | user name | sasl.user-exists fix: `<engine> exec -i nova_libvirt saslpasswd2 -c -p -a libvirt -- V` (container) / `saslpasswd2 -c -p -a libvirt -- V` (host), undo `... saslpasswd2 -d -a libvirt -- V`; plan text and review script (command line and its `# ...` description); auth.conf content (stdin of the write script, never argv); live login on the runner (JSON on stdin) | k1 docker, k2 host: plan, apply+undo, review script |
| node_config_directory (host_vars / overrides) | path prefix | `facts.file`: `stat -L -c ... V/... && echo && cat V/...` (nova.conf, openvswitch_agent.ini, libvirtd.conf, sasl.conf, cleanup's config dir); tls.installed-files: `stat ... V/... && sha256sum V/...`; sasl.auth-conf planning: `test -f V/... ; sed MASK V/... ; sed -n ... V/...`; fixes: write script (`$1`=V/...: dirname, mktemp, chown --reference, mv), SetAttrs (`chown -- `, `chmod -- `), backup (`cp -a "$P"`, `stat "$P"`), restore (`rm -f -- `, `cp -a`, `mv -f`); review script `# rewrite V/...` lines and heredocs | k1, k2 (a copy of /etc/kolla is made at V on the host, so the files exist there and the fixes act on them) |
| libvirt_sasl_mech_list entries (host_vars / overrides) | words | sasl.conf content written through stdin (`mech_list: ...`), its diff in the plan; TCP without a security layer: a manual plan (review script `# manual:` lines, one per line; notes use repr); no argv | k1 (TLS: the file is written) |
| migration_hostname (host_vars / overrides) | host name | `getent hosts -- V` (TLS hosts); on the runner: TLS handshake to V, libvirt URI `qemu+tls://V/system` (no shell) | k1 (TLS) |
| migration_interface_address (host_vars / overrides) | address | on the runner only: `qemu+tcp://V/system` (no shell); compared with listeners | k2 (TCP) |
| nova_compute_virt_type, kolla_container_engine | choice | refused at load unless one of kvm/qemu, docker/podman; the engine is also checked by `engine_name()` where a command is built | refusal (exit 4, one line) |
| inventory host name, ansible_host, ansible_user, ansible_port, profile hosts[].name/address/user, ssh.user, ssh.jump_host | ssh target | the local ssh command line (testinfra quotes each word; an address starting with `-` would be an ssh option) | refusal (exit 4, one line) |
| [libvirt] virt_type in /etc/kolla/config/nova/.../nova-compute.conf | effective virt_type | no command: compared with the rendered nova.conf, quoted in manual plans (`# manual:` lines) | not fed (reaches no command) |
| host file /etc/libvirt/qemu.conf `user` (host mode) | user name | `id -G -- V` (virt.dev-kvm-access, its fix's planning); the manual plan's text | k2: checks, plan, apply+rollback |
| host file sasl.conf `sasldb_path` (/etc/sasl2/libvirt.conf on the host, or inside nova_libvirt) | path | `sasldblistusers2 -f V` (sasl.user-exists, libvirt.host-files); saslpasswd2 reads it itself (no argv) | k1 (in nova_libvirt), k2 (host): checks and plan |
| host libvirtd's /proc/PID/environ PATH (host mode) | PATH | `sh -c 'IFS=:; for d in $1; ...' _ V` (resolve ovs-vsctl); `env PATH=V <resolved> --timeout=5 show` | k2: checks, plan, apply+rollback |
| host libvirtd's /proc/PID/cmdline argv | argv | restart (`"$@"` of the restart script), no-host-daemon undo (`'argv0' 'arg1' ...`), the plan's `shown` text; by design these run the daemon's own command line | not fed: a daemon whose argv[0] is not its program cannot be restarted from it at all |
| host-side ids: daemon pid (`int()`), kvm gid (isdigit), cpu vendor (dict lookup), volume and container names (constants of the checks) | - | `kill "$1"`, `chown :GID`, `modprobe kvm_intel`, `docker volume rm libvirtd` | constant or integer: nothing to feed |
| Jinja in any variable (`{{ ... }}`) | expression | evaluated on the runner by conformance/kolla/templar.py when the profile loads | one value: nothing runs on the runner |

Values (see VALUES): `x; touch M-semicolon $(touch M-subst) \`touch M-backticks\` | touch M-pipe & touch M-amp
>M-redirect`, `x'; touch M-squote; echo '"; touch M-dquote; echo "`, `x<newline>touch M #`, `--help`,
`-oProxyCommand=touch M`, `-ew /etc/kolla` (a sed script: `w FILE` truncates FILE). One round per value: every path
of both hosts carries it at once, each with its own marker M = `/tmp/PWNED-<token>-<value>-<host>-<path>[-construct]`,
so a marker that appears names the value, the host, the path and the construct that ran. The lab hosts share the
runner's /tmp; containers have their own, and are searched too.

A round: the hostile values go in (host_vars/<host>.yml in even rounds, the profile's `overrides` in odd ones; the
host files over ssh); the checks and `--remediate plan` run (nothing may change, not even a restart; the review
scripts are kept); sasl.conf's sasldb_path goes back (saslpasswd2 reads it itself), then `--remediate apply` with
KOLLA_REMEDIATION_FAIL_AT=1 (every fix's first action runs, then fails: its undo and the file restores run; the
bytes must be as before); for REAL_APPLY a complete apply of the SASL fixes; then the lab is restored. Last, every
review script runs on its host.
Nothing changed means: every file under /etc/kolla, /etc/sasl2, /etc/pki, /etc/libvirt, /etc/udev/rules.d,
/etc/modules-load.d, /usr/bin/ovs-vsctl, /root (the value-named copies of /etc/kolla), the backup and lock folders
(bytes, owner, mode), /dev/kvm, the SASL users of every sasldb, the files of nova_libvirt and nova_compute that fixes
or Kolla's start touch, `docker diff` of each container, container states, and (plan only) container start times and
libvirtd pids.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from conformance.command import script, shell
from conformance.errors import ProfileError
from conformance.model import Status
from conformance.profile import load_profile
from conformance.remediation.registry import REGISTRY, fix_for
from conformance.remediation.remote import FAIL_AT_ENV
from tests.suite_runner import run_suite

LAB = {
    "name": "injection",
    "hosts": [
        # container mode, TLS: the mech list is written (no manual plan), migration_hostname is resolved on the host;
        # the faults make the mech-list and key-mode fixes act on files under node_config_directory.
        {"name": "k1", "shape": "docker", "tls": True, "faults": ["digest-with-tls", "key-world-readable"]},
        # host libvirt, TCP: saslpasswd2 on the host, the host's qemu.conf and libvirtd PATH (native OVS firewall, so
        # libvirt's own ovs-vsctl is checked); the faults make the mech-list and /dev/kvm fixes act.
        {
            "name": "k2",
            "shape": "host",
            "firewall_driver": "openvswitch",
            "faults": ["scram-over-tcp", "dev-kvm-wrong-group"],
        },
    ],
}

TOKEN = f"{os.getpid():x}{secrets.token_hex(2)}"
MARK = f"/tmp/PWNED-{TOKEN}"

# id -> value; {m} is the marker of this value on this host and path. Each shell construct has a marker of its own
# (`-semicolon`, `-subst`, ...), so one value tries several and a marker names the one that ran: in an unquoted
# context each of `;`, `$()`, backticks, `|`, `&` and `>` runs or creates a file, in a double-quoted one `$()` and
# backticks do, and `'` or `"` ends a quoted one. Values that must stand alone (a leading '-', a newline) have a
# round each. The sed value comes last: it targets files of the real /etc/kolla (sed's `w` command), which the
# battery restores after each round.
VALUES = {
    "metachars": "x; touch {m}-semicolon $(touch {m}-subst) `touch {m}-backticks` | touch {m}-pipe & "
    "touch {m}-amp >{m}-redirect",
    "quotes": "x'; touch {m}-squote; echo '\"; touch {m}-dquote; echo \"",
    "newline": "x\ntouch {m} #",  # a newline, then a command; `#` so the rest of its line cannot hide it
    "help": "--help",
    "dash-option": "-oProxyCommand=touch {m}",
    "sed-option": "-ew /etc/kolla",  # leading '-': read as sed options, a script that truncates /etc/kolla files
}
VIDS = list(VALUES)
REAL_APPLY = ("metachars",)  # also applied to the end (no injected failure): FULL_APPLY

KOLLA_PATHS = {"k1": ("auth", "ncd", "mech", "mhost"), "k2": ("auth", "ncd", "maddr")}
HOST_FILE_PATHS = {"k1": ("c-sasldb",), "k2": ("qemu-user", "sasldb", "path")}
VARIABLE = {
    "auth": "libvirt_sasl_authname",
    "ncd": "node_config_directory",
    "mech": "libvirt_sasl_mech_list",
    "mhost": "migration_hostname",
    "maddr": "migration_interface_address",
}
# Checks whose commands carry no configured or host-file value (/proc/cpuinfo, modules, engine listings, the
# operator's certificates read locally) are left out: the rounds are faster, and a new check is in by default.
NO_VALUES = (
    "virt.cpu-vt-flags",
    "virt.kvm-module",
    "virt.dev-kvm]",
    "virt.kvm-unused",
    "virt.libvirt-kvm-domain",
    "libvirt.no-leftover-container",
    "cleanup.volumes",
    "cleanup.running-vms",
    "cleanup.container-removed",
    "tls.chain",
    "tls.validity",
    "tls.key-match",
    "tls.leaf-not-ca",
    "tls.key-usage",
)
RISK = ("--remediate-max-risk", "disruptive", "--durations=3")
PLAN = ("--remediate=plan", *RISK, "-k", " and ".join(f"not {c}" for c in NO_VALUES))
# Apply runs only the checks that have a fix (the others ran in the plan run): each fix's confirm, backup,
# actions, undo, restore and re-check.
fix_for("sasl.user-exists")  # imports the fix modules: REGISTRY holds every fix
FIXABLE = sorted(c for c in REGISTRY if not any(c == n.rstrip("]") for n in NO_VALUES))
APPLY = ("--remediate=apply", *RISK, "-k", " or ".join(FIXABLE))
assert FIXABLE
# A complete apply (no injected failure) of the fixes whose actions carry the values and stay cheap (the auth.conf
# fix restarts two containers twice: it is covered by the apply with rollback).
FULL_APPLY = ("--remediate=apply", *RISK, "-k", "sasl.user-exists or sasl.mech-list")
HOSTS = ("k1", "k2")
LIBVIRTD_START = "/usr/sbin/libvirtd -d -l"
STD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SAVE = "/var/tmp/kc-injection"  # the battery's own copies of what it restores (never fingerprinted)


def hostile(vid: str, host: str, tag: str) -> str:
    return VALUES[vid].replace("{m}", f"{MARK}-{vid}-{host}-{tag}")


def ssh(info, host: str, command: str, stdin: str | None = None, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-F", str(info.ssh_config), host, command], input=stdin, capture_output=True, text=True, timeout=timeout
    )


def must(info, host: str, command: str, stdin: str | None = None) -> str:
    result = ssh(info, host, command, stdin)
    assert result.returncode == 0, f"{host}: {command[:200]!r}: {result.stderr or result.stdout}"
    return result.stdout


# -- what a host is: equal fingerprints mean nothing changed -------------------------------------------------

_FILES = (
    "/etc/kolla /etc/udev/rules.d /etc/modules-load.d /etc/sasl2 /etc/pki /etc/libvirt /usr/bin/ovs-vsctl "
    "/var/backups/kolla-conformance /run/lock /root"
)
# Everywhere a marker could appear on a host or in a container (the hosts' /tmp is the runner's too).
_MARKER_PLACES = f"ls -d {MARK}* /var/tmp/PWNED* /PWNED* /root/PWNED* 2>/dev/null; true"
# One ssh per host: the host's files, each container's files, layer (`docker diff`) and markers, the SASL users,
# then the runtime (start times, libvirtd pids). $1 the folders, $2 the marker test.
_SNAPSHOT = script(
    'for p in $1; do [ -e "$p" ] && find "$p" -xdev \\( -type f -o -type l -o -type d \\) -printf "%p %U:%G %m\\n"; '
    'done | sort; for p in $1; do [ -e "$p" ] && find "$p" -xdev -type f ! -name passwd.db -exec sha256sum {} +; '
    'done | sort; stat -c "/dev/kvm %u:%g %a" /dev/kvm 2>&1; echo "--users--"; '
    "sasldblistusers2 -f /etc/libvirt/passwd.db 2>/dev/null | sort; "
    'docker exec nova_libvirt sasldblistusers2 -f /etc/libvirt/passwd.db 2>/dev/null | sort; echo "--containers--"; '
    'for c in $(docker ps -a --format "{{.Names}}" | sort); do echo "== $c $(docker inspect -f "{{.State.Status}}" "$c")"; '
    'docker diff "$c" 2>&1 | grep -Ev " /(run|var/run|tmp|var/log|var/lib/libvirt|var/cache|proc)(/|$)" | sort; '
    'docker exec "$c" sh -c \'sh -c "$0" | sed "s|^|marker |"; case $1 in nova_libvirt|nova_compute) '
    'for p in /etc/libvirt /etc/sasl2 /etc/pki /var/lib/nova/.config /root; do [ -e "$p" ] && '
    'find "$p" -xdev -type f ! -name passwd.db -exec sha256sum {} + 2>/dev/null; done | sort;; esac\' "$2" "$c"; '
    'done; echo "--markers--"; sh -c "$2"; echo "--runtime--"; '
    'docker ps -aq | xargs -r docker inspect -f "{{.Name}} {{.State.StartedAt}}" | sort; '
    'echo "libvirtd: $(pgrep -x libvirtd | sort | tr "\\n" " ")"',
    _FILES,
    _MARKER_PLACES,
)


@dataclasses.dataclass
class Fingerprint:
    files: str  # host files and SASL users
    containers: str
    markers: list
    runtime: str

    def users(self) -> list[str]:
        return [line for line in self.files.split("--users--\n", 1)[1].splitlines() if line.strip()]

    @classmethod
    def parse(cls, host: str, text: str) -> Fingerprint:
        files, _, rest = text.partition("--containers--\n")
        containers, _, rest = rest.partition("--markers--\n")
        found, _, runtime = rest.partition("--runtime--\n")
        marks = [f"{host}:{line}" for line in found.splitlines() if line.strip()]
        marks += [
            f"{host}:{container.split()[1]}:{line[7:]}"
            for container in containers.split("\n== ")[1:]
            for line in container.splitlines()
            if line.startswith("marker ")
        ]
        kept = "\n".join(line for line in containers.splitlines() if not line.startswith("marker "))
        return cls(files, kept, marks, runtime)


def fingerprint(info, host: str) -> Fingerprint:
    return Fingerprint.parse(host, must(info, host, _SNAPSHOT))


def fingerprints(info) -> dict[str, Fingerprint]:
    return dict(zip(HOSTS, each_host(lambda host: fingerprint(info, host))))


def markers_in(prints: dict[str, Fingerprint]) -> list[str]:
    """Every marker file, wherever a hostile value could have created one: the runner's /tmp (the lab hosts share
    it), each host's own places, inside each container."""
    found = [f"runner:{p}" for p in glob.glob(f"{MARK}*")]
    return sorted(set(found + [m for fp in prints.values() for m in fp.markers]))


def markers(info) -> list[str]:
    return markers_in(fingerprints(info))


def differences(before: dict[str, Fingerprint], after: dict[str, Fingerprint], runtime: bool) -> list[str]:
    """What changed, host by host and line by line (empty: nothing)."""
    found = []
    for host in HOSTS:
        for part in ["files", "containers"] + (["runtime"] if runtime else []):
            old, new = getattr(before[host], part).splitlines(), getattr(after[host], part).splitlines()
            if old != new:
                gone = [f"- {line}" for line in old if line not in new]
                came = [f"+ {line}" for line in new if line not in old]
                found.append(f"{host} {part}:\n  " + "\n  ".join((gone + came)[:40] or ["(order changed)"]))
    return found


# -- the hosts' own files with hostile values -----------------------------------------------------------------


def save_baseline(info) -> None:
    for host in HOSTS:
        must(
            info,
            host,
            shell(
                "rm -rf %s && mkdir -p %s && "
                "{ cp -a /etc/libvirt/qemu.conf /etc/sasl2/libvirt.conf %s/ 2>/dev/null; true; } && "
                "stat -c '%%u:%%g %%a' /dev/kvm > %s/dev-kvm",
                SAVE,
                SAVE,
                SAVE,
                SAVE,
            ),
        )
    for host in HOSTS:
        must(info, host, shell("cp -a /etc/kolla %s/kolla-ref", SAVE))
    must(
        info,
        "k1",
        shell(
            "docker exec nova_libvirt cat /etc/sasl2/libvirt.conf > %s/c-sasl.conf && "
            "docker exec nova_libvirt cp -a /etc/libvirt/passwd.db /etc/libvirt/passwd.db.kc-save",
            SAVE,
        ),
    )
    must(info, "k2", shell("cp -a /etc/libvirt/passwd.db %s/passwd.db", SAVE))


def each_host(work) -> list:
    """`work(host)` on both hosts at once."""
    with ThreadPoolExecutor(len(HOSTS)) as pool:
        return list(pool.map(work, HOSTS))


# $1 the value-named node_config_directory (relative to root's home, where the suite's commands run): a copy of the
# host's /etc/kolla there, so that reads find files and fixes act on them.
_MIRROR = 'cd && mkdir -p -- "$1" && cp -a -- /etc/kolla/. "$1/" && cd / && '
# k2's host libvirtd again, with $1 as the PATH in its environment (what the ovs-vsctl probes read).
_LIBVIRTD = (
    'P=$(pgrep -xo libvirtd); [ -z "$P" ] || { kill "$P"; while kill -0 "$P" 2>/dev/null; do sleep 0.1; '
    'done; }; env PATH="$1" ' + LIBVIRTD_START + " </dev/null >/dev/null 2>&1; for i in $(seq 100); do "
    "virsh -c qemu:///system version --daemon >/dev/null 2>&1 && exit 0; sleep 0.2; done; "
    'echo "libvirtd not up" >&2; exit 1'
)


def restart_host_libvirtd(info, path: str = STD_PATH) -> None:
    must(info, "k2", script(_LIBVIRTD, path))


def prepare(info, host: str, vid: str) -> None:
    """The value-named /etc/kolla, and hostile values in the host's own files (as a careless or compromised host
    might have them). k2's libvirtd is restarted first: it reads qemu.conf when it starts, and refuses a bad user."""
    ncd = hostile(vid, host, "ncd")
    assert not ncd.startswith("/")
    if host == "k1":
        must(
            info,
            host,
            script(_MIRROR + "docker exec -i nova_libvirt sh -c 'cat > /etc/sasl2/libvirt.conf'", ncd),
            stdin=f"mech_list: DIGEST-MD5\nsasldb_path: {hostile(vid, host, 'c-sasldb')}\n",
        )
    else:
        must(
            info,
            host,
            script(
                _MIRROR + "( " + _LIBVIRTD.replace('"$1"', '"$2"') + " ) && "
                'cp -a "$5/qemu.conf" /etc/libvirt/qemu.conf && '
                'printf "\\nuser = \\"%s\\"\\n" "$3" >> /etc/libvirt/qemu.conf && '
                'printf "mech_list: SCRAM-SHA-256\\nsasldb_path: %s\\n" "$4" > /etc/sasl2/libvirt.conf',
                ncd,
                hostile(vid, host, "path") + ":" + STD_PATH,
                hostile(vid, host, "qemu-user"),
                hostile(vid, host, "sasldb"),
                SAVE,
            ),
        )


_RESTORE_SASL = {
    "k1": "docker exec -i nova_libvirt sh -c 'cat > /etc/sasl2/libvirt.conf' < \"$1/c-sasl.conf\"",
    "k2": 'cp -a "$1/libvirt.conf" /etc/sasl2/libvirt.conf',
}
_RESTORE = {
    "k1": "docker exec nova_libvirt cp -a /etc/libvirt/passwd.db.kc-save /etc/libvirt/passwd.db",
    "k2": 'cp -a "$1/qemu.conf" /etc/libvirt/qemu.conf && cp -a "$1/passwd.db" /etc/libvirt/passwd.db',
}


def restore_sasl_conf(info, host: str) -> None:
    must(info, host, script(_RESTORE_SASL[host], SAVE))


def restore(info, host: str, vid: str | None = None) -> None:
    """Back to the lab as it was made (faults included), for the next value. /etc/kolla is copied back in place
    (cp writes into the existing files), so the containers' bind mounts keep seeing it. k2's libvirtd keeps the
    hostile PATH until the next round restarts it."""
    top = hostile(vid, host, "ncd").split("/")[0] if vid else ""  # the value-named copy's top folder
    must(
        info,
        host,
        script(
            _RESTORE_SASL[host] + ' && { [ -z "$2" ] || ( cd && rm -rf -- "$2" ); } && '
            'cp -a "$1/kolla-ref/." /etc/kolla/ && '
            "rm -rf /var/backups/kolla-conformance /run/lock/kolla-conformance-remediation && "
            'chown "$(cut -d" " -f1 "$1/dev-kvm")" /dev/kvm && chmod "$(cut -d" " -f2 "$1/dev-kvm")" '
            "/dev/kvm && " + _RESTORE[host],
            SAVE,
            top,
        ),
    )


# -- the review script --------------------------------------------------------------------------------------

_HEREDOC = re.compile(r"<<'(KOLLA_CONFORMANCE_EOF[_0-9a-f]*)'\n.*?\n\1\n", re.S)


def unquoted_words(text: str) -> list[str]:
    """Words of the script that sh would see outside any quotes: heredoc bodies (file content) are left out.
    A hostile value kept in quotes is part of one word; one that escaped shows its `touch` and marker as words."""
    body = _HEREDOC.sub("<<'EOF'\n", text)
    lexer = shlex.shlex(body, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        words = list(lexer)
    except ValueError as exc:  # unbalanced quotes: sh would not read it as written either
        return [f"(unparsable: {exc})"]
    return [w for w in words if w == "touch" or w.startswith(MARK) or w.startswith("(unparsable")]


# -- one round: one hostile value through every path ---------------------------------------------------------


@dataclasses.dataclass
class Round:
    vid: str
    source: str
    plan: object = None
    plan_changed: list = dataclasses.field(default_factory=list)
    plan_markers: list = dataclasses.field(default_factory=list)
    scripts: dict = dataclasses.field(default_factory=dict)
    syntax: dict = dataclasses.field(default_factory=dict)
    rollback: object = None
    rollback_changed: list = dataclasses.field(default_factory=list)
    rollback_markers: list = dataclasses.field(default_factory=list)
    users_before: list = dataclasses.field(default_factory=list)
    users_after_rollback: list = dataclasses.field(default_factory=list)
    applied: object = None
    apply_markers: list = dataclasses.field(default_factory=list)
    users_after_apply: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    times: dict = dataclasses.field(default_factory=dict)

    def lap(self, phase: str, since: float) -> float:
        now = time.monotonic()
        self.times[phase] = round(now - since, 1)
        return now


def kolla_variables(vid: str) -> dict[str, dict]:
    out = {}
    for host, tags in KOLLA_PATHS.items():
        out[host] = {}
        for tag in tags:
            value = hostile(vid, host, tag)
            out[host][VARIABLE[tag]] = ["SCRAM-SHA-256", value] if tag == "mech" else value
    return out


def round_profile(info, folder: Path, variables: dict[str, dict], source: str) -> Path:
    """The lab's profile and inventory, with each host's hostile values in host_vars/<host>.yml or in the profile's
    overrides (both beat Kolla's defaults and group vars; globals.yml, which would beat host_vars, sets none)."""
    folder.mkdir(parents=True)
    shutil.copy(info.kolla_dir / "multinode", folder / "multinode")
    data = yaml.safe_load(info.profile_path.read_text())
    data["kolla"].update(config_dir=str(info.kolla_dir), inventory=str(folder / "multinode"))
    data["ssh"].update(identity_file=str(info.identity_file), known_hosts=str(info.known_hosts))
    if source == "host_vars":
        (folder / "host_vars").mkdir()
        for host, values in variables.items():
            (folder / "host_vars" / f"{host}.yml").write_text(yaml.safe_dump(values))
    else:
        data["overrides"] = variables
    (folder / "profile.yml").write_text(yaml.safe_dump(data))
    return folder / "profile.yml"


def run_round(info, vid: str, index: int, folder: Path, monkeypatch) -> Round:
    started = clock = time.monotonic()
    rnd = Round(vid, "host_vars" if index % 2 == 0 else "profile overrides")
    profile = round_profile(info, folder / "profile", kolla_variables(vid), rnd.source)
    each_host(lambda host: prepare(info, host, vid))
    before = fingerprints(info)
    clock = rnd.lap("setup", clock)

    # The checks and the plan: nothing may change, not even a restart.
    rnd.plan = run_suite(profile, *PLAN, "--remediate-dir", str(folder / "plan"))
    clock = rnd.lap("plan", clock)
    after = fingerprints(info)
    rnd.plan_changed = differences(before, after, runtime=True)
    rnd.plan_markers = markers_in(after)
    for host in HOSTS:
        path = folder / "plan" / f"{host}.sh"
        rnd.scripts[host] = path.read_text() if path.exists() else ""
        rnd.syntax[host] = (
            subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True) if path.exists() else None
        )

    # Apply, each fix failing after its first action: the action ran, then every undo and restore runs.
    # sasldb_path goes back first (saslpasswd2 reads it itself: a bad one makes the create fail, and then there is
    # no undo to prove); qemu.conf's user and libvirtd's PATH stay hostile (the re-checks read them again).
    each_host(lambda host: restore_sasl_conf(info, host))
    before = fingerprints(info)
    rnd.users_before = before["k1"].users() + before["k2"].users()
    clock = rnd.lap("between", clock)
    monkeypatch.setenv(FAIL_AT_ENV, "1")
    rnd.rollback = run_suite(profile, *APPLY, "--remediate-dir", str(folder / "rollback"))
    monkeypatch.delenv(FAIL_AT_ENV)
    clock = rnd.lap("apply+rollback", clock)
    after = fingerprints(info)
    rnd.rollback_changed = differences(before, after, runtime=False)
    rnd.rollback_markers = markers_in(after)
    rnd.users_after_rollback = after["k1"].users() + after["k2"].users()

    if vid in REAL_APPLY:  # the fixes to their end, re-check, and the rollback of what still fails
        # qemu.conf back too: libvirtd reads it when the mech-list fix restarts it, and refuses an unknown user.
        must(info, "k2", shell("cp -a %s/qemu.conf /etc/libvirt/qemu.conf", SAVE))
        rnd.applied = run_suite(profile, *FULL_APPLY, "--remediate-dir", str(folder / "apply"))
        clock = rnd.lap("apply", clock)
        now = fingerprints(info)
        rnd.apply_markers = markers_in(now)
        rnd.users_after_apply = now["k1"].users() + now["k2"].users()
    each_host(lambda host: restore(info, host, vid))
    rnd.lap("restore", clock)
    rnd.seconds = time.monotonic() - started
    for name in ("plan", "rollback", "applied"):  # for whoever reads a failure
        if getattr(rnd, name):
            (folder / f"{name}.out").write_text(getattr(rnd, name).output)
    return rnd


@pytest.fixture(scope="module")
def lab(lab_factory):
    info = lab_factory(LAB)
    save_baseline(info)
    yield info
    for path in glob.glob(f"{MARK}*"):  # the runner's /tmp (the hosts' too); the containers go with the lab
        os.remove(path)


@pytest.fixture(scope="module")
def battery(lab, tmp_path_factory) -> dict[str, Round]:
    folder = tmp_path_factory.mktemp("injection")
    rounds = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for index, vid in enumerate(VIDS):
            rounds[vid] = run_round(lab, vid, index, folder / vid, monkeypatch)
    report = os.environ.get("KOLLA_INJECTION_REPORT")
    if report:
        Path(report).write_text(json.dumps(summary(rounds), indent=1))
    return rounds


def outcome(result, host: str, check_id: str) -> str:
    """The first line of a finding's remediation outcome ("" when no fix was planned for it)."""
    finding = result.findings.get((host, check_id)) if result else None
    text = finding.evidence.get("remediation", "") if finding else ""
    return text.splitlines()[0].removeprefix("outcome: ").removeprefix("planned: ") if text else ""


def outcomes(result) -> dict[str, str]:
    return (
        {f"{h} {c}": outcome(result, h, c) for (h, c) in sorted(result.findings) if outcome(result, h, c)}
        if result
        else {}
    )


def summary(rounds: dict[str, Round]) -> dict:
    out = {}
    for vid, rnd in rounds.items():
        out[vid] = {
            "source": rnd.source,
            "seconds": round(rnd.seconds, 1),
            "times": rnd.times,
            "paths": {h: KOLLA_PATHS[h] + HOST_FILE_PATHS[h] for h in HOSTS},
            "slowest": [
                line
                for r in (rnd.plan, rnd.rollback, rnd.applied)
                if r
                for line in r.output.splitlines()
                if re.match(r"^\d+\.\d+s (call|setup|teardown)", line)
            ],
            "plan_exit": rnd.plan.exit_code,
            "rollback_exit": rnd.rollback.exit_code,
            "markers": rnd.plan_markers + rnd.rollback_markers + rnd.apply_markers,
            "plan_changed": rnd.plan_changed,
            "rollback_changed": rnd.rollback_changed,
            "sh_n": {h: (s.returncode, s.stderr.strip()) if s else None for h, s in rnd.syntax.items()},
            "unquoted": {h: unquoted_words(t) for h, t in rnd.scripts.items()},
            "plan outcomes": outcomes(rnd.plan),
            "outcomes": outcomes(rnd.rollback),
            "applied": outcomes(rnd.applied) if rnd.applied else None,
            "users": {
                "before": rnd.users_before,
                "after rollback": rnd.users_after_rollback,
                "after apply": rnd.users_after_apply,
            },
        }
    return out


# -- the battery's verdicts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("vid", VIDS)
def test_nothing_runs(battery, vid):
    rnd = battery[vid]
    assert rnd.plan_markers == [], "a hostile value ran in the checks or the plan"
    assert rnd.rollback_markers == [], "a hostile value ran in apply or its rollback"
    assert rnd.apply_markers == [], "a hostile value ran in a complete apply"


@pytest.mark.parametrize("vid", VIDS)
def test_each_host_is_judged_and_no_check_crashes(battery, vid):
    """A hostile value is a wrong setting: checks fail on it, none crashes (exit 3), no host goes unjudged."""
    for result in (battery[vid].plan, battery[vid].rollback):
        assert result.exit_code == 1, result.output[-3000:]  # (1 also wins over 3: look for crashes by name)
        crashed = [line for line in result.output.splitlines() if "the check crashed" in line]
        assert crashed == [], "\n".join(
            crashed + [line for line in result.output.splitlines() if line.startswith("E   ") and "Error" in line][:6]
        )
        assert "Traceback" not in result.output and "INTERNALERROR" not in result.output
        for host in HOSTS:
            assert result.with_status(host, Status.FAIL), f"{host} was not judged"
            assert not result.with_status(host, Status.UNREACHABLE), host


@pytest.mark.parametrize("vid", VIDS)
def test_checks_and_plan_change_nothing(battery, vid):
    assert battery[vid].plan_changed == [], "\n".join(battery[vid].plan_changed)


@pytest.mark.parametrize("vid", VIDS)
def test_apply_rolls_back_to_the_same_bytes(battery, vid):
    rnd = battery[vid]
    assert rnd.rollback_changed == [], "\n".join(rnd.rollback_changed)
    states = outcomes(rnd.rollback)
    for host in HOSTS:  # fixes acted on each host, and each was rolled back
        assert any(k.startswith(host) and v == "rolled-back" for k, v in states.items()), states
    assert "fixed" not in states.values(), states


@pytest.mark.parametrize("vid", VIDS)
def test_the_undo_deletes_only_the_named_user(battery, vid):
    """The issue's case: the SASL user fix ran its create with the hostile name, then its undo. The real `nova`
    (Kolla's libvirt_sasl_authname default, created by the lab) is still there on both hosts, and no other user
    came or went."""
    rnd = battery[vid]
    for host in HOSTS:
        finding = rnd.rollback.findings[(host, "sasl.user-exists")]
        text = finding.evidence.get("remediation", "")
        assert text.startswith("outcome: rolled-back") and "injected failure after action 1" in text, text
        assert "done: create SASL user" in text, text
        assert "rolled back: every change reverted" in text, text
    assert any(u.startswith("nova@k1:") for u in rnd.users_after_rollback), rnd.users_after_rollback
    assert any(u.startswith("nova@k2:") for u in rnd.users_after_rollback), rnd.users_after_rollback
    assert rnd.users_after_rollback == rnd.users_before


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("vid", VIDS)
def test_the_review_script_keeps_each_value_quoted(battery, vid, host):
    rnd = battery[vid]
    text = rnd.scripts[host]
    assert text.startswith("#!/bin/sh"), f"no review script for {host}"
    assert rnd.syntax[host].returncode == 0, f"sh -n: {rnd.syntax[host].stderr}"
    lines = text.splitlines()
    spilled = [
        f"line {n}: {line}"
        for n, line in enumerate(lines, 1)
        if n > 1 and lines[n - 2].startswith("#") and not line.startswith("#") and MARK in line
    ]
    assert unquoted_words(text) == [], (
        "shell text outside quotes (a comment's value spilled onto the next line):\n" + "\n".join(spilled)
    )


@pytest.mark.parametrize("vid", REAL_APPLY)
def test_a_complete_apply_runs_nothing_and_keeps_nova(battery, vid):
    rnd = battery[vid]
    assert rnd.apply_markers == []
    assert "Traceback" not in rnd.applied.output and rnd.applied.exit_code in (0, 1), rnd.applied.output[-3000:]
    assert any(u.startswith("nova@k1:") for u in rnd.users_after_apply)
    assert any(u.startswith("nova@k2:") for u in rnd.users_after_apply)
    assert [u for u in rnd.users_before if u not in rnd.users_after_apply] == []
    # A user that came is the hostile authname itself, as one name (sasldblistusers2 prints a name that holds a
    # newline on two lines).
    came = [u for u in rnd.users_after_apply if u not in rnd.users_before]
    allowed = {line for h in HOSTS for line in f"{hostile(vid, h, 'auth')}@{h}: userPassword".split("\n")}
    assert set(came) <= allowed, came


# -- values refused at load: one line, exit 4, nothing touched --------------------------------------------------

# where -> how to put the value there. Host names, addresses, users and ports reach ssh: they are validated.
REFUSED = [
    "nova_compute_virt_type",
    "kolla_container_engine",
    "inventory host name",
    "ansible_host",
    "ansible_user",
    "ansible_port",
    "ssh.user",
    "hosts[].address",
    "hosts[].user",
    "ssh.jump_host",
]


def refused_profile(info, folder: Path, where: str, value: str) -> Path:
    folder.mkdir(parents=True)
    kolla = folder / "kolla"
    kolla.mkdir()
    for item in info.kolla_dir.iterdir():  # the files a case may change are copies, the rest links
        if item.is_file():
            shutil.copy(item, kolla / item.name)
        else:
            (kolla / item.name).symlink_to(item)
    data = yaml.safe_load(info.profile_path.read_text())
    data["kolla"].update(config_dir=str(kolla), inventory=str(kolla / "multinode"))
    data["ssh"].update(identity_file=str(info.identity_file), known_hosts=str(info.known_hosts))
    if where in ("nova_compute_virt_type", "kolla_container_engine"):
        globals_ = yaml.safe_load((kolla / "globals.yml").read_text())
        globals_[where] = value
        (kolla / "globals.yml").write_text(yaml.safe_dump(globals_))
    elif where in ("ansible_host", "ansible_user", "ansible_port"):
        (kolla / "host_vars").mkdir()
        (kolla / "host_vars" / "k1.yml").write_text(yaml.safe_dump({where: value}))
    elif where == "inventory host name":  # YAML: an INI line cannot hold every value
        inventory = {"all": {"children": {"compute": {"hosts": {value: {"ansible_host": "10.0.0.1"}}}}}}
        (kolla / "inventory.yml").write_text(yaml.safe_dump(inventory))
        data["kolla"]["inventory"] = str(kolla / "inventory.yml")
    elif where == "hosts[].address":
        data["hosts"] = [{"name": "k1", "address": value}]
    elif where == "hosts[].user":
        data["hosts"] = [{"name": "k1", "user": value}]
    elif where == "ssh.user":
        data["ssh"]["user"] = value
    elif where == "ssh.jump_host":
        data["ssh"]["jump_host"] = value
    (folder / "profile.yml").write_text(yaml.safe_dump(data))
    return folder / "profile.yml"


@pytest.mark.parametrize("vid", VIDS)
@pytest.mark.parametrize("where", REFUSED)
def test_a_hostile_ssh_target_or_choice_is_refused_at_load(lab, tmp_path, where, vid):
    value = hostile(vid, "k1", where.replace(" ", "-").replace("[]", ""))
    with pytest.raises(ProfileError) as refused:
        load_profile(refused_profile(lab, tmp_path / "p", where, value))
    key = {"inventory host name": "host name", "hosts[].address": "address", "hosts[].user": "user"}.get(where, where)
    assert key in str(refused.value), refused.value
    assert not glob.glob(f"{MARK}*")


# The suite as a user runs it, for one place of each kind (a Kolla choice, an inventory host var, the profile):
# the other places are refused by the same path (a ProfileError at load becomes one line and exit 4).
AS_A_USER = [("nova_compute_virt_type", "metachars"), ("ansible_host", "dash-option"), ("ssh.jump_host", "newline")]


def test_the_refusal_is_one_line_and_exit_4(lab, tmp_path):
    def run(case):
        where, vid = case
        value = hostile(vid, "k1", where.replace(" ", "-").replace("[]", ""))
        return run_suite(refused_profile(lab, tmp_path / where, where, value), timeout=300)

    with ThreadPoolExecutor(len(AS_A_USER)) as pool:
        results = list(pool.map(run, AS_A_USER))
    for (where, _), result in zip(AS_A_USER, results):
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 4, (where, result.output[-2000:])
        assert len(lines) == 1 and lines[0].startswith("ERROR: ") and where.split(".")[-1] in lines[0], result.output
        assert not result.findings
    assert not glob.glob(f"{MARK}*")


def test_jinja_in_a_variable_runs_nothing_on_the_runner(lab, tmp_path):
    """Kolla variables are Jinja; the suite evaluates them on the runner when the profile loads."""
    marker = f"{MARK}-jinja-runner"
    value = "{{ cycler.__init__.__globals__['__builtins__']['__import__']('os').system('touch " + marker + "') }}"
    profile = round_profile(lab, tmp_path / "p", {"k1": {"libvirt_sasl_authname": value}}, "host_vars")
    try:
        result = run_suite(profile, "-k", "sasl.user-exists", timeout=300)
        assert not os.path.exists(marker), "a Jinja expression in host_vars ran a command on the runner"
        assert result.exit_code in (1, 4)
    finally:
        if os.path.exists(marker):
            os.remove(marker)  # the tests after this one look for markers again


# -- last: the review scripts, run on the hosts (the lab is thrown away after this module) -----------------

# A docker that skips `restart` (restarting carries no value; the wait for the container that follows still runs):
# the scripts restart nova_libvirt and nova_compute several times each, and this keeps the module fast.
_DOCKER_NO_RESTART = '#!/bin/sh\n[ "$1" = restart ] && exit 0\nexec /usr/bin/docker "$@"\n'


def test_running_the_review_scripts_runs_no_value(battery, lab):
    """Each plan's review script, run as root on the host it was written for, one after another. Last in the
    module: the lab is thrown away afterwards. errexit is off so that every line runs (an operator's run stops
    earlier, never later); the password file is a stand-in; `docker restart` is skipped (see above)."""
    for host in HOSTS:
        must(
            lab,
            host,
            "mkdir -p /root/kc-review/bin && printf 'stand-in-password\\n' > /root/kc-review/pw && "
            "cat > /root/kc-review/bin/docker && chmod 0755 /root/kc-review/bin/docker",
            stdin=_DOCKER_NO_RESTART,
        )
        for vid, rnd in battery.items():
            if rnd.scripts[host]:
                body = rnd.scripts[host].replace("\nset -eu\n", "\nset -u\n", 1)
                must(lab, host, shell("cat > %s", f"/root/kc-review/{vid}.sh"), stdin=body)

    def run_all(host):
        return ssh(
            lab,
            host,
            "cd /root/kc-review && for s in *.sh; do PATH=/root/kc-review/bin:$PATH "
            'SASL_PASSWORD_FILE=/root/kc-review/pw timeout 120 sh "$s" </dev/null >"$s.log" 2>&1; '
            'echo "$s: exit $?"; done',
            timeout=1200,
        )

    with ThreadPoolExecutor(len(HOSTS)) as pool:
        logs = list(pool.map(run_all, HOSTS))
    found = markers(lab)
    assert found == [], (
        "running the review scripts ran hostile values:\n"
        + "\n".join(found)
        + "\n"
        + "\n".join(log.stdout for log in logs)
    )
