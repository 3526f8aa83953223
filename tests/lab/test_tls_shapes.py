"""TLS judged as libvirt judges it: for each certificate shape of tests/tls_shapes.py, a real libvirtd (TLS on, its
certificate sanity checks on, as Kolla configures it) and a real client (virsh, over qemu+tls:// to the name the
server certificate is for) decide whether the connection is made; the suite's certificate checks, over the same
files in an operator's Kolla config dir, must come to the same verdict (accepted: no check fails).

The daemon runs in a network and mount namespace of its own (loopback only, private /run and libvirt state)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conformance.model import Status
from tests import tls_shapes

pytestmark = pytest.mark.lab


# $1: a folder with server/ (libvirtd's three files) and client/ (the client's pkipath). Prints one VERDICT line.
REAL_LIBVIRT = r"""
set -u
D=$1
ip link set lo up
mount --make-rprivate /
for m in /run /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /etc/libvirt; do
    mkdir -p $m && mount -t tmpfs tmpfs $m
done
mkdir -p /run/libvirt
echo "127.0.0.1 NAME" > /run/hosts && mount --bind /run/hosts /etc/hosts
cat > /run/libvirtd.conf <<EOF
listen_tls = 1
listen_tcp = 0
listen_addr = "127.0.0.1"
auth_tls = "none"
ca_file = "$D/server/cacert.pem"
cert_file = "$D/server/servercert.pem"
key_file = "$D/server/serverkey.pem"
unix_sock_dir = "/run/libvirt"
log_outputs = "1:stderr"
log_filters = "3:*"
EOF
/usr/sbin/libvirtd -l -f /run/libvirtd.conf -p /run/libvirtd.pid > /run/libvirtd.log 2>&1 &
pid=$!
for _ in $(seq 1 150); do
    if ! kill -0 $pid 2>/dev/null; then
        echo "VERDICT refused: libvirtd: $(grep -m1 -iE 'certificate|tls|gnutls' /run/libvirtd.log | cut -c1-300)"
        exit 0
    fi
    ss -ltn | grep -q ':16514 ' && break
    sleep 0.1
done
out=$(timeout 20 virsh -c "qemu+tls://NAME/system?pkipath=$D/client" uri 2>&1)
if [ $? -eq 0 ]; then echo "VERDICT accepted"; else echo "VERDICT refused: client: $(echo "$out" | head -2 | tr '\n' ' ' | cut -c1-300)"; fi
""".replace("NAME", tls_shapes.NAME)


def real_verdict(files: dict[str, bytes], folder: Path) -> str:
    for side, names in (
        ("server", ("cacert.pem", "servercert.pem", "serverkey.pem")),
        ("client", ("cacert.pem", "clientcert.pem", "clientkey.pem")),
    ):
        (folder / side).mkdir(parents=True)
        for name in names:
            (folder / side / name).write_bytes(files[name])
            (folder / side / name).chmod(0o600)
    proc = subprocess.run(
        [
            "unshare",
            "--net",
            "--mount",
            "--pid",
            "--fork",
            "--mount-proc",
            "bash",
            "-c",
            REAL_LIBVIRT,
            "real",
            str(folder),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("VERDICT ")), "")
    assert line, f"no verdict from the real libvirtd: {proc.stdout[-500:]} {proc.stderr[-500:]}"
    return line.removeprefix("VERDICT ")


@pytest.mark.parametrize("shape", sorted(tls_shapes.SHAPES))
def test_suite_judges_a_certificate_shape_as_libvirt_does(shape, tmp_path):
    make, accepted = tls_shapes.SHAPES[shape]
    files = make()
    real = real_verdict(files, tmp_path / "real")
    verdicts = tls_shapes.static_verdict(files, tmp_path / "kolla-config")
    failed = {c: v.actual for c, v in verdicts.items() if v.status is Status.FAIL}
    assert real.startswith("accepted") is accepted, f"libvirt itself: {real}"
    assert (not failed) is accepted, f"libvirt: {real}; the suite failed {failed}"
