"""Record what the probes read on lab hosts, for tests/unit/recorded.Recording (the check branch tests).

    python3 -m fixtures.lab up tests/unit/data/recorded/scenarios/recorder.yml --dir /work/labE
    python3 tests/unit/data/recorded/record_lab.py /work/labE/profile.yml NAME HOST PROBE-SET
    python3 -m fixtures.lab down --dir /work/labE

runs the probes of PROBE-SET (SETS below) on HOST through the suite's own connection and writes every command they
ran, with its template, arguments, container, exit status and output (or the NotRead it raised), to NAME.json here:
{"host", "engine", "probes": {"<probe>(<args>)": [{"container", "template", "args", "rc", "stdout", "stderr"}, ...]}}
and, for PROBE-SET live (run under `unshare --mount` with the lab's client/hosts bound on /etc/hosts), "live": the
answers of live.libvirt_login and live.tls_handshake. Nothing is interpreted here: the tests replay the outputs
through the same probe functions. Two things are scrubbed: a daemon's environment keeps only KEPT_ENV (the lab's
daemons inherit the recording machine's), nova.conf's transport_url password is masked.

What was recorded (scenarios/*.yml; the fault was switched on by hand where the set says so):
  recorder.yml  compute01 container_tls; compute02 host_mode; then `docker stop nova_libvirt` on compute01:
                stopped_libvirt; `docker stop openvswitch_vswitchd` on compute02: vswitchd_stopped; the host
                libvirtd killed on compute02: host_libvirtd_down
  cleanup.yml   compute01 cleaned_podman, compute02 cleaned_volumes_in_use, compute03 leftover_running_vm (cleanup)
  tls.yml       compute01 host_tls, compute02 wrong_address
  live.yml      compute01 live_tcp, compute02 live_scram_over_tcp, compute03 live_user_missing and faulty,
                compute04 live_san_missing, compute05 live_tls (live); compute06 plugin_missing
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from conformance.errors import NotRead
from conformance.probes import engine, files, kolla, libvirt_host, ovs, sasl, virt
from conformance.probes import tls as tls_probes
from conformance.profile import load_profile
from conformance.runtime import Run

HERE = Path(__file__).parent
KEPT_ENV = ("HOME", "PATH", "LANG", "SHELL", "SHLVL", "TERM")

CONTAINER_TLS = [
    (virt.cpuinfo,),
    (virt.kvm_modules,),
    (virt.dev_kvm,),
    (virt.libvirt_kvm_domain, "nova_libvirt"),
    (kolla.rendered_nova_compute_conf, "/etc/kolla"),
    (engine.containers,),
    (engine.volumes,),
    (engine.containers_detail,),
    (libvirt_host.daemons,),
    (libvirt_host.qemu_processes,),
    (files.metadata, "/var/run/libvirt/libvirt-sock"),
    (sasl.libvirtd_confs, True, "/etc/kolla"),
    (sasl.sasl_conf, "nova_libvirt"),
    (sasl.sasl_conf, None, "/etc/kolla/nova-libvirt/sasl.conf"),
    (sasl.sasl_plugins, "nova_libvirt"),
    (sasl.sasl_plugins, "nova_compute"),
    (sasl.nova_libvirt_healthcheck,),
    (sasl.sasldb_users, "nova_libvirt", sasl.SASLDB),
    (sasl.auth_conf, "nova_compute", sasl.AUTH_CONF["nova_compute"]),
    (sasl.auth_conf, "nova_libvirt", sasl.AUTH_CONF["nova_libvirt"]),
    (tls_probes.installed_file, "serverkey.pem", "/etc/kolla/nova-libvirt/serverkey.pem", None, "host"),
    (
        tls_probes.installed_file,
        "clientkey.pem",
        tls_probes.LIBVIRT_PKI["clientkey.pem"],
        "nova_libvirt",
        "nova_libvirt",
    ),
    (
        tls_probes.installed_file,
        "clientkey.pem",
        tls_probes.LIBVIRT_PKI["clientkey.pem"],
        "nova_compute",
        "nova_compute",
    ),
    (tls_probes.listeners, 16514),
    (tls_probes.host_resolution, "compute01"),
    (tls_probes.host_addresses,),
    (ovs.rendered_agent_ini, "/etc/kolla"),
    (ovs.libvirt_vsctl, "nova_libvirt"),
    (ovs.host_binary,),
    (ovs.vswitchd_version, "openvswitch_vswitchd"),
    (files.metadata, ovs.DB_SOCKET, "nova_libvirt"),
]
HOST_MODE = [
    (virt.qemu_user,),
    (virt.libvirt_kvm_domain, None),
    (virt.dev_kvm,),
    (engine.containers,),
    (engine.volumes,),
    (libvirt_host.daemons,),
    (libvirt_host.listeners,),
    (libvirt_host.host_libvirtd_answers,),
    (sasl.libvirtd_confs, False, "/etc/kolla"),
    (sasl.sasl_conf, None),
    (sasl.sasl_plugins, None),
    (sasl.sasldb_users, None, sasl.SASLDB),
    (files.content, "/etc/sasl2/libvirt.conf"),
    (files.metadata, "/root/.config/libvirt/auth.conf"),
    (ovs.libvirt_vsctl, None),
    (ovs.host_binary,),
    (ovs.vswitchd_version, None),
    (files.metadata, ovs.DB_SOCKET, None),
    (files.metadata, "/etc/kolla/nova-libvirt"),
]
STOPPED_LIBVIRT = [  # container mode with nova_libvirt stopped (docker stop nova_libvirt)
    (engine.containers,),
    (sasl.nova_libvirt_healthcheck,),
    (sasl.sasl_conf, "nova_libvirt"),
    (sasl.sasl_plugins, "nova_libvirt"),
    (virt.libvirt_kvm_domain, "nova_libvirt"),
]
HOST_LIBVIRTD_DOWN = [  # host mode with the host libvirtd stopped
    (virt.libvirt_kvm_domain, None),
    (libvirt_host.daemons,),
    (libvirt_host.host_libvirtd_answers,),
    (ovs.libvirt_vsctl, None),
]
VSWITCHD_STOPPED = [  # docker stop openvswitch_vswitchd: Kolla's wrapper on the host fails
    (engine.containers,),
    (ovs.libvirt_vsctl, None),
]
CLEANUP = [  # host mode after (or before) `kolla-ansible nova-libvirt-cleanup`
    (engine.containers,),
    (engine.volumes,),
    (engine.containers_detail,),
    (libvirt_host.qemu_processes,),
    (libvirt_host.daemons,),
    (files.metadata, "/etc/kolla/nova-libvirt"),
    (files.metadata, "/etc/systemd/system/kolla-nova_libvirt-container.service"),
]
HOST_TLS = [  # host mode with TLS: the host daemon's own /etc/pki
    (tls_probes.host_pki_set,),
    *[(tls_probes.installed_file, name, path, None, "host") for name, path in tls_probes.LIBVIRT_PKI.items()],
    (tls_probes.listeners, 16514),
    (tls_probes.host_resolution, "compute01"),
    (tls_probes.host_addresses,),
    (sasl.libvirtd_confs, False, "/etc/kolla"),
    (libvirt_host.listeners,),
]
WRONG_ADDRESS = [  # container mode, TLS; the nodename resolves to the API address, libvirtd listens on eth1
    (tls_probes.listeners, 16514),
    (tls_probes.host_resolution, "compute02"),
    (tls_probes.host_addresses,),
    (sasl.libvirtd_confs, True, "/etc/kolla"),
]
FAULTY = [  # container mode, TCP, faults sasl-user-missing and no-dev-kvm
    (virt.dev_kvm,),
    (virt.libvirt_kvm_domain, "nova_libvirt"),
    (sasl.sasldb_users, "nova_libvirt", sasl.SASLDB),
    (sasl.sasl_conf, "nova_libvirt"),
]
PLUGIN_MISSING = [(sasl.sasl_plugins, "nova_libvirt"), (sasl.sasl_conf, "nova_libvirt")]
SETS = {
    "container_tls": CONTAINER_TLS,
    "host_mode": HOST_MODE,
    "stopped_libvirt": STOPPED_LIBVIRT,
    "host_libvirtd_down": HOST_LIBVIRTD_DOWN,
    "vswitchd_stopped": VSWITCHD_STOPPED,
    "cleanup": CLEANUP,
    "host_tls": HOST_TLS,
    "wrong_address": WRONG_ADDRESS,
    "faulty": FAULTY,
    "plugin_missing": PLUGIN_MISSING,
    "live": [],
}


def key(fn, args) -> str:
    return f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__qualname__}({', '.join(map(repr, args))})"


def record(facts, fn, args) -> tuple[list[dict], object]:
    log: list[dict] = []
    run, run_in = type(facts).run, type(facts).run_in

    def logged(container, template, call_args, do):
        entry = {"container": container, "template": template, "args": [str(a) for a in call_args]}
        try:
            result = do()
        except NotRead as exc:
            entry.update(not_read=type(exc).__name__, error=str(exc))
            log.append(entry)
            raise
        stdout = result.stdout
        if template.startswith("tr '\\0' '\\n' <") and "environ" in " ".join(map(str, call_args)):
            # a process environment: the lab's daemons inherit the recording machine's; keep libvirt's own
            stdout = "".join(line for line in stdout.splitlines(True) if line.split("=")[0] in KEPT_ENV)
        # the lab's rabbit password in nova.conf
        stdout = re.sub(r"(transport_url = \w+://[^:/@\s]+:)[^@\s]+@", r"\1<masked>@", stdout)
        entry.update(rc=result.rc, stdout=stdout, stderr=result.stderr)
        log.append(entry)
        return result

    facts.run = lambda template, *a, timeout=None: logged(
        None, template, a, lambda: run(facts, template, *a, timeout=timeout)
    )

    def exec_in(container, template, *a, timeout=None):
        # Facts.run_in raises ContainerUnavailable for an exec that did not run to its end: record its reason.
        def do():
            return run_in(facts, container, template, *a, timeout=timeout)

        return logged(container, template, a, do)

    facts.run_in = exec_in
    facts.invalidate()
    try:
        value = fn(facts, *args)
    except NotRead as exc:
        value = exc
    finally:
        del facts.run, facts.run_in
    return log, value


def record_live(exp, facts) -> dict:
    """The live probes' answers (they run on this machine): a login with passwords.yml's credentials and with a
    wrong password; with TLS the handshakes with Kolla's client certificate and with a foreign one. Run under
    `unshare --mount` with the lab's client/hosts bound on /etc/hosts so that nodenames resolve."""
    import dataclasses

    from conformance.kolla.expectations import Secret
    from conformance.probes import live

    pki = None  # with TLS, the client files nova-compute presents, as sasl.live-auth passes them
    if exp.libvirt_tls:
        files = tls_probes.operator_files(exp.operator_config_dir, exp.host)
        pki = tuple(sorted((name, files[name].read()) for name in tls_probes.CLIENT_FILES))
    answers = {"uri": exp.libvirt_uri}
    for label, password in (("good", exp.sasl_password), ("wrong", Secret(exp.sasl_password.reveal() + "-wrong"))):
        login = live.libvirt_login(facts, exp.libvirt_uri, exp.sasl_authname, password, pki)
        answers[f"login_{label}"] = dataclasses.asdict(login)
    if exp.libvirt_tls:
        files = tls_probes.operator_files(exp.operator_config_dir, exp.host)
        ca = files["cacert.pem"].read()
        client = tuple((n, files[n].read()) for n in tls_probes.CLIENT_FILES)
        for label, pki_files in (("good", client), ("foreign", live.foreign_client_pki(ca))):
            shake = live.tls_handshake(facts, exp.migration_hostname, exp.libvirt_port, ca, pki_files)
            answers[f"handshake_{label}"] = dataclasses.asdict(shake)
    return answers


def main(profile_path: str, name: str, host: str, probe_set: str) -> None:
    run = Run(load_profile(profile_path))
    try:
        exp, facts = run.host(host).prepare()
        out = {"host": host, "engine": facts.engine, "probes": {}}
        for fn, *args in SETS[probe_set]:
            log, value = record(facts, fn, tuple(args))
            out["probes"][key(fn, args)] = log
            if fn is libvirt_host.daemons and not isinstance(value, Exception):
                for daemon in [d for d in value if d.on_host][:1]:  # libvirt_vsctl reads its environment
                    out["probes"][key(libvirt_host.environ, (daemon.pid,))] = record(
                        facts, libvirt_host.environ, (daemon.pid,)
                    )[0]
            if isinstance(value, ovs.LibvirtVsctl) and value.resolved:  # what libvirt's ovs-vsctl answers
                for arg in ("show", "--version"):
                    out["probes"][key(ovs.run_vsctl, (f"<{key(fn, args)}>", arg))] = record(
                        facts, ovs.run_vsctl, (value, arg)
                    )[0]
        if probe_set == "live":
            out["live"] = record_live(exp, facts)
        (HERE / f"{name}.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    finally:
        run.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
