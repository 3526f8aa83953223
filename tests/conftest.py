"""Shared fixtures for the suite's own tests.

`loopback_host`: a real sshd on 127.0.0.1 (a free port) with its own host and client keys, and a Kolla config dir,
for cheap end-to-end runs of the suite (exit codes, waivers, JUnit, merge) without the lab. The machine itself is
the "host"; Kolla's node_config_directory points into the fixture's folder, so checks that read rendered files
read files the test controls. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

SASL_PASSWORD = "Lb-sasl-Secret-7f3a9"  # the fixture's libvirt_sasl_password: must never appear in any output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class LoopbackHost:
    root: Path
    name: str
    port: int
    identity_file: Path
    known_hosts: Path
    kolla_dir: Path
    node_config_dir: Path
    sasl_password: str = SASL_PASSWORD

    def write_nova_conf(self, virt_type: str = "kvm") -> Path:
        """The nova.conf that `virt.type-rendered` reads on the host (under node_config_directory)."""
        path = self.node_config_dir / "nova-compute" / "nova.conf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"[libvirt]\nvirt_type = {virt_type}\n")
        return path

    def profile(
        self, folder: Path, *, unreachable: bool = False, extra: dict | None = None, hosts: list[str] | None = None
    ) -> Path:
        """A profile for this host (plus, with unreachable=True, a host 'gone' on a closed loopback port)."""
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["[compute]", f"{self.name} ansible_host=127.0.0.1 ansible_port={self.port}"]
        if unreachable:
            lines.append(f"gone ansible_host=127.0.0.1 ansible_port={_free_port()}")
        (folder / "multinode").write_text("\n".join(lines) + "\n")
        data = {
            "kolla": {"config_dir": str(self.kolla_dir), "inventory": str(folder / "multinode")},
            "ssh": {
                "user": "root",
                "identity_file": str(self.identity_file),
                "known_hosts": str(self.known_hosts),
                "connect_timeout": 3,
            },
        }
        if hosts is not None:
            data["hosts"] = hosts
        data.update(extra or {})
        path = folder / "profile.yml"
        path.write_text(yaml.safe_dump(data))
        return path


@pytest.fixture(scope="session")
def loopback_host(tmp_path_factory) -> LoopbackHost:
    if os.geteuid() != 0 or not os.path.exists("/usr/sbin/sshd"):
        pytest.skip("loopback_host needs root and openssh-server")
    root = tmp_path_factory.mktemp("loopback")
    ssh = root / "ssh"
    ssh.mkdir()
    for key in ("hostkey", "id"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ssh / key)], check=True)
    shutil.copy(ssh / "id.pub", ssh / "authorized_keys")
    port = _free_port()
    (ssh / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1:{port}\nHostKey {ssh / 'hostkey'}\nPidFile {ssh / 'sshd.pid'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUsePAM no\nStrictModes no\n"
        f"AuthorizedKeysFile {ssh / 'authorized_keys'}\n"
    )
    hostkey = (ssh / "hostkey.pub").read_text().split()
    (ssh / "known_hosts").write_text(f"[127.0.0.1]:{port} {hostkey[0]} {hostkey[1]}\n")
    os.makedirs("/run/sshd", exist_ok=True)
    subprocess.run(["/usr/sbin/sshd", "-f", str(ssh / "sshd_config")], check=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)

    kolla = root / "kolla"
    kolla.mkdir()
    node_config = root / "etc-kolla"
    (kolla / "globals.yml").write_text(
        yaml.safe_dump(
            {"nova_compute_virt_type": "kvm", "network_interface": "lo", "node_config_directory": str(node_config)}
        )
    )
    (kolla / "passwords.yml").write_text(yaml.safe_dump({"libvirt_sasl_password": SASL_PASSWORD}))
    host = LoopbackHost(root, "loop", port, ssh / "id", ssh / "known_hosts", kolla, node_config)
    host.write_nova_conf()
    yield host
    pid = (ssh / "sshd.pid").read_text().strip() if (ssh / "sshd.pid").exists() else ""
    if pid:
        os.kill(int(pid), signal.SIGTERM)  # only the sshd this fixture started
