"""Every branch of the libvirt.* checks (host versus containerised libvirt) on recorded probe values. The lab tests
prove the real failures (faults host-libvirtd-in-container-mode, leftover-nova-libvirt-container, SIGSTOPped
dockerd/libvirtd, restart loops)."""

from __future__ import annotations

import pytest

from conformance.errors import ContainerUnavailable, ReadTimedOut
from conformance.facts import FileFact
from conformance.model import Status
from conformance.probes import engine, files, libvirt_host, sasl
from tests.unit.recorded import HOST_MODE, TLS, asked, case, ps, recording, result, text

PASS, FAIL, NA = Status.PASS, Status.FAIL, Status.NOT_APPLICABLE
# The recorded host-mode host (host_mode.json): compute02 at 10.77.4.12, TCP, libvirtd listening on 16509.
HOST = {**HOST_MODE, "host": "compute02", "migration_hostname": "compute02", "migration_address": "10.77.4.12"}
HOST_TLS = {**HOST, **TLS, "host": "compute01", "migration_hostname": "compute01", "migration_address": "10.77.3.11"}
HUNG = ReadTimedOut("`docker ps -a` did not answer within 60s on compute01")
SOCKET = "/var/run/libvirt/libvirt-sock"


def rec(name):
    return recording(name)


def healthy():
    return rec("container_tls").facts()


def containers_with(status):
    """The docker host's real `docker ps` line for nova_libvirt, its Status column changed."""
    raw = text("docker_ps.jsonl").replace(
        '"Names":"nova_libvirt","Networks":"host","Platform":null,"Ports":"",'
        '"RunningFor":"3 minutes ago","Size":"466kB (virtual 616kB)",'
        '"State":"running","Status":"Up 3 minutes"',
        '"Names":"nova_libvirt","Networks":"host","Platform":null,"Ports":"",'
        '"RunningFor":"3 minutes ago","Size":"466kB (virtual 616kB)",'
        f'"State":"running","Status":"{status}"',
    )
    assert status in raw
    return ps(raw)


def without_libvirt():
    """`docker ps` on the recorded host-mode host: nova_compute and OVS, no nova_libvirt."""
    return rec("host_mode").value(engine.containers)


CONTAINER_HEALTHY = [
    case("libvirt.container-healthy", "n/a: host mode", NA, {}, exp=HOST_MODE, actual="host libvirt"),
    case(
        "libvirt.container-healthy",
        "pass: running, healthcheck passes",
        PASS,
        healthy,
        actual="nova_libvirt (Up",
        evidence=("docker containers", "virsh version --daemon in nova_libvirt"),
    ),
    case(
        "libvirt.container-healthy",
        "fail: the engine is hung",
        FAIL,
        {engine.containers: HUNG},
        actual=("docker does not answer", "did not answer within 60s"),
        hint=("docker is hung", "restart it"),
    ),
    case(
        "libvirt.container-healthy",
        "fail: no nova_libvirt container",
        FAIL,
        {engine.containers: without_libvirt()},
        actual="no nova_libvirt container",
        hint=("kolla-ansible deploy -t nova", "docker start nova_libvirt", "libvirtd.log"),
    ),
    case(
        "libvirt.container-healthy",
        "fail: nova_libvirt stopped",
        FAIL,
        lambda: rec("stopped_libvirt").facts(),
        actual=("nova_libvirt (Exited",),
    ),
    case(
        "libvirt.container-healthy",
        "fail: gone before the healthcheck ran (restart loop)",
        FAIL,
        lambda: healthy().record(
            sasl.nova_libvirt_healthcheck, ContainerUnavailable("nova_libvirt", "container is restarting")
        ),
        actual=("stopped before the healthcheck ran", "container is restarting"),
        hint="libvirtd exits at start",
    ),
    case(
        "libvirt.container-healthy",
        "fail: healthcheck never answers (hung libvirtd)",
        FAIL,
        lambda: healthy().record(sasl.nova_libvirt_healthcheck, ReadTimedOut("virsh version --daemon timed out")),
        actual="its healthcheck did not answer",
        hint=("libvirtd in nova_libvirt is hung", "docker restart"),
    ),
    case(
        "libvirt.container-healthy",
        "fail: healthcheck fails",
        FAIL,
        lambda: healthy().record(
            sasl.nova_libvirt_healthcheck,
            result(
                "error: failed to connect to the hypervisor\nerror: Failed to connect socket to "
                "'/var/run/libvirt/libvirt-sock': Connection refused\n",
                rc=1,
            ),
        ),
        actual=("healthcheck rc 1", "Connection refused"),
        hint="docker restart nova_libvirt",
    ),
    case(
        "libvirt.container-healthy",
        "fail: healthcheck fails silently",
        FAIL,
        lambda: healthy().record(sasl.nova_libvirt_healthcheck, result("", rc=1)),
        actual="no output",
    ),
    case(
        "libvirt.container-healthy",
        "fail: engine says unhealthy",
        FAIL,
        lambda: healthy().record(engine.containers, containers_with("Up 3 minutes (unhealthy)")),
        actual=("(unhealthy)", "healthcheck rc 0"),
    ),
    case(
        "libvirt.container-healthy",
        "pass: podman",
        PASS,
        lambda: healthy().record(engine.containers, ps("podman_ps.json", engine_name="podman")),
        exp={"container_engine": "podman"},
        evidence="podman containers",
    ),
]

NO_HOST_DAEMON = [
    case("libvirt.no-host-daemon", "n/a: host mode", NA, {}, exp=HOST_MODE),
    case(
        "libvirt.no-host-daemon",
        "pass: only the container's libvirtd",
        PASS,
        healthy,
        actual="none",
        says={"libvirt daemons": "pid 324 libvirtd (inside a container)"},
    ),
    case(
        "libvirt.no-host-daemon",
        "fail: a host libvirtd beside nova_libvirt",
        FAIL,
        lambda: healthy().record(
            libvirt_host.daemons, libvirt_host.parse_daemons(text("daemons_container_and_host.txt"))
        ),
        actual="host daemon running: libvirtd pid 578",
        hint=("systemctl disable --now libvirtd", "libvirtd.socket"),
    ),
    case(
        "libvirt.no-host-daemon",
        "fail: no nova_libvirt, a socket at the host path",
        FAIL,
        {
            libvirt_host.daemons: [],
            engine.containers: without_libvirt(),
            (files.metadata, SOCKET): rec("container_tls").value(files.metadata, SOCKET),
        },
        actual=("/var/run/libvirt/libvirt-sock exists with no nova_libvirt container",),
        hint="remove",
    ),
    case(
        "libvirt.no-host-daemon",
        "pass: no nova_libvirt yet (predeploy), no socket",
        PASS,
        {
            libvirt_host.daemons: [],
            engine.containers: without_libvirt(),
            (files.metadata, SOCKET): FileFact(SOCKET, False),
        },
        evidence=SOCKET,
    ),
    case(
        "libvirt.no-host-daemon",
        "pass: a stopped nova_libvirt's own socket",
        PASS,
        lambda: rec("stopped_libvirt").facts({libvirt_host.daemons: []}),
        actual="none",
        then=asked(files.metadata),
    ),  # its socket is not looked at: /run is shared with the container
]


NO_LEFTOVER_CONTAINER = [
    case("libvirt.no-leftover-container", "n/a: container mode", NA, {}, actual="libvirt runs in nova_libvirt"),
    case(
        "libvirt.no-leftover-container",
        "pass: none",
        PASS,
        lambda: rec("host_mode").facts(),
        exp=HOST,
        actual="none",
        evidence="docker containers",
    ),
    case(
        "libvirt.no-leftover-container",
        "fail: a leftover nova_libvirt",
        FAIL,
        lambda: rec("leftover_running_vm").facts(),
        exp=HOST,
        actual="nova_libvirt (Up",
        hint="kolla-ansible nova-libvirt-cleanup",
    ),
    case(
        "libvirt.no-leftover-container",
        "fail: containers cannot be listed",
        FAIL,
        {
            engine.containers: ps(
                "",
                ok=False,
                stderr="Cannot connect to the Docker daemon at "
                "unix:///var/run/docker.sock. Is the docker daemon running?\n",
            )
        },
        exp=HOST,
        actual=("cannot list containers", "Cannot connect to the Docker daemon"),
        hint="check that docker works",
    ),
]


def listening(text_):
    return text_, libvirt_host.parse_ss(text_)


HOST_DAEMON_LISTENING = [
    case("libvirt.host-daemon-listening", "n/a: container mode", NA, {}),
    case(
        "libvirt.host-daemon-listening",
        "pass: on the migration address",
        PASS,
        lambda: rec("host_mode").facts(),
        exp=HOST,
        actual="10.77.4.12:16509 libvirtd",
        evidence=("libvirt daemons", "ss -Hltnp", "virsh version"),
    ),
    case(
        "libvirt.host-daemon-listening",
        "pass: TLS on 16514",
        PASS,
        lambda: rec("host_tls").facts(
            {
                libvirt_host.daemons: rec("host_mode").value(libvirt_host.daemons),
                libvirt_host.host_libvirtd_answers: rec("host_mode").value(libvirt_host.host_libvirtd_answers),
            }
        ),
        exp=HOST_TLS,
        actual="10.77.3.11:16514",
    ),
    case(
        "libvirt.host-daemon-listening",
        "pass: on the wildcard address",
        PASS,
        lambda: rec("host_mode").facts(
            {
                libvirt_host.listeners: listening(
                    'LISTEN 0 1000 0.0.0.0:16509 0.0.0.0:* users:(("libvirtd",pid=304,fd=13))\n'
                )
            }
        ),
        exp=HOST,
        actual="0.0.0.0:16509",
    ),
    case(
        "libvirt.host-daemon-listening",
        "fail: no host daemon",
        FAIL,
        lambda: rec("host_libvirtd_down").facts(),
        exp=HOST,
        actual="no libvirtd/virtqemud process on the host",
        hint="systemctl enable --now libvirtd",
    ),
    case(
        "libvirt.host-daemon-listening",
        "fail: listens, never answers (hung)",
        FAIL,
        lambda: rec("host_mode").facts(
            {libvirt_host.host_libvirtd_answers: ReadTimedOut("virsh version --daemon did not answer within 60s")}
        ),
        exp=HOST,
        expected="answering",
        actual="the host libvirtd does not answer",
        hint="hung: restart it",
    ),
    case(
        "libvirt.host-daemon-listening",
        "fail: does not answer",
        FAIL,
        lambda: rec("host_mode").facts(
            {libvirt_host.host_libvirtd_answers: rec("host_libvirtd_down").value(libvirt_host.host_libvirtd_answers)}
        ),
        exp=HOST,
        actual=("does not answer", "Failed to connect socket"),
        hint="log and restart it",
    ),
    case(
        "libvirt.host-daemon-listening",
        "fail: nothing on the port",
        FAIL,
        lambda: rec("host_mode").facts(
            {libvirt_host.listeners: listening(text("ss_host_mode.txt").replace("16509", "16510"))}
        ),
        exp=HOST,
        actual="nothing listens on port 16509",
        hint=("listen_tcp = 1", 'listen_addr = "10.77.4.12"', "--listen"),
    ),
    case(
        "libvirt.host-daemon-listening",
        "fail: on another address (TLS)",
        FAIL,
        lambda: rec("host_tls").facts(
            {
                libvirt_host.daemons: rec("host_mode").value(libvirt_host.daemons),
                libvirt_host.host_libvirtd_answers: rec("host_mode").value(libvirt_host.host_libvirtd_answers),
            }
        ),
        exp={**HOST_TLS, "migration_address": "10.77.3.99"},
        actual="10.77.3.11:16514",
        hint="listen_tls = 1",
    ),
]

SASL_CONF = "/etc/sasl2/libvirt.conf"
AUTH = "/root/.config/libvirt/auth.conf"
PKI = (
    "/etc/pki/CA/cacert.pem",
    "/etc/pki/libvirt/servercert.pem",
    "/etc/pki/libvirt/private/serverkey.pem",
    "/etc/pki/libvirt/clientcert.pem",
    "/etc/pki/libvirt/private/clientkey.pem",
)


def host_files(sasl_conf=None, users=None, auth=True, pki=()):
    """The host-mode host's recorded SASL files, each replaceable; `pki`: TLS files that exist."""
    facts = rec("host_mode").facts()
    if sasl_conf is not None:
        facts.record(files.content, sasl_conf, args=(SASL_CONF,))
    if users is not None:
        facts.record(sasl.sasldb_users, users)
    if not auth:
        facts.record(files.metadata, FileFact(AUTH, False), args=(AUTH,))
    for path in PKI:
        facts.record(
            files.metadata,
            FileFact(path, True, "", 0o600, 0, 0, "root", "root", "regular file")
            if path in pki
            else FileFact(path, False),
            args=(path,),
        )
    return facts


HOST_FILES = [
    case("libvirt.host-files", "n/a: container mode", NA, {}),
    case(
        "libvirt.host-files",
        "n/a: neither SASL nor TLS",
        NA,
        {},
        exp={**HOST, "sasl_enabled": False},
        actual="neither SASL nor TLS is enabled",
    ),
    case(
        "libvirt.host-files",
        "pass: SASL files",
        PASS,
        host_files,
        exp=HOST,
        actual="all present",
        expected="sasl config, sasldb user, root auth.conf",
        evidence=(SASL_CONF, "sasldblistusers2 -f /etc/libvirt/passwd.db", AUTH),
        then=asked(sasl.sasldb_users, (None, "/etc/libvirt/passwd.db")),
    ),
    case(
        "libvirt.host-files",
        "pass: the sasldb sasl.conf names",
        PASS,
        lambda: host_files(
            sasl_conf=FileFact(SASL_CONF, True, "mech_list: DIGEST-MD5\nsasldb_path: /srv/sasl.db\n"),
            users=rec("host_mode").value(sasl.sasldb_users, None, sasl.SASLDB),
        ),
        exp=HOST,
        then=asked(sasl.sasldb_users, (None, "/srv/sasl.db")),
    ),
    case(
        "libvirt.host-files",
        "fail: no sasl.conf (the default sasldb is read)",
        FAIL,
        lambda: host_files(sasl_conf=FileFact(SASL_CONF, False)),
        exp=HOST,
        actual="missing: /etc/sasl2/libvirt.conf",
        hint=("saslpasswd2 -a libvirt nova", "/etc/pki"),
        then=asked(sasl.sasldb_users, (None, "/etc/libvirt/passwd.db")),
    ),
    case(
        "libvirt.host-files",
        "fail: SASL user missing",
        FAIL,
        lambda: host_files(users=sasl.SaslDb("on the host", ("admin@compute02",), "")),
        exp=HOST,
        actual="SASL user nova in /etc/libvirt/passwd.db",
    ),
    case(
        "libvirt.host-files",
        "fail: empty sasldb",
        FAIL,
        lambda: host_files(users=rec("faulty").value(sasl.sasldb_users, "nova_libvirt", sasl.SASLDB)),
        exp=HOST,
        actual="SASL user nova",
        evidence="sasldblistusers2",
    ),
    case(
        "libvirt.host-files",
        "fail: no root auth.conf",
        FAIL,
        lambda: host_files(auth=False),
        exp=HOST,
        actual="/root/.config/libvirt/auth.conf (client credentials for p2p migration)",
    ),
    case(
        "libvirt.host-files",
        "pass: SASL and TLS files",
        PASS,
        lambda: host_files(pki=PKI),
        exp={**HOST, **TLS},
        expected=("sasl config", "CA, server and client certificates"),
        evidence=PKI,
    ),
    case(
        "libvirt.host-files",
        "fail: TLS only, server key missing",
        FAIL,
        lambda: host_files(pki=PKI[:2] + PKI[3:]),
        exp={**HOST, **TLS, "sasl_enabled": False},
        actual="missing: /etc/pki/libvirt/private/serverkey.pem",
        lacks={"expected": "sasl"},
    ),
]

DOCKER_DOWN_TEXT = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
ENGINE_DOWN = [
    case(
        "libvirt.no-host-daemon",
        "the engine cannot list containers: no claim about nova_libvirt",
        FAIL,
        {
            libvirt_host.daemons: rec("container_tls").value(libvirt_host.daemons),
            engine.containers: ps("", ok=False, stderr=DOCKER_DOWN_TEXT),
            (files.metadata, SOCKET): rec("container_tls").value(files.metadata, SOCKET),
        },
        actual="Cannot connect to the Docker daemon",
        hint=("systemctl restart docker", "libvirt.container-healthy"),
        lacks={"actual": "with no nova_libvirt container", "hint": "remove"},
    ),
    case(
        "libvirt.no-host-daemon",
        "pass: the engine cannot list containers, but no socket to blame",
        PASS,
        {
            libvirt_host.daemons: rec("container_tls").value(libvirt_host.daemons),
            engine.containers: ps("", ok=False, stderr=DOCKER_DOWN_TEXT),
            (files.metadata, SOCKET): FileFact(SOCKET, False),
        },
        actual="none",
        says={"docker containers": "Cannot connect to the Docker daemon"},
    ),
    case(
        "libvirt.container-healthy",
        "the engine cannot list containers: its error is the cause",
        FAIL,
        {engine.containers: ps("", ok=False, stderr=DOCKER_DOWN_TEXT)},
        actual="Cannot connect to the Docker daemon",
        hint="systemctl restart docker",
        lacks={"actual": "no nova_libvirt container", "hint": "kolla-ansible deploy"},
        says={"docker containers": ("docker ps -a", "Cannot connect to the Docker daemon")},
    ),
    case(
        "libvirt.container-healthy",
        "podman cannot list containers: its error is the cause",
        FAIL,
        {
            engine.containers: ps(
                "",
                ok=False,
                engine_name="podman",
                stderr="Error: creating runtime static files "
                "directory: mkdir /var/lib/containers/storage/libpod: permission denied\n",
            )
        },
        exp={"container_engine": "podman"},
        actual=("podman cannot list containers", "permission denied"),
        hint="podman ps -a",
        lacks={"hint": "kolla-ansible deploy"},
    ),
]

CASES = ENGINE_DOWN + CONTAINER_HEALTHY + NO_HOST_DAEMON + NO_LEFTOVER_CONTAINER + HOST_DAEMON_LISTENING + HOST_FILES


@pytest.mark.parametrize("c", CASES)
def test_branch(c):
    c.run()
