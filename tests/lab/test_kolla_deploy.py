"""The lab deploys its hosts' files with Kolla Ansible itself (fixtures/lab/kolla_deploy.py): these tests hold it to
Kolla's own behaviour.

- The lab writes templated files with one task per host instead of a module run per file; rendered again with
  Kolla's module tasks (template, copy, merge_configs, Kolla's config-libvirt-tls.yml), every file is byte for byte
  and mode for mode the same, for container and host mode, TLS and TCP, a per-host certificate and an operator
  template override.
- Its config dir is one Kolla could deploy: every key of the release's passwords.yml filled by kolla-genpwd, every
  group of the release's multinode sample.
- Its images carry the users Kolla's config.json names, and kolla_start applies its directories and files.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from conformance.kolla import release as kolla_release
from fixtures.lab import kolla_deploy, kolla_render
from fixtures.lab import plan as planmod
from fixtures.lab import scenario as scenmod
from fixtures.lab.lab import Lab

pytestmark = pytest.mark.lab

REFERENCE = Path(__file__).parent / "kolla_reference"
RELEASE = "23.0.0"
SCENARIO = {
    "name": "render",
    "release": RELEASE,
    "hosts": [
        {"name": "r-tls", "shape": "docker", "tls": True, "faults": ["cert-expired"]},  # a per-host cert dir
        {"name": "r-tcp", "shape": "podman", "faults": ["libvirtd-override-before-sasl"]},  # an operator template
        {"name": "r-host", "shape": "host", "ovs": "container", "tls": True},  # the ovs-vsctl wrapper
    ],
}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """The lab's operator side and Kolla's render for SCENARIO, without booting hosts (k: addresses only)."""
    folder = tmp_path_factory.mktemp("render")
    sc = scenmod.load(SCENARIO)
    plans = planmod.build(sc, 250)
    ctx = Lab(folder)._operator_side(sc, 250, plans)
    return folder / "kolla", ctx, {p.name: kolla_render.host_facts(p) for p in plans}


def test_lab_render_equals_kolla_module_tasks(deployed, tmp_path):
    config_dir, ctx, facts = deployed
    kolla = kolla_release.fetch(RELEASE)
    tasks = kolla.ansible_dir / "roles" / "nova-cell" / "tasks"
    reference = kolla_deploy.render(
        kolla, config_dir, facts, tmp_path, {"lab_kolla_role_tasks": str(tasks)}, tasks=REFERENCE, lab_writes=False
    )
    assert set(reference) == set(ctx.rendered) == set(facts)
    for host, files in reference.items():
        assert files, host
        assert sorted(ctx.rendered[host]) == sorted(files), host
        for path, (data, mode) in files.items():
            assert ctx.rendered[host][path] == (data, mode), f"{host}:{path}"
    # What the hosts got is Kolla's: its templates' own text, per host.
    tls = ctx.rendered["r-tls"]
    assert b"connection_uri = qemu+tls://r-tls/system\n" in tls["/etc/kolla/nova-compute/nova.conf"][0]
    assert b'auth_tls = "sasl"' in tls["/etc/kolla/nova-libvirt/libvirtd.conf"][0]
    assert (
        b"our copy of the nova-cell role's libvirtd.conf.j2"
        in ctx.rendered["r-tcp"]["/etc/kolla/nova-libvirt/libvirtd.conf"][0]
    )
    engine = next(p.engine for p in ctx.plans if p.name == "r-host")
    wrapper = ctx.rendered["r-host"]["/usr/bin/ovs-vsctl"][0]
    assert wrapper.endswith(f'exec {engine} exec openvswitch_vswitchd ovs-vsctl "$@"\n'.encode())
    assert "/etc/kolla/nova-libvirt/config.json" not in ctx.rendered["r-host"]  # host mode: no nova_libvirt


def test_config_dir_is_one_kolla_could_deploy(deployed):
    config_dir, _ctx, _facts = deployed
    kolla = kolla_release.fetch(RELEASE)
    sample = yaml.safe_load((kolla.ansible_dir.parent / "etc_examples/kolla/passwords.yml").read_text())
    made = yaml.safe_load((config_dir / "passwords.yml").read_text())
    assert set(made) == set(sample) and len(made) > 100
    blank = {k for k, v in made.items() if v in (None, "")}
    assert blank <= {"docker_registry_password"}, blank  # kolla-genpwd's blank_keys only
    assert isinstance(made["nova_ssh_key"], dict) and "BEGIN" in made["nova_ssh_key"]["private_key"]

    def groups(text):
        return set(re.findall(r"^\[([^\]]+)\]", text, re.M))

    inventory = (config_dir / "multinode").read_text()
    assert groups((kolla.ansible_dir / "inventory" / "multinode").read_text()) == groups(inventory)
    compute = inventory.split("[compute]\n", 1)[1].split("\n\n", 1)[0]
    assert [line.split()[0] for line in compute.splitlines()] == ["r-tls", "r-tcp", "r-host"]


def test_render_failure_is_one_error_naming_the_log(deployed, tmp_path):
    config_dir, _ctx, facts = deployed
    broken = tmp_path / "kolla"
    subprocess.run(["cp", "-a", str(config_dir), str(broken)], check=True)
    (broken / "config" / "nova").mkdir(parents=True, exist_ok=True)
    (broken / "config" / "nova" / "libvirtd.conf.j2").write_text("listen_addr = {{ no_such_variable }}\n")
    with pytest.raises(Exception) as caught:
        kolla_deploy.render(kolla_release.fetch(RELEASE), broken, facts, tmp_path)
    message = str(caught.value)
    assert "Kolla's render of" in message and "ansible.log" in message and "no_such_variable" in message


def test_images_carry_kollas_users_and_kolla_start_applies_its_directories(lab_factory):
    info = lab_factory(
        {"name": "users", "hosts": [{"name": "u-d", "shape": "docker"}, {"name": "u-p", "shape": "podman"}]}
    )

    def inside(host, engine, container, *argv):  # one command line for the host's shell, every word quoted
        remote = shlex.join([engine, "exec", container, *argv])
        command = ["ssh", "-F", str(info.ssh_config), host, remote]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    for host, engine in (("u-d", "docker"), ("u-p", "podman")):
        stat = inside(
            host, engine, "nova_libvirt", "stat", "-c", "%n %U:%G %a", "/var/log/kolla", "/var/log/kolla/libvirt"
        )
        # nova-libvirt.json.j2's "directories": fluentd:kolla and root:kolla, 2775
        assert stat.stdout.splitlines() == [
            "/var/log/kolla fluentd:kolla 2775",
            "/var/log/kolla/libvirt root:kolla 2775",
        ], stat.stdout + stat.stderr
        nqn = inside(host, engine, "nova_compute", "cat", "/etc/nvme/hostnqn")
        assert nqn.stdout.startswith("nqn.2014-08.org.nvmexpress:uuid:"), nqn.stdout + nqn.stderr
